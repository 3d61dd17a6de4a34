//! The population refresh's read of every order line in parts by customer range
//! (`Store::order_days_in_parts`: SQLite's C API on threads of its own, PostgreSQL's binary COPY)
//! gives exactly the lines of the row-by-row stream (`Store::for_each_order_day`), grouped by
//! customer in the same order, whatever the number of parts, with the as-of cut, on both
//! backends (PostgreSQL gives a customer's lines in the table's order, not by key).

use chrono::NaiveDate;
use patron_store::{backend_tests, OrderDay, Store};

backend_tests!(parts_read_what_the_stream_reads);

async fn parts_read_what_the_stream_reads(db: Store) {
    // Empty: one empty part.
    let parts = db
        .order_days_in_parts(None, 3, Vec::new, |p: &mut Vec<OrderDay>, l| p.push(l))
        .await
        .unwrap();
    assert_eq!(parts, vec![Vec::<OrderDay>::new()]);

    // Customers with gaps in their ids, lines out of key order on insert, dates across leap
    // years and before 1970, negative costs, a line after the as-of date.
    for i in 1..=9 {
        db.raw_execute(&format!(
            "INSERT INTO customers (id, number, name, status, loyalty, created_at, updated_at) \
             VALUES ({}, 'C{i}', 'Customer {i}', 'won', 'none', '2026-01-01', '2026-01-01')",
            i * 7
        ))
        .await
        .unwrap();
    }
    let dates = [
        "2024-02-29",
        "1969-12-31",
        "2000-03-01",
        "2026-11-30",
        "1999-12-31",
        "2023-01-01",
    ];
    let mut n = 0;
    for c in (1..=9).rev() {
        for k in (0..(c % 4 + 1)).rev() {
            n += 1;
            db.raw_execute(&format!(
                "INSERT INTO order_lines (customer_id, order_ref, line_no, ordered_on, category, quantity, amount_cents, cost_cents) \
                 VALUES ({}, 'R{}', {}, '{}', 'x', 1, {}, {})",
                c * 7,
                k % 2,
                k,
                dates[(c + k) % dates.len()],
                1000 * c + k,
                if k == 1 { -5 } else { 300 * c as i64 }
            ))
            .await
            .unwrap();
        }
    }
    for up_to in [None, Some(NaiveDate::from_ymd_opt(2025, 1, 1).unwrap())] {
        let mut want = Vec::new();
        let read = db
            .for_each_order_day(up_to, |c, d, a, k| want.push((c, d, a, k)))
            .await
            .unwrap();
        assert_eq!(read as usize, want.len());
        assert!(want.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(want.len() < n, up_to.is_some());
        for parts in [1, 2, 3, 8, 100] {
            let got = db
                .order_days_in_parts(up_to, parts, Vec::new, |p: &mut Vec<OrderDay>, l| p.push(l))
                .await
                .unwrap();
            assert!(got.len() <= parts);
            let got = got.concat();
            assert!(got.windows(2).all(|w| w[0].0 <= w[1].0), "{got:?}");
            let (mut got_sorted, mut want_sorted) = (got.clone(), want.clone());
            got_sorted.sort();
            want_sorted.sort();
            assert_eq!(got_sorted, want_sorted, "{parts} parts, up to {up_to:?}");
            if db.kind() == patron_store::BackendKind::Sqlite {
                assert_eq!(got, want, "{parts} parts, up to {up_to:?}");
            }
        }
    }
}
