//! A strict reader of the Prometheus text exposition format, for the tests of `/metrics`.

use std::collections::BTreeSet;

/// One sample: `name{labels} value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series name (with its `_bucket`, `_sum` or `_count` suffix for histograms).
    pub name: String,
    /// The labels in their order.
    pub labels: Vec<(String, String)>,
    /// The value (`+Inf` and `-Inf` allowed).
    pub value: f64,
}

/// Parses `text` strictly: every line is blank, a `# HELP name text` or
/// `# TYPE name counter|gauge|histogram|summary|untyped` comment, or `name{labels} value`
/// (labels `key="value"` separated by commas, with the `\"`, `\\` and `\n` escapes); each
/// sample's family (its name less `_bucket`, `_sum`, `_count` for a typed histogram or summary)
/// has both a TYPE and a HELP line before it. The error names the line.
pub fn parse_prometheus(text: &str) -> Result<Vec<Sample>, String> {
    let mut typed = BTreeSet::new();
    let mut helped = BTreeSet::new();
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |m: &str| format!("line {}: {m}: {line}", i + 1);
        if line.trim().is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("HELP"), Some(name), Some(_)) if valid_name(name) => {
                    helped.insert(name.to_string());
                }
                (Some("TYPE"), Some(name), Some(kind))
                    if valid_name(name)
                        && ["counter", "gauge", "histogram", "summary", "untyped"]
                            .contains(&kind) =>
                {
                    typed.insert(name.to_string());
                }
                _ => return Err(at("bad comment")),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').ok_or_else(|| at("no value"))?;
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| at("bad value"))?,
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, Vec::new()),
            Some((name, rest)) => {
                let body = rest
                    .strip_suffix('}')
                    .ok_or_else(|| at("unclosed labels"))?;
                (name, parse_labels(body).ok_or_else(|| at("bad labels"))?)
            }
        };
        if !valid_name(name) {
            return Err(at("bad metric name"));
        }
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        if !typed.contains(family) || !helped.contains(family) {
            return Err(at("sample without TYPE and HELP lines"));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(samples)
}

/// The first sample named `name` that has all of `labels` (and maybe others).
pub fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(lk, lv)| lk == k && lv == v))
    })
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_labels(body: &str) -> Option<Vec<(String, String)>> {
    let mut labels = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (key, after) = rest.split_once("=\"")?;
        if !valid_name(key) {
            return None;
        }
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    _ => return None,
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.push((key.to_string(), value));
        rest = &after[end + 1..];
        if !rest.is_empty() {
            rest = rest.strip_prefix(',')?;
        }
    }
    Some(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_good_text_and_refuses_malformed_text() {
        let ok = "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"1\\\"2\",y=\"\"} 3\n\n\
                  # HELP h Time.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.5\nh_count 2\n";
        let samples = parse_prometheus(ok).unwrap();
        assert_eq!(samples[0].labels[0].1, "1\"2");
        assert_eq!(find(&samples, "h_count", &[]).unwrap().value, 2.0);
        for bad in [
            "a_total 3\n",
            "# HELP a_total T.\n# TYPE a_total counter\na_total{x=1} 3\n",
            "# HELP a_total T.\n# TYPE a_total counter\na_total{x=\"1\"y=\"2\"} 3\n",
            "# HELP a_total T.\n# TYPE a_total counter\na_total three\n",
            "# HELP a_total T.\n# TYPE a_total widget\na_total 3\n",
            "# TYPE a_total counter\na_total 3\n",
        ] {
            assert!(parse_prometheus(bad).is_err(), "{bad}");
        }
    }
}
