//! Reading every order line for the population refresh, in parts by customer id, as fast as the
//! engine gives them.
//!
//! Measured at 1 M customers / 10.4 M lines (SQLite, release, quiet 2-core machine): through
//! sqlx's row stream the read took 20.4 s (about 2 µs a row: each row crosses sqlx's worker
//! thread and a channel, and is decoded column by column), while the `sqlite3` shell scans the
//! same rows in 1.5 s. So on SQLite the lines are read through SQLite's C API on connections of
//! their own (one per part, each on its own thread): a hand-written loop of `sqlite3_step` and
//! `sqlite3_column_*`, with the date text parsed here (`julianday()` in SQL cost 0.4 s more).
//! An in-memory database (tests) and any failure to open the file take the sqlx path instead.
//! PostgreSQL reads each part through `COPY (SELECT ...) TO STDOUT (FORMAT binary)` on its own
//! pooled connection, all parts at once, in the heap's order, grouped by customer here.

use std::ffi::{CStr, CString};

use chrono::NaiveDate;

use crate::{with_pool, Store, StoreError};

/// One order line as the analytics read it: customer id, day number since 1970-01-01, amount
/// and cost in cents.
pub type OrderDay = (i64, i32, i64, i64);

impl Store {
    /// Every order line dated up to `up_to` (all without), grouped by customer in ascending id
    /// (a customer's lines in the primary key's order on SQLite, in the table's physical order
    /// on PostgreSQL), read in up to `parts` consecutive customer-id ranges at
    /// once (on SQLite, each on its own thread and connection; on PostgreSQL, each on its own
    /// pooled connection). Each part starts from `make()` and gets its lines through
    /// `each(&mut part, line)`; the parts come back in customer order, so that a caller keeps
    /// only its own compact form of the lines. The parts are separate reads: a change committed
    /// while they run may be seen by some and not by others (the refresh recomputes customers
    /// changed during it).
    pub async fn order_days_in_parts<T, M, E>(
        &self,
        up_to: Option<NaiveDate>,
        parts: usize,
        make: M,
        each: E,
    ) -> Result<Vec<T>, StoreError>
    where
        T: Send + 'static,
        M: Fn() -> T + Send + Sync + 'static,
        E: Fn(&mut T, OrderDay) + Send + Sync + 'static,
    {
        let last = up_to.map(|d| {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            (d - epoch).num_days()
        });
        // Two subqueries: SQLite answers a lone MIN or MAX from the key's b-tree, but scans
        // every line for `SELECT MIN(..), MAX(..)` (1.25 s at 10.4 M lines).
        let bounds: (Option<i64>, Option<i64>) = with_pool!(self, pool => sqlx::query_as(
            "SELECT (SELECT MIN(customer_id) FROM order_lines), (SELECT MAX(customer_id) FROM order_lines)")
            .fetch_one(pool).await?);
        let (Some(lo), Some(hi)) = bounds else {
            return Ok(vec![make()]);
        };
        let ranges = split(lo, hi, parts.max(1));
        match &self.backend {
            crate::Backend::Sqlite(pool) => {
                if let Some(path) = sqlite_file(pool).await? {
                    match scan_sqlite_parts(path, ranges, last, &make, &each).await? {
                        Ok(parts) => return Ok(parts),
                        // Not opened: the sqlx path below reads the same rows.
                        Err(e) => tracing::debug!(error = %e, "order lines read through sqlx"),
                    }
                }
                let mut part = make();
                self.for_each_order_day(up_to, |c, d, a, k| each(&mut part, (c, d, a, k)))
                    .await?;
                Ok(vec![part])
            }
            crate::Backend::Postgres(pool) => {
                // Each part a task of its own, so that the parts' parsing and grouping run on
                // the runtime's threads at once (one task polling them all parsed on one core).
                let each = std::sync::Arc::new(each);
                let reads: Vec<_> = ranges
                    .iter()
                    .map(|&(a, b)| {
                        let (pool, each, mut part) = (pool.clone(), each.clone(), make());
                        tokio::spawn(async move {
                            pg_order_days(&pool, a, b, up_to, &mut |l| each(&mut part, l)).await?;
                            Ok::<T, StoreError>(part)
                        })
                    })
                    .collect();
                let mut parts = Vec::with_capacity(reads.len());
                for read in reads {
                    parts.push(
                        read.await
                            .map_err(|e| read_error(format!("reading order lines: {e}")))??,
                    );
                }
                Ok(parts)
            }
        }
    }
}

