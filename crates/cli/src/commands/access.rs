//! `patron audit report|unusual|review|watch`: the evidence report of one user's views and
//! exports, the unusual-access alerts, their review and their settings, through
//! `patron_app::access` as the command-line operator (an administrator; audited under the
//! operator's name).

use std::io::Write;

use anyhow::{bail, Context};
use clap::Subcommand;
use patron_store::Store;

use crate::commands::custody::cli_session;

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Everything one user viewed, listed and exported over a period (UTC days): counts per
    /// day, the customers viewed, the exports.
    Report {
        /// The user's name.
        #[arg(long)]
        user: String,
        /// First day (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day (YYYY-MM-DD; default: the first).
        #[arg(long)]
        to: Option<String>,
        /// Write CSV (one table; each line names its section: day, customer, export).
        #[arg(long)]
        csv: bool,
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// The unusual-access alerts, newest first.
    Unusual {
        /// Only those not reviewed yet.
        #[arg(long)]
        open: bool,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
    /// Mark an unusual-access alert reviewed (the user's exports, if it suspended them, are
    /// allowed again).
    Review { id: i64 },
    /// Show the unusual-access settings, or change them.
    Watch {
        /// An hour is unusual above this multiple of the user's usual level (default 5).
        #[arg(long)]
        multiple: Option<f64>,
        /// The usual level is the median of the user's active hours over this many days
        /// (default 14).
        #[arg(long)]
        baseline_days: Option<i64>,
        /// Suspend the user's exports on an alert until reviewed: yes or no (default no).
        #[arg(long)]
        suspend_exports: Option<String>,
        /// The count an hour must also reach, per kind: KIND=N (view, foreign, search, list,
        /// export); repeat for several.
        #[arg(long = "floor", value_name = "KIND=N")]
        floors: Vec<String>,
    },
}

pub async fn run(store: &Store, cmd: AuditCmd) -> anyhow::Result<()> {
    let me = cli_session();
    match cmd {
        AuditCmd::Report {
            user,
            from,
            to,
            csv,
            output,
        } => {
            let from = patron_app::access::parse_day("--from", &from)?;
            let to = match to {
                Some(t) => patron_app::access::parse_day("--to", &t)?,
                None => from,
            };
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?,
                ),
                None => Box::new(std::io::stdout().lock()),
            };
            if csv {
                let (_, bytes) =
                    patron_app::access::evidence_csv(store, &me, &user, from, to).await?;
                out.write_all(&bytes)?;
            } else {
                let r = patron_app::access::evidence(store, &me, &user, from, to).await?;
                let safe = crate::terminal::safe;
                writeln!(
                    out,
                    "Evidence report: {} from {} to {}",
                    safe(&r.username),
                    r.from,
                    r.to
                )?;
                writeln!(
                    out,
                    "\nday          views  customers  list pages  exports  rows"
                )?;
                for d in &r.days {
                    writeln!(
                        out,
                        "{}  {:>6}  {:>9}  {:>10}  {:>7}  {:>4}",
                        d.day, d.views, d.customers, d.list_pages, d.exports, d.rows
                    )?;
                }
                writeln!(out, "in all       {:>6}", r.views())?;
                writeln!(out, "\n{} customers viewed:", r.customers.len())?;
                for c in &r.customers {
                    writeln!(
                        out,
                        "  {:<12} {:<40} {:>5} views  {} .. {}",
                        safe(c.number.as_deref().unwrap_or("-")),
                        safe(c.name.as_deref().unwrap_or("(purged)")),
                        c.views,
                        c.first.format("%Y-%m-%d %H:%M"),
                        c.last.format("%Y-%m-%d %H:%M")
                    )?;
                }
                writeln!(out, "\n{} exports:", r.exports.len())?;
                for e in &r.exports {
                    writeln!(
                        out,
                        "  {}  {}{}",
                        e.at.format("%Y-%m-%d %H:%M:%S"),
                        safe(&e.detail),
                        e.rows.map(|n| format!(" ({n} rows)")).unwrap_or_default()
                    )?;
                }
            }
            out.flush()?;
        }
        AuditCmd::Unusual { open, limit } => {
            let alerts = patron_app::access::alerts(store, &me, open, limit).await?;
            if alerts.is_empty() {
                println!("no unusual access");
            }
            for a in alerts {
                println!(
                    "{:>5}  {}  {:<16} {:<8} {:>6} (now {}, usual {}, alert above {}){}  {}",
                    a.id,
                    patron_app::access::hour_text(a.hour),
                    crate::terminal::safe(&a.username),
                    a.kind,
                    a.n,
                    a.n_now,
                    patron_app::access::usual_text(a.usual),
                    a.threshold,
                    if a.suspended {
                        ", exports suspended"
                    } else {
                        ""
                    },
                    match &a.reviewed_by {
                        Some(by) => format!("reviewed by {}", crate::terminal::safe(by)),
                        None => "open".into(),
                    }
                );
            }
        }
        AuditCmd::Review { id } => {
            let a = patron_app::access::review(store, &me, id, " (cli)").await?;
            println!(
                "alert {} of {} reviewed",
                a.id,
                crate::terminal::safe(&a.username)
            );
        }
        AuditCmd::Watch {
            multiple,
            baseline_days,
            suspend_exports,
            floors,
        } => {
            let mut w = patron_app::access::watch(store, &me).await?;
            let changed = multiple.is_some()
                || baseline_days.is_some()
                || suspend_exports.is_some()
                || !floors.is_empty();
            if let Some(m) = multiple {
                w.multiple = m;
            }
            if let Some(d) = baseline_days {
                w.baseline_days = d;
            }
            if let Some(s) = suspend_exports {
                w.suspend_exports = match s.trim() {
                    "yes" => true,
                    "no" => false,
                    _ => bail!("--suspend-exports: yes or no"),
                };
            }
            for f in floors {
                let Some((k, n)) = f.split_once('=') else {
                    bail!("--floor: KIND=N, e.g. view=100");
                };
                let n: i64 = n
                    .trim()
                    .parse()
                    .with_context(|| format!("--floor {k}: a whole number"))?;
                w.floors.insert(k.trim().to_string(), n);
            }
            if changed {
                w = patron_app::access::set_watch(store, &me, &w, " (cli)").await?;
            }
            println!("multiple of the usual level: {}", w.multiple);
            println!("baseline: {} days", w.baseline_days);
            println!(
                "suspend exports on an alert: {}",
                if w.suspend_exports { "yes" } else { "no" }
            );
            for (k, f) in &w.floors {
                println!("floor {k}: {f} an hour");
            }
        }
    }
    Ok(())
}
