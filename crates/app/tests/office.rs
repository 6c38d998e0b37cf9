//! The office's files and people, through the services on a real database file:
//!
//! - exports cannot carry spreadsheet formulas
//! - history walks forward by where each page ends, every payment once
//! - sign-in slows down after repeated failures, per user and per machine
//! - reports that are role-scoped refuse the wrong role whoever calls them; the session says
//!   what the services allow; the command line without a user reads and changes nothing
//! - every service takes the actor but the few listed as meant for everyone
//! - a policy is corrected by the register's rules, naming a wrong field

use malipo_app::{Actor, App, ErrorCode, HistoryQuery, PolicyInput};
use time::Duration;

mod support;
use support::{Captured, HandClock};

async fn office() -> (tempfile::TempDir, App) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path()).await.unwrap();
    (dir, app)
}

fn policy(number: &str, holder: &str) -> PolicyInput {
    PolicyInput {
        number: number.into(),
        holder: holder.into(),
        phone: "0722000111".into(),
        email: None,
        premium: "1500".into(),
        frequency: None,
        instalments: None,
        start: None,
        status: None,
    }
}

#[tokio::test]
async fn history_walks_forward_page_by_page_from_where_each_ends() {
    let (_dir, app) = office().await;
    app.add_policy(&Actor::Setup, &policy("POL-1", "Amina Wanjiru"))
        .await
        .unwrap();
    let policy_id = app.store().policy("POL-1").await.unwrap().unwrap().id;
    for n in 0..5_i64 {
        app.store()
            .insert_transaction(
                "setup",
                &malipo_store::NewTransaction {
                    desk: malipo_domain::OfficeCode::parse("HQ").unwrap().into(),
                    policy_id,
                    method: malipo_domain::Method::Mpesa,
                    amount: malipo_domain::Money::from_minor(
                        100_000 + n,
                        malipo_domain::Currency::Kes,
                    )
                    .unwrap(),
                    phone: Some(malipo_domain::Msisdn::parse("0722000111").unwrap()),
                    email: None,
                    reference: malipo_domain::ProviderReference::from_random(7 + n.unsigned_abs()),
                    clerk_id: None,
                },
                // The same instant for all: the id keeps the order.
                app.now(),
            )
            .await
            .unwrap();
    }
    let all = app
        .history(&Actor::Console, &HistoryQuery::default())
        .await
        .unwrap();
    assert_eq!((all.total, all.more, all.next.as_deref()), (5, false, None));
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let page = app
            .history(
                &Actor::Console,
                &HistoryQuery {
                    per_page: Some(2),
                    after: after.clone(),
                    ..HistoryQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.total, 5);
        walked.extend(page.items.iter().map(|t| t.number.clone()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let whole: Vec<String> = all.items.iter().map(|t| t.number.clone()).collect();
    assert_eq!(walked, whole, "every payment once, in the list's order");
    let refused = app
        .history(
            &Actor::Console,
            &HistoryQuery {
                after: Some("page-two".into()),
                ..HistoryQuery::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), ErrorCode::InvalidInput, "{refused}");
}

#[tokio::test]
async fn a_holder_named_like_a_formula_is_exported_as_text() {
    let (_dir, app) = office().await;
    app.add_policy(
        &Actor::Setup,
        &policy("POL-1", "=HYPERLINK(\"http://evil.example\",\"Click\")"),
    )
    .await
    .unwrap();
    app.store()
        .insert_transaction(
            "setup",
            &malipo_store::NewTransaction {
                desk: malipo_domain::OfficeCode::parse("HQ").unwrap().into(),
                policy_id: app.store().policy("POL-1").await.unwrap().unwrap().id,
                method: malipo_domain::Method::Mpesa,
                amount: malipo_domain::Money::from_minor(150_000, malipo_domain::Currency::Kes)
                    .unwrap(),
                phone: Some(malipo_domain::Msisdn::parse("0722000111").unwrap()),
                email: None,
                reference: malipo_domain::ProviderReference::from_random(7),
                clerk_id: None,
            },
            app.now(),
        )
        .await
        .unwrap();
    let csv = app
        .history_csv(&Actor::Console, &HistoryQuery::default())
        .await
        .unwrap();
    let row = csv.lines().nth(1).unwrap();
    let created = row.split(',').nth(1).unwrap();
    assert!(
        created.ends_with("+03:00"),
        "times in Nairobi time, as the screens show them: {created}"
    );
    assert!(
        row.contains("'=HYPERLINK("),
        "the cell starts with an apostrophe, so no spreadsheet runs it: {row}"
    );
    assert!(
        !row.split(',')
            .any(|cell| cell.trim_matches('"').starts_with('=')),
        "{row}"
    );
}

#[tokio::test]
async fn role_scoped_reports_refuse_a_clerk_whoever_asks() {
    let (_dir, app) = office().await;
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
    app.add_user(&admin, "juma", "clerk", "clerk-pass-1")
        .await
        .unwrap();
    let clerk = Actor::User(app.sign_in("juma", "clerk-pass-1").await.unwrap());
    let q = malipo_app::SummaryQuery::default();
    for (what, refused) in [
        ("reconcile", app.reconcile(&clerk, "2026-11-27").await.err()),
        ("users", app.users(&clerk).await.err()),
        ("company view", app.company_summary(&clerk, &q).await.err()),
        ("office summary", app.summary(&clerk, &q).await.err()),
    ] {
        let e = refused.unwrap_or_else(|| panic!("a clerk read the {what}"));
        assert_eq!(e.code(), ErrorCode::Forbidden, "{what}: {e}");
    }
    assert!(app.users(&admin).await.is_ok());
    // What a clerk may read, they read; the session says exactly what the services allow.
    let history = HistoryQuery::default();
    assert!(app.history(&clerk, &history).await.is_ok());
    let Actor::User(session) = &clerk else {
        unreachable!()
    };
    let may = malipo_app::ipc::SessionView::from(session).may;
    for action in malipo_app::Action::ALL {
        assert_eq!(
            may.contains(&action),
            clerk.require(action).is_ok(),
            "{action:?}"
        );
    }
    assert!(may.contains(&malipo_app::Action::Read));
    assert!(!may.contains(&malipo_app::Action::ViewReports));
}

#[tokio::test]
async fn the_command_line_without_a_user_reads_and_changes_nothing() {
    let (_dir, app) = office().await;
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let admin = Actor::User(app.sign_in("amina", "admin-pass-1").await.unwrap());
    app.add_policy(&admin, &policy("POL-1", "Otieno Odhiambo"))
        .await
        .unwrap();
    let console = Actor::Console;
    assert_eq!(
        app.policy(&console, "POL-1").await.unwrap().holder,
        "Otieno Odhiambo"
    );
    assert!(
        app.history(&console, &HistoryQuery::default())
            .await
            .is_ok()
    );
    assert!(
        app.summary(&console, &malipo_app::SummaryQuery::default())
            .await
            .is_ok()
    );
    for (what, refused) in [
        (
            "add a policy",
            app.add_policy(&console, &policy("POL-2", "Wanjiku Kamau"))
                .await
                .err(),
        ),
        ("send messages", app.send_messages(&console).await.err()),
        (
            "read the audit log",
            app.audit_log(&console, None, 1).await.err(),
        ),
    ] {
        let e = refused.unwrap_or_else(|| panic!("the console could {what}"));
        assert_eq!(e.code(), ErrorCode::Unauthenticated, "{what}: {e}");
    }
    assert_eq!(
        app.policies(&console, &Default::default())
            .await
            .unwrap()
            .total,
        1,
        "nothing was added"
    );
}

/// The services meant for everyone, or for the program itself rather than a person: every
/// other public method of `App` takes the actor and checks its role.
const WITHOUT_ACTOR: &[(&str, &str)] = &[
    ("open", "opens the office; nobody is signed in yet"),
    ("open_with_clock", "the same, with the tests' clock"),
    (
        "configure",
        "the shell and the CLI build the provider clients at start",
    ),
    (
        "providers",
        "the clients in use, for the shell's background work",
    ),
    (
        "store",
        "the database, for tests that set up a state the services cannot",
    ),
    ("data_dir", "where the office's files are"),
    ("now", "the clock"),
    ("office_code", "printed on every screen and receipt"),
    ("office_currency", "the currency amounts are read in"),
    ("desk", "where this counter's numbers come from"),
    (
        "check_input",
        "a field checked while the clerk types: reads nothing",
    ),
    (
        "in_setup_mode",
        "the sign-in screen asks before anyone can sign in",
    ),
    (
        "doctor",
        "the set-up check of this machine, run before anyone exists",
    ),
    (
        "provider_settings",
        "the program configuring itself from its settings",
    ),
    (
        "sync_once",
        "the program applying what the providers said (acts as sync)",
    ),
    ("sync_forever", "the same, in the background"),
    (
        "messages_forever",
        "the program's sender, in the background",
    ),
    (
        "collect_if_due",
        "the program collecting once the hour has come (acts as the collector)",
    ),
    ("collect_forever", "the same, in the background"),
];

#[test]
fn every_other_service_takes_the_actor() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut without = Vec::new();
    let mut files = vec![root];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let mut in_app = false;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("impl App {") {
                in_app = true;
            } else if *line == "}" {
                in_app = false;
            }
            let Some(rest) = line
                .strip_prefix("    pub async fn ")
                .or_else(|| line.strip_prefix("    pub fn "))
            else {
                continue;
            };
            if !in_app {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The signature, up to the body's opening brace.
            let signature: String = lines[i..]
                .iter()
                .take(20)
                .scan(false, |done, l| {
                    if *done {
                        return None;
                    }
                    *done = l.trim_end().ends_with('{');
                    Some(*l)
                })
                .collect();
            if !signature.contains("actor: &")
                && !signature.contains("credentials")
                && name != "sign_in"
            {
                without.push(name);
            }
        }
    }
    without.sort();
    let mut listed: Vec<String> = WITHOUT_ACTOR.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(
        without, listed,
        "a service without an actor that is not listed, or a listed one that takes it now"
    );
}

#[tokio::test]
async fn sign_in_slows_down_after_repeated_failures_per_user_and_per_machine() {
    let dir = tempfile::tempdir().unwrap();
    let clock = HandClock::now_utc();
    let app = App::open_with_clock(dir.path(), clock.clone())
        .await
        .unwrap();
    app.add_user(&Actor::Setup, "amina", "admin", "admin-pass-1")
        .await
        .unwrap();
    let logs = Captured::default();
    let sink = logs.clone();
    let _logging = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || sink.clone())
            .finish(),
    );

    for _ in 0..5 {
        let e = app.sign_in("amina", "guess-guess").await.unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unauthenticated, "{e}");
    }
    let slowed = app.sign_in("amina", "admin-pass-1").await.unwrap_err();
    assert_eq!(
        slowed.code(),
        ErrorCode::RateLimited,
        "after five failures even the right password waits: {slowed}"
    );
    clock.advance(Duration::seconds(31));
    app.sign_in("AMINA ", "admin-pass-1")
        .await
        .expect("the wait is over and the failures are forgotten");
    app.sign_in("amina", "wrong-again").await.unwrap_err();
    app.sign_in("amina", "admin-pass-1")
        .await
        .expect("one failure after a success costs nothing");

    // Twenty failures of any names: the whole machine waits a minute.
    for i in 0..20 {
        app.sign_in(&format!("nobody{i}"), "x").await.unwrap_err();
    }
    let machine = app.sign_in("amina", "admin-pass-1").await.unwrap_err();
    assert_eq!(machine.code(), ErrorCode::RateLimited, "{machine}");
    clock.advance(Duration::seconds(61));
    app.sign_in("amina", "admin-pass-1").await.unwrap();

    // A password typed into the name field never reaches the log.
    app.sign_in("hunter2-my-password", "x").await.unwrap_err();
    let logged = logs.text();
    assert!(logged.contains("sign-in refused"), "{logged}");
    assert!(
        !logged.contains("hunter2-my-password") && !logged.contains("nobody1"),
        "the typed name is not logged: {logged}"
    );
}

