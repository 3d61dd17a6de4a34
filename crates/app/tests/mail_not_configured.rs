//! The campaign composer on a server without mail (no SMTP server, no public address), on both
//! backends: nothing is queued, and the answer says why (no address of one's own first, then
//! mail not configured); the preview needs the public address.

use patron_app::mail::{self, Delivery, MailLang, MailTemplate, NothingSent};
use patron_app::Session;
use patron_domain::{CustomerInput, Money};
use patron_store::{
    backend_tests, CampaignInput, CustomerFilter, NewUser, Role, Store, UserMailSettings,
};

backend_tests!(nothing_is_sent_without_mail);

async fn nothing_is_sent_without_mail(store: Store) {
    // Every test of this binary runs without mail.
    mail::configure(Delivery::default());
    let user = store
        .create_user(&NewUser {
            username: "max".into(),
            role: Some(Role::Manager),
            scope: Some(patron_store::DataScope::All),
            ..Default::default()
        })
        .await
        .unwrap();
    let max = Session::open(&store, user.clone(), None).await.unwrap();
    store
        .create_customer(
            CustomerInput {
                name: "Ann".into(),
                email: Some("ann@example.com".into()),
                ..Default::default()
            },
            "t",
        )
        .await
        .unwrap();
    let c = store
        .create_campaign(CampaignInput {
            name: "Winter".into(),
            channel: None,
            cost: Money(0),
            started_on: "2026-12-01".parse().unwrap(),
        })
        .await
        .unwrap()
        .id;
    let t = MailTemplate::default_for(MailLang::Zh);
    let all = CustomerFilter::default();

    assert_eq!(
        mail::compose_test(&store, &max, c, &all, &t).await.unwrap(),
        Err(NothingSent::NoAddress)
    );
    store
        .set_user_mail_settings(
            user.id,
            UserMailSettings {
                email: Some("max@example.com".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        mail::compose_test(&store, &max, c, &all, &t).await.unwrap(),
        Err(NothingSent::NotConfigured)
    );
    assert_eq!(
        mail::compose_send(&store, &max, c, &all, &t, None)
            .await
            .unwrap(),
        Err(NothingSent::NotConfigured)
    );
    assert_eq!(
        mail::compose_preview(&store, &max, c, &all, &t)
            .await
            .unwrap(),
        Err(NothingSent::NoPublicUrl)
    );
    assert_eq!(store.outbox_counts(None).await.unwrap().queued, 0);

    // A bad address and an hour out of range are refused by field.
    for (s, field) in [
        (
            UserMailSettings {
                email: Some("not an address".into()),
                ..Default::default()
            },
            "email",
        ),
        (
            UserMailSettings {
                email: Some("max@example.com".into()),
                digest_hour: Some(24),
                ..Default::default()
            },
            "digest_hour",
        ),
    ] {
        let e = mail::set_my_mail_settings(&store, &max, s)
            .await
            .unwrap_err();
        assert!(e.to_string().contains(field), "{e}");
    }
}
