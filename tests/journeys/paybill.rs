//! Paybill payments: proven with Safaricom, allocated to their policy or kept in suspense, counted
//! once.

use crate::world::*;

/// Paybill from end to end: URLs registered with the simulator; a messy account validated,
/// confirmed, proven with Transaction Status, allocated to the oldest instalment and receipted;
/// an unknown account refused at validation, and put on the suspense list when validation is
/// off, then allocated by a manager; a replayed or re-sent confirmation counted once; a forged
/// one never a payment; a code typed at the counter recorded once.
async fn paybill_payments_are_proven_allocated_and_counted_once(backend: Backend) {
    let world = World::start(backend).await;
    world
        .malipo(&[
            "policy",
            "add",
            "--number",
            "MTR-2291",
            "--holder",
            "Wanjiru Kamau",
            "--phone",
            "0712345678",
            "--premium",
            "1500",
        ])
        .await;
    world.sync().await;
    let registered = world.malipo(&["mpesa", "register-urls"]).await;
    assert_eq!(registered["version"], "v2", "{registered}");
    assert!(
        !registered["confirmation_url"]
            .as_str()
            .unwrap()
            .contains(world.c2b_urls.1.rsplit('/').next().unwrap()),
        "the URL's secret token is not printed: {registered}"
    );
    world.behaviour(json!({"c2b_validation": true})).await;

    let paid = pay_bill(&world, " mtr 2291", 2000, "Wanjiru").await;
    assert_eq!(paid["outcome"], "completed", "{paid}");
    assert_eq!(paid["validation"]["ResultCode"], "0", "{paid}");
    let code = paid["trans_id"].as_str().unwrap().to_owned();
    let refused = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    assert_eq!(refused["outcome"], "cancelled", "{refused}");
    assert_eq!(refused["validation"]["ResultCode"], "C2B00012", "{refused}");

    let list = sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;
    let tx = &list["items"][0];
    assert_eq!(tx["method"], "paybill", "{tx}");
    assert_eq!(tx["status"], "succeeded", "{tx}");
    assert_eq!(tx["policy"], "MTR-2291", "{tx}");
    assert_eq!(tx["amount_minor"], 200_000, "{tx}");
    assert_eq!(tx["provider_receipt"], code.as_str(), "{tx}");
    assert_eq!(tx["payer"], "Wanjiru Kamau", "{tx}");
    assert!(tx["phone"].as_str().unwrap().contains('*'), "masked: {tx}");
    assert!(tx["receipt_number"].is_string(), "receipted: {tx}");
    let pdf = world.dir.path().join("paybill-receipt.pdf");
    world
        .malipo(&[
            "receipt",
            tx["number"].as_str().unwrap(),
            "--out",
            pdf.to_str().unwrap(),
        ])
        .await;
    let text = pdf_text(&pdf);
    assert!(text.contains("M-Pesa Pay Bill, code"), "{text}");
    assert!(text.contains(&code), "{text}");
    let policy = world.malipo(&["policy", "show", "MTR-2291"]).await;
    let lines = policy["instalments"].as_array().unwrap();
    assert_eq!(lines[0]["status"], "paid", "{policy}");
    assert_eq!(
        lines[1]["paid_minor"], 50_000,
        "the rest part-pays February: {policy}"
    );

    // The confirmation again: replayed byte for byte, and re-sent with other bytes.
    let body = json!({
        "TransactionType": "Pay Bill", "TransID": code, "TransTime": "20260101120000",
        "TransAmount": "2000.00", "BusinessShortCode": "174379", "BillRefNumber": " mtr 2291",
        "MSISDN": "2547 ***** 678", "FirstName": "Wanjiru", "LastName": "Kamau",
    });
    for text in [body.to_string(), format!(" {body}")] {
        let r = world
            .http
            .post(&world.c2b_urls.1)
            .body(text)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    // A forged confirmation for a code M-Pesa never issued.
    let mut forged = body.clone();
    forged["TransID"] = json!("RKX9999999");
    forged["TransAmount"] = json!("5000.00");
    let r = world
        .http
        .post(&world.c2b_urls.1)
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the relay keeps every well-formed claim");
    world.add_user("admin", "admin").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let review = ok_json(&world.malipo_as("admin", &["orphans", "list"]).await);
        let flagged = review["items"].as_array().unwrap().iter().any(|o| {
            o["note"]
                .as_str()
                .unwrap_or("")
                .contains("has no M-Pesa code RKX9999999")
        });
        if flagged {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{review}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 1, "counted once, the forgery never: {list}");

    // Validation off: the unknown account is paid, proven and put on the suspense list.
    world.behaviour(json!({"c2b_validation": false})).await;
    let stray = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    assert_eq!(stray["outcome"], "completed", "{stray}");
    let stray_code = stray["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let item = loop {
        world.sync().await;
        let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
        if let Some(item) = open["items"].as_array().unwrap().first() {
            break item.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(item["trans_id"], stray_code.as_str(), "{item}");
    assert_eq!(item["account"], "NOBODY-9", "{item}");
    assert_eq!(item["amount_minor"], 70_000, "{item}");
    let decided = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "suspense",
                    "allocate",
                    &stray_code,
                    "--policy",
                    // As the customer would type it at the paybill.
                    "mtr 2291",
                    "--note",
                    "customer called with the SMS",
                ],
            )
            .await,
    );
    assert_eq!(decided["payment"]["policy"], "MTR-2291", "{decided}");
    assert_eq!(decided["payment"]["method"], "paybill", "{decided}");
    assert_eq!(decided["item"]["status"], "allocated", "{decided}");
    let again = world
        .malipo_as(
            "admin",
            &[
                "suspense",
                "allocate",
                &stray_code,
                "--refund",
                "--note",
                "changed mind",
            ],
        )
        .await;
    assert_eq!(again.status.code(), Some(4), "decided once: {again:?}");
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(open["total"], 0, "{open}");

    // A payment whose confirmation never came: the customer brings the SMS to the counter.
    world.behaviour(json!({"drop_percent": 100})).await;
    let silent = pay_bill(&world, "wrong account", 1500, "Achieng").await;
    let silent_code = silent["trans_id"].as_str().unwrap().to_owned();
    world.behaviour(json!({"drop_percent": 0})).await;
    let verified = ok_json(
        &world
            .malipo_as(
                "admin",
                &[
                    "mpesa",
                    "verify",
                    &silent_code.to_lowercase(),
                    "--policy",
                    "MTR-2291",
                ],
            )
            .await,
    );
    assert_eq!(
        verified["provider_receipt"],
        silent_code.as_str(),
        "{verified}"
    );
    assert_eq!(verified["amount_minor"], 150_000, "{verified}");
    assert_eq!(verified["status"], "succeeded", "{verified}");
    let twice = ok_json(
        &world
            .malipo_as(
                "admin",
                &["mpesa", "verify", &silent_code, "--policy", "MTR-2291"],
            )
            .await,
    );
    assert_eq!(
        twice["number"], verified["number"],
        "recorded once: {twice}"
    );
    // The same code brought for another policy is not a payment for it: it says whose it is.
    let other = world
        .malipo_as(
            "admin",
            &["mpesa", "verify", &silent_code, "--policy", "POL-1"],
        )
        .await;
    assert_eq!(other.status.code(), Some(4), "{other:?}");
    assert!(
        other.stdout.is_empty(),
        "nothing that looks paid: {other:?}"
    );
    let said = String::from_utf8_lossy(&other.stderr);
    for part in [
        "already paid policy MTR-2291 (Wanjiru Kamau)",
        "KES 1,500.00",
        "at this counter",
        verified["receipt_number"].as_str().unwrap(),
        "not a payment for POL-1",
    ] {
        assert!(said.contains(part), "{part:?} in {said}");
    }
    let unknown = world
        .malipo_as(
            "admin",
            &["mpesa", "verify", "RKZ0000000", "--policy", "MTR-2291"],
        )
        .await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("does not know"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 3, "{list}");
    let summary = ok_json(&world.malipo_as("admin", &["summary"]).await);
    assert_eq!(summary["succeeded"]["amount_minor"], 420_000, "{summary}");
    let policy = world.malipo(&["policy", "show", "MTR-2291"]).await;
    assert_eq!(
        policy["credit_minor"], 270_000,
        "4,200 paid, 1,500 due: {policy}"
    );
    assert_eq!(policy["instalments"][1]["status"], "paid", "{policy}");
    assert_eq!(policy["instalments"][2]["paid_minor"], 120_000, "{policy}");

    // The day's reconciliation: two confirmations, both recorded; the code typed at the counter
    // has no confirmation behind it, and the forgery is not money.
    let report = ok_json(
        &world
            .malipo_as("admin", &["reconcile", "--date", &nairobi_day(&verified)])
            .await,
    );
    assert_eq!(report["paybill"]["confirmed"], 2, "{report}");
    assert_eq!(report["paybill"]["matched"], 2, "{report}");
    let only_code = differences(&report, "confirmed_by_query_only");
    assert_eq!(only_code.len(), 1, "{report}");
    assert_eq!(only_code[0]["reference"], silent_code.as_str(), "{report}");

    // A code on the suspense list typed at the counter: a clerk is sent to a manager, a
    // manager's check allocates it, once for the company.
    let second = pay_bill(&world, "NOBODY-10", 300, "Kiprop").await;
    let second_code = second["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
        if open["total"] == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    world.add_user("kamau", "clerk").await;
    let clerk = world
        .malipo_as(
            "kamau",
            &["mpesa", "verify", &second_code, "--policy", "MTR-2291"],
        )
        .await;
    assert_eq!(clerk.status.code(), Some(4), "{clerk:?}");
    assert!(
        String::from_utf8_lossy(&clerk.stderr).contains("suspense list"),
        "{}",
        String::from_utf8_lossy(&clerk.stderr)
    );
    let manager = ok_json(
        &world
            .malipo_as(
                "admin",
                &["mpesa", "verify", &second_code, "--policy", "MTR-2291"],
            )
            .await,
    );
    assert_eq!(
        manager["provider_receipt"],
        second_code.as_str(),
        "{manager}"
    );
    let all = ok_json(
        &world
            .malipo_as("admin", &["suspense", "list", "--all"])
            .await,
    );
    let decided = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["trans_id"] == second_code.as_str())
        .unwrap()
        .clone();
    assert_eq!(decided["status"], "allocated", "{all}");
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 4, "{list}");

    // A device's word is not proof: an item put on the suspense list for a code M-Pesa never
    // issued is refused at allocation, and nothing is recorded.
    let forged = world
        .http
        .post(format!("http://127.0.0.1:{}/v1/suspense", world.relay_port))
        .bearer_auth(&world.device_token)
        .json(&json!({
            "trans_id": "RKF0000001", "amount_minor": 900_000, "currency": "KES",
            "account": "X", "payer": "Mallory", "msisdn": "25471****678",
            "paid_at": "2026-11-30T10:00:00Z",
        }))
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_success(), "{}", forged.status());
    let refused = world
        .malipo_as(
            "admin",
            &[
                "suspense",
                "allocate",
                "RKF0000001",
                "--policy",
                "MTR-2291",
                "--note",
                "x",
            ],
        )
        .await;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("does not know"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let list = ok_json(&world.malipo_as("admin", &["paybill", "list"]).await);
    assert_eq!(list["total"], 4, "{list}");
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(
        open["items"][0]["trans_id"], "RKF0000001",
        "still open: {open}"
    );
}

