//! `patron lead ...`: leads (trade-show cards, web forms) from capture through qualification to
//! conversion into a customer; `patron import leads FILE` loads them in bulk.

use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use patron_exchange::LeadImportOptions;
use patron_store::{
    ConvertLead, Lead, LeadFilter, LeadInput, LeadStatusChange, PageRequest, Store, Visibility,
};

use super::credit::customer_id;
use crate::cli::ImportArgs;

#[derive(Args, Debug)]
pub struct LeadArgs {
    #[command(subcommand)]
    pub action: LeadAction,
}

#[derive(Subcommand, Debug)]
pub enum LeadAction {
    /// Record a lead (status new).
    Add {
        /// The person's name.
        #[arg(long)]
        name: String,
        #[arg(long)]
        company: Option<String>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        region: Option<String>,
        #[arg(long)]
        industry: Option<String>,
        /// Where it came from (trade show, web, referral, ...).
        #[arg(long)]
        source: Option<String>,
        /// The campaign that brought it, by name.
        #[arg(long)]
        campaign: Option<String>,
        /// The rep who works it, by username.
        #[arg(long)]
        owner: Option<String>,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Leads, newest first, with the funnel (new, contacted, qualified, converted, disqualified).
    List {
        #[arg(long)]
        status: Option<String>,
        /// Username of the owner.
        #[arg(long)]
        owner: Option<String>,
        /// Campaign name.
        #[arg(long)]
        campaign: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// One lead, with the existing customers it probably is (same phone or e-mail).
    Show { id: i64 },
    /// Mark a lead contacted.
    Contacted { id: i64 },
    /// Mark a lead qualified (ready to convert).
    Qualify { id: i64 },
    /// Disqualify a lead, saying why.
    Disqualify {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Reopen a disqualified lead (status new).
    Reopen { id: i64 },
    /// Give a lead to a user (by username); without USER, leave it without owner.
    Assign { id: i64, user: Option<String> },
    /// Convert a qualified lead into a customer (status tracking) with its person as contact
    /// and its notes as an interaction.
    Convert {
        id: i64,
        /// Convert into this existing customer (id or number) instead of creating one.
        #[arg(long, value_name = "CUSTOMER")]
        into: Option<String>,
        /// Create a new customer even though existing ones share the lead's phone or e-mail.
        #[arg(long, conflicts_with = "into")]
        new: bool,
    },
}

async fn campaign_id(store: &Store, name: &str) -> anyhow::Result<i64> {
    store
        .campaign_ids(&[name.to_string()])
        .await?
        .get(name)
        .copied()
        .with_context(|| format!("campaign '{name}' does not exist (see patron campaign list)"))
}

fn line(l: &Lead) -> String {
    format!(
        "{:>6} {:<12} {:<24} {:<28} {:<16} {}",
        l.id,
        l.status,
        l.name,
        l.company.as_deref().unwrap_or("-"),
        l.source.as_deref().unwrap_or("-"),
        match (&l.converted_customer_id, &l.disqualified_reason) {
            (Some(c), _) => format!("-> customer {c}"),
            (_, Some(r)) => format!("({r})"),
            _ => String::new(),
        }
    )
}

async fn set(store: &Store, id: i64, status: &str, reason: Option<String>) -> anyhow::Result<()> {
    let l = store
        .set_lead_status(
            id,
            &LeadStatusChange {
                status: status.into(),
                reason,
            },
        )
        .await?;
    println!("{}", line(&l));
    Ok(())
}

pub async fn run(store: &Store, args: LeadArgs) -> anyhow::Result<()> {
    match args.action {
        LeadAction::Add {
            name,
            company,
            title,
            phone,
            email,
            region,
            industry,
            source,
            campaign,
            owner,
            notes,
        } => {
            let campaign_id = match campaign {
                Some(c) => Some(campaign_id(store, &c).await?),
                None => None,
            };
            let owner_id = match owner {
                Some(o) => Some(store.user_by_name(&o).await?.id),
                None => None,
            };
            let l = store
                .create_lead(LeadInput {
                    name,
                    company,
                    title,
                    phone,
                    email,
                    region,
                    industry,
                    source,
                    campaign_id,
                    owner_id,
                    notes,
                })
                .await?;
            println!("lead {} recorded", l.id);
        }
        LeadAction::List {
            status,
            owner,
            campaign,
            limit,
        } => {
            let filter = LeadFilter {
                status,
                owner_id: match owner {
                    Some(o) => Some(store.user_by_name(&o).await?.id),
                    None => None,
                },
                campaign_id: match campaign {
                    Some(c) => Some(campaign_id(store, &c).await?),
                    None => None,
                },
            };
            let f = store.lead_funnel(&filter, &Visibility::All).await?;
            println!(
                "new {}  contacted {}  qualified {}  converted {}  disqualified {}",
                f.new, f.contacted, f.qualified, f.converted, f.disqualified
            );
            let page = store
                .list_leads(
                    &filter,
                    &Visibility::All,
                    &PageRequest {
                        limit: Some(limit),
                        after: None,
                    },
                )
                .await?;
            for l in &page.items {
                println!("{}", line(l));
            }
            if page.next.is_some() {
                println!("(more: raise --limit, up to 500)");
            }
        }
        LeadAction::Show { id } => {
            let l = store.lead(id).await?;
            println!("lead {} ({})", l.id, l.status);
            for (label, v) in [
                ("name", Some(l.name.clone())),
                ("company", l.company.clone()),
                ("title", l.title.clone()),
                ("phone", l.phone.clone()),
                ("email", l.email.clone()),
                ("region", l.region.clone()),
                ("industry", l.industry.clone()),
                ("source", l.source.clone()),
                ("campaign", l.campaign_id.map(|c| c.to_string())),
                ("owner", l.owner_id.map(|o| o.to_string())),
                ("notes", l.notes.clone()),
                ("disqualified", l.disqualified_reason.clone()),
                ("customer", l.converted_customer_id.map(|c| c.to_string())),
            ] {
                if let Some(v) = v {
                    println!("  {label:<12} {v}");
                }
            }
            if l.status != "converted" {
                for c in store.lead_likely_customers(&l).await? {
                    println!(
                        "  likely customer {} {} '{}' (same {}): patron lead convert {} --into {}",
                        c.customer_id, c.number, c.name, c.matched_on, l.id, c.number
                    );
                }
            }
        }
        LeadAction::Contacted { id } => set(store, id, "contacted", None).await?,
        LeadAction::Qualify { id } => set(store, id, "qualified", None).await?,
        LeadAction::Disqualify { id, reason } => {
            set(store, id, "disqualified", Some(reason)).await?
        }
        LeadAction::Reopen { id } => set(store, id, "new", None).await?,
        LeadAction::Assign { id, user } => {
            let owner = match user {
                Some(u) => Some(store.user_by_name(&u).await?.id),
                None => None,
            };
            let lead = store.lead(id).await?;
            let l = patron_app::custody::assign_lead(
                store,
                &super::custody::cli_session(),
                &lead,
                owner,
                " (cli)",
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", line(&l));
        }
        LeadAction::Convert { id, into, new } => {
            let into = match into {
                Some(c) => Some(customer_id(store, &c).await?),
                None => None,
            };
            let by = super::custody::operator();
            let done = store
                .convert_lead(
                    id,
                    &ConvertLead {
                        into,
                        allow_duplicate: new,
                    },
                    &by,
                )
                .await
                .map_err(|e| match e {
                    patron_store::StoreError::Conflict { message, .. }
                        if message.contains("(allow_duplicate)") =>
                    {
                        anyhow::anyhow!(
                            "{}",
                            message
                                .replace("(into)", "(--into CUSTOMER)")
                                .replace("(allow_duplicate)", "(--new)")
                        )
                    }
                    e => e.into(),
                })?;
            println!(
                "lead {} converted into {} customer {} ({}); contact {}, interaction {}",
                id,
                if done.created_customer {
                    "new"
                } else {
                    "existing"
                },
                done.customer_id,
                done.customer_number,
                done.contact_id,
                done.interaction_id
            );
        }
    }
    Ok(())
}

/// `patron import leads FILE`: with a progress bar on large files.
pub async fn import(store: &Store, args: &ImportArgs) -> anyhow::Result<()> {
    let opts = LeadImportOptions {
        maps: args.maps.clone(),
        skip_bad: args.skip_bad.clone(),
        batch_rows: args.batch_size.clamp(1, 10_000),
        campaign: args.campaign.clone(),
        owner: args.owner.clone(),
        source: args.source.clone(),
    };
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = if size >= 64 * 1024 {
        let b = ProgressBar::new(size);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {msg} (eta {eta})",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    let result = patron_exchange::import_leads(store, &args.file, &opts, |p| {
        bar.set_position(p.bytes);
        bar.set_message(format!("{} rows", p.rows));
    })
    .await;
    bar.finish_and_clear();
    let r = result?;
    println!(
        "read {} rows in {:.2} s: {} leads stored, {} already present, {} rejected",
        r.rows,
        started.elapsed().as_secs_f64(),
        r.inserted,
        r.already_present,
        r.rejected
    );
    if let (Some(p), true) = (&args.skip_bad, r.rejected > 0) {
        eprintln!("{} bad rows written to {}", r.rejected, p.display());
    }
    Ok(())
}
