//! Customers: CRUD, list/search, change history, duplicates and merge.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::{Customer, CustomerInput, CustomerPatch, CustomerStatus, FieldError};
use patron_store::{CustomerFilter, CustomerSort, StoreError};
use serde::Deserialize;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::{page, row_limit, ABC_CLASSES, GRADES, LOYALTY_STAGES, RFM_SEGMENTS};
use crate::{AppState, BY};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    status: Option<CustomerStatus>,
    owner_id: Option<i64>,
    region: Option<String>,
    industry: Option<String>,
    source: Option<String>,
    tag: Option<String>,
    q: Option<String>,
    #[serde(default)]
    exclude_opted_out: bool,
    abc: Option<String>,
    rfm_segment: Option<String>,
    grade: Option<String>,
    loyalty_stage: Option<String>,
    churn_risk: Option<bool>,
    #[serde(default)]
    sort: CustomerSort,
    limit: Option<i64>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitQuery {
    limit: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatchQuery {
    expected_version: Option<i64>,
}

/// Body of `POST /api/customers/{id}/merge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeRequest {
    /// The customer merged into the one in the path (it is then marked as merged).
    pub drop: i64,
}

/// A customer with its version as the `ETag`.
fn with_etag(status: StatusCode, c: Customer) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", c.version)).expect("digits");
    let location = HeaderValue::from_str(&format!("/api/customers/{}", c.id)).expect("ascii path");
    let mut resp = (status, Json(c)).into_response();
    resp.headers_mut().insert(header::ETAG, etag);
    if status == StatusCode::CREATED {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    resp
}

pub async fn list(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Response, ApiError> {
    let filter = CustomerFilter {
        status: q.status,
        owner_id: q.owner_id,
        region: q.region,
        industry: q.industry,
        source: q.source,
        tag: q.tag,
        q: q.q,
        exclude_opted_out: q.exclude_opted_out,
        abc_class: one_of("abc", q.abc, ABC_CLASSES)?,
        rfm_segment: one_of("rfm_segment", q.rfm_segment, RFM_SEGMENTS)?,
        grade: one_of("grade", q.grade, GRADES)?,
        loyalty_stage: one_of("loyalty_stage", q.loyalty_stage, LOYALTY_STAGES)?,
        churn_risk: q.churn_risk,
    };
    let page = page(q.limit, q.after)?;
    let result = state
        .store
        .list_customers(&filter, q.sort, &page)
        .await
        .map_err(query_error)?;
    Ok(Json(result).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(input): ApiJson<CustomerInput>,
) -> Result<Response, ApiError> {
    let c = state.store.create_customer(input, BY).await?;
    Ok(with_etag(StatusCode::CREATED, c))
}

pub async fn read(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let c = state.store.customer(id).await?;
    let value = state.store.customer_value(id).await?;
    // The stored value figures ride along (null before the customer's first refresh).
    let etag = HeaderValue::from_str(&format!("\"{}\"", c.version)).expect("digits");
    let mut body = serde_json::to_value(&c).map_err(|_| ApiError::internal())?;
    body["value"] = value
        .as_ref()
        .map_or(serde_json::Value::Null, super::value::value_body);
    let mut resp = Json(body).into_response();
    resp.headers_mut().insert(header::ETAG, etag);
    Ok(resp)
}

pub async fn update(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<PatchQuery>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Response, ApiError> {
    let from_header = if_match(&headers)?;
    let expected = match (from_header, q.expected_version) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("If-Match ({a}) and expected_version ({b}) disagree"),
            )
            .with_field("expected_version"))
        }
        (a, b) => a.or(b),
    };
    let c = state
        .store
        .update_customer(id, &patch, expected, BY)
        .await?;
    Ok(with_etag(StatusCode::OK, c))
}

/// The version in `If-Match` (`"3"`, `W/"3"` or `3`); `*` or absent means no check.
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let bad = || {
        ApiError::bad_request(
            "bad_request",
            "If-Match must be the customer's version as sent in its ETag, e.g. \"3\"",
        )
        .with_field("If-Match")
    };
    let s = v.to_str().map_err(|_| bad())?.trim();
    if s == "*" {
        return Ok(None);
    }
    let s = s.strip_prefix("W/").unwrap_or(s).trim_matches('"');
    s.parse::<i64>().map(Some).map_err(|_| bad())
}

pub async fn remove(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_customer(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn history(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    let h = state.store.customer_history(id, limit).await?;
    Ok(Json(h).into_response())
}

pub async fn duplicates_of(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    let d = state.store.duplicates(Some(id), limit).await?;
    Ok(Json(d).into_response())
}

pub async fn all_duplicates(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    let d = state.store.duplicates(None, limit).await?;
    Ok(Json(d).into_response())
}

pub async fn merge(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<Response, ApiError> {
    state.store.customer(id).await?;
    match state.store.customer(req.drop).await {
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::validation(vec![FieldError::new(
                "drop",
                format!("customer {} does not exist", req.drop),
            )]))
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let outcome = state.store.merge_customers(id, req.drop, BY).await?;
    Ok(Json(outcome).into_response())
}

/// Store validation errors about query parameters (a bad `after` cursor, `from` after `to`)
/// are the client's query mistakes: 400 `bad_query` rather than a body validation error.
pub(crate) fn query_error(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(errors) => {
            let first = errors
                .first()
                .cloned()
                .unwrap_or_else(|| FieldError::new("", "invalid query"));
            ApiError::bad_request(
                "bad_query",
                format!("bad query parameter '{}': {}", first.field, first.message),
            )
            .with_field(first.field)
        }
        other => other.into(),
    }
}

/// Checks a query parameter against its documented values.
fn one_of(field: &str, v: Option<String>, allowed: &[&str]) -> Result<Option<String>, ApiError> {
    match v {
        Some(v) if !allowed.contains(&v.as_str()) => Err(ApiError::bad_request(
            "bad_query",
            format!(
                "bad query parameter '{field}': '{v}' is not one of {}",
                allowed.join(", ")
            ),
        )
        .with_field(field)),
        v => Ok(v),
    }
}
