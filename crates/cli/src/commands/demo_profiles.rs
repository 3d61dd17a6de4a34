//! Generated, plausible profile data for the demo firm on top of CDNOW's real orders:
//! companies (name, industry, region, address, phone, e-mail, employees, registered capital,
//! credit rating), sales reps as owners (users without passwords, role `rep`), contact persons,
//! interactions around the real order dates (visits, calls, quotes, promises, complaints), a
//! satisfaction survey answer (custom field `satisfaction`, 1-5) and referrals.
//!
//! Deterministic: every value comes from a hash of the CDNOW customer number, so two demos are
//! identical. Marked as generated in the data itself: tag `generated`, source `demo-generator`,
//! custom field `generated_by = "patron demo"`, interactions with external ids `demo-...`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use chrono::{Duration, NaiveDate, TimeZone, Utc};
use patron_domain::{
    ContactInput, CustomValue, CustomerInput, CustomerStatus, InteractionKind, Loyalty, Money,
};
use patron_store::{ImportCustomer, ImportInteraction, NewUser, Store};

/// A small deterministic generator (splitmix64).
struct Rng(u64);

impl Rng {
    fn of(key: &str, salt: u64) -> Rng {
        let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt;
        for b in key.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const CITIES: &[(&str, &str, &str)] = &[
    ("Shanghai", "East China", "021"),
    ("Hangzhou", "East China", "0571"),
    ("Nanjing", "East China", "025"),
    ("Suzhou", "East China", "0512"),
    ("Beijing", "North China", "010"),
    ("Tianjin", "North China", "022"),
    ("Guangzhou", "South China", "020"),
    ("Shenzhen", "South China", "0755"),
    ("Xiamen", "South China", "0592"),
    ("Chengdu", "Southwest", "028"),
    ("Chongqing", "Southwest", "023"),
    ("Wuhan", "Central China", "027"),
    ("Changsha", "Central China", "0731"),
    ("Xi'an", "Northwest", "029"),
    ("Shenyang", "Northeast", "024"),
    ("Qingdao", "East China", "0532"),
];
const INDUSTRIES: &[(&str, &[&str])] = &[
    (
        "manufacturing",
        &[
            "Precision Machinery",
            "Auto Parts",
            "Electronics",
            "Packaging",
            "Textiles",
        ],
    ),
    (
        "retail",
        &[
            "Department Stores",
            "Trading",
            "Home Goods",
            "Consumer Goods",
        ],
    ),
    (
        "services",
        &["Consulting", "Logistics", "Media", "Business Services"],
    ),
    (
        "finance",
        &["Capital", "Leasing", "Securities", "Investment"],
    ),
    (
        "healthcare",
        &["Medical Devices", "Pharmaceutical", "Health Care"],
    ),
    ("education", &["Education Technology", "Training"]),
    ("telecom", &["Telecom", "Network Technology"]),
    ("energy", &["New Energy", "Power Equipment"]),
    ("insurance", &["Insurance Brokers"]),
    ("public", &["Municipal Services"]),
];
const NAME_WORDS: &[&str] = &[
    "Huaxin",
    "Jinding",
    "Hengtai",
    "Tianrui",
    "Dongfang",
    "Xinghe",
    "Ruifeng",
    "Zhongcheng",
    "Baosheng",
    "Minghui",
    "Longteng",
    "Yuanda",
    "Haina",
    "Kaiyuan",
    "Shengshi",
    "Fuhua",
    "Jiahe",
    "Hongyu",
    "Anxin",
    "Boya",
    "Chuangyi",
    "Daxing",
    "Guanghe",
    "Huitong",
    "Jinqiao",
    "Lianchuang",
    "Meida",
    "Nanfeng",
    "Qianfeng",
    "Sanhe",
    "Tongda",
    "Weiye",
    "Xiangyun",
    "Yongli",
    "Zhenghe",
    "Lingyun",
    "Huamei",
    "Taikang",
    "Runze",
    "Qixing",
];
const SURNAMES: &[&str] = &[
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Zhao", "Huang", "Zhou", "Wu", "Xu", "Sun", "Ma",
    "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo",
];
const GIVEN: &[&str] = &[
    "Wei", "Fang", "Na", "Min", "Jing", "Lei", "Qiang", "Yan", "Jie", "Tao", "Ming", "Chao", "Xiu",
    "Hui", "Yong", "Lan", "Jun", "Ping", "Hong", "Xin",
];
const TITLES: &[&str] = &[
    "Purchasing Manager",
    "General Manager",
    "Procurement Officer",
    "Operations Director",
    "Finance Manager",
    "IT Manager",
    "Office Manager",
];
const STREETS: &[&str] = &[
    "Renmin Road",
    "Jiefang Avenue",
    "Zhongshan Road",
    "Jianguo Road",
    "Hongqiao Road",
    "Binhe Avenue",
    "Keji Road",
    "Xinhua Street",
];
const RATINGS: &[&str] = &["AAA", "AA", "AA", "A", "A", "A", "BBB", "BBB", "BB", "B"];
const REPS: &[(&str, &str)] = &[
    ("rep.wang.fang", "Wang Fang"),
    ("rep.li.lei", "Li Lei"),
    ("rep.zhang.wei", "Zhang Wei"),
    ("rep.chen.jing", "Chen Jing"),
    ("rep.liu.yang", "Liu Yang"),
    ("rep.zhao.min", "Zhao Min"),
    ("rep.huang.tao", "Huang Tao"),
    ("rep.zhou.na", "Zhou Na"),
];

/// What was generated.
#[derive(Debug, Default)]
pub struct Generated {
    pub customers: u64,
    pub reps: usize,
    pub contacts: u64,
    pub interactions: u64,
    pub referrals: u64,
}

/// Per CDNOW customer: order dates (sorted, distinct) and spend in cents.
struct History {
    dates: Vec<NaiveDate>,
    spend: i64,
}

fn read_histories(orders: &Path) -> anyhow::Result<BTreeMap<String, History>> {
    let text =
        std::fs::read_to_string(orders).with_context(|| format!("reading {}", orders.display()))?;
    let mut out: BTreeMap<String, History> = BTreeMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        // master: id date cds dollars; sample: id sample date cds dollars
        let (id, date, dollars) = match f[..] {
            [id, date, _, dollars] => (id, date, dollars),
            [id, _, date, _, dollars] => (id, date, dollars),
            _ => continue,
        };
        let Ok(d) = NaiveDate::parse_from_str(date, "%Y%m%d") else {
            continue;
        };
        let cents = (dollars.parse::<f64>().unwrap_or(0.0) * 100.0).round() as i64;
        let h = out.entry(id.to_string()).or_insert(History {
            dates: Vec::new(),
            spend: 0,
        });
        if h.dates.last() != Some(&d) {
            h.dates.push(d);
        }
        h.spend += cents;
    }
    for h in out.values_mut() {
        h.dates.sort();
        h.dates.dedup();
    }
    Ok(out)
}

fn person(r: &mut Rng) -> String {
    format!("{} {}", r.pick(SURNAMES), r.pick(GIVEN))
}

fn profile(number: &str, h: &History, reps: &[i64]) -> CustomerInput {
    let mut r = Rng::of(number, 1);
    let (city, region, area) = *r.pick(CITIES);
    let (industry, kinds) = *r.pick(INDUSTRIES);
    let word = r.pick(NAME_WORDS);
    let kind = r.pick(kinds);
    let company = format!("{city} {word} {kind} Co., Ltd.");
    let slug: String = word.to_lowercase();
    // Bigger spenders tend to be bigger firms.
    let size = (h.spend as f64 / 100.0).max(1.0).ln() + r.unit() * 3.0;
    let employees = (5.0 * (size * 0.9).exp()).round().clamp(3.0, 20_000.0) as i64;
    let capital_cny = (100_000.0 * (size * 1.1 + r.unit() * 2.0).exp()).round();
    let mut custom = BTreeMap::new();
    // Survey answer 1-5 (some customers did not answer), happier when they bought often.
    if r.unit() < 0.7 {
        let base = 2.6 + (h.dates.len() as f64).ln() * 0.45 + r.unit() * 1.6;
        custom.insert(
            "satisfaction".to_string(),
            CustomValue::Number(base.round().clamp(1.0, 5.0)),
        );
    }
    custom.insert(
        "generated_by".to_string(),
        CustomValue::Text("patron demo".into()),
    );
    let repeat = h.dates.len() > 1;
    CustomerInput {
        number: Some(number.to_string()),
        name: format!("{word} {kind}"),
        company: Some(company),
        industry: Some(industry.to_string()),
        region: Some(region.to_string()),
        address: Some(format!("{} {}, {city}", 1 + r.below(888), r.pick(STREETS))),
        phone: Some(format!(
            "+86 {area} {:04} {:04}",
            1000 + r.below(9000),
            r.below(10_000)
        )),
        fax: None,
        email: Some(format!(
            "purchasing{}@{slug}-{}.example.cn",
            number.trim_start_matches('0'),
            city.to_lowercase().replace('\'', "")
        )),
        employees: Some(employees),
        registered_capital: Some(Money((capital_cny * 100.0) as i64)),
        awards: None,
        source: Some("demo-generator".into()),
        tags: vec!["generated".into(), "cdnow".into()],
        custom_fields: custom.into_iter().collect(),
        status: CustomerStatus::Won,
        loyalty: if repeat && r.unit() < 0.5 {
            Loyalty::Loyal
        } else if repeat {
            Loyalty::Switcher
        } else {
            Loyalty::None
        },
        owner_id: (!reps.is_empty()).then(|| reps[r.below(reps.len())]),
        credit_rating: Some(r.pick(RATINGS).to_string()),
        credit_limit: Some(Money((10_000 + r.below(40) as i64 * 5_000) * 100)),
        marketing_opt_out: r.unit() < 0.05,
        referred_by: None,
    }
}

fn at(d: NaiveDate, hour: u32) -> chrono::DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(hour, 0, 0).unwrap_or_default())
}

