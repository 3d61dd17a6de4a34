//! The route table: the one place that lists every route the API serves, with what the OpenAPI
//! document says about it. The router ([`router`]) and the document (`crate::openapi`) are both
//! built from [`ROUTES`], so they cannot disagree about which routes exist.

pub mod contacts;
pub mod custody;
pub mod customers;
pub mod interactions;
pub mod leads;
pub mod orders;
pub mod value;
pub mod work;

use axum::extract::State;
use axum::http::Method;
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::{Json, Router};
use patron_store::{BackendKind, CustomerSort, PageRequest};
use serde::Serialize;

use axum::response::IntoResponse;
use patron_app::Action;

use crate::auth::Me;
use crate::error::ApiError;
use crate::{openapi, AppState};

/// HTTP methods used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Verb {
    /// Lower-case, as OpenAPI writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::Post => "post",
            Verb::Put => "put",
            Verb::Patch => "patch",
            Verb::Delete => "delete",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Verb::Get => Method::GET,
            Verb::Post => Method::POST,
            Verb::Put => Method::PUT,
            Verb::Patch => Method::PATCH,
            Verb::Delete => Method::DELETE,
        }
    }
}

/// A request or response body: nothing, a component schema, or an array of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    None,
    Schema(&'static str),
    ArrayOf(&'static str),
    /// A request body that may be left out (defaults apply).
    Optional(&'static str),
}

/// The type of a query or header parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Int,
    Str,
    Bool,
    Date,
    Enum(&'static [&'static str]),
    /// An integer the handler accepts only within these bounds (inclusive).
    IntRange(i64, i64),
    /// A string matching this (ECMA-262) regular expression.
    Pattern(&'static str),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum In {
    Query,
    Header,
}

/// A documented query or header parameter (path parameters come from the path itself).
#[derive(Debug, Clone, Copy)]
pub struct Param {
    pub name: &'static str,
    pub location: In,
    pub ty: Ty,
    pub description: &'static str,
    /// The handler refuses (400) a request without it.
    pub required: bool,
}

const fn q(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        name,
        location: In::Query,
        ty,
        description,
        required: false,
    }
}

/// A required query parameter.
const fn qr(name: &'static str, ty: Ty, description: &'static str) -> Param {
    Param {
        required: true,
        ..q(name, ty, description)
    }
}

/// One route: method, path (axum and OpenAPI share the `{param}` syntax), documentation and
/// the handler.
pub struct Route {
    pub verb: Verb,
    pub path: &'static str,
    pub operation_id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    pub params: &'static [Param],
    pub request: Body,
    /// The success status and body.
    pub status: u16,
    pub response: Body,
    /// Error statuses this route may answer (besides 400/413/415/503, which every route with a
    /// body/query may answer and are added by the document builder where they apply).
    pub errors: &'static [u16],
    pub handler: fn() -> MethodRouter<AppState>,
    /// What the caller does, from the permission table (`None`: public, no sign-in). The
    /// router refuses (403) callers whose role may not, before the handler runs.
    pub action: Option<Action>,
}

impl Route {
    /// Path parameters in order, e.g. `["id", "order_ref"]`.
    pub fn path_params(&self) -> impl Iterator<Item = &'static str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }
}

pub(crate) const STATUSES: &[&str] = &["lead", "tracking", "intent", "won"];
pub(crate) const KINDS: &[&str] = &[
    "visit",
    "call",
    "email",
    "meeting",
    "quote",
    "promise",
    "complaint",
    "suggestion",
    "request",
];

pub(crate) const ABC_CLASSES: &[&str] = &["A", "B", "C"];
pub(crate) const GRADES: &[&str] = &["A", "B", "C", "D", "E"];
pub(crate) const RFM_SEGMENTS: &[&str] = &patron_value::rfm::Segment::CODES;
pub(crate) const LOYALTY_STAGES: &[&str] = &[
    "suspect",
    "prospect",
    "first_time_buyer",
    "repeat_buyer",
    "advocate",
];

const LIMIT: Param = q(
    "limit",
    Ty::IntRange(1, 500),
    "Page size, 1-500 (default 50).",
);
const AFTER: Param = q(
    "after",
    Ty::Pattern("^[A-Za-z0-9_-]+$"),
    "The `next` cursor of the previous page (opaque; only cursors the API returned are valid).",
);
const HISTORY_LIMIT: Param = q(
    "limit",
    Ty::IntRange(1, 10_000),
    "At most this many rows, 1-10000 (default 100).",
);

