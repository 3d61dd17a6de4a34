//! `patron demo`: a fresh database with the real CDNOW transactions, served on loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use patron_exchange::{Entity, ImportOptions, InputFormat};

use super::transfer::{import_with_progress, print_report};

pub async fn run(db: &Path, orders: &Path, addr: SocketAddr, no_serve: bool) -> anyhow::Result<()> {
    if !orders.exists() {
        anyhow::bail!("{} not found: run the demo from a clone of the repository, or pass --orders CDNOW_master.txt", orders.display());
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{}{suffix}", db.display());
        if Path::new(&p).exists() {
            std::fs::remove_file(&p)
                .with_context(|| format!("removing the old demo database {p}"))?;
        }
    }
    let store = super::open(&db.to_string_lossy()).await?;
    eprintln!(
        "loading the CDNOW transactions ({}) into {}",
        orders.display(),
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
    if no_serve {
        return Ok(());
    }
    println!("Patron is running at http://{addr}/ (API under /api, OpenAPI at /openapi.json); Ctrl-C stops it");
    crate::serve::serve(store, addr).await.context("serving")
}
