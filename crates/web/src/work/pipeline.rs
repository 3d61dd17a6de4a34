//! `/work/pipeline`: the opportunities of the customers the viewer sees, by stage with their
//! amounts and weighted forecast (a bar chart), the forecast per month of expected close, the
//! open opportunities (move one to another stage) and the form to create one.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use maud::{html, Markup};
use patron_app::Session;
use patron_store::{
    pipeline, Opportunity, OpportunityInput, Pipeline, StageChange, StoreError, STAGES,
};

use super::{
    customer_link, field, forbidden, input, more, names, notices, t, work_page, Errors, Form, ROWS,
};
use crate::i18n::{self, Lang};
use crate::svg::{self, Frame, H};
use crate::{store_error_page, Ctx, WebState};

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    raw: RawQuery,
) -> Response {
    let q = Form::query(&raw);
    render(
        &st,
        lang,
        &me,
        q.get("ok"),
        StatusCode::OK,
        &Errors::default(),
        None,
    )
    .await
}

async fn render(
    st: &WebState,
    lang: Lang,
    me: &Session,
    ok: &str,
    status: StatusCode,
    errors: &Errors,
    submitted: Option<&Form>,
) -> Response {
    if !me.user.sees_records() {
        return forbidden(lang);
    }
    match body(st, lang, me, ok, errors, submitted).await {
        Ok(b) => work_page(lang, me, status, "pipeline", "/work/pipeline", b),
        Err(e) => crate::app_error_page(lang, &e),
    }
}

