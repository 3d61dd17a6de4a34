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
    /// Mail campaign ID to its audience (never the opted-out, the archived or those without an
    /// e-mail address): a template with merge fields {name}, {company}, {owner}, each message
    /// with a one-click unsubscribe link. `--preview` shows it without queuing anything; without
    /// it, one message per recipient is queued in the outbox, which `serve` sends.
    Mail(MailCampaignArgs),
    /// One campaign: its figures and its mail (queued, sent, failed, customers who opted out
    /// through its unsubscribe links).
    Show {
        /// The campaign's id (`patron campaign list`).
        id: i64,
    },
    /// Allocate campaign ID's cost evenly over the customers it reached (mailed by it, or whose
    /// source is its name) as their recorded marketing costs, dated on its start; the value
    /// figures then charge them their share instead of the flat marketing rate. Allocating
    /// again replaces the previous allocation.
    AllocateCost {
        /// The campaign's id (`patron campaign list`).
        id: i64,
    },
}

#[derive(Args, Debug)]
pub struct MailCampaignArgs {
    /// The campaign's id (`patron campaign list`).
    pub campaign: i64,
    /// The subject (default: the language's default template).
    #[arg(long)]
    pub subject: Option<String>,
    /// The body, plain text (default: the language's default template).
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// The body from a UTF-8 text file.
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// The language of the default template and of the unsubscribe footer (en or zh).
    #[arg(long, default_value = "en")]
    pub lang: patron_app::mail::MailLang,
    /// The server's address as recipients reach it (the unsubscribe links point there).
    #[arg(long, env = "PATRON_PUBLIC_URL", value_name = "URL")]
    pub public_url: String,
    /// Show the first messages and the audience's size; queue nothing.
    #[arg(long)]
    pub preview: bool,
    /// Queue one test message to ADDRESS (yourself), as the first recipient would get it; its
    /// unsubscribe link opts out nobody. Nothing is queued for the audience.
    #[arg(long, value_name = "ADDRESS", conflicts_with = "preview")]
    pub test_to: Option<String>,
    /// Customer status (lead, tracking, intent, won).
    #[arg(long)]
    pub status: Option<CustomerStatus>,
    #[arg(long)]
    pub region: Option<String>,
    #[arg(long)]
    pub industry: Option<String>,
    /// Value grade A..E.
    #[arg(long)]
    pub grade: Option<String>,
    /// RFM segment (champions, loyal, at_risk, hibernating, ...).
    #[arg(long)]
    pub segment: Option<String>,
    /// Only customers with a churn warning.
    #[arg(long)]
    pub churn_risk: bool,
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
            let input = CampaignInput {
                name,
                channel,
                cost,
                started_on: start,
            };
            let session = super::custody::cli_session();
            let c = patron_app::campaigns::create(store, &session, input, &[]).await?;
            println!("campaign {} '{}' recorded (cost {})", c.id, c.name, c.cost);
        }
        CampaignAction::Show { id } => {
            let session = super::custody::cli_session();
            let (c, m) = patron_app::mail::campaign_mail_counts(store, &session, id).await?;
            println!("campaign {} '{}'", c.id, c.name);
            println!("  channel      {}", c.channel.as_deref().unwrap_or("-"));
            println!("  started      {}", c.started_on);
            println!("  cost         {}", c.cost);
            println!("  customers    {}", m.customers);
            println!("  revenue      {}", c.revenue);
            println!(
                "  mail         {} queued, {} sent, {} failed, {} unsubscribed",
                m.queued, m.sent, m.failed, m.unsubscribed
            );
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
        CampaignAction::AllocateCost { id } => {
            let session = super::custody::cli_session();
            let a = patron_app::marketing::allocate_campaign(store, &session, id).await?;
            println!(
                "campaign {id}: cost {} allocated over {} customers ({} each, a cent more for the first {}){}",
                a.cost,
                a.customers,
                a.share,
                a.cost.0 - a.share.0 * a.customers as i64,
                if a.replaced > 0 {
                    format!("; replaced {} earlier shares", a.replaced)
                } else {
                    String::new()
                }
            );
        }
        CampaignAction::Audience(args) => audience(store, &args).await?,
        CampaignAction::Mail(args) => mail(store, args).await?,
    }
    Ok(())
}

