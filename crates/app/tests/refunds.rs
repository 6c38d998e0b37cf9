//! Approving a refund twice can never refund twice: the send is claimed before it goes out, an
//! answer that was lost is looked up at the provider before anything is sent again, and two
//! managers approving at once send it once. Real HTTP to the simulator; time on a hand clock.

use std::sync::Arc;

use malipo_app::{Actor, App, CardRequest, ErrorCode, PolicyInput, ProviderSettings};
use malipo_domain::{RefundStatus, Secret, TxStatus};
use malipo_providers::paystack::{PaystackClient, PaystackConfig};
use time::Duration;

mod support;
use support::HandClock;

struct Office {
    app: App,
    clock: Arc<HandClock>,
    sandbox: malipo_sandbox::Running,
    admin: Actor,
    manager: Actor,
    /// Asks for the refunds a manager decides.
    clerk: Actor,
    _dir: tempfile::TempDir,
}

impl Office {
    async fn open() -> Office {
        let (sandbox, config) = support::simulator().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = HandClock::now_utc();
        let app = App::open_with_clock(dir.path(), clock.clone())
            .await
            .unwrap();
        app.configure(ProviderSettings {
            paystack: Some(PaystackConfig::new(
                &sandbox.url(),
                Secret::new(config.paystack_secret),
            )),
            ..ProviderSettings::default()
        });
        app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
            .await
            .unwrap();
        let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
        app.add_user(&admin, "wanjiru", "manager", "manager-pass-1")
            .await
            .unwrap();
        let manager = Actor::User(app.sign_in("wanjiru", "manager-pass-1").await.unwrap());
        app.add_user(&admin, "otieno", "clerk", "clerk-pass-1")
            .await
            .unwrap();
        let clerk = Actor::User(app.sign_in("otieno", "clerk-pass-1").await.unwrap());
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
        Office {
            app,
            clock,
            sandbox,
            admin,
            manager,
            clerk,
            _dir: dir,
        }
    }

    /// A card payment of `amount`, paid at the checkout; its number and reference.
    async fn paid_card(&self, amount: &str) -> (String, String) {
        let t = self
            .app
            .pay_card(
                &self.manager,
                &CardRequest {
                    policy: "POL-1".into(),
                    email: "amina@example.co.ke".into(),
                    amount: amount.into(),
                    again: true,
                    saved_card: None,
                },
            )
            .await
            .unwrap();
        self.sandbox
            .sandbox
            .pay_checkout(&t.reference, "4084084084084081")
            .unwrap();
        let (paid, _) = self.app.refresh(&self.manager, &t.number).await.unwrap();
        assert_eq!(paid.status, TxStatus::Succeeded);
        (t.number, t.reference)
    }

    async fn refunds_at_paystack(&self, reference: &str) -> usize {
        let client = PaystackClient::new(PaystackConfig::new(
            &self.sandbox.url(),
            Secret::new(malipo_sandbox::Config::default().paystack_secret),
        ));
        client.refund_list(Some(reference)).await.unwrap().len()
    }

