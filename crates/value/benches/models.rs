//! Fitting the value models on one million simulated customers.
//!
//! `CARGO_TARGET_DIR=/tmp/target-value cargo bench -p patron-value --bench models`
//!
//! Data: daily periods (time unit = days), customer ages uniform on 1..=365 days, drawn from
//! CDNOW-like parameters converted to days. Each fit is timed end to end from the `Rft` slice
//! (validation and compression to distinct histories included).
//!
//! Measured on the 2-core development machine (shared), release profile:
//! compress 57 ms (1M customers -> 177k distinct histories), BG/NBD 147 ms, Pareto/NBD 259 ms,
//! Gamma-Gamma 48 ms (340k repeat customers): about 0.45 s for the three fits, no penalizer.
//! P(alive) + expected purchases + spend + 12-month CLV for 1M customers: 0.54 s.

use criterion::{criterion_group, criterion_main, Criterion};
use patron_value::models::clv::{self, ClvOptions};
use patron_value::models::simulate::{self, SimOptions};
use patron_value::models::{
    bgnbd, gammagamma, paretonbd, BgNbd, FitOptions, GammaGamma, ParetoNbd, Population,
};
use patron_value::summary::{Rft, TimeUnit};
use std::hint::black_box;

const N: usize = 1_000_000;

fn options(seed: u64) -> SimOptions {
    SimOptions {
        n_customers: N,
        min_age: 1.0,
        max_age: 365.0,
        holdout: 0.0,
        period: Some(1.0),
        seed,
    }
}

fn bg_population() -> Vec<Rft> {
    let truth = BgNbd::new(0.243, 4.414 * 7.0, 0.793, 2.426).unwrap();
    let sim = simulate::bgnbd(&truth, &options(1)).unwrap();
    let mut customers: Vec<Rft> = sim.iter().map(|c| c.calibration).collect();
    let freq: Vec<f64> = customers.iter().map(|c| c.frequency).collect();
    let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let spend = simulate::gamma_gamma(&gg, &freq, 2).unwrap();
    for (c, m) in customers.iter_mut().zip(spend) {
        c.monetary_value = m;
    }
    customers
}

fn pnbd_population() -> Vec<Rft> {
    let truth = ParetoNbd::new(0.55, 10.58 * 7.0, 0.61, 11.67 * 7.0).unwrap();
    let sim = simulate::paretonbd(&truth, &options(3)).unwrap();
    sim.iter().map(|c| c.calibration).collect()
}

fn fits(c: &mut Criterion) {
    let bg = bg_population();
    let pn = pnbd_population();
    let opts = FitOptions::default();
    {
        let pop = Population::new(&bg).unwrap();
        let f = bgnbd::fit_population(&pop, &opts).unwrap();
        let p = paretonbd::fit(&pn, &opts).unwrap();
        let g = gammagamma::fit(&bg, &opts).unwrap();
        eprintln!(
            "BG/NBD: {} customers, {} distinct histories; {:?}",
            pop.n_customers(),
            pop.n_distinct(),
            f
        );
        eprintln!(
            "Pareto/NBD: {} distinct histories; {:?}",
            Population::new(&pn).unwrap().n_distinct(),
            p
        );
        eprintln!("Gamma-Gamma: {} repeat customers; {:?}", g.n_customers, g);
    }
    let mut group = c.benchmark_group("fit_1m");
    group.sample_size(10);
    group.bench_function("compress", |b| {
        b.iter(|| Population::new(black_box(&bg)).unwrap())
    });
    group.bench_function("bgnbd", |b| {
        b.iter(|| bgnbd::fit(black_box(&bg), &opts).unwrap())
    });
    group.bench_function("paretonbd", |b| {
        b.iter(|| paretonbd::fit(black_box(&pn), &opts).unwrap())
    });
    group.bench_function("gammagamma", |b| {
        b.iter(|| gammagamma::fit(black_box(&bg), &opts).unwrap())
    });
    group.finish();

    let bgm = bgnbd::fit(&bg, &opts).unwrap().model;
    let ggm = gammagamma::fit(&bg, &opts).unwrap().model;
    let clv_opts = ClvOptions::monthly(12, TimeUnit::Day, 0.01, 0.3);
    let mut group = c.benchmark_group("predict_1m");
    group.sample_size(10);
    group.bench_function("bgnbd_clv_12_months", |b| {
        b.iter(|| clv::customer_values(&bgm, &ggm, black_box(&bg), &clv_opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, fits);
criterion_main!(benches);
