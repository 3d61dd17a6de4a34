//! The settings: flags > environment variables > the configuration file > built-in defaults.
//!
//! The file (TOML, every key optional) is read before the command line is parsed, and its values
//! become the defaults of the matching clap arguments, so clap's own order (flag, then `env`,
//! then default) gives the precedence. Settings that are no flag (log level and format, secure
//! cookies) are read here in the same order. `patron config show` prints the effective values
//! and where each came from ([`effective`]).
//!
//! ```toml
//! database = "postgres://patron:secret@127.0.0.1/patron"   # --database, DATABASE_URL
//! operator = "ops"             # --as, PATRON_AS (default: the operating-system user)
//! log = "info"                 # PATRON_LOG (a tracing filter)
//! log_format = "text"          # PATRON_LOG_FORMAT: text or json
//! secure_cookies = false       # PATRON_SECURE_COOKIES=1
//!
//! [serve]
//! addr = "127.0.0.1:8080"          # serve --addr, PATRON_ADDR
//! metrics_addr = "127.0.0.1:9184"  # serve --metrics-addr, PATRON_METRICS_ADDR
//! rules_every = 15                 # serve --rules-every (minutes), PATRON_RULES_EVERY
//! refresh_at = "02:00"             # serve --refresh-at (UTC, or "off"), PATRON_REFRESH_AT
//! currency = "CNY"                 # serve --currency, PATRON_CURRENCY
//!
//! [mail]                           # serve and `mail test`
//! smtp_url = "smtp://user:pass@mail.example:587"   # --smtp-url, PATRON_SMTP_URL
//! from = "Patron <crm@example.com>"                # --mail-from, PATRON_MAIL_FROM
//! per_minute = 60                                  # --mail-per-minute, PATRON_MAIL_PER_MINUTE
//! ```

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use serde::Deserialize;

use crate::cli::Cli;

/// The configuration file's contents.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    database: Option<String>,
    operator: Option<String>,
    log: Option<String>,
    log_format: Option<LogFormat>,
    secure_cookies: Option<bool>,
    #[serde(default)]
    serve: ServeConfig,
    #[serde(default)]
    mail: MailConfig,
}

/// The file's `[mail]` table (the SMTP settings of `serve` and `mail test`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MailConfig {
    smtp_url: Option<String>,
    from: Option<String>,
    per_minute: Option<u32>,
}

/// The file's `[serve]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServeConfig {
    addr: Option<SocketAddr>,
    metrics_addr: Option<SocketAddr>,
    rules_every: Option<u64>,
    refresh_at: Option<String>,
    currency: Option<String>,
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// Where the configuration file was named.
#[derive(Clone, Copy, Debug)]
enum FileOrigin {
    Flag,
    Env,
    DefaultLocation,
}

/// What was read at the start, for `config show`.
struct State {
    command: clap::Command,
    matches: ArgMatches,
    file: FileConfig,
    path: Option<(PathBuf, FileOrigin)>,
    /// `PATRON_SECURE_COOKIES` as the environment had it, before the file could set it.
    secure_cookies_env: Option<String>,
}

static STATE: OnceLock<State> = OnceLock::new();

/// Reads the configuration file, parses the command line with the file's values as defaults
/// (exiting on `--help`, `--version` and usage errors, as clap does) and sets the settings that
/// are environment variables only (`secure_cookies`). Call once, before any thread starts.
pub fn parse() -> anyhow::Result<Cli> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let path = config_path(&args)?;
    let file = match &path {
        Some((p, _)) => read(p)?,
        None => FileConfig::default(),
    };
    let command = with_file_defaults(Cli::command(), &file);
    let matches = command.clone().get_matches_from(&args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| {
        e.format(&mut command.clone()).exit();
    });
    let secure_cookies_env = std::env::var("PATRON_SECURE_COOKIES").ok();
    if secure_cookies_env.is_none() && file.secure_cookies == Some(true) {
        // The web pages read the variable; the file's value reaches them through it (set
        // before the runtime's threads start).
        std::env::set_var("PATRON_SECURE_COOKIES", "1");
    }
    let _ = STATE.set(State {
        command,
        matches,
        file,
        path,
        secure_cookies_env,
    });
    Ok(cli)
}

