//! `/work/review` (managers and admins): per rep over a chosen period — interactions and
//! promises recorded on their customers, card completeness, tickets breached of those opened,
//! and sales vs collections.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use chrono::{Datelike, NaiveDate, Utc};
use maud::html;
use patron_app::Session;

use super::{
    field, forbidden, input, manages, notices, rep_name, t, today, work_page, Errors, Form,
};
use crate::i18n;
use crate::{store_error_page, Ctx, WebState};

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    if !manages(&me) {
        return forbidden(lang);
    }
    let q = Form::query(&raw);
    let mut errors = Errors::default();
    let to = q.date(lang, "to", &mut errors).unwrap_or_else(today);
    let quarter_start =
        NaiveDate::from_ymd_opt(to.year(), (to.month0() / 3) * 3 + 1, 1).unwrap_or(to);
    let mut from = q.date(lang, "from", &mut errors).unwrap_or(quarter_start);
    if from > to {
        errors.add("from", t(lang, "work.bad_period"));
        from = quarter_start.min(to);
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let rows: Vec<_> = match st.store.rep_review(from, to, Utc::now()).await {
        Ok(v) => v
            .into_iter()
            .filter(|r| me.visible.allows(r.owner_id, false))
            .collect(),
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("rep review (web)"),
            Some(rows.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let body = html! {
        (notices(lang, None, &errors))
        form.filters.panel method="get" action="/work/review" {
            (field(t(lang, "work.from"), "q-from", errors.get("from"), input("q-from", "from", "date", &from.to_string(), errors.get("from").is_some())))
            (field(t(lang, "work.to"), "q-to", errors.get("to"), input("q-to", "to", "date", &to.to_string(), errors.get("to").is_some())))
            div.actions { button.primary type="submit" { (t(lang, "work.show")) } }
        }
        section.panel.flush id="review" {
            h2 { (t(lang, "rv.title")) " · " (i18n::date(lang, from)) " – " (i18n::date(lang, to)) }
            @if rows.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                div.tablewrap { table.data.compact {
                    thead { tr {
                        th { (t(lang, "work.rep")) } th.num { (t(lang, "rv.customers")) } th.num { (t(lang, "rv.interactions")) }
                        th.num { (t(lang, "rv.promises")) } th.num { (t(lang, "rv.completeness")) } th.num { (t(lang, "rv.tickets")) }
                        th.num { (t(lang, "rcv.sales")) } th.num { (t(lang, "rcv.invoiced")) } th.num { (t(lang, "rcv.collected")) }
                        th.num { (t(lang, "rcv.overdue_end")) }
                    } }
                    tbody { @for r in &rows {
                        tr {
                            td { (rep_name(lang, r.owner_id, r.username.as_deref())) }
                            td.num { (i18n::count(r.customers.max(0) as u64)) }
                            td.num { (r.interactions) }
                            td.num { (r.promises) }
                            td.num { (r.card_completeness.map_or_else(|| "–".to_string(), |c| i18n::pct(c * 100.0))) }
                            td.num { (r.tickets_breached) " / " (r.tickets_opened) }
                            td.num { (money(r.sales)) } td.num { (money(r.invoiced)) }
                            td.num { (money(r.collected)) } td.num { (money(r.overdue)) }
                        }
                    } }
                } }
            }
        }
    };
    work_page(lang, &me, status, "review", "/work/review", body)
}
