//! A hand-written contract for the most used operations, independent of the OpenAPI generator.
//!
//! `/openapi.json` is built from the route table, so checking the API against it (Schemathesis,
//! `tests/contract.rs`) cannot catch a generator that drops or renames a field: both sides would
//! agree. Here each operation has a literal request example and the literal shape of its answer
//! (status, the exact set of top-level keys, the types of key fields, the ETag of customers),
//! written out by hand. The live answer must have that shape, and the document must describe
//! those same keys (and types) for the operation's response.

use axum::body::Body;
use axum::http::{header, HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use patron_server::{app, openapi, AppState};
use patron_store::{backend_tests, Role, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

backend_tests!(
    customer_contract,
    records_contract,
    value_report_contract,
    task_contract
);

/// A JSON type as the contract states it.
#[derive(Clone, Copy, Debug)]
enum J {
    Int,
    Num,
    Str,
    Bool,
    Arr,
    Obj,
    /// `null` in this example; the document must allow null.
    Null,
}

impl J {
    fn matches(self, v: &Value) -> bool {
        match self {
            J::Int => v.is_i64(),
            J::Num => v.is_number(),
            J::Str => v.is_string(),
            J::Bool => v.is_boolean(),
            J::Arr => v.is_array(),
            J::Obj => v.is_object(),
            J::Null => v.is_null(),
        }
    }

    /// The JSON Schema type names that document it.
    fn schema_types(self) -> &'static [&'static str] {
        match self {
            J::Int => &["integer"],
            J::Num => &["number", "integer"],
            J::Str => &["string"],
            J::Bool => &["boolean"],
            J::Arr => &["array"],
            J::Obj => &["object"],
            J::Null => &["null"],
        }
    }
}

/// The expected answer of one operation.
struct Shape {
    operation_id: &'static str,
    status: StatusCode,
    /// Exactly the top-level keys of the answer.
    keys: &'static [&'static str],
    /// Keys the document describes for this schema that this answer leaves out (none but these).
    doc_only: &'static [&'static str],
    types: &'static [(&'static str, J)],
    /// For answers holding a list: the list's field, the exact keys of each element, and the
    /// keys the document describes for an element that these elements leave out.
    items: Option<(
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
    )>,
}

/// The fields of a customer as every customer answer carries them.
const CUSTOMER_KEYS: &[&str] = &[
    "id",
    "version",
    "number",
    "name",
    "company",
    "industry",
    "region",
    "address",
    "phone",
    "fax",
    "email",
    "employees",
    "registered_capital",
    "awards",
    "source",
    "tags",
    "custom_fields",
    "status",
    "loyalty",
    "owner_id",
    "credit_rating",
    "credit_limit",
    "marketing_opt_out",
    "referred_by",
    "merged_into",
    "archived_at",
    "archived_by",
    "created_at",
    "updated_at",
];

/// GET /api/customers/{id} adds the stored value figures.
const CUSTOMER_READ_KEYS: &[&str] = &[
    "id",
    "version",
    "number",
    "name",
    "company",
    "industry",
    "region",
    "address",
    "phone",
    "fax",
    "email",
    "employees",
    "registered_capital",
    "awards",
    "source",
    "tags",
    "custom_fields",
    "status",
    "loyalty",
    "owner_id",
    "credit_rating",
    "credit_limit",
    "marketing_opt_out",
    "referred_by",
    "merged_into",
    "archived_at",
    "archived_by",
    "created_at",
    "updated_at",
    "value",
];

const CUSTOMER_TYPES: &[(&str, J)] = &[
    ("id", J::Int),
    ("version", J::Int),
    ("number", J::Str),
    ("name", J::Str),
    ("email", J::Str),
    ("phone", J::Str),
    ("region", J::Str),
    ("company", J::Null),
    ("tags", J::Arr),
    ("custom_fields", J::Obj),
    ("status", J::Str),
    ("loyalty", J::Str),
    ("owner_id", J::Null),
    ("credit_limit", J::Null),
    ("marketing_opt_out", J::Bool),
    ("merged_into", J::Null),
    ("archived_at", J::Null),
    ("archived_by", J::Null),
    ("created_at", J::Str),
    ("updated_at", J::Str),
];

const CREATE_CUSTOMER: Shape = Shape {
    operation_id: "createCustomer",
    status: StatusCode::CREATED,
    keys: CUSTOMER_KEYS,
    doc_only: &["value"],
    types: CUSTOMER_TYPES,
    items: None,
};