async fn body(
    st: &WebState,
    lang: Lang,
    me: &Session,
    ok: &str,
    errors: &Errors,
    submitted: Option<&Form>,
) -> Result<Markup, patron_app::AppError> {
    let mine: Vec<Opportunity> = patron_app::work::opportunities(&st.store, me).await?;
    let p = pipeline(&mine);
    let open: Vec<&Opportunity> = mine
        .iter()
        .filter(|o| o.stage != "won" && o.stage != "lost")
        .collect();
    let ids: Vec<i64> = open.iter().take(ROWS).map(|o| o.customer_id).collect();
    let customer_names = names(&st.store, ids).await?;
    let money = |m: patron_domain::Money| i18n::money_cents(lang, m.cents());
    let v = |k: &str, default: &str| -> String {
        submitted
            .map(|f| f.get(k).to_string())
            .unwrap_or_else(|| default.to_string())
    };
    let err = |k: &str| errors.get(k);
    let ok = match ok {
        "created" => Some("pl.created"),
        "moved" => Some("pl.moved"),
        _ => None,
    };
    Ok(html! {
        (notices(lang, ok, errors))
        div.twocol {
            section.panel id="stages" {
                h2 { (t(lang, "pl.chart")) }
                (stage_plot(lang, &p))
                table.data.compact {
                    thead { tr { th { (t(lang, "pl.stage")) } th.num { (t(lang, "pl.count")) } th.num { (t(lang, "work.amount")) } th.num { (t(lang, "pl.weighted")) } } }
                    tbody { @for s in &p.stages {
                        tr { td { (t(lang, &format!("pl.stage.{}", s.stage))) } td.num { (s.count) } td.num { (money(s.amount)) } td.num { (money(s.weighted)) } }
                    } }
                }
            }
            section.panel id="forecast" {
                h2 { (t(lang, "pl.forecast")) }
                @if p.forecast.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                    table.data.compact {
                        thead { tr { th { (t(lang, "pl.month")) } th.num { (t(lang, "pl.open_count")) } th.num { (t(lang, "pl.weighted")) } th.num { (t(lang, "pl.won")) } } }
                        tbody { @for m in &p.forecast {
                            tr { td.mono { (m.month) } td.num { (m.open) } td.num { (money(m.weighted)) } td.num { (money(m.won)) } }
                        } }
                    }
                }
            }
        }
        section.panel.flush id="open-opportunities" {
            h2 { (t(lang, "pl.open_list")) }
            (more(lang, open.len()))
            @if open.is_empty() { p.empty { (t(lang, "work.none")) } } @else {
                table.data {
                    thead { tr {
                        th { (t(lang, "pl.name")) } th { (t(lang, "work.customer")) } th { (t(lang, "pl.stage")) }
                        th.num { (t(lang, "work.amount")) } th.num { "%" } th.num { (t(lang, "pl.weighted")) } th { (t(lang, "pl.close")) } th {}
                    } }
                    tbody { @for o in open.iter().take(ROWS) {
                        tr id=(format!("opp-{}", o.id)) {
                            td { (o.name) }
                            td { (customer_link(o.customer_id, customer_names.get(&o.customer_id).map(String::as_str).unwrap_or(""))) }
                            td { (t(lang, &format!("pl.stage.{}", o.stage))) }
                            td.num { (money(o.amount)) }
                            td.num { (o.probability) }
                            td.num { (money(o.weighted)) }
                            td.nowrap { (i18n::date(lang, o.expected_close)) }
                            td.nowrap {
                                form.rowform method="post" action=(format!("/work/pipeline/{}/{}/stage", o.customer_id, o.id)) { (crate::auth::csrf_field())
                                    select name="stage" aria-label=(t(lang, "pl.stage")) {
                                        @for s in STAGES { option value=(s) selected[*s == o.stage] { (t(lang, &format!("pl.stage.{s}"))) } }
                                    }
                                    " " button type="submit" { (t(lang, "pl.move")) }
                                }
                            }
                        }
                    } }
                }
            }
        }
        section.panel id="new-opportunity" {
            h2 { (t(lang, "pl.new")) }
            form method="post" action="/work/pipeline" id="opportunity-form" novalidate { (crate::auth::csrf_field())
                div.formgrid {
                    (field(&format!("{} ({})", t(lang, "work.customer"), t(lang, "work.customer_hint")), "o-customer", err("customer"),
                        crate::newcustomer::picker_input("o-customer", "customer", &v("customer", ""), err("customer").is_some())))
                    (field(t(lang, "pl.name"), "o-name", err("name"), input("o-name", "name", "text", &v("name", ""), err("name").is_some())))
                    (field(t(lang, "pl.stage"), "o-stage", err("stage"), html! {
                        select id="o-stage" name="stage" { @for s in STAGES { option value=(s) selected[v("stage", "prospecting") == *s] { (t(lang, &format!("pl.stage.{s}"))) } } }
                    }))
                    (field(t(lang, "work.amount"), "o-amount", err("amount"), input("o-amount", "amount", "text", &v("amount", ""), err("amount").is_some())))
                    (field(t(lang, "pl.probability"), "o-probability", err("probability"), input("o-probability", "probability", "text", &v("probability", ""), err("probability").is_some())))
                    (field(t(lang, "pl.close"), "o-expected_close", err("expected_close"), input("o-expected_close", "expected_close", "date", &v("expected_close", ""), err("expected_close").is_some())))
                }
                div.formfoot { span {} button.primary type="submit" { (t(lang, "pl.create")) } }
            }
        }
    })
}

/// Amount and weighted forecast per stage, as paired bars.
fn stage_plot(lang: Lang, p: &Pipeline) -> Markup {
    let max = p
        .stages
        .iter()
        .map(|s| s.amount.as_f64())
        .fold(0.0, f64::max)
        .max(1.0);
    let yt = svg::ticks(0.0, max, 4);
    let f = Frame {
        x0: 0.0,
        x1: p.stages.len().max(1) as f64,
        y0: 0.0,
        y1: yt.last().copied().unwrap_or(max).max(max),
    };
    let bw = (f.px(1.0) - f.px(0.0)) * 0.35;
    html! {
        (svg::svg("pipeline-plot", t(lang, "pl.chart"), html! {
            (svg::axes(&f, &[], &yt, |_| String::new(), svg::short, t(lang, "pl.stage"), t(lang, "work.amount")))
            @for (i, s) in p.stages.iter().enumerate() {
                @let x = f.px(i as f64 + 0.5);
                @let (a, w) = (s.amount.as_f64(), s.weighted.as_f64());
                rect class="bar abc-C" x=(x - bw) y=(f.py(a)) width=(bw) height=(f.py(0.0) - f.py(a)) {
                    title { (t(lang, &format!("pl.stage.{}", s.stage))) " · " (t(lang, "work.amount")) ": " (i18n::money_cents(lang, s.amount.cents())) }
                }
                rect class="bar abc-A" x=(x) y=(f.py(w)) width=(bw) height=(f.py(0.0) - f.py(w)) {
                    title { (t(lang, &format!("pl.stage.{}", s.stage))) " · " (t(lang, "pl.weighted")) ": " (i18n::money_cents(lang, s.weighted.cents())) }
                }
                text.cls x=(x) y=(H - svg::BOTTOM + 16.0) text-anchor="middle" { (t(lang, &format!("pl.stage.{}", s.stage))) }
            }
        }))
    }
}

