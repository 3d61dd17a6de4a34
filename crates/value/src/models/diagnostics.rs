//! Fit diagnostics: calibration-vs-holdout tables, calibration frequency histograms, a
//! holdout comparison of the purchase models and the Gamma-Gamma independence check.

use super::{
    fit_purchase_model, validate, AnyPurchaseModel, FitOptions, Fitted, ModelError, ModelKind,
    Population, PurchaseModel,
};
use crate::summary::{CustomerSummary, Rft};

/// One row of the calibration/holdout table: customers with `frequency` repeat purchases in
/// calibration (or `frequency` and more for the top bin).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HoldoutBin {
    /// Calibration repeat purchases of the bin.
    pub frequency: u32,
    /// Whether this is the open-ended top bin (`frequency` or more, the "7+" row).
    pub open_ended: bool,
    /// Customers in the bin.
    pub n_customers: usize,
    /// Mean actual holdout purchases.
    pub actual_mean: f64,
    /// Mean conditional expected holdout purchases.
    pub expected_mean: f64,
}

/// Expected vs actual holdout purchases grouped by calibration frequency `0, 1, .., top-1,
/// top+` (lifetimes' `plot_calibration_purchases_vs_holdout_purchases`; `top = 7` gives the
/// classic 0..6, 7+ table). `holdout_purchases[i]` are customer `i`'s repeat purchases during
/// the holdout of length `holdout_length` after their calibration `T`.
pub fn holdout_by_frequency<M: PurchaseModel + ?Sized>(
    model: &M,
    calibration: &[Rft],
    holdout_purchases: &[f64],
    holdout_length: f64,
    top: u32,
) -> Result<Vec<HoldoutBin>, ModelError> {
    if holdout_purchases.len() != calibration.len() {
        return Err(ModelError::LengthMismatch {
            what: "holdout_purchases",
            got: holdout_purchases.len(),
            expected: calibration.len(),
        });
    }
    if !(holdout_length.is_finite() && holdout_length >= 0.0) {
        return Err(ModelError::InvalidOptions(
            "holdout_length must be finite and >= 0",
        ));
    }
    validate(calibration)?;
    let bins = top as usize + 1;
    let mut n = vec![0usize; bins];
    let mut actual = vec![0.0; bins];
    let mut expected = vec![0.0; bins];
    for (c, &h) in calibration.iter().zip(holdout_purchases) {
        let k = (c.frequency as u64).min(top as u64) as usize;
        n[k] += 1;
        actual[k] += h;
        expected[k] += model.conditional_expected_purchases(c, holdout_length);
    }
    Ok((0..bins)
        .map(|k| {
            let m = n[k].max(1) as f64;
            HoldoutBin {
                frequency: k as u32,
                open_ended: k == top as usize,
                n_customers: n[k],
                actual_mean: actual[k] / m,
                expected_mean: expected[k] / m,
            }
        })
        .collect())
}

/// One bar of the calibration frequency histogram.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrequencyBin {
    /// Number of repeat purchases.
    pub frequency: u32,
    /// Whether this is the open-ended top bin (`frequency` or more).
    pub open_ended: bool,
    /// Customers observed with that many repeat purchases.
    pub actual: f64,
    /// Customers the model expects with that many, `Σ_i P(X(T_i) = n)`.
    pub expected: f64,
}