/// The configuration file named by `--config FILE` / `--config=FILE` (before a `--`), else by
/// `PATRON_CONFIG`, else the first of the default locations that exists.
fn config_path(args: &[OsString]) -> anyhow::Result<Option<(PathBuf, FileOrigin)>> {
    let mut named = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--" {
            break;
        } else if arg == "--config" {
            named = rest.next().map(PathBuf::from);
        } else if let Some(p) = arg.strip_prefix("--config=") {
            named = Some(PathBuf::from(p));
        }
    }
    let (path, origin, what) = match (named, std::env::var_os("PATRON_CONFIG")) {
        (Some(p), _) => (p, FileOrigin::Flag, "--config"),
        (None, Some(p)) if !p.is_empty() => (PathBuf::from(p), FileOrigin::Env, "PATRON_CONFIG"),
        _ => {
            return Ok(default_locations()
                .into_iter()
                .find(|p| p.is_file())
                .map(|p| (p, FileOrigin::DefaultLocation)))
        }
    };
    if !path.is_file() {
        anyhow::bail!("{what}: {}: no such file", path.display());
    }
    Ok(Some((path, origin)))
}

/// `$XDG_CONFIG_HOME/patron/patron.toml` (`~/.config` without it), then `/etc/patron/patron.toml`.
pub fn default_locations() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".config")));
    if let Some(dir) = xdg {
        paths.push(dir.join("patron").join("patron.toml"));
    }
    paths.push(PathBuf::from("/etc/patron/patron.toml"));
    paths
}

fn read(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let file: FileConfig = toml::from_str(&text)
        .map_err(|e| anyhow::anyhow!("configuration file {}: {e}", path.display()))?;
    if let Some(n) = file.serve.rules_every {
        if !(1..=10080).contains(&n) {
            anyhow::bail!(
                "configuration file {}: serve.rules_every: {n} is not in 1..=10080 (minutes)",
                path.display()
            );
        }
    }
    if let Some(at) = &file.serve.refresh_at {
        at.parse::<crate::serve::RefreshAt>().map_err(|e| {
            anyhow::anyhow!(
                "configuration file {}: serve.refresh_at: {e}",
                path.display()
            )
        })?;
    }
    if let Some(code) = &file.serve.currency {
        patron_domain::Currency::parse(code).map_err(|e| {
            anyhow::anyhow!("configuration file {}: serve.currency: {e}", path.display())
        })?;
    }
    if let Some(filter) = &file.log {
        tracing_subscriber::EnvFilter::try_new(filter)
            .map_err(|e| anyhow::anyhow!("configuration file {}: log: {e}", path.display()))?;
    }
    Ok(file)
}

/// The command table with the file's values as the defaults of their arguments.
fn with_file_defaults(mut command: clap::Command, file: &FileConfig) -> clap::Command {
    if let Some(db) = &file.database {
        command = command.mut_arg("database", |a| a.default_value(db.clone()));
    }
    if let Some(operator) = &file.operator {
        command = command.mut_arg("operator", |a| a.default_value(operator.clone()));
    }
    let serve = &file.serve;
    let defaults = [
        ("addr", serve.addr.map(|a| a.to_string())),
        ("metrics_addr", serve.metrics_addr.map(|a| a.to_string())),
        ("rules_every", serve.rules_every.map(|n| n.to_string())),
        ("refresh_at", serve.refresh_at.clone()),
        ("currency", serve.currency.clone()),
    ];
    for (id, value) in defaults {
        if let Some(value) = value {
            command =
                command.mut_subcommand("serve", |s| s.mut_arg(id, |a| a.default_value(value)));
        }
    }
    let mail = &file.mail;
    let defaults = [
        ("smtp_url", mail.smtp_url.clone()),
        ("mail_from", mail.from.clone()),
        ("mail_per_minute", mail.per_minute.map(|n| n.to_string())),
    ];
    for (id, value) in defaults {
        if let Some(value) = value {
            let v = value.clone();
            command = command
                .mut_subcommand("serve", |s| s.mut_arg(id, |a| a.default_value(v)))
                .mut_subcommand("mail", |m| {
                    m.mut_subcommand("test", |t| t.mut_arg(id, |a| a.default_value(value)))
                });
        }
    }
    command
}