#[tokio::test]
async fn a_policy_is_corrected_by_the_registers_rules() {
    let (_dir, app) = office().await;
    app.add_policy(&Actor::Setup, &policy("POL-7", "Amina Wanjiru"))
        .await
        .unwrap();
    let mut fix = PolicyInput {
        email: Some("amina@example.co.ke".into()),
        premium: "2,000".into(),
        ..policy("POL-7", "Amina W. Wanjiru")
    };
    let (view, changed) = app.correct_policy(&Actor::Setup, &fix).await.unwrap();
    assert!(changed);
    assert_eq!(view.holder, "Amina W. Wanjiru");
    assert_eq!(view.premium_minor, 200_000);
    assert_eq!(view.email.as_deref(), Some("amina@example.co.ke"));
    let details = app.policy_details(&Actor::Console, "POL-7").await.unwrap();
    assert_eq!(details.instalments.len(), 12, "instalments kept");
    assert!(
        details
            .instalments
            .iter()
            .all(|i| i.amount_minor == 200_000),
        "the schedule follows the new premium"
    );
    // The same again changes nothing.
    let (_, changed) = app.correct_policy(&Actor::Setup, &fix).await.unwrap();
    assert!(!changed);
    // Cancelled in the register: no premium is taken for it.
    fix.status = Some("cancelled".into());
    let (view, _) = app.correct_policy(&Actor::Setup, &fix).await.unwrap();
    assert_eq!(view.status, "cancelled");

    let wrong = app
        .correct_policy(
            &Actor::Setup,
            &PolicyInput {
                phone: "0722".into(),
                ..fix.clone()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), ErrorCode::InvalidInput);
    assert!(wrong.to_string().contains("phone"), "{wrong}");
    let unknown = app
        .correct_policy(&Actor::Setup, &policy("POL-8", "Nobody"))
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), ErrorCode::NotFound, "{unknown}");
    assert_eq!(
        app.policy(&Actor::Console, "POL-7").await.unwrap().holder,
        "Amina W. Wanjiru"
    );
}

#[tokio::test]
async fn a_policy_is_found_as_customers_type_its_number_at_the_paybill() {
    let (_dir, app) = office().await;
    for (number, holder) in [("POL-1004", "Mwangi Kamau"), ("POL-1040", "Njeri Wambui")] {
        app.add_policy(&Actor::Setup, &policy(number, holder))
            .await
            .unwrap();
    }
    let find = |text: &'static str| {
        let app = &app;
        async move {
            app.policies(
                &Actor::Console,
                &malipo_app::PolicyQuery {
                    search: Some(text.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|p| p.policy.number)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("pol 1004").await, ["POL-1004"]);
    assert_eq!(find("pol/1040").await, ["POL-1040"]);
    assert_eq!(find("kamau").await, ["POL-1004"], "by the holder's name");
    assert!(find("pol 99").await.is_empty());
}
