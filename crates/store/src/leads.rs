//! Leads: people captured before they are customers (a trade show's business cards, a web form),
//! worked through `new -> contacted -> qualified`, then converted into a customer (a new one, or
//! an existing one they turn out to be) or disqualified with a reason.
//!
//! Conversion is one transaction: the customer (status `tracking`, attributed to the lead's
//! campaign through its `source`, as campaigns count customers), a contact for the lead's person,
//! an interaction holding everything the lead knew that has no field on the customer (title,
//! source, notes), the customer's history, and the lead marked converted with the customer's id.
//! Visibility follows the customers': a lead's `owner_id` decides who sees and works it.

use chrono::{DateTime, Utc};
use patron_domain::normalize::{email_key, name_key, phone_key};
use patron_domain::{ContactInput, CustomerInput, CustomerStatus};
use serde::{Deserialize, Serialize};

use crate::commit;
use crate::customers::{bind_all, Bind, Where};
use crate::import::values_sql;
use crate::page::{decode_cursor, encode_cursor};
use crate::BeginWrite;
use crate::{now, with_pool, Page, PageRequest, Store, StoreError, User, Visibility};

/// The statuses of a lead, in pipeline order.
pub use patron_domain::pipeline::LEAD_STATUSES;

/// The interaction kind a converted lead's record is written as: the lead was met (a trade show
/// stand, a call back on a web form) before it became a customer.
const CONVERSION_KIND: &str = "meeting";

/// A lead as entered by hand, through the API, or by an import row.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadInput {
    pub name: String,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    /// Where the lead came from (trade show, web, referral, ...).
    #[serde(default)]
    pub source: Option<String>,
    /// The campaign that brought it.
    #[serde(default)]
    pub campaign_id: Option<i64>,
    #[serde(default)]
    pub owner_id: Option<i64>,
    #[serde(default)]
    pub notes: Option<String>,
}

impl LeadInput {
    /// Trims the texts and checks them with the rules of the customer and contact they become.
    pub fn validate(mut self) -> Result<Self, StoreError> {
        let trim = |v: &mut Option<String>| {
            *v = v
                .take()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        for v in [
            &mut self.company,
            &mut self.title,
            &mut self.phone,
            &mut self.email,
            &mut self.region,
            &mut self.industry,
            &mut self.source,
            &mut self.notes,
        ] {
            trim(v);
        }
        self.name = self.name.trim().to_string();
        let mut errors = Vec::new();
        if let Err(e) = self.customer_input().validate() {
            errors.extend(e);
        }
        if let Err(e) = self.contact_input().validate() {
            for f in e {
                if !errors.iter().any(|x| x.field == f.field) {
                    errors.push(f);
                }
            }
        }
        if errors.is_empty() {
            Ok(self)
        } else {
            Err(StoreError::Invalid(errors))
        }
    }

    /// The customer a new conversion creates: the company (or the person, without one).
    fn customer_input(&self) -> CustomerInput {
        CustomerInput {
            name: self.company.clone().unwrap_or_else(|| self.name.clone()),
            company: self.company.clone(),
            industry: self.industry.clone(),
            region: self.region.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            source: self.source.clone(),
            status: CustomerStatus::Tracking,
            owner_id: self.owner_id,
            ..Default::default()
        }
    }

    /// The lead's person as a contact of the customer.
    fn contact_input(&self) -> ContactInput {
        ContactInput {
            name: self.name.clone(),
            title: self.title.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            is_primary: true,
            ..ContactInput::default()
        }
    }

    /// The key that makes an import idempotent: source + normalised e-mail, else phone, else
    /// name and company.
    pub fn import_key(&self) -> String {
        let who = self
            .email
            .as_deref()
            .and_then(email_key)
            .map(|e| format!("e:{e}"))
            .or_else(|| {
                self.phone
                    .as_deref()
                    .and_then(phone_key)
                    .map(|p| format!("p:{p}"))
            })
            .or_else(|| name_key(&self.name, self.company.as_deref()).map(|n| format!("n:{n}")))
            .unwrap_or_else(|| format!("n:{}", self.name.to_lowercase()));
        format!(
            "{}|{who}",
            self.source.as_deref().unwrap_or_default().to_lowercase()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Lead {
    pub id: i64,
    pub name: String,
    pub company: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub region: Option<String>,
    pub industry: Option<String>,
    pub source: Option<String>,
    pub campaign_id: Option<i64>,
    pub owner_id: Option<i64>,
    /// `new`, `contacted`, `qualified`, `converted` or `disqualified`.
    pub status: String,
    pub disqualified_reason: Option<String>,
    pub notes: Option<String>,
    pub converted_customer_id: Option<i64>,
    pub converted_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, company, title, phone, email, region, industry, source, campaign_id, owner_id, \
     status, disqualified_reason, notes, converted_customer_id, converted_at, created_at, updated_at";

/// A move of a lead to another status (`contacted`, `qualified`, `disqualified` with a reason,
/// or back to `new` to reopen a disqualified one). Conversion has its own call.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeadStatusChange {
    pub status: String,
    /// Why a lead is disqualified (required then, refused otherwise).
    #[serde(default)]
    pub reason: Option<String>,
}

/// How to convert a lead.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvertLead {
    /// Convert into this existing customer instead of creating one.
    #[serde(default)]
    pub into: Option<i64>,
    /// Create a new customer even though existing ones share the lead's phone or e-mail.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// What a conversion did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LeadConversion {
    pub lead: Lead,
    pub customer_id: i64,
    pub customer_number: String,
    /// False when converted into an existing customer.
    pub created_customer: bool,
    /// The lead's person on the customer (an existing contact with the same name or e-mail is
    /// reused).
    pub contact_id: i64,
    /// The interaction holding the lead's title, source and notes.
    pub interaction_id: i64,
}

/// An existing customer a lead probably is (same normalised phone or e-mail).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LikelyCustomer {
    pub customer_id: i64,
    pub number: String,
    pub name: String,
    /// `phone` or `email`.
    pub matched_on: String,
    pub owner_id: Option<i64>,
}

/// What a lead list may be narrowed to.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct LeadFilter {
    pub status: Option<String>,
    pub owner_id: Option<i64>,
    pub campaign_id: Option<i64>,
}

/// Leads per status (the funnel).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LeadFunnel {
    pub new: i64,
    pub contacted: i64,
    pub qualified: i64,
    pub converted: i64,
    pub disqualified: i64,
}

