//! Working the customers: credit position, invoices and payments, the ageing report and the
//! approval queue of held orders (managers and admins), service tickets and surveys.
//!
//! Every route about one customer goes through [`Me::guard`] (another user's customer is 404,
//! analysts 403) and writes an audit row; the population routes (ageing, approval queue) are
//! for managers and admins and only show the customers the caller may see.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{NaiveDate, Utc};
use patron_domain::receivable::{InvoiceInput, PaymentInput};
use patron_domain::service::{SurveyInput, TicketInput};
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiJsonOrEmpty, ApiPath, ApiQuery};
use crate::routes::check_date_range;
use crate::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AsOfQuery {
    as_of: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
pub struct TicketPath {
    id: i64,
    ticket_id: i64,
}

fn today(as_of: Option<NaiveDate>) -> Result<NaiveDate, ApiError> {
    check_date_range("as_of", as_of)?;
    Ok(as_of.unwrap_or_else(|| Utc::now().date_naive()))
}

pub async fn credit(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let as_of = today(q.as_of)?;
    me.guard(&state.store, id, false).await?;
    let p = state.store.credit_position(id, as_of).await?;
    me.audit(&state.store, "view", Some(id), Some("credit"), None)
        .await?;
    Ok(Json(p).into_response())
}

pub async fn invoices(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    let v = state.store.invoices(id).await?;
    me.audit(
        &state.store,
        "list",
        Some(id),
        Some("invoices"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

pub async fn create_invoice(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<InvoiceInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let i = state.store.create_invoice(id, input).await?;
    let detail = format!("invoice {} created", i.number);
    me.audit(&state.store, "update", Some(id), Some(&detail), None)
        .await?;
    Ok((StatusCode::CREATED, Json(i)).into_response())
}

pub async fn pay(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<PaymentInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let v = state.store.record_payment(id, input).await?;
    let total: i64 = v.iter().map(|p| p.amount.cents()).sum();
    let detail = format!("payment of {} recorded", patron_domain::Money(total));
    me.audit(
        &state.store,
        "update",
        Some(id),
        Some(&detail),
        Some(v.len() as i64),
    )
    .await?;
    patron_app::value::recompute_after_change(&state.store, &[id]).await;
    Ok((StatusCode::CREATED, Json(v)).into_response())
}

/// The ageing report over the customers the caller sees (total over those only).
pub async fn ageing(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let as_of = today(q.as_of)?;
    let report = patron_app::work::ageing(&state.store, &me, as_of).await?;
    Ok(Json(report).into_response())
}

/// The approval queue: pending held orders of the customers the caller sees, oldest first.
pub async fn holds(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    let out = patron_app::work::credit_holds(&state.store, &me, "pending").await?;
    Ok(Json(out).into_response())
}

/// The optional body of an approval or a rejection.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoldDecision {
    /// Why (shown to the rep who placed the order).
    #[serde(default)]
    pub reason: Option<String>,
}

impl crate::extract::JsonBody for HoldDecision {}

async fn decide(
    state: &AppState,
    me: &Me,
    hold_id: i64,
    approve: bool,
    decision: HoldDecision,
) -> Result<Response, ApiError> {
    let h = patron_app::custody::decide_hold(
        &state.store,
        me,
        hold_id,
        approve,
        decision.reason.as_deref(),
        "",
    )
    .await?;
    Ok(Json(h.hold).into_response())
}

pub async fn approve(
    State(state): State<AppState>,
    me: Me,
    ApiPath(hold_id): ApiPath<i64>,
    ApiJsonOrEmpty(decision): ApiJsonOrEmpty<HoldDecision>,
) -> Result<Response, ApiError> {
    decide(&state, &me, hold_id, true, decision).await
}

pub async fn reject(
    State(state): State<AppState>,
    me: Me,
    ApiPath(hold_id): ApiPath<i64>,
    ApiJsonOrEmpty(decision): ApiJsonOrEmpty<HoldDecision>,
) -> Result<Response, ApiError> {
    decide(&state, &me, hold_id, false, decision).await
}

pub async fn tickets(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    let v = state.store.customer_tickets(id, Utc::now()).await?;
    me.audit(
        &state.store,
        "list",
        Some(id),
        Some("tickets"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

pub async fn open_ticket(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(mut input): ApiJson<TicketInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    // The author is the caller, whatever the body says.
    input.by = Some(me.user.username.clone());
    let audited = me.audited(&state.store, "update", Some(id), "ticket {id} opened");
    let t = audited.open_ticket(id, input, Utc::now()).await?;
    audited.finish_audit().await?;
    Ok((StatusCode::CREATED, Json(t)).into_response())
}

pub async fn resolve_ticket(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<TicketPath>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, true).await?;
    let audited = me.audited(
        &state.store,
        "update",
        Some(p.id),
        format!("ticket {} resolved", p.ticket_id),
    );
    let t = audited
        .resolve_ticket(p.id, p.ticket_id, &me.user.username, None, Utc::now())
        .await?;
    audited.finish_audit().await?;
    patron_app::surveys_mail::after_ticket_resolved(&state.store, p.id, p.ticket_id).await;
    Ok(Json(t).into_response())
}

pub async fn surveys(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    state.store.customer(id).await?;
    let v = state.store.surveys(id).await?;
    me.audit(
        &state.store,
        "list",
        Some(id),
        Some("surveys"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

pub async fn record_survey(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<SurveyInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let audited = me.audited(&state.store, "update", Some(id), "survey {id} recorded");
    let s = audited
        .record_survey(id, input, &me.user.username, Utc::now())
        .await?;
    audited.finish_audit().await?;
    patron_app::value::recompute_after_change(&state.store, &[id]).await;
    Ok((StatusCode::CREATED, Json(s)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketComment {
    pub text: String,
}

pub async fn comment_ticket(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<TicketPath>,
    ApiJson(c): ApiJson<TicketComment>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, true).await?;
    let audited = me.audited(
        &state.store,
        "update",
        Some(p.id),
        format!("ticket {} commented", p.ticket_id),
    );
    let t = audited
        .comment_ticket(p.id, p.ticket_id, &me.user.username, &c.text, Utc::now())
        .await?;
    audited.finish_audit().await?;
    Ok(Json(t).into_response())
}

/// The SLA sweep (admins, managers): escalates every breached open ticket of the customers the
/// caller sees; answers those raised.
pub async fn escalate(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    let raised = patron_app::work::escalate_breached(&state.store, &me, Utc::now()).await?;
    Ok(Json(raised).into_response())
}

/// The overdue list of the customers the caller sees, most overdue first.
pub async fn overdue(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<Response, ApiError> {
    let as_of = today(q.as_of)?;
    let v = patron_app::work::overdue(&state.store, &me, as_of).await?;
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeriodQuery {
    from: NaiveDate,
    to: NaiveDate,
}

/// Sales vs collections per rep over a period, over the customers the caller sees.
pub async fn collections(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    check_date_range("from", Some(q.from))?;
    check_date_range("to", Some(q.to))?;
    let v = patron_app::work::collections(&state.store, &me, q.from, q.to).await?;
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanQuery {
    as_of: Option<NaiveDate>,
    owner_id: Option<i64>,
}

/// The follow-up plan: planned visits and calls by ABC cadence, most overdue first, over the
/// customers the caller sees (a rep: their own).
pub async fn followup_plan(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<PlanQuery>,
) -> Result<Response, ApiError> {
    let as_of = today(q.as_of)?;
    let v = patron_app::work::followup_plan(&state.store, &me, as_of, q.owner_id).await?;
    Ok(Json(v).into_response())
}

/// The one-page brief before a visit.
pub async fn brief(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    let b = state.store.visit_brief(id, Utc::now()).await?;
    let value = b.value.as_ref().map(crate::routes::value::value_body);
    let mut body = serde_json::to_value(&b).map_err(|_| ApiError::internal())?;
    body["value"] = value.unwrap_or(serde_json::Value::Null);
    me.audit(&state.store, "view", Some(id), Some("brief"), None)
        .await?;
    Ok(Json(body).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditLimitRequest {
    /// null: no limit. Required: `{}` is refused rather than read as clearing the limit.
    #[serde(deserialize_with = "required_nullable")]
    pub limit: Option<patron_domain::Money>,
}

/// A nullable field that must still be present (serde lets a missing `Option` field be `None`
/// unless it is read through a function).
pub(crate) fn required_nullable<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d)
}

/// Sets (or clears) a customer's credit limit (admins, managers).
pub async fn set_limit(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreditLimitRequest>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    state
        .store
        .set_credit_limit(id, req.limit, &me.user.username)
        .await?;
    let detail = match req.limit {
        Some(l) => format!("credit limit set to {l}"),
        None => "credit limit cleared".to_string(),
    };
    me.audit(&state.store, "update", Some(id), Some(&detail), None)
        .await?;
    let p = state
        .store
        .credit_position(id, Utc::now().date_naive())
        .await?;
    Ok(Json(p).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnExcessInput {
    Refuse,
    Hold,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditOrderRequest {
    pub order: patron_domain::OrderInput,
    #[serde(default)]
    pub due_days: Option<u32>,
    #[serde(default)]
    pub on_excess: Option<OnExcessInput>,
}

/// Places an order with the credit check and terms: accepted (order and invoice), refused
/// (409 with the figures) or held for a manager's approval.
pub async fn place_order(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<CreditOrderRequest>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    if req.due_days.is_some_and(|d| d > 3650) {
        return Err(patron_store::StoreError::invalid("due_days", "at most 3650 days").into());
    }
    let terms = patron_store::OrderTerms {
        due_days: req.due_days.unwrap_or(30),
        on_excess: match req.on_excess {
            Some(OnExcessInput::Hold) => patron_store::OnExcess::Hold,
            _ => patron_store::OnExcess::Refuse,
        },
        by: me.user.username.clone(),
    };
    let p = state
        .store
        .place_order(id, req.order, &terms)
        .await
        .map_err(|e| match e {
            // The order's own rules name its fields (`lines[0].amount`): here it sits in `order`.
            patron_store::StoreError::Invalid(errors) => patron_store::StoreError::Invalid(
                errors
                    .into_iter()
                    .map(|mut f| {
                        f.field = if f.field.is_empty() {
                            "order".into()
                        } else {
                            format!("order.{}", f.field)
                        };
                        f
                    })
                    .collect(),
            ),
            other => other,
        })?;
    let detail = match &p {
        patron_store::OrderPlacement::Accepted { order, .. }
        | patron_store::OrderPlacement::Plain { order } => {
            format!("order {} created", order.order_ref)
        }
        patron_store::OrderPlacement::Held { hold } => {
            format!("order held for approval (credit hold {})", hold.id)
        }
    };
    me.audit(&state.store, "update", Some(id), Some(&detail), None)
        .await?;
    patron_app::value::recompute_after_change(&state.store, &[id]).await;
    Ok((StatusCode::CREATED, Json(p)).into_response())
}

/// The manager review per rep over a period (admins, managers): the reps (customer owners)
/// the caller sees.
pub async fn review(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    check_date_range("from", Some(q.from))?;
    check_date_range("to", Some(q.to))?;
    let v: Vec<_> = state
        .store
        .rep_review(q.from, q.to, Utc::now())
        .await?
        .into_iter()
        .filter(|r| me.visible.allows(r.owner_id, false))
        .collect();
    me.audit(
        &state.store,
        "list",
        None,
        Some("rep review"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

#[derive(Debug, Deserialize)]
pub struct OpportunityPath {
    id: i64,
    opportunity_id: i64,
}

pub async fn opportunities(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    let v = state.store.customer_opportunities(id).await?;
    me.audit(
        &state.store,
        "list",
        Some(id),
        Some("opportunities"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

pub async fn create_opportunity(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<patron_store::OpportunityInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let audited = me.audited(&state.store, "update", Some(id), "opportunity {id} created");
    let o = audited.create_opportunity(id, input).await?;
    audited.finish_audit().await?;
    Ok((StatusCode::CREATED, Json(o)).into_response())
}

pub async fn change_stage(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<OpportunityPath>,
    ApiJson(change): ApiJson<patron_store::StageChange>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, true).await?;
    let o = state
        .store
        .change_stage(p.id, p.opportunity_id, change)
        .await?;
    let detail = format!("opportunity {} moved to {}", o.id, o.stage);
    me.audit(&state.store, "update", Some(p.id), Some(&detail), None)
        .await?;
    Ok(Json(o).into_response())
}

/// The pipeline and forecast over the opportunities of the customers the caller sees.
pub async fn pipeline(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    let mine = patron_app::work::opportunities(&state.store, &me).await?;
    Ok(Json(patron_store::pipeline(&mine)).into_response())
}

/// Campaigns with their figures (admins, managers, analysts: aggregates only).
pub async fn campaigns(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    let v = state.store.campaigns().await?;
    me.audit(
        &state.store,
        "list",
        None,
        Some("campaigns"),
        Some(v.len() as i64),
    )
    .await?;
    Ok(Json(v).into_response())
}

pub async fn create_campaign(
    State(state): State<AppState>,
    me: Me,
    ApiJson(input): ApiJson<patron_store::CampaignInput>,
) -> Result<Response, ApiError> {
    let c = patron_app::campaigns::create(&state.store, &me, input, &[]).await?;
    Ok((StatusCode::CREATED, Json(c)).into_response())
}
