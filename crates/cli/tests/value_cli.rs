//! `patron value` on the real CDNOW sample (2,357 customers, 39-week calibration).

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn patron(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_patron"))
        .args(args)
        .output()
        .expect("running patron")
}

const CDNOW: [&str; 6] = [
    "--format",
    "cdnow",
    "--unit",
    "week",
    "--calibration-end",
    "1997-09-30",
];

#[test]
fn export_matches_the_published_cdnow_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("value.csv");
    let sample = data("CDNOW_sample.txt");
    let mut args = vec!["value", "export", "--orders", sample.to_str().unwrap()];
    args.extend(CDNOW);
    args.extend(["--output", out.to_str().unwrap()]);
    let o = patron(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        &header[..5],
        &["customer_id", "frequency", "recency", "T", "monetary_value"]
    );
    for col in [
        "p_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
        "rfm_segment",
        "abc_class",
        "loyalty_stage",
        "lifecycle_phase",
        "churn_warnings",
    ] {
        assert!(header.contains(&col), "missing column {col}");
    }
    let rows: HashMap<u64, Vec<String>> = lines
        .map(|l| {
            let f: Vec<String> = l.split(',').map(str::to_string).collect();
            (f[0].parse().unwrap(), f)
        })
        .collect();
    assert_eq!(rows.len(), 2357);

    // The published summary is keyed by the sample id (second column of the sample file).
    let sample_ids: HashMap<u64, u64> = std::fs::read_to_string(&sample)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let mut t = l.split_whitespace();
            Some((t.next()?.parse().ok()?, t.next()?.parse().ok()?))
        })
        .map(|(c, s): (u64, u64)| (s, c))
        .collect();
    let published =
        std::fs::read_to_string(data("cdnow_customers_summary_with_transactions.csv")).unwrap();
    let mut checked = 0;
    for line in published.lines().skip(1) {
        let f: Vec<f64> = line.trim().split(',').map(|v| v.parse().unwrap()).collect();
        let row = &rows[&sample_ids[&(f[0] as u64)]];
        // frequency, recency, T, monetary_value (published `x, t_x, T, zbar`, rounded to 0.01)
        for (k, col) in [(1, 1), (2, 2), (3, 3), (4, 4)] {
            let ours: f64 = row[col].parse().unwrap();
            assert!(
                (ours - f[k]).abs() < 0.006,
                "customer {}: {} = {ours}, published {}",
                f[0],
                header[col],
                f[k]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 2357);
    let p_alive_col = header.iter().position(|h| *h == "p_alive").unwrap();
    assert!(rows.values().all(|r| {
        let p: f64 = r[p_alive_col].parse().unwrap();
        (0.0..=1.0).contains(&p)
    }));
}

fn near(got: f64, want: f64) {
    let sig3 = |v: f64| format!("{v:.2e}");
    assert_eq!(
        sig3(got),
        sig3(want),
        "got {got}, want {want} to 3 significant digits"
    );
}

#[test]
fn report_fits_the_published_parameters_and_writes_plots() {
    let dir = tempfile::tempdir().unwrap();
    let plots = dir.path().join("plots");
    let sample = data("CDNOW_sample.txt");
    let mut args = vec![
        "value",
        "report",
        "--json",
        "--model",
        "bgnbd",
        "--orders",
        sample.to_str().unwrap(),
    ];
    args.extend(CDNOW);
    args.extend([
        "--holdout-end",
        "1998-06-30",
        "--plots",
        plots.to_str().unwrap(),
    ]);
    let o = patron(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["totals"]["customers"], 2357);
    let p = &v["model"]["params"];
    near(p["r"].as_f64().unwrap(), 0.243);
    near(p["alpha"].as_f64().unwrap(), 4.414);
    near(p["a"].as_f64().unwrap(), 0.793);
    near(p["b"].as_f64().unwrap(), 2.426);
    let g = &v["model"]["gamma_gamma"];
    near(g["p"].as_f64().unwrap(), 6.25);
    near(g["q"].as_f64().unwrap(), 3.74);
    near(g["gamma"].as_f64().unwrap(), 15.44);
    assert_eq!(g["customers"], 946);
    assert_eq!(v["model"]["holdout"].as_array().unwrap().len(), 8);
    for name in [
        "whale_curve.svg",
        "rfm_grid.svg",
        "loyalty_funnel.svg",
        "holdout_fit.svg",
    ] {
        let svg = std::fs::read_to_string(plots.join(name)).unwrap();
        assert!(svg.starts_with("<svg"), "{name}");
        assert!(svg.contains("<path") || svg.contains("<rect"), "{name}");
        assert!(svg.trim_end().ends_with("</svg>"), "{name}");
        assert_eq!(
            svg.matches("<text").count(),
            svg.matches("</text>").count(),
            "{name}"
        );
    }

    // The terminal report says how zero-dollar orders are treated.
    let mut args = vec!["value", "report", "--orders", sample.to_str().unwrap()];
    args.extend(CDNOW);
    args.extend(["--plots", plots.to_str().unwrap()]);
    let o = patron(&args);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Zero-dollar orders count as purchases"),
        "{text}"
    );
}

