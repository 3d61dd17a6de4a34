//! Saved views of the customer list (see migration 0016_saved_views): a name and the list's
//! query string per user, shared with everyone when `shared`. Who may share or delete one is
//! the application layer's rule.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::{now, with_pool, Store, StoreError};

/// The longest name of a view, in characters.
pub const VIEW_NAME_CHARS: usize = 80;
/// The longest query string of a view, in bytes.
pub const VIEW_QUERY_BYTES: usize = 2000;

/// A saved view of the customer list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedView {
    /// Its id.
    pub id: i64,
    /// The user who saved it.
    pub user_id: i64,
    /// That user's name.
    pub owner: String,
    /// Its name (unique per user).
    pub name: String,
    /// The list's query string (without `?`, without page cursor).
    pub query: String,
    /// Offered to every user.
    pub shared: bool,
    /// When it was saved.
    pub created_at: DateTime<Utc>,
}

type ViewRow = (i64, i64, String, String, String, bool, DateTime<Utc>);

fn view(r: ViewRow) -> SavedView {
    SavedView {
        id: r.0,
        user_id: r.1,
        owner: r.2,
        name: r.3,
        query: r.4,
        shared: r.5,
        created_at: r.6,
    }
}

const VIEW_SELECT: &str =
    "SELECT v.id, v.user_id, u.username, v.name, v.query, v.shared, v.created_at \
     FROM saved_views v JOIN users u ON u.id = v.user_id";

impl Store {
    /// Saves a view for `user_id`: a name (not blank, at most [`VIEW_NAME_CHARS`]) and the
    /// list's query string (at most [`VIEW_QUERY_BYTES`]). A view of the same name of the same
    /// user is replaced (its query and `shared`).
    pub async fn save_view(
        &self,
        user_id: i64,
        name: &str,
        query: &str,
        shared: bool,
    ) -> Result<SavedView, StoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(StoreError::invalid("name", "is required"));
        }
        if name.chars().count() > VIEW_NAME_CHARS {
            return Err(StoreError::invalid(
                "name",
                format!("is longer than {VIEW_NAME_CHARS} characters"),
            ));
        }
        if query.len() > VIEW_QUERY_BYTES {
            return Err(StoreError::invalid(
                "query",
                format!("is longer than {VIEW_QUERY_BYTES} bytes"),
            ));
        }
        let at = now();
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO saved_views (user_id, name, query, shared, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (user_id, name) DO UPDATE SET query = excluded.query, shared = excluded.shared \
             RETURNING id")
            .bind(user_id).bind(name).bind(query).bind(shared).bind(at)
            .fetch_one(pool).await?);
        self.saved_view(id).await
    }

    /// A saved view by id (404 when there is none).
    pub async fn saved_view(&self, id: i64) -> Result<SavedView, StoreError> {
        let sql = format!("{VIEW_SELECT} WHERE v.id = $1");
        let row: Option<ViewRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(view)
            .ok_or_else(|| StoreError::not_found("saved view", id))
    }

    /// The views `user_id` may apply: their own and the shared ones, by name.
    pub async fn saved_views_for(&self, user_id: i64) -> Result<Vec<SavedView>, StoreError> {
        let sql =
            format!("{VIEW_SELECT} WHERE v.user_id = $1 OR v.shared = TRUE ORDER BY v.name, v.id");
        let rows: Vec<ViewRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(user_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(view).collect())
    }

    /// Deletes a saved view (404 when there is none).
    pub async fn delete_saved_view(&self, id: i64) -> Result<(), StoreError> {
        let n = with_pool!(self, pool => sqlx::query("DELETE FROM saved_views WHERE id = $1").bind(id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::not_found("saved view", id));
        }
        Ok(())
    }
}
