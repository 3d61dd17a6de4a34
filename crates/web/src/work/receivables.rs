//! `/work/receivables`: the approval queue of held orders (managers and admins), the ageing
//! report with its bar chart, the overdue list, open invoices and instalments, one customer's
//! invoices with the payment form, and sales vs collections per rep.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{Days, NaiveDate};
use maud::{html, Markup};
use patron_app::work as app_work;
use patron_app::AppError;
use patron_app::Session;
use patron_domain::receivable::{ageing, AgeingBuckets, PaymentInput};
use patron_store::{Store, StoreError};

use super::{
    customer_link, field, forbidden, input, manages, more, names, notices, rep_name, t, today,
    work_page, Errors, Form, ROWS,
};
use crate::i18n::{self, Lang};
use crate::svg::{self, Frame, H};
use crate::{store_error_page, Ctx, WebState};

/// The page's query, as typed: `as_of`, `from`, `to`, `customer`, `ok`.
struct Query {
    as_of: NaiveDate,
    from: NaiveDate,
    to: NaiveDate,
    customer: Option<i64>,
    raw_customer: String,
}

async fn read_query(
    lang: Lang,
    store: &Store,
    me: &Session,
    q: &Form,
    errors: &mut Errors,
) -> Query {
    let as_of = q.date(lang, "as_of", errors).unwrap_or_else(today);
    let to = q.date(lang, "to", errors).unwrap_or(as_of);
    let mut from = q
        .date(lang, "from", errors)
        .unwrap_or_else(|| to - Days::new(89));
    if from > to {
        errors.add("from", t(lang, "work.bad_period"));
        from = to - Days::new(89);
    }
    let raw_customer = q.get("customer").to_string();
    let customer = if raw_customer.is_empty() {
        None
    } else {
        let c = super::resolve_customer(store, me, &raw_customer, false).await;
        if c.is_none() {
            errors.add("customer", t(lang, "work.no_customer"));
        }
        c
    };
    Query {
        as_of,
        from,
        to,
        customer,
        raw_customer,
    }
}

