//! The set-up doctor against a real relay and simulator: a correct set-up passes and each mistake
//! is named.

use crate::world::*;

/// `malipo doctor --json` in this world, with `env` changed: whether it exited 0, and the
/// report.
async fn doctor(world: &World, env: &[(&str, Option<&str>)]) -> (bool, Value) {
    let mut c = world.office();
    c.args(["doctor", "--json"]);
    for (name, value) in env {
        match value {
            Some(v) => c.env(name, v),
            None => c.env_remove(name),
        };
    }
    let out = c.output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    for secret in [
        "sandbox-consumer-secret",
        "wrong-consumer-secret",
        "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
        PAYSTACK_SECRET,
        world.device_token.as_str(),
        world.daraja_url.rsplit('/').next().unwrap(),
    ] {
        assert!(!text.contains(secret), "a secret in the report: {text}");
    }
    let report: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        panic!(
            "not JSON: {e}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}

/// The one check that failed, which must be `name` and say `says`; its message.
fn only_failure(ok: bool, report: &Value, what: &str, name: &str, says: &str) -> String {
    assert!(!ok, "{what}: the doctor exits non-zero");
    let failed = checks_with(report, "fail");
    assert_eq!(failed.len(), 1, "{what}: only {name} fails: {failed:?}");
    assert_eq!(failed[0].0, name, "{what}: {failed:?}");
    assert!(failed[0].1.contains(says), "{what}: {}", failed[0].1);
    failed[0].1.clone()
}

fn checks_with(report: &Value, status: &str) -> Vec<(String, String)> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// `malipo doctor` against the simulator and a real relay: a correct set-up passes, and each
/// classic mistake fails the one check that names it, with its own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_passes_a_correct_set_up_and_names_each_mistake() {
    let mut world = World::start(Backend::Sqlite).await;
    world.sync().await;
    let (ok, report) = doctor(&world, &[]).await;
    assert!(ok, "a correct set-up passes: {report:#}");
    assert_eq!(checks_with(&report, "fail"), vec![], "{report:#}");
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for name in [
        "mpesa.credentials",
        "mpesa.passkey",
        "mpesa.shortcode",
        "mpesa.callback_url",
        "mpesa.certificate",
        "paystack.key",
        "paystack.webhook",
        "relay.reachable",
        "relay.token",
        "relay.clock",
        "relay.sync",
        "office.secret_store",
        "office.data_dir",
        "office.printer",
        "office.disk",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
    for c in report["checks"].as_array().unwrap() {
        assert!(
            ["pass", "warn", "fail"].contains(&c["status"].as_str().unwrap()),
            "{c}"
        );
        assert!(!c["message"].as_str().unwrap().is_empty(), "{c}");
    }

    let token_path = world.daraja_url.split_once("/hooks/").unwrap().1;
    let http_url = format!("http://relay.example.co.ke/hooks/{token_path}");
    let mpesa_url = "https://relay.example.co.ke/mpesa/callback";
    type Env<'a> = Vec<(&'a str, Option<&'a str>)>;
    let mistakes: [(&str, Env, &str, &str); 4] = [
        (
            "a wrong consumer secret",
            vec![(
                "MALIPO_MPESA_CONSUMER_SECRET",
                Some("wrong-consumer-secret"),
            )],
            "mpesa.credentials",
            "refused the consumer key and secret",
        ),
        (
            "an http:// callback URL",
            vec![("MALIPO_MPESA_CALLBACK_URL", Some(&http_url))],
            "mpesa.callback_url",
            "only posts to https://",
        ),
        (
            "a URL containing mpesa",
            vec![("MALIPO_MPESA_CALLBACK_URL", Some(mpesa_url))],
            "mpesa.callback_url",
            "contains \"mpesa\"",
        ),
        (
            "a till without its till number",
            vec![
                ("MALIPO_MPESA_TYPE", Some("till")),
                ("MALIPO_MPESA_TILL", None),
            ],
            "mpesa.shortcode",
            "without its till number",
        ),
    ];
    let mut messages = Vec::new();
    for (what, env, check, says) in &mistakes {
        let (ok, report) = doctor(&world, env).await;
        messages.push(only_failure(ok, &report, what, check, says));
    }

    // A revoked device token.
    let revoked = json_out({
        let mut c = Command::new(bin("malipo-relay"));
        c.args(["device", "revoke", &world.device_id])
            .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    })
    .await;
    assert_eq!(revoked["revoked"], true);
    let (ok, report) = doctor(&world, &[]).await;
    messages.push(only_failure(
        ok,
        &report,
        "a revoked token",
        "relay.token",
        "refused this office's device token",
    ));

    // A relay that is down.
    world.kill_relay().await;
    let (ok, report) = doctor(&world, &[]).await;
    messages.push(only_failure(
        ok,
        &report,
        "a relay that is down",
        "relay.reachable",
        "cannot reach the relay",
    ));

    let mut distinct = messages.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        messages.len(),
        "each mistake has its own message: {messages:#?}"
    );
}
