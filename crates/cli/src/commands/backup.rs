//! `patron backup`, `patron restore` and `patron check`.
//!
//! A backup is two files: `FILE`, the copy itself (SQLite: a database file written by
//! `VACUUM INTO`, consistent while other connections write; PostgreSQL: `pg_dump`'s output in
//! its custom or plain format), and `FILE.manifest.json` next to it, with the copy's SHA-256,
//! its size, the backend and format, and the schema version (the latest migration applied).
//! `patron restore FILE` checks the checksum first and restores into an empty database only.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};
use patron_store::{backend_of, inspect, known_schema_version, BackendKind, Store};
use sha2::{Digest, Sha256};

/// `patron backup FILE`.
#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// Where to write the backup (it must not exist); the manifest goes to FILE.manifest.json.
    pub file: PathBuf,
    /// PostgreSQL only: pg_dump's format, custom (restored with pg_restore) or plain SQL (psql).
    #[arg(long, value_enum, default_value = "custom")]
    pub format: DumpFormat,
}

/// `patron restore FILE`.
#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// A backup written by `patron backup` (its FILE.manifest.json must be next to it).
    pub file: PathBuf,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpFormat {
    Custom,
    Plain,
}

const MANIFEST_KIND: &str = "patron backup";

fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// A path next to `file` for writing it before it is complete.
fn partial_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

fn backend_name(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "sqlite",
        BackendKind::Postgres => "postgres",
    }
}

/// The database named for messages: a PostgreSQL URL without its password.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() && backend_of(url) == BackendKind::Postgres => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_string(),
    }
}

/// The SHA-256 (hex) and size of a file.
fn sha256_file(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut f =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    let hex = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok((hex, n))
}

/// Flushes a finished file to disk and moves it to its final name.
fn finish(partial: &Path, file: &Path) -> anyhow::Result<()> {
    std::fs::File::open(partial)?.sync_all()?;
    std::fs::rename(partial, file)
        .with_context(|| format!("cannot move {} to {}", partial.display(), file.display()))?;
    Ok(())
}

/// A PostgreSQL client tool (`pg_dump`, `pg_restore`, `psql`) on PATH.
fn pg_tool(name: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            anyhow!(
                "{name} was not found on PATH: install the PostgreSQL client tools (Debian: \
                 apt-get install postgresql-client) of the server's major version or newer"
            )
        })
}

/// Decodes a URL's `%XX` escapes (a password in a URL has its special characters escaped).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs a PostgreSQL client tool on `url`: the password, if any, goes in PGPASSWORD rather than
/// on the command line (where other users could see it).
fn run_pg_tool(name: &str, url: &str, args: &[&std::ffi::OsStr]) -> anyhow::Result<()> {
    let tool = pg_tool(name)?;
    let mut cmd = Command::new(&tool);
    let mut target = url::Url::parse(url).context("bad PostgreSQL URL")?;
    if let Some(p) = target.password() {
        cmd.env("PGPASSWORD", percent_decode(p));
        let _ = target.set_password(None);
    }
    cmd.arg(format!("--dbname={target}"))
        .args(args)
        .stdin(std::process::Stdio::null());
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {}", tool.display()))?;
    if !out.status.success() {
        bail!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

pub async fn backup(url: &str, args: BackupArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let manifest = manifest_path(file);
    for p in [file, &manifest] {
        if p.exists() {
            bail!(
                "{} already exists: a backup never overwrites a file; choose a new name",
                p.display()
            );
        }
    }
    let state = inspect(url).await?;
    if !state.exists || state.is_empty() {
        bail!("there is no database at '{}' to back up", shown(url));
    }
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening database '{}'", shown(url)))?;
    let version = store.schema_version().await?;
    let partial = partial_path(file);
    let _ = std::fs::remove_file(&partial); // left by an interrupted backup
    let started = chrono::Utc::now();
    let format = match store.kind() {
        BackendKind::Sqlite => {
            store
                .backup_sqlite(&partial)
                .await
                .with_context(|| format!("writing {}", partial.display()))?;
            "sqlite"
        }
        BackendKind::Postgres => {
            let format = match args.format {
                DumpFormat::Custom => "custom",
                DumpFormat::Plain => "plain",
            };
            let fmt_arg = format!("--format={format}");
            let mut file_arg = std::ffi::OsString::from("--file=");
            file_arg.push(&partial);
            run_pg_tool(
                "pg_dump",
                url,
                &[
                    fmt_arg.as_ref(),
                    "--no-owner".as_ref(),
                    "--no-privileges".as_ref(),
                    &file_arg,
                ],
            )?;
            format
        }
    };
    store.close().await;
    let (sha256, bytes) = sha256_file(&partial)?;
    finish(&partial, file)?;
    let body = serde_json::json!({
        "kind": MANIFEST_KIND,
        "backend": backend_name(backend_of(url)),
        "format": format,
        "schema_version": version,
        "sha256": sha256,
        "bytes": bytes,
        "started_at": started.to_rfc3339(),
        "patron_version": env!("CARGO_PKG_VERSION"),
    });
    let partial_manifest = partial_path(&manifest);
    std::fs::write(
        &partial_manifest,
        serde_json::to_string_pretty(&body)? + "\n",
    )
    .with_context(|| format!("cannot write {}", partial_manifest.display()))?;
    finish(&partial_manifest, &manifest)?;
    println!(
        "backed up {} (schema version {version}) to {}: {bytes} bytes, sha256 {sha256}; \
         manifest {}",
        shown(url),
        file.display(),
        manifest.display()
    );
    Ok(())
}

/// What a manifest says about its backup.
struct Manifest {
    backend: BackendKind,
    format: String,
    schema_version: i64,
    sha256: String,
    bytes: u64,
}

fn read_manifest(file: &Path) -> anyhow::Result<Manifest> {
    let path = manifest_path(file);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        anyhow!(
            "cannot read {}: {e}; `patron restore` needs the manifest `patron backup` writes \
             next to the backup",
            path.display()
        )
    })?;
    let bad = |what: &str| {
        anyhow!(
            "{}: {what}; is it a patron backup manifest?",
            path.display()
        )
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(&format!("not JSON ({e})")))?;
    if v["kind"] != MANIFEST_KIND {
        return Err(bad("field kind is not \"patron backup\""));
    }
    let text_of = |k: &str| {
        v[k].as_str()
            .map(str::to_string)
            .ok_or_else(|| bad(&format!("field {k} is missing")))
    };
    let backend = match text_of("backend")?.as_str() {
        "sqlite" => BackendKind::Sqlite,
        "postgres" => BackendKind::Postgres,
        other => return Err(bad(&format!("field backend: unknown backend '{other}'"))),
    };
    Ok(Manifest {
        backend,
        format: text_of("format")?,
        schema_version: v["schema_version"]
            .as_i64()
            .ok_or_else(|| bad("field schema_version is missing"))?,
        sha256: text_of("sha256")?,
        bytes: v["bytes"]
            .as_u64()
            .ok_or_else(|| bad("field bytes is missing"))?,
    })
}

