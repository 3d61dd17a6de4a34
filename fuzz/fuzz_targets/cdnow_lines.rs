//! The CDNOW transaction format (`customer date cds dollars`, or the sample's
//! `customer sample_id date cds dollars`), through `patron_exchange::parse_rows`.
//!
//! Properties:
//! - no panic, whatever the bytes;
//! - a row error carries its line (1..=lines in the file) and, when it names a column, one of
//!   the format's columns;
//! - a good row has a customer without (ASCII) whitespace or NUL, a line number >= 1 and a date in 1900-2200;
//! - the good rows written back as a master file (with its header line) parse to the same
//!   records.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_exchange::{parse_rows, Entity, InputFormat, Record};

const COLUMNS: &[&str] = &[
    "customer_id",
    "sample_id",
    "date",
    "number_of_cds",
    "dollar_value",
];

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = parse_rows(Entity::Orders, InputFormat::Cdnow, &[], "in.txt", data) else {
        return;
    };
    let lines = data.split(|&b| b == b'\n').count() as u64;
    let mut last = 0;
    let mut good = Vec::new();
    for r in &rows {
        assert!(
            r.line > last && r.line <= lines,
            "line {} of {lines}",
            r.line
        );
        last = r.line;
        match &r.record {
            Err(e) => {
                assert_eq!(e.line, r.line);
                assert!(!e.reason.is_empty());
                if let Some(c) = &e.column {
                    assert!(COLUMNS.contains(&c.as_str()), "column {c:?}");
                }
            }
            Ok(
                rec @ Record::OrderLine {
                    customer,
                    line_no,
                    date,
                    ..
                },
            ) => {
                assert!(
                    !customer.is_empty()
                        && !customer.contains(|c: char| c.is_ascii_whitespace() || c == '\0')
                );
                assert!(*line_no >= 1);
                let year = chrono::Datelike::year(date);
                assert!((1900..=2200).contains(&year), "{date}");
                good.push(rec);
            }
            Ok(other) => panic!("a CDNOW line gave {other:?}"),
        }
    }
    if good.is_empty() {
        return;
    }
    let mut again = String::from("customer_id date number_of_cds dollar_value\n");
    for r in &good {
        if let Record::OrderLine {
            customer,
            date,
            line,
            ..
        } = r
        {
            again.push_str(&format!(
                "{customer} {} {} {}\n",
                date.format("%Y%m%d"),
                line.quantity,
                line.amount
            ));
        }
    }
    let reparsed = parse_rows(
        Entity::Orders,
        InputFormat::Cdnow,
        &[],
        "again.txt",
        again.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("written back file refused: {e}\n{again}"));
    let reparsed: Vec<&Record> = reparsed
        .iter()
        .map(|r| r.record.as_ref().unwrap_or_else(|e| panic!("{e}\n{again}")))
        .collect();
    assert_eq!(good, reparsed, "{again}");
});
