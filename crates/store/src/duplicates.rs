//! Likely duplicates (same normalised phone, e-mail, or name + company) and their merge.

use serde::Serialize;

use crate::commit;
use crate::BeginWrite;
use crate::{now, with_pool, BackendKind, Store, StoreError};
use patron_domain::{Customer, CustomerPatch};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DuplicatePair {
    pub a: i64,
    pub b: i64,
    /// What they share: `phone`, `email` or `name`.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MergeOutcome {
    pub kept: Customer,
    pub merged_id: i64,
    pub moved_contacts: u64,
    pub moved_order_lines: u64,
    pub moved_interactions: u64,
    pub moved_history: u64,
    pub moved_invoices: u64,
    pub moved_payments: u64,
    pub moved_credit_holds: u64,
    pub moved_tickets: u64,
    pub moved_surveys: u64,
}

impl Store {
    /// Pairs of live customers that are likely the same (lowest id first), at most `limit`;
    /// only those involving `customer_id` when given.
    pub async fn duplicates(
        &self,
        customer_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<DuplicatePair>, StoreError> {
        let mut out: Vec<DuplicatePair> = Vec::new();
        if let Some(c) = customer_id {
            self.customer(c).await?;
        }
        for (key, reason) in [
            ("phone_key", "phone"),
            ("email_key", "email"),
            ("name_key", "name"),
        ] {
            let only = if customer_id.is_some() {
                " AND (a.id = $2 OR b.id = $2)"
            } else {
                ""
            };
            let sql = format!(
                "SELECT a.id, b.id FROM customers a JOIN customers b ON a.{key} = b.{key} AND a.id < b.id \
                 WHERE a.merged_into IS NULL AND b.merged_into IS NULL AND a.archived_at IS NULL AND b.archived_at IS NULL{only} ORDER BY a.id, b.id LIMIT $1"
            );
            let rows: Vec<(i64, i64)> = with_pool!(self, pool => {
                let q = sqlx::query_as(&sql).bind(limit.clamp(1, 10_000));
                let q = if let Some(c) = customer_id { q.bind(c) } else { q };
                q.fetch_all(pool).await?
            });
            for (a, b) in rows {
                if !out.iter().any(|p| p.a == a && p.b == b) {
                    out.push(DuplicatePair {
                        a,
                        b,
                        reason: reason.into(),
                    });
                }
            }
        }
        out.sort_by_key(|p| (p.a, p.b));
        out.truncate(limit.clamp(1, 10_000) as usize);
        Ok(out)
    }

    /// Merges customer `drop` into `keep` in one transaction: contacts, order lines,
    /// interactions, history, invoices (with instalments and payments), credit holds, tickets
    /// (with their events), surveys and opportunities move to `keep` (order references, interaction external
    /// ids and invoice numbers that collide get `@<number of drop>` appended; invoices and
    /// holds follow their order's new reference), referrals follow, and `drop` is marked as
    /// merged. Then the fields `keep` lacks are filled from `drop` (recorded in the history).
    /// `drop`'s open receivables count against `keep`'s credit limit from then on (a merge is
    /// no order: it is not refused for that). The audit log keeps its rows under `drop`'s id.
    pub async fn merge_customers(
        &self,
        keep: i64,
        drop: i64,
        by: &str,
    ) -> Result<MergeOutcome, StoreError> {
        if keep == drop {
            return Err(StoreError::invalid(
                "drop",
                "cannot merge a customer into itself",
            ));
        }
        let k = self.customer(keep).await?;
        let d = self.customer(drop).await?;
        for c in [&k, &d] {
            if let Some(to) = c.merged_into {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!("customer {} was already merged into {to}", c.id),
                    current_version: Some(c.version),
                });
            }
        }
        let suffix = format!(
            "@{}",
            d.data.number.clone().unwrap_or_else(|| drop.to_string())
        );
        let at = now();
        // PostgreSQL keys invoices and tickets (customer_id, id) and their children refer to
        // that pair, so those rows are copied under `keep` (ids are unique table-wide), the
        // children moved, and the old rows deleted; SQLite keys them by id alone.
        let copy = self.kind() == BackendKind::Postgres;
        let moved = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Mark first: a concurrent merge of the same record then fails on the version check.
            let n = sqlx::query("UPDATE customers SET merged_into = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4 AND merged_into IS NULL")
                .bind(keep).bind(at).bind(drop).bind(d.version).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict { code: None, message: format!("customer {drop} changed while merging; try again"), current_version: None });
            }
            // Invoices and holds follow their order's reference, renamed below when it collides.
            for table in ["invoices", "credit_holds"] {
                sqlx::query(&format!("UPDATE {table} SET order_ref = order_ref || $1 WHERE customer_id = $2 AND order_ref IN (SELECT order_ref FROM order_lines WHERE customer_id = $3)"))
                    .bind(&suffix).bind(drop).bind(keep).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE order_lines SET order_ref = order_ref || $1 WHERE customer_id = $2 AND order_ref IN (SELECT order_ref FROM order_lines WHERE customer_id = $3)")
                .bind(&suffix).bind(drop).bind(keep).execute(&mut *tx).await?;
            sqlx::query("UPDATE interactions SET external_id = external_id || $1 WHERE customer_id = $2 AND external_id IN (SELECT external_id FROM interactions WHERE customer_id = $3 AND external_id IS NOT NULL)")
                .bind(&suffix).bind(drop).bind(keep).execute(&mut *tx).await?;
            sqlx::query("UPDATE invoices SET number = number || $1 WHERE customer_id = $2 AND number IN (SELECT number FROM invoices WHERE customer_id = $3)")
                .bind(&suffix).bind(drop).bind(keep).execute(&mut *tx).await?;
            let mut moved = [0u64; 9];
            for (i, table) in ["contacts", "order_lines", "interactions", "customer_history"].iter().enumerate() {
                moved[i] = sqlx::query(&format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"))
                    .bind(keep).bind(drop).execute(&mut *tx).await?.rows_affected();
            }
            // (parent, its columns after customer_id, children)
            let parents: [(&str, &str, &[&str]); 2] = [
                ("invoices", "id, number, order_ref, issued_on, due_on, amount_cents, paid_cents, created_at", &["instalments", "payments"]),
                ("tickets", "id, kind, priority, subject, body, status, opened_at, opened_by, assignee_id, due_at, resolved_at, escalation_level, escalated_at", &["ticket_events"]),
            ];
            let mut children_moved = [0u64; 3];
            let mut c = 0;
            for (j, (parent, cols, children)) in parents.iter().enumerate() {
                if copy {
                    moved[4 + 3 * j] = sqlx::query(&format!("INSERT INTO {parent} (customer_id, {cols}) SELECT $1, {cols} FROM {parent} WHERE customer_id = $2"))
                        .bind(keep).bind(drop).execute(&mut *tx).await?.rows_affected();
                } else {
                    moved[4 + 3 * j] = sqlx::query(&format!("UPDATE {parent} SET customer_id = $1 WHERE customer_id = $2"))
                        .bind(keep).bind(drop).execute(&mut *tx).await?.rows_affected();
                }
                for child in children.iter() {
                    children_moved[c] = sqlx::query(&format!("UPDATE {child} SET customer_id = $1 WHERE customer_id = $2"))
                        .bind(keep).bind(drop).execute(&mut *tx).await?.rows_affected();
                    c += 1;
                }
                if copy {
                    sqlx::query(&format!("DELETE FROM {parent} WHERE customer_id = $1")).bind(drop).execute(&mut *tx).await?;
                }
            }
            moved[5] = children_moved[1]; // payments
            sqlx::query("UPDATE opportunities SET customer_id = $1 WHERE customer_id = $2")
                .bind(keep).bind(drop).execute(&mut *tx).await?;
            sqlx::query("UPDATE marketing_costs SET customer_id = $1 WHERE customer_id = $2")
                .bind(keep).bind(drop).execute(&mut *tx).await?;
            sqlx::query("UPDATE survey_requests SET customer_id = $1 WHERE customer_id = $2")
                .bind(keep).bind(drop).execute(&mut *tx).await?;
            // Campaign memberships and campaign opt-outs: the kept customer's own row wins.
            for (table, cols) in [("campaign_members", "campaign_id, added_at, added_by"), ("campaign_unsubscribes", "campaign_id, at")] {
                sqlx::query(&format!("INSERT INTO {table} (customer_id, {cols}) SELECT $1, {cols} FROM {table} WHERE customer_id = $2 ON CONFLICT DO NOTHING"))
                    .bind(keep).bind(drop).execute(&mut *tx).await?;
                sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1")).bind(drop).execute(&mut *tx).await?;
            }
            sqlx::query("UPDATE leads SET converted_customer_id = $1 WHERE converted_customer_id = $2")
                .bind(keep).bind(drop).execute(&mut *tx).await?;
            for (i, table) in [(6, "credit_holds"), (8, "surveys")] {
                moved[i] = sqlx::query(&format!("UPDATE {table} SET customer_id = $1 WHERE customer_id = $2"))
                    .bind(keep).bind(drop).execute(&mut *tx).await?.rows_affected();
            }
            sqlx::query("UPDATE customers SET referred_by = $1 WHERE referred_by = $2 AND id <> $1").bind(keep).bind(drop).execute(&mut *tx).await?;
            for (cid, field, old, new) in [(keep, "merged_from", None, d.data.number.clone()), (drop, "merged_into", None, k.data.number.clone())] {
                sqlx::query(crate::customers::INSERT_HISTORY)
                    .bind(cid).bind(at).bind(by).bind(field).bind(old as Option<String>).bind(new).execute(&mut *tx).await?;
            }
            commit!(self, tx);
            moved
        });
        let patch = fill_in(&k, &d);
        let kept = if patch.is_empty() {
            self.customer(keep).await?
        } else {
            self.update_customer(keep, &patch, None, by).await?
        };
        Ok(MergeOutcome {
            kept,
            merged_id: drop,
            moved_contacts: moved[0],
            moved_order_lines: moved[1],
            moved_interactions: moved[2],
            moved_history: moved[3],
            moved_invoices: moved[4],
            moved_payments: moved[5],
            moved_credit_holds: moved[6],
            moved_tickets: moved[7],
            moved_surveys: moved[8],
        })
    }
}

/// The fields `keep` lacks and `drop` has, plus the union of tags.
fn fill_in(keep: &Customer, drop: &Customer) -> CustomerPatch {
    let (serde_json::Value::Object(k), serde_json::Value::Object(d)) = (
        serde_json::to_value(&keep.data).expect("serializes"),
        serde_json::to_value(&drop.data).expect("serializes"),
    ) else {
        unreachable!("customers serialize to objects")
    };
    let mut patch = CustomerPatch::new();
    for (field, dv) in d {
        if field == "number" || dv.is_null() {
            continue;
        }
        if k.get(&field).is_none_or(serde_json::Value::is_null) {
            patch.insert(field, dv);
        }
    }
    let mut tags = keep.data.tags.clone();
    for t in &drop.data.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    if tags != keep.data.tags {
        patch.insert("tags".into(), serde_json::json!(tags));
    }
    patch
}
