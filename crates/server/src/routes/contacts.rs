//! Contacts: the people at a customer.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::ContactInput;
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath};
use crate::AppState;

#[derive(Debug, Deserialize)]
pub struct ContactPath {
    id: i64,
    contact_id: i64,
}

pub async fn list(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, id, false).await?;
    let list = state.store.contacts(id).await?;
    me.audit(&state.store, "view", Some(id), Some("contacts"), None)
        .await?;
    Ok(Json(list).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Response, ApiError> {
    let c = patron_app::customers::add_contact(&state.store, &me, id, input, "").await?;
    let location = HeaderValue::from_str(&format!("/api/customers/{id}/contacts/{}", c.id))
        .expect("ascii path");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(c)).into_response())
}

pub async fn read(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<ContactPath>,
) -> Result<Response, ApiError> {
    me.guard(&state.store, p.id, false).await?;
    let audited = me.audited(
        &state.store,
        "view",
        Some(p.id),
        format!("contact {}", p.contact_id),
    );
    let c = audited.contact(p.id, p.contact_id).await?;
    audited.finish_audit().await?;
    Ok(Json(c).into_response())
}

pub async fn replace(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<ContactPath>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Response, ApiError> {
    let c = patron_app::customers::change_contact(&state.store, &me, p.id, p.contact_id, input, "")
        .await?;
    Ok(Json(c).into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    me: Me,
    ApiPath(p): ApiPath<ContactPath>,
) -> Result<StatusCode, ApiError> {
    patron_app::customers::remove_contact(&state.store, &me, p.id, p.contact_id, "").await?;
    Ok(StatusCode::NO_CONTENT)
}
