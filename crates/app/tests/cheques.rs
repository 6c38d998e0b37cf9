//! Cheques and bank slips: a cheque pays provisionally and either clears or bounces (its
//! instalment open again, its receipt standing, a reversing entry, the holder told once); a bank
//! slip is money only once a manager finds it in the bank, one by one or from the statement.

use std::sync::Arc;

use malipo_app::{Actor, App, ChequeRequest, ErrorCode, PolicyInput, SlipRequest};
use malipo_domain::TxStatus;
use time::Duration;

mod support;
use support::HandClock;

/// The text of a PDF, as `pdftotext` reads it.
fn pdf_text(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdftotext")
        .arg(&path)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Office {
    app: App,
    clock: Arc<HandClock>,
    admin: Actor,
    manager: Actor,
    clerk: Actor,
    _dir: tempfile::TempDir,
}

impl Office {
    async fn open() -> Office {
        let dir = tempfile::tempdir().unwrap();
        let clock = HandClock::now_utc();
        let app = App::open_with_clock(dir.path(), clock.clone())
            .await
            .unwrap();
        app.add_user(&Actor::Setup, "admin", "admin", "admin-pass-1")
            .await
            .unwrap();
        let admin = Actor::User(app.sign_in("admin", "admin-pass-1").await.unwrap());
        app.add_user(&admin, "wanjiru", "manager", "a-good-pass-1")
            .await
            .unwrap();
        app.add_user(&admin, "otieno", "clerk", "a-good-pass-1")
            .await
            .unwrap();
        let manager = Actor::User(app.sign_in("wanjiru", "a-good-pass-1").await.unwrap());
        let clerk = Actor::User(app.sign_in("otieno", "a-good-pass-1").await.unwrap());
        let today = malipo_domain::time_zone::nairobi_date(malipo_app::Clock::now(clock.as_ref()));
        app.add_policy(
            &admin,
            &PolicyInput {
                number: "POL-1".into(),
                holder: "Amina Odhiambo".into(),
                phone: "0708374149".into(),
                email: None,
                premium: "1250".into(),
                frequency: None,
                instalments: None,
                // The first instalment fell due a week ago.
                start: Some((today - Duration::days(7)).to_string()),
                status: None,
            },
        )
        .await
        .unwrap();
        Office {
            app,
            clock,
            admin,
            manager,
            clerk,
            _dir: dir,
        }
    }

    fn cheque(number: &str, dated: Option<String>) -> ChequeRequest {
        ChequeRequest {
            policy: "POL-1".into(),
            amount: "1,250".into(),
            number: number.into(),
            bank: "Equity Bank".into(),
            drawer: "Acme Ltd".into(),
            dated,
        }
    }

    async fn first_instalment_outstanding(&self) -> i64 {
        let d = self
            .app
            .policy_details(&self.manager, "POL-1")
            .await
            .unwrap();
        d.instalments[0].outstanding_minor
    }

    async fn notices(&self) -> usize {
        self.app
            .messages(&self.manager, None, None)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.purpose == "notice")
            .count()
    }
}

