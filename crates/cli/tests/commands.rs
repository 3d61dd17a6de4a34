//! The commands without another end-to-end test, run through the real binary against a fresh
//! SQLite file: duplicates and merge, export and `import interactions`, credit, invoices,
//! tickets, surveys, follow-ups, opportunities, the manager review, users, tokens, the pool,
//! the audit log, leads and `bench import`. Each group checks a happy path by what is printed
//! or stored, and its main refusals by their message and a failing exit.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

/// A fresh database in its own directory.
struct Db {
    dir: TempDir,
    path: String,
}

impl Db {
    fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("patron.db").to_str().unwrap().to_string();
        Db { dir, path }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_patron"));
        c.args(["--database", &self.path])
            .args(args)
            .env("USER", "tester")
            .env("PATRON_LOG", "warn")
            .env_remove("DATABASE_URL")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running patron")
    }

    /// Runs a command that must succeed; answers its standard output.
    fn ok(&self, args: &[&str]) -> String {
        ok(&self.run(args), args)
    }

    /// Runs a command that must fail; answers its standard error.
    fn fail(&self, args: &[&str]) -> String {
        fail(&self.run(args), args)
    }

    /// Runs a command with `input` on its standard input.
    fn with_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Writes a file into the database's directory; answers its path.
    fn file(&self, name: &str, text: &str) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    }

    fn at(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// Three customers (C1 and C2 share a phone) with one order each.
    fn with_customers() -> Db {
        let db = Db::new();
        let c = db.file(
            "customers.csv",
            "number,name,company,phone,email,region\n\
             C1,Ada Lovelace,Analytical Ltd,555-0101,ada@example.com,East\n\
             C2,Ada Lovelace,Analytical Ltd,555-0101,ada2@example.com,East\n\
             C3,Bob Builder,Bricks Inc,555-0202,bob@example.com,West\n",
        );
        let out = db.ok(&["import", "customers", &c]);
        assert!(
            out.contains(": 3 stored, 0 already present, 0 rejected"),
            "{out}"
        );
        let o = db.file(
            "orders.csv",
            "customer,order_ref,date,amount,cost,category\n\
             C1,O-1,2024-01-10,100.00,60.00,books\n\
             C2,O-2,2024-02-10,250.50,100.00,music\n\
             C3,O-3,2024-03-10,75.25,30.00,books\n",
        );
        let out = db.ok(&["import", "orders", &o]);
        assert!(
            out.contains(": 3 stored, 0 already present, 0 rejected"),
            "{out}"
        );
        db
    }

    fn add_user(&self, name: &str, role: &str, password: &str) {
        let args = ["user", "add", name, "--role", role, "--password-stdin"];
        let out = ok(&self.with_stdin(&args, &format!("{password}\n")), &args);
        assert!(out.starts_with(&format!("user {name} added (id ")), "{out}");
    }

    fn store<T>(&self, f: impl AsyncFnOnce(&patron_store::Store) -> T) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = patron_store::Store::connect(&self.path).await.unwrap();
                let out = f(&store).await;
                store.close().await;
                out
            })
    }
}

fn ok(o: &Output, args: &[&str]) -> String {
    assert!(
        o.status.success(),
        "patron {args:?} failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fail(o: &Output, args: &[&str]) -> String {
    assert!(
        !o.status.success(),
        "patron {args:?} succeeded: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_ne!(o.status.code(), Some(101), "patron {args:?} panicked");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn has(text: &str, part: &str) {
    assert!(text.contains(part), "expected {part:?} in:\n{text}");
}

/// The line of a table whose whitespace-split columns start with `first`.
fn row<'a>(text: &'a str, first: &[&str]) -> Vec<&'a str> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|cols| cols.starts_with(first))
        .unwrap_or_else(|| panic!("no row starting with {first:?} in:\n{text}"))
}

fn sorted_lines(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = text.lines().collect();
    v.sort();
    v
}

#[test]
fn duplicates_and_merge() {
    let db = Db::with_customers();
    let out = db.ok(&["duplicates"]);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "  customer    customer  same",
            "         1           2  phone",
            "1 pairs; merge one with `patron merge KEEP DROP`",
        ]
    );
    assert_eq!(
        db.ok(&["duplicates", "--customer", "3"]),
        "no likely duplicates\n"
    );
    has(
        &db.ok(&["duplicates", "--customer", "2"]),
        "         1           2  phone",
    );
    has(
        &db.fail(&["duplicates", "--customer", "999"]),
        "error: customer 999 not found",
    );

    has(
        &db.fail(&["merge", "1", "1"]),
        "cannot merge a customer into itself",
    );
    has(&db.fail(&["merge", "1", "999"]), "customer 999 not found");
    let out = db.ok(&["merge", "1", "2"]);
    has(
        &out,
        "merged customer 2 into 1 (Ada Lovelace): moved 0 contacts, 1 order lines, 0 interactions",
    );
    // C2's order now belongs to C1; C2 is gone from the export and from the duplicates.
    let orders = db.ok(&["export", "orders"]);
    assert_eq!(
        sorted_lines(&orders),
        [
            "C1,O-1,1,2024-01-10,books,1,100.00,60.00",
            "C1,O-2,1,2024-02-10,music,1,250.50,100.00",
            "C3,O-3,1,2024-03-10,books,1,75.25,30.00",
            "customer,order_ref,line_no,date,category,quantity,amount,cost",
        ]
    );
    assert!(!db.ok(&["export", "customers"]).contains("C2,"));
    assert_eq!(db.ok(&["duplicates"]), "no likely duplicates\n");
    has(
        &db.fail(&["merge", "1", "2"]),
        "error: customer 2 was already merged into 1",
    );
}

