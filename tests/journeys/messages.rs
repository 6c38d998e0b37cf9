//! Customer messages: sent once, retried, delivery reported.

use crate::world::*;

/// Customer messages from real processes: a payment gives exactly one SMS (the simulator's
/// Africa's Talking) and one e-mail with the receipt PDF (read back from a real SMTP server),
/// the SMS's delivery report comes back through the relay, an opted-out holder gets nothing,
/// and payments taken while no sender ran go out once when one does.
async fn customer_messages_go_once_and_report_delivery(backend: Backend) {
    let world = World::start(backend).await;
    let maildir = world.dir.path().join("maildir");
    let smtp_port = free_port();
    let mut smtp = Command::new("/usr/bin/python3")
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
        ])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("python3-aiosmtpd (scripts/setup installs it)");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", smtp_port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the SMTP server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let smtp_env = |c: &mut Command| {
        c.env("MALIPO_SMTP_HOST", "127.0.0.1")
            .env("MALIPO_SMTP_PORT", smtp_port.to_string())
            .env("MALIPO_SMTP_SECURITY", "plain")
            .env(
                "MALIPO_SMTP_FROM",
                "Jubilee Insurance <receipts@jubilee.example>",
            );
    };
    let run = |args: &[&str]| {
        let mut c = world.office();
        c.args(args).arg("--json");
        smtp_env(&mut c);
        json_out(c)
    };
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    // Reminders are the app's own test's (over a simulated month); none is due here.
    world
        .malipo(&["settings", "set", "messages.reminder_days", "60"])
        .await;
    for (number, phone, email) in [
        ("MSG-1", "0722000333", "amina@example.co.ke"),
        ("MSG-2", "0722000444", "baraka@example.co.ke"),
    ] {
        world
            .malipo(&[
                "policy",
                "add",
                "--number",
                number,
                "--holder",
                "Amina Odhiambo",
                "--phone",
                phone,
                "--email",
                email,
                "--premium",
                "1500",
            ])
            .await;
    }
    let world = &world;
    let pay = |policy: &'static str| async move {
        world
            .malipo(&[
                "pay",
                "mpesa",
                "--policy",
                policy,
                "--phone",
                "0708374149",
                "--amount",
                "1500",
                "--wait",
                "30",
                "--again",
            ])
            .await
    };
    let paid = pay("MSG-1").await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(
        (r["sent"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(0)),
        "{r}"
    );
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["sent"], 0, "once: {r}");

    let sms = sandbox_sms(world).await;
    assert_eq!(sms.len(), 1, "{sms:?}");
    assert_eq!(sms[0]["to"], "+254722000333");
    let text = sms[0]["message"].as_str().unwrap();
    assert!(
        text.contains("KES 1,500.00") && text.contains("MSG-1"),
        "{text}"
    );
    assert!(
        text.contains(paid["receipt_number"].as_str().unwrap()),
        "{text}"
    );
    let mails: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert!(mail.contains("To: amina@example.co.ke"), "{mail}");
    assert!(mail.contains("Subject: Receipt"), "{mail}");
    let pdf = attachment(mail);
    assert!(
        pdf.starts_with(b"%PDF"),
        "the attachment is the receipt PDF"
    );

    // Africa's Talking's delivery report, through the relay.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        world.sync().await;
        let list = world
            .malipo(&["messages", "list", "--policy", "MSG-1"])
            .await;
        let sms = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["channel"] == "sms")
            .unwrap()
            .clone();
        if sms["status"] == "delivered" {
            break;
        }
        if tokio::time::Instant::now() >= deadline {
            let sent: Value = world
                .http
                .get(format!("{}/__sandbox/deliveries", world.sandbox_url))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            panic!("{list}\n{sent}\n{:?}", world.feed().await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Opted out: nothing.
    world
        .malipo(&["policy", "messages", "MSG-2", "--opt-out"])
        .await;
    pay("MSG-2").await;
    // Two payments while no sender runs (the office was offline): sent once when it is back.
    pay("MSG-1").await;
    pay("MSG-1").await;
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["sent"], 4, "{r}");
    assert_eq!(run(&["messages", "send-due"]).await["sent"], 0);
    let sms = sandbox_sms(world).await;
    assert_eq!(sms.len(), 3, "{sms:?}");
    assert!(sms.iter().all(|m| m["to"] != "+254722000444"), "{sms:?}");
    assert_eq!(std::fs::read_dir(maildir.join("new")).unwrap().count(), 3);
    let none = world
        .malipo(&["messages", "list", "--policy", "MSG-2"])
        .await;
    assert_eq!(none["total"], 0, "{none}");

    // Reminders on the ladder, as processes: policies whose instalment is due in 7 and 3 days
    // and 3 days ago each get that step's SMS today, once; one paid before the sender ran gets
    // only its receipt. (Weeks of ladder run in the services' own test on a hand clock.)
    let today = time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+3))
        .date();
    for (number, phone, days) in [
        ("REM-A", "0722000501", 7),
        ("REM-B", "0722000502", 3),
        ("REM-C", "0722000503", -3),
        ("REM-D", "0722000504", 0),
    ] {
        let start = today + time::Duration::days(days);
        let start = format!(
            "{:02}/{:02}/{}",
            start.day(),
            u8::from(start.month()),
            start.year()
        );
        world
            .malipo(&[
                "policy",
                "add",
                "--number",
                number,
                "--holder",
                "Baraka Mwangi",
                "--phone",
                phone,
                "--premium",
                "1500",
                "--start",
                &start,
            ])
            .await;
    }
    pay("REM-D").await;
    world
        .malipo(&["settings", "set", "messages.reminder_days", "-7,-3,0,3"])
        .await;
    let due = world.malipo(&["remind", "--dry-run"]).await;
    let steps: Vec<(String, i64)> = due["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["policy"].as_str().unwrap().to_owned(),
                r["offset"].as_i64().unwrap(),
            )
        })
        .filter(|(p, _)| p.starts_with("REM"))
        .collect();
    assert_eq!(
        steps,
        [
            ("REM-A".into(), -7),
            ("REM-B".into(), -3),
            ("REM-C".into(), 3)
        ],
        "{due}"
    );
    let before = sandbox_sms(world).await.len();
    let r = run(&["messages", "send-due"]).await;
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(
        run(&["messages", "send-due"]).await["queued_reminders"],
        0,
        "once"
    );
    let sms = sandbox_sms(world).await;
    let to = |n: &str| {
        sms[before..]
            .iter()
            .filter(|m| m["to"] == n)
            .map(|m| m["message"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(to("+254722000501")[0].contains("is due on"), "{sms:?}");
    assert!(to("+254722000502")[0].contains("is due on"), "{sms:?}");
    assert!(to("+254722000503")[0].contains("was due on"), "{sms:?}");
    let paid_texts = to("+254722000504");
    assert_eq!(paid_texts.len(), 1, "only its receipt: {paid_texts:?}");
    assert!(
        paid_texts[0].contains("received KES 1,500.00"),
        "{paid_texts:?}"
    );
    smtp.kill().await.unwrap();
}

/// Every SMS the simulator's Africa's Talking took.
async fn sandbox_sms(world: &World) -> Vec<Value> {
    world
        .http
        .get(format!("{}/__sandbox/sms", world.sandbox_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The PDF attached to a MIME message (base64, as `lettre` writes it).
fn attachment(mail: &str) -> Vec<u8> {
    use base64::Engine;
    let start = mail
        .find("Content-Type: application/pdf")
        .expect("a PDF part");
    let part = &mail[start..];
    let body_at = part.find("\n\n").or_else(|| part.find("\r\n\r\n")).unwrap();
    let body: String = part[body_at..]
        .lines()
        .map(str::trim)
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !l.starts_with("--"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("base64")
}

on_both_backends!(customer_messages_go_once_and_report_delivery);
