//! The import driver: a reader thread parses the file into batches while the previous batch is
//! written; each batch is one transaction of idempotent inserts.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use patron_domain::CustomerInput;
use patron_store::{ImportCustomer, ImportInteraction, ImportOrderLine, Store};
use tokio::sync::mpsc;

use crate::columns::{parse_mapping, resolve, Entity, Field};
use crate::error::{ImportError, RowError};
use crate::rows::{
    customer_row, fnv1a, interaction_row, order_row, CustomerRow, InteractionRow, OrderRow,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// CSV with a header line.
    Csv,
    /// CDNOW transactions: `customer date(YYYYMMDD) cds dollars` (master file, optional header)
    /// or `customer sample_id date cds dollars` (the 1/10 sample), whitespace separated.
    Cdnow,
}

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub entity: Entity,
    pub format: InputFormat,
    /// `COLUMN=FIELD` mappings for columns whose names are not recognised.
    pub maps: Vec<String>,
    /// Store the good rows and write the bad ones (with their reason) to this CSV file.
    pub skip_bad: Option<PathBuf>,
    /// Rows per transaction.
    pub batch_rows: usize,
    /// Order lines gathered (over several batches) and sorted by their key before they are
    /// written, still `batch_rows` per transaction: see [`import_file`].
    pub sort_run_rows: usize,
    /// Create customers (by number) that orders or interactions refer to but that do not exist.
    pub create_customers: bool,
    /// Who the import is recorded as.
    pub by: String,
    /// Whose customers orders and interactions may be written onto (the importing user's
    /// scope); rows for other customers are rejected as unknown. All customers by default.
    pub scope: patron_store::Visibility,
    /// Cut each cell of a rejected row written to `skip_bad` to this many characters (with
    /// `…`): the web import keeps rejects files on the server, where one line of megabytes
    /// (an unbalanced quote swallows the rest of a file into one cell) must not stay whole. A
    /// cell that long fits no field, so nothing importable is lost. Whole cells by default.
    pub reject_cell_chars: Option<usize>,
    /// Keep the orders' date index up during a bulk order load (and on PostgreSQL the
    /// customers' secondary indexes during a bulk creation of customers) instead of setting
    /// them aside and building them at the end: slower, but the lists and the search stay fast
    /// for users working in the database meanwhile.
    pub keep_indexes: bool,
}

impl ImportOptions {
    pub fn new(entity: Entity, format: InputFormat) -> Self {
        ImportOptions {
            entity,
            format,
            maps: Vec::new(),
            skip_bad: None,
            batch_rows: 200_000,
            sort_run_rows: 2_000_000,
            create_customers: format == InputFormat::Cdnow,
            by: "import".into(),
            scope: patron_store::Visibility::All,
            reject_cell_chars: None,
            keep_indexes: false,
        }
    }
}

/// How far an import has come, for a progress bar.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub bytes: u64,
    pub total_bytes: u64,
    pub rows: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Data rows read.
    pub rows: u64,
    /// Rows newly stored.
    pub inserted: u64,
    /// Rows whose natural key was already stored (left as they were).
    pub already_present: u64,
    /// Rows written to the rejects file.
    pub rejected: u64,
    /// Customers created because orders or interactions referred to them.
    pub customers_created: u64,
}

enum Parsed {
    Customer(Box<CustomerRow>),
    Order(OrderRow, String, i32),
    Interaction(InteractionRow),
}

struct Row {
    line: u64,
    parsed: Result<Parsed, (Option<String>, String)>,
    /// The raw cells, kept only when rejects are written.
    raw: Vec<String>,
}

struct Batch {
    rows: Vec<Row>,
    bytes: u64,
}

