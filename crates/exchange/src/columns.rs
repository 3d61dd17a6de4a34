//! Which field a CSV column holds: recognised header names, or the user's `--map` choices.

use std::collections::HashMap;

/// What an import file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Customers,
    Orders,
    Interactions,
}

impl std::str::FromStr for Entity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "customers" => Ok(Entity::Customers),
            "orders" => Ok(Entity::Orders),
            "interactions" => Ok(Entity::Interactions),
            _ => Err(format!(
                "'{}' is not one of: customers, orders, interactions",
                patron_domain::excerpt(s)
            )),
        }
    }
}

/// A target field of an import column.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Field {
    /// A field of the record, by its API name (`name`, `phone`, `amount`, ...).
    Named(&'static str),
    /// A custom field of a customer.
    Custom(String),
    /// A column to leave out.
    Ignore,
}

/// (field, recognised header names) per entity. Header names are compared after lower-casing
/// and dropping spaces, `_` and `-`.
fn known(entity: Entity) -> &'static [(&'static str, &'static [&'static str])] {
    match entity {
        Entity::Customers => &[
            (
                "number",
                &[
                    "number",
                    "customernumber",
                    "customerno",
                    "customerid",
                    "id",
                    "externalid",
                    "code",
                    "客户编号",
                    "编号",
                ],
            ),
            (
                "name",
                &[
                    "name",
                    "customername",
                    "customer",
                    "fullname",
                    "客户名称",
                    "名称",
                    "姓名",
                ],
            ),
            (
                "company",
                &[
                    "company",
                    "companyname",
                    "organisation",
                    "organization",
                    "公司",
                ],
            ),
            ("industry", &["industry", "sector", "行业"]),
            (
                "region",
                &["region", "area", "province", "state", "地区", "区域"],
            ),
            ("address", &["address", "street", "地址"]),
            (
                "phone",
                &[
                    "phone",
                    "tel",
                    "telephone",
                    "mobile",
                    "phonenumber",
                    "电话",
                    "手机",
                ],
            ),
            ("fax", &["fax", "传真"]),
            ("email", &["email", "mail", "emailaddress", "邮箱"]),
            (
                "employees",
                &["employees", "staff", "headcount", "companysize", "员工数"],
            ),
            (
                "registered_capital",
                &["registeredcapital", "capital", "注册资本"],
            ),
            ("awards", &["awards", "honours", "honors", "荣誉"]),
            ("source", &["source", "leadsource", "channel", "来源"]),
            ("tags", &["tags", "labels", "标签"]),
            ("status", &["status", "stage", "状态"]),
            ("loyalty", &["loyalty", "忠诚度"]),
            ("credit_rating", &["creditrating", "rating", "信用等级"]),
            ("credit_limit", &["creditlimit", "信用额度"]),
            (
                "marketing_opt_out",
                &["marketingoptout", "optout", "donotmail", "unsubscribed"],
            ),
            ("referred_by", &["referredby", "referrer", "推荐人"]),
        ],
        Entity::Orders => &[
            (
                "customer",
                &[
                    "customer",
                    "customerid",
                    "customernumber",
                    "customerno",
                    "客户编号",
                    "客户",
                ],
            ),
            (
                "order_ref",
                &[
                    "orderref",
                    "orderid",
                    "order",
                    "ordernumber",
                    "orderno",
                    "invoice",
                    "invoiceno",
                    "订单号",
                ],
            ),
            ("line_no", &["lineno", "line", "linenumber", "行号"]),
            ("date", &["date", "orderdate", "orderedon", "day", "日期"]),
            (
                "amount",
                &[
                    "amount",
                    "total",
                    "revenue",
                    "dollarvalue",
                    "value",
                    "sales",
                    "金额",
                ],
            ),
            ("cost", &["cost", "productcost", "cogs", "成本"]),
            ("category", &["category", "productcategory", "类别"]),
            (
                "quantity",
                &["quantity", "qty", "numberofcds", "units", "数量"],
            ),
        ],
        Entity::Interactions => &[
            (
                "customer",
                &[
                    "customer",
                    "customerid",
                    "customernumber",
                    "客户编号",
                    "客户",
                ],
            ),
            ("external_id", &["id", "externalid", "interactionid"]),
            ("kind", &["kind", "type", "类型"]),
            (
                "occurred_at",
                &["occurredat", "date", "time", "when", "日期", "时间"],
            ),
            ("by", &["by", "rep", "user", "owner", "who", "负责人"]),
            (
                "text",
                &[
                    "text",
                    "notes",
                    "note",
                    "body",
                    "content",
                    "description",
                    "内容",
                ],
            ),
        ],
    }
}

/// The header columns of an `entity` file that name no field it knows (what a mapping must
/// settle: each to a field, `custom.NAME` for customers, or `ignore`).
pub fn unknown_columns(entity: Entity, headers: &[String]) -> Vec<String> {
    headers
        .iter()
        .filter(|h| {
            let k = fold(h);
            !known(entity)
                .iter()
                .any(|(_, names)| names.contains(&k.as_str()))
        })
        .cloned()
        .collect()
}

/// The fields a column of an `entity` file may be mapped to (by their API names).
pub fn field_names(entity: Entity) -> Vec<&'static str> {
    known(entity).iter().map(|(f, _)| *f).collect()
}

