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
}

pub async fn run(store: &Store, cmd: CustomerCmd) -> anyhow::Result<()> {
    let session = super::custody::cli_session();
    match cmd {
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
