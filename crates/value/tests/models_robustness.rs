//! Numerical robustness: extreme customers (lifetimes issues #25 and #332, Hardie's note on
//! numerical errors in the BG/NBD), degenerate populations, bad input. Every figure must be
//! finite and sensible, or the call must fail with a typed error; never NaN, inf or a panic.

use patron_value::models::clv::{self, ClvOptions};
use patron_value::models::simulate;
use patron_value::models::{
    bgnbd, fit_purchase_model, gammagamma, mbgnbd, paretonbd, AnyPurchaseModel, BgNbd, FitOptions,
    GammaGamma, MbgNbd, ModelError, ModelKind, ParetoNbd, Population, PurchaseModel,
};
use patron_value::summary::Rft;

fn c(x: f64, tx: f64, t: f64) -> Rft {
    Rft {
        frequency: x,
        recency: tx,
        t,
        monetary_value: if x > 0.0 { 20.0 } else { 0.0 },
    }
}

fn models() -> Vec<Box<dyn PurchaseModel>> {
    vec![
        Box::new(BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap()),
        Box::new(MbgNbd::new(0.525, 6.183, 0.891, 1.614).unwrap()),
        Box::new(ParetoNbd::new(0.553, 10.578, 0.606, 11.669).unwrap()),
    ]
}

fn assert_sane(m: &dyn PurchaseModel, cust: &Rft) {
    let p = m.p_alive(cust);
    assert!(
        p.is_finite() && (0.0..=1.0).contains(&p),
        "{cust:?}: p_alive {p}"
    );
    for t in [0.0, 1.0, 39.0, 520.0, 1e5] {
        let e = m.conditional_expected_purchases(cust, t);
        assert!(e.is_finite() && e >= 0.0, "{cust:?} t={t}: {e}");
    }
    // (a density of purchase times, so it may be positive)
    let ll = m.customer_log_likelihood(cust);
    assert!(ll.is_finite(), "{cust:?}: ll {ll}");
}

#[test]
fn thousands_of_repeat_purchases() {
    for m in models() {
        for x in [500.0, 5_000.0, 50_000.0] {
            // Bought every period until the end: alive, and buying at about x/T per period.
            let active = c(x, 365.0, 365.0);
            assert_sane(m.as_ref(), &active);
            assert!(m.p_alive(&active) > 0.99, "{:?}", m.kind());
            let e = m.conditional_expected_purchases(&active, 1.0);
            let rate = x / 365.0;
            assert!(
                (e / rate - 1.0).abs() < 0.05,
                "{:?} x={x}: {e} vs {rate}",
                m.kind()
            );
            // Stopped half-way: certainly gone, and no NaN from 0 * inf.
            let gone = c(x, 180.0, 365.0);
            assert_sane(m.as_ref(), &gone);
            assert!(
                m.p_alive(&gone) < 1e-10,
                "{:?}: {}",
                m.kind(),
                m.p_alive(&gone)
            );
            assert!(m.conditional_expected_purchases(&gone, 39.0) < 1e-6);
        }
    }
}

#[test]
fn recency_equal_to_t_and_t_zero() {
    for m in models() {
        for cust in [
            c(3.0, 20.0, 20.0),
            c(0.0, 0.0, 0.0),
            c(1.0, 1e-9, 1e-9),
            c(0.0, 0.0, 1e-12),
            c(2.0, 0.0, 5.0),
        ] {
            assert_sane(m.as_ref(), &cust);
        }
        // A customer acquired at the end of calibration carries no information.
        let (ll0, p0) = (
            m.customer_log_likelihood(&c(0.0, 0.0, 0.0)),
            m.p_alive(&c(0.0, 0.0, 0.0)),
        );
        if m.kind() == ModelKind::MbgNbd {
            // ... but may have dropped out at that first purchase (probability a/(a+b)).
            assert!(ll0.abs() < 1e-12, "{ll0}");
            assert!((p0 - 1.614 / (0.891 + 1.614)).abs() < 1e-12, "{p0}");
        } else {
            assert_eq!(ll0, 0.0);
            assert_eq!(p0, 1.0);
        }
        let e0 = m.conditional_expected_purchases(&c(0.0, 0.0, 0.0), 39.0);
        assert!((e0 - m.expected_purchases_unconditional(39.0)).abs() < 1e-12);
    }
    // Pareto/NBD: the customer bought at T, so is alive for sure.
    let pn = ParetoNbd::new(0.553, 10.578, 0.606, 11.669).unwrap();
    assert_eq!(pn.p_alive(&c(3.0, 20.0, 20.0)), 1.0);
}

