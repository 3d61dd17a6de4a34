//! `patron import leads` and `patron lead ...` end to end on a SQLite file: a trade show's
//! cards imported with their campaign, a bad row named by line and column, qualification,
//! conversion (refused twice), and the campaign counting the leads.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn patron(db: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db])
        .args(args)
        .output()
        .expect("running patron")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn cards_to_customers() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("patron.db");
    let db = db.to_str().unwrap();
    ok(&patron(
        db,
        &[
            "campaign",
            "add",
            "Canton Fair",
            "--cost",
            "5000",
            "--start",
            "2024-04-15",
        ],
    ));
    let cards = dir.path().join("cards.csv");
    std::fs::write(
        &cards,
        "姓名,公司,手机,邮箱,备注\n\
         Li Wei,Huaxin Textiles,+86 138 0013 8000,li@huaxin.example,wants samples\n\
         Zhang San,Dongfang Steel,139 0000 0001,zhang@@dongfang,\n",
    )
    .unwrap();
    let cards = cards.to_str().unwrap();
    let o = patron(db, &["import", "leads", cards, "--campaign", "Canton Fair"]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("{cards}:3: column 邮箱:")), "{err}");
    let rejects = dir.path().join("rejects.csv");
    let out = ok(&patron(
        db,
        &[
            "import",
            "leads",
            cards,
            "--campaign",
            "Canton Fair",
            "--source",
            "trade show",
            "--skip-bad",
            rejects.to_str().unwrap(),
        ],
    ));
    assert!(out.contains("1 leads stored"), "{out}");
    let out = ok(&patron(db, &["lead", "list"]));
    assert!(
        out.starts_with("new 1  contacted 0  qualified 0  converted 0"),
        "{out}"
    );
    assert!(
        out.contains("Li Wei") && out.contains("trade show"),
        "{out}"
    );

    let o = patron(db, &["lead", "convert", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("qualify it before"));
    let o = patron(db, &["lead", "assign", "1", "nobody"]);
    assert!(!o.status.success());
    let mut add = Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(["--database", db, "user", "add", "rita", "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin
        .take()
        .unwrap()
        .write_all(b"rita-password-1\n")
        .unwrap();
    ok(&add.wait_with_output().unwrap());
    ok(&patron(db, &["lead", "assign", "1", "rita"]));
    let out = ok(&patron(db, &["lead", "list", "--owner", "rita"]));
    assert!(out.contains("Li Wei"), "{out}");
    ok(&patron(db, &["lead", "contacted", "1"]));
    ok(&patron(db, &["lead", "qualify", "1"]));
    let out = ok(&patron(db, &["lead", "convert", "1"]));
    assert!(out.contains("converted into new customer"), "{out}");
    let o = patron(db, &["lead", "convert", "1"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already"));
    let out = ok(&patron(db, &["lead", "show", "1"]));
    assert!(
        out.contains("customer") && out.contains("converted"),
        "{out}"
    );
    let out = ok(&patron(db, &["campaign", "list"]));
    let row = out.lines().find(|l| l.starts_with("Canton Fair")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    // campaign name (2 words), cost, customers, leads, captured, converted, ...
    assert_eq!(&cols[3..7], ["1", "1", "1", "1"], "{row}");
}
