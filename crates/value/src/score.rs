//! Weighted value score (SPEC 2): configurable, explainable, calibrated against outcomes.
//!
//! A [`ScoreModel`] is a list of attributes, each with a weight (the weights sum to 100) and a
//! points table (0..=100 points per value). A customer's score is
//! `sum(weight * points) / 100`, in `0..=100`, and falls into one of five [`Grade`]s.
//!
//! # TOML format
//!
//! ```toml
//! [grades]            # optional, these are the defaults: A >= 80, B >= 60, C >= 40, D >= 20
//! a = 80
//! b = 60
//! c = 40
//! d = 20
//!
//! [[attribute]]
//! name = "industry"
//! weight = 60
//! kind = "categorical"        # value -> points, matched case-insensitively after trimming
//! default = 20                # points for a missing or unlisted value (default 0)
//! points = { finance = 100, services = 30 }
//!
//! [[attribute]]
//! name = "registered_capital"
//! weight = 40
//! kind = "numeric"            # ranges [min, max); min/max may be omitted (unbounded)
//! ranges = [ { max = 1e6, points = 10 }, { min = 1e6, max = 2e7, points = 40 },
//!            { min = 2e7, points = 70 } ]
//! ```
//!
//! Parsing ([`ScoreModel::from_toml`]) validates everything and never panics: weights finite,
//! non-negative and summing to 100 (within 1e-6), points in `0..=100`, unique attribute names,
//! unique categories, ranges with `min < max` that do not overlap, grade thresholds descending.
//! Errors name the attribute and its line.
//!
//! A [`AttrValue::Number`] given to a categorical attribute is matched by its text (`3` ->
//! `"3"`); a [`AttrValue::Text`] given to a numeric attribute is parsed as a number, and if
//! that fails it scores like a missing value. The explanation tells which rule matched.
//!
//! # Customers without purchases
//!
//! Some attributes are figures of the customer's purchases ([`PURCHASE_ATTRIBUTES`]: annual
//! margin, purchase frequency, loyalty stage). A prospect (no order yet) is scored on the
//! *attribute part* only ([`ScoreModel::attribute_part`]): the purchase attributes are left
//! out and the remaining weights are rescaled to sum 100, each keeping its share of the rest
//! (default model: industry 15, registered capital 10, employees 10, credit rating 10 and
//! satisfaction 10 of the 55 left become 27.3, 18.2, 18.2, 18.2 and 18.2). The grade thresholds
//! are the same, so a prospect's grade reads like a buyer's: what its profile promises, not
//! what it has bought (scoring the purchase attributes at 0 points would put every prospect in
//! the lowest grades and tell nothing apart).
//!
//! # Calibration
//!
//! [`calibrate`] compares scores with an outcome per customer (e.g. next-period margin): the
//! Spearman rank correlation, the lift of grade A (mean outcome of A / overall mean), and new
//! weights proposed by non-negative least squares (Lawson-Hanson) of the outcome on the
//! per-attribute points with a free intercept, normalised to sum 100.

use std::collections::BTreeMap;
use std::fmt;

use toml::Spanned;

/// Attribute value of one customer.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, Default)]
#[serde(untagged)]
pub enum AttrValue {
    Number(f64),
    Text(String),
    #[default]
    Missing,
}

/// The five grades, A best.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Grade {
    A,
    B,
    C,
    D,
    E,
}

/// Lowest score of each grade (E is everything below `d`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GradeThresholds {
    pub a: f64,
    pub b: f64,
    pub c: f64,
    pub d: f64,
}

impl Default for GradeThresholds {
    fn default() -> Self {
        GradeThresholds {
            a: 80.0,
            b: 60.0,
            c: 40.0,
            d: 20.0,
        }
    }
}

impl GradeThresholds {
    /// Grade of a score.
    pub fn grade(&self, score: f64) -> Grade {
        if score >= self.a {
            Grade::A
        } else if score >= self.b {
            Grade::B
        } else if score >= self.c {
            Grade::C
        } else if score >= self.d {
            Grade::D
        } else {
            Grade::E
        }
    }

    fn valid(&self) -> bool {
        let t = [100.0, self.a, self.b, self.c, self.d, 0.0];
        t.iter().all(|x| x.is_finite()) && t.windows(2).all(|w| w[0] >= w[1])
    }
}

/// A numeric range `[min, max)` and its points.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Inclusive lower bound (`None`: unbounded).
    #[serde(default)]
    pub min: Option<f64>,
    /// Exclusive upper bound (`None`: unbounded).
    #[serde(default)]
    pub max: Option<f64>,
    pub points: f64,
}

impl Range {
    fn lo(&self) -> f64 {
        self.min.unwrap_or(f64::NEG_INFINITY)
    }
    fn hi(&self) -> f64 {
        self.max.unwrap_or(f64::INFINITY)
    }
    fn contains(&self, x: f64) -> bool {
        x >= self.lo() && x < self.hi()
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) => write!(f, "[{a}, {b})"),
            (Some(a), None) => write!(f, ">= {a}"),
            (None, Some(b)) => write!(f, "< {b}"),
            (None, None) => write!(f, "any"),
        }
    }
}

/// How an attribute's value becomes points.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttributeKind {
    /// Category (lower-cased, trimmed) -> points.
    Categorical { points: BTreeMap<String, f64> },
    /// Non-overlapping ranges, sorted by lower bound.
    Numeric { ranges: Vec<Range> },
}

/// One attribute of the model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Attribute {
    pub name: String,
    /// Weight, the weights of a model sum to 100.
    pub weight: f64,
    pub kind: AttributeKind,
    /// Points of a missing or unmatched value.
    pub default_points: f64,
}

