//! The OpenAPI 3.1 document, served at `/openapi.json`. Paths and operations come from the
//! route table ([`crate::routes::ROUTES`]); the schemas below describe exactly the JSON the
//! domain types accept and produce (the API tests validate real requests and responses
//! against them).

use std::sync::OnceLock;

use axum::Json;
use serde_json::{json, Map, Value};

use crate::routes::{
    Body, In, Route, Ty, ABC_CLASSES, GRADES, KINDS, LOYALTY_STAGES, RFM_SEGMENTS, ROUTES, STATUSES,
};

/// The document (built once).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build)
}

pub(crate) async fn serve_document() -> Json<Value> {
    Json(document().clone())
}

fn build() -> Value {
    let mut paths = Map::new();
    for r in ROUTES {
        let item = paths
            .entry(r.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("path items are objects");
        item.insert(r.verb.as_str().to_string(), operation(r));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Patron API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Patron, a CRM built around customer value: customers, their contacts, orders and interactions. \
                Errors are always JSON `{code, message, field?, errors?, current_version?}`. Request bodies are JSON \
                (Content-Type: application/json), at most 1 MiB; unknown fields are refused; no string (in a body, query or path) may hold a NUL character (\\u0000). Lists use keyset pages: \
                pass the `next` cursor of one page as `after` to get the next one.",
            "license": {"name": "MIT", "identifier": "MIT"}
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "customers", "description": "The customer record, its change history, duplicates and merge."},
            {"name": "contacts", "description": "People at a customer."},
            {"name": "orders", "description": "Purchase history: orders with one or more lines."},
            {"name": "interactions", "description": "Visits, calls, e-mails, meetings, quotes, promises, complaints, suggestions, requests."},
            {"name": "value", "description": "Customer value: stored per-customer figures (margin, RFM, ABC, P(alive), CLV, loyalty stage, lifecycle phase, churn warnings, score) and the population report, recomputed from the orders by a refresh."},
            {"name": "custody", "description": "Custody of customer data: users, API tokens, the audit log, the public pool (claim, return, reclaim) and hand-over."},
            {"name": "receivables", "description": "Credit and receivables: credit position, invoices with instalment plans, payments, the ageing report and the approval queue of orders held over the credit limit."},
            {"name": "service", "description": "Service tickets with an SLA clock and escalation, and satisfaction surveys (CSAT, NPS)."},
            {"name": "sales", "description": "Opportunities (stage, amount, probability, expected close), the pipeline and the forecast."},
            {"name": "leads", "description": "Leads (business cards, web forms) from capture through qualification to conversion into a customer, and the funnel."},
            {"name": "followup", "description": "Follow-up planning by value tier (ABC cadence) and the before-the-visit brief."},
            {"name": "tasks", "description": "Tasks (made by hand, from a promise, or by the rules: customers about to return to the pool, overdue invoices, tickets near their SLA, untouched leads, follow-ups due), activities that make them, and the caller's in-app notifications."},
            {"name": "system", "description": "Health and this document."}
        ],
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "responses": error_responses(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "description": "An API token (`patron token create` or POST /api/tokens)."}},
        }
    })
}

