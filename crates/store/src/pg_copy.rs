//! PostgreSQL's bulk path for order imports: each batch goes to a temporary staging table with
//! one binary `COPY ... FROM STDIN`, then into `order_lines` with ONE set-based
//! `INSERT ... SELECT ... ON CONFLICT DO NOTHING` (a line whose natural key is stored is skipped,
//! exactly as the multi-row statements did), and the status rule of orders runs as one statement
//! pair over the batch's customers. Multi-row `INSERT`s of 500 lines made PostgreSQL parse, plan
//! and bind 4,000 parameters per statement (38,000 rows/s for 1 M lines); COPY hands it the rows
//! in its own format.
//!
//! Customers created by an import go in the same way, set-based: one statement per batch that
//! takes every column as an array (see [`import_customers`]).
//!
//! SQLite keeps the multi-row path of `import.rs`.

use sqlx::PgConnection;

use super::{ImportCustomer, ImportOrderLine};

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

/// The batch's customers that are not in `customers`: a set-based stand-in for the foreign key's
/// per-row check while a bulk load has set the key aside (see
/// `Store::set_aside_order_date_index`).
const UNKNOWN_CUSTOMER: &str = "SELECT s.customer_id FROM (SELECT DISTINCT customer_id FROM \
     pg_temp.import_order_lines) s WHERE NOT EXISTS (SELECT 1 FROM customers c WHERE c.id = s.customer_id) LIMIT 1";

/// Whether `order_lines` has its foreign key to `customers` now.
const HAS_CUSTOMER_KEY: &str = "SELECT EXISTS (SELECT 1 FROM pg_constraint \
     WHERE conrelid = to_regclass('order_lines') AND conname = 'order_lines_customer_id_fkey')";

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

    // Without the foreign key (a bulk load set it aside) its check runs here, once per batch
    // over the batch's distinct customers, with the error the key would have raised. Measured
    // with psql on 1 M lines into an empty table: the per-row key check took 6.7 of the
    // insert's 10.7 s.
    let (keyed,): (bool,) = sqlx::query_as(HAS_CUSTOMER_KEY)
        .fetch_one(&mut *conn)
        .await?;
    if !keyed {
        if let Some((id,)) = sqlx::query_as::<_, (i64,)>(UNKNOWN_CUSTOMER)
            .fetch_optional(&mut *conn)
            .await?
        {
            return Err(sqlx::Error::Protocol(format!(
                "insert into order_lines violates the foreign key to customers: customer {id} does not exist"
            )));
        }
    }

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

/// Inserts the customers of `rows` whose number is not stored yet, inside the caller's
/// transaction, each with its 'created' history row; returns how many were inserted. One
/// statement for the whole batch: every column goes as one array parameter, `unnest` turns them
/// back into rows (in `rows` order, so new customers are numbered as the file meets them) and
/// the history rows come from the insert's `RETURNING`. Measured on 332,646 new customers: the
/// multi-row statements of 200 rows (27 parameters each) and the history's statements of 500
/// took 12.4 s in the server alone.
pub(crate) async fn import_customers(
    conn: &mut PgConnection,
    rows: &[ImportCustomer],
    at: chrono::DateTime<chrono::Utc>,
    by: &str,
) -> Result<u64, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    // Column by column: the texts, then the integers, as `unnest` below lists them (the values
    // `bind_customer!` binds).
    let n = rows.len();
    let mut text: Vec<Vec<Option<String>>> = (0..19).map(|_| Vec::with_capacity(n)).collect();
    let mut int: Vec<Vec<Option<i64>>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
    let mut opt_out: Vec<bool> = Vec::with_capacity(n);
    for r in rows {
        let c = &r.data;
        let (pk, ek, nk) = crate::customers::search_keys(c);
        for (i, v) in [
            Some(r.number.clone()),
            Some(c.name.clone()),
            c.company.clone(),
            c.industry.clone(),
            c.region.clone(),
            c.address.clone(),
            c.phone.clone(),
            c.fax.clone(),
            c.email.clone(),
            c.awards.clone(),
            c.source.clone(),
            Some(serde_json::to_string(&c.tags).expect("tags serialize")),
            Some(serde_json::to_string(&c.custom_fields).expect("custom fields serialize")),
            Some(c.status.as_str().to_string()),
            Some(c.loyalty.as_str().to_string()),
            c.credit_rating.clone(),
            pk,
            ek,
            nk,
        ]
        .into_iter()
        .enumerate()
        {
            text[i].push(v);
        }
        for (i, v) in [
            c.employees,
            c.registered_capital.map(patron_domain::Money::cents),
            c.owner_id,
            c.credit_limit.map(patron_domain::Money::cents),
            c.referred_by,
        ]
        .into_iter()
        .enumerate()
        {
            int[i].push(v);
        }
        opt_out.push(c.marketing_opt_out);
    }
    let sql = format!(
        "WITH new AS (INSERT INTO customers ({cols}, created_at, updated_at) \
         SELECT number, name, company, industry, region, address, phone, fax, email, employees, \
         registered_capital_cents, awards, source, tags::jsonb, custom_fields::jsonb, status, loyalty, \
         owner_id, credit_rating, credit_limit_cents, marketing_opt_out, referred_by, phone_key, \
         email_key, name_key, $25, $25 \
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], \
         $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[], \
         $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[], \
         $20::int8[], $21::int8[], $22::int8[], $23::int8[], $24::int8[], $26::bool[]) \
         WITH ORDINALITY AS u(number, name, company, industry, region, address, phone, fax, \
         email, awards, source, tags, custom_fields, status, loyalty, credit_rating, phone_key, \
         email_key, name_key, employees, registered_capital_cents, owner_id, credit_limit_cents, \
         referred_by, marketing_opt_out, ord) \
         ORDER BY ord ON CONFLICT (number) DO NOTHING RETURNING id), \
         history AS (INSERT INTO customer_history (customer_id, changed_at, changed_by, field, \
         old_value, new_value) SELECT id, $25, $27, 'created', NULL, 'import' FROM new) \
         SELECT COUNT(*) FROM new",
        cols = crate::customers::CUSTOMER_WRITE_COLUMNS
    );
    let mut q = sqlx::query_as::<_, (i64,)>(&sql);
    for col in &text {
        q = q.bind(col);
    }
    for col in &int {
        q = q.bind(col);
    }
    let (inserted,) = q
        .bind(at)
        .bind(&opt_out)
        .bind(by)
        .fetch_one(&mut *conn)
        .await?;
    Ok(inserted as u64)
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
