//! The page shell: header with navigation and the language switch, main area, footer.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use patron_app::Action;

use crate::i18n::Lang;

/// The main navigation: (path, `active` key, label key, what opening it takes).
const NAV: &[(&str, &str, &str, Action)] = &[
    ("/my-day", "myday", "myday.nav", Action::ReadRecords),
    (
        "/customers",
        "customers",
        "nav.customers",
        Action::ReadRecords,
    ),
    (
        "/dashboard",
        "dashboard",
        "nav.dashboard",
        Action::ViewValueReport,
    ),
    (
        "/score-model",
        "score",
        "nav.score_model",
        Action::EditScoreModel,
    ),
    ("/import", "import", "nav.import", Action::Import),
    ("/work", "work", "work.nav", Action::SignedIn),
    ("/leads", "leads", "leads.nav", Action::ReadRecords),
    ("/pool", "pool", "nav.pool", Action::ReadRecords),
    ("/admin/users", "users", "nav.users", Action::ManageUsers),
    ("/admin/audit", "audit", "nav.audit", Action::ReadAudit),
];

/// Every page's helper script: chart values on hover and focus, "/" for the customer search.
pub(crate) const KEYS_JS: &str = include_str!("../static/keys.js");

/// May the signed-in user open pages that take `action` (everything outside a session)?
pub(crate) fn may(action: Action) -> bool {
    crate::auth::signed_in_user().is_none_or(|me| patron_app::permissions::allowed(me.role, action))
}

fn label(lang: Lang, key: &str) -> &'static str {
    match key {
        "work.nav" => crate::work::t(lang, key),
        "leads.nav" => crate::leads::t(lang, key),
        k if k.starts_with("myday.") => crate::myday::t(lang, k),
        k => lang.t(k),
    }
}

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
                script src="/static/picker.js" defer {}
                script src="/static/keys.js" defer {}
                // A neutral favicon so browsers do not ask the API for one.
                link rel="icon" href=(PreEscaped("data:,"));
            }
            body {
                a.skip href="#main" { (lang.t("nav.skip")) }
                header.topbar {
                    a.brand href="/" {
                        span.logo { "P" }
                        span {
                            strong { (lang.t("app.name")) }
                            small { (lang.t("app.tagline")) }
                        }
                    }
                    nav.mainnav {
                        @for (href, key, name, action) in NAV {
                            @if may(*action) {
                                a href=(href) class=[(active == *key).then_some("active")] { (label(lang, name)) }
                            }
                        }
                        @if may(Action::ReadRecords) {
                            a href="/customers/new" id="new-customer" class=(if active == "newcustomer" { "newcust active" } else { "newcust" }) { "+ " (label(lang, "myday.new_customer")) }
                        }
                    }
                    @if may(Action::ReadRecords) {
                        form.quicksearch method="get" action="/customers" role="search" {
                            label.sr for="quick-search" { (lang.t("nav.search")) }
                            input #quick-search type="search" name="q" placeholder=(lang.t("nav.search_hint")) aria-keyshortcuts="/";
                        }
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
                            a href="/settings/mail" id="mail-settings-link" title=(crate::mailer::t(lang, "ms.menu")) {
                                "✉" span.sr { " " (crate::mailer::t(lang, "ms.menu")) }
                            }
                            @if me.unread > 0 {
                                " "
                                a.unread href="/inbox" id="unread" title=(label(lang, "myday.unread_title")) {
                                    (me.unread)
                                    span.sr { " " (label(lang, "myday.unread_title")) }
                                }
                            }
                            " "
                            button type="submit" id="logout" { (lang.t("auth.sign_out")) }
                        }
                    }
                }
                main.content #main tabindex="-1" { (body) }
                footer.footer {
                    span { (lang.t("app.name")) " — " (lang.t("app.tagline")) }
                    a href="/openapi.json" { (lang.t("footer.api")) }
                }
            }
        }
    }
}