/// The log filter and format: `PATRON_LOG` / `PATRON_LOG_FORMAT`, else the file's `log` /
/// `log_format`, else `info` and text. A bad value is an error naming its variable.
pub fn logging() -> anyhow::Result<(tracing_subscriber::EnvFilter, LogFormat)> {
    let file = STATE.get().map(|s| &s.file);
    let filter = match std::env::var("PATRON_LOG") {
        Ok(f) => tracing_subscriber::EnvFilter::try_new(&f)
            .map_err(|e| anyhow::anyhow!("PATRON_LOG: {e}"))?,
        Err(_) => tracing_subscriber::EnvFilter::try_new(
            file.and_then(|f| f.log.as_deref()).unwrap_or("info"),
        )?,
    };
    let format = match std::env::var("PATRON_LOG_FORMAT") {
        Ok(f) => parse_log_format(&f)?,
        Err(_) => file.and_then(|f| f.log_format).unwrap_or(LogFormat::Text),
    };
    Ok((filter, format))
}

fn parse_log_format(value: &str) -> anyhow::Result<LogFormat> {
    match value {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        other => anyhow::bail!("PATRON_LOG_FORMAT: expected text or json, got '{other}'"),
    }
}

/// One effective setting.
pub struct Setting {
    /// Its name in the configuration file (`serve.addr`; `serve.rules_every` is in minutes).
    pub key: &'static str,
    /// Its value, passwords masked; `(none)` when unset.
    pub value: String,
    /// Where it came from: `flag --x`, `environment X`, `file PATH` or `default`.
    pub source: String,
}

/// The configuration file in use and how it was found, if any.
pub fn file_in_use() -> Option<String> {
    let (path, origin) = STATE.get()?.path.as_ref()?;
    let how = match origin {
        FileOrigin::Flag => "--config",
        FileOrigin::Env => "PATRON_CONFIG",
        FileOrigin::DefaultLocation => "default location",
    };
    Some(format!("{} ({how})", path.display()))
}

