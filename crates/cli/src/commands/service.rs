//! `patron ticket ...` (service tickets with the SLA clock and escalation) and
//! `patron survey ...` (CSAT / NPS answers feeding the value score's satisfaction).

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use patron_domain::service::{Priority, SurveyInput, SurveyKind, Ticket, TicketInput, TicketKind};
use patron_store::Store;

use super::credit::customer_id;

#[derive(Args, Debug)]
pub struct TicketArgs {
    /// Act as if it were this moment (RFC 3339), e.g. to replay or test; default now.
    #[arg(long, global = true)]
    pub now: Option<DateTime<Utc>>,
    #[command(subcommand)]
    pub action: TicketAction,
}

#[derive(Subcommand, Debug)]
pub enum TicketAction {
    /// Open a ticket (complaint, repair, question); due by its priority's SLA hours.
    Open {
        customer: String,
        #[arg(long)]
        kind: TicketKind,
        #[arg(long, default_value = "normal")]
        priority: Priority,
        #[arg(long)]
        subject: String,
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        assignee: Option<i64>,
    },
    /// Open tickets, soonest due first (breached ones marked), or a customer's service history.
    List {
        #[arg(long)]
        customer: Option<String>,
    },
    /// One ticket with its history.
    Show { customer: String, id: i64 },
    Comment {
        customer: String,
        id: i64,
        text: String,
    },
    Resolve {
        customer: String,
        id: i64,
        #[arg(long)]
        text: Option<String>,
    },
    Reopen {
        customer: String,
        id: i64,
        #[arg(long)]
        text: Option<String>,
    },
    /// Escalate every open ticket past its due time (run it periodically, e.g. from cron).
    Escalate,
    /// Show the SLA hours per priority, or set one: `sla high 12`.
    Sla {
        priority: Option<Priority>,
        hours: Option<i64>,
    },
}

#[derive(Args, Debug)]
pub struct SurveyArgs {
    #[command(subcommand)]
    pub action: SurveyAction,
}

#[derive(Subcommand, Debug)]
pub enum SurveyAction {
    /// Record a customer's answer (CSAT 1-5 or NPS 0-10); sets its custom field `satisfaction`
    /// (1-5) that the value score reads.
    Record {
        customer: String,
        #[arg(long)]
        kind: SurveyKind,
        #[arg(long)]
        score: i32,
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        ticket: Option<i64>,
    },
    /// A customer's answers and satisfaction figure.
    Show { customer: String },
    /// Mail the customer a survey now: one link per score, the answer recorded once.
    Send {
        customer: String,
        #[arg(long, default_value = "csat")]
        kind: SurveyKind,
        /// en or zh (default: the setting mail.lang).
        #[arg(long)]
        lang: Option<String>,
        /// The resolved ticket it follows.
        #[arg(long)]
        ticket: Option<i64>,
    },
}

fn line(t: &Ticket) -> String {
    format!(
        "{:>6}  {:>8}  {:<9} {:<7} {:<8} due {}  {}{}  {}",
        t.id,
        t.customer_id,
        t.kind.as_str(),
        t.priority.as_str(),
        t.status,
        t.due_at.format("%Y-%m-%d %H:%M"),
        if t.breached { "BREACHED" } else { "in time " },
        if t.escalation_level > 0 {
            format!(" L{}", t.escalation_level)
        } else {
            "   ".into()
        },
        t.subject
    )
}

fn show(t: &Ticket) {
    println!("{}", line(t));
    for e in &t.events {
        println!(
            "        {}  {:<9} {:<10} {}",
            e.at.format("%Y-%m-%d %H:%M"),
            e.kind,
            e.by.as_deref().unwrap_or(""),
            e.text.as_deref().unwrap_or("")
        );
    }
}

