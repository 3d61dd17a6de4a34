//! Keyset pagination: a page carries an opaque cursor for the next one, so deep pages cost the
//! same as the first (no OFFSET scans).

use base64::Engine;
use serde::{de::DeserializeOwned, Serialize};

use crate::StoreError;

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    /// Rows wanted (1-500; default 50).
    pub limit: Option<u32>,
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
}

impl PageRequest {
    pub fn limit(&self) -> i64 {
        i64::from(self.limit.unwrap_or(50).clamp(1, 500))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Cursor of the next page; absent on the last page.
    pub next: Option<String>,
}

pub(crate) fn encode_cursor<K: Serialize>(key: &K) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(key).expect("cursor keys serialize"))
}

pub(crate) fn decode_cursor<K: DeserializeOwned>(cursor: &str) -> Result<K, StoreError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StoreError::invalid("after", "is not a cursor returned by a previous page"))?;
    let other = || {
        StoreError::invalid(
            "after",
            "is not a cursor returned by a previous page (or belongs to another sort order)",
        )
    };
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| other())?;
    // No stored key holds a NUL, and PostgreSQL refuses one in text (that would be a 500).
    if has_nul(&value) {
        return Err(StoreError::invalid(
            "after",
            "is not a cursor returned by a previous page",
        ));
    }
    serde_json::from_value(value).map_err(|_| other())
}

fn has_nul(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::String(s) => s.contains('\0'),
        serde_json::Value::Array(a) => a.iter().any(has_nul),
        serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}
