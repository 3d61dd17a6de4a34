//! The public pool (customers without owner) and changes of owner: claim, return, the reclaim
//! rules, and hand-over from one user to another. Every change of owner bumps the customer's
//! version, is written to its history (field `owner_id`), to the ownership history (from, to,
//! when, why, by: what the manager review credits by) and to the audit log, in one transaction.
//! A disabled user (a leaver) receives nothing.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::audit::Actor;
use crate::commit;
use crate::customers::{bind_all, Where};
use crate::BeginWrite;
use crate::Visibility;
use crate::{now, with_pool, Store, StoreError};

/// One row of the ownership history (migration 0014): customer, from, to, at, its day, why, by.
pub(crate) const INSERT_OWNERSHIP: &str = "INSERT INTO ownership_history (customer_id, from_owner, to_owner, at, on_day, why, by_name) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Records a change of customer `$customer` from owner `$from` to `$to` (`Option<i64>`, `None`:
/// the pool) at `$at` in the ownership history, inside transaction `$tx`. Every path that
/// changes an owner calls it ([`move_one!`] and the customer update), so that the review can
/// credit facts to the owner at the time.
macro_rules! record_owner_change {
    ($tx:expr, $customer:expr, $from:expr, $to:expr, $at:expr, $why:expr, $by:expr) => {{
        let at: chrono::DateTime<chrono::Utc> = $at;
        let (from, to): (Option<i64>, Option<i64>) = ($from, $to);
        let why: &str = $why;
        let by: &str = $by;
        sqlx::query($crate::pool::INSERT_OWNERSHIP)
            .bind($customer)
            .bind(from)
            .bind(to)
            .bind(at)
            .bind(at.date_naive())
            .bind(why)
            .bind(by)
            .execute(&mut *$tx)
            .await?;
    }};
}
pub(crate) use record_owner_change;

/// Moves customer `$id` from owner `$from` to `$to` inside transaction `$tx` when it is still
/// `$from`'s, with its history, ownership history and audit rows (`$action`, `$detail` or
/// "owner A -> B"); evaluates to whether it moved.
macro_rules! move_one {
    ($tx:expr, $id:expr, $from:expr, $to:expr, $at:expr, $actor:expr, $action:expr, $detail:expr) => {{
        let (id, from, to): (i64, Option<i64>, Option<i64>) = ($id, $from, $to);
        let at: chrono::DateTime<chrono::Utc> = $at;
        let actor: &Actor = $actor;
        let action: &str = $action;
        let detail: Option<&str> = $detail;
        let n = sqlx::query(
            "UPDATE customers SET owner_id = $1, owner_since = $2, version = version + 1, updated_at = $2 \
             WHERE id = $3 AND owner_id IS NOT DISTINCT FROM $4")
            .bind(to).bind(at).bind(id).bind(from).execute(&mut *$tx).await?.rows_affected();
        if n > 0 {
            sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, 'owner_id', $4, $5)")
                .bind(id).bind(at).bind(&actor.name).bind(from.map(|o| o.to_string())).bind(to.map(|o| o.to_string()))
                .execute(&mut *$tx).await?;
            let d = match detail {
                Some(d) => d.to_string(),
                None => format!("owner {} -> {}", from.map_or("pool".into(), |o| o.to_string()), to.map_or("pool".into(), |o| o.to_string())),
            };
            let why = match detail {
                Some(d) => format!("{action}: {d}"),
                None => action.to_string(),
            };
            record_owner_change!($tx, id, from, to, at, &why, &actor.name);
            sqlx::query("INSERT INTO audit_log (at, actor_id, actor, action, customer_id, detail, ip) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                .bind(at).bind(actor.id).bind(&actor.name).bind(action).bind(id).bind(d).bind(&actor.ip)
                .execute(&mut *$tx).await?;
        }
        n > 0
    }};
}

