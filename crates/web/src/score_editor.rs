//! The value-score model editor (`/score-model`): weights, default points and point tables of
//! the weighted score model (`patron_value::score`), the grade thresholds, a preview of the
//! grade distribution and of the calibration figures (Spearman correlation with an outcome,
//! top-grade lift, mean outcome per grade, NNLS-proposed weights) before saving, and saving
//! (table `score_models`; the value refresh scores with the newest saved model).
//!
//! Point tables are edited as text, one rule a line: `category = points` for a categorical
//! attribute, `min .. max = points` for a numeric one (`[min, max)`, either bound may be left
//! out). The form becomes the model's TOML, which `ScoreModel::from_toml` validates; every
//! error is shown next to its field and nothing is saved until the form is valid.
//!
//! Calibration: the customers' attributes are taken as they were at a cut date (orders up to
//! the cut: margin per year, purchase frequency, loyalty stage; profile fields as they are now),
//! the outcome is the margin (or revenue) of each customer after the cut.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use axum::extract::{RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Months, NaiveDate};
use maud::{html, Markup};
use patron_store::{CustomerValueRow, OrderFact, ScoreProfile};
use patron_value::score::{
    calibrate, AttrValue, AttributeKind, Calibration, ScoreModel, DEFAULT_MODEL_TOML,
};

use crate::i18n::{self, Lang};
use crate::{get_param, html, layout, parse_pairs, store_error_page, Ctx, WebState, BY};

/// The score attributes of a customer (profile fields plus stored figures).
type Attributes = fn(
    &patron_store::ScoreProfile,
    &patron_store::CustomerValueRow,
) -> std::collections::BTreeMap<String, patron_value::score::AttrValue>;

/// One attribute as the form holds it (text, so that bad input can be shown back).
#[derive(Debug, Clone, Default)]
struct AttrForm {
    name: String,
    categorical: bool,
    weight: String,
    default: String,
    table: String,
}

#[derive(Debug, Clone, Default)]
struct Form {
    grades: [String; 4],
    attrs: Vec<AttrForm>,
    outcome: Outcome,
    holdout_months: u32,
    note: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Outcome {
    #[default]
    Margin,
    Revenue,
}

/// Field errors by form field name (`w3`, `p3`, `d3`, `grades`, `weights`, `model`).
type Errors = BTreeMap<String, String>;

fn num_text(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 && v.abs() < 1e15 {
        format!("{}", v.round() as i64)
    } else {
        format!("{v}")
    }
}

impl Form {
    fn of_model(m: &ScoreModel) -> Form {
        let g = &m.grades;
        Form {
            grades: [g.a, g.b, g.c, g.d].map(num_text),
            attrs: m
                .attributes
                .iter()
                .map(|a| AttrForm {
                    name: a.name.clone(),
                    categorical: matches!(a.kind, AttributeKind::Categorical { .. }),
                    weight: num_text(a.weight),
                    default: num_text(a.default_points),
                    table: match &a.kind {
                        AttributeKind::Categorical { points } => points
                            .iter()
                            .map(|(k, v)| format!("{k} = {}", num_text(*v)))
                            .collect::<Vec<_>>()
                            .join("\n"),
                        AttributeKind::Numeric { ranges } => ranges
                            .iter()
                            .map(|r| {
                                format!(
                                    "{} .. {} = {}",
                                    r.min.map(num_text).unwrap_or_default(),
                                    r.max.map(num_text).unwrap_or_default(),
                                    num_text(r.points)
                                )
                                .replace("  ", " ")
                                .trim()
                                .to_string()
                            })
                            .collect::<Vec<_>>()
                            .join("\n"),
                    },
                })
                .collect(),
            outcome: Outcome::Margin,
            holdout_months: 6,
            note: String::new(),
        }
    }

