//! The customer list's query string (`GET /api/customers?...`): filters, sort, page size and
//! the `after` cursor, through `patron_server::routes::customers::parse_list_query`.
//!
//! Properties:
//! - no panic, whatever the string;
//! - a refusal is 400 `bad_query` with a message;
//! - an accepted query holds only documented values (ABC class, RFM segment, grade, loyalty
//!   stage, page size 1-500) and no NUL character in any text the store binds (PostgreSQL
//!   refuses NUL in text: that would be a 500);
//! - the cursor decodes for the query's sort;
//! - the accepted query written back as a query string parses to the same filter, sort and page.
#![no_main]

use libfuzzer_sys::fuzz_target;
use patron_server::routes::customers::parse_list_query;
use patron_store::{CustomerCursor, CustomerFilter, CustomerSort};

fn sort_name(s: CustomerSort) -> &'static str {
    let i = [
        CustomerSort::Id,
        CustomerSort::IdDesc,
        CustomerSort::Name,
        CustomerSort::NameDesc,
        CustomerSort::ClvDesc,
        CustomerSort::ValueAtRiskDesc,
    ]
    .iter()
    .position(|x| *x == s)
    .unwrap();
    CustomerSort::NAMES[i]
}

fn to_query(
    f: &CustomerFilter,
    sort: CustomerSort,
    limit: Option<u32>,
    after: &Option<String>,
) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    let status = f.status.map(|x| x.to_string());
    let owner = f.owner_id.map(|x| x.to_string());
    let churn = f.churn_risk.map(|x| x.to_string());
    let limit = limit.map(|x| x.to_string());
    let pairs: [(&str, &Option<String>); 13] = [
        ("status", &status),
        ("owner_id", &owner),
        ("region", &f.region),
        ("industry", &f.industry),
        ("source", &f.source),
        ("tag", &f.tag),
        ("q", &f.q),
        ("abc", &f.abc_class),
        ("rfm_segment", &f.rfm_segment),
        ("grade", &f.grade),
        ("loyalty_stage", &f.loyalty_stage),
        ("churn_risk", &churn),
        ("limit", &limit),
    ];
    for (k, v) in pairs {
        if let Some(v) = v {
            s.append_pair(k, v);
        }
    }
    if f.exclude_opted_out {
        s.append_pair("exclude_opted_out", "true");
    }
    s.append_pair("sort", sort_name(sort));
    if let Some(a) = after {
        s.append_pair("after", a);
    }
    s.finish()
}

fuzz_target!(|data: &[u8]| {
    let Ok(q) = std::str::from_utf8(data) else {
        return;
    };
    let (filter, sort, page) = match parse_list_query(q) {
        Err(e) => {
            assert_eq!(e.status.as_u16(), 400, "{q:?}: {e:?}");
            assert_eq!(e.body.code, "bad_query");
            assert!(!e.body.message.is_empty());
            return;
        }
        Ok(parsed) => parsed,
    };
    let one_of = |v: &Option<String>, allowed: &[&str]| {
        assert!(v.as_deref().is_none_or(|v| allowed.contains(&v)), "{v:?}");
    };
    one_of(&filter.abc_class, &["A", "B", "C"]);
    one_of(&filter.grade, &["A", "B", "C", "D", "E"]);
    assert!(page.limit.is_none_or(|n| (1..=500).contains(&n)));
    for t in [
        &filter.region,
        &filter.industry,
        &filter.source,
        &filter.tag,
        &filter.q,
        &filter.rfm_segment,
        &filter.loyalty_stage,
        &page.after,
    ]
    .into_iter()
    .flatten()
    {
        assert!(!t.contains('\0'), "NUL in {t:?}");
    }
    if let Some(after) = &page.after {
        let cursor = sort.decode_cursor(after).expect("the cursor was accepted");
        if let CustomerCursor::Name(name, _) = &cursor {
            assert!(!name.contains('\0'), "a name cursor with NUL: {name:?}");
        }
    }
    let again = to_query(&filter, sort, page.limit, &page.after);
    let (f2, s2, p2) =
        parse_list_query(&again).unwrap_or_else(|e| panic!("{again:?} refused: {e:?}"));
    assert_eq!(filter, f2, "{again}");
    assert_eq!(sort, s2);
    assert_eq!((page.limit, page.after), (p2.limit, p2.after));
});