/// The SQLite parts, each on its own thread and connection: `Ok(Err(reason))` when the file
/// could not be opened (the caller reads through sqlx instead).
async fn scan_sqlite_parts<T, M, E>(
    path: CString,
    ranges: Vec<(i64, i64)>,
    last: Option<i64>,
    make: &M,
    each: &E,
) -> Result<Result<Vec<T>, String>, StoreError>
where
    T: Send + 'static,
    M: Fn() -> T + Send + Sync + 'static,
    E: Fn(&mut T, OrderDay) + Send + Sync + 'static,
{
    // The readers are blocking threads; `block_in_place` keeps this async worker's other tasks
    // moving where the runtime allows it (a current-thread runtime just runs them here).
    let run = || {
        std::thread::scope(|s| {
            let handles: Vec<_> = ranges
                .iter()
                .map(|&(a, b)| {
                    let path = &path;
                    s.spawn(move || {
                        let mut part = make();
                        scan_sqlite(path, a, b, last, &mut |l| each(&mut part, l)).map(|()| part)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Err(Scan::Panicked)))
                .collect::<Result<Vec<T>, Scan>>()
        })
    };
    let read = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    };
    match read {
        Ok(parts) => Ok(Ok(parts)),
        Err(Scan::Open(e)) => Ok(Err(e)),
        Err(e) => Err(read_error(e.to_string())),
    }
}

/// The order lines of customers `lo..=hi` dated up to `up_to`, grouped by customer in
/// ascending id (each customer's lines in the table's order), through one binary
/// `COPY ... TO STDOUT` on a pooled connection of its own: customer id (int8), day number
/// (int4), amount and cost in cents (int8 each) per tuple, parsed here.
///
/// The lines are asked for in no order and grouped here: `ORDER BY` the primary key made the
/// server walk the key and fetch each line's row from a heap that imports leave in date order,
/// one random page visit a line (5.4 s at 10.4 M lines, two parts at once); a scan of the heap
/// in its own order, grouped here by a counting sort on the customer id, reads it once.
async fn pg_order_days(
    pool: &sqlx::PgPool,
    lo: i64,
    hi: i64,
    up_to: Option<NaiveDate>,
    each: &mut (dyn FnMut(OrderDay) + Send),
) -> Result<(), StoreError> {
    let mut lines = Vec::new();
    pg_order_days_unordered(pool, lo, hi, up_to, &mut |l| lines.push(l)).await?;
    for at in in_customer_order(&lines, lo, hi) {
        each(lines[at as usize]);
    }
    Ok(())
}

/// The positions of `lines` (customer ids within `lo..=hi`) grouped by customer in ascending
/// id, each customer's lines in the order read: a counting sort on the customer id (stable). A
/// range far wider than the lines (sparse ids) gets a stable sort instead. Stable, because the
/// analysis adds up a day's amounts in the order it gets them: an import writes a batch's lines
/// in key order, so its lines come as the primary key orders them, and the sums are those of a
/// read in key order to the last bit (ordered otherwise, e.g. by amount, the fitted figures
/// moved by 1e-8 relative, against `refresh_matches_export`'s 1e-9).
fn in_customer_order(lines: &[OrderDay], lo: i64, hi: i64) -> Vec<u32> {
    let n = lines.len();
    assert!(
        n <= u32::MAX as usize,
        "more order lines than one read part holds"
    );
    let mut order: Vec<u32> = (0..n as u32).collect();
    let span = (hi as i128 - lo as i128 + 1).max(0) as u128;
    if n < 2 {
        return order;
    }
    if span > 4 * n as u128 {
        order.sort_by_key(|&i| lines[i as usize].0);
        return order;
    }
    let mut starts = vec![0u32; span as usize + 1];
    for l in lines {
        starts[(l.0 - lo) as usize + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    for (i, l) in lines.iter().enumerate() {
        let at = &mut starts[(l.0 - lo) as usize];
        order[*at as usize] = i as u32;
        *at += 1;
    }
    order
}

/// The order lines of customers `lo..=hi` dated up to `up_to`, in the heap's order.
async fn pg_order_days_unordered(
    pool: &sqlx::PgPool,
    lo: i64,
    hi: i64,
    up_to: Option<NaiveDate>,
    each: &mut (dyn FnMut(OrderDay) + Send),
) -> Result<(), StoreError> {
    use futures_util::TryStreamExt;
    // Integers and a formatted date only: nothing from outside goes into the text.
    let until = up_to
        .map(|d| format!(" AND ordered_on <= DATE '{}'", d.format("%Y-%m-%d")))
        .unwrap_or_default();
    let sql = format!(
        "COPY (SELECT customer_id, (ordered_on - DATE '1970-01-01'), amount_cents, cost_cents \
         FROM order_lines WHERE customer_id BETWEEN {lo} AND {hi}{until}) \
         TO STDOUT (FORMAT binary)"
    );
    // The scan starts at the table's first page: by default a scan of a large table joins one
    // already running (the other part's) wherever it is, which would hand a customer's lines
    // over in a rotated order (see `in_customer_order` on why the order counts).
    let mut conn = pool.acquire().await?;
    sqlx::query("SET synchronize_seqscans = off")
        .execute(&mut *conn)
        .await?;
    let mut parser = CopyParser::default();
    {
        let mut stream = conn.copy_out_raw(&sql).await?;
        while let Some(chunk) = stream.try_next().await? {
            parser
                .feed(&chunk, each)
                .map_err(|e| read_error(format!("reading order lines: {e}")))?;
        }
    }
    sqlx::query("RESET synchronize_seqscans")
        .execute(&mut *conn)
        .await?;
    if !parser.ended {
        return Err(read_error("reading order lines: the copy ended early"));
    }
    Ok(())
}

/// PostgreSQL's binary COPY format, read from chunks that may split a tuple anywhere.
#[derive(Default)]
struct CopyParser {
    carry: Vec<u8>,
    header_read: bool,
    ended: bool,
}

impl CopyParser {
    const SIGNATURE: &'static [u8] = b"PGCOPY\n\xff\r\n\0";

    fn feed(&mut self, chunk: &[u8], each: &mut dyn FnMut(OrderDay)) -> Result<(), String> {
        let joined;
        let data: &[u8] = if self.carry.is_empty() {
            chunk
        } else {
            self.carry.extend_from_slice(chunk);
            joined = std::mem::take(&mut self.carry);
            &joined
        };
        let mut at = 0;
        if !self.header_read {
            // Signature, flags, header extension length and the extension itself.
            if data.len() < 19 {
                self.carry = data.to_vec();
                return Ok(());
            }
            if &data[..11] != Self::SIGNATURE {
                return Err("not a binary COPY".into());
            }
            let ext = i32::from_be_bytes(data[15..19].try_into().expect("4 bytes")).max(0) as usize;
            if data.len() < 19 + ext {
                self.carry = data.to_vec();
                return Ok(());
            }
            at = 19 + ext;
            self.header_read = true;
        }
        // A tuple of 4 non-null fields: 2 + (4 + 8) + (4 + 4) + (4 + 8) + (4 + 8) bytes.
        const TUPLE: usize = 46;
        while at + 2 <= data.len() {
            let fields = i16::from_be_bytes([data[at], data[at + 1]]);
            if fields == -1 {
                self.ended = true;
                return Ok(());
            }
            if at + TUPLE > data.len() {
                break;
            }
            let t = &data[at..at + TUPLE];
            let len = |o: usize| i32::from_be_bytes(t[o..o + 4].try_into().expect("4 bytes"));
            if fields != 4 || len(2) != 8 || len(14) != 4 || len(22) != 8 || len(34) != 8 {
                return Err("unexpected tuple layout".into());
            }
            let i8_at = |o: usize| i64::from_be_bytes(t[o..o + 8].try_into().expect("8 bytes"));
            let day = i32::from_be_bytes(t[18..22].try_into().expect("4 bytes"));
            each((i8_at(6), day, i8_at(26), i8_at(38)));
            at += TUPLE;
        }
        self.carry = data[at..].to_vec();
        Ok(())
    }
}

/// A failed read of the order lines, as a database error (the message says what failed).
fn read_error(message: impl Into<String>) -> StoreError {
    StoreError::Database(sqlx::Error::Protocol(message.into()))
}

/// `parts` consecutive inclusive ranges covering `lo..=hi` (fewer when the span is shorter).
fn split(lo: i64, hi: i64, parts: usize) -> Vec<(i64, i64)> {
    let span = (hi as i128 - lo as i128 + 1) as u128;
    let parts = (parts as u128).min(span).max(1);
    (0..parts)
        .map(|k| {
            let a = lo as i128 + (span * k / parts) as i128;
            let b = lo as i128 + (span * (k + 1) / parts) as i128 - 1;
            (a as i64, b as i64)
        })
        .collect()
}

/// The file of a SQLite pool's main database (`None`: in memory).
async fn sqlite_file(pool: &sqlx::SqlitePool) -> Result<Option<CString>, StoreError> {
    let mut conn = pool.acquire().await?;
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is the open connection the locked handle guards for this scope;
    // `sqlite3_db_filename` returns a string owned by the connection (or null), copied here
    // before the lock is given back.
    let name = unsafe {
        let p = libsqlite3_sys::sqlite3_db_filename(db, c"main".as_ptr());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_owned())
    };
    Ok(name.filter(|n| !n.as_bytes().is_empty()))
}

/// Why a raw read failed.
#[derive(Debug, thiserror::Error)]
enum Scan {
    /// The file could not be opened or the statement prepared (the sqlx path is taken).
    #[error("{0}")]
    Open(String),
    #[error("reading order lines: {0}")]
    Step(String),
    #[error("reading order lines: customer {customer} has a date that is not YYYY-MM-DD")]
    Date { customer: i64 },
    #[error("reading order lines: a reader thread panicked")]
    Panicked,
}

/// A connection and statement of the C API, closed when dropped.
struct Raw {
    db: *mut libsqlite3_sys::sqlite3,
    stmt: *mut libsqlite3_sys::sqlite3_stmt,
}

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: both were created by this module and are finalized/closed once, here
        // (null pointers are no-ops for both calls).
        unsafe {
            libsqlite3_sys::sqlite3_finalize(self.stmt);
            libsqlite3_sys::sqlite3_close(self.db);
        }
    }
}

