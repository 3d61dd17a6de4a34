//! The import page (`/import`): a CSV upload (multipart, at most [`UPLOAD_LIMIT`] bytes) of
//! customers, orders or interactions, imported with the CLI's rules
//! (`patron_exchange::import_file`) in a background task; `/import/{id}` shows the progress
//! (polling `/import/{id}/progress`, JSON) and then the report with the row errors
//! (`FILE:LINE: column X: reason`); `/import/{id}/rejects.csv` downloads the rejected rows.
//!
//! Jobs live in memory (the last [`KEEP_JOBS`]), each with bounded state: a failure is kept as a
//! message that quotes excerpts of values only (`patron_domain::text`). The upload is written to
//! a directory of its own under [`upload_root`]; the uploaded file is removed as soon as the job
//! ends (done, failed or panicked: [`UploadGuard`]), and the directory with the rejects file
//! when the job is dropped from the list (or at once when there are no rejects).

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
use tokio::io::AsyncWriteExt;

use crate::i18n::{self, Lang};
use crate::{error_page, html, layout, Ctx, WebState};

/// Largest accepted upload (64 MiB).
pub const UPLOAD_LIMIT: usize = 64 * 1024 * 1024;
/// Jobs kept in the list.
pub const KEEP_JOBS: usize = 20;
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

#[derive(Debug)]
pub struct Job {
    pub id: u64,
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
    dir: PathBuf,
    /// The uploaded file, until the import has read it.
    upload: PathBuf,
    create_customers: bool,
    stop_on_error: bool,
}

impl Job {
    fn rejects(&self) -> PathBuf {
        self.dir.join("rejects.csv")
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type JobRef = Arc<Mutex<Job>>;

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

/// The import jobs of this process.
#[derive(Clone, Default, Debug)]
pub struct Jobs(Arc<Mutex<(u64, Vec<JobRef>)>>);

impl Jobs {
    fn add(&self, make: impl FnOnce(u64) -> Job) -> JobRef {
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.0 += 1;
        let job = Arc::new(Mutex::new(make(g.0)));
        g.1.push(job.clone());
        // Forget the oldest finished jobs beyond the limit.
        while g.1.len() > KEEP_JOBS {
            match g.1.iter().position(|j| lock(j).state != JobState::Running) {
                Some(i) => {
                    g.1.remove(i);
                }
                None => break,
            }
        }
        job
    }

    /// Job `id` when `owner` started it.
    fn get(&self, id: u64, owner: i64) -> Option<JobRef> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter()
            .find(|j| {
                let j = lock(j);
                j.id == id && j.owner == owner
            })
            .cloned()
    }

    /// The jobs `owner` started, newest first.
    fn of(&self, owner: i64) -> Vec<JobRef> {
        let g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        g.1.iter()
            .rev()
            .filter(|j| lock(j).owner == owner)
            .cloned()
            .collect()
    }
}

fn lock(j: &JobRef) -> std::sync::MutexGuard<'_, Job> {
    j.lock().unwrap_or_else(|e| e.into_inner())
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
    page_with(&st, lang, &me, None, StatusCode::OK)
}