const CUSTOMER_LIST: &[Param] = &[
    q("status", Ty::Enum(STATUSES), "Only customers in this status."),
    q("owner_id", Ty::Int, "Only customers owned by this user."),
    q("region", Ty::Str, "Exact region."),
    q("industry", Ty::Str, "Exact industry."),
    q("source", Ty::Str, "Exact source (trade show, web, referral, ...)."),
    q("tag", Ty::Str, "Only customers carrying this tag."),
    q(
        "q",
        Ty::Str,
        "Search: substring of name or company (any case), exact customer number, phone (any formatting) or e-mail.",
    ),
    q(
        "exclude_opted_out",
        Ty::Bool,
        "Leave out customers who asked for no marketing.",
    ),
    q(
        "abc",
        Ty::Enum(ABC_CLASSES),
        "Only customers of this ABC class (stored value figures: see POST /api/value/refresh).",
    ),
    q(
        "rfm_segment",
        Ty::Enum(RFM_SEGMENTS),
        "Only customers in this RFM segment (stored value figures).",
    ),
    q(
        "grade",
        Ty::Enum(GRADES),
        "Only customers of this value grade (stored value figures).",
    ),
    q(
        "loyalty_stage",
        Ty::Enum(LOYALTY_STAGES),
        "Only customers at this loyalty stage (stored value figures).",
    ),
    q(
        "churn_risk",
        Ty::Bool,
        "Only customers with (true) or without (false) a churn warning (stored value figures).",
    ),
    q(
        "sort",
        Ty::Enum(&CustomerSort::NAMES),
        "Sort order (default id); `-` for descending. `-clv` lists customers with a stored CLV, highest first; `-value_at_risk` customers with stored figures, biggest value at risk first.",
    ),
    LIMIT,
    AFTER,
];
const ORDER_FILTERS: &[Param] = &[
    q("from", Ty::Date, "First order date included (YYYY-MM-DD)."),
    q("to", Ty::Date, "Last order date included (YYYY-MM-DD)."),
    q(
        "category",
        Ty::Str,
        "Only orders with a line of this product category.",
    ),
    LIMIT,
    AFTER,
];
const ALL_ORDERS: &[Param] = &[
    q("customer_id", Ty::Int, "Only this customer's orders."),
    q("from", Ty::Date, "First order date included (YYYY-MM-DD)."),
    q("to", Ty::Date, "Last order date included (YYYY-MM-DD)."),
    q(
        "category",
        Ty::Str,
        "Only orders with a line of this product category.",
    ),
    LIMIT,
    AFTER,
];
const INTERACTION_FILTERS: &[Param] =
    &[q("kind", Ty::Enum(KINDS), "Only this kind."), LIMIT, AFTER];
