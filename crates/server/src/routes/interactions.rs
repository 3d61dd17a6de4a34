//! Interactions: per customer, and the list of all interactions.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Datelike;
use patron_domain::{FieldError, InteractionInput, InteractionKind};
use patron_store::StoreError;
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::customers::query_error;
use crate::routes::page;
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct InteractionPath {
    id: i64,
    interaction_id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllInteractionsQuery {
    customer_id: Option<i64>,
    kind: Option<InteractionKind>,
    limit: Option<i64>,
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerInteractionsQuery {
    kind: Option<InteractionKind>,
    limit: Option<i64>,
    after: Option<String>,
}

async fn list(state: &AppState, me: &Me, q: AllInteractionsQuery) -> Result<Response, ApiError> {
    let page = page(q.limit, q.after)?;
    if let Some(c) = q.customer_id {
        me.guard(&state.store, c, false).await?;
    }
    let result = state
        .store
        .list_visible_interactions(q.customer_id, q.kind, &me.visible, &page)
        .await
        .map_err(query_error)?;
    me.audit(
        &state.store,
        "list",
        q.customer_id,
        Some("interactions"),
        Some(result.items.len() as i64),
    )
    .await?;
    Ok(Json(result).into_response())
}

pub async fn list_all(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<AllInteractionsQuery>,
) -> Result<Response, ApiError> {
    list(&state, &me, q).await
}

pub async fn list_for_customer(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(q): ApiQuery<CustomerInteractionsQuery>,
) -> Result<Response, ApiError> {
    let q = AllInteractionsQuery {
        customer_id: Some(id),
        kind: q.kind,
        limit: q.limit,
        after: q.after,
    };
    list(&state, &me, q).await
}

/// Checks what the store leaves to the caller: a storable date, and on replace, that the
/// contact belongs to the customer.
pub(crate) async fn check(
    state: &AppState,
    customer_id: i64,
    input: &InteractionInput,
    check_contact: bool,
) -> Result<(), ApiError> {
    if let Some(at) = input.occurred_at {
        if !(1000..=9999).contains(&at.year()) {
            return Err(ApiError::validation(vec![FieldError::new(
                "occurred_at",
                format!("{at} is out of range (years 1000-9999)"),
            )]));
        }
    }
    if let (true, Some(c)) = (check_contact, input.contact_id) {
        match state.store.contact(customer_id, c).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::validation(vec![FieldError::new(
                    "contact_id",
                    format!("contact {c} does not belong to customer {customer_id}"),
                )]))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, true).await?;
    check(&state, id, &input, false).await?;
    let i = patron_app::customers::record_interaction(&state.store, &me, id, input).await?;
    let location = HeaderValue::from_str(&format!("/api/customers/{id}/interactions/{}", i.id))
        .expect("ascii path");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(i)).into_response())
}

pub async fn read(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<InteractionPath>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, false).await?;
    let audited = me.audited(
        &state.store,
        "view",
        Some(p.id),
        format!("interaction {}", p.interaction_id),
    );
    let i = audited.interaction(p.id, p.interaction_id).await?;
    audited.finish_audit().await?;
    Ok(Json(i).into_response())
}

pub async fn replace(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<InteractionPath>,
    ApiJson(input): ApiJson<InteractionInput>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, true).await?;
    state.store.interaction(p.id, p.interaction_id).await?;
    check(&state, p.id, &input, true).await?;
    let i = patron_app::customers::replace_interaction(
        &state.store,
        &me,
        p.id,
        p.interaction_id,
        input,
    )
    .await?;
    Ok(Json(i).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<InteractionPath>,
) -> Result<StatusCode, ApiError> {
    me.guard(&state.store, p.id, true).await?;
    let audited = me.audited(
        &state.store,
        "update",
        Some(p.id),
        format!("interaction {} deleted", p.interaction_id),
    );
    audited.delete_interaction(p.id, p.interaction_id).await?;
    audited.finish_audit().await?;
    patron_app::value::recompute_after_change(&state.store, &[p.id]).await;
    Ok(StatusCode::NO_CONTENT)
}
