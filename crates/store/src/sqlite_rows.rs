//! Writing the refresh's customer-value rows into SQLite through its C API.
//!
//! Measured at 1 M customers (release, quiet 2-core machine): the multi-row `INSERT`s through
//! sqlx took 9.4 s of the refresh's write, and so did this loop with one row per statement
//! (`perf`: the time went to each statement's execution, cursors opened and registers cleared,
//! not to binding); 32 rows per statement, 4.6 s (the `sqlite3` shell's `INSERT ... SELECT` of
//! the same rows, nothing to bind: 1.7 s). The loop binds straight from the rows on the write
//! transaction's own connection (its handle locked for the loop, so sqlx cannot use it
//! meanwhile). The values are encoded as sqlx encodes them (timestamps as RFC 3339 text with
//! automatic fractional digits and `+00:00`, dates as `YYYY-MM-DD`, booleans as 0/1,
//! non-finite figures as NULL), so every reader sees the same rows as after one customer's
//! upsert (`tests/value_rows_written.rs` compares both).

use std::ffi::{c_int, CStr, CString};

use libsqlite3_sys as ffi;

use crate::values::{reasons_text, CustomerValueRow, VALUE_COLUMNS};
use crate::StoreError;

/// Inserts `rows` into `customer_values` on the connection `db` (inside the caller's open
/// transaction). `db` must be a connection nobody else uses during the call.
///
/// # Safety
/// `db` is an open SQLite connection handle that stays valid, and is not used by any other
/// thread, for the duration of the call.
pub(crate) unsafe fn insert_value_rows(
    db: *mut ffi::sqlite3,
    rows: &[CustomerValueRow],
) -> Result<(), StoreError> {
    // Rows per statement: each execution of an INSERT has a fixed cost (cursors opened,
    // registers cleared), which 32 rows share; one row per statement took 3 s more at 1 M rows
    // (measured with Python's sqlite3 on the same rows: 7.7 s against 4.4 s).
    const ROWS: usize = 32;
    let mut full = prepare(db, ROWS)?;
    // The same timestamp and as-of date for (nearly) every row: formatted once.
    let mut computed = (None, String::new());
    let mut calibration = (None, String::new());
    for chunk in rows.chunks(ROWS) {
        let mut rest;
        let stmt = if chunk.len() == ROWS {
            &mut full
        } else {
            rest = prepare(db, chunk.len())?;
            &mut rest
        };
        let s = stmt.stmt;
        let mut rc = ffi::SQLITE_OK;
        for (j, r) in chunk.iter().enumerate() {
            if computed.0 != Some(r.computed_at) {
                computed = (
                    Some(r.computed_at),
                    r.computed_at
                        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
                );
            }
            if calibration.0 != Some(r.calibration_end) {
                calibration = (
                    Some(r.calibration_end),
                    r.calibration_end.format("%F").to_string(),
                );
            }
            let kinds = r.churn_kinds();
            let reasons = reasons_text(&r.churn_reasons)?;
            let base = (j * COLUMNS) as c_int;
            let mut ok = |code: c_int| {
                if rc == ffi::SQLITE_OK {
                    rc = code;
                }
            };
            ok(ffi::sqlite3_bind_int64(s, base + 1, r.customer_id));
            ok(text(s, base + 2, Some(&computed.1)));
            ok(text(s, base + 3, Some(&r.unit)));
            ok(text(s, base + 4, Some(&calibration.1)));
            ok(real(s, base + 5, r.frequency));
            ok(real(s, base + 6, r.recency));
            ok(real(s, base + 7, r.t));
            ok(real(s, base + 8, r.monetary_value));
            ok(ffi::sqlite3_bind_int64(s, base + 9, r.orders));
            ok(ffi::sqlite3_bind_int64(s, base + 10, r.revenue_cents));
            ok(ffi::sqlite3_bind_int64(s, base + 11, r.cost_cents));
            ok(ffi::sqlite3_bind_int64(s, base + 12, r.margin_cents));
            ok(int(s, base + 13, r.rfm_r));
            ok(int(s, base + 14, r.rfm_f));
            ok(int(s, base + 15, r.rfm_m));
            ok(text(s, base + 16, r.rfm_segment.as_deref()));
            ok(text(s, base + 17, Some(&r.abc_class)));
            ok(real(s, base + 18, r.p_alive));
            ok(real(s, base + 19, r.expected_purchases));
            ok(real(s, base + 20, r.expected_spend));
            ok(real(s, base + 21, r.clv));
            ok(text(s, base + 22, r.loyalty_stage.as_deref()));
            ok(text(s, base + 23, r.lifecycle_phase.as_deref()));
            ok(text(s, base + 24, kinds.as_deref()));
            ok(text(s, base + 25, Some(&reasons)));
            ok(ffi::sqlite3_bind_int64(
                s,
                base + 26,
                i64::from(r.churn_risk),
            ));
            ok(real(
                s,
                base + 27,
                Some(r.value_at_risk)
                    .filter(|v| v.is_finite())
                    .or(Some(0.0)),
            ));
            ok(real(s, base + 28, r.score));
            ok(text(s, base + 29, r.grade.as_deref()));
        }
        if rc != ffi::SQLITE_OK {
            return Err(stmt.error());
        }
        let step = ffi::sqlite3_step(s);
        // Reset before the error check: the statement is reusable either way.
        ffi::sqlite3_reset(s);
        if step != ffi::SQLITE_DONE {
            return Err(stmt.error());
        }
    }
    Ok(())
}

