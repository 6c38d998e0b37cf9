//! Receipts: printed, saved, verified by their QR code; the first paper one is the original.

use crate::world::*;

fn scan_qr(pdf: &std::path::Path) -> String {
    let png = pdf.with_extension("");
    let raster = std::process::Command::new("pdftoppm")
        .args(["-r", "150", "-png", "-singlefile"])
        .arg(pdf)
        .arg(&png)
        .status()
        .unwrap();
    assert!(raster.success());
    let out = std::process::Command::new("zbarimg")
        .args(["-q", "--raw"])
        .arg(png.with_extension("png"))
        .output()
        .unwrap();
    assert!(out.status.success(), "no QR code found");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A fake `lp` (and `xdg-open`) in a directory put first on PATH: they record how they were
/// called, so the test sees exactly what the system's print command would have been given.
fn fake_print_system(dir: &std::path::Path, lp_works: bool) -> String {
    let log = dir.join("calls.log");
    let lp = if lp_works {
        format!(
            "#!/bin/sh\necho \"lp $*\" >> {}\necho 'request id is Counter-7 (1 file(s))'\n",
            log.display()
        )
    } else {
        "#!/bin/sh\necho 'lp: Error - no default destination available.' >&2\nexit 1\n".to_owned()
    };
    let open = format!("#!/bin/sh\necho \"xdg-open $*\" >> {}\n", log.display());
    for (name, body) in [("lp", lp), ("xdg-open", open)] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Receipts from the CLI: every field readable, the QR code scans to a link the relay confirms
/// (and refuses when altered), a reprint says COPY, an unpaid payment has no receipt, a day's
/// receipts make one file, and printing goes through `lp` or falls back to opening the PDF.
async fn receipts_print_and_verify(backend: Backend) {
    let world = World::start(backend).await;
    for (k, v) in [
        ("office.name", "Jubilee Insurance, Moi Avenue"),
        ("office.address", "Jubilee House, Moi Avenue, Nairobi"),
        ("office.phone", "+254 20 328 1000"),
        ("office.kra_pin", "P051234567X"),
        ("printer.name", "Counter"),
    ] {
        world.malipo(&["settings", "set", k, v]).await;
    }
    let paid = number(&world.pay_mpesa(PAID, "1500").await);
    let cancelled = number(&world.pay_mpesa("254700000032", "1500").await);
    let done = world
        .sync_until_final(&[paid.clone(), cancelled.clone()])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let first_path = dir.path().join("first.pdf");
    let first = world
        .malipo(&[
            "receipt",
            &paid,
            "--out",
            first_path.to_str().unwrap(),
            "--format",
            "80mm",
        ])
        .await;
    assert_eq!(first["copy"], false, "{first}");
    let text = pdf_text(&first_path);
    for field in [
        "Jubilee Insurance, Moi Avenue",
        "KRA PIN: P051234567X",
        done[0]["receipt_number"].as_str().unwrap(),
        &paid,
        "POL-1",
        "Amina Odhiambo",
        "KES 1,500.00",
        "One thousand five hundred Kenya shillings only",
        done[0]["provider_receipt"].as_str().unwrap(),
    ] {
        assert!(text.contains(field), "{field:?} missing: {text}");
    }
    assert!(!text.contains("COPY"));
    let link = scan_qr(&first_path);
    assert_eq!(link, first["verify_url"].as_str().unwrap());
    let page = world.http.get(&link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("Genuine receipt") && page.contains("KES 1,500.00"),
        "{page}"
    );
    let forged = link.replace("/150000KES/", "/1500000KES/");
    assert_eq!(
        world
            .http
            .get(&forged)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        404
    );

    let again_path = dir.path().join("again.pdf");
    let again = world
        .malipo(&["receipt", &paid, "--out", again_path.to_str().unwrap()])
        .await;
    assert_eq!(again["copy"], true);
    assert!(pdf_text(&again_path).contains("OFFICIAL RECEIPT - COPY"));

    let refused = world
        .office()
        .args(["receipt", &cancelled, "--out"])
        .arg(dir.path().join("no.pdf"))
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("only a paid payment has a receipt"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(!dir.path().join("no.pdf").exists(), "nothing written");

    let day_path = dir.path().join("day.pdf");
    world
        .malipo(&[
            "receipts",
            "--date",
            &nairobi_day(&done[0]),
            "--out",
            day_path.to_str().unwrap(),
        ])
        .await;
    let day = pdf_text(&day_path);
    assert!(
        day.contains(done[0]["receipt_number"].as_str().unwrap()),
        "{day}"
    );

    // Printing: to the configured printer through lp; without a working lp, opened instead.
    let bin_dir = tempfile::tempdir().unwrap();
    let mut print = world.office();
    print
        .args(["receipt", &paid, "--print", "--json"])
        .env("PATH", fake_print_system(bin_dir.path(), true));
    let printed = json_out(print).await;
    assert_eq!(printed["printed"]["how"], "printed", "{printed}");
    assert_eq!(printed["printed"]["via"], "Counter");
    let calls = std::fs::read_to_string(bin_dir.path().join("calls.log")).unwrap();
    assert!(
        calls.starts_with("lp -d Counter ") && calls.trim_end().ends_with(".pdf"),
        "{calls}"
    );
    let no_cups = tempfile::tempdir().unwrap();
    let mut open = world.office();
    open.args(["receipt", &paid, "--print", "--json"])
        .env("PATH", fake_print_system(no_cups.path(), false));
    let opened = json_out(open).await;
    assert_eq!(opened["printed"]["how"], "opened", "{opened}");
    let calls = std::fs::read_to_string(no_cups.path().join("calls.log")).unwrap();
    assert!(calls.starts_with("xdg-open "), "{calls}");
    // Four receipts made: the original and three copies, each in the audit log.
    let log = world
        .malipo(&["audit", "--entity", "transaction", "--id", &paid])
        .await;
    let prints = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "receipt.print")
        .count();
    assert_eq!(prints, 4, "{log}");
}

/// The customer's first paper receipt is the original unless an original really left: an
/// e-mail receipt skipped because e-mail is not set up does not count. Each receipt saved in
/// the office's folder is a file of its own: a copy never overwrites the original.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_paper_receipt_is_the_original_when_the_email_was_skipped() {
    let world = World::start(Backend::Sqlite).await;
    world
        .malipo(&["settings", "set", "messages.quiet_hours", "off"])
        .await;
    world
        .malipo(&[
            "policy",
            "add",
            "--number",
            "ORG-1",
            "--holder",
            "Amina Odhiambo",
            "--phone",
            "0722000333",
            "--email",
            "amina@example.co.ke",
            "--premium",
            "1500",
        ])
        .await;
    let paid = world
        .malipo(&[
            "pay", "mpesa", "--policy", "ORG-1", "--phone", PAID, "--amount", "1500", "--wait",
            "30",
        ])
        .await;
    assert_eq!(paid["status"], "succeeded", "{paid}");
    // E-mail is not set up in this office: the e-mail receipt is skipped.
    world.malipo(&["messages", "send-due"]).await;
    let listed = world
        .malipo(&["messages", "list", "--policy", "ORG-1"])
        .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["channel"] == "email" && m["status"] == "skipped"),
        "{listed}"
    );

    let bin_dir = tempfile::tempdir().unwrap();
    let print = || {
        let mut c = world.office();
        c.args([
            "receipt",
            paid["number"].as_str().unwrap(),
            "--print",
            "--json",
        ])
        .env("PATH", fake_print_system(bin_dir.path(), true));
        json_out(c)
    };
    let first = print().await;
    assert_eq!(first["copy"], false, "the first paper one: {first}");
    let original = std::path::PathBuf::from(first["file"].as_str().unwrap());
    assert!(!pdf_text(&original).contains("COPY"));
    let original_bytes = std::fs::read(&original).unwrap();
    let second = print().await;
    assert_eq!(second["copy"], true, "{second}");
    let copy = std::path::PathBuf::from(second["file"].as_str().unwrap());
    assert_ne!(copy, original, "a copy has a file of its own");
    assert!(pdf_text(&copy).contains("OFFICIAL RECEIPT - COPY"));
    assert_eq!(
        std::fs::read(&original).unwrap(),
        original_bytes,
        "the original is untouched"
    );
    let third = print().await;
    assert_ne!(third["file"], second["file"], "{third}");
}

on_both_backends!(receipts_print_and_verify);
