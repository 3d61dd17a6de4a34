//! `patron value report` and `patron value export`: every customer-value figure of patron-value
//! (summary, RFM, ABC, whale curve, loyalty stage, lifecycle phase, churn warnings, BG/NBD or
//! Pareto/NBD with Gamma-Gamma and CLV), on the database or straight on an orders file.

pub mod breakdown;
mod load;
mod number_text;
mod plots;
pub mod transitions;

use number_text::NumberText;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use patron_value::abc;
use patron_value::analysis::{
    model_label, ModelChoice, CHURN_LONG_ABSENCE, CHURN_LOW_P_ALIVE, CHURN_REVENUE_DROP,
    ZERO_DOLLAR_NOTE,
};
use patron_value::loyalty::Phase;
use patron_value::rfm::Segment;
use patron_value::summary::{CustomerSummary, TimeUnit};
use patron_value::{analyze_with_costs, Analysis, AnalysisError, AnalysisOptions, Day};

use load::Orders;

#[derive(Args, Debug)]
pub struct ValueArgs {
    #[command(subcommand)]
    pub action: ValueAction,
}

#[derive(Subcommand, Debug)]
pub enum ValueAction {
    /// Recompute every customer's value figures in the database (what the API, the web pages
    /// and the list filters show) and store a new population snapshot.
    Refresh(RefreshArgs),
    /// Terminal tables (totals, model fit, RFM, ABC, whale curve, loyalty, churn, holdout) and SVG plots.
    Report(ReportArgs),
    /// One CSV row per customer with every figure (lifetimes column names for the model inputs).
    ///
    /// Columns: customer_id (the file's customer key; on the database customer_number, with the
    /// internal customer_id as the last column), frequency, recency, T, monetary_value
    /// (lifetimes conventions: repeat purchase days, recency and T in the unit), orders, revenue,
    /// cost, marketing_cost, margin (revenue - cost - marketing cost, calibration period), rfm_r,
    /// rfm_f, rfm_m, rfm_segment, abc_class (by revenue, 80/95%), p_alive, expected_purchases
    /// (over the horizon), expected_spend (Gamma-Gamma), clv (discounted expected margin over the
    /// horizon, less marketing cost), loyalty_stage (first_time_buyer / repeat_buyer from
    /// purchase days; prospects, suspects and advocates need interaction and referral data that
    /// order files lack), lifecycle_phase (trend of the margin per 91-day quarter ending at the
    /// calibration end), churn_warnings (revenue_drop;long_absence;low_p_alive), and
    /// holdout_purchases / holdout_revenue when --holdout-end is given.
    ///
    /// Numbers are exact and the same on every run: money (revenue, cost, marketing_cost, margin,
    /// expected_spend, clv, holdout_revenue) to the cent, the other figures (frequency, recency,
    /// T, monetary_value, p_alive, expected_purchases, holdout_purchases) to 4 decimals;
    /// trailing zeros dropped, never an exponent.
    Export(ExportArgs),
    /// Grade and loyalty-stage movements between two snapshots (default: the latest two):
    /// customers and their summed CLV and margin per (from, to) pair.
    Transitions(transitions::TransitionsArgs),
    /// Value by region, industry, product category or owner: customers, revenue, margin, CLV,
    /// churn risks, ABC classes and the period comparison per group (stored figures of the
    /// last refresh; the category breakdown sums order lines: CLV, churn and ABC do not apply).
    Breakdown(breakdown::BreakdownArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrdersFormat {
    /// CSV with a header naming customer_id, date, amount and optionally cost (other columns ignored).
    Csv,
    /// CDNOW whitespace file: `customer_id date cds dollars` (master) or `customer_id sample_id date cds dollars` (sample).
    Cdnow,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Day,
    Week,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelArg {
    /// Chosen by holdout: BG/NBD, MBG/NBD and Pareto/NBD fitted on a calibration window (the
    /// given holdout, else the last third of the history) and the lowest mean absolute error
    /// per customer of the holdout repeat purchases used.
    Auto,
    Bgnbd,
    Mbgnbd,
    Paretonbd,
}

/// What to analyse and how.
#[derive(Args, Debug, Clone)]
pub struct AnalysisArgs {
    /// Analyse this orders file instead of the database (no database needed).
    #[arg(long, value_name = "FILE")]
    pub orders: Option<PathBuf>,
    /// Format of --orders.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: OrdersFormat,
    /// Time unit of frequency, recency, T and the horizon (several purchases on one day count once).
    #[arg(long, value_enum, default_value = "day")]
    pub unit: Unit,
    /// Last day of the calibration period, YYYY-MM-DD (default: the last order date).
    #[arg(long, value_name = "DATE")]
    pub calibration_end: Option<String>,
    /// Last day of the holdout period, YYYY-MM-DD: orders after --calibration-end up to it are
    /// compared with the model's expectation.
    #[arg(long, value_name = "DATE")]
    pub holdout_end: Option<String>,
    /// Purchase model: auto (chosen by holdout) or pinned.
    #[arg(long, value_enum, default_value = "auto")]
    pub model: ModelArg,
    /// CLV horizon in units (default one year: 365 days or 52 weeks), cut into 12 discounting steps.
    #[arg(long)]
    pub horizon: Option<f64>,
    /// Annual discount rate of the CLV (converted to the rate per step).
    #[arg(long, default_value_t = 0.10)]
    pub discount_rate: f64,
    /// Margin ratio applied to expected spend in the CLV (default: the data's own 1 - cost/revenue, or 1 without cost).
    #[arg(long)]
    pub margin: Option<f64>,
    /// Relationship-marketing cost per customer per year (charged for the tenure in the margin, and over the horizon in the CLV).
    #[arg(long, default_value_t = 0.0)]
    pub marketing_cost: f64,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Output file (default: standard output).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Analyse up to this day, YYYY-MM-DD (default: today): orders dated after it are left out,
    /// and the calibration period ends on it unless --calibration-end names an earlier day.
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
}

#[derive(Args, Debug)]
pub struct ReportArgs {
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    /// Directory for the SVG plots (whale curve, RFM grid, stage funnel, holdout fit).
    #[arg(long, default_value = "patron-plots")]
    pub plots: PathBuf,
    /// Print the figures as one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Rows of the churn-risk table.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

pub async fn run(database: &str, args: ValueArgs) -> anyhow::Result<()> {
    match args.action {
        ValueAction::Refresh(a) => {
            if a.analysis.orders.is_some() {
                anyhow::bail!("refresh stores figures for the database's own orders; use `value export --orders FILE` for a file");
            }
            let opts = options(&a.analysis)?;
            let as_of = match a.as_of.as_deref() {
                Some(s) => patron_app::value::date_of(parse_date_arg("--as-of", s)?),
                None => patron_app::value::today(),
            };
            let store = super::open(database).await?;
            let started = std::time::Instant::now();
            let snap = patron_app::value::refresh(&store, &opts, as_of)
                .await
                .context("computing customer values")?;
            println!(
                "customer values refreshed as of {as_of} in {:.2} s: snapshot {} at {}",
                started.elapsed().as_secs_f64(),
                snap.id,
                snap.computed_at.to_rfc3339()
            );
            Ok(())
        }
        ValueAction::Export(a) => {
            let clock = std::time::Instant::now();
            let orders = read(database, &a.analysis).await?;
            let read_seconds = clock.elapsed().as_secs_f64();
            let run = analyse(orders, &a.analysis)?;
            let analysis_seconds = clock.elapsed().as_secs_f64() - read_seconds;
            let numbers = export_numbers(database, &a.analysis, &run).await?;
            export(&run, numbers.as_deref(), a.output.as_deref())?;
            // `PATRON_LOG=debug` shows where the time of an export goes.
            tracing::debug!(
                read_seconds,
                analysis_seconds,
                write_seconds = clock.elapsed().as_secs_f64() - read_seconds - analysis_seconds,
                steps = ?run.an.timings.iter().map(|t| (t.step, t.seconds)).collect::<Vec<_>>(),
                "value export timings"
            );
            // The process ends next: the OS takes the memory back at once, where dropping the
            // figures of a million customers frees them one allocation at a time.
            std::mem::forget(run);
            Ok(())
        }
        ValueAction::Report(a) => {
            let orders = read(database, &a.analysis).await?;
            let run = analyse(orders, &a.analysis)?;
            report(&run, &a)
        }
        ValueAction::Breakdown(a) => breakdown::run(database, a).await,
        ValueAction::Transitions(a) => transitions::run(database, a).await,
    }
}

async fn read(database: &str, a: &AnalysisArgs) -> anyhow::Result<Orders> {
    match (&a.orders, a.format) {
        (Some(p), OrdersFormat::Csv) => load::read_csv(p),
        (Some(p), OrdersFormat::Cdnow) => load::read_cdnow(p),
        (None, _) => load::read_database(database).await,
    }
}

fn parse_date_arg(flag: &str, s: &str) -> anyhow::Result<Day> {
    load::parse_day(s.as_bytes())
        .with_context(|| format!("{flag} {s:?}: not a date (YYYY-MM-DD or YYYYMMDD)"))
}

/// `YYYY-MM-DD` of a day number.
pub fn ymd(day: Day) -> String {
    // Civil from days (H. Hinnant).
    let z = i64::from(day) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// One run: where the data came from, the customer ids and the analysis.
pub struct Run {
    pub source: String,
    pub ids: load::Ids,
    pub an: Analysis,
}

/// The analysis options of the command-line flags.
pub fn options(a: &AnalysisArgs) -> anyhow::Result<AnalysisOptions> {
    Ok(AnalysisOptions {
        unit: match a.unit {
            Unit::Day => TimeUnit::Day,
            Unit::Week => TimeUnit::Week,
        },
        calibration_end: a
            .calibration_end
            .as_deref()
            .map(|s| parse_date_arg("--calibration-end", s))
            .transpose()?,
        holdout_end: a
            .holdout_end
            .as_deref()
            .map(|s| parse_date_arg("--holdout-end", s))
            .transpose()?,
        model: match a.model {
            ModelArg::Auto => ModelChoice::Auto,
            ModelArg::Bgnbd => ModelChoice::BgNbd,
            ModelArg::Mbgnbd => ModelChoice::MbgNbd,
            ModelArg::Paretonbd => ModelChoice::ParetoNbd,
        },
        horizon: a.horizon,
        discount_rate: a.discount_rate,
        margin: a.margin,
        marketing_cost: a.marketing_cost,
        ..AnalysisOptions::default()
    })
}

pub fn analyse(orders: Orders, a: &AnalysisArgs) -> anyhow::Result<Run> {
    let source = match &a.orders {
        Some(p) => p.display().to_string(),
        None => "database".to_string(),
    };
    let opts = options(a)?;
    let n = orders.ids.len();
    let an =
        analyze_with_costs(&orders.lines, n, &opts, orders.recorded.clone()).map_err(
            |e| match e {
                AnalysisError::CalibrationBeforeFirstOrder {
                    calibration_end,
                    first_order,
                } => anyhow::anyhow!(
                    "--calibration-end {} lies before the first order ({})",
                    ymd(calibration_end),
                    ymd(first_order)
                ),
                AnalysisError::HoldoutNotAfterCalibration {
                    holdout_end,
                    calibration_end,
                } => anyhow::anyhow!(
                    "--holdout-end {} must come after the calibration end {}",
                    ymd(holdout_end),
                    ymd(calibration_end)
                ),
                AnalysisError::BadMarketingCost(_) => {
                    anyhow::anyhow!("--marketing-cost must be a non-negative number")
                }
                AnalysisError::BadHorizon(_) => anyhow::anyhow!(
                    "--horizon must be a positive number of {}s",
                    if opts.unit == TimeUnit::Day {
                        "day"
                    } else {
                        "week"
                    }
                ),
                AnalysisError::BadDiscountRate(_) => {
                    anyhow::anyhow!("--discount-rate must be a number above -1 (0.10 = 10% a year)")
                }
                AnalysisError::BadMargin(_) => {
                    anyhow::anyhow!("--margin must be a finite ratio (e.g. 0.3)")
                }
                e => anyhow::Error::new(e),
            },
        )?;
    drop(orders.lines);
    Ok(Run {
        source,
        ids: orders.ids,
        an,
    })
}

fn phase_name(p: Option<Phase>) -> &'static str {
    match p {
        None => "",
        Some(Phase::Introduction) => "introduction",
        Some(Phase::Growth) => "growth",
        Some(Phase::Maturity) => "maturity",
        Some(Phase::Decline) => "decline",
    }
}

/// Writes a CSV field, quoted when needed.
pub(crate) fn csv_field(s: &str, out: &mut Vec<u8>) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn put_f(out: &mut Vec<u8>, v: f64, decimals: u32, text: &mut NumberText) {
    text.put(out, v, decimals);
    out.push(b',');
}

/// The customer numbers of a database export's rows (by customer index), so that the export can
/// be joined back to the user's data; `None` for an orders file (its own keys are written).
async fn export_numbers(
    database: &str,
    a: &AnalysisArgs,
    run: &Run,
) -> anyhow::Result<Option<Vec<String>>> {
    let (None, load::Ids::Numeric(ids)) = (&a.orders, &run.ids) else {
        return Ok(None);
    };
    let store = super::open(database).await?;
    let numbers = store
        .customer_numbers()
        .await
        .context("reading customer numbers")?;
    Ok(Some(
        ids.iter()
            .map(|id| {
                let n = numbers.get(&(*id as i64)).map_or("", String::as_str);
                patron_exchange::safe_cell(n).into_owned()
            })
            .collect(),
    ))
}

/// One row per customer with an order in the calibration period... and the others too (their
/// model figures empty). With `numbers` (a database export), rows lead with the customer number
/// and end with the internal id.
pub fn export(run: &Run, numbers: Option<&[String]>, output: Option<&Path>) -> anyhow::Result<()> {
    let an = &run.an;
    let sink: Box<dyn Write> = match output {
        Some(p) => {
            Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut w = std::io::BufWriter::with_capacity(1 << 20, sink);
    let holdout = an.summary_options.observation_end.is_some();
    let mut header = Vec::new();
    if numbers.is_some() {
        header.extend_from_slice(b"customer_number,");
    } else {
        header.extend_from_slice(b"customer_id,");
    }
    header.extend_from_slice(b"frequency,recency,T,monetary_value,orders,revenue,cost,marketing_cost,margin,rfm_r,rfm_f,rfm_m,rfm_segment,abc_class,p_alive,expected_purchases,expected_spend,clv,loyalty_stage,lifecycle_phase,churn_warnings");
    if holdout {
        header.extend_from_slice(b",holdout_purchases,holdout_revenue");
    }
    if numbers.is_some() {
        header.extend_from_slice(b",customer_id");
    }
    header.push(b'\n');
    w.write_all(&header)?;
    // Rows are formatted on every core (number formatting is most of the work), a block of
    // customers per thread, and written in customer order.
    let threads = patron_value::history::worker_threads();
    let n = an.summaries.len();
    // Blocks of up to 32,768 rows, at least two blocks when there are enough rows to share.
    let block = n.div_ceil(threads).clamp(2_048, 32_768);
    let mut blocks: Vec<Vec<u8>> = vec![Vec::new(); threads];
    let mut from = 0;
    while from < n {
        std::thread::scope(|scope| {
            for (k, buf) in blocks.iter_mut().enumerate() {
                let start = (from + k * block).min(n);
                let end = (start + block).min(n);
                buf.clear();
                if start < end {
                    // The thread writes to a vector of its own: the headers of `blocks` share a
                    // cache line, and updating their lengths from two cores cost up to 0.4 s.
                    scope.spawn(move || {
                        let mut own = std::mem::take(buf);
                        export_rows(run, numbers, start..end, holdout, &mut own);
                        *buf = own;
                    });
                }
            }
        });
        for buf in &blocks {
            w.write_all(buf)?;
        }
        from += threads * block;
    }
    w.flush().context("writing the export")?;
    Ok(())
}

/// The export rows of `customers`, appended to `out`.
fn export_rows(
    run: &Run,
    numbers: Option<&[String]>,
    customers: std::ops::Range<usize>,
    holdout: bool,
    out: &mut Vec<u8>,
) {
    use number_text::{CENTS, FIGURE};
    let an = &run.an;
    let mut fb = NumberText::default();
    let mut ib = itoa::Buffer::new();
    for i in customers {
        let s = &an.summaries[i];
        match numbers {
            Some(n) => csv_field(&n[i], out),
            None => run.ids.write(i, out),
        }
        out.push(b',');
        let active = s.first_day.is_some();
        for (v, decimals) in [
            (s.rft.frequency, FIGURE),
            (s.rft.recency, FIGURE),
            (s.rft.t, FIGURE),
            // A mean of amounts (lifetimes' input), not an amount: 4 decimals.
            (s.rft.monetary_value, FIGURE),
        ] {
            put_f(out, if active { v } else { f64::NAN }, decimals, &mut fb);
        }
        out.extend_from_slice(ib.format(s.orders).as_bytes());
        out.push(b',');
        for v in [s.revenue, s.cost, s.marketing_cost, s.margin] {
            put_f(out, v, CENTS, &mut fb);
        }
        match an.rfm_score(i) {
            None => out.extend_from_slice(b",,,,"),
            Some(r) => {
                out.extend_from_slice(&[b'0' + r.r, b',', b'0' + r.f, b',', b'0' + r.m, b',']);
                out.extend_from_slice(Segment::code(r.segment).as_bytes());
                out.push(b',');
            }
        }
        out.extend_from_slice(match an.abc.classes[i] {
            abc::AbcClass::A => b"A,",
            abc::AbcClass::B => b"B,",
            abc::AbcClass::C => b"C,",
        });
        let v = &an.values[i];
        for (x, decimals) in [
            (v.p_alive, FIGURE),
            (v.expected_purchases, FIGURE),
            (v.expected_spend, CENTS),
            (v.clv, CENTS),
        ] {
            put_f(out, x, decimals, &mut fb);
        }
        out.extend_from_slice(match (active, s.rft.frequency > 0.0) {
            (false, _) => b",",
            (true, false) => b"first_time_buyer,",
            (true, true) => b"repeat_buyer,",
        });
        out.extend_from_slice(phase_name(an.phases[i]).as_bytes());
        out.push(b',');
        let bits = an.churn_flags[i];
        let mut sep = false;
        for (bit, name) in [
            (CHURN_REVENUE_DROP, "revenue_drop"),
            (CHURN_LONG_ABSENCE, "long_absence"),
            (CHURN_LOW_P_ALIVE, "low_p_alive"),
        ] {
            if bits & bit != 0 {
                if sep {
                    out.push(b';');
                }
                out.extend_from_slice(name.as_bytes());
                sep = true;
            }
        }
        if holdout {
            out.push(b',');
            put_f(out, s.holdout_purchases, FIGURE, &mut fb);
            out.pop();
            out.push(b',');
            put_f(out, s.holdout_revenue, CENTS, &mut fb);
            out.pop();
        }
        if numbers.is_some() {
            out.push(b',');
            run.ids.write(i, out);
        }
        out.push(b'\n');
    }
}

fn report_json(run: &Run, a: &ReportArgs, plots: &[PathBuf]) -> serde_json::Value {
    let an = &run.an;
    use serde_json::json;
    let s = &an.summaries;
    let active = an.totals.customers_in_calibration;
    let (first, repeat) = (an.loyalty.first_time_buyer, an.loyalty.repeat_buyer);
    let model = match &an.model {
        Some(m) => {
            let params: serde_json::Map<String, serde_json::Value> = m
                .params()
                .into_iter()
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect();
            json!({
                "kind": m.kind.to_string(),
                "requested": an.options.model.to_string(),
                "params": params,
                "log_likelihood": m.purchase.log_likelihood,
                "iterations": m.purchase.iterations,
                "converged": m.purchase.converged,
                "customers": m.purchase.n_customers,
                "fit_seconds": m.purchase_seconds,
                "gamma_gamma": m.spend.as_ref().map(|g| json!({
                    "p": g.model.p, "q": g.model.q, "gamma": g.model.gamma,
                    "log_likelihood": g.log_likelihood, "customers": g.n_customers,
                    "converged": g.converged, "fit_seconds": m.spend_seconds,
                    "population_mean_spend": g.model.population_mean_spend().ok(),
                })),
                "gamma_gamma_error": m.spend_error,
                "holdout": m.holdout,
            })
        }
        None => {
            json!({ "kind": null, "requested": an.options.model.to_string(), "error": an.model_error })
        }
    };
    let top: Vec<_> = an
        .churn
        .iter()
        .take(a.top)
        .map(|w| {
            json!({
                "customer_id": run.ids.display(w.customer as usize),
                "value_at_risk": w.value_at_risk,
                "reasons": w.reasons.iter().map(|r| r.detail()).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "source": run.source,
        "unit": if an.options.unit == TimeUnit::Day { "day" } else { "week" },
        "first_order": ymd(an.first_day),
        "last_order": ymd(an.last_day),
        "calibration_end": ymd(an.calibration_end),
        "holdout_end": an.summary_options.observation_end.map(ymd),
        "totals": {
            "customers": s.len(),
            "customers_in_calibration": active,
            "order_lines": an.totals.order_lines,
            "zero_amount_lines": an.totals.zero_amount_lines,
            "revenue": s.iter().map(|c| c.revenue).sum::<f64>(),
            "cost": s.iter().map(|c| c.cost).sum::<f64>(),
            "marketing_cost": s.iter().map(|c| c.marketing_cost).sum::<f64>(),
            "margin": s.iter().map(|c| c.margin).sum::<f64>(),
            "repeat_customers": repeat,
        },
        "clv": {
            "horizon": an.horizon, "steps": an.clv_options.steps,
            "discount_rate_per_step": an.clv_options.discount_rate,
            "margin_ratio": an.clv_options.margin_ratio,
            "marketing_cost_per_year": an.options.marketing_cost,
        },
        "model": model,
        "model_choice": an.model_selection.as_ref().map(|m| json!({
            "chosen": m.chosen.to_string(),
            "reason": m.reason,
            "rule": m.rule,
            "calibration_end": ymd(m.calibration_end),
            "holdout_end": ymd(m.holdout_end),
            "holdout_length": m.holdout_length,
            "comparison": m.comparison.iter().map(|c| json!({
                "kind": c.kind.to_string(),
                "customers": c.customers,
                "actual_total": c.actual_total,
                "predicted_total": finite(c.predicted_total),
                "mean_absolute_error": finite(c.mean_absolute_error),
                "root_mean_squared_error": finite(c.root_mean_squared_error),
                "converged": c.converged,
                "excluded": c.excluded,
            })).collect::<Vec<_>>(),
        })),
        "not_enough_history": an.not_enough_history,
        "zero_dollar_orders": ZERO_DOLLAR_NOTE,
        "rfm_segments": an.rfm.segments.iter().map(|g| json!({"segment": Segment::code(g.segment), "customers": g.customers, "revenue": g.revenue})).collect::<Vec<_>>(),
        "rfm_grid_customers": an.rfm.grid.iter().map(|row| row.iter().map(|c| c.customers).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "abc": an.abc.stats,
        "whale": { "figures": an.whale.figures, "total": an.whale.total, "peak_value": an.whale.peak_value },
        "loyalty": { "first_time_buyer": first, "repeat_buyer": repeat,
            "note": "Stages from purchase days only: suspects, prospects and advocates need interaction and referral data that order files lack." },
        "churn": { "warned_customers": an.churn.len(), "top": top },
        "timings_seconds": an.timings.iter().map(|t| (t.step.to_string(), json!(t.seconds))).collect::<serde_json::Map<_, _>>(),
        "plots": plots.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn table(title: &str, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    println!("\n{title}");
    let line = |cells: Vec<String>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let numeric = c.starts_with(|ch: char| ch.is_ascii_digit() || ch == '-');
                if i == 0 || !numeric {
                    format!("{c:<w$}", w = widths[i])
                } else {
                    format!("{c:>w$}", w = widths[i])
                }
            })
            .collect();
        println!("  {}", parts.join("  "));
    };
    line(headers.iter().map(|s| s.to_string()).collect());
    println!(
        "  {}",
        widths
            .iter()
            .map(|w| "-".repeat(*w))
            .collect::<Vec<_>>()
            .join("  ")
    );
    for r in rows {
        line(r.clone());
    }
}

fn money(v: f64) -> String {
    let neg = v < 0.0;
    let s = format!("{:.2}", v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut g = String::new();
    for (k, ch) in int.chars().enumerate() {
        if k > 0 && (int.len() - k) % 3 == 0 {
            g.push(',');
        }
        g.push(ch);
    }
    format!("{}{g}.{frac}", if neg { "-" } else { "" })
}

fn count(v: u64) -> String {
    money(v as f64).trim_end_matches(".00").to_string()
}

pub fn report(run: &Run, a: &ReportArgs) -> anyhow::Result<()> {
    let an = &run.an;
    let plots = plots::write_all(an, &a.plots)
        .with_context(|| format!("writing plots to {}", a.plots.display()))?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report_json(run, a, &plots))?
        );
        return Ok(());
    }
    let s = &an.summaries;
    let unit = if an.options.unit == TimeUnit::Day {
        "day"
    } else {
        "week"
    };
    println!(
        "Customer value report: {} ({} to {}), calibration end {}{}, unit {unit}",
        run.source,
        ymd(an.first_day),
        ymd(an.last_day),
        ymd(an.calibration_end),
        an.summary_options
            .observation_end
            .map(|d| format!(", holdout end {}", ymd(d)))
            .unwrap_or_default()
    );
    let sum = |f: fn(&CustomerSummary) -> f64| s.iter().map(f).sum::<f64>();
    let (first, repeat) = (an.loyalty.first_time_buyer, an.loyalty.repeat_buyer);
    table(
        "Totals (calibration period)",
        &["figure", "value"],
        &[
            vec!["customers".into(), count(s.len() as u64)],
            vec![
                "customers with an order in calibration".into(),
                count(an.totals.customers_in_calibration as u64),
            ],
            vec![
                "order lines (whole file)".into(),
                count(an.totals.order_lines as u64),
            ],
            vec![
                "zero-amount order lines".into(),
                count(an.totals.zero_amount_lines),
            ],
            vec!["revenue".into(), money(sum(|c| c.revenue))],
            vec!["product cost".into(), money(sum(|c| c.cost))],
            vec![
                "relationship-marketing cost".into(),
                money(sum(|c| c.marketing_cost)),
            ],
            vec!["CRM gross margin".into(), money(sum(|c| c.margin))],
            vec![
                "CLV margin ratio".into(),
                format!("{:.4}", an.clv_options.margin_ratio),
            ],
        ],
    );
    match &an.model {
        Some(m) => {
            let mut rows: Vec<Vec<String>> = m
                .params()
                .into_iter()
                .map(|(k, v)| vec![k.to_string(), format!("{v:.4}")])
                .collect();
            rows.push(vec![
                "log-likelihood".into(),
                format!("{:.4}", m.purchase.log_likelihood),
            ]);
            rows.push(vec![
                "customers / iterations / converged".into(),
                format!(
                    "{} / {} / {}",
                    m.purchase.n_customers, m.purchase.iterations, m.purchase.converged
                ),
            ]);
            rows.push(vec![
                "fit time".into(),
                format!("{:.3} s", m.purchase_seconds),
            ]);
            table(
                &format!("Purchase model: {}", m.kind),
                &["parameter", "value"],
                &rows,
            );
            match &m.spend {
                Some(g) => table(
                    "Spend model: Gamma-Gamma",
                    &["parameter", "value"],
                    &[
                        vec!["p".into(), format!("{:.4}", g.model.p)],
                        vec!["q".into(), format!("{:.4}", g.model.q)],
                        vec!["gamma".into(), format!("{:.4}", g.model.gamma)],
                        vec!["log-likelihood".into(), format!("{:.4}", g.log_likelihood)],
                        vec![
                            "customers fitted (frequency > 0, spend > 0)".into(),
                            count(g.n_customers as u64),
                        ],
                        vec![
                            "population mean spend".into(),
                            g.model
                                .population_mean_spend()
                                .map(money)
                                .unwrap_or_default(),
                        ],
                        vec!["fit time".into(), format!("{:.3} s", m.spend_seconds)],
                    ],
                ),
                None => println!(
                    "\nSpend model: not available ({}); CLV left empty",
                    m.spend_error.clone().unwrap_or_default()
                ),
            }
            let total_clv = an.totals.clv;
            println!(
                "\nCLV: {} steps over {} {unit}s, {:.4}% discount per step; total CLV {}",
                an.clv_options.steps,
                an.horizon,
                an.clv_options.discount_rate * 100.0,
                money(total_clv)
            );
            if let Some(bins) = &m.holdout {
                let rows: Vec<Vec<String>> = bins
                    .iter()
                    .map(|b| {
                        vec![
                            format!("{}{}", b.frequency, if b.open_ended { "+" } else { "" }),
                            count(b.n_customers as u64),
                            format!("{:.3}", b.actual_mean),
                            format!("{:.3}", b.expected_mean),
                        ]
                    })
                    .collect();
                table(
                    "Holdout: mean repeat purchases by calibration frequency",
                    &["frequency", "customers", "actual", "expected"],
                    &rows,
                );
            }
        }
        None => match &an.not_enough_history {
            Some(n) => println!(
                "\nPurchase model: not used: not enough purchase history: {}.\n  Fallback: {}.",
                n.reason, n.fallback
            ),
            None => println!(
                "\nPurchase model: not fitted: {}",
                an.model_error.as_deref().unwrap_or("")
            ),
        },
    }
    if let Some(sel) = &an.model_selection {
        let rows: Vec<Vec<String>> = sel
            .comparison
            .iter()
            .map(|c| {
                vec![
                    model_label(c.kind).to_string(),
                    format!("{:.2}", c.predicted_total),
                    format!("{:.0}", c.actual_total),
                    format!("{:.5}", c.mean_absolute_error),
                    format!("{:.5}", c.root_mean_squared_error),
                    match (c.converged, &c.excluded) {
                        (_, Some(e)) => format!("left out: {e}"),
                        (Some(true), None) => "converged".into(),
                        (Some(false), None) => "not converged".into(),
                        (None, None) => String::new(),
                    },
                ]
            })
            .collect();
        table(
            &format!(
                "Purchase model: chosen {} by holdout ({} to {} calibration, holdout to {}, {:.1} {unit}s): {}",
                model_label(sel.chosen),
                ymd(an.first_day),
                ymd(sel.calibration_end),
                ymd(sel.holdout_end),
                sel.holdout_length,
                sel.reason
            ),
            &["model", "predicted", "actual", "MAE", "RMSE", "fit"],
            &rows,
        );
    }
    println!("\nZero-dollar orders: {ZERO_DOLLAR_NOTE}");
    let rows: Vec<Vec<String>> = an
        .rfm
        .segments
        .iter()
        .filter(|g| g.customers > 0)
        .map(|g| {
            vec![
                g.segment.label().to_string(),
                count(g.customers),
                money(g.revenue),
            ]
        })
        .collect();
    table(
        "RFM segments (as of the calibration end)",
        &["segment", "customers", "revenue"],
        &rows,
    );
    let rows: Vec<Vec<String>> = an
        .abc
        .stats
        .iter()
        .map(|c| {
            vec![
                format!("{:?}", c.class),
                count(c.customers),
                format!("{:.1}%", c.customer_share * 100.0),
                money(c.value),
                format!("{:.1}%", c.value_share * 100.0),
            ]
        })
        .collect();
    table(
        "ABC classes (by revenue; A up to 80%, B up to 95%)",
        &["class", "customers", "share", "revenue", "revenue share"],
        &rows,
    );
    let f = &an.whale.figures;
    table(
        "Whale curve (CRM gross margin)",
        &["figure", "value"],
        &[
            vec![
                "top 20% of customers bring".into(),
                format!("{:.1}% of total margin", f.top_share),
            ],
            vec![
                "peak of the curve".into(),
                format!(
                    "{:.1}% at {:.1}% of customers",
                    f.peak, f.peak_at_customers_pct
                ),
            ],
            vec![
                "bottom 30% destroy".into(),
                format!("{:.1}% of the peak", f.bottom_destroyed),
            ],
            vec![
                "unprofitable customers".into(),
                count(f.unprofitable_customers),
            ],
        ],
    );
    table("Loyalty stages (from purchase days; suspects, prospects and advocates need interaction and referral data)", &["stage", "customers"], &[
        vec!["first-time buyer".into(), count(first)],
        vec!["repeat buyer".into(), count(repeat)],
    ]);
    let mut phase_counts = [0u64; 4];
    for p in an.phases.iter().flatten() {
        phase_counts[*p as usize] += 1;
    }
    table(
        "Lifecycle phases (margin per quarter)",
        &["phase", "customers"],
        &[
            vec![
                "introduction".into(),
                count(phase_counts[Phase::Introduction as usize]),
            ],
            vec!["growth".into(), count(phase_counts[Phase::Growth as usize])],
            vec![
                "maturity".into(),
                count(phase_counts[Phase::Maturity as usize]),
            ],
            vec![
                "decline".into(),
                count(phase_counts[Phase::Decline as usize]),
            ],
        ],
    );
    let rows: Vec<Vec<String>> = an
        .churn
        .iter()
        .take(a.top)
        .map(|w| {
            vec![
                run.ids.display(w.customer as usize),
                money(w.value_at_risk),
                w.reasons
                    .iter()
                    .map(|r| r.detail())
                    .collect::<Vec<_>>()
                    .join("; "),
            ]
        })
        .collect();
    table(
        &format!(
            "Top churn risks ({} customers warned; value at risk = margin of the last 365 days)",
            count(an.churn.len() as u64)
        ),
        &["customer", "value at risk", "reasons"],
        &rows,
    );
    println!("\nPlots:");
    for p in &plots {
        println!("  {}", p.display());
    }
    Ok(())
}
