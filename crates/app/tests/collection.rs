//! Collection instructions: a manager sets one only with the holder's consent on record, anyone
//! may stop it, a card must be one Paystack keeps for the policy, and every change is audited.

use malipo_app::{Actor, App, CollectRequest, ErrorCode, PolicyInput};

#[tokio::test]
async fn an_instruction_needs_a_manager_and_consent_and_anyone_may_stop_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path()).await.unwrap();
    app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
    for (name, role) in [("wanjiru", "manager"), ("otieno", "clerk")] {
        app.add_user(&admin, name, role, "a-good-pass-1")
            .await
            .unwrap();
    }
    let manager = Actor::User(app.sign_in("wanjiru", "a-good-pass-1").await.unwrap());
    let clerk = Actor::User(app.sign_in("otieno", "a-good-pass-1").await.unwrap());
    app.add_policy(
        &admin,
        &PolicyInput {
            number: "POL-1".into(),
            holder: "Amina Odhiambo".into(),
            phone: "0708374149".into(),
            email: Some("amina@example.co.ke".into()),
            premium: "1500".into(),
            frequency: None,
            instalments: None,
            start: None,
            status: None,
        },
    )
    .await
    .unwrap();
    let ask = |kind: &str, consent: Option<&str>| CollectRequest {
        policy: "POL-1".into(),
        kind: kind.into(),
        card_last4: None,
        consent: consent.map(str::to_owned),
        consent_how: Some("in_person".into()),
    };

    let e = app
        .set_collection(&clerk, &ask("mpesa_prompt", Some("yes")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    let e = app
        .set_collection(&manager, &ask("mpesa_prompt", None))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "no consent: {e}");
    let e = app
        .set_collection(&manager, &ask("card", Some("charge my card")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::NotFound, "no saved card: {e}");
    let e = app
        .set_collection(&manager, &ask("ratiba", Some("yes")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidInput, "{e}");

    let set = app
        .set_collection(
            &manager,
            &ask("mpesa_prompt", Some("Prompt me on each due date")),
        )
        .await
        .unwrap();
    assert_eq!(set.kind, "mpesa_prompt");
    assert_eq!(set.phone.as_deref(), Some("254708374149"));
    assert_eq!(set.consent_by.as_deref(), Some("wanjiru"));
    assert!(set.consent_at.is_some());
    let details = app.policy_details(&clerk, "POL-1").await.unwrap();
    assert_eq!(
        details.collection.as_ref().map(|c| c.kind.as_str()),
        Some("mpesa_prompt")
    );

    let stopped = app
        .set_collection(&clerk, &ask("none", None))
        .await
        .unwrap();
    assert_eq!(stopped.kind, "none");
    assert_eq!(stopped.consent_by, None, "no consent is kept for none");
    assert_eq!(stopped.stopped_reason.as_deref(), Some("stopped by otieno"));

    let audit = app
        .audit_log(&manager, Some(("policy", "POL-1")), 20)
        .await
        .unwrap();
    let said: Vec<&str> = audit.iter().map(|a| a.sentence.as_str()).collect();
    assert!(
        said.iter()
            .any(|t| t.contains("wanjiru set policy POL-1 to be collected by an M-Pesa prompt")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|t| t.contains("otieno stopped the automatic collection of policy POL-1")),
        "{said:?}"
    );
}
