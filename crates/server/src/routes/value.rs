//! Customer value: recompute the stored figures, the population report, one customer's figures.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::{FieldError, Money};
use patron_store::{CustomerValueRow, ValueSnapshot};
use patron_value::score::ScoreModel;
use patron_value::AnalysisError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJsonOrEmpty, ApiPath, ApiQuery};
use crate::value::{self, RefreshError, RefreshOptions, REPORT_CHURN_TOP};
use crate::AppState;

impl From<RefreshError> for ApiError {
    fn from(e: RefreshError) -> Self {
        let field = |f: &str, m: String| ApiError::validation(vec![FieldError::new(f, m)]);
        match e {
            RefreshError::Store(s) => s.into(),
            RefreshError::Analysis(a) => match a {
                AnalysisError::NoOrders => ApiError::new(
                    StatusCode::CONFLICT,
                    "no_orders",
                    "there are no order lines to analyse yet: record or import orders first",
                ),
                AnalysisError::CalibrationBeforeFirstOrder { first_order, .. } => field(
                    "calibration_end",
                    format!(
                        "lies before the first order ({})",
                        value::date_of(first_order)
                    ),
                ),
                AnalysisError::HoldoutNotAfterCalibration {
                    calibration_end, ..
                } => field(
                    "holdout_end",
                    format!(
                        "must come after the calibration end ({})",
                        value::date_of(calibration_end)
                    ),
                ),
                AnalysisError::BadMarketingCost(_) => {
                    field("marketing_cost", "must be a non-negative number".into())
                }
                AnalysisError::BadHorizon(_) => field(
                    "horizon",
                    "must be a positive number of units (days or weeks)".into(),
                ),
                AnalysisError::BadDiscountRate(_) => field(
                    "discount_rate",
                    "must be a number above -1 (0.10 = 10% a year)".into(),
                ),
                AnalysisError::BadMargin(_) => {
                    field("margin", "must be a finite ratio (e.g. 0.3)".into())
                }
                other => {
                    tracing::error!(error = %other, "value refresh failed");
                    ApiError::internal()
                }
            },
            RefreshError::AsOfInFuture(d) => field(
                "as_of",
                format!("{d} lies in the future (today is {})", value::today()),
            ),
            RefreshError::AfterAsOf {
                field: f, as_of, ..
            } => field(
                f,
                format!(
                    "must not lie after the as-of date ({as_of}): orders after it are not analysed"
                ),
            ),
            other @ (RefreshError::BadDate(_) | RefreshError::Internal(_)) => {
                tracing::error!(error = %other, "value refresh failed");
                ApiError::internal()
            }
        }
    }
}

fn not_computed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_computed", message)
}

/// A snapshot as the API shows it: id, time, options, and the report's figures.
fn report_body(s: ValueSnapshot, top: usize) -> Result<Value, ApiError> {
    let Some(mut report) = patron_app::report::SnapshotReport::of(&s) else {
        return Err(not_computed(
            "the stored value figures were computed by an older version: POST /api/value/refresh",
        ));
    };
    // The web dashboard's own figures (period comparisons, CLV histogram bins) are not part of
    // the API's report.
    report.dashboard = None;
    report.live = None;
    report.churn.top.truncate(top);
    let mut body = match serde_json::to_value(&report) {
        Ok(Value::Object(m)) => m,
        _ => return Err(ApiError::internal()),
    };
    body.insert("snapshot_id".into(), json!(s.id));
    body.insert("computed_at".into(), json!(s.computed_at));
    let mut options = s.options;
    if let Value::Object(o) = &mut options {
        // Snapshots stored before refreshes recorded their as-of date.
        o.entry("as_of").or_insert(Value::Null);
    }
    body.insert("options".into(), options);
    Ok(Value::Object(body))
}

/// A customer's stored figures as the API shows them (money in currency units).
pub fn value_body(r: &CustomerValueRow) -> Value {
    json!({
        "customer_id": r.customer_id,
        "computed_at": r.computed_at,
        "unit": r.unit,
        "calibration_end": r.calibration_end,
        "frequency": r.frequency,
        "recency": r.recency,
        "T": r.t,
        "monetary_value": r.monetary_value,
        "orders": r.orders,
        "revenue": Money(r.revenue_cents),
        "cost": Money(r.cost_cents),
        "margin": Money(r.margin_cents),
        "rfm_r": r.rfm_r,
        "rfm_f": r.rfm_f,
        "rfm_m": r.rfm_m,
        "rfm_segment": r.rfm_segment,
        "abc_class": r.abc_class,
        "p_alive": r.p_alive,
        "expected_purchases": r.expected_purchases,
        "expected_spend": r.expected_spend,
        "clv": r.clv,
        "loyalty_stage": r.loyalty_stage,
        "lifecycle_phase": r.lifecycle_phase,
        "churn_risk": r.churn_risk,
        "value_at_risk": r.value_at_risk,
        "churn_reasons": r.churn_reasons,
        "score": r.score,
        "grade": r.grade,
    })
}

/// The longest CLV horizon a refresh computes (its cost grows with the horizon's steps).
pub const MAX_HORIZON: f64 = 3650.0;