/// Every setting as `patron serve` (or any command, for the global ones) would use it now, with
/// its source; database passwords masked.
pub fn effective() -> anyhow::Result<Vec<Setting>> {
    let state = STATE.get().context("the configuration was not read")?;
    let file_source = || {
        state
            .path
            .as_ref()
            .map_or("file".to_string(), |(p, _)| format!("file {}", p.display()))
    };
    let from = |matches: &ArgMatches, id: &str, flag: &str, env: Option<&str>, in_file: bool| {
        match matches.value_source(id) {
            Some(ValueSource::CommandLine) => format!("flag {flag}"),
            Some(ValueSource::EnvVariable) => format!("environment {}", env.unwrap_or("?")),
            Some(ValueSource::DefaultValue) if in_file => file_source(),
            _ => "default".to_string(),
        }
    };
    let mut out = Vec::new();
    let database = state
        .matches
        .get_one::<String>("database")
        .cloned()
        .unwrap_or_default();
    out.push(Setting {
        key: "database",
        value: mask_password(&database),
        source: from(
            &state.matches,
            "database",
            "--database",
            Some("DATABASE_URL"),
            state.file.database.is_some(),
        ),
    });
    out.push(Setting {
        key: "operator",
        value: show(state.matches.get_one::<String>("operator")),
        source: from(
            &state.matches,
            "operator",
            "--as",
            Some("PATRON_AS"),
            state.file.operator.is_some(),
        ),
    });
    // The serve settings as `patron serve` would take them now (environment, file, defaults).
    let serve = state
        .command
        .clone()
        .try_get_matches_from(["patron", "serve"])
        .map_err(|e| anyhow::anyhow!("{}", e.render()))?;
    let serve = serve.subcommand_matches("serve").context("serve matches")?;
    let file = &state.file.serve;
    out.push(Setting {
        key: "serve.addr",
        value: show(serve.get_one::<SocketAddr>("addr")),
        source: from(
            serve,
            "addr",
            "--addr",
            Some("PATRON_ADDR"),
            file.addr.is_some(),
        ),
    });
    out.push(Setting {
        key: "serve.metrics_addr",
        value: show(serve.get_one::<SocketAddr>("metrics_addr")),
        source: from(
            serve,
            "metrics_addr",
            "--metrics-addr",
            Some("PATRON_METRICS_ADDR"),
            file.metrics_addr.is_some(),
        ),
    });
    out.push(Setting {
        key: "serve.rules_every",
        value: show(serve.get_one::<u64>("rules_every")),
        source: from(
            serve,
            "rules_every",
            "--rules-every",
            Some("PATRON_RULES_EVERY"),
            file.rules_every.is_some(),
        ),
    });
    out.push(Setting {
        key: "serve.refresh_at",
        value: serve
            .get_one::<crate::serve::RefreshAt>("refresh_at")
            .map_or("(none)".to_string(), |at| {
                at.0.map_or("off".to_string(), |t| t.format("%H:%M").to_string())
            }),
        source: from(
            serve,
            "refresh_at",
            "--refresh-at",
            Some("PATRON_REFRESH_AT"),
            file.refresh_at.is_some(),
        ),
    });
    out.push(Setting {
        key: "serve.currency",
        value: serve
            .get_one::<patron_domain::Currency>("currency")
            .map_or("(the server locale's)".to_string(), |c| {
                c.code().to_string()
            }),
        source: from(
            serve,
            "currency",
            "--currency",
            Some("PATRON_CURRENCY"),
            file.currency.is_some(),
        ),
    });
    let mail = &state.file.mail;
    out.push(Setting {
        key: "mail.smtp_url",
        value: show(
            serve
                .get_one::<String>("smtp_url")
                .map(|u| mask_password(u))
                .as_ref(),
        ),
        source: from(
            serve,
            "smtp_url",
            "--smtp-url",
            Some("PATRON_SMTP_URL"),
            mail.smtp_url.is_some(),
        ),
    });
    out.push(Setting {
        key: "mail.from",
        value: show(serve.get_one::<String>("mail_from")),
        source: from(
            serve,
            "mail_from",
            "--mail-from",
            Some("PATRON_MAIL_FROM"),
            mail.from.is_some(),
        ),
    });
    out.push(Setting {
        key: "mail.per_minute",
        value: show(serve.get_one::<u32>("mail_per_minute")),
        source: from(
            serve,
            "mail_per_minute",
            "--mail-per-minute",
            Some("PATRON_MAIL_PER_MINUTE"),
            mail.per_minute.is_some(),
        ),
    });
    let by_env = |var: &str, value: Option<String>, in_file: Option<String>, default: &str| match (
        value, in_file,
    ) {
        (Some(v), _) => (v, format!("environment {var}")),
        (None, Some(v)) => (v, file_source()),
        (None, None) => (default.to_string(), "default".to_string()),
    };
    let (value, source) = by_env(
        "PATRON_LOG",
        std::env::var("PATRON_LOG").ok(),
        state.file.log.clone(),
        "info",
    );
    out.push(Setting {
        key: "log",
        value,
        source,
    });
    let (value, source) = by_env(
        "PATRON_LOG_FORMAT",
        std::env::var("PATRON_LOG_FORMAT").ok(),
        state
            .file
            .log_format
            .map(|f| format!("{f:?}").to_lowercase()),
        "text",
    );
    out.push(Setting {
        key: "log_format",
        value,
        source,
    });
    let (value, source) = by_env(
        "PATRON_SECURE_COOKIES",
        state
            .secure_cookies_env
            .as_ref()
            .map(|v| (v == "1").to_string()),
        state.file.secure_cookies.map(|b| b.to_string()),
        "false",
    );
    out.push(Setting {
        key: "secure_cookies",
        value,
        source,
    });
    Ok(out)
}

