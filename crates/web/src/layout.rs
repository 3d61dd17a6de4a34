//! The page shell: header with navigation and the language switch, main area, footer.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::i18n::Lang;

/// A full page. `active` is the navigation entry to highlight (`customers`, `dashboard`);
/// `back` is where the language switch returns to.
pub fn page(lang: Lang, title: &str, active: &str, body: Markup) -> Markup {
    page_at(lang, title, active, "/customers", body)
}

pub fn page_at(lang: Lang, title: &str, active: &str, back: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html_lang()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (lang.t("app.name")) }
                link rel="stylesheet" href="/static/patron.css";
                // A neutral favicon so browsers do not ask the API for one.
                link rel="icon" href=(PreEscaped("data:,"));
            }
            body {
                header.topbar {
                    a.brand href="/customers" {
                        span.logo { "P" }
                        span {
                            strong { (lang.t("app.name")) }
                            small { (lang.t("app.tagline")) }
                        }
                    }
                    nav.mainnav {
                        a href="/customers" class=[(active == "customers").then_some("active")] { (lang.t("nav.customers")) }
                        a href="/dashboard" class=[(active == "dashboard").then_some("active")] { (lang.t("nav.dashboard")) }
                        a href="/score-model" class=[(active == "score").then_some("active")] { (lang.t("nav.score_model")) }
                        a href="/import" class=[(active == "import").then_some("active")] { (lang.t("nav.import")) }
                        a href="/work" class=[(active == "work").then_some("active")] { (crate::work::t(lang, "work.nav")) }
                        a href="/leads" class=[(active == "leads").then_some("active")] { (crate::leads::t(lang, "leads.nav")) }
                        a href="/pool" class=[(active == "pool").then_some("active")] { (lang.t("nav.pool")) }
                        a href="/admin/users" class=[(active == "users").then_some("active")] { (lang.t("nav.users")) }
                        a href="/admin/audit" class=[(active == "audit").then_some("active")] { (lang.t("nav.audit")) }
                    }
                    form.langswitch method="post" action="/lang" { (crate::auth::csrf_field())
                        input type="hidden" name="back" value=(back);
                        span.sr { (lang.t("nav.language")) }
                        @for l in Lang::ALL {
                            button type="submit" name="lang" value=(l.code())
                                class=[(l == lang).then_some("on")] aria-pressed=(l == lang) { (l.native_name()) }
                        }
                    }
                    @if let Some(me) = crate::auth::signed_in_user() {
                        form.logout method="post" action="/logout" {
                            input type="hidden" name="csrf" value=(me.csrf);
                            span.who { (me.username) }
                            " "
                            button type="submit" id="logout" { (lang.t("auth.sign_out")) }
                        }
                    }
                }
                main.content { (body) }
                footer.footer {
                    span { (lang.t("app.name")) " — " (lang.t("app.tagline")) }
                    a href="/openapi.json" { (lang.t("footer.api")) }
                }
            }
        }
    }
}
