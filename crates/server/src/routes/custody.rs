//! Custody: who am I, API tokens, the audit log, the public pool (claim, return, reclaim) and
//! hand-over of customers between users.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_store::AuditFilter;
use serde::Deserialize;
use serde_json::json;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::AppState;

pub async fn me(me: Me) -> Response {
    Json(me.user).into_response()
}

pub async fn users(State(state): State<AppState>, _me: Me) -> Result<Response, ApiError> {
    Ok(Json(state.store.users().await?).into_response())
}

pub async fn list_tokens(State(state): State<AppState>, me: Me) -> Result<Response, ApiError> {
    Ok(Json(state.store.tokens(Some(me.user.id)).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    pub name: String,
}

pub async fn create_token(
    State(state): State<AppState>,
    me: Me,
    ApiJson(input): ApiJson<TokenInput>,
) -> Result<Response, ApiError> {
    let (token, secret) = state.store.create_token(me.user.id, &input.name).await?;
    let detail = format!("token {} ({})", token.id, token.name);
    me.audit(&state.store, "token_create", None, Some(&detail), None)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "secret": secret})),
    )
        .into_response())
}

pub async fn revoke_token(
    State(state): State<AppState>,
    me: Me,
    ApiPath(token_id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let owner = (!me.user.is_admin()).then_some(me.user.id);
    let audited = me.audited(
        &state.store,
        "token_revoke",
        None,
        format!("token {token_id}"),
    );
    audited.revoke_token(token_id, owner).await?;
    audited.finish_audit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    customer_id: Option<i64>,
    before: Option<i64>,
    limit: Option<i64>,
}

pub async fn audit(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    let limit = crate::routes::row_limit(q.limit)?;
    let rows = state
        .store
        .audit_log(&AuditFilter {
            actor: q.actor,
            action: q.action,
            customer_id: q.customer_id,
            before_id: q.before,
            limit,
            ..AuditFilter::default()
        })
        .await?;
    me.audit(
        &state.store,
        "export",
        None,
        Some("audit log"),
        Some(rows.len() as i64),
    )
    .await?;
    Ok(Json(rows).into_response())
}

pub async fn claim(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    state.store.claim(id, me.user.id, &me.actor).await?;
    Ok(Json(state.store.customer(id).await?).into_response())
}

pub async fn release(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    state
        .store
        .release(id, &me.actor, "returned to the pool by hand")
        .await?;
    Ok(Json(state.store.customer(id).await?).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReclaimRequest {
    /// Only list what would return to the pool, change nothing.
    #[serde(default)]
    pub preview: bool,
}

/// Applies the reclaim rules on the server's date over the caller's scope (see
/// `patron_app::pool`).
pub async fn reclaim(
    State(state): State<AppState>,
    me: Me,
    crate::extract::ApiJsonOrEmpty(req): crate::extract::ApiJsonOrEmpty<ReclaimRequest>,
) -> Result<Response, ApiError> {
    let out = patron_app::pool::reclaim(&state.store, &me, req.preview).await?;
    Ok(Json(out).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandoverRequest {
    /// The user who takes the customers over.
    pub to: i64,
    /// Only these customers (default: all of the user's customers).
    pub customers: Option<Vec<i64>>,
}

pub async fn handover(
    State(state): State<AppState>,
    me: Me,
    ApiPath(user_id): ApiPath<i64>,
    ApiJson(req): ApiJson<HandoverRequest>,
) -> Result<Response, ApiError> {
    let moved =
        patron_app::custody::handover(&state.store, &me, user_id, req.to, req.customers.as_deref())
            .await?;
    Ok(Json(json!({"from": user_id, "to": req.to, "moved": moved})).into_response())
}