#[test]
fn export_and_import_interactions() {
    let db = Db::with_customers();
    // Orders as CSV, to a file.
    let file = db.at("orders-out.csv");
    db.ok(&["export", "orders", "-o", &file]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        sorted_lines(&text),
        [
            "C1,O-1,1,2024-01-10,books,1,100.00,60.00",
            "C2,O-2,1,2024-02-10,music,1,250.50,100.00",
            "C3,O-3,1,2024-03-10,books,1,75.25,30.00",
            "customer,order_ref,line_no,date,category,quantity,amount,cost",
        ]
    );
    // Customers and orders as JSON.
    let o = db.run(&["export", "customers", "--format", "json"]);
    let customers: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    has(&String::from_utf8_lossy(&o.stderr), "exported 3 rows");
    let mut got: Vec<String> = customers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| format!("{} {} {}", c["number"], c["name"], c["region"]))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#""C1" "Ada Lovelace" "East""#,
            r#""C2" "Ada Lovelace" "East""#,
            r#""C3" "Bob Builder" "West""#,
        ]
    );
    let orders: serde_json::Value =
        serde_json::from_str(&db.ok(&["export", "orders", "--format", "json"])).unwrap();
    let mut got: Vec<String> = orders
        .as_array()
        .unwrap()
        .iter()
        .map(|o| format!("{} {} {}", o["order_ref"], o["ordered_on"], o["amount"]))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            r#""O-1" "2024-01-10" 100.0"#,
            r#""O-2" "2024-02-10" 250.5"#,
            r#""O-3" "2024-03-10" 75.25"#,
        ]
    );
    // Refusals: an unknown format, an output that cannot be written.
    let o = db.run(&["export", "orders", "--format", "xml"]);
    has(
        &fail(&o, &["export --format xml"]),
        "invalid value 'xml' for '--format <FORMAT>'",
    );
    assert!(o.stdout.is_empty());
    let nowhere = db.at("missing-dir/out.csv");
    has(
        &db.fail(&["export", "orders", "-o", &nowhere]),
        &format!("error: cannot write {nowhere}"),
    );

    // Interactions: stored once, seen in the visit brief.
    let good = db.file(
        "interactions.csv",
        "customer,kind,date,by,text\n\
         C1,visit,2024-03-01T10:00:00Z,rita,Showed the new catalogue\n\
         C3,promise,2024-03-02,rita,Will send samples by Friday\n",
    );
    has(
        &db.ok(&["import", "interactions", &good]),
        ": 2 stored, 0 already present, 0 rejected",
    );
    has(
        &db.ok(&["import", "interactions", &good]),
        ": 0 stored, 2 already present, 0 rejected",
    );
    let brief: serde_json::Value =
        serde_json::from_str(&db.ok(&["followup", "brief", "C3"])).unwrap();
    let promises = brief["promises"].as_array().unwrap();
    assert_eq!(promises.len(), 1, "{brief}");
    assert_eq!(promises[0]["text"], "Will send samples by Friday");
    assert_eq!(promises[0]["occurred_at"], "2024-03-02T00:00:00Z");
    // A bad kind stops the import with its line and column; --skip-bad writes the rejects.
    let bad = db.file(
        "bad.csv",
        "customer,kind,date,text\n\
         C1,teleport,2024-03-01,Beamed over\n\
         C9,call,2024-03-01,Unknown customer\n",
    );
    let err = db.fail(&["import", "interactions", &bad]);
    has(
        &err,
        &format!("{bad}:2: column kind: 'teleport' is not one of: visit, call, email"),
    );
    has(&err, "nothing of this batch was stored");
    let rejects = db.at("rejects.csv");
    has(
        &db.ok(&["import", "interactions", &bad, "--skip-bad", &rejects]),
        ": 0 stored, 0 already present, 2 rejected",
    );
    let r = std::fs::read_to_string(&rejects).unwrap();
    has(&r, "customer 'C9' does not exist");
    assert_eq!(r.lines().count(), 3, "{r}");
}

#[test]
fn credit() {
    let db = Db::with_customers();
    assert_eq!(
        db.ok(&["credit", "show", "C3", "--as-of", "2024-06-01"]),
        "customer        3\n\
         credit limit    no limit\n\
         open            0.00\n\
         headroom        no limit\n\
         overdue         0.00\n\
         pending holds   0\n"
    );
    assert_eq!(
        db.ok(&["credit", "limit", "C3", "500"]),
        "customer 3: credit limit 500.00\n"
    );
    has(
        &db.fail(&["credit", "limit", "C3", "abc"]),
        "error: 'abc' is not an amount (expected e.g. 12.34)",
    );
    has(
        &db.fail(&["credit", "limit", "C3", "--", "-5"]),
        "credit_limit: must be 0 or more",
    );
    has(
        &db.fail(&["credit", "show", "C99"]),
        "customer number C99 not found",
    );

    let order = |r: &str, amount: &str, hold: bool| {
        let mut a = vec![
            "credit",
            "order",
            "C3",
            "--date",
            "2024-05-01",
            "--amount",
            amount,
            "--ref",
            r,
        ];
        if hold {
            a.push("--hold");
        }
        db.run(&a)
    };
    assert_eq!(
        ok(&order("K-1", "300", false), &["K-1"]),
        "order 'K-1' accepted: 300.00 for customer 3; invoice INV-K-1 (id 1) due 2024-05-31\n"
    );
    has(
        &fail(&order("K-2", "300", false), &["K-2"]),
        "error: order of 300.00 refused: customer Bob Builder (no. C3) has 300.00 open receivables and a credit limit of 500.00, so only 200.00 of headroom; the order would exceed the limit by 100.00",
    );
    has(
        &ok(&order("K-2", "300", true), &["K-2 --hold"]),
        "order of 300.00 held for approval (hold 1): customer 3 has 300.00 open on a limit of 500.00",
    );
    assert_eq!(
        db.ok(&["credit", "show", "3", "--as-of", "2024-06-15"]),
        "customer        3\n\
         credit limit    500.00\n\
         open            300.00\n\
         headroom        200.00\n\
         overdue         300.00\n\
         pending holds   1\n"
    );
    let holds = db.ok(&["credit", "holds"]);
    assert_eq!(
        row(&holds, &["1"])[..6],
        ["1", "3", "300.00", "300.00", "500.00", "cli:tester"]
    );
    assert!(holds.ends_with("\n1 pending\n"), "{holds}");

    has(
        &db.ok(&["credit", "approve", "1", "--note", "good payer"]),
        "order 'K-2' accepted: 300.00 for customer 3; invoice INV-K-2 (id 2) due 2024-05-31",
    );
    has(
        &db.fail(&["credit", "approve", "1"]),
        "error: credit hold 1 is already approved",
    );
    has(
        &ok(&order("K-3", "50", true), &["K-3 --hold"]),
        "(hold 2): customer 3 has 600.00 open on a limit of 500.00",
    );
    assert_eq!(
        db.ok(&["credit", "reject", "2", "--note", "too much"]),
        "hold 2 rejected (order of 50.00 for customer 3)\n"
    );
    has(
        &db.fail(&["credit", "reject", "2"]),
        "error: credit hold 2 is already rejected",
    );
    has(
        &db.fail(&["credit", "reject", "99"]),
        "error: credit hold 99 not found",
    );
    has(
        &db.fail(&["credit", "approve", "99"]),
        "error: credit hold 99 not found",
    );
    let approved = db.ok(&["credit", "holds", "--status", "approved"]);
    assert_eq!(row(&approved, &["1"])[..3], ["1", "3", "300.00"]);
    assert!(approved.ends_with("\n1 approved\n"), "{approved}");
    let rejected = db.ok(&["credit", "holds", "--status", "rejected"]);
    assert_eq!(row(&rejected, &["2"])[..3], ["2", "3", "50.00"]);
    assert!(db.ok(&["credit", "holds"]).ends_with("\n0 pending\n"));
    // The approved order is stored with its invoice; the rejected one is not.
    let orders = db.ok(&["export", "orders"]);
    has(&orders, "C3,K-2,1,2024-05-01,");
    assert!(!orders.contains("K-3"), "{orders}");
    has(&db.ok(&["invoice", "list", "C3"]), "INV-K-2");
}

#[test]
fn credit_holds_refuses_an_unknown_status() {
    let db = Db::new();
    let err = db.fail(&["credit", "holds", "--status", "bogus"]);
    has(&err, "bogus");
    has(&err, "pending");
}