    fn lose_next_answer(&self) {
        self.sandbox
            .sandbox
            .set_behaviour(malipo_sandbox::Behaviour {
                lose_next_answers: 1,
                ..malipo_sandbox::Behaviour::default()
            });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_whose_answer_was_lost_is_looked_up_not_sent_again() {
    let office = Office::open().await;
    let (number, reference) = office.paid_card("1500").await;
    let app = &office.app;
    let refund = app
        .request_refund(&office.clerk, &number, "500", "paid twice")
        .await
        .unwrap();

    office.lose_next_answer();
    let lost = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap_err();
    assert_eq!(lost.code(), ErrorCode::Provider, "{lost}");
    assert_eq!(
        office.refunds_at_paystack(&reference).await,
        1,
        "Paystack made it"
    );
    let waiting = &app.refunds(&Actor::Console, None).await.unwrap()[0];
    assert_eq!(waiting.status, RefundStatus::Approved);

    // At once: the first request may still be on its way.
    let early = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap_err();
    assert_eq!(early.code(), ErrorCode::Conflict, "{early}");

    // Later: found at Paystack, not sent again.
    office.clock.advance(Duration::minutes(3));
    let found = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap();
    assert!(found.provider_ref.is_some(), "{found:?}");
    assert!(
        matches!(
            found.status,
            RefundStatus::Processing | RefundStatus::Processed
        ),
        "{found:?}"
    );
    assert_eq!(
        office.refunds_at_paystack(&reference).await,
        1,
        "one refund"
    );
    let again = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict);
    assert_eq!(office.refunds_at_paystack(&reference).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_that_never_reached_paystack_is_sent_when_approved_again() {
    let office = Office::open().await;
    let (number, reference) = office.paid_card("1500").await;
    let app = &office.app;
    let refund = app
        .request_refund(&office.clerk, &number, "1500", "cancelled")
        .await
        .unwrap();
    office
        .sandbox
        .sandbox
        .set_behaviour(malipo_sandbox::Behaviour {
            fail_next: 1,
            ..malipo_sandbox::Behaviour::default()
        });
    app.approve_refund(&office.manager, refund.id)
        .await
        .unwrap_err();
    assert_eq!(office.refunds_at_paystack(&reference).await, 0);
    office.clock.advance(Duration::minutes(3));
    let sent = app
        .approve_refund(&office.manager, refund.id)
        .await
        .unwrap();
    assert!(sent.provider_ref.is_some(), "{sent:?}");
    assert_eq!(office.refunds_at_paystack(&reference).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_managers_approving_at_once_send_one_refund() {
    let office = Office::open().await;
    let (number, reference) = office.paid_card("1500").await;
    let app = &office.app;
    let refund = app
        .request_refund(&office.clerk, &number, "700", "overpaid")
        .await
        .unwrap();
    let (a, b) = tokio::join!(
        app.approve_refund(&office.manager, refund.id),
        app.approve_refund(&office.manager, refund.id)
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "one approval sends it, the other is refused: {a:?} {b:?}"
    );
    assert_eq!(office.refunds_at_paystack(&reference).await, 1);
}

/// Four eyes: the person who asked for a refund cannot approve it unless the office allows it
/// (a one-person office), and then the approval says so; a rejection needs its reason, which
/// stays on the refund. Each refund names the policy and holder the money goes back to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refund_is_approved_by_someone_other_than_who_asked_for_it() {
    let office = Office::open().await;
    let (number, reference) = office.paid_card("1500").await;
    let app = &office.app;
    let asked = app
        .request_refund(&office.manager, &number, "500", "paid twice")
        .await
        .unwrap();
    assert_eq!(
        (asked.policy.as_str(), asked.holder.as_str()),
        ("POL-1", "Amina Odhiambo")
    );
    let own = app
        .approve_refund(&office.manager, asked.id)
        .await
        .unwrap_err();
    assert_eq!(own.code(), ErrorCode::Forbidden, "{own}");
    assert!(own.to_string().contains("another manager"), "{own}");
    assert_eq!(office.refunds_at_paystack(&reference).await, 0);

    let blank = app
        .reject_refund(&office.admin, asked.id, "  ")
        .await
        .unwrap_err();
    assert_eq!(blank.code(), ErrorCode::InvalidInput, "{blank}");
    let rejected = app
        .reject_refund(&office.admin, asked.id, "the customer paid once only")
        .await
        .unwrap();
    assert_eq!(rejected.status, RefundStatus::Rejected);
    assert_eq!(
        rejected.decision_note.as_deref(),
        Some("the customer paid once only")
    );
    assert_eq!(rejected.decided_by.as_deref(), Some("amina"));

    // A one-person office allows it, and the approval says who asked.
    app.set_setting(&office.admin, "refunds.self_approval", "on")
        .await
        .unwrap();
    let again = app
        .request_refund(&office.manager, &number, "500", "paid twice")
        .await
        .unwrap();
    let approved = app.approve_refund(&office.manager, again.id).await.unwrap();
    assert_eq!(approved.status, RefundStatus::Processing);
    assert!(
        approved
            .decision_note
            .as_deref()
            .is_some_and(|n| n.contains("one-person office")),
        "{approved:?}"
    );
    assert_eq!(office.refunds_at_paystack(&reference).await, 1);
    let log = app
        .audit_log(&office.admin, Some(("refund", &again.id.to_string())), 50)
        .await
        .unwrap();
    assert!(
        log.iter().any(|e| e
            .after
            .as_ref()
            .is_some_and(|a| a.to_string().contains("one-person office"))),
        "{log:?}"
    );
}
