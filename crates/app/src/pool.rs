//! The public pool's reclaim run: on the server's date, over the caller's scope only.

use chrono::NaiveDate;
use patron_store::{Reclaimed, Store};

use crate::{Action, AppError, Session};

/// Returns the idle customers of the caller's scope to the pool as of today (the server's
/// date: a client cannot pick a day that makes more customers idle); with `preview`, only
/// lists them.
pub async fn reclaim(
    store: &Store,
    session: &Session,
    preview: bool,
) -> Result<Vec<Reclaimed>, AppError> {
    reclaim_as_of(store, session, chrono::Utc::now().date_naive(), preview).await
}

/// [`reclaim`] as of another day: for the command-line operator of the server (who may run
/// the rules as of a past or coming day) and tests; never reached from a network request.
pub async fn reclaim_as_of(
    store: &Store,
    session: &Session,
    today: NaiveDate,
    preview: bool,
) -> Result<Vec<Reclaimed>, AppError> {
    session.require(Action::ReclaimPool)?;
    Ok(store
        .reclaim(today, &session.visible, preview, &session.actor)
        .await?)
}
