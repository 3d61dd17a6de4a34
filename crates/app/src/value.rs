//! Recomputing and storing the customer-value figures: [`refresh`] reads every order line from
//! the store, runs [`patron_value::analyze`] on it, scores each customer with the default
//! weighted value-score model, and replaces the stored figures and population report in one
//! transaction. The CLI (`patron value refresh`) and `POST /api/value/refresh` both call it.

use std::collections::{BTreeMap, HashMap};

use chrono::{Datelike, NaiveDate, SubsecRound, Utc};
use patron_store::{
    CustomerValueRow, NewSnapshot, ScoreProfile, Store, StoreError, StoredChurnReason,
    ValueSnapshot,
};
use patron_value::abc::AbcClass;
use patron_value::live::LiveParams;
use patron_value::loyalty::{Phase, Stage};
use patron_value::rfm::Segment;
use patron_value::score::{AttrValue, Grade, ScoreModel, Scored};
use patron_value::summary::{day_from_ymd, TimeUnit};
use patron_value::{Analysis, AnalysisError, AnalysisOptions, Day, OrderLine};
use serde_json::{json, Value};

/// Churn risks kept in a snapshot's report (biggest value at risk first).
pub const REPORT_CHURN_TOP: usize = 100;

/// Why a refresh failed.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Analysis(#[from] AnalysisError),
    #[error("order date {0} is out of the supported range")]
    BadDate(NaiveDate),
    /// An as-of date after today (plus the tolerance of future order dates).
    #[error("the as-of date {0} lies in the future")]
    AsOfInFuture(NaiveDate),
    /// An explicit calibration or holdout end after the as-of date (`field`, its date, as-of).
    #[error("{field} {date} lies after the as-of date {as_of}")]
    AfterAsOf {
        field: &'static str,
        date: NaiveDate,
        as_of: NaiveDate,
    },
    #[error("the analysis stopped unexpectedly: {0}")]
    Internal(String),
}

/// Days since 1970-01-01 of a date.
pub fn day_of(d: NaiveDate) -> Option<Day> {
    day_from_ymd(d.year(), d.month(), d.day())
}

/// The date of a day number (days since 1970-01-01).
pub fn date_of(day: Day) -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date")
        + chrono::Duration::days(i64::from(day))
}

/// Serializes to its serde name (`"repeat_buyer"`), for the enums of patron-value.
fn name<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn segment_name(s: Segment) -> String {
    s.code().to_string()
}

/// The serde name of a stage (what [`name`] gives, without serializing: a million rows).
fn stage_name(s: Stage) -> &'static str {
    match s {
        Stage::Suspect => "suspect",
        Stage::Prospect => "prospect",
        Stage::FirstTimeBuyer => "first_time_buyer",
        Stage::RepeatBuyer => "repeat_buyer",
        Stage::Advocate => ADVOCATE,
    }
}

/// The serde name of a lifecycle phase (as [`stage_name`]).
fn phase_name(p: Phase) -> &'static str {
    match p {
        Phase::Introduction => "introduction",
        Phase::Growth => "growth",
        Phase::Maturity => "maturity",
        Phase::Decline => "decline",
    }
}

