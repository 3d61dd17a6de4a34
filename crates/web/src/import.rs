//! The import page (`/import`): a CSV upload (multipart, at most [`UPLOAD_LIMIT`] bytes) of
//! customers, orders or interactions, imported with the CLI's rules
//! (`patron_exchange::import_file`) in a background task; `/import/{id}` shows the progress
//! (polling `/import/{id}/progress`, JSON) and then the report with the row errors
//! (`FILE:LINE: column X: reason`); `/import/{id}/rejects.csv` downloads the rejected rows.
//!
//! Jobs live in the database (`import_jobs`, the last [`patron_store::KEEP_IMPORT_JOBS`] of each
//! user), so that every `patron serve` on it shows them: state, progress (written every second,
//! also the job's sign of life: a running job without one for
//! [`patron_store::IMPORT_HEARTBEAT_TIMEOUT`] is shown as failed, its server stopped), report,
//! and the rejected rows (the rejects file's bytes). A failure is kept as a message that quotes
//! excerpts of values only (`patron_domain::text`). The upload is written to a directory of its
//! own under [`upload_root`], removed as soon as the job ends (done, failed or panicked:
//! [`UploadGuard`]); an upload waiting for its column mapping is kept in the database, so that
//! the mapping may be sent to any server.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Extension;
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use patron_app::Session;
use patron_exchange::{Entity, ImportOptions, ImportReport, InputFormat};
use patron_store::{ImportJob, ImportOutcome, NewImportJob};
use tokio::io::AsyncWriteExt;

use crate::i18n::{self, Lang};
use crate::{error_page, html, layout, Ctx, WebState};

/// Largest accepted upload (64 MiB).
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;
/// Characters kept of each cell of a rejected row in the rejects file (more than any field takes:
/// an interaction's text, the longest, takes 20,000).
const REJECT_CELL_CHARS: usize = 25_000;
/// Row errors shown on the report (all of them are in the rejects file).
const SHOW_ERRORS: usize = 100;

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Running,
    /// Uploaded, waiting for the user to map these columns (not recognised) to fields.
    Mapping(Vec<String>),
    Done(ImportReport),
    Failed(String),
}

/// A job as the pages show it (read from the database).
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    /// The user who started it: only they see the job, its report and its rejected rows.
    pub owner: i64,
    pub file_name: String,
    pub entity: Entity,
    pub started: DateTime<Utc>,
    pub seconds: f64,
    pub bytes: u64,
    pub total_bytes: u64,
    pub rows: u64,
    pub state: JobState,
    create_customers: bool,
    stop_on_error: bool,
}

impl Job {
    fn of(j: ImportJob) -> Job {
        let n = |v: i64| v.max(0) as u64;
        let state = match j.state.as_str() {
            "mapping" => JobState::Mapping(j.unknown()),
            "running" => JobState::Running,
            "done" => JobState::Done(ImportReport {
                rows: n(j.rows_read),
                inserted: n(j.inserted),
                already_present: n(j.already_present),
                rejected: n(j.rejected),
                customers_created: n(j.customers_created),
            }),
            _ => JobState::Failed(j.error.clone().unwrap_or_default()),
        };
        Job {
            id: j.id,
            owner: j.owner_id,
            file_name: j.file_name,
            entity: entity_of(&j.entity),
            started: j.started_at,
            seconds: j.seconds,
            bytes: n(j.bytes),
            total_bytes: n(j.total_bytes),
            rows: n(j.rows_read),
            state,
            create_customers: j.create_customers,
            stop_on_error: j.stop_on_error,
        }
    }
}

/// Where uploads are written: `PATRON_UPLOAD_DIR` when set, else the system's temporary folder.
pub fn upload_root() -> PathBuf {
    std::env::var_os("PATRON_UPLOAD_DIR")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// Removes an upload's file (and its directory when `whole_dir`) when dropped: when the job's
/// task ends however it ends, or when the request is abandoned before a job took the file.
struct UploadGuard {
    path: PathBuf,
    whole_dir: bool,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let _ = if self.whole_dir {
            std::fs::remove_dir_all(&self.path)
        } else {
            std::fs::remove_file(&self.path)
        };
    }
}

