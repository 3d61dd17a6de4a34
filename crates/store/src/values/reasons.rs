//! Churn reasons as stored: the analysis's [`ReasonKind`] itself (a few numbers, no heap), with
//! a fallback for stored reasons this build cannot word.
//!
//! Three forms:
//! * in memory, [`StoredChurnReason::Known`] is about 32 bytes; the reason it replaced (kind,
//!   English sentence and a map of figures by name) cost about 650 bytes of heap, a million of
//!   them at a million customers;
//! * in the API, the reports and the old `customer_values` rows, the *full* form
//!   `{"kind": .., "detail": .., "figures": {..}}` (the sentence, and the figures a JSON number
//!   holds, by name);
//! * in `customer_values.churn_reasons`, the *compact* form, [`ReasonKind`]'s own serde form
//!   without the sentence (`{"kind":"long_absence","days_since_last":717,...}`), non-finite
//!   figures written as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` (what PostgreSQL's
//!   `float8` and JavaScript's `Number` read back).
//!
//! Reading accepts both; a full-form reason becomes [`StoredChurnReason::Known`] only when its
//! figures give back exactly its stored sentence and figures, so old and foreign data shows as
//! it was stored.

use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;

use patron_value::churn::{ChurnReason, ReasonKind};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One reason of a churn warning, as stored.
#[derive(Debug, Clone)]
pub enum StoredChurnReason {
    /// A reason this build words from its figures ([`ChurnReason::detail`]).
    Known(ReasonKind),
    /// A stored reason of a kind this build does not know, or whose figures do not give back
    /// its stored sentence (older wording, figures missing): kept as read. Boxed so that the
    /// common case stays small.
    Other(Box<OtherChurnReason>),
}

/// A churn reason kept as read (see [`StoredChurnReason::Other`]).
#[derive(Debug, Clone, PartialEq)]
pub struct OtherChurnReason {
    pub kind: String,
    /// For people (English); empty when the stored form had none.
    pub detail: String,
    pub figures: BTreeMap<String, f64>,
}

