//! `patron user`, `patron token`, `patron audit`, `patron pool`: custody of customer data from
//! the command line. Whoever runs these has the database itself; what they do is audited under
//! the operator's name ([`operator`]: `--as USER`, else `cli:<OS user>`).

use std::io::{BufRead, Write};

use anyhow::{bail, Context};
use clap::Subcommand;
use patron_store::{Actor, AuditFilter, DataScope, NewUser, Role, Store};

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Add a user (password from a prompt, or one line of standard input with --password-stdin).
    Add {
        username: String,
        /// admin, manager, rep or analyst.
        #[arg(long, default_value = "rep")]
        role: String,
        /// Data scope instead of the role's default: own, subordinates, department,
        /// department_tree, all, none.
        #[arg(long)]
        scope: Option<String>,
        /// Department (created when missing).
        #[arg(long)]
        department: Option<String>,
        /// Parent of the department when it is created.
        #[arg(long)]
        parent_department: Option<String>,
        /// The user's manager (user name).
        #[arg(long)]
        manager: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Disable a user (ends their sessions, revokes their tokens).
    Disable { username: String },
    /// Enable a disabled user again.
    Enable { username: String },
    /// Set a user's password.
    Passwd {
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Change a user's role (and scope); audited as a role change.
    Role {
        username: String,
        role: String,
        #[arg(long)]
        scope: Option<String>,
    },
    /// Mark a user as leaving on a day: their exports need approval from now on, and their
    /// customers go to --to that day (`patron serve`, or `patron exports handovers`).
    Leaving {
        username: String,
        /// The leaving day (YYYY-MM-DD).
        #[arg(long, required_unless_present = "clear")]
        on: Option<chrono::NaiveDate>,
        /// Who receives their customers.
        #[arg(long, required_unless_present = "clear")]
        to: Option<String>,
        /// No longer leaving.
        #[arg(long, conflicts_with_all = ["on", "to"])]
        clear: bool,
    },
    /// Hand all customers of FROM (or --customer ids) over to TO, history kept, audited.
    Handover {
        from: String,
        to: String,
        #[arg(long = "customer")]
        customers: Vec<i64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Create an API token for a user; the secret is printed once.
    Create {
        username: String,
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// List tokens (of one user, or all).
    List { username: Option<String> },
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Subcommand, Debug)]
pub enum PoolCmd {
    /// Return idle customers to the public pool (no order or interaction for N days, N per
    /// value grade).
    Reclaim {
        /// Apply the rules as of this day (YYYY-MM-DD; default today).
        #[arg(long)]
        today: Option<chrono::NaiveDate>,
        /// Only list the customers that would return; change nothing.
        #[arg(long)]
        preview: bool,
    },
    /// Show the pool's cap and reclaim days.
    Rules,
    /// Set the most customers one user may hold, or a grade's reclaim days (A..E, none).
    Set {
        /// `cap` or `reclaim_days.A` ... `reclaim_days.none`.
        key: String,
        value: i64,
    },
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<crate::commands::access::AuditCmd>,
    #[arg(long)]
    pub actor: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub customer: Option<i64>,
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Write CSV (standard output, or --output).
    #[arg(long)]
    pub csv: bool,
    #[arg(long, short = 'o')]
    pub output: Option<std::path::PathBuf>,
}

pub fn cli_actor() -> Actor {
    cli_session().actor
}

/// The command-line operator: sees everything, recorded under [`operator`].
pub fn cli_session() -> patron_app::Session {
    patron_app::Session::unrestricted(&operator())
}

static OPERATOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the operator of this run (once, before any command): `--as USER` (or `PATRON_AS`) as
/// given, else `cli:<login name>` of the operating-system user ($USER, $LOGNAME, else
/// `id -un`). Refuses to go on without a name rather than record a generic one.
pub fn set_operator(given: Option<&str>) -> anyhow::Result<()> {
    let name = match given.map(str::trim) {
        Some("") => bail!("--as: name the operator (a user name)"),
        Some(n) if n.chars().any(char::is_control) || n.chars().count() > 100 => {
            bail!("--as: a user name of at most 100 characters without control characters")
        }
        Some(n) => n.to_string(),
        None => format!(
            "cli:{}",
            os_user().context(
                "cannot tell who runs patron: name yourself with --as USER (or PATRON_AS)"
            )?
        ),
    };
    let _ = OPERATOR.set(name);
    Ok(())
}

/// The login name of the operating-system user running the command.
fn os_user() -> Option<String> {
    let ok = |s: String| {
        let s = s.trim().to_string();
        (!s.is_empty() && !s.chars().any(char::is_control)).then_some(s)
    };
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().and_then(ok))
        .or_else(|| {
            let out = std::process::Command::new("id").arg("-un").output().ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
                .and_then(ok)
        })
}

/// The name the audit log and the history give to this run's operator (see [`set_operator`]).
pub fn operator() -> String {
    OPERATOR
        .get()
        .cloned()
        .or_else(|| os_user().map(|u| format!("cli:{u}")))
        .unwrap_or_else(|| "cli:unknown".into())
}

fn parse_role(s: &str) -> anyhow::Result<Role> {
    Role::parse(s).with_context(|| format!("unknown role '{s}' (admin, manager, rep, analyst)"))
}

fn parse_scope(s: Option<&str>) -> anyhow::Result<Option<DataScope>> {
    s.map(|s| {
        DataScope::parse(s)
            .with_context(|| format!("unknown scope '{s}' ({})", DataScope::NAMES.join(", ")))
    })
    .transpose()
}

fn read_password(stdin: bool) -> anyhow::Result<String> {
    let mut line = String::new();
    if stdin {
        std::io::stdin().lock().read_line(&mut line)?;
    } else {
        // From the terminal, without echo; asked twice so that a typo does not lock anyone out.
        let ask = |prompt: &str| {
            rpassword::prompt_password(prompt).context(
                "cannot read a password from the terminal; pipe it in with --password-stdin",
            )
        };
        line = ask("password: ")?;
        if ask("password again: ")? != line {
            anyhow::bail!("the two passwords differ; nothing was changed");
        }
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub async fn user(store: &Store, cmd: UserCmd) -> anyhow::Result<()> {
    let actor = cli_actor();
    match cmd {
        UserCmd::Add {
            username,
            role,
            scope,
            department,
            parent_department,
            manager,
            display_name,
            password_stdin,
        } => {
            let role = parse_role(&role)?;
            let scope = parse_scope(scope.as_deref())?;
            let department_id = match department {
                None => None,
                Some(d) => Some(match store.department_by_name(&d).await {
                    Ok(d) => d.id,
                    Err(_) => {
                        let parent = match parent_department {
                            Some(p) => Some(store.department_by_name(&p).await?.id),
                            None => None,
                        };
                        store.create_department(&d, parent).await?.id
                    }
                }),
            };
            let manager_id = match manager {
                Some(m) => Some(store.user_by_name(&m).await?.id),
                None => None,
            };
            let password = read_password(password_stdin)?;
            let u = store
                .create_user(&NewUser {
                    username,
                    display_name,
                    role: Some(role),
                    scope,
                    department_id,
                    manager_id,
                    password: Some(password),
                })
                .await?;
            store
                .audit(
                    &actor,
                    "user_add",
                    None,
                    Some(&format!("{} ({})", u.username, u.role.as_str())),
                    None,
                )
                .await?;
            println!(
                "user {} added (id {}, role {}, scope {})",
                u.username,
                u.id,
                u.role.as_str(),
                u.scope.as_str()
            );
        }
        UserCmd::List => {
            // Departments and managers by name (the ids mean nothing to the reader).
            let users = store.users().await?;
            let departments: std::collections::HashMap<i64, String> = store
                .departments()
                .await?
                .into_iter()
                .map(|d| (d.id, d.name))
                .collect();
            let names: std::collections::HashMap<i64, &str> =
                users.iter().map(|u| (u.id, u.username.as_str())).collect();
            println!(
                "{:>5}  {:<20} {:<8} {:<16} {:<16} {:<16} state",
                "id", "username", "role", "scope", "department", "manager"
            );
            for u in &users {
                println!(
                    "{:>5}  {:<20} {:<8} {:<16} {:<16} {:<16} {}",
                    u.id,
                    crate::terminal::safe(&u.username),
                    u.role.as_str(),
                    u.scope.as_str(),
                    crate::terminal::safe(
                        u.department_id
                            .and_then(|d| departments.get(&d))
                            .map_or("", String::as_str)
                    ),
                    crate::terminal::safe(
                        u.manager_id
                            .and_then(|m| names.get(&m).copied())
                            .unwrap_or("")
                    ),
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UserCmd::Disable { username } => {
            let u = store.user_by_name(&username).await?;
            store.set_disabled(u.id, true).await?;
            store
                .audit(&actor, "user_disable", None, Some(&username), None)
                .await?;
            let n = store.owned_count(u.id).await?;
            println!("user {username} disabled; they own {n} customers (hand them over with `patron user handover {username} OTHER`)");
        }
        UserCmd::Enable { username } => {
            let u = store.user_by_name(&username).await?;
            store.set_disabled(u.id, false).await?;
            store
                .audit(&actor, "user_enable", None, Some(&username), None)
                .await?;
            println!("user {username} enabled");
        }
        UserCmd::Passwd {
            username,
            password_stdin,
        } => {
            let u = store.user_by_name(&username).await?;
            let p = read_password(password_stdin)?;
            store.set_password(u.id, &p).await?;
            store
                .audit(&actor, "password_change", None, Some(&username), None)
                .await?;
            println!("password of {username} changed (their sessions ended)");
        }
        UserCmd::Role {
            username,
            role,
            scope,
        } => {
            let u = store.user_by_name(&username).await?;
            let role = parse_role(&role)?;
            let scope = parse_scope(scope.as_deref())?;
            let n = store
                .set_role(u.id, role, scope, u.department_id, u.manager_id)
                .await?;
            let detail = format!(
                "{username}: {} / {} -> {} / {}",
                u.role.as_str(),
                u.scope.as_str(),
                n.role.as_str(),
                n.scope.as_str()
            );
            store
                .audit(&actor, "role_change", None, Some(&detail), None)
                .await?;
            println!("{detail}");
        }
        UserCmd::Leaving {
            username,
            on,
            to,
            clear,
        } => {
            super::exports::leaving(store, &username, on, to.as_deref(), clear).await?;
        }
        UserCmd::Handover {
            from,
            to,
            customers,
        } => {
            let f = store.user_by_name(&from).await?;
            let t = store.user_by_name(&to).await?;
            let only = (!customers.is_empty()).then_some(customers.as_slice());
            // As the operator (the new holder is told); the rows record the operator.
            let session = patron_app::Session {
                actor: actor.clone(),
                ..cli_session()
            };
            let moved = patron_app::custody::handover(store, &session, f.id, t.id, only)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{} customers handed over from {from} to {to}", moved.len());
        }
    }
    Ok(())
}

pub async fn token(store: &Store, cmd: TokenCmd) -> anyhow::Result<()> {
    let actor = cli_actor();
    match cmd {
        TokenCmd::Create { username, name } => {
            let u = store.user_by_name(&username).await?;
            let (t, secret) = store.create_token(u.id, &name).await?;
            store
                .audit(
                    &actor,
                    "token_create",
                    None,
                    Some(&format!("token {} of {username}", t.id)),
                    None,
                )
                .await?;
            eprintln!(
                "token {} for {username} (shown once; send it as Authorization: Bearer ...):",
                t.id
            );
            println!("{secret}");
        }
        TokenCmd::List { username } => {
            let uid = match username {
                Some(u) => Some(store.user_by_name(&u).await?.id),
                None => None,
            };
            for t in store.tokens(uid).await? {
                println!(
                    "{:>5}  user {:>5}  {:<20} {}...  created {}  {}",
                    t.id,
                    t.user_id,
                    t.name,
                    t.prefix,
                    t.created_at.format("%Y-%m-%d %H:%M"),
                    if t.revoked_at.is_some() {
                        "revoked"
                    } else {
                        "active"
                    }
                );
            }
        }
        TokenCmd::Revoke { id } => {
            store.revoke_token(id, None).await?;
            store
                .audit(
                    &actor,
                    "token_revoke",
                    None,
                    Some(&format!("token {id}")),
                    None,
                )
                .await?;
            println!("token {id} revoked");
        }
    }
    Ok(())
}

pub async fn pool(store: &Store, cmd: PoolCmd) -> anyhow::Result<()> {
    match cmd {
        PoolCmd::Reclaim { today, preview } => {
            let today = today.unwrap_or_else(|| chrono::Utc::now().date_naive());
            let out =
                patron_app::pool::reclaim_as_of(store, &cli_session(), today, preview).await?;
            let verb = if preview { "would return" } else { "returned" };
            for r in &out {
                println!(
                    "customer {} {verb} to the pool (owner {}, grade {}, idle {} days)",
                    r.customer_id,
                    r.owner_id,
                    r.grade.as_deref().unwrap_or("-"),
                    r.idle_days
                );
            }
            println!("{} customers {verb} to the pool", out.len());
        }
        PoolCmd::Rules => {
            let r = store.pool_rules().await?;
            println!("cap: {} customers per user", r.cap);
            for (g, d) in r.reclaim_days {
                println!("grade {g}: back to the pool after {d} idle days");
            }
        }
        PoolCmd::Set { key, value } => {
            let ok = key == "cap"
                || ["A", "B", "C", "D", "E", "none"]
                    .iter()
                    .any(|g| key == format!("reclaim_days.{g}"));
            if !ok || value < 0 {
                bail!("key must be cap or reclaim_days.A..E / reclaim_days.none, value >= 0");
            }
            store
                .set_setting(&format!("pool.{key}"), &value.to_string())
                .await?;
            println!("pool.{key} = {value}");
        }
    }
    Ok(())
}

pub async fn audit(store: &Store, a: AuditArgs) -> anyhow::Result<()> {
    if let Some(cmd) = a.command {
        return crate::commands::access::run(store, cmd).await;
    }
    let rows = store
        .audit_log(&AuditFilter {
            actor: a.actor,
            action: a.action,
            customer_id: a.customer,
            limit: a.limit,
            ..AuditFilter::default()
        })
        .await?;
    // The output first: an export that cannot be written is no export to record.
    let mut out: Box<dyn Write> = match &a.output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    store
        .audit(
            &cli_actor(),
            "export",
            None,
            Some("audit log"),
            Some(rows.len() as i64),
        )
        .await?;
    if a.csv {
        patron_exchange::write_audit_csv(out, &rows)?;
    } else {
        for r in rows {
            writeln!(
                out,
                "{:>6}  {}  {:<16} {:<13} {:>8}  {}{}",
                r.id,
                r.at.format("%Y-%m-%d %H:%M:%S"),
                crate::terminal::safe(&r.actor),
                r.action,
                r.customer_id.map(|v| v.to_string()).unwrap_or_default(),
                crate::terminal::safe(&r.detail.unwrap_or_default()),
                r.row_count
                    .map(|n| format!(" ({n} rows)"))
                    .unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// On a new database: creates `admin` and prints its one-time password (once; only the hash is
/// stored).
pub async fn announce_admin(store: &Store) -> anyhow::Result<()> {
    if let Some(password) = store.ensure_admin().await? {
        eprintln!();
        eprintln!("  A new database: user 'admin' was created with this one-time password");
        eprintln!("  (it is shown only now; change it with `patron user passwd admin`):");
        eprintln!();
        eprintln!("      admin / {password}");
        eprintln!();
    }
    Ok(())
}
