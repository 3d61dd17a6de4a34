//! Patron's application layer: the use cases as a signed-in [`Session`] does them, whatever
//! the front-end (JSON API, web pages, CLI). Scope, role gates ([`permissions`]) and the audit
//! live here; the front-ends translate requests and answers.
//!
//! - [`Session`]: who acts, which customers they see, what the audit log records;
//! - [`permissions`]: the one role/permission table;
//! - [`value`]: recomputing and reading the customer-value figures ([`dashboard`] and
//!   [`period`]: the dashboard's stored figures and period-over-period comparisons;
//!   [`value_history`]: a customer's course across snapshots, grade and stage transitions);
//! - [`pool`]: the public pool's reclaim, on the server's date and the caller's scope;
//! - [`customers`]: resolving what a user typed as a customer reference, interactions;
//! - [`imports`]: file imports within the importer's scope, audited; [`orders`]: orders
//!   recorded, replaced and deleted (the customer's value figures follow at once);
//! - [`work`]: working the customers over the caller's scope: receivables (ageing, overdue,
//!   collections, held orders), tickets and the SLA sweep, the pipeline, the follow-up plan;
//! - [`tasks`]: tasks, their rules, "My day" and the in-app notifications; [`custody`]: leads
//!   assigned, customers handed over, held orders decided (each telling the user concerned);
//! - [`exports`]: exporting customer rows as a controlled right (the one gate, the approval
//!   queue, one-time downloads, leaving staff);
//! - [`mail`]: campaign mail queued to the outbox, and its signed one-click unsubscribe;
//!   [`surveys_mail`]: CSAT/NPS surveys by mail with signed one-click answer links;
//!   [`reminders`]: payment reminders on a schedule around the due date.
//! - [`lease`]: named leases in the database, so that several servers on one database run
//!   one population refresh and one run of each scheduled job at a time;
//! - [`access`]: unusual access alerts (counts per user and hour, one alert per user, kind
//!   and hour to their manager and the admins) and the evidence report of one user's access.

pub mod access;
pub mod breakdown;
pub mod campaigns;
pub mod custody;
pub mod customers;
pub mod dashboard;
pub mod exports;
pub mod imports;
pub mod lease;
pub mod lists;
pub mod mail;
pub mod marketing;
pub mod orders;
pub mod period;
pub mod permissions;
pub mod pool;
pub mod reminders;
pub mod report;
mod session;
pub mod surveys_mail;
pub mod tasks;
pub mod value;
pub mod value_history;
pub mod work;

pub use permissions::Action;
pub use session::Session;

use patron_store::StoreError;

/// Why a use case refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store's answer (not found, invalid, conflict, unavailable, ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's role or scope does not allow it (403).
    #[error("{0}")]
    Forbidden(String),
}
