//! The append-only audit log: who viewed, exported, changed, claimed, returned or handed over
//! which customer, logins and failed logins, role changes. The table refuses UPDATE and DELETE
//! (triggers on both backends); rows are only ever added.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::customers::{bind_all, Bind, Where};
use crate::{now, with_pool, Store, StoreError};

/// Who does something: a user (or a system task such as the pool's reclaim) and where from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Actor {
    pub id: Option<i64>,
    pub name: String,
    pub ip: Option<String>,
}

impl Actor {
    pub fn user(u: &crate::User, ip: Option<String>) -> Self {
        Actor {
            id: Some(u.id),
            name: u.username.clone(),
            ip,
        }
    }

    /// A command-line operator or system task (`cli`, `system`), not a user account.
    pub fn system(name: &str) -> Self {
        Actor {
            id: None,
            name: name.into(),
            ip: None,
        }
    }
}

pub(crate) const INSERT_AUDIT: &str = "INSERT INTO audit_log (at, actor_id, actor, action, customer_id, detail, row_count, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// An audit row waiting for the write transaction of its change (see [`Store::audited`]).
#[derive(Debug)]
pub(crate) struct Pending {
    pub actor: Actor,
    pub action: String,
    pub customer_id: Option<i64>,
    pub detail: Option<String>,
    pub row_count: Option<i64>,
    pub taken: std::sync::atomic::AtomicBool,
}

impl Pending {
    /// The detail with `{id}` replaced by the created record's id (when known).
    pub fn detail_for(&self, id: Option<i64>) -> Option<String> {
        let d = self.detail.as_deref()?;
        Some(match id {
            Some(id) => d.replace("{id}", &id.to_string()),
            None => d.to_string(),
        })
    }
}

/// One audit row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<i64>,
    pub actor: String,
    /// `view`, `list`, `export`, `create`, `update`, `delete`, `merge`, `login`,
    /// `login_failed`, `logout`, `role_change`, `user_add`, `user_disable`, `user_enable`,
    /// `password_change`, `handover`, `claim`, `return`, `token_create`, `token_revoke`.
    pub action: String,
    pub customer_id: Option<i64>,
    pub detail: Option<String>,
    /// Rows shown or exported (lists and exports).
    pub row_count: Option<i64>,
    pub ip: Option<String>,
}

/// What to look for in the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub customer_id: Option<i64>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only rows with a smaller id (paging newest first).
    pub before_id: Option<i64>,
    pub limit: i64,
}

type Row = (
    i64,
    DateTime<Utc>,
    Option<i64>,
    String,
    String,
    Option<i64>,
    Option<String>,
    Option<i64>,
    Option<String>,
);

impl Store {
    /// Appends one audit row.
    pub async fn audit(
        &self,
        actor: &Actor,
        action: &str,
        customer_id: Option<i64>,
        detail: Option<&str>,
        row_count: Option<i64>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query(INSERT_AUDIT)
            .bind(now()).bind(actor.id).bind(&actor.name).bind(action).bind(customer_id).bind(detail).bind(row_count).bind(&actor.ip)
            .execute(pool).await?; });
        Ok(())
    }

    /// A handle on the same database whose next write transaction also writes this audit row
    /// (in the same transaction: the change is stored with its audit row or not at all). A
    /// `{id}` in `detail` becomes the id of the record the change creates, where it creates
    /// one. Call [`Store::finish_audit`] after the change: it writes the row on its own when
    /// no transaction took it (a change that wrote nothing).
    pub fn audited(
        &self,
        actor: &Actor,
        action: &str,
        customer_id: Option<i64>,
        detail: Option<String>,
        row_count: Option<i64>,
    ) -> Store {
        Store {
            backend: self.backend.clone(),
            pending_audit: Some(std::sync::Arc::new(Pending {
                actor: actor.clone(),
                action: action.into(),
                customer_id,
                detail,
                row_count,
                taken: std::sync::atomic::AtomicBool::new(false),
            })),
        }
    }

    /// Writes the handle's audit row when no transaction took it yet (see [`Store::audited`]);
    /// nothing on a plain handle.
    pub async fn finish_audit(&self) -> Result<(), StoreError> {
        if let Some(p) = self.take_pending_audit() {
            let detail = p.detail_for(None);
            self.audit(
                &p.actor,
                &p.action,
                p.customer_id,
                detail.as_deref(),
                p.row_count,
            )
            .await?;
        }
        Ok(())
    }

    /// The handle's audit row, once.
    pub(crate) fn take_pending_audit(&self) -> Option<&Pending> {
        let p = self.pending_audit.as_deref()?;
        (!p.taken.swap(true, std::sync::atomic::Ordering::SeqCst)).then_some(p)
    }

    /// Audit rows, newest first.
    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        let mut w = Where::default();
        if let Some(a) = &f.actor {
            w.push("actor = ?", [Bind::Text(a.clone())]);
        }
        if let Some(a) = &f.action {
            w.push("action = ?", [Bind::Text(a.clone())]);
        }
        if let Some(c) = f.customer_id {
            w.push("customer_id = ?", [Bind::I64(c)]);
        }
        if let Some(b) = f.before_id {
            w.push("id < ?", [Bind::I64(b)]);
        }
        let mut sql = format!(
            "SELECT id, at, actor_id, actor, action, customer_id, detail, row_count, ip FROM audit_log{}",
            w.sql()
        );
        // Times are bound with their own type (text in SQLite, timestamptz in PostgreSQL).
        let mut times = Vec::new();
        for (op, t) in [(">=", f.since), ("<", f.until)] {
            if let Some(t) = t {
                times.push(t);
                sql.push_str(if sql.contains(" WHERE ") {
                    " AND "
                } else {
                    " WHERE "
                });
                sql.push_str(&format!("at {op} ${}", w.binds.len() + times.len()));
            }
        }
        sql.push_str(&format!(
            " ORDER BY id DESC LIMIT {}",
            f.limit.clamp(1, 1_000_000)
        ));
        let rows: Vec<Row> = with_pool!(self, pool => {
            let mut q = bind_all!(sqlx::query_as(&sql), &w.binds);
            for t in &times {
                q = q.bind(*t);
            }
            q.fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|r| AuditEntry {
                id: r.0,
                at: r.1,
                actor_id: r.2,
                actor: r.3,
                action: r.4,
                customer_id: r.5,
                detail: r.6,
                row_count: r.7,
                ip: r.8,
            })
            .collect())
    }
}