/// Refuses (422 on `$field`) user `$user` as the receiver of anything when it does not exist or
/// is disabled, on executor `$ex` (a pool or `&mut *tx`).
macro_rules! check_receiver {
    ($ex:expr, $user:expr, $field:expr) => {{
        let user: i64 = $user;
        let row: Option<(String, bool)> =
            sqlx::query_as("SELECT username, disabled FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional($ex)
                .await?;
        match row {
            None => {
                return Err($crate::StoreError::invalid(
                    $field,
                    format!("user {user} does not exist"),
                ))
            }
            Some((name, true)) => {
                return Err($crate::StoreError::invalid(
                    $field,
                    format!("user '{name}' is disabled: a leaver receives nothing new"),
                ))
            }
            Some(_) => {}
        }
    }};
}
pub(crate) use check_receiver;

/// What a reclaim run returned to the pool.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Reclaimed {
    pub customer_id: i64,
    pub owner_id: i64,
    pub grade: Option<String>,
    /// Days since the last order, interaction or claim.
    pub idle_days: i64,
}

/// A customer in the public pool, as the pool page lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PoolCustomer {
    pub id: i64,
    /// The customer number users know the customer by, when it has one.
    pub number: Option<String>,
    pub name: String,
    pub company: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    /// Value grade from the latest value refresh.
    pub grade: Option<String>,
}

pub use patron_domain::pool::PoolRules;

impl Store {
    pub async fn pool_rules(&self) -> Result<PoolRules, StoreError> {
        let cap = self
            .setting("pool.cap")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(500);
        let mut reclaim_days = Vec::new();
        for g in ["A", "B", "C", "D", "E", "none"] {
            if let Some(d) = self
                .setting(&format!("pool.reclaim_days.{g}"))
                .await?
                .and_then(|v| v.parse().ok())
            {
                reclaim_days.push((g.to_string(), d));
            }
        }
        Ok(PoolRules { cap, reclaim_days })
    }

