//! Leads on both backends: qualification rules, conversion that keeps everything (customer,
//! contact, notes, campaign attribution), double conversion refused, conversion into an existing
//! customer, a failed conversion leaving nothing behind, visibility per rep, idempotent imports.

use chrono::NaiveDate;
use patron_domain::{CustomerInput, Money};
use patron_store::{
    backend_tests, BackendKind, CampaignInput, ConvertLead, ImportLead, LeadFilter, LeadInput,
    LeadStatusChange, NewUser, PageRequest, Store, StoreError,
};

async fn rep(store: &Store, name: &str) -> patron_store::User {
    store
        .create_user(&NewUser {
            username: name.into(),
            display_name: None,
            role: None,
            scope: None,
            department_id: None,
            manager_id: None,
            password: None,
        })
        .await
        .unwrap()
}

/// Who looks: the user and the customers they see.
struct Viewer {
    user: patron_store::User,
    visible: patron_store::Visibility,
}

async fn viewer(store: &Store, user: &patron_store::User) -> Viewer {
    Viewer {
        user: user.clone(),
        visible: store.visibility(user).await.unwrap(),
    }
}

fn status(s: &str) -> LeadStatusChange {
    LeadStatusChange {
        status: s.into(),
        reason: None,
    }
}

/// Rows in `table` (an UPDATE that changes nothing counts them on both backends).
async fn count(store: &Store, table: &str) -> u64 {
    let col = match table {
        "customers" => "version",
        "leads" => "status",
        _ => "customer_id",
    };
    store
        .raw_execute(&format!("UPDATE {table} SET {col} = {col}"))
        .await
        .unwrap()
}

fn card() -> LeadInput {
    LeadInput {
        name: "Li Wei".into(),
        company: Some("Huaxin Textiles".into()),
        title: Some("Purchasing manager".into()),
        phone: Some("+86 138 0013 8000".into()),
        email: Some("li.wei@huaxin.example".into()),
        region: Some("Zhejiang".into()),
        industry: Some("Textiles".into()),
        source: Some("trade show".into()),
        notes: Some("Wants samples of the blue line before June".into()),
        ..Default::default()
    }
}

backend_tests!(
    conversion_keeps_everything,
    illegal_transitions_refused,
    conversion_into_existing_customer,
    failed_conversion_leaves_nothing,
    reps_see_their_own_leads,
    import_is_idempotent
);