const ALL_INTERACTIONS: &[Param] = &[
    q("customer_id", Ty::Int, "Only this customer's interactions."),
    q("kind", Ty::Enum(KINDS), "Only this kind."),
    LIMIT,
    AFTER,
];
const PATCH_PARAMS: &[Param] = &[
    Param {
        name: "If-Match",
        location: In::Header,
        ty: Ty::Pattern(r#"^[\t ]*(\*|(W/)?"*[+-]?[0-9]{1,18}"*)[\t ]*$"#),
        description: "The version you read (the `ETag`, e.g. `\"3\"`, or a bare number): the update is refused with 409 when the record has changed since.",
        required: false,
    },
    q(
        "expected_version",
        Ty::Int,
        "Alternative to If-Match: the version you read.",
    ),
];

/// Every route the API serves.
pub static ROUTES: &[Route] = &[
    Route {
        verb: Verb::Get,
        path: "/api/health",
        operation_id: "health",
        action: None,
        tag: "system",
        summary: "Health check: pings the database (503 when it cannot be reached).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Health"),
        errors: &[503],
        handler: || get(health),
    },
    Route {
        verb: Verb::Get,
        path: "/openapi.json",
        operation_id: "openapi",
        action: None,
        tag: "system",
        summary: "This OpenAPI 3.1 document.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("OpenApiDocument"),
        errors: &[],
        handler: || get(openapi::serve_document),
    },
    // Customers.
    Route {
        verb: Verb::Get,
        path: "/api/customers",
        operation_id: "listCustomers",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "List and search customers (merged ones left out), with filters, sort and keyset pages.",
        params: CUSTOMER_LIST,
        request: Body::None,
        status: 200,
        response: Body::Schema("CustomerPage"),
        errors: &[400],
        handler: || get(customers::list),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers",
        operation_id: "createCustomer",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Create a customer (the number is assigned as C000123 when not given).",
        params: &[],
        request: Body::Schema("CustomerInput"),
        status: 201,
        response: Body::Schema("Customer"),
        errors: &[409, 422],
        handler: || post(customers::create),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}",
        operation_id: "getCustomer",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Read a customer (its version is also sent as the ETag).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Customer"),
        errors: &[404],
        handler: || get(customers::read),
    },
    Route {
        verb: Verb::Patch,
        path: "/api/customers/{id}",
        operation_id: "updateCustomer",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Update some fields of a customer (`null` clears a field); every change is recorded in the history.",
        params: PATCH_PARAMS,
        request: Body::Schema("CustomerPatch"),
        status: 200,
        response: Body::Schema("Customer"),
        errors: &[404, 409, 422],
        handler: || patch(customers::update),
    },
    Route {
        verb: Verb::Delete,
        path: "/api/customers/{id}",
        operation_id: "deleteCustomer",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Delete a customer and everything recorded about it (orders, invoices and payments, tickets, surveys, ...; the audit log keeps its rows). 409 while the customer still owes money: open receivables must be paid or settled first (or the customer marked inactive).",
        params: &[],
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404, 409],
        handler: || delete(customers::remove),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/value",
        operation_id: "customerValue",
        action: Some(Action::ReadRecords),
        tag: "value",
        summary: "The customer's stored value figures (margin, RFM, ABC, P(alive), CLV, loyalty stage, lifecycle phase, churn warnings with reasons, score and grade with its per-attribute explanation); 404 `not_computed` before a refresh saw an order of the customer.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("CustomerValueDetail"),
        errors: &[404],
        handler: || get(value::customer_value),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/history",
        operation_id: "customerHistory",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "The customer's change history, newest first: who changed which field from what to what, and when.",
        params: &[HISTORY_LIMIT],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("HistoryEntry"),
        errors: &[404],
        handler: || get(customers::history),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/duplicates",
        operation_id: "customerDuplicates",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Likely duplicates of this customer (same normalised phone, e-mail, or name + company).",
        params: &[HISTORY_LIMIT],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("DuplicatePair"),
        errors: &[404],
        handler: || get(customers::duplicates_of),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/merge",
        operation_id: "mergeCustomers",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "Merge customer `drop` into this one: its contacts, orders, interactions and history move here; empty fields are filled in.",
        params: &[],
        request: Body::Schema("MergeRequest"),
        status: 200,
        response: Body::Schema("MergeOutcome"),
        errors: &[404, 409, 422],
        handler: || post(customers::merge),
    },
    Route {
        verb: Verb::Get,
        path: "/api/duplicates",
        operation_id: "listDuplicates",
        action: Some(Action::ReadRecords),
        tag: "customers",
        summary: "All pairs of likely duplicate customers, lowest id first.",
        params: &[HISTORY_LIMIT],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("DuplicatePair"),
        errors: &[],
        handler: || get(customers::all_duplicates),
    },
    // Customer value.
    Route {
        verb: Verb::Post,
        path: "/api/value/refresh",
        operation_id: "refreshValues",
        action: Some(Action::RefreshValues),
        tag: "value",
        summary: "Recompute every customer's value figures from the stored orders (the body, optional, sets the analysis options) and store them with the population report, replacing the previous figures; answers the new report.",
        params: &[],
        request: Body::Optional("ValueRefreshRequest"),
        status: 200,
        response: Body::Schema("ValueReport"),
        errors: &[409, 422],
        handler: || post(value::refresh),
    },
    Route {
        verb: Verb::Get,
        path: "/api/value/report",
        operation_id: "valueReport",
        action: Some(Action::ViewValueReport),
        tag: "value",
        summary: "The latest refresh's population figures: totals, model parameters, RFM segments and grid, ABC classes, whale curve with the 20/80/30 figures, loyalty and lifecycle counts, grade distribution, CLV deciles, and the churn risks with the biggest value at risk; 404 `not_computed` before the first refresh.",
        params: &[q(
            "top",
            Ty::IntRange(0, 100),
            "Churn risks listed, 0-100 (default 20), biggest value at risk first.",
        )],
        request: Body::None,
        status: 200,
        response: Body::Schema("ValueReport"),
        errors: &[404],
        handler: || get(value::report),
    },
    // Contacts.
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/contacts",
        operation_id: "listContacts",
        action: Some(Action::ReadRecords),
        tag: "contacts",
        summary: "The people at a customer.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Contact"),
        errors: &[404],
        handler: || get(contacts::list),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/contacts",
        operation_id: "createContact",
        action: Some(Action::ReadRecords),
        tag: "contacts",
        summary: "Add a contact person to a customer.",
        params: &[],
        request: Body::Schema("ContactInput"),
        status: 201,
        response: Body::Schema("Contact"),
        errors: &[404, 409, 422],
        handler: || post(contacts::create),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/contacts/{contact_id}",
        operation_id: "getContact",
        action: Some(Action::ReadRecords),
        tag: "contacts",
        summary: "Read a contact.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Contact"),
        errors: &[404],
        handler: || get(contacts::read),
    },
    Route {
        verb: Verb::Put,
        path: "/api/customers/{id}/contacts/{contact_id}",
        operation_id: "replaceContact",
        action: Some(Action::ReadRecords),
        tag: "contacts",
        summary: "Replace a contact.",
        params: &[],
        request: Body::Schema("ContactInput"),
        status: 200,
        response: Body::Schema("Contact"),
        errors: &[404, 422],
        handler: || put(contacts::replace),
    },
    Route {
        verb: Verb::Delete,
        path: "/api/customers/{id}/contacts/{contact_id}",
        operation_id: "deleteContact",
        action: Some(Action::ReadRecords),
        tag: "contacts",
        summary: "Delete a contact.",
        params: &[],
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404],
        handler: || delete(contacts::remove),
    },
    // Orders.
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/orders",
        operation_id: "listCustomerOrders",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "A customer's orders, newest first, in keyset pages.",
        params: ORDER_FILTERS,
        request: Body::None,
        status: 200,
        response: Body::Schema("OrderPage"),
        errors: &[404],
        handler: || get(orders::list_for_customer),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/orders",
        operation_id: "createOrder",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "Record an order (one or more lines); its reference is generated when absent and must be new for the customer. A customer with a credit limit gets the credit check (409 naming the open receivables, the order and the limit when it would go over; an accepted order gets its invoice, due in 30 days). Imports of order history are not checked.",
        params: &[],
        request: Body::Schema("OrderInput"),
        status: 201,
        response: Body::Schema("Order"),
        errors: &[404, 409, 422],
        handler: || post(orders::create),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/orders/{order_ref}",
        operation_id: "getOrder",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "Read an order.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Order"),
        errors: &[404],
        handler: || get(orders::read),
    },
    Route {
        verb: Verb::Put,
        path: "/api/customers/{id}/orders/{order_ref}",
        operation_id: "replaceOrder",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "Replace an order's date and lines (the reference stays). The credit rule of new orders applies, atomically: for a customer with a credit limit, an increase of the amount is refused (409 naming the open receivables, the change and the limit) when it would go over; the order's invoice follows the new amount (422 below what is already paid on it).",
        params: &[],
        request: Body::Schema("OrderInput"),
        status: 200,
        response: Body::Schema("Order"),
        errors: &[404, 409, 422],
        handler: || put(orders::replace),
    },
    Route {
        verb: Verb::Delete,
        path: "/api/customers/{id}/orders/{order_ref}",
        operation_id: "deleteOrder",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "Delete an order.",
        params: &[],
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404],
        handler: || delete(orders::remove),
    },
    Route {
        verb: Verb::Get,
        path: "/api/orders",
        operation_id: "listOrders",
        action: Some(Action::ReadRecords),
        tag: "orders",
        summary: "All orders, newest first, in keyset pages.",
        params: ALL_ORDERS,
        request: Body::None,
        status: 200,
        response: Body::Schema("OrderPage"),
        errors: &[404],
        handler: || get(orders::list_all),
    },
    // Interactions.
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/interactions",
        operation_id: "listCustomerInteractions",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "A customer's interactions, newest first, in keyset pages.",
        params: INTERACTION_FILTERS,
        request: Body::None,
        status: 200,
        response: Body::Schema("InteractionPage"),
        errors: &[404],
        handler: || get(interactions::list_for_customer),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/interactions",
        operation_id: "createInteraction",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "Record an interaction: a visit, call, e-mail, meeting, quote, promise, complaint, suggestion or request.",
        params: &[],
        request: Body::Schema("InteractionInput"),
        status: 201,
        response: Body::Schema("Interaction"),
        errors: &[404, 409, 422],
        handler: || post(interactions::create),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/interactions/{interaction_id}",
        operation_id: "getInteraction",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "Read an interaction.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Interaction"),
        errors: &[404],
        handler: || get(interactions::read),
    },
    Route {
        verb: Verb::Put,
        path: "/api/customers/{id}/interactions/{interaction_id}",
        operation_id: "replaceInteraction",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "Replace an interaction.",
        params: &[],
        request: Body::Schema("InteractionInput"),
        status: 200,
        response: Body::Schema("Interaction"),
        errors: &[404, 409, 422],
        handler: || put(interactions::replace),
    },
    Route {
        verb: Verb::Delete,
        path: "/api/customers/{id}/interactions/{interaction_id}",
        operation_id: "deleteInteraction",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "Delete an interaction.",
        params: &[],
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404],
        handler: || delete(interactions::remove),
    },
    Route {
        verb: Verb::Get,
        path: "/api/interactions",
        operation_id: "listInteractions",
        action: Some(Action::ReadRecords),
        tag: "interactions",
        summary: "All interactions, newest first, in keyset pages.",
        params: ALL_INTERACTIONS,
        request: Body::None,
        status: 200,
        response: Body::Schema("InteractionPage"),
        errors: &[404],
        handler: || get(interactions::list_all),
    },
    // Custody: the caller, tokens, users, audit log, public pool, hand-over.
    Route {
        verb: Verb::Get,
        path: "/api/me",
        operation_id: "me",
        action: Some(Action::SignedIn),
        tag: "custody",
        summary: "The calling user: role, data scope, department, manager.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("User"),
        errors: &[],
        handler: || get(custody::me),
    },
    Route {
        verb: Verb::Get,
        path: "/api/users",
        operation_id: "listUsers",
        action: Some(Action::ManageUsers),
        tag: "custody",
        summary: "Every user (admins and managers).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("User"),
        errors: &[],
        handler: || get(custody::users),
    },
    Route {
        verb: Verb::Post,
        path: "/api/users/{user_id}/handover",
        operation_id: "handOver",
        action: Some(Action::ManageUsers),
        tag: "custody",
        summary: "Hand the user's customers (all, or the listed ones) over to another user; history stays with the customers, every move is audited (admins; managers within their scope).",
        params: &[],
        request: Body::Schema("HandoverRequest"),
        status: 200,
        response: Body::Schema("HandoverOutcome"),
        errors: &[404, 422],
        handler: || post(custody::handover),
    },
    Route {
        verb: Verb::Get,
        path: "/api/tokens",
        operation_id: "listTokens",
        action: Some(Action::SignedIn),
        tag: "custody",
        summary: "The caller's API tokens (never their secrets).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("ApiToken"),
        errors: &[],
        handler: || get(custody::list_tokens),
    },
    Route {
        verb: Verb::Post,
        path: "/api/tokens",
        operation_id: "createToken",
        action: Some(Action::SignedIn),
        tag: "custody",
        summary: "Create an API token for the caller; its secret is in this answer only.",
        params: &[],
        request: Body::Schema("TokenInput"),
        status: 201,
        response: Body::Schema("NewToken"),
        errors: &[422],
        handler: || post(custody::create_token),
    },
    Route {
        verb: Verb::Delete,
        path: "/api/tokens/{token_id}",
        operation_id: "revokeToken",
        action: Some(Action::SignedIn),
        tag: "custody",
        summary: "Revoke one of the caller's API tokens (admins: anyone's).",
        params: &[],
        request: Body::None,
        status: 204,
        response: Body::None,
        errors: &[404],
        handler: || delete(custody::revoke_token),
    },
    Route {
        verb: Verb::Get,
        path: "/api/audit",
        operation_id: "auditLog",
        action: Some(Action::ReadAudit),
        tag: "custody",
        summary: "The audit log, newest first (admins): views, lists, exports, changes, logins and failed logins, role changes, claims, returns, hand-overs.",
        params: &[
            q("actor", Ty::Str, "Only this user's rows (username)."),
            q("action", Ty::Str, "Only this action (view, list, export, create, update, delete, merge, login, login_failed, logout, role_change, handover, claim, return, ...)."),
            q("customer_id", Ty::Int, "Only rows about this customer."),
            q("before", Ty::Int, "Only rows with a smaller id (the next page: the last id seen)."),
            HISTORY_LIMIT,
        ],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("AuditEntry"),
        errors: &[],
        handler: || get(custody::audit),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/claim",
        operation_id: "claimCustomer",
        action: Some(Action::ReadRecords),
        tag: "custody",
        summary: "Claim a customer from the public pool (409 when it has an owner or the caller holds the most customers one user may).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Customer"),
        errors: &[404, 409],
        handler: || post(custody::claim),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/release",
        operation_id: "releaseCustomer",
        action: Some(Action::ReadRecords),
        tag: "custody",
        summary: "Return a customer to the public pool.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Customer"),
        errors: &[404, 409],
        handler: || post(custody::release),
    },
    Route {
        verb: Verb::Post,
        path: "/api/pool/reclaim",
        operation_id: "reclaimPool",
        action: Some(Action::ReclaimPool),
        tag: "custody",
        summary: "Apply the reclaim rules on the server's date to the customers in the caller's scope: owned customers without an order or interaction for more days than their value grade allows return to the pool (admins, managers). With `preview`, only lists them. Answers what returned (or would).",
        params: &[],
        request: Body::Optional("ReclaimRequest"),
        status: 200,
        response: Body::ArrayOf("Reclaimed"),
        errors: &[422],
        handler: || post(custody::reclaim),
    },
    // Credit and receivables, service.
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/credit",
        operation_id: "getCreditPosition",
        action: Some(Action::ReadRecords),
        tag: "receivables",
        summary: "A customer's credit position on `as_of` (default today): limit, open receivables, headroom, overdue amount, pending held orders.",
        params: AS_OF,
        request: Body::None,
        status: 200,
        response: Body::Schema("CreditPosition"),
        errors: &[404],
        handler: || get(work::credit),
    },
    Route {
        verb: Verb::Put,
        path: "/api/customers/{id}/credit-limit",
        operation_id: "setCreditLimit",
        action: Some(Action::ApproveCredit),
        tag: "receivables",
        summary: "Set (or, with null, clear) a customer's credit limit (admins, managers). Answers the credit position.",
        params: &[],
        request: Body::Schema("CreditLimitRequest"),
        status: 200,
        response: Body::Schema("CreditPosition"),
        errors: &[404, 422],
        handler: || put(work::set_limit),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/credit-orders",
        operation_id: "placeOrder",
        action: Some(Action::ReadRecords),
        tag: "receivables",
        summary: "Place an order with the credit check and terms: accepted with its invoice (due `due_days` after the order date, default 30) when open receivables plus the order stay within the limit (exactly at the limit is accepted); otherwise refused (409 naming the figures) or, with `on_excess: hold`, held in the approval queue. Check and insert are atomic.",
        params: &[],
        request: Body::Schema("CreditOrderRequest"),
        status: 201,
        response: Body::Schema("OrderPlacement"),
        errors: &[404, 409, 422],
        handler: || post(work::place_order),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/invoices",
        operation_id: "listInvoices",
        action: Some(Action::ReadRecords),
        tag: "receivables",
        summary: "A customer's invoices with their instalment plans, oldest due first.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Invoice"),
        errors: &[404],
        handler: || get(work::invoices),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/invoices",
        operation_id: "createInvoice",
        action: Some(Action::ReadRecords),
        tag: "receivables",
        summary: "Record an invoice (standalone, or for one of the customer's orders) with an optional instalment plan; its number is generated when absent and must be new for the customer. Not credit-checked (orders are).",
        params: &[],
        request: Body::Schema("InvoiceInput"),
        status: 201,
        response: Body::Schema("Invoice"),
        errors: &[404, 409, 422],
        handler: || post(work::create_invoice),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/payments",
        operation_id: "recordPayment",
        action: Some(Action::ReadRecords),
        tag: "receivables",
        summary: "Record a payment: on the given invoice (refused when more than it still owes), or spread over the customer's open invoices oldest due first. Answers one payment per invoice paid.",
        params: &[],
        request: Body::Schema("PaymentInput"),
        status: 201,
        response: Body::ArrayOf("Payment"),
        errors: &[404, 409, 422],
        handler: || post(work::pay),
    },
    Route {
        verb: Verb::Get,
        path: "/api/receivables/ageing",
        operation_id: "getAgeing",
        action: Some(Action::ViewReceivables),
        tag: "receivables",
        summary: "The ageing report on `as_of` (default today): open receivables by days overdue (not due, 0-30, 31-60, 61-90, 90+) per customer and in total, over the customers the caller sees (a rep: their own).",
        params: AS_OF,
        request: Body::None,
        status: 200,
        response: Body::Schema("AgeingReport"),
        errors: &[],
        handler: || get(work::ageing),
    },
    Route {
        verb: Verb::Get,
        path: "/api/credit/holds",
        operation_id: "listCreditHolds",
        action: Some(Action::ApproveCredit),
        tag: "receivables",
        summary: "The approval queue: orders held because they would take a customer over its credit limit, oldest first, of the customers the caller sees (admins, managers).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("CreditHold"),
        errors: &[],
        handler: || get(work::holds),
    },
    Route {
        verb: Verb::Post,
        path: "/api/credit/holds/{hold_id}/approve",
        operation_id: "approveCreditHold",
        action: Some(Action::ApproveCredit),
        tag: "receivables",
        summary: "Approve a held order: it is created with its invoice despite the limit (admins, managers). Answers the decided hold (with the order's reference).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("CreditHold"),
        errors: &[404, 409],
        handler: || post(work::approve),
    },
    Route {
        verb: Verb::Post,
        path: "/api/credit/holds/{hold_id}/reject",
        operation_id: "rejectCreditHold",
        action: Some(Action::ApproveCredit),
        tag: "receivables",
        summary: "Reject a held order (admins, managers).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("CreditHold"),
        errors: &[404, 409],
        handler: || post(work::reject),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/tickets",
        operation_id: "listTickets",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "A customer's service tickets with their history, newest first; `breached` as of now.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Ticket"),
        errors: &[404],
        handler: || get(work::tickets),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/tickets",
        operation_id: "openTicket",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "Open a ticket (complaint, repair, question); its SLA due time follows from the priority (settings sla.hours.<priority>).",
        params: &[],
        request: Body::Schema("TicketInput"),
        status: 201,
        response: Body::Schema("Ticket"),
        errors: &[404, 409, 422],
        handler: || post(work::open_ticket),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/tickets/{ticket_id}/resolve",
        operation_id: "resolveTicket",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "Resolve an open ticket (409 when it is resolved already).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Ticket"),
        errors: &[404, 409],
        handler: || post(work::resolve_ticket),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/surveys",
        operation_id: "listSurveys",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "A customer's satisfaction survey answers (CSAT 1-5, NPS 0-10), newest first.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Survey"),
        errors: &[404],
        handler: || get(work::surveys),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/surveys",
        operation_id: "recordSurvey",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "Record a survey answer; sets the customer's custom field `satisfaction` (1-5, NPS mapped linearly) that the value score reads.",
        params: &[],
        request: Body::Schema("SurveyInput"),
        status: 201,
        response: Body::Schema("Survey"),
        errors: &[404, 409, 422],
        handler: || post(work::record_survey),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/tickets/{ticket_id}/comments",
        operation_id: "commentTicket",
        action: Some(Action::ReadRecords),
        tag: "service",
        summary: "Add a comment to a ticket's history.",
        params: &[],
        request: Body::Schema("TicketComment"),
        status: 200,
        response: Body::Schema("Ticket"),
        errors: &[404, 409, 422],
        handler: || post(work::comment_ticket),
    },
    Route {
        verb: Verb::Post,
        path: "/api/tickets/escalate",
        operation_id: "escalateTickets",
        action: Some(Action::EscalateTickets),
        tag: "service",
        summary: "The SLA sweep (admins, managers): escalates every open ticket past its due time among the customers the caller sees (level 1 at breach, +1 per further SLA period, at most 3; running it again changes nothing). Answers the tickets raised.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Ticket"),
        errors: &[],
        handler: || post(work::escalate),
    },
    Route {
        verb: Verb::Get,
        path: "/api/receivables/overdue",
        operation_id: "listOverdue",
        action: Some(Action::ViewReceivables),
        tag: "receivables",
        summary: "The overdue list on `as_of` (default today): open invoices and instalments past due, most overdue first, of the customers the caller sees (a rep: their own).",
        params: AS_OF,
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("OverdueItem"),
        errors: &[],
        handler: || get(work::overdue),
    },
    Route {
        verb: Verb::Get,
        path: "/api/receivables/collections",
        operation_id: "salesVsCollections",
        action: Some(Action::ViewReceivables),
        tag: "receivables",
        summary: "Sales vs collections per rep (customer owner) over a period: order lines dated in it, invoices issued, payments received, and what is overdue at its end over the customers the caller sees (a rep: their own).",
        params: PERIOD,
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("RepCollections"),
        errors: &[422],
        handler: || get(work::collections),
    },
    Route {
        verb: Verb::Get,
        path: "/api/review/reps",
        operation_id: "repReview",
        action: Some(Action::ReviewReps),
        tag: "receivables",
        summary: "Manager review per rep (customer owner) over a period: interactions and promises recorded on the rep's customers, card completeness (share of company, industry, region, address, phone, e-mail filled), tickets opened and breached, sales, invoiced, collected and overdue (admins, managers; the reps whose customers the caller sees).",
        params: PERIOD,
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("RepReview"),
        errors: &[422],
        handler: || get(work::review),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/opportunities",
        operation_id: "listOpportunities",
        action: Some(Action::ReadRecords),
        tag: "sales",
        summary: "A customer's opportunities, newest first.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Opportunity"),
        errors: &[404],
        handler: || get(work::opportunities),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/opportunities",
        operation_id: "createOpportunity",
        action: Some(Action::ReadRecords),
        tag: "sales",
        summary: "Record an opportunity: name, amount, expected close; stage prospecting unless given; probability the stage's default (10/25/50/75/100/0) unless given.",
        params: &[],
        request: Body::Schema("OpportunityInput"),
        status: 201,
        response: Body::Schema("Opportunity"),
        errors: &[404, 409, 422],
        handler: || post(work::create_opportunity),
    },
    Route {
        verb: Verb::Post,
        path: "/api/customers/{id}/opportunities/{opportunity_id}/stage",
        operation_id: "changeOpportunityStage",
        action: Some(Action::ReadRecords),
        tag: "sales",
        summary: "Move an opportunity to a stage (won and lost close it), optionally with a new probability, amount or expected close.",
        params: &[],
        request: Body::Schema("StageChange"),
        status: 200,
        response: Body::Schema("Opportunity"),
        errors: &[404, 422],
        handler: || post(work::change_stage),
    },
    Route {
        verb: Verb::Get,
        path: "/api/pipeline",
        operation_id: "pipeline",
        action: Some(Action::ReadRecords),
        tag: "sales",
        summary: "The pipeline per stage (count, amount, weighted amount) and the forecast per month of expected close (open opportunities weighted by probability, and won), over the customers the caller sees.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Pipeline"),
        errors: &[],
        handler: || get(work::pipeline),
    },
    Route {
        verb: Verb::Get,
        path: "/api/campaigns",
        operation_id: "listCampaigns",
        action: Some(Action::ViewCampaigns),
        tag: "sales",
        summary: "Campaigns with their cost, the customers attributed to them (source = the campaign's name), how many are still leads and how many bought since the start, their revenue and margin since then, and the return (margin / cost); admins, managers, analysts.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("Campaign"),
        errors: &[],
        handler: || get(work::campaigns),
    },
    Route {
        verb: Verb::Post,
        path: "/api/campaigns",
        operation_id: "createCampaign",
        action: Some(Action::ManageCampaigns),
        tag: "sales",
        summary: "Record a campaign (admins, managers); customers whose source is its name are attributed to it.",
        params: &[],
        request: Body::Schema("CampaignInput"),
        status: 201,
        response: Body::Schema("Campaign"),
        errors: &[409, 422],
        handler: || post(work::create_campaign),
    },
    Route {
        verb: Verb::Get,
        path: "/api/leads",
        operation_id: "listLeads",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "The leads the caller sees, newest first, in keyset pages (reps: their own and the unowned ones; analysts 403).",
        params: &[
            q("status", Ty::Enum(patron_store::LEAD_STATUSES), "Only leads at this status."),
            q("owner_id", Ty::Int, "Only leads of this owner."),
            q("campaign_id", Ty::Int, "Only leads the campaign brought."),
            LIMIT,
            AFTER,
        ],
        request: Body::None,
        status: 200,
        response: Body::Schema("LeadPage"),
        errors: &[],
        handler: || get(leads::list),
    },
    Route {
        verb: Verb::Post,
        path: "/api/leads",
        operation_id: "createLead",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "Record a lead (status new); reps and managers own what they record unless they give it to a user in their scope.",
        params: &[],
        request: Body::Schema("LeadInput"),
        status: 201,
        response: Body::Schema("Lead"),
        errors: &[422],
        handler: || post(leads::create),
    },
    Route {
        verb: Verb::Get,
        path: "/api/leads/funnel",
        operation_id: "leadFunnel",
        action: Some(Action::SignedIn),
        tag: "leads",
        summary: "How many leads are at each status (new, contacted, qualified, converted, disqualified), over the leads the caller sees (analysts: all leads, counts only).",
        params: &[
            q("owner_id", Ty::Int, "Only leads of this owner."),
            q("campaign_id", Ty::Int, "Only leads the campaign brought."),
        ],
        request: Body::None,
        status: 200,
        response: Body::Schema("LeadFunnel"),
        errors: &[],
        handler: || get(leads::funnel),
    },
    Route {
        verb: Verb::Get,
        path: "/api/leads/{lead_id}",
        operation_id: "getLead",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "One lead (404 when outside the caller's scope).",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("Lead"),
        errors: &[404],
        handler: || get(leads::get_lead),
    },
    Route {
        verb: Verb::Patch,
        path: "/api/leads/{lead_id}",
        operation_id: "changeLeadStatus",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "Move a lead: new -> contacted -> qualified, disqualified with a reason, or a disqualified one back to new; other moves are refused (409) naming the legal ones.",
        params: &[],
        request: Body::Schema("LeadStatusChange"),
        status: 200,
        response: Body::Schema("Lead"),
        errors: &[404, 409, 422],
        handler: || patch(leads::change_status),
    },
    Route {
        verb: Verb::Post,
        path: "/api/leads/{lead_id}/convert",
        operation_id: "convertLead",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "Convert a qualified lead, in one transaction, into a new customer (status tracking, attributed to the lead's campaign) or into an existing one (`into`), with the lead's person as a contact and its title, source and notes as an interaction. Refused (409) when converted already, not qualified, or when existing customers share the lead's phone or e-mail and neither `into` nor `allow_duplicate` is given.",
        params: &[],
        request: Body::Optional("ConvertLead"),
        status: 200,
        response: Body::Schema("LeadConversion"),
        errors: &[404, 409, 422],
        handler: || post(leads::convert),
    },
    Route {
        verb: Verb::Post,
        path: "/api/leads/{lead_id}/assign",
        operation_id: "assignLead",
        action: Some(Action::ReadRecords),
        tag: "leads",
        summary: "Give a lead to a user (`owner_id`; null: no owner): admins and managers, to users in their scope; a rep takes an unowned lead for themselves. A converted lead is not handed over (its customer is).",
        params: &[],
        request: Body::Schema("LeadAssignment"),
        status: 200,
        response: Body::Schema("Lead"),
        errors: &[404, 409, 422],
        handler: || post(leads::assign),
    },
    Route {
        verb: Verb::Get,
        path: "/api/followup/plan",
        operation_id: "followupPlan",
        action: Some(Action::ReadRecords),
        tag: "followup",
        summary: "The follow-up plan on `as_of` (default today): each valued customer's next visit or call due after the last visit, call or meeting by its ABC class's cadence (settings followup.days.A|B|C), most overdue first; the customers the caller sees (a rep: their own).",
        params: PLAN,
        request: Body::None,
        status: 200,
        response: Body::ArrayOf("PlannedContact"),
        errors: &[],
        handler: || get(work::followup_plan),
    },
    Route {
        verb: Verb::Get,
        path: "/api/customers/{id}/brief",
        operation_id: "visitBrief",
        action: Some(Action::ReadRecords),
        tag: "followup",
        summary: "The one-page brief before a visit: the customer, its value figures, last orders, promises, complaints, open tickets and credit position.",
        params: &[],
        request: Body::None,
        status: 200,
        response: Body::Schema("VisitBrief"),
        errors: &[404],
        handler: || get(work::brief),
    },
];

