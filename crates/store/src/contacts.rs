//! Contacts: the people at a customer.

use patron_domain::{Contact, ContactInput};

use crate::commit;
use crate::{live_customer, with_pool, BeginWrite, Store, StoreError};

type ContactRow = (
    i64,
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<chrono::NaiveDate>,
);

fn to_contact(
    (customer_id, id, name, title, phone, email, is_primary, notes, role, preferences, birthday): ContactRow,
) -> Contact {
    Contact {
        customer_id,
        id,
        data: ContactInput {
            name,
            title,
            phone,
            email,
            is_primary,
            notes,
            purchase_role: role.and_then(|r| r.parse().ok()),
            preferences,
            birthday,
        },
    }
}

const COLUMNS: &str =
    "customer_id, id, name, title, phone, email, is_primary, notes, purchase_role, preferences, birthday";

impl Store {
    pub async fn create_contact(
        &self,
        customer_id: i64,
        input: ContactInput,
    ) -> Result<Contact, StoreError> {
        let c = input.validate().map_err(StoreError::Invalid)?;
        let sql = format!("INSERT INTO contacts (customer_id, name, title, phone, email, is_primary, notes, purchase_role, preferences, birthday) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}");
        let row: ContactRow = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let row = sqlx::query_as(&sql)
                .bind(customer_id).bind(&c.name).bind(&c.title).bind(&c.phone).bind(&c.email).bind(c.is_primary).bind(&c.notes)
                .bind(c.purchase_role.map(|r| r.as_str())).bind(&c.preferences).bind(c.birthday)
                .fetch_one(&mut *tx).await?;
            let row: ContactRow = row;
            commit!(self, tx, Some(row.1));
            row
        });
        Ok(to_contact(row))
    }

    pub async fn contacts(&self, customer_id: i64) -> Result<Vec<Contact>, StoreError> {
        self.customer(customer_id).await?;
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE customer_id = $1 ORDER BY id");
        let rows: Vec<ContactRow> =
            with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).fetch_all(pool).await?);
        Ok(rows.into_iter().map(to_contact).collect())
    }

    pub async fn contact(&self, customer_id: i64, id: i64) -> Result<Contact, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM contacts WHERE customer_id = $1 AND id = $2");
        let row: Option<ContactRow> = with_pool!(self, pool => sqlx::query_as(&sql).bind(customer_id).bind(id).fetch_optional(pool).await?);
        row.map(to_contact).ok_or_else(|| {
            StoreError::not_found("contact", format!("{id} of customer {customer_id}"))
        })
    }

    pub async fn update_contact(
        &self,
        customer_id: i64,
        id: i64,
        input: ContactInput,
    ) -> Result<Contact, StoreError> {
        let c = input.validate().map_err(StoreError::Invalid)?;
        let sql = format!("UPDATE contacts SET name = $1, title = $2, phone = $3, email = $4, is_primary = $5, notes = $6, purchase_role = $7, preferences = $8, birthday = $9 WHERE customer_id = $10 AND id = $11 RETURNING {COLUMNS}");
        let row: ContactRow = with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            live_customer!(self, tx, customer_id);
            let row: Option<ContactRow> = sqlx::query_as(&sql)
                .bind(&c.name).bind(&c.title).bind(&c.phone).bind(&c.email).bind(c.is_primary).bind(&c.notes)
                .bind(c.purchase_role.map(|r| r.as_str())).bind(&c.preferences).bind(c.birthday)
                .bind(customer_id).bind(id)
                .fetch_optional(&mut *tx).await?;
            let Some(row) = row else {
                return Err(StoreError::not_found("contact", format!("{id} of customer {customer_id}")));
            };
            commit!(self, tx, Some(id));
            row
        });
        Ok(to_contact(row))
    }

    pub async fn delete_contact(&self, customer_id: i64, id: i64) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let n = sqlx::query("DELETE FROM contacts WHERE customer_id = $1 AND id = $2")
                .bind(customer_id).bind(id).execute(&mut *tx).await?.rows_affected();
            if n == 0 {
                return Err(StoreError::not_found("contact", format!("{id} of customer {customer_id}")));
            }
            commit!(self, tx, Some(id));
        });
        Ok(())
    }

    /// Fails with 404 for unknown customers and with a conflict for merged ones (whose records
    /// now live on the survivor).
    pub(crate) async fn require_live_customer(&self, id: i64) -> Result<(), StoreError> {
        let c = self.customer(id).await?;
        if let Some(to) = c.merged_into {
            return Err(StoreError::Conflict {
                code: None,
                message: format!("customer {id} was merged into customer {to}; use that one"),
                current_version: None,
            });
        }
        Ok(())
    }
}
