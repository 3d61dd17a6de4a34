//! Manager review per rep (customer owner) over a period: interactions and promises recorded on
//! the rep's customers, card completeness (share of key fields filled), tickets that breached
//! their SLA, and sales vs collections. Facts are credited to the owner of the customer at
//! their time (the ownership history), not to today's owner.

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
    /// Interactions dated in the period on customers the rep owned at the time (promises
    /// included).
    pub interactions: i64,
    pub promises: i64,
    /// Mean share of the key fields filled on the rep's cards, 0..1 (`None`: no customers).
    pub card_completeness: Option<f64>,
    /// Tickets opened in the period (on customers the rep owned then) that breached their SLA
    /// (resolved late, or open past due at `now`).
    pub tickets_breached: i64,
    pub tickets_opened: i64,
    /// Orders, invoices and payments dated in the period on customers the rep owned that day.
    pub sales: Money,
    pub invoiced: Money,
    pub collected: Money,
    /// Open past due at the end of the period on the rep's customers (today's owner collects).
    pub overdue: Money,
}

/// SQL for the owner of customer `c` (a `customers` row) at the time of a fact in column `fact`
/// (NULL: the pool), from the ownership history (migration 0014): the owner after the last
/// change at or before the fact; before the first change, that change's previous owner; without
/// changes, the current owner. `by_day`: the fact is a date, and the owner at the end of that
/// day gets it (changes compared by their day); otherwise a time. User ids start at 1, so 0
/// stands for the pool inside the expression.
pub(crate) fn owner_at(fact: &str, by_day: bool) -> String {
    let col = if by_day { "h.on_day" } else { "h.at" };
    format!(
        "NULLIF(COALESCE(\
         (SELECT COALESCE(h.to_owner, 0) FROM ownership_history h WHERE h.customer_id = c.id AND {col} <= {fact} ORDER BY h.at DESC, h.id DESC LIMIT 1), \
         (SELECT COALESCE(h.from_owner, 0) FROM ownership_history h WHERE h.customer_id = c.id AND {col} > {fact} ORDER BY h.at, h.id LIMIT 1), \
         COALESCE(c.owner_id, 0)), 0)"
    )
}

impl Store {
    /// The manager review of every rep over `from..=to` (tickets judged at `now`). Interactions,
    /// tickets, sales, invoices and payments are credited to whoever owned the customer when
    /// they happened (see [`owner_at`]), not to today's owner; customers, card completeness and
    /// what is overdue at `to` are the current owner's.
    pub async fn rep_review(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        now: DateTime<Utc>,
    ) -> Result<Vec<RepReview>, StoreError> {
        if from > to {
            return Err(StoreError::invalid(
                "from",
                format!("{from} is after 'to' ({to})"),
            ));
        }
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
            "SELECT owner_id, COUNT(*), CAST(SUM({}) AS BIGINT) FROM customers WHERE merged_into IS NULL AND archived_at IS NULL GROUP BY owner_id",
            filled.join(" + ")
        );
        let rows: Vec<(Option<i64>, i64, i64)> =
            with_pool!(self, pool => sqlx::query_as(&cards).fetch_all(pool).await?);
        for (owner, n, f) in rows {
            let r = per.entry(owner).or_default();
            r.customers = n;
            r.card_completeness = (n > 0).then(|| f as f64 / (n as f64 * KEY_FIELDS.len() as f64));
        }
        // Interactions and tickets go to the owner of the customer when they happened.
        let sql = format!(
            "SELECT owner, COUNT(*), CAST(SUM(CASE WHEN kind = 'promise' THEN 1 ELSE 0 END) AS BIGINT) \
             FROM (SELECT {} AS owner, i.kind AS kind FROM interactions i JOIN customers c ON c.id = i.customer_id \
                   WHERE i.occurred_at >= $1 AND i.occurred_at < $2) x GROUP BY owner",
            owner_at("i.occurred_at", false)
        );
        let rows: Vec<(Option<i64>, i64, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(start).bind(end).fetch_all(pool).await?);
        for (owner, n, p) in rows {
            let r = per.entry(owner).or_default();
            r.interactions = n;
            r.promises = p;
        }
        let sql = format!(
            "SELECT owner, COUNT(*), CAST(SUM(breached) AS BIGINT) \
             FROM (SELECT {} AS owner, \
                          CASE WHEN (t.status = 'open' AND t.due_at < $3) OR (t.resolved_at IS NOT NULL AND t.resolved_at > t.due_at) THEN 1 ELSE 0 END AS breached \
                   FROM tickets t JOIN customers c ON c.id = t.customer_id \
                   WHERE t.opened_at >= $1 AND t.opened_at < $2) x GROUP BY owner",
            owner_at("t.opened_at", false)
        );
        let rows: Vec<(Option<i64>, i64, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
            .bind(start).bind(end).bind(now).fetch_all(pool).await?);
        for (owner, n, b) in rows {
            let r = per.entry(owner).or_default();
            r.tickets_opened = n;
            r.tickets_breached = b;
        }
        // Sales, invoices and payments go to the owner at the end of their day.
        for (k, table, date) in [
            (0, "order_lines", "ordered_on"),
            (1, "invoices", "issued_on"),
            (2, "payments", "paid_on"),
        ] {
            let sql = format!(
                "SELECT owner, CAST(SUM(amount) AS BIGINT) \
                 FROM (SELECT {} AS owner, t.amount_cents AS amount FROM {table} t JOIN customers c ON c.id = t.customer_id \
                       WHERE t.{date} >= $1 AND t.{date} <= $2) x GROUP BY owner",
                owner_at(&format!("t.{date}"), true)
            );
            let rows: Vec<(Option<i64>, i64)> = with_pool!(self, pool => sqlx::query_as(&sql)
                .bind(from).bind(to).fetch_all(pool).await?);
            for (owner, sum) in rows {
                let r = per.entry(owner).or_default();
                match k {
                    0 => r.sales = Money(sum),
                    1 => r.invoiced = Money(sum),
                    _ => r.collected = Money(sum),
                }
            }
        }
        // What is overdue at `to` is the current owner's to collect.
        for o in self.overdue(to, &crate::Visibility::All).await? {
            per.entry(o.owner_id).or_default().overdue.0 += o.open.cents();
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