const GET_CUSTOMER: Shape = Shape {
    operation_id: "getCustomer",
    status: StatusCode::OK,
    keys: CUSTOMER_READ_KEYS,
    doc_only: &[],
    types: CUSTOMER_TYPES,
    items: None,
};

const UPDATE_CUSTOMER: Shape = Shape {
    operation_id: "updateCustomer",
    status: StatusCode::OK,
    keys: CUSTOMER_KEYS,
    doc_only: &["value"],
    types: CUSTOMER_TYPES,
    items: None,
};

const LIST_CUSTOMERS: Shape = Shape {
    operation_id: "listCustomers",
    status: StatusCode::OK,
    keys: &["items", "next"],
    doc_only: &[],
    types: &[("items", J::Arr), ("next", J::Str)],
    items: Some(("items", CUSTOMER_KEYS, &["value"])),
};

const CREATE_CONTACT: Shape = Shape {
    operation_id: "createContact",
    status: StatusCode::CREATED,
    keys: &[
        "id",
        "customer_id",
        "name",
        "title",
        "phone",
        "email",
        "is_primary",
        "notes",
        "purchase_role",
        "preferences",
        "birthday",
    ],
    doc_only: &[],
    types: &[
        ("id", J::Int),
        ("customer_id", J::Int),
        ("name", J::Str),
        ("title", J::Str),
        ("phone", J::Null),
        ("email", J::Str),
        ("is_primary", J::Bool),
        ("notes", J::Null),
        ("purchase_role", J::Null),
        ("preferences", J::Null),
        ("birthday", J::Null),
    ],
    items: None,
};

const CREATE_INTERACTION: Shape = Shape {
    operation_id: "createInteraction",
    status: StatusCode::CREATED,
    keys: &[
        "id",
        "customer_id",
        "kind",
        "occurred_at",
        "by",
        "contact_id",
        "text",
        "external_id",
    ],
    doc_only: &[],
    types: &[
        ("id", J::Int),
        ("customer_id", J::Int),
        ("kind", J::Str),
        ("occurred_at", J::Str),
        ("by", J::Str),
        ("contact_id", J::Int),
        ("text", J::Str),
        ("external_id", J::Null),
    ],
    items: None,
};

const CREATE_TASK: Shape = Shape {
    operation_id: "createTask",
    status: StatusCode::CREATED,
    keys: &[
        "id",
        "customer_id",
        "customer_name",
        "assignee_id",
        "kind",
        "due_at",
        "note",
        "status",
        "created_at",
        "created_by",
        "done_at",
        "source",
    ],
    doc_only: &[],
    types: &[
        ("id", J::Int),
        ("customer_id", J::Int),
        ("customer_name", J::Str),
        ("assignee_id", J::Int),
        ("kind", J::Str),
        ("due_at", J::Str),
        ("note", J::Str),
        ("status", J::Str),
        ("created_at", J::Str),
        ("created_by", J::Str),
        ("done_at", J::Null),
        ("source", J::Str),
    ],
    items: None,
};

const CREATE_ORDER: Shape = Shape {
    operation_id: "createOrder",
    status: StatusCode::CREATED,
    keys: &[
        "customer_id",
        "order_ref",
        "ordered_on",
        "lines",
        "amount",
        "cost",
    ],
    doc_only: &[],
    types: &[
        ("customer_id", J::Int),
        ("order_ref", J::Str),
        ("ordered_on", J::Str),
        ("lines", J::Arr),
        ("amount", J::Num),
        ("cost", J::Num),
    ],
    items: Some((
        "lines",
        &["line_no", "category", "quantity", "amount", "cost"],
        &[],
    )),
};

const VALUE_REPORT: Shape = Shape {
    operation_id: "valueReport",
    status: StatusCode::OK,
    keys: &[
        "snapshot_id",
        "computed_at",
        "unit",
        "options",
        "as_of",
        "first_order",
        "last_order",
        "calibration_end",
        "holdout_end",
        "totals",
        "model",
        "model_error",
        "model_choice",
        "not_enough_history",
        "clv",
        "rfm",
        "abc",
        "whale",
        "loyalty",
        "lifecycle",
        "grades",
        "churn",
        "notes",
        "timings",
        "refresh_seconds",
    ],
    doc_only: &[],
    types: &[
        ("snapshot_id", J::Int),
        ("computed_at", J::Str),
        ("unit", J::Str),
        ("options", J::Obj),
        ("as_of", J::Str),
        ("first_order", J::Str),
        ("last_order", J::Str),
        ("calibration_end", J::Str),
        ("holdout_end", J::Null),
        ("totals", J::Obj),
        ("clv", J::Obj),
        ("rfm", J::Obj),
        ("abc", J::Arr),
        ("whale", J::Obj),
        ("grades", J::Obj),
        ("churn", J::Obj),
        ("notes", J::Arr),
        ("timings", J::Arr),
    ],
    items: None,
};