/// Actual vs expected number of customers with `0, 1, .., top-1, top+` repeat purchases in
/// calibration, the expectation summing each customer's `P(X(T_i) = n)` (lifetimes'
/// `plot_period_transactions`, computed exactly rather than by simulation).
pub fn frequency_histogram<M: PurchaseModel + ?Sized>(
    model: &M,
    calibration: &[Rft],
    top: u32,
) -> Result<Vec<FrequencyBin>, ModelError> {
    validate(calibration)?;
    let bins = top as usize + 1;
    let mut actual = vec![0.0; bins];
    for c in calibration {
        actual[(c.frequency as u64).min(top as u64) as usize] += 1.0;
    }
    // The probabilities depend on T only: group customers by T.
    let mut ts: Vec<f64> = calibration.iter().map(|c| c.t + 0.0).collect();
    ts.sort_unstable_by(f64::total_cmp);
    let mut expected = vec![0.0; bins];
    let mut i = 0;
    while i < ts.len() {
        let t = ts[i];
        let mut j = i;
        while j < ts.len() && ts[j] == t {
            j += 1;
        }
        let count = (j - i) as f64;
        let mut below = 0.0;
        for (n, e) in expected.iter_mut().enumerate().take(top as usize) {
            let p = model.probability_of_purchases(n as u32, t);
            below += p;
            *e += count * p;
        }
        expected[top as usize] += count * (1.0 - below).max(0.0);
        i = j;
    }
    Ok((0..bins)
        .map(|k| FrequencyBin {
            frequency: k as u32,
            open_ended: k == top as usize,
            actual: actual[k],
            expected: expected[k],
        })
        .collect())
}

/// Pearson correlation between frequency and monetary value over the customers the
/// Gamma-Gamma model uses (`frequency > 0`, `monetary_value > 0`). The model assumes spend is
/// independent of frequency, so this should be near 0 (CDNOW: about 0.11). `None` with fewer
/// than two such customers or no variation.
pub fn frequency_monetary_correlation(customers: &[Rft]) -> Option<f64> {
    let used: Vec<(f64, f64)> = customers
        .iter()
        .filter(|c| c.frequency > 0.0 && c.monetary_value > 0.0)
        .map(|c| (c.frequency, c.monetary_value))
        .filter(|(x, m)| x.is_finite() && m.is_finite())
        .collect();
    if used.len() < 2 {
        return None;
    }
    let n = used.len() as f64;
    let (mx, mm) = used
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, m)| (a + x / n, b + m / n));
    let (mut sxx, mut smm, mut sxm) = (0.0, 0.0, 0.0);
    for (x, m) in &used {
        let (dx, dm) = (x - mx, m - mm);
        sxx += dx * dx;
        smm += dm * dm;
        sxm += dx * dm;
    }
    if sxx <= 0.0 || smm <= 0.0 {
        return None;
    }
    Some(sxm / (sxx * smm).sqrt())
}

/// How well one purchase model, fitted on the calibration period, predicts the repeat purchases
/// of the holdout period (see [`compare_on_holdout`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HoldoutComparison {
    pub kind: ModelKind,
    /// The calibration fit (`None` when it failed, see `error`).
    pub fit: Option<Fitted<AnyPurchaseModel>>,
    /// Why the model could not be fitted (the figures below are then NaN).
    pub error: Option<String>,
    /// Customers compared.
    pub n_customers: usize,
    /// Actual holdout repeat purchases, all customers.
    pub actual_total: f64,
    /// Conditional expected holdout purchases, all customers.
    pub predicted_total: f64,
    /// `(predicted_total - actual_total) / actual_total` (NaN without holdout purchases).
    pub total_relative_error: f64,
    /// Mean over customers of `|predicted - actual|`.
    pub mean_absolute_error: f64,
    /// Root mean square of `predicted - actual` over customers.
    pub root_mean_squared_error: f64,
}

