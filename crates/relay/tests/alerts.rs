//! The alert rules shipped in deploy/prometheus ask only for metrics the relay exports: every
//! `malipo_relay_*` name they use is on a running relay's metrics page. (What each rule decides
//! is tested by `promtool test rules`, run by scripts/test-relay-deploy.)

use malipo_relay::store::{Incoming, RelayStore, now_ms};

/// Every `malipo_relay_…` name in `text`.
fn metric_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("malipo_relay_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        // `malipo_relay_check`-like words in prose are not metrics: every metric is in a rule's
        // expression, which the page must then name with its HELP line.
        names.insert(name);
    }
    names
}

#[tokio::test]
async fn every_metric_the_alert_rules_use_is_exported() {
    let rules = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/prometheus/malipo-relay.rules.yml"),
    )
    .unwrap();
    let used = metric_names(&rules);
    assert!(
        used.len() >= 7,
        "the rules name the relay's metrics: {used:?}"
    );

    let dir = tempfile::tempdir().unwrap();
    let store = RelayStore::open(&dir.path().join("relay.sqlite3"))
        .await
        .unwrap();
    let tenant = store.create_tenant("Jubilee").await.unwrap().tenant.id;
    store.add_device(&tenant, "counter", None).await.unwrap();
    store
        .ingest(Incoming {
            tenant_id: tenant.clone(),
            provider: "daraja",
            kind: "stk_callback".into(),
            dedup_key: "stk:ws_CO_1:d".into(),
            subject: "ws_CO_1".into(),
            source_addr: None,
            headers: "{}".into(),
            body: b"{}".to_vec(),
            office: None,
        })
        .await
        .unwrap();
    store
        .metrics()
        .rejected(malipo_relay_api::ProblemCode::BadSignature);
    let page = store
        .metrics()
        .render(&store.gauges().await.unwrap(), now_ms());
    for name in &used {
        assert!(
            page.contains(&format!("# TYPE {name} ")),
            "the rules use {name}, which the metrics page does not export:\n{page}"
        );
    }
    let at = page
        .lines()
        .find(|l| l.starts_with("malipo_relay_last_received_timestamp_seconds{"))
        .unwrap();
    let seconds: i64 = at.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((now_ms() / 1000 - seconds).abs() < 60, "{at}");
    assert!(page.contains("malipo_relay_ready 1"), "{page}");
}
