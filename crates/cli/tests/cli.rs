//! The `malipo` binary as a clerk or a script runs it: real processes, real database files.
//!
//! - policies: add, list, import (all or nothing, dry run), bad input
//! - users: set-up mode, sign-in, roles, the audit trail
//! - history, summary and schedules over payments seeded through the store

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Office {
    dir: tempfile::TempDir,
    /// Set for every command run in this office (provider settings, say).
    env: Vec<(&'static str, String)>,
}

impl Office {
    fn new() -> Office {
        Office {
            dir: tempfile::tempdir().unwrap(),
            env: Vec::new(),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_malipo"));
        c.args(args)
            .env("MALIPO_DATA_DIR", self.dir.path())
            .env_remove("MALIPO_USER")
            .env_remove("MALIPO_PASSWORD")
            .env_remove("MALIPO_NEW_PASSWORD")
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs a command that must succeed and returns its JSON.
    fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        let out = self.run(&all);
        assert!(
            out.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn policy_count(&self) -> u64 {
        self.json(&["policy", "list"])["total"].as_u64().unwrap()
    }
}

/// Asserts a refusal: the exit status, one line on stderr that mentions `needle`.
fn refused(out: &Output, code: i32, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one clear line, got: {err}"
    );
    assert!(err.contains(needle), "{err:?} should mention {needle:?}");
}

fn add(office: &Office, number: &str, phone: &str, premium: &str) -> Output {
    office.run(&[
        "policy",
        "add",
        "--number",
        number,
        "--holder",
        "Amina Wanjiru",
        "--phone",
        phone,
        "--premium",
        premium,
    ])
}

/// The STK callback URL carries the relay's secret token: it is a secret (keyring or
/// MALIPO_MPESA_CALLBACK_URL), never a setting in the database, the audit log or a listing.
#[test]
fn the_callback_url_is_a_secret_not_a_setting() {
    let office = Office::new();
    let url = "https://relay.example/hooks/d/5ecret0token";
    refused(
        &office.run(&["settings", "set", "mpesa.callback_url", url]),
        2,
        "MALIPO_MPESA_CALLBACK_URL",
    );
    let listed = office.run(&["settings", "list", "--json"]);
    assert!(listed.status.success());
    let audit = office.run(&["audit", "--json"]);
    for out in [&listed, &audit] {
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("5ecret0token"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let db = std::fs::read(office.path().join("malipo.sqlite3")).unwrap();
    assert!(!db.windows(12).any(|w| w == b"5ecret0token"));
}

#[test]
fn a_policy_is_added_with_its_phone_normalised_and_listed_as_json() {
    let office = Office::new();
    let p = office.json(&[
        "policy",
        "add",
        "--number",
        "pol-001",
        "--holder",
        "Amina  Wanjiru",
        "--phone",
        "0712 345 678",
        "--email",
        "Amina@Example.co.ke",
        "--premium",
        "KES 1,500.50",
    ]);
    assert_eq!(p["number"], "POL-001");
    assert_eq!(p["holder"], "Amina Wanjiru");
    assert_eq!(p["phone"], "254712345678");
    assert_eq!(p["email"], "amina@example.co.ke");
    assert_eq!(p["premium"], "1500.50");
    assert_eq!(p["premium_minor"], 150_050);
    let list = office.json(&["policy", "list", "--search", "wanjiru"]);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["number"], "POL-001");
    let none = office.json(&["policy", "list", "--search", "otieno"]);
    assert_eq!(none["total"], 0);
}

#[test]
fn bad_input_exits_non_zero_with_one_line_and_writes_nothing() {
    let office = Office::new();
    assert!(add(&office, "P-1", "0712345678", "1500").status.success());
    refused(&add(&office, "P-2", "071234567", "1500"), 2, "9 digits");
    refused(
        &add(&office, "P-2", "+255712345678", "1500"),
        2,
        "not a Kenyan number",
    );
    refused(&add(&office, "P-2", "0712345678", "-5"), 2, "negative");
    refused(&add(&office, "P-2", "0712345678", "0"), 2, "more than zero");
    refused(
        &add(&office, "P-2", "0712345678", "10.555"),
        2,
        "2 decimal places",
    );
    refused(
        &add(&office, "P-2", "0712345678", "99999999999999999999"),
        2,
        "too large",
    );
    refused(
        &add(&office, "P 2", "0712345678", "1500"),
        2,
        "policy number",
    );
    refused(
        &add(&office, "P-1", "0712345678", "1500"),
        4,
        "already exists",
    );
    assert_eq!(
        office.policy_count(),
        1,
        "no refused command wrote anything"
    );
    refused(&office.run(&["tx", "show", "HQ-000099"]), 3, "not found");
    refused(
        &office.run(&["tx", "list", "--status", "paid"]),
        2,
        "unknown status",
    );
    refused(
        &office.run(&["tx", "list", "--from", "2026-12-01", "--to", "2026-11-01"]),
        2,
        "swap",
    );
    refused(
        &office.run(&["summary", "--from", "11/27/2026"]),
        2,
        "not a date",
    );
    refused(
        &office.run(&["policy", "add", "--number", "P-3"]),
        2,
        "--holder",
    );
    refused(
        &office.run(&["tx", "list", "--page", "two"]),
        2,
        "invalid value 'two'",
    );
    refused(
        &office.run(&["refund-everything"]),
        2,
        "unrecognized subcommand",
    );
}

#[test]
fn an_import_with_one_bad_row_imports_nothing_and_an_import_again_changes_only_what_changed() {
    let office = Office::new();
    let csv = office.path().join("policies.csv");
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium\n\
         P-1,Amina Wanjiru,0712345678,amina@example.co.ke,\"1,500\"\n\
         P-2,Otieno Odhiambo,0722 000 111,,2000\n\
         P-3,Chebet Kiprono,0722,,2000\n",
    )
    .unwrap();
    let out = office.run(&["policy", "import", csv.to_str().unwrap()]);
    refused(&out, 2, "line 4 (P-3): phone");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 row refused"),
        "the report names each refused row"
    );
    assert_eq!(
        office.policy_count(),
        0,
        "the good rows were not imported either"
    );

    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium\n\
         P-1,Amina Wanjiru,0712345678,amina@example.co.ke,\"1,500\"\n\
         P-2,Otieno Odhiambo,0722 000 111,,2000\n",
    )
    .unwrap();
    let dry = office.json(&["policy", "import", csv.to_str().unwrap(), "--dry-run"]);
    assert_eq!(
        (dry["rows"].as_u64(), dry["imported"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(office.policy_count(), 0, "a dry run writes nothing");
    let real = office.json(&["policy", "import", csv.to_str().unwrap()]);
    assert_eq!(real["imported"], 2);
    assert_eq!(real["added"], serde_json::json!(["P-1", "P-2"]));
    assert_eq!(office.policy_count(), 2);
    let again = office.json(&["policy", "import", csv.to_str().unwrap()]);
    assert_eq!(
        (again["imported"].as_u64(), again["unchanged"].as_u64()),
        (Some(0), Some(2)),
        "the same file again changes nothing: {again}"
    );
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium,status\n\
         P-1,Amina Wanjiru,0712345678,amina@example.co.ke,\"1,750\",\n\
         P-2,Otieno Odhiambo,0722 000 111,,2000,cancelled\n",
    )
    .unwrap();
    let changed = office.json(&["policy", "import", csv.to_str().unwrap()]);
    assert_eq!(
        changed["updated"],
        serde_json::json!(["P-1", "P-2"]),
        "{changed}"
    );
    let p1 = office.json(&["policy", "show", "P-1"]);
    assert_eq!(p1["premium_minor"], 175_000);
    assert_eq!(
        p1["instalments"][0]["amount_minor"], 175_000,
        "the schedule follows"
    );
    let cancelled = office.run(&[
        "--demo",
        "pay",
        "mpesa",
        "--policy",
        "P-2",
        "--phone",
        "0722000111",
        "--amount",
        "2000",
    ]);
    refused(&cancelled, 2, "cancelled");

    std::fs::write(&csv, "number,holder,phone\nP-9,X,0712345678\n").unwrap();
    refused(
        &office.run(&["policy", "import", csv.to_str().unwrap()]),
        2,
        "header lacks",
    );
    std::fs::write(
        &csv,
        "policy_number,holder_name,phone,email,premium\nP-9,A,0712345678,,1\nP-9,B,0712345678,,1\n",
    )
    .unwrap();
    refused(
        &office.run(&["policy", "import", csv.to_str().unwrap()]),
        2,
        "line 3 (P-9): appears again (first on line 2)",
    );
}

#[test]
fn after_set_up_writes_need_a_signed_in_user_with_the_right_role() {
    let office = Office::new();
    let clerk_first = office
        .cmd(&["user", "add", "--username", "amina", "--role", "clerk"])
        .env("MALIPO_NEW_PASSWORD", "counter-password")
        .output()
        .unwrap();
    refused(&clerk_first, 4, "first user of an office must be an admin");

    let admin = office
        .cmd(&[
            "user",
            "add",
            "--username",
            "wanjiku",
            "--role",
            "admin",
            "--json",
        ])
        .env("MALIPO_NEW_PASSWORD", "admin-password")
        .output()
        .unwrap();
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );

    refused(&add(&office, "P-1", "0712345678", "1500"), 5, "sign in");
    let wrong = office
        .cmd(&[
            "policy",
            "add",
            "--number",
            "P-1",
            "--holder",
            "A",
            "--phone",
            "0712345678",
            "--premium",
            "1",
        ])
        .env("MALIPO_USER", "wanjiku")
        .env("MALIPO_PASSWORD", "not-the-password")
        .output()
        .unwrap();
    refused(&wrong, 5, "wrong username or password");

    let as_admin = |args: &[&str]| {
        office
            .cmd(args)
            .env("MALIPO_USER", "wanjiku")
            .env("MALIPO_PASSWORD", "admin-password")
            .output()
            .unwrap()
    };
    let clerk = office
        .cmd(&["user", "add", "--username", "amina", "--role", "clerk"])
        .env("MALIPO_USER", "wanjiku")
        .env("MALIPO_PASSWORD", "admin-password")
        .env("MALIPO_NEW_PASSWORD", "counter-password")
        .output()
        .unwrap();
    assert!(
        clerk.status.success(),
        "{}",
        String::from_utf8_lossy(&clerk.stderr)
    );

    let by_clerk = office
        .cmd(&[
            "policy",
            "add",
            "--number",
            "P-1",
            "--holder",
            "A",
            "--phone",
            "0712345678",
            "--premium",
            "1",
        ])
        .args(["--as", "amina"])
        .env("MALIPO_PASSWORD", "counter-password")
        .output()
        .unwrap();
    assert!(
        by_clerk.status.success(),
        "{}",
        String::from_utf8_lossy(&by_clerk.stderr)
    );

    let clerk_adds_user = office
        .cmd(&[
            "user",
            "add",
            "--username",
            "eve",
            "--role",
            "admin",
            "--as",
            "amina",
        ])
        .env("MALIPO_PASSWORD", "counter-password")
        .env("MALIPO_NEW_PASSWORD", "whatever-password")
        .output()
        .unwrap();
    refused(&clerk_adds_user, 5, "cannot manage users");
    let clerk_sets = office
        .cmd(&["settings", "set", "office.name", "X", "--as", "amina"])
        .env("MALIPO_PASSWORD", "counter-password")
        .output()
        .unwrap();
    refused(&clerk_sets, 5, "ask a admin");

    let audit = as_admin(&["audit", "--entity", "policy", "--id", "P-1", "--json"]);
    assert!(audit.status.success());
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(
        audit["items"][0]["actor"], "amina",
        "the audit log names the clerk who added P-1"
    );
    assert_eq!(audit["items"][0]["action"], "policy.add");
    let said = audit["items"][0]["sentence"].as_str().unwrap();
    assert!(said.starts_with("amina added policy P-1 for "), "{said}");
    // Read by people: the sentence, not the JSON.
    let text = as_admin(&["audit", "--entity", "policy", "--id", "P-1"]);
    assert!(
        String::from_utf8_lossy(&text.stdout).contains("amina added policy P-1"),
        "{}",
        String::from_utf8_lossy(&text.stdout)
    );
}

mod seeded {
    //! History, summary and schedules over payments written straight through the store, as
    //! the payment commands will write them.
    use super::*;
    use malipo_domain::{
        Currency, Desk, FailureKind, Method, Money, Msisdn, OfficeCode, ProviderReference, Source,
        TxEvent,
    };
    use malipo_store::{NewTransaction, ProviderDetails, Store, TxKey};
    use time::macros::datetime;

    fn seed(office: &Office) {
        assert!(add(office, "P-1", "0712345678", "1500").status.success());
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let store = Store::open(&office.path().join("malipo.sqlite3"))
                .await
                .unwrap();
            let policy = store.policy("P-1").await.unwrap().unwrap();
            let hq: Desk = OfficeCode::parse("HQ").unwrap().into();
            let kes = |major| Money::from_major(major, Currency::Kes).unwrap();
            let events = [
                Some(TxEvent::Paid {
                    paid: kes(1500),
                    source: Source::Callback,
                }),
                Some(TxEvent::NotPaid {
                    kind: FailureKind::Cancelled,
                    source: Source::Callback,
                }),
                Some(TxEvent::Initiated),
            ];
            for (n, event) in events.into_iter().enumerate() {
                let at = datetime!(2026-11-20 07:00 UTC) + time::Duration::days(n as i64);
                let new = NewTransaction {
                    desk: hq.clone(),
                    policy_id: policy.id,
                    method: if n == 1 { Method::Card } else { Method::Mpesa },
                    amount: kes(1500),
                    phone: Some(Msisdn::parse("0712345678").unwrap()),
                    email: None,
                    reference: ProviderReference::from_random(n as u64 + 7),
                    clerk_id: None,
                };
                let t = store.insert_transaction("test", &new, at).await.unwrap();
                if let Some(ev) = event {
                    let details = ProviderDetails {
                        provider_receipt: (n == 0).then(|| "NLJ7RT61SV".to_owned()),
                        ..ProviderDetails::default()
                    };
                    store
                        .apply_event("test", &TxKey::Id(t.id), &hq, ev, &details, at)
                        .await
                        .unwrap();
                }
            }
            store.close().await;
        });
    }

    #[test]
    fn transactions_show_in_the_contract_shape() {
        let office = Office::new();
        seed(&office);
        let t = office.json(&["tx", "show", "HQ-000001"]);
        for key in [
            "id",
            "number",
            "reference",
            "policy",
            "method",
            "status",
            "amount",
            "amount_minor",
            "currency",
            "phone",
            "provider_ref",
            "provider_receipt",
            "failure_code",
            "failure_reason",
            "receipt_number",
            "created_at",
            "updated_at",
        ] {
            assert!(t.get(key).is_some(), "transaction JSON lacks {key}");
        }
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["amount"], "1500.00");
        assert_eq!(t["amount_minor"], 150_000);
        assert_eq!(t["receipt_number"], "HQ-R000001");
        assert_eq!(t["provider_receipt"], "NLJ7RT61SV");
        assert_eq!(t["created_at"], "2026-11-20T07:00:00Z");
        let by_id = office.json(&["tx", "show", &t["id"].to_string()]);
        assert_eq!(by_id["number"], "HQ-000001");
        let by_ref = office.json(&["tx", "show", t["reference"].as_str().unwrap()]);
        assert_eq!(by_ref["number"], "HQ-000001");
    }

    #[test]
    fn history_filters_by_status_method_date_and_search() {
        let office = Office::new();
        seed(&office);
        let all = office.json(&["tx", "list"]);
        assert_eq!(all["total"], 3);
        assert_eq!(all["items"][0]["number"], "HQ-000003", "newest first");
        assert_eq!(
            office.json(&["tx", "list", "--status", "succeeded"])["total"],
            1
        );
        assert_eq!(
            office.json(&["tx", "list", "--method", "card"])["items"][0]["status"],
            "cancelled"
        );
        assert_eq!(
            office.json(&["tx", "list", "--from", "2026-11-21", "--to", "2026-11-21"])["total"],
            1
        );
        assert_eq!(
            office.json(&["tx", "list", "--search", "NLJ7RT"])["total"],
            1,
            "search by M-Pesa receipt"
        );
        let page2 = office.json(&["tx", "list", "--per-page", "2", "--page", "2"]);
        assert_eq!(
            (
                page2["items"].as_array().unwrap().len(),
                page2["total"].as_u64()
            ),
            (1, Some(3))
        );
    }

    #[test]
    fn the_summary_counts_and_sums_by_outcome_method_and_day() {
        let office = Office::new();
        seed(&office);
        let s = office.json(&["summary"]);
        assert_eq!(s["all"]["count"], 3);
        assert_eq!(s["all"]["amount"], "4500.00");
        assert_eq!(s["succeeded"]["count"], 1);
        assert_eq!(s["pending"]["count"], 1);
        assert_eq!(s["failed"]["count"], 1);
        let card = s["by_method"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == "card")
            .unwrap();
        assert_eq!(card["attempted"]["count"], 1);
        assert_eq!(
            card["collected"]["count"], 0,
            "the card payment was cancelled"
        );
        let mpesa = s["by_method"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["key"] == "mpesa")
            .unwrap();
        assert_eq!(mpesa["collected"]["amount_minor"], 150_000);
        assert_eq!(mpesa["attempted"]["amount_minor"], 300_000);
        assert_eq!(s["collected"], s["succeeded"]);
        assert_eq!(s["attempted"], s["all"]);
        let collected_by_method: i64 = s["by_method"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["collected"]["amount_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            collected_by_method,
            s["collected"]["amount_minor"].as_i64().unwrap(),
            "by-method collected adds up to the collected total"
        );
        let attempted_by_method: i64 = s["by_method"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["attempted"]["amount_minor"].as_i64().unwrap())
            .sum();
        assert_eq!(
            attempted_by_method,
            s["attempted"]["amount_minor"].as_i64().unwrap()
        );
        assert_eq!(s["by_day"].as_array().unwrap().len(), 3);
        assert_eq!(s["by_day"][0]["date"], "2026-11-20");
        assert_eq!(s["by_day"][0]["collected"]["amount_minor"], 150_000);
        let window = office.json(&["summary", "--from", "2026-11-21"]);
        assert_eq!(window["all"]["count"], 2);
        assert_eq!(
            office.json(&["summary", "--from", "21/11/2026"]),
            window,
            "dates are typed day first too"
        );
    }

    /// The counter's first question, answered in the list: what is due next, what is
    /// overdue and by how long, what has been paid; the longest overdue first when asked.
    #[test]
    fn the_policy_list_shows_what_is_due_overdue_and_paid() {
        let office = Office::new();
        seed(&office);
        let today = malipo_domain::time_zone::nairobi_date(time::OffsetDateTime::now_utc());
        let start = today - time::Duration::days(100);
        let typed = malipo_domain::time_zone::kenyan_date(start);
        let late = office.run(&[
            "policy",
            "add",
            "--number",
            "P-LATE",
            "--holder",
            "Otieno Odhiambo",
            "--phone",
            "0722000111",
            "--premium",
            "1,000",
            "--start",
            &typed,
        ]);
        assert!(
            late.status.success(),
            "{}",
            String::from_utf8_lossy(&late.stderr)
        );
        let list = office.json(&["policy", "list", "--overdue-first"]);
        assert_eq!(list["total"], 2);
        let first = &list["items"][0];
        assert_eq!(first["number"], "P-LATE", "{list}");
        assert_eq!(first["days_overdue"], 100);
        assert_eq!(first["next_due_date"], start.to_string());
        assert_eq!(first["next_due_minor"], 100_000);
        // Due 100, about 70, 39 and 9 days ago; the fifth falls due in about three weeks.
        assert_eq!(first["overdue_minor"], 400_000);
        assert_eq!(first["paid_to_date_minor"], 0);
        let paid = &list["items"][1];
        assert_eq!(paid["number"], "P-1");
        assert_eq!(paid["days_overdue"], 0);
        assert_eq!(paid["paid_to_date_minor"], 150_000, "the one payment kept");
        assert_eq!(paid["next_due_minor"], 150_000);
        assert!(paid["next_due_date"].as_str().unwrap() > today.to_string().as_str());
        let by_number = office.json(&["policy", "list"]);
        assert_eq!(by_number["items"][0]["number"], "P-1");

        let text = office.run(&["policy", "list", "--overdue-first"]);
        let text = String::from_utf8_lossy(&text.stdout);
        assert!(text.contains("NEXT DUE"), "{text}");
        assert!(
            text.contains(&format!("{typed} KES 1,000.00")),
            "day first: {text}"
        );
        assert!(text.contains("100 days, KES 4,000.00"), "{text}");
    }

    #[test]
    fn schedules_show_what_is_overdue_on_a_given_day() {
        let office = Office::new();
        seed(&office);
        // P-1 was added today with 12 monthly instalments from today; one is paid.
        let all = office.json(&["schedule", "list", "--policy", "P-1"]);
        assert_eq!(all["total"], 12);
        assert_eq!(all["items"][0]["status"], "paid");
        let later = time::OffsetDateTime::now_utc().date() + time::Duration::days(70);
        let overdue = office.json(&[
            "schedule",
            "list",
            "--overdue",
            "--date",
            &later.to_string(),
        ]);
        assert_eq!(
            overdue["total"], 2,
            "instalments 2 and 3 are past due 70 days on"
        );
        assert!(
            overdue["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|i| i["status"] == "overdue")
        );
        let pending = office.json(&[
            "schedule",
            "list",
            "--pending",
            "--date",
            &later.to_string(),
        ]);
        assert_eq!(pending["total"], 9);
    }
}

mod payments {
    //! `malipo pay` and `malipo tx refresh` against the provider simulator over real HTTP.
    use super::*;
    use malipo_sandbox::{Behaviour, Config, Running};

    struct World {
        office: Office,
        sandbox: Running,
        _rt: tokio::runtime::Runtime,
    }

    /// The office, with the simulator's settings in its environment.
    impl std::ops::Deref for World {
        type Target = Office;
        fn deref(&self) -> &Office {
            &self.office
        }
    }

    impl World {
        fn new() -> World {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap();
            let sandbox = rt
                .block_on(malipo_sandbox::spawn(
                    "127.0.0.1:0".parse().unwrap(),
                    Config {
                        public_url: String::new(),
                        ..Config::default()
                    },
                ))
                .unwrap();
            sandbox.sandbox.set_behaviour(Behaviour {
                customer_delay_ms: 300,
                ..Behaviour::default()
            });
            let c = Config::default();
            let url = sandbox.url();
            let mut office = Office::new();
            office.env = vec![
                ("MALIPO_MPESA_BASE_URL", url.clone()),
                ("MALIPO_MPESA_CONSUMER_KEY", c.consumer_key),
                ("MALIPO_MPESA_CONSUMER_SECRET", c.consumer_secret),
                ("MALIPO_MPESA_SHORTCODE", c.shortcode),
                ("MALIPO_MPESA_PASSKEY", c.passkey),
                (
                    "MALIPO_MPESA_CALLBACK_URL",
                    "http://127.0.0.1:9/not-listening".into(),
                ),
                ("MALIPO_PAYSTACK_BASE_URL", url),
                ("MALIPO_PAYSTACK_SECRET_KEY", c.paystack_secret),
            ];
            let csv = office.path().join("p.csv");
            std::fs::write(&csv, "policy_number,holder_name,phone,email,premium\nP-1,Amina Wanjiru,0708374149,amina@example.co.ke,1500\nP-2,Otieno Odhiambo,0722000111,,2000\n").unwrap();
            assert!(
                office
                    .run(&["policy", "import", csv.to_str().unwrap()])
                    .status
                    .success()
            );
            World {
                office,
                sandbox,
                _rt: rt,
            }
        }

        fn pay_card_in_browser(&self, reference: &str, card: &str) {
            self.sandbox
                .sandbox
                .pay_checkout(reference, card)
                .expect("the simulated customer could not pay");
        }
    }

    #[test]
    fn an_mpesa_payment_waits_for_the_customer_and_gets_a_receipt_number() {
        let w = World::new();
        let t = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708 374 149",
            "--amount",
            "1,500",
            "--wait",
            "20",
        ]);
        assert_eq!(t["status"], "succeeded");
        assert_eq!(t["method"], "mpesa");
        assert_eq!(t["amount_minor"], 150_000);
        assert_eq!(t["phone"], "254708374149");
        assert!(
            t["provider_ref"].as_str().unwrap().starts_with("ws_CO_"),
            "the CheckoutRequestID is kept"
        );
        assert_eq!(t["receipt_number"], "HQ-R000001");
        assert_eq!(t["reference"].as_str().unwrap().len(), 12);
    }

    /// The data directory is the user's alone, and so is every file Malipo writes in it.
    #[cfg(unix)]
    #[test]
    fn the_offices_files_are_private_to_its_user() {
        use std::os::unix::fs::PermissionsExt;
        let w = World::new();
        let t = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "1500",
            "--wait",
            "20",
        ]);
        assert_eq!(t["status"], "succeeded");
        let number = t["number"].as_str().unwrap();
        assert!(
            w.run(&["receipt", number, "--print"])
                .status
                .code()
                .is_some()
        );
        let out = w.office.path().join("exports/receipt.pdf");
        assert!(
            w.run(&["receipt", number, "--out", out.to_str().unwrap()])
                .status
                .success()
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(w.office.path()), 0o700, "the data directory");
        let mut files = vec![out];
        // Everything but the test's own import file is Malipo's.
        files.extend(
            walk(w.office.path())
                .into_iter()
                .filter(|p| !p.ends_with("p.csv")),
        );
        assert!(files.len() >= 3, "{files:?}");
        for f in files {
            if f.is_dir() {
                assert_eq!(mode(&f), 0o700, "{}", f.display());
            } else {
                assert_eq!(mode(&f), 0o600, "{}", f.display());
            }
        }
    }

    fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut all = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                all.extend(walk(&path));
            }
            all.push(path);
        }
        all
    }

    #[test]
    fn each_failure_ends_in_its_status_with_a_message_the_clerk_can_act_on() {
        let w = World::new();
        for (phone, status, code, words) in [
            ("0700000032", "cancelled", "1032", "cancelled"),
            ("0700000001", "failed", "1", "balance"),
            ("0700002001", "failed", "2001", "PIN"),
            ("0700000037", "timed_out", "1037", "could not be reached"),
        ] {
            let t = w.json(&[
                "pay", "mpesa", "--policy", "P-2", "--phone", phone, "--amount", "2000", "--wait",
                "20", "--again",
            ]);
            assert_eq!(t["status"], status, "{phone}");
            assert_eq!(t["failure_code"], code, "{phone}");
            assert!(
                t["failure_reason"].as_str().unwrap().contains(words),
                "{phone}: {}",
                t["failure_reason"]
            );
            assert!(
                t["receipt_number"].is_null(),
                "no receipt for an unpaid payment"
            );
        }
    }

    #[test]
    fn bad_payment_input_sends_nothing_and_writes_nothing() {
        let w = World::new();
        for (args, code, needle) in [
            (
                vec!["--phone", "0708374149", "--amount", "1500.50"],
                2,
                "whole shillings",
            ),
            (vec!["--phone", "0708 374", "--amount", "1500"], 2, "digits"),
            (
                vec!["--phone", "0708374149", "--amount", "250,001"],
                2,
                "250,000",
            ),
            (
                vec!["--phone", "0708374149", "--amount", "-1"],
                2,
                "negative",
            ),
        ] {
            let mut all = vec!["pay", "mpesa", "--policy", "P-1"];
            all.extend(args);
            refused(&w.run(&all), code, needle);
        }
        refused(
            &w.run(&[
                "pay",
                "mpesa",
                "--policy",
                "P-404",
                "--phone",
                "0708374149",
                "--amount",
                "1",
            ]),
            3,
            "no policy P-404",
        );
        assert_eq!(
            w.sandbox.sandbox.stats().stk_pushes,
            0,
            "nothing reached M-Pesa"
        );
        assert_eq!(
            w.office.json(&["tx", "list"])["total"],
            0,
            "nothing was written"
        );

        assert!(
            w.office
                .run(&["settings", "set", "office.name", "X"])
                .status
                .success()
        );
        let mut bare = w.office.cmd(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "1",
        ]);
        for (name, _) in &w.office.env {
            bare.env_remove(name);
        }
        refused(&bare.output().unwrap(), 2, "MALIPO_MPESA_CONSUMER_KEY");
    }

    #[test]
    fn a_repeat_within_two_minutes_needs_again_and_limits_hold() {
        let w = World::new();
        let first = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "100",
        ]);
        assert_eq!(first["status"], "awaiting_customer");
        let again = w.run(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "100",
        ]);
        refused(&again, 4, "--again");
        assert_eq!(
            w.sandbox.sandbox.stats().stk_pushes,
            1,
            "the repeat was not sent"
        );
        let insisted = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "100",
            "--again",
        ]);
        assert_eq!(insisted["status"], "awaiting_customer");

        assert!(
            w.office
                .run(&["settings", "set", "limits.max_amount", "50,000"])
                .status
                .success()
        );
        refused(
            &w.run(&[
                "pay",
                "mpesa",
                "--policy",
                "P-1",
                "--phone",
                "0708374149",
                "--amount",
                "50001",
            ]),
            2,
            "limit",
        );
        assert!(
            w.office
                .run(&["settings", "set", "limits.per_clerk_per_minute", "3"])
                .status
                .success()
        );
        let _third = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-2",
            "--phone",
            "0722000111",
            "--amount",
            "7",
        ]);
        refused(
            &w.run(&[
                "pay",
                "mpesa",
                "--policy",
                "P-2",
                "--phone",
                "0722000111",
                "--amount",
                "8",
            ]),
            4,
            "in the last minute",
        );
    }

    #[test]
    fn a_card_payment_charges_the_policys_currency_not_the_offices() {
        let w = World::new();
        assert!(
            w.run(&[
                "policy",
                "add",
                "--number",
                "P-NG",
                "--holder",
                "Chidi Okafor",
                "--phone",
                "0722000333",
                "--premium",
                "NGN 2,000",
            ])
            .status
            .success()
        );
        let t = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-NG",
            "--email",
            "chidi@example.com",
            "--amount",
            "2,000",
        ]);
        assert_eq!(
            (t["currency"].as_str(), t["amount_minor"].as_i64()),
            (Some("NGN"), Some(200_000)),
            "the form shows the policy's currency, so the charge is in it: {t}"
        );
        w.pay_card_in_browser(t["reference"].as_str().unwrap(), "4084084084084081");
        let paid = w.json(&["tx", "refresh", t["number"].as_str().unwrap()]);
        assert_eq!(
            paid["status"], "succeeded",
            "Paystack took NGN 2,000: {paid}"
        );
        refused(
            &w.run(&[
                "pay",
                "card",
                "--policy",
                "P-NG",
                "--email",
                "chidi@example.com",
                "--amount",
                "KES 2,000",
                "--again",
            ]),
            2,
            "paid in NGN",
        );
    }

    #[test]
    fn a_card_checkout_paid_in_the_browser_succeeds_and_the_card_can_be_charged_again() {
        let w = World::new();
        let t = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-1",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "1,500.50",
        ]);
        assert_eq!(t["status"], "awaiting_customer");
        let url = t["authorization_url"].as_str().unwrap();
        assert!(url.starts_with(&w.sandbox.url()), "{url}");
        assert_eq!(
            t["provider_ref"], t["reference"],
            "Paystack's reference is ours"
        );
        w.pay_card_in_browser(t["reference"].as_str().unwrap(), "4084084084084081");
        let paid = w.json(&["tx", "refresh", t["number"].as_str().unwrap()]);
        assert_eq!(paid["status"], "succeeded");
        assert_eq!(
            (paid["card_brand"].as_str(), paid["card_last4"].as_str()),
            (Some("visa"), Some("4081"))
        );
        assert_eq!(paid["amount"], "1500.50");

        let cards = w.json(&["cards", "--email", "amina@example.co.ke"]);
        assert_eq!(cards["total"], 1);
        assert!(
            !cards.to_string().contains("AUTH_"),
            "the authorization code never leaves the database"
        );
        let saved = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-1",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "200",
            "--saved-card",
            "4081",
        ]);
        assert_eq!(
            saved["status"], "succeeded",
            "a saved card is charged at once"
        );
        refused(
            &w.run(&[
                "pay",
                "card",
                "--policy",
                "P-1",
                "--email",
                "other@example.com",
                "--amount",
                "200",
                "--saved-card",
            ]),
            3,
            "no saved card",
        );
    }

    /// A saved-card charge whose answer is lost (the charge happened) or that meets a server
    /// error (it did not) is never final on the spot: the payment stays pending, a second
    /// charge is refused as a likely repeat, and Paystack's verify by reference decides.
    #[test]
    fn an_unanswered_card_charge_stays_pending_until_paystack_says() {
        let w = World::new();
        let t = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-1",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "100",
        ]);
        w.pay_card_in_browser(t["reference"].as_str().unwrap(), "4084084084084081");
        assert_eq!(
            w.json(&["tx", "refresh", t["number"].as_str().unwrap()])["status"],
            "succeeded"
        );
        let charge = [
            "pay",
            "card",
            "--policy",
            "P-1",
            "--email",
            "amina@example.co.ke",
            "--amount",
            "200",
            "--saved-card",
            "4081",
        ];
        let behave = |lose, fail| {
            w.sandbox.sandbox.set_behaviour(Behaviour {
                lose_next_answers: lose,
                fail_next: fail,
                customer_delay_ms: 300,
                ..Behaviour::default()
            })
        };

        behave(1, 0);
        let lost = w.run(&charge);
        refused(&lost, 6, "stays pending");
        let open = w.json(&["tx", "list", "--status", "pending"]);
        assert_eq!(open["total"], 1, "{open}");
        let number = open["items"][0]["number"].as_str().unwrap().to_owned();
        let sent = w.sandbox.sandbox.stats().paystack_requests;
        refused(&w.run(&charge), 4, "--again");
        assert_eq!(
            w.sandbox.sandbox.stats().paystack_requests,
            sent,
            "no second charge was sent"
        );
        let settled = w.json(&["tx", "refresh", &number]);
        assert_eq!(
            settled["status"], "succeeded",
            "Paystack took it: {settled}"
        );

        behave(0, 1);
        let mut again = charge.to_vec();
        again.push("--again");
        refused(&w.run(&again), 6, "stays pending");
        let open = w.json(&["tx", "list", "--status", "pending"]);
        let number = open["items"][0]["number"].as_str().unwrap().to_owned();
        let failed = w.json(&["tx", "refresh", &number]);
        assert_eq!(failed["status"], "failed", "{failed}");
        assert!(
            failed["failure_reason"]
                .as_str()
                .unwrap()
                .contains("no record"),
            "{failed}"
        );
    }

    #[test]
    fn a_declined_card_fails_and_a_different_amount_goes_to_review() {
        let w = World::new();
        let t = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-2",
            "--email",
            "otieno@example.com",
            "--amount",
            "2000",
        ]);
        w.pay_card_in_browser(t["reference"].as_str().unwrap(), "4084080000005408");
        let declined = w.json(&["tx", "refresh", t["number"].as_str().unwrap()]);
        assert_eq!(declined["status"], "failed");
        assert!(
            declined["failure_reason"]
                .as_str()
                .unwrap()
                .contains("Declined")
        );

        w.sandbox.sandbox.set_behaviour(Behaviour {
            customer_delay_ms: 300,
            paystack_amount_delta_minor: 30_050,
            ..Behaviour::default()
        });
        let t = w.json(&[
            "pay",
            "card",
            "--policy",
            "P-2",
            "--email",
            "otieno@example.com",
            "--amount",
            "2000",
            "--again",
        ]);
        w.pay_card_in_browser(t["reference"].as_str().unwrap(), "4084084084084081");
        let review = w.json(&["tx", "refresh", t["number"].as_str().unwrap()]);
        assert_eq!(
            review["status"], "needs_review",
            "Paystack took more than was asked: never marked paid"
        );
        assert!(review["receipt_number"].is_null());
        assert!(
            review["failure_reason"]
                .as_str()
                .unwrap()
                .contains("2,300.50"),
            "{}",
            review["failure_reason"]
        );
    }

    #[test]
    fn waiting_rides_out_spike_arrest_and_server_errors() {
        let w = World::new();
        let t = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-1",
            "--phone",
            "0708374149",
            "--amount",
            "10",
        ]);
        w.sandbox.sandbox.set_behaviour(Behaviour {
            customer_delay_ms: 300,
            spike_arrest_next: 2,
            ..Behaviour::default()
        });
        let done = w.json(&[
            "tx",
            "refresh",
            t["number"].as_str().unwrap(),
            "--wait",
            "30",
        ]);
        assert_eq!(done["status"], "succeeded");
        // M-Pesa down before anything is sent: the payment fails at once and says so.
        w.sandbox.sandbox.set_behaviour(Behaviour {
            customer_delay_ms: 300,
            fail_next: 1,
            ..Behaviour::default()
        });
        let down = w.json(&[
            "pay",
            "mpesa",
            "--policy",
            "P-2",
            "--phone",
            "0722000111",
            "--amount",
            "10",
        ]);
        assert_eq!(down["status"], "failed");
        assert!(
            down["failure_reason"]
                .as_str()
                .unwrap()
                .contains("nothing was sent"),
            "{}",
            down["failure_reason"]
        );
    }

    #[test]
    fn secrets_never_appear_in_output_or_the_database() {
        let w = World::new();
        let c = Config::default();
        let outputs = [
            w.run(&[
                "pay",
                "mpesa",
                "--policy",
                "P-1",
                "--phone",
                "0708374149",
                "--amount",
                "10",
                "--json",
            ]),
            w.run(&[
                "pay",
                "card",
                "--policy",
                "P-1",
                "--email",
                "amina@example.co.ke",
                "--amount",
                "10",
                "--json",
            ]),
        ];
        for out in outputs {
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            for secret in [&c.consumer_secret, &c.passkey, &c.paystack_secret] {
                assert!(
                    !all.contains(secret.as_str()),
                    "a secret leaked into output"
                );
            }
        }
        let db = std::fs::read(w.office.path().join("malipo.sqlite3")).unwrap();
        let db = String::from_utf8_lossy(&db);
        for secret in [&c.consumer_secret, &c.passkey, &c.paystack_secret] {
            assert!(
                !db.contains(secret.as_str()),
                "a secret was stored in the database"
            );
        }
    }
}
