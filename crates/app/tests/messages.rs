//! Customer messages over simulated weeks: reminders follow the ladder and stop once the
//! instalment is paid, a receipt goes out once per payment, nothing reaches a holder who opted
//! out, SMS wait for the end of the quiet hours, and a message Africa's Talking could not take
//! for want of credit is sent once when it can. Real HTTP to the simulator; time on a hand clock.

use std::collections::BTreeSet;
use std::sync::Arc;

use malipo_app::{Actor, App, PolicyInput, ProviderSettings};
use malipo_domain::{Desk, Method, Money, Msisdn, ProviderReference, Secret, Source, TxEvent};
use malipo_providers::sms::SmsConfig;
use malipo_store::{MessageFilter, NewTransaction, ProviderDetails, TxKey};
use time::{Duration, OffsetDateTime};

mod support;
use support::HandClock;

struct Office {
    app: App,
    clock: Arc<HandClock>,
    sandbox: malipo_sandbox::Running,
    admin: Actor,
    _dir: tempfile::TempDir,
}

/// 10:00 in Nairobi today: outside the quiet hours.
fn morning() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc().to_offset(malipo_domain::time_zone::NAIROBI);
    now.date()
        .with_hms(10, 0, 0)
        .unwrap()
        .assume_offset(malipo_domain::time_zone::NAIROBI)
}

impl Office {
    async fn open() -> Office {
        let (sandbox, config) = support::simulator().await;
        let dir = tempfile::tempdir().unwrap();
        let clock = HandClock::now_utc();
        clock.advance(morning() - OffsetDateTime::now_utc());
        let app = App::open_with_clock(dir.path(), clock.clone())
            .await
            .unwrap();
        app.configure(ProviderSettings {
            sms: Some(SmsConfig {
                base_url: sandbox.url(),
                username: config.sms_username.clone(),
                api_key: Secret::new(config.sms_api_key.clone()),
                sender: Some("JUBILEE".into()),
            }),
            ..ProviderSettings::default()
        });
        app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
            .await
            .unwrap();
        let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
        app.set_setting(&admin, "office.name", "Jubilee Insurance")
            .await
            .unwrap();
        Office {
            app,
            clock,
            sandbox,
            admin,
            _dir: dir,
        }
    }

    async fn policy(&self, number: &str, phone: &str, start_in_days: i64) {
        let start = malipo_domain::time_zone::nairobi_date(self.clock_now())
            + Duration::days(start_in_days);
        self.app
            .add_policy(
                &self.admin,
                &PolicyInput {
                    number: number.into(),
                    holder: "Amina Odhiambo".into(),
                    phone: phone.into(),
                    email: None,
                    premium: "1500".into(),
                    frequency: None,
                    instalments: Some(3),
                    start: Some(malipo_domain::time_zone::kenyan_date(start)),
                    status: None,
                },
            )
            .await
            .unwrap();
    }

    fn clock_now(&self) -> OffsetDateTime {
        malipo_app::Clock::now(self.clock.as_ref())
    }

    /// A paid M-Pesa payment of `amount` for `policy`, as the store records one.
    async fn paid(&self, policy: &str, amount: i64, n: u64) -> String {
        let store = self.app.store();
        let p = store.policy(policy).await.unwrap().unwrap();
        let desk: Desk = self.app.desk().await.unwrap();
        let amount = Money::from_major(amount, malipo_domain::Currency::Kes).unwrap();
        let t = store
            .insert_transaction(
                "amina",
                &NewTransaction {
                    desk: desk.clone(),
                    policy_id: p.id,
                    method: Method::Mpesa,
                    amount,
                    phone: Some(Msisdn::parse(&p.phone).unwrap()),
                    email: None,
                    reference: ProviderReference::from_random(n),
                    clerk_id: None,
                },
                self.clock_now(),
            )
            .await
            .unwrap();
        store
            .apply_event(
                "sync",
                &TxKey::Id(t.id),
                &desk,
                TxEvent::Paid {
                    paid: amount,
                    source: Source::Query,
                },
                &ProviderDetails {
                    provider_receipt: Some(format!("RKT{n:07}")),
                    ..ProviderDetails::default()
                },
                self.clock_now(),
            )
            .await
            .unwrap();
        t.number
    }

