//! Credit and receivables: orders checked against the customer's credit limit (refused, or held
//! for a manager's approval), invoices with due dates and instalment plans, payments, ageing,
//! the overdue list, reminders of due instalments, and sales vs collections per rep.
//!
//! The credit check and the insert are one transaction that first takes the customer row's
//! lock: on SQLite a no-op UPDATE of the row as the transaction's first statement (sqlx begins
//! deferred transactions; a first-statement write waits for the database's write lock, like
//! `BEGIN IMMEDIATE`), on PostgreSQL `SELECT ... FOR UPDATE`. Two orders racing for the last
//! headroom are thereby serialised: the second sees the first one's invoice.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use patron_domain::receivable::{
    ageing, allocate, check_credit, AgeingReport, Instalment, Invoice, InvoiceInput, OpenItem,
    Payment, PaymentInput,
};
use patron_domain::{Money, Order, OrderInput};
use serde::Serialize;

use crate::commit;
use crate::customers::{bind_all, Bind, Where};
use crate::error::unique_to_conflict;
use crate::BeginWrite;
use crate::{live_customer, now, with_pool, BackendKind, Store, StoreError, Visibility};

/// What to do with an order that would exceed the credit limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnExcess {
    /// Refuse it (409 with the figures).
    #[default]
    Refuse,
    /// Keep it in the approval queue for a manager.
    Hold,
}

/// Terms of an order placed with a credit check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerms {
    /// Days from the order date to the invoice's due date.
    pub due_days: u32,
    pub on_excess: OnExcess,
    /// Who places it.
    pub by: String,
}

impl Default for OrderTerms {
    fn default() -> Self {
        OrderTerms {
            due_days: 30,
            on_excess: OnExcess::Refuse,
            by: "system".into(),
        }
    }
}

/// An order waiting for (or decided by) a manager because it exceeded the credit limit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreditHold {
    pub customer_id: i64,
    pub id: i64,
    pub order: OrderInput,
    pub amount: Money,
    /// Open receivables when it was requested.
    pub open: Money,
    pub limit: Money,
    pub due_days: i64,
    pub requested_at: DateTime<Utc>,
    pub requested_by: String,
    pub status: String,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    pub note: Option<String>,
    /// The order created on approval.
    pub order_ref: Option<String>,
}

/// The outcome of [`Store::place_order`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum OrderPlacement {
    Accepted {
        order: Order,
        invoice: Invoice,
    },
    Held {
        hold: CreditHold,
    },
    /// Recorded without invoice: the customer has no credit limit (see [`Store::create_order`]).
    Plain {
        order: Order,
    },
}

/// A customer's credit position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreditPosition {
    pub customer_id: i64,
    pub limit: Option<Money>,
    pub open: Money,
    /// What may still be ordered (`None`: no limit).
    pub headroom: Option<Money>,
    pub overdue: Money,
    pub pending_holds: i64,
}

/// One line of the overdue list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueItem {
    pub customer_id: i64,
    pub customer_name: String,
    pub owner_id: Option<i64>,
    pub invoice_id: i64,
    pub invoice_number: String,
    pub instalment: Option<i32>,
    pub due_on: NaiveDate,
    pub days_overdue: i64,
    pub open: Money,
}

/// Sales vs collections of one rep (customer owner; `None`: customers without owner).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct RepCollections {
    pub owner_id: Option<i64>,
    pub username: Option<String>,
    /// Order lines dated in the period.
    pub sales: Money,
    /// Invoices issued in the period.
    pub invoiced: Money,
    /// Payments received in the period.
    pub collected: Money,
    /// Open and overdue at the end of the period.
    pub overdue: Money,
}

type InvoiceRow = (
    i64,
    i64,
    String,
    Option<String>,
    NaiveDate,
    NaiveDate,
    i64,
    i64,
);
const INVOICE_COLUMNS: &str =
    "customer_id, id, number, order_ref, issued_on, due_on, amount_cents, paid_cents";

type HoldRow = (
    i64,
    i64,
    String,
    i64,
    i64,
    i64,
    i64,
    DateTime<Utc>,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<String>,
    Option<String>,
    Option<String>,
);
const HOLD_COLUMNS: &str =
    "customer_id, id, order_json, amount_cents, open_cents, limit_cents, due_days, \
     requested_at, requested_by, status, decided_at, decided_by, note, order_ref";

fn to_hold(r: HoldRow) -> Result<CreditHold, StoreError> {
    let order: OrderInput = serde_json::from_str(&r.2)
        .map_err(|e| StoreError::Config(format!("credit hold {}: bad order: {e}", r.1)))?;
    Ok(CreditHold {
        customer_id: r.0,
        id: r.1,
        order,
        amount: Money(r.3),
        open: Money(r.4),
        limit: Money(r.5),
        due_days: r.6,
        requested_at: r.7,
        requested_by: r.8,
        status: r.9,
        decided_at: r.10,
        decided_by: r.11,
        note: r.12,
        order_ref: r.13,
    })
}

