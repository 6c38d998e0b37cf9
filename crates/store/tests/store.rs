//! The store against real SQLite files.
//!
//! - policies: all-or-nothing batches, schedules, where each policy's payments stand
//! - transactions: numbering, the state machine, receipts, the audit log
//! - history: filters, search, paging and totals
//! - summary: per-day totals agree with a full scan

use std::sync::Arc;

use malipo_domain::schedule::{self, InstalmentStatus};
use malipo_domain::time_zone::NAIROBI;
use malipo_domain::{
    Currency, Desk, Email, FailureKind, Frequency, HolderName, Method, Money, Msisdn, OfficeCode,
    Outcome, PolicyNumber, ProviderReference, Source, TxEvent, TxStatus,
};
use malipo_store::{
    NewPolicy, NewTransaction, PolicyFilter, PolicyOrder, PolicyStanding, ProviderDetails,
    ScheduleFilter, Store, StoreError, SummaryFilter, TxFilter, TxKey,
};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-11-27 08:00 UTC);

async fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("malipo.sqlite3"))
        .await
        .unwrap();
    (dir, store)
}

fn kes(major: i64) -> Money {
    Money::from_major(major, Currency::Kes).unwrap()
}

fn office() -> Desk {
    OfficeCode::parse("NBI").unwrap().into()
}

fn policy(number: &str, holder: &str, phone: &str) -> NewPolicy {
    let premium = kes(1500);
    NewPolicy {
        number: PolicyNumber::parse(number).unwrap(),
        holder: HolderName::parse(holder).unwrap(),
        phone: Msisdn::parse(phone).unwrap(),
        email: Some(Email::parse("holder@example.co.ke").unwrap()),
        premium,
        frequency: Frequency::Monthly,
        instalments: schedule::generate(date!(2026 - 09 - 01), 6, Frequency::Monthly, premium)
            .unwrap(),
    }
}

async fn new_tx(
    store: &Store,
    policy_id: i64,
    method: Method,
    amount: Money,
    n: u64,
    at: OffsetDateTime,
) -> i64 {
    let new = NewTransaction {
        desk: office(),
        policy_id,
        method,
        amount,
        phone: Some(Msisdn::parse("0712345678").unwrap()),
        email: None,
        reference: ProviderReference::from_random(n),
        clerk_id: None,
    };
    store
        .insert_transaction("amina", &new, at)
        .await
        .unwrap()
        .id
}

fn paid(amount: Money) -> TxEvent {
    TxEvent::Paid {
        paid: amount,
        source: Source::Callback,
    }
}

#[tokio::test]
async fn a_batch_of_policies_is_written_whole_or_not_at_all() {
    let (_d, store) = store().await;
    store
        .insert_policies("admin", &[policy("P-1", "Amina Wanjiru", "0712345678")], T0)
        .await
        .unwrap();
    let batch = [
        policy("P-2", "Otieno Odhiambo", "0722000111"),
        policy("P-1", "Dup", "0722000111"),
    ];
    let err = store
        .insert_policies("admin", &batch, T0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Duplicate(ref what) if what == "policy P-1"),
        "{err}"
    );
    assert!(
        store.policy("P-2").await.unwrap().is_none(),
        "P-2 must be rolled back with P-1"
    );
    let (found, total) = find(&store, Some("wanj"), PolicyOrder::Number, 50, 0).await;
    assert_eq!((found.len(), total), (1, 1));
    assert_eq!(found[0].policy.phone, "254712345678");
    let (by_phone, _) = find(&store, Some("0712 345"), PolicyOrder::Number, 50, 0).await;
    assert_eq!(
        by_phone.len(),
        1,
        "a local-form phone fragment finds the stored 254 form"
    );
    let (none, _) = find(&store, Some("0799"), PolicyOrder::Number, 50, 0).await;
    assert!(none.is_empty());
}

const TODAY: time::Date = date!(2026 - 11 - 27);

async fn find(
    store: &Store,
    search: Option<&str>,
    order: PolicyOrder,
    limit: u32,
    offset: u32,
) -> (Vec<PolicyStanding>, i64) {
    store
        .policies(&PolicyFilter {
            search,
            order,
            today: TODAY,
            limit,
            offset,
        })
        .await
        .unwrap()
}

/// The policy list's standings, worked out in SQL, agree with the schedule's own rule
/// (`schedule::states`) for policies paid nothing, part, exactly, more than due and in full,
/// with refunds, failures and payments in another currency that must not count.
#[tokio::test]
async fn each_policy_s_standing_agrees_with_its_schedule() {
    let (dir, store) = store().await;
    let policies: Vec<NewPolicy> = (0..40)
        .map(|n| {
            let mut p = policy(&format!("P-{n:02}"), "Holder", "0712345678");
            // Schedules starting from September (three overdue by today) to next year.
            let start = date!(2026 - 09 - 01) + Duration::days(7 * (n % 20));
            p.instalments =
                schedule::generate(start, 1 + (n as u32 % 6), Frequency::Monthly, kes(1500))
                    .unwrap();
            p
        })
        .collect();
    let ids = store.insert_policies("admin", &policies, T0).await.unwrap();
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("malipo.sqlite3").display()
    ))
    .await
    .unwrap();
    let mut seed: u64 = 42;
    let mut next = |below: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % below
    };
    let mut tx_n = 0;
    for &id in &ids {
        for _ in 0..next(4) {
            tx_n += 1;
            let amount = 100 * (1 + next(4000)) as i64;
            let (status, refunded, currency) = match next(6) {
                0 => ("failed", 0, "KES"),
                1 => ("partially_refunded", amount / 2, "KES"),
                2 => ("succeeded", 0, "NGN"),
                3 => ("refunded", amount, "KES"),
                _ => ("succeeded", 0, "KES"),
            };
            let at = malipo_domain::time_zone::to_ms(T0);
            sqlx::query(
                "INSERT INTO transactions (number, reference, policy_id, method, status, amount_minor,
                    refunded_minor, currency, created_at, updated_at, day)
                 VALUES (?, ?, ?, 'mpesa', ?, ?, ?, ?, ?, ?, (? + 10800000) / 86400000)",
            )
            .bind(format!("NBI-{tx_n:06}"))
            .bind(format!("M{tx_n:011}"))
            .bind(id)
            .bind(status)
            .bind(amount)
            .bind(refunded)
            .bind(currency)
            .bind(at)
            .bind(at)
            .bind(at)
            .execute(&raw)
            .await
            .unwrap();
        }
    }
    let (all, total) = find(&store, None, PolicyOrder::Number, 500, 0).await;
    assert_eq!((all.len(), total), (40, 40));
    let (mut overdue, mut settled) = (0, 0);
    for s in &all {
        let kept: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(amount_minor - refunded_minor), 0) FROM transactions
             WHERE policy_id = ? AND currency = 'KES' AND status IN ('succeeded', 'partially_refunded')",
        )
        .bind(s.policy.id)
        .fetch_one(&raw)
        .await
        .unwrap();
        assert_eq!(s.paid_to_date.minor(), kept, "{}", s.policy.number);
        let instalments = store.instalments(s.policy.id).await.unwrap();
        let states = schedule::states(&instalments, s.paid_to_date, TODAY).unwrap();
        let first_unpaid = states.iter().find(|st| !st.outstanding.is_zero());
        assert_eq!(
            s.next_due.map(|n| (n.seq, n.due, n.amount)),
            first_unpaid.map(|st| (st.instalment.seq, st.instalment.due, st.outstanding)),
            "{}",
            s.policy.number
        );
        let owed: i64 = states
            .iter()
            .filter(|st| st.status == InstalmentStatus::Overdue)
            .map(|st| st.outstanding.minor())
            .sum();
        assert_eq!(s.overdue.minor(), owed, "{}", s.policy.number);
        assert_eq!(
            s.days_overdue,
            states.iter().map(|st| st.days_overdue).max().unwrap_or(0),
            "{}",
            s.policy.number
        );
        overdue += usize::from(owed > 0);
        settled += usize::from(s.next_due.is_none());
    }
    assert!(
        overdue > 5 && settled > 0,
        "the data covers each case: {overdue} overdue, {settled} settled"
    );

    // Overdue first: longest overdue first, then the rest by number; pages follow each other.
    let (sorted, _) = find(&store, None, PolicyOrder::OverdueFirst, 500, 0).await;
    let days: Vec<i64> = sorted.iter().map(|s| s.days_overdue).collect();
    assert!(days.windows(2).all(|w| w[0] >= w[1]), "{days:?}");
    let rest: Vec<&str> = sorted
        .iter()
        .filter(|s| s.days_overdue == 0)
        .map(|s| s.policy.number.as_str())
        .collect();
    assert!(rest.windows(2).all(|w| w[0] < w[1]), "{rest:?}");
    let (page2, _) = find(&store, None, PolicyOrder::OverdueFirst, 10, 10).await;
    let numbers = |v: &[PolicyStanding]| {
        v.iter()
            .map(|s| s.policy.number.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&page2), numbers(&sorted[10..20]));
    let (by_number, _) = find(&store, None, PolicyOrder::Number, 10, 10).await;
    assert_eq!(numbers(&by_number), numbers(&all[10..20]));
    assert!(numbers(&all).windows(2).all(|w| w[0] < w[1]));
}

