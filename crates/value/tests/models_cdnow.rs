//! The models on the CDNOW sample (2,357 customers, weeks, 39-week calibration) against the
//! published estimates (Fader, Hardie & Lee 2005; Fader & Hardie's Pareto/NBD and Gamma-Gamma
//! notes) and lifetimes' documented outputs.

use patron_value::models::clv::{self, ClvOptions};
use patron_value::models::{
    bgnbd, diagnostics, fit_purchase_model, gammagamma, paretonbd, FitOptions, ModelKind,
    Population, PurchaseModel,
};
use patron_value::summary::Rft;

fn cdnow() -> Vec<Rft> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/cdnow_customers_summary_with_transactions.csv"
    );
    let text = std::fs::read_to_string(path).expect("CDNOW sample");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.trim().parse().unwrap()).collect();
            Rft {
                frequency: f[1],
                recency: f[2],
                t: f[3],
                monetary_value: f[4],
            }
        })
        .collect()
}

/// Rounds `v` to `digits` significant digits.
fn sig(v: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

fn customer(x: f64, tx: f64, t: f64) -> Rft {
    Rft {
        frequency: x,
        recency: tx,
        t,
        monetary_value: 0.0,
    }
}

#[test]
fn cdnow_has_the_published_shape() {
    let c = cdnow();
    assert_eq!(c.len(), 2357);
    assert_eq!(c.iter().filter(|c| c.frequency > 0.0).count(), 946);
}

#[test]
fn bgnbd_matches_published_estimates() {
    let fit = bgnbd::fit(&cdnow(), &FitOptions::default()).unwrap();
    let m = fit.model;
    assert!(fit.converged);
    assert_eq!(fit.n_customers, 2357);
    assert_eq!(sig(m.r, 3), 0.243);
    assert_eq!(sig(m.alpha, 4), 4.414);
    assert_eq!(sig(m.a, 3), 0.793);
    assert_eq!(sig(m.b, 4), 2.426);
    assert!(
        (fit.log_likelihood - -9582.4).abs() < 0.05,
        "{}",
        fit.log_likelihood
    );
    // The total log-likelihood agrees with the per-customer one.
    let ll = m.log_likelihood(&cdnow());
    assert!((ll - fit.log_likelihood).abs() < 1e-6);
}

#[test]
fn bgnbd_per_customer_figures_match_the_paper_and_lifetimes() {
    let m = bgnbd::fit(&cdnow(), &FitOptions::default()).unwrap().model;
    // FHL (2005): customer with x=2, t_x=30.43, T=38.86 expects 1.226 purchases in 39 weeks.
    let e = m.conditional_expected_purchases(&customer(2.0, 30.43, 38.86), 39.0);
    assert_eq!(sig(e, 4), 1.226, "{e}");
    // lifetimes' docs: expected purchases in the next week for its top customers.
    for (x, tx, t, expected) in [
        (18.0, 35.14, 35.86, 0.424877),
        (19.0, 34.00, 34.14, 0.474738),
        (17.0, 28.43, 28.86, 0.486526),
        (29.0, 37.71, 38.00, 0.662396),
        (26.0, 30.86, 31.00, 0.710623),
    ] {
        let e = m.conditional_expected_purchases(&customer(x, tx, t), 1.0);
        assert!((e / expected - 1.0).abs() < 1e-4, "{x}: {e} vs {expected}");
    }
    // One-time buyers are certainly alive in the BG/NBD.
    assert_eq!(m.p_alive(&customer(0.0, 0.0, 38.86)), 1.0);
    // A customer who bought often and stopped long ago is probably gone.
    assert!(m.p_alive(&customer(10.0, 5.0, 38.86)) < 0.01);
    // E[X(t)] is the conditional expectation of a brand-new customer.
    let e0 = m.expected_purchases_unconditional(39.0);
    let e1 = m.conditional_expected_purchases(&customer(0.0, 0.0, 0.0), 39.0);
    assert!((e0 - e1).abs() < 1e-12);
}

#[test]
fn paretonbd_matches_published_estimates() {
    let fit = paretonbd::fit(&cdnow(), &FitOptions::default()).unwrap();
    let m = fit.model;
    assert!(fit.converged);
    assert_eq!(sig(m.r, 2), 0.55);
    assert_eq!(sig(m.alpha, 4), 10.58);
    assert_eq!(sig(m.s, 2), 0.61);
    assert_eq!(sig(m.beta, 4), 11.67);
    assert!(
        (fit.log_likelihood - -9595.0).abs() < 0.05,
        "{}",
        fit.log_likelihood
    );
    let ll = m.log_likelihood(&cdnow());
    assert!((ll - fit.log_likelihood).abs() < 1e-6);
}

#[test]
fn gamma_gamma_matches_published_estimates() {
    let data = cdnow();
    let fit = gammagamma::fit(&data, &FitOptions::default()).unwrap();
    let m = fit.model;
    assert!(fit.converged);
    assert_eq!(fit.n_customers, 946);
    assert_eq!(sig(m.p, 3), 6.25);
    assert_eq!(sig(m.q, 3), 3.74);
    // Published: gamma = 15.44 (3 significant digits: 15.4). The exact maximum is at 15.448,
    // on the flat ridge of this likelihood: its log-likelihood is higher than at the rounded
    // published point (which lifetimes reports as 15.45).
    assert_eq!(sig(m.gamma, 3), 15.4);
    assert!((m.gamma - 15.44).abs() < 0.01, "{}", m.gamma);
    let published = gammagamma::GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let ll_published: f64 = data
        .iter()
        .filter_map(|c| published.customer_log_likelihood(c.frequency, c.monetary_value))
        .sum();
    assert!(fit.log_likelihood >= ll_published);
    assert!(
        (fit.log_likelihood - -4055.92).abs() < 0.01,
        "{}",
        fit.log_likelihood
    );
    // lifetimes' docs: conditional expected average profit of the first customers.
    let spends = m.expected_spends(&data).unwrap();
    for (i, expected) in [
        (0, 24.658616),
        (1, 18.925360),
        (2, 35.170973),
        (5, 71.462843),
    ] {
        assert!(
            (spends[i] / expected - 1.0).abs() < 1e-3,
            "customer {}: {} vs {expected}",
            i + 1,
            spends[i]
        );
    }
    // Zero-frequency customers get the population mean spend.
    assert_eq!(spends[2], m.population_mean_spend().unwrap());
    // The independence assumption is roughly met (lifetimes reports 0.11 on this sample).
    let rho = diagnostics::frequency_monetary_correlation(&data).unwrap();
    assert!((rho - 0.11).abs() < 0.01, "{rho}");
}

#[test]
fn clv_matches_lifetimes_documentation() {
    let data = cdnow();
    let bg = bgnbd::fit(&data, &FitOptions::default()).unwrap().model;
    let gg = gammagamma::fit(&data, &FitOptions::default())
        .unwrap()
        .model;
    // lifetimes' docs call customer_lifetime_value(time=12, discount_rate=0.01) with its
    // default freq="D", i.e. 12 steps of 30 time units (here weeks).
    let opts = ClvOptions {
        steps: 12,
        step_length: 30.0,
        discount_rate: 0.01,
        margin_ratio: 1.0,
    };
    for (i, expected) in [
        (0, 140.096218),
        (1, 18.943466),
        (2, 38.180575),
        (5, 1003.868107),
    ] {
        let v = clv::customer_lifetime_value(&bg, &gg, &data[i], &opts).unwrap();
        assert!(
            (v / expected - 1.0).abs() < 2e-3,
            "customer {}: {v} vs {expected}",
            i + 1
        );
    }
    let values = clv::customer_values(&bg, &gg, &data, &opts).unwrap();
    assert_eq!(values.len(), data.len());
    assert!(values
        .iter()
        .all(|v| v.clv.is_finite() && v.clv >= 0.0 && (0.0..=1.0).contains(&v.p_alive)));
    // Margin scales CLV linearly; discounting lowers it.
    let half = ClvOptions {
        margin_ratio: 0.5,
        ..opts
    };
    let v1 = clv::customer_lifetime_value(&bg, &gg, &data[0], &opts).unwrap();
    let v2 = clv::customer_lifetime_value(&bg, &gg, &data[0], &half).unwrap();
    assert!((v2 - 0.5 * v1).abs() < 1e-9);
    let undiscounted = ClvOptions {
        discount_rate: 0.0,
        ..opts
    };
    let v3 = clv::customer_lifetime_value(&bg, &gg, &data[0], &undiscounted).unwrap();
    let e = bg.conditional_expected_purchases(&data[0], 360.0);
    let s = gg
        .expected_spend(data[0].frequency, data[0].monetary_value)
        .unwrap();
    assert!(v3 > v1 && (v3 - e * s).abs() < 1e-9 * v3);
}

#[test]
fn frequency_histogram_fits_cdnow() {
    let data = cdnow();
    let pop = Population::new(&data).unwrap();
    for kind in [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd] {
        let m = fit_purchase_model(kind, &pop, &FitOptions::default())
            .unwrap()
            .model;
        let h = diagnostics::frequency_histogram(&m, &data, 7).unwrap();
        assert_eq!(h.len(), 8);
        assert!(h[7].open_ended && !h[6].open_ended);
        let actual: f64 = h.iter().map(|b| b.actual).sum();
        let expected: f64 = h.iter().map(|b| b.expected).sum();
        assert_eq!(actual, 2357.0);
        assert!((expected - 2357.0).abs() < 1e-6, "{kind}: {expected}");
        assert_eq!(h[0].actual, 1411.0);
        // Both models reproduce the histogram closely (FHL 2005, figure 2).
        for b in &h {
            assert!(
                (b.expected - b.actual).abs() < 0.1 * b.actual + 15.0,
                "{kind}: {b:?}"
            );
        }
    }
}

#[test]
fn probabilities_of_purchases_are_a_distribution_with_the_right_mean() {
    let data = cdnow();
    let pop = Population::new(&data).unwrap();
    for kind in [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd] {
        let m = fit_purchase_model(kind, &pop, &FitOptions::default())
            .unwrap()
            .model;
        for t in [1.0, 39.0, 78.0] {
            let (mut total, mut mean) = (0.0, 0.0);
            for n in 0..400 {
                let p = m.probability_of_purchases(n, t);
                total += p;
                mean += n as f64 * p;
            }
            assert!((total - 1.0).abs() < 1e-6, "{kind} t={t}: {total}");
            let e = m.expected_purchases_unconditional(t);
            assert!(
                (mean - e).abs() < 1e-4 * e.max(1e-3),
                "{kind} t={t}: {mean} vs {e}"
            );
        }
    }
}

#[test]
fn the_two_models_agree_on_cdnow_predictions() {
    let data = cdnow();
    let bg = bgnbd::fit(&data, &FitOptions::default()).unwrap().model;
    let pn = paretonbd::fit(&data, &FitOptions::default()).unwrap().model;
    // Total expected purchases in the 39-week holdout: both models predict about the same
    // (the actual holdout total of the CDNOW sample is 1,788 repeat transactions).
    let total = |m: &dyn PurchaseModel| -> f64 {
        data.iter()
            .map(|c| m.conditional_expected_purchases(c, 39.0))
            .sum()
    };
    let (a, b) = (total(&bg), total(&pn));
    assert!((a - b).abs() < 0.05 * a, "{a} vs {b}");
    assert!((1500.0..2100.0).contains(&a), "{a}");
}
