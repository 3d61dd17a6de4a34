//! `/customers/{id}/orders/new`: enter an order for a customer under the credit rule. The
//! customer's credit position is shown beside the form; an order that would take the open
//! receivables over the limit is refused with the figures, or held for a manager's approval when
//! the user asks for it (the approval queue is on the receivables page). Accepted orders get
//! their invoice, due after the chosen number of days.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::html;
use patron_app::Session;
use patron_domain::{OrderInput, OrderLineInput};
use patron_store::{OnExcess, OrderPlacement, OrderTerms, StoreError};

use super::{field, forbidden, input, notices, t, today, work_page, Errors, Form};
use crate::i18n::{self, Lang};
use crate::{error_page, store_error_page, Ctx, WebState};

const FIELDS: &[&str] = &[
    "order_ref",
    "ordered_on",
    "category",
    "quantity",
    "amount",
    "cost",
    "due_days",
];

/// The customer of the path when the viewer may change it (else the error page to show).
async fn writable(st: &WebState, lang: Lang, me: &Session, raw: &str) -> Result<i64, Response> {
    if !me.user.sees_records() {
        return Err(forbidden(lang));
    }
    let Ok(id) = raw.parse::<i64>() else {
        return Err(error_page(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("error.no_customer"),
        ));
    };
    match me.check(&st.store, id, true).await {
        Ok(()) => Ok(id),
        Err(e) => Err(store_error_page(lang, &e)),
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    q: RawQuery,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let q = Form::query(&q);
    let ok = match q.get("ok") {
        "placed" => Some("ord.placed"),
        "held" => Some("ord.held"),
        _ => None,
    };
    render(
        &st,
        lang,
        &me,
        id,
        ok,
        StatusCode::OK,
        &Errors::default(),
        None,
    )
    .await
}

/// `POST /customers/{id}/orders/new`: places the order (one line) under the credit rule.
pub async fn place(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> Response {
    let id = match writable(&st, lang, &me, &raw).await {
        Ok(id) => id,
        Err(r) => return r,
    };
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let ordered_on = form.required_date(lang, "ordered_on", &mut errors);
    let amount = form.money(lang, "amount", true, &mut errors);
    let cost = form.money(lang, "cost", false, &mut errors);
    let quantity = form.int(lang, "quantity", 1..=1_000_000, &mut errors);
    let due_days = form.int(lang, "due_days", 0..=3650, &mut errors);
    let (Some(ordered_on), Some(amount), true) = (ordered_on, amount, errors.is_empty()) else {
        let status = StatusCode::UNPROCESSABLE_ENTITY;
        return render(&st, lang, &me, id, None, status, &errors, Some(&form)).await;
    };
    let text = |k: &str| Some(form.get(k).trim().to_string()).filter(|v| !v.is_empty());
    let order = OrderInput {
        order_ref: text("order_ref"),
        ordered_on,
        lines: vec![OrderLineInput {
            category: text("category"),
            quantity: quantity.unwrap_or(1),
            amount,
            cost: cost.unwrap_or_default(),
        }],
    };
    let terms = OrderTerms {
        due_days: due_days.unwrap_or(30) as u32,
        on_excess: if form.get("hold") == "on" {
            OnExcess::Hold
        } else {
            OnExcess::Refuse
        },
        by: me.user.username.clone(),
    };
    match st.store.place_order(id, order, &terms).await {
        Ok(placed) => {
            let (detail, done) = match &placed {
                OrderPlacement::Accepted { order, .. } | OrderPlacement::Plain { order } => {
                    (format!("order {} created (web)", order.order_ref), "placed")
                }
                OrderPlacement::Held { hold } => (
                    format!("order held for approval: hold {} (web)", hold.id),
                    "held",
                ),
            };
            if let Err(e) = st
                .store
                .audit(&me.actor, "update", Some(id), Some(&detail), None)
                .await
            {
                return store_error_page(lang, &e);
            }
            patron_app::value::recompute_after_change(&st.store, &[id]).await;
            Redirect::to(&format!("/customers/{id}/orders/new?ok={done}")).into_response()
        }
        Err(e) => match Errors::from_store(lang, &e, FIELDS) {
            Some(errors) => {
                let status = if matches!(e, StoreError::Conflict { .. }) {
                    StatusCode::CONFLICT
                } else {
                    StatusCode::UNPROCESSABLE_ENTITY
                };
                render(&st, lang, &me, id, None, status, &errors, Some(&form)).await
            }
            None => store_error_page(lang, &e),
        },
    }
}

#[allow(clippy::too_many_arguments)]
async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    id: i64,
    ok: Option<&str>,
    status: StatusCode,
    errors: &Errors,
    form: Option<&Form>,
) -> Response {
    let data = async {
        let c = st.store.customer(id).await?;
        let pos = st.store.credit_position(id, today()).await?;
        Ok::<_, StoreError>((c, pos))
    }
    .await;
    let (c, pos) = match data {
        Ok(d) => d,
        Err(e) => return store_error_page(lang, &e),
    };
    let typed =
        |k: &str, default: &str| form.map_or_else(|| default.to_string(), |f| f.get(k).to_string());
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let err = |k: &str| errors.get(k);
    let latest = patron_domain::order::latest_order_date(today()).to_string();
    let today = today().to_string();
    let body = html! {
        p.crumbs { a href=(format!("/customers/{id}")) { "← " (c.data.name) } }
        (notices(lang, ok, errors))
        div.twocol {
            section.panel id="order-form" {
                h2 { (t(lang, "ord.title")) " — " (c.data.name) }
                form method="post" action=(format!("/customers/{id}/orders/new")) { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(t(lang, "ord.ref"), "ord-ref", err("order_ref"), input("ord-ref", "order_ref", "text", &typed("order_ref", ""), err("order_ref").is_some())))
                        // The browser's date picker stops at the latest date the domain accepts
                        // (the server checks it again: `check_order_date`).
                        (field(t(lang, "ord.date"), "ord-date", err("ordered_on"), html! {
                            input id="ord-date" type="date" name="ordered_on" value=(typed("ordered_on", &today)) max=(latest)
                                aria-invalid=[err("ordered_on").is_some().then_some("true")]
                                aria-describedby=[err("ordered_on").is_some().then_some("err-ord-date")];
                        }))
                        (field(t(lang, "ord.category"), "ord-category", err("category"), input("ord-category", "category", "text", &typed("category", ""), err("category").is_some())))
                        (field(t(lang, "ord.quantity"), "ord-quantity", err("quantity"), input("ord-quantity", "quantity", "number", &typed("quantity", "1"), err("quantity").is_some())))
                        (field(t(lang, "ord.amount"), "ord-amount", err("amount"), input("ord-amount", "amount", "text", &typed("amount", ""), err("amount").is_some())))
                        (field(t(lang, "ord.cost"), "ord-cost", err("cost"), input("ord-cost", "cost", "text", &typed("cost", ""), err("cost").is_some())))
                        (field(t(lang, "ord.due_days"), "ord-due", err("due_days"), input("ord-due", "due_days", "number", &typed("due_days", "30"), err("due_days").is_some())))
                        div.field.check {
                            label {
                                input type="checkbox" name="hold" checked[form.is_some_and(|f| f.get("hold") == "on")];
                                " " (t(lang, "ord.hold"))
                            }
                        }
                    }
                    div.formfoot { span.muted { (t(lang, "ord.note")) } button.primary type="submit" { (t(lang, "ord.place")) } }
                }
            }
            section.panel id="credit-position" {
                h2 { (t(lang, "ord.credit")) }
                dl.figures {
                    dt { (t(lang, "ord.limit")) }
                    dd { @match pos.limit { Some(l) => (money(l)), None => (t(lang, "ord.no_limit")) } }
                    dt { (t(lang, "ord.open")) } dd { (money(pos.open)) }
                    dt { (t(lang, "ord.headroom")) }
                    dd.big { @match pos.headroom { Some(h) => (money(h)), None => "–" } }
                    dt { (t(lang, "ord.overdue")) } dd { (money(pos.overdue)) }
                    dt { (t(lang, "ord.pending")) } dd { (pos.pending_holds) }
                }
            }
        }
    };
    work_page(
        lang,
        me,
        status,
        "orders",
        &format!("/customers/{id}/orders/new"),
        body,
    )
}
