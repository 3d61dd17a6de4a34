//! Manager review per rep (customer owner) over a period: interactions and promises recorded on
//! the rep's customers, card completeness (share of key fields filled), tickets that breached
//! their SLA, and sales vs collections.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use patron_domain::Money;
use serde::Serialize;

use crate::{with_pool, Store, StoreError};

/// The key fields of a customer card counted by the completeness figure.
pub const KEY_FIELDS: &[&str] = &["company", "industry", "region", "address", "phone", "email"];

/// One rep's figures (`owner_id` `None`: customers without owner, the pool).
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct RepReview {
    pub owner_id: Option<i64>,
    pub username: Option<String>,
    /// Live customers the rep owns now.
    pub customers: i64,
    /// Interactions dated in the period on those customers (promises included).
    pub interactions: i64,
    pub promises: i64,
    /// Mean share of the key fields filled on the rep's cards, 0..1 (`None`: no customers).
    pub card_completeness: Option<f64>,
    /// Tickets opened in the period that breached their SLA (resolved late, or open past due
    /// at `now`).
    pub tickets_breached: i64,
    pub tickets_opened: i64,
    pub sales: Money,
    pub invoiced: Money,
    pub collected: Money,
    pub overdue: Money,
}

impl Store {
    /// The manager review of every rep over `from..=to` (tickets judged at `now`).
    pub async fn rep_review(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepReview>, StoreError> {
        let sales = self
            .sales_vs_collections(from, to, &crate::Visibility::All)
            .await?;
        let start: DateTime<Utc> = from.and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        let end: DateTime<Utc> = (to + Days::new(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc();
        let mut per: BTreeMap<Option<i64>, RepReview> = BTreeMap::new();
        let filled: Vec<String> = KEY_FIELDS
            .iter()
            .map(|f| format!("CASE WHEN {f} IS NOT NULL AND {f} <> '' THEN 1 ELSE 0 END"))
            .collect();
        let cards = format!(
            "SELECT owner_id, COUNT(*), CAST(SUM({}) AS BIGINT) FROM customers WHERE merged_into IS NULL GROUP BY owner_id",
            filled.join(" + ")
        );
        let rows: Vec<(Option<i64>, i64, i64)> =
            with_pool!(self, pool => sqlx::query_as(&cards).fetch_all(pool).await?);
        for (owner, n, f) in rows {
            let r = per.entry(owner).or_default();
            r.customers = n;
            r.card_completeness = (n > 0).then(|| f as f64 / (n as f64 * KEY_FIELDS.len() as f64));
        }
        let rows: Vec<(Option<i64>, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.owner_id, COUNT(*), CAST(SUM(CASE WHEN i.kind = 'promise' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM interactions i JOIN customers c ON c.id = i.customer_id \
             WHERE i.occurred_at >= $1 AND i.occurred_at < $2 GROUP BY c.owner_id")
            .bind(start).bind(end).fetch_all(pool).await?);
        for (owner, n, p) in rows {
            let r = per.entry(owner).or_default();
            r.interactions = n;
            r.promises = p;
        }
        let rows: Vec<(Option<i64>, i64, i64)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT c.owner_id, COUNT(*), CAST(SUM(CASE WHEN (t.status = 'open' AND t.due_at < $3) OR (t.resolved_at IS NOT NULL AND t.resolved_at > t.due_at) THEN 1 ELSE 0 END) AS BIGINT) \
             FROM tickets t JOIN customers c ON c.id = t.customer_id \
             WHERE t.opened_at >= $1 AND t.opened_at < $2 GROUP BY c.owner_id")
            .bind(start).bind(end).bind(now).fetch_all(pool).await?);
        for (owner, n, b) in rows {
            let r = per.entry(owner).or_default();
            r.tickets_opened = n;
            r.tickets_breached = b;
        }
        for s in sales {
            let r = per.entry(s.owner_id).or_default();
            r.username = s.username;
            r.sales = s.sales;
            r.invoiced = s.invoiced;
            r.collected = s.collected;
            r.overdue = s.overdue;
        }
        let users: Vec<(i64, String)> = with_pool!(self, pool => sqlx::query_as("SELECT id, username FROM users").fetch_all(pool).await?);
        let users: BTreeMap<i64, String> = users.into_iter().collect();
        Ok(per
            .into_iter()
            .map(|(owner, mut r)| {
                r.owner_id = owner;
                r.username = owner.and_then(|o| users.get(&o).cloned());
                r
            })
            .collect())
    }
}