#[test]
fn fitting_with_extreme_customers_and_t_zero_customers() {
    let truth = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
    let opts = simulate::SimOptions {
        n_customers: 600,
        min_age: 27.0,
        max_age: 39.0,
        holdout: 0.0,
        period: None,
        seed: 11,
    };
    let mut data: Vec<Rft> = simulate::bgnbd(&truth, &opts)
        .unwrap()
        .iter()
        .map(|s| s.calibration)
        .collect();
    data.push(c(20_000.0, 40.0, 40.0));
    data.push(c(0.0, 0.0, 0.0));
    data.push(c(3.0, 10.0, 10.0));
    let pop = Population::new(&data).unwrap();
    for kind in [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd] {
        let fit = fit_purchase_model(kind, &pop, &FitOptions::default()).unwrap();
        assert!(fit.log_likelihood.is_finite(), "{kind}");
        for cust in &data {
            assert_sane(&fit.model, cust);
        }
    }
}

#[test]
fn all_zero_frequency_population_is_a_typed_error() {
    let data: Vec<Rft> = (0..100).map(|i| c(0.0, 0.0, 10.0 + i as f64)).collect();
    assert!(matches!(
        bgnbd::fit(&data, &FitOptions::default()),
        Err(ModelError::Unidentifiable(_))
    ));
    assert!(matches!(
        paretonbd::fit(&data, &FitOptions::default()),
        Err(ModelError::Unidentifiable(_))
    ));
    assert!(matches!(
        mbgnbd::fit(&data, &FitOptions::default()),
        Err(ModelError::Unidentifiable(_))
    ));
    assert!(matches!(
        gammagamma::fit(&data, &FitOptions::default()),
        Err(ModelError::Unidentifiable(_))
    ));
}

#[test]
fn one_customer_population_fits_or_fails_cleanly() {
    for cust in [c(2.0, 30.0, 39.0), c(5.0, 39.0, 39.0), c(0.0, 0.0, 39.0)] {
        for kind in [ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd] {
            let pop = Population::new(&[cust]).unwrap();
            match fit_purchase_model(kind, &pop, &FitOptions::default()) {
                Ok(fit) => {
                    assert!(fit.log_likelihood.is_finite());
                    assert_sane(&fit.model, &cust);
                }
                Err(e) => assert!(
                    matches!(
                        e,
                        ModelError::Degenerate { .. } | ModelError::Unidentifiable(_)
                    ),
                    "{kind} {cust:?}: {e}"
                ),
            }
        }
        let one = Rft {
            monetary_value: 25.0,
            ..cust
        };
        match gammagamma::fit(&[one], &FitOptions::default()) {
            Ok(fit) => assert!(fit.log_likelihood.is_finite()),
            Err(e) => assert!(
                matches!(
                    e,
                    ModelError::Degenerate { .. } | ModelError::Unidentifiable(_)
                ),
                "{e}"
            ),
        }
    }
}

#[test]
fn invalid_input_is_rejected_with_the_customer_index() {
    let bad = [
        c(1.0, 5.0, 4.0),           // recency after T
        c(-1.0, 0.0, 4.0),          // negative frequency
        c(1.5, 1.0, 4.0),           // fractional frequency
        c(f64::NAN, 0.0, 4.0),      // NaN
        c(1.0, 1.0, f64::INFINITY), // infinite T
        c(0.0, 2.0, 4.0),           // recency without repeat purchases
    ];
    for b in bad {
        let data = vec![c(1.0, 2.0, 3.0), b];
        match Population::new(&data) {
            Err(ModelError::InvalidCustomer { index, .. }) => assert_eq!(index, 1),
            other => panic!("{b:?}: {other:?}"),
        }
    }
    assert_eq!(Population::new(&[]).unwrap_err(), ModelError::Empty);
    assert!(matches!(
        BgNbd::new(0.0, 1.0, 1.0, 1.0),
        Err(ModelError::InvalidParameter { name: "r", .. })
    ));
    assert!(matches!(
        ParetoNbd::new(1.0, f64::NAN, 1.0, 1.0),
        Err(ModelError::InvalidParameter { name: "alpha", .. })
    ));
    let opts = FitOptions {
        gradient_tolerance: -1.0,
        ..FitOptions::default()
    };
    assert!(matches!(
        bgnbd::fit(&[c(1.0, 2.0, 3.0)], &opts),
        Err(ModelError::InvalidOptions(_))
    ));
    assert!(matches!(
        Population::from_slices(&[1.0], &[1.0, 2.0], &[3.0]),
        Err(ModelError::LengthMismatch { .. })
    ));
}