/// A validated lead row of an import with its idempotence key.
#[derive(Debug, Clone)]
pub struct ImportLead {
    pub import_key: String,
    pub data: LeadInput,
}

fn check_status_name(status: &str) -> Result<(), StoreError> {
    patron_domain::pipeline::check_lead_status(status).map_err(|e| StoreError::Invalid(vec![e]))
}

fn illegal(message: String) -> StoreError {
    StoreError::Conflict {
        code: None,
        message,
        current_version: None,
    }
}

/// Checks a status change of lead `lead` (the rules: `patron_domain::pipeline`).
fn check_transition(lead: &Lead, to: &str) -> Result<(), StoreError> {
    use patron_domain::pipeline::{check_lead_move, LeadMoveRefused};
    check_lead_move(lead.id, &lead.status, to, lead.converted_customer_id).map_err(|e| match e {
        LeadMoveRefused::Invalid(f) => StoreError::Invalid(vec![f]),
        LeadMoveRefused::Conflict(message) => illegal(message),
    })
}

impl Store {
    async fn check_lead_references(&self, l: &LeadInput) -> Result<(), StoreError> {
        if let Some(c) = l.campaign_id {
            let n: i64 = with_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM campaigns WHERE id = $1").bind(c).fetch_one(pool).await?);
            if n == 0 {
                return Err(StoreError::invalid(
                    "campaign_id",
                    format!("campaign {c} does not exist"),
                ));
            }
        }
        if let Some(o) = l.owner_id {
            match self.user(o).await {
                Err(StoreError::NotFound { .. }) => {
                    return Err(StoreError::invalid(
                        "owner_id",
                        format!("user {o} does not exist"),
                    ))
                }
                // A leaver receives nothing new.
                Ok(u) if u.disabled => {
                    return Err(StoreError::invalid(
                        "owner_id",
                        format!("user '{}' is disabled", u.username),
                    ))
                }
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Records a lead (status `new`).
    pub async fn create_lead(&self, input: LeadInput) -> Result<Lead, StoreError> {
        let l = input.validate()?;
        self.check_lead_references(&l).await?;
        let at = now();
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO leads (name, company, title, phone, email, region, industry, source, campaign_id, owner_id, status, notes, phone_key, email_key, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'new', $11, $12, $13, $14, $14) RETURNING id")
            .bind(&l.name).bind(&l.company).bind(&l.title).bind(&l.phone).bind(&l.email).bind(&l.region)
            .bind(&l.industry).bind(&l.source).bind(l.campaign_id).bind(l.owner_id).bind(&l.notes)
            .bind(l.phone.as_deref().and_then(phone_key)).bind(l.email.as_deref().and_then(email_key)).bind(at)
            .fetch_one(pool).await?);
        self.lead(id).await
    }

    pub async fn lead(&self, id: i64) -> Result<Lead, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM leads WHERE id = $1");
        let row: Option<Lead> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.ok_or_else(|| StoreError::not_found("lead", id))
    }

    /// A lead the viewer may read (`write = false`) or work (`write = true`); one outside the
    /// viewer's scope is `NotFound`, exactly like a missing one.
    pub async fn visible_lead(
        &self,
        user: &User,
        visible: &Visibility,
        id: i64,
        write: bool,
    ) -> Result<Lead, StoreError> {
        let lead = self.lead(id).await?;
        if user.sees_records() && visible.allows(lead.owner_id, write) {
            Ok(lead)
        } else {
            Err(StoreError::not_found("lead", id))
        }
    }

    /// The leads a user sees, newest first, in keyset pages.
    pub async fn list_leads(
        &self,
        filter: &LeadFilter,
        visible: &Visibility,
        page: &PageRequest,
    ) -> Result<Page<Lead>, StoreError> {
        let mut w = Where::default();
        visible.push(&mut w, "owner_id");
        if let Some(s) = &filter.status {
            check_status_name(s)?;
            w.push("status = ?", [Bind::Text(s.clone())]);
        }
        if let Some(o) = filter.owner_id {
            w.push("owner_id = ?", [Bind::I64(o)]);
        }
        if let Some(c) = filter.campaign_id {
            w.push("campaign_id = ?", [Bind::I64(c)]);
        }
        if let Some(after) = &page.after {
            let id: i64 = decode_cursor(after)?;
            w.push("id < ?", [Bind::I64(id)]);
        }
        let limit = page.limit();
        let sql = format!(
            "SELECT {COLUMNS} FROM leads{} ORDER BY id DESC LIMIT {}",
            w.sql(),
            limit + 1
        );
        let mut items: Vec<Lead> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next = match (more, items.last()) {
            (true, Some(last)) => Some(encode_cursor(&last.id)),
            _ => None,
        };
        Ok(Page { items, next })
    }

    /// How many of the leads a user sees are at each status (optionally of one campaign or owner).
    pub async fn lead_funnel(
        &self,
        filter: &LeadFilter,
        visible: &Visibility,
    ) -> Result<LeadFunnel, StoreError> {
        let mut w = Where::default();
        visible.push(&mut w, "owner_id");
        if let Some(o) = filter.owner_id {
            w.push("owner_id = ?", [Bind::I64(o)]);
        }
        if let Some(c) = filter.campaign_id {
            w.push("campaign_id = ?", [Bind::I64(c)]);
        }
        let sql = format!(
            "SELECT status, COUNT(*) FROM leads{} GROUP BY status",
            w.sql()
        );
        let rows: Vec<(String, i64)> = with_pool!(self, pool => bind_all!(sqlx::query_as(&sql), &w.binds).fetch_all(pool).await?);
        let mut f = LeadFunnel::default();
        for (s, n) in rows {
            match s.as_str() {
                "new" => f.new = n,
                "contacted" => f.contacted = n,
                "qualified" => f.qualified = n,
                "converted" => f.converted = n,
                _ => f.disqualified = n,
            }
        }
        Ok(f)
    }

    /// Existing customers (merged and archived ones left out) with the lead's normalised phone
    /// or e-mail.
    pub async fn lead_likely_customers(
        &self,
        lead: &Lead,
    ) -> Result<Vec<LikelyCustomer>, StoreError> {
        let mut out: Vec<LikelyCustomer> = Vec::new();
        for (col, key) in [
            ("phone_key", lead.phone.as_deref().and_then(phone_key)),
            ("email_key", lead.email.as_deref().and_then(email_key)),
        ] {
            let Some(key) = key else { continue };
            let sql = format!("SELECT id, number, name, owner_id FROM customers WHERE {col} = $1 AND merged_into IS NULL AND archived_at IS NULL ORDER BY id LIMIT 20");
            let rows: Vec<(i64, String, String, Option<i64>)> =
                with_pool!(self, pool => sqlx::query_as(&sql).bind(&key).fetch_all(pool).await?);
            for (id, number, name, owner_id) in rows {
                if !out.iter().any(|c| c.customer_id == id) {
                    out.push(LikelyCustomer {
                        customer_id: id,
                        number,
                        name,
                        matched_on: col.trim_end_matches("_key").into(),
                        owner_id,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Moves a lead to another status; illegal moves are refused (409) saying which are legal.
    pub async fn set_lead_status(
        &self,
        id: i64,
        change: &LeadStatusChange,
    ) -> Result<Lead, StoreError> {
        let lead = self.lead(id).await?;
        check_transition(&lead, &change.status)?;
        let reason = change
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty());
        let reason =
            match (change.status.as_str(), reason) {
                ("disqualified", None) => return Err(StoreError::invalid(
                    "reason",
                    "is required to disqualify a lead (e.g. no budget, wrong industry, duplicate)",
                )),
                ("disqualified", Some(r)) if r.chars().count() > 500 => {
                    return Err(StoreError::invalid(
                        "reason",
                        "is longer than 500 characters",
                    ))
                }
                ("disqualified", Some(r)) => Some(r.to_string()),
                (_, Some(_)) => {
                    return Err(StoreError::invalid(
                        "reason",
                        "is given only when disqualifying a lead",
                    ))
                }
                (_, None) => None,
            };
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE leads SET status = $1, disqualified_reason = $2, updated_at = $3 WHERE id = $4 AND status = $5")
            .bind(&change.status).bind(&reason).bind(now()).bind(id).bind(&lead.status)
            .execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(illegal(format!(
                "lead {id} was changed by someone else meanwhile; reload it and try again"
            )));
        }
        self.lead(id).await
    }

    /// Converts a qualified lead into a customer, in one transaction (see the module doc).
    /// Refused (409) when the lead is not qualified or was converted already, or when it looks
    /// like existing customers (same phone or e-mail) and neither `into` nor `allow_duplicate`
    /// says what to do.
    pub async fn convert_lead(
        &self,
        id: i64,
        how: &ConvertLead,
        by: &str,
    ) -> Result<LeadConversion, StoreError> {
        self.convert_lead_seen_by(id, how, by, &Visibility::All)
            .await
    }

    /// [`Store::convert_lead`] for a user who sees `visible`: a refusal for likely duplicates
    /// names only the customers they see, and counts the others.
    pub async fn convert_lead_seen_by(
        &self,
        id: i64,
        how: &ConvertLead,
        by: &str,
        visible: &Visibility,
    ) -> Result<LeadConversion, StoreError> {
        let lead = self.lead(id).await?;
        match lead.status.as_str() {
            "qualified" => {}
            "converted" => {
                let c = lead.converted_customer_id.unwrap_or_default();
                let number = self
                    .customer(c)
                    .await
                    .ok()
                    .and_then(|c| c.data.number)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default();
                return Err(illegal(format!(
                    "lead {id} was converted into customer {c}{number} already; a lead is converted once"
                )));
            }
            "disqualified" => {
                return Err(illegal(format!(
                    "lead {id} is disqualified ({}); reopen it and qualify it before converting",
                    lead.disqualified_reason.as_deref().unwrap_or("no reason")
                )))
            }
            s => {
                return Err(illegal(format!(
                    "lead {id} is '{s}': qualify it before converting it"
                )))
            }
        }
        let input = LeadInput {
            name: lead.name.clone(),
            company: lead.company.clone(),
            title: lead.title.clone(),
            phone: lead.phone.clone(),
            email: lead.email.clone(),
            region: lead.region.clone(),
            industry: lead.industry.clone(),
            source: lead.source.clone(),
            campaign_id: lead.campaign_id,
            owner_id: lead.owner_id,
            notes: lead.notes.clone(),
        };
        let campaign: Option<String> = match lead.campaign_id {
            Some(c) => {
                with_pool!(self, pool => sqlx::query_scalar("SELECT name FROM campaigns WHERE id = $1").bind(c).fetch_optional(pool).await?)
            }
            None => None,
        };
        // Campaigns count the customers whose source is their name.
        let source = campaign.clone().or_else(|| lead.source.clone());
        let target = match how.into {
            Some(c) => {
                let t = self.customer(c).await?;
                if let Some(to) = t.merged_into {
                    return Err(illegal(format!(
                        "customer {c} was merged into customer {to}; convert into that one"
                    )));
                }
                Some(t)
            }
            None => {
                let likely = self.lead_likely_customers(&lead).await?;
                if !likely.is_empty() && !how.allow_duplicate {
                    let (seen, unseen): (Vec<&LikelyCustomer>, Vec<&LikelyCustomer>) = likely
                        .iter()
                        .partition(|c| visible.allows(c.owner_id, false));
                    let mut named: Vec<String> = seen
                        .iter()
                        .map(|c| {
                            format!(
                                "{} {} '{}' (same {})",
                                c.customer_id, c.number, c.name, c.matched_on
                            )
                        })
                        .collect();
                    if !unseen.is_empty() {
                        named.push(format!(
                            "{} customer(s) of other users (same phone or e-mail; ask a manager)",
                            unseen.len()
                        ));
                    }
                    return Err(illegal(format!(
                        "lead {id} looks like existing customers: {}; convert it into one of them (into), or create a new customer anyway (allow_duplicate)",
                        named.join(", ")
                    )));
                }
                None
            }
        };
        let mut body = format!("Converted from lead {id} by {by}.");
        for (label, v) in [
            ("Person", Some(lead.name.as_str())),
            ("Title", lead.title.as_deref()),
            ("Company", lead.company.as_deref()),
            ("Phone", lead.phone.as_deref()),
            ("E-mail", lead.email.as_deref()),
            ("Source", lead.source.as_deref()),
            ("Campaign", campaign.as_deref()),
        ] {
            if let Some(v) = v {
                body.push_str(&format!("\n{label}: {v}"));
            }
        }
        if let Some(n) = &lead.notes {
            body.push_str(&format!("\nNotes: {n}"));
        }
        let contact = input.contact_input();
        let at = now();
        let (customer_id, contact_id, interaction_id) = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            // Claim the lead first: a concurrent conversion then finds it no longer qualified.
            let n = sqlx::query("UPDATE leads SET updated_at = $1 WHERE id = $2 AND status = 'qualified'")
                .bind(at).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(illegal(format!("lead {id} was changed by someone else meanwhile (converted or disqualified); reload it")));
            }
            let customer_id = match &target {
                None => {
                    let mut c = input.customer_input();
                    c.source = source.clone();
                    let c = c.validate().map_err(StoreError::Invalid)?;
                    let cid = crate::customers::insert_customer!(tx, &c)?;
                    for (field, new) in [("created", c.name.clone()), ("lead", format!("converted from lead {id}"))] {
                        sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, $4, NULL, $5)")
                            .bind(cid).bind(at).bind(by).bind(field).bind(new).execute(&mut *tx).await?;
                    }
                    cid
                }
                Some(t) => {
                    // Fill the fields the customer lacks; attribute it to the campaign unless
                    // something else brought it.
                    let d = &t.data;
                    let mut fills: Vec<(&str, Option<String>)> = Vec::new();
                    for (field, have, new) in [
                        ("company", &d.company, &lead.company),
                        ("phone", &d.phone, &lead.phone),
                        ("email", &d.email, &lead.email),
                        ("region", &d.region, &lead.region),
                        ("industry", &d.industry, &lead.industry),
                        ("source", &d.source, &source),
                    ] {
                        if have.is_none() && new.is_some() {
                            fills.push((field, new.clone()));
                        }
                    }
                    let get = |f: &str| fills.iter().find(|(x, _)| *x == f).and_then(|(_, v)| v.clone());
                    let n = sqlx::query(
                        "UPDATE customers SET company = COALESCE(company, $1), phone = COALESCE(phone, $2), email = COALESCE(email, $3), \
                         region = COALESCE(region, $4), industry = COALESCE(industry, $5), source = COALESCE(source, $6), \
                         phone_key = COALESCE(phone_key, $7), email_key = COALESCE(email_key, $8), version = version + 1, updated_at = $9 \
                         WHERE id = $10 AND version = $11 AND merged_into IS NULL")
                        .bind(get("company")).bind(get("phone")).bind(get("email")).bind(get("region")).bind(get("industry")).bind(get("source"))
                        .bind(get("phone").as_deref().and_then(phone_key)).bind(get("email").as_deref().and_then(email_key))
                        .bind(at).bind(t.id).bind(t.version).execute(&mut *tx).await?.rows_affected();
                    if n == 0 {
                        return Err(StoreError::Conflict { code: None, message: format!("customer {} was changed by someone else meanwhile; try again", t.id), current_version: None });
                    }
                    fills.push(("lead", Some(format!("converted from lead {id}"))));
                    for (field, new) in &fills {
                        sqlx::query("INSERT INTO customer_history (customer_id, changed_at, changed_by, field, old_value, new_value) VALUES ($1, $2, $3, $4, NULL, $5)")
                            .bind(t.id).bind(at).bind(by).bind(*field).bind(new).execute(&mut *tx).await?;
                    }
                    t.id
                }
            };
            let existing: Option<i64> = if target.is_some() {
                sqlx::query_scalar("SELECT id FROM contacts WHERE customer_id = $1 AND (lower(name) = lower($2) OR (email IS NOT NULL AND lower(email) = lower($3))) ORDER BY id LIMIT 1")
                    .bind(customer_id).bind(&contact.name).bind(contact.email.as_deref().unwrap_or("")).fetch_optional(&mut *tx).await?
            } else {
                None
            };
            let contact_id: i64 = match existing {
                Some(c) => c,
                None => sqlx::query_scalar("INSERT INTO contacts (customer_id, name, title, phone, email, is_primary, notes) VALUES ($1, $2, $3, $4, $5, $6, NULL) RETURNING id")
                    .bind(customer_id).bind(&contact.name).bind(&contact.title).bind(&contact.phone).bind(&contact.email).bind(target.is_none())
                    .fetch_one(&mut *tx).await?,
            };
            let interaction_id: i64 = sqlx::query_scalar("INSERT INTO interactions (customer_id, kind, occurred_at, by_name, contact_id, body, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id")
                .bind(customer_id).bind(CONVERSION_KIND).bind(lead.created_at).bind(by).bind(contact_id).bind(&body).bind(format!("lead:{id}"))
                .fetch_one(&mut *tx).await
                .map_err(|e| crate::error::unique_to_conflict(e, || format!("customer {customer_id} holds the record of lead {id} already")))?;
            sqlx::query("UPDATE leads SET status = 'converted', converted_customer_id = $1, converted_at = $2, updated_at = $2 WHERE id = $3")
                .bind(customer_id).bind(at).bind(id).execute(&mut *tx).await?;
            commit!(self, tx);
            (customer_id, contact_id, interaction_id)
        });
        let customer = self.customer(customer_id).await?;
        Ok(LeadConversion {
            lead: self.lead(id).await?,
            customer_id,
            customer_number: customer.data.number.unwrap_or_default(),
            created_customer: target.is_none(),
            contact_id,
            interaction_id,
        })
    }

    /// Gives a lead to `owner` (`None`: back to the unowned leads). A converted lead keeps the
    /// owner it was converted under (its customer has its own).
    pub async fn assign_lead(&self, id: i64, owner: Option<i64>) -> Result<Lead, StoreError> {
        let lead = self.lead(id).await?;
        if lead.status == "converted" {
            return Err(illegal(format!(
                "lead {id} was converted into customer {} already; hand the customer over instead",
                lead.converted_customer_id.unwrap_or_default()
            )));
        }
        self.check_lead_references(&LeadInput {
            owner_id: owner,
            ..Default::default()
        })
        .await?;
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE leads SET owner_id = $1, updated_at = $2 WHERE id = $3 AND status <> 'converted'")
            .bind(owner).bind(now()).bind(id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(illegal(format!(
                "lead {id} was converted by someone else meanwhile; reload it"
            )));
        }
        self.lead(id).await
    }

    /// Ids of campaigns by name (absent names are left out), for imports.
    pub async fn campaign_ids(
        &self,
        names: &[String],
    ) -> Result<std::collections::HashMap<String, i64>, StoreError> {
        let mut out = std::collections::HashMap::new();
        for n in names {
            let id: Option<i64> = with_pool!(self, pool => sqlx::query_scalar("SELECT id FROM campaigns WHERE name = $1").bind(n).fetch_optional(pool).await?);
            if let Some(id) = id {
                out.insert(n.clone(), id);
            }
        }
        Ok(out)
    }

    /// Inserts the leads whose import key is not stored yet, in one transaction; returns how many
    /// were inserted. Rows must be validated, with campaign and owner ids that exist.
    pub async fn import_leads(&self, rows: &[ImportLead]) -> Result<u64, StoreError> {
        const COLS: usize = 16;
        let anon = self.kind() == crate::BackendKind::Sqlite;
        let at = now();
        let inserted = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let mut inserted = 0u64;
            for chunk in rows.chunks(200) {
                let sql = format!(
                    "INSERT INTO leads (name, company, title, phone, email, region, industry, source, campaign_id, owner_id, notes, phone_key, email_key, import_key, created_at, updated_at) \
                     VALUES {} ON CONFLICT (import_key) DO NOTHING",
                    values_sql(COLS, chunk.len(), anon)
                );
                let mut q = sqlx::query(&sql);
                for r in chunk {
                    let l = &r.data;
                    q = q.bind(&l.name).bind(&l.company).bind(&l.title).bind(&l.phone).bind(&l.email).bind(&l.region)
                        .bind(&l.industry).bind(&l.source).bind(l.campaign_id).bind(l.owner_id).bind(&l.notes)
                        .bind(l.phone.as_deref().and_then(phone_key)).bind(l.email.as_deref().and_then(email_key))
                        .bind(&r.import_key).bind(at).bind(at);
                }
                inserted += q.execute(&mut *tx).await?.rows_affected();
            }
            commit!(self, tx);
            inserted
        });
        Ok(inserted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(status: &str) -> Lead {
        Lead {
            id: 7,
            name: "Li Wei".into(),
            company: None,
            title: None,
            phone: None,
            email: None,
            region: None,
            industry: None,
            source: None,
            campaign_id: None,
            owner_id: None,
            status: status.into(),
            disqualified_reason: None,
            notes: None,
            converted_customer_id: (status == "converted").then_some(3),
            converted_at: None,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn transitions() {
        assert!(check_transition(&lead("new"), "contacted").is_ok());
        assert!(check_transition(&lead("contacted"), "qualified").is_ok());
        assert!(check_transition(&lead("qualified"), "disqualified").is_ok());
        assert!(check_transition(&lead("disqualified"), "new").is_ok());
        let e = check_transition(&lead("qualified"), "contacted").unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot go from 'qualified' to 'contacted'"),
            "{e}"
        );
        let e = check_transition(&lead("converted"), "new").unwrap_err();
        assert!(e.to_string().contains("converted into customer 3"), "{e}");
        assert!(matches!(
            check_transition(&lead("new"), "won"),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            check_transition(&lead("qualified"), "converted"),
            Err(StoreError::Invalid(_))
        ));
    }

    #[test]
    fn import_key_prefers_email_then_phone() {
        let mut l = LeadInput {
            name: "Li Wei".into(),
            phone: Some("+86 138-0013-8000".into()),
            source: Some("Canton Fair".into()),
            ..Default::default()
        };
        assert_eq!(l.import_key(), "canton fair|p:13800138000");
        l.email = Some(" LI@Example.com ".into());
        assert_eq!(l.import_key(), "canton fair|e:li@example.com");
    }
}