/// A known kind's serde tag and its figures in declaration order (the serde order).
struct Parts {
    kind: &'static str,
    figures: [(&'static str, f64); 4],
    len: usize,
}

impl Parts {
    fn figures(&self) -> &[(&'static str, f64)] {
        &self.figures[..self.len]
    }
}

fn parts(k: &ReasonKind) -> Parts {
    let (kind, f, len) = match *k {
        ReasonKind::RevenueDrop {
            current,
            previous,
            change,
            period_days,
        } => (
            "revenue_drop",
            [
                ("current", current),
                ("previous", previous),
                ("change", change),
                ("period_days", f64::from(period_days)),
            ],
            4,
        ),
        ReasonKind::LongAbsence {
            days_since_last,
            mean_gap_days,
            ratio,
        } => (
            "long_absence",
            [
                ("days_since_last", days_since_last),
                ("mean_gap_days", mean_gap_days),
                ("ratio", ratio),
                ("", 0.0),
            ],
            3,
        ),
        ReasonKind::LowPAlive { p_alive, threshold } => (
            "low_p_alive",
            [
                ("p_alive", p_alive),
                ("threshold", threshold),
                ("", 0.0),
                ("", 0.0),
            ],
            2,
        ),
        ReasonKind::NoSecondPurchase {
            days_since_purchase,
            typical_gap_days,
            quantile,
            repeat_buyers,
        } => (
            "no_second_purchase",
            [
                ("days_since_purchase", days_since_purchase),
                ("typical_gap_days", typical_gap_days),
                ("quantile", quantile),
                ("repeat_buyers", f64::from(repeat_buyers)),
            ],
            4,
        ),
    };
    Parts {
        kind,
        figures: f,
        len,
    }
}

/// The known kind named `kind` from its figures (`get` gives each by name); `None` for an
/// unknown kind, a missing figure or a count that is not a `u32`.
fn known_kind(kind: &str, get: impl Fn(&str) -> Option<f64>) -> Option<ReasonKind> {
    let count = |name: &str| {
        get(name)
            .filter(|x| x.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(x))
            .map(|x| x as u32)
    };
    Some(match kind {
        "revenue_drop" => ReasonKind::RevenueDrop {
            current: get("current")?,
            previous: get("previous")?,
            change: get("change")?,
            period_days: count("period_days")?,
        },
        "long_absence" => ReasonKind::LongAbsence {
            days_since_last: get("days_since_last")?,
            mean_gap_days: get("mean_gap_days")?,
            ratio: get("ratio")?,
        },
        "low_p_alive" => ReasonKind::LowPAlive {
            p_alive: get("p_alive")?,
            threshold: get("threshold")?,
        },
        "no_second_purchase" => ReasonKind::NoSecondPurchase {
            days_since_purchase: get("days_since_purchase")?,
            typical_gap_days: get("typical_gap_days")?,
            quantile: get("quantile")?,
            repeat_buyers: count("repeat_buyers")?,
        },
        _ => return None,
    })
}

impl StoredChurnReason {
    /// The reason of the full form's parts: [`StoredChurnReason::Known`] when `kind` is known
    /// and its figures give back exactly `detail` and `figures` (a figure left out of the
    /// full form, being non-finite, is tried as NaN), else kept as given.
    pub fn from_parts(kind: String, detail: String, figures: BTreeMap<String, f64>) -> Self {
        let candidate = known_kind(&kind, |name| {
            Some(figures.get(name).copied().unwrap_or(f64::NAN))
        });
        if let Some(k) = candidate {
            let known = StoredChurnReason::Known(k);
            let same_figures = {
                let mine = known.figures();
                mine.len() == figures.len()
                    && mine
                        .iter()
                        .zip(&figures)
                        .all(|(&(a, x), (b, y))| a == b && x == *y)
            };
            if same_figures && known.detail() == detail {
                return known;
            }
        }
        StoredChurnReason::Other(Box::new(OtherChurnReason {
            kind,
            detail,
            figures,
        }))
    }

    /// `revenue_drop`, `long_absence`, `low_p_alive`, `no_second_purchase` or, for a reason
    /// kept as read, its stored kind.
    pub fn kind(&self) -> &str {
        match self {
            StoredChurnReason::Known(k) => parts(k).kind,
            StoredChurnReason::Other(o) => &o.kind,
        }
    }

    /// For people: the figures behind the warning (English), worded on demand.
    pub fn detail(&self) -> String {
        match self {
            StoredChurnReason::Known(k) => ChurnReason { kind: *k }.detail(),
            StoredChurnReason::Other(o) => o.detail.clone(),
        }
    }

    /// The figures by name, sorted by name, as the full form carries them: the finite ones (a
    /// JSON number cannot hold the others).
    pub fn figures(&self) -> Vec<(&str, f64)> {
        match self {
            StoredChurnReason::Known(k) => {
                let p = parts(k);
                let mut v: Vec<(&str, f64)> = p
                    .figures()
                    .iter()
                    .filter(|(_, x)| x.is_finite())
                    .copied()
                    .collect();
                v.sort_unstable_by(|a, b| a.0.cmp(b.0));
                v
            }
            StoredChurnReason::Other(o) => o
                .figures
                .iter()
                .filter(|(_, x)| x.is_finite())
                .map(|(k, &x)| (k.as_str(), x))
                .collect(),
        }
    }

    /// One figure of [`StoredChurnReason::figures`] by name.
    pub fn figure(&self, name: &str) -> Option<f64> {
        match self {
            StoredChurnReason::Known(k) => parts(k)
                .figures()
                .iter()
                .find(|(n, _)| *n == name)
                .map(|&(_, x)| x),
            StoredChurnReason::Other(o) => o.figures.get(name).copied(),
        }
        .filter(|x| x.is_finite())
    }

    /// The analysis's reason, when this build knows it.
    pub fn known(&self) -> Option<&ReasonKind> {
        match self {
            StoredChurnReason::Known(k) => Some(k),
            StoredChurnReason::Other(_) => None,
        }
    }

    /// Appends the compact form (see the module) to `out`; a reason kept as read is written in
    /// the full form, its sentence being all it has.
    ///
    /// Written by hand rather than through `serde_json::to_string(&ReasonKind)`, which writes a
    /// NaN or infinite figure as `null` (read back, a different reason). Measured on 1 M reasons
    /// (`reasons_text` of 500,000 rows of two, release build, 2 shared cores): 0.13 s, against
    /// 0.17 s for serde's form of the same kinds and 2.2 s for the full form with its sentence.
    pub(crate) fn write_compact(&self, out: &mut String) -> Result<(), serde_json::Error> {
        match self {
            StoredChurnReason::Known(k) => {
                let p = parts(k);
                out.push_str("{\"kind\":\"");
                out.push_str(p.kind);
                out.push('"');
                for &(name, x) in p.figures() {
                    out.push_str(",\"");
                    out.push_str(name);
                    out.push_str("\":");
                    write_number(out, x);
                }
                out.push('}');
                Ok(())
            }
            StoredChurnReason::Other(_) => {
                out.push_str(&serde_json::to_string(self)?);
                Ok(())
            }
        }
    }
}

/// `x` as a JSON value that reads back as exactly `x`: integral figures (days, counts) without
/// a fraction, others in Rust's shortest round-trip form (`Debug`: exponents for huge and tiny
/// numbers), non-finite ones as strings.
fn write_number(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("\"NaN\"");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 {
            "\"Infinity\""
        } else {
            "\"-Infinity\""
        });
    } else if x.fract() == 0.0 && x.abs() < 1e15 && !(x == 0.0 && x.is_sign_negative()) {
        let _ = write!(out, "{}", x as i64);
    } else {
        let _ = write!(out, "{x:?}");
    }
}

impl From<ReasonKind> for StoredChurnReason {
    fn from(k: ReasonKind) -> Self {
        StoredChurnReason::Known(k)
    }
}

impl From<ChurnReason> for StoredChurnReason {
    fn from(r: ChurnReason) -> Self {
        StoredChurnReason::Known(r.kind)
    }
}

/// Equal when the full forms are: same kind, sentence and finite figures (as the reason with
/// public fields it replaced compared). Two known reasons compare their figures, NaN equal to
/// NaN, so that a reason read back from the compact form equals the one written.
impl PartialEq for StoredChurnReason {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (StoredChurnReason::Known(a), StoredChurnReason::Known(b)) => {
                let (a, b) = (parts(a), parts(b));
                a.kind == b.kind
                    && a.figures()
                        .iter()
                        .zip(b.figures())
                        .all(|(&(_, x), &(_, y))| x == y || (x.is_nan() && y.is_nan()))
            }
            (StoredChurnReason::Other(a), StoredChurnReason::Other(b)) => a == b,
            _ => {
                self.kind() == other.kind()
                    && self.detail() == other.detail()
                    && self.figures() == other.figures()
            }
        }
    }
}