    /// How many customers (not merged away) a user owns; archived ones count too, so that
    /// archiving is no way around the cap.
    pub async fn owned_count(&self, user_id: i64) -> Result<i64, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM customers WHERE owner_id = $1 AND merged_into IS NULL")
            .bind(user_id).fetch_one(pool).await?))
    }

    /// Sets the owner of some customers in one transaction, with history, ownership history
    /// and audit rows (`action`: `claim`, `return`, `handover`). Answers how many changed.
    pub async fn move_owner(
        &self,
        ids: &[(i64, Option<i64>)],
        to: Option<i64>,
        actor: &Actor,
        action: &str,
        detail: Option<&str>,
    ) -> Result<u64, StoreError> {
        let at = now();
        let mut moved = 0;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if let Some(to) = to {
                check_receiver!(&mut *tx, to, "user_id");
            }
            for (id, from) in ids {
                if move_one!(tx, *id, *from, to, at, actor, action, detail) {
                    moved += 1;
                }
            }
            commit!(self, tx);
        });
        Ok(moved)
    }

    /// A user claims a customer from the pool: 409 when it has an owner or the user already
    /// holds as many customers as the pool's cap allows.
    pub async fn claim(
        &self,
        customer_id: i64,
        user_id: i64,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        if self.customer_owner(customer_id).await?.is_some() {
            return Err(StoreError::Conflict {
                code: Some(crate::ErrorCode::new("not_in_pool", vec![])),
                message: format!("customer {customer_id} is not in the pool (it has an owner)"),
                current_version: None,
            });
        }
        let rules = self.pool_rules().await?;
        let held = self.owned_count(user_id).await?;
        if held >= rules.cap {
            // Quote what the user holds (what the pool page shows), and the cap apart: a
            // user may hold more than the cap (handed over by a manager).
            return Err(StoreError::Conflict {
                code: Some(crate::ErrorCode::new(
                    "pool_cap",
                    vec![("held", held.to_string()), ("cap", rules.cap.to_string())],
                )),
                message: format!(
                    "you hold {held} customers and one user may hold at most {}; return some to the pool first",
                    rules.cap
                ),
                current_version: None,
            });
        }
        let n = self
            .move_owner(&[(customer_id, None)], Some(user_id), actor, "claim", None)
            .await?;
        if n == 0 {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("customer {customer_id} was claimed by someone else meanwhile"),
                current_version: None,
            });
        }
        Ok(())
    }

    /// Returns a customer to the pool (its owner or a manager gives it up).
    pub async fn release(
        &self,
        customer_id: i64,
        actor: &Actor,
        reason: &str,
    ) -> Result<(), StoreError> {
        let owner = self.customer_owner(customer_id).await?;
        if owner.is_none() {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("customer {customer_id} is already in the pool"),
                current_version: None,
            });
        }
        self.move_owner(&[(customer_id, owner)], None, actor, "return", Some(reason))
            .await?;
        Ok(())
    }

    /// Applies the reclaim rules as of `today`: every owned customer without an order,
    /// interaction or claim for more days than its grade allows returns to the pool, except
    /// customers with an open deal (an opportunity neither won nor lost). Only customers whose
    /// owner is within `visible` are considered; with `preview` nothing is changed and the
    /// answer lists what would return.
    pub async fn reclaim(
        &self,
        today: NaiveDate,
        visible: &Visibility,
        preview: bool,
        actor: &Actor,
    ) -> Result<Vec<Reclaimed>, StoreError> {
        let rules = self.pool_rules().await?;
        // Only owned customers within the caller's scope (the filter in SQL).
        let mut w = Where::default();
        w.push(
            "c.owner_id IS NOT NULL AND c.merged_into IS NULL AND c.archived_at IS NULL",
            [],
        );
        w.push("NOT EXISTS (SELECT 1 FROM opportunities d WHERE d.customer_id = c.id AND d.stage NOT IN ('won', 'lost'))", []);
        visible.push(&mut w, "c.owner_id");
        let sql = format!(
            "SELECT c.id, c.owner_id, v.grade, c.owner_since, \
                    (SELECT MAX(i.occurred_at) FROM interactions i WHERE i.customer_id = c.id), \
                    (SELECT MAX(o.ordered_on) FROM order_lines o WHERE o.customer_id = c.id), c.created_at \
             FROM customers c LEFT JOIN customer_values v ON v.customer_id = c.id{} ORDER BY c.id",
            w.sql()
        );
        type Row = (
            i64,
            i64,
            Option<String>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Option<NaiveDate>,
            DateTime<Utc>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let mut out = Vec::new();
        for (id, owner, grade, since, interaction, order, created) in rows {
            let last = [
                since.map(|t| t.date_naive()),
                interaction.map(|t| t.date_naive()),
                order,
                Some(created.date_naive()),
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(today);
            let idle = (today - last).num_days();
            if idle > rules.days_for(grade.as_deref()) {
                out.push(Reclaimed {
                    customer_id: id,
                    owner_id: owner,
                    grade,
                    idle_days: idle,
                });
            }
        }
        if preview {
            return Ok(out);
        }
        for r in &out {
            let why = format!(
                "reclaimed: no order or interaction for {} days (grade {}, limit {})",
                r.idle_days,
                r.grade.as_deref().unwrap_or("none"),
                rules.days_for(r.grade.as_deref())
            );
            self.move_owner(
                &[(r.customer_id, Some(r.owner_id))],
                None,
                actor,
                "return",
                Some(&why),
            )
            .await?;
        }
        Ok(out)
    }

    /// Hands customers of `from` over to `to`: all of them, or only `only`, in one
    /// transaction. History stays with the customers; each move is written to the history, the
    /// ownership history and the audit log. With all of them (a leaver's hand-over), everything
    /// else open that `from` holds goes along in the same transaction: open leads, open tickets
    /// assigned to them, open tasks (follow-ups); the opportunities follow their customers.
    /// With `only`, the open tickets and tasks of those customers assigned to `from` go along.
    /// One audit row counts what moved besides the customers. Answers the customer ids moved.
    pub async fn handover(
        &self,
        from: i64,
        to: i64,
        only: Option<&[i64]>,
        actor: &Actor,
    ) -> Result<Vec<i64>, StoreError> {
        let leaver = self.user(from).await?.username;
        if from == to {
            return Err(StoreError::invalid(
                "to",
                "is the user whose work is handed over",
            ));
        }
        let at = now();
        // Users by name in the audit (their ids mean nothing to the reader).
        let receiver = self.user(to).await?.username;
        let detail = format!("handed over from {leaver} to {receiver}");
        let ids = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Checked in the transaction: a user disabled meanwhile receives nothing.
            check_receiver!(&mut *tx, to, "to");
            let owned: Vec<i64> = sqlx::query_scalar("SELECT id FROM customers WHERE owner_id = $1 ORDER BY id")
                .bind(from).fetch_all(&mut *tx).await?;
            let ids: Vec<i64> = match only {
                None => owned,
                Some(list) => {
                    if let Some(bad) = list.iter().find(|i| !owned.contains(i)) {
                        return Err(StoreError::invalid(
                            "customers",
                            format!("customer {bad} is not owned by user {from}"),
                        ));
                    }
                    let mut list = list.to_vec();
                    list.sort_unstable();
                    list.dedup();
                    list
                }
            };
            let mut moved = Vec::with_capacity(ids.len());
            for id in &ids {
                if move_one!(tx, *id, Some(from), Some(to), at, actor, "handover", Some(detail.as_str())) {
                    moved.push(*id);
                }
            }
            let (mut leads, mut tickets, mut tasks) = (0, 0, 0);
            match only {
                None => {
                    leads = sqlx::query("UPDATE leads SET owner_id = $1, updated_at = $2 WHERE owner_id = $3 AND status NOT IN ('converted', 'disqualified')")
                        .bind(to).bind(at).bind(from).execute(&mut *tx).await?.rows_affected();
                    tickets = sqlx::query("UPDATE tickets SET assignee_id = $1 WHERE assignee_id = $2 AND status = 'open'")
                        .bind(to).bind(from).execute(&mut *tx).await?.rows_affected();
                    tasks = sqlx::query("UPDATE tasks SET assignee_id = $1 WHERE assignee_id = $2 AND status = 'open'")
                        .bind(to).bind(from).execute(&mut *tx).await?.rows_affected();
                }
                Some(_) => {
                    for id in &moved {
                        tickets += sqlx::query("UPDATE tickets SET assignee_id = $1 WHERE assignee_id = $2 AND status = 'open' AND customer_id = $3")
                            .bind(to).bind(from).bind(id).execute(&mut *tx).await?.rows_affected();
                        tasks += sqlx::query("UPDATE tasks SET assignee_id = $1 WHERE assignee_id = $2 AND status = 'open' AND customer_id = $3")
                            .bind(to).bind(from).bind(id).execute(&mut *tx).await?.rows_affected();
                    }
                }
            }
            if leads + tickets + tasks > 0 {
                let note = format!("{leads} open leads, {tickets} open tickets and {tasks} open tasks handed over from {leaver} to {receiver}");
                sqlx::query(crate::audit::INSERT_AUDIT)
                    .bind(at).bind(actor.id).bind(&actor.name).bind("handover").bind(None::<i64>)
                    .bind(note).bind((leads + tickets + tasks) as i64).bind(&actor.ip)
                    .execute(&mut *tx).await?;
            }
            commit!(self, tx);
            moved
        });
        Ok(ids)
    }

    /// Refuses (422 on `field`) a user who does not exist or is disabled as the receiver of a
    /// customer, lead, ticket or task: a leaver receives nothing new.
    pub async fn check_receiver(&self, user_id: i64, field: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => check_receiver!(pool, user_id, field));
        Ok(())
    }

    /// Customers in the public pool (no owner, not merged away, not archived), by id after `after`.
    pub async fn pool_customers(
        &self,
        after: Option<i64>,
        limit: i64,
    ) -> Result<Vec<PoolCustomer>, StoreError> {
        type Row = (
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.id, c.name, c.company, c.region, c.industry, v.grade, c.number FROM customers c \
             LEFT JOIN customer_values v ON v.customer_id = c.id \
             WHERE c.owner_id IS NULL AND c.merged_into IS NULL AND c.archived_at IS NULL AND c.id > $1 ORDER BY c.id LIMIT $2")
            .bind(after.unwrap_or(i64::MIN)).bind(limit.clamp(1, 500)).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| PoolCustomer {
                id: r.0,
                number: r.6,
                name: r.1,
                company: r.2,
                region: r.3,
                industry: r.4,
                grade: r.5,
            })
            .collect())
    }

    /// How many customers each user owns (users owning none are left out).
    pub async fn owned_counts(&self) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(with_pool!(self, pool => sqlx::query_as(
            "SELECT owner_id, COUNT(*) FROM customers WHERE owner_id IS NOT NULL AND merged_into IS NULL GROUP BY owner_id")
            .fetch_all(pool).await?))
    }
}
