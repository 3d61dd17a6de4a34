//! `patron credit ...` (limits, orders checked against them, the approval queue) and
//! `patron invoice ...` (invoices, instalment plans, payments, ageing, overdue list, reminders,
//! sales vs collections per rep).

use chrono::{Days, NaiveDate};
use clap::{Args, Subcommand};
use patron_domain::receivable::{even_instalments, AgeingBuckets, InvoiceInput, PaymentInput};
use patron_domain::{Money, OrderInput, OrderLineInput};
use patron_store::{OnExcess, OrderPlacement, OrderTerms, Store};

#[derive(Args, Debug)]
pub struct CreditArgs {
    #[command(subcommand)]
    pub action: CreditAction,
}

#[derive(Subcommand, Debug)]
pub enum CreditAction {
    /// A customer's limit, open receivables, headroom, overdue amount and pending holds.
    Show {
        /// Customer id or number.
        customer: String,
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Set a customer's credit limit (an amount, or `none` for no limit).
    Limit { customer: String, amount: String },
    /// Place an order with the credit check: refused when it would take the open receivables
    /// over the limit (or held for a manager's approval with --hold); accepted orders get an
    /// invoice due --due-days after the order date.
    Order {
        customer: String,
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        amount: Money,
        #[arg(long, default_value = "0")]
        cost: Money,
        #[arg(long)]
        category: Option<String>,
        #[arg(long = "ref")]
        order_ref: Option<String>,
        #[arg(long, default_value_t = 30)]
        due_days: u32,
        /// Hold an order over the limit for approval instead of refusing it.
        #[arg(long)]
        hold: bool,
    },
    /// The approval queue (or holds of another status: approved, rejected).
    Holds {
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// Approve a held order: it is created with its invoice despite the limit.
    Approve {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a held order.
    Reject {
        id: i64,
        #[arg(long)]
        note: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct InvoiceArgs {
    #[command(subcommand)]
    pub action: InvoiceAction,
}

#[derive(Subcommand, Debug)]
pub enum InvoiceAction {
    /// Record an invoice (standalone or for an order), optionally as an instalment plan.
    Create {
        customer: String,
        #[arg(long)]
        amount: Money,
        #[arg(long)]
        issued: NaiveDate,
        /// Due date (without a plan); defaults to 30 days after issue.
        #[arg(long)]
        due: Option<NaiveDate>,
        #[arg(long)]
        number: Option<String>,
        /// The order it bills.
        #[arg(long)]
        order: Option<String>,
        /// Split into this many equal instalments...
        #[arg(long)]
        instalments: Option<u32>,
        /// ...this many days apart...
        #[arg(long, default_value_t = 30)]
        every: u32,
        /// ...the first due on this day (default: the due date).
        #[arg(long)]
        first_due: Option<NaiveDate>,
    },
    /// A customer's invoices with their instalments and what is paid.
    List { customer: String },
    /// Record a payment: on one invoice, or the customer's open invoices oldest due first.
    Pay {
        customer: String,
        #[arg(long)]
        amount: Money,
        #[arg(long)]
        date: NaiveDate,
        #[arg(long)]
        invoice: Option<i64>,
        #[arg(long)]
        reference: Option<String>,
    },
    /// Ageing report: open receivables by days overdue (0-30, 31-60, 61-90, 90+), per customer and total.
    Ageing {
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Everything unpaid after its due date, most overdue first.
    Overdue {
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Reminders: instalments and invoices unpaid and due within --within days (overdue included).
    Reminders {
        #[arg(long)]
        as_of: Option<NaiveDate>,
        #[arg(long, default_value_t = 7)]
        within: u64,
    },
    /// Sales, invoiced, collected and overdue per rep (customer owner) over a period.
    Collections {
        #[arg(long)]
        from: NaiveDate,
        #[arg(long)]
        to: NaiveDate,
    },
}

/// A customer given by id or by number.
pub async fn customer_id(store: &Store, s: &str) -> anyhow::Result<i64> {
    if let Ok(id) = s.trim().parse::<i64>() {
        if store.customer(id).await.is_ok() {
            return Ok(id);
        }
    }
    Ok(store.customer_by_number(s.trim()).await?.id)
}

pub fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

pub async fn credit(store: &Store, args: CreditArgs) -> anyhow::Result<()> {
    match args.action {
        CreditAction::Show { customer, as_of } => {
            let id = customer_id(store, &customer).await?;
            let p = store
                .credit_position(id, as_of.unwrap_or_else(today))
                .await?;
            let opt = |m: Option<Money>| m.map_or("no limit".to_string(), |m| m.to_string());
            println!("customer        {id}");
            println!("credit limit    {}", opt(p.limit));
            println!("open            {}", p.open);
            println!("headroom        {}", opt(p.headroom));
            println!("overdue         {}", p.overdue);
            println!("pending holds   {}", p.pending_holds);
        }
        CreditAction::Limit { customer, amount } => {
            let id = customer_id(store, &customer).await?;
            let limit = match amount.trim() {
                "none" | "" => None,
                a => Some(a.parse::<Money>().map_err(anyhow::Error::msg)?),
            };
            store
                .set_credit_limit(id, limit, &super::custody::operator())
                .await?;
            println!(
                "customer {id}: credit limit {}",
                limit.map_or("removed".into(), |l| l.to_string())
            );
        }
        CreditAction::Order {
            customer,
            date,
            amount,
            cost,
            category,
            order_ref,
            due_days,
            hold,
        } => {
            let id = customer_id(store, &customer).await?;
            let input = OrderInput {
                order_ref,
                ordered_on: date,
                lines: vec![OrderLineInput {
                    category,
                    quantity: 1,
                    amount,
                    cost,
                }],
            };
            let terms = OrderTerms {
                due_days,
                on_excess: if hold {
                    OnExcess::Hold
                } else {
                    OnExcess::Refuse
                },
                by: super::custody::operator(),
            };
            print_placement(&store.place_order(id, input, &terms).await?);
            patron_app::value::recompute_after_change(store, &[id]).await;
        }
        CreditAction::Holds { status } => {
            const STATUSES: [&str; 3] = ["pending", "approved", "rejected"];
            if !STATUSES.contains(&status.as_str()) {
                anyhow::bail!("--status: '{status}' is not one of {}", STATUSES.join(", "));
            }
            let holds =
                patron_app::work::credit_holds(store, &super::custody::cli_session(), &status)
                    .await?;
            println!(
                "{:>6}  {:>9}  {:>12}  {:>12}  {:>12}  {:<10}  requested",
                "hold", "customer", "order", "open", "limit", "by"
            );
            for h in &holds {
                println!(
                    "{:>6}  {:>9}  {:>12}  {:>12}  {:>12}  {:<10}  {}",
                    h.id,
                    h.customer_id,
                    h.amount.to_string(),
                    h.open.to_string(),
                    h.limit.to_string(),
                    h.requested_by,
                    h.requested_at.format("%Y-%m-%d %H:%M")
                );
            }
            println!("{} {status}", holds.len());
        }
        CreditAction::Approve { id, note } => {
            let d = decide(store, id, true, note.as_deref()).await?;
            if let Some(p) = &d.placement {
                print_placement(p);
            }
        }
        CreditAction::Reject { id, note } => {
            let h = decide(store, id, false, note.as_deref()).await?.hold;
            println!(
                "hold {} rejected (order of {} for customer {})",
                h.id, h.amount, h.customer_id
            );
        }
    }
    Ok(())
}

/// Approves or rejects a held order as the command-line operator (the rep who placed it is
/// told, with the note as the reason).
async fn decide(
    store: &Store,
    id: i64,
    approve: bool,
    note: Option<&str>,
) -> anyhow::Result<patron_app::custody::HoldDecided> {
    let session = super::custody::cli_session();
    patron_app::custody::decide_hold(store, &session, id, approve, note, " (cli)")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

fn print_placement(p: &OrderPlacement) {
    match p {
        OrderPlacement::Accepted { order, invoice } => println!(
            "order '{}' accepted: {} for customer {}; invoice {} (id {}) due {}",
            order.order_ref, order.amount, order.customer_id, invoice.number, invoice.id, invoice.due_on
        ),
        OrderPlacement::Held { hold } => println!(
            "order of {} held for approval (hold {}): customer {} has {} open on a limit of {}; approve with `patron credit approve {}`",
            hold.amount, hold.id, hold.customer_id, hold.open, hold.limit, hold.id
        ),
        OrderPlacement::Plain { order } => println!(
            "order '{}' recorded: {} for customer {} (no credit limit, no invoice)",
            order.order_ref, order.amount, order.customer_id
        ),
    }
}

fn buckets_line(label: &str, b: &AgeingBuckets) -> String {
    format!(
        "{label:<24} {:>12} {:>12} {:>12} {:>12} {:>12} {:>13}",
        b.not_due.to_string(),
        b.d0_30.to_string(),
        b.d31_60.to_string(),
        b.d61_90.to_string(),
        b.d90_plus.to_string(),
        b.total().to_string()
    )
}

pub async fn invoice(store: &Store, args: InvoiceArgs) -> anyhow::Result<()> {
    match args.action {
        InvoiceAction::Create {
            customer,
            amount,
            issued,
            due,
            number,
            order,
            instalments,
            every,
            first_due,
        } => {
            let id = customer_id(store, &customer).await?;
            let due = due.unwrap_or(issued + Days::new(30));
            let plan = instalments.map_or(Vec::new(), |n| {
                even_instalments(amount, n, first_due.unwrap_or(due), every)
            });
            let inv = store
                .create_invoice(
                    id,
                    InvoiceInput {
                        number,
                        order_ref: order,
                        issued_on: issued,
                        due_on: due,
                        amount,
                        instalments: plan,
                    },
                )
                .await?;
            println!(
                "invoice {} (id {}) of {} for customer {id}, due {}{}",
                inv.number,
                inv.id,
                inv.amount,
                inv.due_on,
                if inv.instalments.is_empty() {
                    String::new()
                } else {
                    format!(" in {} instalments", inv.instalments.len())
                }
            );
        }
        InvoiceAction::List { customer } => {
            let id = customer_id(store, &customer).await?;
            for inv in store.invoices(id).await? {
                println!(
                    "{:>6}  {:<24} issued {}  due {}  {:>12}  paid {:>12}  open {:>12}",
                    inv.id,
                    inv.number,
                    inv.issued_on,
                    inv.due_on,
                    inv.amount.to_string(),
                    inv.paid.to_string(),
                    inv.open().to_string()
                );
                for i in &inv.instalments {
                    println!(
                        "        instalment {:>2}  due {}  {:>12}  paid {:>12}",
                        i.seq,
                        i.due_on,
                        i.amount.to_string(),
                        i.paid.to_string()
                    );
                }
            }
        }
        InvoiceAction::Pay {
            customer,
            amount,
            date,
            invoice,
            reference,
        } => {
            let id = customer_id(store, &customer).await?;
            let ps = store
                .record_payment(
                    id,
                    PaymentInput {
                        invoice_id: invoice,
                        paid_on: date,
                        amount,
                        reference,
                    },
                )
                .await?;
            for p in ps {
                println!(
                    "payment {} of {} on invoice {}",
                    p.id, p.amount, p.invoice_id
                );
            }
        }
        InvoiceAction::Ageing { as_of } => {
            let r = patron_app::work::ageing(
                store,
                &super::custody::cli_session(),
                as_of.unwrap_or_else(today),
            )
            .await?;
            println!("ageing on {} (days overdue)", r.as_of);
            println!(
                "{:<24} {:>12} {:>12} {:>12} {:>12} {:>12} {:>13}",
                "customer", "not due", "0-30", "31-60", "61-90", "90+", "total"
            );
            // Customers by number and name (ids mean nothing to the reader).
            let labels = store
                .customer_labels(
                    &r.customers
                        .iter()
                        .map(|c| c.customer_id)
                        .collect::<Vec<_>>(),
                )
                .await?;
            let numbers = store
                .customer_numbers_of(
                    &r.customers
                        .iter()
                        .map(|c| c.customer_id)
                        .collect::<Vec<_>>(),
                )
                .await?;
            for c in &r.customers {
                let id = c.customer_id;
                let label = format!(
                    "{} {}",
                    numbers
                        .get(&id)
                        .map_or_else(|| format!("#{id}"), Clone::clone),
                    labels.get(&id).map_or("", |l| l.0.as_str())
                );
                let label: String = label.chars().take(24).collect();
                println!(
                    "{}",
                    buckets_line(&crate::terminal::safe(&label), &c.buckets)
                );
            }
            println!("{}", buckets_line("TOTAL", &r.total));
        }
        InvoiceAction::Overdue { as_of } => {
            let as_of = as_of.unwrap_or_else(today);
            print_items(
                &patron_app::work::overdue(store, &super::custody::cli_session(), as_of).await?,
            );
        }
        InvoiceAction::Reminders { as_of, within } => {
            let as_of = as_of.unwrap_or_else(today);
            print_items(
                &store
                    .due_items(
                        as_of,
                        as_of + Days::new(within),
                        &patron_store::Visibility::All,
                    )
                    .await?,
            );
        }
        InvoiceAction::Collections { from, to } => {
            println!(
                "{:<16} {:>14} {:>14} {:>14} {:>14}",
                "rep", "sales", "invoiced", "collected", "overdue"
            );
            for r in patron_app::work::collections(store, &super::custody::cli_session(), from, to)
                .await?
            {
                let rep = r
                    .username
                    .clone()
                    .or(r.owner_id.map(|o| format!("user {o}")))
                    .unwrap_or_else(|| "(no owner)".into());
                println!(
                    "{rep:<16} {:>14} {:>14} {:>14} {:>14}",
                    r.sales.to_string(),
                    r.invoiced.to_string(),
                    r.collected.to_string(),
                    r.overdue.to_string()
                );
            }
        }
    }
    Ok(())
}

fn print_items(items: &[patron_store::OverdueItem]) {
    println!(
        "{:>9}  {:<24} {:<20} {:>4}  {:<10}  {:>5}  {:>12}",
        "customer", "name", "invoice", "inst", "due", "days", "open"
    );
    for o in items {
        println!(
            "{:>9}  {:<24} {:<20} {:>4}  {:<10}  {:>5}  {:>12}",
            o.customer_id,
            o.customer_name,
            o.invoice_number,
            o.instalment.map_or(String::new(), |i| i.to_string()),
            o.due_on.to_string(),
            o.days_overdue,
            o.open.to_string()
        );
    }
    let total: i64 = items.iter().map(|o| o.open.cents()).sum();
    println!("{} items, {} open", items.len(), Money(total));
}