/// `POST /work/pipeline`: creates an opportunity.
pub async fn create(
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
    let c = form
        .customer(lang, &st.store, &me, "customer", true, &mut errors)
        .await;
    if form.get("name").is_empty() {
        errors.add("name", t(lang, "work.required"));
    }
    let stage = form.choice(lang, "stage", STAGES, false, &mut errors);
    let amount = form.money(lang, "amount", false, &mut errors);
    if form.get("amount").is_empty() {
        errors.add("amount", t(lang, "work.required"));
    }
    let probability = form.int(lang, "probability", 0..=100, &mut errors);
    let close = form.required_date(lang, "expected_close", &mut errors);
    let (Some(c), Some(amount), Some(close), true) = (c, amount, close, errors.is_empty()) else {
        return render(
            &st,
            lang,
            &me,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            &errors,
            Some(&form),
        )
        .await;
    };
    let input = OpportunityInput {
        name: form.get("name").to_string(),
        stage: stage.map(String::from),
        amount,
        probability: probability.map(|p| p as i32),
        expected_close: close,
    };
    match st.store.create_opportunity(c, input).await {
        Ok(o) => {
            if let Err(e) = st
                .store
                .audit(
                    &me.actor,
                    "update",
                    Some(c),
                    Some(&format!("opportunity {} created (web)", o.id)),
                    None,
                )
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to("/work/pipeline?ok=created").into_response()
        }
        Err(e) => match Errors::from_store(
            lang,
            &e,
            &["name", "stage", "amount", "probability", "expected_close"],
        ) {
            Some(errors) => {
                render(
                    &st,
                    lang,
                    &me,
                    "",
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &errors,
                    Some(&form),
                )
                .await
            }
            None => store_error_page(lang, &e),
        },
    }
}

/// `POST /work/pipeline/{customer}/{id}/stage`: moves an opportunity to another stage (its
/// probability becomes the stage's default).
pub async fn stage(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path((rc, ro)): Path<(String, String)>,
    RawForm(body): RawForm,
) -> Response {
    let not_found = || store_error_page(lang, &StoreError::not_found("opportunity", ro.clone()));
    let (Ok(c), Ok(id)) = (rc.parse::<i64>(), ro.parse::<i64>()) else {
        return not_found();
    };
    if let Err(e) = me.check(&st.store, c, true).await {
        return store_error_page(lang, &e);
    }
    let form = Form::parse(&body);
    let mut errors = Errors::default();
    let Some(stage) = form.choice(lang, "stage", STAGES, true, &mut errors) else {
        let mut all = Errors::default();
        all.add(
            "",
            format!(
                "{}: {}",
                t(lang, "pl.stage"),
                errors.get("stage").unwrap_or_default()
            ),
        );
        return render(
            &st,
            lang,
            &me,
            "",
            StatusCode::UNPROCESSABLE_ENTITY,
            &all,
            None,
        )
        .await;
    };
    let change = StageChange {
        stage: stage.to_string(),
        probability: None,
        amount: None,
        expected_close: None,
    };
    match st.store.change_stage(c, id, change).await {
        Ok(o) => {
            if let Err(e) = st
                .store
                .audit(
                    &me.actor,
                    "update",
                    Some(c),
                    Some(&format!("opportunity {} moved to {} (web)", o.id, o.stage)),
                    None,
                )
                .await
            {
                return store_error_page(lang, &e);
            }
            Redirect::to("/work/pipeline?ok=moved").into_response()
        }
        Err(e) => store_error_page(lang, &e),
    }
}
