//! Hand-written SVG plots of the value report.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use patron_value::Analysis;

const W: f64 = 640.0;
const H: f64 = 420.0;
const L: f64 = 70.0; // left margin
const R: f64 = 20.0;
const T: f64 = 50.0;
const B: f64 = 60.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

struct Svg(String);

impl Svg {
    fn new(title: &str) -> Self {
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">
<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>
<text x="{}" y="28" text-anchor="middle" font-size="16" font-weight="bold">{}</text>
"#,
            W / 2.0,
            esc(title)
        );
        Svg(s)
    }
    fn text(&mut self, x: f64, y: f64, anchor: &str, extra: &str, t: &str) {
        let _ = writeln!(
            self.0,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" {extra}>{}</text>"#,
            esc(t)
        );
    }
    fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, style: &str) {
        let _ = writeln!(
            self.0,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" {style}/>"#
        );
    }
    fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str) {
        let _ = writeln!(
            self.0,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{fill}"/>"#,
            w.max(0.0),
            h.max(0.0)
        );
    }
    fn path(&mut self, pts: &[(f64, f64)], style: &str) {
        let mut d = String::new();
        for (k, (x, y)) in pts.iter().enumerate() {
            let _ = write!(d, "{}{x:.1},{y:.1} ", if k == 0 { "M" } else { "L" });
        }
        let _ = writeln!(
            self.0,
            r#"<path d="{}" fill="none" {style}/>"#,
            d.trim_end()
        );
    }
    /// Axes with ticks for a plot area mapping `[x0,x1] x [y0,y1]`.
    fn axes(
        &mut self,
        x: (f64, f64),
        y: (f64, f64),
        xlabel: &str,
        ylabel: &str,
        xticks: &[f64],
        yticks: &[f64],
    ) {
        let (px0, px1, py0, py1) = (L, W - R, H - B, T);
        self.line(px0, py0, px1, py0, r#"stroke="black""#);
        self.line(px0, py0, px0, py1, r#"stroke="black""#);
        for &t in xticks {
            let px = px0 + (t - x.0) / (x.1 - x.0) * (px1 - px0);
            self.line(px, py0, px, py0 + 5.0, r#"stroke="black""#);
            self.text(px, py0 + 18.0, "middle", "", &tick(t));
        }
        for &t in yticks {
            let py = py0 - (t - y.0) / (y.1 - y.0) * (py0 - py1);
            self.line(px0 - 5.0, py, px0, py, r#"stroke="black""#);
            self.line(px0, py, px1, py, r##"stroke="#ddd""##);
            self.text(px0 - 8.0, py + 4.0, "end", "", &tick(t));
        }
        self.text((px0 + px1) / 2.0, H - 18.0, "middle", "", xlabel);
        self.text(
            16.0,
            (py0 + py1) / 2.0,
            "middle",
            &format!(r#"transform="rotate(-90 16 {:.1})""#, (py0 + py1) / 2.0),
            ylabel,
        );
    }
    fn finish(mut self, path: &Path) -> anyhow::Result<PathBuf> {
        self.0.push_str("</svg>\n");
        std::fs::write(path, self.0)?;
        Ok(path.to_path_buf())
    }
}

fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v:.2}")
    }
}

fn nice_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let span = (hi - lo).max(1e-9);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= 6.0)
        .unwrap_or(10.0 * mag);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while t <= hi + 1e-9 {
        out.push(t);
        t += step;
    }
    out
}

fn map(v: f64, lo: f64, hi: f64, p0: f64, p1: f64) -> f64 {
    p0 + (v - lo) / (hi - lo).max(1e-12) * (p1 - p0)
}

pub fn write_all(an: &Analysis, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;
    let mut out = vec![
        whale(an, &dir.join("whale_curve.svg"))?,
        rfm_grid(an, &dir.join("rfm_grid.svg"))?,
        funnel(an, &dir.join("loyalty_funnel.svg"))?,
    ];
    if let Some(m) = &an.model {
        if let Some(bins) = &m.holdout {
            out.push(holdout(bins, &dir.join("holdout_fit.svg"))?);
        }
    }
    Ok(out)
}