impl Attribute {
    /// Points of a value and a description of the rule that matched.
    pub fn points(&self, value: &AttrValue) -> (f64, String) {
        let missing = || (self.default_points, "default".to_string());
        match &self.kind {
            AttributeKind::Categorical { points } => {
                let key = match value {
                    AttrValue::Text(t) => t.trim().to_lowercase(),
                    AttrValue::Number(x) if x.is_finite() => format!("{x}"),
                    _ => return missing(),
                };
                match points.get(&key) {
                    Some(&p) => (p, key),
                    None => missing(),
                }
            }
            AttributeKind::Numeric { ranges } => {
                let x = match value {
                    AttrValue::Number(x) => *x,
                    AttrValue::Text(t) => t.trim().parse::<f64>().unwrap_or(f64::NAN),
                    AttrValue::Missing => f64::NAN,
                };
                if !x.is_finite() {
                    return missing();
                }
                match ranges.iter().find(|r| r.contains(x)) {
                    Some(r) => (r.points, r.to_string()),
                    None => missing(),
                }
            }
        }
    }
}

/// Attributes computed from a customer's purchases (the value refresh's figures): left out of
/// the [`ScoreModel::attribute_part`] that scores customers without purchases.
pub const PURCHASE_ATTRIBUTES: [&str; 3] = ["annual_margin", "purchase_frequency", "loyalty"];

/// A weighted value score model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreModel {
    pub attributes: Vec<Attribute>,
    pub grades: GradeThresholds,
}

/// A model that failed validation.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default(), attribute.as_ref().map(|a| format!("attribute `{a}`: ")).unwrap_or_default())]
pub struct ModelError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// Attribute concerned, when there is one.
    pub attribute: Option<String>,
    pub message: String,
}

