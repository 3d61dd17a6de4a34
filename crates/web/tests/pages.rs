//! The web interface through `tower::ServiceExt::oneshot` on a fresh SQLite database.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use patron_domain::{
    ContactInput, CustomerInput, CustomerStatus, InteractionInput, InteractionKind, OrderInput,
};
use patron_store::testing::{fresh_store, TestStore};
use patron_store::BackendKind;
use patron_testkit::{get, post_form as post, send, Answer};

/// A page in a language, the `lang` cookie after another one (`None`: no cookie at all).
async fn get_lang(app: &Router, uri: &str, lang: Option<&str>) -> Answer {
    match lang {
        None => get(app, uri).await,
        Some(l) => {
            let req = Request::get(uri).header(header::COOKIE, format!("theme=x; lang={l}"));
            send(app, req.body(Body::empty()).unwrap()).await
        }
    }
}

fn customer(name: &str, region: &str, industry: &str, status: CustomerStatus) -> CustomerInput {
    CustomerInput {
        name: name.into(),
        company: Some(format!("{name} Ltd")),
        region: Some(region.into()),
        industry: Some(industry.into()),
        email: Some(format!("{}@example.com", name.to_lowercase())),
        status,
        ..CustomerInput::default()
    }
}

/// The store (its database is deleted when the test passes: keep it alive to the end), the
/// app, and the first customer's id.
async fn setup() -> (TestStore, Router, i64) {
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let mut first = 0;
    for (i, (name, region, industry, status)) in [
        ("Acme", "East", "Finance", CustomerStatus::Won),
        ("Borealis", "North", "Services", CustomerStatus::Lead),
        ("Cobalt", "East", "Services", CustomerStatus::Intent),
        ("Dynamo", "West", "Finance", CustomerStatus::Tracking),
    ]
    .into_iter()
    .enumerate()
    {
        let c = store
            .create_customer(customer(name, region, industry, status), "test")
            .await
            .unwrap();
        if i == 0 {
            first = c.id;
        }
        for (k, day) in [(1, "1997-01-05"), (2, "1997-03-20"), (3, "1997-09-01")] {
            if k > i + 1 {
                break;
            }
            let order: OrderInput = serde_json::from_value(serde_json::json!({
                "order_ref": format!("O{i}-{k}"),
                "ordered_on": day,
                "lines": [{"category": "CDs", "quantity": 2, "amount": 40.0 * (i + 1) as f64, "cost": 25.0}]
            }))
            .unwrap();
            store.create_order(c.id, order).await.unwrap();
        }
        // The orders made everyone won; the fixture's status is a later change by hand.
        if status != CustomerStatus::Won {
            let patch = serde_json::json!({ "status": status.as_str() });
            store
                .update_customer(c.id, patch.as_object().unwrap(), None, "test")
                .await
                .unwrap();
        }
    }
    store
        .create_contact(
            first,
            ContactInput {
                name: "Wang Fang".into(),
                title: Some("Purchasing manager".into()),
                email: Some("wang@acme.example".into()),
                is_primary: true,
                ..ContactInput::default()
            },
        )
        .await
        .unwrap();
    store
        .create_interaction(
            first,
            InteractionInput {
                kind: InteractionKind::Promise,
                occurred_at: None,
                by: Some("Li Lei".into()),
                contact_id: None,
                text: "Promised a 5% discount on the <next> order".into(),
                external_id: None,
            },
        )
        .await
        .unwrap();
    let app = patron_web::router(store.clone()).layer(axum::Extension(
        patron_app::Session::unrestricted("web-test"),
    ));
    (store, app, first)
}