const PERIOD: &[Param] = &[
    qr("from", Ty::Date, "First day of the period (YYYY-MM-DD)."),
    qr("to", Ty::Date, "Last day of the period (YYYY-MM-DD)."),
];

const PLAN: &[Param] = &[
    q(
        "as_of",
        Ty::Date,
        "The day the plan is for (YYYY-MM-DD; default today).",
    ),
    q("owner_id", Ty::Int, "Only this rep's customers."),
];

const AS_OF: &[Param] = &[q(
    "as_of",
    Ty::Date,
    "The day the figures are taken on (YYYY-MM-DD; default today).",
)];

/// The router for every route of [`ROUTES`] (routes sharing a path are merged).
pub fn router() -> Router<AppState> {
    ROUTES.iter().fold(Router::new(), |r, route| {
        let handler = (route.handler)();
        match route.action {
            Some(action) => r.route(
                route.path,
                handler.route_layer(axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| async move {
                        // The token layer put the caller there; without one it answered 401.
                        let gate = match req.extensions().get::<Me>() {
                            Some(me) => me.require(action).map_err(ApiError::from),
                            None => Err(ApiError::new(
                                axum::http::StatusCode::UNAUTHORIZED,
                                "unauthorized",
                                "authentication required",
                            )),
                        };
                        match gate {
                            Ok(()) => next.run(req).await,
                            Err(e) => e.into_response(),
                        }
                    },
                )),
            ),
            None => r.route(route.path, handler),
        }
    })
}

