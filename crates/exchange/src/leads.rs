//! Bulk import of leads (a trade show's business cards, a web form's export): CSV with a header
//! (English and Chinese column names recognised, `--map COLUMN=FIELD` for the rest), one
//! transaction per batch, idempotent by the lead's source and normalised e-mail / phone / name
//! (a second run of the same file stores nothing), a malformed row reported as
//! `FILE:LINE: column X: reason` (or written to the rejects file with `skip_bad`).
//!
//! Columns `campaign` (a campaign's name) and `owner` (a username) are looked up; the options'
//! `campaign`, `owner` and `source` apply to rows that leave them empty.

use std::collections::HashMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use patron_store::{ImportLead, LeadInput, Store, StoreError};

use crate::columns::{parse_mapping_in, resolve_in, Field, Known};
use crate::error::{ImportError, RowError};
use crate::import::{ImportReport, Progress};

const KNOWN: Known = &[
    (
        "name",
        &[
            "name",
            "fullname",
            "contact",
            "contactname",
            "person",
            "姓名",
            "联系人",
            "名字",
        ],
    ),
    (
        "company",
        &[
            "company",
            "companyname",
            "organisation",
            "organization",
            "account",
            "公司",
            "公司名称",
            "单位",
        ],
    ),
    (
        "title",
        &["title", "jobtitle", "position", "职位", "职务", "头衔"],
    ),
    (
        "phone",
        &[
            "phone",
            "tel",
            "telephone",
            "mobile",
            "cell",
            "phonenumber",
            "电话",
            "手机",
        ],
    ),
    (
        "email",
        &["email", "mail", "emailaddress", "邮箱", "电子邮件", "电邮"],
    ),
    (
        "region",
        &[
            "region", "area", "province", "state", "city", "地区", "区域", "省份", "城市",
        ],
    ),
    ("industry", &["industry", "sector", "行业"]),
    ("source", &["source", "leadsource", "来源", "线索来源"]),
    (
        "campaign",
        &["campaign", "campaignname", "活动", "市场活动"],
    ),
    (
        "owner",
        &["owner", "rep", "salesrep", "assignedto", "负责人", "销售"],
    ),
    (
        "notes",
        &[
            "notes", "note", "remarks", "comment", "comments", "备注", "说明",
        ],
    ),
];

const REQUIRED: &[&str] = &["name"];

/// How to import a leads file.
#[derive(Debug, Clone)]
pub struct LeadImportOptions {
    /// `COLUMN=FIELD` mappings for columns whose names are not recognised.
    pub maps: Vec<String>,
    /// Store the good rows and write the bad ones (with their reason) to this CSV file.
    pub skip_bad: Option<PathBuf>,
    /// Rows per transaction.
    pub batch_rows: usize,
    /// Campaign (by name) of rows without one.
    pub campaign: Option<String>,
    /// Owner (by username) of rows without one.
    pub owner: Option<String>,
    /// Source of rows without one.
    pub source: Option<String>,
}

impl Default for LeadImportOptions {
    fn default() -> Self {
        LeadImportOptions {
            maps: Vec::new(),
            skip_bad: None,
            batch_rows: 1_000,
            campaign: None,
            owner: None,
            source: None,
        }
    }
}

/// One parsed row: the lead with its campaign and owner still by name.
struct Parsed {
    lead: LeadInput,
    campaign: Option<String>,
    owner: Option<String>,
}

struct Row {
    line: u64,
    parsed: Result<Parsed, (Option<String>, String)>,
    raw: Vec<String>,
}