#[tokio::test]
async fn numbers_are_sequential_and_a_receipt_is_given_once_on_success() {
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let a = new_tx(&store, ids[0], Method::Mpesa, kes(1500), 1, T0).await;
    let b = new_tx(&store, ids[0], Method::Mpesa, kes(1500), 2, T0).await;
    let ta = store.transaction(&TxKey::Id(a)).await.unwrap();
    let tb = store.transaction(&TxKey::Id(b)).await.unwrap();
    assert_eq!(
        (ta.number.as_str(), tb.number.as_str()),
        ("NBI-000001", "NBI-000002")
    );
    assert_eq!(ta.status, TxStatus::Pending);

    let details = ProviderDetails {
        provider_receipt: Some("NLJ7RT61SV".into()),
        ..ProviderDetails::default()
    };
    let (after, outcome) = store
        .apply_event(
            "relay",
            &TxKey::Id(b),
            &office(),
            paid(kes(1500)),
            &details,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        Outcome::Moved {
            to: TxStatus::Succeeded,
            assign_receipt: true
        }
    );
    assert_eq!(after.receipt_number.as_deref(), Some("NBI-R000001"));
    assert_eq!(after.provider_receipt.as_deref(), Some("NLJ7RT61SV"));

    let (again, outcome) = store
        .apply_event(
            "relay",
            &TxKey::Id(b),
            &office(),
            paid(kes(1500)),
            &details,
            T0,
        )
        .await
        .unwrap();
    assert!(
        matches!(outcome, Outcome::Unchanged(_)),
        "a duplicate callback changes nothing"
    );
    assert_eq!(again.receipt_number.as_deref(), Some("NBI-R000001"));

    let log = store
        .audit_log(Some(("transaction", "NBI-000002")), 10)
        .await
        .unwrap();
    let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        ["transaction.status", "transaction.create"],
        "the duplicate left no audit line"
    );
    assert_eq!(log[0].before.as_ref().unwrap()["status"], "pending");
    assert_eq!(log[0].after.as_ref().unwrap()["status"], "succeeded");
    assert_eq!(log[0].actor, "relay");
}

