//! The web interface's value pages wired to the server (dashboard from the stored snapshot with
//! the Recompute button, score model editor, import page), on the CDNOW sample (2,357 customers)
//! in a fresh SQLite database.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use patron_domain::{CustomerInput, Money};

use patron_store::testing::{fresh_store, TestStore};
use patron_store::{BackendKind, ImportCustomer, ImportOrderLine, Store};
use patron_testkit::{get, get_lang, post_form as post, send, Answer};

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/CDNOW_sample.txt");

/// A store with the CDNOW sample's customers and orders (cost = 60% of the amount); its database
/// is deleted when the test passes.
async fn sample_store() -> TestStore {
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let text = std::fs::read_to_string(SAMPLE).expect("data/CDNOW_sample.txt");
    let mut numbers: Vec<String> = Vec::new();
    let mut lines = Vec::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [id, _, date, cds, dollars] = f[..] else {
            continue;
        };
        numbers.push(id.to_string());
        let cents = (dollars.parse::<f64>().unwrap() * 100.0).round() as i64;
        lines.push((
            id.to_string(),
            chrono::NaiveDate::parse_from_str(date, "%Y%m%d").unwrap(),
            cds.parse::<i64>().unwrap(),
            cents,
        ));
    }
    numbers.sort();
    numbers.dedup();
    let customers: Vec<ImportCustomer> = numbers
        .iter()
        .map(|n| ImportCustomer {
            number: n.clone(),
            data: CustomerInput {
                name: format!("CDNOW {n}"),
                ..Default::default()
            },
        })
        .collect();
    store.import_customers(&customers, "test").await.unwrap();
    let ids = store.customer_ids(&numbers).await.unwrap();
    let rows: Vec<ImportOrderLine> = lines
        .iter()
        .enumerate()
        .map(|(k, (n, d, q, cents))| ImportOrderLine {
            customer_id: ids[n],
            order_ref: format!("L{k}"),
            line_no: 1,
            ordered_on: *d,
            category: None,
            quantity: *q,
            amount: Money(*cents),
            cost: Money(cents * 6 / 10),
        })
        .collect();
    store.import_order_lines(&rows).await.unwrap();
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_snapshot_and_recomputes() {
    let store = sample_store().await;
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "web-test")
        .await
        .unwrap();
    // No snapshot yet: figures computed live from the orders, with the Recompute button.
    let live = get(&app, "/dashboard").await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.body.contains("Computed live") && live.body.contains(r#"id="recompute""#));

    let day_before = chrono::Utc::now().date_naive().to_string();
    let r = post(&app, "/dashboard/recompute", &[]).await;
    let day_after = chrono::Utc::now().date_naive().to_string();
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.location.unwrap();
    assert!(to.starts_with("/dashboard?recomputed="), "{to}");
    assert!(store.latest_snapshot().await.unwrap().is_some());
    // The dashboard's recompute analyses up to today (not a stored calibration end): the
    // server's date during the call, either side of a midnight.
    let snap = store.latest_snapshot().await.unwrap().unwrap();
    let as_of = snap.report["as_of"].as_str().unwrap().to_string();
    assert!(as_of == day_before || as_of == day_after, "{as_of}");
    assert_eq!(snap.report["calibration_end"], as_of.as_str());

    // The refresh stored the period comparisons and the CLV histogram with the snapshot (the
    // histogram as the stored value rows count it), for the API's report they are left out.
    let snap = store.latest_snapshot().await.unwrap().unwrap();
    let figures = &snap.report["dashboard"];
    assert_eq!(figures["periods"].as_array().unwrap().len(), 4);
    assert_eq!(figures["customers"], store.counts().await.unwrap().0);
    assert_eq!(figures["advocates"], store.referrer_count().await.unwrap());
    let bins = &figures["clv_bins"];
    let counts: Vec<u64> = bins[2]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    let (lo, step) = (bins[0].as_f64().unwrap(), bins[1].as_f64().unwrap());
    assert_eq!(
        store.clv_histogram(lo, step, counts.len()).await.unwrap(),
        counts
    );
    assert!(counts.iter().sum::<u64>() > 0);

    let d = get(&app, &to).await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(
        d.body.contains(r#"id="as-of""#) && d.body.contains("Orders up to"),
        "the dashboard names its as-of date"
    );
    let b = &d.body;
    assert!(b.contains("Customer values recomputed"));
    assert!(!b.contains("Computed live"));
    for id in [
        "clv-plot",
        "funnel-plot",
        "whale-plot",
        "abc-plot",
        "rfm-plot",
        "grades-plot",
    ] {
        assert!(b.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
    assert!(b.contains("Top 20% of customers bring"));
    assert!(b.contains(r#"id="compare-abc""#) && b.contains("This period vs the previous one"));
    assert!(b.contains(r#"id="churn-list""#));
    // The sample ends on 30 Jun 1998: the quarter is April to June against January to March.
    assert!(
        b.contains("1 Apr 1998") && b.contains("31 Mar 1998"),
        "quarter ranges"
    );
    // Views read the stored comparisons, not the order lines: with the lines gone, the month's
    // comparison (not viewed before) still shows.
    store.raw_execute("DELETE FROM order_lines").await.unwrap();
    let year = get(&app, "/dashboard?period=year").await;
    assert!(year.body.contains("1 Jul 1997"));
    let month = get(&app, "/dashboard?period=month").await;
    assert!(
        month.body.contains(r#"id="compare-abc""#) && month.body.contains("1 Jun 1998"),
        "month comparison from the snapshot"
    );
    let zh = get_lang(&app, "/dashboard", "zh").await;
    assert!(zh.body.contains("本期与上期对比") && zh.body.contains("重新计算价值"));

    // An analyst reads the same figures without any customer's name, number or link, and
    // cannot recompute.
    store
        .create_user(&patron_store::NewUser {
            username: "ana".into(),
            role: Some(patron_store::Role::Analyst),
            ..Default::default()
        })
        .await
        .unwrap();
    let analyst = patron_web::auth::signed_in(app_of(&store), &store, "ana")
        .await
        .unwrap();
    let seen = get(&analyst, "/dashboard").await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let b = &seen.body;
    assert!(b.contains(r#"id="churn-list""#) && b.contains(r#"id="redacted""#));
    assert!(b.contains(r#"<svg id="whale-plot""#));
    assert!(
        !b.contains("CDNOW "),
        "a customer's name reached an analyst"
    );
    assert!(
        !b.contains("href=\"/customers/"),
        "a link to a card reached an analyst"
    );
    assert!(!b.contains(r#"id="recompute""#));
    assert_eq!(
        post(&analyst, "/dashboard/recompute", &[]).await.status,
        StatusCode::FORBIDDEN
    );

    // A manager whose scope holds none of these customers (all another rep's) sees the list
    // without their names.
    let otto = store
        .create_user(&patron_store::NewUser {
            username: "otto".into(),
            role: Some(patron_store::Role::Rep),
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .raw_execute(&format!("UPDATE customers SET owner_id = {}", otto.id))
        .await
        .unwrap();
    let mona = store
        .create_user(&patron_store::NewUser {
            username: "mona".into(),
            role: Some(patron_store::Role::Manager),
            scope: Some(patron_store::DataScope::Own),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(mona.scope, patron_store::DataScope::Own);
    let manager = patron_web::auth::signed_in(app_of(&store), &store, "mona")
        .await
        .unwrap();
    let seen = get(&manager, "/dashboard").await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains("(withheld)") && seen.body.contains(r#"id="recompute""#));
    assert!(
        !seen.body.contains("CDNOW "),
        "a name outside the manager's scope"
    );
}

fn app_of(store: &Store) -> Router {
    common::router(store.clone())
}

/// The editor's form as the page renders it (hidden names and kinds included).
fn form_of(page: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let attr = |tag: &str, name: &str| -> Option<String> {
        let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
        let end = tag[start..].find('"')? + start;
        Some(
            tag[start..end]
                .replace("&quot;", "\"")
                .replace("&amp;", "&"),
        )
    };
    for piece in page.split("<input").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        if let (Some(n), Some(v)) = (attr(tag, "name"), attr(tag, "value")) {
            out.push((n, v));
        }
    }
    for piece in page.split("<textarea").skip(1) {
        let tag = &piece[..piece.find('>').unwrap()];
        let body = &piece[piece.find('>').unwrap() + 1..piece.find("</textarea>").unwrap()];
        if let Some(n) = attr(tag, "name") {
            out.push((
                n,
                body.replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">"),
            ));
        }
    }
    out
}

async fn post_pairs(app: &Router, uri: &str, form: &[(String, String)]) -> Answer {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    post(app, uri, &pairs).await
}

fn with(form: &[(String, String)], changes: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = form
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .cloned()
        .collect();
    f.extend(changes.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn score_model_editor_previews_validates_and_saves() {
    let store = sample_store().await;
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "web-test")
        .await
        .unwrap();
    let page = get(&app, "/score-model").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Value score model") && page.body.contains("finance = 100"));
    let form = form_of(&page.body);
    assert!(form.iter().any(|(k, v)| k == "w0" && v == "15"), "{form:?}");

    // Weights not summing to 100, and a bad rule: errors next to the fields, nothing saved.
    let bad = post_pairs(
        &app,
        "/score-model",
        &with(
            &form,
            &[("w0", "25"), ("p1", "lots = 10"), ("action", "save")],
        ),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains(r#"id="err-weights""#) && bad.body.contains("they sum to 110"));
    assert!(bad.body.contains(r#"id="err-p1""#));
    assert!(store.current_score_model().await.unwrap().is_none());

    // Preview: grade distribution and calibration figures, nothing saved.
    let changed = with(&form, &[("w0", "5"), ("w3", "30")]);
    let pre = post_pairs(
        &app,
        "/score-model",
        &with(&changed, &[("action", "preview")]),
    )
    .await;
    assert_eq!(pre.status, StatusCode::OK, "{}", pre.body);
    assert!(pre.body.contains(r#"id="score-preview""#) && pre.body.contains(r#"id="calibration""#));
    assert!(pre.body.contains("Spearman rank correlation") && pre.body.contains("Lift of grade A"));
    assert!(
        !pre.body.contains("too-little-outcome"),
        "2,357 customers are enough to calibrate"
    );
    assert!(store.current_score_model().await.unwrap().is_none());
    // Once figures are stored, "in force" is what is stored and "edited" what a save stores.
    patron_app::value::refresh_like_last_time_as_of(&store, "1998-06-30".parse().unwrap())
        .await
        .unwrap();
    let stored_counts = |rows: &[patron_store::CustomerValueRow]| -> Vec<u64> {
        ["A", "B", "C", "D", "E"]
            .iter()
            .map(|g| {
                rows.iter()
                    .filter(|r| r.grade.as_deref() == Some(g))
                    .count() as u64
            })
            .collect()
    };
    let before = stored_counts(&store.all_customer_values().await.unwrap());
    let pre = post_pairs(
        &app,
        "/score-model",
        &with(&changed, &[("action", "preview")]),
    )
    .await;
    let table = &pre.body[pre.body.find(r#"id="preview-table""#).unwrap()..];
    let cells: Vec<u64> = table
        .split("<td class=\"num\">")
        .skip(1)
        .take(10)
        .map(|c| {
            let c = c.trim_start_matches("<strong>");
            c[..c.find('<').unwrap()].replace(',', "").parse().unwrap()
        })
        .collect();
    let in_force: Vec<u64> = cells.iter().step_by(2).copied().collect();
    let edited: Vec<u64> = cells.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(in_force, before, "in force = the stored grades");
    assert_ne!(edited, before, "the edited weights move some customers");

    // Save: stored, and the refresh scores with it.
    let saved = post_pairs(
        &app,
        "/score-model",
        &with(&changed, &[("action", "save"), ("note", "more margin")]),
    )
    .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.body);
    assert_eq!(
        saved.location.as_deref(),
        Some("/score-model?saved=recomputed")
    );
    let m = store.current_score_model().await.unwrap().unwrap();
    assert_eq!(m.note.as_deref(), Some("more margin"));
    let model = patron_value::score::ScoreModel::from_toml(&m.toml).unwrap();
    assert_eq!(model.attributes[3].weight, 30.0);
    assert!(store.latest_snapshot().await.unwrap().is_some());
    let after = stored_counts(&store.all_customer_values().await.unwrap());
    assert_eq!(
        after, edited,
        "a save stores exactly what the preview showed"
    );
    let report = store.latest_snapshot().await.unwrap().unwrap().report;
    assert_eq!(
        ["A", "B", "C", "D", "E"]
            .map(|g| report["grades"][g].as_u64().unwrap())
            .to_vec(),
        edited,
        "and the dashboard's counts agree"
    );
    let again = get(&app, "/score-model?saved=recomputed").await;
    assert!(
        again.body.contains("every customer has been scored") && again.body.contains("more margin")
    );
    assert!(form_of(&again.body)
        .iter()
        .any(|(k, v)| k == "w3" && v == "30"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_says_plainly_when_outcome_data_is_too_little() {
    // Three buyers: a correlation over them is noise, and no weights may be proposed.
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    for (i, name) in ["Ada", "Bo", "Cy"].iter().enumerate() {
        let c = store
            .create_customer(
                CustomerInput {
                    name: (*name).into(),
                    industry: Some("finance".into()),
                    ..CustomerInput::default()
                },
                "test",
            )
            .await
            .unwrap();
        for (k, day) in ["2024-01-10", "2024-05-10", "2024-11-10"]
            .iter()
            .enumerate()
        {
            let order: patron_domain::OrderInput = serde_json::from_value(serde_json::json!({
                "order_ref": format!("O{i}-{k}"),
                "ordered_on": day,
                "lines": [{"category": "CDs", "quantity": 1, "amount": 10.0 * (i + 1) as f64, "cost": 5.0}]
            }))
            .unwrap();
            store.create_order(c.id, order).await.unwrap();
        }
    }
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "web-test")
        .await
        .unwrap();
    let form = form_of(&get(&app, "/score-model").await.body);
    let pre = post_pairs(&app, "/score-model", &with(&form, &[("action", "preview")])).await;
    assert_eq!(pre.status, StatusCode::OK, "{}", pre.body);
    assert!(
        pre.body.contains(r#"id="too-little-outcome""#),
        "{}",
        pre.body
    );
    assert!(pre.body.contains("only 3 customers bought after"));
    assert!(!pre.body.contains(r#"id="propose""#), "no proposal to use");
    // "Use the proposed weights" sent anyway changes no weight.
    let kept = post_pairs(&app, "/score-model", &with(&form, &[("action", "propose")])).await;
    assert_eq!(form_of(&kept.body), form_of(&pre.body));
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----patronTestBoundary7MA4YWxk";
    let mut body = Vec::new();
    for (name, file, value) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: text/csv\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &Router, parts: &[(&str, Option<&str>, &str)]) -> Answer {
    let (ct, body) = multipart(parts);
    send(
        app,
        Request::post("/import")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Follows an import job until it ends; its final page.
async fn finished(app: &Router, job: &str) -> Answer {
    for _ in 0..200 {
        let p = get(app, &format!("{job}/progress")).await;
        assert_eq!(p.status, StatusCode::OK);
        if !p.body.contains("\"running\"") {
            return get(app, job).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_page_runs_csv_imports_in_the_background() {
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let app = patron_web::auth::signed_in(common::router(store.clone()), &store, "web-test")
        .await
        .unwrap();
    let page = get(&app, "/import").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"enctype="multipart/form-data""#));

    let csv = "number,name,email\nC1,Acme Trading,sales@acme.example\nC2,,b@example.com\nC3,Cobalt,not-an-email\nC4,Dynamo,d@example.com\n";
    let r = upload(
        &app,
        &[
            ("entity", None, "customers"),
            ("file", Some("my customers.csv"), csv),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let job = r.location.unwrap();
    let done = finished(&app, &job).await;
    let b = &done.body;
    assert!(b.contains(r#"id="import-report""#), "{b}");
    assert!(b.contains("my_customers.csv:3: column name:"), "{b}");
    assert!(b.contains("my_customers.csv:4: column email:"), "{b}");
    let (n, _, _) = store.counts().await.unwrap();
    assert_eq!(n, 2);
    let rejects = get(&app, &format!("{job}/rejects.csv")).await;
    assert_eq!(rejects.status, StatusCode::OK);
    assert!(rejects.body.starts_with("line,error,row") && rejects.body.contains("C3"));

    // Orders creating their customers; a second upload of the same file stores nothing twice.
    let orders = "customer,order_ref,date,amount\nC1,O-1,2024-03-01,120.50\nC9,O-2,2024-03-02,80\n";
    for round in 0..2 {
        let r = upload(
            &app,
            &[
                ("entity", None, "orders"),
                ("create_customers", None, "1"),
                ("file", Some("orders.csv"), orders),
            ],
        )
        .await;
        let done = finished(&app, &r.location.unwrap()).await;
        assert!(
            done.body.contains("Every row was imported"),
            "{}",
            done.body
        );
        let (_, lines, _) = store.counts().await.unwrap();
        assert_eq!(lines, 2, "round {round}");
    }
    // No file, and an unknown job.
    let none = upload(&app, &[("entity", None, "orders")]).await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    assert_eq!(get(&app, "/import/999").await.status, StatusCode::NOT_FOUND);
    let list = get(&app, "/import").await;
    assert!(list.body.contains("orders.csv") && list.body.contains("my_customers.csv"));
}
