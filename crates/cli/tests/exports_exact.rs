//! Every export prints money as the exact decimal of its cents (no `74.02000000000001`, no
//! exponent), model figures rounded to their stated decimals, the same bytes on every run, and
//! customers by their number. Runs the real binary on both backends, on a database whose amounts
//! are the classic binary-float traps (0.1 + 0.2, 24.01 + 50.01, many lines per order).

use std::process::{Command, Stdio};

use patron_store::testing::{discard_database, fresh_database_url};
use patron_store::BackendKind;

fn patron(db: &str, args: &[&str]) -> Vec<u8> {
    let o = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .env("USER", "tester")
        .env("PATRON_LOG", "warn")
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("running patron");
    assert!(
        o.status.success(),
        "patron {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// `\d\.\d*0000000\d`, `\d\.\d*9999999\d` and `\de[-+]?\d` in `text`: what printing a binary
/// float gives. Fractions of seconds in timestamps (`12:34:56.000000012`) are left out.
fn float_artefacts(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 1;
    while i < b.len() {
        if b[i] == b'.' && b[i - 1].is_ascii_digit() {
            let mut s = i;
            while s > 0 && b[s - 1].is_ascii_digit() {
                s -= 1;
            }
            let mut e = i + 1;
            while e < b.len() && b[e].is_ascii_digit() {
                e += 1;
            }
            let frac = &text[i + 1..e];
            let run = |r: &str| frac.find(r).is_some_and(|p| p + r.len() < frac.len());
            let in_time = s > 0 && b[s - 1] == b':';
            if !in_time && (run("0000000") || run("9999999")) {
                found.push(text[s..e].to_string());
            }
            i = e;
            continue;
        }
        if matches!(b[i], b'e' | b'E') && b[i - 1].is_ascii_digit() {
            let next = |k: usize| b.get(i + k).copied().unwrap_or(b' ');
            if next(1).is_ascii_digit()
                || matches!(next(1), b'-' | b'+') && next(2).is_ascii_digit()
            {
                found.push(text[i.saturating_sub(6)..(i + 4).min(b.len())].to_string());
            }
        }
        i += 1;
    }
    found
}

#[test]
fn the_scanner_finds_binary_floats() {
    for bad in [
        "x,74.02000000000001,y",
        "0.30000000000000004",
        "1.0999999999999999",
        "\"p\":7e-10",
        "1e16",
        "2.5E+3",
    ] {
        assert!(!float_artefacts(bad).is_empty(), "{bad}");
    }
    for good in [
        "74.02,0.3,100,0.0001,1.000001",
        "2024-01-10T12:00:00.000000001+00:00",
        "Acme,ada@example.com,C000123",
    ] {
        assert_eq!(float_artefacts(good), Vec::<String>::new(), "{good}");
    }
}

const CUSTOMERS: &str = "number,name,region,credit_limit,registered_capital\n\
C1,Alpha Trading,East,1000.10,250000.30\n\
C2,Beta Supplies,West,0.30,\n\
C3,Gamma Works,East,,\n\
C4,Delta Goods,North,,\n\
C5,Epsilon Parts,South,,\n\
C6,Zeta Prospects,South,,\n";

/// C1's lines sum to 75.12 (cost 0.08), C2's to 77.92.
const ORDERS: &str = "customer,order_ref,date,amount,cost,category\n\
C1,O-1,2024-01-10,0.10,0.07,books\n\
C1,O-1,2024-01-10,0.20,0.01,books\n\
C1,O-2,2024-03-05,24.01,0,music\n\
C1,O-2,2024-03-05,50.01,0,music\n\
C1,O-3,2024-06-01,0.70,0,books\n\
C1,O-3,2024-06-01,0.10,0,books\n\
C2,O-4,2024-02-01,74.02,0,music\n\
C2,O-5,2024-05-20,0.1,0,books\n\
C2,O-5,2024-05-20,0.2,0,books\n\
C2,O-5,2024-05-20,0.3,0,books\n\
C2,O-6,2024-09-09,1.1,0,toys\n\
C2,O-6,2024-09-09,2.2,0,toys\n\
C3,O-7,2024-01-15,33.33,11.11,toys\n\
C3,O-7,2024-01-15,33.33,11.11,toys\n\
C3,O-7,2024-01-15,33.33,11.11,toys\n\
C3,O-8,2024-04-15,19.99,0,books\n\
C4,O-9,2024-03-03,0.01,0,books\n\
C5,O-10,2024-02-02,10.10,0,music\n\
C5,O-10,2024-02-02,20.20,0,music\n\
C5,O-11,2024-07-07,5.55,0,music\n\
C5,O-12,2024-10-10,0.35,0,music\n";

async fn exports_are_exact_and_stable(kind: BackendKind) {
    let Some(db) = fresh_database_url(kind).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let customers = dir.path().join("customers.csv");
    let orders = dir.path().join("orders.csv");
    std::fs::write(&customers, CUSTOMERS).unwrap();
    std::fs::write(&orders, ORDERS).unwrap();
    patron(&db, &["import", "customers", customers.to_str().unwrap()]);
    patron(&db, &["import", "orders", orders.to_str().unwrap()]);

    let to_file = dir.path().join("out");
    let to_file = to_file.to_str().unwrap();
    let exports: Vec<Vec<&str>> = vec![
        vec!["export", "customers"],
        vec!["export", "customers", "--format", "json"],
        vec!["export", "customers", "--exclude-opted-out", "-o", to_file],
        vec!["export", "orders"],
        vec!["export", "orders", "--format", "json"],
        vec!["export", "orders", "-o", to_file],
        vec!["campaign", "audience", "--region", "East"],
        vec!["campaign", "audience", "--format", "json"],
        vec!["value", "export"],
        vec!["value", "export", "--unit", "week"],
        vec![
            "value",
            "export",
            "--calibration-end",
            "2024-06-30",
            "--holdout-end",
            "2024-12-31",
            "--marketing-cost",
            "10.10",
            "-o",
            to_file,
        ],
        vec!["value", "export", "--orders", orders.to_str().unwrap()],
    ];
    let mut outputs = Vec::new();
    for args in &exports {
        let run = || {
            let mut out = patron(&db, args);
            if args.contains(&"-o") {
                out = std::fs::read(to_file).unwrap();
                std::fs::remove_file(to_file).unwrap();
            }
            out
        };
        let first = run();
        let second = run();
        assert!(!first.is_empty(), "patron {}: no output", args.join(" "));
        assert!(
            first == second,
            "patron {}: two runs differ:\n{}\n---\n{}",
            args.join(" "),
            String::from_utf8_lossy(&first),
            String::from_utf8_lossy(&second)
        );
        let text = String::from_utf8(first).unwrap();
        assert_eq!(
            float_artefacts(&text),
            Vec::<String>::new(),
            "patron {}:\n{text}",
            args.join(" ")
        );
        outputs.push(text);
    }

    // Customers: exact money, and the status the orders made (C6 has none and stays a lead).
    let customers_csv = &outputs[0];
    assert!(
        customers_csv.contains(",1000.10,") && customers_csv.contains(",250000.30,"),
        "{customers_csv}"
    );
    let header: Vec<&str> = customers_csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let mut ids = std::collections::HashMap::new();
    for line in customers_csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let want = if f[col("number")] == "C6" {
            "lead"
        } else {
            "won"
        };
        assert_eq!(f[col("status")], want, "{line}");
        ids.insert(f[col("number")].to_string(), f[col("id")].to_string());
    }
    assert_eq!(ids.len(), 6);

    // Orders: every line's amount as written, JSON orders with the customer number.
    let orders_csv = &outputs[3];
    for cell in [
        ",74.02,",
        ",24.01,",
        ",50.01,",
        ",0.10,",
        ",0.30,",
        ",33.33,11.11",
    ] {
        assert!(orders_csv.contains(cell), "{cell} in {orders_csv}");
    }
    let json: serde_json::Value = serde_json::from_str(&outputs[4]).unwrap();
    let orders = json.as_array().unwrap();
    assert_eq!(orders.len(), 12);
    let o2 = orders.iter().find(|o| o["order_ref"] == "O-2").unwrap();
    assert_eq!(o2["customer_number"], "C1");
    assert_eq!(o2["customer_id"].to_string(), ids["C1"]);
    assert_eq!(o2["amount"].to_string(), "74.02");
    assert!(outputs[4].contains("\"amount\":74.02"), "{}", outputs[4]);

    // The database's value export leads with the customer number and ends with the id; its sums
    // are the exact sums of the lines.
    let value = &outputs[8];
    let header: Vec<&str> = value.lines().next().unwrap().split(',').collect();
    assert_eq!(header[0], "customer_number");
    assert_eq!(*header.last().unwrap(), "customer_id");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: std::collections::HashMap<&str, Vec<&str>> = value
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            (f[0], f)
        })
        .collect();
    assert_eq!(rows.len(), 5, "{value}");
    for (number, revenue, cost, margin) in [
        ("C1", "75.12", "0.08", "75.04"),
        ("C2", "77.92", "0", "77.92"),
        ("C3", "119.98", "33.33", "86.65"),
        ("C4", "0.01", "0", "0.01"),
        ("C5", "36.2", "0", "36.2"),
    ] {
        let r = &rows[number];
        assert_eq!(
            (r[col("revenue")], r[col("cost")], r[col("margin")]),
            (revenue, cost, margin),
            "{number}"
        );
        assert_eq!(r[col("customer_id")], ids[number], "{number}");
        // Probabilities and expectations: 4 decimals at most; money: 2 at most.
        for (name, most) in [
            ("p_alive", 4),
            ("expected_purchases", 4),
            ("recency", 4),
            ("monetary_value", 4),
            ("expected_spend", 2),
            ("clv", 2),
        ] {
            let v = r[col(name)];
            assert!(
                v.split('.').nth(1).is_none_or(|f| f.len() <= most),
                "{number} {name} = {v}"
            );
        }
    }
    // On a file its own keys lead, as before.
    assert!(outputs[11].starts_with("customer_id,frequency,"));
    assert!(outputs[11].lines().any(|l| l.starts_with("C1,")));

    discard_database(kind, &db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    exports_are_exact_and_stable(BackendKind::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    exports_are_exact_and_stable(BackendKind::Postgres).await;
}