#[tokio::test]
async fn a_bounced_cheque_reopens_its_instalment_and_keeps_its_receipt() {
    let office = Office::open().await;
    let app = &office.app;
    let cheque = app
        .pay_cheque(&office.clerk, &Office::cheque("000123", None))
        .await
        .unwrap();
    assert_eq!(cheque.state, "received");
    assert_eq!(cheque.payment.status, TxStatus::Succeeded);
    let receipt = cheque.payment.receipt_number.clone().unwrap();
    assert_eq!(
        office.first_instalment_outstanding().await,
        0,
        "paid, provisionally"
    );
    // The receipt says so.
    let file = app
        .receipt(
            &office.clerk,
            &cheque.payment.number,
            malipo_receipt::Layout::A4,
        )
        .await
        .unwrap();
    assert!(
        pdf_text(&file.pdf).contains("SUBJECT TO CLEARANCE"),
        "the receipt marks it"
    );

    // The same cheque again is refused; so is a stale one.
    let again = app
        .pay_cheque(&office.clerk, &Office::cheque("000123", None))
        .await
        .unwrap_err();
    assert_eq!(again.code(), ErrorCode::Conflict, "{again}");
    let stale = app
        .pay_cheque(
            &office.clerk,
            &Office::cheque("000999", Some("01/01/2026".into())),
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code(), ErrorCode::InvalidInput, "{stale}");

    // A clerk cannot bounce it; it bounces only once banked.
    let e = app
        .bounce_cheque(&office.clerk, &cheque.payment.number, "refer to drawer")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    let e = app
        .bounce_cheque(&office.manager, &cheque.payment.number, "refer to drawer")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    app.set_setting(&office.admin, "cheque.bounce_fee", "500")
        .await
        .unwrap();
    app.bank_cheque(&office.clerk, &cheque.payment.number)
        .await
        .unwrap();
    let bounced = app
        .bounce_cheque(&office.manager, &cheque.payment.number, "refer to drawer")
        .await
        .unwrap();
    assert_eq!(bounced.state, "bounced");
    assert_eq!(bounced.payment.status, TxStatus::Bounced);
    assert_eq!(bounced.bounce_fee.as_deref(), Some("500.00"));
    // Nothing renumbered: the same payment, the same receipt number.
    assert_eq!(bounced.payment.number, cheque.payment.number);
    assert_eq!(
        bounced.payment.receipt_number.as_deref(),
        Some(receipt.as_str())
    );
    assert_eq!(
        office.first_instalment_outstanding().await,
        125_000,
        "open again"
    );
    assert_eq!(office.notices().await, 1, "the holder is told");
    let e = app
        .bounce_cheque(&office.manager, &cheque.payment.number, "again")
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    assert_eq!(office.notices().await, 1, "told once");
    // The reversal is in the audit log; the payment is not money in the summary.
    let audit = app.audit_log(&office.manager, None, 50).await.unwrap();
    assert!(audit.iter().any(|a| a.action == "cheque.bounce"));
    let summary = app
        .summary(&office.manager, &malipo_app::SummaryQuery::default())
        .await
        .unwrap();
    assert_eq!(summary.succeeded.amount_minor, 0, "{summary:?}");
    // A bounced cheque's receipt is not printed as paid.
    let e = app
        .receipt(
            &office.clerk,
            &cheque.payment.number,
            malipo_receipt::Layout::A4,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
}

#[tokio::test]
async fn a_post_dated_cheque_waits_for_its_date_and_then_clears() {
    let office = Office::open().await;
    let app = &office.app;
    let today =
        malipo_domain::time_zone::nairobi_date(malipo_app::Clock::now(office.clock.as_ref()));
    let dated = today + Duration::days(3);
    let cheque = app
        .pay_cheque(
            &office.clerk,
            &Office::cheque("000456", Some(dated.to_string())),
        )
        .await
        .unwrap();
    assert!(cheque.post_dated);
    let e = app
        .bank_cheque(&office.clerk, &cheque.payment.number)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    assert!(e.to_string().contains("post-dated"), "{e}");
    let e = app
        .clear_cheque(&office.manager, &cheque.payment.number)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "not banked yet: {e}");

    office.clock.advance(Duration::days(3));
    let banked = app
        .bank_cheque(&office.clerk, &cheque.payment.number)
        .await
        .unwrap();
    assert_eq!(banked.state, "banked");
    let in_hand = app.cheques(&office.manager, Some("banked")).await.unwrap();
    assert_eq!(in_hand.len(), 1, "awaiting clearance");
    let cleared = app
        .clear_cheque(&office.manager, &cheque.payment.number)
        .await
        .unwrap();
    assert_eq!(cleared.state, "cleared");
    assert_eq!(cleared.payment.status, TxStatus::Succeeded);
    let file = app
        .receipt(
            &office.clerk,
            &cheque.payment.number,
            malipo_receipt::Layout::A4,
        )
        .await
        .unwrap();
    assert!(
        !pdf_text(&file.pdf).contains("SUBJECT TO CLEARANCE"),
        "a cleared cheque's receipt is plain"
    );
    assert_eq!(office.notices().await, 0);
}