/// Imports `path` into `store`. On a bad row without `skip_bad`, stops with
/// [`ImportError::BadRow`]: the batches before it are stored, the bad batch is not.
///
/// A bulk order import that adds at least as many lines as the table holds (decided at its
/// first full sort run) writes without the orders' date index (and on PostgreSQL without their
/// foreign key, checked per batch instead) and puts them back once at the end, also when the
/// import fails (see `Store::set_aside_order_date_index`). On PostgreSQL, an import whose first
/// batch of new customers at least doubles the table does the same with the customers' list
/// and search indexes (see `Store::set_aside_customer_indexes`).
pub async fn import_file(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    progress: impl Fn(Progress),
) -> Result<ImportReport, ImportError> {
    let mut index = SetAside::default();
    let result = import_rows(store, path, opts, progress, &mut index).await;
    // Both at once: each index build sorts on one core of the server.
    let (lines, customers) = tokio::join!(
        async {
            if index.set_aside {
                store.restore_order_date_index().await
            } else {
                Ok(())
            }
        },
        async {
            if index.customers_set_aside {
                store.restore_set_aside_indexes().await
            } else {
                Ok(())
            }
        }
    );
    lines?;
    customers?;
    result
}

/// What this import set aside: whether it has looked at the orders' date index yet, and set it
/// aside; the same for the customers' secondary indexes (PostgreSQL, decided at the first batch
/// that creates customers: see `Store::set_aside_customer_indexes`).
#[derive(Default)]
struct SetAside {
    decided: bool,
    set_aside: bool,
    customers_decided: bool,
    customers_set_aside: bool,
}

impl SetAside {
    /// Before a batch creates up to `new` customers: the first such batch decides whether the
    /// customers' secondary indexes are set aside for the rest of the import.
    async fn before_creating(
        &mut self,
        store: &Store,
        opts: &ImportOptions,
        new: usize,
    ) -> Result<(), ImportError> {
        if !self.customers_decided && new > 0 {
            self.customers_decided = true;
            if !opts.keep_indexes {
                self.customers_set_aside = store.set_aside_customer_indexes(new as u64).await?;
            }
        }
        Ok(())
    }
}

