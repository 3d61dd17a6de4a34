//! Parameter recovery: populations drawn from known parameters (models::simulate, fixed seeds)
//! are fitted back, and the estimates must land within stated tolerances of the truth. Sizes
//! are kept moderate so the debug-build test run stays quick; the 1M-customer fits are in the
//! criterion bench (benches/models.rs).

use patron_value::models::simulate::{self, SimCustomer, SimOptions};
use patron_value::models::{
    bgnbd, diagnostics, gammagamma, paretonbd, BgNbd, FitOptions, GammaGamma, ParetoNbd,
    Population, PurchaseModel,
};
use patron_value::summary::Rft;

fn sim_options(n: usize, seed: u64) -> SimOptions {
    SimOptions {
        n_customers: n,
        min_age: 20.0,
        max_age: 60.0,
        holdout: 39.0,
        period: None,
        seed,
    }
}

fn calibration(sim: &[SimCustomer]) -> Vec<Rft> {
    sim.iter().map(|s| s.calibration).collect()
}

fn close(name: &str, got: f64, truth: f64, rel: f64) {
    assert!(
        (got / truth - 1.0).abs() <= rel,
        "{name}: estimated {got}, true {truth} (tolerance {rel})"
    );
}

#[test]
fn bgnbd_recovers_its_parameters() {
    let truth = BgNbd::new(0.25, 4.0, 0.8, 2.5).unwrap();
    let sim = simulate::bgnbd(&truth, &sim_options(30_000, 7)).unwrap();
    let fit = bgnbd::fit(&calibration(&sim), &FitOptions::default()).unwrap();
    assert!(fit.converged);
    let m = fit.model;
    // Tolerances are about three standard errors at this sample size.
    close("r", m.r, truth.r, 0.06);
    close("alpha", m.alpha, truth.alpha, 0.10);
    close("a", m.a, truth.a, 0.20);
    close("b", m.b, truth.b, 0.25);
    // The fitted likelihood beats the true parameters' (it is the maximum).
    assert!(fit.log_likelihood >= truth.log_likelihood(&calibration(&sim)));
}

#[test]
fn paretonbd_recovers_its_parameters() {
    let truth = ParetoNbd::new(0.55, 10.5, 0.6, 12.0).unwrap();
    let sim = simulate::paretonbd(&truth, &sim_options(20_000, 8)).unwrap();
    let fit = paretonbd::fit(&calibration(&sim), &FitOptions::default()).unwrap();
    assert!(fit.converged);
    let m = fit.model;
    close("r", m.r, truth.r, 0.08);
    close("alpha", m.alpha, truth.alpha, 0.10);
    close("s", m.s, truth.s, 0.25);
    close("beta", m.beta, truth.beta, 0.40);
    assert!(fit.log_likelihood >= truth.log_likelihood(&calibration(&sim)));
}

#[test]
fn gamma_gamma_recovers_its_parameters() {
    let truth = GammaGamma::new(6.0, 4.0, 15.0).unwrap();
    let freq: Vec<f64> = (0..30_000).map(|i| (1 + i % 9) as f64).collect();
    let spend = simulate::gamma_gamma(&truth, &freq, 9).unwrap();
    let fit = gammagamma::fit_slices(&freq, &spend, &FitOptions::default()).unwrap();
    assert!(fit.converged);
    let m = fit.model;
    close("p", m.p, truth.p, 0.08);
    close("q", m.q, truth.q, 0.10);
    close("gamma", m.gamma, truth.gamma, 0.12);
    close(
        "mean spend",
        m.population_mean_spend().unwrap(),
        truth.population_mean_spend().unwrap(),
        0.02,
    );
    // Spend drawn independently of frequency: the diagnostic sees no correlation.
    let customers: Vec<Rft> = freq
        .iter()
        .zip(&spend)
        .map(|(&x, &m)| Rft {
            frequency: x,
            recency: 1.0,
            t: 1.0,
            monetary_value: m,
        })
        .collect();
    let rho = diagnostics::frequency_monetary_correlation(&customers).unwrap();
    assert!(rho.abs() < 0.03, "{rho}");
}

