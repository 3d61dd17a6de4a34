//! `parse_rows`: the import's own reader on bytes in memory (what the `csv_rows` and
//! `cdnow_lines` fuzz targets drive), and inputs those targets found.

use patron_exchange::{parse_rows, Entity, InputFormat, Record};

fn csv(entity: Entity, text: &str) -> Vec<patron_exchange::ParsedRow> {
    parse_rows(entity, InputFormat::Csv, &[], "t.csv", text.as_bytes()).unwrap()
}

#[test]
fn row_errors_carry_line_and_column() {
    let rows = csv(
        Entity::Orders,
        "Customer ID,Order Date,Total\n7,2024-01-01,12.50\n\"8\nstill 8\",2024-01-02,x\n9,2024-13-01,1\n",
    );
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].line, 2);
    assert!(matches!(
        &rows[0].record,
        Ok(Record::OrderLine { line_no: 1, .. })
    ));
    // A quoted value over two lines: the row starts on line 3, the next one on line 5.
    let e = rows[1].record.as_ref().unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (3, Some("Total")));
    let e = rows[2].record.as_ref().unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (5, Some("Order Date")));
    assert!(
        e.to_string().starts_with("t.csv:5: column Order Date: "),
        "{e}"
    );
}

#[test]
fn file_level_problems_are_errors() {
    // Each refused file says which file, which line and what is wrong with it.
    for (entity, text, message) in [
        (
            Entity::Customers,
            "name,shoe size\nA,1\n",
            "line 1: unknown column 'shoe size': map it with --map COLUMN=FIELD",
        ),
        (
            Entity::Orders,
            "customer,date\n1,2024-01-01\n",
            "line 1: no column holds 'amount' (required)",
        ),
        (Entity::Interactions, "", "is empty"),
    ] {
        match parse_rows(entity, InputFormat::Csv, &[], "t.csv", text.as_bytes()) {
            Err(e @ patron_exchange::ImportError::File { .. }) => {
                let shown = e.to_string();
                assert!(shown.starts_with("t.csv: "), "{shown}");
                assert!(shown.contains(message), "{entity:?}: {shown}");
            }
            other => panic!("{entity:?}: expected a file error, got {other:?}"),
        }
    }
    match parse_rows(
        Entity::Customers,
        InputFormat::Cdnow,
        &[],
        "t.txt",
        b"1 19970101 1 1.00\n",
    ) {
        Err(e @ patron_exchange::ImportError::File { .. }) => {
            assert_eq!(e.to_string(), "t.txt: the CDNOW format holds orders only")
        }
        other => panic!("expected a file error, got {other:?}"),
    }
}

#[test]
fn cdnow_lines() {
    let rows = parse_rows(
        Entity::Orders,
        InputFormat::Cdnow,
        &[],
        "t.txt",
        b"customer_id date cds dollars\n00001 19970101 1 11.77\n00001 19970101 2 5.00\n00002 1997 1\n",
    )
    .unwrap();
    assert_eq!(rows.len(), 3);
    match &rows[1].record {
        Ok(Record::OrderLine {
            customer,
            order_ref,
            line_no,
            line,
            ..
        }) => {
            assert_eq!(
                (customer.as_str(), order_ref.as_str(), *line_no),
                ("00001", "1997-01-01", 2)
            );
            assert_eq!((line.quantity, line.amount.cents()), (2, 500));
        }
        other => panic!("{other:?}"),
    }
    let e = rows[2].record.as_ref().unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (4, None), "{e}");
    assert!(
        e.reason.contains("expected 4 whitespace-separated values") && e.reason.contains("found 3"),
        "{e}"
    );
}

/// Found by `cdnow_lines`: a validation error of the record (a negative amount) named the field
/// (`amount`) rather than the column (`dollar_value`); in CSV files, the field rather than the
/// file's header.
#[test]
fn validation_errors_name_the_files_column() {
    let rows = parse_rows(
        Entity::Orders,
        InputFormat::Cdnow,
        &[],
        "t.txt",
        b"0201 19970121 11 120.76\n00p2 19970112 5 -7\n",
    )
    .unwrap();
    let e = rows[1].record.as_ref().unwrap_err();
    assert_eq!(
        (e.line, e.column.as_deref()),
        (2, Some("dollar_value")),
        "{e}"
    );
    let rows = csv(
        Entity::Orders,
        "Customer ID,Order Date,Total,Qty\n7,2024-01-01,-5,1\n7,1850-01-01,5,1\n,2024-01-01,5,1\n7,2024-01-01,5,-2\n",
    );
    let columns: Vec<_> = rows
        .iter()
        .map(|r| r.record.as_ref().unwrap_err().column.clone().unwrap())
        .collect();
    assert_eq!(columns, ["Total", "Order Date", "Customer ID", "Qty"]);
    let rows = csv(
        Entity::Interactions,
        "Customer,Type,Notes\nC1,call,\n,call,x\n",
    );
    let columns: Vec<_> = rows
        .iter()
        .map(|r| r.record.as_ref().unwrap_err().column.clone().unwrap())
        .collect();
    assert_eq!(columns, ["Notes", "Customer"]);
    let rows = csv(Entity::Customers, "Name,E-Mail\n ,a@b.example\n");
    let e = rows[0].record.as_ref().unwrap_err();
    assert_eq!(e.column.as_deref(), Some("Name"), "{e}");
}