/// Takes the customer row's lock as the transaction's first statement and answers
/// (credit limit, merged into), or `None` when the customer does not exist.
macro_rules! lock_customer {
    ($store:expr, $tx:expr, $customer_id:expr) => {{
        let sql = match $store.kind() {
            BackendKind::Sqlite => "UPDATE customers SET credit_limit_cents = credit_limit_cents WHERE id = $1 RETURNING credit_limit_cents, merged_into",
            BackendKind::Postgres => "SELECT credit_limit_cents, merged_into FROM customers WHERE id = $1 FOR UPDATE",
        };
        let row: Option<(Option<i64>, Option<i64>)> = sqlx::query_as(sql).bind($customer_id).fetch_optional(&mut *$tx).await?;
        match row {
            None => return Err(StoreError::not_found("customer", $customer_id)),
            Some((_, Some(to))) => {
                return Err(StoreError::Conflict {
                    code: None,
                    message: format!("customer {} was merged into customer {to}; use that one", $customer_id),
                    current_version: None,
                })
            }
            Some((limit, None)) => limit.map(Money),
        }
    }};
}

/// A refused order (or change of an order) over the credit limit: the customer quoted by name
/// and number, the amounts as figures, and the code `credit_refused` with the amounts in cents
/// (`order`, `open`, `limit`, `headroom`, `over`) for other languages. `change` is
/// `Some((order_ref, from, to))` for a change of an existing order.
macro_rules! credit_refused {
    ($tx:expr, $customer_id:expr, $excess:expr, $change:expr) => {{
        let excess: &patron_domain::receivable::CreditExcess = $excess;
        let who: Option<(String, String)> =
            sqlx::query_as("SELECT name, number FROM customers WHERE id = $1")
                .bind($customer_id)
                .fetch_optional(&mut *$tx)
                .await?;
        let (name, number) = who.unwrap_or_else(|| (String::new(), $customer_id.to_string()));
        let name = patron_domain::text::bounded(&name);
        let label = if name.is_empty() { format!("no. {number}") } else { format!("{name} (no. {number})") };
        let over = Money(excess.open.cents() + excess.order_amount.cents() - excess.limit.cents());
        let change: Option<(String, Money, Money)> = $change;
        let message = match &change {
            None => format!(
                "order of {} refused: customer {label} has {} open receivables and a credit limit of {}, \
                 so only {} of headroom; the order would exceed the limit by {over}",
                excess.order_amount, excess.open, excess.limit, excess.headroom()
            ),
            Some((order_ref, from, to)) => format!(
                "change of order '{}' from {from} to {to} refused: customer {label} has {} open receivables and a credit limit of {}, \
                 so only {} of headroom; the change would exceed the limit by {over}",
                patron_domain::excerpt(order_ref), excess.open, excess.limit, excess.headroom()
            ),
        };
        let mut params = vec![
            ("name", name.to_string()),
            ("number", number),
            ("order", excess.order_amount.cents().to_string()),
            ("open", excess.open.cents().to_string()),
            ("limit", excess.limit.cents().to_string()),
            ("headroom", excess.headroom().cents().to_string()),
            ("over", over.cents().to_string()),
        ];
        if let Some((order_ref, from, to)) = &change {
            params.push(("order_ref", patron_domain::excerpt(order_ref).to_string()));
            params.push(("from", from.cents().to_string()));
            params.push(("to", to.cents().to_string()));
        }
        StoreError::Conflict {
            code: Some(crate::ErrorCode::new("credit_refused", params)),
            message,
            current_version: None,
        }
    }};
}

const OPEN_SUM: &str =
    "SELECT CAST(COALESCE(SUM(amount_cents - paid_cents), 0) AS BIGINT) FROM invoices \
     WHERE customer_id = $1 AND paid_cents < amount_cents";

