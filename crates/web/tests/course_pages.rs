//! A customer's course on the pages, on both backends and in both languages: before a second
//! value refresh the card's chart and the dashboard's movements say why they are empty; after
//! two refreshes with an order changed in between, the card draws one keyboard-reachable point
//! per refresh, the dashboard's grade movements link each row to the list of exactly those
//! customers, and the list's course filter finds the customer that moved down a grade.

use axum::body::Body;
use axum::http::{header, Request};
use chrono::{Days, NaiveDate};
use patron_app::value::{refresh, today};
use patron_app::Session;
use patron_store::{backend_tests, NewUser, Role, Store};
use patron_testkit::send;
use patron_value::AnalysisOptions;
use serde_json::json;

backend_tests!(course_on_card_dashboard_and_list);

async fn page(store: &Store, me: &Session, uri: &str, lang: &str) -> String {
    let app = patron_web::router(store.clone()).layer(axum::Extension(me.clone()));
    let req = Request::get(uri)
        .header(header::COOKIE, format!("lang={lang}"))
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, req).await;
    assert_eq!(answer.status, 200, "{uri}: {}", answer.body);
    answer.body
}

async fn customer(store: &Store, body: serde_json::Value) -> i64 {
    let input = serde_json::from_value(body).unwrap();
    store.create_customer(input, "test").await.unwrap().id
}

fn order(day: NaiveDate, amount: f64, cost: f64, r: &str) -> patron_domain::OrderInput {
    serde_json::from_value(json!({
        "order_ref": r, "ordered_on": day,
        "lines": [{"amount": format!("{amount:.2}"), "cost": format!("{cost:.2}")}]
    }))
    .unwrap()
}

/// The customer ids of a list page's table rows (`/customers/{id}?back=...` links).
fn listed(html: &str) -> Vec<i64> {
    let table = &html[html.find("id=\"customers\"").unwrap_or(html.len())..];
    let mut ids: Vec<i64> = table
        .match_indices("<td class=\"mono c-number\"><a href=\"/customers/")
        .filter_map(|(i, m)| {
            let rest = &table[i + m.len()..];
            rest[..rest.find(|c: char| !c.is_ascii_digit())?]
                .parse()
                .ok()
        })
        .collect();
    ids.dedup();
    ids
}