    fn parse(pairs: &[(String, String)]) -> Form {
        let g = |k: &str| get_param(pairs, k).unwrap_or_default().trim().to_string();
        let mut attrs = Vec::new();
        for i in 0..64 {
            let Some(name) = get_param(pairs, &format!("n{i}")) else {
                break;
            };
            attrs.push(AttrForm {
                name: name.trim().to_string(),
                categorical: get_param(pairs, &format!("k{i}")) == Some("categorical"),
                weight: g(&format!("w{i}")),
                default: g(&format!("d{i}")),
                table: get_param(pairs, &format!("p{i}"))
                    .unwrap_or_default()
                    .replace("\r\n", "\n"),
            });
        }
        Form {
            grades: [g("grade_a"), g("grade_b"), g("grade_c"), g("grade_d")],
            attrs,
            outcome: if get_param(pairs, "outcome") == Some("revenue") {
                Outcome::Revenue
            } else {
                Outcome::Margin
            },
            holdout_months: get_param(pairs, "holdout")
                .and_then(|h| h.parse().ok())
                .filter(|h| [3, 6, 12].contains(h))
                .unwrap_or(6),
            note: g("note"),
        }
    }

    /// The model's TOML, or the field errors.
    fn to_toml(&self, lang: Lang) -> Result<String, Errors> {
        let mut errors = Errors::new();
        let number = |s: &str| s.trim().parse::<f64>().ok().filter(|v| v.is_finite());
        let mut out = String::from("# Saved from the Patron score model editor.\n[grades]\n");
        for (k, g) in ["a", "b", "c", "d"].iter().zip(&self.grades) {
            match number(g) {
                Some(v) if (0.0..=100.0).contains(&v) => {
                    let _ = writeln!(out, "{k} = {v:?}");
                }
                _ => {
                    errors.insert("grades".into(), lang.t("score.err_grades").into());
                }
            }
        }
        if self.attrs.is_empty() {
            errors.insert("model".into(), "the model has no attribute".into());
        }
        let mut sum = 0.0;
        for (i, a) in self.attrs.iter().enumerate() {
            let weight = match number(&a.weight) {
                Some(w) if w >= 0.0 => w,
                _ => {
                    errors.insert(format!("w{i}"), lang.t("score.err_weight").into());
                    0.0
                }
            };
            sum += weight;
            let default = match number(&a.default) {
                Some(d) if (0.0..=100.0).contains(&d) => d,
                _ => {
                    errors.insert(format!("d{i}"), lang.t("score.err_points").into());
                    0.0
                }
            };
            let _ = writeln!(
                out,
                "\n[[attribute]]\nname = {}\nweight = {weight:?}\nkind = \"{}\"\ndefault = {default:?}",
                quote(&a.name),
                if a.categorical { "categorical" } else { "numeric" }
            );
            match table_toml(&a.table, a.categorical) {
                Ok(t) => out.push_str(&t),
                Err((line, msg)) => {
                    errors.insert(
                        format!("p{i}"),
                        format!("{} {line}: {}", lang.t("score.line"), lang.t(msg)),
                    );
                }
            }
        }
        if (sum - 100.0).abs() > 1e-6 && !self.attrs.is_empty() {
            errors.insert(
                "weights".into(),
                format!("{} {}", lang.t("score.err_sum"), num_text(sum)),
            );
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // The model's own validation (ranges overlapping, points out of range, ...).
        if let Err(e) = ScoreModel::from_toml(&out) {
            let key = e
                .attribute
                .as_ref()
                .and_then(|n| self.attrs.iter().position(|a| &a.name == n))
                .map_or("model".to_string(), |i| format!("p{i}"));
            errors.insert(key, e.message);
            return Err(errors);
        }
        Ok(out)
    }
}

/// A TOML basic string.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `points = {..}` or `ranges = [..]` line of a point table; `Err((line, message key))`.
fn table_toml(text: &str, categorical: bool) -> Result<String, (usize, &'static str)> {
    let mut items = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((lhs, rhs)) = line.rsplit_once('=') else {
            return Err((n + 1, "score.err_rule"));
        };
        let points: f64 = match rhs.trim().parse::<f64>() {
            Ok(p) if p.is_finite() && (0.0..=100.0).contains(&p) => p,
            _ => return Err((n + 1, "score.err_points")),
        };
        let lhs = lhs.trim();
        if categorical {
            if lhs.is_empty() {
                return Err((n + 1, "score.err_rule"));
            }
            items.push(format!("{} = {points:?}", quote(lhs)));
        } else {
            let Some((lo, hi)) = lhs.split_once("..") else {
                return Err((n + 1, "score.err_range"));
            };
            let bound = |s: &str| -> Result<Option<f64>, (usize, &'static str)> {
                let s = s.trim().replace([',', '_'], "");
                if s.is_empty() {
                    return Ok(None);
                }
                match s.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err((n + 1, "score.err_range")),
                }
            };
            let mut parts = Vec::new();
            if let Some(v) = bound(lo)? {
                parts.push(format!("min = {v:?}"));
            }
            if let Some(v) = bound(hi)? {
                parts.push(format!("max = {v:?}"));
            }
            parts.push(format!("points = {points:?}"));
            items.push(format!("{{ {} }}", parts.join(", ")));
        }
    }
    Ok(if categorical {
        format!("points = {{ {} }}\n", items.join(", "))
    } else {
        format!("ranges = [ {} ]\n", items.join(", "))
    })
}

