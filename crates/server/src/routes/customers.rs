//! Customers: CRUD, list/search, change history, duplicates and merge.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::{Customer, CustomerInput, CustomerPatch, CustomerStatus, FieldError};
use patron_store::{CustomerFilter, CustomerSort, PageRequest, StoreError};
use serde::Deserialize;

use crate::auth::{forbidden, Me};
use crate::error::ApiError;
use crate::extract::{parse_query, ApiJson, ApiPath, ApiQuery};
use crate::routes::{page, row_limit, ABC_CLASSES, GRADES, LOYALTY_STAGES, RFM_SEGMENTS};
use crate::AppState;

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
    course: Option<String>,
    transition: Option<String>,
    #[serde(default)]
    archived: bool,
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

/// Body of `POST /api/customers/{id}/purge`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// Why the customer is purged (the audit row keeps it); absent is a 422 naming `reason`.
    #[serde(default)]
    pub reason: Option<String>,
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
    me: Me,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (filter, sort, page) = parse_list_query(raw.as_deref().unwrap_or_default())?;
    let result = patron_app::customers::list_customers(&state.store, &me, &filter, sort, &page)
        .await
        .map_err(|e| match e {
            patron_app::AppError::Store(e) => query_error(e),
            e => e.into(),
        })?;
    me.audit(
        &state.store,
        "list",
        None,
        Some("customers"),
        Some(result.items.len() as i64),
    )
    .await?;
    Ok(Json(result).into_response())
}

/// `GET /api/customers.csv`: the filtered list as CSV under the export rule
/// (`patron_app::exports::check`): refused or needing approval is 403 with the reason; else the
/// whole file (every matching customer the caller sees), produced before it is sent and audited.
pub async fn export_csv(
    State(state): State<AppState>,
    me: Me,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (filter, sort, _) = parse_list_query(raw.as_deref().unwrap_or_default())?;
    let (_, gate) =
        patron_app::exports::check(&state.store, &me, &filter, sort, "customer list (api)")
            .await
            .map_err(|e| match e {
                patron_app::AppError::Store(e) => query_error(e),
                e => e.into(),
            })?;
    if let patron_app::exports::Gate::NeedsApproval(why) = gate {
        return Err(forbidden(format!(
            "{why}: ask for this export with a reason on the web (Customers, Download CSV) and download it once approved"
        )));
    }
    let (file, rows) = patron_app::exports::csv_file(&state.store, &me, &filter, sort).await?;
    let detail = format!("customer list (api) {}", raw.as_deref().unwrap_or_default());
    patron_app::exports::record_export(&state.store, &me, &detail, rows as i64).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"customers.csv\"",
            ),
        ],
        file,
    )
        .into_response())
}

/// The list's query string, checked: the filters, the sort and the page, with the `after`
/// cursor decoded already (a bad one is 400 `bad_query` naming `after`). Pure, so the fuzz
/// target `query_filters` drives it.
pub fn parse_list_query(q: &str) -> Result<(CustomerFilter, CustomerSort, PageRequest), ApiError> {
    let q: ListQuery = parse_query(q)?;
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
        archived: q.archived,
        owned: false,
        course: match one_of("course", q.course, &patron_store::ValueCourse::NAMES)? {
            Some(c) => patron_store::ValueCourse::parse(&c),
            None => None,
        },
        transition: match &q.transition {
            Some(t) => Some(
                patron_app::value_history::parse_transition("transition", t)
                    .map_err(query_error)?,
            ),
            None => None,
        },
    };
    if let Some(after) = &q.after {
        q.sort.decode_cursor(after).map_err(query_error)?;
    }
    Ok((filter, q.sort, page(q.limit, q.after)?))
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiJson(mut input): ApiJson<CustomerInput>,
) -> Result<Response, ApiError> {
    if !me.visible.is_all() {
        // What a rep or manager creates is theirs unless they give it to someone they oversee.
        let owner = *input.owner_id.get_or_insert(me.user.id);
        if !me.visible.allows(Some(owner), true) {
            return Err(forbidden(format!(
                "you may not give a customer to user {owner} (outside your data scope)"
            )));
        }
    }
    // The customer and its audit row are one transaction.
    let audited = state.store.audited(&me.actor, "create", None, None, None);
    let c = audited.create_customer(input, &me.user.username).await?;
    audited.finish_audit().await?;
    // Graded by its attributes at once (a prospect).
    patron_app::value::recompute_after_change(&state.store, &[c.id]).await;
    Ok(with_etag(StatusCode::CREATED, c))
}