/// `--model auto` (the default) on the sample's 39 + 39 weeks: the README's comparison table,
/// and Pareto/NBD chosen by its lowest mean absolute error.
#[test]
fn auto_compares_the_models_on_the_sample_holdout() {
    let dir = tempfile::tempdir().unwrap();
    let sample = data("CDNOW_sample.txt");
    let plots = dir.path().join("p");
    let mut args = vec![
        "value",
        "report",
        "--json",
        "--orders",
        sample.to_str().unwrap(),
    ];
    args.extend(CDNOW);
    args.extend([
        "--holdout-end",
        "1998-06-30",
        "--plots",
        plots.to_str().unwrap(),
    ]);
    let o = patron(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = &v["model_choice"];
    assert_eq!(c["chosen"], "paretonbd", "{c}");
    assert_eq!(v["model"]["kind"], "paretonbd");
    assert_eq!(v["model"]["requested"], "auto");
    let rows = c["comparison"].as_array().unwrap();
    for (row, (kind, predicted, mae)) in rows.iter().zip([
        ("bgnbd", 1653.41, 0.78545),
        ("mbgnbd", 1576.73, 0.76478),
        ("paretonbd", 1665.51, 0.75452),
    ]) {
        assert_eq!(row["kind"], kind);
        assert_eq!(row["actual_total"], 1882.0);
        assert!(
            (row["predicted_total"].as_f64().unwrap() - predicted).abs() < 0.01,
            "{row}"
        );
        assert!(
            (row["mean_absolute_error"].as_f64().unwrap() - mae).abs() < 1e-5,
            "{row}"
        );
        assert!(row["excluded"].is_null(), "{row}");
    }
    // The terminal report shows the table.
    let mut args = vec!["value", "report", "--orders", sample.to_str().unwrap()];
    args.extend(CDNOW);
    args.extend([
        "--holdout-end",
        "1998-06-30",
        "--plots",
        plots.to_str().unwrap(),
    ]);
    let o = patron(&args);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Purchase model: chosen Pareto/NBD by holdout"),
        "{text}"
    );
    assert!(text.contains("0.75452"), "{text}");
}

#[test]
fn pareto_nbd_on_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let sample = data("CDNOW_sample.txt");
    let plots = dir.path().join("p");
    let mut args = vec![
        "value",
        "report",
        "--json",
        "--model",
        "paretonbd",
        "--orders",
        sample.to_str().unwrap(),
    ];
    args.extend(CDNOW);
    args.extend(["--plots", plots.to_str().unwrap()]);
    let o = patron(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The published Pareto/NBD estimates on this sample (Fader, Hardie & Lee; lifetimes).
    let p = &v["model"]["params"];
    for (name, published) in [
        ("r", 0.553),
        ("alpha", 10.578),
        ("s", 0.606),
        ("beta", 11.669),
    ] {
        let got = p[name].as_f64().unwrap();
        assert!(
            (got - published).abs() < 0.01,
            "{name} = {got}, published {published}"
        );
    }
}

#[test]
fn malformed_rows_and_empty_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "customer_id,date,amount,cost,category\n1,2024-01-02,10.00,4.00,a\n2,2024-13-40,5,1,b\n",
    )
    .unwrap();
    let o = patron(&["value", "export", "--orders", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:3: column date", bad.display())),
        "{err}"
    );

    std::fs::write(&bad, "customer_id,date,amount\n1,2024-01-02,ten\n").unwrap();
    let err = String::from_utf8_lossy(
        &patron(&["value", "export", "--orders", bad.to_str().unwrap()]).stderr,
    )
    .to_string();
    assert!(err.contains(":2: column amount: not a number"), "{err}");

    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, "").unwrap();
    let err = String::from_utf8_lossy(
        &patron(&["value", "export", "--orders", empty.to_str().unwrap()]).stderr,
    )
    .to_string();
    assert!(err.contains("empty"), "{err}");

    let o = patron(&[
        "value",
        "export",
        "--orders",
        empty.to_str().unwrap(),
        "--unit",
        "month",
    ]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("month"));
}

