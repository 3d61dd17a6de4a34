//! What the web pages (patron-web, which this crate depends on) need from the server: the
//! value refresh behind the dashboard's Recompute button, with the latest snapshot's options
//! (e.g. the demo's weekly unit), and the score attributes for the score model editor.

use patron_store::Store;
use patron_web::Hooks;

use crate::value::{refresh, score_attributes, RefreshOptions};

/// The hooks for [`patron_web::router_with`].
pub fn hooks() -> Hooks {
    Hooks {
        refresh: Some(std::sync::Arc::new(|store: Store| {
            Box::pin(async move { refresh_like_last_time(&store).await })
        })),
        score_attributes: Some(score_attributes),
    }
}

/// Runs the refresh with the options of the latest snapshot (defaults without one).
async fn refresh_like_last_time(store: &Store) -> Result<i64, String> {
    let last = store.latest_snapshot().await.map_err(|e| e.to_string())?;
    let opts: RefreshOptions = last
        .and_then(|s| serde_json::from_value(s.options).ok())
        .unwrap_or_default();
    let opts = opts
        .analysis_options()
        .map_err(|field| format!("bad value option {field}"))?;
    refresh(store, &opts)
        .await
        .map(|s| s.id)
        .map_err(|e| e.to_string())
}
