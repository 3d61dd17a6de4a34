//! Server messages in the interface language, and every field error at once: through `oneshot`,
//! signed in as real users of a fresh database on both backends. A Chinese session sees the
//! credit refusal, the pool cap, an invalid profile form and a missing record in Chinese, with
//! no English server sentence; English sessions keep the English text.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use patron_app::Session;
use patron_domain::{CustomerInput, Money, OrderInput, OrderLineInput};
use patron_store::{backend_tests, Actor, NewUser, OnExcess, OrderTerms, Role, Store, User};
use patron_testkit::{get_lang as get, send, Answer};

backend_tests!(
    chinese_session_sees_no_english_server_message,
    profile_save_reports_every_bad_field_next_to_it,
    import_maps_unknown_columns_on_the_page
);

async fn user(store: &Store, name: &str, role: Role) -> User {
    store
        .create_user(&NewUser {
            username: name.into(),
            role: Some(role),
            password: Some(format!("{name}-password-1")),
            ..Default::default()
        })
        .await
        .unwrap()
}

async fn app_as(store: &Store, u: &User) -> Router {
    let viewer = Session {
        user: u.clone(),
        visible: store.visibility(u).await.unwrap(),
        actor: Actor::user(u, Some("127.0.0.1".into())),
    };
    patron_web::router(store.clone()).layer(axum::Extension(viewer))
}