async fn import_rows(
    store: &Store,
    path: &Path,
    opts: &ImportOptions,
    progress: impl Fn(Progress),
    index: &mut SetAside,
) -> Result<ImportReport, ImportError> {
    let file_name = if crate::input::is_stdin(path) {
        crate::input::STDIN_NAME.to_string()
    } else {
        path.display().to_string()
    };
    let file_err = |message: String| ImportError::File {
        file: file_name.clone(),
        message,
    };
    if opts.format == InputFormat::Cdnow && opts.entity != Entity::Orders {
        return Err(file_err(
            "the CDNOW format holds orders only: use `patron import orders FILE --format cdnow`"
                .into(),
        ));
    }
    let maps = opts
        .maps
        .iter()
        .map(|m| parse_mapping(opts.entity, m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_err)?;
    // Read once, front to back: a pipe or standard input (`-`) has no size, and an empty one
    // is found empty by the reader below.
    let input = crate::input::open(path)?;
    let file = input.reader;
    let total_bytes = input.size.unwrap_or(0);
    if input.size == Some(0) {
        return Err(file_err(match opts.format {
            InputFormat::Csv => "is empty (expected a header line and rows)".into(),
            InputFormat::Cdnow => "is empty (expected lines of: customer date cds dollars)".into(),
        }));
    }
    let mut rejects = match &opts.skip_bad {
        Some(p) => Some(csv::Writer::from_path(p).map_err(|e| ImportError::File {
            file: p.display().to_string(),
            message: format!("cannot write rejects: {e}"),
        })?),
        None => None,
    };

    // Room for a whole sort run and two batches more: the reader goes on parsing while a run is
    // written (with room for only two batches it waited, and the import ran on one core).
    let room = (opts.sort_run_rows / opts.batch_rows.max(1)).clamp(1, 64) + 2;
    let (tx, mut rx) = mpsc::channel::<Result<Batch, ImportError>>(room);
    let reader_opts = opts.clone();
    let reader_name = file_name.clone();
    let keep_raw = opts.skip_bad.is_some();
    let reader = tokio::task::spawn_blocking(move || {
        let mut sink = |b: Batch| tx.blocking_send(Ok(b)).is_ok();
        let result = match reader_opts.format {
            InputFormat::Csv => {
                read_csv(file, &reader_name, &reader_opts, &maps, keep_raw, &mut sink)
            }
            InputFormat::Cdnow => read_cdnow(file, &reader_name, &reader_opts, keep_raw, &mut sink),
        };
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(e));
        }
    });

    let mut report = ImportReport::default();
    let mut ids: HashMap<String, i64> = HashMap::new();
    let mut header_written = false;
    // Order lines wait here until a sort run is full. Files come sorted by date while the table
    // is keyed customer first; a batch sorted alone still touched nearly every page of a large
    // table, each of its transactions rewriting them all. Runs sorted by key and written as
    // consecutive key ranges touch each page about once per run (10 million lines: measured in
    // bench/README.md). A bad row, or the end of the file, writes what waits first.
    let mut pending: Vec<ImportOrderLine> = Vec::new();
    let mut pause = PauseHook::from_env();
    while let Some(batch) = rx.recv().await {
        let batch = match batch {
            Ok(b) => b,
            Err(e) => {
                write_orders(store, &mut pending, opts, &mut report, &mut pause, index).await?;
                return Err(e);
            }
        };
        report.rows += batch.rows.len() as u64;
        let mut good: Vec<(u64, Parsed, Vec<String>)> = Vec::with_capacity(batch.rows.len());
        let mut bad: Vec<(Vec<String>, RowError)> = Vec::new();
        for row in batch.rows {
            let line = row.line;
            match row.parsed {
                Ok(p) => good.push((line, p, row.raw)),
                Err((column, reason)) => {
                    let e = RowError {
                        file: file_name.clone(),
                        line,
                        column,
                        reason,
                    };
                    bad.push((row.raw, e));
                }
            }
        }
        // Customers referred to by number: find them, create them if asked, else reject the row.
        // In order of first appearance, so created customers are numbered as the file meets them.
        let mut seen = std::collections::HashSet::new();
        let wanted: Vec<String> = good
            .iter()
            .filter_map(|(_, p, _)| match p {
                Parsed::Order(o, ..) => Some(&o.customer),
                Parsed::Interaction(i) => Some(&i.customer),
                Parsed::Customer(c) => c.referred_by.as_ref(),
            })
            .filter(|n| !ids.contains_key(*n) && seen.insert(*n))
            .cloned()
            .collect();
        if !wanted.is_empty() {
            ids.extend(store.customer_ids_within(&wanted, &opts.scope).await?);
            let missing: Vec<&String> = wanted.iter().filter(|n| !ids.contains_key(*n)).collect();
            if opts.create_customers && opts.entity != Entity::Customers && !missing.is_empty() {
                let new: Vec<ImportCustomer> = missing
                    .iter()
                    .map(|n| ImportCustomer {
                        number: (*n).clone(),
                        data: CustomerInput {
                            name: format!("Customer {n}"),
                            source: Some("import".into()),
                            status: patron_domain::CustomerStatus::Won,
                            ..Default::default()
                        },
                    })
                    .collect();
                index.before_creating(store, opts, new.len()).await?;
                report.customers_created += store.import_customers(&new, &opts.by).await?;
                let missing: Vec<String> = missing.into_iter().cloned().collect();
                ids.extend(store.customer_ids_within(&missing, &opts.scope).await?);
            }
        }
        let mut customers = Vec::new();
        let mut orders = Vec::new();
        let mut interactions = Vec::new();
        for (line, p, raw) in good {
            let unknown = |number: &str, column: &str| {
                RowError {
                file: file_name.clone(),
                line,
                column: Some(column.to_string()),
                reason: format!("customer '{}' does not exist; import the customers first, or rerun with --create-customers", patron_domain::excerpt(number)),
            }
            };
            match p {
                Parsed::Customer(c) => {
                    let c = *c;
                    let mut data = c.data;
                    if let Some(r) = &c.referred_by {
                        match ids.get(r) {
                            Some(id) => data.referred_by = Some(*id),
                            None => {
                                bad.push((
                                    raw.clone(),
                                    RowError {
                                        file: file_name.clone(),
                                        line,
                                        column: Some("referred_by".into()),
                                        reason: format!(
                                            "customer '{}' does not exist (import referrers first)",
                                            patron_domain::excerpt(r)
                                        ),
                                    },
                                ));
                                continue;
                            }
                        }
                    }
                    customers.push(ImportCustomer {
                        number: c.number,
                        data,
                    });
                }
                Parsed::Order(o, order_ref, line_no) => match ids.get(&o.customer) {
                    Some(&customer_id) => orders.push(ImportOrderLine {
                        customer_id,
                        order_ref,
                        line_no,
                        ordered_on: o.date,
                        category: o.line.category,
                        quantity: o.line.quantity,
                        amount: o.line.amount,
                        cost: o.line.cost,
                    }),
                    None => bad.push((raw.clone(), unknown(&o.customer, "customer"))),
                },
                Parsed::Interaction(i) => match ids.get(&i.customer) {
                    Some(&customer_id) => interactions.push(ImportInteraction {
                        customer_id,
                        external_id: i.external_id.unwrap_or_else(|| {
                            format!(
                                "{}:{:016x}",
                                i.occurred_at.format("%Y%m%dT%H%M%S"),
                                fnv1a(i.text.as_bytes())
                            )
                        }),
                        kind: i.kind,
                        occurred_at: i.occurred_at,
                        by: i.by,
                        text: i.text,
                    }),
                    None => bad.push((raw.clone(), unknown(&i.customer, "customer"))),
                },
            }
        }
        if !bad.is_empty() {
            bad.sort_by_key(|(_, e)| e.line);
            match rejects.as_mut() {
                None => {
                    reader.abort();
                    write_orders(store, &mut pending, opts, &mut report, &mut pause, index).await?;
                    return Err(ImportError::BadRow(bad.swap_remove(0).1, report.inserted));
                }
                Some(w) => {
                    if !header_written {
                        w.write_record(["line", "error", "row"])
                            .map_err(|e| ImportError::Io(e.into()))?;
                        header_written = true;
                    }
                    for (raw, e) in &bad {
                        let reason = match &e.column {
                            Some(c) => {
                                format!("column {}: {}", patron_domain::excerpt(c), e.reason)
                            }
                            None => e.reason.clone(),
                        };
                        w.write_record([
                            e.line.to_string(),
                            crate::cells::safe(reason),
                            crate::cells::safe(match opts.reject_cell_chars {
                                None => raw.join(","),
                                Some(n) => {
                                    raw.iter().map(|c| cut(c, n)).collect::<Vec<_>>().join(",")
                                }
                            }),
                        ])
                        .map_err(|e| ImportError::Io(e.into()))?;
                    }
                    report.rejected += bad.len() as u64;
                }
            }
        }
        if !orders.is_empty() {
            pending.append(&mut orders);
            if pending.len() >= opts.sort_run_rows {
                write_orders(store, &mut pending, opts, &mut report, &mut pause, index).await?;
            }
        }
        let n = (customers.len() + interactions.len()) as u64;
        let inserted = if !customers.is_empty() {
            index.before_creating(store, opts, customers.len()).await?;
            store.import_customers(&customers, &opts.by).await?
        } else if !interactions.is_empty() {
            store.import_interactions(&interactions).await?
        } else {
            0
        };
        report.inserted += inserted;
        report.already_present += n - inserted;
        if n > 0 {
            pause.committed().await;
        }
        progress(Progress {
            bytes: batch.bytes,
            total_bytes,
            rows: report.rows,
        });
    }
    write_orders(store, &mut pending, opts, &mut report, &mut pause, index).await?;
    reader
        .await
        .map_err(|e| ImportError::Io(std::io::Error::other(e)))?;
    if let Some(mut w) = rejects {
        w.flush()?;
    }
    if report.rows == 0 {
        return Err(file_err("has no data rows".into()));
    }
    Ok(report)
}