fn body_schema(b: Body) -> Option<Value> {
    match b {
        Body::None => None,
        Body::Csv => Some(json!({"type": "string", "description": "CSV with a header row."})),
        Body::Schema(name) | Body::Optional(name) => Some(schema_ref(name)),
        Body::ArrayOf(name) => Some(json!({"type": "array", "items": schema_ref(name)})),
    }
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn param_schema(ty: Ty) -> Value {
    match ty {
        Ty::Int => json!({"type": "integer", "format": "int64"}),
        Ty::Str => json!({"type": "string"}),
        Ty::Bool => json!({"type": "boolean"}),
        Ty::Date => json!({"type": "string", "format": "date"}),
        Ty::Enum(values) => json!({"type": "string", "enum": values}),
        Ty::IntRange(min, max) => {
            json!({"type": "integer", "format": "int64", "minimum": min, "maximum": max})
        }
        Ty::Pattern(pattern) => json!({"type": "string", "pattern": pattern}),
    }
}

fn operation(r: &Route) -> Value {
    let mut params: Vec<Value> = r
        .path_params()
        .map(|name| {
            let (schema, description) = if name == "order_ref" {
                (json!({"type": "string"}), "The order's reference.")
            } else if name == "id" {
                (
                    json!({"type": "integer", "format": "int64"}),
                    "The customer's id.",
                )
            } else {
                (json!({"type": "integer", "format": "int64"}), "Id.")
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema, "description": description})
        })
        .collect();
    for p in r.params {
        params.push(json!({
            "name": p.name,
            "in": match p.location { In::Query => "query", In::Header => "header" },
            "required": p.required,
            "schema": param_schema(p.ty),
            "description": p.description,
        }));
    }
    let mut responses = Map::new();
    let ok = match body_schema(r.response) {
        Some(schema) => {
            let media = if r.response == Body::Csv {
                "text/csv"
            } else {
                "application/json"
            };
            let mut resp = json!({
                "description": "Success.",
                "content": {media: {"schema": schema}}
            });
            if r.response == Body::Schema("Customer") {
                resp["headers"] = json!({"ETag": {
                    "description": "The customer's version, quoted: send it back in If-Match.",
                    "schema": {"type": "string"}
                }});
            }
            resp
        }
        None => json!({"description": "Done; no content."}),
    };
    responses.insert(r.status.to_string(), ok);
    let mut errors: Vec<u16> = r.errors.to_vec();
    if !params.is_empty() || r.request != Body::None {
        errors.push(400);
    }
    if r.request != Body::None {
        errors.extend([413, 415]);
    }
    if r.path.starts_with("/api/") {
        errors.push(503);
    }
    if !crate::auth::is_public(r.path) {
        errors.extend([401, 403]);
    }
    errors.sort_unstable();
    errors.dedup();
    for e in errors {
        responses.insert(
            e.to_string(),
            json!({"$ref": format!("#/components/responses/E{e}")}),
        );
    }
    let mut op = json!({
        "operationId": r.operation_id,
        "tags": [r.tag],
        "summary": r.summary,
        "responses": responses,
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if !crate::auth::is_public(r.path) {
        op["security"] = json!([{"bearer": []}]);
    }
    if let Some(action) = r.action {
        // Who may call it, from the permission table (others get 403).
        let roles: Vec<&str> = patron_store::Role::NAMES
            .iter()
            .copied()
            .filter(|n| {
                patron_store::Role::parse(n)
                    .is_some_and(|role| patron_app::permissions::allowed(role, action))
            })
            .collect();
        op["x-roles"] = json!(roles);
    }
    if let Some(schema) = body_schema(r.request) {
        op["requestBody"] = json!({
            "required": !matches!(r.request, Body::Optional(_)),
            "content": {"application/json": {"schema": schema}}
        });
    }
    op
}

fn error_responses() -> Value {
    let mut out = Map::new();
    for (status, text) in [
        (400, "Malformed JSON (`malformed_json`), a bad query parameter (`bad_query`), a bad path parameter (`bad_path`) or header (`bad_request`); `field` names it."),
        (401, "No valid bearer token (`unauthorized`): send `Authorization: Bearer <token>`."),
        (403, "The caller's role or data scope does not allow this (`forbidden`); analysts see aggregate figures only; a pool customer must be claimed before it is changed."),
        (404, "No such record (`not_found`), or no customer value figures computed yet (`not_computed`)."),
        (409, "Conflict (`conflict`): the record changed since you read it (`current_version` tells its version now), a duplicate reference, or a merged customer; or nothing to analyse (`no_orders`)."),
        (413, "The body is larger than 1 MiB (`payload_too_large`)."),
        (415, "The body is not declared as JSON (`unsupported_media_type`)."),
        (422, "The JSON is well-formed but invalid (`validation`): a wrong type, an unknown or missing field, or a rule broken; `field` names the first, `errors` lists all."),
        (503, "The database cannot be reached (`unavailable`); try again later."),
    ] {
        out.insert(
            format!("E{status}"),
            json!({
                "description": text,
                "content": {"application/json": {"schema": schema_ref("Error")}}
            }),
        );
    }
    Value::Object(out)
}

/// A pattern admitting the dates (`YYYY-MM-DD`) from 1900 to `limit`, for date fields that may
/// not lie in the future: every year before the limit's, the months before its month, the days
/// up to its day (an alternation; JSON Schema has no date comparison).
pub(crate) fn date_up_to(limit: chrono::NaiveDate) -> String {
    use chrono::Datelike;
    let mut alts: Vec<String> = (1900..limit.year()).map(|y| format!("{y}-")).collect();
    alts.extend((1..limit.month()).map(|m| format!("{}-{m:02}-", limit.year())));
    alts.extend(
        (1..=limit.day()).map(|d| format!("{}-{:02}-{d:02}$", limit.year(), limit.month())),
    );
    format!("^(?:{})", alts.join("|"))
}

pub(crate) fn nullable(schema: Value) -> Value {
    match schema.get("type").cloned() {
        Some(Value::String(t)) if schema.get("enum").is_none() => {
            let mut s = schema;
            s["type"] = json!([t, "null"]);
            s
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}

/// An amount in a request: a JSON number within `min..=max`, or text in the one form the API
/// reads (see [`patron_domain::money::JSON_TEXT_PATTERN`]; its range is the number's, which a
/// pattern cannot state). `min: None` allows negative amounts.
fn money_input(min: Option<f64>, max: f64) -> Value {
    let mut number = json!({"type": "number", "maximum": max});
    let pattern = match min {
        Some(m) => {
            // Numbers are rounded to cents: anything above m - 0.005 rounds to m or more.
            number["exclusiveMinimum"] = json!(m - 0.005);
            patron_domain::money::JSON_TEXT_PATTERN.replacen("^-?", "^", 1)
        }
        None => {
            number["minimum"] = json!(-max);
            patron_domain::money::JSON_TEXT_PATTERN.to_string()
        }
    };
    json!({
        "anyOf": [number, {"type": "string", "pattern": pattern}],
        "description": "An amount: a number (12.34) or a string (\"12.34\", \"$1,234.50\"); at most two decimals.",
    })
}

/// An amount of one cent or more, up to ten billion: a number of at least 0.005 (rounded half
/// away from zero, it is a cent) or a text amount.
fn positive_money_up_to_10bn() -> Value {
    let mut v = money_input(Some(0.01), 1e10);
    let number = &mut v["anyOf"][0];
    if let Some(o) = number.as_object_mut() {
        o.remove("exclusiveMinimum");
        o.insert("minimum".into(), json!(0.005));
    }
    v
}

/// An amount of zero or more, up to ten billion (order lines, costs).
fn money_up_to_10bn() -> Value {
    money_input(Some(0.0), 1e10)
}

/// An amount of more than zero (invoices, instalments, payments).
fn money_positive(max: f64) -> Value {
    let mut v = money_input(Some(0.0), max);
    if let Some(number) = v["anyOf"][0].as_object_mut() {
        // The smallest number that rounds to one cent.
        number.remove("exclusiveMinimum");
        number.insert("minimum".into(), json!(0.005));
    }
    v
}

/// The characters Rust's `str::trim` removes (Unicode White_Space), as a regex class body: the
/// server trims text fields before checking them.
const WS: &str = r"\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";

/// Text that must hold something besides white space (it is trimmed, then required).
pub(crate) fn non_blank(max: usize) -> Value {
    json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": non_blank_pattern()})
}

pub(crate) fn non_blank_pattern() -> String {
    format!("[^{WS}]")
}

/// Text that is empty or only white space (the server reads it as absent).
pub(crate) fn blank_pattern() -> String {
    format!("^[{WS}]*$")
}

/// An e-mail address as the server checks it (blank means none).
pub(crate) fn email() -> Value {
    let x = format!("[^@{WS},;.\\u0000]");
    let y = format!("[^@{WS},;\\u0000]");
    json!({
        "type": "string",
        "maxLength": 500,
        "pattern": format!("^[{WS}]*(?:{y}+@{x}{y}*\\.{y}*{x})?[{WS}]*$"),
        "description": "name@domain.tld",
    })
}

/// A phone or fax number as the server checks it (blank means none).
pub(crate) fn phone() -> Value {
    let p = r"[ +\-()./x]";
    json!({
        "type": "string",
        "maxLength": 500,
        "pattern": format!("^[{WS}]*(?:{p}*(?:[0-9]{p}*){{5,}})?[{WS}]*$"),
        "description": "Digits, spaces, + - ( ) . / x; at least 5 digits.",
    })
}

fn text() -> Value {
    json!({"type": "string", "maxLength": 500})
}

/// The schemas of campaign mail and the users' mail settings.
fn mail_schemas() -> Map<String, Value> {
    let Value::Object(m) = json!({
        "CampaignMailCounts": record(json!({
            "queued": count(), "sent": count(), "failed": count(),
            "unsubscribed": {"type": "integer", "minimum": 0, "description": "Customers who opted out through this campaign's unsubscribe links."},
            "customers": count(),
        })),
        "MailCompose": object(json!({
            "lang": {"type": "string", "enum": ["en", "zh"]},
            "subject": {"type": "string"},
            "body": {"type": "string"},
            "status": {"type": "string", "enum": STATUSES},
            "region": {"type": "string"},
            "confirm": {"type": "integer", "minimum": 0},
        }), &[]),
        "MailPreview": record(json!({
            "audience": count(),
            "mail": nullable(record(json!({
                "customer_id": id(),
                "recipient": {"type": "string"},
                "subject": {"type": "string"},
                "body": {"type": "string"},
            }))),
        })),
        "MailTestQueued": record(json!({"queued_to": {"type": "string"}})),
        "MailSent": record(json!({"audience": count(), "queued": count()})),
        "MailSettings": object(json!({
            "email": {"type": ["string", "null"]},
            "notify_by_mail": {"type": "boolean"},
            "digest_hour": {"type": ["integer", "null"], "minimum": 0, "maximum": 23},
            "lang": {"type": "string", "enum": ["en", "zh"]},
        }), &[]),
    }) else {
        unreachable!()
    };
    m
}

fn id() -> Value {
    json!({"type": "integer", "format": "int64"})
}

fn object(props: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// The editable customer fields; `stored` gives them as a stored customer has them.
fn customer_fields(stored: bool) -> Map<String, Value> {
    let money = if stored {
        schema_ref("Money")
    } else {
        money_input(Some(0.0), 1e15)
    };
    let name_500 = if stored {
        json!({"type": "string", "minLength": 1, "maxLength": 500})
    } else {
        non_blank(500)
    };
    let v = json!({
        "number": if stored { json!({"type": "string", "description": "Customer number (external id)."}) }
                  else { nullable(json!({"type": "string", "maxLength": 500, "description": "Customer number (external id); assigned as C000123 when absent."})) },
        "name": name_500,
        "company": nullable(text()),
        "industry": nullable(text()),
        "region": nullable(text()),
        "address": nullable(text()),
        "phone": nullable(phone()),
        "fax": nullable(phone()),
        "email": nullable(email()),
        "employees": nullable(json!({"type": "integer", "format": "int64", "minimum": 0})),
        "registered_capital": nullable(money.clone()),
        "awards": nullable(text()),
        "source": nullable(json!({"type": "string", "maxLength": 500, "description": "Where the customer came from: trade show, web, referral, ..."})),
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 50},
        "custom_fields": {
            "type": "object",
            "description": "Typed custom fields (boolean, number, date as YYYY-MM-DD, or text); at most 100.",
            "additionalProperties": schema_ref("CustomValue"),
            "propertyNames": {"minLength": 1, "maxLength": 64, "pattern": non_blank_pattern()},
            "maxProperties": 100
        },
        "status": {"type": "string", "enum": STATUSES, "description": "lead -> tracking -> intent -> won (default lead)."},
        "loyalty": {"type": "string", "enum": ["loyal", "switcher", "none"], "description": "Loyalty attitude (default none)."},
        "owner_id": nullable(json!({"type": "integer", "format": "int64", "description": "The user who owns the customer."})),
        "credit_rating": nullable(text()),
        "credit_limit": nullable(money),
        "marketing_opt_out": {"type": "boolean", "description": "The customer asked for no marketing."},
        "referred_by": nullable(json!({"type": "integer", "format": "int64", "description": "The customer who referred this one."})),
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

fn page_of(item: &str) -> Value {
    object(
        json!({
            "items": {"type": "array", "items": schema_ref(item)},
            "next": nullable(json!({"type": "string", "description": "Cursor of the next page (pass as `after`); null on the last page."})),
        }),
        &["items", "next"],
    )
}

fn schemas() -> Value {
    let input_props = customer_fields(false);
    // A patch may change the number but never remove it (the store refuses null).
    let mut patch_props = input_props.clone();
    patch_props.insert(
        "number".into(),
        json!({"type": "string", "minLength": 1, "maxLength": 500, "description": "Customer number (external id); it cannot be removed."}),
    );
    let mut stored = customer_fields(true);
    let mut customer = Map::new();
    customer.insert("id".into(), id());
    customer.insert(
        "version".into(),
        json!({"type": "integer", "format": "int64", "description": "Incremented on every update; send it back in If-Match."}),
    );
    customer.append(&mut stored);
    customer.insert(
        "merged_into".into(),
        nullable(json!({"type": "integer", "format": "int64", "description": "Set when merged into another customer."})),
    );
    customer.insert(
        "archived_at".into(),
        nullable(json!({"type": "string", "format": "date-time", "description": "Set while the customer is archived (left out of the lists, everything kept; POST .../restore)."})),
    );
    customer.insert(
        "archived_by".into(),
        nullable(json!({"type": "string", "description": "Who archived it."})),
    );
    customer.insert(
        "created_at".into(),
        json!({"type": "string", "format": "date-time"}),
    );
    customer.insert(
        "updated_at".into(),
        json!({"type": "string", "format": "date-time"}),
    );
    let customer_required: Vec<&str> = customer.keys().map(String::as_str).collect();
    let mut customer_props = customer.clone();
    customer_props.insert(
        "value".into(),
        json!({
            "description": "On GET /api/customers/{id} only: the stored value figures (null before a refresh saw an order of the customer).",
            "anyOf": [schema_ref("CustomerValue"), {"type": "null"}],
        }),
    );
    let customer_schema = object(Value::Object(customer_props), &customer_required);

    let contact_fields = json!({
        "name": non_blank(500),
        "title": nullable(text()),
        "phone": nullable(text()),
        "email": nullable(email()),
        "is_primary": {"type": "boolean"},
        "notes": nullable(text()),
        "purchase_role": nullable(json!({"type": "string", "enum": ["decision_maker", "influencer", "buyer", "user", "gatekeeper"], "description": "The person's part in the purchase decision."})),
        "preferences": nullable(text()),
        "birthday": nullable(json!({"type": "string", "format": "date", "pattern": "^(?:19[0-9]{2}|20[0-9]{2}|2100)-", "description": "YYYY-MM-DD, year 1900 to 2100."})),
    });
    let mut contact = json!({"customer_id": id(), "id": id()});
    for (k, v) in contact_fields.as_object().expect("object") {
        contact[k] = v.clone();
    }
    let contact_required: Vec<String> = contact
        .as_object()
        .expect("object")
        .keys()
        .cloned()
        .collect();
    let contact_required: Vec<&str> = contact_required.iter().map(String::as_str).collect();

    let interaction_kind = json!({"type": "string", "enum": KINDS});

    let doc = json!({
        "Money": {"type": "number", "description": "An amount in currency units with at most two decimals (stored as exact cents)."},
        "MoneyInput": money_input(None, 1e15),
        "CustomValue": {"type": ["boolean", "number", "string"], "maxLength": 500, "minimum": -1e15, "maximum": 1e15, "description": "A custom-field value: boolean, number (at most 1e15 in magnitude), date (YYYY-MM-DD) or text."},
        "CustomerInput": object(Value::Object(input_props), &["name"]),
        "CustomerPatch": {
            "type": "object",
            "description": "Any fields of CustomerInput; null clears an optional field (not the number, which identifies the customer).",
            "properties": Value::Object(patch_props),
            "additionalProperties": false
        },
        "Customer": customer_schema,
        "CustomerPage": page_of("Customer"),
        "HistoryEntry": object(json!({
            "customer_id": id(),
            "id": id(),
            "changed_at": {"type": "string", "format": "date-time"},
            "changed_by": {"type": "string", "description": "Who made the change (user name, or import, api, merge)."},
            "field": {"type": "string", "description": "The field changed, or `created`, `merged_from`, `merged_into`, `archived` (`no` -> `yes` when archived, `yes` -> `no` when restored)."},
            "old_value": nullable(json!({"type": "string"})),
            "new_value": nullable(json!({"type": "string"})),
        }), &["customer_id", "id", "changed_at", "changed_by", "field", "old_value", "new_value"]),
        "DuplicatePair": object(json!({
            "a": id(),
            "b": id(),
            "reason": {"type": "string", "enum": ["phone", "email", "name"]},
        }), &["a", "b", "reason"]),
        "PurgeRequest": object(json!({
            "reason": {"description": "Why the customer is purged (e.g. the erasure request it answers); kept in the audit log.", "type": "string", "minLength": 1, "maxLength": patron_app::customers::PURGE_REASON_MAX, "pattern": non_blank_pattern()}
        }), &["reason"]),
        "MergeRequest": object(json!({
            "drop": {"type": "integer", "format": "int64", "description": "The customer merged into the one in the path."}
        }), &["drop"]),
        "MergeOutcome": object(json!({
            "kept": schema_ref("Customer"),
            "merged_id": id(),
            "moved_contacts": {"type": "integer", "minimum": 0},
            "moved_order_lines": {"type": "integer", "minimum": 0},
            "moved_interactions": {"type": "integer", "minimum": 0},
            "moved_history": {"type": "integer", "minimum": 0},
            "moved_invoices": {"type": "integer", "minimum": 0},
            "moved_payments": {"type": "integer", "minimum": 0},
            "moved_credit_holds": {"type": "integer", "minimum": 0},
            "moved_tickets": {"type": "integer", "minimum": 0},
            "moved_surveys": {"type": "integer", "minimum": 0},
        }), &["kept", "merged_id", "moved_contacts", "moved_order_lines", "moved_interactions", "moved_history",
              "moved_invoices", "moved_payments", "moved_credit_holds", "moved_tickets", "moved_surveys"]),
        "ContactInput": object(contact_fields, &["name"]),
        "Contact": object(contact, &contact_required),
        "OrderLineInput": object(json!({
            "category": nullable(json!({"type": "string", "maxLength": 100})),
            "quantity": {"type": "integer", "format": "int64", "minimum": 0, "maximum": 1_000_000_000, "default": 1},
            "amount": money_up_to_10bn(),
            "cost": money_up_to_10bn(),
        }), &["amount"]),
        "OrderInput": object(json!({
            "order_ref": nullable(json!({"type": "string", "maxLength": 100, "description": "The order's own reference; generated when absent; unique per customer."})),
            "ordered_on": {"type": "string", "format": "date", "pattern": date_up_to(patron_domain::order::latest_order_date(patron_domain::order::today())), "description": "From 1900 to tomorrow (orders dated later are refused: the pattern holds the limit on the day the document was made)."},
            "lines": {"type": "array", "items": schema_ref("OrderLineInput"), "minItems": 1, "maxItems": 1000},
        }), &["ordered_on", "lines"]),
        "OrderLine": object(json!({
            "line_no": {"type": "integer", "format": "int32"},
            "category": nullable(json!({"type": "string"})),
            "quantity": {"type": "integer", "format": "int64"},
            "amount": schema_ref("Money"),
            "cost": schema_ref("Money"),
        }), &["line_no", "category", "quantity", "amount", "cost"]),
        "Order": object(json!({
            "customer_id": id(),
            "order_ref": {"type": "string"},
            "ordered_on": {"type": "string", "format": "date"},
            "lines": {"type": "array", "items": schema_ref("OrderLine")},
            "amount": schema_ref("Money"),
            "cost": schema_ref("Money"),
        }), &["customer_id", "order_ref", "ordered_on", "lines", "amount", "cost"]),
        "OrderPage": page_of("Order"),
        "InteractionInput": object(json!({
            "kind": interaction_kind.clone(),
            "occurred_at": nullable(json!({"type": "string", "format": "date-time", "pattern": "^[1-9][0-9]{3}-", "description": "When it happened (years 1000-9999); now when absent."})),
            "by": nullable(json!({"type": "string", "maxLength": 200, "description": "Who on our side: leave it out (the caller). Naming another user needs a role that may record for others (admins, managers); others get 403."})),
            "contact_id": nullable(json!({"type": "integer", "format": "int64", "description": "The contact at the customer."})),
            "text": non_blank(20000),
            "external_id": nullable(json!({"type": "string", "description": "Makes repeated imports idempotent; unique per customer."})),
        }), &["kind", "text"]),
        "Interaction": object(json!({
            "customer_id": id(),
            "id": id(),
            "kind": interaction_kind,
            "occurred_at": {"type": "string", "format": "date-time"},
            "by": nullable(json!({"type": "string"})),
            "contact_id": nullable(id()),
            "text": {"type": "string"},
            "external_id": nullable(json!({"type": "string"})),
        }), &["customer_id", "id", "kind", "occurred_at", "by", "contact_id", "text", "external_id"]),
        "InteractionPage": page_of("Interaction"),
        "Health": object(json!({
            "status": {"type": "string", "enum": ["ok"]},
            "database": {"type": "string", "enum": ["sqlite", "postgres"]},
        }), &["status", "database"]),
        "FieldError": object(json!({
            "field": {"type": "string"},
            "message": {"type": "string"},
        }), &["field", "message"]),
        "Error": object(json!({
            "code": {"type": "string", "enum": [
                "bad_request", "malformed_json", "bad_query", "bad_path", "validation", "not_found",
                "method_not_allowed", "conflict", "payload_too_large", "unsupported_media_type",
                "unavailable", "internal", "not_computed", "no_orders", "unauthorized", "forbidden"
            ]},
            "message": {"type": "string"},
            "field": {"type": "string", "description": "The offending body field (path such as lines[0].amount), query or path parameter, or header."},
            "errors": {"type": "array", "items": schema_ref("FieldError"), "description": "Every field error (validation)."},
            "current_version": {"type": "integer", "format": "int64", "description": "On a version conflict: the record's version now."},
            "reason": {"type": "string", "enum": ["credit_refused", "pool_cap", "not_in_pool", "no_address", "mail_not_configured", "no_public_url", "no_recipients"], "description": "On a conflict of a known kind: its stable name, to word the message in another language (`message` is English)."},
        }), &["code", "message"]),
        "OpenApiDocument": {"type": "object", "required": ["openapi", "info", "paths"]},
    });
    let Value::Object(mut doc) = doc else {
        unreachable!()
    };
    doc.append(&mut value_schemas());
    doc.append(&mut custody_schemas());
    doc.append(&mut mail_schemas());
    doc.append(&mut work_schemas());
    doc.append(&mut crate::routes::leads::schemas());
    doc.append(&mut crate::routes::tasks::schemas());
    doc.append(&mut crate::routes::survey_mail::schemas());
    Value::Object(doc)
}

/// `GET /api/value/breakdown`'s answer.
fn value_breakdown_schema() -> Value {
    let range = json!({"type": ["array", "null"], "items": date(), "minItems": 2, "maxItems": 2, "description": "First and last day (null without orders)."});
    let figures = record(json!({
        "revenue": {"type": "integer", "description": "Cents."},
        "margin": {"type": "integer", "description": "Cents: revenue minus product cost."},
        "active": count(), "new": count(),
    }));
    let group = object(
        json!({
            "key": {"type": ["string", "null"], "description": "The region, industry or category; the owner's user id as text for `by=owner`. Null: customers (lines) without one, or the public pool."},
            "owner_id": {"type": "integer", "format": "int64", "description": "by=owner: the owner (absent for the pool)."},
            "owner_name": {"type": "string", "description": "by=owner: the owner's display name (absent for analysts and the pool)."},
            "customers": count(),
            "revenue_cents": {"type": "integer"},
            "margin_cents": {"type": "integer", "description": "CRM margin of the stored figures (after product and marketing cost); category: revenue minus product cost of its lines."},
            "clv": number(),
            "churn_risk": {"type": ["integer", "null"], "minimum": 0},
            "abc": {"anyOf": [record(json!({"A": count(), "B": count(), "C": count()})), {"type": "null"}]},
            "this": figures.clone(),
            "prev": figures,
        }),
        &[
            "key",
            "customers",
            "revenue_cents",
            "margin_cents",
            "clv",
            "churn_risk",
            "abc",
            "this",
            "prev",
        ],
    );
    record(json!({
        "by": {"type": "string", "enum": ["region", "industry", "category", "owner"]},
        "period": {"type": "string", "enum": ["month", "quarter", "half", "year"]},
        "this": range.clone(),
        "prev": range,
        "not_applicable": {"type": "array", "items": {"type": "string", "enum": ["clv", "churn_risk", "abc"]}},
        "scoped": {"type": "boolean", "description": "True: the caller's scope only; false: every customer."},
        "groups": {"type": "array", "items": group, "description": "Largest revenue to date first."},
    }))
}

/// One customer's figures as of a snapshot (`GET /api/customers/{id}/value/history`).
fn value_history_schema() -> Value {
    let point = record(json!({
        "snapshot_id": {"type": "integer", "format": "int64"},
        "computed_at": {"type": "string", "format": "date-time"},
        "as_of": {"type": ["string", "null"], "format": "date", "description": "The day analysed up to."},
        "grade": {"type": ["string", "null"], "enum": ["A", "B", "C", "D", "E", null]},
        "stage": {"type": ["string", "null"], "description": "Loyalty stage (suspect, prospect, first_time_buyer, repeat_buyer, advocate)."},
        "clv": number(),
        "p_alive": number(),
        "margin_cents": {"type": "integer", "description": "CRM margin in cents."},
    }));
    record(json!({
        "points": {"type": "array", "items": point.clone(), "description": "Oldest first: one per snapshot that holds the customer (the newest 60)."},
        "current": {"anyOf": [point, {"type": "null"}], "description": "The figures recomputed since the newest snapshot (`snapshot_id`: that snapshot); null when the newest point is current."},
    }))
}

/// Grade and stage movements between two snapshots (`GET /api/value/transitions`).
fn value_transitions_schema() -> Value {
    let snapshot = record(json!({
        "id": {"type": "integer", "format": "int64"},
        "computed_at": {"type": "string", "format": "date-time"},
        "as_of": {"type": ["string", "null"], "format": "date"},
    }));
    let row = record(json!({
        "from": {"type": ["string", "null"], "description": "Grade or stage in the earlier snapshot; null: none, or not in it."},
        "to": {"type": ["string", "null"], "description": "Grade or stage in the later snapshot; null: none."},
        "customers": count(),
        "clv_from": number(),
        "clv_to": number(),
        "margin_from_cents": {"type": "integer"},
        "margin_to_cents": {"type": "integer"},
    }));
    let table =
        json!({"type": "array", "items": row, "description": "By from, then to (none last)."});
    record(json!({
        "from": {"anyOf": [snapshot.clone(), {"type": "null"}]},
        "to": {"anyOf": [snapshot, {"type": "null"}]},
        "scoped": {"type": "boolean", "description": "True: the caller's scope only; false: every customer."},
        "grade": table.clone(),
        "stage": table,
    }))
}

fn number() -> Value {
    json!({"type": ["number", "null"]})
}

fn count() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn date() -> Value {
    json!({"type": "string", "format": "date"})
}

/// Closed object whose properties are all required.
fn record(props: Value) -> Value {
    let keys: Vec<String> = props.as_object().expect("object").keys().cloned().collect();
    let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
    object(props, &keys)
}

/// The schemas of the custody routes.
fn custody_schemas() -> Map<String, Value> {
    let ts = || json!({"type": "string", "format": "date-time"});
    let ts_null = || json!({"type": ["string", "null"], "format": "date-time"});
    let id_null = || json!({"type": ["integer", "null"], "format": "int64"});
    let text_null = || json!({"type": ["string", "null"]});
    let token = record(json!({
        "id": id(), "user_id": id(), "name": {"type": "string"},
        "prefix": {"type": "string", "description": "The secret's first characters."},
        "created_at": ts(), "last_used_at": ts_null(), "revoked_at": ts_null(),
    }));
    let v = json!({
        "User": record(json!({
            "id": id(), "username": {"type": "string"}, "display_name": text_null(),
            "role": {"type": "string", "enum": patron_store::Role::NAMES},
            "scope": {"type": "string", "enum": patron_store::DataScope::NAMES, "description": "Whose customers the user sees."},
            "department_id": id_null(), "manager_id": id_null(), "disabled": {"type": "boolean"}, "created_at": ts(),
        })),
        "ApiToken": token,
        "TokenInput": object(json!({"name": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": format!("[^{WS}]"), "description": "What the token is for."}}), &["name"]),
        "NewToken": record(json!({
            "token": schema_ref("ApiToken"),
            "secret": {"type": "string", "description": "The token itself (`ptk_...`): shown only here, send it as `Authorization: Bearer <secret>`."},
        })),
        "AuditEntry": record(json!({
            "id": id(), "at": ts(), "actor_id": id_null(), "actor": {"type": "string"},
            "action": {"type": "string"}, "customer_id": id_null(), "detail": text_null(),
            "row_count": id_null(), "ip": text_null(),
        })),
        "HandoverRequest": object(json!({
            "to": {"type": "integer", "format": "int64", "description": "The user who takes over."},
            "customers": {"type": ["array", "null"], "items": {"type": "integer", "format": "int64"}, "description": "Only these customers (default all)."},
        }), &["to"]),
        "HandoverOutcome": record(json!({
            "from": id(), "to": id(),
            "moved": {"type": "array", "items": {"type": "integer", "format": "int64"}},
        })),
        "ReclaimRequest": object(json!({"preview": {"type": "boolean", "description": "Only list what would return; change nothing."}}), &[]),
        "Reclaimed": record(json!({
            "customer_id": id(), "owner_id": id(), "grade": text_null(),
            "idle_days": {"type": "integer"},
        })),
    });
    match v {
        Value::Object(m) => m,
        _ => unreachable!(),
    }
}

/// The schemas of the customer-value routes.
fn value_schemas() -> Map<String, Value> {
    let phases = ["introduction", "growth", "maturity", "decline"];
    let reason_kinds = [
        "revenue_drop",
        "long_absence",
        "low_p_alive",
        "no_second_purchase",
    ];
    let value_props = json!({
        "customer_id": id(),
        "computed_at": {"type": "string", "format": "date-time", "description": "When the refresh ran."},
        "unit": {"type": "string", "enum": ["day", "week"], "description": "Unit of frequency, recency and T."},
        "calibration_end": date(),
        "frequency": {"type": ["number", "null"], "description": "Repeat purchase periods in the calibration period (lifetimes convention); null without an order in it."},
        "recency": {"type": ["number", "null"], "description": "Age at the last purchase, in units."},
        "T": {"type": ["number", "null"], "description": "Age at the calibration end, in units."},
        "monetary_value": {"type": ["number", "null"], "description": "Mean spend of the repeat purchases."},
        "orders": {"type": "integer", "minimum": 0, "description": "Order lines in the calibration period."},
        "revenue": schema_ref("Money"),
        "cost": schema_ref("Money"),
        "margin": {"$ref": "#/components/schemas/Money", "description": "CRM gross margin: revenue - product cost - relationship-marketing cost."},
        "rfm_r": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "rfm_f": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "rfm_m": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
        "rfm_segment": {"anyOf": [{"type": "string", "enum": RFM_SEGMENTS}, {"type": "null"}]},
        "abc_class": {"type": "string", "enum": ABC_CLASSES},
        "p_alive": {"type": ["number", "null"], "description": "Probability that the customer is still active (purchase model)."},
        "expected_purchases": {"type": ["number", "null"], "description": "Expected purchases over the CLV horizon."},
        "expected_spend": {"type": ["number", "null"], "description": "Expected mean spend per purchase (Gamma-Gamma)."},
        "clv": {"type": ["number", "null"], "description": "Discounted expected margin over the horizon, less marketing cost."},
        "loyalty_stage": {"anyOf": [{"type": "string", "enum": LOYALTY_STAGES}, {"type": "null"}]},
        "lifecycle_phase": {"anyOf": [{"type": "string", "enum": phases}, {"type": "null"}]},
        "churn_risk": {"type": "boolean", "description": "A churn warning is active."},
        "value_at_risk": {"type": "number", "description": "Margin of the last 365 days of a warned customer (0 when not warned)."},
        "churn_reasons": {"type": "array", "items": schema_ref("ChurnReason")},
        "score": {"type": ["number", "null"], "description": "Weighted value score 0-100 (default model)."},
        "grade": {"anyOf": [{"type": "string", "enum": GRADES}, {"type": "null"}]},
    });
    let mut detail = value_props.clone();
    detail["clv_missing"] = json!({"anyOf": [record(json!({
        "code": {"type": "string", "enum": ["no_orders", "not_enough_history", "no_model", "gamma_gamma_failed"]},
        "reason": {"type": ["string", "null"], "description": "The snapshot's reason in words (English)."},
    })), {"type": "null"}], "description": "Why `clv` is null: no purchase yet, not enough purchase history for a purchase model, no model fitted, or the Gamma-Gamma spend model failed; null when there is a CLV."});
    detail["score_explanation"] = json!({
        "type": "array",
        "items": schema_ref("ScoreContribution"),
        "description": "Points per attribute of the default score model, from the profile as it is now and the stored figures.",
    });
    let nullable_date = json!({"type": ["string", "null"], "format": "date"});
    let model_kind = json!({"type": "string", "enum": ["auto", "bgnbd", "mbgnbd", "paretonbd"], "description": "The purchase model asked for: auto (chosen by holdout) or pinned."});
    let gamma_gamma = json!({"anyOf": [record(json!({
                    "p": number(), "q": number(), "gamma": number(), "log_likelihood": number(),
                    "customers": count(), "converged": {"type": "boolean"}, "population_mean_spend": number(),
                })), {"type": "null"}]});
    let model = json!({"anyOf": [record(json!({
                "kind": {"type": "string", "enum": ["bgnbd", "mbgnbd", "paretonbd"]},
                "params": {"type": "object", "additionalProperties": number(), "description": "r, alpha, a, b (BG/NBD, MBG/NBD) or r, alpha, s, beta (Pareto/NBD)."},
                "log_likelihood": number(),
                "iterations": count(),
                "converged": {"type": "boolean"},
                "customers": count(),
                "fit_seconds": number(),
                "gamma_gamma": gamma_gamma,
                "gamma_gamma_error": {"type": ["string", "null"]},
                "holdout": {"anyOf": [{"type": "array", "items": record(json!({
                    "frequency": count(), "open_ended": {"type": "boolean"}, "customers": count(),
                    "actual_mean": number(), "expected_mean": number(),
                }))}, {"type": "null"}]},
            })), {"type": "null"}]});
    let schemas = json!({
        "ChurnReason": record(json!({
            "kind": {"type": "string", "enum": reason_kinds},
            "detail": {"type": "string", "description": "The figures behind the warning, for people (English)."},
            "figures": {"type": "object", "additionalProperties": {"type": "number"}, "description": "The same figures by name (current, previous, change, period_days; days_since_last, mean_gap_days, ratio; p_alive, threshold)."},
        })),
        "ScoreContribution": record(json!({
            "attribute": {"type": "string"},
            "value": {"type": ["number", "string", "null"]},
            "matched": {"type": "string", "description": "The category or range that matched, or `default`."},
            "points": {"type": "number"},
            "weight": {"type": "number"},
            "contribution": {"type": "number", "description": "weight * points / 100: this attribute's share of the score."},
        })),
        "CustomerValue": record(value_props),
        "CustomerValueDetail": record(detail),
        "ValueRefreshRequest": object(json!({
            "as_of": nullable(json!({"type": "string", "format": "date", "pattern": date_up_to(patron_domain::order::today()), "description": "Analyse up to this day (default: today on the server's clock): orders dated after it are left out, and the calibration period ends on it unless calibration_end names an earlier day. Not after today."})),
            "unit": nullable(json!({"type": "string", "enum": ["day", "week"], "description": "Time unit (default day)."})),
            "calibration_end": nullable(json!({"type": "string", "format": "date", "description": "Last day of the calibration period (default: the as-of date); not after the as-of date."})),
            "holdout_end": nullable(json!({"type": "string", "format": "date", "description": "Last day of a holdout period after the calibration end (model diagnostics)."})),
            "model": nullable(json!({"type": "string", "enum": ["auto", "bgnbd", "mbgnbd", "paretonbd"], "description": "Purchase model (default auto: BG/NBD, MBG/NBD and Pareto/NBD fitted on a calibration window, the given holdout or else the last third of the history, and the one with the lowest mean absolute error per customer of the holdout repeat purchases used; a named model is used as given, without the comparison)."})),
            "horizon": nullable(json!({"type": "number", "exclusiveMinimum": 0, "maximum": crate::routes::value::MAX_HORIZON, "description": "CLV horizon in units (default one year)."})),
            "discount_rate": nullable(json!({"type": "number", "exclusiveMinimum": -1, "description": "Annual discount rate of the CLV (default 0.10)."})),
            "margin": nullable(json!({"type": "number", "description": "Margin ratio of the CLV (default: the data's own 1 - cost/revenue)."})),
            "marketing_cost": nullable(json!({"type": "number", "minimum": 0, "description": "Relationship-marketing cost per customer per year (default 0)."})),
        }), &[]),
        "ValueOptions": record(json!({
            "as_of": {"type": ["string", "null"], "format": "date", "description": "The day the refresh analysed up to (null in snapshots stored before it was recorded)."},
            "unit": {"type": "string", "enum": ["day", "week"]},
            "calibration_end": nullable_date,
            "holdout_end": nullable_date,
            "model": model_kind,
            "horizon": number(),
            "discount_rate": {"type": "number"},
            "margin": number(),
            "marketing_cost": {"type": "number"},
        })),
        "ChurnRisk": record(json!({
            "customer_id": {"type": ["integer", "null"], "format": "int64", "description": "Null for callers who see no customer records (analysts)."},
            "number": {"type": "string"},
            "name": {"type": "string"},
            "value_at_risk": number(),
            "abc_class": {"type": "string", "enum": ABC_CLASSES},
            "reasons": {"type": "array", "items": schema_ref("ChurnReason")},
        })),
        "ValueBreakdown": value_breakdown_schema(),
        "MarketingCost": record(json!({
            "customer_id": id(), "id": id(),
            "spent_on": date(),
            "kind": {"type": "string", "enum": patron_store::MARKETING_COST_KINDS},
            "amount": schema_ref("Money"),
            "note": {"type": ["string", "null"]},
            "campaign_id": {"type": ["integer", "null"], "format": "int64", "description": "The campaign whose cost this is a share of."},
            "recorded_by": {"type": "string"},
            "recorded_at": {"type": "string", "format": "date-time"},
        })),
        "MarketingCostInput": object(json!({
            "spent_on": {"type": "string", "format": "date", "pattern": date_up_to(patron_domain::order::latest_order_date(patron_domain::order::today())), "description": "The day it was spent: from 1900 to tomorrow (the pattern holds the limit on the day the document was made)."},
            "kind": {"type": "string", "enum": ["visit", "gift", "event", "other"]},
            "amount": positive_money_up_to_10bn(),
            "note": {"type": ["string", "null"], "maxLength": patron_store::MARKETING_NOTE_CHARS},
        }), &["spent_on", "kind", "amount"]),
        "CampaignCostAllocation": record(json!({
            "campaign_id": id(),
            "cost": schema_ref("Money"),
            "customers": count(),
            "share": schema_ref("Money"),
            "replaced": count(),
        })),
        "ValueHistory": value_history_schema(),
        "ValueTransitions": value_transitions_schema(),
        "ValueReport": record(json!({
            "snapshot_id": id(),
            "computed_at": {"type": "string", "format": "date-time"},
            "options": schema_ref("ValueOptions"),
            "as_of": {"type": ["string", "null"], "format": "date", "description": "The day the refresh analysed up to: orders dated after it were left out (null in snapshots stored before it was recorded)."},
            "unit": {"type": "string", "enum": ["day", "week"]},
            "first_order": date(),
            "last_order": date(),
            "calibration_end": date(),
            "holdout_end": {"type": ["string", "null"], "format": "date"},
            "totals": record(json!({
                "customers": count(), "customers_in_calibration": count(), "order_lines": count(),
                "zero_amount_lines": count(), "revenue": number(), "cost": number(),
                "marketing_cost": number(), "margin": number(), "clv": number(),
            })),
            "clv": record(json!({
                "horizon": number(), "steps": count(), "discount_rate_per_step": number(),
                "margin_ratio": number(), "marketing_cost_per_year": number(),
                "deciles": {"type": "array", "items": {"type": "number"}, "description": "CLV at 0%, 10%, .., 100% of customers with a CLV (for a distribution plot)."},
            })),
            "model": model,
            "model_error": {"type": ["string", "null"]},
            "model_choice": {"anyOf": [record(json!({
                "chosen": {"type": "string", "enum": ["bgnbd", "mbgnbd", "paretonbd"]},
                "reason": {"type": "string"},
                "rule": {"type": "string"},
                "calibration_end": date(),
                "holdout_end": date(),
                "holdout_length": number(),
                "comparison": {"type": "array", "items": record(json!({
                    "kind": {"type": "string", "enum": ["bgnbd", "mbgnbd", "paretonbd"]},
                    "customers": count(),
                    "actual_total": number(),
                    "predicted_total": number(),
                    "mean_absolute_error": {"type": ["number", "null"], "description": "Mean absolute error per customer of the holdout repeat purchases (the measure of the choice)."},
                    "root_mean_squared_error": number(),
                    "converged": {"type": ["boolean", "null"]},
                    "excluded": {"type": ["string", "null"], "description": "Why the model was left out of the choice."},
                }))},
            })), {"type": "null"}], "description": "How the purchase model was chosen by holdout (null for a pinned model)."},
            "not_enough_history": {"anyOf": [record(json!({
                "code": {"type": "string", "enum": ["no_customers", "few_repeat_customers", "same_frequency", "fit_failed", "parameter_at_bound", "flat_likelihood"]},
                "reason": {"type": "string"},
                "fallback": {"type": "string"},
            })), {"type": "null"}], "description": "Why no purchase model is used (the figures then carry no CLV or P(alive)), and the fallback."},
            "rfm": record(json!({
                "segments": {"type": "array", "items": record(json!({
                    "segment": {"type": "string", "enum": RFM_SEGMENTS}, "customers": count(), "revenue": number(),
                }))},
                "grid_customers": {"type": "array", "items": {"type": "array", "items": count()}, "description": "5x5 customers by R score (rows, 1-5) and F score (columns, 1-5)."},
                "grid_revenue": {"type": "array", "items": {"type": "array", "items": number()}},
            })),
            "abc": {"type": "array", "items": record(json!({
                "class": {"type": "string", "enum": ABC_CLASSES}, "customers": count(),
                "customer_share": number(), "value": number(), "value_share": number(), "cumulative_share": number(),
            })), "description": "Shares are fractions (0.8 = 80%)."},
            "whale": record(json!({
                "top_share": {"type": ["number", "null"], "description": "Percent of total profit from the top 20% of customers."},
                "peak": {"type": ["number", "null"], "description": "Peak of the cumulative profit curve, percent of total profit."},
                "peak_at_customers_pct": number(),
                "bottom_destroyed": {"type": ["number", "null"], "description": "Percent of the peak profit the bottom 30% of customers destroy."},
                "unprofitable_customers": count(),
                "total": number(),
                "peak_value": number(),
                "curve": {"type": "array", "items": record(json!({"customers_pct": number(), "profit_pct": number()}))},
            })),
            "loyalty": record(json!({"first_time_buyer": count(), "repeat_buyer": count()})),
            "lifecycle": record(json!({"introduction": count(), "growth": count(), "maturity": count(), "decline": count()})),
            "grades": record(json!({"A": count(), "B": count(), "C": count(), "D": count(), "E": count(), "ungraded": count()})),
            "churn": record(json!({
                "warned_customers": count(),
                "value_at_risk": number(),
                "top": {"type": "array", "items": schema_ref("ChurnRisk"), "description": "Biggest value at risk first."},
            })),
            "notes": {"type": "array", "items": {"type": "string"}},
            "timings": {"type": "array", "items": record(json!({"step": {"type": "string"}, "seconds": number()}))},
            "refresh_seconds": record(json!({"read": {"type": "number"}, "analyse": {"type": "number"}, "score": {"type": "number"}})),
        })),
    });
    let Value::Object(m) = schemas else {
        unreachable!()
    };
    m
}

/// A survey answer of one kind: CSAT scores 1-5, NPS 0-10.
fn survey_input(kind: &str, min: i64) -> Value {
    let max = if kind == "csat" { 5 } else { 10 };
    object(
        json!({
            "kind": {"const": kind},
            "score": {"type": "integer", "minimum": min, "maximum": max, "description": "CSAT 1-5, NPS 0-10."},
            "comment": nullable(json!({"type": "string"})),
            "ticket_id": nullable(json!({"type": "integer", "format": "int64", "description": "The ticket it follows up, if any."})),
        }),
        &["kind", "score"],
    )
}

/// The schemas of the receivables and service routes.
fn work_schemas() -> Map<String, Value> {
    use patron_store::STAGES;
    let money = schema_ref("Money");
    let money_nonneg = money_input(Some(0.0), 1e15);
    let money_nonneg_or_null = json!({"anyOf": [money_nonneg, {"type": "null"}]});
    let payment_amount = money_positive(1e15);
    let invoice_amount = money_positive(1e10);
    let datetime = json!({"type": "string", "format": "date-time"});
    let nullable_datetime = json!({"type": ["string", "null"], "format": "date-time"});
    let buckets = record(json!({
        "not_due": money, "d0_30": money, "d31_60": money, "d61_90": money, "d90_plus": money,
    }));
    let ticket_kind = json!({"type": "string", "enum": ["complaint", "repair", "question"]});
    let priority = json!({"type": "string", "enum": ["urgent", "high", "normal", "low"]});
    let survey_kind = json!({"type": "string", "enum": ["csat", "nps"]});
    let schemas = json!({
        "CreditPosition": record(json!({
            "customer_id": id(),
            "limit": {"type": ["number", "null"], "description": "The credit limit (null: none)."},
            "open": money,
            "headroom": {"type": ["number", "null"], "description": "What may still be ordered (null: no limit)."},
            "overdue": money,
            "pending_holds": count(),
        })),
        "InstalmentInput": object(json!({"due_on": date(), "amount": invoice_amount}), &["due_on", "amount"]),
        "InvoiceInput": object(json!({
            "number": nullable(json!({"type": "string", "maxLength": 100, "description": "Generated when absent; unique per customer."})),
            "order_ref": nullable(json!({"type": "string", "description": "The order it bills, if any."})),
            "issued_on": date(),
            "due_on": date(),
            "amount": invoice_amount,
            "instalments": {"type": "array", "items": schema_ref("InstalmentInput"), "maxItems": 120, "description": "An instalment plan; the amounts add up to the invoice amount."},
        }), &["issued_on", "due_on", "amount"]),
        "Instalment": record(json!({"seq": {"type": "integer"}, "due_on": date(), "amount": money, "paid": money})),
        "Invoice": record(json!({
            "customer_id": id(),
            "id": id(),
            "number": {"type": "string"},
            "order_ref": {"type": ["string", "null"]},
            "issued_on": date(),
            "due_on": date(),
            "amount": money,
            "paid": money,
            "instalments": {"type": "array", "items": schema_ref("Instalment")},
        })),
        "PaymentInput": object(json!({
            "invoice_id": nullable(json!({"type": "integer", "format": "int64", "description": "The invoice paid; absent: the open invoices oldest due first."})),
            "paid_on": date(),
            "amount": payment_amount,
            "reference": nullable(json!({"type": "string", "maxLength": 200})),
        }), &["paid_on", "amount"]),
        "Payment": record(json!({
            "customer_id": id(),
            "id": id(),
            "invoice_id": id(),
            "paid_on": date(),
            "amount": money,
            "reference": {"type": ["string", "null"]},
        })),
        "AgeingBuckets": buckets,
        "AgeingReport": record(json!({
            "as_of": date(),
            "customers": {"type": "array", "items": record(json!({"customer_id": id(), "buckets": schema_ref("AgeingBuckets")}))},
            "total": schema_ref("AgeingBuckets"),
        })),
        "CreditHold": record(json!({
            "customer_id": id(),
            "id": id(),
            "order": schema_ref("OrderInput"),
            "amount": money,
            "open": {"$ref": "#/components/schemas/Money", "description": "Open receivables when it was requested."},
            "limit": money,
            "due_days": {"type": "integer"},
            "requested_at": datetime,
            "requested_by": {"type": "string"},
            "status": {"type": "string", "enum": ["pending", "approved", "rejected"]},
            "decided_at": nullable_datetime,
            "decided_by": {"type": ["string", "null"]},
            "note": {"type": ["string", "null"]},
            "order_ref": {"type": ["string", "null"], "description": "The order created on approval."},
        })),
        "TicketInput": object(json!({
            "kind": ticket_kind,
            "priority": {"type": "string", "enum": ["urgent", "high", "normal", "low"], "default": "normal"},
            "subject": non_blank(500),
            "body": nullable(json!({"type": "string"})),
            "by": nullable(json!({"type": "string", "description": "Who opened it (default: the caller)."})),
            "assignee_id": nullable(json!({"type": "integer", "format": "int64"})),
        }), &["kind", "subject"]),
        "TicketEvent": record(json!({
            "at": datetime,
            "kind": {"type": "string"},
            "by": {"type": ["string", "null"]},
            "text": {"type": ["string", "null"]},
        })),
        "Ticket": record(json!({
            "customer_id": id(),
            "id": id(),
            "kind": ticket_kind,
            "priority": priority,
            "subject": {"type": "string"},
            "body": {"type": ["string", "null"]},
            "status": {"type": "string", "enum": ["open", "resolved"]},
            "opened_at": datetime,
            "opened_by": {"type": ["string", "null"]},
            "assignee_id": {"type": ["integer", "null"]},
            "due_at": datetime,
            "resolved_at": nullable_datetime,
            "escalation_level": {"type": "integer", "minimum": 0, "maximum": 3},
            "escalated_at": nullable_datetime,
            "breached": {"type": "boolean", "description": "Past its due time (open), or resolved after it."},
            "events": {"type": "array", "items": schema_ref("TicketEvent")},
        })),
        "CreditLimitRequest": object(json!({
            "limit": {"anyOf": [money_nonneg, {"type": "null"}], "description": "The credit limit; null clears it."},
        }), &["limit"]),
        "CreditOrderRequest": object(json!({
            "order": schema_ref("OrderInput"),
            "due_days": nullable(json!({"type": "integer", "minimum": 0, "maximum": 3650, "description": "Days from the order date to the invoice's due date (default 30)."})),
            "on_excess": nullable(json!({"type": "string", "enum": ["refuse", "hold"], "description": "Over the limit: refuse (409, default) or hold for a manager's approval."})),
        }), &["order"]),
        "OrderPlacement": {"oneOf": [
            object(json!({"outcome": {"const": "accepted"}, "order": schema_ref("Order"), "invoice": schema_ref("Invoice")}), &["outcome", "order", "invoice"]),
            object(json!({"outcome": {"const": "held"}, "hold": schema_ref("CreditHold")}), &["outcome", "hold"]),
            object(json!({"outcome": {"const": "plain"}, "order": schema_ref("Order")}), &["outcome", "order"]),
        ]},
        "TicketComment": object(json!({"text": {"type": "string", "minLength": 1, "pattern": non_blank_pattern()}}), &["text"]),
        "OverdueItem": record(json!({
            "customer_id": id(),
            "customer_name": {"type": "string"},
            "owner_id": {"type": ["integer", "null"]},
            "invoice_id": id(),
            "invoice_number": {"type": "string"},
            "instalment": {"type": ["integer", "null"], "description": "The instalment's number, when the invoice has a plan."},
            "due_on": date(),
            "days_overdue": {"type": "integer"},
            "open": money,
        })),
        "RepCollections": record(json!({
            "owner_id": {"type": ["integer", "null"], "description": "The rep (null: customers without owner)."},
            "username": {"type": ["string", "null"]},
            "sales": {"$ref": "#/components/schemas/Money", "description": "Order lines dated in the period."},
            "invoiced": {"$ref": "#/components/schemas/Money", "description": "Invoices issued in the period."},
            "collected": {"$ref": "#/components/schemas/Money", "description": "Payments received in the period."},
            "overdue": {"$ref": "#/components/schemas/Money", "description": "Open and overdue at the end of the period."},
        })),
        "RepReview": record(json!({
            "owner_id": {"type": ["integer", "null"], "description": "The rep (null: customers without owner)."},
            "username": {"type": ["string", "null"]},
            "customers": count(),
            "interactions": count(),
            "promises": count(),
            "card_completeness": {"type": ["number", "null"], "minimum": 0, "maximum": 1, "description": "Mean share of the key fields filled (null: no customers)."},
            "tickets_breached": count(),
            "tickets_opened": count(),
            "sales": money,
            "invoiced": money,
            "collected": money,
            "overdue": money,
        })),
        "OpportunityInput": object(json!({
            "name": {"type": "string", "minLength": 1, "pattern": non_blank_pattern()},
            "stage": nullable(json!({"type": "string", "enum": STAGES})),
            "amount": money_nonneg,
            "probability": nullable(json!({"type": "integer", "minimum": 0, "maximum": 100})),
            "expected_close": date(),
        }), &["name", "amount", "expected_close"]),
        "StageChange": object(json!({
            "stage": {"type": "string", "enum": STAGES},
            "probability": nullable(json!({"type": "integer", "minimum": 0, "maximum": 100})),
            "amount": money_nonneg_or_null,
            "expected_close": nullable(date()),
        }), &["stage"]),
        "Opportunity": record(json!({
            "customer_id": id(),
            "id": id(),
            "name": {"type": "string"},
            "stage": {"type": "string", "enum": STAGES},
            "amount": money,
            "probability": {"type": "integer", "minimum": 0, "maximum": 100},
            "weighted": {"$ref": "#/components/schemas/Money", "description": "amount x probability."},
            "expected_close": date(),
            "created_at": datetime,
            "updated_at": datetime,
            "closed_at": nullable_datetime,
        })),
        "Pipeline": record(json!({
            "stages": {"type": "array", "items": record(json!({"stage": {"type": "string", "enum": STAGES}, "count": count(), "amount": money, "weighted": money}))},
            "forecast": {"type": "array", "items": record(json!({"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"}, "open": count(), "weighted": money, "won": money}))},
        })),
    });
    let Value::Object(mut m) = schemas else {
        unreachable!()
    };
    // A second literal: one holding every schema reaches the json! macro's recursion limit.
    let more = json!({
        "CampaignInput": object(json!({
            "name": {"type": "string", "minLength": 1, "pattern": non_blank_pattern()},
            "channel": nullable(json!({"type": "string"})),
            "cost": money_nonneg,
            "started_on": date(),
        }), &["name", "cost", "started_on"]),
        "Campaign": record(json!({
            "id": id(),
            "name": {"type": "string"},
            "channel": {"type": ["string", "null"]},
            "cost": money,
            "started_on": date(),
            "customers": count(),
            "leads": count(),
            "leads_captured": {"type": "integer", "minimum": 0, "description": "Lead records attributed to the campaign (their campaign_id)."},
            "leads_converted": {"type": "integer", "minimum": 0, "description": "Of those, converted into customers."},
            "buyers": count(),
            "revenue": money,
            "margin": money,
            "return_ratio": {"type": ["number", "null"], "description": "margin / cost (null when it cost nothing)."},
        })),
        "PlannedContact": record(json!({
            "customer_id": id(),
            "customer_name": {"type": "string"},
            "owner_id": {"type": ["integer", "null"]},
            "abc_class": {"type": "string"},
            "grade": {"type": ["string", "null"]},
            "prospect": {"type": "boolean", "description": "No orders yet: the cadence goes by the grade (settings followup.prospect_days.A..E), not by the ABC class."},
            "cadence_days": {"type": "integer"},
            "last_contact": nullable_datetime,
            "due_on": date(),
            "days_overdue": {"type": "integer", "description": "Negative: due in that many days."},
        })),
        "VisitBrief": record(json!({
            "customer": schema_ref("Customer"),
            "value": {"anyOf": [schema_ref("CustomerValue"), {"type": "null"}]},
            "last_orders": {"type": "array", "items": schema_ref("Order")},
            "promises": {"type": "array", "items": schema_ref("Interaction")},
            "complaints": {"type": "array", "items": schema_ref("Interaction")},
            "open_tickets": {"type": "array", "items": schema_ref("Ticket")},
            "credit": schema_ref("CreditPosition"),
        })),
        "SurveyInput": {"oneOf": [survey_input("csat", 1), survey_input("nps", 0)]},
        "Survey": record(json!({
            "customer_id": id(),
            "id": id(),
            "kind": survey_kind,
            "score": {"type": "integer"},
            "comment": {"type": ["string", "null"]},
            "ticket_id": {"type": ["integer", "null"]},
            "answered_at": datetime,
        })),
    });
    let Value::Object(mut more) = more else {
        unreachable!()
    };
    m.append(&mut more);
    m
}
