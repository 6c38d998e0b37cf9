//! Premiums that collect themselves: a saved card charged once on its due day even when two
//! counters run the collector at the same moment, an M-Pesa prompt sent once, never for an
//! instalment already paid by paybill, and an M-Pesa Ratiba standing order approved on the
//! holder's phone whose runs arrive as paybill payments.

use crate::world::*;

/// Runs `malipo ARGS --json` at the office whose data is in `name` (device `token`).
async fn at(world: &World, name: &str, token: &str, args: &[&str]) -> Value {
    let mut c = world.office_at(name, token);
    c.args(args).arg("--json");
    json_out(c).await
}

/// Policy `number` for Amina, KES 1,000 a month from today, at office `name`.
async fn add_policy(world: &World, name: &str, token: &str, number: &str, today: &str) {
    at(
        world,
        name,
        token,
        &[
            "policy",
            "add",
            "--number",
            number,
            "--holder",
            "Amina Odhiambo",
            "--phone",
            "0708374149",
            "--email",
            "amina@example.co.ke",
            "--premium",
            "1000",
            "--start",
            today,
        ],
    )
    .await;
}

/// Amina's card saved at office `name`: a checkout for COL-0 paid with Paystack's test card.
async fn save_card(world: &World, name: &str, token: &str) {
    let card = at(
        world,
        name,
        token,
        &[
            "pay",
            "card",
            "--policy",
            "COL-0",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "1000",
        ],
    )
    .await;
    let r = world
        .http
        .post(format!("{}/__sandbox/paystack/pay", world.sandbox_url))
        .json(&json!({"reference": card["reference"], "card": "4084084084084081"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let paid = at(world, name, token, &["tx", "refresh", &number(&card)]).await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
}

/// The charges Paystack made for `policy` (from the simulator's transaction list).
async fn charges_for(world: &World, policy: &str) -> usize {
    let list: Value = world
        .http
        .get(format!("{}/transaction?perPage=100", world.sandbox_url))
        .bearer_auth(PAYSTACK_SECRET)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["metadata"]["policy"] == policy && t["status"] == "success")
        .count()
}

/// How many M-Pesa prompts the simulator was asked to send.
async fn stk_pushes(world: &World) -> u64 {
    let stats: Value = world
        .http
        .get(format!("{}/__sandbox/stats", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["stk_pushes"].as_u64().unwrap()
}

async fn two_counters_charge_a_card_once(backend: Backend) {
    let world = World::start(backend).await;
    let second = world.second_office().await;
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+3))
        .date()
        .to_string();
    let offices = [("office", world.device_token.clone()), ("nairobi", second)];
    for (name, token) in &offices {
        add_policy(&world, name, token, "COL-0", &today).await;
        add_policy(&world, name, token, "COL-1", &today).await;
        save_card(&world, name, token).await;
        let set = at(
            &world,
            name,
            token,
            &[
                "policy",
                "collect",
                "COL-1",
                "--card",
                "--consent",
                "Charge my card ending 4081 on each due date",
            ],
        )
        .await;
        assert_eq!(set["kind"], "card", "{set}");
    }

    // Both counters run the collector at the same moment.
    let (a, b) = tokio::join!(
        at(&world, "office", &offices[0].1, &["collect", "due"]),
        at(&world, "nairobi", &offices[1].1, &["collect", "due"]),
    );
    let charged = a["charged"].as_u64().unwrap() + b["charged"].as_u64().unwrap();
    assert_eq!(charged, 1, "one charge between them: {a} {b}");
    let (won, lost) = if a["charged"] == 1 {
        (&a, &b)
    } else {
        (&b, &a)
    };
    assert_eq!(lost["skipped"], 1, "{lost}");
    assert!(
        lost["items"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("tried today by"),
        "{lost}"
    );
    assert_eq!(charges_for(&world, "COL-1").await, 1);
    let winner = if std::ptr::eq(won, &a) {
        &offices[0]
    } else {
        &offices[1]
    };
    let number = won["items"][0]["transaction"].as_str().unwrap().to_owned();
    let tx = at(&world, winner.0, &winner.1, &["tx", "show", &number]).await;
    assert_eq!(tx["status"], "succeeded", "{tx}");
    assert_eq!(tx["collected_by"], "card", "{tx}");
    assert!(tx["receipt_number"].is_string(), "receipted: {tx}");
    let pdf = world.dir.path().join("collected.pdf");
    at(
        &world,
        winner.0,
        &winner.1,
        &["receipt", &number, "--out", pdf.to_str().unwrap()],
    )
    .await;
    assert!(pdf_text(&pdf).contains("COL-1"));

    // A second run at either counter charges nothing more.
    for (name, token) in &offices {
        let again = at(&world, name, token, &["collect", "due"]).await;
        assert_eq!(again["charged"], 0, "{again}");
    }
    assert_eq!(charges_for(&world, "COL-1").await, 1);
}

async fn a_prompt_goes_once_and_never_after_a_paybill_payment(backend: Backend) {
    let world = World::start(backend).await;
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+3))
        .date()
        .to_string();
    let token = world.device_token.clone();
    // The journey may run at night: no quiet hours at this office.
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    for policy in ["COL-2", "COL-3"] {
        add_policy(&world, "office", &token, policy, &today).await;
        world
            .malipo(&[
                "policy",
                "collect",
                policy,
                "--mpesa-prompt",
                "--consent",
                "Prompt me on each due date",
            ])
            .await;
    }
    world.sync().await;
    world.malipo(&["mpesa", "register-urls"]).await;
    let paid = pay_bill(&world, "COL-2", 1000, "Amina").await;
    assert_eq!(paid["outcome"], "completed", "{paid}");
    sync_until(&world, &["paybill", "list"], |l| l["total"] == 1).await;

    let pushes_before = stk_pushes(&world).await;
    let run = world.malipo(&["collect", "due"]).await;
    assert_eq!(run["prompted"], 1, "{run}");
    assert_eq!(run["items"].as_array().unwrap().len(), 1, "{run}");
    assert_eq!(run["items"][0]["policy"], "COL-3", "COL-2 is paid: {run}");
    let again = world.malipo(&["collect", "due"]).await;
    assert_eq!(again["prompted"], 0, "{again}");
    assert_eq!(
        stk_pushes(&world).await - pushes_before,
        1,
        "one prompt in all"
    );
}

/// A standing order asked for a policy: the holder approves it with their PIN (the result
/// reaches the office through the relay), or cancels it and the policy goes back to reminders;
/// asked again after being stopped, it gets a name of its own; each run is a paybill payment
/// allocated to the policy.
async fn a_standing_order_is_approved_and_its_runs_arrive_at_the_paybill(backend: Backend) {
    let world = World::start(backend).await;
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+3))
        .date()
        .to_string();
    let token = world.device_token.clone();
    add_policy(&world, "office", &token, "RAT-1", &today).await;
    world
        .malipo(&[
            "policy",
            "add",
            "--number",
            "RAT-2",
            "--holder",
            "Baraka Mwangi",
            "--phone",
            "0700000032",
            "--premium",
            "1000",
            "--start",
            &today,
        ])
        .await;
    world.malipo(&["mpesa", "register-urls"]).await;
    let consent = [
        "--consent",
        "Take my premium by M-Pesa Ratiba on each due date",
    ];
    let asked = world
        .malipo(
            &[
                &["policy", "collect", "RAT-1", "--ratiba"][..],
                &consent[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(asked["kind"], "ratiba", "{asked}");
    assert_eq!(asked["consent_how"], "mpesa_pin", "{asked}");
    let order = &asked["standing_order"];
    assert_eq!(order["status"], "awaiting_pin", "{asked}");
    assert_eq!(order["name"], "Premium RAT-1");
    assert_eq!(order["amount_minor"], 100_000);
    assert_ne!(
        order["start"],
        today.as_str(),
        "the order starts after today: {order}"
    );

    let active = sync_until(&world, &["policy", "show", "RAT-1"], |p| {
        p["collection"]["standing_order"]["status"] == "active"
    })
    .await;
    assert_eq!(active["collection"]["kind"], "ratiba", "{active}");
    assert!(
        active["collection"]["standing_order"]["order_ref"].is_string(),
        "{active}"
    );
    // Safaricom was asked exactly as the portal documents it.
    let orders: Value = world
        .http
        .get(format!("{}/__sandbox/ratiba", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sent = &orders[0];
    assert_eq!(sent["account"], "RAT-1", "{orders}");
    assert_eq!(sent["amount"], 1000);
    assert_eq!(sent["frequency"], "4", "monthly: {orders}");
    assert_eq!(sent["party_a"], "254708374149");

    // The holder of RAT-2 cancels the PIN prompt: no order, reminders only, and why.
    world
        .malipo(
            &[
                &["policy", "collect", "RAT-2", "--ratiba"][..],
                &consent[..],
            ]
            .concat(),
        )
        .await;
    let refused = sync_until(&world, &["policy", "show", "RAT-2"], |p| {
        p["collection"]["standing_order"]["status"] == "failed"
    })
    .await;
    assert_eq!(refused["collection"]["kind"], "none", "{refused}");
    let why = refused["collection"]["stopped_reason"].as_str().unwrap();
    assert!(why.contains("cancelled"), "{why}");

    // A result told again, or forged for an order nobody asked, changes nothing.
    let result = world
        .http
        .get(format!("{}/__sandbox/deliveries", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["body"].as_str().unwrap().contains("Premium RAT-1"))
        .cloned()
        .unwrap();
    let forged = result["body"]
        .as_str()
        .unwrap()
        .replace(
            sent["request_ref"].as_str().unwrap(),
            "0a0a0a0a-0a0a-4a0a-8a0a-0a0a0a0a0a0a",
        )
        .replace(
            sent["response_ref"].as_str().unwrap(),
            "0b0b0b0b-0b0b-4b0b-8b0b-0b0b0b0b0b0b",
        );
    for body in [result["body"].as_str().unwrap().to_owned(), forged] {
        let r = world
            .http
            .post(result["url"].as_str().unwrap())
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let report = world.sync().await;
    assert!(report["orphans"].as_u64().unwrap() >= 1, "{report}");
    let still = world.malipo(&["policy", "show", "RAT-1"]).await;
    assert_eq!(still["collection"]["standing_order"]["status"], "active");

    // A run: the holder's payment reaches the paybill with the policy number as the account.
    let ran: Value = world
        .http
        .post(format!("{}/__sandbox/ratiba/run", world.sandbox_url))
        .json(&json!({"account": "RAT-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ran["runs"].as_array().unwrap().len(), 1, "{ran}");
    let paid = sync_until(&world, &["policy", "show", "RAT-1"], |p| {
        p["transactions"]["items"].as_array().is_some_and(|t| {
            t.iter()
                .any(|t| t["method"] == "paybill" && t["status"] == "succeeded")
        })
    })
    .await;
    assert_eq!(paid["instalments"][0]["status"], "paid", "{paid}");

    // Stopped at the office, then asked again: a second order with a name of its own.
    let stopped = world.malipo(&["policy", "collect", "RAT-1", "--off"]).await;
    assert_eq!(stopped["standing_order"]["status"], "stopped", "{stopped}");
    let again = world
        .malipo(
            &[
                &["policy", "collect", "RAT-1", "--ratiba"][..],
                &consent[..],
            ]
            .concat(),
        )
        .await;
    assert_eq!(
        again["standing_order"]["name"], "Premium RAT-1 (2)",
        "{again}"
    );
    sync_until(&world, &["policy", "show", "RAT-1"], |p| {
        p["collection"]["standing_order"]["status"] == "active"
    })
    .await;
}

/// A policy whose grace ran out is lapsed in the company register, written once for the company
/// though both counters' passes find it at the same moment; the arrears paid at one counter make
/// it active again everywhere.
async fn the_register_carries_a_lapse_to_every_counter(backend: Backend) {
    let world = World::start(backend).await;
    let second = world.second_office().await;
    let offices = [("office", world.device_token.clone()), ("nairobi", second)];
    let started = (time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+3))
        - time::Duration::days(40))
    .date()
    .to_string();
    add_policy(&world, "office", &offices[0].1, "LAP-1", &started).await;
    let sent = at(&world, "office", &offices[0].1, &["sync", "--once"]).await;
    assert!(sent["policies_sent"].as_u64().unwrap() >= 1, "{sent}");
    let status = |name: &'static str, token: String| {
        let world = &world;
        async move {
            at(world, name, &token, &["sync", "--once"]).await;
            at(world, name, &token, &["policy", "show", "LAP-1"]).await["status"]
                .as_str()
                .unwrap_or("unknown")
                .to_owned()
        }
    };
    assert_eq!(status("nairobi", offices[1].1.clone()).await, "active");

    let (a, b) = tokio::join!(
        at(&world, "office", &offices[0].1, &["messages", "send-due"]),
        at(&world, "nairobi", &offices[1].1, &["messages", "send-due"]),
    );
    assert!(a.is_object() && b.is_object(), "{a} {b}");
    let mut writers = 0;
    for (name, token) in &offices {
        let audit = at(
            &world,
            name,
            token,
            &["audit", "--entity", "policy", "--id", "LAP-1"],
        )
        .await;
        writers += audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["sentence"]
                    .as_str()
                    .unwrap()
                    .contains("changed policy LAP-1: status")
            })
            .count();
    }
    assert_eq!(writers, 1, "one counter writes the lapse");
    for (name, token) in &offices {
        assert_eq!(status(name, token.clone()).await, "lapsed", "at {name}");
    }

    // The arrears (both instalments due) paid by M-Pesa at the other counter.
    let paid = at(
        &world,
        "nairobi",
        &offices[1].1,
        &[
            "pay", "mpesa", "--policy", "LAP-1", "--phone", PAID, "--amount", "2000", "--wait",
            "60",
        ],
    )
    .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    at(&world, "nairobi", &offices[1].1, &["messages", "send-due"]).await;
    assert_eq!(status("nairobi", offices[1].1.clone()).await, "active");
    at(&world, "nairobi", &offices[1].1, &["sync", "--once"]).await;
    assert_eq!(status("office", offices[0].1.clone()).await, "active");
    at(&world, "office", &offices[0].1, &["messages", "send-due"]).await;
    assert_eq!(
        status("office", offices[0].1.clone()).await,
        "active",
        "the lapse is not written again"
    );
}

/// A day in Nairobi `days` before today, as the CLI takes it.
fn days_ago(days: i64) -> String {
    (time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+3))
        - time::Duration::days(days))
    .date()
    .to_string()
}

/// Collects for policy `number` by the saved card (with consent) at the first office.
async fn by_card(world: &World, number: &str) {
    let set = world
        .malipo(&[
            "policy",
            "collect",
            number,
            "--card",
            "--consent",
            "Charge my card ending 4081 on each due date",
        ])
        .await;
    assert_eq!(set["kind"], "card", "{set}");
}

/// The collector's item for `policy` in a run, if it took it.
fn item<'a>(run: &'a Value, policy: &str) -> Option<&'a Value> {
    run["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["policy"] == policy)
}

/// Instalments missed days ago, on the retry ladder (1, 3, 7): a card declined for too little
/// money is tried once that day and not on a day off the ladder; a card the bank says expired
/// stops its instruction, with the reason on the policy and one SMS to the holder.
async fn a_declined_card_is_retried_on_the_ladder_and_stopped_when_gone(backend: Backend) {
    let world = World::start(backend).await;
    let token = world.device_token.clone();
    let today = days_ago(0);
    add_policy(&world, "office", &token, "COL-0", &today).await;
    save_card(&world, "office", &token).await;
    for (number, missed) in [("DEC-1", 1), ("DEC-2", 2), ("DEC-3", 3)] {
        add_policy(&world, "office", &token, number, &days_ago(missed)).await;
        by_card(&world, number).await;
    }
    let behave = |answer: &'static str| {
        let world = &world;
        async move {
            let r = world
                .http
                .post(format!("{}/__sandbox/behaviour", world.sandbox_url))
                .json(&json!({"card_charge": answer}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
        }
    };

    behave("insufficient_funds").await;
    let run = world.malipo(&["collect", "due"]).await;
    assert!(
        item(&run, "DEC-2").is_none(),
        "day 2 is off the ladder: {run}"
    );
    for number in ["DEC-1", "DEC-3"] {
        let tried = item(&run, number).unwrap();
        assert_eq!(tried["outcome"], "failed", "{run}");
        assert!(
            tried["reason"].as_str().unwrap().contains("Insufficient"),
            "{run}"
        );
        assert_eq!(tried["stopped"], false, "the card may be charged again");
    }
    let again = world.malipo(&["collect", "due"]).await;
    assert_eq!(again["failed"], 0, "once a day: {again}");
    assert_eq!(charges_for(&world, "DEC-1").await, 0);

    // The bank now says the card expired: the next try stops the instruction.
    behave("expired").await;
    add_policy(&world, "office", &token, "DEC-7", &days_ago(7)).await;
    by_card(&world, "DEC-7").await;
    let run = world.malipo(&["collect", "due"]).await;
    let gone = item(&run, "DEC-7").unwrap();
    assert_eq!(
        (&gone["outcome"], &gone["stopped"]),
        (&json!("failed"), &json!(true)),
        "{run}"
    );
    let policy = world.malipo(&["policy", "show", "DEC-7"]).await;
    assert_eq!(policy["collection"]["kind"], "none", "{policy}");
    assert!(
        policy["collection"]["stopped_reason"]
            .as_str()
            .unwrap()
            .contains("can no longer be charged"),
        "{policy}"
    );
    world.malipo(&["messages", "send-due"]).await;
    world.malipo(&["messages", "send-due"]).await;
    let told = world
        .malipo(&["messages", "list", "--policy", "DEC-7"])
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| {
            m["body"]
                .as_str()
                .is_some_and(|b| b.contains("could not charge your card"))
        })
        .count();
    assert_eq!(told, 1, "the holder is told once");
}

/// A policy in grace is reminded on the grace window's day once however often the sender runs,
/// and one whose grace ended gets its lapse notice once.
async fn grace_reminders_and_the_lapse_notice_go_once(backend: Backend) {
    let world = World::start(backend).await;
    let token = world.device_token.clone();
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    add_policy(&world, "office", &token, "GRC-10", &days_ago(10)).await;
    add_policy(&world, "office", &token, "GRC-20", &days_ago(20)).await;
    let listed = world.malipo(&["policy", "list", "--search", "GRC"]).await;
    let standing: Vec<(&Value, &Value)> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (&p["number"], &p["standing"]))
        .collect();
    assert_eq!(
        standing,
        [
            (&json!("GRC-10"), &json!("grace")),
            (&json!("GRC-20"), &json!("lapsed"))
        ],
        "{listed}"
    );
    for _ in 0..3 {
        world.malipo(&["messages", "send-due"]).await;
    }
    for number in ["GRC-10", "GRC-20"] {
        let list = world
            .malipo(&["messages", "list", "--policy", number])
            .await;
        let sms: Vec<&Value> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["channel"] == "sms")
            .collect();
        assert_eq!(sms.len(), 1, "{number}: one message: {list}");
    }
}

on_both_backends!(two_counters_charge_a_card_once);

on_sqlite!(
    a_prompt_goes_once_and_never_after_a_paybill_payment,
    a_declined_card_is_retried_on_the_ladder_and_stopped_when_gone,
    grace_reminders_and_the_lapse_notice_go_once,
    the_register_carries_a_lapse_to_every_counter,
    a_standing_order_is_approved_and_its_runs_arrive_at_the_paybill,
);