fn grade_name(g: Grade) -> String {
    format!("{g:?}")
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn cents(v: f64) -> i64 {
    if v.is_finite() {
        (v * 100.0).round() as i64
    } else {
        0
    }
}

/// The score attributes of one customer: profile fields plus figures derived from the stored
/// value row (names of [`patron_value::score::DEFAULT_MODEL_TOML`]):
/// - `industry`, `credit_rating`: the profile's text;
/// - `registered_capital` (currency units), `employees`: the profile's numbers;
/// - `annual_margin`: CRM gross margin per year of tenure (tenure = T, at least one year);
/// - `purchase_frequency`: purchase periods (frequency + 1) per year of tenure;
/// - `loyalty`: the loyalty stage;
/// - `satisfaction`: the custom field `satisfaction` when it is a number (e.g. 1-5 survey).
pub fn score_attributes(
    profile: &ScoreProfile,
    row: &CustomerValueRow,
) -> BTreeMap<String, AttrValue> {
    let mut m = BTreeMap::new();
    let text = |v: &Option<String>| match v {
        Some(s) if !s.trim().is_empty() => AttrValue::Text(s.clone()),
        _ => AttrValue::Missing,
    };
    m.insert("industry".into(), text(&profile.industry));
    m.insert("credit_rating".into(), text(&profile.credit_rating));
    m.insert(
        "registered_capital".into(),
        profile
            .registered_capital_cents
            .map_or(AttrValue::Missing, |c| AttrValue::Number(c as f64 / 100.0)),
    );
    m.insert(
        "employees".into(),
        profile
            .employees
            .map_or(AttrValue::Missing, |e| AttrValue::Number(e as f64)),
    );
    let unit_days = if row.unit == "week" { 7.0 } else { 1.0 };
    let years = row
        .t
        .map_or(1.0, |t| ((t * unit_days + 1.0) / 365.0).max(1.0));
    m.insert(
        "annual_margin".into(),
        AttrValue::Number(row.margin_cents as f64 / 100.0 / years),
    );
    m.insert(
        "purchase_frequency".into(),
        match row.frequency {
            Some(f) => AttrValue::Number((f + 1.0) / years),
            None => AttrValue::Number(0.0),
        },
    );
    m.insert("loyalty".into(), text(&row.loyalty_stage));
    let satisfaction = match profile.custom_fields.get("satisfaction") {
        Some(patron_domain::CustomValue::Number(n)) => AttrValue::Number(*n),
        Some(patron_domain::CustomValue::Text(t)) => t
            .trim()
            .parse()
            .map_or(AttrValue::Missing, AttrValue::Number),
        _ => AttrValue::Missing,
    };
    m.insert("satisfaction".into(), satisfaction);
    m
}

/// Scores one customer with the default model.
pub fn score(model: &ScoreModel, profile: &ScoreProfile, row: &CustomerValueRow) -> Scored {
    model.score(&score_attributes(profile, row))
}

/// Order lines with dense customer indices, and the customer id of each index.
/// The analysis lines of stored order facts, with customers numbered densely from 0 in the
/// order met (`ids[k]` is customer `k`'s id): the one translation of stored orders into the
/// value engine's input.
pub fn dense_orders(
    store_facts: &[patron_store::OrderFact],
) -> Result<(Vec<OrderLine>, Vec<i64>), RefreshError> {
    let mut index: HashMap<i64, u32> = HashMap::new();
    let mut ids = Vec::new();
    let mut lines = Vec::with_capacity(store_facts.len());
    let mut last: Option<(i64, u32)> = None;
    for f in store_facts {
        // Lines come grouped by customer (primary-key order): skip the lookup for runs.
        let customer = match last {
            Some((id, k)) if id == f.customer_id => k,
            _ => {
                let next = ids.len() as u32;
                let k = *index.entry(f.customer_id).or_insert_with(|| {
                    ids.push(f.customer_id);
                    next
                });
                last = Some((f.customer_id, k));
                k
            }
        };
        let day = day_of(f.ordered_on).ok_or(RefreshError::BadDate(f.ordered_on))?;
        lines.push(OrderLine {
            customer,
            day,
            revenue: f.amount_cents as f64 / 100.0,
            cost: f.cost_cents as f64 / 100.0,
        });
    }
    Ok((lines, ids))
}

/// [`dense_orders`] of the order lines dated up to `as_of`, read from the store in customer
/// order (in parts by customer range, one per core, see [`Store::order_days_in_parts`]) and
/// decoded straight into the analysis lines (customers numbered densely from 0 in ascending id
/// order): nothing but the lines and the ids is held, never a row per line.
pub async fn dense_orders_of(
    store: &Store,
    as_of: NaiveDate,
) -> Result<(Vec<OrderLine>, Vec<i64>), RefreshError> {
    /// One part's lines, numbered from 0 within the part.
    #[derive(Default)]
    struct Part {
        ids: Vec<i64>,
        lines: Vec<OrderLine>,
        unordered: bool,
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let parts = store
        .order_days_in_parts(
            Some(as_of),
            threads,
            Part::default,
            |p: &mut Part, (customer_id, day, amount_cents, cost_cents)| {
                match p.ids.last() {
                    Some(&last) if last == customer_id => {}
                    Some(&last) if last > customer_id => p.unordered = true,
                    _ => p.ids.push(customer_id),
                }
                p.lines.push(OrderLine {
                    customer: (p.ids.len() - 1) as u32,
                    day,
                    revenue: amount_cents as f64 / 100.0,
                    cost: cost_cents as f64 / 100.0,
                });
            },
        )
        .await?;
    if parts.iter().any(|p| p.unordered) {
        return Err(RefreshError::Internal(
            "order lines did not come in customer order".into(),
        ));
    }
    // The first part grows in place to hold the others (a large allocation grows by remapping
    // its pages, not by copying them), each freed once appended: copying every part into a new
    // vector held a second copy of the lines at once (about 250 MB at 10.4 M lines).
    let total_lines = parts.iter().map(|p| p.lines.len()).sum::<usize>();
    let total_ids = parts.iter().map(|p| p.ids.len()).sum::<usize>();
    let mut parts = parts.into_iter();
    let Some(first) = parts.next() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let (mut lines, mut ids) = (first.lines, first.ids);
    lines.reserve_exact(total_lines - lines.len());
    ids.reserve_exact(total_ids - ids.len());
    for p in parts {
        let offset = ids.len() as u32;
        lines.extend(p.lines.into_iter().map(|l| OrderLine {
            customer: l.customer + offset,
            ..l
        }));
        ids.extend(p.ids);
    }
    Ok((lines, ids))
}

/// The relationship-marketing costs recorded up to `as_of` of the analysed customers (`ids`:
/// ascending, the analysis's dense numbering), in currency units: what replaces the flat
/// marketing rate for them. Records of customers without orders up to `as_of` are left out
/// (they have no figures to charge).
pub async fn recorded_costs_of(
    store: &Store,
    ids: &[i64],
    as_of: NaiveDate,
) -> Result<patron_value::summary::RecordedCosts, StoreError> {
    let mut map: BTreeMap<u32, Vec<(Day, f64)>> = BTreeMap::new();
    for (customer_id, day, cents) in store.marketing_cost_days(as_of).await? {
        if let Ok(k) = ids.binary_search(&customer_id) {
            map.entry(k as u32)
                .or_default()
                .push((day, cents as f64 / 100.0));
        }
    }
    Ok(patron_value::summary::RecordedCosts::new(map))
}

/// One stored row per analysed customer (`rows[k]`: customer `k`), built on two threads over
/// halves of the customers. At 1 million customers (release, shared 2-core machine) 0.5 s,
/// against 1.8 s while each churn reason carried its sentence and a map of its figures.
fn rows_of(
    an: &Analysis,
    ids: &[i64],
    computed_at: chrono::DateTime<Utc>,
) -> Vec<CustomerValueRow> {
    let unit = name(&an.options.unit);
    let calibration_end = date_of(an.calibration_end);
    let build = |from: usize, ids: &[i64], out: &mut [std::mem::MaybeUninit<CustomerValueRow>]| {
        for (i, (&customer_id, slot)) in ids.iter().zip(out).enumerate() {
            slot.write(row_of(
                &an.customer(from + i),
                customer_id,
                &unit,
                calibration_end,
                computed_at,
            ));
        }
    };
    // Both halves are written in place into one vector: building each half as a vector of its
    // own and appending the second to the first held a copy of half the rows at once (a spike
    // of 300-500 MB at 1 M customers, the refresh's peak).
    let n = ids.len();
    let mut rows: Vec<CustomerValueRow> = Vec::with_capacity(n);
    let half = if n < 20_000 { n } else { n / 2 };
    let (head, tail) = ids.split_at(half);
    {
        let (a, b) = rows.spare_capacity_mut()[..n].split_at_mut(half);
        std::thread::scope(|s| {
            if !tail.is_empty() {
                s.spawn(|| build(half, tail, b));
            }
            build(0, head, a);
        });
    }
    // SAFETY: the scope above returned, so both halves ran to the end (a panic in either
    // propagates out of the scope before this line): every one of the first `n` slots was
    // written exactly once (`ids` and the slots have the same length, half by half).
    unsafe { rows.set_len(n) };
    rows
}

/// The stored row of one customer's figures (of a refresh, or recomputed alone): the one
/// translation of the value engine's figures into stored ones. Without an ABC class (no
/// population boundaries) the class is C; callers keeping an older class set it afterwards.
fn row_of(
    f: &patron_value::live::CustomerFigures,
    customer_id: i64,
    unit: &str,
    calibration_end: NaiveDate,
    computed_at: chrono::DateTime<Utc>,
) -> CustomerValueRow {
    let s = &f.summary;
    let active = s.first_day.is_some();
    let v = &f.value;
    let rfm = f.rfm.as_ref();
    let warning = f.warning.as_ref();
    let churn_reasons: Vec<StoredChurnReason> = warning
        .map(|w| {
            w.reasons
                .iter()
                .map(|r| StoredChurnReason::from(*r))
                .collect()
        })
        .unwrap_or_default();
    CustomerValueRow {
        customer_id,
        computed_at,
        unit: unit.to_string(),
        calibration_end,
        frequency: active.then_some(s.rft.frequency),
        recency: active.then_some(s.rft.recency),
        t: active.then_some(s.rft.t),
        monetary_value: active.then_some(s.rft.monetary_value),
        orders: s.orders as i64,
        revenue_cents: cents(s.revenue),
        cost_cents: cents(s.cost),
        margin_cents: cents(s.margin),
        rfm_r: rfm.map(|r| i32::from(r.r)),
        rfm_f: rfm.map(|r| i32::from(r.f)),
        rfm_m: rfm.map(|r| i32::from(r.m)),
        rfm_segment: rfm.map(|r| segment_name(r.segment)),
        abc_class: match f.abc {
            Some(AbcClass::A) => "A",
            Some(AbcClass::B) => "B",
            Some(AbcClass::C) | None => "C",
        }
        .into(),
        p_alive: finite(v.p_alive),
        expected_purchases: finite(v.expected_purchases),
        expected_spend: finite(v.expected_spend),
        clv: finite(v.clv),
        loyalty_stage: f.stage.map(|s| stage_name(s).to_string()),
        lifecycle_phase: f.phase.map(|p| phase_name(p).to_string()),
        churn_risk: warning.is_some(),
        value_at_risk: warning.map_or(0.0, |w| w.value_at_risk),
        churn_reasons,
        score: None,
        grade: None,
    }
}

/// The stored name of the advocate stage.
const ADVOCATE: &str = "advocate";

/// Makes the buyers among the referrers advocates ([`patron_value::loyalty::with_referrals`]
/// with the default rule: one referral; `referrals`: live customers naming each id as their
/// referrer). Rows without a buyer stage are left alone.
fn promote_advocates(rows: &mut [CustomerValueRow], referrals: &HashMap<i64, i64>) {
    use patron_value::loyalty::LoyaltyConfig;
    let cfg = LoyaltyConfig::default();
    for r in rows {
        let n = referrals.get(&r.customer_id).copied().unwrap_or(0);
        promote_advocate(r, n, &cfg);
    }
}

/// [`promote_advocates`] of one row with `referrals` referrals.
fn promote_advocate(
    r: &mut CustomerValueRow,
    referrals: i64,
    cfg: &patron_value::loyalty::LoyaltyConfig,
) {
    let stage = match r.loyalty_stage.as_deref() {
        Some("first_time_buyer") => Stage::FirstTimeBuyer,
        Some("repeat_buyer") => Stage::RepeatBuyer,
        _ => return,
    };
    let n = referrals.max(0) as usize;
    let promoted = patron_value::loyalty::with_referrals(stage, n, cfg);
    if promoted != stage {
        r.loyalty_stage = Some(stage_name(promoted).to_string());
    }
}

/// One row per live customer without orders up to the as-of date (a prospect: no analysed
/// customer), so that every customer is judged: no purchase figures (orders, revenue, cost and
/// margin 0; no frequency/recency/T, RFM, P(alive), CLV, loyalty stage or lifecycle phase;
/// no churn warning), ABC class C (no value yet, the class the follow-up plan's slowest
/// cadence goes by), and the score and grade of the model's attribute part
/// ([`ScoreModel::attribute_part`]: the purchase attributes left out, the other weights
/// rescaled to 100; no grade when the model has nothing else).
fn prospect_rows(
    an: &Analysis,
    ids: &[i64],
    profiles: &LiveProfiles,
    model: &ScoreModel,
    computed_at: chrono::DateTime<Utc>,
) -> Vec<CustomerValueRow> {
    let part = model.attribute_part();
    let scorer = part.as_ref().map(Scorer::new);
    let unit = name(&an.options.unit);
    let calibration_end = date_of(an.calibration_end);
    // `ids` ascend (the analysis numbers customers in id order); should they not, a set.
    let unsorted: Option<std::collections::HashSet<i64>> =
        (!ids.is_sorted()).then(|| ids.iter().copied().collect());
    let analysed = |id: &i64| match &unsorted {
        Some(set) => set.contains(id),
        None => ids.binary_search(id).is_ok(),
    };
    profiles
        .live
        .iter()
        .filter(|id| !analysed(id))
        .map(|&id| {
            let p = profiles.get(id).unwrap_or(&profiles.empty);
            // `prospect_row`, scored without its allocations.
            let mut row =
                CustomerValueRow::without_orders(id, computed_at, unit.clone(), calibration_end);
            if let Some(scorer) = &scorer {
                (row.score, row.grade) = scorer.score(p, &row);
            }
            row
        })
        .collect()
}

/// The score profiles of the live customers as the refresh reads them
/// ([`Store::live_score_profiles`]): every live id, ascending, and the profiles of those that
/// may carry a score attribute; every other live customer's profile is empty. Looked up by
/// binary search rather than a map of a million profiles by id (measured at 1 million
/// customers: the map and the profiles were most of the scoring stage).
struct LiveProfiles<'a> {
    live: &'a [i64],
    profiles: &'a [ScoreProfile],
    /// The profile without attributes of every other live customer (its id is not read).
    empty: ScoreProfile,
}

impl<'a> LiveProfiles<'a> {
    fn new(live: &'a [i64], profiles: &'a [ScoreProfile]) -> LiveProfiles<'a> {
        LiveProfiles {
            live,
            profiles,
            empty: ScoreProfile {
                id: 0,
                industry: None,
                registered_capital_cents: None,
                employees: None,
                credit_rating: None,
                loyalty: String::new(),
                custom_fields: BTreeMap::new(),
            },
        }
    }

    /// The profile of a live customer (`None`: not live, e.g. merged into another).
    fn get(&self, id: i64) -> Option<&ScoreProfile> {
        self.live.binary_search(&id).ok()?;
        Some(
            self.profiles
                .binary_search_by_key(&id, |p| p.id)
                .map_or(&self.empty, |k| &self.profiles[k]),
        )
    }
}