#[tokio::test]
async fn two_clerks_at_once_never_share_or_skip_a_receipt_number() {
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let mut txs = Vec::new();
    for n in 0..60 {
        txs.push(new_tx(&store, ids[0], Method::Mpesa, kes(100), n, T0).await);
    }
    let store = Arc::new(store);
    let mut tasks = Vec::new();
    for chunk in txs.chunks(30) {
        let store = Arc::clone(&store);
        let chunk = chunk.to_vec();
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                store
                    .apply_event(
                        "clerk",
                        &TxKey::Id(id),
                        &office(),
                        paid(kes(100)),
                        &ProviderDetails::default(),
                        T0,
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let page = store
        .transactions(&TxFilter {
            status: Some(TxStatus::Succeeded),
            per_page: 500,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    let mut seqs: Vec<u64> = page
        .items
        .iter()
        .map(|t| {
            malipo_domain::ReceiptNumber::parse(t.receipt_number.as_deref().unwrap())
                .unwrap()
                .seq()
        })
        .collect();
    seqs.sort_unstable();
    assert_eq!(
        seqs,
        (1..=60).collect::<Vec<_>>(),
        "receipt numbers 1..=60, each once"
    );
}

#[tokio::test]
async fn the_audit_log_refuses_edits_and_transactions_refuse_deletion() {
    let (_d, store) = store().await;
    store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let path = _d.path().join("malipo.sqlite3");
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let edit = sqlx::query("UPDATE audit_log SET actor = 'someone else'")
        .execute(&raw)
        .await;
    assert!(edit.unwrap_err().to_string().contains("append-only"));
    let delete = sqlx::query("DELETE FROM audit_log").execute(&raw).await;
    assert!(delete.is_err(), "audit lines cannot be deleted");
    let ids = store.policy("P-1").await.unwrap().unwrap().id;
    new_tx(&store, ids, Method::Card, kes(10), 9, T0).await;
    let gone = sqlx::query("DELETE FROM transactions").execute(&raw).await;
    assert!(gone.unwrap_err().to_string().contains("never deleted"));
}

#[tokio::test]
async fn history_filters_search_and_pages_with_exact_totals() {
    let (_d, store) = store().await;
    let ids = store
        .insert_policies(
            "admin",
            &[
                policy("P-1", "Amina Wanjiru", "0712345678"),
                policy("P-2", "Otieno Odhiambo", "0722000111"),
            ],
            T0,
        )
        .await
        .unwrap();
    // 10 days, 3 payments a day alternating policy and method; every third one succeeds.
    let mut n = 0;
    for day in 0..10 {
        for k in 0..3 {
            let at = T0 + Duration::days(day) + Duration::minutes(k);
            let method = if n % 2 == 0 {
                Method::Mpesa
            } else {
                Method::Card
            };
            let id = new_tx(
                &store,
                ids[(n % 2) as usize],
                method,
                kes(100 + n as i64),
                n,
                at,
            )
            .await;
            if n % 3 == 0 {
                store
                    .apply_event(
                        "x",
                        &TxKey::Id(id),
                        &office(),
                        paid(kes(100 + n as i64)),
                        &ProviderDetails::default(),
                        at,
                    )
                    .await
                    .unwrap();
            }
            n += 1;
        }
    }
    let all = store
        .transactions(&TxFilter {
            per_page: 7,
            page: 1,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 30);
    assert_eq!(all.items.len(), 7);
    assert!(
        all.items
            .windows(2)
            .all(|w| w[0].created_at >= w[1].created_at),
        "newest first"
    );
    let last = store
        .transactions(&TxFilter {
            per_page: 7,
            page: 5,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(last.items.len(), 2);

    let succeeded = store
        .transactions(&TxFilter {
            status: Some(TxStatus::Succeeded),
            per_page: 50,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(succeeded.total, 10);
    assert!(
        succeeded
            .items
            .iter()
            .all(|t| t.status == TxStatus::Succeeded)
    );

    let first_day = T0.to_offset(NAIROBI).date();
    let window = TxFilter {
        from: Some(first_day + Duration::days(2)),
        to: Some(first_day + Duration::days(3)),
        method: Some(Method::Card),
        per_page: 50,
        ..TxFilter::default()
    };
    let page = store.transactions(&window).await.unwrap();
    assert_eq!(page.total, page.items.len() as i64);
    assert_eq!(
        page.total, 3,
        "days 2 and 3 hold payments 6..=11, of which 7, 9, 11 are cards"
    );

    for (search, want) in [
        ("wanj", 15),
        ("0722000", 15),
        ("+254712345678", 30),
        ("NBI-000007", 1),
        ("P-2", 15),
    ] {
        let found = store
            .transactions(&TxFilter {
                search: Some(search.into()),
                per_page: 50,
                ..TxFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(found.total, want, "search {search:?}");
        assert_eq!(found.items.len() as i64, want.min(50));
    }

    // Walking forward by where each page ends gives every payment once, in the same order as
    // one long page, with or without a filter and a search; the last page says there is no next.
    for (status, search) in [
        (None, None),
        (Some(TxStatus::Succeeded), None),
        (None, Some("wanj")),
    ] {
        let whole: Vec<i64> = store
            .transactions(&TxFilter {
                status,
                search: search.map(str::to_owned),
                per_page: 50,
                ..TxFilter::default()
            })
            .await
            .unwrap()
            .items
            .iter()
            .map(|t| t.id)
            .collect();
        let mut walked = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .transactions(&TxFilter {
                    status,
                    search: search.map(str::to_owned),
                    per_page: 4,
                    // Ignored once walking: the cursor says where the page starts.
                    page: if after.is_some() { 99 } else { 1 },
                    after,
                    ..TxFilter::default()
                })
                .await
                .unwrap();
            assert!(!page.total_is_floor);
            walked.extend(page.items.iter().map(|t| t.id));
            match page.next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(walked, whole, "{status:?} {search:?}");
    }
}

#[tokio::test]
async fn the_summary_from_daily_totals_equals_a_full_scan() {
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let outcomes = [
        Some(TxEvent::Paid {
            paid: kes(1),
            source: Source::Callback,
        }),
        Some(TxEvent::NotPaid {
            kind: FailureKind::Cancelled,
            source: Source::Callback,
        }),
        None,
        Some(TxEvent::Initiated),
    ];
    for n in 0..40_u64 {
        let at = T0 + Duration::hours(7 * n as i64);
        let amount = kes(1 + (n as i64 % 4));
        let id = new_tx(
            &store,
            ids[0],
            if n % 3 == 0 {
                Method::Card
            } else {
                Method::Mpesa
            },
            amount,
            n,
            at,
        )
        .await;
        let event = match outcomes[(n % 4) as usize] {
            Some(TxEvent::Paid { source, .. }) => Some(TxEvent::Paid {
                paid: amount,
                source,
            }),
            other => other,
        };
        if let Some(ev) = event {
            store
                .apply_event(
                    "x",
                    &TxKey::Id(id),
                    &office(),
                    ev,
                    &ProviderDetails::default(),
                    at,
                )
                .await
                .unwrap();
        }
    }
    for filter in [
        SummaryFilter {
            from: None,
            to: None,
            currency: Currency::Kes,
        },
        SummaryFilter {
            from: Some(date!(2026 - 11 - 29)),
            to: Some(date!(2026 - 12 - 03)),
            currency: Currency::Kes,
        },
    ] {
        let fast = store.summary(&filter).await.unwrap();
        let scan = store.summary_by_scan(&filter).await.unwrap();
        assert_eq!(
            fast, scan,
            "per-day totals must equal a scan of the payments"
        );
    }
    let s = store
        .summary(&SummaryFilter {
            from: None,
            to: None,
            currency: Currency::Kes,
        })
        .await
        .unwrap();
    assert_eq!(s.all.count, 40);
    assert_eq!(
        (s.succeeded.count, s.failed.count, s.pending.count),
        (10, 10, 20)
    );
    assert_eq!(s.all.amount, kes(10 * (1 + 2 + 3 + 4)));
    let none = store
        .summary(&SummaryFilter {
            from: None,
            to: None,
            currency: Currency::Ngn,
        })
        .await
        .unwrap();
    assert_eq!(none.all.count, 0, "no naira were taken");
}

#[tokio::test]
async fn kept_payments_fill_instalments_and_the_rest_are_overdue_or_pending() {
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let id = new_tx(&store, ids[0], Method::Mpesa, kes(2000), 1, T0).await;
    store
        .apply_event(
            "x",
            &TxKey::Id(id),
            &office(),
            paid(kes(2000)),
            &ProviderDetails::default(),
            T0,
        )
        .await
        .unwrap();
    // Not kept: a failed payment does not count towards the schedule.
    let failed = new_tx(&store, ids[0], Method::Mpesa, kes(9000), 2, T0).await;
    store
        .apply_event(
            "x",
            &TxKey::Id(failed),
            &office(),
            TxEvent::NotPaid {
                kind: FailureKind::Failed,
                source: Source::Callback,
            },
            &ProviderDetails::default(),
            T0,
        )
        .await
        .unwrap();
    let lines = store
        .schedule(&ScheduleFilter {
            today: date!(2026 - 11 - 27),
            status: None,
            policy: None,
        })
        .await
        .unwrap();
    let status: Vec<InstalmentStatus> = lines.iter().map(|l| l.state.status).collect();
    use InstalmentStatus::*;
    assert_eq!(
        status,
        [Paid, Overdue, Overdue, Pending, Pending, Pending],
        "2,000 covers September and part of October"
    );
    assert_eq!(lines[1].state.outstanding, kes(1000));
    let overdue = store
        .schedule(&ScheduleFilter {
            today: date!(2026 - 11 - 27),
            status: Some(Overdue),
            policy: Some("p-1".into()),
        })
        .await
        .unwrap();
    assert_eq!(overdue.len(), 2);
}

#[tokio::test]
async fn a_broad_search_pages_and_counts_the_same_as_a_narrow_one() {
    for shuffled in [false, true] {
        let (dir, store) = store().await;
        let ids = store
            .insert_policies(
                "admin",
                &[
                    policy("P-1", "Otieno Odhiambo", "0722000111"),
                    policy("P-2", "Amina", "0712345678"),
                ],
                T0,
            )
            .await
            .unwrap();
        // More payments for one holder than a narrow search fetches by id, written in one go:
        // numbered in date order as a counter makes them, or not (history imported out of order).
        let raw = write_payments(dir.path(), 2600, |n| {
            let minute = if shuffled { n * 7919 % 2600 } else { n };
            let status = if n % 2 == 0 { "succeeded" } else { "failed" };
            (ids[(n % 5 == 0) as usize], status, minute)
        })
        .await;
        let count = |status: &str, policy: i64| {
            let raw = raw.clone();
            let status = status.to_owned();
            async move {
                sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM transactions WHERE status = ? AND policy_id = ?",
                )
                .bind(status)
                .bind(policy)
                .fetch_one(&raw)
                .await
                .unwrap()
            }
        };
        // "otieno" matches 2080 payments (broad); "amina" 520 (narrow).
        for (search, policy) in [("otieno", ids[0]), ("amina", ids[1])] {
            let f = TxFilter {
                search: Some(search.into()),
                status: Some(TxStatus::Succeeded),
                per_page: 25,
                page: 3,
                ..TxFilter::default()
            };
            let page = store.transactions(&f).await.unwrap();
            assert_eq!(
                page.total,
                count("succeeded", policy).await,
                "{search} (shuffled: {shuffled}): the total counts every match"
            );
            assert_eq!(page.items.len(), 25);
            assert!(
                page.items
                    .windows(2)
                    .all(|w| w[0].created_at > w[1].created_at),
                "{search} (shuffled: {shuffled}): newest first"
            );
            assert!(page.items.iter().all(|t| t.status == TxStatus::Succeeded
                && t.policy_number == if policy == ids[0] { "P-1" } else { "P-2" }));
            let first = store
                .transactions(&TxFilter {
                    page: 1,
                    ..f.clone()
                })
                .await
                .unwrap();
            assert!(
                first.items[24].created_at > page.items[0].created_at,
                "{search} (shuffled: {shuffled}): page 3 follows page 1"
            );

            // Walked to the end by keyset, with and without the status filter, the pages are every
            // match in date order, once: the broad walk crosses several of its chunks on the way.
            for status in [Some(TxStatus::Succeeded), None] {
                let expected: Vec<i64> = sqlx::query_scalar(
                    "SELECT id FROM transactions WHERE policy_id = ? AND (? IS NULL OR status = ?)
                     ORDER BY created_at DESC, id DESC",
                )
                .bind(policy)
                .bind(status.map(|s| s.as_str()))
                .bind(status.map(|s| s.as_str()))
                .fetch_all(&raw)
                .await
                .unwrap();
                let pages = walk_pages(
                    &store,
                    &TxFilter {
                        status,
                        page: 1,
                        per_page: 97,
                        ..f.clone()
                    },
                )
                .await;
                for p in &pages {
                    assert_eq!(
                        p.total,
                        expected.len() as i64,
                        "{search} {status:?} (shuffled: {shuffled}): total"
                    );
                    assert!(!p.total_is_floor);
                }
                let walked: Vec<i64> = pages
                    .iter()
                    .flat_map(|p| p.items.iter().map(|t| t.id))
                    .collect();
                assert_eq!(
                    walked, expected,
                    "{search} {status:?} (shuffled: {shuffled}): every match once, in order"
                );
                // The last page by offset is the same rows as the walk's end.
                let last = store
                    .transactions(&TxFilter {
                        status,
                        per_page: 97,
                        page: expected.len().div_ceil(97) as u32,
                        ..f.clone()
                    })
                    .await
                    .unwrap();
                assert_eq!(
                    last.items.iter().map(|t| t.id).collect::<Vec<_>>(),
                    expected[expected.len() / 97 * 97..],
                    "{search} {status:?} (shuffled: {shuffled}): the last page by offset"
                );
            }
        }
    }
}

/// A search matching more payments than are counted says "more than" instead of counting on,
/// alone or with another filter; its pages are still every match in date order, whether
/// payments were numbered in date order or not (history imported out of order).
#[tokio::test]
async fn a_search_matching_more_than_are_counted_says_more_than() {
    for shuffled in [false, true] {
        let (dir, store) = store().await;
        let ids = store
            .insert_policies(
                "admin",
                &[policy("P-1", "Otieno Odhiambo", "0722000111")],
                T0,
            )
            .await
            .unwrap();
        let made = malipo_store::BROAD_COUNT + 50;
        let raw = write_payments(dir.path(), made, |n| {
            let minute = if shuffled { n * 7919 % made } else { n };
            let status = if n % 7 == 0 { "failed" } else { "succeeded" };
            (ids[0], status, minute)
        })
        .await;
        for status in [None, Some(TxStatus::Succeeded)] {
            let expected: Vec<i64> = sqlx::query_scalar(
                "SELECT id FROM transactions WHERE ? IS NULL OR status = ?
                 ORDER BY created_at DESC, id DESC",
            )
            .bind(status.map(|s| s.as_str()))
            .bind(status.map(|s| s.as_str()))
            .fetch_all(&raw)
            .await
            .unwrap();
            let f = TxFilter {
                search: Some("otieno".into()),
                status,
                per_page: 500,
                page: 1,
                ..TxFilter::default()
            };
            let pages = walk_pages(&store, &f).await;
            for page in &pages {
                let counted = expected.len() as i64 > malipo_store::BROAD_COUNT;
                assert_eq!(
                    page.total_is_floor, counted,
                    "{status:?}: more than are counted"
                );
                assert_eq!(
                    page.total,
                    (expected.len() as i64).min(malipo_store::BROAD_COUNT),
                    "{status:?}"
                );
            }
            let walked: Vec<i64> = pages
                .iter()
                .flat_map(|p| p.items.iter().map(|t| t.id))
                .collect();
            assert_eq!(
                walked, expected,
                "{status:?} (shuffled: {shuffled}): every match once, in date order"
            );
            let last = store
                .transactions(&TxFilter {
                    per_page: 7,
                    page: expected.len().div_ceil(7) as u32,
                    ..f.clone()
                })
                .await
                .unwrap();
            assert_eq!(
                last.items.iter().map(|t| t.id).collect::<Vec<_>>(),
                expected[expected.len() / 7 * 7..],
                "{status:?} (shuffled: {shuffled}): the last page by offset"
            );
        }
    }
}

/// Every page of `filter`, walked by keyset from its first: each page after the first starts
/// at the `next` of the one before.
async fn walk_pages(
    store: &malipo_store::Store,
    filter: &TxFilter,
) -> Vec<malipo_store::Page<malipo_store::TransactionRecord>> {
    let mut pages = Vec::new();
    let mut after = filter.after;
    loop {
        let page = store
            .transactions(&TxFilter {
                after,
                ..filter.clone()
            })
            .await
            .unwrap();
        let next = page.next;
        pages.push(page);
        match next {
            Some(n) => after = Some(n),
            None => return pages,
        }
    }
}

/// Opens the office database in `dir` beside the store and writes `count` M-Pesa payments of
/// KES 1 into it in one transaction, numbered `NBI-000001` on: `each(n)` gives the n-th one's
/// policy, status and minute after `T0`.
async fn write_payments(
    dir: &std::path::Path,
    count: i64,
    each: impl Fn(i64) -> (i64, &'static str, i64),
) -> sqlx::SqlitePool {
    let raw = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.join("malipo.sqlite3").display()
    ))
    .await
    .unwrap();
    let mut tx = raw.begin().await.unwrap();
    for n in 0..count {
        let (policy, status, minute) = each(n);
        let at = malipo_domain::time_zone::to_ms(T0) + minute * 60_000;
        sqlx::query(
            "INSERT INTO transactions (number, reference, policy_id, method, status, amount_minor, currency,
                created_at, updated_at, day)
             VALUES (?, ?, ?, 'mpesa', ?, 100, 'KES', ?, ?, (? + 10800000) / 86400000)",
        )
        .bind(format!("NBI-{:06}", n + 1))
        .bind(format!("M{n:011}"))
        .bind(policy)
        .bind(status)
        .bind(at)
        .bind(at)
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    raw
}

fn inbox_event(seq: i64) -> malipo_store::InboxEvent {
    malipo_store::InboxEvent {
        seq,
        provider: "daraja".into(),
        kind: "stk_callback".into(),
        dedup_key: format!("stk:ws_CO_{seq}"),
        received_at: 1,
        body: "{}".into(),
    }
}

#[tokio::test]
async fn an_event_delivered_twice_is_applied_once_and_moves_the_cursor_with_it() {
    use malipo_store::{InboxAction, InboxOutcome};
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let tx = new_tx(&store, ids[0], Method::Mpesa, kes(1500), 1, T0).await;
    let apply = || InboxAction::Apply {
        key: TxKey::Id(tx),
        event: paid(kes(1500)),
        details: ProviderDetails {
            provider_receipt: Some("NLJ7RT61SV".into()),
            ..ProviderDetails::default()
        },
        review: None,
    };
    assert_eq!(store.inbox_cursor().await.unwrap(), 0);
    let first = store
        .record_inbox("sync", &office(), &inbox_event(1), apply(), T0)
        .await
        .unwrap();
    assert_eq!(first.outcome, InboxOutcome::Applied);
    assert!(!first.already);
    let receipt = first.transaction.unwrap().receipt_number;
    assert!(receipt.is_some());
    let again = store
        .record_inbox("sync", &office(), &inbox_event(1), apply(), T0)
        .await
        .unwrap();
    assert!(
        again.already,
        "the same sequence number is never applied twice"
    );
    assert_eq!(store.inbox_cursor().await.unwrap(), 1);
    let after = store.transaction(&TxKey::Id(tx)).await.unwrap();
    assert_eq!(after.receipt_number, receipt, "one receipt number");
    assert_eq!(after.status, TxStatus::Succeeded);

    // An event the payment's state cannot take is recorded as ignored, with the reason, and
    // the cursor still moves past it.
    let odd = InboxAction::Apply {
        key: TxKey::Id(tx),
        event: TxEvent::ReviewResolved { paid: false },
        details: ProviderDetails::default(),
        review: None,
    };
    let ignored = store
        .record_inbox("sync", &office(), &inbox_event(2), odd, T0)
        .await
        .unwrap();
    assert_eq!(ignored.outcome, InboxOutcome::Ignored);
    assert_eq!(store.inbox_cursor().await.unwrap(), 2);
    assert_eq!(
        store.transaction(&TxKey::Id(tx)).await.unwrap().status,
        TxStatus::Succeeded
    );

    // A claim held for the provider's answer moves the cursor past it and is decided again
    // later; once decided it is not held any more.
    let record = |outcome, note: &str| InboxAction::Record {
        outcome,
        transaction_id: None,
        note: note.into(),
    };
    let held = store
        .record_inbox(
            "sync",
            &office(),
            &inbox_event(3),
            record(InboxOutcome::Held, "waiting"),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(held.outcome, InboxOutcome::Held);
    assert_eq!(store.inbox_cursor().await.unwrap(), 3);
    assert_eq!(store.held_events(10).await.unwrap().len(), 1);
    let decided = store
        .record_inbox(
            "sync",
            &office(),
            &inbox_event(3),
            record(InboxOutcome::Suspect, "Safaricom says cancelled"),
            T0,
        )
        .await
        .unwrap();
    assert!(!decided.already, "a held event is decided again");
    assert!(store.held_events(10).await.unwrap().is_empty());
    let review = store.events_for_review(false, 10).await.unwrap();
    assert_eq!(review.len(), 1);
    assert_eq!(review[0].outcome, InboxOutcome::Suspect);
    assert_eq!(review[0].note, "Safaricom says cancelled");
    let settled = store
        .record_inbox(
            "sync",
            &office(),
            &inbox_event(3),
            record(InboxOutcome::Orphan, "x"),
            T0,
        )
        .await
        .unwrap();
    assert!(settled.already, "a decided event is never decided twice");
}

#[tokio::test]
async fn refunds_never_exceed_what_was_paid_and_move_the_payment_when_processed() {
    use malipo_domain::refund::{RefundEvent, RefundStatus};
    use malipo_store::RefundDetails;
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("P-1", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let tx = new_tx(&store, ids[0], Method::Card, kes(1500), 1, T0).await;
    let key = TxKey::Id(tx);
    assert!(
        matches!(
            store.request_refund("clerk", &key, kes(100), "x", T0).await,
            Err(StoreError::Refund(_))
        ),
        "an unpaid payment cannot be refunded"
    );
    store
        .apply_event(
            "sync",
            &key,
            &office(),
            paid(kes(1500)),
            &ProviderDetails::default(),
            T0,
        )
        .await
        .unwrap();
    let a = store
        .request_refund("clerk", &key, kes(1000), "overpaid", T0)
        .await
        .unwrap();
    assert!(
        matches!(
            store
                .request_refund("clerk", &key, kes(501), "again", T0)
                .await,
            Err(StoreError::Refund(_))
        ),
        "a requested refund holds its amount"
    );
    let b = store
        .request_refund("clerk", &key, kes(500), "the rest", T0)
        .await
        .unwrap();
    let step = |id: i64, event: RefundEvent| {
        let store = &store;
        async move {
            store
                .refund_event(
                    "manager",
                    id,
                    &office(),
                    event,
                    &RefundDetails::default(),
                    T0,
                )
                .await
                .unwrap()
        }
    };
    step(a.id, RefundEvent::Approve).await;
    step(a.id, RefundEvent::Submitted).await;
    let (r, changed, payment) = step(a.id, RefundEvent::Processed).await;
    assert!(changed);
    assert_eq!(r.status, RefundStatus::Processed);
    assert_eq!(payment.status, TxStatus::PartiallyRefunded);
    assert_eq!(payment.refunded, kes(1000));
    let (_, changed, _) = step(a.id, RefundEvent::Processed).await;
    assert!(!changed, "a repeated event changes nothing");
    step(b.id, RefundEvent::Approve).await;
    let (_, _, payment) = step(b.id, RefundEvent::Processed).await;
    assert_eq!(payment.status, TxStatus::Refunded);
    assert_eq!(payment.refunded, kes(1500));
    let log = store.audit_log(None, 100).await.unwrap();
    let refund_lines = log.iter().filter(|e| e.entity == "refund").count();
    // Two requests; approve, submitted and processed for one; approve and processed for the
    // other (the repeated event wrote nothing).
    assert_eq!(refund_lines, 7, "every refund change is audited once");
}

/// Offices that kept the STK callback URL (with the relay's secret token in it) as a setting,
/// before it became a secret: upgrading removes it from the settings and the audit log.
#[tokio::test]
async fn upgrading_takes_the_callback_url_out_of_the_settings_and_the_audit_log() {
    const BEFORE: malipo_sqlite::Migrations = &[
        (1, "initial", include_str!("../migrations/0001_initial.sql")),
        (
            2,
            "payments",
            include_str!("../migrations/0002_payments.sql"),
        ),
        (3, "sync", include_str!("../migrations/0003_sync.sql")),
        (4, "refunds", include_str!("../migrations/0004_refunds.sql")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.sqlite3");
    let url = "https://relay.example/hooks/d/5ecret0token";
    {
        let old = malipo_sqlite::open(&path, 1, BEFORE).await.unwrap();
        sqlx::query("INSERT INTO settings (key, value) VALUES ('mpesa.callback_url', ?)")
            .bind(url)
            .execute(&old)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)
             VALUES (1, 'amina', 'setting.set', 'setting', 'mpesa.callback_url', NULL, ?)",
        )
        .bind(serde_json::json!(url).to_string())
        .execute(&old)
        .await
        .unwrap();
        old.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    assert_eq!(store.setting("mpesa.callback_url").await.unwrap(), None);
    let entries = store
        .audit_log(Some(("setting", "mpesa.callback_url")), 10)
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "the entry stays, its value does not");
    assert_eq!(entries[0].after, Some(serde_json::json!("<redacted>")));
}

/// One payment taken at a counter, as it ends and as the relay sees its versions.
#[derive(Debug, Clone)]
struct Taken {
    counter: usize,
    reference: String,
    number: String,
    amount: Money,
    /// `Some(true)` paid, `Some(false)` failed, `None` still open.
    outcome: Option<bool>,
}

fn version(t: &Taken, seq: i64, last: bool) -> malipo_store::CompanyPayment {
    let status = match (last, t.outcome) {
        (false, _) | (true, None) => TxStatus::AwaitingCustomer,
        (true, Some(true)) => TxStatus::Succeeded,
        (true, Some(false)) => TxStatus::Failed,
    };
    malipo_store::CompanyPayment {
        seq,
        reference: t.reference.clone(),
        number: t.number.clone(),
        office: "NBI".into(),
        counter: Some((t.counter + 1).to_string()),
        policy_number: Some("P-1".into()),
        method: "mpesa".into(),
        status,
        amount: t.amount,
        refunded: Money::zero(Currency::Kes),
        clerk: None,
        receipt_number: None,
        provider_receipt: None,
        created_at: T0,
        updated_at: T0 + Duration::seconds(i64::from(last)),
        holder: None,
        here: false,
    }
}

/// The same policy paid at two counters at once, their uploads reaching the relay interleaved
/// any way, each counter pulling the company's payments at any moment: once all have synced,
/// the two counters and a third that took nothing show the policy's instalments alike.
#[tokio::test]
async fn any_interleaving_of_two_counters_payments_allocates_alike_everywhere() {
    let mut seed: u64 = 7;
    let mut next = move |below: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % below
    };
    for round in 0..12 {
        let stores = [store().await, store().await, store().await];
        let register = malipo_domain::RegisterPolicy {
            number: PolicyNumber::parse("P-1").unwrap(),
            holder: HolderName::parse("Amina Wanjiru").unwrap(),
            phone: Msisdn::parse("0712345678").unwrap(),
            email: None,
            premium: kes(1500),
            frequency: Frequency::Monthly,
            instalments: 12,
            start: date!(2026 - 07 - 01),
            status: malipo_domain::PolicyStatus::Active,
        };
        for (_, s) in &stores {
            s.upsert_policies(
                "sync",
                std::slice::from_ref(&register),
                malipo_store::PolicySource::Register,
                Some(1),
                T0,
            )
            .await
            .unwrap();
        }
        // Payments at counters 0 and 1, written at their own counter.
        let mut taken = Vec::new();
        for (counter, (_, s)) in stores.iter().enumerate().take(2) {
            let policy = s.policy("P-1").await.unwrap().unwrap();
            let desk = Desk::new(
                OfficeCode::parse("NBI").unwrap(),
                Some(malipo_domain::CounterCode::parse(&(counter + 1).to_string()).unwrap()),
            );
            for n in 0..(1 + next(4)) {
                let amount = kes(100 * (1 + next(40) as i64));
                let new = NewTransaction {
                    desk: desk.clone(),
                    policy_id: policy.id,
                    method: Method::Mpesa,
                    amount,
                    phone: Some(Msisdn::parse("0712345678").unwrap()),
                    email: None,
                    reference: ProviderReference::from_random(
                        round * 1000 + counter as u64 * 100 + n,
                    ),
                    clerk_id: None,
                };
                let t = s.insert_transaction("clerk", &new, T0).await.unwrap();
                let outcome = match next(3) {
                    0 => Some(true),
                    1 => Some(false),
                    _ => None,
                };
                let event = match outcome {
                    Some(true) => Some(paid(amount)),
                    Some(false) => Some(TxEvent::NotPaid {
                        kind: FailureKind::Cancelled,
                        source: Source::Callback,
                    }),
                    None => None,
                };
                if let Some(event) = event {
                    s.apply_event(
                        "sync",
                        &TxKey::Id(t.id),
                        &desk,
                        event,
                        &ProviderDetails::default(),
                        T0 + Duration::seconds(1),
                    )
                    .await
                    .unwrap();
                }
                taken.push(Taken {
                    counter,
                    reference: t.reference.clone(),
                    number: t.number.clone(),
                    amount,
                    outcome,
                });
            }
        }
        // The relay's order: each counter's versions in its own order, the two counters'
        // interleaved at random; a payment's later version replaces its earlier one.
        let mut uploads: Vec<(usize, usize, bool)> = Vec::new();
        let mut queues: [Vec<(usize, bool)>; 2] = [Vec::new(), Vec::new()];
        for (i, t) in taken.iter().enumerate() {
            queues[t.counter].push((i, false));
            queues[t.counter].push((i, true));
        }
        let mut heads = [0, 0];
        while heads[0] < queues[0].len() || heads[1] < queues[1].len() {
            let c = match (heads[0] < queues[0].len(), heads[1] < queues[1].len()) {
                (true, true) => next(2) as usize,
                (true, false) => 0,
                _ => 1,
            };
            let (i, last) = queues[c][heads[c]];
            heads[c] += 1;
            uploads.push((c, i, last));
        }
        // The relay's table after each upload, and every counter pulling at random moments.
        let mut relay: Vec<malipo_store::CompanyPayment> = Vec::new();
        let mut cursors = [0_i64; 3];
        for (seq, (_, i, last)) in uploads.iter().enumerate() {
            let v = version(&taken[*i], seq as i64 + 1, *last);
            relay.retain(|r| r.reference != v.reference);
            relay.push(v);
            for (c, (_, s)) in stores.iter().enumerate() {
                if next(3) == 0 {
                    let page: Vec<_> = relay
                        .iter()
                        .filter(|r| r.seq > cursors[c])
                        .cloned()
                        .collect();
                    let top = relay.iter().map(|r| r.seq).max().unwrap_or(0);
                    s.record_company_payments(&page, top).await.unwrap();
                    cursors[c] = top;
                }
            }
        }
        // Everyone syncs once more.
        let mut seen = Vec::new();
        for (c, (_, s)) in stores.iter().enumerate() {
            let page: Vec<_> = relay
                .iter()
                .filter(|r| r.seq > cursors[c])
                .cloned()
                .collect();
            s.record_company_payments(&page, uploads.len() as i64)
                .await
                .unwrap();
            let lines = s
                .schedule(&ScheduleFilter {
                    today: TODAY,
                    status: None,
                    policy: Some("P-1".into()),
                })
                .await
                .unwrap();
            seen.push(
                lines
                    .iter()
                    .map(|l| (l.state.instalment.seq, l.state.paid, l.state.status))
                    .collect::<Vec<_>>(),
            );
        }
        let kept: i64 = taken
            .iter()
            .filter(|t| t.outcome == Some(true))
            .map(|t| t.amount.minor())
            .sum();
        let allocated: i64 = seen[2].iter().map(|(_, paid, _)| paid.minor()).sum();
        assert_eq!(
            allocated,
            kept.min(12 * 150_000),
            "round {round}: every kept payment counts once"
        );
        assert_eq!(
            seen[0], seen[2],
            "round {round}: counter 1 and counter 3 agree"
        );
        assert_eq!(
            seen[1], seen[2],
            "round {round}: counter 2 and counter 3 agree"
        );
    }
}

/// Policies written here wait for the register until it takes them, unless changed again in
/// the meantime; the register's own copies never wait.
#[tokio::test]
async fn policies_written_here_wait_for_the_register_until_it_takes_them() {
    let (_d, store) = store().await;
    let p = malipo_domain::RegisterPolicy {
        number: PolicyNumber::parse("P-1").unwrap(),
        holder: HolderName::parse("Amina Wanjiru").unwrap(),
        phone: Msisdn::parse("0712345678").unwrap(),
        email: None,
        premium: kes(1500),
        frequency: Frequency::Monthly,
        instalments: 12,
        start: date!(2026 - 07 - 01),
        status: malipo_domain::PolicyStatus::Active,
    };
    let local = malipo_store::PolicySource::Counter;
    let done = store
        .upsert_policies("admin", std::slice::from_ref(&p), local, None, T0)
        .await
        .unwrap();
    assert_eq!(done.added, ["P-1"]);
    let waiting = store.pending_policies(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].0, p, "read back as written");
    // Changed again before the register answered: it still waits.
    let dearer = malipo_domain::RegisterPolicy {
        premium: kes(1750),
        ..p.clone()
    };
    let later = T0 + Duration::minutes(1);
    let done = store
        .upsert_policies("admin", std::slice::from_ref(&dearer), local, None, later)
        .await
        .unwrap();
    assert_eq!(done.updated, ["P-1"]);
    store
        .policies_sent(&[("P-1".into(), waiting[0].1)])
        .await
        .unwrap();
    assert_eq!(store.pending_policies(10).await.unwrap().len(), 1);
    let lines = store
        .schedule(&ScheduleFilter {
            today: TODAY,
            status: None,
            policy: Some("P-1".into()),
        })
        .await
        .unwrap();
    assert!(
        lines.iter().all(|l| l.state.instalment.amount == kes(1750)),
        "the schedule follows the premium"
    );
    let again = store.pending_policies(10).await.unwrap();
    store
        .policies_sent(&[("P-1".into(), again[0].1)])
        .await
        .unwrap();
    assert!(store.pending_policies(10).await.unwrap().is_empty());
    // The register's copy, the same: unchanged, and nothing waits.
    let done = store
        .upsert_policies(
            "sync",
            std::slice::from_ref(&dearer),
            malipo_store::PolicySource::Register,
            Some(9),
            later,
        )
        .await
        .unwrap();
    assert_eq!(done.unchanged, 1);
    assert_eq!(store.register_cursor().await.unwrap(), 9);
    assert!(store.pending_policies(10).await.unwrap().is_empty());
}

fn paybill(policy_id: i64, code: &str, amount: Money, n: u64) -> malipo_store::NewPaybill {
    malipo_store::NewPaybill {
        desk: office(),
        policy_id,
        amount,
        trans_id: code.into(),
        payer: Some("John Doe".into()),
        msisdn: Some("25470****149".into()),
        paid_at: T0 - Duration::minutes(5),
        clerk_id: None,
        reference: ProviderReference::from_random(n),
    }
}

/// One M-Pesa code is one payment, whichever way it arrives first: the confirmation's event
/// finds the code typed at the counter and changes nothing; typing it again is refused.
#[tokio::test]
async fn a_paybill_code_is_recorded_once_however_it_arrives() {
    use malipo_store::{InboxAction, InboxOutcome};
    let (_d, store) = store().await;
    let ids = store
        .insert_policies("admin", &[policy("MTR-2291", "Amina", "0712345678")], T0)
        .await
        .unwrap();
    let typed = store
        .record_paybill("amina", &paybill(ids[0], "RKTQDM7W6S", kes(2000), 1), T0)
        .await
        .unwrap();
    assert_eq!(typed.method, Method::Paybill);
    assert_eq!(typed.status, TxStatus::Succeeded);
    assert!(
        typed.receipt_number.is_some(),
        "a confirmed paybill payment gets a receipt"
    );
    assert_eq!(typed.provider_receipt.as_deref(), Some("RKTQDM7W6S"));
    assert_eq!(typed.payer.as_deref(), Some("John Doe"));
    assert_eq!(
        typed.created_at,
        T0 - Duration::minutes(5),
        "dated when the customer paid"
    );

    let again = store
        .record_paybill("amina", &paybill(ids[0], "RKTQDM7W6S", kes(2000), 2), T0)
        .await;
    assert!(matches!(again, Err(StoreError::Duplicate(_))), "{again:?}");

    let mut event = inbox_event(7);
    event.kind = "c2b_confirmation".into();
    let recorded = store
        .record_inbox(
            "sync",
            &office(),
            &event,
            InboxAction::Paybill {
                payment: paybill(ids[0], "RKTQDM7W6S", kes(2000), 3),
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(recorded.outcome, InboxOutcome::Unchanged);
    assert_eq!(recorded.transaction.map(|t| t.id), Some(typed.id));
    let all = store
        .transactions(&TxFilter {
            method: Some(Method::Paybill),
            page: 1,
            per_page: 50,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 1);

    // Paid by the code, found by the code or the payer's name.
    let found = store
        .transactions(&TxFilter {
            search: Some("john".into()),
            page: 1,
            per_page: 50,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let lines = store
        .schedule(&ScheduleFilter {
            today: date!(2026 - 09 - 02),
            status: None,
            policy: Some("MTR-2291".into()),
        })
        .await
        .unwrap();
    assert_eq!(lines[0].state.status, InstalmentStatus::Paid);
    assert_eq!(
        lines[1].state.outstanding,
        kes(1000),
        "the rest part-pays the next"
    );
}

#[tokio::test]
async fn accounts_as_customers_type_them_find_the_policy() {
    let (_d, store) = store().await;
    store
        .insert_policies(
            "admin",
            &[
                policy("MTR-2291", "Amina", "0712345678"),
                policy("MTR-2292", "Baraka", "0712345679"),
            ],
            T0,
        )
        .await
        .unwrap();
    for typed in ["mtr 2291", "MTR/2291", "m.t.r_2291", "Mtr-2291"] {
        let key = malipo_providers_free_account_key(typed);
        let found = store.policies_by_account(&key).await.unwrap();
        assert_eq!(
            found.iter().map(|p| p.number.as_str()).collect::<Vec<_>>(),
            ["MTR-2291"],
            "{typed}"
        );
    }
    assert!(
        store
            .policies_by_account("MTR229")
            .await
            .unwrap()
            .is_empty()
    );
}

/// The store does not depend on the providers crate: the key as the relay and the app make it.
fn malipo_providers_free_account_key(account: &str) -> String {
    account
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '/' | '.' | '_' | '\\'))
        .flat_map(char::to_uppercase)
        .collect()
}

#[tokio::test]
async fn transaction_status_answers_find_their_code_and_the_first_answer_stands() {
    let (_d, store) = store().await;
    store
        .note_paybill_ask(
            "RKTQDM7W6S",
            Some(("MTR-2291", None)),
            Some(("AG_1", "OC_1")),
            T0,
            T0 + Duration::minutes(1),
        )
        .await
        .unwrap();
    store
        .note_paybill_ask(
            "RKTQDM7W6S",
            None,
            Some(("AG_2", "OC_2")),
            T0 + Duration::minutes(1),
            T0 + Duration::minutes(3),
        )
        .await
        .unwrap();
    let check = store.paybill_check("RKTQDM7W6S").await.unwrap().unwrap();
    assert_eq!(check.attempts, 2);
    assert_eq!(
        check.policy_number.as_deref(),
        Some("MTR-2291"),
        "the clerk's policy is kept"
    );
    assert_eq!(
        store.paybill_ask("AG_1", "x").await.unwrap().as_deref(),
        Some("RKTQDM7W6S")
    );
    assert_eq!(
        store.paybill_ask("x", "OC_2").await.unwrap().as_deref(),
        Some("RKTQDM7W6S")
    );
    assert_eq!(store.paybill_ask("AG_9", "OC_9").await.unwrap(), None);

    store
        .paybill_check_problem("RKTQDM7W6S", "queue timeout", T0 + Duration::minutes(2))
        .await
        .unwrap();
    let check = store.paybill_check("RKTQDM7W6S").await.unwrap().unwrap();
    assert_eq!(check.next_ask_at, T0 + Duration::minutes(2));
    assert_eq!(check.answered_at, None);

    assert!(
        store
            .answer_paybill_check("RKTQDM7W6S", true, "{\"a\":1}", T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .answer_paybill_check("RKTQDM7W6S", false, "{}", T0)
            .await
            .unwrap()
    );
    let check = store.paybill_check("RKTQDM7W6S").await.unwrap().unwrap();
    assert_eq!(check.found, Some(true));
    assert_eq!(check.answer.as_deref(), Some("{\"a\":1}"));
}

/// An office that took payments and refunds before paybill keeps them, by the same ids.
#[tokio::test]
async fn upgrading_to_paybill_keeps_payments_refunds_and_events() {
    const BEFORE: malipo_sqlite::Migrations = &[
        (1, "initial", include_str!("../migrations/0001_initial.sql")),
        (
            2,
            "payments",
            include_str!("../migrations/0002_payments.sql"),
        ),
        (3, "sync", include_str!("../migrations/0003_sync.sql")),
        (4, "refunds", include_str!("../migrations/0004_refunds.sql")),
        (5, "trust", include_str!("../migrations/0005_trust.sql")),
        (6, "company", include_str!("../migrations/0006_company.sql")),
    ];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("malipo.sqlite3");
    let (id, refund_of) = (7_i64, 3_i64);
    {
        let old = malipo_sqlite::open(&path, 1, BEFORE).await.unwrap();
        for sql in [
            "INSERT INTO policies (id, number, holder, phone, premium_minor, currency, frequency,
                 created_at, updated_at)
             VALUES (1, 'P-1', 'Amina', '254712345678', 150000, 'KES', 'monthly', 1, 1)",
            "INSERT INTO transactions (id, number, reference, policy_id, method, status,
                 amount_minor, currency, phone, provider_receipt, receipt_number, created_at,
                 updated_at, day)
             VALUES (7, 'NBI-000007', 'MABCDEFGHJKL', 1, 'mpesa', 'succeeded', 150000, 'KES',
                 '254712345678', 'RKTQDM7W6S', 'NBI-R-000001', 1, 1, 0)",
            "INSERT INTO refunds (id, transaction_id, amount_minor, currency, reason, status,
                 requested_by, created_at, updated_at)
             VALUES (3, 7, 50000, 'KES', 'wrong amount', 'requested', 'amina', 1, 1)",
            "INSERT INTO inbox (seq, provider, kind, dedup_key, received_at, body, outcome,
                 transaction_id, recorded_at)
             VALUES (1, 'daraja', 'stk_callback', 'stk:1', 1, '{}', 'applied', 7, 1)",
        ] {
            sqlx::query(sql).execute(&old).await.unwrap();
        }
        old.close().await;
    }
    let store = Store::open(&path).await.unwrap();
    let tx = store.transaction(&TxKey::Id(id)).await.unwrap();
    assert_eq!(tx.status, TxStatus::Succeeded);
    assert_eq!(tx.payer, None);
    let refund = store.refund(refund_of).await.unwrap();
    assert_eq!(refund.transaction_id, id);
    let search = store
        .transactions(&TxFilter {
            search: Some("amina".into()),
            page: 1,
            per_page: 10,
            ..TxFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(search.total, 1, "the search index still finds old payments");
}
