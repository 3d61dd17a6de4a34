//! Contacts: the people at a customer.

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use patron_domain::ContactInput;
use serde::Deserialize;

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
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.contacts(id).await?).into_response())
}

pub async fn create(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Response, ApiError> {
    let c = state.store.create_contact(id, input).await?;
    let location = HeaderValue::from_str(&format!("/api/customers/{id}/contacts/{}", c.id))
        .expect("ascii path");
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(c)).into_response())
}

pub async fn read(
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ContactPath>,
) -> Result<Response, ApiError> {
    Ok(Json(state.store.contact(p.id, p.contact_id).await?).into_response())
}

pub async fn replace(
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ContactPath>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<Response, ApiError> {
    Ok(Json(
        state
            .store
            .update_contact(p.id, p.contact_id, input)
            .await?,
    )
    .into_response())
}

pub async fn remove(
    State(state): State<AppState>,
    ApiPath(p): ApiPath<ContactPath>,
) -> Result<StatusCode, ApiError> {
    state.store.delete_contact(p.id, p.contact_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