impl ModelError {
    fn new(line: Option<usize>, attribute: Option<&str>, message: impl Into<String>) -> Self {
        ModelError {
            line,
            attribute: attribute.map(str::to_string),
            message: message.into(),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    #[serde(default)]
    grades: GradeThresholds,
    #[serde(default)]
    attribute: Vec<RawAttribute>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAttribute {
    name: Spanned<String>,
    weight: Spanned<f64>,
    kind: Spanned<String>,
    #[serde(default)]
    default: Option<Spanned<f64>>,
    #[serde(default)]
    points: Option<Spanned<BTreeMap<String, f64>>>,
    #[serde(default)]
    ranges: Option<Spanned<Vec<Range>>>,
}

/// 1-based line of a byte offset.
fn line_of(src: &str, offset: usize) -> usize {
    let mut end = offset.min(src.len());
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    src[..end].bytes().filter(|&b| b == b'\n').count() + 1
}

fn valid_points(p: f64) -> bool {
    (0.0..=100.0).contains(&p)
}

/// Tolerance on the weight sum.
const WEIGHT_TOLERANCE: f64 = 1e-6;

impl ScoreModel {
    /// Parses and validates a TOML model (format in the module docs).
    pub fn from_toml(src: &str) -> Result<ScoreModel, ModelError> {
        let raw: RawModel = toml::from_str(src).map_err(|e| {
            let line = e.span().map(|s| line_of(src, s.start));
            let mut message = e.message().trim().to_string();
            if message.is_empty() {
                // The toml crate has no message for some lexical errors (a bare carriage
                // return, a control character in a comment): name the character instead.
                let at = e.span().and_then(|s| src.get(s.start..)?.chars().next());
                message = match at {
                    Some(c) => format!(
                        "unexpected character {c:?} (control characters other than tab, and a carriage return not followed by a line feed, are not allowed)"
                    ),
                    None => "invalid TOML".into(),
                };
            }
            ModelError::new(line, None, message)
        })?;
        if !raw.grades.valid() {
            return Err(ModelError::new(
                None,
                None,
                "grade thresholds must satisfy 100 >= a >= b >= c >= d >= 0",
            ));
        }
        if raw.attribute.is_empty() {
            return Err(ModelError::new(
                None,
                None,
                "the model has no [[attribute]]",
            ));
        }
        let mut attributes = Vec::with_capacity(raw.attribute.len());
        let mut lines = Vec::with_capacity(raw.attribute.len());
        for a in raw.attribute {
            let name = a.name.get_ref().trim().to_string();
            let line = line_of(src, a.name.span().start);
            let err = |l: usize, m: String| ModelError::new(Some(l), Some(&name), m);
            if name.is_empty() {
                return Err(ModelError::new(Some(line), None, "attribute name is empty"));
            }
            if attributes.iter().any(|x: &Attribute| x.name == name) {
                return Err(err(line, "duplicate attribute name".into()));
            }
            let weight = *a.weight.get_ref();
            if !(weight.is_finite() && weight >= 0.0) {
                return Err(err(
                    line_of(src, a.weight.span().start),
                    format!("weight must be a finite number >= 0, got {weight}"),
                ));
            }
            let default_points = match &a.default {
                Some(d) if !valid_points(*d.get_ref()) => {
                    return Err(err(
                        line_of(src, d.span().start),
                        format!("default points must be in 0..=100, got {}", d.get_ref()),
                    ))
                }
                Some(d) => *d.get_ref(),
                None => 0.0,
            };
            let kind_line = line_of(src, a.kind.span().start);
            let kind = match a.kind.get_ref().as_str() {
                "categorical" => {
                    if a.ranges.is_some() {
                        return Err(err(
                            kind_line,
                            "a categorical attribute has `points`, not `ranges`".into(),
                        ));
                    }
                    let mut points = BTreeMap::new();
                    if let Some(p) = a.points {
                        let pl = line_of(src, p.span().start);
                        for (k, v) in p.into_inner() {
                            if !valid_points(v) {
                                return Err(err(
                                    pl,
                                    format!("points of `{k}` must be in 0..=100, got {v}"),
                                ));
                            }
                            let key = k.trim().to_lowercase();
                            if points.insert(key, v).is_some() {
                                return Err(err(
                                    pl,
                                    format!("category `{k}` is listed twice (case-insensitively)"),
                                ));
                            }
                        }
                    }
                    AttributeKind::Categorical { points }
                }
                "numeric" => {
                    if a.points.is_some() {
                        return Err(err(
                            kind_line,
                            "a numeric attribute has `ranges`, not `points`".into(),
                        ));
                    }
                    let (mut ranges, rl) = match a.ranges {
                        Some(r) => {
                            let rl = line_of(src, r.span().start);
                            (r.into_inner(), rl)
                        }
                        None => (Vec::new(), kind_line),
                    };
                    for r in &ranges {
                        if r.min.is_some_and(f64::is_nan)
                            || r.max.is_some_and(f64::is_nan)
                            || r.lo() >= r.hi()
                        {
                            return Err(err(
                                rl,
                                format!("range {r} is empty: min must be below max"),
                            ));
                        }
                        if !valid_points(r.points) {
                            return Err(err(
                                rl,
                                format!("points of range {r} must be in 0..=100, got {}", r.points),
                            ));
                        }
                    }
                    ranges.sort_by(|x, y| x.lo().total_cmp(&y.lo()));
                    if let Some(w) = ranges.windows(2).find(|w| w[1].lo() < w[0].hi()) {
                        return Err(err(rl, format!("ranges {} and {} overlap", w[0], w[1])));
                    }
                    AttributeKind::Numeric { ranges }
                }
                other => {
                    return Err(err(
                        kind_line,
                        format!("kind must be \"categorical\" or \"numeric\", got \"{other}\""),
                    ))
                }
            };
            lines.push(line);
            attributes.push(Attribute {
                name,
                weight,
                kind,
                default_points,
            });
        }
        let total: f64 = attributes.iter().map(|a| a.weight).sum();
        if (total - 100.0).abs() > WEIGHT_TOLERANCE {
            let list: Vec<String> = attributes
                .iter()
                .zip(&lines)
                .map(|(a, l)| format!("{}={} (line {l})", a.name, a.weight))
                .collect();
            return Err(ModelError::new(
                None,
                None,
                format!("weights sum to {total}, expected 100: {}", list.join(", ")),
            ));
        }
        Ok(ScoreModel {
            attributes,
            grades: raw.grades,
        })
    }

    /// The built-in model ([`DEFAULT_MODEL_TOML`]).
    pub fn default_model() -> ScoreModel {
        // The constant is tested to parse; fall back to an equal-weight empty-table model
        // rather than panic should it ever be edited badly.
        ScoreModel::from_toml(DEFAULT_MODEL_TOML).unwrap_or_else(|_| ScoreModel {
            attributes: vec![Attribute {
                name: "industry".into(),
                weight: 100.0,
                kind: AttributeKind::Categorical {
                    points: BTreeMap::new(),
                },
                default_points: 0.0,
            }],
            grades: GradeThresholds::default(),
        })
    }

    /// The values of `values` in model attribute order (absent names are missing).
    pub fn row(&self, values: &BTreeMap<String, AttrValue>) -> Vec<AttrValue> {
        self.attributes
            .iter()
            .map(|a| values.get(&a.name).cloned().unwrap_or_default())
            .collect()
    }

    /// Per-attribute points of a row (values in attribute order, missing when short).
    pub fn points_row(&self, row: &[AttrValue]) -> Vec<f64> {
        self.attributes
            .iter()
            .enumerate()
            .map(|(i, a)| a.points(row.get(i).unwrap_or(&AttrValue::Missing)).0)
            .collect()
    }

    fn score_points(&self, points: &[f64]) -> f64 {
        let s: f64 = self
            .attributes
            .iter()
            .zip(points)
            .map(|(a, p)| a.weight * p)
            .sum();
        (s / 100.0).clamp(0.0, 100.0)
    }

    /// Scores a customer given as a row in attribute order.
    pub fn score_row(&self, row: &[AttrValue]) -> Scored {
        let mut explanation = Vec::with_capacity(self.attributes.len());
        let mut total = 0.0;
        for (i, a) in self.attributes.iter().enumerate() {
            let value = row.get(i).cloned().unwrap_or_default();
            let (points, matched) = a.points(&value);
            let contribution = a.weight * points / 100.0;
            total += contribution;
            explanation.push(Contribution {
                attribute: a.name.clone(),
                value,
                matched,
                points,
                weight: a.weight,
                contribution,
            });
        }
        let score = total.clamp(0.0, 100.0);
        Scored {
            score,
            grade: self.grades.grade(score),
            explanation,
        }
    }

    /// Scores a customer given as attribute name -> value (unknown names are ignored).
    pub fn score(&self, values: &BTreeMap<String, AttrValue>) -> Scored {
        self.score_row(&self.row(values))
    }

    /// The model without the attributes named in `left_out`, the other weights rescaled to sum
    /// 100 (their ratios kept); `None` when nothing with a positive weight is left.
    pub fn without(&self, left_out: &[&str]) -> Option<ScoreModel> {
        let attributes: Vec<Attribute> = self
            .attributes
            .iter()
            .filter(|a| !left_out.contains(&a.name.as_str()))
            .cloned()
            .collect();
        let total: f64 = attributes.iter().map(|a| a.weight).sum();
        if !(total > 0.0 && total.is_finite()) {
            return None;
        }
        let mut m = ScoreModel {
            attributes,
            grades: self.grades,
        };
        for a in &mut m.attributes {
            a.weight *= 100.0 / total;
        }
        Some(m)
    }

    /// The attribute part of the model, which scores customers without purchases: the model
    /// [`without`](Self::without) the [`PURCHASE_ATTRIBUTES`] (see the module documentation).
    pub fn attribute_part(&self) -> Option<ScoreModel> {
        self.without(&PURCHASE_ATTRIBUTES)
    }

    /// The same model with other weights (in attribute order, must sum to 100).
    pub fn with_weights(&self, weights: &[f64]) -> Result<ScoreModel, ModelError> {
        if weights.len() != self.attributes.len() {
            return Err(ModelError::new(
                None,
                None,
                "one weight per attribute expected",
            ));
        }
        if let Some((a, w)) = self
            .attributes
            .iter()
            .zip(weights)
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            return Err(ModelError::new(
                None,
                Some(&a.name),
                format!("bad weight {w}"),
            ));
        }
        let total: f64 = weights.iter().sum();
        if (total - 100.0).abs() > WEIGHT_TOLERANCE {
            return Err(ModelError::new(
                None,
                None,
                format!("weights sum to {total}, expected 100"),
            ));
        }
        let mut m = self.clone();
        for (a, &w) in m.attributes.iter_mut().zip(weights) {
            a.weight = w;
        }
        Ok(m)
    }
}

/// One attribute's part of a score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Contribution {
    pub attribute: String,
    pub value: AttrValue,
    /// The category or range that matched, or `"default"`.
    pub matched: String,
    pub points: f64,
    pub weight: f64,
    /// `weight * points / 100`, the share of the score.
    pub contribution: f64,
}

/// A customer's score.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Scored {
    /// 0..=100.
    pub score: f64,
    pub grade: Grade,
    pub explanation: Vec<Contribution>,
}

