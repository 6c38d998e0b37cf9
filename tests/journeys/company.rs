//! One company across offices and counters: another office's events change nothing here, and
//! counters share policies but never a number.

use crate::world::*;

/// One company, two offices: a payment taken at one reaches the other's sync as another
/// office's event and changes nothing there; a callback that matches no payment anywhere is
/// kept as an orphan until a manager resolves it.
async fn other_offices_events_and_orphans_change_nothing_here(backend: Backend) {
    let world = World::start(backend).await;
    let nairobi = world.second_office().await;
    let tx = number(&world.pay_mpesa(PAID, "1500").await);
    world.sync_until_final(std::slice::from_ref(&tx)).await;
    // A callback nobody asked for.
    let stray = json!({"Body": {"stkCallback": {"MerchantRequestID": "1",
        "CheckoutRequestID": "ws_CO_nobody_asked", "ResultCode": 1032, "ResultDesc": "x"}}});
    let r = world
        .http
        .post(&world.daraja_url)
        .json(&stray)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());

    let mut sync = world.office_at("nairobi", &nairobi);
    sync.args(["sync", "--once", "--json"]);
    let report = json_out(sync).await;
    assert_eq!(report["other_office"], 1, "{report}");
    assert_eq!(report["orphans"], 1, "{report}");
    assert_eq!(report["applied"], 0, "{report}");
    let mut list = world.office_at("nairobi", &nairobi);
    list.args(["tx", "list", "--json"]);
    assert_eq!(
        json_out(list).await["total"],
        0,
        "nothing changes at Nairobi"
    );

    // The first office sees the stray callback as an orphan too; a manager resolves it.
    let report = world.sync().await;
    assert_eq!(report["orphans"], 1, "{report}");
    let orphans = world.malipo(&["orphans", "list"]).await;
    let seq = orphans["items"][0]["seq"].as_i64().unwrap().to_string();
    assert!(
        orphans["items"][0]["note"]
            .as_str()
            .unwrap()
            .contains("ws_CO_nobody_asked"),
        "{orphans}"
    );
    world
        .malipo(&[
            "orphans",
            "resolve",
            &seq,
            "--note",
            "test prompt from the portal",
        ])
        .await;
    assert_eq!(world.malipo(&["orphans", "list"]).await["total"], 0);
    let all = world.malipo(&["orphans", "list", "--all"]).await;
    assert_eq!(all["items"][0]["resolution"], "test prompt from the portal");
}

/// `malipo ARGS --json` at the counter whose data is in `name`; its JSON output.
async fn at(world: &World, name: &str, token: &str, args: &[&str]) -> Value {
    let mut c = world.office_at(name, token);
    c.args(args).arg("--json");
    json_out(c).await
}

/// A device of the world's company, as `malipo-relay device add` prints it.
async fn add_counter(world: &World, name: &str, counter: Option<&str>) -> std::process::Output {
    let mut c = Command::new(bin("malipo-relay"));
    c.args(["device", "add", "--tenant", &world.tenant, "--name", name])
        .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
        .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(code) = counter {
        c.args(["--counter", code]);
    }
    c.output().await.unwrap()
}

