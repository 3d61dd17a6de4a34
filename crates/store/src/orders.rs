//! Orders. Stored as lines (`order_lines`); an order is the lines sharing (customer, order_ref),
//! all with the same date.

use chrono::NaiveDate;
use patron_domain::{Money, Order, OrderInput, OrderLine};
use serde::Deserialize;

use crate::customers::{bind_all, Bind, Where};
use crate::page::{decode_cursor, encode_cursor};
use crate::{with_pool, Page, PageRequest, Store, StoreError};

pub(crate) type LineRow = (i64, String, i32, NaiveDate, Option<String>, i64, i64, i64);
const LINE_COLUMNS: &str =
    "customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents";

/// One order's lines (`$1` customer, `$2` order reference), for reading it inside a transaction.
pub(crate) fn order_sql() -> String {
    format!("SELECT {LINE_COLUMNS} FROM order_lines WHERE customer_id = $1 AND order_ref = $2 ORDER BY line_no")
}

/// The order made of the rows of [`order_sql`].
pub(crate) fn order_of(
    rows: Vec<LineRow>,
    customer_id: i64,
    order_ref: &str,
) -> Result<Order, StoreError> {
    group(rows).pop().ok_or_else(|| {
        StoreError::not_found(
            "order",
            format!(
                "'{order_ref}' of customer {customer_id}",
                order_ref = patron_domain::excerpt(order_ref)
            ),
        )
    })
}

/// What an order list may be narrowed to.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OrderFilter {
    pub customer_id: Option<i64>,
    /// First day included.
    pub from: Option<NaiveDate>,
    /// Last day included.
    pub to: Option<NaiveDate>,
    pub category: Option<String>,
}

/// Groups lines (sorted by order key, then line) into orders, keeping the input order of orders.
fn group(rows: Vec<LineRow>) -> Vec<Order> {
    let mut out: Vec<Order> = Vec::new();
    for (customer_id, order_ref, line_no, ordered_on, category, quantity, amount, cost) in rows {
        let line = OrderLine {
            line_no,
            category,
            quantity,
            amount: Money(amount),
            cost: Money(cost),
        };
        match out.last_mut() {
            Some(o) if o.customer_id == customer_id && o.order_ref == order_ref => {
                o.amount = Money(o.amount.0 + amount);
                o.cost = Money(o.cost.0 + cost);
                o.lines.push(line);
            }
            _ => out.push(Order {
                customer_id,
                order_ref,
                ordered_on,
                lines: vec![line],
                amount: Money(amount),
                cost: Money(cost),
            }),
        }
    }
    out
}

impl Store {
    /// Records an order; its reference is generated when absent and must be new for the customer.
    ///
    /// A customer with a credit limit gets the same rule as [`Store::place_order`] (default
    /// terms: refused with a 409 naming the figures when its open receivables plus the order
    /// would exceed the limit; accepted orders get their invoice, due in 30 days, so that they
    /// count against the limit afterwards), atomically. A customer without a limit gets the
    /// order lines only, as before.
    ///
    /// Bulk imports of order history ([`Store::import_order_lines`]) are not checked: they record
    /// what was sold in the past (often years of it, already paid or settled outside the CRM),
    /// not a new sale the firm is deciding to extend credit for; checking them against today's
    /// limit would refuse history and invent receivables.
    pub async fn create_order(
        &self,
        customer_id: i64,
        input: OrderInput,
    ) -> Result<Order, StoreError> {
        self.require_live_customer(customer_id).await?;
        let terms = crate::OrderTerms::default();
        match self.place(customer_id, input, &terms, true).await? {
            crate::OrderPlacement::Accepted { order, .. }
            | crate::OrderPlacement::Plain { order } => Ok(order),
            crate::OrderPlacement::Held { .. } => {
                unreachable!("orders with default terms are refused, not held")
            }
        }
    }