/// Columns of a `customer_values` row, as [`VALUE_COLUMNS`] lists them.
const COLUMNS: usize = 29;

/// The INSERT of `n` rows, prepared on `db`.
unsafe fn prepare(db: *mut ffi::sqlite3, n: usize) -> Result<Stmt, StoreError> {
    let one = format!(
        "({})",
        (0..COLUMNS).map(|_| "?").collect::<Vec<_>>().join(", ")
    );
    let sql = CString::new(format!(
        "INSERT INTO customer_values ({VALUE_COLUMNS}) VALUES {}",
        vec![one; n].join(", ")
    ))
    .expect("no NUL in the statement");
    let mut stmt = Stmt {
        db,
        stmt: std::ptr::null_mut(),
    };
    // SAFETY: `db` is valid (the caller's contract); the statement is finalized by `Stmt`'s
    // Drop.
    if ffi::sqlite3_prepare_v2(db, sql.as_ptr(), -1, &mut stmt.stmt, std::ptr::null_mut())
        != ffi::SQLITE_OK
    {
        return Err(stmt.error());
    }
    Ok(stmt)
}

/// A statement of the C API, finalized when dropped.
struct Stmt {
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
}

impl Stmt {
    /// The connection's last error, as a store error (constraint violations as such).
    fn error(&self) -> StoreError {
        // SAFETY: `db` is open; the message is copied before anything else runs on it.
        let (code, message) = unsafe {
            (
                ffi::sqlite3_extended_errcode(self.db),
                CStr::from_ptr(ffi::sqlite3_errmsg(self.db))
                    .to_string_lossy()
                    .into_owned(),
            )
        };
        StoreError::Database(sqlx::Error::Protocol(format!(
            "writing customer values: {message} (SQLite code {code})"
        )))
    }
}

impl Drop for Stmt {
    fn drop(&mut self) {
        // SAFETY: finalized once, here (a null statement is a no-op).
        unsafe {
            ffi::sqlite3_finalize(self.stmt);
        }
    }
}

/// Binds a text, or NULL.
unsafe fn text(s: *mut ffi::sqlite3_stmt, k: c_int, v: Option<&str>) -> c_int {
    match v {
        Some(v) => match c_int::try_from(v.len()) {
            Ok(n) => ffi::sqlite3_bind_text(s, k, v.as_ptr().cast(), n, ffi::SQLITE_TRANSIENT()),
            Err(_) => ffi::SQLITE_TOOBIG,
        },
        None => ffi::sqlite3_bind_null(s, k),
    }
}

/// Binds a finite figure, or NULL (NaN and infinities included, as the sqlx path stores them).
unsafe fn real(s: *mut ffi::sqlite3_stmt, k: c_int, v: Option<f64>) -> c_int {
    match v.filter(|x| x.is_finite()) {
        Some(x) => ffi::sqlite3_bind_double(s, k, x),
        None => ffi::sqlite3_bind_null(s, k),
    }
}

/// Binds an integer, or NULL.
unsafe fn int(s: *mut ffi::sqlite3_stmt, k: c_int, v: Option<i32>) -> c_int {
    match v {
        Some(x) => ffi::sqlite3_bind_int64(s, k, i64::from(x)),
        None => ffi::sqlite3_bind_null(s, k),
    }
}
