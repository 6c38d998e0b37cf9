//! Retention purges only old bodies every active device has read, keeps their per-day counts,
//! and on PostgreSQL two instances purging at once delete and count each event once.

use malipo_relay::store::{Incoming, RelayStore, Stored, now_ms};
use malipo_test_support as support;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn callback(tenant: &str, n: usize) -> Incoming {
    Incoming {
        tenant_id: tenant.to_owned(),
        provider: "daraja",
        kind: "stk_callback".into(),
        dedup_key: format!("stk:ws_CO_{n:06}:digest"),
        subject: format!("ws_CO_{n:06}"),
        source_addr: None,
        headers: "{}".into(),
        body: format!("{{\"n\":{n}}}").into_bytes(),
        office: None,
    }
}

struct Office {
    store: RelayStore,
    tenant: String,
    fast: malipo_relay::store::Device,
    slow: malipo_relay::store::Device,
}

async fn office(store: RelayStore, events: usize) -> Office {
    let tenant = store.create_tenant("Jubilee").await.unwrap().tenant.id;
    let (fast, _) = store.add_device(&tenant, "counter 1", None).await.unwrap();
    let (slow, _) = store.add_device(&tenant, "counter 2", None).await.unwrap();
    // A revoked device never holds anything back.
    let (gone, _) = store.add_device(&tenant, "old laptop", None).await.unwrap();
    assert!(store.revoke_device(&gone.id).await.unwrap());
    for n in 1..=events {
        assert!(matches!(
            store.ingest(callback(&tenant, n)).await.unwrap(),
            Stored::New(_)
        ));
    }
    Office {
        store,
        tenant,
        fast,
        slow,
    }
}

fn total(days: &[(String, String, String, i64)]) -> i64 {
    days.iter().map(|d| d.3).sum()
}

async fn only_old_read_bodies_go_and_their_counts_stay(store: RelayStore) {
    let o = office(store, 1200).await;
    let store = &o.store;
    // The operator's list: the company, its devices, how far its events go, when the last came.
    let listed = store.tenant_list().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (
            listed[0].id.as_str(),
            listed[0].active_devices,
            listed[0].revoked_devices,
            listed[0].last_seq
        ),
        (o.tenant.as_str(), 2, 1, 1200)
    );
    assert!(
        listed[0]
            .last_received_ms
            .is_some_and(|at| (now_ms() - at).abs() < 60_000)
    );
    // Counter 1 has read everything; counter 2 up to event 700.
    store.events(&o.fast, 1200, 1).await.unwrap();
    store.events(&o.slow, 700, 1).await.unwrap();
    let before = store.event_days(&o.tenant).await.unwrap();
    assert_eq!(total(&before), 1200);

    // Young bodies stay, read or not.
    let young = store
        .purge(90, now_ms() + 89 * DAY_MS, false)
        .await
        .unwrap();
    assert_eq!(young.purged(), 0, "{young:?}");

    // Old: a dry run says what would go and deletes nothing.
    let later = now_ms() + 91 * DAY_MS;
    let dry = store.purge(90, later, true).await.unwrap();
    assert_eq!((dry.purged(), dry.kept_unread()), (700, 500), "{dry:?}");
    assert_eq!(dry.tenants[0].held_by.as_deref(), Some(o.slow.id.as_str()));
    assert!(
        dry.summary().contains("would purge 700"),
        "{}",
        dry.summary()
    );
    assert_eq!(store.events(&o.slow, 0, 1000).await.unwrap().len(), 1000);

    // The purge takes what both active counters read (in batches), and nothing after.
    let done = store.purge(90, later, false).await.unwrap();
    assert_eq!((done.purged(), done.kept_unread()), (700, 500), "{done:?}");
    let left = store.events(&o.slow, 0, 2000).await.unwrap();
    assert_eq!(left.len(), 500);
    assert_eq!(left[0].seq, 701, "what counter 2 has not read is all there");
    assert_eq!(
        store.event_days(&o.tenant).await.unwrap(),
        before,
        "the per-day counts are the same after the bodies went"
    );
    let metrics = store
        .metrics()
        .render(&store.gauges().await.unwrap(), now_ms());
    assert!(
        metrics.contains("malipo_relay_purged_events_total 700"),
        "{metrics}"
    );

    // Again: nothing more goes until counter 2 reads on.
    assert_eq!(store.purge(90, later, false).await.unwrap().purged(), 0);
    store.events(&o.slow, 1200, 1).await.unwrap();
    assert_eq!(store.purge(90, later, false).await.unwrap().purged(), 500);
    assert_eq!(total(&store.event_days(&o.tenant).await.unwrap()), 1200);
    // New events keep their numbers after everything before them went.
    assert_eq!(
        store.ingest(callback(&o.tenant, 5000)).await.unwrap(),
        Stored::New(1201)
    );
}

#[tokio::test]
async fn sqlite_purges_only_old_read_bodies_and_keeps_their_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = RelayStore::open(&dir.path().join("relay.sqlite3"))
        .await
        .unwrap();
    only_old_read_bodies_go_and_their_counts_stay(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_purges_only_old_read_bodies_and_keeps_their_counts() {
    let url = support::postgres_database().await;
    let store = RelayStore::connect_postgres(&url).await.unwrap();
    only_old_read_bodies_go_and_their_counts_stay(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_instances_purging_at_once_count_each_event_once() {
    let url = support::postgres_database().await;
    let one = RelayStore::connect_postgres(&url).await.unwrap();
    let two = RelayStore::connect_postgres(&url).await.unwrap();
    let o = office(one.clone(), 3000).await;
    one.events(&o.fast, 3000, 1).await.unwrap();
    one.events(&o.slow, 3000, 1).await.unwrap();
    let later = now_ms() + 91 * DAY_MS;
    let (a, b) = tokio::join!(one.purge(90, later, false), two.purge(90, later, false));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.purged() + b.purged(), 3000, "{a:?} {b:?}");
    assert_eq!(one.events(&o.slow, 0, 10).await.unwrap().len(), 0);
    let days = one.event_days(&o.tenant).await.unwrap();
    assert_eq!(total(&days), 3000, "{days:?}");
}
