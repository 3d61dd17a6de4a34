//! The customers' course across value snapshots: one customer's history (the card's
//! trajectory) and the grade and stage transitions between two snapshots.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use crate::auth::Me;
use crate::error::ApiError;
use crate::extract::{ApiPath, ApiQuery};
use crate::routes::customers::query_error;
use crate::AppState;

/// `GET /api/customers/{id}/value/history`: the customer's figures per snapshot, oldest first,
/// and its figures now when recomputed since the newest snapshot.
pub async fn customer_history(
    State(state): State<AppState>,
    me: Me,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, ApiError> {
    let history = patron_app::value_history::view_customer_history(&state.store, &me, id).await?;
    Ok(Json(history).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransitionsQuery {
    from: Option<i64>,
    to: Option<i64>,
}

/// `GET /api/value/transitions[?from=ID&to=ID]`: grade and stage transitions between two
/// snapshots (default: the latest two).
pub async fn transitions(
    State(state): State<AppState>,
    me: Me,
    ApiQuery(q): ApiQuery<TransitionsQuery>,
) -> Result<Response, ApiError> {
    for (field, v) in [("from", q.from), ("to", q.to)] {
        if v.is_some_and(|v| v < 1) {
            return Err(query_error(patron_store::StoreError::invalid(
                field,
                "is not a snapshot id (1 or more)",
            )));
        }
    }
    let out = patron_app::value_history::transitions(&state.store, &me, q.from, q.to)
        .await
        .map_err(|e| match e {
            patron_app::AppError::Store(e @ patron_store::StoreError::Invalid(_)) => query_error(e),
            e => e.into(),
        })?;
    Ok(Json(out).into_response())
}
