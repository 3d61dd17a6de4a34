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

    /// Configuration file (TOML; default: $XDG_CONFIG_HOME/patron/patron.toml, else
    /// /etc/patron/patron.toml, when present). Flags and environment variables override it.
    #[arg(long, global = true, env = "PATRON_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Who runs the command, as the audit log and the change history name them (default: the
    /// operating-system user, `cli:<login name>`).
    #[arg(long = "as", global = true, env = "PATRON_AS", value_name = "USER")]
    pub operator: Option<String>,

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
        /// A CDNOW master file to load instead of the copy built into patron.
        #[arg(long)]
        orders: Option<PathBuf>,
        /// Load the data, print a summary, and exit instead of serving.
        #[arg(long)]
        no_serve: bool,
    },
    /// Serve the web interface and the JSON API.
    Serve {
        /// Where to listen.
        #[arg(long, env = "PATRON_ADDR", default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Serve Prometheus metrics at http://ADDR/metrics (a separate listener; off when absent).
        #[arg(long, env = "PATRON_METRICS_ADDR", value_name = "ADDR")]
        metrics_addr: Option<SocketAddr>,
        /// Minutes between runs of the task rules.
        #[arg(long, env = "PATRON_RULES_EVERY", value_name = "MINUTES", default_value = "15",
              value_parser = clap::value_parser!(u64).range(1..=10080))]
        rules_every: u64,
        /// When to refresh the customer values each day (HH:MM, server time UTC), or `off`.
        #[arg(long, env = "PATRON_REFRESH_AT", value_name = "HH:MM|off",
              default_value = crate::serve::REFRESH_AT)]
        refresh_at: crate::serve::RefreshAt,
        /// The currency every page shows amounts in (ISO code: USD, CNY, EUR, GBP, HKD, SGD,
        /// CAD, AUD, CHF); without it, the server locale's (`zh_CN` -> CNY, else USD).
        #[arg(long, env = "PATRON_CURRENCY", value_name = "CODE",
              value_parser = |s: &str| patron_domain::Currency::parse(s))]
        currency: Option<patron_domain::Currency>,
        /// Sending the outbox (campaign mail): without --smtp-url nothing is sent.
        #[command(flatten)]
        mail: crate::commands::mail::MailConfig,
        /// The server's address as mail recipients reach it (the unsubscribe links of campaign
        /// mail sent from the web, the links in mailed notifications), e.g.
        /// https://crm.example.com.
        #[arg(long, env = "PATRON_PUBLIC_URL", value_name = "URL")]
        public_url: Option<String>,
    },
    /// Import customers, orders, interactions or leads from a file.
    Import(ImportArgs),
    /// Export customers or orders as CSV or JSON.
    Export(ExportArgs),
    /// Export control: the export rules per role, the approval queue of large exports, their
    /// one-time download, the leaving users' hand-overs.
    Exports(crate::commands::exports::ExportsArgs),
    /// Likely duplicate customers (same phone, e-mail, or name and company).
    Duplicates {
        /// Only the duplicates of this customer id.
        #[arg(long)]
        customer: Option<i64>,
    },
    /// Merge customer DROP into KEEP, keeping every order, interaction and history row of both.
    Merge { keep: i64, drop: i64 },
    /// Customers: archive (what deleting means: hidden, everything kept), restore, purge (for
    /// good, with --reason; erasure requests).
    #[command(subcommand)]
    Customer(crate::commands::customer::CustomerCmd),
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
    /// E-mail: send a test message (`mail test ADDRESS`), list the outbox (`mail outbox`).
    Mail(crate::commands::mail::MailArgs),
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
    /// Back up the database while it runs (SQLite: VACUUM INTO; PostgreSQL: pg_dump), with a
    /// checksum and the schema version in FILE.manifest.json.
    Backup(crate::commands::backup::BackupArgs),
    /// Restore a backup into an empty database, after checking its checksum.
    Restore(crate::commands::backup::RestoreArgs),
    /// Check the database's integrity (pages, foreign keys, the audit log) and report in words.
    Check,
    /// The configuration: `config show` prints the effective settings and where each came from.
    #[command(subcommand)]
    Config(crate::commands::config::ConfigCmd),
    /// Print a shell completion script (e.g. `patron completions bash > /etc/bash_completion.d/patron`).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) to standard output (`patron man | man -l -`).
    Man,
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
    /// The file to import: a path, a pipe, or `-` for standard input (read once).
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
    /// Keep every index up during a bulk load. By default a load that at least doubles the
    /// order lines sets their date index aside, and on PostgreSQL one that at least doubles the
    /// customers sets their list and search indexes aside; both are built at the end, faster.
    /// This keeps the lists and the search fast for users working meanwhile.
    #[arg(long)]
    pub keep_indexes: bool,
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
    /// Customers, over the limit of the user `--as` names: ask a manager for this export, with
    /// this reason (then `patron exports download ID` once approved).
    #[arg(long)]
    pub reason: Option<String>,
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