#[test]
fn csv_with_cost_gives_margins() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("o.csv");
    std::fs::write(&f, "customer_id,date,amount,cost,category\nA7,2024-01-02,10.00,4.00,a\nA7,2024-02-02,30,10,b\nB1,20240105,20,5,\"x, y\"\n").unwrap();
    let out = dir.path().join("v.csv");
    let o = patron(&[
        "value",
        "export",
        "--orders",
        f.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    let a7 = text.lines().find(|l| l.starts_with("A7,")).unwrap();
    let f: Vec<&str> = a7.split(',').collect();
    assert_eq!(
        &f[1..10],
        &["1", "31", "31", "30", "2", "40", "14", "0", "26"]
    );
}

/// `patron value refresh` stores every customer's figures and a snapshot in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_stores_figures_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("r.db").to_string_lossy().into_owned();
    let sample =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/CDNOW_sample.txt");
    let bin = env!("CARGO_BIN_EXE_patron");
    let ok = std::process::Command::new(bin)
        .args(["--database", &db, "import", "orders"])
        .arg(&sample)
        .args(["--format", "cdnow"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out = std::process::Command::new(bin)
        .args([
            "--database",
            &db,
            "value",
            "refresh",
            "--unit",
            "week",
            "--model",
            "bgnbd",
            "--calibration-end",
            "1997-09-30",
            "--as-of",
            "1998-06-30",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("snapshot 1") && stdout.contains("as of 1998-06-30"),
        "{stdout}"
    );
    let store = patron_store::Store::connect(&db).await.unwrap();
    let snap = store.latest_snapshot().await.unwrap().expect("a snapshot");
    assert_eq!(snap.report["as_of"], "1998-06-30");
    assert_eq!(snap.options["as_of"], "1998-06-30");
    let r = snap.report["model"]["params"]["r"]
        .as_f64()
        .or_else(|| snap.report.pointer("/model/r").and_then(|v| v.as_f64()));
    let r = r.unwrap_or_else(|| panic!("no BG/NBD r in {}", snap.report["model"]));
    assert!((r - 0.243).abs() < 0.0015, "r = {r}");
    // The sample's first customer (master id 00004, sample id 1): 2 repeat purchases,
    // recency 30.43 and T 38.86 weeks (data/cdnow_customers_summary.csv).
    let first = store.customer_by_number("00004").await.unwrap();
    let v = store
        .customer_value(first.id)
        .await
        .unwrap()
        .expect("figures of customer 00004");
    assert_eq!(v.frequency, Some(2.0));
    let (rec, t) = (v.recency.unwrap(), v.t.unwrap());
    assert!(
        (rec - 30.43).abs() < 0.01 && (t - 38.86).abs() < 0.01,
        "{rec} {t}"
    );
    // A second refresh with the defaults; `value transitions` compares the latest two: every
    // customer in one row of each table.
    let value = |args: &[&str]| {
        std::process::Command::new(bin)
            .args(["--database", &db, "value"])
            .args(args)
            .output()
            .unwrap()
    };
    let out = value(&["refresh", "--as-of", "1998-06-30"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = value(&["transitions"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("from snapshot 1 (as of 1998-06-30")
            && text.contains("to snapshot 2 (as of 1998-06-30")
            && text.contains("Grade transitions")
            && text.contains("Stage transitions"),
        "{text}"
    );
    let out = value(&["transitions", "--json", "--from", "1", "--to", "2"]);
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let total = |k: &str| -> i64 {
        t[k].as_array()
            .unwrap()
            .iter()
            .map(|r| r["customers"].as_i64().unwrap())
            .sum()
    };
    let customers = store.all_customer_values().await.unwrap().len() as i64;
    assert_eq!((total("grade"), total("stage")), (customers, customers));
    let out = value(&["transitions", "--to", "77"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("value snapshot 77"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