/// The `CustomerPayBillOnline` confirmations the simulator sent for paid prompts, newest last.
async fn express_confirmations(world: &World) -> Vec<Value> {
    let deliveries: Vec<Value> = world
        .http
        .get(format!("{}/__sandbox/deliveries", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    deliveries
        .iter()
        .filter_map(|d| serde_json::from_str::<Value>(d["body"].as_str()?).ok())
        .filter(|b| b["TransactionType"] == "CustomerPayBillOnline")
        .collect()
}

/// Now as M-Pesa writes `TransTime`: `YYYYMMDDHHmmss`, Nairobi time.
fn nairobi_stamp() -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::hours(3);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// On a paybill shortcode with C2B URLs registered, a paid prompt reaches the confirmation URL
/// too. It is one payment: with its STK callback, and when the callback is lost (settled by STK
/// Push Query, the confirmation brings its M-Pesa code); never a paybill payment, never
/// suspense, at this counter or another branch's.
async fn a_prompt_paid_on_a_paybill_is_one_payment(backend: Backend) {
    let world = World::start(backend).await;
    let nairobi = world.second_office().await;
    world.sync().await;
    world.malipo(&["mpesa", "register-urls"]).await;

    let first = number(&world.pay_mpesa(PAID, "1500").await);
    let done = world.sync_until_final(std::slice::from_ref(&first)).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    let told = express_confirmations(&world).await;
    assert_eq!(
        told.len(),
        1,
        "the simulator confirmed the prompt: {told:?}"
    );
    assert_eq!(told[0]["BillRefNumber"], done[0]["reference"], "{told:?}");
    assert_eq!(told[0]["TransID"], done[0]["provider_receipt"], "{told:?}");

    // The callback is lost: STK Push Query settles the prompt without its code, and the
    // confirmation (held until then) gives it the code.
    world
        .behaviour(json!({"customer_delay_ms": 200, "lose_stk_callbacks": true}))
        .await;
    let second = number(&world.pay_mpesa(PAID, "1500").await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let (tx, code) = loop {
        world.sync().await;
        let tx = world.malipo(&["tx", "show", &second]).await;
        let told = express_confirmations(&world).await;
        if let (Some(code), Some(last)) = (tx["provider_receipt"].as_str(), told.last())
            && told.len() == 2
        {
            assert_eq!(last["TransID"], code, "{tx} {last}");
            break (tx.clone(), code.to_owned());
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{second} has no M-Pesa code after 60 s: {tx}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(tx["status"], "succeeded", "{tx}");
    assert_eq!(tx["method"], "mpesa", "{tx}");
    assert_eq!(code.len(), 10, "{tx}");

    // Callback and confirmation both lost: STK Push Query settles the prompt without a code,
    // and the code the customer brings from the SMS is that payment, not a new one.
    world
        .behaviour(json!({
            "customer_delay_ms": 200,
            "lose_stk_callbacks": true,
            "lose_c2b_confirmations": true,
        }))
        .await;
    let third = number(&world.pay_mpesa(PAID, "1500").await);
    let done = world.sync_until_final(std::slice::from_ref(&third)).await;
    assert_eq!(done[0]["status"], "succeeded", "{}", done[0]);
    assert_eq!(done[0]["provider_receipt"], Value::Null, "{}", done[0]);
    let ledger: Vec<Value> = world
        .http
        .get(format!("{}/__sandbox/mpesa/ledger", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sms = ledger
        .iter()
        .find(|e| e["account"] == done[0]["reference"])
        .unwrap_or_else(|| panic!("the simulator's ledger has the prompt: {ledger:?}"));
    let typed = sms["receipt"].as_str().unwrap();

    // A forged confirmation pairs this prompt's reference with someone else's genuine code of
    // the same amount: Safaricom confirms the code, but not from the phone prompted.
    let other = pay_bill(&world, "NOBODY-7", 1500, "Otieno").await;
    let forged = json!({
        "TransactionType": "CustomerPayBillOnline", "TransID": other["trans_id"],
        "TransTime": nairobi_stamp(), "TransAmount": "1500.00", "BusinessShortCode": "174379",
        "BillRefNumber": done[0]["reference"], "MSISDN": "2547****149", "FirstName": "John",
    });
    let r = world
        .http
        .post(&world.c2b_urls.1)
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let suspect = {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            world.sync().await;
            let list = world.malipo(&["orphans", "list"]).await;
            let found = list["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|o| {
                    o["note"]
                        .as_str()
                        .unwrap_or_default()
                        .contains("another phone")
                })
                .cloned();
            if let Some(o) = found {
                break o;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the forged confirmation was not refused: {list}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    assert!(
        suspect["note"].as_str().unwrap().contains(third.as_str()),
        "{suspect}"
    );
    let untouched = world.malipo(&["tx", "show", &third]).await;
    assert_eq!(untouched["provider_receipt"], Value::Null, "{untouched}");
    let verified = world
        .malipo(&["mpesa", "verify", typed, "--policy", "POL-1"])
        .await;
    assert_eq!(verified["number"], third.as_str(), "{verified}");
    assert_eq!(verified["provider_receipt"], typed, "{verified}");
    assert_eq!(verified["method"], "mpesa", "{verified}");
    let again = world
        .malipo(&["mpesa", "verify", typed, "--policy", "POL-1"])
        .await;
    assert_eq!(again["number"], third.as_str(), "{again}");

    // A prompt the customer cancelled, then paid by hand with its reference as the account: a
    // payment of its own, for the prompt's policy.
    world
        .behaviour(json!({
            "customer_delay_ms": 200,
            "lose_stk_callbacks": false,
            "lose_c2b_confirmations": false,
        }))
        .await;
    let cancelled = number(&world.pay_mpesa("254700000032", "1500").await);
    let done = world
        .sync_until_final(std::slice::from_ref(&cancelled))
        .await;
    assert_eq!(done[0]["status"], "cancelled", "{}", done[0]);
    let by_hand = pay_bill(
        &world,
        done[0]["reference"].as_str().unwrap(),
        1500,
        "Amina",
    )
    .await;
    assert_eq!(by_hand["outcome"], "completed", "{by_hand}");
    let list = sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;
    assert_eq!(list["items"][0]["policy"], "POL-1", "{list}");
    assert_eq!(
        list["items"][0]["provider_receipt"], by_hand["trans_id"],
        "{list}"
    );

    // Nothing else was recorded, here or at the other branch, and nothing went to suspense.
    world.sync().await;
    let paybill = world.malipo(&["paybill", "list"]).await;
    assert_eq!(paybill["total"], 1, "only the one paid by hand: {paybill}");
    let all = world.malipo(&["tx", "list"]).await;
    assert_eq!(all["total"], 5, "four prompts and the bill: {all}");
    let mut other = world.office_at("nairobi", &nairobi);
    other.args(["sync", "--once", "--json"]);
    json_out(other).await;
    let mut other = world.office_at("nairobi", &nairobi);
    other.args(["paybill", "list", "--json"]);
    let at_nairobi = json_out(other).await;
    assert_eq!(at_nairobi["total"], 0, "{at_nairobi}");
    world.add_user("admin", "admin").await;
    let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
    assert_eq!(open["items"], json!([]), "{open}");
    let summary = world.summary().await;
    assert_eq!(summary["succeeded"]["count"], 4, "{summary}");
    assert_eq!(summary["succeeded"]["amount_minor"], 600_000, "{summary}");

    // The same confirmation again changes nothing.
    let replay = express_confirmations(&world).await.pop().unwrap();
    let r = world
        .http
        .post(&world.c2b_urls.1)
        .body(replay.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    world.sync().await;
    let all = world.malipo_as("admin", &["tx", "list"]).await;
    assert_eq!(ok_json(&all)["total"], 5, "{}", ok_json(&all));
}

/// A till (Buy Goods) payment carries no account: validation takes it, Safaricom's
/// confirmation waits on the counters' arrivals, and a clerk matches it to the customer's policy
/// (proven, recorded and receipted once); a clerk cannot allocate a paybill payment from
/// suspense that way.
async fn a_till_payment_is_taken_and_matched_at_the_counter(backend: Backend) {
    let world = World::start(backend).await;
    world.add_user("admin", "admin").await;
    world.add_user("clerk", "clerk").await;
    world.malipo_as("admin", &["mpesa", "register-urls"]).await;
    world.behaviour(json!({"c2b_validation": true})).await;
    let paid = world
        .http
        .post(format!("{}/__sandbox/c2b/pay", world.sandbox_url))
        .json(
            &json!({"till": true, "amount": 1500, "first_name": "Achieng", "last_name": "Otieno"}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(
        paid["outcome"], "completed",
        "validation takes a till payment: {paid}"
    );
    assert_eq!(paid["validation"]["ResultCode"], "0", "{paid}");
    let code = paid["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let waiting = loop {
        world.sync().await;
        let till = ok_json(&world.malipo_as("clerk", &["paybill", "till"]).await);
        if let Some(item) = till["items"].as_array().unwrap().first() {
            break item.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{till}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(waiting["trans_id"], code.as_str(), "{waiting}");
    assert_eq!(waiting["till"], true, "{waiting}");
    assert_eq!(waiting["payer"], "Achieng Otieno", "{waiting}");
    let matched = ok_json(
        &world
            .malipo_as("clerk", &["paybill", "match", &code, "--policy", "POL-1"])
            .await,
    );
    let payment = &matched["payment"];
    assert_eq!(payment["status"], "succeeded", "{matched}");
    assert_eq!(payment["policy"], "POL-1", "{matched}");
    assert_eq!(payment["provider_receipt"], code.as_str(), "{matched}");
    assert!(payment["receipt_number"].is_string(), "{matched}");
    let again = world
        .malipo_as("clerk", &["paybill", "match", &code, "--policy", "POL-1"])
        .await;
    assert!(!again.status.success(), "matched once");
    let till = ok_json(&world.malipo_as("clerk", &["paybill", "till"]).await);
    assert_eq!(till["items"].as_array().unwrap().len(), 0, "{till}");

    // A paybill payment whose account matched nothing stays a manager's.
    world.behaviour(json!({"c2b_validation": false})).await;
    let stray = pay_bill(&world, "NOBODY-9", 700, "Otieno").await;
    let stray_code = stray["trans_id"].as_str().unwrap().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let open = ok_json(&world.malipo_as("admin", &["suspense", "list"]).await);
        if open["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["trans_id"] == stray_code.as_str())
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{open}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let refused = world
        .malipo_as(
            "clerk",
            &["paybill", "match", &stray_code, "--policy", "POL-1"],
        )
        .await;
    assert_eq!(
        refused.status.code(),
        Some(5),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

on_both_backends!(
    a_till_payment_is_taken_and_matched_at_the_counter,
    paybill_payments_are_proven_allocated_and_counted_once,
    a_prompt_paid_on_a_paybill_is_one_payment,
);