pub async fn ticket(store: &Store, args: TicketArgs) -> anyhow::Result<()> {
    let now = args.now.unwrap_or_else(Utc::now);
    match args.action {
        TicketAction::Open {
            customer,
            kind,
            priority,
            subject,
            body,
            assignee,
        } => {
            let id = customer_id(store, &customer).await?;
            let t = store
                .open_ticket(
                    id,
                    TicketInput {
                        kind,
                        priority,
                        subject,
                        body,
                        by: Some(super::custody::operator()),
                        assignee_id: assignee,
                    },
                    now,
                )
                .await?;
            println!("{}", line(&t));
        }
        TicketAction::List { customer } => match customer {
            Some(c) => {
                for t in store
                    .customer_tickets(customer_id(store, &c).await?, now)
                    .await?
                {
                    show(&t);
                }
            }
            None => {
                let open =
                    patron_app::work::open_tickets(store, &super::custody::cli_session(), now)
                        .await?;
                for t in &open {
                    println!("{}", line(t));
                }
                println!(
                    "{} open, {} breached",
                    open.len(),
                    open.iter().filter(|t| t.breached).count()
                );
            }
        },
        TicketAction::Show { customer, id } => show(
            &store
                .ticket(customer_id(store, &customer).await?, id, now)
                .await?,
        ),
        TicketAction::Comment { customer, id, text } => show(
            &store
                .comment_ticket(
                    customer_id(store, &customer).await?,
                    id,
                    &super::custody::operator(),
                    &text,
                    now,
                )
                .await?,
        ),
        TicketAction::Resolve { customer, id, text } => {
            let c = customer_id(store, &customer).await?;
            let t = store
                .resolve_ticket(c, id, &super::custody::operator(), text.as_deref(), now)
                .await?;
            show(&t);
            if let Some(r) = patron_app::surveys_mail::after_ticket_resolved(store, c, id).await {
                eprintln!(
                    "survey {} queued to the customer (outbox key survey:{})",
                    r.id, r.id
                );
            }
        }
        TicketAction::Reopen { customer, id, text } => show(
            &store
                .reopen_ticket(
                    customer_id(store, &customer).await?,
                    id,
                    &super::custody::operator(),
                    text.as_deref(),
                    now,
                )
                .await?,
        ),
        TicketAction::Escalate => {
            let raised =
                patron_app::work::escalate_breached(store, &super::custody::cli_session(), now)
                    .await?;
            for t in &raised {
                println!("{}", line(t));
            }
            println!("{} escalated", raised.len());
        }
        TicketAction::Sla { priority, hours } => {
            if let (Some(p), Some(h)) = (priority, hours) {
                anyhow::ensure!(h > 0, "hours must be more than 0");
                store
                    .set_setting(&format!("sla.hours.{}", p.as_str()), &h.to_string())
                    .await?;
            }
            let sla = store.sla_policy().await?;
            for p in Priority::ALL {
                println!("{:<8} {:>4} h", p.as_str(), sla.hours(*p));
            }
        }
    }
    Ok(())
}

pub async fn survey(store: &Store, args: SurveyArgs) -> anyhow::Result<()> {
    match args.action {
        SurveyAction::Send {
            customer,
            kind,
            lang,
            ticket,
        } => super::mail_jobs::send_survey(store, &customer, kind, lang.as_deref(), ticket).await?,
        SurveyAction::Record {
            customer,
            kind,
            score,
            comment,
            ticket,
        } => {
            let id = customer_id(store, &customer).await?;
            let s = store
                .record_survey(
                    id,
                    SurveyInput {
                        kind,
                        score,
                        comment,
                        ticket_id: ticket,
                    },
                    &super::custody::operator(),
                    Utc::now(),
                )
                .await?;
            println!(
                "survey {} recorded: {} {} for customer {id}",
                s.id, s.kind, s.score
            );
        }
        SurveyAction::Show { customer } => {
            let id = customer_id(store, &customer).await?;
            let s = store.satisfaction(id).await?;
            println!(
                "customer {id}: latest CSAT {}, latest NPS {}, satisfaction figure {} ({} answers)",
                s.latest_csat.map_or("-".into(), |v| v.to_string()),
                s.latest_nps.map_or("-".into(), |v| v.to_string()),
                s.figure.map_or("-".into(), |v| format!("{v:.1}")),
                s.surveys
            );
            for a in store.surveys(id).await? {
                println!(
                    "  {}  {:<4} {:>2}  {}",
                    a.answered_at.format("%Y-%m-%d"),
                    a.kind,
                    a.score,
                    a.comment.unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