/// Scores and grades the rows of the analysed customers with `model` (a row of a customer no
/// longer live keeps none) with a [`Scorer`], on two threads over halves of the rows. At 1
/// million customers (release, shared 2-core machine) the whole scoring stage took 0.4 s,
/// against 2.5 s with a map of the profiles by id and [`score_row`] on one thread.
fn score_rows(rows: &mut [CustomerValueRow], profiles: &LiveProfiles, model: &ScoreModel) {
    let scorer = Scorer::new(model);
    let score_all = |rows: &mut [CustomerValueRow]| {
        for r in rows {
            if let Some(p) = profiles.get(r.customer_id) {
                (r.score, r.grade) = scorer.score(p, r);
            }
        }
    };
    let half = rows.len() / 2;
    if half < 10_000 {
        return score_all(rows);
    }
    let (head, tail) = rows.split_at_mut(half);
    std::thread::scope(|s| {
        s.spawn(|| score_all(tail));
        score_all(head);
    });
}

/// The row of one customer without orders (see [`prospect_rows`]; `part`: the score model's
/// attribute part).
fn prospect_row(
    p: &ScoreProfile,
    part: Option<&ScoreModel>,
    unit: &str,
    calibration_end: NaiveDate,
    computed_at: chrono::DateTime<Utc>,
) -> CustomerValueRow {
    let mut row =
        CustomerValueRow::without_orders(p.id, computed_at, unit.to_string(), calibration_end);
    if let Some(part) = part {
        (row.score, row.grade) = score_row(part, part, p, &row);
    }
    row
}

/// The score and grade of one customer's value row: a buyer's under the whole model, a
/// customer without orders under the model's attribute part (`part`, see
/// [`ScoreModel::attribute_part`]): the one rule of the refresh, the live recompute's
/// neighbours and [`regrade`].
fn score_row(
    model: &ScoreModel,
    part: &ScoreModel,
    p: &ScoreProfile,
    row: &CustomerValueRow,
) -> (Option<f64>, Option<String>) {
    let s = score(if row.orders == 0 { part } else { model }, p, row);
    (finite(s.score), Some(grade_name(s.grade)))
}

/// Where a model attribute's value comes from ([`score_attributes`]'s names).
#[derive(Clone, Copy)]
enum Source {
    Industry,
    CreditRating,
    RegisteredCapital,
    Employees,
    AnnualMargin,
    PurchaseFrequency,
    Loyalty,
    Satisfaction,
    /// A name [`score_attributes`] does not give: always missing.
    Unknown,
}

/// An attribute value, borrowed ([`AttrValue`] without its allocation).
enum Attr<'v> {
    Number(f64),
    Text(&'v str),
    Missing,
}

/// [`score_row`] without the allocations of [`score_attributes`] and
/// [`ScoreModel::score`] (an attribute map, a row, an explanation and a rule text per
/// attribute of every customer): the same values, points and sum in the same order, so the same
/// score and grade (a test scores varied customers both ways). Measured at 1 million customers
/// (2 cores, release): the allocating path took most of the refresh's scoring stage.
struct Scorer<'m> {
    model: &'m ScoreModel,
    sources: Vec<Source>,
}

impl<'m> Scorer<'m> {
    fn new(model: &'m ScoreModel) -> Scorer<'m> {
        let sources = model
            .attributes
            .iter()
            .map(|a| match a.name.as_str() {
                "industry" => Source::Industry,
                "credit_rating" => Source::CreditRating,
                "registered_capital" => Source::RegisteredCapital,
                "employees" => Source::Employees,
                "annual_margin" => Source::AnnualMargin,
                "purchase_frequency" => Source::PurchaseFrequency,
                "loyalty" => Source::Loyalty,
                "satisfaction" => Source::Satisfaction,
                _ => Source::Unknown,
            })
            .collect();
        Scorer { model, sources }
    }

    /// The value of `source` for a customer (as [`score_attributes`] gives it).
    fn value<'v>(
        source: Source,
        profile: &'v ScoreProfile,
        row: &'v CustomerValueRow,
        years: f64,
    ) -> Attr<'v> {
        let text = |v: &'v Option<String>| match v {
            Some(s) if !s.trim().is_empty() => Attr::Text(s),
            _ => Attr::Missing,
        };
        match source {
            Source::Industry => text(&profile.industry),
            Source::CreditRating => text(&profile.credit_rating),
            Source::RegisteredCapital => profile
                .registered_capital_cents
                .map_or(Attr::Missing, |c| Attr::Number(c as f64 / 100.0)),
            Source::Employees => profile
                .employees
                .map_or(Attr::Missing, |e| Attr::Number(e as f64)),
            Source::AnnualMargin => Attr::Number(row.margin_cents as f64 / 100.0 / years),
            Source::PurchaseFrequency => match row.frequency {
                Some(f) => Attr::Number((f + 1.0) / years),
                None => Attr::Number(0.0),
            },
            Source::Loyalty => text(&row.loyalty_stage),
            Source::Satisfaction => match profile.custom_fields.get("satisfaction") {
                Some(patron_domain::CustomValue::Number(n)) => Attr::Number(*n),
                Some(patron_domain::CustomValue::Text(t)) => {
                    t.trim().parse().map_or(Attr::Missing, Attr::Number)
                }
                _ => Attr::Missing,
            },
            Source::Unknown => Attr::Missing,
        }
    }

    /// [`patron_value::score::Attribute::points`] of a value, without its rule text.
    fn points(a: &patron_value::score::Attribute, value: &Attr) -> f64 {
        use patron_value::score::AttributeKind;
        match &a.kind {
            AttributeKind::Categorical { points } => {
                let found = match value {
                    Attr::Text(t) => {
                        let t = t.trim();
                        // Already lower case (the stored stages, most categories): no copy.
                        if t.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                            points.get(t)
                        } else {
                            points.get(&t.to_lowercase())
                        }
                    }
                    Attr::Number(x) if x.is_finite() => points.get(&format!("{x}")),
                    _ => None,
                };
                found.copied().unwrap_or(a.default_points)
            }
            AttributeKind::Numeric { ranges } => {
                let x = match value {
                    Attr::Number(x) => *x,
                    Attr::Text(t) => t.trim().parse::<f64>().unwrap_or(f64::NAN),
                    Attr::Missing => f64::NAN,
                };
                if !x.is_finite() {
                    return a.default_points;
                }
                ranges
                    .iter()
                    .find(|r| {
                        x >= r.min.unwrap_or(f64::NEG_INFINITY)
                            && x < r.max.unwrap_or(f64::INFINITY)
                    })
                    .map_or(a.default_points, |r| r.points)
            }
        }
    }

    /// The score and grade [`score_row`] gives under this model.
    fn score(&self, p: &ScoreProfile, row: &CustomerValueRow) -> (Option<f64>, Option<String>) {
        let unit_days = if row.unit == "week" { 7.0 } else { 1.0 };
        let years = row
            .t
            .map_or(1.0, |t| ((t * unit_days + 1.0) / 365.0).max(1.0));
        let mut total = 0.0;
        for (a, &source) in self.model.attributes.iter().zip(&self.sources) {
            let points = Self::points(a, &Self::value(source, p, row, years));
            total += a.weight * points / 100.0;
        }
        let score = f64::clamp(total, 0.0, 100.0);
        let grade = self.model.grades.grade(score);
        (finite(score), Some(grade_name(grade)))
    }
}