/// The model in force: the newest saved one, else the built-in default.
async fn current_model(
    st: &WebState,
) -> Result<(ScoreModel, Option<i64>), patron_store::StoreError> {
    Ok(match st.store.current_score_model().await? {
        Some(m) => match ScoreModel::from_toml(&m.toml) {
            Ok(model) => (model, Some(m.id)),
            Err(_) => (ScoreModel::default_model(), None),
        },
        None => (ScoreModel::default_model(), None),
    })
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    q: axum::extract::RawQuery,
) -> Response {
    let pairs = parse_pairs(q.0.unwrap_or_default().as_bytes());
    let saved = get_param(&pairs, "saved").map(str::to_string);
    let (model, _) = match current_model(&st).await {
        Ok(m) => m,
        Err(e) => return store_error_page(lang, &e),
    };
    let form = Form::of_model(&model);
    render(&st, lang, &form, &Errors::new(), None, saved.as_deref()).await
}

pub async fn submit(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    RawForm(body): RawForm,
) -> Response {
    let pairs = parse_pairs(&body);
    let action = get_param(&pairs, "action").unwrap_or("preview").to_string();
    let mut form = Form::parse(&pairs);
    if action == "reset" {
        let m = ScoreModel::from_toml(DEFAULT_MODEL_TOML)
            .unwrap_or_else(|_| ScoreModel::default_model());
        let mut f = Form::of_model(&m);
        f.outcome = form.outcome;
        f.holdout_months = form.holdout_months;
        return render(&st, lang, &f, &Errors::new(), None, None).await;
    }
    let toml = match form.to_toml(lang) {
        Ok(t) => t,
        Err(errors) => {
            return render_status(
                &st,
                lang,
                &form,
                &errors,
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    let model = match ScoreModel::from_toml(&toml) {
        Ok(m) => m,
        Err(e) => {
            let mut errors = Errors::new();
            errors.insert("model".into(), e.to_string());
            return render_status(
                &st,
                lang,
                &form,
                &errors,
                None,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    match action.as_str() {
        "save" => {
            let note = (!form.note.is_empty()).then_some(form.note.as_str());
            if let Err(e) = st.store.save_score_model(&toml, BY, note).await {
                return store_error_page(lang, &e);
            }
            // The new model applied to the stored figures: exactly what the preview showed
            // (before any figures are stored, the first refresh computes them with it).
            let done = match st.store.latest_snapshot().await {
                Ok(Some(_)) => patron_app::value::regrade(&st.store, &model)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
                _ => patron_app::value::refresh_like_last_time(&st.store)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string()),
            };
            let recomputed = match done {
                Ok(()) => "recomputed",
                Err(e) => {
                    tracing::error!(error = %e, "grading with the saved score model failed");
                    "saved"
                }
            };
            Redirect::to(&format!("/score-model?saved={recomputed}")).into_response()
        }
        "propose" => {
            // Replace the weights by the calibration's proposal (rounded, summing to 100).
            let preview = preview(&st, &model, &form).await;
            if let Ok(Some(p)) = &preview {
                if p.calibration.proposal_found && p.enough_outcomes() {
                    let w: Vec<f64> = p.calibration.weights.iter().map(|w| w.new).collect();
                    for (a, v) in form.attrs.iter_mut().zip(round_to_100(&w)) {
                        a.weight = v.to_string();
                    }
                }
            }
            let model = form
                .to_toml(lang)
                .ok()
                .and_then(|t| ScoreModel::from_toml(&t).ok())
                .unwrap_or(model);
            let preview = self::preview(&st, &model, &form).await;
            show_preview(&st, lang, &form, preview).await
        }
        _ => {
            let preview = preview(&st, &model, &form).await;
            show_preview(&st, lang, &form, preview).await
        }
    }
}

async fn show_preview(
    st: &WebState,
    lang: Lang,
    form: &Form,
    preview: Result<Option<Preview>, String>,
) -> Response {
    let mut errors = Errors::new();
    let p = match preview {
        Ok(p) => p,
        Err(e) => {
            errors.insert("preview".into(), e);
            None
        }
    };
    render(st, lang, form, &errors, p.as_ref(), None).await
}

/// Integer weights summing to 100 (largest remainders).
fn round_to_100(w: &[f64]) -> Vec<i64> {
    let total: f64 = w.iter().sum();
    if w.is_empty() || total <= 0.0 {
        return w.iter().map(|v| v.round() as i64).collect();
    }
    let scaled: Vec<f64> = w.iter().map(|v| v * 100.0 / total).collect();
    let mut out: Vec<i64> = scaled.iter().map(|v| v.floor() as i64).collect();
    let mut rest = 100 - out.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..w.len()).collect();
    order.sort_by(|&a, &b| {
        (scaled[b] - scaled[b].floor()).total_cmp(&(scaled[a] - scaled[a].floor()))
    });
    for i in order {
        if rest <= 0 {
            break;
        }
        out[i] += 1;
        rest -= 1;
    }
    out
}

/// Customers with an outcome after the cut that a calibration needs before its correlation
/// means anything and weights are proposed (with fewer, a Spearman of 0.008 over a handful of
/// buyers and $0 averages is noise).
const MIN_OUTCOME_CUSTOMERS: usize = 30;

impl Preview {
    /// Enough outcome data to judge the weights and propose new ones.
    fn enough_outcomes(&self) -> bool {
        self.with_outcome >= MIN_OUTCOME_CUSTOMERS
    }
}

/// What the preview shows.
struct Preview {
    /// Customers per grade A..E under the edited model (attributes as of now).
    grades_new: [u64; 5],
    /// Customers per grade A..E under the model in force.
    grades_current: [u64; 5],
    calibration: Calibration,
    /// Spearman of the model in force on the same customers.
    current_spearman: Option<f64>,
    /// Customers with an outcome (a sale or margin) after the cut: below
    /// [`MIN_OUTCOME_CUSTOMERS`] the calibration judges nothing and proposes nothing.
    with_outcome: usize,
    cut: NaiveDate,
    last: NaiveDate,
}

/// Per-customer figures of the orders up to a day, as a value row (day unit).
fn rows_until(facts: &[OrderFact], until: NaiveDate) -> HashMap<i64, CustomerValueRow> {
    struct Acc {
        first: NaiveDate,
        last_day: NaiveDate,
        days: u32,
        margin: i64,
        revenue: i64,
        orders: i64,
    }
    let mut per: HashMap<i64, Acc> = HashMap::new();
    let mut sorted: Vec<&OrderFact> = facts.iter().filter(|f| f.ordered_on <= until).collect();
    sorted.sort_by_key(|f| (f.customer_id, f.ordered_on));
    for f in sorted {
        let a = per.entry(f.customer_id).or_insert(Acc {
            first: f.ordered_on,
            last_day: f.ordered_on,
            days: 1,
            margin: 0,
            revenue: 0,
            orders: 0,
        });
        if f.ordered_on != a.last_day {
            a.days += 1;
            a.last_day = f.ordered_on;
        }
        a.margin += f.amount_cents - f.cost_cents;
        a.revenue += f.amount_cents;
        a.orders += 1;
    }
    per.into_iter()
        .map(|(id, a)| {
            let t = (until - a.first).num_days() as f64;
            let mut row = blank_row(id, until);
            row.frequency = Some(f64::from(a.days - 1));
            row.recency = Some((a.last_day - a.first).num_days() as f64);
            row.t = Some(t);
            row.orders = a.orders;
            row.revenue_cents = a.revenue;
            row.cost_cents = a.revenue - a.margin;
            row.margin_cents = a.margin;
            row.loyalty_stage = Some(
                if a.days > 1 {
                    "repeat_buyer"
                } else {
                    "first_time_buyer"
                }
                .into(),
            );
            (id, row)
        })
        .collect()
}

/// A value row without orders (a customer known only by its profile).
fn blank_row(id: i64, at: NaiveDate) -> CustomerValueRow {
    CustomerValueRow::without_orders(id, chrono::Utc::now(), "day".into(), at)
}

async fn preview(
    st: &WebState,
    model: &ScoreModel,
    form: &Form,
) -> Result<Option<Preview>, String> {
    let attributes: Attributes = patron_app::value::score_attributes;
    let facts = st.store.order_facts().await.map_err(|e| e.to_string())?;
    let profiles = st.store.score_profiles().await.map_err(|e| e.to_string())?;
    let (current, _) = current_model(st).await.map_err(|e| e.to_string())?;
    // The grades as stored and as a save would store them (same rows, same rule).
    let (stored, edited) = patron_app::value::preview_grades(&st.store, model)
        .await
        .map_err(|e| e.to_string())?;
    let model = model.clone();
    let holdout = form.holdout_months;
    let outcome = form.outcome;
    let preview = tokio::task::spawn_blocking(move || {
        compute_preview(
            &facts, &profiles, &model, &current, attributes, holdout, outcome,
        )
    })
    .await
    .map_err(|e| e.to_string())?;
    Ok(preview.map(|mut p| {
        // Before the first refresh nothing is stored: the preview's own grades stand.
        if stored.iter().sum::<u64>() > 0 {
            p.grades_current.copy_from_slice(&stored[..5]);
            p.grades_new.copy_from_slice(&edited[..5]);
        }
        p
    }))
}

fn compute_preview(
    facts: &[OrderFact],
    profiles: &[ScoreProfile],
    model: &ScoreModel,
    current: &ScoreModel,
    attributes: Attributes,
    holdout_months: u32,
    outcome: Outcome,
) -> Option<Preview> {
    let last = facts.iter().map(|f| f.ordered_on).max()?;
    let cut = last.checked_sub_months(Months::new(holdout_months))?;
    // Grade distributions with the attributes as of the last order.
    let now_rows = rows_until(facts, last);
    let mut grades_new = [0u64; 5];
    let mut grades_current = [0u64; 5];
    for p in profiles {
        let row = now_rows
            .get(&p.id)
            .cloned()
            .unwrap_or_else(|| blank_row(p.id, last));
        let attrs = attributes(p, &row);
        grades_new[model.score(&attrs).grade as usize] += 1;
        grades_current[current.score(&attrs).grade as usize] += 1;
    }
    // Calibration: attributes at the cut, outcome after it, for customers known at the cut.
    let cut_rows = rows_until(facts, cut);
    let mut after: HashMap<i64, i64> = HashMap::new();
    for f in facts.iter().filter(|f| f.ordered_on > cut) {
        *after.entry(f.customer_id).or_default() += match outcome {
            Outcome::Margin => f.amount_cents - f.cost_cents,
            Outcome::Revenue => f.amount_cents,
        };
    }
    let by_id: HashMap<i64, &ScoreProfile> = profiles.iter().map(|p| (p.id, p)).collect();
    let mut values: Vec<BTreeMap<String, AttrValue>> = Vec::new();
    let mut outcomes = Vec::new();
    for (id, row) in &cut_rows {
        let Some(p) = by_id.get(id) else { continue };
        values.push(attributes(p, row));
        outcomes.push(after.get(id).copied().unwrap_or(0) as f64 / 100.0);
    }
    let rows_new: Vec<Vec<AttrValue>> = values.iter().map(|v| model.row(v)).collect();
    let rows_cur: Vec<Vec<AttrValue>> = values.iter().map(|v| current.row(v)).collect();
    let with_outcome = outcomes.iter().filter(|o| **o != 0.0).count();
    let calibration = calibrate(model, &rows_new, &outcomes).ok()?;
    let current_spearman = calibrate(current, &rows_cur, &outcomes)
        .ok()
        .and_then(|c| c.spearman);
    Some(Preview {
        grades_new,
        grades_current,
        calibration,
        current_spearman,
        with_outcome,
        cut,
        last,
    })
}

async fn render(
    st: &WebState,
    lang: Lang,
    form: &Form,
    errors: &Errors,
    preview: Option<&Preview>,
    saved: Option<&str>,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render_status(st, lang, form, errors, preview, saved, status).await
}

async fn render_status(
    st: &WebState,
    lang: Lang,
    form: &Form,
    errors: &Errors,
    preview: Option<&Preview>,
    saved: Option<&str>,
    status: StatusCode,
) -> Response {
    let history = st.store.score_model_history(5).await.unwrap_or_default();
    let body = editor(lang, form, errors, preview, saved, &history);
    html(
        status,
        layout::page_at(lang, lang.t("score.title"), "score", "/score-model", body),
    )
}

fn err(errors: &Errors, key: &str) -> Markup {
    html! {
        @if let Some(e) = errors.get(key) {
            p.field-error id=(format!("err-{key}")) { (e) }
        }
    }
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.filter(|x| x.is_finite())
        .map_or("–".into(), |x| format!("{x:.digits$}"))
}

fn editor(
    lang: Lang,
    form: &Form,
    errors: &Errors,
    preview: Option<&Preview>,
    saved: Option<&str>,
    history: &[patron_store::StoredScoreModel],
) -> Markup {
    let sum: f64 = form
        .attrs
        .iter()
        .filter_map(|a| a.weight.trim().parse::<f64>().ok())
        .sum();
    html! {
        div.pagehead {
            div {
                h1 { (lang.t("score.title")) }
                p.sub { (lang.t("score.sub")) }
            }
        }
        @match saved {
            Some("recomputed") => div.notice.ok { (lang.t("score.saved_recomputed")) " " a href="/dashboard" { (lang.t("nav.dashboard")) " →" } },
            Some(_) => div.notice.ok { (lang.t("score.saved")) },
            None => {},
        }
        @if !errors.is_empty() && !errors.contains_key("preview") {
            div.notice.error id="score-errors" { (lang.t("score.invalid")) }
        }
        (err(errors, "model"))
        form.scoreform method="post" action="/score-model" { (crate::auth::csrf_field())
            div.cardgrid {
                div {
                    section.panel.flush {
                        h2 { (lang.t("score.attributes")) }
                        table.data.attrs {
                            thead { tr {
                                th { (lang.t("score.attribute")) }
                                th.num { (lang.t("score.weight")) }
                                th.num { (lang.t("score.default")) }
                                th { (lang.t("score.table")) }
                            } }
                            tbody {
                                @for (i, a) in form.attrs.iter().enumerate() {
                                    tr {
                                        td {
                                            strong { (attr_label(lang, &a.name)) }
                                            br;
                                            span.muted.small.mono { (a.name) } " · " span.muted.small { (if a.categorical { lang.t("score.categorical") } else { lang.t("score.numeric") }) }
                                            input type="hidden" name=(format!("n{i}")) value=(a.name);
                                            input type="hidden" name=(format!("k{i}")) value=(if a.categorical { "categorical" } else { "numeric" });
                                        }
                                        td.num.has-error[errors.contains_key(&format!("w{i}"))] {
                                            input.weight type="text" inputmode="decimal" name=(format!("w{i}")) id=(format!("w{i}")) value=(a.weight) size="4" aria-label=(lang.t("score.weight"));
                                            (err(errors, &format!("w{i}")))
                                        }
                                        td.num.has-error[errors.contains_key(&format!("d{i}"))] {
                                            input type="text" inputmode="decimal" name=(format!("d{i}")) value=(a.default) size="4" aria-label=(lang.t("score.default"));
                                            (err(errors, &format!("d{i}")))
                                        }
                                        td class=[errors.contains_key(&format!("p{i}")).then_some("has-error")] {
                                            textarea.mono name=(format!("p{i}")) id=(format!("p{i}")) rows=(a.table.lines().count().clamp(2, 10)) spellcheck="false" { (a.table) }
                                            (err(errors, &format!("p{i}")))
                                        }
                                    }
                                }
                            }
                            tfoot { tr {
                                td { strong { (lang.t("score.sum")) } }
                                td.num.has-error[errors.contains_key("weights")] {
                                    output id="weight-sum" class=(if (sum - 100.0).abs() > 1e-6 { "sum bad" } else { "sum" }) { (num_text(sum)) }
                                    " / 100"
                                    (err(errors, "weights"))
                                }
                                td colspan="2" { span.muted.small { (lang.t("score.table_help")) } }
                            } }
                        }
                    }
                }
                div {
                    section.panel {
                        h2 { (lang.t("score.grades")) }
                        div.gradegrid.has-error[errors.contains_key("grades")] {
                            @for (k, g) in ["A", "B", "C", "D"].iter().enumerate() {
                                label.field {
                                    span { (lang.t("value.grade")) " " (g) " ≥" }
                                    input type="text" inputmode="decimal" name=(format!("grade_{}", g.to_lowercase())) value=(form.grades[k]) size="4";
                                }
                            }
                        }
                        (err(errors, "grades"))
                        h2.mt { (lang.t("score.calibration")) }
                        div.formgrid {
                            label.field {
                                span { (lang.t("score.outcome")) }
                                select name="outcome" {
                                    option value="margin" selected[form.outcome == Outcome::Margin] { (lang.t("score.outcome_margin")) }
                                    option value="revenue" selected[form.outcome == Outcome::Revenue] { (lang.t("score.outcome_revenue")) }
                                }
                            }
                            label.field {
                                span { (lang.t("score.holdout")) }
                                select name="holdout" {
                                    @for m in [3u32, 6, 12] {
                                        option value=(m) selected[form.holdout_months == m] { (m) " " (lang.t("score.months")) }
                                    }
                                }
                            }
                        }
                        label.field.mt {
                            span { (lang.t("score.note")) }
                            input type="text" name="note" value=(form.note) placeholder=(lang.t("score.note_hint"));
                        }
                        div.actions.mt {
                            button type="submit" name="action" value="preview" id="preview" { (lang.t("score.preview")) }
                            button.primary type="submit" name="action" value="save" id="save" { (lang.t("score.save")) }
                            button type="submit" name="action" value="reset" { (lang.t("score.reset")) }
                        }
                    }
                    (preview_panel(lang, preview, errors))
                    @if !history.is_empty() {
                        section.panel {
                            h2 { (lang.t("score.history")) }
                            ul.history {
                                @for m in history {
                                    li { (i18n::datetime(lang, m.saved_at)) " · " (m.saved_by) @if let Some(n) = &m.note { " · " em { (n) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
        script src="/static/sum.js" {}
    }
}

/// Updates the weight sum as the user types.
/// Sums the weights as they are typed (`/static/sum.js`).
pub(crate) const SUM_JS: &str = r#"(function(){var o=document.getElementById('weight-sum');if(!o)return;function u(){var s=0;document.querySelectorAll('input.weight').forEach(function(i){var v=parseFloat(i.value);if(!isNaN(v))s+=v;});o.textContent=Math.round(s*1e6)/1e6;o.className=Math.abs(s-100)>1e-6?'sum bad':'sum';}document.querySelectorAll('input.weight').forEach(function(i){i.addEventListener('input',u);});})();"#;

fn attr_label(lang: Lang, name: &str) -> String {
    let key = format!("attr.{name}");
    if i18n::keys().any(|k| k == key) {
        lang.t(&key).to_string()
    } else {
        name.to_string()
    }
}

fn preview_panel(lang: Lang, p: Option<&Preview>, errors: &Errors) -> Markup {
    if let Some(e) = errors.get("preview") {
        return html! { section.panel { div.notice.warn { (e) } } };
    }
    let Some(p) = p else {
        return html! {
            section.panel.previewhint { p.muted { (lang.t("score.preview_hint")) } }
        };
    };
    let c = &p.calibration;
    let names = ["A", "B", "C", "D", "E"];
    let rows: Vec<(&str, u64)> = names.iter().copied().zip(p.grades_new).collect();
    html! {
        section.panel id="score-preview" {
            h2 { (lang.t("score.preview_title")) }
            (crate::overview::grade_bars(lang, "preview-grades", &rows, 0))
            table.data.compact id="preview-table" {
                thead { tr { th { (lang.t("value.grade")) } th.num { (lang.t("score.in_force")) } th.num { (lang.t("score.edited")) } } }
                tbody {
                    @for (k, g) in names.iter().enumerate() {
                        tr { td { (g) } td.num { (i18n::count(p.grades_current[k])) } td.num { strong { (i18n::count(p.grades_new[k])) } } }
                    }
                }
            }
            h3 { (lang.t("score.calibration_title")) }
            p.muted.small {
                (lang.t("score.calibration_basis")) " " (i18n::date(lang, p.cut)) " → " (i18n::date(lang, p.last)) " · "
                (i18n::count(c.customers as u64)) " " (lang.t("dash.count"))
            }
            @if !p.enough_outcomes() {
                div.notice.warn id="too-little-outcome" {
                    (lang.t("score.too_little")
                        .replace("{n}", &i18n::count(p.with_outcome as u64))
                        .replace("{min}", &MIN_OUTCOME_CUSTOMERS.to_string())
                        .replace("{cut}", &i18n::date(lang, p.cut)))
                }
            }
            dl.figures id="calibration" {
                dt { (lang.t("score.spearman")) } dd { (fmt_opt(c.spearman, 3)) " " span.muted.small { "(" (lang.t("score.in_force")) " " (fmt_opt(p.current_spearman, 3)) ")" } }
                dt { (lang.t("score.lift")) } dd { (fmt_opt(c.top_grade_lift, 2)) "×" }
                @for (k, g) in names.iter().enumerate() {
                    dt { (lang.t("score.mean_outcome")) " " (g) } dd { (c.grade_means[k].map_or("–".into(), |m| i18n::money(lang, m))) }
                }
            }
            h3 { (lang.t("score.proposal")) }
            @if !p.enough_outcomes() {
                p.muted { (lang.t("score.no_proposal_data")) }
            } @else if c.proposal_found {
                table.data.compact id="proposal" {
                    thead { tr { th { (lang.t("score.attribute")) } th.num { (lang.t("score.weight")) } th.num { (lang.t("score.proposed")) } } }
                    tbody {
                        @for w in &c.weights {
                            tr { td { (attr_label(lang, &w.attribute)) } td.num { (num_text(w.old)) } td.num { strong { (format!("{:.1}", w.new)) } } }
                        }
                    }
                }
                p.small { (lang.t("score.proposal_spearman")) " " strong { (fmt_opt(c.new_spearman, 3)) } }
                button type="submit" name="action" value="propose" id="propose" { (lang.t("score.use_proposal")) }
            } @else {
                p.muted { (lang.t("score.no_proposal")) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_model_round_trips_through_the_form() {
        let m = ScoreModel::default_model();
        let f = Form::of_model(&m);
        let toml = f.to_toml(Lang::En).unwrap();
        let back = ScoreModel::from_toml(&toml).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn bad_input_is_reported_per_field() {
        let mut f = Form::of_model(&ScoreModel::default_model());
        f.attrs[0].weight = "20".into(); // sum 105
        f.attrs[1].table = "abc = 10".into();
        f.attrs[2].default = "150".into();
        let e = f.to_toml(Lang::En).unwrap_err();
        assert!(e["weights"].contains("105"), "{e:?}");
        assert!(e["p1"].contains("Line 1"), "{e:?}");
        assert!(e.contains_key("d2"), "{e:?}");
        // Overlapping ranges: reported by the model's validation next to the table.
        let mut f = Form::of_model(&ScoreModel::default_model());
        f.attrs[1].table = "0 .. 10 = 5\n5 .. 20 = 10".into();
        let e = f.to_toml(Lang::En).unwrap_err();
        assert!(e["p1"].contains("overlap"), "{e:?}");
    }

    #[test]
    fn weights_round_to_100() {
        assert_eq!(round_to_100(&[33.3, 33.3, 33.4]).iter().sum::<i64>(), 100);
        assert_eq!(round_to_100(&[50.0, 50.0]), [50, 50]);
    }
}