/// The built-in model: a sensible starting point for B2B customers, meant to be calibrated.
pub const DEFAULT_MODEL_TOML: &str = r#"# Patron default value score model. Weights sum to 100, points are 0..100.
[grades]
a = 80
b = 60
c = 40
d = 20

[[attribute]]
name = "industry"
weight = 15
kind = "categorical"
default = 40
points = { finance = 100, insurance = 90, telecom = 85, energy = 80, manufacturing = 70, healthcare = 70, retail = 50, public = 45, services = 30, education = 30 }

[[attribute]]
name = "registered_capital"
weight = 10
kind = "numeric"
default = 0
ranges = [
  { max = 1000000, points = 10 },
  { min = 1000000, max = 5000000, points = 30 },
  { min = 5000000, max = 20000000, points = 50 },
  { min = 20000000, max = 100000000, points = 70 },
  { min = 100000000, points = 100 },
]

[[attribute]]
name = "employees"
weight = 10
kind = "numeric"
default = 0
ranges = [
  { max = 10, points = 10 },
  { min = 10, max = 50, points = 30 },
  { min = 50, max = 250, points = 60 },
  { min = 250, max = 1000, points = 80 },
  { min = 1000, points = 100 },
]

[[attribute]]
name = "annual_margin"
weight = 20
kind = "numeric"
default = 0
ranges = [
  { max = 0, points = 0 },
  { min = 0, max = 1000, points = 20 },
  { min = 1000, max = 10000, points = 50 },
  { min = 10000, max = 100000, points = 80 },
  { min = 100000, points = 100 },
]

[[attribute]]
name = "purchase_frequency"
weight = 15
kind = "numeric"
default = 0
ranges = [
  { max = 1, points = 0 },
  { min = 1, max = 2, points = 20 },
  { min = 2, max = 4, points = 50 },
  { min = 4, max = 12, points = 80 },
  { min = 12, points = 100 },
]

[[attribute]]
name = "credit_rating"
weight = 10
kind = "categorical"
default = 30
points = { aaa = 100, aa = 90, a = 80, bbb = 60, bb = 40, b = 20, ccc = 5, d = 0 }

[[attribute]]
name = "loyalty"
weight = 10
kind = "categorical"
default = 0
points = { advocate = 100, repeat_buyer = 70, first_time_buyer = 40, prospect = 15, suspect = 0 }

[[attribute]]
name = "satisfaction"
weight = 10
kind = "numeric"
default = 50
ranges = [
  { max = 2, points = 0 },
  { min = 2, max = 3, points = 25 },
  { min = 3, max = 4, points = 50 },
  { min = 4, max = 4.5, points = 75 },
  { min = 4.5, points = 100 },
]
"#;

// ---------------------------------------------------------------------------------------------
// Calibration
// ---------------------------------------------------------------------------------------------

/// Errors of [`calibrate`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalibrationError {
    #[error("{rows} customers but {outcomes} outcomes")]
    LengthMismatch { rows: usize, outcomes: usize },
    #[error("calibration needs at least 2 customers with a finite outcome")]
    TooFewCustomers,
}

/// Old and proposed weight of one attribute.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WeightChange {
    pub attribute: String,
    pub old: f64,
    pub new: f64,
}

/// Result of [`calibrate`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Calibration {
    /// Customers used (finite outcome).
    pub customers: usize,
    /// Spearman rank correlation of the current score with the outcome (`None`: a constant).
    pub spearman: Option<f64>,
    /// Mean outcome of grade A over the overall mean (`None`: no A customer or mean <= 0).
    pub top_grade_lift: Option<f64>,
    /// Mean outcome per grade A..E (`None`: empty grade).
    pub grade_means: [Option<f64>; 5],
    /// Current and proposed weights (proposed = old when the fit finds no positive relation).
    pub weights: Vec<WeightChange>,
    /// Whether the NNLS fit found a usable (non-zero) weight vector.
    pub proposal_found: bool,
    /// Spearman correlation of the score under the proposed weights.
    pub new_spearman: Option<f64>,
}