fn entity_of(code: &str) -> Entity {
    match code {
        "orders" => Entity::Orders,
        "interactions" => Entity::Interactions,
        _ => Entity::Customers,
    }
}

fn entity_code(e: Entity) -> &'static str {
    match e {
        Entity::Customers => "customers",
        Entity::Orders => "orders",
        Entity::Interactions => "interactions",
    }
}

pub async fn page(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
) -> Response {
    page_with(&st, lang, &me, None, StatusCode::OK).await
}

async fn page_with(
    st: &WebState,
    lang: Lang,
    me: &Session,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let jobs: Vec<Job> = match st.store.import_jobs_of(me.user.id).await {
        Ok(jobs) => jobs.into_iter().map(Job::of).collect(),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let body = html! {
        div.pagehead { div {
            h1 { (lang.t("import.title")) }
            p.sub { (lang.t("import.sub")) }
        } }
        div.cardgrid {
            section.panel {
                h2 { (lang.t("import.upload")) }
                @if let Some(e) = error { div.notice.error id="import-error" { (e) } }
                form method="post" action=(crate::auth::multipart_action("/import")) enctype="multipart/form-data" id="import-form" {
                    div.formgrid {
                        label.field {
                            span { (lang.t("import.entity")) }
                            select name="entity" {
                                @for (code, key) in [("customers", "import.customers"), ("orders", "import.orders"), ("interactions", "import.interactions")] {
                                    option value=(code) { (lang.t(key)) }
                                }
                            }
                        }
                        label.field {
                            span { (lang.t("import.file")) }
                            input type="file" name="file" accept=".csv,text/csv" required;
                        }
                    }
                    div.checks.mt {
                        label { input type="checkbox" name="create_customers" value="1"; " " (lang.t("import.create_customers")) }
                        label { input type="checkbox" name="stop_on_error" value="1"; " " (lang.t("import.stop_on_error")) }
                    }
                    div.actions.mt { button.primary type="submit" id="upload" { (lang.t("import.start")) } }
                    p.muted.small { (lang.t("import.limit")) " " (UPLOAD_LIMIT / 1024 / 1024) " MiB." }
                }
            }
            section.panel {
                h2 { (lang.t("import.rules")) }
                ul.small.rules {
                    li { (lang.t("import.rule_header")) }
                    li { (lang.t("import.rule_customers")) }
                    li { (lang.t("import.rule_orders")) }
                    li { (lang.t("import.rule_interactions")) }
                    li { (lang.t("import.rule_idempotent")) }
                }
            }
        }
        section.panel.flush {
            h2 { (lang.t("import.recent")) }
            @if jobs.is_empty() {
                p.empty { (lang.t("import.none")) }
            } @else {
                table.data { tbody {
                    @for j in &jobs {
                        tr {
                            td { a href=(format!("/import/{}", j.id)) { (j.file_name) } }
                            td { (lang.t(&format!("import.{}", entity_code(j.entity)))) }
                            td { (i18n::datetime(lang, j.started)) }
                            td { (state_badge(lang, &j.state)) }
                        }
                    }
                } }
            }
        }
    };
    html(
        status,
        layout::page_at(lang, lang.t("import.title"), "import", "/import", body),
    )
}

fn state_badge(lang: Lang, s: &JobState) -> Markup {
    match s {
        JobState::Running => html! { span.badge.status-tracking { (lang.t("import.running")) } },
        JobState::Mapping(_) => html! { span.badge.status-intent { (lang.t("import.mapping")) } },
        JobState::Done(r) if r.rejected > 0 => {
            html! { span.badge.status-intent { (lang.t("import.done_with_errors")) } }
        }
        JobState::Done(_) => html! { span.badge.status-won { (lang.t("import.done")) } },
        JobState::Failed(_) => html! { span.badge.kind-complaint { (lang.t("import.failed")) } },
    }
}

/// Keeps letters, digits, `.-_` of an uploaded file's name.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let s: String = base
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("upload{s}.csv")
    } else {
        s
    }
}

