//! Lead imports on both backends: Chinese headers, campaign and owner looked up, a malformed
//! row stopping the import with FILE:LINE: column, rejects, idempotence, unknown columns.

use chrono::NaiveDate;
use patron_domain::Money;
use patron_exchange::{import_leads, ImportError, LeadImportOptions};
use patron_store::{
    backend_tests, CampaignInput, LeadFilter, NewUser, PageRequest, Store, Visibility,
};

mod scratch;

fn file(name: &str, text: &str) -> scratch::Scratch {
    scratch::file(name, text.as_bytes())
}

const CARDS: &str = "姓名,公司,职位,手机,邮箱,备注,负责人\n\
Li Wei,Huaxin Textiles,Purchasing manager,+86 138 0013 8000,li.wei@huaxin.example,wants samples,rita\n\
Zhang San,Dongfang Steel,,139 0000 0001,,met on day 2,\n\
Wang Fang,,,,wang@@broken,,\n\
Chen Jie,Nanhai Foods,CEO,,chen@nanhai.example,,\n";

backend_tests!(
    imports_cards,
    malformed_row_stops_or_is_rejected,
    a_disabled_owner_gets_no_lead
);

async fn setup(store: &Store) -> i64 {
    store
        .create_user(&NewUser {
            username: "rita".into(),
            display_name: None,
            role: None,
            scope: None,
            department_id: None,
            manager_id: None,
            password: None,
        })
        .await
        .unwrap();
    store
        .create_campaign(CampaignInput {
            name: "Canton Fair 2024".into(),
            channel: None,
            cost: Money(500_000),
            started_on: NaiveDate::from_ymd_opt(2024, 4, 15).unwrap(),
        })
        .await
        .unwrap()
        .id
}

async fn imports_cards(store: Store) {
    let campaign = setup(&store).await;
    let good: String = CARDS
        .lines()
        .filter(|l| !l.contains("broken"))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = file("cards.csv", &good);
    let opts = LeadImportOptions {
        campaign: Some("Canton Fair 2024".into()),
        source: Some("trade show".into()),
        batch_rows: 2,
        ..Default::default()
    };
    let r = import_leads(&store, &path, &opts, |_| {}).await.unwrap();
    assert_eq!((r.rows, r.inserted, r.already_present), (3, 3, 0));
    let again = import_leads(&store, &path, &opts, |_| {}).await.unwrap();
    assert_eq!((again.inserted, again.already_present), (0, 3));
    let leads = store
        .list_leads(
            &LeadFilter::default(),
            &Visibility::All,
            &PageRequest::default(),
        )
        .await
        .unwrap()
        .items;
    assert_eq!(leads.len(), 3);
    let li = leads.iter().find(|l| l.name == "Li Wei").unwrap();
    assert_eq!(li.company.as_deref(), Some("Huaxin Textiles"));
    assert_eq!(li.title.as_deref(), Some("Purchasing manager"));
    assert_eq!(li.notes.as_deref(), Some("wants samples"));
    assert_eq!(li.source.as_deref(), Some("trade show"));
    assert_eq!(li.campaign_id, Some(campaign));
    assert!(li.owner_id.is_some());
    assert!(leads.iter().all(|l| l.status == "new"));
    let k = store.campaigns().await.unwrap().remove(0);
    assert_eq!((k.leads_captured, k.leads_converted), (3, 0));

    // An unknown column says how to map it; the mapping works.
    let odd = file("odd.csv", "Name,Booth\nHe Ping,B12\n");
    match import_leads(&store, &odd, &opts, |_| {}).await {
        Err(ImportError::File { message, .. }) => {
            assert!(
                message.contains("'Booth'") && message.contains("--map"),
                "{message}"
            )
        }
        other => panic!("expected a file error, got {other:?}"),
    }
    let mapped = LeadImportOptions {
        maps: vec!["Booth=notes".into()],
        ..opts.clone()
    };
    let r = import_leads(&store, &odd, &mapped, |_| {}).await.unwrap();
    assert_eq!(r.inserted, 1);
    // An unknown campaign is named with its line.
    let lost = file("lost.csv", "name,campaign\nQian Li,Nowhere Expo\n");
    match import_leads(&store, &lost, &LeadImportOptions::default(), |_| {}).await {
        Err(ImportError::BadRow(e, 0)) => {
            assert_eq!((e.line, e.column.as_deref()), (2, Some("campaign")));
            assert!(
                e.reason.contains("'Nowhere Expo' does not exist"),
                "{}",
                e.reason
            );
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
}

async fn malformed_row_stops_or_is_rejected(store: Store) {
    setup(&store).await;
    let path = file("bad.csv", CARDS);
    let opts = LeadImportOptions {
        batch_rows: 2,
        ..Default::default()
    };
    // Line 4 (the second batch) is bad: the first batch is stored, the second is not.
    match import_leads(&store, &path, &opts, |_| {}).await {
        Err(ImportError::BadRow(e, stored)) => {
            assert_eq!(stored, 2);
            assert_eq!((e.line, e.column.as_deref()), (4, Some("邮箱")));
            let shown = e.to_string();
            assert!(
                shown.starts_with(&format!("{}:4: column 邮箱:", path.display())),
                "{shown}"
            );
            assert!(shown.contains("wang@@broken"), "{shown}");
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
    let count = || async {
        store
            .list_leads(
                &LeadFilter::default(),
                &Visibility::All,
                &PageRequest::default(),
            )
            .await
            .unwrap()
            .items
            .len()
    };
    assert_eq!(count().await, 2);
    let rejects = path.with_file_name("rejects.csv");
    let r = import_leads(
        &store,
        &path,
        &LeadImportOptions {
            skip_bad: Some(rejects.clone()),
            ..opts
        },
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!((r.inserted, r.already_present, r.rejected), (1, 2, 1));
    assert_eq!(count().await, 3);
    let text = std::fs::read_to_string(&rejects).unwrap();
    assert!(text.starts_with("line,error,row\n4,column 邮箱:"), "{text}");
}

/// A lead naming a disabled user (a leaver) as its owner is refused with the row and column.
async fn a_disabled_owner_gets_no_lead(store: Store) {
    setup(&store).await;
    let rita = store.user_by_name("rita").await.unwrap();
    store.set_disabled(rita.id, true).await.unwrap();
    let path = file(
        "leaver.csv",
        &CARDS
            .lines()
            .take(2)
            .map(|l| format!("{l}\n"))
            .collect::<String>(),
    );
    match import_leads(&store, &path, &LeadImportOptions::default(), |_| {}).await {
        Err(ImportError::BadRow(e, stored)) => {
            assert_eq!(stored, 0);
            assert_eq!((e.line, e.column.as_deref()), (2, Some("负责人")));
            assert!(e.to_string().contains("user 'rita' is disabled"), "{e}");
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
}