/// Inserts an order's lines inside a transaction.
macro_rules! insert_order_lines {
    ($tx:expr, $customer_id:expr, $order_ref:expr, $o:expr) => {{
        let customer_id: i64 = $customer_id;
        let order_ref: &str = $order_ref;
        for (i, l) in $o.lines.iter().enumerate() {
            sqlx::query("INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(customer_id).bind(order_ref).bind(i as i32 + 1).bind($o.ordered_on).bind(&l.category)
                .bind(l.quantity).bind(l.amount.cents()).bind(l.cost.cents())
                .execute(&mut *$tx).await
                .map_err(|e| unique_to_conflict(e, || format!("customer {customer_id} already has an order '{order_ref}'", order_ref = patron_domain::excerpt(order_ref))))?;
        }
    }};
}

/// Inserts an order's lines and its invoice inside a transaction; answers the invoice id.
macro_rules! insert_order_with_invoice {
    ($tx:expr, $customer_id:expr, $order_ref:expr, $o:expr, $due_on:expr, $at:expr) => {{
        let customer_id: i64 = $customer_id;
        let order_ref: &str = $order_ref;
        insert_order_lines!($tx, customer_id, order_ref, $o);
        let amount: i64 = $o.lines.iter().map(|l| l.amount.cents()).sum();
        if amount > 0 {
            let id: i64 = sqlx::query_scalar("INSERT INTO invoices (customer_id, number, order_ref, issued_on, due_on, amount_cents, paid_cents, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id")
                .bind(customer_id).bind(format!("INV-{order_ref}")).bind(order_ref).bind($o.ordered_on).bind($due_on).bind(amount).bind($at)
                .fetch_one(&mut *$tx).await
                .map_err(|e| unique_to_conflict(e, || format!("customer {customer_id} already has an invoice 'INV-{order_ref}'")))?;
            Some(id)
        } else {
            None
        }
    }};
}

fn order_amount(o: &OrderInput) -> Money {
    Money(o.lines.iter().map(|l| l.amount.cents()).sum())
}

impl Store {
    /// Places an order with the credit check: accepted (order and its invoice, due
    /// `terms.due_days` after the order date) when the customer's open receivables plus the
    /// order stay within the credit limit (exactly at the limit is accepted); otherwise refused
    /// with a 409 naming the figures, or held for approval (`OnExcess::Hold`). Check and insert
    /// are atomic: see the module documentation.
    pub async fn place_order(
        &self,
        customer_id: i64,
        input: OrderInput,
        terms: &OrderTerms,
    ) -> Result<OrderPlacement, StoreError> {
        self.place(customer_id, input, terms, false).await
    }

    /// [`Store::place_order`]; `plain`: an order recorded without terms (see
    /// [`Store::create_order`]) — a customer without credit limit gets the order lines only
    /// (no invoice), one with a limit gets the credit check and the invoice as above.
    pub(crate) async fn place(
        &self,
        customer_id: i64,
        input: OrderInput,
        terms: &OrderTerms,
        plain: bool,
    ) -> Result<OrderPlacement, StoreError> {
        let mut o = input.validate().map_err(StoreError::Invalid)?;
        let order_ref = o
            .order_ref
            .clone()
            .unwrap_or_else(|| format!("O{}", now().format("%Y%m%d%H%M%S%6f")));
        o.order_ref = Some(order_ref.clone());
        let amount = order_amount(&o);
        let due_on = o.ordered_on + Days::new(terms.due_days as u64);
        let at = now();
        enum Done {
            Accepted(Vec<crate::orders::LineRow>),
            Held(i64),
        }
        let done = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let limit = lock_customer!(self, tx, customer_id);
            if plain && limit.is_none() {
                insert_order_lines!(tx, customer_id, &order_ref, o);
                crate::customers::advance_status_on_order!(tx, customer_id, &terms.by);
                // Read back before the commit: right after it a merge of the customer may move
                // the order away, and the caller must not be told that it failed.
                let rows: Vec<crate::orders::LineRow> = sqlx::query_as(&crate::orders::order_sql())
                    .bind(customer_id).bind(&order_ref).fetch_all(&mut *tx).await?;
                commit!(self, tx);
                return Ok(OrderPlacement::Plain { order: crate::orders::order_of(rows, customer_id, &order_ref)? });
            }
            let open: i64 = sqlx::query_scalar(OPEN_SUM).bind(customer_id).fetch_one(&mut *tx).await?;
            match check_credit(customer_id, limit, Money(open), amount) {
                Ok(()) => {
                    insert_order_with_invoice!(tx, customer_id, &order_ref, o, due_on, at);
                    crate::customers::advance_status_on_order!(tx, customer_id, &terms.by);
                    let rows = sqlx::query_as(&crate::orders::order_sql())
                        .bind(customer_id).bind(&order_ref).fetch_all(&mut *tx).await?;
                    commit!(self, tx);
                    Done::Accepted(rows)
                }
                Err(excess) => match terms.on_excess {
                    OnExcess::Refuse => {
                        return Err(credit_refused!(tx, customer_id, &excess, None));
                    }
                    OnExcess::Hold => {
                        let json = serde_json::to_string(&o).map_err(|e| StoreError::Config(e.to_string()))?;
                        let id: i64 = sqlx::query_scalar("INSERT INTO credit_holds (customer_id, order_json, amount_cents, open_cents, limit_cents, due_days, requested_at, requested_by, status) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending') RETURNING id")
                            .bind(customer_id).bind(json).bind(amount.cents()).bind(open).bind(excess.limit.cents()).bind(terms.due_days as i64).bind(at).bind(&terms.by)
                            .fetch_one(&mut *tx).await?;
                        commit!(self, tx);
                        Done::Held(id)
                    }
                },
            }
        });
        match done {
            // A zero-amount order makes no invoice: it is stored, and answered as such (a
            // 404 for the missing invoice made clients retry and store it twice).
            Done::Accepted(rows) if amount.cents() == 0 => Ok(OrderPlacement::Plain {
                order: crate::orders::order_of(rows, customer_id, &order_ref)?,
            }),
            Done::Accepted(rows) => {
                let order = crate::orders::order_of(rows, customer_id, &order_ref)?;
                let invoice = self
                    .invoice_by_number(customer_id, &format!("INV-{order_ref}"))
                    .await?;
                Ok(OrderPlacement::Accepted { order, invoice })
            }
            Done::Held(id) => Ok(OrderPlacement::Held {
                hold: self.credit_hold(id).await?,
            }),
        }
    }

    pub async fn credit_hold(&self, id: i64) -> Result<CreditHold, StoreError> {
        let sql = format!("SELECT {HOLD_COLUMNS} FROM credit_holds WHERE id = $1");
        let row: Option<HoldRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        to_hold(row.ok_or_else(|| StoreError::not_found("credit hold", id))?)
    }

    /// The approval queue (`pending`), or the holds of another status; oldest first.
    pub async fn credit_holds(
        &self,
        status: &str,
        visible: &Visibility,
    ) -> Result<Vec<CreditHold>, StoreError> {
        let mut w = Where::default();
        w.push("status = ?", [Bind::Text(status.into())]);
        visible.push_customer(&mut w, "customer_id");
        let sql = format!(
            "SELECT {HOLD_COLUMNS} FROM credit_holds{} ORDER BY id",
            w.sql()
        );
        let rows: Vec<HoldRow> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        rows.into_iter().map(to_hold).collect()
    }

    /// A manager approves a held order: it is created with its invoice despite the limit.
    pub async fn approve_credit_hold(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
    ) -> Result<OrderPlacement, StoreError> {
        let hold = self.credit_hold(id).await?;
        if hold.status != "pending" {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("credit hold {id} is already {}", hold.status),
                current_version: None,
            });
        }
        let o = hold.order.clone();
        let order_ref = o.order_ref.clone().unwrap_or_default();
        let due_on = o.ordered_on + Days::new(hold.due_days.max(0) as u64);
        let at = now();
        let customer_id = hold.customer_id;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("UPDATE credit_holds SET status = 'approved', decided_at = $1, decided_by = $2, note = $3, order_ref = $4 WHERE customer_id = $5 AND id = $6 AND status = 'pending'")
                .bind(at).bind(by).bind(note).bind(&order_ref).bind(customer_id).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::Conflict { code: None, message: format!("credit hold {id} was decided meanwhile"), current_version: None });
            }
            insert_order_with_invoice!(tx, customer_id, &order_ref, o, due_on, at);
            crate::customers::advance_status_on_order!(tx, customer_id, &hold.requested_by);
            commit!(self, tx);
        });
        Ok(OrderPlacement::Accepted {
            order: self.order(customer_id, &order_ref).await?,
            invoice: self
                .invoice_by_number(customer_id, &format!("INV-{order_ref}"))
                .await?,
        })
    }

    /// Replaces an order's date and lines (the reference stays) under the credit rule of
    /// [`Store::place_order`], atomically like it (the customer row's lock first, see the module
    /// documentation). The order's own invoice (`INV-<reference>`, as the credit rule made it)
    /// follows the new amount, refused below what is already paid on it (or when it has an
    /// instalment plan). When the customer has a credit limit and the change raises the order's
    /// amount, the increase is checked like a new order: refused (409 naming the figures) when
    /// open receivables plus the increase would exceed the limit, exactly at the limit accepted.
    /// An order without invoice (recorded before the limit, or imported history) that grows gets
    /// its invoice for the increase, so that it counts against the limit afterwards.
    pub(crate) async fn replace_order_checked(
        &self,
        customer_id: i64,
        order_ref: &str,
        o: &OrderInput,
    ) -> Result<(), StoreError> {
        let new_amount = order_amount(o).cents();
        let due_on = o.ordered_on + Days::new(OrderTerms::default().due_days as u64);
        let number = format!("INV-{order_ref}");
        let at = now();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let limit = lock_customer!(self, tx, customer_id);
            let (old_amount, lines): (i64, i64) = sqlx::query_as("SELECT CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT), COUNT(*) FROM order_lines WHERE customer_id = $1 AND order_ref = $2")
                .bind(customer_id).bind(order_ref).fetch_one(&mut *tx).await?;
            if lines == 0 {
                return Err(StoreError::not_found("order", format!("'{order_ref}' of customer {customer_id}", order_ref = patron_domain::excerpt(order_ref))));
            }
            let invoice: Option<(i64, i64, i64)> = sqlx::query_as("SELECT id, amount_cents, paid_cents FROM invoices WHERE customer_id = $1 AND number = $2 AND order_ref = $3")
                .bind(customer_id).bind(&number).bind(order_ref).fetch_optional(&mut *tx).await?;
            let billed = invoice.map_or(old_amount, |(_, amount, _)| amount);
            if let Some((inv, amount, paid)) = invoice {
                if new_amount < paid {
                    return Err(StoreError::invalid("lines", format!(
                        "add up to {}, less than the {} already paid on invoice {number}", Money(new_amount), Money(paid))));
                }
                let plan: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM instalments WHERE customer_id = $1 AND invoice_id = $2")
                    .bind(customer_id).bind(inv).fetch_one(&mut *tx).await?;
                if plan > 0 && new_amount != amount {
                    return Err(StoreError::Conflict {
                        code: None,
                        message: format!("invoice {number} of order '{order_ref}' has an instalment plan: its amount cannot follow the order; record a new order instead", order_ref = patron_domain::excerpt(order_ref)),
                        current_version: None,
                    });
                }
            }
            let increase = new_amount - billed;
            if increase > 0 {
                let open: i64 = sqlx::query_scalar(OPEN_SUM).bind(customer_id).fetch_one(&mut *tx).await?;
                if let Err(excess) = check_credit(customer_id, limit, Money(open), Money(increase)) {
                    return Err(credit_refused!(tx, customer_id, &excess, Some((order_ref.to_string(), Money(billed), Money(new_amount)))));
                }
            }
            sqlx::query("DELETE FROM order_lines WHERE customer_id = $1 AND order_ref = $2")
                .bind(customer_id).bind(order_ref).execute(&mut *tx).await?;
            insert_order_lines!(tx, customer_id, order_ref, o);
            match invoice {
                Some((inv, _, _)) => {
                    sqlx::query("UPDATE invoices SET amount_cents = $1, issued_on = $2 WHERE customer_id = $3 AND id = $4")
                        .bind(new_amount).bind(o.ordered_on).bind(customer_id).bind(inv).execute(&mut *tx).await?;
                }
                None if limit.is_some() && increase > 0 => {
                    sqlx::query("INSERT INTO invoices (customer_id, number, order_ref, issued_on, due_on, amount_cents, paid_cents, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7)")
                        .bind(customer_id).bind(&number).bind(order_ref).bind(o.ordered_on).bind(due_on).bind(increase).bind(at)
                        .execute(&mut *tx).await
                        .map_err(|e| unique_to_conflict(e, || format!("customer {customer_id} already has an invoice '{number}'", number = patron_domain::excerpt(&number))))?;
                }
                None => {}
            }
            commit!(self, tx);
        });
        Ok(())
    }

    /// A manager rejects a held order: nothing is created.
    pub async fn reject_credit_hold(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
    ) -> Result<CreditHold, StoreError> {
        let n = with_pool!(self, pool => sqlx::query("UPDATE credit_holds SET status = 'rejected', decided_at = $1, decided_by = $2, note = $3 WHERE id = $4 AND status = 'pending'")
            .bind(now()).bind(by).bind(note).bind(id).execute(pool).await?.rows_affected());
        let hold = self.credit_hold(id).await?;
        if n == 0 {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("credit hold {id} is already {}", hold.status),
                current_version: None,
            });
        }
        Ok(hold)
    }

    /// Sets (or with `None` removes) a customer's credit limit; written to its history.
    pub async fn set_credit_limit(
        &self,
        customer_id: i64,
        limit: Option<Money>,
        by: &str,
    ) -> Result<(), StoreError> {
        if limit.is_some_and(|l| l.cents() < 0) {
            return Err(StoreError::invalid("credit_limit", "must be 0 or more"));
        }
        let old = self.customer(customer_id).await?.data.credit_limit;
        let at = now();
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE customers SET credit_limit_cents = $1, version = version + 1, updated_at = $2 WHERE id = $3")
                .bind(limit.map(Money::cents)).bind(at).bind(customer_id).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, 'credit_limit', $4, $5)")
                .bind(customer_id).bind(at).bind(by).bind(old.map(|m| m.to_string())).bind(limit.map(|m| m.to_string()))
                .execute(&mut *tx).await?;
            commit!(self, tx);
        });
        Ok(())
    }

    /// A customer's limit, open receivables, headroom and overdue amount on `as_of`.
    pub async fn credit_position(
        &self,
        customer_id: i64,
        as_of: NaiveDate,
    ) -> Result<CreditPosition, StoreError> {
        let c = self.customer(customer_id).await?;
        let open: i64 = with_pool!(self, pool => sqlx::query_scalar(OPEN_SUM).bind(customer_id).fetch_one(pool).await?);
        let pending: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM credit_holds WHERE customer_id = $1 AND status = 'pending'").bind(customer_id).fetch_one(pool).await?);
        let overdue = self
            .open_items(Some(customer_id), &Visibility::All)
            .await?
            .iter()
            .filter(|i| i.days_overdue(as_of) > 0)
            .map(|i| i.open.cents())
            .sum();
        let limit = c.data.credit_limit;
        Ok(CreditPosition {
            customer_id,
            limit,
            open: Money(open),
            headroom: limit.map(|l| Money((l.cents() - open).max(0))),
            overdue: Money(overdue),
            pending_holds: pending,
        })
    }

    /// Records an invoice (standalone, or for an existing order) with its instalment plan.
    /// Standalone invoices are not credit-checked (orders are, see [`Store::place_order`]).
    pub async fn create_invoice(
        &self,
        customer_id: i64,
        input: InvoiceInput,
    ) -> Result<Invoice, StoreError> {
        let i = input.validate().map_err(StoreError::Invalid)?;
        self.require_live_customer(customer_id).await?;
        if let Some(r) = &i.order_ref {
            self.order(customer_id, r).await.map_err(|_| {
                StoreError::invalid(
                    "order_ref",
                    format!(
                        "customer {customer_id} has no order '{r}'",
                        r = patron_domain::excerpt(r)
                    ),
                )
            })?;
        }
        let number = i
            .number
            .clone()
            .unwrap_or_else(|| format!("INV{}", now().format("%Y%m%d%H%M%S%6f")));
        let id: i64 = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let id: i64 = sqlx::query_scalar("INSERT INTO invoices (customer_id, number, order_ref, issued_on, due_on, amount_cents, paid_cents, created_at) VALUES ($1, $2, $3, $4, $5, $6, 0, $7) RETURNING id")
                .bind(customer_id).bind(&number).bind(&i.order_ref).bind(i.issued_on).bind(i.due_on).bind(i.amount.cents()).bind(now())
                .fetch_one(&mut *tx).await
                .map_err(|e| unique_to_conflict(e, || format!("customer {customer_id} already has an invoice '{number}'", number = patron_domain::excerpt(&number))))?;
            for (k, p) in i.instalments.iter().enumerate() {
                sqlx::query("INSERT INTO instalments (customer_id, invoice_id, seq, due_on, amount_cents) VALUES ($1, $2, $3, $4, $5)")
                    .bind(customer_id).bind(id).bind(k as i32 + 1).bind(p.due_on).bind(p.amount.cents())
                    .execute(&mut *tx).await?;
            }
            commit!(self, tx);
            id
        });
        self.invoice(customer_id, id).await
    }

    async fn invoice_rows(
        &self,
        sql: &str,
        binds: (i64, Option<i64>),
    ) -> Result<Vec<Invoice>, StoreError> {
        let rows: Vec<InvoiceRow> = with_pool!(self, pool => {
            let q = sqlx::query_as(sql).bind(binds.0);
            let q = match binds.1 { Some(b) => q.bind(b), None => q };
            q.fetch_all(pool).await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for (customer_id, id, number, order_ref, issued_on, due_on, amount, paid) in rows {
            let plan: Vec<(i32, NaiveDate, i64)> = with_pool!(self, pool => sqlx::query_as(
                "SELECT seq, due_on, amount_cents FROM instalments WHERE customer_id = $1 AND invoice_id = $2 ORDER BY due_on, seq")
                .bind(customer_id).bind(id).fetch_all(pool).await?);
            let mut instalments: Vec<Instalment> = plan
                .into_iter()
                .map(|(seq, due_on, a)| Instalment {
                    seq,
                    due_on,
                    amount: Money(a),
                    paid: Money::ZERO,
                })
                .collect();
            allocate(Money(paid), &mut instalments);
            out.push(Invoice {
                customer_id,
                id,
                number,
                order_ref,
                issued_on,
                due_on,
                amount: Money(amount),
                paid: Money(paid),
                instalments,
            });
        }
        Ok(out)
    }

    pub async fn invoice(&self, customer_id: i64, id: i64) -> Result<Invoice, StoreError> {
        let sql =
            format!("SELECT {INVOICE_COLUMNS} FROM invoices WHERE customer_id = $1 AND id = $2");
        self.invoice_rows(&sql, (customer_id, Some(id)))
            .await?
            .pop()
            .ok_or_else(|| {
                StoreError::not_found("invoice", format!("{id} of customer {customer_id}"))
            })
    }

    async fn invoice_by_number(
        &self,
        customer_id: i64,
        number: &str,
    ) -> Result<Invoice, StoreError> {
        let id: Option<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT id FROM invoices WHERE customer_id = $1 AND number = $2")
            .bind(customer_id).bind(number).fetch_optional(pool).await?);
        let id = id.ok_or_else(|| {
            StoreError::not_found(
                "invoice",
                format!(
                    "'{number}' of customer {customer_id}",
                    number = patron_domain::excerpt(number)
                ),
            )
        })?;
        self.invoice(customer_id, id).await
    }

    /// A customer's invoices, oldest due first.
    pub async fn invoices(&self, customer_id: i64) -> Result<Vec<Invoice>, StoreError> {
        self.customer(customer_id).await?;
        let sql = format!(
            "SELECT {INVOICE_COLUMNS} FROM invoices WHERE customer_id = $1 ORDER BY due_on, id"
        );
        self.invoice_rows(&sql, (customer_id, None)).await
    }

    /// Records a payment: on the given invoice (refused when more than it still owes), or
    /// spread over the customer's open invoices oldest due first (refused when more than all
    /// of them owe). One payment row per invoice paid.
    pub async fn record_payment(
        &self,
        customer_id: i64,
        input: PaymentInput,
    ) -> Result<Vec<Payment>, StoreError> {
        let p = input.validate().map_err(StoreError::Invalid)?;
        let at = now();
        let ids: Vec<i64> = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            lock_customer!(self, tx, customer_id);
            let open: Vec<(i64, i64)> = match p.invoice_id {
                Some(inv) => sqlx::query_as("SELECT id, amount_cents - paid_cents FROM invoices WHERE customer_id = $1 AND id = $2")
                    .bind(customer_id).bind(inv).fetch_all(&mut *tx).await?,
                None => sqlx::query_as("SELECT id, amount_cents - paid_cents FROM invoices WHERE customer_id = $1 AND paid_cents < amount_cents ORDER BY due_on, id")
                    .bind(customer_id).fetch_all(&mut *tx).await?,
            };
            if let (Some(inv), true) = (p.invoice_id, open.is_empty()) {
                return Err(StoreError::not_found("invoice", format!("{inv} of customer {customer_id}")));
            }
            let owed: i64 = open.iter().map(|(_, o)| *o).sum();
            if p.amount.cents() > owed {
                return Err(StoreError::invalid("amount", format!(
                    "{} is more than the {} still owed{}", p.amount, Money(owed),
                    p.invoice_id.map_or(String::new(), |i| format!(" on invoice {i}")))));
            }
            let mut left = p.amount.cents();
            let mut ids = Vec::new();
            for (inv, owes) in open {
                if left == 0 { break; }
                let take = left.min(owes);
                if take <= 0 { continue; }
                left -= take;
                sqlx::query("UPDATE invoices SET paid_cents = paid_cents + $1 WHERE customer_id = $2 AND id = $3")
                    .bind(take).bind(customer_id).bind(inv).execute(&mut *tx).await?;
                let id: i64 = sqlx::query_scalar("INSERT INTO payments (customer_id, invoice_id, paid_on, amount_cents, reference, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
                    .bind(customer_id).bind(inv).bind(p.paid_on).bind(take).bind(&p.reference).bind(at)
                    .fetch_one(&mut *tx).await?;
                ids.push(id);
            }
            commit!(self, tx);
            ids
        });
        let mut out = Vec::new();
        for id in ids {
            let (invoice_id, paid_on, amount, reference): (i64, NaiveDate, i64, Option<String>) = with_pool!(self, pool => sqlx::query_as(
                "SELECT invoice_id, paid_on, amount_cents, reference FROM payments WHERE customer_id = $1 AND id = $2")
                .bind(customer_id).bind(id).fetch_one(pool).await?);
            out.push(Payment {
                customer_id,
                id,
                invoice_id,
                paid_on,
                amount: Money(amount),
                reference,
            });
        }
        Ok(out)
    }

    /// Everything still unpaid (of one customer or all): invoices without plan, and the unpaid
    /// part of each instalment of the others; by customer, then due date.
    pub async fn open_items(
        &self,
        customer_id: Option<i64>,
        visible: &Visibility,
    ) -> Result<Vec<OpenItem>, StoreError> {
        let mut w = Where::default();
        w.push("i.paid_cents < i.amount_cents", []);
        if let Some(c) = customer_id {
            w.push("i.customer_id = ?", [Bind::I64(c)]);
        }
        visible.push_customer(&mut w, "i.customer_id");
        let filter = w.sql();
        let sql = format!("SELECT i.customer_id, i.id, i.number, i.due_on, i.amount_cents, i.paid_cents FROM invoices i{filter} ORDER BY i.customer_id, i.due_on, i.id");
        let invoices: Vec<(i64, i64, String, NaiveDate, i64, i64)> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let sql = format!("SELECT p.customer_id, p.invoice_id, p.seq, p.due_on, p.amount_cents FROM instalments p JOIN invoices i ON i.customer_id = p.customer_id AND i.id = p.invoice_id{filter} ORDER BY p.customer_id, p.invoice_id, p.due_on, p.seq");
        let plans: Vec<(i64, i64, i32, NaiveDate, i64)> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let mut by_invoice: BTreeMap<(i64, i64), Vec<Instalment>> = BTreeMap::new();
        for (c, inv, seq, due_on, amount) in plans {
            by_invoice.entry((c, inv)).or_default().push(Instalment {
                seq,
                due_on,
                amount: Money(amount),
                paid: Money::ZERO,
            });
        }
        let mut out = Vec::new();
        for (c, inv, number, due_on, amount, paid) in invoices {
            match by_invoice.get_mut(&(c, inv)) {
                Some(plan) => {
                    allocate(Money(paid), plan);
                    for p in plan.iter().filter(|p| p.paid < p.amount) {
                        out.push(OpenItem {
                            customer_id: c,
                            invoice_id: inv,
                            invoice_number: number.clone(),
                            instalment: Some(p.seq),
                            due_on: p.due_on,
                            open: Money(p.amount.cents() - p.paid.cents()),
                        });
                    }
                }
                None => out.push(OpenItem {
                    customer_id: c,
                    invoice_id: inv,
                    invoice_number: number,
                    instalment: None,
                    due_on,
                    open: Money(amount - paid),
                }),
            }
        }
        Ok(out)
    }

    /// The ageing report on `as_of` (buckets 0-30, 31-60, 61-90, 90+ days overdue, and not
    /// yet due), per customer and in total.
    pub async fn ageing(
        &self,
        as_of: NaiveDate,
        visible: &Visibility,
    ) -> Result<AgeingReport, StoreError> {
        Ok(ageing(&self.open_items(None, visible).await?, as_of))
    }

    /// Items still unpaid after their due date on `as_of`, most overdue first.
    pub async fn overdue(
        &self,
        as_of: NaiveDate,
        visible: &Visibility,
    ) -> Result<Vec<OverdueItem>, StoreError> {
        self.due_items(as_of, as_of - Days::new(1), visible).await
    }

    /// Reminders: items (instalments or invoices) unpaid and due by `as_of + within_days`,
    /// overdue ones included, most overdue first.
    pub async fn due_items(
        &self,
        as_of: NaiveDate,
        due_by: NaiveDate,
        visible: &Visibility,
    ) -> Result<Vec<OverdueItem>, StoreError> {
        let items = self.open_items(None, visible).await?;
        let mut w = Where::default();
        w.push(
            "id IN (SELECT customer_id FROM invoices WHERE paid_cents < amount_cents)",
            [],
        );
        visible.push(&mut w, "owner_id");
        let sql = format!("SELECT id, name, owner_id FROM customers{}", w.sql());
        let names: Vec<(i64, String, Option<i64>)> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let names: BTreeMap<i64, (String, Option<i64>)> =
            names.into_iter().map(|(i, n, o)| (i, (n, o))).collect();
        let mut out: Vec<OverdueItem> = items
            .into_iter()
            .filter(|i| i.due_on <= due_by)
            .map(|i| {
                let (name, owner) = names.get(&i.customer_id).cloned().unwrap_or_default();
                OverdueItem {
                    customer_id: i.customer_id,
                    customer_name: name,
                    owner_id: owner,
                    invoice_id: i.invoice_id,
                    invoice_number: i.invoice_number.clone(),
                    instalment: i.instalment,
                    due_on: i.due_on,
                    days_overdue: i.days_overdue(as_of),
                    open: i.open,
                }
            })
            .collect();
        out.sort_by(|a, b| {
            b.days_overdue
                .cmp(&a.days_overdue)
                .then(a.customer_id.cmp(&b.customer_id))
                .then(a.invoice_id.cmp(&b.invoice_id))
        });
        Ok(out)
    }

    /// Per rep (customer owner): sales (order lines), invoiced and collected in `from..=to`,
    /// and what is overdue at `to`.
    pub async fn sales_vs_collections(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        visible: &Visibility,
    ) -> Result<Vec<RepCollections>, StoreError> {
        if from > to {
            return Err(StoreError::invalid(
                "from",
                format!("{from} is after 'to' ({to})"),
            ));
        }
        let q = |table: &str, amount: &str, date: &str| {
            let mut w = Where::default();
            w.push(&format!("t.{date} >= ?"), [Bind::Date(from)]);
            w.push(&format!("t.{date} <= ?"), [Bind::Date(to)]);
            visible.push(&mut w, "c.owner_id");
            (format!("SELECT c.owner_id, CAST(SUM(t.{amount}) AS BIGINT) FROM {table} t JOIN customers c ON c.id = t.customer_id{} GROUP BY c.owner_id", w.sql()), w.binds)
        };
        let mut per: BTreeMap<Option<i64>, RepCollections> = BTreeMap::new();
        for (k, (sql, binds)) in [
            q("order_lines", "amount_cents", "ordered_on"),
            q("invoices", "amount_cents", "issued_on"),
            q("payments", "amount_cents", "paid_on"),
        ]
        .iter()
        .enumerate()
        {
            let rows: Vec<(Option<i64>, i64)> = with_pool!(self, pool => bind_all!(sqlx::query_as(sql), binds).fetch_all(pool).await?);
            for (owner, sum) in rows {
                let r = per.entry(owner).or_default();
                r.owner_id = owner;
                match k {
                    0 => r.sales = Money(sum),
                    1 => r.invoiced = Money(sum),
                    _ => r.collected = Money(sum),
                }
            }
        }
        for o in self.overdue(to, visible).await? {
            let r = per.entry(o.owner_id).or_default();
            r.owner_id = o.owner_id;
            r.overdue.0 += o.open.cents();
        }
        let users: Vec<(i64, String)> = with_pool!(self, pool => sqlx::query_as("SELECT id, username FROM users").fetch_all(pool).await?);
        let users: BTreeMap<i64, String> = users.into_iter().collect();
        Ok(per
            .into_values()
            .map(|mut r| {
                r.username = r.owner_id.and_then(|o| users.get(&o).cloned());
                r
            })
            .collect())
    }
}