/// Checks a page size and builds the store's page request.
pub(crate) fn page(limit: Option<i64>, after: Option<String>) -> Result<PageRequest, ApiError> {
    let limit = match limit {
        None => None,
        Some(n @ 1..=500) => Some(n as u32),
        Some(n) => {
            return Err(ApiError::bad_request(
                "bad_query",
                format!("bad query parameter 'limit': {n} is out of range (1-500)"),
            )
            .with_field("limit"))
        }
    };
    Ok(PageRequest { limit, after })
}

/// Checks a row limit of 1-10000, defaulting to 100.
pub(crate) fn row_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    match limit {
        None => Ok(100),
        Some(n @ 1..=10_000) => Ok(n),
        Some(n) => Err(ApiError::bad_request(
            "bad_query",
            format!("bad query parameter 'limit': {n} is out of range (1-10000)"),
        )
        .with_field("limit")),
    }
}

/// Refuses dates the databases cannot all store (years outside 1-9999).
pub(crate) fn check_date_range(
    field: &str,
    date: Option<chrono::NaiveDate>,
) -> Result<(), ApiError> {
    use chrono::Datelike;
    match date {
        Some(d) if !(1..=9999).contains(&d.year()) => Err(ApiError::bad_request(
            "bad_query",
            format!("bad query parameter '{field}': {d} is out of range (years 1-9999)"),
        )
        .with_field(field)),
        _ => Ok(()),
    }
}

#[derive(Debug, Serialize)]
pub struct Health {
    pub status: &'static str,
    pub database: &'static str,
}

async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await.map_err(|e| {
        tracing::warn!(error = %e, "health check failed");
        ApiError::unavailable(format!("the database cannot be reached: {e}"))
    })?;
    Ok(Json(Health {
        status: "ok",
        database: match state.store.kind() {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        },
    }))
}
