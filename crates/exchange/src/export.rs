//! Exports: customers and orders as CSV or JSON (one array), streamed page by page.

use std::io::Write;

use patron_store::{CustomerFilter, CustomerSort, OrderFilter, PageRequest, Store, Visibility};

use crate::cells::safe;
use crate::ImportError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
}

const CUSTOMER_HEADER: [&str; 24] = [
    "id",
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
    "owner_id",
    "credit_rating",
    "credit_limit",
    "marketing_opt_out",
    "referred_by",
    "custom_fields",
    "created_at",
];

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// The bytes a CSV writer has buffered.
fn drain(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ImportError> {
    w.into_inner()
        .map_err(|e| ImportError::Io(std::io::Error::other(e.to_string())))
}

/// Writes every live customer matching `filter`; returns how many.
pub async fn export_customers(
    store: &Store,
    filter: &CustomerFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, ImportError> {
    export_visible_customers(
        store,
        filter,
        &Visibility::All,
        CustomerSort::Id,
        format,
        out,
    )
    .await
}

/// Writes every live customer matching `filter` that `visible` lets a user see, in `sort`
/// order (text cells neutralised against spreadsheet formulas); returns how many.
pub async fn export_visible_customers<W: Write + ?Sized>(
    store: &Store,
    filter: &CustomerFilter,
    visible: &Visibility,
    sort: CustomerSort,
    format: ExportFormat,
    out: &mut W,
) -> Result<u64, ImportError> {
    let mut page = PageRequest {
        limit: Some(500),
        after: None,
    };
    let mut n = 0u64;
    let mut csv_w = (format == ExportFormat::Csv).then(|| csv::Writer::from_writer(Vec::new()));
    if let Some(w) = csv_w.as_mut() {
        w.write_record(CUSTOMER_HEADER)
            .map_err(|e| ImportError::Io(e.into()))?;
    } else {
        out.write_all(b"[")?;
    }
    loop {
        let p = store
            .list_visible_customers(filter, visible, sort, &page)
            .await?;
        for c in &p.items {
            match csv_w.as_mut() {
                Some(w) => {
                    let d = &c.data;
                    // Text cells a spreadsheet would run as formulas get a `'` (see `cells`).
                    w.write_record([
                        c.id.to_string(),
                        safe(opt(&d.number)),
                        safe(d.name.clone()),
                        safe(opt(&d.company)),
                        safe(opt(&d.industry)),
                        safe(opt(&d.region)),
                        safe(opt(&d.address)),
                        safe(opt(&d.phone)),
                        safe(opt(&d.fax)),
                        safe(opt(&d.email)),
                        opt(&d.employees),
                        opt(&d.registered_capital),
                        safe(opt(&d.awards)),
                        safe(opt(&d.source)),
                        safe(d.tags.join(";")),
                        d.status.to_string(),
                        d.loyalty.to_string(),
                        opt(&d.owner_id),
                        safe(opt(&d.credit_rating)),
                        opt(&d.credit_limit),
                        d.marketing_opt_out.to_string(),
                        opt(&d.referred_by),
                        if d.custom_fields.is_empty() {
                            String::new()
                        } else {
                            serde_json::to_string(&d.custom_fields).expect("serializes")
                        },
                        c.created_at.to_rfc3339(),
                    ])
                    .map_err(|e| ImportError::Io(e.into()))?;
                }
                None => {
                    if n > 0 {
                        out.write_all(b",\n")?;
                    }
                    serde_json::to_writer(&mut *out, c).map_err(|e| ImportError::Io(e.into()))?;
                }
            }
            n += 1;
        }
        if let Some(w) = csv_w.take() {
            out.write_all(&drain(w)?)?;
            csv_w = Some(csv::Writer::from_writer(Vec::new()));
        }
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    if csv_w.is_none() {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    Ok(n)
}

/// An order of a JSON export: the customer's number first (what the user's own data knows the
/// customer by), then the order with the internal `customer_id`.
#[derive(serde::Serialize)]
struct JsonOrder<'a> {
    customer_number: &'a str,
    #[serde(flatten)]
    order: &'a patron_domain::Order,
}

/// Writes every order line (one row per line, with the customer's number) matching `filter`;
/// as JSON, one object per order with its `customer_number`. Amounts are exact decimals of
/// their cents (`74.02`), in CSV and JSON alike.
pub async fn export_orders(
    store: &Store,
    filter: &OrderFilter,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<u64, ImportError> {
    let mut page = PageRequest {
        limit: Some(500),
        after: None,
    };
    let mut n = 0u64;
    let mut numbers: std::collections::HashMap<i64, String> = std::collections::HashMap::new();
    let mut w = csv::Writer::from_writer(Vec::new());
    if format == ExportFormat::Csv {
        w.write_record([
            "customer",
            "order_ref",
            "line_no",
            "date",
            "category",
            "quantity",
            "amount",
            "cost",
        ])
        .map_err(|e| ImportError::Io(e.into()))?;
    } else {
        out.write_all(b"[")?;
    }
    loop {
        let p = store.list_orders(filter, &page).await?;
        for o in &p.items {
            if let std::collections::hash_map::Entry::Vacant(slot) = numbers.entry(o.customer_id) {
                slot.insert(
                    store
                        .customer(o.customer_id)
                        .await?
                        .data
                        .number
                        .unwrap_or_default(),
                );
            }
            if format == ExportFormat::Json {
                if n > 0 {
                    out.write_all(b",\n")?;
                }
                let row = JsonOrder {
                    customer_number: &numbers[&o.customer_id],
                    order: o,
                };
                serde_json::to_writer(&mut *out, &row).map_err(|e| ImportError::Io(e.into()))?;
                n += 1;
                continue;
            }
            for l in &o.lines {
                w.write_record([
                    safe(numbers[&o.customer_id].clone()),
                    safe(o.order_ref.clone()),
                    l.line_no.to_string(),
                    o.ordered_on.to_string(),
                    safe(opt(&l.category)),
                    l.quantity.to_string(),
                    l.amount.to_string(),
                    l.cost.to_string(),
                ])
                .map_err(|e| ImportError::Io(e.into()))?;
                n += 1;
            }
        }
        out.write_all(&drain(w)?)?;
        w = csv::Writer::from_writer(Vec::new());
        match p.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    if format == ExportFormat::Json {
        out.write_all(b"]\n")?;
    }
    out.flush()?;
    Ok(n)
}
