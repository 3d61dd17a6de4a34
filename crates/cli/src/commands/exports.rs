//! `patron exports`: the export rules per role, the approval queue of large exports, their
//! one-time download, and the leaving users' hand-overs (`patron_app::exports` holds every
//! rule). Who acts is `--as USER` when that names a user (their role and scope apply), else the
//! command line's own operator (the database's owner: an administrator, not limited).

use anyhow::{anyhow, bail, Context};
use clap::Subcommand;
use patron_app::Session;
use patron_store::{ExportRight, ExportRule, Role, Store, StoreError};

#[derive(clap::Args, Debug)]
pub struct ExportsArgs {
    #[command(subcommand)]
    pub command: ExportsCmd,
}

#[derive(Subcommand, Debug)]
pub enum ExportsCmd {
    /// Show each role's export right and daily row limit.
    Rules,
    /// Set a role's export right (none, own, approval) and daily row limit (admins).
    SetRule {
        /// admin, manager, rep or analyst.
        role: String,
        /// none, own (within the scope, up to the daily limit) or approval (always approved).
        #[arg(long)]
        right: String,
        /// Rows a day without approval (0 or more).
        #[arg(long, conflicts_with = "no_limit")]
        daily: Option<i64>,
        /// No daily limit.
        #[arg(long)]
        no_limit: bool,
    },
    /// Export requests: the pending ones you may decide (managers, admins), or with --mine yours.
    Requests {
        #[arg(long)]
        mine: bool,
    },
    /// Approve an export request (the requester may download it once within 24 hours).
    Approve {
        id: i64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Refuse an export request, with the reason the requester is told.
    Refuse {
        id: i64,
        #[arg(long)]
        reason: String,
    },
    /// Download your approved export request as CSV, once (--as the requester).
    Download {
        id: i64,
        /// Output file (standard output when absent).
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Hand over the customers of every user whose leaving day has come (what `patron serve`
    /// runs every few minutes).
    Handovers {
        /// As of this day (YYYY-MM-DD; default today, UTC).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
    },
}

/// The session the command acts as: the user `--as` names when there is one (refused when
/// disabled), else the command line's operator.
pub async fn acting_session(store: &Store) -> anyhow::Result<Session> {
    let name = super::custody::operator();
    match store.user_by_name(&name).await {
        Ok(u) if u.disabled => bail!("user '{name}' is disabled"),
        Ok(u) => Ok(Session::open(store, u, None).await?),
        Err(StoreError::NotFound { .. }) => Ok(super::custody::cli_session()),
        Err(e) => Err(e.into()),
    }
}

fn app(e: patron_app::AppError) -> anyhow::Error {
    anyhow!("{e}")
}

fn print_rule(r: &ExportRule) {
    let limit = match r.daily_rows {
        Some(n) => format!("{n} rows a day"),
        None => "no limit".into(),
    };
    println!("{:<8} {:<9} {limit}", r.role.as_str(), r.right.as_str());
}

pub async fn run(store: &Store, args: ExportsArgs) -> anyhow::Result<()> {
    let session = acting_session(store).await?;
    match args.command {
        ExportsCmd::Rules => {
            println!("{:<8} {:<9} daily limit", "role", "right");
            for r in patron_app::exports::rules(store).await.map_err(app)? {
                print_rule(&r);
            }
        }
        ExportsCmd::SetRule {
            role,
            right,
            daily,
            no_limit,
        } => {
            let role = Role::parse(role.trim())
                .with_context(|| format!("unknown role '{role}' (admin, manager, rep, analyst)"))?;
            let right = ExportRight::parse(&right)
                .with_context(|| format!("--right: '{right}' is not none, own or approval"))?;
            if daily.is_none() && !no_limit {
                bail!("--daily N or --no-limit: say how many rows a day need no approval");
            }
            let rule = ExportRule {
                role,
                right,
                daily_rows: daily,
            };
            patron_app::exports::set_rule(store, &session, rule, " (cli)")
                .await
                .map_err(app)?;
            print_rule(&rule);
        }
        ExportsCmd::Requests { mine } => {
            let list = if mine {
                patron_app::exports::mine(store, &session).await
            } else {
                patron_app::exports::queue(store, &session).await
            }
            .map_err(app)?;
            if list.is_empty() {
                println!("no export requests");
            }
            for r in list {
                println!(
                    "{:>5}  {:<16}  {:<8}  {:>7} rows  {}  {}  reason: {}{}",
                    r.id,
                    crate::terminal::safe(&r.username),
                    r.status,
                    r.row_count,
                    r.created_at.format("%Y-%m-%d %H:%M"),
                    crate::terminal::safe(if r.described.is_empty() {
                        "(all)"
                    } else {
                        &r.described
                    }),
                    crate::terminal::safe(&r.reason),
                    match &r.decision_reason {
                        Some(d) => format!("; decision: {}", crate::terminal::safe(d)),
                        None => String::new(),
                    }
                );
            }
        }
        ExportsCmd::Approve { id, reason } => {
            let r =
                patron_app::exports::decide(store, &session, id, true, reason.as_deref(), " (cli)")
                    .await
                    .map_err(app)?;
            println!(
                "export request {id} of {} approved; they may download it once until {}",
                r.username,
                r.expires_at.map(|e| e.to_rfc3339()).unwrap_or_default()
            );
        }
        ExportsCmd::Refuse { id, reason } => {
            let r =
                patron_app::exports::decide(store, &session, id, false, Some(&reason), " (cli)")
                    .await
                    .map_err(app)?;
            println!("export request {id} of {} refused", r.username);
        }
        ExportsCmd::Download { id, output } => {
            let (r, file) = patron_app::exports::download(store, &session, id)
                .await
                .map_err(app)?;
            match &output {
                Some(p) => std::fs::write(p, &file)
                    .with_context(|| format!("cannot write {}", p.display()))?,
                None => {
                    use std::io::Write;
                    std::io::stdout().lock().write_all(&file)?;
                }
            }
            eprintln!(
                "export request {} downloaded ({} bytes); it cannot be fetched again",
                r.id,
                file.len()
            );
        }
        ExportsCmd::Handovers { today } => {
            let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let done = patron_app::exports::run_leaving_handovers(store, today)
                .await
                .map_err(app)?;
            if done.is_empty() {
                println!("no leaving user is due");
            }
            for d in done {
                println!(
                    "{} customers of {} handed over to {}",
                    d.customers,
                    crate::terminal::safe(&d.from),
                    crate::terminal::safe(&d.to)
                );
            }
        }
    }
    Ok(())
}

/// `patron user leaving LOGIN --on DATE --to USER` (or `--clear`).
pub async fn leaving(
    store: &Store,
    username: &str,
    on: Option<chrono::NaiveDate>,
    to: Option<&str>,
    clear: bool,
) -> anyhow::Result<()> {
    let session = acting_session(store).await?;
    let user = store
        .user_by_name(username)
        .await
        .with_context(|| format!("no user named '{username}'"))?;
    let leaving = if clear {
        None
    } else {
        let on = on.context("--on DATE: the day the user leaves (YYYY-MM-DD)")?;
        let to = to.context("--to USER: who receives their customers that day")?;
        let receiver = store
            .user_by_name(to)
            .await
            .with_context(|| format!("--to: no user named '{to}'"))?;
        Some((on, receiver.id))
    };
    patron_app::exports::mark_leaving(store, &session, user.id, leaving, " (cli)")
        .await
        .map_err(app)?;
    match leaving {
        Some((on, _)) => println!(
            "{username} leaves on {on}: from now on their exports need approval; their customers go to {} that day",
            to.unwrap_or_default()
        ),
        None => println!("{username} is no longer leaving"),
    }
    Ok(())
}
