//! PostgreSQL's bulk path for order imports: each batch goes to a temporary staging table with
//! one binary `COPY ... FROM STDIN`, then into `order_lines` with ONE set-based
//! `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (a line whose natural key is stored is skipped,
//! exactly as the multi-row statements did), and the status rule of orders runs as one statement
//! pair over the batch's customers. Multi-row `INSERT`s of 500 lines made PostgreSQL parse, plan
//! and bind 4,000 parameters per statement (38,000 rows/s for 1 M lines); COPY hands it the rows
//! in its own format.
//!
//! SQLite keeps the multi-row path of `import.rs`.

use sqlx::PgConnection;

use super::ImportOrderLine;

/// The staging table, private to the connection and dropped when the transaction ends, so that
/// a batch never sees another's rows (a failed batch rolls its table back with everything else).
const CREATE_STAGING: &str = "CREATE TEMP TABLE import_order_lines (\
     customer_id BIGINT NOT NULL, order_ref TEXT NOT NULL, line_no INTEGER NOT NULL, \
     ordered_on DATE NOT NULL, category TEXT, quantity BIGINT NOT NULL, \
     amount_cents BIGINT NOT NULL, cost_cents BIGINT NOT NULL) ON COMMIT DROP";

const COPY_STAGING: &str = "COPY pg_temp.import_order_lines (customer_id, order_ref, line_no, \
     ordered_on, category, quantity, amount_cents, cost_cents) FROM STDIN (FORMAT binary)";

/// The rows come sorted by key (callers sort them), and COPY keeps their order: the insert walks
/// the primary key's pages in order without a sort of its own.
const INSERT_FROM_STAGING: &str = "INSERT INTO order_lines (customer_id, order_ref, line_no, \
     ordered_on, category, quantity, amount_cents, cost_cents) \
     SELECT customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents \
     FROM pg_temp.import_order_lines ON CONFLICT DO NOTHING";

/// The batch's customers, for the status rule (the multi-row path applied it to every customer
/// of a batch that stored at least one line; so does this one).
const BATCH_CUSTOMERS: &str = "SELECT DISTINCT customer_id FROM pg_temp.import_order_lines";

/// How many bytes of COPY data go to the server per message.
const SEND_BYTES: usize = 1 << 20;

/// Copies `rows` (sorted by key) into `order_lines` inside the caller's transaction `conn`,
/// skipping lines whose key is stored, and advances the status of the batch's customers when
/// anything was stored. Returns how many lines were stored.
pub(crate) async fn import_order_lines(
    conn: &mut PgConnection,
    rows: &[&ImportOrderLine],
    at: chrono::DateTime<chrono::Utc>,
    by: &str,
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    sqlx::query(CREATE_STAGING).execute(&mut *conn).await?;
    let mut copy = conn.copy_in_raw(COPY_STAGING).await?;
    let mut buf = Vec::with_capacity(SEND_BYTES + 4096);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for r in rows {
        encode_line(&mut buf, r);
        if buf.len() >= SEND_BYTES {
            if let Err(e) = copy.send(buf.as_slice()).await {
                return Err(abort(copy, e).await);
            }
            buf.clear();
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes()); // trailer
    if let Err(e) = copy.send(buf.as_slice()).await {
        return Err(abort(copy, e).await);
    }
    copy.finish().await?;

    let inserted = sqlx::query(INSERT_FROM_STAGING)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if inserted > 0 {
        let (history, update) = status_advance_from_staging();
        sqlx::query(&history)
            .bind(at)
            .bind(by)
            .execute(&mut *conn)
            .await?;
        sqlx::query(&update).bind(at).execute(&mut *conn).await?;
    }
    Ok(inserted)
}

/// Ends a COPY that failed while sending, so that the connection goes back to a usable state.
async fn abort(copy: sqlx::postgres::PgCopyIn<&mut PgConnection>, e: sqlx::Error) -> sqlx::Error {
    let _ = copy.abort(e.to_string()).await;
    e
}

/// The status rule of orders ([`crate::customers::status_advance_sql`], the one place that says
/// which statuses an order advances) for the customers in the staging table: the history
/// statement binds `$1` = when, `$2` = by; the update binds `$1` = when.
fn status_advance_from_staging() -> (String, String) {
    let (history, update) = crate::customers::status_advance_sql(1, false);
    let subquery = format!("id IN ({BATCH_CUSTOMERS})");
    let history_sql = history.replace("id IN ($3)", &subquery);
    let update_sql = update.replace("id IN ($2)", &subquery);
    debug_assert!(history_sql != history && update_sql != update);
    (history_sql, update_sql)
}

/// One tuple of PostgreSQL's binary COPY format: the field count, then each field as its length
/// and its bytes in network order (-1 for NULL).
fn encode_line(buf: &mut Vec<u8>, r: &ImportOrderLine) {
    buf.extend_from_slice(&8i16.to_be_bytes());
    put_i64(buf, r.customer_id);
    put_text(buf, Some(&r.order_ref));
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&r.line_no.to_be_bytes());
    buf.extend_from_slice(&4i32.to_be_bytes());
    buf.extend_from_slice(&pg_date(r.ordered_on).to_be_bytes());
    put_text(buf, r.category.as_deref());
    put_i64(buf, r.quantity);
    put_i64(buf, r.amount.cents());
    put_i64(buf, r.cost.cents());
}

fn put_i64(buf: &mut Vec<u8>, v: i64) {
    buf.extend_from_slice(&8i32.to_be_bytes());
    buf.extend_from_slice(&v.to_be_bytes());
}

fn put_text(buf: &mut Vec<u8>, v: Option<&str>) {
    match v {
        None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        Some(s) => {
            buf.extend_from_slice(&(s.len() as i32).to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// Days since 2000-01-01, PostgreSQL's binary `date`.
fn pg_date(d: chrono::NaiveDate) -> i32 {
    use chrono::Datelike;
    // 2000-01-01 is day 730,120 of the common era.
    d.num_days_from_ce() - 730_120
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_count_from_2000() {
        let d = |s: &str| pg_date(s.parse().unwrap());
        assert_eq!(d("2000-01-01"), 0);
        assert_eq!(d("2000-01-02"), 1);
        assert_eq!(d("1999-12-31"), -1);
        assert_eq!(d("2024-05-01"), 8887);
    }

    #[test]
    fn status_rule_reads_the_staging_table() {
        let (h, u) = status_advance_from_staging();
        assert!(h.contains("id IN (SELECT DISTINCT customer_id FROM pg_temp.import_order_lines)"));
        assert!(u.contains("id IN (SELECT DISTINCT customer_id FROM pg_temp.import_order_lines)"));
        assert!(!h.contains("$3") && !u.contains("$2"));
    }

    #[test]
    fn a_line_in_binary_copy_form() {
        let line = ImportOrderLine {
            customer_id: 7,
            order_ref: "A".into(),
            line_no: 2,
            ordered_on: "2000-01-03".parse().unwrap(),
            category: None,
            quantity: 1,
            amount: patron_domain::Money(250),
            cost: patron_domain::Money(-5),
        };
        let mut buf = Vec::new();
        encode_line(&mut buf, &line);
        let mut want = vec![0, 8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 1, b'A'];
        want.extend([0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 2]);
        want.extend([0xff, 0xff, 0xff, 0xff]);
        want.extend([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 1]);
        want.extend([0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0, 250]);
        want.extend([0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfb]);
        assert_eq!(buf, want);
    }
}