pub async fn restore(url: &str, args: RestoreArgs) -> anyhow::Result<()> {
    let file = &args.file;
    let m = read_manifest(file)?;
    let (sha256, bytes) = sha256_file(file)?;
    if sha256 != m.sha256 || bytes != m.bytes {
        bail!(
            "{}: checksum mismatch (sha256 {sha256}, {bytes} bytes; the manifest says {}, {} \
             bytes): the backup is damaged or was changed. Nothing was restored.",
            file.display(),
            m.sha256,
            m.bytes
        );
    }
    let kind = backend_of(url);
    if kind != m.backend {
        bail!(
            "{} is a {} backup and cannot be restored into a {} database",
            file.display(),
            backend_name(m.backend),
            backend_name(kind)
        );
    }
    let ours = known_schema_version(kind);
    if m.schema_version > ours {
        bail!(
            "{} holds schema version {}, newer than this patron binary's (version {ours}): \
             restore it with the release that wrote it, or a newer one",
            file.display(),
            m.schema_version
        );
    }
    let state = inspect(url).await?;
    if !state.is_empty() {
        bail!(
            "the database '{}' is not empty (it holds {} objects: {}{}): restore only into an \
             empty database. Name a new SQLite file, or create a new PostgreSQL database \
             (createdb), and restore into that.",
            shown(url),
            state.objects.len(),
            state
                .objects
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            if state.objects.len() > 5 { ", ..." } else { "" }
        );
    }
    match kind {
        BackendKind::Sqlite => {
            let path = Path::new(
                url.strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .unwrap_or(url),
            );
            // An empty file (or the WAL of one) is replaced; anything else was refused above.
            let partial = partial_path(path);
            std::fs::copy(file, &partial)
                .with_context(|| format!("cannot write {}", partial.display()))?;
            for suffix in ["-wal", "-shm"] {
                let mut p = path.as_os_str().to_owned();
                p.push(suffix);
                let _ = std::fs::remove_file(PathBuf::from(p));
            }
            finish(&partial, path)?;
        }
        BackendKind::Postgres => {
            let file_arg = file.as_os_str();
            let result = if m.format == "plain" {
                run_pg_tool(
                    "psql",
                    url,
                    &[
                        "--no-psqlrc".as_ref(),
                        "--quiet".as_ref(),
                        "--set=ON_ERROR_STOP=1".as_ref(),
                        "--single-transaction".as_ref(),
                        "--file".as_ref(),
                        file_arg,
                    ],
                )
            } else {
                run_pg_tool(
                    "pg_restore",
                    url,
                    &[
                        "--no-owner".as_ref(),
                        "--no-privileges".as_ref(),
                        "--exit-on-error".as_ref(),
                        "--single-transaction".as_ref(),
                        file_arg,
                    ],
                )
            };
            result.context("nothing was restored (the restore runs in one transaction)")?;
        }
    }
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening the restored database '{}'", shown(url)))?;
    let version = store.schema_version().await?;
    let (customers, lines, interactions) = store.counts().await?;
    store.close().await;
    println!(
        "restored {} into {} (schema version {version}): {customers} customers, {lines} order \
         lines, {interactions} interactions; run `patron check` to verify it",
        file.display(),
        shown(url)
    );
    Ok(())
}

pub async fn check(url: &str) -> anyhow::Result<()> {
    let state = inspect(url).await?;
    if !state.exists || state.is_empty() {
        bail!("there is no database at '{}' to check", shown(url));
    }
    let store = Store::connect(url)
        .await
        .with_context(|| format!("opening database '{}'", shown(url)))?;
    let findings = store.check().await?;
    store.close().await;
    for f in &findings {
        let mark = if f.ok { "ok     " } else { "PROBLEM" };
        println!("{mark}  {}", f.text);
    }
    let problems = findings.iter().filter(|f| !f.ok).count();
    if problems > 0 {
        bail!(
            "{problems} problem{} found in {}",
            if problems == 1 { "" } else { "s" },
            shown(url)
        );
    }
    println!("the database {} is sound", shown(url));
    Ok(())
}