/// Fit each of `kinds` on the calibration figures and compare its conditional expected
/// purchases over the holdout (`holdout_length` units after each customer's `T`) with the
/// actual holdout purchases, per customer and in total: one [`HoldoutComparison`] per kind, in
/// order. Invalid input is an error; a model that cannot be fitted gets NaN figures and its
/// `error`.
pub fn compare_on_holdout(
    calibration: &[Rft],
    holdout_purchases: &[f64],
    holdout_length: f64,
    kinds: &[ModelKind],
    options: &FitOptions,
) -> Result<Vec<HoldoutComparison>, ModelError> {
    if holdout_purchases.len() != calibration.len() {
        return Err(ModelError::LengthMismatch {
            what: "holdout_purchases",
            got: holdout_purchases.len(),
            expected: calibration.len(),
        });
    }
    if !(holdout_length.is_finite() && holdout_length >= 0.0) {
        return Err(ModelError::InvalidOptions(
            "holdout_length must be finite and >= 0",
        ));
    }
    if holdout_purchases
        .iter()
        .any(|h| !(h.is_finite() && *h >= 0.0))
    {
        return Err(ModelError::InvalidOptions(
            "holdout purchases must be finite and >= 0",
        ));
    }
    let population = Population::new(calibration)?;
    let n = calibration.len();
    let actual_total: f64 = holdout_purchases.iter().sum();
    Ok(kinds
        .iter()
        .map(
            |&kind| match fit_purchase_model(kind, &population, options) {
                Ok(fit) => {
                    let (mut predicted_total, mut abs, mut sq) = (0.0, 0.0, 0.0);
                    for (c, &h) in calibration.iter().zip(holdout_purchases) {
                        let e = fit.model.conditional_expected_purchases(c, holdout_length);
                        predicted_total += e;
                        abs += (e - h).abs();
                        sq += (e - h) * (e - h);
                    }
                    HoldoutComparison {
                        kind,
                        fit: Some(fit),
                        error: None,
                        n_customers: n,
                        actual_total,
                        predicted_total,
                        total_relative_error: if actual_total > 0.0 {
                            (predicted_total - actual_total) / actual_total
                        } else {
                            f64::NAN
                        },
                        mean_absolute_error: abs / n as f64,
                        root_mean_squared_error: (sq / n as f64).sqrt(),
                    }
                }
                Err(e) => HoldoutComparison {
                    kind,
                    fit: None,
                    error: Some(e.to_string()),
                    n_customers: n,
                    actual_total,
                    predicted_total: f64::NAN,
                    total_relative_error: f64::NAN,
                    mean_absolute_error: f64::NAN,
                    root_mean_squared_error: f64::NAN,
                },
            },
        )
        .collect())
}

/// [`compare_on_holdout`] of BG/NBD, MBG/NBD and Pareto/NBD on summaries made with a holdout
/// window ([`crate::summary::summarize`] with `observation_end`; `holdout_length` is
/// [`crate::summary::SummaryOptions::holdout_length`]). Customers without an order in the
/// calibration period are left out.
pub fn compare_summaries_on_holdout(
    summaries: &[CustomerSummary],
    holdout_length: f64,
    options: &FitOptions,
) -> Result<Vec<HoldoutComparison>, ModelError> {
    let used: Vec<&CustomerSummary> = summaries.iter().filter(|s| s.first_day.is_some()).collect();
    let calibration: Vec<Rft> = used.iter().map(|s| s.rft).collect();
    let holdout: Vec<f64> = used.iter().map(|s| s.holdout_purchases).collect();
    compare_on_holdout(
        &calibration,
        &holdout,
        holdout_length,
        &[ModelKind::BgNbd, ModelKind::MbgNbd, ModelKind::ParetoNbd],
        options,
    )
}

/// The least purchase history a purchase model is used on, and what an identified fit looks
/// like (see [`check_history`] and [`check_fit`]). Every field has a default.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct HistoryRules {
    /// Customers with at least one repeat purchase needed (default 10).
    pub min_repeat_customers: usize,
    /// Shape parameters (r, a, b, s) must lie in `[min_shape, max_shape]` (default
    /// 1e-4..1e4): beyond, the optimiser ran towards a boundary of the parameter space.
    pub min_shape: f64,
    pub max_shape: f64,
    /// Scale parameters (alpha, beta) divided by the customers' mean age `T` must lie in
    /// `[min_scale, max_scale]` (default 1e-4..1e4).
    pub min_scale: f64,
    pub max_scale: f64,
    /// The likelihood counts as flat along a parameter when halving and doubling it (the others
    /// held) both change the total log-likelihood by less than this (default 0.5).
    pub flat_log_likelihood: f64,
}

impl Default for HistoryRules {
    fn default() -> Self {
        HistoryRules {
            min_repeat_customers: 10,
            min_shape: 1e-4,
            max_shape: 1e4,
            min_scale: 1e-4,
            max_scale: 1e4,
            flat_log_likelihood: 0.5,
        }
    }
}

/// What the figures fall back to when no purchase model is used.
pub const HISTORY_FALLBACK: &str = "historical figures only (margin, RFM, ABC, churn by revenue drop and absence); no CLV, P(alive) or expected purchases";

