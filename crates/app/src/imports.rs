//! File imports as a session does them: only admins and managers import, rows land only on
//! customers within the importer's scope, the importer is recorded as the author, and the
//! audit log gets one row per import (what, which file, how many rows stored).

use std::path::Path;

use patron_exchange::{Entity, ImportError, ImportOptions, ImportReport, Progress};
use patron_store::Store;

use crate::{Action, AppError, Session};

/// Refuses (403) callers who may not import, before any upload is read.
pub fn authorize(session: &Session) -> Result<(), AppError> {
    session.require(Action::Import)
}

/// Imports `path` (shown as `file_name` in the audit log) as `session`: `opts.by` becomes the
/// caller and `opts.scope` their scope (orders and interactions for customers outside it are
/// rejected like unknown customers). The audit row is written whatever the outcome, with the
/// rows stored. An import that stored rows starts a population refresh in the background
/// ([`crate::value::refresh_in_background`]): its customers and orders are judged at once.
pub async fn import_file(
    store: &Store,
    session: &Session,
    path: &Path,
    file_name: &str,
    mut opts: ImportOptions,
    progress: impl Fn(Progress),
) -> Result<ImportReport, ImportError> {
    authorize(session).map_err(|e| ImportError::File {
        file: file_name.into(),
        message: e.to_string(),
    })?;
    opts.by = session.user.username.clone();
    opts.scope = session.visible.clone();
    let started = std::time::Instant::now();
    let result = patron_exchange::import_file(store, path, &opts, progress).await;
    let what = match opts.entity {
        Entity::Customers => "customers",
        Entity::Orders => "orders",
        Entity::Interactions => "interactions",
    };
    record_metrics(what, started.elapsed().as_secs_f64(), &result);
    let (rows, outcome) = match &result {
        Ok(r) => (r.inserted as i64, format!("{} rejected", r.rejected)),
        Err(ImportError::BadRow(_, stored)) => (*stored as i64, "stopped at a bad row".into()),
        Err(_) => (0, "failed".into()),
    };
    let detail = format!("{what} from {file_name}: {outcome}");
    session
        .audit(store, "import", None, Some(&detail), Some(rows))
        .await?;
    if rows > 0 {
        crate::value::refresh_in_background(store);
    }
    result
}

/// Records an import's duration and rows for `/metrics` (no-ops unless the binary installed a
/// recorder): `patron_import_duration_seconds{entity, outcome}` and
/// `patron_import_rows_total{entity, outcome}` (stored, already_present, rejected).
fn record_metrics(entity: &'static str, seconds: f64, result: &Result<ImportReport, ImportError>) {
    let outcome = if result.is_ok() { "ok" } else { "failed" };
    metrics::histogram!("patron_import_duration_seconds", "entity" => entity, "outcome" => outcome)
        .record(seconds);
    let rows = match result {
        Ok(r) => [
            ("stored", r.inserted),
            ("already_present", r.already_present),
            ("rejected", r.rejected),
        ],
        Err(ImportError::BadRow(_, stored)) => {
            [("stored", *stored), ("already_present", 0), ("rejected", 0)]
        }
        Err(_) => return,
    };
    for (outcome, n) in rows {
        metrics::counter!("patron_import_rows_total", "entity" => entity, "outcome" => outcome)
            .increment(n);
    }
}