fn show<T: ToString>(value: Option<&T>) -> String {
    value.map_or("(none)".to_string(), |v| v.to_string())
}

/// `url` with the password of its user part and any `password=` parameter replaced by `****`.
pub fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:****@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=****"),
                    _ => kv.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://patron:s3cr@t@db.example:5432/patron"),
            "postgres://patron:****@db.example:5432/patron"
        );
        assert_eq!(
            mask_password("postgresql://db/patron?user=p&password=s3cret&sslmode=require"),
            "postgresql://db/patron?user=p&password=****&sslmode=require"
        );
        assert_eq!(
            mask_password("postgres://patron@db/patron"),
            "postgres://patron@db/patron"
        );
        assert_eq!(mask_password("patron.db"), "patron.db");
    }

    #[test]
    fn file_values_become_defaults() {
        let file: FileConfig =
            toml::from_str("database = \"f.db\"\n[serve]\naddr = \"127.0.0.1:7001\"\n").unwrap();
        let command = with_file_defaults(Cli::command(), &file);
        let m = command
            .clone()
            .try_get_matches_from(["patron", "serve"])
            .unwrap();
        assert_eq!(m.get_one::<String>("database").unwrap(), "f.db");
        let serve = m.subcommand_matches("serve").unwrap();
        assert_eq!(
            serve.get_one::<SocketAddr>("addr").unwrap().to_string(),
            "127.0.0.1:7001"
        );
        let m = command
            .try_get_matches_from([
                "patron",
                "--database",
                "x.db",
                "serve",
                "--addr",
                "127.0.0.1:7002",
            ])
            .unwrap();
        assert_eq!(m.get_one::<String>("database").unwrap(), "x.db");
        assert_eq!(
            m.subcommand_matches("serve")
                .unwrap()
                .get_one::<SocketAddr>("addr")
                .unwrap()
                .to_string(),
            "127.0.0.1:7002"
        );
    }

    #[test]
    fn every_file_key_reaches_its_argument() {
        let file: FileConfig = toml::from_str(
            "operator = \"ops\"\n[serve]\nmetrics_addr = \"127.0.0.1:9184\"\nrules_every = 7\n\
             refresh_at = \"off\"\n[mail]\nsmtp_url = \"smtp://h:25\"\nfrom = \"a@b.c\"\nper_minute = 9\n",
        )
        .unwrap();
        let command = with_file_defaults(Cli::command(), &file);
        let m = command
            .clone()
            .try_get_matches_from(["patron", "serve"])
            .unwrap();
        assert_eq!(m.get_one::<String>("operator").unwrap(), "ops");
        let serve = m.subcommand_matches("serve").unwrap();
        assert!(serve.get_one::<SocketAddr>("metrics_addr").is_some());
        assert_eq!(*serve.get_one::<u64>("rules_every").unwrap(), 7);
        assert_eq!(serve.get_one::<String>("smtp_url").unwrap(), "smtp://h:25");
        assert_eq!(*serve.get_one::<u32>("mail_per_minute").unwrap(), 9);
        let m = command
            .try_get_matches_from(["patron", "mail", "test", "x@y.z"])
            .unwrap();
        let test = m
            .subcommand_matches("mail")
            .and_then(|m| m.subcommand_matches("test"))
            .unwrap();
        assert_eq!(test.get_one::<String>("mail_from").unwrap(), "a@b.c");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patron.toml");
        for (text, names) in [
            ("databse = \"x\"\n", "databse"),
            ("[serve]\naddr = \"nowhere\"\n", "addr"),
            ("log_format = \"xml\"\n", "log_format"),
            ("[serve]\nrules_every = 0\n", "serve.rules_every"),
            ("[serve]\nrefresh_at = \"25:00\"\n", "serve.refresh_at"),
        ] {
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", read(&path).unwrap_err());
            assert!(e.contains(names), "{text}: {e}");
        }
    }
}
