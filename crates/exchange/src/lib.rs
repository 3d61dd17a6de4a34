//! Moving records in and out of Patron: CSV files with a header (common column names recognised,
//! `--map column=field` for the rest), the CDNOW transaction format, and JSON exports.
//!
//! Imports are batched: each batch is one transaction, rows whose natural key is already stored
//! are skipped (so a second run of the same file changes nothing, and a run killed half-way
//! resumes where it stopped), and a malformed row is reported as `FILE:LINE: column X: reason`.

pub mod cells;
mod columns;
mod error;
mod export;
mod import;
mod input;
mod leads;
mod rows;

pub use cells::{safe_cell, write_audit_csv, write_evidence_csv};
pub use columns::{field_names, unknown_columns, Entity, Field};
pub use error::{ImportError, RowError};
pub use export::{export_customers, export_orders, export_visible_customers, ExportFormat};
pub use import::{
    import_file, parse_rows, ImportOptions, ImportReport, InputFormat, ParsedRow, Progress, Record,
};
pub use input::{is_stdin, STDIN_NAME};
pub use leads::{import_leads, LeadImportOptions};
