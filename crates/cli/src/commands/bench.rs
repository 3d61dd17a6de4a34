//! `patron bench import`: generate an orders file, then time its import.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use patron_exchange::{Entity, ImportOptions, InputFormat};
use rand::{Rng, SeedableRng};

use super::transfer::{import_with_progress, print_report};

/// Writes `orders` rows over `customers` customers, sorted by date over two years, in the
/// shape of `bench-peers/gen_orders.py` (`customer_id,date,amount,cost,category`).
pub fn generate(path: &Path, customers: u64, orders: u64, seed: u64) -> anyhow::Result<()> {
    if customers == 0 {
        anyhow::bail!("--customers must be at least 1");
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the folder {}", dir.display()))?;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut w = std::io::BufWriter::with_capacity(
        1 << 20,
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    writeln!(w, "customer_id,date,amount,cost,category")?;
    let start = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).expect("valid date");
    const DAYS: u64 = 730;
    let mut written = 0u64;
    for d in 0..DAYS {
        let today = orders * (d + 1) / DAYS - written;
        let date = start + chrono::Days::new(d);
        for _ in 0..today {
            let c = rng.gen_range(1..=customers);
            let amount_cents: u64 = 100 + (rng.gen::<f64>().powi(3) * 20_000.0) as u64;
            let cost_cents = amount_cents * rng.gen_range(45..80) / 100;
            let cat = rng.gen_range(0..8);
            writeln!(
                w,
                "{c},{date},{}.{:02},{}.{:02},{cat}",
                amount_cents / 100,
                amount_cents % 100,
                cost_cents / 100,
                cost_cents % 100
            )?;
        }
        written += today;
    }
    w.flush()?;
    Ok(())
}

pub async fn import(
    database: &str,
    customers: u64,
    orders: u64,
    file: &Path,
    seed: u64,
) -> anyhow::Result<()> {
    let fresh = !file.exists();
    if fresh {
        eprintln!(
            "generating {orders} orders over {customers} customers into {}",
            file.display()
        );
        let t = Instant::now();
        generate(file, customers, orders, seed)?;
        eprintln!("generated in {:.1} s", t.elapsed().as_secs_f64());
    } else {
        eprintln!("reusing {}", file.display());
    }
    let store = super::open(database).await?;
    let mut opts = ImportOptions::new(Entity::Orders, InputFormat::Csv);
    opts.create_customers = true;
    let t = Instant::now();
    let report = import_with_progress(&store, file, &opts).await?;
    let secs = t.elapsed().as_secs_f64();
    print_report(&report, secs);
    println!("{{\"database\":\"{}\",\"rows\":{},\"inserted\":{},\"customers_created\":{},\"seconds\":{secs:.3},\"rows_per_second\":{:.0}}}", if database.starts_with("postgres") { "postgres" } else { "sqlite" }, report.rows, report.inserted, report.customers_created, report.rows as f64 / secs);
    Ok(())
}
