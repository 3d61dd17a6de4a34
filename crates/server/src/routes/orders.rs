//! Orders: per customer, and the list of all orders.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDate;
use patron_domain::OrderInput;
use patron_store::OrderFilter;
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::customers::query_error;
use crate::routes::{check_date_range, page};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct OrderPath {
    id: i64,
    order_ref: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllOrdersQuery {
    customer_id: Option<i64>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    category: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerOrdersQuery {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
    category: Option<String>,
    limit: Option<i64>,
    after: Option<String>,
}

async fn list(state: &AppState, me: &Me, q: AllOrdersQuery) -> Result<Response, ApiError> {
    check_date_range("from", q.from)?;
    check_date_range("to", q.to)?;
    if let Some(c) = q.customer_id {
        me.guard(&state.store, c, false).await?;
    }
    let filter = OrderFilter {
        customer_id: q.customer_id,
        from: q.from,
        to: q.to,
        category: q.category,
    };
    let page = page(q.limit, q.after)?;
    let result = state
        .store
        .list_visible_orders(&filter, &me.visible, &page)
        .await
        .map_err(query_error)?;
    me.audit(
        &state.store,
        "list",
        filter.customer_id,
        Some("orders"),
        Some(result.items.len() as i64),
    )
    .await?;
    Ok(Json(result).into_response())
}

pub async fn list_all(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<AllOrdersQuery>,
) -> Result<Response, ApiError> {
    list(&state, &me, q).await
}

pub async fn list_for_customer(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CustomerOrdersQuery>,
) -> Result<Response, ApiError> {
    let q = AllOrdersQuery {
        customer_id: Some(id),
        from: q.from,
        to: q.to,
        category: q.category,
        limit: q.limit,
        after: q.after,
    };
    list(&state, &me, q).await
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<Response, ApiError> {
    let o = patron_app::orders::create_order(&state.store, &me, id, input).await?;
    let location = HeaderValue::from_str(&format!(
        "/api/customers/{id}/orders/{}",
        encode_segment(&o.order_ref)
    ))
    .expect("percent-encoded path");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(o)).into_response())
}

pub async fn read(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<OrderPath>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, false).await?;
    let audited = me.audited(
        &state.store,
        "view",
        Some(p.id),
        format!("order {}", p.order_ref),
    );
    let o = audited.order(p.id, &p.order_ref).await?;
    audited.finish_audit().await?;
    Ok(Json(o).into_response())
}

pub async fn replace(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<OrderPath>,
    ApiJson(input): ApiJson<OrderInput>,
) -> Result<Response, ApiError> {
    let o = patron_app::orders::replace_order(&state.store, &me, p.id, &p.order_ref, input).await?;
    Ok(Json(o).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<OrderPath>,
) -> Result<StatusCode, ApiError> {
    patron_app::orders::delete_order(&state.store, &me, p.id, &p.order_ref).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Percent-encodes everything but unreserved characters, for a path segment.
fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
