use std::fmt;

/// A row that could not be imported: where, which column, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    /// 1-based line number in the file.
    pub line: u64,
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(c) => write!(
                f,
                "{}:{}: column {}: {}",
                self.file,
                self.line,
                patron_domain::excerpt(c),
                patron_domain::text::bounded(&self.reason)
            ),
            None => write!(
                f,
                "{}:{}: {}",
                self.file,
                self.line,
                patron_domain::text::bounded(&self.reason)
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// A malformed row stopped the import; the batch it was in was not stored.
    #[error("{0}\nnothing of this batch was stored ({1} rows stored before it); fix the row, or rerun with --skip-bad REJECTS.csv to store the good rows and write the bad ones there")]
    BadRow(RowError, u64),
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{0}")]
    Store(#[from] patron_store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}