/// The fields an entity requires.
pub(crate) fn required(entity: Entity) -> &'static [&'static str] {
    match entity {
        Entity::Customers => &["name"],
        Entity::Orders => &["customer", "date", "amount"],
        Entity::Interactions => &["customer", "kind", "text"],
    }
}

fn fold(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .collect()
}

/// Parses `--map column=field` (field `ignore`, `custom.NAME`, or a field name).
pub(crate) fn parse_mapping(entity: Entity, spec: &str) -> Result<(String, Field), String> {
    parse_mapping_in(known(entity), entity == Entity::Customers, spec)
}

/// (field, recognised header names) of a file kind, as [`known`] gives them per entity.
pub(crate) type Known = &'static [(&'static str, &'static [&'static str])];

/// [`parse_mapping`] over the fields `known` (`custom.NAME` only with `custom`).
pub(crate) fn parse_mapping_in(
    known: Known,
    custom: bool,
    spec: &str,
) -> Result<(String, Field), String> {
    let (col, field) = spec
        .split_once('=')
        .ok_or_else(|| format!("--map {spec}: expected COLUMN=FIELD"))?;
    let field = field.trim();
    let f = if field == "ignore" {
        Field::Ignore
    } else if let Some(name) = field.strip_prefix("custom.") {
        if !custom || name.is_empty() {
            return Err(format!(
                "--map {spec}: custom fields exist on customers only, as custom.NAME"
            ));
        }
        Field::Custom(name.to_string())
    } else {
        let names: Vec<&str> = known.iter().map(|(f, _)| *f).collect();
        match known.iter().find(|(f, _)| *f == field) {
            Some((f, _)) => Field::Named(f),
            None => {
                return Err(format!(
                    "--map {}: '{}' is not a field; use one of {}, custom.NAME or ignore",
                    patron_domain::excerpt(spec),
                    patron_domain::excerpt(field),
                    names.join(", ")
                ))
            }
        }
    };
    Ok((col.trim().to_string(), f))
}

/// Resolves every header column to a field. Unknown columns are an error that says how to map them.
pub(crate) fn resolve(
    entity: Entity,
    headers: &[String],
    maps: &[(String, Field)],
) -> Result<Vec<Field>, String> {
    resolve_in(known(entity), required(entity), headers, maps)
}

/// [`resolve`] over the fields `known`, of which `required` must be present.
pub(crate) fn resolve_in(
    known: Known,
    required: &[&'static str],
    headers: &[String],
    maps: &[(String, Field)],
) -> Result<Vec<Field>, String> {
    let explicit: HashMap<String, &Field> = maps.iter().map(|(c, f)| (fold(c), f)).collect();
    let mut out = Vec::with_capacity(headers.len());
    let mut unknown = Vec::new();
    for h in headers {
        let k = fold(h);
        if let Some(f) = explicit.get(&k) {
            out.push((*f).clone());
        } else if let Some((f, _)) = known.iter().find(|(_, names)| names.contains(&k.as_str())) {
            out.push(Field::Named(f));
        } else {
            unknown.push(h.clone());
            out.push(Field::Ignore);
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "unknown column{} {}: map {} with --map COLUMN=FIELD (a field, custom.NAME, or ignore)",
            if unknown.len() > 1 { "s" } else { "" },
            unknown
                .iter()
                .take(10)
                .map(|u| format!("'{}'", patron_domain::excerpt(u)))
                .chain((unknown.len() > 10).then(|| format!("and {} more", unknown.len() - 10)))
                .collect::<Vec<_>>()
                .join(", "),
            if unknown.len() > 1 { "them" } else { "it" }
        ));
    }
    for (i, f) in out.iter().enumerate() {
        if let Field::Named(n) = f {
            if out[..i].contains(f) {
                return Err(format!(
                    "two columns hold '{n}'; map one of them with --map COLUMN=ignore"
                ));
            }
        }
    }
    for r in required {
        if !out.contains(&Field::Named(r)) {
            return Err(format!("no column holds '{r}' (required); name a column '{r}' or map one with --map COLUMN={r}"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn recognises_common_headers() {
        let f = resolve(
            Entity::Orders,
            &h(&["Customer ID", "Order Date", "Total", "Qty"]),
            &[],
        )
        .unwrap();
        assert_eq!(
            f,
            vec![
                Field::Named("customer"),
                Field::Named("date"),
                Field::Named("amount"),
                Field::Named("quantity")
            ]
        );
    }

    #[test]
    fn unknown_columns_say_how_to_map() {
        let e = resolve(Entity::Customers, &h(&["name", "shoe size"]), &[]).unwrap_err();
        assert!(e.contains("'shoe size'") && e.contains("--map"), "{e}");
        let m = parse_mapping(Entity::Customers, "shoe size=custom.shoe").unwrap();
        let f = resolve(Entity::Customers, &h(&["name", "shoe size"]), &[m]).unwrap();
        assert_eq!(f[1], Field::Custom("shoe".into()));
    }

    #[test]
    fn missing_required_field() {
        let e = resolve(Entity::Orders, &h(&["customer", "date"]), &[]).unwrap_err();
        assert!(e.contains("'amount'"), "{e}");
    }

    #[test]
    fn bad_mapping() {
        assert!(parse_mapping(Entity::Orders, "x=colour")
            .unwrap_err()
            .contains("not a field"));
        assert!(parse_mapping(Entity::Orders, "x").is_err());
    }
}