/// Every stored customer's score and grade under `model`, from the stored figures (no new
/// analysis): `(customer id, score, grade)`, in id order. What saving a score model applies
/// ([`regrade`]) and so exactly what the score editor's preview counts ([`preview_grades`]).
pub async fn grades_under(
    store: &Store,
    model: &ScoreModel,
) -> Result<Vec<(i64, Option<f64>, Option<String>)>, StoreError> {
    let rows = store.all_customer_values().await?;
    let profiles = store.score_profiles().await?;
    Ok(grades_of(&rows, &profiles, model))
}

/// Customers per grade (A..E, then ungraded) as stored now and as `model` would grade them
/// when saved: the score editor's preview ("in force" and "edited"), from the same rows.
pub async fn preview_grades(
    store: &Store,
    model: &ScoreModel,
) -> Result<([u64; 6], [u64; 6]), StoreError> {
    let rows = store.all_customer_values().await?;
    let profiles = store.score_profiles().await?;
    // The same customers on both sides: those with a profile (live customers).
    let live: std::collections::HashSet<i64> = profiles.iter().map(|p| p.id).collect();
    let now: Vec<(i64, Option<f64>, Option<String>)> = rows
        .iter()
        .filter(|r| live.contains(&r.customer_id))
        .map(|r| (r.customer_id, r.score, r.grade.clone()))
        .collect();
    Ok((
        grade_counts(&now),
        grade_counts(&grades_of(&rows, &profiles, model)),
    ))
}

fn grades_of(
    rows: &[CustomerValueRow],
    profiles: &[ScoreProfile],
    model: &ScoreModel,
) -> Vec<(i64, Option<f64>, Option<String>)> {
    let by_id: HashMap<i64, &ScoreProfile> = profiles.iter().map(|p| (p.id, p)).collect();
    let part = model.attribute_part();
    rows.iter()
        .filter_map(|r| {
            let p = by_id.get(&r.customer_id)?;
            let (score, grade) = match (&part, r.orders) {
                (None, 0) => (None, None),
                (Some(part), _) => score_row(model, part, p, r),
                (None, _) => score_row(model, model, p, r),
            };
            Some((r.customer_id, score, grade))
        })
        .collect()
}

/// Customers per grade (A..E, then ungraded) of [`grades_under`]'s answer.
pub fn grade_counts(grades: &[(i64, Option<f64>, Option<String>)]) -> [u64; 6] {
    let mut n = [0u64; 6];
    for (_, _, g) in grades {
        let k = match g.as_deref() {
            Some("A") => 0,
            Some("B") => 1,
            Some("C") => 2,
            Some("D") => 3,
            Some("E") => 4,
            _ => 5,
        };
        n[k] += 1;
    }
    n
}

/// Applies `model` to the stored figures: every customer's score and grade (as
/// [`grades_under`] computes them) and the latest snapshot's grade counts, in one
/// transaction; the figures themselves are not recomputed. Saving a score model does this, so
/// that what the editor previewed is what is stored. Answers the counts per grade.
pub async fn regrade(store: &Store, model: &ScoreModel) -> Result<[u64; 6], StoreError> {
    let grades = grades_under(store, model).await?;
    let n = grade_counts(&grades);
    let report = json!({"A": n[0], "B": n[1], "C": n[2], "D": n[3], "E": n[4], "ungraded": n[5]});
    store.set_grades(&grades, &report).await?;
    Ok(n)
}

/// Quantiles (0%, 10%, .., 100%) of the finite values, for distribution plots.
fn deciles(mut v: Vec<f64>) -> Vec<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return Vec::new();
    }
    v.sort_by(f64::total_cmp);
    (0..=10)
        .map(|k| {
            let pos = (v.len() - 1) as f64 * f64::from(k) / 10.0;
            let lo = pos.floor() as usize;
            let hi = pos.ceil() as usize;
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        })
        .collect()
}

/// The options as the API shows them (dates as YYYY-MM-DD), with the as-of date of the refresh.
pub fn options_json(o: &AnalysisOptions, as_of: NaiveDate) -> Value {
    json!({
        "as_of": as_of,
        "unit": name(&o.unit),
        "calibration_end": o.calibration_end.map(date_of),
        "holdout_end": o.holdout_end.map(date_of),
        "model": name(&o.model),
        "horizon": o.horizon,
        "discount_rate": o.discount_rate,
        "margin": o.margin,
        "marketing_cost": o.marketing_cost,
    })
}

/// The population figures of an analysis (what the dashboard and `GET /api/value/report` show).
fn report_of(
    an: &Analysis,
    as_of: NaiveDate,
    ids: &[i64],
    rows: &[CustomerValueRow],
    names: &HashMap<i64, (String, String)>,
    archived: &std::collections::HashSet<i64>,
) -> crate::report::SnapshotReport {
    use crate::report::*;
    let model = an.model.as_ref().map(|m| Model {
        kind: name(&m.kind),
        params: m
            .params()
            .into_iter()
            .map(|(k, v)| (k.to_string(), finite(v)))
            .collect(),
        log_likelihood: finite(m.purchase.log_likelihood),
        iterations: m.purchase.iterations as u64,
        converged: m.purchase.converged,
        customers: m.purchase.n_customers as u64,
        fit_seconds: finite(m.purchase_seconds),
        gamma_gamma: m.spend.as_ref().map(|g| GammaGamma {
            p: finite(g.model.p),
            q: finite(g.model.q),
            gamma: finite(g.model.gamma),
            log_likelihood: finite(g.log_likelihood),
            customers: g.n_customers as u64,
            converged: g.converged,
            population_mean_spend: m.population_mean_spend.and_then(finite),
        }),
        gamma_gamma_error: m.spend_error.clone(),
        holdout: m.holdout.as_ref().map(|bins| {
            bins.iter()
                .map(|b| HoldoutBin {
                    frequency: b.frequency,
                    open_ended: b.open_ended,
                    customers: b.n_customers as u64,
                    actual_mean: finite(b.actual_mean),
                    expected_mean: finite(b.expected_mean),
                })
                .collect()
        }),
    });
    let t = &an.totals;
    let mut grades = Grades {
        a: 0,
        b: 0,
        c: 0,
        d: 0,
        e: 0,
        ungraded: 0,
    };
    for r in rows {
        match r.grade.as_deref() {
            Some("A") => grades.a += 1,
            Some("B") => grades.b += 1,
            Some("C") => grades.c += 1,
            Some("D") => grades.d += 1,
            Some("E") => grades.e += 1,
            _ => grades.ungraded += 1,
        }
    }
    // Archived customers count in the totals (their orders are the company's) but are not
    // listed: no one works them until they are restored.
    let top = an
        .churn
        .iter()
        .filter(|w| !archived.contains(&ids[w.customer as usize]))
        .take(REPORT_CHURN_TOP)
        .map(|w| {
            let id = ids[w.customer as usize];
            let (number, name) = names.get(&id).cloned().unwrap_or_default();
            let row = &rows[w.customer as usize];
            ChurnRisk {
                customer_id: id,
                number,
                name,
                value_at_risk: finite(w.value_at_risk),
                abc_class: row.abc_class.clone(),
                reasons: row.churn_reasons.clone(),
            }
        })
        .collect();
    let w = &an.whale;
    SnapshotReport {
        as_of: Some(as_of),
        unit: name(&an.options.unit),
        first_order: date_of(an.first_day),
        last_order: date_of(an.last_day),
        calibration_end: date_of(an.calibration_end),
        holdout_end: an.options.holdout_end.map(date_of),
        totals: Totals {
            customers: t.customers as u64,
            customers_in_calibration: t.customers_in_calibration as u64,
            order_lines: t.order_lines as u64,
            zero_amount_lines: t.zero_amount_lines,
            revenue: finite(t.revenue),
            cost: finite(t.cost),
            marketing_cost: finite(t.marketing_cost),
            margin: finite(t.margin),
            clv: finite(t.clv),
        },
        clv: Clv {
            horizon: finite(an.horizon),
            steps: an.clv_options.steps,
            discount_rate_per_step: finite(an.clv_options.discount_rate),
            margin_ratio: finite(an.clv_options.margin_ratio),
            marketing_cost_per_year: finite(an.options.marketing_cost),
            deciles: deciles(rows.iter().filter_map(|r| r.clv).collect()),
        },
        model,
        model_error: an.model_error.clone(),
        model_choice: an.model_selection.as_ref().map(|m| ModelChoice {
            chosen: name(&m.chosen),
            reason: m.reason.clone(),
            rule: m.rule.to_string(),
            calibration_end: date_of(m.calibration_end),
            holdout_end: date_of(m.holdout_end),
            holdout_length: finite(m.holdout_length),
            comparison: m
                .comparison
                .iter()
                .map(|c| ModelComparison {
                    kind: name(&c.kind),
                    customers: c.customers as u64,
                    actual_total: finite(c.actual_total),
                    predicted_total: finite(c.predicted_total),
                    mean_absolute_error: finite(c.mean_absolute_error),
                    root_mean_squared_error: finite(c.root_mean_squared_error),
                    converged: c.converged,
                    excluded: c.excluded.clone(),
                })
                .collect(),
        }),
        not_enough_history: an.not_enough_history.as_ref().map(|n| NotEnoughHistory {
            code: n.code.clone(),
            reason: n.reason.clone(),
            fallback: n.fallback.clone(),
        }),
        rfm: Rfm {
            segments: an
                .rfm
                .segments
                .iter()
                .map(|g| Segment {
                    segment: segment_name(g.segment),
                    customers: g.customers,
                    revenue: finite(g.revenue),
                })
                .collect(),
            grid_customers: an
                .rfm
                .grid
                .iter()
                .map(|row| row.iter().map(|c| c.customers).collect())
                .collect(),
            grid_revenue: an
                .rfm
                .grid
                .iter()
                .map(|row| row.iter().map(|c| finite(c.revenue)).collect())
                .collect(),
        },
        abc: an
            .abc
            .stats
            .iter()
            .map(|c| AbcClass {
                class: format!("{:?}", c.class),
                customers: c.customers,
                customer_share: finite(c.customer_share),
                value: finite(c.value),
                value_share: finite(c.value_share),
                cumulative_share: finite(c.cumulative_share),
            })
            .collect(),
        whale: Whale {
            top_share: finite(w.figures.top_share),
            peak: finite(w.figures.peak),
            peak_at_customers_pct: finite(w.figures.peak_at_customers_pct),
            bottom_destroyed: finite(w.figures.bottom_destroyed),
            unprofitable_customers: w.figures.unprofitable_customers,
            total: finite(w.total),
            peak_value: finite(w.peak_value),
            curve: w
                .curve
                .iter()
                .map(|p| WhalePoint {
                    customers_pct: finite(p.customers_pct),
                    profit_pct: finite(p.profit_pct),
                })
                .collect(),
        },
        loyalty: Loyalty {
            first_time_buyer: an.loyalty.first_time_buyer,
            repeat_buyer: an.loyalty.repeat_buyer,
        },
        lifecycle: Lifecycle {
            introduction: an.lifecycle.introduction,
            growth: an.lifecycle.growth,
            maturity: an.lifecycle.maturity,
            decline: an.lifecycle.decline,
        },
        grades,
        churn: Churn {
            warned_customers: an.churn.len() as u64,
            value_at_risk: finite(
                an.churn
                    .iter()
                    .map(|w| w.value_at_risk)
                    .filter(|v| v.is_finite())
                    .sum(),
            ),
            top,
        },
        notes: an.notes.iter().map(|n| n.to_string()).collect(),
        timings: an
            .timings
            .iter()
            .map(|t| Timing {
                step: t.step.to_string(),
                seconds: finite(t.seconds),
            })
            .collect(),
        dashboard: None,
        refresh_seconds: None,
        live: None,
    }
}