/// `cell` cut to `n` characters (with `…` when cut), its text otherwise unchanged.
fn cut(cell: &str, n: usize) -> std::borrow::Cow<'_, str> {
    match cell.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &cell[..i]).into(),
        None => cell.into(),
    }
}

/// Writes the waiting order lines sorted by key, `batch_rows` per transaction, and counts them.
async fn write_orders(
    store: &Store,
    pending: &mut Vec<ImportOrderLine>,
    opts: &ImportOptions,
    report: &mut ImportReport,
    pause: &mut PauseHook,
    index: &mut SetAside,
) -> Result<(), ImportError> {
    if !index.decided && !pending.is_empty() {
        // The first run decides: only a full one means a bulk load.
        index.decided = true;
        if pending.len() >= opts.sort_run_rows && !opts.keep_indexes {
            index.set_aside = store
                .set_aside_order_date_index(pending.len() as u64)
                .await?;
        }
    }
    let sorted = patron_store::in_key_order(pending);
    for chunk in sorted.chunks(opts.batch_rows.max(1)) {
        let inserted = store.import_sorted_order_lines(chunk).await?;
        report.inserted += inserted;
        report.already_present += chunk.len() as u64 - inserted;
        pause.committed().await;
    }
    drop(sorted);
    pending.clear();
    Ok(())
}