/// Imports the leads of `path` (see the module doc). On a bad row without `skip_bad`, stops
/// with [`ImportError::BadRow`]: the batches before it are stored, the bad batch is not.
pub async fn import_leads(
    store: &Store,
    path: &Path,
    opts: &LeadImportOptions,
    progress: impl Fn(Progress),
) -> Result<ImportReport, ImportError> {
    let input = crate::input::open(path)?;
    let file_name = input.name;
    let file_err = |message: String| ImportError::File {
        file: file_name.clone(),
        message,
    };
    let maps = opts
        .maps
        .iter()
        .map(|m| parse_mapping_in(KNOWN, false, m))
        .collect::<Result<Vec<_>, _>>()
        .map_err(file_err)?;
    let file = input.reader;
    let total_bytes = input.size.unwrap_or(0);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(BufReader::new(file));
    let mut rec = csv::StringRecord::new();
    let has_header = rdr
        .read_record(&mut rec)
        .map_err(|e| file_err(format!("line 1: {e} (save the file as UTF-8 CSV)")))?;
    if !has_header {
        return Err(file_err(
            "is empty (expected a header line and rows)".into(),
        ));
    }
    let headers: Vec<String> = rec
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let fields = resolve_in(KNOWN, REQUIRED, &headers, &maps)
        .map_err(|m| file_err(format!("line 1: {m}")))?;
    let header_of = |field: &str| -> String {
        fields
            .iter()
            .zip(&headers)
            .find(|(f, _)| matches!(f, Field::Named(n) if *n == field))
            .map(|(_, h)| h.clone())
            .unwrap_or_else(|| field.to_string())
    };
    let mut rejects = match &opts.skip_bad {
        Some(p) => Some(csv::Writer::from_path(p).map_err(|e| ImportError::File {
            file: p.display().to_string(),
            message: format!("cannot write rejects: {e}"),
        })?),
        None => None,
    };
    let keep_raw = rejects.is_some();
    let mut report = ImportReport::default();
    let mut campaigns: HashMap<String, Option<i64>> = HashMap::new();
    // By user name: the id, or why the user cannot own a lead.
    let mut owners: HashMap<String, Result<i64, &'static str>> = HashMap::new();
    let cap = opts.batch_rows.max(1);
    let mut header_written = false;
    loop {
        let mut rows: Vec<Row> = Vec::with_capacity(cap.min(10_000));
        while rows.len() < cap {
            match rdr.read_record(&mut rec) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => {
                    let line = e.position().map(|p| p.line()).unwrap_or(0);
                    rows.push(Row {
                        line,
                        parsed: Err((
                            None,
                            format!("unreadable CSV: {e} (save the file as UTF-8)"),
                        )),
                        raw: Vec::new(),
                    });
                    continue;
                }
            }
            let line = rec.position().map(|p| p.line()).unwrap_or(0);
            if rec.iter().all(|c| c.trim().is_empty()) {
                continue; // blank line
            }
            let raw = if keep_raw {
                rec.iter().map(str::to_string).collect()
            } else {
                Vec::new()
            };
            rows.push(Row {
                line,
                parsed: parse_row(&rec, &headers, &fields, opts),
                raw,
            });
        }
        if rows.is_empty() {
            break;
        }
        report.rows += rows.len() as u64;
        // Look up the campaigns and owners the batch names.
        for row in &rows {
            let Ok(p) = &row.parsed else { continue };
            if let Some(c) = &p.campaign {
                if !campaigns.contains_key(c) {
                    let id = store
                        .campaign_ids(std::slice::from_ref(c))
                        .await?
                        .get(c)
                        .copied();
                    campaigns.insert(c.clone(), id);
                }
            }
            if let Some(o) = &p.owner {
                if !owners.contains_key(o) {
                    let id = match store.user_by_name(o).await {
                        // A leaver receives nothing new.
                        Ok(u) if u.disabled => Err("is disabled"),
                        Ok(u) => Ok(u.id),
                        Err(StoreError::NotFound { .. }) => Err("does not exist"),
                        Err(e) => return Err(e.into()),
                    };
                    owners.insert(o.clone(), id);
                }
            }
        }
        let mut good = Vec::with_capacity(rows.len());
        let mut bad: Vec<(Vec<String>, RowError)> = Vec::new();
        for row in rows {
            let err = |column: Option<String>, reason: String| RowError {
                file: file_name.clone(),
                line: row.line,
                column,
                reason,
            };
            let checked = row.parsed.and_then(|p| {
                let mut lead = p.lead;
                if let Some(c) = &p.campaign {
                    lead.campaign_id = Some(campaigns.get(c).copied().flatten().ok_or_else(|| {
                        (Some(header_of("campaign")), format!("campaign '{}' does not exist; record it first (patron campaign add)", patron_domain::excerpt(c)))
                    })?);
                }
                if let Some(o) = &p.owner {
                    lead.owner_id = Some(owners.get(o).copied().unwrap_or(Err("does not exist")).map_err(|why| {
                        (Some(header_of("owner")), format!("user '{}' {why}", patron_domain::excerpt(o)))
                    })?);
                }
                lead.validate().map_err(|e| match e {
                    StoreError::Invalid(errors) if !errors.is_empty() => (
                        Some(header_of(&errors[0].field)),
                        errors.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; "),
                    ),
                    other => (None, other.to_string()),
                })
            });
            match checked {
                Ok(lead) => good.push(ImportLead {
                    import_key: lead.import_key(),
                    data: lead,
                }),
                Err((column, reason)) => bad.push((row.raw, err(column, reason))),
            }
        }
        if !bad.is_empty() {
            match rejects.as_mut() {
                None => return Err(ImportError::BadRow(bad.swap_remove(0).1, report.inserted)),
                Some(w) => {
                    if !header_written {
                        w.write_record(["line", "error", "row"])
                            .map_err(|e| ImportError::Io(e.into()))?;
                        header_written = true;
                    }
                    for (raw, e) in &bad {
                        let reason = match &e.column {
                            Some(c) => {
                                format!("column {}: {}", patron_domain::excerpt(c), e.reason)
                            }
                            None => e.reason.clone(),
                        };
                        w.write_record([e.line.to_string(), reason, raw.join(",")])
                            .map_err(|e| ImportError::Io(e.into()))?;
                    }
                    report.rejected += bad.len() as u64;
                }
            }
        }
        let inserted = if good.is_empty() {
            0
        } else {
            store.import_leads(&good).await?
        };
        report.inserted += inserted;
        report.already_present += good.len() as u64 - inserted;
        progress(Progress {
            bytes: rdr.position().byte(),
            total_bytes,
            rows: report.rows,
        });
    }
    if let Some(mut w) = rejects {
        w.flush()?;
    }
    if report.rows == 0 {
        return Err(file_err("has no data rows".into()));
    }
    Ok(report)
}

