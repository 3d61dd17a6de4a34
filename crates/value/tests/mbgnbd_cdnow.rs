//! The MBG/NBD (Batislam, Denizel & Filiztekin 2007) on the CDNOW sample (2,357 customers,
//! weeks, 39-week calibration: the summary of `data/cdnow_customers_summary_with_transactions.csv`
//! that `models_cdnow.rs` uses) against lifetimes' `ModifiedBetaGeoFitter`.
//!
//! Reference figures: lifetimes 0.11.3 (numpy 2.4.6, scipy 1.17.1, pandas 3.1.1, autograd 1.9.1),
//! installed with `python3 -m venv /tmp/ltvenv && /tmp/ltvenv/bin/pip install lifetimes==0.11.3`
//! and run from /work/main as `/tmp/ltvenv/bin/python ref.py` with `ref.py`:
//!
//! ```text
//! import numpy as np, pandas as pd, lifetimes
//! from lifetimes import ModifiedBetaGeoFitter
//! d = pd.read_csv("data/cdnow_customers_summary_with_transactions.csv")
//! m = ModifiedBetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
//! print(lifetimes.__version__, [repr(float(v)) for v in m.params_.values])
//! print("ll", repr(float(m._negative_log_likelihood(np.log(m.params_.values), d["x"].values,
//!       d["t_x"].values, d["T"].values, np.ones(len(d)), 0.0) * -len(d))))
//! for x, tx, T in [(0, 0.0, 38.86), (1, 1.71, 38.86), (2, 30.43, 38.86), (29, 37.71, 38.0),
//!                  (10, 5.0, 38.86)]:
//!     print((x, tx, T), repr(float(m.conditional_probability_alive(x, tx, T)[0])),
//!           repr(float(m.conditional_expected_number_of_purchases_up_to_time(1.0, x, tx, T))),
//!           repr(float(m.conditional_expected_number_of_purchases_up_to_time(39.0, x, tx, T))))
//! print("E", [repr(float(m.expected_number_of_purchases_up_to_time(t))) for t in (1.0, 39.0, 78.0)])
//! print("P", [repr(float(m.probability_of_n_purchases_up_to_time(39.0, n))) for n in (0, 1, 2, 5)])
//! ```

use patron_value::models::{
    bgnbd, fit_purchase_model, mbgnbd, AnyPurchaseModel, FitOptions, MbgNbd, ModelKind, Population,
    PurchaseModel,
};
use patron_value::summary::Rft;

/// lifetimes' fitted `(r, alpha, a, b)`.
const LIFETIMES_PARAMS: [f64; 4] = [
    0.5248377255676637,
    6.1829884791339715,
    0.8913562809311422,
    1.6140000256721438,
];
/// lifetimes' total log-likelihood at its parameters (its mean negative log-likelihood × -n).
const LIFETIMES_LL: f64 = -9582.13268489992;

/// `(x, t_x, T)`, P(alive), conditional expected purchases in the next 1 and 39 weeks.
const LIFETIMES_CUSTOMERS: [(f64, f64, f64, f64, f64, f64); 5] = [
    // A one-time buyer since the start of the calibration period.
    (
        0.0,
        0.0,
        38.86,
        0.3897164420501681,
        0.004521555409968534,
        0.15395364436667652,
    ),
    // CDNOW customer 2: one repeat purchase early on.
    (
        1.0,
        1.71,
        38.86,
        0.1708196300920986,
        0.005750966293490141,
        0.18878924037050562,
    ),
    // CDNOW customer 1 (FHL 2005's worked example).
    (
        2.0,
        30.43,
        38.86,
        0.7061262587154011,
        0.03933283599206009,
        1.2626707787139533,
    ),
    // A frequent, recent buyer.
    (
        29.0,
        37.71,
        38.0,
        0.9658432102927039,
        0.6393821529769217,
        18.95005741309181,
    ),
    // A frequent buyer who stopped long ago.
    (
        10.0,
        5.0,
        38.86,
        5.580481449782814e-06,
        1.2930681635046317e-06,
        3.9273372342145826e-05,
    ),
];
/// `expected_number_of_purchases_up_to_time(t)` for t = 1, 39, 78.
const LIFETIMES_UNCONDITIONAL: [(f64, f64); 3] = [
    (1.0, 0.05306062944707151),
    (39.0, 1.1822837952882739),
    (78.0, 1.803636193291886),
];
/// `probability_of_n_purchases_up_to_time(39, n)` for n = 0, 1, 2, 5.
const LIFETIMES_P_N_39: [(u32, f64); 4] = [
    (0, 0.5826055674071031),
    (1, 0.1827633739806654),
    (2, 0.08687059147523463),
    (5, 0.01937576152368671),
];

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