fn page_with(
    st: &WebState,
    lang: Lang,
    me: &Session,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let jobs = st.imports.of(me.user.id);
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
                        @let j = lock(j);
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
    let bad = |key: &str, status| page_with(&st, lang, &me, Some(lang.t(key)), status);
    if patron_app::imports::authorize(&me).is_err() {
        return bad("auth.role", StatusCode::FORBIDDEN);
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
                    bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE)
                } else {
                    bad("import.bad_upload", StatusCode::BAD_REQUEST)
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
                    return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR);
                }
                let path = dir.join(&name);
                let mut out = match tokio::fs::File::create(&path).await {
                    Ok(f) => f,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot write the upload");
                        return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR);
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
                                return bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE);
                            }
                            if out.write_all(&chunk).await.is_err() {
                                let _ = tokio::fs::remove_dir_all(&dir).await;
                                return bad("error.internal", StatusCode::INTERNAL_SERVER_ERROR);
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tokio::fs::remove_dir_all(&dir).await;
                            return if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                                bad("import.too_large", StatusCode::PAYLOAD_TOO_LARGE)
                            } else {
                                bad("import.bad_upload", StatusCode::BAD_REQUEST)
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
        return bad("import.no_file", StatusCode::BAD_REQUEST);
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
    let job = st.imports.add(|id| Job {
        id,
        owner: me.user.id,
        file_name: name.clone(),
        entity,
        started: Utc::now(),
        seconds: 0.0,
        bytes: 0,
        total_bytes: size,
        rows: 0,
        state: if unknown.is_empty() {
            JobState::Running
        } else {
            JobState::Mapping(unknown)
        },
        dir: dir.clone(),
        upload: path.clone(),
        create_customers,
        stop_on_error,
    });
    let id = lock(&job).id;
    // The job owns the directory now (removed when it is dropped from the list).
    upload_guard.whole_dir = false;
    upload_guard.path = PathBuf::new();
    if lock(&job).state == JobState::Running {
        start(&st, &me, job, Vec::new());
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

/// Runs `job`'s import in a background task, with `maps` (`COLUMN=FIELD`, as the CLI's
/// `--map`) for the columns the importer does not know.
fn start(st: &WebState, me: &Session, job: JobRef, maps: Vec<String>) {
    let (path, name, dir, entity, create_customers, stop_on_error) = {
        let j = lock(&job);
        (
            j.upload.clone(),
            j.file_name.clone(),
            j.dir.clone(),
            j.entity,
            j.create_customers,
            j.stop_on_error,
        )
    };
    // The uploaded file goes when the task ends, however it ends.
    let upload_guard = UploadGuard {
        path: path.clone(),
        whole_dir: false,
    };
    let mut opts = ImportOptions::new(entity, InputFormat::Csv);
    opts.create_customers = create_customers;
    opts.maps = maps;
    if !stop_on_error {
        opts.skip_bad = Some(dir.join("rejects.csv"));
        // The rejects file stays on the server with the job: no cell of it whole beyond any
        // field's length.
        opts.reject_cell_chars = Some(REJECT_CELL_CHARS);
    }
    let store = st.store.clone();
    let me = me.clone();
    tokio::spawn(async move {
        let upload = upload_guard;
        let started = std::time::Instant::now();
        let j = job.clone();
        let result = patron_app::imports::import_file(&store, &me, &path, &name, opts, move |p| {
            let mut g = lock(&j);
            g.bytes = p.bytes;
            g.total_bytes = p.total_bytes.max(g.total_bytes);
            g.rows = p.rows;
        })
        .await;
        drop(upload);
        let mut g = lock(&job);
        g.seconds = started.elapsed().as_secs_f64();
        g.state = match result {
            Ok(r) => {
                g.bytes = g.total_bytes;
                g.rows = r.rows;
                JobState::Done(r)
            }
            // Name the upload, not the temporary path; never more than a bounded message.
            Err(e) => JobState::Failed(patron_domain::text::bounded(
                &failure(&e).replace(&path.display().to_string(), &name),
            )),
        };
        // No rejects to download: nothing of the job needs its directory any more.
        if !matches!(&g.state, JobState::Done(r) if r.rejected > 0) {
            let _ = std::fs::remove_dir_all(&g.dir);
        }
        // Counts only: a failure's message quotes the file's values.
        let (state, rejected) = match &g.state {
            JobState::Running | JobState::Mapping(_) => ("running", 0),
            JobState::Done(r) => ("done", r.rejected),
            JobState::Failed(_) => ("failed", 0),
        };
        tracing::info!(
            job = g.id,
            state,
            rows = g.rows,
            rejected,
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
    let Some(job) = job_of(&st, &me, &raw) else {
        return no_job(lang);
    };
    let (unknown, entity, id) = {
        let j = lock(&job);
        match &j.state {
            JobState::Mapping(u) => (u.clone(), j.entity, j.id),
            _ => return Redirect::to(&format!("/import/{}", j.id)).into_response(),
        }
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
    lock(&job).state = JobState::Running;
    start(&st, &me, job, maps);
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
fn job_of(st: &WebState, me: &Session, raw: &str) -> Option<JobRef> {
    raw.parse::<u64>()
        .ok()
        .and_then(|id| st.imports.get(id, me.user.id))
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
    let Some(job) = job_of(&st, &me, &raw) else {
        return no_job(lang);
    };
    let j = lock(&job);
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
fn read_rejects(path: &std::path::Path, limit: usize) -> Vec<(String, String)> {
    let Ok(mut r) = csv::Reader::from_path(path) else {
        return Vec::new();
    };
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
    let Some(job) = job_of(&st, &me, &raw) else {
        return no_job(lang);
    };
    status_page(&st, lang, &job, StatusCode::OK, None).await
}

/// The page of a job: the mapping step, the progress, or the report.
async fn status_page(
    _st: &WebState,
    lang: Lang,
    job: &JobRef,
    code: StatusCode,
    chosen: Option<&[String]>,
) -> Response {
    let (rejects_path, state) = {
        let j = lock(job);
        (j.rejects(), j.state.clone())
    };
    let errors = match &state {
        JobState::Done(r) if r.rejected > 0 => {
            tokio::task::spawn_blocking(move || read_rejects(&rejects_path, SHOW_ERRORS))
                .await
                .unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let j = lock(job);
    let pct = percent(&j);
    let body = html! {
        div.pagehead { div {
            p.crumbs { a href="/import" { "← " (lang.t("import.title")) } }
            h1 { (j.file_name) " " small { (lang.t(&format!("import.{}", entity_code(j.entity)))) } }
            p.sub { (lang.t("import.started")) " " (i18n::datetime(lang, j.started)) " UTC" }
        } (state_badge(lang, &j.state)) }
        @if let JobState::Mapping(unknown) = &j.state {
            (mapping_form(lang, &j, unknown, chosen))
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
    drop(j);
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
    let Some(job) = job_of(&st, &me, &raw) else {
        return no_job(lang);
    };
    let (path, name) = {
        let j = lock(&job);
        (j.rejects(), j.file_name.clone())
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
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
        Err(_) => error_page(
            lang,
            StatusCode::NOT_FOUND,
            lang.t("error.not_found"),
            lang.t("import.no_rejects"),
        ),
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