#[test]
fn invoices() {
    let db = Db::with_customers();
    assert_eq!(
        db.ok(&[
            "invoice",
            "create",
            "C1",
            "--amount",
            "900",
            "--issued",
            "2024-01-01",
            "--number",
            "INV-A",
            "--instalments",
            "3",
            "--every",
            "30",
            "--first-due",
            "2024-02-01",
        ]),
        "invoice INV-A (id 1) of 900.00 for customer 1, due 2024-04-01 in 3 instalments\n"
    );
    assert_eq!(
        db.ok(&[
            "invoice",
            "create",
            "C1",
            "--amount",
            "120",
            "--issued",
            "2024-01-05",
            "--due",
            "2024-01-20",
            "--number",
            "INV-B",
        ]),
        "invoice INV-B (id 2) of 120.00 for customer 1, due 2024-01-20\n"
    );
    // Without --due: 30 days after issue; for an existing order.
    has(
        &db.ok(&[
            "invoice",
            "create",
            "C3",
            "--amount",
            "75.25",
            "--issued",
            "2024-03-10",
            "--order",
            "O-3",
            "--number",
            "INV-C",
        ]),
        "invoice INV-C (id 3) of 75.25 for customer 3, due 2024-04-09",
    );
    let base = ["invoice", "create", "C1", "--issued", "2024-01-05"];
    let refuse = |extra: &[&str]| db.fail(&[&base[..], extra].concat());
    has(
        &refuse(&["--amount", "10", "--due", "2023-12-01"]),
        "due_on: 2023-12-01 is before the issue date 2024-01-05",
    );
    has(&refuse(&["--amount", "0"]), "amount: must be more than 0");
    has(
        &refuse(&["--amount", "10", "--number", "INV-A"]),
        "error: customer 1 already has an invoice 'INV-A'",
    );
    has(
        &refuse(&["--amount", "10", "--order", "NOPE"]),
        "order_ref: customer 1 has no order 'NOPE'",
    );
    has(
        &db.fail(&["invoice", "list", "C99"]),
        "customer number C99 not found",
    );

    // A payment goes to the oldest due first.
    assert_eq!(
        db.ok(&[
            "invoice",
            "pay",
            "C1",
            "--amount",
            "350",
            "--date",
            "2024-02-10"
        ]),
        "payment 1 of 120.00 on invoice 2\npayment 2 of 230.00 on invoice 1\n"
    );
    let pay = ["invoice", "pay", "C1", "--date", "2024-02-10", "--amount"];
    has(
        &db.fail(&[&pay[..], &["10", "--invoice", "999"]].concat()),
        "error: invoice 999 of customer 1 not found",
    );
    has(
        &db.fail(&[&pay[..], &["100000"]].concat()),
        "amount: 100000.00 is more than the 670.00 still owed",
    );
    let list = db.ok(&["invoice", "list", "C1"]);
    assert_eq!(
        row(&list, &["1", "INV-A"])[2..],
        [
            "issued",
            "2024-01-01",
            "due",
            "2024-04-01",
            "900.00",
            "paid",
            "230.00",
            "open",
            "670.00"
        ]
    );
    assert_eq!(
        row(&list, &["2", "INV-B"])[6..],
        ["120.00", "paid", "120.00", "open", "0.00"]
    );
    assert_eq!(
        row(&list, &["instalment", "1"])[2..],
        ["due", "2024-02-01", "300.00", "paid", "230.00"]
    );
    assert_eq!(
        row(&list, &["instalment", "3"])[2..],
        ["due", "2024-04-01", "300.00", "paid", "0.00"]
    );

    let ageing = db.ok(&["invoice", "ageing", "--as-of", "2024-04-15"]);
    assert!(
        ageing.starts_with("ageing on 2024-04-15 (days overdue)\n"),
        "{ageing}"
    );
    // Customers by number and name, not by internal id.
    assert_eq!(
        row(&ageing, &["C1", "Ada", "Lovelace"])[3..],
        ["0.00", "300.00", "300.00", "70.00", "0.00", "670.00"]
    );
    assert_eq!(
        row(&ageing, &["C3", "Bob", "Builder"])[3..],
        ["0.00", "75.25", "0.00", "0.00", "0.00", "75.25"]
    );
    assert_eq!(
        row(&ageing, &["TOTAL"])[1..],
        ["0.00", "375.25", "300.00", "70.00", "0.00", "745.25"]
    );
    has(
        &db.fail(&["invoice", "ageing", "--as-of", "2024-13-01"]),
        "invalid value '2024-13-01' for '--as-of <AS_OF>'",
    );

    let overdue = db.ok(&["invoice", "overdue", "--as-of", "2024-04-15"]);
    assert_eq!(
        row(&overdue, &["1", "Ada", "Lovelace", "INV-A", "1"])[5..],
        ["2024-02-01", "74", "70.00"]
    );
    assert!(overdue.ends_with("\n4 items, 745.25 open\n"), "{overdue}");
    let reminders = db.ok(&[
        "invoice",
        "reminders",
        "--as-of",
        "2024-02-25",
        "--within",
        "7",
    ]);
    assert_eq!(
        row(&reminders, &["1", "Ada", "Lovelace", "INV-A", "2"])[5..],
        ["2024-03-02", "-6", "300.00"]
    );
    assert!(
        reminders.ends_with("\n2 items, 370.00 open\n"),
        "{reminders}"
    );

    let coll = db.ok(&[
        "invoice",
        "collections",
        "--from",
        "2024-01-01",
        "--to",
        "2024-12-31",
    ]);
    assert_eq!(
        row(&coll, &["(no", "owner)"])[2..],
        ["425.75", "1095.25", "350.00", "745.25"]
    );
    has(
        &db.fail(&[
            "invoice",
            "collections",
            "--from",
            "2024-12-31",
            "--to",
            "2024-01-01",
        ]),
        "from: 2024-12-31 is after 'to' (2024-01-01)",
    );
}