fn rel(a: f64, b: f64) -> f64 {
    (a / b - 1.0).abs()
}

fn lifetimes_model() -> MbgNbd {
    let [r, alpha, a, b] = LIFETIMES_PARAMS;
    MbgNbd::new(r, alpha, a, b).unwrap()
}

#[test]
fn mbgnbd_fit_matches_lifetimes() {
    let fit = mbgnbd::fit(&cdnow(), &FitOptions::default()).unwrap();
    let m = fit.model;
    assert!(fit.converged);
    assert_eq!(fit.n_customers, 2357);
    let ours = [m.r, m.alpha, m.a, m.b];
    for (name, (o, l)) in ["r", "alpha", "a", "b"]
        .iter()
        .zip(ours.iter().zip(LIFETIMES_PARAMS))
    {
        assert_eq!(sig(*o, 3), sig(l, 3), "{name}: {o} vs lifetimes {l}");
        assert!(rel(*o, l) < 1e-3, "{name}: {o} vs lifetimes {l}");
    }
    // Our optimum is at least as good as lifetimes' and agrees to the last hundredth.
    assert!(
        fit.log_likelihood >= LIFETIMES_LL - 1e-6 && fit.log_likelihood - LIFETIMES_LL < 0.01,
        "{} vs {LIFETIMES_LL}",
        fit.log_likelihood
    );
    // The compressed likelihood agrees with the per-customer one.
    let ll = m.log_likelihood(&cdnow());
    assert!((ll - fit.log_likelihood).abs() < 1e-6);
    // A little better than the BG/NBD's -9582.4 on these data.
    let bg = bgnbd::fit(&cdnow(), &FitOptions::default()).unwrap();
    assert!(fit.log_likelihood > bg.log_likelihood);
}

#[test]
fn mbgnbd_formulas_match_lifetimes_at_its_parameters() {
    let m = lifetimes_model();
    assert!(rel(m.log_likelihood(&cdnow()), LIFETIMES_LL) < 1e-12);
    for (x, tx, t, p_alive, e1, e39) in LIFETIMES_CUSTOMERS {
        let c = customer(x, tx, t);
        let p = m.p_alive(&c);
        assert!(rel(p, p_alive) < 1e-12, "{x}: P(alive) {p} vs {p_alive}");
        for (h, want) in [(1.0, e1), (39.0, e39)] {
            let e = m.conditional_expected_purchases(&c, h);
            assert!(rel(e, want) < 1e-9, "{x}, {h}: E {e} vs {want}");
        }
        // conditional = P(alive) × expectation if alive.
        let mut out = [0.0; 2];
        m.expected_purchases_if_alive_at(&c, &[1.0, 39.0], &mut out);
        assert!(rel(out[1] * p, e39) < 1e-9);
    }
    for (t, want) in LIFETIMES_UNCONDITIONAL {
        let e = m.expected_purchases_unconditional(t);
        assert!(rel(e, want) < 1e-9, "E[X({t})] {e} vs {want}");
    }
    for (n, want) in LIFETIMES_P_N_39 {
        let p = m.probability_of_purchases(n, 39.0);
        assert!(rel(p, want) < 1e-9, "P(X(39) = {n}) {p} vs {want}");
    }
    // The probabilities add up to one.
    let total: f64 = (0..400).map(|n| m.probability_of_purchases(n, 39.0)).sum();
    assert!((total - 1.0).abs() < 1e-9, "{total}");
}