/// One company as real processes: a relay and three counters, two in the Nairobi branch and
/// one in Mombasa. Policies imported once reach all three (the one offline during an import
/// catches up); the same policy paid at two counters at the same moment allocates alike on all
/// three; no two counters share a number; the company view is the sum of the counters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_counters_of_one_company_share_policies_and_never_a_number() {
    let world = World::start(Backend::Sqlite).await;
    let one = world.device_token.clone();
    at(
        &world,
        "office",
        &one,
        &["settings", "set", "office.code", "NBI"],
    )
    .await;
    let added = add_counter(&world, "Moi Avenue 2", None).await;
    assert!(added.status.success());
    let two: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(two["counter"], "2");
    let two = two["token"].as_str().unwrap().to_owned();
    let added = add_counter(&world, "Mombasa", Some("3")).await;
    let three: Value = serde_json::from_slice(&added.stdout).unwrap();
    let three = three["token"].as_str().unwrap().to_owned();
    let refused = add_counter(&world, "Another", Some("2")).await;
    assert!(
        !refused.status.success(),
        "a counter code already taken is refused"
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("counter 2 is taken"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    at(
        &world,
        "b",
        &two,
        &["settings", "set", "office.code", "NBI"],
    )
    .await;
    at(
        &world,
        "c",
        &three,
        &["settings", "set", "office.code", "MSA"],
    )
    .await;

    // Imported once, at the first counter; the Mombasa counter is not syncing.
    let csv = world.dir.path().join("register.csv");
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium,frequency,instalments,start_date\n\
         POL-100,Amina Wanjiru,0712 345 678,amina@example.co.ke,\"1,500\",monthly,12,01/07/2026\n\
         POL-200,Otieno Odhiambo,0722 000 111,,\"2,750\",monthly,12,15/08/2026\n",
    )
    .unwrap();
    let imported = at(
        &world,
        "office",
        &one,
        &["policy", "import", csv.to_str().unwrap()],
    )
    .await;
    assert_eq!(
        imported["added"],
        json!(["POL-100", "POL-200"]),
        "{imported}"
    );
    assert_eq!(
        imported["register"], "sent to the company register",
        "{imported}"
    );
    at(&world, "b", &two, &["sync", "--once"]).await;
    // And once more on the relay itself, from the core system's newer export.
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium,status\n\
         POL-200,Otieno Odhiambo,0722 000 111,,\"3,000\",\n\
         POL-300,Chebet Kiprono,0110 123 456,,\"12,000\",\n",
    )
    .unwrap();
    let on_relay = {
        let mut c = Command::new(bin("malipo-relay"));
        c.args([
            "policies",
            "import",
            "--tenant",
            &world.tenant,
            csv.to_str().unwrap(),
        ])
        .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
        .env("MALIPO_RELAY_SECRET_KEY", SEALING_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        json_out(c).await
    };
    assert_eq!(on_relay["added"], json!(["POL-300"]), "{on_relay}");
    assert_eq!(on_relay["updated"], json!(["POL-200"]), "{on_relay}");
    for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
        at(&world, name, token, &["sync", "--once"]).await;
        let list = at(&world, name, token, &["policy", "list", "--search", "POL-"]).await;
        let held: Vec<(String, i64)> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["number"].as_str().unwrap().to_owned(),
                    p["premium_minor"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            held,
            [
                ("POL-1".to_owned(), 150_000),
                ("POL-100".to_owned(), 150_000),
                ("POL-200".to_owned(), 300_000),
                ("POL-300".to_owned(), 1_200_000)
            ],
            "{name} holds the register, the policy added at the first counter too"
        );
    }

    // The same policy paid at the two Nairobi counters at the same moment.
    let pay = |name: &'static str, token: String| {
        let mut c = world.office_at(name, &token);
        c.args([
            "pay", "mpesa", "--policy", "POL-100", "--phone", PAID, "--amount", "1500", "--wait",
            "60", "--json",
        ]);
        c.output()
    };
    let (a, b) = tokio::join!(pay("office", one.clone()), pay("b", two.clone()));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}{}",
        String::from_utf8_lossy(&a.stderr),
        String::from_utf8_lossy(&b.stderr)
    );
    let (a, b): (Value, Value) = (
        serde_json::from_slice(&a.stdout).unwrap(),
        serde_json::from_slice(&b.stdout).unwrap(),
    );
    assert_eq!(
        (a["status"].as_str(), b["status"].as_str()),
        (Some("succeeded"), Some("succeeded"))
    );
    let msa = at(
        &world,
        "c",
        &three,
        &[
            "pay", "mpesa", "--policy", "POL-300", "--phone", PAID, "--amount", "12000", "--wait",
            "60",
        ],
    )
    .await;
    assert_eq!(msa["status"], "succeeded", "{msa}");
    let numbers = [&a, &b, &msa].map(|t| t["number"].as_str().unwrap().to_owned());
    assert_eq!(numbers, ["NBI-1-000001", "NBI-2-000001", "MSA-3-000001"]);
    let receipts = [&a, &b, &msa].map(|t| t["receipt_number"].as_str().unwrap().to_owned());
    assert_eq!(
        receipts,
        ["NBI-1-R000001", "NBI-2-R000001", "MSA-3-R000001"]
    );

    // Two rounds: the second brings each counter what the others sent in the first.
    for _ in 0..2 {
        for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
            let report = at(&world, name, token, &["sync", "--once"]).await;
            assert_eq!(report["problems"], json!([]), "{name}: {report}");
        }
    }
    let mut schedules = Vec::new();
    let mut collected = 0;
    for (name, token) in [("office", &one), ("b", &two), ("c", &three)] {
        let s = at(
            &world,
            name,
            token,
            &["schedule", "list", "--policy", "POL-100"],
        )
        .await;
        let lines: Vec<(i64, i64, String)> = s["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["seq"].as_i64().unwrap(),
                    i["paid_minor"].as_i64().unwrap(),
                    i["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        schedules.push(lines);
        let own = at(&world, name, token, &["summary"]).await;
        collected += own["collected"]["amount_minor"].as_i64().unwrap();
        let listed = at(&world, name, token, &["tx", "list", "--company"]).await;
        assert_eq!(
            listed["total"], 3,
            "{name} sees the company's payments: {listed}"
        );
    }
    assert_eq!(schedules[0], schedules[1], "counter 1 and 2 agree");
    assert_eq!(schedules[0], schedules[2], "Nairobi and Mombasa agree");
    assert_eq!(
        schedules[0].iter().map(|(_, paid, _)| paid).sum::<i64>(),
        300_000,
        "both payments count, once each"
    );
    let company = at(&world, "c", &three, &["summary", "--company"]).await;
    assert_eq!(company["succeeded"]["amount_minor"], collected, "{company}");
    assert_eq!(collected, 1_500_000);
    let counters: Vec<&str> = company["by_counter"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(counters, ["MSA-3", "NBI-1", "NBI-2"]);
    // When the relay last heard from a provider for the company: the callbacks just now.
    let last = company["last_received_at"].as_str().unwrap_or_default();
    let last = time::OffsetDateTime::parse(last, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("last_received_at {last:?}: {e}"));
    let age = time::OffsetDateTime::now_utc() - last;
    assert!(
        age >= time::Duration::ZERO && age < time::Duration::minutes(10),
        "{company}"
    );
    let nairobi = at(
        &world,
        "c",
        &three,
        &["summary", "--company", "--branch", "NBI"],
    )
    .await;
    assert_eq!(nairobi["succeeded"]["amount_minor"], 300_000);
    // Another counter's payment, opened read-only by its number.
    let elsewhere = at(&world, "c", &three, &["tx", "show", "NBI-2-000001"]).await;
    assert_eq!(
        (
            elsewhere["elsewhere"].as_bool(),
            elsewhere["policy"].as_str()
        ),
        (Some(true), Some("POL-100"))
    );
    assert_eq!(
        elsewhere["phone"],
        Value::Null,
        "no customer data travels with it"
    );
}

on_both_backends!(other_offices_events_and_orphans_change_nothing_here);