/// TEST-ONLY hook, for `crates/cli/tests/import_kill.rs`: with the environment variable
/// `PATRON_TEST_PAUSE_AFTER_BATCHES=N`, the import stops for good right after its N-th
/// committed batch (a transaction of rows: order lines, customers or interactions), once it
/// has printed `patron-test: paused after N committed batches` on standard error, so a test
/// can kill it at a known point. Not for use outside tests: the import never finishes.
struct PauseHook {
    after: Option<u64>,
    committed: u64,
}

impl PauseHook {
    fn from_env() -> Self {
        PauseHook {
            after: std::env::var("PATRON_TEST_PAUSE_AFTER_BATCHES")
                .ok()
                .and_then(|v| v.trim().parse().ok()),
            committed: 0,
        }
    }

    /// Counts a committed batch; pauses forever at the N-th.
    async fn committed(&mut self) {
        self.committed += 1;
        if self.after == Some(self.committed) {
            eprintln!(
                "patron-test: paused after {} committed batches",
                self.committed
            );
            std::future::pending::<()>().await;
        }
    }
}

/// One data row of a file, parsed and checked but not stored (see [`parse_rows`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedRow {
    /// 1-based line number in the file.
    pub line: u64,
    pub record: Result<Record, RowError>,
}

/// What a good row holds. Customers are still referred to by number.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Customer {
        number: String,
        referred_by: Option<String>,
        data: Box<CustomerInput>,
    },
    OrderLine {
        customer: String,
        /// The order's reference; the order date when the file has none.
        order_ref: String,
        line_no: i32,
        date: chrono::NaiveDate,
        line: patron_domain::OrderLineInput,
    },
    Interaction {
        customer: String,
        external_id: Option<String>,
        kind: patron_domain::InteractionKind,
        occurred_at: chrono::DateTime<chrono::Utc>,
        by: Option<String>,
        text: String,
    },
}

impl From<Parsed> for Record {
    fn from(p: Parsed) -> Self {
        match p {
            Parsed::Customer(c) => Record::Customer {
                number: c.number,
                referred_by: c.referred_by,
                data: Box::new(c.data),
            },
            Parsed::Order(o, order_ref, line_no) => Record::OrderLine {
                customer: o.customer,
                order_ref,
                line_no,
                date: o.date,
                line: o.line,
            },
            Parsed::Interaction(i) => Record::Interaction {
                customer: i.customer,
                external_id: i.external_id,
                kind: i.kind,
                occurred_at: i.occurred_at,
                by: i.by,
                text: i.text,
            },
        }
    }
}