    pub async fn order(&self, customer_id: i64, order_ref: &str) -> Result<Order, StoreError> {
        let sql = order_sql();
        let rows: Vec<LineRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).bind(order_ref).fetch_all(pool).await?);
        order_of(rows, customer_id, order_ref)
    }

    /// Replaces an order's date and lines (the reference stays), under the credit rule: an
    /// increase of the amount of a customer with a credit limit is checked like a new order
    /// (refused with a 409 naming the figures when it would go over), atomically; the order's
    /// invoice follows the new amount (see `replace_order_checked` in `receivables.rs`).
    pub async fn update_order(
        &self,
        customer_id: i64,
        order_ref: &str,
        input: OrderInput,
    ) -> Result<Order, StoreError> {
        let o = input.validate().map_err(StoreError::Invalid)?;
        if o.order_ref.as_deref().is_some_and(|r| r != order_ref) {
            return Err(StoreError::invalid(
                "order_ref",
                "cannot be changed; create a new order instead",
            ));
        }
        self.replace_order_checked(customer_id, order_ref, &o)
            .await?;
        self.order(customer_id, order_ref).await
    }

    pub async fn delete_order(&self, customer_id: i64, order_ref: &str) -> Result<(), StoreError> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM order_lines WHERE customer_id = $1 AND order_ref = $2").bind(customer_id).bind(order_ref).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::not_found(
                "order",
                format!(
                    "'{order_ref}' of customer {customer_id}",
                    order_ref = patron_domain::excerpt(order_ref)
                ),
            ));
        }
        Ok(())
    }

    /// Orders, newest first, in keyset pages.
    pub async fn list_orders(
        &self,
        filter: &OrderFilter,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        self.list_visible_orders(filter, &crate::Visibility::All, page)
            .await
    }

    /// Orders of the customers a user sees, newest first, in keyset pages.
    pub async fn list_visible_orders(
        &self,
        filter: &OrderFilter,
        visible: &crate::Visibility,
        page: &PageRequest,
    ) -> Result<Page<Order>, StoreError> {
        let mut w = Where::default();
        w.push("line_no = 1", []);
        visible.push_customer(&mut w, "customer_id");
        if let Some(c) = filter.customer_id {
            self.customer(c).await?;
            w.push("customer_id = ?", [Bind::I64(c)]);
        }
        if let (Some(f), Some(t)) = (filter.from, filter.to) {
            if f > t {
                return Err(StoreError::invalid(
                    "from",
                    format!("{f} is after 'to' ({t})"),
                ));
            }
        }
        if let Some(f) = filter.from {
            w.push("ordered_on >= ?", [Bind::Date(f)]);
        }
        if let Some(t) = filter.to {
            w.push("ordered_on <= ?", [Bind::Date(t)]);
        }
        if let Some(c) = &filter.category {
            w.push("category = ?", [Bind::Text(c.clone())]);
        }
        if let Some(after) = &page.after {
            let (d, c, r): (NaiveDate, i64, String) = decode_cursor(after)?;
            w.push(
                "(ordered_on < ? OR (ordered_on = ? AND (customer_id < ? OR (customer_id = ? AND order_ref < ?))))",
                [Bind::Date(d), Bind::Date(d), Bind::I64(c), Bind::I64(c), Bind::Text(r)],
            );
        }
        let limit = page.limit();
        let sql = format!("SELECT customer_id, order_ref FROM order_lines{} ORDER BY ordered_on DESC, customer_id DESC, order_ref DESC LIMIT {}", w.sql(), limit + 1);
        let mut keys: Vec<(i64, String)> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let more = keys.len() as i64 > limit;
        keys.truncate(limit as usize);
        let mut items = Vec::with_capacity(keys.len());
        for (c, r) in &keys {
            items.push(self.order(*c, r).await?);
        }
        let next = match (more, items.last()) {
            (true, Some(o)) => Some(encode_cursor(&(o.ordered_on, o.customer_id, &o.order_ref))),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// Every order line of live customers, for analytics: (customer id, date, amount, cost).
    /// Decoded row by row from a stream (no second copy of the rows while collecting).
    pub async fn order_facts(&self) -> Result<Vec<crate::OrderFact>, StoreError> {
        use futures_util::TryStreamExt;
        let sql = "SELECT customer_id, ordered_on, amount_cents, cost_cents FROM order_lines";
        let mut out = Vec::new();
        with_pool!(self, pool => {
            let mut rows = sqlx::query_as::<_, (i64, NaiveDate, i64, i64)>(sql).fetch(pool);
            while let Some((customer_id, ordered_on, amount_cents, cost_cents)) = rows.try_next().await? {
                out.push(crate::OrderFact { customer_id, ordered_on, amount_cents, cost_cents });
            }
        });
        Ok(out)
    }

    /// Streams every order line dated up to `up_to` (all without), in customer order (the
    /// primary key's: customer, order reference, line), as the analytics need it: `each` gets
    /// (customer id, day number since 1970-01-01, amount in cents, cost in cents) of one line,
    /// decoded straight from the row (the day computed by the database, no text per row), so
    /// that a caller keeps only its own compact form of the lines. Answers the lines passed.
    pub async fn for_each_order_day(
        &self,
        up_to: Option<NaiveDate>,
        mut each: impl FnMut(i64, i32, i64, i64),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let day = match self.kind() {
            // julianday() of a date is its midnight, x.5; 2440587.5 is 1970-01-01's.
            crate::BackendKind::Sqlite => "CAST(julianday(ordered_on) - 2440587.5 AS INTEGER)",
            crate::BackendKind::Postgres => "(ordered_on - DATE '1970-01-01')",
        };
        let sql = format!(
            "SELECT customer_id, {day}, amount_cents, cost_cents FROM order_lines \
             ORDER BY customer_id, order_ref, line_no"
        );
        let last = up_to.map(|d| {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            (d - epoch).num_days()
        });
        let mut n = 0u64;
        with_pool!(self, pool => {
            let mut rows = sqlx::query_as::<_, (i64, i32, i64, i64)>(&sql).fetch(pool);
            while let Some((customer_id, day, amount_cents, cost_cents)) = rows.try_next().await? {
                if last.is_some_and(|l| i64::from(day) > l) {
                    continue;
                }
                each(customer_id, day, amount_cents, cost_cents);
                n += 1;
            }
        });
        Ok(n)
    }
}