#[test]
fn zero_dollar_customers_and_infinite_mean_spend() {
    let gg = GammaGamma::new(6.25, 3.74, 15.44).unwrap();
    let mean = gg.population_mean_spend().unwrap();
    // Repeat buyer whose repeat orders were all free: population mean, like a one-time buyer.
    assert_eq!(gg.expected_spend(3.0, 0.0).unwrap(), mean);
    assert_eq!(gg.expected_spend(0.0, 0.0).unwrap(), mean);
    // Zero-dollar customers are left out of the fit, not fed to ln(0).
    let mut data: Vec<Rft> = (1..200)
        .map(|i| Rft {
            frequency: (i % 5 + 1) as f64,
            recency: 10.0,
            t: 20.0,
            monetary_value: 10.0 + (i % 13) as f64,
        })
        .collect();
    data.push(Rft {
        frequency: 4.0,
        recency: 10.0,
        t: 20.0,
        monetary_value: 0.0,
    });
    // 199 customers with varied positive spend: the fit must succeed on them.
    let fit = gammagamma::fit(&data, &FitOptions::default())
        .expect("the Gamma-Gamma fit succeeds on the customers with a positive spend");
    assert_eq!(fit.n_customers, 199);
    assert!(fit.log_likelihood.is_finite());
    // q <= 1: the mean spend is infinite, reported as such.
    let heavy = GammaGamma::new(2.0, 0.8, 10.0).unwrap();
    assert_eq!(
        heavy.population_mean_spend(),
        Err(ModelError::InfiniteMeanSpend { q: 0.8 })
    );
    assert!(heavy.expected_spend(0.0, 0.0).is_err());
    assert!(heavy.expected_spend(5.0, 30.0).unwrap().is_finite());
    let bg = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
    assert!(clv::customer_values(&bg, &heavy, &data, &ClvOptions::default()).is_err());
    // Negative spend is invalid input.
    assert!(matches!(
        gammagamma::fit_slices(&[1.0], &[-5.0], &FitOptions::default()),
        Err(ModelError::InvalidCustomer { index: 0, .. })
    ));
}

#[test]
fn predictions_are_continuous_at_the_removable_singularities() {
    // BG/NBD at a = 1 and Pareto/NBD at s = 1 divide by (a-1), (s-1) in the textbook formulas.
    let cust = c(4.0, 30.0, 39.0);
    let e = |a: f64| {
        BgNbd::new(0.3, 5.0, a, 2.5)
            .unwrap()
            .conditional_expected_purchases(&cust, 39.0)
    };
    let at = e(1.0);
    assert!(at.is_finite() && at > 0.0);
    assert!((e(1.0 + 1e-7) - at).abs() < 1e-5 * at);
    assert!((e(1.0 - 1e-7) - at).abs() < 1e-5 * at);
    let u = |a: f64| {
        BgNbd::new(0.3, 5.0, a, 2.5)
            .unwrap()
            .expected_purchases_unconditional(39.0)
    };
    assert!((u(1.0 + 1e-7) - u(1.0)).abs() < 1e-5 * u(1.0));
    let p = |s: f64| {
        ParetoNbd::new(0.5, 10.0, s, 12.0)
            .unwrap()
            .conditional_expected_purchases(&cust, 39.0)
    };
    assert!((p(1.0 + 1e-7) - p(1.0)).abs() < 1e-5 * p(1.0));
    assert!((p(1.0 - 1e-7) - p(1.0)).abs() < 1e-5 * p(1.0));
}

