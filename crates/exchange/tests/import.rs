//! Import behaviour on both backends: idempotence, malformed input, rejects, CDNOW.

use std::path::{Path, PathBuf};

use patron_exchange::{import_file, Entity, ImportError, ImportOptions, InputFormat};
use patron_store::{backend_tests, Store};

mod scratch;
use scratch::file;

async fn run(
    store: &Store,
    path: &Path,
    entity: Entity,
    f: impl FnOnce(&mut ImportOptions),
) -> Result<patron_exchange::ImportReport, ImportError> {
    let mut o = ImportOptions::new(entity, InputFormat::Csv);
    o.batch_rows = 3;
    f(&mut o);
    import_file(store, path, &o, |_| {}).await
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

const CUSTOMERS: &[u8] = b"Customer No,Name,Company,Phone,E-mail,Employees,Status,Tags,shoe\n\
C1,Wang Wei,Acme,+86 138 0013 8000,wang@acme.cn,120,won,vip;north,42\n\
C2,Li Na,Globex,021-5555-1234,li@globex.com,,tracking,,\n\
C3,Zhang San,,,,,lead,,\n";

backend_tests!(
    exports_round_trip,
    customers_then_orders_idempotent,
    malformed_inputs_change_nothing,
    skip_bad_writes_rejects,
    cdnow_sample_loads,
    bulk_load_rebuilds_the_date_index,
    bulk_creation_rebuilds_the_customer_indexes
);

async fn customers_then_orders_idempotent(store: Store) {
    let c = file("c.csv", CUSTOMERS);
    let r = run(&store, &c, Entity::Customers, |o| {
        o.maps = vec!["shoe=custom.shoe_size".into()]
    })
    .await
    .unwrap();
    assert_eq!((r.rows, r.inserted, r.already_present), (3, 3, 0));
    let again = run(&store, &c, Entity::Customers, |o| {
        o.maps = vec!["shoe=custom.shoe_size".into()]
    })
    .await
    .unwrap();
    assert_eq!((again.inserted, again.already_present), (0, 3));
    let wang = store.customer_by_number("C1").await.unwrap();
    assert_eq!(wang.data.tags, vec!["vip", "north"]);
    assert_eq!(wang.data.employees, Some(120));
    assert_eq!(
        wang.data.custom_fields.get("shoe_size"),
        Some(&patron_domain::CustomValue::Number(42.0))
    );

    let o = file("o.csv", b"customer,order_id,date,amount,cost,category,qty\nC1,A1,2024-01-02,10.50,4,books,1\nC1,A1,2024-01-02,5.00,2,books,2\nC2,,2024-02-01,7,,music,\nC2,,2024-02-01,3,,music,\nC3,X9,2024-03-01,0.00,0,music,1\n");
    let r = run(&store, &o, Entity::Orders, |_| {}).await.unwrap();
    assert_eq!((r.rows, r.inserted), (5, 5));
    let a1 = store.order(wang.id, "A1").await.unwrap();
    assert_eq!((a1.lines.len(), a1.amount.cents()), (2, 1550));
    let li = store.customer_by_number("C2").await.unwrap();
    assert_eq!(
        store.order(li.id, "2024-02-01").await.unwrap().lines.len(),
        2
    );
    let again = run(&store, &o, Entity::Orders, |_| {}).await.unwrap();
    assert_eq!((again.inserted, again.already_present), (0, 5));
    assert_eq!(store.counts().await.unwrap(), (3, 5, 0));

    let i = file("i.csv", b"customer,kind,date,by,text\nC1,complaint,2024-01-03,rep1,late delivery\nC2,visit,2024-01-04 10:00,rep2,\"met the buyer, agreed on terms\"\n");
    assert_eq!(
        run(&store, &i, Entity::Interactions, |_| {})
            .await
            .unwrap()
            .inserted,
        2
    );
    assert_eq!(
        run(&store, &i, Entity::Interactions, |_| {})
            .await
            .unwrap()
            .inserted,
        0
    );
}

fn expect_bad(
    r: Result<patron_exchange::ImportReport, ImportError>,
    line: u64,
    column: Option<&str>,
    reason_part: &str,
) {
    match r {
        Err(ImportError::BadRow(e, _)) => {
            assert_eq!(e.line, line, "{e}");
            assert_eq!(e.column.as_deref(), column, "{e}");
            assert!(e.reason.contains(reason_part), "{e}");
            let shown = e.to_string();
            assert!(shown.contains(&format!(":{line}: ")), "{shown}");
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
}

async fn malformed_inputs_change_nothing(store: Store) {
    run(&store, &file("c.csv", CUSTOMERS), Entity::Customers, |o| {
        o.maps = vec!["shoe=ignore".into()]
    })
    .await
    .unwrap();
    let before = store.counts().await.unwrap();
    let header = "customer,date,amount\n";
    // A truncated line.
    expect_bad(
        run(
            &store,
            &file(
                "t.csv",
                format!("{header}C1,2024-01-01,5\nC1,2024-01-02\n").as_bytes(),
            ),
            Entity::Orders,
            |_| {},
        )
        .await,
        3,
        None,
        "expected 3 columns, found 2",
    );
    // A wrong type.
    expect_bad(
        run(
            &store,
            &file("w.csv", format!("{header}C1,2024-01-01,five\n").as_bytes()),
            Entity::Orders,
            |_| {},
        )
        .await,
        2,
        Some("amount"),
        "not an amount",
    );
    expect_bad(
        run(
            &store,
            &file("d.csv", format!("{header}C1,2024-02-30,5\n").as_bytes()),
            Entity::Orders,
            |_| {},
        )
        .await,
        2,
        Some("date"),
        "not a date",
    );
    // An unknown customer.
    expect_bad(
        run(
            &store,
            &file(
                "u.csv",
                format!("{header}C1,2024-01-01,5\nNOPE,2024-01-01,5\n").as_bytes(),
            ),
            Entity::Orders,
            |_| {},
        )
        .await,
        3,
        Some("customer"),
        "'NOPE' does not exist",
    );
    // A non-UTF-8 byte.
    let mut bytes = format!("{header}C1,2024-01-01,5\n").into_bytes();
    bytes.extend_from_slice(b"C\xff2,2024-01-01,5\n");
    expect_bad(
        run(&store, &file("n.csv", &bytes), Entity::Orders, |_| {}).await,
        3,
        Some("customer"),
        "not valid UTF-8",
    );
    // An empty file.
    match run(&store, &file("e.csv", b""), Entity::Orders, |_| {}).await {
        Err(ImportError::File { message, .. }) => {
            assert!(message.contains("is empty"), "{message}")
        }
        other => panic!("expected an empty-file error, got {other:?}"),
    }
    // A header only.
    assert!(matches!(
        run(
            &store,
            &file("h.csv", header.as_bytes()),
            Entity::Orders,
            |_| {}
        )
        .await,
        Err(ImportError::File { .. })
    ));
    // Unknown column, explained.
    match run(
        &store,
        &file(
            "x.csv",
            b"customer,date,amount,colour\nC1,2024-01-01,5,red\n",
        ),
        Entity::Orders,
        |_| {},
    )
    .await
    {
        Err(ImportError::File { message, .. }) => assert!(
            message.contains("'colour'") && message.contains("--map"),
            "{message}"
        ),
        other => panic!("expected an unknown-column error, got {other:?}"),
    }
    assert_eq!(
        store.counts().await.unwrap(),
        before,
        "nothing was stored by any bad file"
    );
}

async fn skip_bad_writes_rejects(store: Store) {
    run(&store, &file("c.csv", CUSTOMERS), Entity::Customers, |o| {
        o.maps = vec!["shoe=ignore".into()]
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rejects = dir.path().join("rejects.csv");
    let src = file("s.csv", b"customer,date,amount\nC1,2024-01-01,5\nC1,2024-01-0x,5\nGHOST,2024-01-01,5\nC2,2024-01-01,6\n");
    let r = run(&store, &src, Entity::Orders, |o| {
        o.skip_bad = Some(rejects.clone())
    })
    .await
    .unwrap();
    assert_eq!((r.inserted, r.rejected), (2, 2));
    let text = std::fs::read_to_string(&rejects).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "line,error,row");
    assert!(lines[1].starts_with("3,column date:"), "{text}");
    assert!(
        lines[2].starts_with("4,\"column customer: customer 'GHOST'"),
        "{text}"
    );
    assert!(lines[2].ends_with("\"GHOST,2024-01-01,5\""), "{text}");
}

async fn cdnow_sample_loads(store: Store) {
    let mut o = ImportOptions::new(Entity::Orders, InputFormat::Cdnow);
    let r = import_file(&store, &data_dir().join("CDNOW_sample.txt"), &o, |_| {})
        .await
        .unwrap();
    assert_eq!(r.rows, 6919);
    assert_eq!(r.customers_created, 2357);
    assert_eq!(r.inserted, 6919);
    o.batch_rows = 1000;
    let again = import_file(&store, &data_dir().join("CDNOW_sample.txt"), &o, |_| {})
        .await
        .unwrap();
    assert_eq!((again.inserted, again.customers_created), (0, 0));
    let (customers, lines, _) = store.counts().await.unwrap();
    assert_eq!((customers, lines), (2357, 6919));
}

async fn exports_round_trip(store: Store) {
    let c = file(
        "x.csv",
        "number,name,company,industry,region,phone,email,employees,tags,status,credit rating,credit limit,opt out\n\
A1,Ann,\"Acme, Ltd\",finance,North,+86 138 0013 8000,ann@x.com,120,vip;north,won,AA,5000.25,no\n\
A2,Bob,,,,,bob@x.com,,,tracking,,,yes\n"
            .as_bytes(),
    );
    run(&store, &c, Entity::Customers, |o| {
        o.maps = vec!["opt out=marketing_opt_out".into()]
    })
    .await
    .unwrap();
    let o = file(
        "xo.csv",
        b"customer,order_id,date,amount,cost,category,qty\n\
A1,INV-1,2024-01-01,10.05,4.01,books,1\n\
A1,INV-1,2024-01-01,1234.99,1000.10,music,3\n\
A2,,2024-01-02,5.50,1.00,,1\n\
A2,R-2,2024-03-31,0.01,0,music,2\n",
    );
    run(&store, &o, Entity::Orders, |_| {}).await.unwrap();
    let mut out = Vec::new();
    let n = patron_exchange::export_customers(
        &store,
        &Default::default(),
        patron_exchange::ExportFormat::Csv,
        &mut out,
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let customers_csv = out;
    let text = String::from_utf8(customers_csv.clone()).unwrap();
    assert!(text.starts_with("id,number,name,"), "{text}");
    assert!(text.contains(",A2,Bob,"), "{text}");
    // A campaign list leaves out who opted out.
    let mut out = Vec::new();
    let filter = patron_store::CustomerFilter {
        exclude_opted_out: true,
        ..Default::default()
    };
    assert_eq!(
        patron_exchange::export_customers(
            &store,
            &filter,
            patron_exchange::ExportFormat::Json,
            &mut out
        )
        .await
        .unwrap(),
        1
    );
    let json: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["name"], "Ann");
    let mut out = Vec::new();
    assert_eq!(
        patron_exchange::export_orders(
            &store,
            &Default::default(),
            patron_exchange::ExportFormat::Csv,
            &mut out
        )
        .await
        .unwrap(),
        4,
        "one CSV row per order line"
    );
    let orders_csv = out;
    // Re-imported into the same store, every line is already there.
    let back = file("back.csv", &orders_csv);
    let r = run(&store, &back, Entity::Orders, |_| {}).await.unwrap();
    assert_eq!((r.rows, r.inserted, r.already_present), (4, 0, 4));

    // Both exports re-import into a FRESH database unchanged: the same customers, field by
    // field, and the same orders and lines, amounts to the cent. (Store ids, owners, referrers
    // and timestamps are the database's own: the ids are left out of the import.)
    let Some(fresh) = patron_store::testing::fresh_store(store.kind()).await else {
        return;
    };
    let back = file("back_customers.csv", &customers_csv);
    let r = run(&fresh, &back, Entity::Customers, |o| {
        o.maps = [
            "id",
            "owner_id",
            "referred_by",
            "custom_fields",
            "created_at",
        ]
        .iter()
        .map(|c| format!("{c}=ignore"))
        .collect();
    })
    .await
    .unwrap();
    assert_eq!((r.rows, r.inserted), (2, 2));
    let back = file("back_orders.csv", &orders_csv);
    let r = run(&fresh, &back, Entity::Orders, |_| {}).await.unwrap();
    assert_eq!((r.rows, r.inserted, r.already_present), (4, 4, 0));
    let (before, after) = (customers_of(&store).await, customers_of(&fresh).await);
    assert_eq!(before.len(), 2);
    assert_eq!(after, before);
    let (before, after) = (orders_of(&store).await, orders_of(&fresh).await);
    assert_eq!(before.len(), 3);
    assert_eq!(after, before);
    // The figures themselves, to the cent.
    let inv = before.iter().find(|o| o.1 == "INV-1").unwrap();
    assert_eq!((inv.3, inv.4), (124_504, 100_411));
    assert_eq!(
        inv.5,
        vec![
            (1, Some("books".to_string()), 1, 1005, 401),
            (2, Some("music".to_string()), 3, 123_499, 100_010)
        ]
    );
    assert_eq!(fresh.counts().await.unwrap(), store.counts().await.unwrap());
    fresh.discard().await;
}

/// Every customer's data, by number (ids differ between databases).
async fn customers_of(store: &Store) -> Vec<patron_domain::CustomerInput> {
    let page = store
        .list_customers(
            &Default::default(),
            patron_store::CustomerSort::Id,
            &patron_store::PageRequest {
                limit: Some(100),
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(page.next.is_none());
    let mut v: Vec<_> = page.items.into_iter().map(|c| c.data).collect();
    v.sort_by(|a, b| a.number.cmp(&b.number));
    v
}

type LineFigures = (i32, Option<String>, i64, i64, i64);
type OrderFigures = (
    String,
    String,
    chrono::NaiveDate,
    i64,
    i64,
    Vec<LineFigures>,
);

/// Every order as (customer number, reference, date, amount and cost in cents, lines).
async fn orders_of(store: &Store) -> Vec<OrderFigures> {
    let page = store
        .list_orders(
            &Default::default(),
            &patron_store::PageRequest {
                limit: Some(100),
                after: None,
            },
        )
        .await
        .unwrap();
    assert!(page.next.is_none());
    let mut v = Vec::new();
    for o in page.items {
        let number = store.customer(o.customer_id).await.unwrap().data.number;
        v.push((
            number.unwrap(),
            o.order_ref,
            o.ordered_on,
            o.amount.cents(),
            o.cost.cents(),
            o.lines
                .into_iter()
                .map(|l| {
                    (
                        l.line_no,
                        l.category,
                        l.quantity,
                        l.amount.cents(),
                        l.cost.cents(),
                    )
                })
                .collect(),
        ));
    }
    v.sort();
    v
}

/// An order import large enough to set the date index aside (here: a sort run of 4 lines into
/// an empty table) ends with the index in place, also when it stops on a bad row.
async fn bulk_load_rebuilds_the_date_index(store: Store) {
    let c = file("bulk-c.csv", CUSTOMERS);
    run(&store, &c, Entity::Customers, |o| {
        o.maps = vec!["shoe=ignore".into()]
    })
    .await
    .unwrap();
    let o = file("bulk-o.csv", b"customer,date,amount\nC1,2024-01-02,1\nC2,2024-01-03,2\nC3,2024-01-04,3\nC1,2024-02-02,4\nC2,2024-02-03,5\nC3,2024-02-04,6\nC1,2024-03-02,7\n");
    let r = run(&store, &o, Entity::Orders, |o| o.sort_run_rows = 4)
        .await
        .unwrap();
    assert_eq!(r.inserted, 7);
    assert!(store.has_order_date_index().await.unwrap());
    let bad = file("bulk-bad.csv", b"customer,date,amount\nC1,2024-04-02,1\nC2,2024-04-03,2\nC3,2024-04-04,3\nC1,2024-05-02,4\nC2,2024-05-03,5\nC3,2024-05-04,6\nC1,2024-05-05,7\nC1,2024-05-06,7\nC1,2024-05-07,7\nC1,2024-05-08,7\nC1,2024-05-09,7\nC1,2024-05-10,7\nC1,2024-05-11,7\nC1,2024-05-12,7\nC1,2024-05-13,7\nC1,2024-05-14,7\nC9,not-a-date,1\n");
    assert!(run(&store, &bad, Entity::Orders, |o| o.sort_run_rows = 4)
        .await
        .is_err());
    assert!(store.has_order_date_index().await.unwrap());
}

/// An order import that creates customers into an empty table (PostgreSQL sets the customers'
/// secondary indexes aside for it) ends with every index in place, also when it stops on a bad
/// row; the customers it created are found by the search those indexes serve.
async fn bulk_creation_rebuilds_the_customer_indexes(store: Store) {
    let indexes = match store.kind() {
        patron_store::BackendKind::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'customers'"
        }
        patron_store::BackendKind::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'customers' AND schemaname = current_schema()"
        }
    };
    let all = store.raw_integer(indexes).await.unwrap();
    let o = file("create-o.csv", b"customer,date,amount\nN1,2024-01-02,1\nN2,2024-01-03,2\nN3,2024-01-04,3\nN4,2024-02-02,4\n");
    let r = run(&store, &o, Entity::Orders, |o| o.create_customers = true)
        .await
        .unwrap();
    assert_eq!((r.inserted, r.customers_created), (4, 4));
    all_back(&store, indexes, all).await;
    let bad = file("create-bad.csv", b"customer,date,amount\nM1,2024-01-02,1\nM2,2024-01-03,2\nM3,2024-01-04,3\nM4,2024-02-02,4\nM5,2024-02-02,4\nM6,2024-02-02,4\nM7,not-a-date,1\n");
    // The first batch of five creates more customers than there are (set aside again).
    assert!(run(&store, &bad, Entity::Orders, |o| {
        o.create_customers = true;
        o.batch_rows = 5;
    })
    .await
    .is_err());
    assert!(store.counts().await.unwrap().0 >= 9);
    all_back(&store, indexes, all).await;
    let filter = patron_store::CustomerFilter {
        q: Some("Customer N3".into()),
        ..Default::default()
    };
    let found = store
        .list_customers(&filter, patron_store::CustomerSort::Id, &Default::default())
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1, "{:?}", found.items);
}

/// Every index on customers is in place (`all` of them, counted by `indexes`), none aside.
async fn all_back(store: &Store, indexes: &str, all: i64) {
    assert_eq!(store.raw_integer(indexes).await.unwrap(), all);
    let aside = "SELECT COUNT(*) FROM set_aside_indexes";
    assert_eq!(store.raw_integer(aside).await.unwrap(), 0);
}
