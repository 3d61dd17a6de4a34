//! `/work/campaigns`: every campaign with its cost, the customers and leads it brought, their
//! revenue and margin since it started, and the return (margin / cost). Aggregates only, so
//! analysts see it too; reps do not (as in the API).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use maud::html;
use patron_store::{Role, Viewer};

use super::{forbidden, t, work_page};
use crate::i18n;
use crate::{store_error_page, Ctx, WebState};

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Viewer>,
) -> Response {
    if !matches!(me.user.role, Role::Admin | Role::Manager | Role::Analyst) {
        return forbidden(lang);
    }
    let list = match st.store.campaigns().await {
        Ok(l) => l,
        Err(e) => return store_error_page(lang, &e),
    };
    if let Err(e) = st
        .store
        .audit(
            &me.actor,
            "list",
            None,
            Some("campaigns (web)"),
            Some(list.len() as i64),
        )
        .await
    {
        return store_error_page(lang, &e);
    }
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let body = html! {
        section.panel.flush id="campaigns" {
            h2 { (t(lang, "cp.title")) }
            @if list.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                div.tablewrap { table.data.compact {
                    thead { tr {
                        th { (t(lang, "cp.name")) } th { (t(lang, "cp.channel")) } th { (t(lang, "cp.started")) }
                        th.num { (t(lang, "cp.cost")) } th.num { (t(lang, "cp.customers")) } th.num { (t(lang, "cp.leads")) } th.num { (t(lang, "cp.leads_captured")) }
                        th.num { (t(lang, "cp.buyers")) } th.num { (t(lang, "cp.revenue")) } th.num { (t(lang, "cp.margin")) }
                        th.num { (t(lang, "cp.return")) }
                    } }
                    tbody { @for c in &list {
                        tr id=(format!("campaign-{}", c.id)) {
                            td { (c.name) }
                            td { (c.channel.as_deref().unwrap_or("–")) }
                            td.nowrap { (i18n::date(lang, c.started_on)) }
                            td.num { (money(c.cost)) }
                            td.num { (i18n::count(c.customers.max(0) as u64)) }
                            td.num { (i18n::count(c.leads.max(0) as u64)) }
                            td.num { (i18n::count(c.leads_converted.max(0) as u64)) " / " (i18n::count(c.leads_captured.max(0) as u64)) }
                            td.num { (i18n::count(c.buyers.max(0) as u64)) }
                            td.num { (money(c.revenue)) }
                            td.num { (money(c.margin)) }
                            td.num { (c.return_ratio.map_or_else(|| "–".to_string(), |r| format!("{r:.2}×"))) }
                        }
                    } }
                } }
            }
            p.muted.pad { (t(lang, "cp.note")) }
        }
    };
    work_page(
        lang,
        &me,
        StatusCode::OK,
        "campaigns",
        "/work/campaigns",
        body,
    )
}