async fn audience(store: &Store, args: &AudienceArgs) -> anyhow::Result<()> {
    let format = match args.format {
        crate::cli::ExportFormat::Csv => ExportFormat::Csv,
        crate::cli::ExportFormat::Json => ExportFormat::Json,
    };
    // The export rule (`patron_app::exports`) of the user `--as` names, decided before any
    // file is written; the audience is that user's customers.
    let session = crate::commands::exports::acting_session(store).await?;
    let filter = args.filter();
    let sort = patron_store::CustomerSort::Id;
    let what = "campaign audience (opted-out customers left out)";
    match patron_app::exports::check(store, &session, &filter, sort, &format!("{what} (cli)"))
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
    {
        (_, patron_app::exports::Gate::Allowed) => {}
        (_, patron_app::exports::Gate::NeedsApproval(why)) => anyhow::bail!(
            "{why}: nothing was exported; ask for the list with `patron export customers --reason \"...\"` or on the web"
        ),
        (_, patron_app::exports::Gate::Refused(why)) => anyhow::bail!("{why}"),
    }
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot write {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let n = patron_exchange::export_visible_customers(
        store,
        &filter,
        &session.visible,
        sort,
        format,
        &mut out,
    )
    .await?;
    out.flush()?;
    drop(out);
    patron_app::exports::record_export(store, &session, what, n as i64)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    eprintln!("{n} customers on the mailing list (those who opted out of marketing are left out)");
    Ok(())
}

async fn mail(store: &Store, args: MailCampaignArgs) -> anyhow::Result<()> {
    use patron_app::mail::{self, MailTemplate};
    let mut template = MailTemplate::default_for(args.lang);
    if let Some(s) = args.subject {
        template.subject = s;
    }
    if let Some(b) = args.body {
        template.body = b;
    }
    if let Some(p) = &args.body_file {
        template.body = std::fs::read_to_string(p)
            .with_context(|| format!("cannot read --body-file {}", p.display()))?;
    }
    let filter = CustomerFilter {
        status: args.status,
        region: args.region,
        industry: args.industry,
        grade: args.grade.map(|g| g.to_uppercase()),
        rfm_segment: args.segment,
        churn_risk: args.churn_risk.then_some(true),
        exclude_opted_out: true,
        ..CustomerFilter::default()
    };
    let session = crate::commands::custody::cli_session();
    if args.preview {
        let (shown, total) = mail::preview_campaign_mail(
            store,
            &session,
            args.campaign,
            &filter,
            &template,
            &args.public_url,
            3,
        )
        .await?;
        for m in &shown {
            println!(
                "To: {}\nSubject: {}\nList-Unsubscribe: <{}>\n\n{}\n",
                m.recipient, m.subject, m.unsubscribe_url, m.body
            );
        }
        eprintln!("{total} recipients (opted-out customers and those without an e-mail address left out); nothing queued (--preview)");
        return Ok(());
    }
    if let Some(to) = &args.test_to {
        mail::test_campaign_mail(
            store,
            &session,
            args.campaign,
            &filter,
            &template,
            &args.public_url,
            to,
        )
        .await?;
        eprintln!("a test message to {to} is queued; `patron serve` with --smtp-url sends it, `patron mail outbox` shows it");
        return Ok(());
    }
    let sent = mail::send_campaign_mail(
        store,
        &session,
        args.campaign,
        &filter,
        &template,
        &args.public_url,
    )
    .await?;
    eprintln!(
        "{} messages queued for {} recipients ({} queued by an earlier send); `patron serve` with --smtp-url sends them, `patron mail outbox` shows them",
        sent.queued,
        sent.audience,
        sent.audience as u64 - sent.queued
    );
    Ok(())
}
