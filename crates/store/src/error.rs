use patron_domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// Someone else changed the record since it was read (optimistic concurrency).
    #[error("{message}")]
    Conflict {
        message: String,
        current_version: Option<i64>,
        /// The kind of refusal and the values it quotes, when it is one an interface words in
        /// its own language (`message` is the English text).
        code: Option<ErrorCode>,
    },
    #[error("invalid input: {}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database's schema cannot be used by this binary (newer than it knows), or could not
    /// be upgraded safely; nothing was changed.
    #[error("{0}")]
    Schema(String),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub fn not_found(what: &'static str, id: impl ToString) -> Self {
        StoreError::NotFound {
            what,
            // Ids may be the caller's text (an order reference): never quoted whole.
            id: patron_domain::text::bounded(&id.to_string()),
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        StoreError::Invalid(vec![FieldError::new(
            field,
            patron_domain::text::bounded(&message.into()),
        )])
    }

    /// True when the database could not be reached (pool timeout, connection refused, I/O, a
    /// PostgreSQL server shutting down or starting up): the HTTP layer answers 503 for these.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            // SQLSTATE class 08: connection exceptions; 57P01-57P03: the server is shutting
            // down (admin or crash) or cannot accept connections yet.
            StoreError::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            StoreError::Database(e) => matches!(
                e,
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::Io(_)
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            _ => false,
        }
    }
}

/// Maps a unique-constraint violation to a conflict with `message`; passes other errors through.
pub(crate) fn unique_to_conflict(e: sqlx::Error, message: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            return StoreError::Conflict {
                code: None,
                message: message(),
                current_version: None,
            };
        }
    }
    StoreError::Database(e)
}

/// A refusal of a known kind: a stable code and the values it quotes, by name, so each
/// interface can word it in its own language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorCode {
    /// `credit_refused`, `pool_cap`, `not_in_pool`...
    pub code: &'static str,
    pub params: Vec<(&'static str, String)>,
}

impl ErrorCode {
    pub fn new(code: &'static str, params: Vec<(&'static str, String)>) -> Self {
        ErrorCode { code, params }
    }

    /// The parameter `name`, or "" when absent.
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl StoreError {
    /// The code of a conflict of a known kind.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            StoreError::Conflict { code, .. } => code.as_ref(),
            _ => None,
        }
    }
}