fn parse_row(
    rec: &csv::StringRecord,
    headers: &[String],
    fields: &[Field],
    opts: &LeadImportOptions,
) -> Result<Parsed, (Option<String>, String)> {
    if rec.len() != headers.len() {
        return Err((None, format!("expected {} columns, found {} (a truncated line, or a comma inside an unquoted value?)", headers.len(), rec.len())));
    }
    let mut p = Parsed {
        lead: LeadInput::default(),
        campaign: None,
        owner: None,
    };
    for (field, cell) in fields.iter().zip(rec.iter()) {
        let v = Some(crate::cells::unsafe_cell(cell.trim()).to_string()).filter(|s| !s.is_empty());
        let l = &mut p.lead;
        match field {
            Field::Named("name") => l.name = v.unwrap_or_default(),
            Field::Named("company") => l.company = v,
            Field::Named("title") => l.title = v,
            Field::Named("phone") => l.phone = v,
            Field::Named("email") => l.email = v,
            Field::Named("region") => l.region = v,
            Field::Named("industry") => l.industry = v,
            Field::Named("source") => l.source = v,
            Field::Named("notes") => l.notes = v,
            Field::Named("campaign") => p.campaign = v,
            Field::Named("owner") => p.owner = v,
            _ => {}
        }
    }
    if p.lead.name.is_empty() {
        // A card with only a company still names someone to ask for.
        match &p.lead.company {
            Some(c) => p.lead.name = c.clone(),
            None => {
                let col = fields
                    .iter()
                    .position(|f| *f == Field::Named("name"))
                    .map(|i| headers[i].clone());
                return Err((
                    col,
                    "is empty (every lead needs a name or a company)".into(),
                ));
            }
        }
    }
    p.lead.source = p.lead.source.or_else(|| opts.source.clone());
    p.campaign = p.campaign.or_else(|| opts.campaign.clone());
    p.owner = p.owner.or_else(|| opts.owner.clone());
    Ok(p)
}
