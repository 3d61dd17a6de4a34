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
/// rows stored.
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
    let result = patron_exchange::import_file(store, path, &opts, progress).await;
    let what = match opts.entity {
        Entity::Customers => "customers",
        Entity::Orders => "orders",
        Entity::Interactions => "interactions",
    };
    let (rows, outcome) = match &result {
        Ok(r) => (r.inserted as i64, format!("{} rejected", r.rejected)),
        Err(ImportError::BadRow(_, stored)) => (*stored as i64, "stopped at a bad row".into()),
        Err(_) => (0, "failed".into()),
    };
    let detail = format!("{what} from {file_name}: {outcome}");
    session
        .audit(store, "import", None, Some(&detail), Some(rows))
        .await?;
    result
}