/// Serializes refreshes within this process (a second one waits for the first); the lease
/// [`REFRESH_LEASE`] serializes them across processes on one database.
static REFRESH: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The lease a population refresh holds while it runs (see [`crate::lease`]): two refreshes of
/// one database, by one `patron serve` or by several, run one after the other.
pub const REFRESH_LEASE: &str = "value_refresh";

/// Today on the server's clock (UTC): the as-of date of a refresh without an explicit one.
pub fn today() -> NaiveDate {
    patron_domain::order::today()
}

/// The analysis options of a refresh as of `as_of`: the calibration period ends on the as-of
/// date unless `opts` names an earlier end (a stored or explicit end after it is refused, so
/// that no refresh analyses a window other than the one it says).
fn options_as_of(
    opts: &AnalysisOptions,
    as_of: NaiveDate,
) -> Result<AnalysisOptions, RefreshError> {
    if as_of > patron_domain::order::latest_order_date(today()) {
        return Err(RefreshError::AsOfInFuture(as_of));
    }
    let end = day_of(as_of).ok_or(RefreshError::BadDate(as_of))?;
    let mut o = opts.clone();
    for (field, day) in [
        ("calibration_end", o.calibration_end),
        ("holdout_end", o.holdout_end),
    ] {
        if let Some(d) = day.filter(|d| *d > end) {
            return Err(RefreshError::AfterAsOf {
                field,
                date: date_of(d),
                as_of,
            });
        }
    }
    o.calibration_end.get_or_insert(end);
    Ok(o)
}

/// Recomputes every customer's value figures from the stored order lines dated up to `as_of`
/// (orders after it are left out, so that a wrongly dated order cannot move the analysis
/// window) with `opts` (calibration end: the as-of date unless `opts` names an earlier one),
/// scores each customer with the default weighted value-score model (profile fields plus
/// figures, see [`score_attributes`]), and replaces the stored figures and population report
/// in one transaction. The snapshot records the as-of date (its options' and report's
/// `as_of`). Returns the new snapshot.
pub async fn refresh(
    store: &Store,
    opts: &AnalysisOptions,
    as_of: NaiveDate,
) -> Result<ValueSnapshot, RefreshError> {
    let opts = options_as_of(opts, as_of)?;
    let _one_at_a_time = REFRESH.lock().await;
    let lease = crate::lease::Lease::acquire(store, REFRESH_LEASE).await?;
    let started = std::time::Instant::now();
    // `PATRON_LOG=debug` shows where the time of a refresh goes.
    let mut last = started;
    let mut lap = move |stage: &str| {
        let now = std::time::Instant::now();
        tracing::debug!(stage, seconds = (now - last).as_secs_f64(), "refresh stage");
        last = now;
    };
    let (lines, ids) = dense_orders_of(store, as_of).await?;
    lap("read order lines");
    let recorded = recorded_costs_of(store, &ids, as_of).await?;
    let read_seconds = started.elapsed().as_secs_f64();
    let computed_at = Utc::now().trunc_subsecs(6);
    // The analysis is CPU work: keep it off the async workers, and read the profiles while it
    // runs.
    let analysis = tokio::task::spawn_blocking(move || {
        let t = std::time::Instant::now();
        let an = patron_value::analyze_with_costs(&lines, ids.len(), &opts, recorded)?;
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), "refresh analysis");
        // The dashboard's figures over all order lines and value rows, computed here once
        // rather than by the first view of each snapshot (about 11 s at 1 million customers):
        // the period comparisons first, with the classes the rows will store, so that the
        // lines are freed before the rows take their memory.
        let periods = crate::period::compute_all_dense(&lines, |k| {
            let abc = match an.abc_class(k) {
                AbcClass::A => "A",
                AbcClass::B => "B",
                AbcClass::C => "C",
            };
            (abc, an.rfm_score(k).map_or("-", |r| r.segment.code()))
        });
        drop(lines);
        tracing::debug!(
            seconds = t.elapsed().as_secs_f64(),
            "refresh period figures"
        );
        let rows = rows_of(&an, &ids, computed_at);
        tracing::debug!(seconds = t.elapsed().as_secs_f64(), "refresh rows built");
        let dashboard = crate::dashboard::SnapshotFigures::of_periods(
            periods,
            &rows,
            &deciles(rows.iter().filter_map(|r| r.clv).collect()),
        );
        Ok::<_, RefreshError>((an, ids, rows, dashboard))
    });
    let profiles = store.live_score_profiles().await;
    lap("read profiles (during the analysis)");
    let (an, ids, mut rows, mut dashboard) = analysis
        .await
        .map_err(|e| RefreshError::Internal(e.to_string()))??;
    let (live_ids, read_profiles) = profiles?;
    let analysed = started.elapsed().as_secs_f64();
    lap("analysis, rows and dashboard figures");
    // The counts the dashboard's first view of this snapshot shows (the live customers).
    dashboard.customers = Some(live_ids.len() as u64);
    // Advocates: buyers named as referrer by a live customer, stored as their stage before
    // scoring (the score's loyalty attribute); the funnel shows the stored count, so the
    // funnel, the card and the list filter `stage=advocate` agree.
    let referrals: HashMap<i64, i64> = store.referral_counts().await?.into_iter().collect();
    promote_advocates(&mut rows, &referrals);
    let model = current_score_model(store).await?;
    let profiles = LiveProfiles::new(&live_ids, &read_profiles);
    score_rows(&mut rows, &profiles, &model);
    // Customers without orders up to the as-of date: graded by the attribute part (rows after
    // the analysed customers', so `rows[k]` stays customer `k` of the analysis).
    let prospects = prospect_rows(&an, &ids, &profiles, &model, computed_at);
    drop(profiles);
    drop((live_ids, read_profiles, referrals));
    rows.reserve_exact(prospects.len());
    rows.extend(prospects);
    dashboard.advocates = Some(
        rows.iter()
            .filter(|r| r.loyalty_stage.as_deref() == Some(ADVOCATE))
            .count() as u64,
    );
    let archived = store.archived_ids().await?;
    let mut names = HashMap::new();
    for w in an
        .churn
        .iter()
        .filter(|w| !archived.contains(&ids[w.customer as usize]))
        .take(REPORT_CHURN_TOP)
    {
        let id = ids[w.customer as usize];
        if let Ok(c) = store.customer(id).await {
            names.insert(id, (c.data.number.unwrap_or_default(), c.data.name));
        }
    }
    // What one customer's figures are recomputed with until the next refresh (ABC ties broken
    // by customer id: the analysis numbers customers in ascending id order).
    let mut live = patron_value::live::LiveParams::of(&an);
    live.map_keys(|k| ids.get(k as usize).copied().unwrap_or(k));
    lap("scoring");
    let mut report = report_of(&an, as_of, &ids, &rows, &names, &archived);
    let scored = started.elapsed().as_secs_f64();
    // Timings of the whole refresh (the write's own time is known only after it).
    report.dashboard = Some(dashboard);
    report.live = Some(live);
    report.refresh_seconds = Some(crate::report::RefreshSeconds {
        read: read_seconds,
        analyse: analysed - read_seconds,
        score: scored - analysed,
    });
    let report = serde_json::to_value(&report)
        .map_err(|e| RefreshError::Internal(format!("the report does not serialize: {e}")))?;
    let snapshot = NewSnapshot {
        computed_at,
        options: options_json(&an.options, as_of),
        report,
    };
    // Only the rows and the snapshot are written: free the rest first.
    drop((an, ids, names, archived));
    lap("report");
    let stored = store.replace_customer_values(&rows, &snapshot).await?;
    lap("write");
    // Customers changed while this refresh ran: their rows were read before the change (their
    // live figures are as of today: a refresh as of another day leaves them to the next one).
    // (Noted by any process: see [`recompute_after_change`].)
    let changed = store.take_changes_noted().await.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "reading the customers changed during the refresh failed");
        Vec::new()
    });
    lease.release().await;
    if as_of == today() {
        recompute_each(store, &changed).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    tracing::info!(customers = rows.len(), seconds, "customer values refreshed");
    // For `/metrics` (no-ops unless the binary installed a recorder).
    metrics::histogram!("patron_value_refresh_duration_seconds").record(seconds);
    metrics::gauge!("patron_value_refresh_customers").set(rows.len() as f64);
    Ok(stored)
}

