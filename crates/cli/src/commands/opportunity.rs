//! `patron opportunity ...`: opportunities (stage, amount, probability, expected close) and the
//! pipeline with its forecast.

use chrono::NaiveDate;
use clap::{Args, Subcommand};
use patron_domain::Money;
use patron_store::{OpportunityInput, StageChange, Store};

use super::credit::customer_id;

#[derive(Args, Debug)]
pub struct OpportunityArgs {
    #[command(subcommand)]
    pub action: OpportunityAction,
}

#[derive(Subcommand, Debug)]
pub enum OpportunityAction {
    /// Record an opportunity (stage prospecting unless given; probability the stage's default).
    Add {
        customer: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        amount: Money,
        #[arg(long)]
        close: NaiveDate,
        #[arg(long)]
        stage: Option<String>,
        #[arg(long)]
        probability: Option<i32>,
    },
    /// A customer's opportunities.
    List { customer: String },
    /// Move an opportunity to a stage (won / lost close it).
    Stage {
        customer: String,
        id: i64,
        stage: String,
        #[arg(long)]
        probability: Option<i32>,
    },
    /// The pipeline per stage and the forecast per month of expected close.
    Pipeline,
}

pub async fn run(store: &Store, args: OpportunityArgs) -> anyhow::Result<()> {
    match args.action {
        OpportunityAction::Add {
            customer,
            name,
            amount,
            close,
            stage,
            probability,
        } => {
            let id = customer_id(store, &customer).await?;
            let o = store
                .create_opportunity(
                    id,
                    OpportunityInput {
                        name,
                        stage,
                        amount,
                        probability,
                        expected_close: close,
                    },
                )
                .await?;
            println!(
                "opportunity {} of customer {}: {} {} at {}% (weighted {}), close {}",
                o.id, o.customer_id, o.stage, o.amount, o.probability, o.weighted, o.expected_close
            );
        }
        OpportunityAction::List { customer } => {
            let id = customer_id(store, &customer).await?;
            for o in store.customer_opportunities(id).await? {
                println!(
                    "{:>6} {:<30} {:<13} {:>12} {:>3}% {}",
                    o.id,
                    o.name,
                    o.stage,
                    o.amount.to_string(),
                    o.probability,
                    o.expected_close
                );
            }
        }
        OpportunityAction::Stage {
            customer,
            id,
            stage,
            probability,
        } => {
            let c = customer_id(store, &customer).await?;
            let o = store
                .change_stage(
                    c,
                    id,
                    StageChange {
                        stage,
                        probability,
                        amount: None,
                        expected_close: None,
                    },
                )
                .await?;
            println!(
                "opportunity {} is now {} at {}%",
                o.id, o.stage, o.probability
            );
        }
        OpportunityAction::Pipeline => {
            let all =
                patron_app::work::opportunities(store, &super::custody::cli_session()).await?;
            let p = patron_store::pipeline(&all);
            println!(
                "{:<14} {:>6} {:>14} {:>14}",
                "stage", "count", "amount", "weighted"
            );
            for s in &p.stages {
                println!(
                    "{:<14} {:>6} {:>14} {:>14}",
                    s.stage,
                    s.count,
                    s.amount.to_string(),
                    s.weighted.to_string()
                );
            }
            println!(
                "\n{:<8} {:>6} {:>14} {:>14}",
                "month", "open", "weighted", "won"
            );
            for m in &p.forecast {
                println!(
                    "{:<8} {:>6} {:>14} {:>14}",
                    m.month,
                    m.open,
                    m.weighted.to_string(),
                    m.won.to_string()
                );
            }
        }
    }
    Ok(())
}