pub async fn upload(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    mut mp: Multipart,
) -> Response {
    let bad = |key: &'static str, status| {
        let (st, me) = (st.clone(), me.clone());
        async move { page_with(&st, lang, &me, Some(lang.t(key)), status).await }
    };
    if patron_app::imports::authorize(&me).is_err() {
        return bad("auth.role", StatusCode::FORBIDDEN).await;
    }
    let mut entity = Entity::Customers;
    let mut create_customers = false;
    let mut stop_on_error = false;
    let dir = upload_root().join(format!(
        "patron-import-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    // Until a job owns the directory, an abandoned request (a client gone mid-upload) leaves
    // nothing behind.
    let mut upload_guard = UploadGuard {
        path: dir.clone(),
        whole_dir: true,
    };
    let mut file: Option<(String, PathBuf, u64)> = None;
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                let _ = tokio::fs::remove_dir_all(&dir).await;
                let status = e.status();
                return if status == StatusCode::PAYLOAD_TOO_LARGE {
                    bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE).await
                } else {
                    bad("import.bad_upload", StatusCode::BAD_REQUEST).await
                };
            }
        };
        match field.name().unwrap_or("") {
            "entity" => {
                entity = match field.text().await.unwrap_or_default().as_str() {
                    "orders" => Entity::Orders,
                    "interactions" => Entity::Interactions,
                    _ => Entity::Customers,
                }
            }
            "create_customers" => create_customers = true,
            "stop_on_error" => stop_on_error = true,
            "file" => {
                let name = safe_name(field.file_name().unwrap_or("upload.csv"));
                if let Err(e) = tokio::fs::create_dir_all(&dir).await {
                    tracing::error!(error = %e, "cannot create the import directory");
                    return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR).await;
                }
                let path = dir.join(&name);
                let mut out = match tokio::fs::File::create(&path).await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot write the upload");
                        return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR).await;
                    }
                };
                let mut field = field;
                let mut size = 0u64;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            size += chunk.len() as u64;
                            if size > UPLOAD_LIMIT as u64 {
                                let _ = tokio::fs::remove_dir_all(&dir).await;
                                return bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE)
                                    .await;
                            }
                            if out.write_all(&chunk).await.is_err() {
                                let _ = tokio::fs::remove_dir_all(&dir).await;
                                return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR)
                                    .await;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tokio::fs::remove_dir_all(&dir).await;
                            return if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                                bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE).await
                            } else {
                                bad("import.bad_upload", StatusCode::BAD_REQUEST).await
                            };
                        }
                    }
                }
                let _ = out.flush().await;
                file = Some((name, path, size));
            }
            _ => {}
        }
    }
    let Some((name, path, size)) = file.filter(|f| f.2 > 0) else {
        let _ = tokio::fs::remove_dir_all(&dir).await;
        return bad("import.no_file", StatusCode::BAD_REQUEST).await;
    };
    // Columns the importer does not know: the user maps them on the page first.
    let unknown = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            read_headers(&path).map(|h| patron_exchange::unknown_columns(entity, &h))
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_default()
    };
    // A job waiting for its mapping keeps the upload in the database: the mapping may come
    // to another server.
    let waiting = if unknown.is_empty() {
        None
    } else {
        match tokio::fs::read(&path).await {
            Ok(b) => Some(b),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the upload back");
                return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR).await;
            }
        }
    };
    let new = NewImportJob {
        owner_id: me.user.id,
        file_name: name.clone(),
        entity: entity_code(entity).to_string(),
        unknown_columns: unknown,
        create_customers,
        stop_on_error,
        total_bytes: size as i64,
        holder: patron_store::holder_id().to_string(),
    };
    let id = match st.store.create_import_job(&new, waiting.as_deref()).await {
        Ok(id) => id,
        Err(e) => return crate::store_error_page(lang, &e),
    };
    if waiting.is_none() {
        // The job's task owns the directory now (and removes it when it ends).
        upload_guard.whole_dir = false;
        upload_guard.path = PathBuf::new();
        let run = Run {
            id,
            path,
            name,
            dir,
            entity,
            create_customers,
            stop_on_error,
        };
        start(&st, &me, run, Vec::new());
    }
    Redirect::to(&format!("/import/{id}")).into_response()
}