/// The score model saved in the web editor (score_models), else the built-in one.
async fn current_score_model(store: &Store) -> Result<ScoreModel, StoreError> {
    Ok(match store.current_score_model().await? {
        Some(m) => ScoreModel::from_toml(&m.toml).unwrap_or_else(|_| ScoreModel::default_model()),
        None => ScoreModel::default_model(),
    })
}

/// What [`recompute_customer`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recomputed {
    /// The customer's new figures, as stored.
    Row(Box<CustomerValueRow>),
    /// No refresh ran yet (or its report is of another version): there is nothing to judge
    /// the customer by, nothing was stored.
    NoSnapshot,
    /// The customer is no longer live (merged into another, or deleted): its figures were
    /// removed.
    Removed,
    /// The latest snapshot analysed a calibration window that ends before its as-of date (a
    /// holdout study): one customer is not judged as of today against it, nothing was stored
    /// (the next refresh recomputes everyone).
    Windowed,
}

/// Recomputes one customer's value figures as of today from its order lines up to today, by
/// the fitted models and population boundaries of the latest snapshot (no refit, no ranking of
/// anyone else; see [`patron_value::live`]): frequency, recency, T, monetary value, revenue,
/// cost and margin; P(alive), expected purchases, expected spend and CLV; RFM scores and
/// segment against the snapshot's quintile boundaries; ABC class against its class ends; churn
/// warning and reasons (the one-time buyers' typical gap of the snapshot); loyalty stage
/// (advocates included), lifecycle phase; score and grade (a customer without orders: the
/// attribute part's, as a prospect). A customer whose orders did not change gets exactly the
/// row the refresh stored (as long as the refresh ran as of today). A snapshot stored before
/// the boundaries were kept leaves the customer's stored RFM scores, ABC class and one-time
/// churn reason as they were and recomputes the rest. Stores the row (the snapshot itself is
/// left as it is) and answers it.
pub async fn recompute_customer(
    store: &Store,
    customer_id: i64,
) -> Result<Recomputed, RefreshError> {
    let Some((snapshot_id, options, live)) = store.latest_snapshot_field("live").await? else {
        return Ok(Recomputed::NoSnapshot);
    };
    let date = |k: &str| {
        options
            .get(k)
            .and_then(|v| v.as_str()?.parse::<NaiveDate>().ok())
    };
    if let (Some(end), Some(as_of)) = (date("calibration_end"), date("as_of")) {
        if end < as_of {
            return Ok(Recomputed::Windowed);
        }
    }
    let params = match live.and_then(|v| serde_json::from_value::<LiveParams>(v).ok()) {
        Some(p) => p,
        None => {
            let report = store
                .snapshot(snapshot_id)
                .await?
                .as_ref()
                .and_then(crate::report::SnapshotReport::of);
            match report.and_then(|r| live_params_of_old(&r, &options)) {
                Some(p) => p,
                None => return Ok(Recomputed::NoSnapshot),
            }
        }
    };
    let Some(profile) = store.score_profile(customer_id).await? else {
        store.delete_customer_value(customer_id).await?;
        return Ok(Recomputed::Removed);
    };
    let as_of = today();
    let lines: Vec<OrderLine> = store
        .customer_order_days(customer_id, as_of)
        .await?
        .into_iter()
        .map(|(day, amount_cents, cost_cents)| OrderLine {
            customer: 0,
            day,
            revenue: amount_cents as f64 / 100.0,
            cost: cost_cents as f64 / 100.0,
        })
        .collect();
    let computed_at = Utc::now().trunc_subsecs(6);
    let unit = name(&params.options.unit);
    let model = current_score_model(store).await?;
    let row = if lines.is_empty() {
        prospect_row(
            &profile,
            model.attribute_part().as_ref(),
            &unit,
            as_of,
            computed_at,
        )
    } else {
        let day = day_of(as_of).ok_or(RefreshError::BadDate(as_of))?;
        let records: Vec<(Day, f64)> = store
            .customer_marketing_cost_days(customer_id, as_of)
            .await?
            .into_iter()
            .map(|(d, cents)| (d, cents as f64 / 100.0))
            .collect();
        let figures = patron_value::live::customer_figures_with_costs(
            &params,
            &lines,
            day,
            customer_id,
            (!records.is_empty()).then_some(&records[..]),
        )?;
        let mut row = row_of(&figures, customer_id, &unit, as_of, computed_at);
        if params.breakpoints.is_none() {
            if let Some(old) = store.customer_value(customer_id).await? {
                keep_relative_figures(&mut row, &old);
            }
        }
        let referrals = store.referrals_of(customer_id).await?;
        promote_advocate(
            &mut row,
            referrals,
            &patron_value::loyalty::LoyaltyConfig::default(),
        );
        (row.score, row.grade) = score_row(&model, &model, &profile, &row);
        row
    };
    store.upsert_customer_value(&row).await?;
    Ok(Recomputed::Row(Box::new(row)))
}

/// [`recompute_customer`] of each customer after a change to them committed, for the use cases
/// (orders, payments, interactions, surveys, merges, new customers): a failure is logged, never
/// answered (the change stands; the next population refresh recomputes everyone). While a
/// population refresh runs, the customers are also noted, and the refresh recomputes them once
/// its rows (read before the change) are written.
pub async fn recompute_after_change(store: &Store, ids: &[i64]) {
    // A refresh of this database runs (in this process or another): note the customers in the
    // database for it.
    let noted = match store.lease_held(REFRESH_LEASE).await {
        Ok(true) => store.note_change_during_lease(REFRESH_LEASE, ids).await,
        Ok(false) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = noted {
        tracing::warn!(error = %e, "noting the customers changed during a refresh failed");
    }
    recompute_each(store, ids).await;
}

async fn recompute_each(store: &Store, ids: &[i64]) {
    for &id in ids {
        if let Err(e) = recompute_customer(store, id).await {
            tracing::warn!(customer = id, error = %e, "recomputing the customer's value figures failed");
        }
    }
}

/// Why a customer's stored figures carry no CLV (see [`clv_missing`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClvMissing {
    /// `no_orders` (no purchase yet), `not_enough_history` (too little purchase history in
    /// the population for a purchase model), `no_model` (no purchase model fitted) or
    /// `gamma_gamma_failed` (the spend model failed).
    pub code: &'static str,
    /// The snapshot's reason in words (English), when it gives one.
    pub reason: Option<String>,
}

