//! `patron followup ...`: the visit / call plan by value tier and the before-the-visit brief.

use chrono::{NaiveDate, Utc};
use clap::{Args, Subcommand};
use patron_store::Store;

use super::credit::{customer_id, today};

#[derive(Args, Debug)]
pub struct FollowupArgs {
    #[command(subcommand)]
    pub action: FollowupAction,
}

#[derive(Subcommand, Debug)]
pub enum FollowupAction {
    /// Planned visits / calls: who is due (or overdue) by ABC class cadence, most overdue first.
    Plan {
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Only this rep's customers (user id).
        #[arg(long)]
        owner: Option<i64>,
        /// Only those due by --as-of (overdue included).
        #[arg(long)]
        due: bool,
    },
    /// Show the cadence per ABC class, or set one: `cadence A 7`.
    Cadence {
        class: Option<String>,
        days: Option<i64>,
    },
    /// The one-page brief before a visit (JSON): last orders, promises, complaints, open
    /// tickets, value figures, credit.
    Brief { customer: String },
}

pub async fn run(store: &Store, args: FollowupArgs) -> anyhow::Result<()> {
    match args.action {
        FollowupAction::Plan { as_of, owner, due } => {
            let as_of = as_of.unwrap_or_else(today);
            let plan = store
                .followup_plan(as_of, owner, &patron_store::Visibility::All)
                .await?;
            println!(
                "{:>9}  {:<24} {:>6} {:<3} {:<10} {:<10} {:>5}",
                "customer", "name", "owner", "abc", "last", "due", "late"
            );
            let mut n = 0;
            for p in plan.iter().filter(|p| !due || p.days_overdue >= 0) {
                n += 1;
                println!(
                    "{:>9}  {:<24} {:>6} {:<3} {:<10} {:<10} {:>5}",
                    p.customer_id,
                    p.customer_name,
                    p.owner_id.map_or("-".into(), |o| o.to_string()),
                    p.abc_class,
                    p.last_contact
                        .map_or("never".into(), |l| l.date_naive().to_string()),
                    p.due_on.to_string(),
                    p.days_overdue
                );
            }
            println!("{n} customers");
        }
        FollowupAction::Cadence { class, days } => {
            if let (Some(c), Some(d)) = (class, days) {
                let c = c.trim().to_uppercase();
                anyhow::ensure!(["A", "B", "C"].contains(&c.as_str()), "class is A, B or C");
                anyhow::ensure!(d > 0, "days must be more than 0");
                store
                    .set_setting(&format!("followup.days.{c}"), &d.to_string())
                    .await?;
            }
            for (c, d) in store.followup_cadence().await? {
                println!("{c}  every {d} days");
            }
        }
        FollowupAction::Brief { customer } => {
            let id = customer_id(store, &customer).await?;
            let b = store.visit_brief(id, Utc::now()).await?;
            println!("{}", serde_json::to_string_pretty(&b)?);
        }
    }
    Ok(())
}

/// `patron review --from --to`: the manager review per rep.
pub async fn review(
    store: &patron_store::Store,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> anyhow::Result<()> {
    println!(
        "{:<16} {:>9} {:>12} {:>8} {:>9} {:>9} {:>12} {:>12} {:>12}",
        "rep",
        "customers",
        "interactions",
        "promises",
        "complete",
        "breached",
        "sales",
        "collected",
        "overdue"
    );
    for r in store.rep_review(from, to, chrono::Utc::now()).await? {
        let rep = r
            .username
            .clone()
            .or(r.owner_id.map(|o| format!("user {o}")))
            .unwrap_or_else(|| "(no owner)".into());
        let complete = r
            .card_completeness
            .map_or("-".to_string(), |c| format!("{:.0}%", c * 100.0));
        println!(
            "{rep:<16} {:>9} {:>12} {:>8} {complete:>9} {:>9} {:>12} {:>12} {:>12}",
            r.customers,
            r.interactions,
            r.promises,
            format!("{}/{}", r.tickets_breached, r.tickets_opened),
            r.sales.to_string(),
            r.collected.to_string(),
            r.overdue.to_string()
        );
    }
    Ok(())
}