/// The header cells of a CSV file (`None` when it has no readable first line).
fn read_headers(path: &std::path::Path) -> Option<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .ok()?;
    let rec = r.records().next()?.ok()?;
    Some(
        rec.iter()
            .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
            .collect(),
    )
}

/// What a job's background task needs.
struct Run {
    id: i64,
    /// The uploaded file, in `dir`.
    path: PathBuf,
    name: String,
    /// The job's directory (removed when the task ends).
    dir: PathBuf,
    entity: Entity,
    create_customers: bool,
    stop_on_error: bool,
}

/// How often a running job's progress (its sign of life) is written.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs a job's import in a background task, with `maps` (`COLUMN=FIELD`, as the CLI's
/// `--map`) for the columns the importer does not know. The progress is written to the job's
/// row every second; the outcome and the rejected rows when it ends.
fn start(st: &WebState, me: &Session, run: Run, maps: Vec<String>) {
    let Run {
        id,
        path,
        name,
        dir,
        entity,
        create_customers,
        stop_on_error,
    } = run;
    // The job's directory goes when the task ends, however it ends.
    let dir_guard = UploadGuard {
        path: dir.clone(),
        whole_dir: true,
    };
    let rejects_path = dir.join("rejects.csv");
    let mut opts = ImportOptions::new(entity, InputFormat::Csv);
    opts.create_customers = create_customers;
    opts.maps = maps;
    if !stop_on_error {
        opts.skip_bad = Some(rejects_path.clone());
        // The rejects are kept with the job: no cell of them whole beyond any field's length.
        opts.reject_cell_chars = Some(REJECT_CELL_CHARS);
    }
    let store = st.store.clone();
    let me = me.clone();
    tokio::spawn(async move {
        let _dir = dir_guard;
        let started = std::time::Instant::now();
        let progress = Arc::new(Mutex::new(patron_exchange::Progress {
            bytes: 0,
            total_bytes: 0,
            rows: 0,
        }));
        let writer = {
            let (store, progress) = (store.clone(), progress.clone());
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PROGRESS_EVERY).await;
                    let p = progress.lock().map(|p| *p).ok();
                    if let Some(p) = p {
                        let _ = store
                            .import_job_progress(
                                id,
                                p.bytes as i64,
                                p.total_bytes as i64,
                                p.rows as i64,
                            )
                            .await;
                    }
                }
            })
        };
        let shared = progress.clone();
        let result = patron_app::imports::import_file(&store, &me, &path, &name, opts, move |p| {
            if let Ok(mut g) = shared.lock() {
                *g = p;
            }
        })
        .await;
        writer.abort();
        let seconds = started.elapsed().as_secs_f64();
        let outcome = match &result {
            Ok(r) => ImportOutcome {
                seconds,
                rows: r.rows as i64,
                inserted: r.inserted as i64,
                already_present: r.already_present as i64,
                rejected: r.rejected as i64,
                customers_created: r.customers_created as i64,
                error: None,
            },
            // Name the upload, not the temporary path; never more than a bounded message.
            Err(e) => ImportOutcome {
                seconds,
                rows: progress.lock().map(|p| p.rows as i64).unwrap_or(0),
                error: Some(patron_domain::text::bounded(
                    &failure(e).replace(&path.display().to_string(), &name),
                )),
                ..Default::default()
            },
        };
        let rejects = match &result {
            Ok(r) if r.rejected > 0 => tokio::fs::read(&rejects_path).await.ok(),
            _ => None,
        };
        if let Err(e) = store
            .finish_import_job(id, &outcome, rejects.as_deref())
            .await
        {
            tracing::error!(job = id, error = %e, "cannot record the end of a web import");
        }
        // Counts only: a failure's message quotes the file's values.
        let state = if outcome.error.is_some() {
            "failed"
        } else {
            "done"
        };
        tracing::info!(
            job = id,
            state,
            rows = outcome.rows,
            rejected = outcome.rejected,
            "web import finished"
        );
    });
}