#[test]
fn pareto_likelihood_is_continuous_across_alpha_equals_beta_and_extreme_ratios() {
    let custs = [c(0.0, 0.0, 39.0), c(3.0, 12.0, 39.0), c(40.0, 38.0, 39.0)];
    for cust in &custs {
        let ll = |alpha: f64, beta: f64| {
            ParetoNbd::new(0.55, alpha, 0.61, beta)
                .unwrap()
                .customer_log_likelihood(cust)
        };
        let at = ll(10.0, 10.0);
        assert!((ll(10.0 * (1.0 + 1e-9), 10.0) - at).abs() < 1e-7);
        assert!((ll(10.0, 10.0 * (1.0 + 1e-9)) - at).abs() < 1e-7);
        // rate parameters many orders of magnitude apart (the 2F1 argument close to 1)
        for (a, b) in [(1e-6, 50.0), (50.0, 1e-6), (1e-3, 1e5), (1e5, 1e-3)] {
            let v = ll(a, b);
            assert!(v.is_finite(), "{cust:?} {a} {b}: {v}");
        }
    }
}

#[test]
fn model_kind_parses_from_cli_flags() {
    assert_eq!("bgnbd".parse::<ModelKind>().unwrap(), ModelKind::BgNbd);
    assert_eq!("BG/NBD".parse::<ModelKind>().unwrap(), ModelKind::BgNbd);
    assert_eq!(
        "paretonbd".parse::<ModelKind>().unwrap(),
        ModelKind::ParetoNbd
    );
    assert_eq!(
        "pareto-nbd".parse::<ModelKind>().unwrap(),
        ModelKind::ParetoNbd
    );
    assert!("weibull".parse::<ModelKind>().is_err());
    assert_eq!(ModelKind::ParetoNbd.to_string(), "paretonbd");
}

#[test]
fn expectations_factor_into_p_alive_times_a_part_free_of_recency() {
    let horizons = [-1.0, 0.0, 1.0, 7.5, 39.0, 520.0, 1e5, f64::NAN];
    let customers = [
        c(0.0, 0.0, 30.0),
        c(2.0, 30.5, 38.0),
        c(2.0, 38.0, 38.0),
        c(2.0, 1.0, 38.0),
        c(1.0, 0.0, 0.0),
        c(5000.0, 300.0, 365.0),
        c(5000.0, 365.0, 365.0),
    ];
    // The enum forwards the call to the model inside.
    let mut boxed = models();
    boxed.push(Box::new(AnyPurchaseModel::BgNbd(
        BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap(),
    )));
    for m in &boxed {
        for cust in &customers {
            let mut out = [f64::NAN; 8];
            m.expected_purchases_if_alive_at(cust, &horizons, &mut out);
            let p = m.p_alive(cust);
            for (t, e) in horizons.iter().zip(out) {
                assert!(e.is_finite() && e >= 0.0, "{cust:?} t={t}: {e}");
                let one = m.conditional_expected_purchases(cust, *t);
                assert!(
                    (p * e - one).abs() <= 1e-12 * one.max(1e-300),
                    "{cust:?} t={t}: {p} x {e} vs {one}"
                );
            }
            // Recency does not enter the part if alive.
            let mut other = [f64::NAN; 8];
            let moved = c(cust.frequency, cust.recency / 2.0, cust.t);
            m.expected_purchases_if_alive_at(&moved, &horizons, &mut other);
            assert_eq!(out.map(f64::to_bits), other.map(f64::to_bits), "{cust:?}");
        }
    }
    // The CLV sums the horizons in chunks: more steps than a chunk give the plain sum.
    let model = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
    let options = ClvOptions {
        steps: 40,
        step_length: 4.3,
        discount_rate: 0.01,
        margin_ratio: 1.0,
    };
    for cust in &customers {
        let mut expected = 0.0;
        let mut previous = 0.0;
        for m in 1..=40 {
            let e = model.conditional_expected_purchases(cust, f64::from(m) * 4.3);
            expected += (e - previous).max(0.0) / 1.01f64.powi(m);
            previous = e;
        }
        let got = clv::discounted_expected_purchases(&model, cust, &options);
        assert!(
            (got - expected).abs() <= 1e-12 * expected.abs().max(1.0),
            "{cust:?}: {got} vs {expected}"
        );
    }
}
