//! Fit diagnostics: calibration-vs-holdout tables, calibration frequency histograms and the
//! Gamma-Gamma independence check.

use super::{validate, ModelError, PurchaseModel};
use crate::summary::Rft;

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