#[test]
fn tickets() {
    let db = Db::with_customers();
    let sla = db.ok(&["ticket", "sla"]);
    assert_eq!(
        sla,
        "urgent      4 h\nhigh       24 h\nnormal     72 h\nlow       168 h\n"
    );
    has(
        &db.ok(&["ticket", "sla", "high", "12"]),
        "high       12 h\n",
    );
    has(
        &db.fail(&["ticket", "sla", "high", "0"]),
        "error: hours must be more than 0",
    );
    has(&db.ok(&["ticket", "sla"]), "high       12 h\n");

    fn t<'a>(now: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        [&["ticket", "--now", now][..], args].concat()
    }
    let open = db.ok(&t(
        "2024-06-01T09:00:00Z",
        &[
            "open",
            "C1",
            "--kind",
            "complaint",
            "--priority",
            "high",
            "--subject",
            "Broken hinge",
            "--body",
            "Arrived cracked",
        ],
    ));
    assert_eq!(
        open.split_whitespace().collect::<Vec<_>>(),
        [
            "1",
            "1",
            "complaint",
            "high",
            "open",
            "due",
            "2024-06-01",
            "21:00",
            "in",
            "time",
            "Broken",
            "hinge"
        ]
    );
    has(
        &db.ok(&t(
            "2024-06-01T09:00:00Z",
            &[
                "open",
                "C3",
                "--kind",
                "question",
                "--subject",
                "Invoice copy",
            ],
        )),
        "question  normal  open     due 2024-06-04 09:00  in time ",
    );
    has(
        &db.fail(&t(
            "2024-06-01T09:00:00Z",
            &["open", "C1", "--kind", "praise", "--subject", "x"],
        )),
        "'praise' is not one of: complaint, repair, question",
    );
    has(
        &db.fail(&[
            "ticket",
            "open",
            "C99",
            "--kind",
            "question",
            "--subject",
            "x",
        ]),
        "customer number C99 not found",
    );

    let next_day = "2024-06-02T09:00:00Z";
    let list = db.ok(&t(next_day, &["list"]));
    assert!(list.ends_with("2 open, 1 breached\n"), "{list}");
    has(&list, "due 2024-06-01 21:00  BREACHED     Broken hinge");
    let esc = db.ok(&t(next_day, &["escalate"]));
    has(&esc, "BREACHED L1  Broken hinge");
    assert!(esc.ends_with("\n1 escalated\n"), "{esc}");
    assert_eq!(db.ok(&t(next_day, &["escalate"])), "0 escalated\n");

    has(
        &db.ok(&t(
            "2024-06-02T10:00:00Z",
            &["comment", "C1", "1", "Called back"],
        )),
        "2024-06-02 10:00  comment   cli:tester Called back",
    );
    has(
        &db.fail(&t("2024-06-02T10:00:00Z", &["comment", "C3", "1", "wrong"])),
        "error: ticket 1 of customer 3 not found",
    );
    let resolved = db.ok(&t(
        "2024-06-02T11:00:00Z",
        &["resolve", "C1", "1", "--text", "Replaced"],
    ));
    assert_eq!(row(&resolved, &["1", "1"])[4], "resolved");
    has(&resolved, "2024-06-02 11:00  resolved  cli:tester Replaced");
    has(
        &db.fail(&t("2024-06-02T11:00:00Z", &["resolve", "C1", "1"])),
        "error: ticket 1 is already resolved",
    );
    has(
        &db.fail(&t("2024-06-02T12:00:00Z", &["reopen", "C3", "2"])),
        "error: ticket 2 is not resolved",
    );
    let reopened = db.ok(&t(
        "2024-06-02T12:00:00Z",
        &["reopen", "C1", "1", "--text", "Still cracked"],
    ));
    // Reopened: open again with a new SLA clock of 12 hours.
    has(&reopened, "open     due 2024-06-03 00:00  in time ");
    has(&reopened, "reopened  cli:tester Still cracked");

    let shown = db.ok(&t("2024-06-02T12:00:00Z", &["show", "C1", "1"]));
    let events: Vec<&str> = shown
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(2).unwrap())
        .collect();
    assert_eq!(
        events,
        ["opened", "escalated", "comment", "resolved", "reopened"]
    );
    has(
        &db.fail(&t("2024-06-02T12:00:00Z", &["show", "C1", "99"])),
        "error: ticket 99 of customer 1 not found",
    );
    let history = db.ok(&t("2024-06-02T12:00:00Z", &["list", "--customer", "C3"]));
    has(&history, "Invoice copy");
    assert!(!history.contains("Broken hinge"), "{history}");
}

#[test]
fn surveys() {
    let db = Db::with_customers();
    assert_eq!(
        db.ok(&["survey", "show", "C1"]),
        "customer 1: latest CSAT -, latest NPS -, satisfaction figure - (0 answers)\n"
    );
    db.ok(&[
        "ticket",
        "open",
        "C1",
        "--kind",
        "repair",
        "--subject",
        "Fix it",
    ]);
    db.ok(&[
        "ticket",
        "open",
        "C3",
        "--kind",
        "repair",
        "--subject",
        "Fix mine",
    ]);
    assert_eq!(
        db.ok(&[
            "survey",
            "record",
            "C1",
            "--kind",
            "csat",
            "--score",
            "4",
            "--comment",
            "Quick fix",
            "--ticket",
            "1",
        ]),
        "survey 1 recorded: csat 4 for customer 1\n"
    );
    assert_eq!(
        db.ok(&["survey", "record", "C1", "--kind", "nps", "--score", "9"]),
        "survey 2 recorded: nps 9 for customer 1\n"
    );
    let rec = ["survey", "record", "C1", "--kind"];
    has(
        &db.fail(&[&rec[..], &["csat", "--score", "6"]].concat()),
        "score: a csat answer is 1 to 5",
    );
    has(
        &db.fail(&[&rec[..], &["nps", "--score", "11"]].concat()),
        "score: a nps answer is 0 to 10",
    );
    has(
        &db.fail(&[&rec[..], &["ces", "--score", "1"]].concat()),
        "'ces' is not one of: csat, nps",
    );
    has(
        &db.fail(&[&rec[..], &["csat", "--score", "3", "--ticket", "2"]].concat()),
        "ticket_id: ticket 2 does not belong to customer 1",
    );
    has(
        &db.fail(&["survey", "show", "C99"]),
        "customer number C99 not found",
    );
    let show = db.ok(&["survey", "show", "C1"]);
    let lines: Vec<&str> = show.lines().collect();
    // The figure is the latest answer's on the 1-5 scale: NPS 9 -> 1 + 9 * 0.4.
    assert_eq!(
        lines[0],
        "customer 1: latest CSAT 4, latest NPS 9, satisfaction figure 4.6 (2 answers)"
    );
    assert_eq!(lines.len(), 3, "{show}");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>()[1..],
        ["csat", "4", "Quick", "fix"]
    );
}

#[test]
fn followups() {
    let db = Db::with_customers();
    assert_eq!(
        db.ok(&["followup", "cadence"]),
        "A  every 7 days\nB  every 30 days\nC  every 91 days\n"
    );
    assert_eq!(
        db.ok(&["followup", "cadence", "b", "10"]),
        "A  every 7 days\nB  every 10 days\nC  every 91 days\n"
    );
    has(
        &db.fail(&["followup", "cadence", "D", "10"]),
        "error: class is A, B or C",
    );
    has(
        &db.fail(&["followup", "cadence", "A", "0"]),
        "error: days must be more than 0",
    );

    let visits = db.file(
        "visits.csv",
        "customer,kind,date,text\nC1,visit,2024-03-01T10:00:00Z,Showed the catalogue\n",
    );
    db.ok(&["import", "interactions", &visits]);
    // Before the values are computed nobody has an ABC class, so nobody is planned.
    assert!(db
        .ok(&["followup", "plan", "--as-of", "2024-03-05"])
        .ends_with("\n0 customers\n"));
    db.ok(&["value", "refresh"]);
    let plan = db.ok(&["followup", "plan", "--as-of", "2024-03-05"]);
    assert_eq!(
        plan.lines()
            .skip(1)
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .collect::<Vec<_>>(),
        [
            vec!["2", "Ada", "Lovelace", "-", "A", "never", "2024-03-05", "0"],
            vec!["3", "Bob", "Builder", "-", "B", "never", "2024-03-05", "0"],
            vec![
                "1",
                "Ada",
                "Lovelace",
                "-",
                "A",
                "2024-03-01",
                "2024-03-08",
                "-3"
            ],
            vec!["3", "customers"],
        ]
    );
    let due = db.ok(&["followup", "plan", "--as-of", "2024-03-05", "--due"]);
    assert!(due.ends_with("\n2 customers\n"), "{due}");
    assert!(!due.contains("2024-03-08"), "{due}");
    has(
        &db.fail(&["followup", "plan", "--as-of", "March"]),
        "invalid value 'March' for '--as-of <AS_OF>'",
    );

    let brief: serde_json::Value =
        serde_json::from_str(&db.ok(&["followup", "brief", "C1"])).unwrap();
    assert_eq!(brief["customer"]["number"], "C1");
    assert_eq!(brief["last_orders"][0]["order_ref"], "O-1");
    assert_eq!(brief["credit"]["open"], 0.0);
    has(
        &db.fail(&["followup", "brief", "C99"]),
        "error: customer number C99 not found",
    );
}

