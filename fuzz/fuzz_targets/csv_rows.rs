//! CSV import rows (customers, orders, interactions) with header mapping, through
//! `patron_exchange::parse_rows`, the import's own reader.
//!
//! Input: the first byte picks the entity (`% 3`: customers, orders, interactions) and, when bit
//! 2 is set, the first line holds `--map` specs separated by `;`; the rest is the file.
//!
//! Properties:
//! - no panic, whatever the bytes;
//! - every row error carries the row's line (>= 2: line 1 is the header) and, when it names a
//!   column, that is one of the file's headers (or the name of a required field no column holds);
//! - rows come in file order;
//! - every good row, written back as canonical CSV and parsed again, gives the same record
//!   (parsing is idempotent: trimming and normalisation do not change a second time).
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_domain::CustomValue;
use patron_exchange::{parse_rows, Entity, InputFormat, Record};

const CUSTOMER_FIELDS: &[&str] = &[
    "number",
    "name",
    "company",
    "industry",
    "region",
    "address",
    "phone",
    "fax",
    "email",
    "employees",
    "registered_capital",
    "awards",
    "source",
    "tags",
    "status",
    "loyalty",
    "credit_rating",
    "credit_limit",
    "marketing_opt_out",
    "referred_by",
];
const ORDER_FIELDS: &[&str] = &[
    "customer",
    "order_ref",
    "line_no",
    "date",
    "amount",
    "cost",
    "category",
    "quantity",
];
const INTERACTION_FIELDS: &[&str] = &[
    "customer",
    "external_id",
    "kind",
    "occurred_at",
    "by",
    "text",
];

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn money(m: &Option<patron_domain::Money>) -> String {
    m.map(|m| m.to_string()).unwrap_or_default()
}

/// Writes good records back as a canonical file (header + one line each), plus the `--map`
/// specs its custom-field columns need.
fn canonical(entity: Entity, records: &[&Record]) -> (Vec<u8>, Vec<String>) {
    let mut custom: Vec<String> = Vec::new();
    for r in records {
        if let Record::Customer { data, .. } = r {
            for k in data.custom_fields.keys() {
                if !custom.contains(k) {
                    custom.push(k.clone());
                }
            }
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = match entity {
        Entity::Customers => CUSTOMER_FIELDS,
        Entity::Orders => ORDER_FIELDS,
        Entity::Interactions => INTERACTION_FIELDS,
    }
    .iter()
    .map(|s| s.to_string())
    .collect();
    let maps: Vec<String> = custom
        .iter()
        .enumerate()
        .map(|(i, k)| format!("custom column {i}=custom.{k}"))
        .collect();
    header.extend((0..custom.len()).map(|i| format!("custom column {i}")));
    w.write_record(&header).unwrap();
    for r in records {
        let row: Vec<String> = match r {
            Record::Customer {
                number,
                referred_by,
                data: c,
            } => {
                let mut row = vec![
                    number.clone(),
                    c.name.clone(),
                    opt(&c.company),
                    opt(&c.industry),
                    opt(&c.region),
                    opt(&c.address),
                    opt(&c.phone),
                    opt(&c.fax),
                    opt(&c.email),
                    c.employees.map(|n| n.to_string()).unwrap_or_default(),
                    money(&c.registered_capital),
                    opt(&c.awards),
                    opt(&c.source),
                    c.tags.join(";"),
                    c.status.to_string(),
                    c.loyalty.to_string(),
                    opt(&c.credit_rating),
                    money(&c.credit_limit),
                    c.marketing_opt_out.to_string(),
                    opt(referred_by),
                ];
                for k in &custom {
                    row.push(match c.custom_fields.get(k) {
                        None => String::new(),
                        Some(CustomValue::Number(n)) => n.to_string(),
                        Some(CustomValue::Date(d)) => d.format("%Y-%m-%d").to_string(),
                        Some(CustomValue::Text(t)) => t.clone(),
                        Some(other) => panic!("an import made a {other:?} custom value"),
                    });
                }
                row
            }
            Record::OrderLine {
                customer,
                order_ref,
                line_no,
                date,
                line,
            } => vec![
                customer.clone(),
                order_ref.clone(),
                line_no.to_string(),
                date.format("%Y-%m-%d").to_string(),
                line.amount.to_string(),
                line.cost.to_string(),
                opt(&line.category),
                line.quantity.to_string(),
            ],
            Record::Interaction {
                customer,
                external_id,
                kind,
                occurred_at,
                by,
                text,
            } => vec![
                customer.clone(),
                opt(external_id),
                kind.to_string(),
                occurred_at.to_rfc3339(),
                opt(by),
                text.clone(),
            ],
        };
        w.write_record(&row).unwrap();
    }
    (w.into_inner().unwrap(), maps)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let entity = [Entity::Customers, Entity::Orders, Entity::Interactions][usize::from(first % 3)];
    let (maps, file): (Vec<String>, &[u8]) = if first & 4 != 0 {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let Ok(line) = std::str::from_utf8(&rest[..end]) else {
            return;
        };
        let maps = line
            .split(';')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        (maps, rest.get(end + 1..).unwrap_or_default())
    } else {
        (Vec::new(), rest)
    };
    let Ok(rows) = parse_rows(entity, InputFormat::Csv, &maps, "in.csv", file) else {
        return;
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(file);
    let headers: Vec<String> = rdr
        .byte_records()
        .next()
        .and_then(Result::ok)
        .map(|r| {
            r.iter()
                .map(|h| String::from_utf8_lossy(h).into_owned())
                .collect()
        })
        .unwrap_or_default();
    let fields = match entity {
        Entity::Customers => CUSTOMER_FIELDS,
        Entity::Orders => ORDER_FIELDS,
        Entity::Interactions => INTERACTION_FIELDS,
    };
    let mut last = 1;
    let lone_cr =
        file.windows(2).any(|w| w[0] == b'\r' && w[1] != b'\n') || file.last() == Some(&b'\r');
    for r in &rows {
        // Non-decreasing, and after the header: but a lone carriage return ends a record and
        // not a line (the csv crate counts line feeds), so records can share a line number,
        // the header's too (known, bench/README.md).
        let first = if lone_cr { 1 } else { 2 };
        assert!(
            r.line >= last.max(first),
            "rows out of order or on the header line: {rows:?}"
        );
        last = r.line;
        if let Err(e) = &r.record {
            assert_eq!(e.line, r.line);
            assert!(!e.reason.is_empty());
            if let Some(c) = &e.column {
                assert!(
                    headers.contains(c) || fields.contains(&c.as_str()),
                    "error names column {c:?}, not a header {headers:?} nor a field"
                );
            }
        }
    }
    let good: Vec<&Record> = rows.iter().filter_map(|r| r.record.as_ref().ok()).collect();
    if good.is_empty() {
        return;
    }
    let (again, maps) = canonical(entity, &good);
    let reparsed =
        parse_rows(entity, InputFormat::Csv, &maps, "again.csv", &again).unwrap_or_else(|e| {
            panic!(
                "canonical file refused: {e}\n{}",
                String::from_utf8_lossy(&again)
            )
        });
    let reparsed: Vec<&Record> = reparsed
        .iter()
        .map(|r| {
            r.record.as_ref().unwrap_or_else(|e| {
                panic!(
                    "canonical row refused: {e}\n{}",
                    String::from_utf8_lossy(&again)
                )
            })
        })
        .collect();
    assert_eq!(good, reparsed, "{}", String::from_utf8_lossy(&again));
});