#[tokio::test]
async fn a_bank_slip_is_money_only_once_confirmed() {
    let office = Office::open().await;
    let app = &office.app;
    let slip = |bank_ref: &str| SlipRequest {
        policy: "POL-1".into(),
        amount: "1,250".into(),
        bank_ref: bank_ref.into(),
    };
    let waiting = app
        .pay_bank(&office.clerk, &slip("FT26341ABC"))
        .await
        .unwrap();
    assert_eq!(waiting.payment.status, TxStatus::AwaitingConfirmation);
    assert!(
        waiting.payment.receipt_number.is_none(),
        "no receipt before it is money"
    );
    assert_eq!(
        office.first_instalment_outstanding().await,
        125_000,
        "not money yet"
    );
    let e = app
        .receipt(
            &office.clerk,
            &waiting.payment.number,
            malipo_receipt::Layout::A4,
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "{e}");
    let dup = app
        .pay_bank(&office.clerk, &slip("FT26341ABC"))
        .await
        .unwrap_err();
    assert_eq!(
        dup.code(),
        ErrorCode::Conflict,
        "a slip is recorded once: {dup}"
    );

    let e = app
        .confirm_slip(&office.clerk, &waiting.payment.number, true)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Forbidden, "{e}");
    let confirmed = app
        .confirm_slip(&office.manager, &waiting.payment.number, true)
        .await
        .unwrap();
    assert_eq!(confirmed.payment.status, TxStatus::Succeeded);
    assert!(confirmed.payment.receipt_number.is_some());
    assert_eq!(office.first_instalment_outstanding().await, 0);
    let e = app
        .confirm_slip(&office.manager, &waiting.payment.number, false)
        .await
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Conflict, "decided once: {e}");

    // From the statement: the columns named once and kept; a slip with another amount is left.
    app.pay_bank(&office.clerk, &slip("FT26341DEF"))
        .await
        .unwrap();
    let odd = SlipRequest {
        amount: "1,000".into(),
        ..slip("FT26341GHI")
    };
    let left = app.pay_bank(&office.clerk, &odd).await.unwrap();
    let csv = "Date,Narrative,Reference,Credit\n\
               07/12/2026,CASH DEP,FT26341DEF,\"1,250.00\"\n\
               07/12/2026,CASH DEP,FT26341GHI,1250.00\n\
               07/12/2026,INTEREST,,12.50\n\
               07/12/2026,TRANSFER,FT99999XYZ,40000.00\n";
    let e = app
        .import_bank_statement(&office.manager, "dec.csv", csv, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.code(),
        ErrorCode::InvalidInput,
        "the columns are named once: {e}"
    );
    let e = app
        .import_bank_statement(
            &office.manager,
            "dec.csv",
            csv,
            Some("reference=Ref,amount=Credit"),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no column 'Ref'"), "{e}");
    let report = app
        .import_bank_statement(
            &office.manager,
            "dec.csv",
            csv,
            Some("reference=Reference,amount=Credit"),
        )
        .await
        .unwrap();
    assert_eq!(report.rows, 4);
    assert_eq!(report.confirmed.len(), 1);
    assert_eq!(report.confirmed[0].bank_ref, "FT26341DEF");
    assert_eq!(report.amount_differs.len(), 1, "{report:?}");
    assert_eq!(report.not_slips, 2);
    // The next statement reads the kept columns.
    let again = app
        .import_bank_statement(&office.manager, "dec.csv", csv, None)
        .await
        .unwrap();
    assert_eq!((again.confirmed.len(), again.already), (0, 1));
    let still = app.bank_slips(&office.manager, false).await.unwrap();
    assert_eq!(still.len(), 1);
    assert_eq!(still[0].payment.number, left.payment.number);
}
