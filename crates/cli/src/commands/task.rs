//! `patron task ...`: the to-do lists of users (list, add, done) and the task rules (`rules`:
//! customers about to return to the pool, overdue invoices, tickets near their SLA, untouched
//! leads, follow-ups due). With `--user NAME` a command acts as that user, so their role and
//! data scope apply; without it, as the operator (who sees every task).

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use clap::{Args, Subcommand};
use patron_domain::task::{Task, TaskInput, TaskKind};
use patron_store::{Store, StoreError, TaskChange, TaskFilter};

use super::credit::customer_id;
use super::custody::cli_session;

#[derive(Args, Debug)]
pub struct TaskArgs {
    #[command(subcommand)]
    pub action: TaskAction,
}

#[derive(Subcommand, Debug)]
pub enum TaskAction {
    /// Open tasks by due time: one user's (--user), or everyone's.
    List {
        /// Only this user's tasks, as that user sees them.
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
        /// Done tasks too.
        #[arg(long)]
        all: bool,
    },
    /// Add a task for a user (made by that user, so their scope applies to the customer).
    Add {
        /// The user who does it.
        #[arg(long, value_name = "NAME")]
        user: String,
        /// The customer it is about: id or customer number.
        #[arg(long, value_name = "REF")]
        customer: Option<String>,
        /// call, visit, email or todo.
        #[arg(long, default_value = "todo")]
        kind: TaskKind,
        /// When it is due (UTC): YYYY-MM-DD (start of the day) or YYYY-MM-DDTHH:MM.
        #[arg(long, value_parser = parse_due)]
        due: DateTime<Utc>,
        /// What is to be done.
        note: String,
    },
    /// Mark a task done.
    Done {
        id: i64,
        /// Act as this user (their own tasks, or those of users they see).
        #[arg(long, value_name = "NAME")]
        user: Option<String>,
    },
    /// Run the task rules now and print how many tasks they added (a second run adds none;
    /// `patron serve` runs them every 15 minutes).
    Rules,
}

/// `YYYY-MM-DD` (midnight) or `YYYY-MM-DDTHH:MM[:SS]`, in UTC.
fn parse_due(s: &str) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_time(NaiveTime::MIN).and_utc());
    }
    for f in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    Err(format!("'{s}' is not YYYY-MM-DD or YYYY-MM-DDTHH:MM"))
}

/// The session of user `name` (their role and data scope).
async fn session_of(store: &Store, name: &str) -> anyhow::Result<patron_app::Session> {
    let user = match store.user_by_name(name).await {
        Ok(u) => u,
        Err(StoreError::NotFound { .. }) => anyhow::bail!("no user named '{name}'"),
        Err(e) => return Err(e.into()),
    };
    if user.disabled {
        anyhow::bail!("user '{name}' is disabled");
    }
    Ok(patron_app::Session::open(store, user, None).await?)
}

fn print_tasks(tasks: &[Task], names: &std::collections::HashMap<i64, String>) {
    if tasks.is_empty() {
        println!("no tasks");
        return;
    }
    println!(
        "{:>6}  {:<16}  {:<5}  {:<4}  {:<12}  {:<24}  {:<15}  note",
        "id", "due (UTC)", "kind", "done", "assignee", "customer", "source"
    );
    for t in tasks {
        let assignee = names
            .get(&t.assignee_id)
            .cloned()
            .unwrap_or_else(|| t.assignee_id.to_string());
        let customer = match (t.customer_id, &t.customer_name) {
            (Some(id), Some(name)) => format!("{id} {}", patron_app::tasks::excerpt(name, 18)),
            (Some(id), None) => id.to_string(),
            _ => "-".into(),
        };
        println!(
            "{:>6}  {:<16}  {:<5}  {:<4}  {:<12}  {:<24}  {:<15}  {}",
            t.id,
            t.due_at.format("%Y-%m-%d %H:%M").to_string(),
            t.kind.as_str(),
            if t.status == "done" { "yes" } else { "" },
            assignee,
            customer,
            t.source,
            patron_app::tasks::excerpt(&t.note.replace('\n', " "), 80)
        );
    }
}

fn print_task(what: &str, t: &Task) {
    println!(
        "task {} {what}: {} due {} (UTC){}: {}",
        t.id,
        t.kind.as_str(),
        t.due_at.format("%Y-%m-%d %H:%M"),
        t.customer_id
            .map(|c| format!(", customer {c}"))
            .unwrap_or_default(),
        patron_app::tasks::excerpt(&t.note, 200)
    );
}

pub async fn run(store: &Store, args: TaskArgs) -> anyhow::Result<()> {
    match args.action {
        TaskAction::List { user, all } => {
            let open = if all { None } else { Some(true) };
            let tasks = match user {
                Some(name) => {
                    let session = session_of(store, &name).await?;
                    patron_app::tasks::my_tasks(store, &session, open, Some(1000)).await?
                }
                None => {
                    store
                        .tasks(&TaskFilter {
                            open,
                            limit: Some(1000),
                            ..TaskFilter::default()
                        })
                        .await?
                }
            };
            let names = store
                .users()
                .await?
                .into_iter()
                .map(|u| (u.id, u.username))
                .collect();
            print_tasks(&tasks, &names);
        }
        TaskAction::Add {
            user,
            customer,
            kind,
            due,
            note,
        } => {
            let session = session_of(store, &user).await?;
            let customer_id = match customer {
                Some(c) => Some(
                    customer_id(store, &c)
                        .await
                        .with_context(|| format!("no customer '{c}' (give its id or number)"))?,
                ),
                None => None,
            };
            let t = patron_app::tasks::add_task(
                store,
                &session,
                TaskInput {
                    customer_id,
                    assignee_id: None,
                    kind,
                    due_at: due,
                    note,
                },
                "manual",
            )
            .await?;
            print_task("added", &t);
        }
        TaskAction::Done { id, user } => {
            let session = match user {
                Some(name) => session_of(store, &name).await?,
                None => cli_session(),
            };
            let t = patron_app::tasks::change_task(store, &session, id, TaskChange::Done).await?;
            print_task("done", &t);
        }
        TaskAction::Rules => {
            let n = patron_app::tasks::run_rules(store, Utc::now()).await?;
            println!(
                "{n} task{} added by the rules",
                if n == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_due;

    #[test]
    fn due_dates_and_times() {
        assert_eq!(
            parse_due("2025-03-04").unwrap().to_rfc3339(),
            "2025-03-04T00:00:00+00:00"
        );
        assert_eq!(
            parse_due("2025-03-04T14:30").unwrap().to_rfc3339(),
            "2025-03-04T14:30:00+00:00"
        );
        assert!(parse_due("tomorrow").is_err());
    }
}
