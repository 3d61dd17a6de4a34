//! Who is acting: a signed-in user (web session or API token) or a named command-line
//! operator, with the customers they see and the actor the audit log records.

use patron_store::{Actor, DataScope, Role, Store, StoreError, User, Visibility};

use crate::permissions::{allowed, Action};
use crate::AppError;

/// The caller of a use case.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    /// Which customers the user sees (their data scope, resolved to owners).
    pub visible: Visibility,
    /// Who the audit log and the history record.
    pub actor: Actor,
}

impl Session {
    /// The session of `user` calling from `ip` (the scope resolved now).
    pub async fn open(store: &Store, user: User, ip: Option<String>) -> Result<Self, StoreError> {
        let visible = store.visibility(&user).await?;
        let actor = Actor::user(&user, ip);
        Ok(Session {
            user,
            visible,
            actor,
        })
    }

    /// An operator who sees everything (the CLI on the server's own database, tests).
    pub fn unrestricted(username: &str) -> Self {
        Session {
            user: User {
                id: 0,
                username: username.into(),
                display_name: None,
                role: Role::Admin,
                scope: DataScope::All,
                department_id: None,
                manager_id: None,
                disabled: false,
                created_at: chrono::Utc::now(),
            },
            visible: Visibility::All,
            actor: Actor::system(username),
        }
    }

    /// May this caller do `action` (the permission table)?
    pub fn may(&self, action: Action) -> bool {
        allowed(self.user.role, action)
            && (action != Action::ReadRecords || self.user.sees_records())
    }

    /// Refuses (403) what the caller's role may not do.
    pub fn require(&self, action: Action) -> Result<(), AppError> {
        if self.may(action) {
            Ok(())
        } else if action == Action::ReadRecords {
            Err(AppError::Forbidden(
                "your role sees aggregate figures only, not customer records".into(),
            ))
        } else {
            Err(AppError::Forbidden(format!(
                "your role ({}) may not do this",
                self.user.role.as_str()
            )))
        }
    }

    /// Refuses callers who see no customer records (analysts).
    pub fn require_records(&self) -> Result<(), AppError> {
        self.require(Action::ReadRecords)
    }

    /// May the caller read (or, with `write`, change) customer `id`? Outside the scope it is
    /// `NotFound`, exactly like a missing customer, so that its existence does not leak.
    pub async fn check(&self, store: &Store, id: i64, write: bool) -> Result<(), StoreError> {
        if !self.user.sees_records() {
            return Err(StoreError::not_found("customer", id));
        }
        let owner = store.customer_owner(id).await?;
        if self.visible.allows(owner, write) {
            Ok(())
        } else {
            Err(StoreError::not_found("customer", id))
        }
    }

    /// Like [`check`](Self::check), but a pool customer that the caller may read and wants
    /// to change is a 403 saying to claim it first.
    pub async fn guard(&self, store: &Store, id: i64, write: bool) -> Result<(), AppError> {
        self.require_records()?;
        let owner = store.customer_owner(id).await?;
        if self.visible.allows(owner, write) {
            return Ok(());
        }
        if owner.is_none() && self.visible.allows(None, false) {
            return Err(AppError::Forbidden(format!(
                "customer {id} is in the public pool: claim it (POST /api/customers/{id}/claim) before changing it"
            )));
        }
        Err(StoreError::not_found("customer", id).into())
    }

    /// Which of `ids` the caller may read (none for callers who see no records), in one
    /// statement per 500 ids.
    pub async fn readable(
        &self,
        store: &Store,
        ids: &[i64],
    ) -> Result<std::collections::HashSet<i64>, StoreError> {
        if !self.user.sees_records() {
            return Ok(Default::default());
        }
        if self.visible.is_all() {
            return Ok(ids.iter().copied().collect());
        }
        Ok(store
            .customer_owners(ids)
            .await?
            .into_iter()
            .filter(|(_, owner)| self.visible.allows(*owner, false))
            .map(|(id, _)| id)
            .collect())
    }

    /// A handle on `store` whose next write transaction also writes this caller's audit row
    /// (`{id}` in `detail` becomes the created record's id): the change and its row are one
    /// transaction. Finish with [`Store::finish_audit`] (writes the row when the call wrote
    /// nothing).
    pub fn audited(
        &self,
        store: &Store,
        action: &str,
        customer_id: Option<i64>,
        detail: impl Into<String>,
    ) -> Store {
        store.audited(&self.actor, action, customer_id, Some(detail.into()), None)
    }

    /// Appends an audit row as this caller. An `export` with its rows also counts them for
    /// the unusual-access alerts ([`crate::access::track`]).
    pub async fn audit(
        &self,
        store: &Store,
        action: &str,
        customer_id: Option<i64>,
        detail: Option<&str>,
        rows: Option<i64>,
    ) -> Result<(), StoreError> {
        store
            .audit(&self.actor, action, customer_id, detail, rows)
            .await?;
        if let ("export", Some(n)) = (action, rows) {
            crate::access::track(store, self, "export", None, n).await?;
        }
        Ok(())
    }
}