#[tokio::test]
async fn root_redirects_to_the_list() {
    let (_db, app, _) = setup().await;
    let p = get(&app, "/").await;
    assert!(p.status.is_redirection());
    assert_eq!(p.location.as_deref(), Some("/customers"));
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let (_db, app, _) = setup().await;
    let all = get(&app, "/customers").await;
    assert_eq!(all.status, StatusCode::OK);
    for n in ["Acme", "Borealis", "Cobalt", "Dynamo"] {
        assert!(all.body.contains(n), "{n} in the full list");
    }
    let east = get(&app, "/customers?region=East").await;
    assert!(east.body.contains("Acme") && east.body.contains("Cobalt"));
    assert!(!east.body.contains("Borealis") && !east.body.contains("Dynamo"));
    let won = get(&app, "/customers?status=won").await;
    assert!(won.body.contains("Acme") && !won.body.contains("Cobalt"));
    let fin = get(&app, "/customers?industry=Finance&q=dyn").await;
    assert!(fin.body.contains("Dynamo") && !fin.body.contains("Acme Ltd"));
    // The filter form keeps what was typed.
    assert!(fin.body.contains(r#"value="dyn""#));

    // Keyset pages of two, by name descending: Dynamo, Cobalt | Borealis, Acme.
    let p1 = get(&app, "/customers?sort=-name&limit=2").await;
    assert!(p1.body.contains("Dynamo") && p1.body.contains("Cobalt"));
    assert!(!p1.body.contains("Borealis"));
    let marker = r#"id="next-page" href=""#;
    let start = p1.body.find(marker).expect("a next link") + marker.len();
    let href = &p1.body[start..start + p1.body[start..].find('"').unwrap()];
    let href = href.replace("&amp;", "&");
    assert!(href.contains("after=") && href.contains("sort=-name"));
    let p2 = get(&app, &href).await;
    assert!(p2.body.contains("Borealis") && p2.body.contains("Acme"));
    assert!(!p2.body.contains("Dynamo"));
    assert!(!p2.body.contains(r#"id="next-page""#));
}

#[tokio::test]
async fn bad_list_input_is_never_a_server_error() {
    let (_db, app, _) = setup().await;
    for uri in [
        "/customers?status=bogus",
        "/customers?sort=sideways",
        "/customers?after=not-a-cursor",
        "/customers?limit=-5&after=%FF%FE",
        "/customers?q=%25%27%22%3Cscript%3E",
        "/customers/abc",
        "/customers/999999",
        "/customers/-1",
    ] {
        let p = get(&app, uri).await;
        assert!(!p.status.is_server_error(), "{uri}: {}", p.status);
        assert!(!p.body.contains("<script>"), "{uri} escapes its input");
    }
    let p = get(&app, "/customers?status=bogus").await;
    assert!(p.body.contains("bogus") && p.body.contains("Acme"));
    assert_eq!(
        get(&app, "/customers/999999").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn card_shows_profile_contacts_orders_timeline_history_and_value() {
    let (_db, app, id) = setup().await;
    let p = get(&app, &format!("/customers/{id}")).await;
    assert_eq!(p.status, StatusCode::OK);
    let b = &p.body;
    assert!(b.contains(r#"name="email""#) && b.contains("acme@example.com"));
    assert!(b.contains(r#"name="version" value="1""#));
    assert!(b.contains("Wang Fang") && b.contains("Purchasing manager"));
    assert!(b.contains("O0-1"), "the order");
    assert!(b.contains("Li Lei"), "the timeline");
    // Escaped, not markup.
    assert!(b.contains("&lt;next&gt;") && !b.contains("<next>"));
    assert!(b.contains(r#"id="history""#) && b.contains("Created"));
    assert!(
        b.contains(r#"id="value""#) && b.contains("$15.00"),
        "margin to date 40-25"
    );
    assert!(b.contains("not computed yet") || b.contains("Not computed yet"));
}

fn profile_form<'a>(version: &'a str, email: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("version", version),
        ("name", "Acme"),
        ("company", "Acme Ltd"),
        ("industry", "Finance"),
        ("region", "East"),
        ("email", email),
        ("status", "won"),
        ("loyalty", "none"),
        ("tags", "key account, 2024"),
    ]
}

#[tokio::test]
async fn edit_saves_and_records_history() {
    let (store, app, id) = setup().await;
    let p = post(
        &app,
        &format!("/customers/{id}"),
        &profile_form("1", "orders@acme.example"),
    )
    .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert_eq!(p.location, Some(format!("/customers/{id}?saved=1")));
    let c = store.customer(id).await.unwrap();
    assert_eq!(c.data.email.as_deref(), Some("orders@acme.example"));
    assert_eq!(c.data.tags, vec!["key account", "2024"]);
    assert_eq!(c.version, 2);
    let card = get(&app, &format!("/customers/{id}?saved=1")).await;
    assert!(card.body.contains(r#"id="saved""#));
    assert!(card.body.contains("orders@acme.example"));
}

#[tokio::test]
async fn invalid_edit_shows_the_message_next_to_the_field_and_stores_nothing() {
    let (store, app, id) = setup().await;
    let mut form = profile_form("1", "not-an-email");
    form.push(("employees", "many"));
    let p = post(&app, &format!("/customers/{id}"), &form).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    let b = &p.body;
    // The message sits in the e-mail field's block, right after its input.
    let input = b.find(r#"id="f-email""#).expect("email input");
    let err = b.find(r#"id="err-email""#).expect("email error");
    assert!(
        err > input && err - input < 400,
        "message next to the field"
    );
    assert!(b[err..].contains("is not an e-mail address"));
    assert!(b.contains(r#"id="err-employees""#));
    // The typed value is kept in the form.
    assert!(b.contains(r#"value="not-an-email""#));
    let c = store.customer(id).await.unwrap();
    assert_eq!(c.version, 1);
    assert_eq!(c.data.email.as_deref(), Some("acme@example.com"));

    // In Chinese, the message is translated.
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(profile_form("1", "not-an-email"))
        .finish();
    let zh = send(
        &app,
        Request::post(format!("/customers/{id}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, "lang=zh")
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(zh.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(zh.body.contains("不是有效的电子邮箱地址"));
}

#[tokio::test]
async fn stale_edit_is_a_conflict_and_does_not_overwrite() {
    let (store, app, id) = setup().await;
    // Someone else saves first.
    let ok = post(
        &app,
        &format!("/customers/{id}"),
        &profile_form("1", "first@acme.example"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    // A form still carrying version 1.
    let stale = post(
        &app,
        &format!("/customers/{id}"),
        &profile_form("1", "second@acme.example"),
    )
    .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.body.contains(r#"id="conflict""#));
    assert!(
        stale.body.contains("second@acme.example"),
        "the unsaved value is shown"
    );
    assert!(
        stale.body.contains(r#"name="version" value="2""#),
        "the form carries the current version"
    );
    let c = store.customer(id).await.unwrap();
    assert_eq!(c.data.email.as_deref(), Some("first@acme.example"));
    // A form without a version is refused.
    let mut no_version = profile_form("", "x@acme.example");
    no_version.remove(0);
    let p = post(&app, &format!("/customers/{id}"), &no_version).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        store.customer(id).await.unwrap().data.email.as_deref(),
        Some("first@acme.example")
    );
}

#[tokio::test]
async fn language_switch_sets_a_cookie_and_translates() {
    let (_db, app, id) = setup().await;
    let p = post(
        &app,
        "/lang",
        &[("lang", "zh"), ("back", "/customers?region=East")],
    )
    .await;
    assert!(p.status.is_redirection());
    assert_eq!(p.location.as_deref(), Some("/customers?region=East"));
    assert!(p.set_cookie.unwrap().starts_with("lang=zh"));
    // No open redirects.
    let p = post(
        &app,
        "/lang",
        &[("lang", "en"), ("back", "//evil.example/")],
    )
    .await;
    assert_eq!(p.location.as_deref(), Some("/customers"));

    let en = get_lang(&app, "/customers", Some("en")).await;
    assert!(en.body.contains("Customers") && en.body.contains(r#"lang="en""#));
    let zh = get_lang(&app, "/customers", Some("zh")).await;
    assert!(zh.body.contains(r#"lang="zh-CN""#));
    assert!(zh.body.contains("客户列表") && zh.body.contains("成单"));
    let card = get_lang(&app, &format!("/customers/{id}"), Some("zh")).await;
    assert!(card.body.contains("客户档案") && card.body.contains("保存修改"));
    assert!(card.body.contains("US$15.00"), "money per locale");
    assert!(card.body.contains("年"), "dates per locale");
    let dash = get_lang(&app, "/dashboard", Some("zh")).await;
    assert!(dash.body.contains("鲸鱼曲线"));
    // GET never switches the language.
    assert!(get(&app, "/lang?lang=zh").await.status.is_client_error());
}

#[tokio::test]
async fn dashboard_draws_svg_plots() {
    let (_db, app, _) = setup().await;
    let p = get(&app, "/dashboard").await;
    assert_eq!(p.status, StatusCode::OK);
    for id in [
        "whale-plot",
        "abc-plot",
        "rfm-plot",
        "funnel-plot",
        "clv-plot",
        "segments-plot",
    ] {
        assert!(p.body.contains(&format!(r#"<svg id="{id}""#)), "{id}");
    }
    assert!(p.body.matches("<svg").count() >= 6);
    assert!(p.body.contains("Top 20% of customers bring"));
    // Every chart has a visible value line, and its marks are reachable by the keyboard and
    // carry their exact value (shown in that line on hover and focus), not a native tooltip.
    for id in ["whale-plot", "abc-plot", "rfm-plot", "funnel-plot"] {
        assert!(
            p.body
                .contains(&format!(r#"id="{id}-value" aria-live="polite""#)),
            "{id}"
        );
    }
    assert!(p.body.matches(r#"class="pt" tabindex="0""#).count() >= 25 + 4 + 3);
    assert!(
        p.body.contains(r#"data-v="R5 F1: "#) && !p.body.contains("<title>R1"),
        "RFM cells: value in data-v, not in a native tooltip"
    );
    assert!(
        p.body.contains(r#"<script src="/static/keys.js" defer"#),
        "the script that shows the values is on the page"
    );
    let js = get(&app, "/static/keys.js").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.contains("data-v") && js.body.contains("quick-search"));
    // A skip link to the main area, and the header's customer search ("/" focuses it).
    assert!(p.body.contains(r##"<a class="skip" href="#main">"##));
    assert!(p.body.contains(r#"<main class="content" id="main""#));
    assert!(p
        .body
        .contains(r#"id="quick-search" type="search" name="q""#));
    // The stylesheet is served from the binary.
    let css = get(&app, "/static/patron.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.body.contains("svg.plot"));
}

#[tokio::test]
async fn empty_database_pages_render() {
    let store = fresh_store(BackendKind::Sqlite).await.unwrap();
    let app = patron_web::router(store.clone()).layer(axum::Extension(
        patron_app::Session::unrestricted("web-test"),
    ));
    assert_eq!(get(&app, "/customers").await.status, StatusCode::OK);
    let d = get(&app, "/dashboard").await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.body.contains("No orders yet"));
}

#[tokio::test]
async fn stored_value_figures_fill_the_card_and_the_value_filters() {
    let (store, app, id) = setup().await;
    // Before a refresh: the card says so.
    let before = get(&app, &format!("/customers/{id}")).await;
    assert!(before.body.contains("computed at the next value refresh"));
    assert!(
        !before.body.contains("run patron"),
        "no command-line hint in the web"
    );
    assert!(
        before.body.contains(r#"href="/dashboard#recompute""#),
        "who may recompute gets the link to the dashboard's button"
    );
    let reason: patron_store::StoredChurnReason = serde_json::from_value(serde_json::json!({
        "kind": "long_absence",
        "detail": "no purchase for 300 days; usual gap 40 days",
        "figures": {"days_since_last": 300.0, "mean_gap_days": 40.0, "ratio": 7.5}
    }))
    .unwrap();
    let row = patron_store::CustomerValueRow {
        customer_id: id,
        computed_at: chrono::Utc::now(),
        unit: "day".into(),
        calibration_end: chrono::NaiveDate::from_ymd_opt(1997, 9, 1).unwrap(),
        frequency: Some(0.0),
        recency: Some(0.0),
        t: Some(239.0),
        monetary_value: Some(0.0),
        orders: 1,
        revenue_cents: 4000,
        cost_cents: 2500,
        margin_cents: 1500,
        rfm_r: Some(2),
        rfm_f: Some(1),
        rfm_m: Some(3),
        rfm_segment: Some("at_risk".into()),
        abc_class: "A".into(),
        p_alive: Some(0.42),
        expected_purchases: Some(0.37),
        expected_spend: Some(41.0),
        clv: Some(123.45),
        loyalty_stage: Some("first_time_buyer".into()),
        lifecycle_phase: Some("decline".into()),
        churn_risk: true,
        value_at_risk: 15.0,
        churn_reasons: vec![
            reason,
            // Known reasons, stored compact: worded from their figures as before; one with a
            // NaN figure (nothing the period before) by its sentence, as when the figure was
            // left out of the stored form.
            patron_value::churn::ReasonKind::LowPAlive {
                p_alive: 0.12,
                threshold: 0.3,
            }
            .into(),
            patron_value::churn::ReasonKind::RevenueDrop {
                current: 0.0,
                previous: 0.0,
                change: f64::NAN,
                period_days: 30,
            }
            .into(),
        ],
        score: Some(71.0),
        grade: Some("B".into()),
    };
    store
        .replace_customer_values(
            &[row],
            &patron_store::NewSnapshot {
                computed_at: chrono::Utc::now(),
                options: serde_json::json!({}),
                report: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    let card = get(&app, &format!("/customers/{id}")).await;
    let b = &card.body;
    assert!(!b.contains("computed at the next value refresh"));
    assert!(b.contains("$123.45") && b.contains("42.0%") && b.contains("0.37"));
    assert!(b.contains("R2 F1 M3") && b.contains("At risk") && b.contains("First-time buyer"));
    assert!(b.contains("Decline") && b.contains("Long absence"));
    assert!(b.contains("0.12 &lt; 0.30"), "{b}");
    assert!(
        b.contains("revenue of the last 30 days fell NaN% (0.00 after 0.00 the 30 days before)"),
        "{b}"
    );
    let zh = get_lang(&app, &format!("/customers/{id}"), Some("zh")).await;
    assert!(zh.body.contains("长时间未购买") && zh.body.contains("衰退期"));
    assert!(zh.body.contains("0.12 &lt; 0.30"));

    // The list's value filters and columns.
    let a = get(&app, "/customers?abc=A").await;
    assert!(a.body.contains("Acme") && !a.body.contains("Borealis"));
    let risk = get(
        &app,
        "/customers?churn=yes&segment=at_risk&stage=first_time_buyer&grade=B",
    )
    .await;
    assert!(risk.body.contains("Acme") && !risk.body.contains("Cobalt"));
    let none = get(&app, "/customers?abc=C").await;
    assert!(!none.body.contains("Acme Ltd"));
    let bad = get(&app, "/customers?abc=Z&segment=nope").await;
    assert_eq!(bad.status, StatusCode::OK);
    assert!(bad.body.contains("Borealis"), "unknown values are ignored");
    let by_clv = get(&app, "/customers?sort=-clv").await;
    assert!(by_clv.body.contains("Acme") && by_clv.body.contains("$123.45"));
}

#[tokio::test]
async fn dashboard_breaks_the_figures_down_by_a_picked_dimension() {
    let (_db, app, _) = setup().await;
    let r = post(&app, "/dashboard/recompute", &[]).await;
    assert!(r.status.is_redirection(), "{}", r.status);
    // The picker, and nothing computed before a dimension is picked.
    let p = get(&app, "/dashboard").await;
    assert!(p.body.contains(r#"id="breakdown-by""#), "picker");
    assert!(p
        .body
        .contains(r#"href="/dashboard?by=region&amp;period=quarter#breakdown""#));
    assert!(!p.body.contains(r#"id="breakdown-table""#));
    // By region: West (Dynamo: 3 orders of 160), East (Acme 1 of 40, Cobalt 3 of 120), North.
    let p = get(&app, "/dashboard?by=region&period=year").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        p.body.contains(r#"id="breakdown-table""#)
            && p.body.contains(r#"<svg id="breakdown-plot""#)
    );
    let table = &p.body[p.body.find(r#"id="breakdown-table""#).unwrap()..];
    let (e, w, n) = (
        table.find("<td>East</td>").unwrap(),
        table.find("<td>West</td>").unwrap(),
        table.find("<td>North</td>").unwrap(),
    );
    assert!(w < e && e < n, "largest revenue first");
    assert!(table.contains("$400.00"), "East's revenue: 40 + 3 x 120");
    // Categories say which figures do not apply; in Chinese too.
    let p = get_lang(&app, "/dashboard?by=category", Some("zh")).await;
    assert!(p.body.contains(r#"id="category-note""#) && p.body.contains("产品类别按订单行分组"));
    assert!(p.body.contains("<td>CDs</td>"));
    assert!(
        p.body.contains(r#"class="on">产品类别"#),
        "the picked dimension is marked"
    );
}

#[tokio::test]
async fn marketing_costs_on_the_card_and_campaign_allocation() {
    let (store, app, id) = setup().await;
    let uri = format!("/customers/{id}/marketing-costs");
    let r = post(
        &app,
        &uri,
        &[
            ("kind", "gift"),
            ("amount", "500.00"),
            ("spent_on", "1997-06-01"),
            ("note", "Tea set"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/customers/{id}?ok=cost_added#marketing-costs").as_str())
    );
    let card = get(&app, &format!("/customers/{id}")).await;
    let panel = &card.body[card.body.find(r#"id="marketing-costs""#).unwrap()..];
    assert!(
        panel.contains("Tea set") && panel.contains(r#"id="marketing-total">$500.00"#),
        "{panel}"
    );
    // A bad amount re-shows the form with the message next to the field, in Chinese too.
    let r = post(&app, &uri, &[("kind", "visit"), ("amount", "lots")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("is not an amount"), "{}", r.body);
    let zh = get_lang(&app, &format!("/customers/{id}"), Some("zh")).await;
    assert!(zh.body.contains("营销费用") && zh.body.contains("礼品"));
    assert_eq!(store.marketing_costs_of(id).await.unwrap().len(), 1);

    // A campaign's cost split over the customers it brought, from the campaign page.
    let campaign = store
        .create_campaign(patron_store::CampaignInput {
            name: "Tea fair".into(),
            channel: None,
            cost: patron_domain::Money(1000),
            started_on: "1997-02-01".parse().unwrap(),
        })
        .await
        .unwrap();
    let mut fair = Vec::new();
    for name in ["Fairone", "Fairtwo", "Fairthree"] {
        let mut c = customer(name, "East", "Retail", CustomerStatus::Lead);
        c.source = Some("Tea fair".into());
        fair.push(store.create_customer(c, "test").await.unwrap().id);
    }
    let page = get(&app, "/work/campaigns").await;
    let action = format!("/work/campaigns/{}/allocate-cost", campaign.id);
    assert!(page.body.contains(&action));
    let r = post(&app, &action, &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = get(&app, r.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Campaign cost allocated"));
    let mut shares = Vec::new();
    for c in fair {
        shares.extend(
            store
                .marketing_costs_of(c)
                .await
                .unwrap()
                .iter()
                .map(|r| r.amount.0),
        );
    }
    // 10.00 over three, to the cent.
    assert_eq!(shares, [334, 333, 333]);
}