/// A rejected row's reason as the web words it: the command line's advice replaced by the
/// page's own option.
fn rejects_web(e: &str) -> String {
    e.replace(
        "import the customers first, or rerun with --create-customers",
        "import the customers first, or tick the option to create missing customers",
    )
}

/// A failed import's message for the page: the English text without the command line's advice
/// (worded per language when shown: [`failure_text`]).
fn failure(e: &patron_exchange::ImportError) -> String {
    e.to_string()
}

/// A failed import's message in `lang`, never suggesting a command-line flag.
fn failure_text(lang: Lang, m: &str) -> String {
    if m == patron_store::ABANDONED {
        return lang.t("import.abandoned").to_string();
    }
    let (first, rest) = m.split_once('\n').unwrap_or((m, ""));
    if let Some(after) = rest.strip_prefix("nothing of this batch was stored (") {
        let n: String = after.chars().take_while(char::is_ascii_digit).collect();
        return format!(
            "{}\n{}",
            crate::errors::import_error_text(lang, first),
            lang.t("import.failed_batch").replace("{n}", &n)
        );
    }
    if m.contains("two columns hold") {
        return lang.t("import.failed_two").to_string();
    }
    if let Some(i) = m.find("no column holds '") {
        let field: String = m[i + 17..].chars().take_while(|c| *c != '\'').collect();
        return lang
            .t("import.failed_required")
            .replace("{field}", &crate::errors::field_label(lang, &field));
    }
    // Anything else: the reason without advice of the command line.
    let why = m.split(" --").next().unwrap_or(m);
    let why = why
        .trim_end_matches(|c: char| c == ';' || c == ',' || c.is_whitespace())
        .trim_end_matches(" or rerun with")
        .trim_end_matches(" rerun with");
    let why = if lang == Lang::En {
        why.to_string()
    } else {
        crate::errors::import_error_text(lang, why)
    };
    lang.t("import.failed_other").replace("{why}", &why)
}