async fn conversion_keeps_everything(store: Store) {
    let owner = rep(&store, "rita").await;
    let fair = store
        .create_campaign(CampaignInput {
            name: "Canton Fair 2024".into(),
            channel: Some("trade show".into()),
            cost: Money(1_000_000),
            started_on: NaiveDate::from_ymd_opt(2024, 4, 15).unwrap(),
        })
        .await
        .unwrap();
    let lead = store
        .create_lead(LeadInput {
            campaign_id: Some(fair.id),
            owner_id: Some(owner.id),
            ..card()
        })
        .await
        .unwrap();
    assert_eq!(lead.status, "new");
    store
        .set_lead_status(lead.id, &status("contacted"))
        .await
        .unwrap();
    store
        .set_lead_status(lead.id, &status("qualified"))
        .await
        .unwrap();
    let done = store
        .convert_lead(lead.id, &ConvertLead::default(), "rita")
        .await
        .unwrap();
    assert!(done.created_customer);
    assert_eq!(done.lead.status, "converted");
    assert_eq!(done.lead.converted_customer_id, Some(done.customer_id));
    assert!(done.lead.converted_at.is_some());

    let c = store.customer(done.customer_id).await.unwrap();
    assert_eq!(c.data.name, "Huaxin Textiles");
    assert_eq!(c.data.company.as_deref(), Some("Huaxin Textiles"));
    assert_eq!(c.data.status, patron_domain::CustomerStatus::Tracking);
    assert_eq!(c.data.owner_id, Some(owner.id));
    assert_eq!(c.data.phone.as_deref(), Some("+86 138 0013 8000"));
    assert_eq!(c.data.email.as_deref(), Some("li.wei@huaxin.example"));
    assert_eq!(c.data.region.as_deref(), Some("Zhejiang"));
    assert_eq!(c.data.industry.as_deref(), Some("Textiles"));
    // Attributed to the campaign the way campaigns count customers: source = its name.
    assert_eq!(c.data.source.as_deref(), Some("Canton Fair 2024"));

    let contacts = store.contacts(c.id).await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].id, done.contact_id);
    assert_eq!(contacts[0].data.name, "Li Wei");
    assert_eq!(
        contacts[0].data.title.as_deref(),
        Some("Purchasing manager")
    );
    assert!(contacts[0].data.is_primary);

    let i = store.interaction(c.id, done.interaction_id).await.unwrap();
    assert_eq!(i.contact_id, Some(done.contact_id));
    assert_eq!(
        i.external_id.as_deref(),
        Some(&*format!("lead:{}", lead.id))
    );
    for part in [
        "Wants samples of the blue line before June",
        "Source: trade show",
        "Campaign: Canton Fair 2024",
        "Title: Purchasing manager",
    ] {
        assert!(i.text.contains(part), "{part} missing from {}", i.text);
    }
    let history = store.customer_history(c.id, 10).await.unwrap();
    assert!(history.iter().any(|h| h.field == "lead"
        && h.new_value.as_deref() == Some(&*format!("converted from lead {}", lead.id))));

    // The campaign counts the lead and its conversion.
    let k = store.campaigns().await.unwrap().remove(0);
    assert_eq!(
        (k.leads_captured, k.leads_converted, k.customers),
        (1, 1, 1)
    );

    // Twice: refused, nothing more written.
    let e = store
        .convert_lead(lead.id, &ConvertLead::default(), "rita")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { message, .. } if message.contains("already") && message.contains(c.data.number.as_deref().unwrap())),
        "{e}"
    );
    assert_eq!(count(&store, "customers").await, 1);
    assert_eq!(count(&store, "contacts").await, 1);
    assert_eq!(count(&store, "interactions").await, 1);
    // Nor is it handed over (its customer is).
    assert!(matches!(
        store.assign_lead(lead.id, None).await,
        Err(StoreError::Conflict { .. })
    ));
    // A converted lead does not move any more.
    assert!(matches!(
        store.set_lead_status(lead.id, &status("new")).await,
        Err(StoreError::Conflict { .. })
    ));
}

