//! The dashboard's figures that need every order line or value row, computed by the value
//! refresh and kept in its snapshot (see [`crate::value::refresh`]).

use serde::Deserialize;

use crate::period::Comparison;

/// The dashboard's figures computed with a snapshot from all its order lines and value rows.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, Deserialize)]
#[serde(default)]
pub struct SnapshotFigures {
    /// The comparison of every period length that has one.
    pub periods: Vec<Comparison>,
    /// (lower bound, step, customers per bin) of the CLV histogram.
    pub clv_bins: Option<(f64, f64, Vec<u64>)>,
    /// Live customers and advocates when the refresh ran: the first view of the snapshot shows
    /// these, later ones count again (see the web dashboard's cache). Set by the refresh.
    pub customers: Option<u64>,
    pub advocates: Option<u64>,
}

impl SnapshotFigures {
    /// The figures of a refresh: `periods`, the comparisons of the order lines it read with
    /// the ABC classes and RFM segments it stores ([`crate::period::compute_all_dense`]), and
    /// the CLV histogram of `rows` (the value rows it stores) over the bins of `deciles` (the
    /// report's CLV deciles), counted as [`patron_store::Store::clv_histogram`] counts the
    /// stored rows.
    pub fn of_periods(
        periods: Vec<Comparison>,
        rows: &[patron_store::CustomerValueRow],
        deciles: &[f64],
    ) -> SnapshotFigures {
        let clv_bins = clv_range(deciles).map(|(lo, step, n)| {
            let mut counts = vec![0u64; n.max(1)];
            let last = counts.len() - 1;
            for v in rows.iter().filter_map(|r| r.clv).filter(|v| !v.is_nan()) {
                let b = ((v - lo) / step).floor();
                // Below the first bin counts in it, beyond the last in the last.
                let k = if b >= 0.0 { (b as usize).min(last) } else { 0 };
                counts[k] += 1;
            }
            (lo, step, counts)
        });
        SnapshotFigures {
            periods,
            clv_bins,
            customers: None,
            advocates: None,
        }
    }
}

/// Bins of the CLV histogram from the deciles: from min(0, p0) to about the 95th percentile
/// (the long tail goes in the last bin), on round steps.
pub fn clv_range(deciles: &[f64]) -> Option<(f64, f64, usize)> {
    if deciles.len() < 11 {
        return None;
    }
    let lo = deciles[0].min(0.0);
    // Twice the 90th percentile (at most the highest value): the tail goes in the last bin.
    let hi = (deciles[9] * 2.0).min(deciles[10]).max(deciles[9]);
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    let t = ticks(lo, hi, 24);
    let step = t.windows(2).map(|w| w[1] - w[0]).next()?;
    let start = (lo / step).floor() * step;
    let n = (((hi - start) / step).ceil() as usize).clamp(1, 60);
    Some((start, step, n))
}

/// Round tick values covering `lo..=hi` (about `n` of them).
pub fn ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / n.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let mut v = start;
    while v <= hi + step * 1e-9 {
        out.push(if v.abs() < step * 1e-9 { 0.0 } else { v });
        v += step;
    }
    out
}