/// Interactions around the real order dates.
fn interactions(number: &str, id: i64, h: &History, rep: &str) -> Vec<ImportInteraction> {
    let mut r = Rng::of(number, 2);
    let mut out = Vec::new();
    let mut push = |kind, day: NaiveDate, hour, text: String, k: usize| {
        out.push(ImportInteraction {
            customer_id: id,
            external_id: format!("demo-{number}-{k}"),
            kind,
            occurred_at: at(day, hour),
            by: Some(rep.to_string()),
            text,
        });
    };
    let first = h.dates[0];
    push(
        InteractionKind::Visit,
        first - Duration::days(7 + r.below(20) as i64),
        10,
        "First visit: presented the catalogue and the volume discounts.".into(),
        0,
    );
    push(
        InteractionKind::Quote,
        first - Duration::days(1 + r.below(5) as i64),
        15,
        format!("Quote sent for the first order ({} items).", 1 + r.below(6)),
        1,
    );
    for (k, d) in h.dates.iter().skip(1).take(4).enumerate() {
        if r.unit() < 0.5 {
            push(
                InteractionKind::Call,
                *d - Duration::days(1 + r.below(6) as i64),
                11,
                "Follow-up call: new releases and restocking.".into(),
                2 + k * 3,
            );
        }
        if r.unit() < 0.25 {
            push(
                InteractionKind::Promise,
                *d + Duration::days(1),
                16,
                "Promised delivery within 5 working days and 3% off the next order.".into(),
                3 + k * 3,
            );
        }
    }
    if r.unit() < 0.08 {
        let d = *r.pick(&h.dates) + Duration::days(3 + r.below(10) as i64);
        let why = *r.pick(&[
            "late delivery",
            "a damaged parcel",
            "a wrong item in the shipment",
            "an invoice error",
        ]);
        push(
            InteractionKind::Complaint,
            d,
            9,
            format!("Complaint about {why}; apologised and arranged a replacement."),
            40,
        );
    }
    out
}

