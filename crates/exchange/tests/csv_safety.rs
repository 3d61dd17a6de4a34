//! Exported CSV cells that a spreadsheet would run as formulas are written as text (a leading
//! `'`), and the export still imports back to the same values.

use patron_domain::CustomerInput;
use patron_exchange::{
    export_customers, import_file, Entity, ExportFormat, ImportOptions, InputFormat,
};
use patron_store::{backend_tests, CustomerFilter, Store};

backend_tests!(formula_cells_are_text_and_round_trip);

async fn formula_cells_are_text_and_round_trip(store: Store) {
    let evil = "=cmd|' /C calc'!A0";
    store
        .create_customer(
            CustomerInput {
                name: evil.into(),
                phone: Some("+86 138 0013 8000".into()),
                company: Some("@Acme".into()),
                ..CustomerInput::default()
            },
            "test",
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    export_customers(
        &store,
        &CustomerFilter::default(),
        ExportFormat::Csv,
        &mut out,
    )
    .await
    .unwrap();
    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.contains("'=cmd|"), "{text}");
    assert!(text.contains("'+86 138"), "{text}");
    assert!(text.contains("'@Acme"), "{text}");
    for line in text.lines().skip(1) {
        for cell in line.split(',') {
            let c = cell.trim_start_matches('"');
            assert!(!c.starts_with(['=', '+', '@']), "a live formula: {line}");
        }
    }
    // Into a fresh database: the values come back without the prefix.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("customers.csv");
    std::fs::write(&path, &out).unwrap();
    let fresh = patron_store::testing::fresh_store(store.kind())
        .await
        .unwrap();
    let mut opts = ImportOptions::new(Entity::Customers, InputFormat::Csv);
    opts.maps = ["id", "owner_id", "custom_fields", "created_at"]
        .iter()
        .map(|c| format!("{c}=ignore"))
        .collect();
    import_file(&fresh, &path, &opts, |_| {}).await.unwrap();
    let page = fresh
        .list_customers(
            &CustomerFilter::default(),
            Default::default(),
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 1);
    let d = &page.items[0].data;
    assert_eq!(d.name, evil);
    assert_eq!(d.phone.as_deref(), Some("+86 138 0013 8000"));
    assert_eq!(d.company.as_deref(), Some("@Acme"));
}