struct Api {
    app: Router,
    token: String,
}

impl Api {
    async fn new(store: &Store) -> Self {
        let (_, token) =
            patron_server::auth::user_with_token(store, "contract-examples", Role::Admin)
                .await
                .unwrap();
        Api {
            app: app(AppState::new(store.clone())),
            token,
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token));
        if let Some(v) = if_match {
            req = req.header(header::IF_MATCH, v);
        }
        let body = match body {
            Some(v) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Body::from(serde_json::to_vec(&v).unwrap())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, headers, value)
    }

    /// Sends the example and checks the answer against `shape` and the document.
    async fn check(
        &self,
        shape: &Shape,
        method: Method,
        uri: &str,
        if_match: Option<&str>,
        body: Option<Value>,
    ) -> (HeaderMap, Value) {
        let (status, headers, value) = self.call(method, uri, if_match, body).await;
        let op = shape.operation_id;
        assert_eq!(status, shape.status, "{op}: {value}");
        assert_keys(op, &value, shape.keys);
        for &(key, ty) in shape.types {
            assert!(
                ty.matches(&value[key]),
                "{op}: `{key}` is not {ty:?}: {value}"
            );
        }
        if let Some((field, keys, _)) = shape.items {
            let items = value[field].as_array().unwrap();
            assert!(!items.is_empty(), "{op}: `{field}` is empty: {value}");
            for item in items {
                assert_keys(&format!("{op}: {field}[]"), item, keys);
            }
        }
        check_document(shape);
        (headers, value)
    }
}

fn assert_keys(what: &str, value: &Value, expected: &[&str]) {
    let mut got: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    got.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(got, want, "{what}: top-level keys");
}

fn etag(op: &str, headers: &HeaderMap) -> String {
    headers
        .get(header::ETAG)
        .unwrap_or_else(|| panic!("{op}: no ETag"))
        .to_str()
        .unwrap()
        .to_string()
}

fn document() -> &'static Value {
    openapi::document()
}

/// Follows `$ref`s within the document.
fn resolve(schema: &Value) -> &Value {
    let mut s = schema;
    while let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let path = r.strip_prefix("#/").expect("local $ref");
        s = path.split('/').fold(document(), |node, part| &node[part]);
        assert!(!s.is_null(), "dangling $ref {r}");
    }
    s
}

/// Every JSON Schema type a schema allows (through `$ref`, `anyOf` and `oneOf`).
fn schema_types(schema: &Value) -> Vec<String> {
    let s = resolve(schema);
    let mut out = Vec::new();
    match s.get("type") {
        Some(Value::String(t)) => out.push(t.clone()),
        Some(Value::Array(ts)) => {
            out.extend(ts.iter().filter_map(|t| t.as_str().map(String::from)))
        }
        _ => {}
    }
    for key in ["anyOf", "oneOf"] {
        for member in s.get(key).and_then(Value::as_array).into_iter().flatten() {
            out.extend(schema_types(member));
        }
    }
    out
}

/// The response schema the document gives for `operation_id` and `status`, with the operation's
/// headers.
fn documented_response(operation_id: &str, status: StatusCode) -> (&'static Value, &'static Value) {
    for item in document()["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if op["operationId"] == operation_id {
                let resp = resolve(&op["responses"][status.as_str()]);
                let schema = &resp["content"]["application/json"]["schema"];
                assert!(
                    !schema.is_null(),
                    "{operation_id}: no JSON {status} answer documented"
                );
                return (resolve(schema), &resp["headers"]);
            }
        }
    }
    panic!("{operation_id} is not in /openapi.json");
}