#[test]
fn holdout_predictions_match_simulated_holdouts() {
    // With the true model, the conditional expectation of every calibration-frequency group
    // must match what the simulated customers actually did in the holdout.
    let truth = BgNbd::new(0.25, 4.0, 0.8, 2.5).unwrap();
    let sim = simulate::bgnbd(&truth, &sim_options(30_000, 21)).unwrap();
    let cal = calibration(&sim);
    let hold: Vec<f64> = sim.iter().map(|s| s.holdout_purchases).collect();
    let table = diagnostics::holdout_by_frequency(&truth, &cal, &hold, 39.0, 7).unwrap();
    assert_eq!(table.len(), 8);
    assert!(table[7].open_ended);
    for bin in &table {
        assert!(bin.n_customers > 300, "{bin:?}");
        let tol = 0.08 * bin.expected_mean + 0.04;
        assert!((bin.actual_mean - bin.expected_mean).abs() < tol, "{bin:?}");
    }
    // Pareto/NBD too, with a fitted model.
    let truth = ParetoNbd::new(0.55, 10.5, 0.6, 12.0).unwrap();
    let sim = simulate::paretonbd(&truth, &sim_options(20_000, 22)).unwrap();
    let cal = calibration(&sim);
    let hold: Vec<f64> = sim.iter().map(|s| s.holdout_purchases).collect();
    let fitted = paretonbd::fit(&cal, &FitOptions::default()).unwrap().model;
    let table = diagnostics::holdout_by_frequency(&fitted, &cal, &hold, 39.0, 7).unwrap();
    for bin in &table {
        let tol = 0.10 * bin.expected_mean + 0.05;
        assert!((bin.actual_mean - bin.expected_mean).abs() < tol, "{bin:?}");
    }
    // P(alive) is calibrated: among customers it calls alive with probability p, a fraction
    // about p really is.
    let p: Vec<f64> = cal.iter().map(|c| fitted.p_alive(c)).collect();
    let expected_alive: f64 = p.iter().sum();
    let actually_alive = sim.iter().filter(|s| s.alive).count() as f64;
    assert!(
        (expected_alive / actually_alive - 1.0).abs() < 0.05,
        "{expected_alive} vs {actually_alive}"
    );
}

#[test]
fn frequency_histogram_matches_simulation() {
    let truth = ParetoNbd::new(0.55, 10.5, 0.6, 12.0).unwrap();
    let sim = simulate::paretonbd(&truth, &sim_options(20_000, 31)).unwrap();
    let cal = calibration(&sim);
    let hist = diagnostics::frequency_histogram(&truth, &cal, 7).unwrap();
    for bin in &hist {
        // binomial sampling error: 4 standard deviations
        let sd = bin.expected.sqrt();
        assert!(
            (bin.actual - bin.expected).abs() < 4.0 * sd + 1.0,
            "{bin:?}"
        );
    }
}

#[test]
fn daily_data_compresses_and_still_fits() {
    // Recorded in daily periods (time unit = days): far fewer distinct histories than
    // customers, and the fit lands near the truth (discretisation biases it slightly).
    let truth = BgNbd::new(0.25, 28.0, 0.8, 2.5).unwrap();
    let opts = SimOptions {
        n_customers: 30_000,
        min_age: 1.0,
        max_age: 365.0,
        holdout: 0.0,
        period: Some(1.0),
        seed: 5,
    };
    let cal = calibration(&simulate::bgnbd(&truth, &opts).unwrap());
    assert!(cal
        .iter()
        .all(|c| c.t.fract() == 0.0 && c.recency.fract() == 0.0));
    let pop = Population::new(&cal).unwrap();
    assert_eq!(pop.n_customers(), 30_000);
    assert!(pop.n_distinct() < 20_000, "{}", pop.n_distinct());
    let m = bgnbd::fit_population(&pop, &FitOptions::default())
        .unwrap()
        .model;
    close("r", m.r, truth.r, 0.10);
    close("alpha", m.alpha, truth.alpha, 0.15);
    close("a", m.a, truth.a, 0.30);
    close("b", m.b, truth.b, 0.35);
}

#[test]
fn warm_started_fit_equals_the_direct_fit() {
    let truth = BgNbd::new(0.25, 4.0, 0.8, 2.5).unwrap();
    let cal = calibration(&simulate::bgnbd(&truth, &sim_options(12_000, 3)).unwrap());
    let pop = Population::new(&cal).unwrap();
    let direct = bgnbd::fit_population(
        &pop,
        &FitOptions {
            warm_start_above: 0,
            ..FitOptions::default()
        },
    )
    .unwrap();
    let warm = bgnbd::fit_population(
        &pop,
        &FitOptions {
            warm_start_above: 2_000,
            ..FitOptions::default()
        },
    )
    .unwrap();
    assert!((direct.log_likelihood - warm.log_likelihood).abs() < 1e-6);
    close("r", warm.model.r, direct.model.r, 1e-4);
    close("b", warm.model.b, direct.model.b, 1e-4);
}
