//! One customer's live recompute (`patron_app::value::recompute_customer`) on a real database:
//! the time per customer (read the snapshot's models and boundaries, the customer's profile and
//! order lines, compute, write the row), median, 95th percentile and mean over many customers.
//!
//! Run by `bench/recompute.sh` (which builds the CDNOW demo database first), or by hand:
//! `PATRON_BENCH_DB=patron-demo.db cargo bench -p patron-app --bench recompute`
//! (any SQLite file or PostgreSQL URL holding a value snapshot; its rows are rewritten with
//! the customers' recomputed figures). `PATRON_BENCH_CUSTOMERS` customers (default 2000),
//! spread over the ids.

use std::time::Instant;

use patron_app::value::{recompute_customer, Recomputed};
use patron_store::Store;

fn main() {
    let Ok(url) = std::env::var("PATRON_BENCH_DB") else {
        eprintln!("recompute bench skipped: set PATRON_BENCH_DB to a database with a value snapshot (bench/recompute.sh)");
        return;
    };
    let n: usize = std::env::var("PATRON_BENCH_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async move {
        let store = Store::connect(&url).await.expect("opening the database");
        let all: Vec<i64> = store
            .score_profiles()
            .await
            .expect("reading the customers")
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert!(!all.is_empty(), "no customers in {url}");
        let step = (all.len() / n.max(1)).max(1);
        let ids: Vec<i64> = all.iter().step_by(step).take(n).copied().collect();
        // Warm-up: connections, statement caches.
        for &id in ids.iter().take(50) {
            recompute_customer(&store, id).await.expect("recompute");
        }
        let mut ms = Vec::with_capacity(ids.len());
        let mut with_orders = 0usize;
        for &id in &ids {
            let t = Instant::now();
            let r = recompute_customer(&store, id).await.expect("recompute");
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
            match r {
                Recomputed::Row(row) => with_orders += usize::from(row.orders > 0),
                Recomputed::NoSnapshot => panic!("no value snapshot in {url}: refresh first"),
                Recomputed::Removed | Recomputed::Windowed => {}
            }
        }
        ms.sort_by(f64::total_cmp);
        let pct = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        let mean = ms.iter().sum::<f64>() / ms.len() as f64;
        println!(
            "recompute_customer on {:?} ({} customers in the database): {} customers ({with_orders} with orders): median {:.3} ms, p95 {:.3} ms, max {:.3} ms, mean {:.3} ms",
            store.kind(),
            all.len(),
            ms.len(),
            pct(0.5),
            pct(0.95),
            pct(1.0),
            mean
        );
        store.close().await;
    });
}