fn whale(an: &Analysis, path: &Path) -> anyhow::Result<PathBuf> {
    let c = &an.whale.curve;
    let ymax = c.iter().map(|p| p.profit_pct).fold(100.0f64, f64::max) * 1.05;
    let ymin = c.iter().map(|p| p.profit_pct).fold(0.0f64, f64::min);
    let mut s = Svg::new("Customer profitability (whale) curve");
    s.axes(
        (0.0, 100.0),
        (ymin, ymax),
        "customers, most profitable first (%)",
        "cumulative CRM gross margin (% of total)",
        &nice_ticks(0.0, 100.0),
        &nice_ticks(ymin, ymax),
    );
    let pts: Vec<(f64, f64)> = c
        .iter()
        .map(|p| {
            (
                map(p.customers_pct, 0.0, 100.0, L, W - R),
                map(p.profit_pct, ymin, ymax, H - B, T),
            )
        })
        .collect();
    s.line(
        L,
        map(100.0, ymin, ymax, H - B, T),
        W - R,
        map(100.0, ymin, ymax, H - B, T),
        r##"stroke="#999" stroke-dasharray="4 3""##,
    );
    s.path(&pts, r##"stroke="#1f77b4" stroke-width="2""##);
    let f = &an.whale.figures;
    s.text(
        L + 10.0,
        T + 16.0,
        "start",
        "",
        &format!(
            "top 20%: {:.1}% of margin; peak {:.1}%; bottom 30% destroy {:.1}% of the peak",
            f.top_share, f.peak, f.bottom_destroyed
        ),
    );
    s.finish(path)
}

fn rfm_grid(an: &Analysis, path: &Path) -> anyhow::Result<PathBuf> {
    let g = &an.rfm.grid;
    let max = g
        .iter()
        .flatten()
        .map(|c| c.customers)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut s = Svg::new("RFM grid: customers by recency and frequency score");
    let (cw, ch) = ((W - L - R) / 5.0, (H - T - B) / 5.0);
    for (ri, row) in g.iter().enumerate() {
        for (fi, cell) in row.iter().enumerate() {
            let x = L + fi as f64 * cw;
            let y = T + (4 - ri) as f64 * ch;
            let t = cell.customers as f64 / max;
            let (r, gg, b) = (255.0 - t * 224.0, 255.0 - t * 136.0, 255.0 - t * 75.0);
            s.rect(
                x + 1.0,
                y + 1.0,
                cw - 2.0,
                ch - 2.0,
                &format!("rgb({:.0},{:.0},{:.0})", r, gg, b),
            );
            s.text(
                x + cw / 2.0,
                y + ch / 2.0 + 4.0,
                "middle",
                if t > 0.5 { r#"fill="white""# } else { "" },
                &cell.customers.to_string(),
            );
        }
    }
    for k in 0..5 {
        s.text(
            L + (k as f64 + 0.5) * cw,
            H - B + 18.0,
            "middle",
            "",
            &(k + 1).to_string(),
        );
        s.text(
            L - 10.0,
            T + (4 - k) as f64 * ch + ch / 2.0 + 4.0,
            "end",
            "",
            &(k + 1).to_string(),
        );
    }
    s.line(L, H - B, W - R, H - B, r#"stroke="black""#);
    s.line(L, H - B, L, T, r#"stroke="black""#);
    s.text(
        (L + W - R) / 2.0,
        H - 18.0,
        "middle",
        "",
        "frequency score (5 = most purchases)",
    );
    s.text(
        16.0,
        (T + H - B) / 2.0,
        "middle",
        &format!(r#"transform="rotate(-90 16 {:.1})""#, (T + H - B) / 2.0),
        "recency score (5 = most recent)",
    );
    s.finish(path)
}

fn funnel(an: &Analysis, path: &Path) -> anyhow::Result<PathBuf> {
    let (first, repeat) = (an.loyalty.first_time_buyer, an.loyalty.repeat_buyer);
    let churned = an.churn.len() as u64;
    let stages = [
        ("buyers (first-time + repeat)", first + repeat),
        ("repeat buyers", repeat),
        (
            "repeat buyers, not warned",
            repeat.saturating_sub(
                an.summaries
                    .iter()
                    .enumerate()
                    .filter(|(i, s)| s.rft.frequency > 0.0 && an.churn_flags[*i] != 0)
                    .count() as u64,
            ),
        ),
    ];
    let _ = churned;
    let max = stages.iter().map(|s| s.1).max().unwrap_or(1).max(1) as f64;
    let mut s = Svg::new("Loyalty stage funnel");
    let bh = (H - T - B) / stages.len() as f64;
    for (k, (name, v)) in stages.iter().enumerate() {
        let w = (W - L - R) * (*v as f64 / max);
        let x = L + (W - L - R - w) / 2.0;
        let y = T + k as f64 * bh;
        s.rect(
            x,
            y + 4.0,
            w,
            bh - 8.0,
            ["#1f77b4", "#2ca02c", "#98df8a"][k],
        );
        s.text(
            W / 2.0,
            y + bh / 2.0 + 4.0,
            "middle",
            "",
            &format!("{name}: {v}"),
        );
    }
    s.text(
        W / 2.0,
        H - 18.0,
        "middle",
        "",
        "suspects, prospects and advocates need interaction and referral data (not in order files)",
    );
    s.line(L, H - B + 4.0, W - R, H - B + 4.0, r#"stroke="black""#);
    s.finish(path)
}

fn holdout(
    bins: &[patron_value::models::diagnostics::HoldoutBin],
    path: &Path,
) -> anyhow::Result<PathBuf> {
    let n = bins.len().max(1) as f64;
    let ymax = bins
        .iter()
        .flat_map(|b| [b.actual_mean, b.expected_mean])
        .fold(0.1f64, f64::max)
        * 1.1;
    let mut s = Svg::new("Holdout: actual vs expected repeat purchases");
    s.axes(
        (0.0, n - 1.0),
        (0.0, ymax),
        "repeat purchases in calibration",
        "mean purchases in holdout",
        &[],
        &nice_ticks(0.0, ymax),
    );
    let px = |k: usize| map(k as f64, 0.0, (n - 1.0).max(1.0), L + 20.0, W - R - 20.0);
    for (k, b) in bins.iter().enumerate() {
        s.text(
            px(k),
            H - B + 18.0,
            "middle",
            "",
            &format!("{}{}", b.frequency, if b.open_ended { "+" } else { "" }),
        );
    }
    let actual: Vec<(f64, f64)> = bins
        .iter()
        .enumerate()
        .map(|(k, b)| (px(k), map(b.actual_mean, 0.0, ymax, H - B, T)))
        .collect();
    let expected: Vec<(f64, f64)> = bins
        .iter()
        .enumerate()
        .map(|(k, b)| (px(k), map(b.expected_mean, 0.0, ymax, H - B, T)))
        .collect();
    s.path(&actual, r##"stroke="#d62728" stroke-width="2""##);
    s.path(
        &expected,
        r##"stroke="#1f77b4" stroke-width="2" stroke-dasharray="6 3""##,
    );
    s.line(
        L + 20.0,
        T + 10.0,
        L + 50.0,
        T + 10.0,
        r##"stroke="#d62728" stroke-width="2""##,
    );
    s.text(L + 55.0, T + 14.0, "start", "", "actual");
    s.line(
        L + 120.0,
        T + 10.0,
        L + 150.0,
        T + 10.0,
        r##"stroke="#1f77b4" stroke-width="2" stroke-dasharray="6 3""##,
    );
    s.text(L + 155.0, T + 14.0, "start", "", "expected (model)");
    s.finish(path)
}