/// The document's properties of an object schema, checked against the hand-written keys: it
/// describes each of them, requires none other, and describes nothing else but `doc_only`.
fn assert_documents(what: &str, schema: &Value, keys: &[&str], doc_only: &[&str]) {
    let props = schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{what}: no properties documented: {schema}"));
    let mut documented: Vec<&str> = props.keys().map(String::as_str).collect();
    documented.sort_unstable();
    let mut want: Vec<&str> = keys.iter().chain(doc_only).copied().collect();
    want.sort_unstable();
    assert_eq!(documented, want, "{what}: documented properties");
    for r in schema["required"].as_array().into_iter().flatten() {
        let r = r.as_str().unwrap();
        assert!(
            keys.contains(&r),
            "{what}: requires `{r}`, which the answer lacks"
        );
    }
    assert_eq!(
        schema["additionalProperties"],
        json!(false),
        "{what}: unknown keys must be refused by the document"
    );
}

fn check_document(shape: &Shape) {
    let op = shape.operation_id;
    let (schema, headers) = documented_response(op, shape.status);
    assert_documents(op, schema, shape.keys, shape.doc_only);
    let props = &schema["properties"];
    for &(key, ty) in shape.types {
        let types = schema_types(&props[key]);
        assert!(
            ty.schema_types()
                .iter()
                .any(|t| types.iter().any(|d| d == t)),
            "{op}: `{key}` is {ty:?}, the document says {types:?}"
        );
    }
    if let Some((field, keys, doc_only)) = shape.items {
        let item = resolve(&props[field]["items"]);
        assert_documents(&format!("{op}: {field}[]"), item, keys, doc_only);
    }
    if shape.keys.contains(&"version") && shape.keys.contains(&"number") {
        // Customers: the version also travels as the ETag.
        assert_eq!(
            headers["ETag"]["schema"]["type"], "string",
            "{op}: ETag header documented"
        );
    }
}

async fn customer_contract(store: Store) {
    let api = Api::new(&store).await;

    let (headers, created) = api
        .check(
            &CREATE_CUSTOMER,
            Method::POST,
            "/api/customers",
            None,
            Some(json!({
                "name": "Acme Trading",
                "email": "buyer@acme.example",
                "phone": "+1 555 0100",
                "region": "North",
                "tags": ["wholesale"],
            })),
        )
        .await;
    assert_eq!(etag("createCustomer", &headers), "\"1\"");
    assert_eq!(created["version"], 1);
    assert_eq!(created["name"], "Acme Trading");
    assert_eq!(created["tags"], json!(["wholesale"]));
    assert_eq!(created["status"], "lead");
    let number = created["number"].as_str().unwrap();
    assert!(
        number.len() == 7 && number.starts_with('C'),
        "assigned number C000123: {number}"
    );
    let id = created["id"].as_i64().unwrap();
    let uri = format!("/api/customers/{id}");

    let (headers, read) = api
        .check(&GET_CUSTOMER, Method::GET, &uri, None, None)
        .await;
    assert_eq!(etag("getCustomer", &headers), "\"1\"");
    assert_eq!(read["id"], id);
    assert_eq!(
        read["value"],
        Value::Null,
        "no value figures before a refresh"
    );

    let (headers, updated) = api
        .check(
            &UPDATE_CUSTOMER,
            Method::PATCH,
            &uri,
            Some("\"1\""),
            Some(json!({"phone": "+1 555 0199", "company": null})),
        )
        .await;
    assert_eq!(etag("updateCustomer", &headers), "\"2\"");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["phone"], "+1 555 0199");
    // The same If-Match again is stale now: 409 with the version now.
    let (s, _, stale) = api
        .call(
            Method::PATCH,
            &uri,
            Some("\"1\""),
            Some(json!({"phone": "+1 555 0142"})),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{stale}");
    assert_eq!(stale["code"], "conflict");
    assert_eq!(stale["current_version"], 2);

    api.call(
        Method::POST,
        "/api/customers",
        None,
        Some(json!({"name": "Bravo Ltd"})),
    )
    .await;
    let (_, page) = api
        .check(
            &LIST_CUSTOMERS,
            Method::GET,
            "/api/customers?limit=1",
            None,
            None,
        )
        .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
}

