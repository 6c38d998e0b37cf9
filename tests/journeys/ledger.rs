//! M-Pesa's own list: payments whose confirmation never came, recovered by Pull and by the
//! statement from the portal, each once for the company.

use crate::world::*;

/// A second counter of the same branch: its own data and device token.
async fn second_counter(world: &World) -> String {
    let device = json_out({
        let mut c = tokio::process::Command::new(bin("malipo-relay"));
        c.args([
            "device",
            "add",
            "--tenant",
            &world.tenant,
            "--name",
            "counter-2",
        ])
        .env("MALIPO_RELAY_DATABASE_URL", &world.relay_db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
        c
    })
    .await;
    device["token"].as_str().unwrap().to_owned()
}

/// The doctor's `mpesa.ledger` line.
async fn ledger_check(world: &World) -> Value {
    let out = world.malipo_output(&["doctor"]).await;
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "mpesa.ledger")
        .unwrap_or_else(|| panic!("no mpesa.ledger check: {report}"))
        .clone()
}

/// Confirmations lost (the relay down, the network, Safaricom's side): the next automatic pull
/// of M-Pesa's own list records the payment to its policy and puts the unknown account on the
/// suspense list, once for the company although two counters pull the same window, paging
/// through Safaricom's answer; pulling again changes nothing.
async fn payments_whose_confirmation_never_came_are_pulled_once(backend: Backend) {
    let world = World::start(backend).await;
    let token = second_counter(&world).await;
    let counter = |args: &[&str]| {
        let mut c = world.office_at("counter-2", &token);
        c.args(args).arg("--json");
        json_out(c)
    };
    world.sync().await;
    counter(&["sync", "--once"]).await;
    world.malipo(&["mpesa", "register-urls"]).await;
    world
        .behaviour(
            json!({"customer_delay_ms": 200, "lose_c2b_confirmations": true, "pull_page_size": 1}),
        )
        .await;
    let paid = pay_bill(&world, "pol 1", 1500, "Amina").await;
    assert_eq!(paid["outcome"], "completed", "{paid}");
    let stray = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    assert_eq!(stray["outcome"], "completed", "{stray}");
    world.sync().await;
    let list = world.malipo(&["paybill", "list"]).await;
    assert_eq!(list["total"], 0, "no confirmation came: {list}");

    let ledger = ledger_check(&world).await;
    assert_eq!(ledger["status"], "warn", "{ledger}");
    assert!(
        ledger["message"]
            .as_str()
            .unwrap()
            .contains("register-pull"),
        "{ledger}"
    );
    let first = world
        .malipo(&["mpesa", "register-pull", "--nominated-number", "0722000000"])
        .await;
    assert_eq!(first["already"], false, "{first}");
    let second = counter(&["mpesa", "register-pull", "--nominated-number", "0722000000"]).await;
    assert_eq!(second["already"], true, "{second}");
    assert!(
        second["answer"].as_str().unwrap().contains("already"),
        "{second}"
    );

    // Both counters' next rounds pull the same window.
    let (a, b) = tokio::join!(world.sync(), counter(&["sync", "--once"]));
    assert_eq!(
        a["mpesa_pulled"].as_u64().unwrap() + b["mpesa_pulled"].as_u64().unwrap(),
        1,
        "{a} {b}"
    );
    world.sync().await;
    counter(&["sync", "--once"]).await;
    let here = world.malipo(&["paybill", "list"]).await;
    let there = counter(&["paybill", "list"]).await;
    assert_eq!(
        here["total"].as_u64().unwrap() + there["total"].as_u64().unwrap(),
        1,
        "{here} {there}"
    );
    let recorded = if here["total"] == 1 { &here } else { &there };
    let tx = &recorded["items"][0];
    assert_eq!(tx["policy"], "POL-1", "{tx}");
    assert_eq!(tx["provider_receipt"], paid["trans_id"], "{tx}");
    assert_eq!(tx["amount_minor"], 150_000, "{tx}");
    let company = world.malipo(&["summary", "--company"]).await;
    assert_eq!(company["succeeded"]["count"], 1, "{company}");
    assert_eq!(company["succeeded"]["amount_minor"], 150_000, "{company}");

    let ledger = ledger_check(&world).await;
    assert_eq!(ledger["status"], "pass", "{ledger}");
    assert!(
        ledger["message"]
            .as_str()
            .unwrap()
            .contains("last complete pull ended"),
        "{ledger}"
    );

    // Reconciled against M-Pesa's ledger: the pull covers today up to when it ran.
    let today = nairobi_day(tx);
    let report = world.malipo(&["reconcile", "--date", &today]).await;
    assert_eq!(report["ledger"]["covered_by"], "pull", "{report}");
    let ledger_kinds = |r: &Value| -> Vec<String> {
        r["differences"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|d| d["kind"].as_str())
            .filter(|k| k.contains("ledger"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(ledger_kinds(&report), Vec::<String>::new(), "{report}");
    // The ledger as M-Pesa lists it can disagree: a payment nobody recorded (listed here
    // without its confirmation, its pull claimed elsewhere) and a recorded one it lacks.
    let office_db = world.dir.path().join("office/malipo.sqlite3");
    let db = sqlx::SqlitePool::connect(&format!("sqlite://{}", office_db.display()))
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO mpesa_pulled (receipt, at, amount_minor, currency, account, pulled_at)
         SELECT 'RKZ0000001', max(at) - 1000, 90000, 'KES', 'POL-1', max(at) FROM mpesa_pulled",
    )
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("DELETE FROM mpesa_pulled WHERE receipt = ?")
        .bind(paid["trans_id"].as_str().unwrap())
        .execute(&db)
        .await
        .unwrap();
    db.close().await;
    let report = world.malipo(&["reconcile", "--date", &today]).await;
    let mut kinds = ledger_kinds(&report);
    kinds.sort();
    assert_eq!(
        kinds,
        vec!["on_ledger_not_recorded", "recorded_not_on_ledger"],
        "{report}"
    );
    let lacking = report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["kind"] == "on_ledger_not_recorded")
        .unwrap();
    assert_eq!(lacking["reference"], "RKZ0000001", "{report}");
    assert!(
        lacking["explanation"]
            .as_str()
            .unwrap()
            .contains("mpesa pull"),
        "{report}"
    );

    // On demand, again: everything is recorded already.
    let again = counter(&["mpesa", "pull"]).await;
    assert_eq!(again["seen"], 2, "{again}");
    assert_eq!(again["recorded"], 0, "{again}");
    assert_eq!(again["already"], 1, "{again}");
    assert_eq!(again["suspense"], 1, "{again}");
    for key in ["from", "to"] {
        assert!(again[key].is_string(), "{again}");
    }
    let old = world
        .malipo_output(&["mpesa", "pull", "--from", "01/01/2026 08:00"])
        .await;
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("statement"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    world.add_user("admin", "admin").await;
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(open["items"][0]["trans_id"], stray["trans_id"], "{open}");
    assert_eq!(open["total"], 1, "{open}");
    world.sync().await;
    let company = ok_json(&world.malipo_as("admin", &["summary", "--company"]).await);
    assert_eq!(company["succeeded"]["count"], 1, "{company}");
}

/// The simulator's ledger exported as the portal's statement (`csv` or `xlsx`).
async fn statement(world: &World, kind: &str) -> Vec<u8> {
    world
        .http
        .get(format!(
            "{}/__sandbox/mpesa/statement.{kind}",
            world.sandbox_url
        ))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec()
}

/// The statement brings back a payment older than Pull's 48 hours whose confirmation was lost:
/// proven with Transaction Status, recorded to its policy; a row Safaricom does not know is
/// refused; charges are not premiums; recorded payments match; the counts add up; the same
/// file twice changes nothing; the XLSX export reads the same.
async fn the_statement_recovers_what_no_message_brought(backend: Backend) {
    let world = World::start(backend).await;
    world.sync().await;
    world.malipo(&["mpesa", "register-urls"]).await;
    let prompt = number(&world.pay_mpesa(PAID, "1500").await);
    world.sync_until_final(std::slice::from_ref(&prompt)).await;
    let told = pay_bill(&world, "pol 1", 700, "Amina").await;
    sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;
    world
        .behaviour(json!({"customer_delay_ms": 200, "lose_c2b_confirmations": true}))
        .await;
    let lost = world
        .http
        .post(format!("{}/__sandbox/c2b/pay", world.sandbox_url))
        .json(
            &json!({"account": "POL-1", "amount": 2500, "msisdn": "254712345678",
            "first_name": "Amina", "last_name": "Odhiambo", "minutes_ago": 3000}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let lost_code = lost["trans_id"].as_str().unwrap().to_owned();
    world.sync().await;
    assert_eq!(world.malipo(&["paybill", "list"]).await["total"], 1);

    // The CSV, with a row Safaricom never issued slipped in.
    let csv = String::from_utf8(statement(&world, "csv").await).unwrap();
    assert!(csv.contains(&lost_code), "{csv}");
    let forged = "RKX9999999,05-12-2026 10:15:02,05-12-2026 10:15:02,Pay Bill from 2547****999 - X Acc. POL-1,Completed,\"2,000.00\",,\"1.00\",true,Pay Bill,2547****999 - X,,POL-1\r\n";
    let at = csv.find("SCH0000001").unwrap();
    let edited = format!("{}{forged}{}", &csv[..at], &csv[at..]);
    let file = world.dir.path().join("statement.csv");
    std::fs::write(&file, &edited).unwrap();
    let path = file.to_str().unwrap();

    let dry = world
        .malipo(&["mpesa", "statement", "import", path, "--dry-run"])
        .await;
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(
        (
            dry["rows"].as_u64(),
            dry["matched"].as_u64(),
            dry["recovered"].as_u64(),
            dry["not_premium"].as_u64(),
            dry["refused"].as_u64()
        ),
        (Some(5), Some(2), Some(2), Some(1), Some(0)),
        "{dry}"
    );
    assert_eq!(
        world.malipo(&["paybill", "list"]).await["total"],
        1,
        "a dry run records nothing"
    );

    let done = world.malipo(&["mpesa", "statement", "import", path]).await;
    assert_eq!(
        (
            done["rows"].as_u64(),
            done["matched"].as_u64(),
            done["recovered"].as_u64(),
            done["not_premium"].as_u64(),
            done["refused"].as_u64()
        ),
        (Some(5), Some(2), Some(1), Some(1), Some(1)),
        "{done}"
    );
    assert_eq!(
        done["recovered_rows"][0]["receipt"],
        lost_code.as_str(),
        "{done}"
    );
    assert_eq!(done["refused_rows"][0]["receipt"], "RKX9999999", "{done}");
    assert!(
        done["refused_rows"][0]["why"]
            .as_str()
            .unwrap()
            .contains("does not know"),
        "{done}"
    );
    assert!(done["period"].is_string(), "{done}");
    let list = world.malipo(&["paybill", "list"]).await;
    assert_eq!(list["total"], 2, "{list}");
    let recovered = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["provider_receipt"] == lost_code.as_str())
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(recovered["policy"], "POL-1", "{recovered}");
    assert_eq!(recovered["amount_minor"], 250_000, "{recovered}");
    assert!(recovered["receipt_number"].is_string(), "{recovered}");
    assert_ne!(told["trans_id"], lost["trans_id"]);

    let again = world.malipo(&["mpesa", "statement", "import", path]).await;
    assert_eq!(again["imported_before"], true, "{again}");
    assert_eq!(again["recovered"], 1, "{again}");
    assert_eq!(
        world.malipo(&["paybill", "list"]).await["total"],
        2,
        "nothing changed"
    );

    // The XLSX export: amounts as number cells; everything now matches.
    let xlsx = world.dir.path().join("statement.xlsx");
    std::fs::write(&xlsx, statement(&world, "xlsx").await).unwrap();
    let book = world
        .malipo(&["mpesa", "statement", "import", xlsx.to_str().unwrap()])
        .await;
    assert_eq!(
        (
            book["rows"].as_u64(),
            book["matched"].as_u64(),
            book["recovered"].as_u64(),
            book["not_premium"].as_u64(),
            book["refused"].as_u64()
        ),
        (Some(4), Some(3), Some(0), Some(1), Some(0)),
        "{book}"
    );
    assert_eq!(world.malipo(&["paybill", "list"]).await["total"], 2);
}

on_both_backends!(
    payments_whose_confirmation_never_came_are_pulled_once,
    the_statement_recovers_what_no_message_brought,
);