/// Average (1-based) ranks, ties sharing their mean rank.
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; n];
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && x[order[j]].total_cmp(&x[order[i]]).is_eq() {
            j += 1;
        }
        let r = (i + j + 1) as f64 / 2.0;
        for &k in &order[i..j] {
            ranks[k] = r;
        }
        i = j;
    }
    ranks
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    let mx = x.iter().sum::<f64>() / n as f64;
    let my = y.iter().sum::<f64>() / n as f64;
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx <= 0.0 || syy <= 0.0 {
        return None;
    }
    Some((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// Spearman rank correlation (average ranks for ties); `None` when either side is constant,
/// lengths differ or there are fewer than 2 values. Non-finite values rank by `total_cmp`.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

/// Solves the symmetric system `a x = b` (row-major `n x n`) by Gaussian elimination with
/// partial pivoting; `None` when (numerically) singular.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    let scale = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale == 0.0 || !scale.is_finite() {
        return None;
    }
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        if a[piv * n + col].abs() <= 1e-12 * scale {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(col * n + k, piv * n + k);
            }
            b.swap(col, piv);
        }
        for r in col + 1..n {
            let f = a[r * n + col] / a[col * n + col];
            if f != 0.0 {
                for k in col..n {
                    a[r * n + k] -= f * a[col * n + k];
                }
                b[r] -= f * b[col];
            }
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Non-negative least squares `min ||A x - y||, x >= 0` given the normal equations
/// `gram = A^T A` (row-major `k x k`) and `aty = A^T y`, by the Lawson-Hanson active-set
/// method (in the covariance form of Bro & de Jong). Returns `k` non-negative coefficients;
/// all zero when no column correlates positively with `y`.
pub fn nnls(gram: &[f64], aty: &[f64]) -> Vec<f64> {
    let k = aty.len();
    let mut x = vec![0.0; k];
    if gram.len() != k * k || gram.iter().chain(aty).any(|v| !v.is_finite()) {
        return x;
    }
    let scale = aty.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let tol = 1e-10 * scale.max(f64::MIN_POSITIVE);
    let mut passive = vec![false; k];
    let gradient = |x: &[f64]| -> Vec<f64> {
        (0..k)
            .map(|i| aty[i] - (0..k).map(|j| gram[i * k + j] * x[j]).sum::<f64>())
            .collect()
    };
    // Solve the unconstrained problem on the passive set (zero elsewhere).
    let sub = |passive: &[bool]| -> Option<Vec<f64>> {
        let idx: Vec<usize> = (0..k).filter(|&i| passive[i]).collect();
        let m = idx.len();
        let mut a = vec![0.0; m * m];
        for (r, &i) in idx.iter().enumerate() {
            for (c, &j) in idx.iter().enumerate() {
                a[r * m + c] = gram[i * k + j];
            }
        }
        let z = solve(a, idx.iter().map(|&i| aty[i]).collect())?;
        let mut full = vec![0.0; k];
        for (r, &i) in idx.iter().enumerate() {
            full[i] = z[r];
        }
        Some(full)
    };
    for _ in 0..(3 * k + 10) {
        let w = gradient(&x);
        let Some(j) = (0..k)
            .filter(|&i| !passive[i] && w[i] > tol)
            .max_by(|&a, &b| w[a].total_cmp(&w[b]))
        else {
            break;
        };
        passive[j] = true;
        let mut inner = 0;
        loop {
            inner += 1;
            let Some(z) = sub(&passive) else {
                // Collinear column: drop it and stop growing the set along it.
                passive[j] = false;
                return x;
            };
            if (0..k).all(|i| !passive[i] || z[i] > 0.0) {
                x = z;
                break;
            }
            let mut alpha = 1.0f64;
            for i in 0..k {
                if passive[i] && z[i] <= 0.0 {
                    let d = x[i] - z[i];
                    if d > 0.0 {
                        alpha = alpha.min(x[i] / d);
                    }
                }
            }
            for i in 0..k {
                x[i] += alpha * (z[i] - x[i]);
                if passive[i] && x[i] <= tol.min(1e-14) {
                    passive[i] = false;
                    x[i] = 0.0;
                }
            }
            if inner > 3 * k + 10 || !passive.iter().any(|&p| p) {
                break;
            }
        }
    }
    x.iter_mut().for_each(|v| *v = v.max(0.0));
    x
}

/// Calibrates `model` against `outcomes[i]` of the customer given by `rows[i]` (values in model
/// attribute order). Customers with a non-finite outcome are skipped.
pub fn calibrate<R: AsRef<[AttrValue]>>(
    model: &ScoreModel,
    rows: &[R],
    outcomes: &[f64],
) -> Result<Calibration, CalibrationError> {
    if rows.len() != outcomes.len() {
        return Err(CalibrationError::LengthMismatch {
            rows: rows.len(),
            outcomes: outcomes.len(),
        });
    }
    let k = model.attributes.len();
    let mut points = Vec::new();
    let mut y = Vec::new();
    for (row, &o) in rows.iter().zip(outcomes) {
        if o.is_finite() {
            points.push(model.points_row(row.as_ref()));
            y.push(o);
        }
    }
    let n = y.len();
    if n < 2 {
        return Err(CalibrationError::TooFewCustomers);
    }
    let scores: Vec<f64> = points.iter().map(|p| model.score_points(p)).collect();
    let mean = y.iter().sum::<f64>() / n as f64;
    let mut sums = [(0.0, 0usize); 5];
    for (s, o) in scores.iter().zip(&y) {
        let g = model.grades.grade(*s) as usize;
        sums[g].0 += o;
        sums[g].1 += 1;
    }
    let grade_means = sums.map(|(s, c)| (c > 0).then(|| s / c as f64));
    let top_grade_lift = match grade_means[0] {
        Some(a) if mean > 0.0 => Some(a / mean),
        _ => None,
    };

    // Centered normal equations (free intercept).
    let mut pm = vec![0.0; k];
    for p in &points {
        for (m, v) in pm.iter_mut().zip(p) {
            *m += v / n as f64;
        }
    }
    let mut gram = vec![0.0; k * k];
    let mut aty = vec![0.0; k];
    for (p, o) in points.iter().zip(&y) {
        let dy = o - mean;
        for i in 0..k {
            let di = p[i] - pm[i];
            aty[i] += di * dy;
            for j in 0..k {
                gram[i * k + j] += di * (p[j] - pm[j]);
            }
        }
    }
    let fit = nnls(&gram, &aty);
    let total: f64 = fit.iter().sum();
    let proposal_found = total > 0.0 && total.is_finite();
    let new: Vec<f64> = if proposal_found {
        fit.iter().map(|w| 100.0 * w / total).collect()
    } else {
        model.attributes.iter().map(|a| a.weight).collect()
    };
    let new_scores: Vec<f64> = points
        .iter()
        .map(|p| (new.iter().zip(p).map(|(w, v)| w * v).sum::<f64>() / 100.0).clamp(0.0, 100.0))
        .collect();
    Ok(Calibration {
        customers: n,
        spearman: spearman(&scores, &y),
        top_grade_lift,
        grade_means,
        weights: model
            .attributes
            .iter()
            .zip(&new)
            .map(|(a, &w)| WeightChange {
                attribute: a.name.clone(),
                old: a.weight,
                new: w,
            })
            .collect(),
        proposal_found,
        new_spearman: spearman(&new_scores, &y),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = r#"
[[attribute]]
name = "industry"
weight = 60
kind = "categorical"
default = 10
points = { Finance = 100, services = 30 }

[[attribute]]
name = "registered_capital"
weight = 40
kind = "numeric"
ranges = [ { min = 20000000, points = 70 }, { max = 20000000, points = 20 } ]
"#;

    fn values(pairs: &[(&str, AttrValue)]) -> BTreeMap<String, AttrValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn seed_example() {
        let m = ScoreModel::from_toml(SEED).unwrap();
        let s = m.score(&values(&[
            ("industry", AttrValue::Text(" FINANCE ".into())),
            ("registered_capital", AttrValue::Number(2e7)),
        ]));
        assert!((s.score - (0.6 * 100.0 + 0.4 * 70.0)).abs() < 1e-12);
        assert_eq!(s.grade, Grade::A);
        assert_eq!(s.explanation[0].matched, "finance");
        assert_eq!(s.explanation[0].points, 100.0);
        assert!((s.explanation[0].contribution - 60.0).abs() < 1e-12);
        assert_eq!(s.explanation[1].matched, ">= 20000000");
        let s = m.score(&values(&[
            ("industry", AttrValue::Text("services".into())),
            ("registered_capital", AttrValue::Text("1000".into())),
        ]));
        assert!((s.score - (18.0 + 8.0)).abs() < 1e-12);
        assert_eq!(s.grade, Grade::D);
        // Missing everything: default points.
        let s = m.score(&BTreeMap::new());
        assert!((s.score - 6.0).abs() < 1e-12);
        assert_eq!(s.grade, Grade::E);
        assert_eq!(s.explanation[1].matched, "default");
        assert_eq!(s.explanation[1].value, AttrValue::Missing);
    }

    #[test]
    fn grades() {
        let g = GradeThresholds::default();
        assert_eq!(g.grade(100.0), Grade::A);
        assert_eq!(g.grade(80.0), Grade::A);
        assert_eq!(g.grade(79.9), Grade::B);
        assert_eq!(g.grade(40.0), Grade::C);
        assert_eq!(g.grade(20.0), Grade::D);
        assert_eq!(g.grade(0.0), Grade::E);
    }

    #[test]
    fn default_model_parses_and_scores() {
        let m = ScoreModel::from_toml(DEFAULT_MODEL_TOML).unwrap();
        assert_eq!(m, ScoreModel::default_model());
        assert_eq!(m.attributes.len(), 8);
        let total: f64 = m.attributes.iter().map(|a| a.weight).sum();
        assert_eq!(total, 100.0);
        let best = m.score(&values(&[
            ("industry", AttrValue::Text("finance".into())),
            ("registered_capital", AttrValue::Number(5e8)),
            ("employees", AttrValue::Number(5000.0)),
            ("annual_margin", AttrValue::Number(1e6)),
            ("purchase_frequency", AttrValue::Number(20.0)),
            ("credit_rating", AttrValue::Text("AAA".into())),
            ("loyalty", AttrValue::Text("advocate".into())),
            ("satisfaction", AttrValue::Number(4.8)),
        ]));
        assert_eq!(best.score, 100.0);
        assert_eq!(best.grade, Grade::A);
        let numbers_as_category = m.attributes[5].points(&AttrValue::Number(3.0));
        assert_eq!(numbers_as_category, (30.0, "default".to_string()));
    }

    #[test]
    fn attribute_part_rescales_the_profile_weights() {
        let m = ScoreModel::default_model();
        let part = m.attribute_part().unwrap();
        let names: Vec<&str> = part.attributes.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "industry",
                "registered_capital",
                "employees",
                "credit_rating",
                "satisfaction"
            ]
        );
        let total: f64 = part.attributes.iter().map(|a| a.weight).sum();
        assert!((total - 100.0).abs() < 1e-9);
        assert!((part.attributes[0].weight - 1500.0 / 55.0).abs() < 1e-9);
        assert_eq!(part.grades, m.grades);
        // A finance prospect with a registered capital of 50 million, nothing else known:
        // industry 100, capital 70, employees 0, credit rating 30 (default), satisfaction 50
        // (default) -> (15*100 + 10*70 + 10*30 + 10*50) / 55 = 54.5 -> C.
        let s = part.score(&values(&[
            ("industry", AttrValue::Text("finance".into())),
            ("registered_capital", AttrValue::Number(5e7)),
        ]));
        assert!((s.score - 3000.0 / 55.0).abs() < 1e-9, "{}", s.score);
        assert_eq!(s.grade, Grade::C);
        // The best profile reaches 100 without any purchase.
        let best = part.score(&values(&[
            ("industry", AttrValue::Text("finance".into())),
            ("registered_capital", AttrValue::Number(5e8)),
            ("employees", AttrValue::Number(5000.0)),
            ("credit_rating", AttrValue::Text("AAA".into())),
            ("satisfaction", AttrValue::Number(4.8)),
        ]));
        assert!((best.score - 100.0).abs() < 1e-9);
        // Nothing left with a weight: no attribute part.
        let only_purchases = ScoreModel::from_toml(
            "[[attribute]]\nname = \"annual_margin\"\nweight = 100\nkind = \"numeric\"\nranges = [{ min = 0, points = 50 }]\n",
        )
        .unwrap();
        assert_eq!(only_purchases.attribute_part(), None);
    }

    fn err(src: &str) -> ModelError {
        ScoreModel::from_toml(src).unwrap_err()
    }

    #[test]
    fn validation_errors_name_attribute_and_line() {
        let e = err(&SEED.replace("weight = 40", "weight = 30"));
        assert!(e.message.contains("weights sum to 90"), "{e}");
        assert!(e.message.contains("industry=60 (line 3)"), "{e}");
        assert!(e.message.contains("registered_capital=30 (line 10)"), "{e}");

        let e = err(&SEED.replace("services = 30", "services = 130"));
        assert_eq!(e.attribute.as_deref(), Some("industry"));
        assert_eq!(e.line, Some(7));
        assert!(e
            .to_string()
            .starts_with("line 7: attribute `industry`: points of `services`"));

        let e = err(&SEED.replace(
            "{ max = 20000000, points = 20 }",
            "{ max = 30000000, points = 20 }",
        ));
        assert_eq!(e.attribute.as_deref(), Some("registered_capital"));
        assert!(e.message.contains("overlap"), "{e}");

        let e = err(&SEED.replace("kind = \"numeric\"", "kind = \"ordinal\""));
        assert_eq!(e.line, Some(12));
        assert!(e.message.contains("ordinal"));

        let e = err(&SEED.replace("weight = 60", "weight = -60"));
        assert_eq!(e.line, Some(4));

        let e = err(&SEED.replace("registered_capital", "industry"));
        assert!(e.message.contains("duplicate"));

        let e = err(&SEED.replace("Finance = 100", "Finance = 100, FINANCE = 90"));
        assert!(e.message.contains("twice"), "{e}");

        let e = err(&SEED.replace("default = 10", "default = 101"));
        assert_eq!(e.line, Some(6));

        let e = err("[[attribute]]\nname = \"x\"\nweight = 100\nkind = \"numeric\"\nranges = [{ min = 5, max = 5, points = 1 }]");
        assert!(e.message.contains("empty"), "{e}");

        let e = err("[grades]\na = 50\nb = 60\n[[attribute]]\nname = \"x\"\nweight = 100\nkind = \"numeric\"");
        assert!(e.message.contains("grade thresholds"));

        let e = err("[[attribute]]\nname = \"x\"\nweight = 100\nkind = \"numeric\"\ncolour = 1");
        assert!(e.line.is_some());
        assert!(e.message.contains("colour"), "{e}");
        assert!(err("").message.contains("no [[attribute]]"));
    }

    #[test]
    fn parsing_garbage_never_panics() {
        let samples = [
            "",
            "[[",
            "\u{0}",
            "[[attribute]]",
            "[[attribute]]\nname = 1",
            "weight = nan",
            "[[attribute]]\nname=\"é\"\nweight=nan\nkind=\"numeric\"",
            "[[attribute]]\nname=\"a\"\nweight=100\nkind=\"numeric\"\nranges=[{min=nan,points=1}]",
            "[[attribute]]\nname=\"a\"\nweight=inf\nkind=\"categorical\"",
            "[grades]\na=nan",
            "attribute = 5",
            "[[attribute]]\nname=\"\"\nweight=100\nkind=\"numeric\"",
        ];
        for s in samples {
            assert!(ScoreModel::from_toml(s).is_err(), "{s:?}");
        }
        // Every prefix of the default model, cut at char boundaries.
        for (i, _) in DEFAULT_MODEL_TOML.char_indices() {
            let _ = ScoreModel::from_toml(&DEFAULT_MODEL_TOML[..i]);
        }
        // Single-character mutations of a valid model.
        for (i, _) in SEED.char_indices() {
            for c in ['[', ']', '"', '=', '\n', '9', '-', '{', ',', 'é'] {
                let mut m = SEED.to_string();
                m.replace_range(i..i + 1, &c.to_string());
                if let Ok(model) = ScoreModel::from_toml(&m) {
                    let s = model.score(&BTreeMap::new());
                    assert!((0.0..=100.0).contains(&s.score));
                }
            }
        }
    }

    #[test]
    fn with_weights_validates() {
        let m = ScoreModel::from_toml(SEED).unwrap();
        let m2 = m.with_weights(&[50.0, 50.0]).unwrap();
        assert_eq!(m2.attributes[1].weight, 50.0);
        assert!(m.with_weights(&[50.0]).is_err());
        assert!(m.with_weights(&[50.0, 40.0]).is_err());
        assert!(m.with_weights(&[150.0, -50.0]).is_err());
    }

    #[test]
    fn spearman_basics() {
        let close = |r: Option<f64>, v: f64| r.is_some_and(|r| (r - v).abs() < 1e-12);
        assert!(close(spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]), 1.0));
        assert!(close(spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0));
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), None);
        assert_eq!(spearman(&[], &[]), None);
        // Ties: ranks (1.5, 1.5, 3) vs (1, 2, 3).
        let r = spearman(&[1.0, 1.0, 2.0], &[1.0, 2.0, 3.0]).unwrap();
        assert!((r - 0.866_025_403_784_438_6).abs() < 1e-12);
    }

    #[test]
    fn nnls_matches_known_solutions() {
        // A = I, y = (1, -2, 3) -> x = (1, 0, 3).
        let gram = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let x = nnls(&gram, &[1.0, -2.0, 3.0]);
        assert_eq!(x, vec![1.0, 0.0, 3.0]);
        // A = [[1, 0], [1, 1], [0, 1]], y = (2, 1, -1): unconstrained LS gives (5/3, -4/3)?
        // With x2 >= 0: x2 = 0, x1 = (A1.y)/(A1.A1) = 3/2.
        let gram = [2.0, 1.0, 1.0, 2.0];
        let x = nnls(&gram, &[3.0, 0.0]);
        assert!((x[0] - 1.5).abs() < 1e-12 && x[1] == 0.0, "{x:?}");
        // Interior solution equals LS: A = [[1,0],[0,1],[1,1]], y = (1, 2, 3) -> (1, 2).
        let x = nnls(&[2.0, 1.0, 1.0, 2.0], &[4.0, 5.0]);
        assert!(
            (x[0] - 1.0).abs() < 1e-12 && (x[1] - 2.0).abs() < 1e-12,
            "{x:?}"
        );
        assert_eq!(nnls(&[1.0], &[-1.0]), vec![0.0]);
        assert_eq!(nnls(&[f64::NAN], &[1.0]), vec![0.0]);
        assert_eq!(nnls(&[], &[]), Vec::<f64>::new());
        // Singular (duplicate column): still a non-negative solution fitting the data.
        let x = nnls(&[1.0, 1.0, 1.0, 1.0], &[2.0, 2.0]);
        assert!(
            (x[0] + x[1] - 2.0).abs() < 1e-9 && x.iter().all(|v| *v >= 0.0),
            "{x:?}"
        );
    }

    #[test]
    fn calibration_recovers_the_driving_attribute() {
        let m = ScoreModel::from_toml(SEED).unwrap();
        // Outcome driven by capital only; industry is noise.
        let industries = ["finance", "services", "other"];
        let mut rows = Vec::new();
        let mut outcomes = Vec::new();
        for i in 0..300u32 {
            let capital = if i % 2 == 0 { 3e7 } else { 1e6 };
            rows.push(vec![
                AttrValue::Text(industries[(i as usize / 2) % 3].into()),
                AttrValue::Number(capital),
            ]);
            outcomes.push(if capital > 2e7 { 1000.0 } else { 100.0 } + f64::from(i % 7));
        }
        let c = calibrate(&m, &rows, &outcomes).unwrap();
        assert_eq!(c.customers, 300);
        assert!(c.proposal_found);
        assert_eq!(c.weights[0].old, 60.0);
        assert!(c.weights[0].new < 1.0, "{:?}", c.weights);
        assert!(c.weights[1].new > 99.0, "{:?}", c.weights);
        let sum: f64 = c.weights.iter().map(|w| w.new).sum();
        assert!((sum - 100.0).abs() < 1e-9);
        assert!(c.new_spearman.unwrap() > c.spearman.unwrap());
        assert!(c.new_spearman.unwrap() > 0.8);
        // Finance + big capital is grade A: 60 + 28 = 88; its outcome is ~1000 vs mean ~550.
        assert!(c.top_grade_lift.unwrap() > 1.5);
        assert!(c.grade_means[0].is_some());
    }

    #[test]
    fn calibration_degenerate_inputs() {
        let m = ScoreModel::from_toml(SEED).unwrap();
        let rows: Vec<Vec<AttrValue>> = vec![vec![]; 3];
        assert!(matches!(
            calibrate(&m, &rows, &[1.0]),
            Err(CalibrationError::LengthMismatch { .. })
        ));
        assert_eq!(
            calibrate(&m, &rows, &[1.0, f64::NAN, f64::INFINITY]),
            Err(CalibrationError::TooFewCustomers)
        );
        // All-missing values, all-zero outcomes: no NaN anywhere, old weights kept.
        let c = calibrate(&m, &rows, &[0.0, 0.0, 0.0]).unwrap();
        assert!(!c.proposal_found);
        assert_eq!(c.spearman, None);
        assert_eq!(c.top_grade_lift, None);
        assert_eq!(c.weights[0].new, 60.0);
        // Negative outcomes: no lift, no panic.
        let rows = vec![
            vec![AttrValue::Text("finance".into()), AttrValue::Number(3e7)],
            vec![AttrValue::Text("services".into()), AttrValue::Number(1.0)],
        ];
        let c = calibrate(&m, &rows, &[-5.0, -10.0]).unwrap();
        assert_eq!(c.top_grade_lift, None);
        assert!((c.spearman.unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn values_deserialize_untagged() {
        #[derive(serde::Deserialize)]
        struct Row {
            v: Vec<AttrValue>,
        }
        let r: Row = toml::from_str("v = [1.5, \"finance\", 3]").unwrap();
        assert_eq!(
            r.v,
            vec![
                AttrValue::Number(1.5),
                AttrValue::Text("finance".into()),
                AttrValue::Number(3.0)
            ]
        );
    }
}
