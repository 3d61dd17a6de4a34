//! The command line, in one table.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "patron", version, about = "A CRM built around customer value: who brings what, who will, and who is about to leave.", long_about = None)]
pub struct Cli {
    /// Database: a SQLite file (created on first use) or a postgres:// URL.
    #[arg(
        long,
        short = 'd',
        global = true,
        env = "DATABASE_URL",
        default_value = "patron.db"
    )]
    pub database: String,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a demo database from the real CDNOW transactions and serve it.
    Demo {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// The demo's own SQLite file (rebuilt from scratch each time).
        #[arg(long, default_value = "patron-demo.db")]
        demo_database: PathBuf,
        /// The CDNOW master file to load.
        #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_master.txt"))]
        orders: PathBuf,
        /// Load the data, print a summary, and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve the web interface and the JSON API.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
    },
    /// Import customers, orders, interactions or leads from a file.
    Import(ImportArgs),
    /// Export customers or orders as CSV or JSON.
    Export(ExportArgs),
    /// Likely duplicate customers (same phone, e-mail, or name and company).
    Duplicates {
        /// Only the duplicates of this customer id.
        #[arg(long)]
        customer: Option<i64>,
    },
    /// Merge customer DROP into KEEP, keeping every order, interaction and history row of both.
    Merge { keep: i64, drop: i64 },
    /// Measure import speed on generated data.
    Bench(BenchArgs),
    /// Customer value analysis: summary, RFM, ABC, whale curve, scores, loyalty, churn, lifetime value
    Value(crate::commands::value::ValueArgs),
    /// Credit limits, orders checked against them, and the approval queue of held orders.
    Credit(crate::commands::credit::CreditArgs),
    /// Invoices, instalment plans, payments, ageing, overdue list, reminders, sales vs collections.
    Invoice(crate::commands::credit::InvoiceArgs),
    /// Service tickets (complaint, repair, question) with the SLA clock and escalation.
    Ticket(crate::commands::service::TicketArgs),
    /// Satisfaction surveys (CSAT 1-5, NPS 0-10) feeding the value score.
    Survey(crate::commands::service::SurveyArgs),
    /// Follow-up planning by value tier (visits / calls due and overdue) and the visit brief.
    Followup(crate::commands::followup::FollowupArgs),
    /// Opportunities (stage, amount, probability, expected close), the pipeline and forecast.
    Opportunity(crate::commands::opportunity::OpportunityArgs),
    /// Campaigns with their cost, the customers they brought and their return.
    Campaign(crate::commands::campaign::CampaignArgs),
    /// Leads: list, show, qualify, disqualify, convert into a customer.
    Lead(crate::commands::lead::LeadArgs),
    /// Tasks: a user's to-do list (list, add, done) and the task rules (rules).
    Task(crate::commands::task::TaskArgs),
    /// Manager review per rep over a period: interactions and promises, card completeness,
    /// tickets breached, sales vs collections.
    Review {
        #[arg(long)]
        from: chrono::NaiveDate,
        #[arg(long)]
        to: chrono::NaiveDate,
    },
    /// Users: add, list, disable, enable, passwd, role, handover.
    #[command(subcommand)]
    User(crate::commands::custody::UserCmd),
    /// API tokens: create, list, revoke.
    #[command(subcommand)]
    Token(crate::commands::custody::TokenCmd),
    /// The public pool: reclaim idle customers, show or set its rules.
    #[command(subcommand)]
    Pool(crate::commands::custody::PoolCmd),
    /// The audit log (newest first), as text or CSV.
    Audit(crate::commands::custody::AuditArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportEntity {
    Customers,
    Orders,
    Interactions,
    Leads,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportFormat {
    Csv,
    Cdnow,
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// What the file holds.
    pub entity: ImportEntity,
    /// The file to import.
    pub file: PathBuf,
    /// File format: CSV with a header, or the CDNOW whitespace format (orders).
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ImportFormat,
    /// Map a column to a field: COLUMN=FIELD, COLUMN=custom.NAME or COLUMN=ignore (repeatable).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// Store the good rows and write the bad ones, with their reason, to this CSV file.
    #[arg(long, value_name = "REJECTS.csv")]
    pub skip_bad: Option<PathBuf>,
    /// Rows per transaction.
    #[arg(long, default_value_t = 200_000)]
    pub batch_size: usize,
    /// Create customers that orders or interactions refer to but that do not exist yet
    /// (always on for --format cdnow, which has no customer file).
    #[arg(long)]
    pub create_customers: bool,
    /// Leads: the campaign (by name) of rows that name none.
    #[arg(long)]
    pub campaign: Option<String>,
    /// Leads: the owner (by username) of rows that name none.
    #[arg(long)]
    pub owner: Option<String>,
    /// Leads: the source of rows that give none.
    #[arg(long)]
    pub source: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportEntity {
    Customers,
    Orders,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    pub entity: ExportEntity,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: ExportFormat,
    /// Output file (standard output when absent).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Leave out customers who asked for no marketing (use for every campaign list).
    #[arg(long)]
    pub exclude_opted_out: bool,
}

#[derive(Subcommand, Debug)]
pub enum BenchKind {
    /// Generate an orders file and time its import into the database given with --database
    /// (use a fresh SQLite path or an empty PostgreSQL database).
    Import {
        #[arg(long, default_value_t = 1_000_000)]
        customers: u64,
        #[arg(long, default_value_t = 10_000_000)]
        orders: u64,
        /// Where to write (or reuse) the generated file.
        #[arg(long, default_value = "bench-out/orders.csv")]
        file: PathBuf,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub kind: BenchKind,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_table_is_consistent() {
        Cli::command().debug_assert();
    }
}
