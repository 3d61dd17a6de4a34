//! The value score model TOML (`ScoreModel::from_toml`: parse and validation).
//!
//! Properties:
//! - no panic, whatever the text;
//! - an error has a message and, when it gives a line, a line of the text;
//! - an accepted model keeps its documented invariants: unique non-empty attribute names,
//!   finite weights >= 0 summing to 100, points in 0..=100, sorted non-overlapping ranges;
//! - any customer's score (values taken from the input) is in 0..=100 and graded by the model's
//!   thresholds;
//! - the model written back as TOML parses to the same model.
#![no_main]

use std::collections::BTreeMap;
use std::fmt::Write;

use libfuzzer_sys::fuzz_target;
use patron_value::score::{AttrValue, AttributeKind, ScoreModel};

fn quoted(s: &str) -> String {
    // A JSON string is a TOML basic string (same escapes, \uXXXX for control characters).
    serde_json::to_string(s).unwrap()
}

fn to_toml(m: &ScoreModel) -> String {
    let g = &m.grades;
    let mut s = format!(
        "[grades]\na = {:?}\nb = {:?}\nc = {:?}\nd = {:?}\n",
        g.a, g.b, g.c, g.d
    );
    for a in &m.attributes {
        write!(
            s,
            "\n[[attribute]]\nname = {}\nweight = {:?}\ndefault = {:?}\n",
            quoted(&a.name),
            a.weight,
            a.default_points
        )
        .unwrap();
        match &a.kind {
            AttributeKind::Categorical { points } => {
                let items: Vec<String> = points
                    .iter()
                    .map(|(k, v)| format!("{} = {v:?}", quoted(k)))
                    .collect();
                writeln!(
                    s,
                    "kind = \"categorical\"\npoints = {{ {} }}",
                    items.join(", ")
                )
                .unwrap();
            }
            AttributeKind::Numeric { ranges } => {
                let items: Vec<String> = ranges
                    .iter()
                    .map(|r| {
                        let mut t = Vec::new();
                        if let Some(x) = r.min {
                            t.push(format!("min = {x:?}"));
                        }
                        if let Some(x) = r.max {
                            t.push(format!("max = {x:?}"));
                        }
                        t.push(format!("points = {:?}", r.points));
                        format!("{{ {} }}", t.join(", "))
                    })
                    .collect();
                writeln!(s, "kind = \"numeric\"\nranges = [{}]", items.join(", ")).unwrap();
            }
        }
    }
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let model = match ScoreModel::from_toml(src) {
        Err(e) => {
            assert!(!e.message.is_empty());
            if let Some(l) = e.line {
                assert!(
                    l >= 1 && l <= src.lines().count().max(1) + 1,
                    "line {l}: {e}"
                );
            }
            return;
        }
        Ok(m) => m,
    };
    let mut names = std::collections::HashSet::new();
    let mut total = 0.0;
    for a in &model.attributes {
        assert!(!a.name.is_empty() && a.name == a.name.trim());
        assert!(names.insert(a.name.clone()), "duplicate {}", a.name);
        assert!(a.weight.is_finite() && a.weight >= 0.0);
        assert!((0.0..=100.0).contains(&a.default_points));
        total += a.weight;
        match &a.kind {
            AttributeKind::Categorical { points } => {
                assert!(points.values().all(|p| (0.0..=100.0).contains(p)))
            }
            AttributeKind::Numeric { ranges } => {
                assert!(ranges.iter().all(|r| (0.0..=100.0).contains(&r.points)));
                for w in ranges.windows(2) {
                    let hi = w[0].max.unwrap_or(f64::INFINITY);
                    let lo = w[1].min.unwrap_or(f64::NEG_INFINITY);
                    assert!(hi <= lo, "ranges overlap: {w:?}");
                }
            }
        }
    }
    assert!((total - 100.0).abs() <= 1e-6, "weights sum to {total}");

    // Values for every attribute, from the input: numbers where the text has them, else text.
    let words: Vec<&str> = src.split(|c: char| c.is_whitespace() || c == '=').collect();
    for chunk in words.chunks(model.attributes.len().max(1)).take(8) {
        let values: BTreeMap<String, AttrValue> = model
            .attributes
            .iter()
            .zip(chunk)
            .map(|(a, w)| {
                let v = match w.parse::<f64>() {
                    Ok(x) => AttrValue::Number(x),
                    Err(_) => AttrValue::Text(w.to_string()),
                };
                (a.name.clone(), v)
            })
            .collect();
        let s = model.score(&values);
        assert!((0.0..=100.0).contains(&s.score), "score {}", s.score);
        assert_eq!(s.grade, model.grades.grade(s.score));
    }

    let again = to_toml(&model);
    let reparsed = ScoreModel::from_toml(&again)
        .unwrap_or_else(|e| panic!("model written back refused: {e}\n{again}"));
    assert_eq!(model, reparsed, "{again}");
});
