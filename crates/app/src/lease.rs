//! Leases across processes (several `patron serve` on one database): a named lease in the
//! database's `locks` table, held by one acquisition at a time, renewed in the background while
//! it is held and given back when dropped. A process that dies loses its leases when their time
//! to live runs out. Used by the population refresh ([`crate::value::refresh`]: two refreshes,
//! in one process or in two, run one after the other) and by the scheduled jobs of `patron
//! serve` (the task rules, the daily refresh).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use patron_store::{Store, StoreError};

/// How long a lease lasts without renewal (it is renewed every third of this).
pub const TTL: Duration = Duration::from_secs(60);

/// How often a waiting [`Lease::acquire`] asks again.
const POLL: Duration = Duration::from_millis(200);

/// A held lease; dropping it gives it back.
#[derive(Debug)]
pub struct Lease {
    store: Store,
    name: String,
    holder: String,
    renewal: tokio::task::JoinHandle<()>,
    released: bool,
}

/// A holder name unique to one acquisition: the process's id and a counter.
fn next_holder() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}#{}",
        patron_store::holder_id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Lease {
    /// Takes lease `name`, waiting while another acquisition (of this process or another) holds it.
    pub async fn acquire(store: &Store, name: &str) -> Result<Lease, StoreError> {
        let holder = next_holder();
        loop {
            if store.try_lease(name, &holder, TTL).await? {
                return Ok(Self::held(store, name, holder));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Takes lease `name` when nobody holds it (`None` otherwise).
    pub async fn try_acquire(store: &Store, name: &str) -> Result<Option<Lease>, StoreError> {
        let holder = next_holder();
        Ok(store
            .try_lease(name, &holder, TTL)
            .await?
            .then(|| Self::held(store, name, holder)))
    }

    fn held(store: &Store, name: &str, holder: String) -> Lease {
        let renewal = {
            let (store, name, holder) = (store.clone(), name.to_string(), holder.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(TTL / 3).await;
                    match store.renew_lease(&name, &holder, TTL).await {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(lease = %name, "a lease was lost before its work ended");
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(lease = %name, error = %e, "renewing a lease failed")
                        }
                    }
                }
            })
        };
        Lease {
            store: store.clone(),
            name: name.to_string(),
            holder,
            renewal,
            released: false,
        }
    }

    /// Gives the lease back now.
    pub async fn release(mut self) {
        self.renewal.abort();
        self.released = true;
        if let Err(e) = self.store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(lease = %self.name, error = %e, "giving a lease back failed (it expires)");
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewal.abort();
        if self.released {
            return;
        }
        // Dropped without `release` (an error ended the work early): give it back in the
        // background, or let it expire when no runtime is left.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (store, name, holder) =
                (self.store.clone(), self.name.clone(), self.holder.clone());
            rt.spawn(async move {
                let _ = store.release_lease(&name, &holder).await;
            });
        }
    }
}