/// `POST /import/{id}/map`: the field chosen for each unknown column (`col0`, `col1`, ...:
/// a field, `custom`, or `ignore`); then the import starts with that mapping.
pub async fn map(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
    axum::extract::RawForm(body): axum::extract::RawForm,
) -> Response {
    let job = match job_of(&st, &me, &raw).await {
        Ok(Some(j)) => j,
        Ok(None) => return no_job(lang),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let (unknown, entity, id) = match &job.state {
        JobState::Mapping(u) => (u.clone(), job.entity, job.id),
        _ => return Redirect::to(&format!("/import/{}", job.id)).into_response(),
    };
    let pairs = crate::parse_pairs(&body);
    let fields = patron_exchange::field_names(entity);
    let mut maps = Vec::with_capacity(unknown.len());
    let mut chosen = Vec::with_capacity(unknown.len());
    for (i, col) in unknown.iter().enumerate() {
        let v = crate::get_param(&pairs, &format!("col{i}"))
            .unwrap_or("")
            .trim();
        chosen.push(v.to_string());
        let field = match v {
            "ignore" => "ignore".to_string(),
            "custom" if entity == Entity::Customers => format!("custom.{col}"),
            f if fields.contains(&f) => f.to_string(),
            _ => continue,
        };
        maps.push(format!("{col}={field}"));
    }
    if maps.len() < unknown.len() {
        return status_page(
            &st,
            lang,
            &job,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(&chosen),
        )
        .await;
    }
    // Whichever server takes the job from `mapping` runs it, from the upload kept with it.
    let holder = patron_store::holder_id();
    let bytes = match st.store.start_mapped_import(id, me.user.id, holder).await {
        Ok(Some(b)) => b,
        Ok(None) => return Redirect::to(&format!("/import/{id}")).into_response(),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let dir = upload_root().join(format!(
        "patron-import-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let path = dir.join(safe_name(&job.file_name));
    let written = async {
        tokio::fs::create_dir_all(&dir).await?;
        tokio::fs::write(&path, &bytes).await
    }
    .await;
    let run = Run {
        id,
        path,
        name: job.file_name.clone(),
        dir,
        entity,
        create_customers: job.create_customers,
        stop_on_error: job.stop_on_error,
    };
    if let Err(e) = written {
        tracing::error!(error = %e, "cannot write the upload");
        let _ = tokio::fs::remove_dir_all(&run.dir).await;
        let failed = ImportOutcome {
            error: Some("the server could not write the upload to its disk".into()),
            ..Default::default()
        };
        let _ = st.store.finish_import_job(id, &failed, None).await;
        return Redirect::to(&format!("/import/{id}")).into_response();
    }
    start(&st, &me, run, maps);
    Redirect::to(&format!("/import/{id}")).into_response()
}

/// The mapping step: a select per unknown column (`chosen`: what was sent, with an error).
fn mapping_form(lang: Lang, j: &Job, unknown: &[String], chosen: Option<&[String]>) -> Markup {
    let fields = patron_exchange::field_names(j.entity);
    html! {
        section.panel id="import-mapping" {
            h2 { (lang.t("import.map_title")) }
            p { (lang.t("import.map_sub")) }
            @if chosen.is_some() { div.notice.error id="map-error" role="alert" { (lang.t("import.map_missing")) } }
            form method="post" action=(format!("/import/{}/map", j.id)) {
                (crate::auth::csrf_field())
                table.data { thead { tr { th { (lang.t("import.map_column")) } th { (lang.t("import.map_field")) } } } tbody {
                    @for (i, col) in unknown.iter().enumerate() {
                        @let sel = chosen.and_then(|c| c.get(i)).map(String::as_str).unwrap_or("");
                        tr {
                            td { label for=(format!("map-{i}")) { (col) } }
                            td { select id=(format!("map-{i}")) name=(format!("col{i}")) {
                                option value="" selected[sel.is_empty()] { (lang.t("import.map_choose")) }
                                option value="ignore" selected[sel == "ignore"] { (lang.t("import.map_ignore")) }
                                @if j.entity == Entity::Customers {
                                    option value="custom" selected[sel == "custom"] { (lang.t("import.map_custom")) }
                                }
                                @for f in &fields {
                                    option value=(f) selected[sel == *f] { (crate::errors::field_label(lang, f)) " (" (f) ")" }
                                }
                            } }
                        }
                    }
                } }
                div.actions.mt { button.primary type="submit" id="map-start" { (lang.t("import.map_start")) } }
            }
        }
    }
}

/// The viewer's job named in the path (another user's job is not found, like a missing one).
async fn job_of(
    st: &WebState,
    me: &Session,
    raw: &str,
) -> Result<Option<Job>, patron_store::StoreError> {
    let Ok(id) = raw.parse::<i64>() else {
        return Ok(None);
    };
    Ok(st.store.import_job(id, me.user.id).await?.map(Job::of))
}

fn no_job(lang: Lang) -> Response {
    error_page(
        lang,
        StatusCode::NOT_FOUND,
        lang.t("error.not_found"),
        lang.t("import.no_job"),
    )
}

/// `GET /import/{id}/progress`: `{state, bytes, total_bytes, rows, percent}`.
pub async fn progress(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let j = match job_of(&st, &me, &raw).await {
        Ok(Some(j)) => j,
        Ok(None) => return no_job(lang),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let state = match &j.state {
        JobState::Running => "running",
        JobState::Mapping(_) => "mapping",
        JobState::Done(_) => "done",
        JobState::Failed(_) => "failed",
    };
    let body = serde_json::json!({
        "state": state,
        "bytes": j.bytes,
        "total_bytes": j.total_bytes,
        "rows": j.rows,
        "percent": percent(&j),
    });
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body.to_string(),
    )
        .into_response()
}

fn percent(j: &Job) -> f64 {
    if j.state != JobState::Running {
        return 100.0;
    }
    if j.total_bytes == 0 {
        0.0
    } else {
        (j.bytes as f64 * 100.0 / j.total_bytes as f64).clamp(0.0, 100.0)
    }
}

/// The first rejected rows: (line, error).
fn read_rejects(bytes: &[u8], limit: usize) -> Vec<(String, String)> {
    let mut r = csv::Reader::from_reader(bytes);
    r.records()
        .filter_map(Result::ok)
        .take(limit)
        .map(|rec| {
            (
                rec.get(0).unwrap_or("").to_string(),
                rec.get(1).unwrap_or("").to_string(),
            )
        })
        .collect()
}

pub async fn status(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    match job_of(&st, &me, &raw).await {
        Ok(Some(job)) => status_page(&st, lang, &job, StatusCode::OK, None).await,
        Ok(None) => no_job(lang),
        Err(e) => crate::store_error_page(lang, &e),
    }
}

/// The page of a job: the mapping step, the progress, or the report.
async fn status_page(
    st: &WebState,
    lang: Lang,
    j: &Job,
    code: StatusCode,
    chosen: Option<&[String]>,
) -> Response {
    let errors = match &j.state {
        JobState::Done(r) if r.rejected > 0 => {
            match st.store.import_job_rejects(j.id, j.owner).await {
                Ok(Some(bytes)) => {
                    tokio::task::spawn_blocking(move || read_rejects(&bytes, SHOW_ERRORS))
                        .await
                        .unwrap_or_default()
                }
                Ok(None) => Vec::new(),
                Err(e) => return crate::store_error_page(lang, &e),
            }
        }
        _ => Vec::new(),
    };
    let pct = percent(j);
    let body = html! {
        div.pagehead { div {
            p.crumbs { a href="/import" { "← " (lang.t("import.title")) } }
            h1 { (j.file_name) " " small { (lang.t(&format!("import.{}", entity_code(j.entity)))) } }
            p.sub { (lang.t("import.started")) " " (i18n::datetime(lang, j.started)) " UTC" }
        } (state_badge(lang, &j.state)) }
        @if let JobState::Mapping(unknown) = &j.state {
            (mapping_form(lang, j, unknown, chosen))
        }
        section.panel id="import-status" data-state=(match j.state { JobState::Running => "running", JobState::Mapping(_) => "mapping", JobState::Done(_) => "done", JobState::Failed(_) => "failed" }) {
            @if !matches!(j.state, JobState::Mapping(_)) {
                div.progress { div.bar id="progress-bar" style=(format!("width: {pct:.1}%")) {} }
                p.small.muted id="progress-text" {
                    (format!("{pct:.0}%")) " · " (i18n::count(j.rows)) " " (lang.t("import.rows_read"))
                }
            }
            @match &j.state {
                JobState::Mapping(_) => {}
                JobState::Running => {
                    p { (lang.t("import.running_note")) }
                    script src="/static/poll.js" data-progress=(format!("/import/{}/progress", j.id)) {}
                }
                JobState::Failed(e) => {
                    div.notice.error id="import-failed" { p { strong { (lang.t("import.failed")) } } pre.rowerrors { (failure_text(lang, e)) } }
                }
                JobState::Done(r) => {
                    div.kpis.six id="import-report" {
                        div.kpi { span { (lang.t("import.rows")) } strong { (i18n::count(r.rows)) } }
                        div.kpi { span { (lang.t("import.inserted")) } strong { (i18n::count(r.inserted)) } }
                        div.kpi { span { (lang.t("import.already")) } strong { (i18n::count(r.already_present)) } }
                        div.kpi.risk { span { (lang.t("import.rejected")) } strong { (i18n::count(r.rejected)) } }
                        div.kpi { span { (lang.t("import.created")) } strong { (i18n::count(r.customers_created)) } }
                        div.kpi { span { (lang.t("import.seconds")) } strong { (format!("{:.2} s", j.seconds)) } }
                    }
                    @if r.rejected > 0 {
                        h2 { (lang.t("import.row_errors")) }
                        pre.rowerrors id="row-errors" {
                            @for (line, e) in &errors { (crate::errors::import_where(lang, &j.file_name, line)) (crate::errors::import_error_text(lang, &rejects_web(e))) "\n" }
                        }
                        @if r.rejected as usize > errors.len() { p.muted.small { (lang.t("import.more_errors")) } }
                        a.button href=(format!("/import/{}/rejects.csv", j.id)) id="rejects" { (lang.t("import.download_rejects")) }
                    } @else {
                        div.notice.ok { (lang.t("import.all_good")) }
                    }
                    @if r.inserted > 0 {
                        p.small.mt { (lang.t("import.recompute_hint")) " " a href="/dashboard" { (lang.t("nav.dashboard")) " →" } }
                    }
                }
            }
        }
    };
    html(
        code,
        layout::page_at(lang, lang.t("import.title"), "import", "/import", body),
    )
}

/// Polls the progress endpoint, moves the bar, reloads the page when the job ends.
/// Polls the progress of an import (`/static/poll.js`; the URL comes from the script tag's
/// `data-progress`, so the page has no inline script for the Content-Security-Policy to allow).
pub(crate) const POLL_JS: &str = r#"(function(){var u=document.currentScript.dataset.progress;var b=document.getElementById('progress-bar'),t=document.getElementById('progress-text');function tick(){fetch(u,{cache:'no-store'}).then(function(r){return r.json();}).then(function(p){b.style.width=p.percent.toFixed(1)+'%';t.firstChild.textContent=p.percent.toFixed(0)+'% · '+p.rows.toLocaleString('en-US')+' ';if(p.state!=='running'){location.reload();}else{setTimeout(tick,500);}}).catch(function(){setTimeout(tick,2000);});}setTimeout(tick,300);})();"#;

pub async fn rejects(
    State(st): State<WebState>,
    Ctx { lang }: Ctx,
    Extension(me): Extension<Session>,
    Path(raw): Path<String>,
) -> Response {
    let job = match job_of(&st, &me, &raw).await {
        Ok(Some(j)) => j,
        Ok(None) => return no_job(lang),
        Err(e) => return crate::store_error_page(lang, &e),
    };
    let name = job.file_name.clone();
    match st.store.import_job_rejects(job.id, job.owner).await {
        Ok(Some(bytes)) => {
            let disposition = format!("attachment; filename=\"rejects-{}\"", safe_name(&name));
            let mut resp = (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/csv; charset=utf-8"),
                )],
                bytes,
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Ok(None) => error_page(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("import.no_rejects"),
        ),
        Err(e) => crate::store_error_page(lang, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::safe_name;

    #[test]
    fn upload_names_are_made_safe() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("C:\\x\\orders 2024.csv"), "orders_2024.csv");
        assert_eq!(safe_name(".hidden"), "upload.hidden.csv");
        assert_eq!(safe_name(""), "upload.csv");
    }
}
