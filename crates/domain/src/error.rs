/// A value that failed validation: which field, and why (phrased so the user knows how to fix it).
///
/// `message` is the English text (what the JSON API answers); `code` and `params`, when set,
/// name the kind of problem so that an interface can word it in its own language (the web's
/// Chinese pages do).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// A stable code of the problem (`required`, `too_long`, `email`, `phone`, `negative`,
    /// `number`, `amount`, `date`, `min`...), when the message is one of the known kinds.
    #[serde(skip)]
    pub code: Option<&'static str>,
    /// The values the message quotes, by name (`max`, `min`, `value`...).
    #[serde(skip)]
    pub params: Vec<(&'static str, String)>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            code: None,
            params: Vec::new(),
        }
    }

    /// A field error of a known kind: `code` (with `params`) for other languages, `message` in
    /// English.
    pub fn coded(
        field: impl Into<String>,
        code: &'static str,
        params: Vec<(&'static str, String)>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code: Some(code),
            params,
            ..Self::new(field, message)
        }
    }

    /// The parameter `name`, if given.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}