/// Parses a whole file held in memory exactly as [`import_file`] reads it (header mapping,
/// `maps` as `--map COLUMN=FIELD`, per-row checks), without a database: a file-level problem
/// (no header, an unknown column, a bad mapping) is an error, a bad row is a [`RowError`] in
/// its [`ParsedRow`]. Whether referred customers exist is not checked here.
pub fn parse_rows(
    entity: Entity,
    format: InputFormat,
    maps: &[String],
    name: &str,
    input: &[u8],
) -> Result<Vec<ParsedRow>, ImportError> {
    let file_err = |message: String| ImportError::File {
        file: name.to_string(),
        message,
    };
    if format == InputFormat::Cdnow && entity != Entity::Orders {
        return Err(file_err("the CDNOW format holds orders only".into()));
    }
    let maps = maps
        .iter()
        .map(|m| parse_mapping(entity, m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_err)?;
    if input.is_empty() {
        return Err(file_err("is empty".into()));
    }
    let opts = ImportOptions::new(entity, format);
    let mut out = Vec::new();
    let mut sink = |b: Batch| {
        out.extend(b.rows.into_iter().map(|r| {
            ParsedRow {
                line: r.line,
                record: r
                    .parsed
                    .map(Record::from)
                    .map_err(|(column, reason)| RowError {
                        file: name.to_string(),
                        line: r.line,
                        column,
                        reason,
                    }),
            }
        }));
        true
    };
    match format {
        InputFormat::Csv => read_csv(input, name, &opts, &maps, false, &mut sink)?,
        InputFormat::Cdnow => read_cdnow(input, name, &opts, false, &mut sink)?,
    }
    Ok(out)
}

/// Numbers the lines of each order: the k-th row of one (customer, order) is line k. Without an
/// order reference, an order is a customer's purchases of one day (the literature's convention),
/// referenced by its date. Keys are hashes so memory stays small on files of millions of rows.
#[derive(Default)]
struct LineNumbers(HashMap<u64, i32>);

impl LineNumbers {
    fn next(&mut self, customer: &str, order_ref: &str) -> i32 {
        let mut key = Vec::with_capacity(customer.len() + order_ref.len() + 1);
        key.extend_from_slice(customer.as_bytes());
        key.push(0);
        key.extend_from_slice(order_ref.as_bytes());
        let n = self.0.entry(fnv1a(&key)).or_insert(0);
        *n += 1;
        *n
    }

    fn order(&mut self, o: OrderRow) -> Parsed {
        let order_ref = o.order_ref.clone().unwrap_or_else(|| o.date.to_string());
        let counted = self.next(&o.customer, &order_ref);
        let line_no = o.line_no.unwrap_or(counted);
        Parsed::Order(o, order_ref, line_no)
    }
}

/// Where the readers hand their batches; false stops reading (the receiver is gone).
type Sink<'a> = &'a mut dyn FnMut(Batch) -> bool;

fn send(sink: Sink<'_>, rows: &mut Vec<Row>, bytes: u64, cap: usize) -> bool {
    let batch = Batch {
        rows: std::mem::replace(rows, Vec::with_capacity(cap)),
        bytes,
    };
    sink(batch)
}

fn read_csv(
    file: impl Read,
    name: &str,
    opts: &ImportOptions,
    maps: &[(String, Field)],
    keep_raw: bool,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    let file_err = |message: String| ImportError::File {
        file: name.to_string(),
        message,
    };
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let mut rec = csv::ByteRecord::new();
    if !rdr
        .read_byte_record(&mut rec)
        .map_err(|e| file_err(format!("line 1: {e}")))?
    {
        return Err(file_err(
            "is empty (expected a header line and rows)".into(),
        ));
    }
    let headers: Vec<String> = rec
        .iter()
        .enumerate()
        .map(|(i, h)| {
            String::from_utf8(h.to_vec()).map_err(|_| {
                file_err(format!(
                    "line 1: header of column {} is not valid UTF-8 (save the file as UTF-8)",
                    i + 1
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    let fields =
        resolve(opts.entity, &headers, maps).map_err(|m| file_err(format!("line 1: {m}")))?;
    let cap = opts.batch_rows.max(1);
    let mut rows = Vec::with_capacity(cap);
    let mut numbers = LineNumbers::default();
    loop {
        match rdr.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                rows.push(Row {
                    line,
                    parsed: Err((None, format!("unreadable CSV: {e}"))),
                    raw: Vec::new(),
                });
                continue;
            }
        }
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        if rec.len() == 1 && rec.get(0).is_some_and(|c| c.is_empty()) {
            continue; // blank line
        }
        let raw = if keep_raw {
            rec.iter()
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect()
        } else {
            Vec::new()
        };
        let parsed = parse_csv_record(&rec, &headers, &fields, opts.entity, &mut numbers);
        rows.push(Row { line, parsed, raw });
        if rows.len() >= cap && !send(sink, &mut rows, rdr.position().byte(), cap) {
            return Ok(());
        }
    }
    if !rows.is_empty() {
        send(sink, &mut rows, rdr.position().byte(), cap);
    }
    Ok(())
}

fn parse_csv_record(
    rec: &csv::ByteRecord,
    headers: &[String],
    fields: &[Field],
    entity: Entity,
    numbers: &mut LineNumbers,
) -> Result<Parsed, (Option<String>, String)> {
    if rec.len() != headers.len() {
        return Err((None, format!("expected {} columns, found {} (a truncated line, or a comma inside an unquoted value?)", headers.len(), rec.len())));
    }
    let mut cells: Vec<&str> = Vec::with_capacity(rec.len());
    for (i, c) in rec.iter().enumerate() {
        match std::str::from_utf8(c) {
            Ok(s) => cells.push(s),
            Err(e) => {
                return Err((
                    Some(headers[i].clone()),
                    format!(
                        "is not valid UTF-8 (byte {} of the value); save the file as UTF-8",
                        e.valid_up_to() + 1
                    ),
                ))
            }
        }
    }
    let it = || {
        fields
            .iter()
            .zip(headers.iter().map(String::as_str))
            .zip(cells.iter().copied())
            .map(|((f, h), v)| (f, h, v))
    };
    let wrap = |(c, m): (String, String)| (Some(c), m);
    match entity {
        Entity::Customers => customer_row(it())
            .map(|c| Parsed::Customer(Box::new(c)))
            .map_err(wrap),
        Entity::Orders => order_row(it()).map(|o| numbers.order(o)).map_err(wrap),
        Entity::Interactions => interaction_row(it()).map(Parsed::Interaction).map_err(wrap),
    }
}

fn read_cdnow(
    file: impl Read,
    name: &str,
    opts: &ImportOptions,
    keep_raw: bool,
    sink: Sink<'_>,
) -> Result<(), ImportError> {
    static MASTER: [Field; 4] = [
        Field::Named("customer"),
        Field::Named("date"),
        Field::Named("quantity"),
        Field::Named("amount"),
    ];
    static SAMPLE: [Field; 5] = [
        Field::Named("customer"),
        Field::Ignore,
        Field::Named("date"),
        Field::Named("quantity"),
        Field::Named("amount"),
    ];
    const MASTER_COLS: [&str; 4] = ["customer_id", "date", "number_of_cds", "dollar_value"];
    const SAMPLE_COLS: [&str; 5] = [
        "customer_id",
        "sample_id",
        "date",
        "number_of_cds",
        "dollar_value",
    ];
    let mut r = BufReader::with_capacity(1 << 20, file);
    let cap = opts.batch_rows.max(1);
    let mut rows = Vec::with_capacity(cap);
    let mut numbers = LineNumbers::default();
    let mut buf = Vec::with_capacity(256);
    let mut line = 0u64;
    let mut bytes = 0u64;
    let mut width: Option<usize> = None;
    loop {
        buf.clear();
        let n = r.by_ref().read_until(b'\n', &mut buf)?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line += 1;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t,
            Err(e) => {
                rows.push(Row {
                    line,
                    parsed: Err((
                        None,
                        format!(
                            "is not valid UTF-8 (byte {} of the line)",
                            e.valid_up_to() + 1
                        ),
                    )),
                    raw: vec![String::from_utf8_lossy(&buf).trim_end().to_string()],
                });
                continue;
            }
        };
        let cells: Vec<&str> = text.split_ascii_whitespace().collect();
        if cells.is_empty() {
            continue;
        }
        if line == 1 && cells[0].chars().any(|c| c.is_ascii_alphabetic()) {
            continue; // the master file's header
        }
        let w = *width.get_or_insert(cells.len());
        let raw = if keep_raw {
            vec![text.trim_end().to_string()]
        } else {
            Vec::new()
        };
        let parsed = if cells.len() != w || !(w == 4 || w == 5) {
            Err((None, format!("expected {} whitespace-separated values (customer{} date cds dollars), found {} (a truncated line?)", if w == 5 { 5 } else { 4 }, if w == 5 { " sample_id" } else { "" }, cells.len())))
        } else {
            let (fields, cols): (&[Field], &[&str]) = if w == 4 {
                (&MASTER, &MASTER_COLS)
            } else {
                (&SAMPLE, &SAMPLE_COLS)
            };
            order_row(
                fields
                    .iter()
                    .zip(cols.iter().copied())
                    .zip(cells.iter().copied())
                    .map(|((f, c), v)| (f, c, v)),
            )
            .map(|o| numbers.order(o))
            .map_err(|(c, m)| (Some(c), m))
        };
        rows.push(Row { line, parsed, raw });
        if rows.len() >= cap && !send(sink, &mut rows, bytes, cap) {
            return Ok(());
        }
    }
    if !rows.is_empty() {
        send(sink, &mut rows, bytes, cap);
    }
    if line == 0 {
        return Err(ImportError::File {
            file: name.to_string(),
            message: "is empty".into(),
        });
    }
    Ok(())
}