/// Found by `cdnow_lines`: a NUL byte in a value reached the database (PostgreSQL refuses NUL in
/// text, failing the whole batch); now the row is refused naming its column.
#[test]
fn nul_characters_are_row_errors() {
    let rows = parse_rows(
        Entity::Orders,
        InputFormat::Cdnow,
        &[],
        "t.txt",
        b"001\x0b\x0b0\0\0\x0b 19970112 10 015\n0\0\0 19970101 1 1.00\n",
    )
    .unwrap();
    for (r, line) in rows.iter().zip([1, 2]) {
        let e = r.record.as_ref().unwrap_err();
        assert_eq!(
            (e.line, e.column.as_deref()),
            (line, Some("customer_id")),
            "{e}"
        );
        assert!(e.reason.contains("NUL"), "{e}");
    }
    let rows = csv(Entity::Customers, "name,company\nAcme\0 Ltd,x\nBeta,\0\n");
    let e = rows[0].record.as_ref().unwrap_err();
    assert_eq!(e.column.as_deref(), Some("name"), "{e}");
    assert!(e.reason.contains("character 5"), "{e}");
    let e = rows[1].record.as_ref().unwrap_err();
    assert_eq!(e.column.as_deref(), Some("company"), "{e}");
    // An ignored column may hold anything.
    let rows = parse_rows(
        Entity::Customers,
        InputFormat::Csv,
        &["notes=ignore".to_string()],
        "t.csv",
        b"name,notes\nBeta,\0\n",
    )
    .unwrap();
    assert!(rows[0].record.is_ok(), "{rows:?}");
}

#[test]
fn every_bad_cell_of_a_customer_row_is_reported() {
    let rows = csv(
        Entity::Customers,
        "name,email,employees,credit_limit\nAcme,not-an-email,-5,abc\n",
    );
    let e = rows[0].record.as_ref().unwrap_err();
    let text = e.to_string();
    assert_eq!(e.column.as_deref(), Some("credit_limit"), "{text}");
    assert!(
        text.contains("column credit_limit: 'abc' is not an amount"),
        "{text}"
    );
    assert!(
        text.contains("column email: 'not-an-email' is not an e-mail"),
        "{text}"
    );
    assert!(
        text.contains("column employees: must be 0 or more"),
        "{text}"
    );
}

#[test]
fn unknown_columns_are_listed_with_the_fields_to_map_them_to() {
    let headers = vec!["Name".to_string(), "shoe size".into(), "E-mail".into()];
    assert_eq!(
        patron_exchange::unknown_columns(Entity::Customers, &headers),
        vec!["shoe size".to_string()]
    );
    let fields = patron_exchange::field_names(Entity::Customers);
    assert!(fields.contains(&"email") && fields.contains(&"credit_limit"));
    // Mapped, the file imports; the mapping is the CLI's `--map COLUMN=FIELD`.
    let rows = parse_rows(
        Entity::Customers,
        InputFormat::Csv,
        &["shoe size=custom.shoe".into()],
        "t.csv",
        b"Name,shoe size,E-mail\nAcme,42,a@b.example\n",
    )
    .unwrap();
    assert!(rows[0].record.is_ok());
}

#[test]
fn every_bad_cell_of_an_order_row_is_reported() {
    let rows = csv(
        Entity::Orders,
        "customer,order_ref,date,amount,quantity\nC1,O-1,31/12/2024,abc,x\n",
    );
    let text = rows[0].record.as_ref().unwrap_err().to_string();
    assert!(
        text.contains("column date: '31/12/2024' is not a date"),
        "{text}"
    );
    assert!(
        text.contains("column amount: 'abc' is not an amount"),
        "{text}"
    );
    assert!(text.contains("column quantity:"), "{text}");
}

#[test]
fn every_bad_cell_of_an_interaction_row_is_reported() {
    let rows = csv(
        Entity::Interactions,
        "customer,kind,occurred_at,text\nC1,gossip,yesterday,\n",
    );
    let text = rows[0].record.as_ref().unwrap_err().to_string();
    assert!(text.contains("column kind:"), "{text}");
    assert!(text.contains("column occurred_at:"), "{text}");
    assert!(text.contains("column text: is empty"), "{text}");
}
