//! `patron campaign ...`: campaigns with their cost and return (customers whose source is the
//! campaign's name are attributed to it).

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use patron_domain::Money;
use patron_store::{CampaignInput, Store};

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
    /// Every campaign: customers, leads, buyers, revenue, margin and return (margin / cost).
    List,
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
                "{:<24} {:>10} {:>9} {:>6} {:>6} {:>12} {:>12} {:>7}",
                "campaign", "cost", "customers", "leads", "buyers", "revenue", "margin", "return"
            );
            for c in store.campaigns().await? {
                println!(
                    "{:<24} {:>10} {:>9} {:>6} {:>6} {:>12} {:>12} {:>7}",
                    c.name,
                    c.cost.to_string(),
                    c.customers,
                    c.leads,
                    c.buyers,
                    c.revenue.to_string(),
                    c.margin.to_string(),
                    c.return_ratio.map_or("-".into(), |r| format!("{r:.2}"))
                );
            }
        }
    }
    Ok(())
}