pub async fn page_get(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &Form,
    status: StatusCode,
    mut errors: Errors,
    submitted: Option<&Form>,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    let query = read_query(lang, &st.store, me, q, &mut errors).await;
    let status = if !errors.is_empty() && status == StatusCode::OK {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        status
    };
    match render(st, lang, me, &query, q.get("ok"), &errors, submitted).await {
        Ok(body) => {
            let back = format!(
                "/work/receivables?as_of={}&from={}&to={}",
                query.as_of, query.from, query.to
            );
            work_page(lang, me, status, "receivables", &back, body)
        }
        Err(e) => crate::app_error_page(lang, &e),
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let q = Form::query(&raw);
    page_get(&st, lang, &me, &q, StatusCode::OK, Errors::default(), None).await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    q: &Query,
    ok: &str,
    errors: &Errors,
    submitted: Option<&Form>,
) -> Result<Markup, AppError> {
    let store = &st.store;
    let manager = manages(me);
    // Everything over the viewer's customers (the scope is applied by the store, in SQL).
    let holds = if manager {
        app_work::credit_holds(store, me, "pending").await?
    } else {
        Vec::new()
    };
    let items = app_work::open_items(store, me).await?;
    let report = ageing(&items, q.as_of);
    let overdue = app_work::overdue(store, me, q.as_of).await?;
    let collections = app_work::collections(store, me, q.from, q.to).await?;
    let ids: Vec<i64> = items
        .iter()
        .take(ROWS)
        .map(|i| i.customer_id)
        .chain(report.customers.iter().take(ROWS).map(|c| c.customer_id))
        .chain(holds.iter().map(|h| h.customer_id))
        .chain(q.customer)
        .collect();
    let customer_names = names(store, ids).await?;
    let name = |id: i64| customer_names.get(&id).cloned().unwrap_or_default();
    let detail = match q.customer {
        Some(c) => Some((
            c,
            store.credit_position(c, q.as_of).await?,
            store.invoices(c).await?,
        )),
        None => None,
    };
    if let Some(c) = q.customer {
        me.audit(store, "view", Some(c), Some("receivables"), None)
            .await?;
    }
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let date = |d: NaiveDate| i18n::date(lang, d);
    let v = |k: &str| -> String {
        submitted
            .map(|f| f.get(k).to_string())
            .unwrap_or_else(|| match k {
                "customer" => q.raw_customer.clone(),
                "paid_on" => q.as_of.to_string(),
                _ => String::new(),
            })
    };
    Ok(html! {
        (notices(lang, (!ok.is_empty()).then_some(match ok {
            "approved" => "rcv.approved",
            "rejected" => "rcv.rejected",
            _ => "rcv.recorded",
        }), errors))
        form.filters.panel method="get" action="/work/receivables" id="rcv-filter" {
            (field(t(lang, "work.as_of"), "q-as_of", errors.get("as_of"), input("q-as_of", "as_of", "date", &q.as_of.to_string(), errors.get("as_of").is_some())))
            (field(t(lang, "work.from"), "q-from", errors.get("from"), input("q-from", "from", "date", &q.from.to_string(), errors.get("from").is_some())))
            (field(t(lang, "work.to"), "q-to", errors.get("to"), input("q-to", "to", "date", &q.to.to_string(), errors.get("to").is_some())))
            (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "q-customer", if submitted.is_none() { errors.get("customer") } else { None },
                crate::newcustomer::picker_input("q-customer", "customer", &q.raw_customer, false)))
            div.actions { button.primary type="submit" { (t(lang, "work.show")) } }
        }
        @if manager {
            section.panel.flush id="holds" {
                h2 { (t(lang, "rcv.holds")) }
                @if holds.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                    table.data {
                        thead { tr {
                            th { (t(lang, "work.customer")) } th { (t(lang, "work.date")) }
                            th.num { (t(lang, "work.amount")) } th.num { (t(lang, "rcv.open_before")) } th.num { (t(lang, "rcv.limit")) }
                            th { (t(lang, "rcv.requested")) } th { (t(lang, "rcv.by")) } th {}
                        } }
                        tbody {
                            @for h in &holds {
                                tr id=(format!("hold-{}", h.id)) {
                                    td { (customer_link(h.customer_id, &name(h.customer_id))) }
                                    td.nowrap { (date(h.order.ordered_on)) }
                                    td.num { (money(h.amount)) }
                                    td.num { (money(h.open)) }
                                    td.num { (money(h.limit)) }
                                    td.nowrap { (i18n::datetime(lang, h.requested_at)) }
                                    td { (h.requested_by) }
                                    td.nowrap {
                                        form.rowform.decide method="post" action=(format!("/work/receivables/holds/{}/approve", h.id)) { (crate::auth::csrf_field())
                                            input type="text" name="reason" maxlength="1000" placeholder=(t(lang, "rcv.reason")) aria-label=(t(lang, "rcv.reason"));
                                            " "
                                            button.primary type="submit" { (t(lang, "rcv.approve")) }
                                            " "
                                            button type="submit" formaction=(format!("/work/receivables/holds/{}/reject", h.id)) { (t(lang, "rcv.reject")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some((c, pos, invoices)) = &detail {
            section.panel.flush id="customer-invoices" {
                h2 { (t(lang, "rcv.invoices_of")) " " (customer_link(*c, &name(*c))) }
                dl.figures {
                    dt { (t(lang, "rcv.limit")) } dd { (pos.limit.map_or_else(|| t(lang, "rcv.no_limit").to_string(), money)) }
                    dt { (t(lang, "work.open")) } dd { (money(pos.open)) }
                    dt { (t(lang, "rcv.headroom")) } dd { (pos.headroom.map_or_else(|| "–".to_string(), money)) }
                    dt { (t(lang, "rcv.overdue")) } dd { (money(pos.overdue)) }
                    dt { (t(lang, "rcv.pending")) } dd { (pos.pending_holds) }
                }
                @if invoices.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                    table.data {
                        thead { tr {
                            th { (t(lang, "rcv.invoice")) } th { (t(lang, "rcv.issued")) } th { (t(lang, "work.due")) }
                            th.num { (t(lang, "work.amount")) } th.num { (t(lang, "work.paid")) } th.num { (t(lang, "work.open")) }
                        } }
                        tbody {
                            @for i in invoices {
                                tr {
                                    td.mono { (i.number) " " small.muted { "#" (i.id) } }
                                    td.nowrap { (date(i.issued_on)) }
                                    td.nowrap { (date(i.due_on)) }
                                    td.num { (money(i.amount)) }
                                    td.num { (money(i.paid)) }
                                    td.num { (money(i.open())) }
                                }
                                @for p in &i.instalments {
                                    tr.instalment {
                                        td.muted { "↳ " (t(lang, "rcv.instalment")) " " (p.seq) }
                                        td {}
                                        td.nowrap { (date(p.due_on)) }
                                        td.num { (money(p.amount)) }
                                        td.num { (money(p.paid)) }
                                        td.num { (money(patron_domain::Money(p.amount.cents() - p.paid.cents()))) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.plots {
            section.panel.plotpanel id="ageing" {
                h2 { (t(lang, "rcv.ageing")) " · " (date(q.as_of)) }
                (ageing_plot(lang, &report.total))
            }
            section.panel.plotpanel id="payment" {
                h2 { (t(lang, "rcv.payment")) }
                form method="post" action="/work/receivables/payment" id="payment-form" novalidate { (crate::auth::csrf_field())
                    div.formgrid {
                        (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "p-customer", submitted.and(errors.get("customer")),
                            crate::newcustomer::picker_input("p-customer", "customer", &v("customer"), submitted.and(errors.get("customer")).is_some())))
                        (field(t(lang, "rcv.payment_invoice"), "p-invoice_id", errors.get("invoice_id"),
                            input("p-invoice_id", "invoice_id", "text", &v("invoice_id"), errors.get("invoice_id").is_some())))
                        (field(t(lang, "work.amount"), "p-amount", errors.get("amount"),
                            input("p-amount", "amount", "text", &v("amount"), errors.get("amount").is_some())))
                        (field(t(lang, "rcv.paid_on"), "p-paid_on", errors.get("paid_on"),
                            input("p-paid_on", "paid_on", "date", &v("paid_on"), errors.get("paid_on").is_some())))
                        (field(t(lang, "rcv.reference"), "p-reference", errors.get("reference"),
                            input("p-reference", "reference", "text", &v("reference"), errors.get("reference").is_some())))
                    }
                    div.formfoot { span {} button.primary type="submit" { (t(lang, "rcv.record")) } }
                }
            }
        }
        section.panel.flush id="ageing-customers" {
            h2 { (t(lang, "rcv.ageing")) " · " (t(lang, "work.customer")) }
            table.data.compact {
                thead { tr {
                    th { (t(lang, "work.customer")) }
                    th.num { (t(lang, "rcv.not_due")) } th.num { (t(lang, "rcv.d0_30")) } th.num { (t(lang, "rcv.d31_60")) }
                    th.num { (t(lang, "rcv.d61_90")) } th.num { (t(lang, "rcv.d90_plus")) } th.num { (t(lang, "work.total")) }
                } }
                tbody {
                    @for c in report.customers.iter().take(ROWS) {
                        tr {
                            td { a href=(format!("/work/receivables?customer=%23{}&as_of={}", c.customer_id, q.as_of)) { (name(c.customer_id)) } }
                            (bucket_cells(lang, &c.buckets))
                        }
                    }
                    tr.total { th { (t(lang, "work.total")) } (bucket_cells(lang, &report.total)) }
                }
            }
            (more(lang, report.customers.len()))
        }
        section.panel.flush id="overdue" {
            h2 { (t(lang, "rcv.overdue_list")) }
            @if overdue.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                table.data {
                    thead { tr {
                        th { (t(lang, "work.customer")) } th { (t(lang, "rcv.invoice")) } th { (t(lang, "work.due")) }
                        th.num { (t(lang, "rcv.days_overdue")) } th.num { (t(lang, "work.open")) }
                    } }
                    tbody {
                        @for o in overdue.iter().take(ROWS) {
                            tr {
                                td { a href=(format!("/work/receivables?customer=%23{}&as_of={}", o.customer_id, q.as_of)) { (o.customer_name) } }
                                td.mono { (o.invoice_number) @if let Some(s) = o.instalment { " · " (t(lang, "rcv.instalment")) " " (s) } }
                                td.nowrap { (date(o.due_on)) }
                                td.num { (o.days_overdue) }
                                td.num { (money(o.open)) }
                            }
                        }
                    }
                }
                (more(lang, overdue.len()))
            }
        }
        section.panel.flush id="open-items" {
            h2 { (t(lang, "rcv.open_items")) }
            @if items.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                table.data.compact {
                    thead { tr {
                        th { (t(lang, "work.customer")) } th { (t(lang, "rcv.invoice")) } th { (t(lang, "rcv.instalment")) }
                        th { (t(lang, "work.due")) } th.num { (t(lang, "work.open")) }
                    } }
                    tbody {
                        @for i in items.iter().take(ROWS) {
                            tr {
                                td { a href=(format!("/work/receivables?customer=%23{}&as_of={}", i.customer_id, q.as_of)) { (name(i.customer_id)) } }
                                td.mono { (i.invoice_number) " " small.muted { "#" (i.invoice_id) } }
                                td { @if let Some(s) = i.instalment { (s) } @else { "–" } }
                                td.nowrap { (date(i.due_on)) }
                                td.num { (money(i.open)) }
                            }
                        }
                    }
                }
                (more(lang, items.len()))
            }
        }
        section.panel.flush id="collections" {
            h2 { (t(lang, "rcv.collections")) " · " (date(q.from)) " – " (date(q.to)) }
            @if collections.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                table.data {
                    thead { tr {
                        th { (t(lang, "work.rep")) } th.num { (t(lang, "rcv.sales")) } th.num { (t(lang, "rcv.invoiced")) }
                        th.num { (t(lang, "rcv.collected")) } th.num { (t(lang, "rcv.overdue_end")) }
                    } }
                    tbody {
                        @for r in &collections {
                            tr {
                                td { (rep_name(lang, r.owner_id, r.username.as_deref())) }
                                td.num { (money(r.sales)) } td.num { (money(r.invoiced)) }
                                td.num { (money(r.collected)) } td.num { (money(r.overdue)) }
                            }
                        }
                    }
                }
            }
        }
    })
}

fn bucket_cells(lang: Lang, b: &AgeingBuckets) -> Markup {
    let m = |v: patron_domain::Money| i18n::money_cents(lang, v.cents());
    html! {
        td.num { (m(b.not_due)) } td.num { (m(b.d0_30)) } td.num { (m(b.d31_60)) }
        td.num { (m(b.d61_90)) } td.num { (m(b.d90_plus)) } td.num { strong { (m(b.total())) } }
    }
}

/// The ageing buckets as bars.
fn ageing_plot(lang: Lang, total: &AgeingBuckets) -> Markup {
    let bars = [
        ("rcv.not_due", total.not_due),
        ("rcv.d0_30", total.d0_30),
        ("rcv.d31_60", total.d31_60),
        ("rcv.d61_90", total.d61_90),
        ("rcv.d90_plus", total.d90_plus),
    ];
    let max = bars
        .iter()
        .map(|(_, m)| m.as_f64())
        .fold(0.0, f64::max)
        .max(1.0);
    let yt = svg::ticks(0.0, max, 4);
    let f = Frame {
        x0: 0.0,
        x1: bars.len() as f64,
        y0: 0.0,
        y1: yt.last().copied().unwrap_or(max).max(max),
    };
    let bw = (f.px(1.0) - f.px(0.0)) * 0.6;
    html! {
        (svg::svg("ageing-plot", t(lang, "rcv.ageing"), html! {
            (svg::axes(&f, &[], &yt, |_| String::new(), svg::short, t(lang, "rcv.bucket"), t(lang, "work.open")))
            @for (i, (k, m)) in bars.iter().enumerate() {
                @let v = m.as_f64();
                @let x = f.px(i as f64 + 0.5);
                rect class=(if i == 0 { "bar abc-C" } else if i < 3 { "bar abc-B" } else { "bar abc-A" })
                    x=(x - bw / 2.0) y=(f.py(v)) width=(bw) height=(f.py(0.0) - f.py(v)) {
                    title { (t(lang, k)) ": " (i18n::money_cents(lang, m.cents())) }
                }
                text.annot x=(x) y=(f.py(v) - 6.0) text-anchor="middle" { (i18n::money_short(lang, v)) }
                text.cls x=(x) y=(H - svg::BOTTOM + 16.0) text-anchor="middle" { (t(lang, k)) }
            }
        }))
    }
}

/// `POST /work/receivables/payment`: records a payment on one invoice or oldest due first.
pub async fn pay(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    RawForm(body): RawForm,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let customer = form
        .customer(lang, &st.store, &me, "customer", true, &mut errors)
        .await;
    let invoice_id = form.int(lang, "invoice_id", 1..=i64::MAX, &mut errors);
    let amount = form.money(lang, "amount", true, &mut errors);
    let paid_on = form.required_date(lang, "paid_on", &mut errors);
    let query = Form::parse(
        format!(
            "customer={}",
            customer.map(|c| format!("%23{c}")).unwrap_or_default()
        )
        .as_bytes(),
    );
    let (Some(c), Some(amount), Some(paid_on), true) =
        (customer, amount, paid_on, errors.is_empty())
    else {
        return page_get(
            &st,
            lang,
            &me,
            &query,
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some(&form),
        )
        .await;
    };
    let input = PaymentInput {
        invoice_id,
        paid_on,
        amount,
        reference: Some(form.get("reference").to_string()),
    };
    // The payment and its audit row are one transaction.
    let detail = format!("payment of {} recorded (web)", amount);
    let audited = me.audited(&st.store, "update", Some(c), detail);
    match audited.record_payment(c, input).await {
        Ok(_) => {
            if let Err(e) = audited.finish_audit().await {
                return store_error_page(lang, &e);
            }
            patron_app::value::recompute_after_change(&st.store, &[c]).await;
            Redirect::to(&format!("/work/receivables?customer=%23{c}&ok=recorded")).into_response()
        }
        Err(e @ StoreError::NotFound { .. }) if invoice_id.is_some() => {
            let mut errors = Errors::default();
            errors.add("invoice_id", crate::errors::store_error_text(lang, &e));
            page_get(
                &st,
                lang,
                &me,
                &query,
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                Some(&form),
            )
            .await
        }
        Err(e) => {
            match Errors::from_store(lang, &e, &["amount", "reference", "paid_on", "invoice_id"]) {
                Some(errors) => {
                    page_get(
                        &st,
                        lang,
                        &me,
                        &query,
                        StatusCode::UNPROCESSABLE_ENTITY,
                        errors,
                        Some(&form),
                    )
                    .await
                }
                None => store_error_page(lang, &e),
            }
        }
    }
}

/// `POST /work/receivables/holds/{id}/approve|reject` (managers and admins).
pub async fn decide(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((raw, decision)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let pairs = crate::parse_pairs(&body);
    if !manages(&me) {
        return forbidden(lang);
    }
    let not_found = || store_error_page(lang, &StoreError::not_found("credit hold", raw.clone()));
    let Some(id) = raw.parse::<i64>().ok().filter(|i| *i > 0) else {
        return not_found();
    };
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return not_found(),
    };
    let reason = crate::get_param(&pairs, "reason");
    if let Err(e) =
        patron_app::custody::decide_hold(&st.store, &me, id, approve, reason, " (web)").await
    {
        return crate::app_error_page(lang, &e);
    }
    Redirect::to(&format!(
        "/work/receivables?ok={}",
        if approve { "approved" } else { "rejected" }
    ))
    .into_response()
}