async fn post(app: &Router, uri: &str, lang: &str, form: &[(&str, &str)]) -> Answer {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    send(
        app,
        Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::COOKIE, format!("lang={lang}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn customer(store: &Store, name: &str, number: &str, owner: Option<i64>) -> i64 {
    store
        .create_customer(
            CustomerInput {
                name: name.into(),
                number: Some(number.into()),
                owner_id: owner,
                credit_limit: Some(Money(10_000)),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap()
        .id
}

fn no_english(body: &str, fragments: &[&str]) {
    for f in fragments {
        assert!(
            !body.contains(f),
            "English {f:?} on a Chinese page:\n{body}"
        );
    }
}

async fn chinese_session_sees_no_english_server_message(store: Store) {
    let ann = user(&store, "ann", Role::Rep).await;
    let acme = customer(&store, "Acme Trading", "C-77", Some(ann.id)).await;
    let pooled = customer(&store, "Pooled One", "P-1", None).await;
    let app = app_as(&store, &ann).await;

    // Credit: 80.00 open on a limit of 100.00; an order of 50.00 is refused.
    store
        .place_order(
            acme,
            OrderInput {
                order_ref: Some("FIRST".into()),
                ordered_on: "2024-05-01".parse().unwrap(),
                lines: vec![OrderLineInput {
                    category: None,
                    quantity: 1,
                    amount: Money(8_000),
                    cost: Money(0),
                }],
            },
            &OrderTerms {
                on_excess: OnExcess::Refuse,
                by: "test".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let order = [
        ("ordered_on", "2024-05-02"),
        ("amount", "50"),
        ("quantity", "1"),
        ("due_days", "30"),
    ];
    let uri = format!("/customers/{acme}/orders/new");
    let zh = post(&app, &uri, "zh", &order).await;
    assert_eq!(zh.status, StatusCode::CONFLICT, "{}", zh.body);
    assert!(zh.body.contains("被拒绝"), "{}", zh.body);
    assert!(zh.body.contains("Acme Trading（编号 C-77）"), "{}", zh.body);
    assert!(zh.body.contains("信用额度为"), "{}", zh.body);
    no_english(
        &zh.body,
        &["refused", "open receivables", "credit limit of", "headroom"],
    );
    // The internal id is not quoted; the amounts are formatted money.
    assert!(!zh.body.contains(&format!("客户 {acme} ")));
    let en = post(&app, &uri, "en", &order).await;
    assert_eq!(en.status, StatusCode::CONFLICT);
    assert!(
        en.body.contains("customer Acme Trading (no. C-77) has"),
        "{}",
        en.body
    );
    assert!(en.body.contains("20.00 of headroom"), "{}", en.body);

    // The pool's cap: the message quotes what the page says the user holds.
    store.set_setting("pool.cap", "1").await.unwrap();
    let zh = post(&app, "/pool/claim", "zh", &[("id", &pooled.to_string())]).await;
    assert_eq!(zh.status, StatusCode::CONFLICT, "{}", zh.body);
    assert!(
        zh.body.contains("您当前持有 1 位客户，每人最多可持有 1 位"),
        "{}",
        zh.body
    );
    no_english(&zh.body, &["already hold", "you hold", "return some"]);
    let en = post(&app, "/pool/claim", "en", &[("id", &pooled.to_string())]).await;
    assert!(
        en.body
            .contains("You hold 1 customers and one user may hold at most 1"),
        "{}",
        en.body
    );
    assert!(en.body.contains(r#"id="held">1<"#), "{}", en.body);
    assert!(!en.body.contains("already hold"));

    // A missing record.
    let zh = get(&app, "/customers/999999", "zh").await;
    assert_eq!(zh.status, StatusCode::NOT_FOUND);
    assert!(zh.body.contains("没有此编号的客户"), "{}", zh.body);
    no_english(&zh.body, &["not found", "There is no"]);
    let zh = post(&app, "/my-day/tasks/999999/done", "zh", &[]).await;
    assert_eq!(zh.status, StatusCode::NOT_FOUND);
    assert!(zh.body.contains("没有此任务"), "{}", zh.body);
    no_english(&zh.body, &["task 999999", "not found"]);

    // An invalid profile form.
    let version = store.customer(acme).await.unwrap().version.to_string();
    let zh = post(
        &app,
        &format!("/customers/{acme}"),
        "zh",
        &[
            ("version", &version),
            ("name", "Acme Trading"),
            ("email", "not-an-email"),
            ("credit_limit", "abc"),
            ("employees", "-5"),
            ("status", "won"),
            ("loyalty", "none"),
        ],
    )
    .await;
    assert_eq!(zh.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", zh.body);
    assert!(zh.body.contains("不是有效的电子邮箱地址"), "{}", zh.body);
    assert!(zh.body.contains("不是有效金额"), "{}", zh.body);
    assert!(zh.body.contains("不能为负数"), "{}", zh.body);
    no_english(
        &zh.body,
        &["is not an e-mail", "is not an amount", "must be 0 or more"],
    );
}

/// The error paragraph `err-{field}` follows the field's input closely.
fn error_next_to(body: &str, field: &str) -> String {
    error_next_to_in(body, "f-", field)
}

/// [`error_next_to`] for inputs whose ids are `{prefix}{field}`.
fn error_next_to_in(body: &str, prefix: &str, field: &str) -> String {
    let field = format!("{prefix}{field}");
    let input = body
        .find(&format!(r#"id="{field}""#))
        .unwrap_or_else(|| panic!("no input for {field}"));
    let err = body
        .find(&format!(
            r#"id="err-{}""#,
            field.strip_prefix("f-").unwrap_or(&field)
        ))
        .unwrap_or_else(|| panic!("no error for {field}:\n{body}"));
    assert!(
        err > input && err - input < 600,
        "{field}: error not next to it"
    );
    let tail = &body[err..];
    let start = tail.find('>').unwrap() + 1;
    let end = tail.find("</p>").unwrap();
    tail[start..end].to_string()
}

async fn profile_save_reports_every_bad_field_next_to_it(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let acme = customer(&store, "Acme Trading", "C-77", None).await;
    let app = app_as(&store, &boss).await;
    let before = store.customer(acme).await.unwrap();
    let form = |version: String| {
        vec![
            ("version".to_string(), version),
            ("name".into(), "Acme Trading".into()),
            ("email".into(), "not-an-email".into()),
            ("credit_limit".into(), "abc".into()),
            ("employees".into(), "-5".into()),
            ("status".into(), "won".into()),
            ("loyalty".into(), "none".into()),
        ]
    };
    let f = form(before.version.to_string());
    let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = post(&app, &format!("/customers/{acme}"), "en", &pairs).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    let email = error_next_to(&p.body, "email");
    assert!(email.contains("is not an e-mail address"), "{email}");
    let limit = error_next_to(&p.body, "credit_limit");
    assert!(limit.contains("is not an amount"), "{limit}");
    let employees = error_next_to(&p.body, "employees");
    assert!(employees.contains("must be 0 or more"), "{employees}");
    // Nothing saved.
    let after = store.customer(acme).await.unwrap();
    assert_eq!(after.version, before.version);
    assert_eq!(after.data, before.data);
    // The same in Chinese, each next to its field.
    let p = post(&app, &format!("/customers/{acme}"), "zh", &pairs).await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_next_to(&p.body, "email").contains("电子邮箱"));
    assert!(error_next_to(&p.body, "credit_limit").contains("金额"));
    assert!(error_next_to(&p.body, "employees").contains("负数"));

    // The new-customer form too: every bad field at once, nothing created.
    let p = post(
        &app,
        "/customers/new",
        "zh",
        &[
            ("name", ""),
            ("email", "not-an-email"),
            ("phone", "abc"),
            ("status", "lead"),
        ],
    )
    .await;
    assert_eq!(p.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", p.body);
    assert!(error_next_to_in(&p.body, "n-", "name").contains("必填"));
    assert!(error_next_to_in(&p.body, "n-", "email").contains("电子邮箱"));
    assert!(error_next_to_in(&p.body, "n-", "phone").contains("电话号码"));
    assert_eq!(store.counts().await.unwrap().0, 1);
}

fn multipart(parts: &[(&str, Option<&str>, &str)]) -> (String, Vec<u8>) {
    let boundary = "----patronLangBoundary7MA4YWxk";
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

async fn upload(app: &Router, lang: &str, entity: &str, name: &str, csv: &str) -> String {
    let (ct, body) = multipart(&[("entity", None, entity), ("file", Some(name), csv)]);
    let r = send(
        app,
        Request::post("/import")
            .header(header::CONTENT_TYPE, ct)
            .header(header::COOKIE, format!("lang={lang}"))
            .body(Body::from(body))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    r.location.unwrap()
}

/// Follows an import job until it ends; its final page in `lang`.
async fn finished(app: &Router, job: &str, lang: &str) -> Answer {
    for _ in 0..400 {
        let p = get(app, &format!("{job}/progress"), lang).await;
        assert_eq!(p.status, StatusCode::OK);
        if !p.body.contains("\"running\"") {
            return get(app, job, lang).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import did not finish");
}

async fn import_maps_unknown_columns_on_the_page(store: Store) {
    let boss = user(&store, "boss", Role::Admin).await;
    let app = app_as(&store, &boss).await;
    // An unknown column: the page asks what it holds instead of failing the file.
    let csv = "Number,Name,shoe size,E-mail,Fax no\nC-1,Acme,42,a@acme.example,x\n";
    let job = upload(&app, "en", "customers", "shoes.csv", csv).await;
    let page = get(&app, &job, "en").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"id="import-mapping""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"name="col0""#) && page.body.contains(r#"name="col1""#));
    assert!(page.body.contains("shoe size") && page.body.contains("Fax no"));
    assert!(!page.body.contains("--map"), "{}", page.body);
    assert_eq!(store.counts().await.unwrap().0, 0, "nothing imported yet");
    // Every column needs a choice.
    let map = format!("{job}/map");
    let half = post(&app, &map, "zh", &[("col0", "custom")]).await;
    assert_eq!(half.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(half.body.contains("请为每一列选择字段"), "{}", half.body);
    assert_eq!(store.counts().await.unwrap().0, 0);
    // Mapped: one to a custom field, one ignored; the import runs with that mapping.
    let r = post(&app, &map, "en", &[("col0", "custom"), ("col1", "ignore")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let done = finished(&app, &job, "en").await;
    assert!(
        done.body.contains("Every row was imported"),
        "{}",
        done.body
    );
    let c = store.customer_by_number("C-1").await.unwrap();
    assert_eq!(c.data.fax, None);
    assert!(
        c.data.custom_fields.contains_key("shoe size"),
        "{:?}",
        c.data.custom_fields
    );

    // A row with several bad cells lists each; a bad date in Chinese is worded in Chinese.
    let csv = "number,name,email,employees\nC-2,Bad,not-an-email,-5\n";
    let job = upload(&app, "en", "customers", "bad.csv", csv).await;
    let done = finished(&app, &job, "en").await;
    assert!(done.body.contains("column email:"), "{}", done.body);
    assert!(
        done.body.contains("column employees: must be 0 or more"),
        "{}",
        done.body
    );
    let csv = "customer,order_ref,date,amount\nC-1,O-1,31/12/2024,10\n";
    let job = upload(&app, "zh", "orders", "orders.csv", csv).await;
    let zh = finished(&app, &job, "zh").await;
    assert!(zh.body.contains("不是有效日期"), "{}", zh.body);
    assert!(zh.body.contains("第 2 行"), "{}", zh.body);
    no_english(&zh.body, &["is not a date", "expected YYYY"]);
    // Orders of a customer that does not exist: the page's option, not a command-line flag.
    let csv = "customer,order_ref,date,amount\nNOPE,O-2,2024-01-02,10\n";
    let job = upload(&app, "en", "orders", "orders2.csv", csv).await;
    let en = finished(&app, &job, "en").await;
    assert!(en.body.contains("does not exist"), "{}", en.body);
    assert!(!en.body.contains("--create-customers"), "{}", en.body);
    let zh = get(&app, &job, "zh").await;
    no_english(&zh.body, &["does not exist", "--create-customers"]);
}
