//! `patron campaign ...`: campaigns with their cost and return (customers whose source is the
//! campaign's name are attributed to it).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};
use patron_domain::{CustomerStatus, Money};
use patron_exchange::ExportFormat;
use patron_store::{CampaignInput, CustomerFilter, Store};

#[derive(Args, Debug)]
pub struct CampaignArgs {
    #[command(subcommand)]
    pub action: CampaignAction,
}

#[derive(Subcommand, Debug)]
pub enum CampaignAction {
    /// Record a campaign; customers whose source is NAME are attributed to it.
    Add {
        name: String,
        #[arg(long)]
        cost: Money,
        #[arg(long)]
        start: NaiveDate,
        #[arg(long)]
        channel: Option<String>,
    },
    /// Every campaign: customers, leads, lead records captured and converted, buyers, revenue,
    /// margin and return (margin / cost).
    List,
    /// The mailing list for a campaign: the customers matching the filters, never those who
    /// asked for no marketing. Recorded in the audit log as an export.
    Audience(AudienceArgs),
}

#[derive(Args, Debug)]
pub struct AudienceArgs {
    /// Customer status (lead, tracking, intent, won).
    #[arg(long)]
    pub status: Option<CustomerStatus>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    /// Value grade A..E (from the last `patron value refresh`).
    #[arg(long)]
    pub grade: Option<String>,
    /// ABC class A, B or C.
    #[arg(long)]
    pub abc: Option<String>,
    /// RFM segment (champions, loyal, at_risk, hibernating, ...).
    #[arg(long)]
    pub segment: Option<String>,
    /// Only customers with a churn warning (a win-back campaign).
    #[arg(long)]
    pub churn_risk: bool,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: crate::cli::ExportFormat,
    /// Output file (standard output when absent).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

impl AudienceArgs {
    /// The list filter: what was asked, and always without the opted-out.
    fn filter(&self) -> CustomerFilter {
        CustomerFilter {
            status: self.status,
            region: self.region.clone(),
            industry: self.industry.clone(),
            grade: self.grade.as_ref().map(|g| g.to_uppercase()),
            abc_class: self.abc.as_ref().map(|g| g.to_uppercase()),
            rfm_segment: self.segment.clone(),
            churn_risk: self.churn_risk.then_some(true),
            exclude_opted_out: true,
            ..CustomerFilter::default()
        }
    }
}

pub async fn run(store: &Store, args: CampaignArgs) -> anyhow::Result<()> {
    match args.action {
        CampaignAction::Add {
            name,
            cost,
            start,
            channel,
        } => {
            let c = store
                .create_campaign(CampaignInput {
                    name,
                    channel,
                    cost,
                    started_on: start,
                })
                .await?;
            println!("campaign {} '{}' recorded (cost {})", c.id, c.name, c.cost);
        }
        CampaignAction::List => {
            println!(
                "{:<24} {:>10} {:>9} {:>6} {:>8} {:>9} {:>6} {:>12} {:>12} {:>7}",
                "campaign",
                "cost",
                "customers",
                "leads",
                "captured",
                "converted",
                "buyers",
                "revenue",
                "margin",
                "return"
            );
            for c in store.campaigns().await? {
                println!(
                    "{:<24} {:>10} {:>9} {:>6} {:>8} {:>9} {:>6} {:>12} {:>12} {:>7}",
                    c.name,
                    c.cost.to_string(),
                    c.customers,
                    c.leads,
                    c.leads_captured,
                    c.leads_converted,
                    c.buyers,
                    c.revenue.to_string(),
                    c.margin.to_string(),
                    c.return_ratio.map_or("-".into(), |r| format!("{r:.2}"))
                );
            }
        }
        CampaignAction::Audience(args) => audience(store, &args).await?,
    }
    Ok(())
}

async fn audience(store: &Store, args: &AudienceArgs) -> anyhow::Result<()> {
    let format = match args.format {
        crate::cli::ExportFormat::Csv => ExportFormat::Csv,
        crate::cli::ExportFormat::Json => ExportFormat::Json,
    };
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let filter = args.filter();
    let n = patron_exchange::export_customers(store, &filter, format, &mut out).await?;
    out.flush()?;
    drop(out);
    store
        .audit(
            &crate::commands::custody::cli_actor(),
            "export",
            None,
            Some("campaign audience (opted-out customers left out)"),
            Some(n as i64),
        )
        .await?;
    eprintln!("{n} customers on the mailing list (those who opted out of marketing are left out)");
    Ok(())
}