async fn course_on_card_dashboard_and_list(store: Store) {
    let me = Session::unrestricted("web-test");
    let as_of = today();
    let day = |back: u64| as_of.checked_sub_days(Days::new(back)).unwrap();
    // Twelve small buyers; a big one whose profile scores high (finance, large, rated AAA).
    for c in 0..12u64 {
        let id = customer(&store, json!({"name": format!("Small {c:02}")})).await;
        for k in 0..(1 + c % 3) {
            store
                .create_order(
                    id,
                    order(
                        day(20 + 90 * k + c),
                        30.0 + c as f64,
                        12.0,
                        &format!("S{k}"),
                    ),
                )
                .await
                .unwrap();
        }
    }
    let big = customer(
        &store,
        json!({"name": "Big Buyer", "industry": "finance", "employees": 2000,
               "registered_capital": "200000000", "credit_rating": "aaa"}),
    )
    .await;
    for k in 0..14u64 {
        store
            .create_order(
                big,
                order(day(10 + 45 * k), 2500.0, 500.0, &format!("B{k}")),
            )
            .await
            .unwrap();
    }
    let first = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    // One refresh: the card and the dashboard say what is missing, in both languages.
    let card = page(&store, &me, &format!("/customers/{big}"), "en").await;
    assert!(card.contains("id=\"course\""), "{card}");
    assert!(card.contains("The course shows from the second value refresh on."));
    assert!(!card.contains("id=\"course-plot\""));
    let zh = page(&store, &me, &format!("/customers/{big}"), "zh").await;
    assert!(zh.contains("第二次价值刷新后即可显示轨迹。"));
    let dash = page(&store, &me, "/dashboard", "en").await;
    assert!(
        dash.contains("Movements show once two value refreshes have run."),
        "{dash}"
    );

    // The big buyer's orders shrink to almost nothing; the next refresh moves it down.
    for k in 0..14u64 {
        store
            .update_order(
                big,
                &format!("B{k}"),
                order(day(10 + 45 * k), 2.0, 1.5, &format!("B{k}")),
            )
            .await
            .unwrap();
    }
    let second = refresh(&store, &AnalysisOptions::default(), as_of)
        .await
        .unwrap();
    let h = store.customer_value_history(big, 10).await.unwrap();
    let (g1, g2) = (h[0].grade.clone().unwrap(), h[1].grade.clone().unwrap());
    assert!(g1 < g2, "{g1} -> {g2}");

    // The card: two points, each a keyboard stop with its figures.
    let card = page(&store, &me, &format!("/customers/{big}"), "en").await;
    assert!(card.contains("id=\"course-plot\""), "{card}");
    let plot = &card[card.find("id=\"course-plot\"").unwrap()..];
    let plot = &plot[..plot.find("</svg>").unwrap()];
    assert_eq!(
        plot.matches("class=\"pt\" tabindex=\"0\"").count(),
        2,
        "{plot}"
    );
    assert!(plot.contains(&format!("Grade {g2}")), "{plot}");
    assert!(card.contains("Figures per refresh"));
    let zh = page(&store, &me, &format!("/customers/{big}"), "zh").await;
    assert!(zh.contains("价值轨迹") && zh.contains("每次刷新的数据"));

    // The dashboard: the grade movements (latest two refreshes), a link per row.
    let dash = page(&store, &me, "/dashboard", "en").await;
    assert!(dash.contains("id=\"grade-moves\""), "{dash}");
    assert!(dash.contains("id=\"stage-moves\""));
    let link = format!(
        "/customers?transition=grade:{}:{g1}:{}:{g2}",
        first.id, second.id
    );
    assert!(dash.contains(&format!("href=\"{link}\"")), "{dash}");
    assert!(dash.contains("moved down"));
    let zh = page(&store, &me, "/dashboard", "zh").await;
    assert!(zh.contains("两次刷新之间的变动") && zh.contains("等级变动"));
    // Picking the snapshots by hand gives the same table.
    let picked = page(
        &store,
        &me,
        &format!("/dashboard?mfrom={}&mto={}", first.id, second.id),
        "en",
    )
    .await;
    assert!(picked.contains(&format!("href=\"{link}\"")));

    // The row's list: exactly the customers of that move; the course filter.
    let want: Vec<i64> = {
        let mut w = Vec::new();
        for r in store.all_customer_values().await.unwrap() {
            let h = store
                .customer_value_history(r.customer_id, 10)
                .await
                .unwrap();
            if h.len() == 2
                && h[0].grade.as_deref() == Some(g1.as_str())
                && h[1].grade.as_deref() == Some(g2.as_str())
            {
                w.push(r.customer_id);
            }
        }
        w
    };
    assert!(want.contains(&big));
    let list = page(&store, &me, &link, "en").await;
    assert_eq!(listed(&list), want, "{list}");
    assert!(list.contains("Customers of one movement between two refreshes"));
    let list = page(&store, &me, "/customers?course=moved_down", "en").await;
    assert!(listed(&list).contains(&big), "{list}");
    assert!(list.contains("Moved down a grade"));
    let zh = page(&store, &me, "/customers?course=unprofitable_growing", "zh").await;
    assert!(zh.contains("亏损但在增长"));
    assert!(!listed(&zh).contains(&big));
    let bad = page(&store, &me, "/customers?course=sideways", "en").await;
    assert!(bad.contains("Course 'sideways'"), "{bad}");

    // An analyst sees the movements without links to customers.
    let u = store
        .create_user(&NewUser {
            username: "an".into(),
            role: Some(Role::Analyst),
            ..Default::default()
        })
        .await
        .unwrap();
    let analyst = Session::open(&store, u, None).await.unwrap();
    let dash = page(&store, &analyst, "/dashboard", "en").await;
    assert!(dash.contains("id=\"grade-moves\""));
    assert!(!dash.contains("/customers?transition="));
}
