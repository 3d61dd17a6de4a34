//! (being written)

use axum::Router;

use crate::WebState;

pub(crate) fn routes() -> Router<WebState> {
    Router::new()
}
