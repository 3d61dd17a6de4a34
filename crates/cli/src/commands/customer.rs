//! `patron customer archive|restore|purge`: what deleting a customer means. Archiving hides it
//! from every list and keeps everything; a purge (a data subject's erasure request) deletes it
//! for good, needs `--reason`, and is audited with it. The rules are the application layer's
//! (`patron_app::customers`), run as the command-line operator.

use clap::Subcommand;
use patron_app::customers;
use patron_store::Store;

use crate::terminal::safe;

/// What to do to a customer.
#[derive(Subcommand, Debug)]
pub enum CustomerCmd {
    /// Archive a customer: left out of every list, search and plan; its orders, invoices and
    /// history are kept (and still count); `customer restore` brings it back.
    Archive {
        /// Customer number (C000123) or `#id`.
        customer: String,
    },
    /// Restore an archived customer to the lists.
    Restore {
        /// Customer number (C000123) or `#id`.
        customer: String,
    },
    /// Delete a customer and everything recorded about it, for good (a data subject's erasure
    /// request). Refused while it owes money. The audit log keeps the reason.
    Purge {
        /// Customer number (C000123) or `#id`.
        customer: String,
        /// Why (e.g. the erasure request it answers); required, kept in the audit log.
        #[arg(long)]
        reason: String,
    },
    /// Relationship-marketing costs of a customer (visits, gifts, events, campaign shares): a
    /// customer with records is charged them in its margin and CLV instead of the flat rate.
    #[command(subcommand)]
    Cost(CostCmd),
}

/// Recording and listing a customer's marketing costs.
#[derive(Subcommand, Debug)]
pub enum CostCmd {
    /// Record a cost (the customer's value figures follow at once).
    Add {
        /// Customer number (C000123) or `#id`.
        customer: String,
        /// visit, gift, event or other (campaign costs: `patron campaign allocate-cost`).
        #[arg(long)]
        kind: String,
        /// The amount, e.g. 500.00.
        #[arg(long)]
        amount: patron_domain::Money,
        /// The day it was spent, YYYY-MM-DD (default: today).
        #[arg(long, value_name = "DATE")]
        date: Option<chrono::NaiveDate>,
        #[arg(long)]
        note: Option<String>,
    },
    /// The customer's recorded costs, newest first.
    List {
        /// Customer number (C000123) or `#id`.
        customer: String,
        /// Write CSV instead of a table.
        #[arg(long)]
        csv: bool,
    },
}

pub async fn run(store: &Store, cmd: CustomerCmd) -> anyhow::Result<()> {
    let session = super::custody::cli_session();
    match cmd {
        CustomerCmd::Cost(CostCmd::Add {
            customer,
            kind,
            amount,
            date,
            note,
        }) => {
            let id = customers::resolve_reference(store, &session, &customer, true).await?;
            let input = patron_store::MarketingCostInput {
                spent_on: date.unwrap_or_else(patron_domain::order::today),
                kind,
                amount,
                note,
            };
            let r = patron_app::marketing::record_cost(store, &session, id, input).await?;
            println!(
                "recorded {} {} on {} for customer #{id} (cost {})",
                r.kind, r.amount, r.spent_on, r.id
            );
        }
        CustomerCmd::Cost(CostCmd::List { customer, csv }) => {
            let id = customers::resolve_reference(store, &session, &customer, false).await?;
            let rows = patron_app::marketing::costs_of(store, &session, id).await?;
            if csv {
                let mut out = Vec::new();
                out.extend_from_slice(b"id,spent_on,kind,amount,campaign_id,note,recorded_by\n");
                for r in &rows {
                    let cells = [
                        r.id.to_string(),
                        r.spent_on.to_string(),
                        r.kind.clone(),
                        r.amount.to_string(),
                        r.campaign_id.map(|c| c.to_string()).unwrap_or_default(),
                        // No spreadsheet formula from a typed note.
                        no_formula(r.note.as_deref().unwrap_or_default()),
                        no_formula(&r.recorded_by),
                    ];
                    for (i, c) in cells.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        super::value::csv_field(c, &mut out);
                    }
                    out.push(b'\n');
                }
                print!("{}", String::from_utf8_lossy(&out));
            } else {
                println!(
                    "{:<8} {:<10} {:<9} {:>14}  note",
                    "id", "date", "kind", "amount"
                );
                for r in &rows {
                    println!(
                        "{:<8} {:<10} {:<9} {:>14}  {}",
                        r.id,
                        r.spent_on,
                        r.kind,
                        r.amount.to_string(),
                        safe(r.note.as_deref().unwrap_or(""))
                    );
                }
                let total: i64 = rows.iter().map(|r| r.amount.0).sum();
                println!(
                    "{} cost(s), total {}",
                    rows.len(),
                    patron_domain::Money(total)
                );
            }
        }
        CustomerCmd::Archive { customer } => {
            let id = customers::resolve_reference(store, &session, &customer, true).await?;
            let c = customers::archive_customer(store, &session, id, " (cli)").await?;
            println!(
                "archived customer {} ({}): hidden from the lists, everything kept; `patron customer restore #{}` brings it back",
                c.id,
                safe(&c.data.name),
                c.id
            );
        }
        CustomerCmd::Restore { customer } => {
            let id = customers::resolve_reference(store, &session, &customer, true).await?;
            let c = customers::restore_customer(store, &session, id, " (cli)").await?;
            println!("restored customer {} ({})", c.id, safe(&c.data.name));
        }
        CustomerCmd::Purge { customer, reason } => {
            // Refuse a blank reason before looking the customer up.
            customers::purge_reason(&reason)?;
            let id = customers::resolve_reference(store, &session, &customer, true).await?;
            let name = store.customer(id).await?.data.name;
            customers::purge_customer(store, &session, id, &reason, " (cli)").await?;
            println!(
                "purged customer {id} ({}) and everything recorded about it; the audit log keeps the reason",
                safe(&name)
            );
        }
    }
    Ok(())
}

/// Text for a CSV cell that a spreadsheet will not read as a formula (`'` before a leading
/// `=`, `+`, `-` or `@`).
fn no_formula(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}