/// Why `row` has no CLV, from its own figures and the latest snapshot's facts
/// (`not_enough_history`, `model_error`, the model's `gamma_gamma_error`); `None` when it has
/// one.
pub async fn clv_missing(
    store: &Store,
    row: &CustomerValueRow,
) -> Result<Option<ClvMissing>, StoreError> {
    if row.clv.is_some() {
        return Ok(None);
    }
    let missing = |code, reason: Option<String>| Ok(Some(ClvMissing { code, reason }));
    if row.orders == 0 || row.frequency.is_none() {
        return missing("no_orders", None);
    }
    let field = |name: &'static str| async move {
        Ok::<_, StoreError>(store.latest_snapshot_field(name).await?.and_then(|s| s.2))
    };
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    if let Some(n) = field("not_enough_history").await?.filter(|v| !v.is_null()) {
        return missing("not_enough_history", text(n.get("reason")));
    }
    match field("model").await?.filter(|v| !v.is_null()) {
        None => {
            let error = field("model_error").await?;
            missing("no_model", text(error.as_ref()))
        }
        Some(m) => match text(m.get("gamma_gamma_error")) {
            Some(e) => missing("gamma_gamma_failed", Some(e)),
            None => missing("no_model", None),
        },
    }
}

/// Refreshes the population in the background, as of today with the settings of the last
/// snapshot ([`refresh_like_last_time`]): after an import through the web or the API (imports
/// touch any number of customers; one refresh judges them all). A failure is logged; a
/// database without orders has nothing to refresh.
pub fn refresh_in_background(store: &Store) {
    let store = store.clone();
    tokio::spawn(async move {
        match refresh_like_last_time(&store).await {
            Ok(s) => tracing::info!(snapshot = s.id, "value figures refreshed after an import"),
            Err(RefreshError::Analysis(AnalysisError::NoOrders)) => {}
            Err(e) => tracing::warn!(error = %e, "the value refresh after an import failed"),
        }
    });
}

/// A snapshot stored before the live parameters were kept: its models and CLV settings from
/// the report, no population boundaries (`None` when the report lacks them).
fn live_params_of_old(r: &crate::report::SnapshotReport, options: &Value) -> Option<LiveParams> {
    let mut opts = serde_json::from_value::<RefreshOptions>(options.clone())
        .ok()?
        .analysis_options()
        .ok()?;
    let horizon = r.clv.horizon?;
    let margin_ratio = r.clv.margin_ratio?;
    opts.horizon = Some(horizon);
    opts.margin = Some(margin_ratio);
    let clv = patron_value::models::clv::ClvOptions {
        steps: r.clv.steps.max(1),
        step_length: horizon / f64::from(r.clv.steps.max(1)),
        discount_rate: r.clv.discount_rate_per_step?,
        margin_ratio,
    };
    let (purchase, spend) = match &r.model {
        None => (None, None),
        Some(m) => {
            let mut params: serde_json::Map<String, Value> = m
                .params
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            params.insert("model".into(), json!(m.kind));
            let purchase = serde_json::from_value(Value::Object(params)).ok()?;
            let spend = m.gamma_gamma.as_ref().and_then(|g| {
                serde_json::from_value(json!({"p": g.p?, "q": g.q?, "gamma": g.gamma?})).ok()
            });
            (Some(purchase), spend)
        }
    };
    Some(LiveParams {
        horizon_marketing_cost: patron_value::analysis::horizon_marketing_cost(
            opts.marketing_cost,
            opts.unit,
            &clv,
        ),
        options: opts,
        clv,
        purchase,
        spend,
        breakpoints: None,
    })
}

/// Without population boundaries: the stored RFM scores, ABC class and one-time buyer reason
/// (while the customer still is one) stay as the last refresh judged them.
fn keep_relative_figures(row: &mut CustomerValueRow, old: &CustomerValueRow) {
    row.rfm_r = old.rfm_r;
    row.rfm_f = old.rfm_f;
    row.rfm_m = old.rfm_m;
    row.rfm_segment = old.rfm_segment.clone();
    row.abc_class = old.abc_class.clone();
    let one_time = row.frequency == Some(0.0);
    if let Some(r) = old
        .churn_reasons
        .iter()
        .find(|r| one_time && r.kind() == "no_second_purchase")
    {
        let at = row
            .churn_reasons
            .iter()
            .position(|x| x.kind() == "low_p_alive")
            .unwrap_or(row.churn_reasons.len());
        row.churn_reasons.insert(at, r.clone());
        if !row.churn_risk {
            row.churn_risk = true;
            row.value_at_risk = old.value_at_risk;
        }
    }
}

/// Analysis options from the API's or CLI's plain values.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshOptions {
    /// The day the analysis looks from (default: today on the server's clock): orders dated
    /// after it are left out, and the calibration period ends on it unless `calibration_end`
    /// names an earlier day.
    pub as_of: Option<NaiveDate>,
    /// `day` (default) or `week`.
    pub unit: Option<TimeUnit>,
    /// Last day of the calibration period (default: the as-of date).
    pub calibration_end: Option<NaiveDate>,
    /// Last day of a holdout period after the calibration end.
    pub holdout_end: Option<NaiveDate>,
    /// `auto` (default: chosen by holdout among BG/NBD, MBG/NBD and Pareto/NBD, see
    /// [`patron_value::analysis::MODEL_CHOICE_RULE`]), or a pinned `bgnbd`, `mbgnbd` or
    /// `paretonbd` (no comparison).
    pub model: Option<patron_value::analysis::ModelChoice>,
    /// CLV horizon in units (default one year).
    pub horizon: Option<f64>,
    /// Annual discount rate (default 0.10).
    pub discount_rate: Option<f64>,
    /// Margin ratio of the CLV (default: the data's own).
    pub margin: Option<f64>,
    /// Relationship-marketing cost per customer per year (default 0).
    pub marketing_cost: Option<f64>,
}

impl RefreshOptions {
    /// The as-of date: the explicit one, else today.
    pub fn as_of(&self) -> NaiveDate {
        self.as_of.unwrap_or_else(today)
    }

    /// The analysis options; `Err(field)` names a date out of range.
    pub fn analysis_options(&self) -> Result<AnalysisOptions, &'static str> {
        let mut o = AnalysisOptions::default();
        if let Some(u) = self.unit {
            o.unit = u;
        }
        if let Some(d) = self.as_of {
            day_of(d).ok_or("as_of")?;
        }
        if let Some(d) = self.calibration_end {
            o.calibration_end = Some(day_of(d).ok_or("calibration_end")?);
        }
        if let Some(d) = self.holdout_end {
            o.holdout_end = Some(day_of(d).ok_or("holdout_end")?);
        }
        if let Some(m) = self.model {
            o.model = m;
        }
        o.horizon = self.horizon;
        if let Some(r) = self.discount_rate {
            o.discount_rate = r;
        }
        o.margin = self.margin;
        if let Some(c) = self.marketing_cost {
            o.marketing_cost = c;
        }
        Ok(o)
    }
}

/// Runs the refresh as of today with the settings of the latest snapshot (unit, model,
/// horizon, discount rate, margin, marketing cost; defaults without one): the dashboard's
/// Recompute button and the score-model editor's save. The stored dates (as-of, calibration
/// and holdout ends) are not reused: they describe the window of that snapshot, and reusing
/// them would leave every later order out. Answers the new snapshot.
pub async fn refresh_like_last_time(store: &Store) -> Result<ValueSnapshot, RefreshError> {
    refresh_like_last_time_as_of(store, today()).await
}