impl Serialize for StoredChurnReason {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Figures<'a>(&'a [(&'a str, f64)]);
        impl Serialize for Figures<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut m = serializer.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut m = serializer.serialize_map(Some(3))?;
        m.serialize_entry("kind", self.kind())?;
        m.serialize_entry("detail", &self.detail())?;
        m.serialize_entry("figures", &Figures(&self.figures()))?;
        m.end()
    }
}

/// A figure as read: a number, or `"NaN"`/`"Infinity"`/`"-Infinity"` (the compact form's
/// non-finite figures), or `null` (NaN).
struct Figure(f64);

impl<'de> Deserialize<'de> for Figure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Figure;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number, \"NaN\", \"Infinity\" or \"-Infinity\"")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Figure, E> {
                Ok(Figure(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Figure, E> {
                Ok(Figure(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Figure, E> {
                Ok(Figure(v as f64))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Figure, E> {
                Ok(Figure(f64::NAN))
            }
            fn visit_none<E: de::Error>(self) -> Result<Figure, E> {
                Ok(Figure(f64::NAN))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Figure, E> {
                match v {
                    "NaN" => Ok(Figure(f64::NAN)),
                    "Infinity" => Ok(Figure(f64::INFINITY)),
                    "-Infinity" => Ok(Figure(f64::NEG_INFINITY)),
                    _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Reads the full form (with `detail` and/or `figures`) and the compact form (figures next to
/// `kind`).
impl<'de> Deserialize<'de> for StoredChurnReason {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StoredChurnReason;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a churn reason")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut kind: Option<String> = None;
                let mut detail: Option<String> = None;
                let mut figures: Option<BTreeMap<String, Figure>> = None;
                // The compact form's figures, next to `kind` (at most four of a known kind).
                let mut flat: Vec<(String, f64)> = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "kind" => kind = Some(map.next_value()?),
                        "detail" => detail = Some(map.next_value()?),
                        "figures" => figures = Some(map.next_value()?),
                        _ => {
                            let Figure(x) = map.next_value()?;
                            flat.push((key, x));
                        }
                    }
                }
                let kind = kind.ok_or_else(|| de::Error::missing_field("kind"))?;
                if detail.is_some() || figures.is_some() {
                    let figures = figures
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, Figure(x))| (k, x))
                        .collect();
                    return Ok(StoredChurnReason::from_parts(
                        kind,
                        detail.unwrap_or_default(),
                        figures,
                    ));
                }
                let get = |name: &str| flat.iter().find(|(k, _)| k == name).map(|&(_, x)| x);
                Ok(match known_kind(&kind, get) {
                    Some(k) => StoredChurnReason::Known(k),
                    // A kind of another build, written compact: no sentence to show.
                    None => StoredChurnReason::Other(Box::new(OtherChurnReason {
                        kind,
                        detail: String::new(),
                        figures: flat.into_iter().collect(),
                    })),
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_kind() -> Vec<ReasonKind> {
        vec![
            ReasonKind::RevenueDrop {
                current: 12.5,
                previous: 40.0,
                change: -0.6875,
                period_days: 90,
            },
            // Nothing before: the change is NaN.
            ReasonKind::RevenueDrop {
                current: 0.0,
                previous: 0.0,
                change: f64::NAN,
                period_days: 30,
            },
            ReasonKind::LongAbsence {
                days_since_last: 717.0,
                mean_gap_days: 12.0,
                ratio: 59.75,
            },
            ReasonKind::LongAbsence {
                days_since_last: 10.0,
                mean_gap_days: 0.0,
                ratio: f64::INFINITY,
            },
            ReasonKind::LongAbsence {
                days_since_last: 1.0 / 7.0,
                mean_gap_days: -0.0,
                ratio: f64::NEG_INFINITY,
            },
            ReasonKind::LowPAlive {
                p_alive: 0.123_456_789_012_345_67,
                threshold: 0.3,
            },
            ReasonKind::LowPAlive {
                p_alive: 1e-300,
                threshold: 1e300,
            },
            ReasonKind::NoSecondPurchase {
                days_since_purchase: 500.0,
                typical_gap_days: 120.0,
                quantile: 0.9,
                repeat_buyers: u32::MAX,
            },
            ReasonKind::NoSecondPurchase {
                days_since_purchase: 2e15,
                typical_gap_days: 365.0,
                quantile: 0.9,
                repeat_buyers: 0,
            },
        ]
    }

    fn same_bits(a: &ReasonKind, b: &ReasonKind) -> bool {
        let (a, b) = (parts(a), parts(b));
        a.kind == b.kind
            && a.figures().iter().zip(b.figures()).all(|(x, y)| {
                x.0 == y.0 && (x.1.to_bits() == y.1.to_bits() || x.1.is_nan() && y.1.is_nan())
            })
    }

    fn compact(reasons: &[StoredChurnReason]) -> String {
        crate::values::reasons_text(reasons).unwrap()
    }

    /// Every kind, non-finite figures included, reads back from the compact form bit for bit,
    /// and so words the same.
    #[test]
    fn the_compact_form_round_trips_every_kind() {
        let reasons: Vec<StoredChurnReason> = every_kind().into_iter().map(Into::into).collect();
        let text = compact(&reasons);
        let back: Vec<StoredChurnReason> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, reasons, "{text}");
        for (a, b) in reasons.iter().zip(&back) {
            assert!(
                same_bits(a.known().unwrap(), b.known().unwrap()),
                "{a:?} {b:?}"
            );
            assert_eq!(a.detail(), b.detail());
        }
        // Through a `serde_json::Value` too (PostgreSQL's JSONB reorders the keys).
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back: Vec<StoredChurnReason> = serde_json::from_value(value).unwrap();
        assert_eq!(back, reasons);
    }

    #[test]
    fn the_compact_form_is_the_kinds_serde_form_without_the_sentence() {
        let r = StoredChurnReason::from(ReasonKind::LongAbsence {
            days_since_last: 717.0,
            mean_gap_days: 12.0,
            ratio: 59.75,
        });
        assert_eq!(
            compact(std::slice::from_ref(&r)),
            r#"[{"kind":"long_absence","days_since_last":717,"mean_gap_days":12,"ratio":59.75}]"#
        );
        let nan = StoredChurnReason::from(ReasonKind::RevenueDrop {
            current: 0.0,
            previous: 0.0,
            change: f64::NAN,
            period_days: 90,
        });
        assert_eq!(
            compact(&[nan, r]),
            r#"[{"kind":"revenue_drop","current":0,"previous":0,"change":"NaN","period_days":90},{"kind":"long_absence","days_since_last":717,"mean_gap_days":12,"ratio":59.75}]"#
        );
        assert_eq!(compact(&[]), "[]");
        // A finite reason's compact form is ReasonKind's own serde form.
        let k: ReasonKind = serde_json::from_str(
            r#"{"kind":"long_absence","days_since_last":717,"mean_gap_days":12,"ratio":59.75}"#,
        )
        .unwrap();
        assert_eq!(StoredChurnReason::from(k), StoredChurnReason::from(k));
    }

    /// What the API, the reports and old rows carry: unchanged, byte for byte (the strings are
    /// those of the reason with public fields this type replaced).
    #[test]
    fn the_full_form_is_as_before() {
        let r = StoredChurnReason::from(ReasonKind::LongAbsence {
            days_since_last: 717.0,
            mean_gap_days: 12.0,
            ratio: 59.75,
        });
        let old = r#"{"kind":"long_absence","detail":"no purchase for 717 days, 59.8 times the usual gap of 12.0 days","figures":{"days_since_last":717.0,"mean_gap_days":12.0,"ratio":59.75}}"#;
        assert_eq!(serde_json::to_string(&r).unwrap(), old);
        let old_nan = r#"{"kind":"revenue_drop","detail":"revenue of the last 30 days fell NaN% (0.00 after 0.00 the 30 days before)","figures":{"current":0.0,"period_days":30.0,"previous":0.0}}"#;
        let nan = StoredChurnReason::from(ReasonKind::RevenueDrop {
            current: 0.0,
            previous: 0.0,
            change: f64::NAN,
            period_days: 30,
        });
        assert_eq!(serde_json::to_string(&nan).unwrap(), old_nan);
        let old_one_time = r#"{"kind":"no_second_purchase","detail":"one purchase only, 500 days ago; 90% of the customers who bought again did so within 120 days","figures":{"days_since_purchase":500.0,"quantile":0.9,"repeat_buyers":1234.0,"typical_gap_days":120.0}}"#;
        let one_time = StoredChurnReason::from(ReasonKind::NoSecondPurchase {
            days_since_purchase: 500.0,
            typical_gap_days: 120.0,
            quantile: 0.9,
            repeat_buyers: 1234,
        });
        assert_eq!(serde_json::to_string(&one_time).unwrap(), old_one_time);

        // Old rows and reports read back as the known reasons, equal to them.
        for (text, want) in [(old, &r), (old_nan, &nan), (old_one_time, &one_time)] {
            let back: StoredChurnReason = serde_json::from_str(text).unwrap();
            assert!(back.known().is_some(), "{text}");
            assert_eq!(&back, want);
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
        // The full form of every kind reads back worded the same.
        for k in every_kind() {
            let r = StoredChurnReason::from(k);
            let back: StoredChurnReason =
                serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
            assert_eq!(back.detail(), r.detail());
            assert_eq!(back.figures(), r.figures());
            assert_eq!(back, r);
        }
    }

    /// Old or foreign reasons this build cannot word keep their kind, sentence and figures.
    #[test]
    fn unknown_reasons_are_kept_as_read() {
        let texts = [
            // A kind of another build.
            r#"{"kind":"fading_interest","detail":"opens fewer mails","figures":{"opens":0.25}}"#,
            // An older wording.
            r#"{"kind":"long_absence","detail":"no purchase for 300 days; usual gap 40 days","figures":{"days_since_last":300.0,"mean_gap_days":40.0,"ratio":7.5}}"#,
            // Before the figures were stored.
            r#"{"kind":"revenue_drop","detail":"revenue down 80%","figures":{}}"#,
        ];
        for text in texts {
            let r: StoredChurnReason = serde_json::from_str(text).unwrap();
            assert!(r.known().is_none(), "{text}");
            assert_eq!(serde_json::to_string(&r).unwrap(), text);
            // Stored in the full form, the sentence being all it has.
            let stored = compact(std::slice::from_ref(&r));
            let back: Vec<StoredChurnReason> = serde_json::from_str(&stored).unwrap();
            assert_eq!(back, vec![r.clone()]);
        }
        // Without figures at all (the oldest rows).
        let r: StoredChurnReason =
            serde_json::from_str(r#"{"kind":"revenue_drop","detail":"revenue down 80%"}"#).unwrap();
        assert_eq!(
            (r.kind(), r.detail()),
            ("revenue_drop", "revenue down 80%".into())
        );
        assert!(r.figures().is_empty());
        // A compact reason of another build: its kind and figures, no sentence.
        let r: StoredChurnReason =
            serde_json::from_str(r#"{"kind":"fading_interest","opens":0.25,"ratio":"Infinity"}"#)
                .unwrap();
        assert_eq!((r.kind(), r.detail()), ("fading_interest", String::new()));
        assert_eq!(r.figures(), vec![("opens", 0.25)]);
        let back: Vec<StoredChurnReason> =
            serde_json::from_str(&compact(std::slice::from_ref(&r))).unwrap();
        assert_eq!(back[0].kind(), "fading_interest");
        assert!(serde_json::from_str::<StoredChurnReason>(r#"{"detail":"x"}"#).is_err());
        // A constructed reason that its figures word exactly is the known one.
        let r = StoredChurnReason::from_parts(
            "low_p_alive".into(),
            "probability of still being active is 12% (alert below 30%)".into(),
            [
                ("p_alive".to_string(), 0.12),
                ("threshold".to_string(), 0.3),
            ]
            .into_iter()
            .collect(),
        );
        assert_eq!(
            r.known(),
            Some(&ReasonKind::LowPAlive {
                p_alive: 0.12,
                threshold: 0.3
            })
        );
    }

    #[test]
    fn a_known_reason_is_small() {
        // The fallback costs nothing: 32 bytes, where the reason with public fields took 72
        // inline and about 650 on the heap.
        assert_eq!(
            std::mem::size_of::<StoredChurnReason>(),
            std::mem::size_of::<ReasonKind>()
        );
        assert!(std::mem::size_of::<StoredChurnReason>() <= 40);
    }
}
