//! `patron demo`: a fresh database with the real CDNOW transactions, served on loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use patron_exchange::{Entity, ImportOptions, InputFormat};

use super::transfer::{import_with_progress, print_report};

/// The CDNOW master file (`data/CDNOW_master.txt`), gzip-compressed by `build.rs`: the demo
/// needs no source tree.
const EMBEDDED_SAMPLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/CDNOW_master.txt.gz"));

/// The embedded sample, decompressed into a temporary file (removed when dropped).
fn embedded_sample() -> anyhow::Result<tempfile::NamedTempFile> {
    let mut file = tempfile::Builder::new()
        .prefix("patron-cdnow-")
        .suffix(".txt")
        .tempfile()
        .context("creating a temporary file for the built-in CDNOW sample")?;
    std::io::copy(
        &mut flate2::read::GzDecoder::new(EMBEDDED_SAMPLE),
        file.as_file_mut(),
    )
    .context("decompressing the built-in CDNOW sample")?;
    Ok(file)
}

/// Rebuilds the demo database from `orders` (a CDNOW master file; the built-in copy when
/// `None`) and serves it on `addr` unless `no_serve`.
pub async fn run(
    db: &Path,
    orders: Option<&Path>,
    addr: SocketAddr,
    no_serve: bool,
) -> anyhow::Result<()> {
    let mut sample = None;
    let (orders, shown) = match orders {
        Some(orders) if !orders.exists() => {
            anyhow::bail!("--orders: {} not found", orders.display())
        }
        Some(orders) => (orders, orders.display().to_string()),
        None => (
            sample.insert(embedded_sample()?).path(),
            "the CDNOW sample built into patron".to_string(),
        ),
    };
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", db.display());
        if Path::new(&p).exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the old demo database {p}"))?;
        }
    }
    let store = super::open(&db.to_string_lossy()).await?;
    eprintln!(
        "loading the CDNOW transactions ({shown}) into {}",
        db.display()
    );
    // The demo firm's generated profiles first, so that the orders find their customers.
    let started = Instant::now();
    let (generated, _) = super::demo_profiles::customers(&store, orders)
        .await
        .context("generating the demo firm's profiles")?;
    println!(
        "generated profiles (tag `generated`, source demo-generator) in {:.2} s: {} customers, {} sales reps, {} contacts, {} interactions, {} referrals",
        started.elapsed().as_secs_f64(),
        generated.customers,
        generated.reps,
        generated.contacts,
        generated.interactions,
        generated.referrals
    );
    let started = Instant::now();
    let report = import_with_progress(
        &store,
        orders,
        &ImportOptions::new(Entity::Orders, InputFormat::Cdnow),
    )
    .await?;
    print_report(&report, started.elapsed().as_secs_f64());
    let (customers, lines, _) = store.counts().await?;
    println!(
        "demo database {}: {customers} customers, {lines} order lines",
        db.display()
    );
    // CDNOW is the weekly data set of the literature: fit the models in weeks, as of the
    // data's last order date (1998-06-30), not today: analysed from today, every 1997 buyer
    // would look long gone and the figures would say nothing.
    let opts = patron_app::value::RefreshOptions {
        unit: Some(patron_value::summary::TimeUnit::Week),
        ..Default::default()
    }
    .analysis_options()
    .map_err(|field| anyhow::anyhow!("bad value option {field}"))?;
    let t = Instant::now();
    let as_of = store
        .order_facts()
        .await?
        .iter()
        .map(|f| f.ordered_on)
        .max()
        .context("the demo's orders file holds no order")?;
    let snapshot = patron_app::value::refresh(&store, &opts, as_of)
        .await
        .context("computing customer values")?;
    println!(
        "customer values computed as of {as_of} (the data's last order date) in {:.2} s (snapshot {}); the dashboard's \"Recompute values\" analyses up to today",
        t.elapsed().as_secs_f64(),
        snapshot.id
    );
    // The decompressed sample is not needed while serving.
    drop(sample);
    if no_serve {
        return Ok(());
    }
    println!("Patron is running at http://{addr}/ (API under /api, OpenAPI at /openapi.json); Ctrl-C stops it");
    // The demo's figures stay as of its data's last order date (no daily refresh).
    crate::serve::serve(
        store,
        addr,
        crate::serve::RULES_EVERY,
        crate::serve::RefreshAt(None),
    )
    .await
    .context("serving")
}