/// Why a purchase model is not used: too little purchase history, or a fit the data do not
/// identify.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NotEnoughHistory {
    /// `no_customers`, `few_repeat_customers`, `same_frequency`, `fit_failed`,
    /// `parameter_at_bound` or `flat_likelihood`.
    pub code: String,
    /// The reason in words, with the figures.
    pub reason: String,
    /// Which fallback the figures use ([`HISTORY_FALLBACK`]).
    pub fallback: String,
}

impl NotEnoughHistory {
    pub fn new(code: &str, reason: String) -> Self {
        NotEnoughHistory {
            code: code.to_string(),
            reason,
            fallback: HISTORY_FALLBACK.to_string(),
        }
    }
}

impl std::fmt::Display for NotEnoughHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not enough purchase history: {}", self.reason)
    }
}

/// Whether the customers' calibration figures carry enough purchase history for a purchase
/// model: at least `rules.min_repeat_customers` customers with a repeat purchase, and not
/// everyone with the same number of repeat purchases.
pub fn check_history(calibration: &[Rft], rules: &HistoryRules) -> Result<(), NotEnoughHistory> {
    if calibration.is_empty() {
        return Err(NotEnoughHistory::new(
            "no_customers",
            "no customer has an order in the calibration period".into(),
        ));
    }
    let repeat = calibration.iter().filter(|c| c.frequency > 0.0).count();
    if repeat < rules.min_repeat_customers {
        return Err(NotEnoughHistory::new(
            "few_repeat_customers",
            format!(
                "{repeat} of {} customers made a repeat purchase; the purchase models need at least {}",
                calibration.len(),
                rules.min_repeat_customers
            ),
        ));
    }
    let first = calibration[0].frequency;
    if calibration.iter().all(|c| c.frequency == first) {
        return Err(NotEnoughHistory::new(
            "same_frequency",
            format!("every customer made the same number of repeat purchases ({first})"),
        ));
    }
    Ok(())
}

/// Whether a purchase model fitted on `calibration` may be used: the data pass
/// [`check_history`], no parameter lies at the optimiser's bounds (see
/// [`HistoryRules`]) and the likelihood is not flat along any parameter.
pub fn check_fit(
    fit: &Fitted<AnyPurchaseModel>,
    calibration: &[Rft],
    rules: &HistoryRules,
) -> Result<(), NotEnoughHistory> {
    check_history(calibration, rules)?;
    let kind = model_label(fit.model.kind());
    let params = named_params(&fit.model);
    let mean_t = calibration.iter().map(|c| c.t).sum::<f64>() / calibration.len() as f64;
    let mean_t = if mean_t > 0.0 { mean_t } else { 1.0 };
    // A shape running off to infinity with its scale (r with alpha; s with beta) is the
    // homogeneous limit (every customer the same rate): the ratio, all predictions use, is
    // identified, so that pair is not at a bound.
    let homogeneous = |shape: usize| {
        let (_, v, _) = params[shape];
        let (_, w, _) = params[shape + 1];
        v > rules.max_shape && w / mean_t > 1.0 && (v / w).is_finite()
    };
    // BG/NBD and MBG/NBD with a running off to 0 and a dropout probability a / (a + b) below
    // 0.1% is the no-dropout limit, the NBD, which the data identify: nobody is seen to drop
    // out.
    let pareto = matches!(fit.model, AnyPurchaseModel::ParetoNbd(_));
    let no_dropout = !pareto
        && params[2].1 < rules.min_shape
        && params[2].1 / (params[2].1 + params[3].1) < 1e-3;
    let skip = [
        homogeneous(0),
        homogeneous(0),
        (pareto && homogeneous(2)) || no_dropout,
        (pareto && homogeneous(2)) || no_dropout,
    ];
    for (k, (name, value, scale)) in params.into_iter().enumerate() {
        if skip[k] {
            continue;
        }
        let (v, lo, hi) = if scale {
            (value / mean_t, rules.min_scale, rules.max_scale)
        } else {
            (value, rules.min_shape, rules.max_shape)
        };
        if !(v.is_finite() && v >= lo && v <= hi) {
            return Err(NotEnoughHistory::new(
                "parameter_at_bound",
                format!(
                    "the {kind} fit is not identified: {name} = {} lies at the optimiser's bounds ({})",
                    short(value),
                    if scale {
                        format!("{lo:e}..{hi:e} times the mean customer age")
                    } else {
                        format!("{lo:e}..{hi:e}")
                    }
                ),
            ));
        }
    }
    // Flatness: the log-likelihood on at most 20,000 customers (every k-th), scaled to all.
    let step = calibration.len().div_ceil(20_000).max(1);
    let sample: Vec<Rft> = calibration.iter().step_by(step).copied().collect();
    let scale = calibration.len() as f64 / sample.len() as f64;
    let ll = |m: &AnyPurchaseModel| m.log_likelihood(&sample) * scale;
    let at = ll(&fit.model);
    if !at.is_finite() {
        return Err(NotEnoughHistory::new(
            "flat_likelihood",
            format!("the {kind} log-likelihood is not finite at the fitted parameters"),
        ));
    }
    for (i, (name, value, _)) in named_params(&fit.model).into_iter().enumerate() {
        if skip[i] {
            // A limit the data identify (see above): flat along it by nature.
            continue;
        }
        let change = |factor: f64| (at - ll(&with_param(&fit.model, i, value * factor))).abs();
        let (down, up) = (change(0.5), change(2.0));
        if down < rules.flat_log_likelihood && up < rules.flat_log_likelihood {
            return Err(NotEnoughHistory::new(
                "flat_likelihood",
                format!(
                    "the {kind} likelihood is flat in {name} (= {}): halving or doubling it changes the log-likelihood by less than {}",
                    short(value),
                    rules.flat_log_likelihood
                ),
            ));
        }
    }
    Ok(())
}