#[test]
fn mbgnbd_fitted_predictions_match_lifetimes() {
    let m = mbgnbd::fit(&cdnow(), &FitOptions::default()).unwrap().model;
    for (x, tx, t, p_alive, e1, e39) in LIFETIMES_CUSTOMERS {
        let c = customer(x, tx, t);
        let p = m.p_alive(&c);
        // The customer who stopped long ago sits in the far tail, where the parameters' last
        // digits move the figure most.
        let tol = if p_alive < 1e-3 { 1e-2 } else { 1e-3 };
        assert!(rel(p, p_alive) < tol, "{x}: P(alive) {p} vs {p_alive}");
        assert_eq!(sig(p, 3), sig(p_alive, 3), "{x}: P(alive) {p} vs {p_alive}");
        for (h, want) in [(1.0, e1), (39.0, e39)] {
            let e = m.conditional_expected_purchases(&c, h);
            assert!(rel(e, want) < tol, "{x}, {h}: E {e} vs {want}");
        }
    }
}

#[test]
fn a_one_time_buyer_may_be_dead_under_mbgnbd_only() {
    let c = cdnow();
    let mbg = mbgnbd::fit(&c, &FitOptions::default()).unwrap().model;
    let bg = bgnbd::fit(&c, &FitOptions::default()).unwrap().model;
    // Bought once, 38.86 weeks ago, never again.
    let once = customer(0.0, 0.0, 38.86);
    assert_eq!(bg.p_alive(&once), 1.0);
    let p = mbg.p_alive(&once);
    assert!(p < 0.5, "{p}");
    assert!(p > 0.0);
    // ... and less likely alive the longer ago that purchase was.
    assert!(mbg.p_alive(&customer(0.0, 0.0, 100.0)) < p);
    assert!(mbg.p_alive(&customer(0.0, 0.0, 1.0)) > p);
    // So the MBG/NBD expects fewer purchases from that customer than the BG/NBD.
    assert!(
        mbg.conditional_expected_purchases(&once, 39.0)
            < bg.conditional_expected_purchases(&once, 39.0)
    );
}

#[test]
fn mbgnbd_is_a_purchase_model_choice() {
    assert_eq!("mbgnbd".parse::<ModelKind>().unwrap(), ModelKind::MbgNbd);
    assert_eq!("MBG/NBD".parse::<ModelKind>().unwrap(), ModelKind::MbgNbd);
    assert_eq!(ModelKind::MbgNbd.to_string(), "mbgnbd");
    let pop = Population::new(&cdnow()).unwrap();
    let fit = fit_purchase_model(ModelKind::MbgNbd, &pop, &FitOptions::default()).unwrap();
    assert_eq!(fit.model.kind(), ModelKind::MbgNbd);
    let AnyPurchaseModel::MbgNbd(m) = fit.model else {
        panic!("not an MBG/NBD: {:?}", fit.model)
    };
    let direct = mbgnbd::fit_population(&pop, &FitOptions::default()).unwrap();
    assert_eq!(m, direct.model);
    // Serialized like the other models, tagged "mbgnbd".
    let json = serde_json::to_value(fit.model).unwrap();
    assert_eq!(json["model"], "mbgnbd");
    assert_eq!(
        serde_json::to_value(ModelKind::MbgNbd).unwrap(),
        serde_json::json!("mbgnbd")
    );
    // E[X(t)] is the conditional expectation of a brand-new customer.
    let e0 = m.expected_purchases_unconditional(39.0);
    let e1 = m.conditional_expected_purchases(&customer(0.0, 0.0, 0.0), 39.0);
    assert!((e0 - e1).abs() < 1e-12);
}