    /// Every SMS the simulator took.
    async fn sms(&self) -> Vec<serde_json::Value> {
        reqwest::get(format!("{}/__sandbox/sms", self.sandbox.url()))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The keys of the messages that went out.
    async fn sent_keys(&self) -> BTreeSet<String> {
        self.app
            .store()
            .messages(&MessageFilter {
                status: Some("sent".into()),
                limit: 1000,
                ..MessageFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reminders_follow_the_ladder_for_a_month_and_stop_once_paid() {
    let o = Office::open().await;
    o.policy("POL-1", "0708374149", 10).await;
    let details = o.app.policy_details(&o.admin, "POL-1").await.unwrap();
    let due: Vec<time::Date> = details
        .instalments
        .iter()
        .map(|i| {
            time::Date::parse(
                &i.due_date,
                &time::format_description::well_known::Iso8601::DATE,
            )
            .unwrap()
        })
        .collect();
    let start = malipo_domain::time_zone::nairobi_date(o.clock_now());
    let mut receipt = None;
    for day in 0..45 {
        // The first instalment is paid the day after it fell due.
        if day == 11 {
            receipt = Some(o.paid("POL-1", 1500, 1).await);
        }
        // A counter closed on day 20 and 21 catches up on day 22.
        if day != 20 && day != 21 {
            o.app.send_messages(&o.admin).await.unwrap();
        }
        o.clock.advance(Duration::days(1));
    }
    let mut expected = BTreeSet::new();
    for (seq, due) in due.iter().enumerate().take(2) {
        for offset in [-7, -3, 0, 3] {
            let day = *due + Duration::days(offset);
            // Paid on day 11: the first instalment's late reminder is never sent.
            if seq == 0 && offset == 3 {
                continue;
            }
            if (day - start).whole_days() < 45 {
                expected.insert(format!("reminder:sms:POL-1:{}:{offset}", seq + 1));
            }
        }
    }
    expected.insert(format!("receipt:sms:{}", receipt.unwrap()));
    let sent = o.sent_keys().await;
    let all = o.app.messages(&o.admin, None, None).await.unwrap();
    assert_eq!(sent, expected, "{all:#?}");
    let texts = o.sms().await;
    assert_eq!(texts.len(), expected.len(), "each once: {texts:#?}");
    let first = texts[0]["message"].as_str().unwrap();
    assert!(
        first.starts_with(
            "Jubilee Insurance: the premium of KES 1,500.00 for policy POL-1 is due on"
        ),
        "{first}"
    );
    assert!(texts.iter().all(|t| t["to"] == "+254708374149"));
    assert!(
        texts
            .iter()
            .all(|t| t["message"].as_str().unwrap().chars().count() <= 160),
        "{texts:#?}"
    );
    let skipped = o
        .app
        .store()
        .messages(&MessageFilter {
            status: Some("skipped".into()),
            limit: 100,
            ..MessageFilter::default()
        })
        .await
        .unwrap();
    assert!(
        skipped.is_empty(),
        "a paid instalment's reminder is never queued: {skipped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_go_once_never_to_who_opted_out_and_never_at_night() {
    let o = Office::open().await;
    o.policy("POL-1", "0708374149", 0).await;
    o.policy("POL-2", "0722000111", 0).await;
    o.app
        .policy_messages(&o.admin, "POL-2", Some("sw"), None)
        .await
        .unwrap();
    o.app
        .set_setting(&o.admin, "messages.reminder_days", "60")
        .await
        .unwrap();
    let one = o.paid("POL-1", 1500, 1).await;
    let two = o.paid("POL-2", 1500, 2).await;
    // Queued with the payment, sent on the next pass, once whatever happens next.
    let r = o.app.send_messages(&o.admin).await.unwrap();
    assert_eq!((r.sent, r.failed), (2, 0), "{r:?}");
    assert_eq!(o.app.send_messages(&o.admin).await.unwrap().sent, 0);
    let texts = o.sms().await;
    assert_eq!(texts.len(), 2);
    let english = texts.iter().find(|t| t["to"] == "+254708374149").unwrap();
    let text = english["message"].as_str().unwrap();
    assert!(
        text.contains("received KES 1,500.00 for policy POL-1, M-Pesa RKT0000001"),
        "{text}"
    );
    assert!(text.contains("Receipt HQ-R"), "{text}");
    let kiswahili = texts.iter().find(|t| t["to"] == "+254722000111").unwrap();
    assert!(
        kiswahili["message"]
            .as_str()
            .unwrap()
            .contains("tumepokea KES 1,500.00"),
        "{kiswahili}"
    );
    assert!(o.sent_keys().await.contains(&format!("receipt:sms:{one}")));
    assert!(o.sent_keys().await.contains(&format!("receipt:sms:{two}")));

    // Opted out: nothing further, not even a receipt.
    o.app
        .policy_messages(&o.admin, "POL-1", None, Some(true))
        .await
        .unwrap();
    o.paid("POL-1", 500, 3).await;
    assert_eq!(o.app.send_messages(&o.admin).await.unwrap().sent, 0);
    assert_eq!(o.sms().await.len(), 2);

    // At 22:00 an SMS waits for 07:00.
    o.clock.advance(Duration::hours(12));
    o.paid("POL-2", 500, 4).await;
    let r = o.app.send_messages(&o.admin).await.unwrap();
    assert_eq!((r.sent, r.later), (0, 1), "{r:?}");
    o.clock.advance(Duration::hours(4));
    assert_eq!(
        o.app.send_messages(&o.admin).await.unwrap().sent,
        0,
        "02:00 is still quiet"
    );
    o.clock.advance(Duration::hours(5) + Duration::minutes(1));
    let r = o.app.send_messages(&o.admin).await.unwrap();
    assert_eq!(r.sent, 1, "07:01: {r:?}");

    // No credit at Africa's Talking: certainly not sent, so tried again, and sent once.
    let b = o.sandbox.sandbox.behaviour();
    o.sandbox.sandbox.set_behaviour(malipo_sandbox::Behaviour {
        sms_insufficient_balance_next: 1,
        ..b
    });
    o.paid("POL-2", 200, 5).await;
    let r = o.app.send_messages(&o.admin).await.unwrap();
    assert_eq!((r.sent, r.later), (0, 1), "{r:?}");
    let waiting = o
        .app
        .messages(&o.admin, Some("queued"), None)
        .await
        .unwrap();
    assert!(
        waiting[0]
            .problem
            .as_deref()
            .unwrap()
            .contains("InsufficientBalance"),
        "{waiting:?}"
    );
    o.clock.advance(Duration::minutes(2));
    assert_eq!(o.app.send_messages(&o.admin).await.unwrap().sent, 1);
    assert_eq!(o.sms().await.len(), 4);

    // Killed while handing one over: whether it went is unknown, so it is never sent again on
    // its own; a manager may resend it, once.
    o.paid("POL-2", 100, 6).await;
    let taken = o
        .app
        .store()
        .take_message(o.clock_now())
        .await
        .unwrap()
        .unwrap();
    o.clock.advance(Duration::minutes(6));
    let r = o.app.send_messages(&o.admin).await.unwrap();
    assert_eq!(r.sent, 0, "{r:?}");
    let lost = o.app.store().message(taken.id).await.unwrap();
    assert_eq!(lost.status, "failed");
    assert!(lost.problem.unwrap().contains("may or may not"));
    let again = o.app.resend_message(&o.admin, taken.id).await.unwrap();
    assert!(
        o.app.resend_message(&o.admin, taken.id).await.is_err(),
        "resent once"
    );
    assert_eq!(o.app.send_messages(&o.admin).await.unwrap().sent, 1);
    assert_eq!(again.resent_from, Some(taken.id));
    assert_eq!(o.sms().await.len(), 5);
}