async fn illegal_transitions_refused(store: Store) {
    let lead = store.create_lead(card()).await.unwrap();
    // Not qualified yet: no conversion.
    let e = store
        .convert_lead(lead.id, &ConvertLead::default(), "t")
        .await
        .unwrap_err();
    assert!(
        e.to_string().contains("qualify it before converting"),
        "{e}"
    );
    store
        .set_lead_status(lead.id, &status("qualified"))
        .await
        .unwrap();
    let e = store
        .set_lead_status(lead.id, &status("contacted"))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { message, .. } if message.contains("cannot go from 'qualified' to 'contacted'")),
        "{e}"
    );
    // Unknown status, status "converted" by hand, disqualifying without a reason: invalid.
    for s in ["won", "converted", "disqualified"] {
        assert!(
            matches!(
                store.set_lead_status(lead.id, &status(s)).await,
                Err(StoreError::Invalid(_))
            ),
            "{s}"
        );
    }
    let out = store
        .set_lead_status(
            lead.id,
            &LeadStatusChange {
                status: "disqualified".into(),
                reason: Some("no budget this year".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        out.disqualified_reason.as_deref(),
        Some("no budget this year")
    );
    let e = store
        .convert_lead(lead.id, &ConvertLead::default(), "t")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no budget this year"), "{e}");
    // Reopened, the reason goes.
    let out = store
        .set_lead_status(lead.id, &status("new"))
        .await
        .unwrap();
    assert_eq!(out.disqualified_reason, None);
    assert_eq!(count(&store, "customers").await, 0);
    // Bad input is named.
    let e = store
        .create_lead(LeadInput {
            name: " ".into(),
            email: Some("not-an-address".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(s.contains("name") && s.contains("email"), "{s}");
    assert!(matches!(
        store
            .create_lead(LeadInput {
                campaign_id: Some(99),
                ..card()
            })
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn conversion_into_existing_customer(store: Store) {
    let existing = store
        .create_customer(
            CustomerInput {
                name: "Huaxin".into(),
                phone: Some("0086-138-0013-8000".into()),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    let lead = store.create_lead(card()).await.unwrap();
    store
        .set_lead_status(lead.id, &status("qualified"))
        .await
        .unwrap();
    // Same phone once normalised: a new customer is refused unless asked for.
    let likely = store.lead_likely_customers(&lead).await.unwrap();
    assert_eq!(likely.len(), 1);
    assert_eq!(
        (likely[0].customer_id, likely[0].matched_on.as_str()),
        (existing.id, "phone")
    );
    let e = store
        .convert_lead(lead.id, &ConvertLead::default(), "t")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Conflict { message, .. } if message.contains(existing.data.number.as_deref().unwrap())),
        "{e}"
    );
    assert_eq!(store.lead(lead.id).await.unwrap().status, "qualified");
    let done = store
        .convert_lead(
            lead.id,
            &ConvertLead {
                into: Some(existing.id),
                allow_duplicate: false,
            },
            "t",
        )
        .await
        .unwrap();
    assert!(!done.created_customer);
    assert_eq!(done.customer_id, existing.id);
    assert_eq!(count(&store, "customers").await, 1);
    let c = store.customer(existing.id).await.unwrap();
    // Kept what it had, filled what it lacked, recorded in the history.
    assert_eq!(c.data.name, "Huaxin");
    assert_eq!(c.data.phone.as_deref(), Some("0086-138-0013-8000"));
    assert_eq!(c.data.email.as_deref(), Some("li.wei@huaxin.example"));
    assert_eq!(c.data.company.as_deref(), Some("Huaxin Textiles"));
    assert_eq!(c.data.source.as_deref(), Some("trade show"));
    assert_eq!(c.version, existing.version + 1);
    let fields: Vec<String> = store
        .customer_history(c.id, 20)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.field)
        .collect();
    for f in ["email", "company", "source", "lead"] {
        assert!(fields.iter().any(|x| x == f), "{f} not in {fields:?}");
    }
    assert_eq!(store.contacts(c.id).await.unwrap().len(), 1);
    // Merging the customer away takes the lead's link along.
    let other = store
        .create_customer(
            CustomerInput {
                name: "Keep".into(),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    store.merge_customers(other.id, c.id, "t").await.unwrap();
    assert_eq!(
        store.lead(lead.id).await.unwrap().converted_customer_id,
        Some(other.id)
    );
}

async fn failed_conversion_leaves_nothing(store: Store) {
    let lead = store.create_lead(card()).await.unwrap();
    store
        .set_lead_status(lead.id, &status("qualified"))
        .await
        .unwrap();
    // Make the last-but-one write of the conversion (the interaction) fail.
    match store.kind() {
        BackendKind::Sqlite => {
            store
                .raw_execute("CREATE TRIGGER refuse BEFORE INSERT ON interactions BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
                .await
                .unwrap();
        }
        BackendKind::Postgres => {
            store
                .raw_execute("CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$ LANGUAGE plpgsql")
                .await
                .unwrap();
            store
                .raw_execute("CREATE TRIGGER refuse BEFORE INSERT ON interactions FOR EACH ROW EXECUTE FUNCTION refuse()")
                .await
                .unwrap();
        }
    }
    let e = store
        .convert_lead(lead.id, &ConvertLead::default(), "t")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("refused by the test"), "{e}");
    assert_eq!(count(&store, "customers").await, 0);
    assert_eq!(count(&store, "contacts").await, 0);
    assert_eq!(count(&store, "customer_history").await, 0);
    let after = store.lead(lead.id).await.unwrap();
    assert_eq!(after.status, "qualified");
    assert_eq!(after.converted_customer_id, None);
    store
        .raw_execute("DROP TRIGGER refuse ON interactions")
        .await
        .ok();
    store.raw_execute("DROP TRIGGER refuse").await.ok();
    let done = store
        .convert_lead(lead.id, &ConvertLead::default(), "t")
        .await
        .unwrap();
    assert!(done.created_customer);
    assert_eq!(count(&store, "customers").await, 1);
}

async fn reps_see_their_own_leads(store: Store) {
    let a = rep(&store, "ann").await;
    let b = rep(&store, "bob").await;
    let la = store
        .create_lead(LeadInput {
            owner_id: Some(a.id),
            ..card()
        })
        .await
        .unwrap();
    let lb = store
        .create_lead(LeadInput {
            name: "Zhang San".into(),
            email: None,
            phone: None,
            owner_id: Some(b.id),
            ..card()
        })
        .await
        .unwrap();
    let pool = store
        .create_lead(LeadInput {
            name: "Nobody's".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let va = viewer(&store, &a).await;
    let page = store
        .list_leads(&LeadFilter::default(), &va.visible, &PageRequest::default())
        .await
        .unwrap();
    let ids: Vec<i64> = page.items.iter().map(|l| l.id).collect();
    assert_eq!(ids, vec![pool.id, la.id]);
    assert!(store
        .visible_lead(&va.user, &va.visible, la.id, true)
        .await
        .is_ok());
    assert!(matches!(
        store
            .visible_lead(&va.user, &va.visible, lb.id, false)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    // The pool is read-only until claimed.
    assert!(store
        .visible_lead(&va.user, &va.visible, pool.id, false)
        .await
        .is_ok());
    assert!(store
        .visible_lead(&va.user, &va.visible, pool.id, true)
        .await
        .is_err());
    // Given to Ann, she works it; an unknown user is refused.
    let given = store.assign_lead(pool.id, Some(a.id)).await.unwrap();
    assert_eq!(given.owner_id, Some(a.id));
    assert!(store
        .visible_lead(&va.user, &va.visible, pool.id, true)
        .await
        .is_ok());
    assert!(matches!(
        store.assign_lead(pool.id, Some(9999)).await,
        Err(StoreError::Invalid(_))
    ));
    store.assign_lead(pool.id, None).await.unwrap();
    let funnel = store
        .lead_funnel(&LeadFilter::default(), &va.visible)
        .await
        .unwrap();
    assert_eq!((funnel.new, funnel.qualified), (2, 0));
    let all = store
        .lead_funnel(&LeadFilter::default(), &patron_store::Visibility::All)
        .await
        .unwrap();
    assert_eq!(all.new, 3);
    // Filters and keyset pages.
    let only_b = store
        .list_leads(
            &LeadFilter {
                owner_id: Some(b.id),
                ..Default::default()
            },
            &patron_store::Visibility::All,
            &PageRequest::default(),
        )
        .await
        .unwrap();
    assert_eq!(only_b.items.len(), 1);
    let first = store
        .list_leads(
            &LeadFilter::default(),
            &patron_store::Visibility::All,
            &PageRequest {
                limit: Some(2),
                after: None,
            },
        )
        .await
        .unwrap();
    let rest = store
        .list_leads(
            &LeadFilter::default(),
            &patron_store::Visibility::All,
            &PageRequest {
                limit: Some(2),
                after: first.next.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!((first.items.len(), rest.items.len()), (2, 1));
    assert!(rest.next.is_none());
    assert!(matches!(
        store
            .list_leads(
                &LeadFilter {
                    status: Some("hot".into()),
                    ..Default::default()
                },
                &patron_store::Visibility::All,
                &PageRequest::default()
            )
            .await,
        Err(StoreError::Invalid(_))
    ));
}

async fn import_is_idempotent(store: Store) {
    let rows: Vec<ImportLead> = [
        card(),
        LeadInput {
            name: "Wang".into(),
            email: None,
            phone: Some("13900000000".into()),
            ..card()
        },
    ]
    .into_iter()
    .map(|l| {
        let l = l.validate().unwrap();
        ImportLead {
            import_key: l.import_key(),
            data: l,
        }
    })
    .collect();
    assert_eq!(store.import_leads(&rows).await.unwrap(), 2);
    assert_eq!(store.import_leads(&rows).await.unwrap(), 0);
    assert_eq!(count(&store, "leads").await, 2);
}