pub async fn refresh(
    State(state): State<AppState>,
    me: Me,
    ApiJsonOrEmpty(body): ApiJsonOrEmpty<RefreshOptions>,
) -> Result<Response, ApiError> {
    if body.horizon.is_some_and(|h| h > MAX_HORIZON) {
        return Err(ApiError::validation(vec![FieldError::new(
            "horizon",
            format!("is at most {MAX_HORIZON} units (ten years of days)"),
        )]));
    }
    let opts = body.analysis_options().map_err(|f| {
        ApiError::validation(vec![FieldError::new(
            f,
            "is out of the supported date range",
        )])
    })?;
    // As of today on the server's clock unless the caller names the day.
    let snapshot = value::refresh(&state.store, &opts, body.as_of()).await?;
    let body = report_body(snapshot, REPORT_CHURN_TOP)?;
    Ok(Json(for_caller(&state, &me, body).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    top: Option<i64>,
}

pub async fn report(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> Result<Response, ApiError> {
    let top = match q.top {
        None => 20,
        Some(n @ 0..=100) => n as usize,
        Some(n) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("bad query parameter 'top': {n} is out of range (0-100)"),
            )
            .with_field("top"))
        }
    };
    let s = state.store.latest_snapshot().await?.ok_or_else(|| {
        not_computed("no customer values computed yet: POST /api/value/refresh first")
    })?;
    let body = report_body(s, top)?;
    Ok(Json(for_caller(&state, &me, body).await?).into_response())
}

/// The population report as the caller may see it: the churn risks it lists are only the
/// caller's visible customers, and without name or number for those who see no records
/// (analysts get the figures, never who they are about).
async fn for_caller(state: &AppState, me: &Me, mut body: Value) -> Result<Value, ApiError> {
    if me.visible.is_all() && me.user.sees_records() {
        return Ok(body);
    }
    if let Some(Value::Array(list)) = body.get_mut("churn").and_then(|c| c.get_mut("top")) {
        if !me.user.sees_records() {
            for item in list.iter_mut() {
                item["name"] = json!("");
                item["number"] = json!("");
                item["customer_id"] = Value::Null;
            }
        } else {
            let ids: Vec<i64> = list
                .iter()
                .filter_map(|i| i["customer_id"].as_i64())
                .collect();
            let readable = me.readable(&state.store, &ids).await?;
            list.retain(|i| {
                i["customer_id"]
                    .as_i64()
                    .is_some_and(|id| readable.contains(&id))
            });
        }
    }
    Ok(body)
}

pub async fn customer_value(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    me.audit(&state.store, "view", Some(id), Some("value"), None)
        .await?;
    let customer = state.store.customer(id).await?;
    let row = state.store.customer_value(id).await?.ok_or_else(|| {
        not_computed(format!(
            "no value figures for customer {id}: it had no orders at the last refresh, or none ran yet (POST /api/value/refresh)"
        ))
    })?;
    let mut body = value_body(&row);
    // Why there is no CLV, in words.
    body["clv_missing"] =
        serde_json::to_value(value::clv_missing(&state.store, &row).await?).unwrap_or(Value::Null);
    // The score's explanation, from the profile as it is now and the stored figures.
    let profile = patron_store::ScoreProfile {
        id,
        industry: customer.data.industry.clone(),
        registered_capital_cents: customer.data.registered_capital.map(Money::cents),
        employees: customer.data.employees,
        credit_rating: customer.data.credit_rating.clone(),
        loyalty: customer.data.loyalty.as_str().to_string(),
        custom_fields: customer.data.custom_fields.clone(),
    };
    let scored = value::score(&ScoreModel::default_model(), &profile, &row);
    body["score_explanation"] = serde_json::to_value(&scored.explanation).unwrap_or(Value::Null);
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakdownQuery {
    by: Option<String>,
    period: Option<String>,
}

/// `GET /api/value/breakdown?by=region|industry|category|owner[&period=quarter]`.
pub async fn breakdown(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<BreakdownQuery>,
) -> Result<Response, ApiError> {
    use patron_app::breakdown::{breakdown, Dimension};
    let bad = |field: &str, v: &str, allowed: &str| {
        ApiError::bad_request(
            "bad_query",
            format!("bad query parameter '{field}': '{v}' is not one of {allowed}"),
        )
        .with_field(field)
    };
    let by = match q.by.as_deref() {
        None => {
            return Err(ApiError::bad_request(
                "bad_query",
                "missing query parameter 'by' (region, industry, category or owner)",
            )
            .with_field("by"))
        }
        Some(s) => {
            Dimension::parse(s).ok_or_else(|| bad("by", s, "region, industry, category, owner"))?
        }
    };
    let period = match q.period.as_deref() {
        None => patron_app::period::Period::Quarter,
        Some(s) => patron_app::period::Period::parse(s)
            .ok_or_else(|| bad("period", s, "month, quarter, half, year"))?,
    };
    let out = breakdown(&state.store, &me, by, period).await?;
    Ok(Json(out).into_response())
}

/// `GET /api/customers/{id}/marketing-costs`: the customer's recorded marketing costs.
pub async fn marketing_costs(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let out = patron_app::marketing::costs_of(&state.store, &me, id).await?;
    Ok(Json(out).into_response())
}

/// `POST /api/customers/{id}/marketing-costs`: records a visit, gift, event or other cost.
pub async fn record_marketing_cost(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    crate::extract::ApiJson(input): crate::extract::ApiJson<patron_store::MarketingCostInput>,
) -> Result<Response, ApiError> {
    let out = patron_app::marketing::record_cost(&state.store, &me, id, input).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `POST /api/campaigns/{id}/allocate-cost`: the campaign's cost split evenly over the
/// customers it reached.
pub async fn allocate_campaign_cost(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let out = patron_app::marketing::allocate_campaign(&state.store, &me, id).await?;
    Ok(Json(out).into_response())
}

impl crate::extract::JsonBody for patron_store::MarketingCostInput {}