pub async fn read(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    // Scope, audit and the unusual-access count: one use case.
    patron_app::customers::open_card(&state.store, &me, id, None).await?;
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
    me: Me,
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
    me.guard(&state.store, id, true).await?;
    let new_owner = patch.get("owner_id").map(|v| v.as_i64());
    if let Some(owner) = new_owner {
        // Giving a customer away (or to the pool) stays within the caller's scope.
        if owner.is_some_and(|o| !me.visible.allows(Some(o), true)) {
            return Err(forbidden(
                "you may not give a customer to a user outside your data scope",
            ));
        }
    }
    let old_owner = state.store.customer_owner(id).await?;
    let mut fields: Vec<&str> = patch.keys().map(String::as_str).collect();
    fields.sort_unstable();
    let audited = me.audited(&state.store, "update", Some(id), fields.join(","));
    let c = audited
        .update_customer(id, &patch, expected, &me.user.username)
        .await?;
    audited.finish_audit().await?;
    if new_owner.is_some() && c.data.owner_id != old_owner {
        let detail = format!(
            "owner {} -> {}",
            old_owner.map_or("pool".into(), |o| o.to_string()),
            c.data.owner_id.map_or("pool".into(), |o| o.to_string())
        );
        me.audit(&state.store, "handover", Some(id), Some(&detail), None)
            .await?;
    }
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

/// `DELETE /api/customers/{id}`: archives the customer (everything kept, restorable).
pub async fn remove(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    patron_app::customers::archive_customer(&state.store, &me, id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/customers/{id}/restore`: back in the lists.
pub async fn restore(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let c = patron_app::customers::restore_customer(&state.store, &me, id, "").await?;
    Ok(with_etag(StatusCode::OK, c))
}

/// `POST /api/customers/{id}/purge`: deleted for good (admins, with a reason, audited).
pub async fn purge(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<PurgeRequest>,
) -> Result<StatusCode, ApiError> {
    patron_app::customers::purge_customer(
        &state.store,
        &me,
        id,
        body.reason.as_deref().unwrap_or_default(),
        "",
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn history(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    me.guard(&state.store, id, false).await?;
    let h = state.store.customer_history(id, limit).await?;
    me.audit(&state.store, "view", Some(id), Some("history"), None)
        .await?;
    Ok(Json(h).into_response())
}

pub async fn duplicates_of(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    me.guard(&state.store, id, false).await?;
    let d = state.store.duplicates(Some(id), limit).await?;
    let d = visible_pairs(&state, &me, d).await?;
    me.audit(&state.store, "view", Some(id), Some("duplicates"), None)
        .await?;
    Ok(Json(d).into_response())
}

pub async fn all_duplicates(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<LimitQuery>,
) -> Result<Response, ApiError> {
    let limit = row_limit(q.limit)?;
    let d = state.store.duplicates(None, limit).await?;
    let d = visible_pairs(&state, &me, d).await?;
    Ok(Json(d).into_response())
}

/// Only the pairs whose two customers the caller sees.
async fn visible_pairs(
    state: &AppState,
    me: &Me,
    pairs: Vec<patron_store::DuplicatePair>,
) -> Result<Vec<patron_store::DuplicatePair>, ApiError> {
    if me.visible.is_all() {
        return Ok(pairs);
    }
    let ids: Vec<i64> = pairs.iter().flat_map(|p| [p.a, p.b]).collect();
    let readable = me.readable(&state.store, &ids).await?;
    Ok(pairs
        .into_iter()
        .filter(|p| readable.contains(&p.a) && readable.contains(&p.b))
        .collect())
}

pub async fn merge(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<MergeRequest>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    let drop = match me
        .guard(&state.store, req.drop, true)
        .await
        .map_err(ApiError::from)
    {
        Err(e) if e.status == StatusCode::NOT_FOUND => {
            Err(StoreError::not_found("customer", req.drop))
        }
        Err(e) => return Err(e),
        Ok(()) => state.store.customer(req.drop).await.map(|_| ()),
    };
    match drop {
        Err(StoreError::NotFound { .. }) => {
            return Err(ApiError::validation(vec![FieldError::new(
                "drop",
                format!("customer {} does not exist", req.drop),
            )]))
        }
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }
    let audited = me.audited(
        &state.store,
        "merge",
        Some(id),
        format!("merged customer {} into {id}", req.drop),
    );
    let outcome = audited
        .merge_customers(id, req.drop, &me.user.username)
        .await?;
    audited.finish_audit().await?;
    // The orders moved to the customer kept; the one dropped has no figures any more.
    patron_app::value::recompute_after_change(&state.store, &[id, req.drop]).await;
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
                "bad query parameter '{field}': '{}' is not one of {}",
                patron_domain::excerpt(&v),
                allowed.join(", ")
            ),
        )
        .with_field(field)),
        v => Ok(v),
    }
}