#[test]
fn opportunities() {
    let db = Db::with_customers();
    fn add<'a>(args: &[&'a str]) -> Vec<&'a str> {
        [&["opportunity", "add", "C1"][..], args].concat()
    }
    assert_eq!(
        db.ok(&add(&[
            "--name",
            "Fleet deal",
            "--amount",
            "10000",
            "--close",
            "2024-09-30"
        ])),
        "opportunity 1 of customer 1: prospecting 10000.00 at 10% (weighted 1000.00), close 2024-09-30\n"
    );
    assert_eq!(
        db.ok(&add(&[
            "--name",
            "Spare parts",
            "--amount",
            "2000",
            "--close",
            "2024-10-15",
            "--stage",
            "proposal"
        ])),
        "opportunity 2 of customer 1: proposal 2000.00 at 50% (weighted 1000.00), close 2024-10-15\n"
    );
    let bad = ["--name", "Bad", "--amount", "5", "--close", "2024-10-15"];
    has(
        &db.fail(&add(&[&bad[..], &["--stage", "dreaming"]].concat())),
        "stage: 'dreaming' is not one of prospecting, qualification, proposal, negotiation, won, lost",
    );
    has(
        &db.fail(&add(&[&bad[..], &["--probability", "150"]].concat())),
        "probability: must be 0-100",
    );
    has(
        &db.fail(&[&["opportunity", "add", "C99"][..], &bad[..]].concat()),
        "customer number C99 not found",
    );
    let list = db.ok(&["opportunity", "list", "C1"]);
    assert_eq!(
        row(&list, &["1"]),
        [
            "1",
            "Fleet",
            "deal",
            "prospecting",
            "10000.00",
            "10%",
            "2024-09-30"
        ]
    );
    assert_eq!(row(&list, &["2"])[3], "proposal");
    has(
        &db.fail(&["opportunity", "list", "C99"]),
        "customer number C99 not found",
    );

    assert_eq!(
        db.ok(&["opportunity", "stage", "C1", "1", "negotiation"]),
        "opportunity 1 is now negotiation at 75%\n"
    );
    assert_eq!(
        db.ok(&[
            "opportunity",
            "stage",
            "C1",
            "2",
            "won",
            "--probability",
            "100"
        ]),
        "opportunity 2 is now won at 100%\n"
    );
    has(
        &db.fail(&["opportunity", "stage", "C1", "1", "flying"]),
        "stage: 'flying' is not one of prospecting",
    );
    has(
        &db.fail(&["opportunity", "stage", "C3", "1", "won"]),
        "error: opportunity 1 of customer 3 not found",
    );
    let p = db.ok(&["opportunity", "pipeline"]);
    assert_eq!(
        row(&p, &["negotiation"]),
        ["negotiation", "1", "10000.00", "7500.00"]
    );
    assert_eq!(row(&p, &["won"]), ["won", "1", "2000.00", "2000.00"]);
    assert_eq!(
        row(&p, &["prospecting"]),
        ["prospecting", "0", "0.00", "0.00"]
    );
    assert_eq!(row(&p, &["2024-09"]), ["2024-09", "1", "7500.00", "0.00"]);
    assert_eq!(row(&p, &["2024-10"]), ["2024-10", "0", "0.00", "2000.00"]);
}

#[test]
fn review() {
    let db = Db::with_customers();
    db.add_user("rita", "rep", "rita-password-1");
    db.ok(&[
        "lead",
        "add",
        "--name",
        "Wu Ming",
        "--company",
        "Kite Co",
        "--owner",
        "rita",
    ]);
    db.ok(&["lead", "qualify", "1"]);
    has(
        &db.ok(&["lead", "convert", "1"]),
        "lead 1 converted into new customer 4",
    );
    db.ok(&[
        "credit",
        "order",
        "4",
        "--date",
        "2024-05-01",
        "--amount",
        "400",
        "--ref",
        "R-1",
    ]);
    db.ok(&[
        "invoice",
        "pay",
        "4",
        "--amount",
        "150",
        "--date",
        "2024-05-20",
    ]);
    let calls = db.file(
        "calls.csv",
        "customer,kind,date,text\n\
         C000004,call,2024-05-02T09:00:00Z,Asked about delivery\n\
         C000004,promise,2024-05-03T09:00:00Z,Will ship by June\n\
         C1,call,2023-05-03T09:00:00Z,Outside the period\n",
    );
    db.ok(&["import", "interactions", &calls]);
    let r = db.ok(&["review", "--from", "2024-01-01", "--to", "2024-12-31"]);
    assert!(
        r.starts_with("rep              customers interactions promises"),
        "{r}"
    );
    // rita: 1 customer, 2 interactions in the period (the conversion's note is dated today),
    // 1 promise, no tickets, 400 sold, 150 collected, 250 overdue (due 2024-05-31).
    let rita = row(&r, &["rita"]);
    assert_eq!(rita[1..4], ["1", "2", "1"], "{r}");
    assert_eq!(rita[5..], ["0/0", "400.00", "150.00", "250.00"], "{r}");
    let none = row(&r, &["(no", "owner)"]);
    assert_eq!(none[2..4], ["3", "0"], "{r}");
    assert_eq!(none[7..], ["425.75", "0.00", "0.00"], "{r}");
    has(
        &db.fail(&["review", "--from", "2024-12-31", "--to", "2024-01-01"]),
        "from: 2024-12-31 is after 'to' (2024-01-01)",
    );
    has(
        &db.fail(&["review", "--from", "2024-01-01"]),
        "the following required arguments were not provided",
    );
}