/// People's name of a purchase model.
pub fn model_label(kind: ModelKind) -> &'static str {
    match kind {
        ModelKind::BgNbd => "BG/NBD",
        ModelKind::MbgNbd => "MBG/NBD",
        ModelKind::ParetoNbd => "Pareto/NBD",
    }
}

/// A number for people: 4 significant digits, no exponent between 1e-3 and 1e6.
fn short(v: f64) -> String {
    if v != 0.0 && (v.abs() < 1e-3 || v.abs() >= 1e6) {
        format!("{v:.3e}")
    } else {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
        format!("{v:.digits$}")
    }
}

/// `(name, value, is a scale parameter)` of a purchase model's parameters.
fn named_params(m: &AnyPurchaseModel) -> [(&'static str, f64, bool); 4] {
    match m {
        AnyPurchaseModel::BgNbd(b) => [
            ("r", b.r, false),
            ("alpha", b.alpha, true),
            ("a", b.a, false),
            ("b", b.b, false),
        ],
        AnyPurchaseModel::MbgNbd(b) => [
            ("r", b.r, false),
            ("alpha", b.alpha, true),
            ("a", b.a, false),
            ("b", b.b, false),
        ],
        AnyPurchaseModel::ParetoNbd(p) => [
            ("r", p.r, false),
            ("alpha", p.alpha, true),
            ("s", p.s, false),
            ("beta", p.beta, true),
        ],
    }
}

/// The model with its `i`-th parameter (order of [`named_params`]) set to `v`.
fn with_param(m: &AnyPurchaseModel, i: usize, v: f64) -> AnyPurchaseModel {
    let mut m = *m;
    let slots: [&mut f64; 4] = match &mut m {
        AnyPurchaseModel::BgNbd(b) => [&mut b.r, &mut b.alpha, &mut b.a, &mut b.b],
        AnyPurchaseModel::MbgNbd(b) => [&mut b.r, &mut b.alpha, &mut b.a, &mut b.b],
        AnyPurchaseModel::ParetoNbd(p) => [&mut p.r, &mut p.alpha, &mut p.s, &mut p.beta],
    };
    for (k, s) in slots.into_iter().enumerate() {
        if k == i {
            *s = v;
        }
    }
    m
}