/// [`refresh_like_last_time`] as of `as_of` (e.g. a demo data set's last order date).
pub async fn refresh_like_last_time_as_of(
    store: &Store,
    as_of: NaiveDate,
) -> Result<ValueSnapshot, RefreshError> {
    let last = store.latest_snapshot().await?;
    let opts = RefreshOptions {
        as_of: None,
        calibration_end: None,
        holdout_end: None,
        ..last
            .and_then(|s| serde_json::from_value::<RefreshOptions>(s.options).ok())
            .unwrap_or_default()
    };
    let opts = opts
        .analysis_options()
        .map_err(|field| RefreshError::Internal(format!("bad value option {field}")))?;
    refresh(store, &opts, as_of).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for d in [
            "1970-01-01",
            "1997-01-01",
            "1998-06-30",
            "2024-02-29",
            "1969-12-31",
        ] {
            let date: NaiveDate = d.parse().unwrap();
            assert_eq!(date_of(day_of(date).unwrap()), date);
        }
        assert_eq!(day_of("1970-01-02".parse().unwrap()), Some(1));
    }

    /// [`Scorer`] scores like [`score_row`]: varied profiles (every attribute present, blank,
    /// upper case, non-ASCII, numeric and textual satisfaction) and rows (buyers by day and by
    /// week, prospects, negative margins), under the default model, its attribute part, and a
    /// model reading a number as a category, a text as a number and an unknown attribute.
    #[test]
    fn the_scorer_scores_like_the_model() {
        use patron_domain::CustomValue;
        let odd = ScoreModel::from_toml(
            r#"
[grades]
a = 70
b = 50
c = 30
d = 10

[[attribute]]
name = "employees"
weight = 30
kind = "categorical"
default = 5
points = { "12" = 100, "250" = 60, "2.5" = 40 }

[[attribute]]
name = "credit_rating"
weight = 30
kind = "numeric"
default = 7
ranges = [ { max = 2, points = 20 }, { min = 2, points = 90 } ]

[[attribute]]
name = "loyalty"
weight = 20
kind = "categorical"
default = 0
points = { repeat_buyer = 80, advocate = 100, "straße" = 50 }

[[attribute]]
name = "no_such_figure"
weight = 20
kind = "numeric"
default = 33
ranges = [ { points = 100 } ]
"#,
        )
        .unwrap();
        let default = ScoreModel::default_model();
        let part = default.attribute_part().unwrap();
        let texts = [
            None,
            Some(""),
            Some("  "),
            Some("finance"),
            Some(" Finance "),
            Some("STRASSE"),
            Some("Straße"),
            Some("3"),
            Some("retail"),
        ];
        let satisfaction = [
            None,
            Some(CustomValue::Number(4.5)),
            Some(CustomValue::Text(" 2 ".into())),
            Some(CustomValue::Text("good".into())),
            Some(CustomValue::Bool(true)),
        ];
        let mut profiles = Vec::new();
        for (k, t) in texts.iter().enumerate() {
            for (j, sat) in satisfaction.iter().enumerate() {
                let mut custom_fields = BTreeMap::new();
                if let Some(v) = sat {
                    custom_fields.insert("satisfaction".to_string(), v.clone());
                }
                profiles.push(ScoreProfile {
                    id: (k * 10 + j) as i64,
                    industry: t.map(str::to_string),
                    registered_capital_cents: (j % 3 != 0)
                        .then_some([0, 150_000_000, 3_000_000_000, 99_900_000_000][k % 4]),
                    employees: (k % 3 != 1).then_some([12, 250, 3, 5000][j % 4]),
                    credit_rating: texts[(k + j) % texts.len()].map(str::to_string),
                    loyalty: String::new(),
                    custom_fields,
                });
            }
        }
        let computed_at = Utc::now();
        let end: NaiveDate = "2024-06-30".parse().unwrap();
        let stages = [
            None,
            Some("first_time_buyer"),
            Some("repeat_buyer"),
            Some("advocate"),
            Some("straße"),
        ];
        let mut rows = Vec::new();
        for k in 0..40usize {
            let unit = if k % 3 == 0 { "week" } else { "day" };
            let mut r = CustomerValueRow::without_orders(k as i64, computed_at, unit.into(), end);
            if k % 5 != 0 {
                r.orders = 1 + k as i64 % 4;
                r.frequency = Some((k % 7) as f64);
                r.t = (k % 4 != 0).then_some(40.0 * k as f64);
                r.margin_cents = (k as i64 - 10) * 1_234_571;
                r.loyalty_stage = stages[k % stages.len()].map(str::to_string);
            }
            rows.push(r);
        }
        let mut compared = 0;
        for model in [&default, &part, &odd] {
            let scorer = Scorer::new(model);
            for p in &profiles {
                for r in &rows {
                    assert_eq!(
                        scorer.score(p, r),
                        score_row(model, model, p, r),
                        "{p:?} {r:?}"
                    );
                    compared += 1;
                }
            }
        }
        assert_eq!(compared, 3 * 45 * 40);
    }

    /// The names written without serializing are the serde names.
    #[test]
    fn stage_and_phase_names_are_the_serde_names() {
        for s in Stage::ALL {
            assert_eq!(stage_name(s), name(&s));
        }
        for p in [
            Phase::Introduction,
            Phase::Growth,
            Phase::Maturity,
            Phase::Decline,
        ] {
            assert_eq!(phase_name(p), name(&p));
        }
    }

    /// `StoredChurnReason::from` (a reason of the analysis) serializes as the reason with public
    /// fields it replaced did (the API's and the reports' JSON): the kind's serde tag, the sentence, and every figure a JSON number
    /// holds by name (non-finite ones serialize as `null`: left out), as `f64`s in name order.
    #[test]
    fn stored_reasons_match_their_serialized_form() {
        use patron_value::churn::{ChurnReason, ReasonKind};
        let through_json = |r: &ChurnReason| {
            let mut figures = BTreeMap::new();
            let mut kind = String::new();
            if let Ok(Value::Object(o)) = serde_json::to_value(r.kind) {
                for (k, x) in o {
                    match (k.as_str(), x) {
                        ("kind", Value::String(s)) => kind = s,
                        (_, Value::Number(n)) => {
                            if let Some(f) = n.as_f64() {
                                figures.insert(k, f);
                            }
                        }
                        _ => {}
                    }
                }
            }
            // The old struct's derived serialization, field order included.
            #[derive(serde::Serialize)]
            struct Old {
                kind: String,
                detail: String,
                figures: BTreeMap<String, f64>,
            }
            serde_json::to_string(&Old {
                kind,
                detail: r.detail(),
                figures,
            })
            .unwrap()
        };
        let kinds = [
            ReasonKind::RevenueDrop {
                current: 12.5,
                previous: 40.0,
                change: -0.6875,
                period_days: 90,
            },
            ReasonKind::RevenueDrop {
                current: 0.0,
                previous: 0.0,
                change: f64::NAN,
                period_days: 30,
            },
            ReasonKind::LongAbsence {
                days_since_last: 400.0,
                mean_gap_days: 33.3,
                ratio: 12.012,
            },
            ReasonKind::LongAbsence {
                days_since_last: 10.0,
                mean_gap_days: 0.0,
                ratio: f64::INFINITY,
            },
            ReasonKind::LowPAlive {
                p_alive: 0.1234,
                threshold: 0.3,
            },
            ReasonKind::NoSecondPurchase {
                days_since_purchase: 500.0,
                typical_gap_days: 120.0,
                quantile: 0.9,
                repeat_buyers: 1234,
            },
            ReasonKind::NoSecondPurchase {
                days_since_purchase: 500.0,
                typical_gap_days: 365.0,
                quantile: 0.9,
                repeat_buyers: 0,
            },
        ];
        for kind in kinds {
            let r = ChurnReason { kind };
            let stored = StoredChurnReason::from(r);
            assert_eq!(
                serde_json::to_string(&stored).unwrap(),
                through_json(&r),
                "{kind:?}"
            );
            // And the stored form reads back to the same reason.
            let back: StoredChurnReason =
                serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap();
            assert_eq!(back, stored, "{kind:?}");
        }
    }

    #[test]
    fn deciles_interpolate() {
        let d = deciles((0..=100).map(f64::from).collect());
        assert_eq!(d.len(), 11);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[5], 50.0);
        assert_eq!(d[10], 100.0);
        assert!(deciles(vec![f64::NAN]).is_empty());
    }

    #[test]
    fn the_calibration_ends_on_the_as_of_date_unless_earlier() {
        let as_of: NaiveDate = "2024-06-30".parse().unwrap();
        let day = |s: &str| day_of(s.parse().unwrap()).unwrap();
        let o = options_as_of(&AnalysisOptions::default(), as_of).unwrap();
        assert_eq!(o.calibration_end, Some(day("2024-06-30")));
        let earlier = AnalysisOptions {
            calibration_end: Some(day("2024-03-31")),
            holdout_end: Some(day("2024-06-30")),
            ..AnalysisOptions::default()
        };
        let o = options_as_of(&earlier, as_of).unwrap();
        assert_eq!(o.calibration_end, Some(day("2024-03-31")));
        let later = AnalysisOptions {
            holdout_end: Some(day("2024-07-01")),
            ..earlier
        };
        assert!(matches!(
            options_as_of(&later, as_of),
            Err(RefreshError::AfterAsOf {
                field: "holdout_end",
                ..
            })
        ));
    }

    #[test]
    fn stored_options_of_older_snapshots_still_read() {
        let old = json!({"unit": "week", "calibration_end": "1998-06-30", "holdout_end": null,
            "model": "bgnbd", "horizon": null, "discount_rate": 0.1, "margin": null,
            "marketing_cost": 0.0});
        let o: RefreshOptions = serde_json::from_value(old).unwrap();
        assert_eq!(o.as_of, None);
        assert_eq!(o.unit, Some(TimeUnit::Week));
    }
}