#[test]
fn users() {
    let db = Db::with_customers();
    db.add_user("rita", "rep", "rita-password-1");
    db.add_user("ann", "manager", "ann-password-1");
    let add = ["user", "add", "bob", "--password-stdin", "--role"];
    has(
        &fail(
            &db.with_stdin(&[&add[..], &["king"]].concat(), "bob-password-1\n"),
            &add,
        ),
        "error: unknown role 'king' (admin, manager, rep, analyst)",
    );
    has(
        &fail(
            &db.with_stdin(&[&add[..], &["rep"]].concat(), "short\n"),
            &add,
        ),
        "password: must be at least 8 characters long",
    );
    let list = db.ok(&["user", "list"]);
    assert_eq!(row(&list, &["1"]), ["1", "admin", "admin", "all", "active"]);
    assert_eq!(row(&list, &["2"]), ["2", "rita", "rep", "own", "active"]);
    assert_eq!(
        row(&list, &["3"]),
        ["3", "ann", "manager", "department_tree", "active"]
    );
    assert!(!list.contains("bob"), "{list}");

    // disable / enable
    has(
        &db.ok(&["user", "disable", "ann"]),
        "user ann disabled; they own 0 customers",
    );
    assert_eq!(
        *row(&db.ok(&["user", "list"]), &["3"]).last().unwrap(),
        "disabled"
    );
    has(
        &db.fail(&["user", "disable", "nobody"]),
        "error: user nobody not found",
    );
    assert_eq!(db.ok(&["user", "enable", "ann"]), "user ann enabled\n");
    assert_eq!(
        *row(&db.ok(&["user", "list"]), &["3"]).last().unwrap(),
        "active"
    );
    has(
        &db.fail(&["user", "enable", "nobody"]),
        "error: user nobody not found",
    );

    // passwd: the new password signs in, the old one no longer does.
    let passwd = ["user", "passwd", "rita", "--password-stdin"];
    assert_eq!(
        ok(&db.with_stdin(&passwd, "rita-password-2\n"), &passwd),
        "password of rita changed (their sessions ended)\n"
    );
    has(
        &fail(&db.with_stdin(&passwd, "new\n"), &passwd),
        "password: must be at least 8 characters long",
    );
    let nobody = ["user", "passwd", "nobody", "--password-stdin"];
    has(
        &fail(&db.with_stdin(&nobody, "whatever-123\n"), &nobody),
        "error: user nobody not found",
    );
    let (new_ok, old_ok) = db.store(async |s| {
        (
            s.authenticate("rita", "rita-password-2")
                .await
                .unwrap()
                .is_some(),
            s.authenticate("rita", "rita-password-1")
                .await
                .unwrap()
                .is_some(),
        )
    });
    assert!(new_ok && !old_ok);

    // role
    assert_eq!(
        db.ok(&["user", "role", "rita", "analyst"]),
        "rita: rep / own -> analyst / none\n"
    );
    assert_eq!(
        row(&db.ok(&["user", "list"]), &["2"]),
        ["2", "rita", "analyst", "none", "active"]
    );
    has(
        &db.fail(&["user", "role", "rita", "wizard"]),
        "error: unknown role 'wizard' (admin, manager, rep, analyst)",
    );
    has(
        &db.fail(&["user", "role", "rita", "rep", "--scope", "galaxy"]),
        "error: unknown scope 'galaxy' (own, subordinates, department, department_tree, all, none)",
    );
    assert_eq!(
        db.ok(&["user", "role", "rita", "rep", "--scope", "own"]),
        "rita: analyst / none -> rep / own\n"
    );

    // handover: rita's converted lead becomes ann's customer.
    db.ok(&["lead", "add", "--name", "Wu Ming", "--owner", "rita"]);
    db.ok(&["lead", "qualify", "1"]);
    db.ok(&["lead", "convert", "1"]);
    let owner_of = |number: &str| {
        let v: serde_json::Value =
            serde_json::from_str(&db.ok(&["export", "customers", "--format", "json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .find(|c| c["number"] == number)
            .unwrap()["owner_id"]
            .clone()
    };
    assert_eq!(owner_of("C000004"), 2);
    has(
        &db.fail(&["user", "handover", "rita", "ann", "--customer", "1"]),
        "customers: customer 1 is not owned by user 2",
    );
    has(
        &db.fail(&["user", "handover", "rita", "nobody"]),
        "error: user nobody not found",
    );
    db.ok(&["user", "disable", "ann"]);
    has(
        &db.fail(&["user", "handover", "rita", "ann"]),
        "to: user 'ann' is disabled",
    );
    assert_eq!(owner_of("C000004"), 2);
    db.ok(&["user", "enable", "ann"]);
    assert_eq!(
        db.ok(&["user", "handover", "rita", "ann"]),
        "1 customers handed over from rita to ann\n"
    );
    assert_eq!(owner_of("C000004"), 3);
    has(
        &db.ok(&["user", "disable", "ann"]),
        "user ann disabled; they own 1 customers",
    );
}

#[test]
fn tokens() {
    let db = Db::new();
    db.add_user("rita", "rep", "rita-password-1");
    db.add_user("ann", "manager", "ann-password-1");
    let o = db.run(&["token", "create", "rita", "--name", "laptop"]);
    let secret = ok(&o, &["token create"]).trim().to_string();
    assert!(secret.starts_with("ptk_"), "{secret}");
    has(
        &String::from_utf8_lossy(&o.stderr),
        "token 1 for rita (shown once",
    );
    db.ok(&["token", "create", "ann"]);
    has(
        &db.fail(&["token", "create", "nobody"]),
        "error: user nobody not found",
    );

    let all = db.ok(&["token", "list"]);
    assert_eq!(all.lines().count(), 2, "{all}");
    let t1 = row(&all, &["1"]);
    assert_eq!(t1[..4], ["1", "user", "2", "laptop"]);
    assert_eq!(t1[4], format!("{}...", &secret[..10]));
    assert_eq!(*t1.last().unwrap(), "active");
    let ritas = db.ok(&["token", "list", "rita"]);
    assert_eq!(ritas.lines().count(), 1, "{ritas}");
    has(
        &db.fail(&["token", "list", "nobody"]),
        "error: user nobody not found",
    );

    assert!(db.store(async |s| s.token_user(&secret).await.unwrap().is_some()));
    assert_eq!(db.ok(&["token", "revoke", "1"]), "token 1 revoked\n");
    assert_eq!(
        *row(&db.ok(&["token", "list", "rita"]), &["1"])
            .last()
            .unwrap(),
        "revoked"
    );
    assert!(db.store(async |s| s.token_user(&secret).await.unwrap().is_none()));
    assert_eq!(
        *row(&db.ok(&["token", "list"]), &["2"]).last().unwrap(),
        "active"
    );
    has(
        &db.fail(&["token", "revoke", "99"]),
        "error: token 99 not found",
    );
    has(
        &db.fail(&["token", "revoke", "one"]),
        "invalid value 'one' for '<ID>'",
    );
}

#[test]
fn pool() {
    let db = Db::new();
    let rules = db.ok(&["pool", "rules"]);
    assert_eq!(
        rules,
        "cap: 500 customers per user\n\
         grade A: back to the pool after 180 idle days\n\
         grade B: back to the pool after 120 idle days\n\
         grade C: back to the pool after 90 idle days\n\
         grade D: back to the pool after 60 idle days\n\
         grade E: back to the pool after 30 idle days\n\
         grade none: back to the pool after 30 idle days\n"
    );
    assert_eq!(db.ok(&["pool", "set", "cap", "5"]), "pool.cap = 5\n");
    assert_eq!(
        db.ok(&["pool", "set", "reclaim_days.none", "45"]),
        "pool.reclaim_days.none = 45\n"
    );
    let rules = db.ok(&["pool", "rules"]);
    has(&rules, "cap: 5 customers per user\n");
    has(&rules, "grade none: back to the pool after 45 idle days\n");
    for bad in [
        &["size", "5"][..],
        &["reclaim_days.Z", "5"],
        &["cap", "--", "-1"],
    ] {
        has(
            &db.fail(&[&["pool", "set"][..], bad].concat()),
            "error: key must be cap or reclaim_days.A..E / reclaim_days.none, value >= 0",
        );
    }

    // rita owns a customer converted from her lead (created today).
    db.add_user("rita", "rep", "rita-password-1");
    db.ok(&["lead", "add", "--name", "Wu Ming", "--owner", "rita"]);
    db.ok(&["lead", "qualify", "1"]);
    db.ok(&["lead", "convert", "1"]);
    let owner = || {
        let v: serde_json::Value =
            serde_json::from_str(&db.ok(&["export", "customers", "--format", "json"])).unwrap();
        v[0]["owner_id"].clone()
    };
    assert_eq!(owner(), 2);
    // Long before it was created nothing is idle.
    assert_eq!(
        db.ok(&["pool", "reclaim", "--today", "2020-01-01"]),
        "0 customers returned to the pool\n"
    );
    let preview = db.ok(&["pool", "reclaim", "--today", "2200-01-01", "--preview"]);
    has(
        &preview,
        "customer 1 would return to the pool (owner 2, grade -, idle ",
    );
    assert!(
        preview.ends_with("\n1 customers would return to the pool\n"),
        "{preview}"
    );
    assert_eq!(owner(), 2, "a preview moved a customer");
    let done = db.ok(&["pool", "reclaim", "--today", "2200-01-01"]);
    has(
        &done,
        "customer 1 returned to the pool (owner 2, grade -, idle ",
    );
    assert!(
        done.ends_with("\n1 customers returned to the pool\n"),
        "{done}"
    );
    assert_eq!(owner(), serde_json::Value::Null);
    assert_eq!(
        db.ok(&["pool", "reclaim", "--today", "2200-01-01"]),
        "0 customers returned to the pool\n"
    );
    has(
        &db.fail(&["pool", "reclaim", "--today", "tomorrow"]),
        "invalid value 'tomorrow' for '--today <TODAY>'",
    );
}

#[test]
fn audit() {
    let db = Db::new();
    db.add_user("ann", "manager", "ann-password-1");
    db.ok(&["user", "disable", "ann"]);
    db.ok(&["user", "enable", "ann"]);
    let out = db.ok(&["audit", "--action", "user_disable"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(cols[3..], ["cli:tester", "user_disable", "ann"]);

    let out = db.ok(&["audit", "--actor", "cli:tester", "--limit", "3"]);
    let actions: Vec<&str> = out
        .lines()
        .map(|l| l.split_whitespace().nth(4).unwrap())
        .collect();
    // Newest first; the previous `audit` is itself in the log as an export.
    assert_eq!(actions, ["export", "user_enable", "user_disable"]);

    let file = db.at("audit.csv");
    db.ok(&["audit", "--csv", "--action", "user_add", "-o", &file]);
    let mut r = csv::Reader::from_path(&file).unwrap();
    assert_eq!(
        r.headers().unwrap(),
        vec![
            "id",
            "at",
            "actor_id",
            "actor",
            "action",
            "customer_id",
            "detail",
            "row_count",
            "ip"
        ]
    );
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][3], "cli:tester");
    assert_eq!(&rows[0][6], "ann (manager)");
    let exports = db.ok(&["audit", "--action", "export", "--limit", "1"]);
    has(&exports, "audit log (1 rows)");

    has(
        &db.fail(&["audit", "--limit", "abc"]),
        "invalid value 'abc' for '--limit <LIMIT>'",
    );
    let nowhere = db.at("missing-dir/audit.csv");
    has(
        &db.fail(&["audit", "--csv", "-o", &nowhere]),
        &format!("error: creating {nowhere}"),
    );
}

#[test]
fn audit_to_an_unwritable_file_logs_no_export() {
    let db = Db::new();
    let nowhere = db.at("missing-dir/audit.csv");
    db.fail(&["audit", "-o", &nowhere]);
    let out = db.ok(&["audit", "--action", "export"]);
    // Only this listing's own export is logged, not the failed one.
    assert_eq!(out.lines().count(), 0, "{out}");
}

#[test]
fn leads() {
    let db = Db::new();
    db.add_user("rita", "rep", "rita-password-1");
    assert_eq!(
        db.ok(&[
            "lead",
            "add",
            "--name",
            "Wu Ming",
            "--company",
            "Kite Co",
            "--email",
            "wu@kite.example",
            "--owner",
            "rita",
            "--source",
            "web",
            "--notes",
            "call in May",
        ]),
        "lead 1 recorded\n"
    );
    let show = db.ok(&["lead", "show", "1"]);
    assert!(show.starts_with("lead 1 (new)\n"), "{show}");
    for l in [
        "  name         Wu Ming",
        "  company      Kite Co",
        "  email        wu@kite.example",
        "  source       web",
        "  owner        2",
        "  notes        call in May",
    ] {
        has(&show, l);
    }
    has(
        &db.fail(&["lead", "add", "--name", "X", "--owner", "nobody"]),
        "error: user nobody not found",
    );
    has(
        &db.fail(&["lead", "add", "--name", "X", "--campaign", "Nope"]),
        "error: campaign 'Nope' does not exist (see patron campaign list)",
    );
    has(
        &db.fail(&["lead", "add", "--name", "Y", "--email", "bad@@x"]),
        "email: 'bad@@x' is not an e-mail address",
    );
    has(
        &db.fail(&["lead", "add", "--name", " "]),
        "name: is required",
    );
    assert!(db.ok(&["lead", "list"]).starts_with("new 1  contacted 0"));

    // disqualify
    has(
        &db.fail(&["lead", "disqualify", "1", "--reason", "  "]),
        "reason: is required to disqualify a lead",
    );
    let out = db.ok(&["lead", "disqualify", "1", "--reason", "no budget"]);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        [
            "1",
            "disqualified",
            "Wu",
            "Ming",
            "Kite",
            "Co",
            "web",
            "(no",
            "budget)"
        ]
    );
    let list = db.ok(&["lead", "list", "--status", "disqualified"]);
    assert!(
        list.starts_with("new 0  contacted 0  qualified 0  converted 0  disqualified 1\n"),
        "{list}"
    );
    has(&list, "(no budget)");
    has(&db.ok(&["lead", "show", "1"]), "  disqualified no budget");
    has(
        &db.fail(&["lead", "disqualify", "1", "--reason", "again"]),
        "error: lead 1 is 'disqualified' already",
    );
    has(
        &db.fail(&["lead", "disqualify", "99", "--reason", "x"]),
        "error: lead 99 not found",
    );

    // reopen
    assert_eq!(
        db.ok(&["lead", "reopen", "1"])
            .split_whitespace()
            .collect::<Vec<_>>()[..2],
        ["1", "new"]
    );
    assert!(db
        .ok(&["lead", "list"])
        .starts_with("new 1  contacted 0  qualified 0  converted 0  disqualified 0\n"));
    has(
        &db.fail(&["lead", "reopen", "1"]),
        "error: lead 1 is 'new' already",
    );
    db.ok(&["lead", "contacted", "1"]);
    has(
        &db.fail(&["lead", "reopen", "1"]),
        "error: lead 1 cannot go from 'contacted' to 'new'",
    );
    db.ok(&["lead", "qualify", "1"]);
    db.ok(&["lead", "convert", "1"]);
    let converted =
        "error: lead 1 was converted into customer 1 already; it cannot change any more";
    has(&db.fail(&["lead", "reopen", "1"]), converted);
    has(
        &db.fail(&["lead", "disqualify", "1", "--reason", "late"]),
        converted,
    );
}

#[test]
fn bench_import() {
    let db = Db::new();
    let file = db.at("bench/orders.csv");
    let args = [
        "bench",
        "import",
        "--customers",
        "50",
        "--orders",
        "200",
        "--file",
        &file,
    ];
    let o = db.run(&args);
    let out = ok(&o, &args);
    has(
        &String::from_utf8_lossy(&o.stderr),
        &format!("generating 200 orders over 50 customers into {file}"),
    );
    has(&out, ": 200 stored, 0 already present, 0 rejected");
    let json: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(json["database"], "sqlite");
    assert_eq!(json["rows"], 200);
    assert_eq!(json["inserted"], 200);
    let created = json["customers_created"].as_u64().unwrap();
    assert!((1..=50).contains(&created), "{json}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text.lines().next(),
        Some("customer_id,date,amount,cost,category")
    );
    assert_eq!(text.lines().count(), 201);
    let exported = db.ok(&["export", "orders"]);
    assert_eq!(exported.lines().count(), 201, "one order per generated row");

    // A second run reuses the file and stores nothing twice.
    let o = db.run(&args);
    let out = ok(&o, &args);
    has(
        &String::from_utf8_lossy(&o.stderr),
        &format!("reusing {file}"),
    );
    has(&out, ": 0 stored, 200 already present, 0 rejected");

    // A reused file with a bad row is refused by line and column.
    let bad = db.file("bad.csv", "customer_id,date,amount\n1,notadate,5\n");
    let err = db.fail(&[
        "bench",
        "import",
        "--customers",
        "5",
        "--orders",
        "10",
        "--file",
        &bad,
    ]);
    has(
        &err,
        &format!("{bad}:2: column date: 'notadate' is not a date (expected YYYY-MM-DD)"),
    );
}

#[test]
fn bench_import_refuses_zero_customers() {
    let db = Db::new();
    let file = db.at("orders.csv");
    let err = db.fail(&[
        "bench",
        "import",
        "--customers",
        "0",
        "--orders",
        "10",
        "--file",
        &file,
    ]);
    has(&err, "--customers");
}

#[test]
fn bench_import_names_the_file_it_cannot_create() {
    let db = Db::new();
    let blocker = db.file("blocker", "");
    let file = format!("{blocker}/orders.csv");
    let err = db.fail(&[
        "bench",
        "import",
        "--customers",
        "5",
        "--orders",
        "10",
        "--file",
        &file,
    ]);
    // (The "generating ... into FILE" progress line names it; the error must too.)
    let line = err.lines().find(|l| l.starts_with("error:")).unwrap();
    has(line, &blocker);
}

/// Stored text holding terminal escapes (a lead's name, a failed sign-in's user name) is printed
/// escaped, never raw.
#[test]
fn terminal_escapes_are_printed_as_text() {
    let db = Db::new();
    db.ok(&[
        "lead",
        "add",
        "--name",
        "Evil\u{1b}[2J\u{1b}]0;pwned\u{7}Lead",
    ]);
    let list = db.ok(&["lead", "list"]);
    assert!(
        !list.contains('\u{1b}') && !list.contains('\u{7}'),
        "{list:?}"
    );
    assert!(list.contains("Evil\\u{1b}[2J"), "{list}");
    let shown = db.ok(&["lead", "show", "1"]);
    assert!(!shown.contains('\u{1b}'), "{shown:?}");
}

/// The audit log names the operator: `--as USER` (or `PATRON_AS`) as given, else the
/// operating-system user (`cli:<login name>`, found even without $USER), never a generic name.
#[test]
fn the_operator_is_named() {
    let db = Db::new();
    db.add_user("ann", "rep", "ann-password-1");
    db.ok(&["--as", "carol", "user", "disable", "ann"]);
    let out = db.ok(&["audit", "--action", "user_disable"]);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(cols[3..], ["carol", "user_disable", "ann"], "{out}");
    let o = db
        .command(&["user", "enable", "ann"])
        .env("PATRON_AS", "dave")
        .output()
        .unwrap();
    ok(&o, &["user", "enable", "ann"]);
    let out = db.ok(&["audit", "--action", "user_enable"]);
    let cols: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(cols[3..], ["dave", "user_enable", "ann"], "{out}");
    // Without $USER or $LOGNAME (cron, containers), the login name still comes from the system.
    let o = db
        .command(&["user", "disable", "ann"])
        .env_remove("USER")
        .env_remove("LOGNAME")
        .output()
        .unwrap();
    ok(&o, &["user", "disable", "ann"]);
    let out = db.ok(&["audit", "--action", "user_disable", "--limit", "1"]);
    let actor = out.split_whitespace().nth(3).unwrap().to_string();
    assert!(
        actor.starts_with("cli:") && actor != "cli:operator" && actor != "cli:",
        "{out}"
    );
    has(&db.fail(&["--as", " ", "user", "enable", "ann"]), "--as");
}

/// `patron audit watch|unusual|review|report`: a low floor with suspension, five card views by
/// a rep raise one alert (listed with its figures), the review clears it, and the evidence
/// report counts the views and names the customers, as text and CSV; bad dates, users and
/// settings are refused naming their field.
#[test]
fn audit_unusual_access_and_evidence() {
    let db = Db::with_customers();
    db.add_user("ray", "rep", "ray-password-1");
    let out = db.ok(&["audit", "watch"]);
    has(&out, "multiple of the usual level: 5");
    has(&out, "floor view: 100 an hour");
    has(&out, "suspend exports on an alert: no");
    let out = db.ok(&[
        "audit",
        "watch",
        "--floor",
        "view=2",
        "--suspend-exports",
        "yes",
    ]);
    has(&out, "floor view: 2 an hour");
    has(&out, "suspend exports on an alert: yes");
    has(&db.fail(&["audit", "watch", "--multiple", "0"]), "multiple");
    has(
        &db.fail(&["audit", "watch", "--floor", "views"]),
        "--floor: KIND=N",
    );
    // Five card views by the rep (the pool's customers): one alert.
    db.store(async |store| {
        let ray = store.user_by_name("ray").await.unwrap();
        let me = patron_app::Session::open(store, ray, None).await.unwrap();
        for id in [1, 2, 3, 1, 2] {
            patron_app::customers::open_card(store, &me, id, Some("card (web)"))
                .await
                .unwrap();
        }
    });
    let out = db.ok(&["audit", "unusual", "--open"]);
    let alerts: Vec<&str> = out.lines().filter(|l| l.contains(" view ")).collect();
    assert_eq!(alerts.len(), 1, "{out}");
    for part in [
        "ray",
        "3 (now 5, usual 0, alert above 2)",
        "exports suspended",
        "open",
    ] {
        has(alerts[0], part);
    }
    let id = alerts[0].split_whitespace().next().unwrap();
    has(&db.ok(&["audit", "review", id]), "reviewed");
    has(&db.fail(&["audit", "review", id]), "reviewed already");
    has(&db.ok(&["audit", "unusual", "--open"]), "no unusual access");

    let today = chrono::Utc::now().date_naive().to_string();
    let out = db.ok(&["audit", "report", "--user", "ray", "--from", &today]);
    has(
        &out,
        &format!("Evidence report: ray from {today} to {today}"),
    );
    has(&out, "in all            5");
    has(&out, "3 customers viewed:");
    has(&out, "Bob Builder");
    let file = db.at("evidence.csv");
    db.ok(&[
        "audit", "report", "--user", "ray", "--from", &today, "--to", &today, "--csv", "-o", &file,
    ]);
    let text = std::fs::read_to_string(&file).unwrap();
    has(&text, &format!("day,ray,{today},5,3,0,0,0"));
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("customer,ray,"))
            .count(),
        3
    );
    has(
        &db.fail(&["audit", "report", "--user", "ray", "--from", "2026-13-01"]),
        "--from: must be a date written YYYY-MM-DD",
    );
    has(
        &db.fail(&["audit", "report", "--user", "nobody", "--from", &today]),
        "no user named 'nobody'",
    );
}