/// Creates the reps and imports the demo customers with generated profiles (before the orders,
/// so that the orders' customers already exist); returns the customer ids by number.
pub async fn customers(
    store: &Store,
    orders: &Path,
) -> anyhow::Result<(Generated, BTreeMap<String, i64>)> {
    let histories = read_histories(orders)?;
    let mut g = Generated::default();
    let mut reps = Vec::new();
    for (username, display) in REPS {
        let u = store
            .create_user(&NewUser {
                username: (*username).into(),
                display_name: Some((*display).into()),
                ..Default::default()
            })
            .await
            .with_context(|| format!("creating the demo rep {username}"))?;
        reps.push(u.id);
    }
    g.reps = reps.len();
    // Referred customers (about 4%) are imported after the others, pointing at an earlier one.
    let (mut plain, mut referred) = (Vec::new(), Vec::new());
    for (number, h) in &histories {
        let c = ImportCustomer {
            number: number.clone(),
            data: profile(number, h, &reps),
        };
        if Rng::of(number, 3).unit() < 0.04 && !plain.is_empty() {
            referred.push(c);
        } else {
            plain.push(c);
        }
    }
    for chunk in plain.chunks(5000) {
        g.customers += store.import_customers(chunk, "demo-generator").await?;
    }
    let numbers: Vec<String> = plain.iter().map(|c| c.number.clone()).collect();
    let plain_ids = store.customer_ids(&numbers).await?;
    for c in &mut referred {
        let mut r = Rng::of(&c.number, 4);
        let by = &numbers[r.below(numbers.len())];
        c.data.referred_by = plain_ids.get(by).copied();
        g.referrals += u64::from(c.data.referred_by.is_some());
    }
    for chunk in referred.chunks(5000) {
        g.customers += store.import_customers(chunk, "demo-generator").await?;
    }
    let all: Vec<String> = histories.keys().cloned().collect();
    let ids: BTreeMap<String, i64> = store.customer_ids(&all).await?.into_iter().collect();

    // Interactions, and contact persons of the 1,000 most frequent buyers.
    let mut rows = Vec::new();
    for (number, h) in &histories {
        let Some(&id) = ids.get(number) else { continue };
        let rep = REPS[Rng::of(number, 5).below(REPS.len())].1;
        rows.extend(interactions(number, id, h, rep));
    }
    for chunk in rows.chunks(20_000) {
        g.interactions += store.import_interactions(chunk).await?;
    }
    let mut by_orders: Vec<(&String, &History)> = histories.iter().collect();
    by_orders.sort_by(|a, b| b.1.dates.len().cmp(&a.1.dates.len()).then(a.0.cmp(b.0)));
    for (number, _) in by_orders.into_iter().take(1000) {
        let Some(&id) = ids.get(number) else { continue };
        let mut r = Rng::of(number, 6);
        for k in 0..(1 + r.below(2)) {
            let name = person(&mut r);
            store
                .create_contact(
                    id,
                    ContactInput {
                        email: Some(format!(
                            "{}@contact-{}.example.cn",
                            name.to_lowercase().replace(' ', "."),
                            number.trim_start_matches('0')
                        )),
                        phone: Some(format!(
                            "+86 139 {:04} {:04}",
                            r.below(10_000),
                            r.below(10_000)
                        )),
                        name,
                        title: Some(r.pick(TITLES).to_string()),
                        is_primary: k == 0,
                        ..ContactInput::default()
                    },
                )
                .await?;
            g.contacts += 1;
        }
    }
    Ok((g, ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_deterministic_and_valid() {
        let h = History {
            dates: vec![
                NaiveDate::from_ymd_opt(1997, 1, 5).unwrap(),
                NaiveDate::from_ymd_opt(1997, 3, 5).unwrap(),
            ],
            spend: 12_345,
        };
        let a = profile("00042", &h, &[1, 2, 3]);
        let b = profile("00042", &h, &[1, 2, 3]);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.tags.contains(&"generated".to_string()));
        assert_eq!(a.source.as_deref(), Some("demo-generator"));
        a.validate().unwrap();
        let i = interactions("00042", 7, &h, "Li Lei");
        assert!(i.len() >= 2 && i.iter().all(|x| x.external_id.starts_with("demo-00042-")));
        assert!(i[0].occurred_at < at(h.dates[0], 0));
    }
}