impl Raw {
    fn error(&self) -> String {
        // SAFETY: `db` is open (or null, for which SQLite answers a static message).
        unsafe {
            CStr::from_ptr(libsqlite3_sys::sqlite3_errmsg(self.db))
                .to_string_lossy()
                .into_owned()
        }
    }
}

/// The order lines of customers `lo..=hi` dated up to day `last`, in key order, from the
/// database file `path` on a read connection of its own.
fn scan_sqlite(
    path: &CStr,
    lo: i64,
    hi: i64,
    last: Option<i64>,
    each: &mut dyn FnMut(OrderDay),
) -> Result<(), Scan> {
    use libsqlite3_sys as ffi;
    const SQL: &CStr =
        c"SELECT customer_id, ordered_on, amount_cents, cost_cents FROM order_lines \
        WHERE customer_id BETWEEN ?1 AND ?2 ORDER BY customer_id, order_ref, line_no";
    let mut raw = Raw {
        db: std::ptr::null_mut(),
        stmt: std::ptr::null_mut(),
    };
    // SAFETY: plain C API use on a connection owned by `raw` (closed on every return by its
    // Drop), used by this thread only (NOMUTEX is safe for one thread); column pointers are
    // read before the next step, as the API requires.
    unsafe {
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_NOMUTEX;
        if ffi::sqlite3_open_v2(path.as_ptr(), &mut raw.db, flags, std::ptr::null())
            != ffi::SQLITE_OK
        {
            return Err(Scan::Open(raw.error()));
        }
        ffi::sqlite3_busy_timeout(raw.db, 10_000);
        if ffi::sqlite3_prepare_v2(
            raw.db,
            SQL.as_ptr(),
            -1,
            &mut raw.stmt,
            std::ptr::null_mut(),
        ) != ffi::SQLITE_OK
        {
            return Err(Scan::Open(raw.error()));
        }
        ffi::sqlite3_bind_int64(raw.stmt, 1, lo);
        ffi::sqlite3_bind_int64(raw.stmt, 2, hi);
        loop {
            match ffi::sqlite3_step(raw.stmt) {
                ffi::SQLITE_ROW => {}
                ffi::SQLITE_DONE => return Ok(()),
                _ => return Err(Scan::Step(raw.error())),
            }
            let customer = ffi::sqlite3_column_int64(raw.stmt, 0);
            let text = ffi::sqlite3_column_text(raw.stmt, 1);
            let len = ffi::sqlite3_column_bytes(raw.stmt, 1);
            let date = if text.is_null() {
                &[][..]
            } else {
                std::slice::from_raw_parts(text, len.max(0) as usize)
            };
            let day = day_number(date).ok_or(Scan::Date { customer })?;
            if last.is_some_and(|l| i64::from(day) > l) {
                continue;
            }
            let amount = ffi::sqlite3_column_int64(raw.stmt, 2);
            let cost = ffi::sqlite3_column_int64(raw.stmt, 3);
            each((customer, day, amount, cost));
        }
    }
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` text (how dates are stored), by the civil-from-days
/// inverse (Howard Hinnant's `days_from_civil`); `None` for anything else.
fn day_number(s: &[u8]) -> Option<i32> {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        s[r].iter().try_fold(0i32, |n, &b| {
            b.is_ascii_digit().then(|| n * 10 + i32::from(b - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Checks the day of the month (Feb 30 and the like) the slow way only when it could be wrong.
    if d > 28 {
        NaiveDate::from_ymd_opt(y, m as u32, d as u32)?;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Grouped by customer in ascending id, each customer's lines in the order read, for dense
    /// ids (counting sort) and sparse ones (stable sort) alike.
    #[test]
    fn lines_grouped_by_customer() {
        let mut seed = 11u64;
        let mut next = move |m: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % m
        };
        for (lo, span) in [(5i64, 20u64), (-3, 2_000), (0, 1 << 40)] {
            let lines: Vec<super::OrderDay> = (0..3_000)
                .map(|k| {
                    (
                        lo + next(span) as i64,
                        k,
                        next(7) as i64,
                        next(3) as i64 - 1,
                    )
                })
                .collect();
            let hi = lo + span as i64 - 1;
            let got: Vec<_> = super::in_customer_order(&lines, lo, hi)
                .into_iter()
                .map(|i| lines[i as usize])
                .collect();
            // The second field numbers the lines as read: a stable sort by customer.
            let mut want = lines.clone();
            want.sort_by_key(|l| (l.0, l.1));
            assert_eq!(got, want, "ids {lo}..+{span}");
        }
        assert!(super::in_customer_order(&[], 1, 0).is_empty());
        assert_eq!(super::in_customer_order(&[(4, 1, 1, 1)], 4, 4), vec![0]);
    }

    #[test]
    fn day_numbers_match_chrono() {
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut d = NaiveDate::from_ymd_opt(1899, 12, 25).unwrap();
        while d < NaiveDate::from_ymd_opt(2101, 1, 5).unwrap() {
            let text = d.format("%Y-%m-%d").to_string();
            assert_eq!(
                day_number(text.as_bytes()),
                Some((d - epoch).num_days() as i32),
                "{text}"
            );
            d += chrono::Duration::days(1);
        }
        for bad in [
            "2024-02-30",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-1-01",
            "2024/01/01",
            "",
            "abcd-ef-gh",
        ] {
            assert_eq!(day_number(bad.as_bytes()), None, "{bad}");
        }
    }

    /// A binary COPY of `tuples`, as PostgreSQL sends it (with a header extension).
    fn copy_bytes(tuples: &[OrderDay]) -> Vec<u8> {
        let mut b = CopyParser::SIGNATURE.to_vec();
        b.extend(0i32.to_be_bytes());
        b.extend(3i32.to_be_bytes());
        b.extend([9, 9, 9]);
        for &(c, d, a, k) in tuples {
            b.extend(4i16.to_be_bytes());
            b.extend(8i32.to_be_bytes());
            b.extend(c.to_be_bytes());
            b.extend(4i32.to_be_bytes());
            b.extend(d.to_be_bytes());
            for v in [a, k] {
                b.extend(8i32.to_be_bytes());
                b.extend(v.to_be_bytes());
            }
        }
        b.extend((-1i16).to_be_bytes());
        b
    }

    #[test]
    fn copy_tuples_are_read_across_any_chunking() {
        let tuples: Vec<OrderDay> = (0..50)
            .map(|i| (i * 1_000_003, (i as i32) * 97 - 4000, i * i - 7, -i))
            .collect();
        let bytes = copy_bytes(&tuples);
        for size in [1, 2, 5, 19, 20, 45, 46, 47, 1000, bytes.len()] {
            let mut p = CopyParser::default();
            let mut got = Vec::new();
            for chunk in bytes.chunks(size) {
                p.feed(chunk, &mut |t| got.push(t)).unwrap();
            }
            assert!(p.ended, "chunks of {size}");
            assert_eq!(got, tuples, "chunks of {size}");
        }
        // A cut-off copy has not ended; a wrong layout is refused.
        let mut p = CopyParser::default();
        p.feed(&bytes[..bytes.len() - 2], &mut |_| {}).unwrap();
        assert!(!p.ended);
        let mut bad = bytes.clone();
        bad[22 + 2 + 4 + 8 + 3] = 8; // the day's length
        assert!(CopyParser::default().feed(&bad, &mut |_| {}).is_err());
        assert!(CopyParser::default()
            .feed(b"not a copy at all, no", &mut |_| {})
            .is_err());
    }

    #[test]
    fn ranges_cover_the_span_once() {
        assert_eq!(split(1, 10, 2), vec![(1, 5), (6, 10)]);
        assert_eq!(split(1, 1, 4), vec![(1, 1)]);
        assert_eq!(split(5, 7, 8), vec![(5, 5), (6, 6), (7, 7)]);
        let r = split(i64::MIN, i64::MAX, 3);
        assert_eq!((r[0].0, r[2].1), (i64::MIN, i64::MAX));
        assert!(r.windows(2).all(|w| w[0].1 + 1 == w[1].0));
    }
}
