//! Custody of customer data: users (argon2 password hashes), roles and data scopes, departments
//! in a hierarchy, web sessions and API tokens (stored as SHA-256 digests only), and which
//! customers a user may see ([`Visibility`]).
//!
//! Roles and their default data scopes (as in the CRMs people use; a user may be given another
//! scope): `admin` sees everything (`all`); `manager` sees their department and its
//! sub-departments (`department_tree`); `rep` sees their own customers (`own`); `analyst` sees no
//! customer record at all (`none`), only aggregate value figures. Scopes: `own`; `subordinates`
//! (own + the users who report to them, recursively); `department`; `department_tree`; `all`.
//! Everyone but analysts also sees the public pool (customers without owner), to claim from it.

use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::commit;
use crate::customers::{Bind, Where};
use crate::BeginWrite;
use crate::{now, with_pool, Store, StoreError};

pub use patron_domain::access::{DataScope, Role};

/// A user (never with the password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub display_name: Option<String>,
    pub role: Role,
    /// The effective data scope (the role's default unless set).
    pub scope: DataScope,
    pub department_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
}

impl User {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Analysts see aggregate figures only, never a customer's personal data.
    pub fn sees_records(&self) -> bool {
        self.role != Role::Analyst && self.scope != DataScope::None
    }
}

type UserRow = (
    i64,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<i64>,
    Option<i64>,
    bool,
    DateTime<Utc>,
);

const USER_COLUMNS: &str =
    "id, username, display_name, role, scope, department_id, manager_id, disabled, created_at";

fn to_user(r: UserRow) -> User {
    let role = Role::parse(&r.3).unwrap_or(Role::Rep);
    User {
        id: r.0,
        username: r.1,
        display_name: r.2,
        role,
        scope: r
            .4
            .as_deref()
            .and_then(DataScope::parse)
            .unwrap_or(role.default_scope()),
        department_id: r.5,
        manager_id: r.6,
        disabled: r.7,
        created_at: r.8,
    }
}

/// Which customers a user may see: everything, or those of some owners (and the public pool).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    All,
    Owners {
        ids: Vec<i64>,
        /// Customers without owner (the public pool) are visible too (read only).
        pool: bool,
    },
}

impl Visibility {
    /// No customer record at all.
    pub fn nothing() -> Self {
        Visibility::Owners {
            ids: Vec::new(),
            pool: false,
        }
    }

    /// May a customer with this owner be read (`write = false`) or changed (`write = true`)?
    /// Pool customers are readable by those who see the pool, and changed only once claimed.
    pub fn allows(&self, owner: Option<i64>, write: bool) -> bool {
        match self {
            Visibility::All => true,
            Visibility::Owners { ids, pool } => match owner {
                Some(o) => ids.contains(&o),
                None => *pool && !write,
            },
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Visibility::All)
    }

    /// Adds the condition on a customers table's `owner_id` column.
    pub(crate) fn push(&self, w: &mut Where, owner_col: &str) {
        if let Some((clause, binds)) = self.clause(owner_col) {
            w.push(&clause, binds);
        }
    }

    /// Adds the condition on a table keyed by `customer_id` (orders, interactions).
    pub(crate) fn push_customer(&self, w: &mut Where, customer_col: &str) {
        if let Some((clause, binds)) = self.clause("owner_id") {
            w.push(
                &format!("{customer_col} IN (SELECT id FROM customers WHERE {clause})"),
                binds,
            );
        }
    }

    fn clause(&self, owner_col: &str) -> Option<(String, Vec<Bind>)> {
        match self {
            Visibility::All => None,
            Visibility::Owners { ids, pool } => {
                let mut parts = Vec::new();
                if !ids.is_empty() {
                    let marks = vec!["?"; ids.len()].join(", ");
                    parts.push(format!("{owner_col} IN ({marks})"));
                }
                if *pool {
                    parts.push(format!("{owner_col} IS NULL"));
                }
                if parts.is_empty() {
                    return Some(("1 = 0".into(), Vec::new()));
                }
                Some((
                    format!("({})", parts.join(" OR ")),
                    ids.iter().map(|i| Bind::I64(*i)).collect(),
                ))
            }
        }
    }
}