async fn records_contract(store: Store) {
    let api = Api::new(&store).await;
    let (_, _, c) = api
        .call(
            Method::POST,
            "/api/customers",
            None,
            Some(json!({"name": "Acme Trading"})),
        )
        .await;
    let id = c["id"].as_i64().unwrap();

    let (_, contact) = api
        .check(
            &CREATE_CONTACT,
            Method::POST,
            &format!("/api/customers/{id}/contacts"),
            None,
            Some(json!({"name": "Jane Roe", "title": "Buyer", "email": "jane@acme.example"})),
        )
        .await;
    assert_eq!(contact["customer_id"], id);
    assert_eq!(contact["is_primary"], false);
    let contact_id = contact["id"].as_i64().unwrap();

    let (_, interaction) = api
        .check(
            &CREATE_INTERACTION,
            Method::POST,
            &format!("/api/customers/{id}/interactions"),
            None,
            Some(json!({
                "kind": "call",
                "occurred_at": "2024-03-01T10:30:00Z",
                "by": "J. Smith",
                "contact_id": contact_id,
                "text": "Asked for a quote on 200 widgets.",
            })),
        )
        .await;
    assert_eq!(interaction["kind"], "call");
    assert_eq!(interaction["contact_id"], contact_id);
    assert_eq!(interaction["text"], "Asked for a quote on 200 widgets.");

    let (_, order) = api
        .check(
            &CREATE_ORDER,
            Method::POST,
            &format!("/api/customers/{id}/orders"),
            None,
            Some(json!({
                "order_ref": "PO-1001",
                "ordered_on": "2024-03-02",
                "lines": [
                    {"category": "widgets", "quantity": 2, "amount": "19.90", "cost": 12},
                    {"amount": 5.5},
                ],
            })),
        )
        .await;
    assert_eq!(order["order_ref"], "PO-1001");
    assert_eq!(order["ordered_on"], "2024-03-02");
    assert_eq!(order["amount"], json!(25.4));
    assert_eq!(order["cost"], json!(12.0));
    assert_eq!(order["lines"][0]["line_no"], 1);
    assert_eq!(order["lines"][0]["quantity"], 2);
    assert_eq!(order["lines"][1]["category"], Value::Null);
}

async fn value_report_contract(store: Store) {
    let api = Api::new(&store).await;
    // A handful of customers with repeat orders over a year, then a refresh.
    for (n, days) in [
        (
            1,
            &["2023-01-05", "2023-03-10", "2023-08-20", "2023-12-01"][..],
        ),
        (2, &["2023-02-01", "2023-02-20"][..]),
        (3, &["2023-04-11"][..]),
        (4, &["2023-01-15", "2023-06-30", "2023-11-11"][..]),
        (5, &["2023-05-05", "2023-12-24"][..]),
    ] {
        let (s, _, c) = api
            .call(
                Method::POST,
                "/api/customers",
                None,
                Some(json!({"name": format!("Customer {n}")})),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        let id = c["id"].as_i64().unwrap();
        for (i, day) in days.iter().enumerate() {
            let (s, _, o) = api
                .call(
                    Method::POST,
                    &format!("/api/customers/{id}/orders"),
                    None,
                    Some(json!({"ordered_on": day, "lines": [{"amount": 10 * (n + i) }]})),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{o}");
        }
    }
    let (s, _, refreshed) = api
        .call(Method::POST, "/api/value/refresh", None, Some(json!({})))
        .await;
    assert_eq!(s, StatusCode::OK, "{refreshed}");

    let (_, report) = api
        .check(
            &VALUE_REPORT,
            Method::GET,
            "/api/value/report?top=3",
            None,
            None,
        )
        .await;
    assert_eq!(report["totals"]["customers"], 5);
    assert_eq!(report["first_order"], "2023-01-05");
    assert_eq!(report["last_order"], "2023-12-24");
    assert!(report["churn"]["top"].as_array().unwrap().len() <= 3);
}

async fn task_contract(store: Store) {
    let api = Api::new(&store).await;
    let (_, _, c) = api
        .call(
            Method::POST,
            "/api/customers",
            None,
            Some(json!({"name": "Acme Trading"})),
        )
        .await;
    let id = c["id"].as_i64().unwrap();
    let (headers, task) = api
        .check(
            &CREATE_TASK,
            Method::POST,
            "/api/tasks",
            None,
            Some(json!({
                "customer_id": id,
                "kind": "call",
                "due_at": "2030-03-01T09:00:00Z",
                "note": "Call back about the quote.",
            })),
        )
        .await;
    let task_id = task["id"].as_i64().unwrap();
    assert_eq!(
        headers[header::LOCATION],
        format!("/api/tasks/{task_id}").as_str()
    );
    assert_eq!(task["customer_name"], "Acme Trading");
    assert_eq!(task["kind"], "call");
    assert_eq!(task["status"], "open");
    assert_eq!(task["source"], "manual");
    assert_eq!(task["created_by"], "contract-examples");
}