/// A department (departments form a tree through `parent_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Department {
    pub id: i64,
    pub name: String,
    pub parent_id: Option<i64>,
}

/// An API token as listed (the secret itself is shown once, when created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    /// The first characters of the secret, to tell tokens apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new user's details.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub scope: Option<DataScope>,
    pub department_id: Option<i64>,
    pub manager_id: Option<i64>,
    pub password: Option<String>,
}

/// How long a web session lasts.
pub const SESSION_HOURS: i64 = 12;

/// `len` random bytes, base64url without padding.
pub fn random_secret(len: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored digest of a session or token secret (hex SHA-256).
pub fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// An argon2id hash (PHC string) of `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Config(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Config(format!("cannot hash the password: {e}")))
}

/// Checks `password` against a stored argon2 hash.
pub fn verify_password(hash: &str, password: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash).is_ok_and(|h| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Refuses passwords too short to be worth hashing.
pub fn check_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < 8 {
        return Err(StoreError::invalid(
            "password",
            "must be at least 8 characters long",
        ));
    }
    Ok(())
}

impl Store {
    /// Creates a user (role `rep` unless given); the password, when given, is stored as an
    /// argon2 hash.
    pub async fn create_user(&self, u: &NewUser) -> Result<User, StoreError> {
        let name = u.username.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || "._-@".contains(c))
        {
            return Err(StoreError::invalid(
                "username",
                "must be 1-64 letters, digits, '.', '_', '-' or '@'",
            ));
        }
        let hash = match &u.password {
            Some(p) => {
                check_password(p)?;
                Some(hash_password(p)?)
            }
            None => None,
        };
        let role = u.role.unwrap_or(Role::Rep);
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO users (username, display_name, created_at, password_hash, role, scope, department_id, manager_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id")
            .bind(name).bind(&u.display_name).bind(now()).bind(hash).bind(role.as_str())
            .bind(u.scope.map(DataScope::as_str)).bind(u.department_id).bind(u.manager_id)
            .fetch_one(pool).await
            .map_err(|e| crate::error::unique_to_conflict(e, || format!("user '{name}' already exists", name = patron_domain::excerpt(name))))?);
        self.user(id).await
    }

    pub async fn user(&self, id: i64) -> Result<User, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        let row: Option<UserRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?);
        row.map(to_user)
            .ok_or_else(|| StoreError::not_found("user", id))
    }

    pub async fn user_by_name(&self, username: &str) -> Result<User, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
        let row: Option<UserRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(username).fetch_optional(pool).await?);
        row.map(to_user)
            .ok_or_else(|| StoreError::not_found("user", username))
    }

    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users ORDER BY id");
        let rows: Vec<UserRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_user).collect())
    }

    /// The user when `password` is theirs and they are not disabled.
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let hash: Option<Option<String>> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT password_hash FROM users WHERE username = $1").bind(username).fetch_optional(pool).await?);
        let ok = match hash.flatten() {
            Some(h) => verify_password(&h, password),
            None => {
                // Spend the same time as a real check, so timing does not tell who exists.
                let _ = verify_password(DUMMY_HASH, password);
                false
            }
        };
        if !ok {
            return Ok(None);
        }
        let user = self.user_by_name(username).await?;
        Ok((!user.disabled).then_some(user))
    }

    pub async fn set_password(&self, user_id: i64, password: &str) -> Result<(), StoreError> {
        check_password(password)?;
        let hash = hash_password(password)?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(&mut *tx).await?;
            // A new password ends every session of the user.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            commit!(self, tx);
        });
        Ok(())
    }

    /// Disables (or enables) a user; disabling ends their sessions and revokes their tokens.
    pub async fn set_disabled(&self, user_id: i64, disabled: bool) -> Result<(), StoreError> {
        self.user(user_id).await?;
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2").bind(disabled).bind(user_id).execute(&mut *tx).await?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
                sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                    .bind(now()).bind(user_id).execute(&mut *tx).await?;
            }
            commit!(self, tx);
        });
        Ok(())
    }

    /// Changes a user's role, data scope (`None`: the role's default), department and manager.
    pub async fn set_role(
        &self,
        user_id: i64,
        role: Role,
        scope: Option<DataScope>,
        department_id: Option<i64>,
        manager_id: Option<i64>,
    ) -> Result<User, StoreError> {
        with_pool!(self, pool => { sqlx::query(
            "UPDATE users SET role = $1, scope = $2, department_id = $3, manager_id = $4 WHERE id = $5")
            .bind(role.as_str()).bind(scope.map(DataScope::as_str)).bind(department_id).bind(manager_id).bind(user_id)
            .execute(pool).await?; });
        self.user(user_id).await
    }

    /// On a new database (no admin yet): creates the user `admin` with a random password and
    /// answers that password (to be shown once; only its hash is stored). `None` otherwise.
    pub async fn ensure_admin(&self) -> Result<Option<String>, StoreError> {
        let admins: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(pool).await?);
        if admins > 0 {
            return Ok(None);
        }
        let password = random_secret(12);
        let hash = hash_password(&password)?;
        let inserted = with_pool!(self, pool => sqlx::query(
            "INSERT INTO users (username, display_name, created_at, password_hash, role) VALUES ('admin', 'Administrator', $1, $2, 'admin') \
             ON CONFLICT (username) DO NOTHING")
            .bind(now()).bind(&hash).execute(pool).await?.rows_affected());
        if inserted == 0 {
            // A user named admin exists (from before roles): make it the administrator.
            with_pool!(self, pool => { sqlx::query(
                "UPDATE users SET role = 'admin', password_hash = $1 WHERE username = 'admin'")
                .bind(&hash).execute(pool).await?; });
        }
        Ok(Some(password))
    }

    // -- departments

    pub async fn create_department(
        &self,
        name: &str,
        parent_id: Option<i64>,
    ) -> Result<Department, StoreError> {
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO departments (name, parent_id, created_at) VALUES ($1, $2, $3) RETURNING id")
            .bind(name).bind(parent_id).bind(now()).fetch_one(pool).await
            .map_err(|e| crate::error::unique_to_conflict(e, || format!("department '{name}' already exists", name = patron_domain::excerpt(name))))?);
        Ok(Department {
            id,
            name: name.into(),
            parent_id,
        })
    }

    pub async fn departments(&self) -> Result<Vec<Department>, StoreError> {
        let rows: Vec<(i64, String, Option<i64>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, name, parent_id FROM departments ORDER BY id").fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|(id, name, parent_id)| Department {
                id,
                name,
                parent_id,
            })
            .collect())
    }

    pub async fn department_by_name(&self, name: &str) -> Result<Department, StoreError> {
        self.departments()
            .await?
            .into_iter()
            .find(|d| d.name == name)
            .ok_or_else(|| StoreError::not_found("department", name))
    }

    // -- visibility

    /// Which customers `user` sees.
    pub async fn visibility(&self, user: &User) -> Result<Visibility, StoreError> {
        if user.disabled || !user.sees_records() {
            return Ok(Visibility::nothing());
        }
        let ids: Vec<i64> = match (user.scope, user.department_id) {
            (DataScope::All, _) => return Ok(Visibility::All),
            (DataScope::None, _) => return Ok(Visibility::nothing()),
            (DataScope::Own, _)
            | (DataScope::Department, None)
            | (DataScope::DepartmentTree, None) => vec![user.id],
            (DataScope::Subordinates, _) => with_pool!(self, pool => sqlx::query_scalar(
                "WITH RECURSIVE sub(id) AS (SELECT CAST($1 AS BIGINT) UNION SELECT u.id FROM users u JOIN sub ON u.manager_id = sub.id) \
                 SELECT id FROM sub").bind(user.id).fetch_all(pool).await?),
            (DataScope::Department, Some(d)) => with_pool!(self, pool => sqlx::query_scalar(
                "SELECT id FROM users WHERE department_id = $1 OR id = $2").bind(d).bind(user.id).fetch_all(pool).await?),
            (DataScope::DepartmentTree, Some(d)) => with_pool!(self, pool => sqlx::query_scalar(
                "WITH RECURSIVE d(id) AS (SELECT CAST($1 AS BIGINT) UNION SELECT x.id FROM departments x JOIN d ON x.parent_id = d.id) \
                 SELECT id FROM users WHERE department_id IN (SELECT id FROM d) OR id = $2").bind(d).bind(user.id).fetch_all(pool).await?),
        };
        let mut ids = ids;
        ids.sort_unstable();
        ids.dedup();
        Ok(Visibility::Owners { ids, pool: true })
    }

    /// The owner of a customer (`None`: in the public pool); 404 when there is no such customer.
    pub async fn customer_owner(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let row: Option<Option<i64>> = with_pool!(self, pool => sqlx::query_scalar(
            "SELECT owner_id FROM customers WHERE id = $1").bind(id).fetch_optional(pool).await?);
        row.ok_or_else(|| StoreError::not_found("customer", id))
    }

    /// The owners of the given customers in one statement per 500 ids (absent ids are left
    /// out): for lists that show only what a caller may see, without a query per row.
    pub async fn customer_owners(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, Option<i64>>, StoreError> {
        Ok(self
            .customer_labels(ids)
            .await?
            .into_iter()
            .map(|(id, (_, owner))| (id, owner))
            .collect())
    }

    /// The names and owners of the given customers, in one statement per 500 distinct ids
    /// (absent ids are left out): what lists show next to their rows.
    pub async fn customer_labels(
        &self,
        ids: &[i64],
    ) -> Result<std::collections::HashMap<i64, (String, Option<i64>)>, StoreError> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = std::collections::HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "SELECT id, name, owner_id FROM customers WHERE id IN ({})",
                marks.join(", ")
            );
            let rows: Vec<(i64, String, Option<i64>)> = with_pool!(self, pool => {
                let mut q = sqlx::query_as(&sql);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(pool).await?
            });
            out.extend(
                rows.into_iter()
                    .map(|(id, name, owner)| (id, (name, owner))),
            );
        }
        Ok(out)
    }

    // -- sessions

    /// Starts a web session: answers (session secret, CSRF token). Only the secret's digest is
    /// stored.
    pub async fn create_session(&self, user_id: i64) -> Result<(String, String), StoreError> {
        let secret = random_secret(32);
        let csrf = random_secret(24);
        let at = now();
        with_pool!(self, pool => {
            // Expired sessions are swept as new ones start.
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1").bind(at).execute(pool).await?;
            sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(digest(&secret)).bind(user_id).bind(&csrf).bind(at).bind(at + Duration::hours(SESSION_HOURS))
                .execute(pool).await?;
        });
        Ok((secret, csrf))
    }

    /// The user of a live session and its CSRF token.
    pub async fn session(&self, secret: &str) -> Result<Option<(User, String)>, StoreError> {
        let row: Option<(i64, String)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT user_id, csrf FROM sessions WHERE token_hash = $1 AND expires_at > $2")
            .bind(digest(secret)).bind(now()).fetch_optional(pool).await?);
        let Some((user_id, csrf)) = row else {
            return Ok(None);
        };
        let user = self.user(user_id).await?;
        Ok((!user.disabled).then_some((user, csrf)))
    }

    pub async fn end_session(&self, secret: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(digest(secret)).execute(pool).await?; });
        Ok(())
    }

    // -- API tokens

    /// Creates an API token for a user: answers it with its secret (`ptk_...`), shown once.
    pub async fn create_token(
        &self,
        user_id: i64,
        name: &str,
    ) -> Result<(ApiToken, String), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(StoreError::invalid("name", "must be 1-100 characters"));
        }
        self.user(user_id).await?;
        let secret = format!("ptk_{}", random_secret(32));
        let prefix: String = secret.chars().take(10).collect();
        let id: i64 = with_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(user_id).bind(name).bind(digest(&secret)).bind(&prefix).bind(now()).fetch_one(pool).await?);
        let t = self
            .tokens(Some(user_id))
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| StoreError::not_found("token", id))?;
        Ok((t, secret))
    }

    /// Tokens of one user, or of everyone.
    pub async fn tokens(&self, user_id: Option<i64>) -> Result<Vec<ApiToken>, StoreError> {
        type Row = (
            i64,
            i64,
            String,
            String,
            DateTime<Utc>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        );
        let rows: Vec<Row> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens \
             WHERE ($1 IS NULL OR user_id = $1) ORDER BY id")
            .bind(user_id).fetch_all(pool).await?);
        Ok(rows
            .into_iter()
            .map(|r| ApiToken {
                id: r.0,
                user_id: r.1,
                name: r.2,
                prefix: r.3,
                created_at: r.4,
                last_used_at: r.5,
                revoked_at: r.6,
            })
            .collect())
    }

    /// Revokes a token (of `user_id` when given: a user may only revoke their own).
    pub async fn revoke_token(&self, id: i64, user_id: Option<i64>) -> Result<(), StoreError> {
        let n = with_pool!(self, pool => sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2 AND ($3 IS NULL OR user_id = $3)")
            .bind(now()).bind(id).bind(user_id).execute(pool).await?.rows_affected());
        if n == 0 {
            return Err(StoreError::not_found("token", id));
        }
        Ok(())
    }

    /// The user a live (not revoked) token belongs to, when that user is enabled.
    pub async fn token_user(&self, secret: &str) -> Result<Option<User>, StoreError> {
        let row: Option<(i64, i64, Option<chrono::DateTime<chrono::Utc>>)> = with_pool!(self, pool => sqlx::query_as(
            "SELECT id, user_id, last_used_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(digest(secret)).fetch_optional(pool).await?);
        let Some((id, user_id, last_used)) = row else {
            return Ok(None);
        };
        // Recorded to the minute: a write per request would make every read a write (and
        // serialise readers on SQLite's single writer).
        let at = now();
        if last_used.is_none_or(|t| at - t >= chrono::Duration::seconds(60)) {
            with_pool!(self, pool => { sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(at).bind(id).execute(pool).await?; });
        }
        let user = self.user(user_id).await?;
        Ok((!user.disabled).then_some(user))
    }

    // -- settings

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(
            with_pool!(self, pool => sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
            .bind(key).fetch_optional(pool).await?),
        )
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => { sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key).bind(value).execute(pool).await?; });
        Ok(())
    }
}

/// A valid argon2 hash of a random password, checked against when the user does not exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$8XvXbYBmf4e2gT3dRjB3qg4b6mS2o5bL0Kx7cNWZ1Ns";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong horse"));
        assert!(!verify_password(DUMMY_HASH, "anything"));
    }

    #[test]
    fn visibility_rules() {
        let v = Visibility::Owners {
            ids: vec![1, 2],
            pool: true,
        };
        assert!(v.allows(Some(1), true));
        assert!(!v.allows(Some(3), false));
        assert!(v.allows(None, false));
        assert!(!v.allows(None, true));
        assert!(!Visibility::nothing().allows(None, false));
        assert!(Visibility::All.allows(None, true));
    }
}
