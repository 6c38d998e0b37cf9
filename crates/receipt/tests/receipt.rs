//! Receipts read back as a person's tools read them: `pdftotext` for the text, `pdfinfo` for
//! the pages (poppler-utils, installed by scripts/setup).

use std::process::Command;

use malipo_domain::{Currency, Method, Money};
use malipo_receipt::{Layout, Office, Receipt, render};

fn sample() -> Receipt {
    Receipt {
        office: Office {
            name: "Jubilee Insurance, Moi Avenue".into(),
            address: "Jubilee House, Moi Avenue, P.O. Box 30376-00100 Nairobi".into(),
            phone: "+254 20 328 1000".into(),
            kra_pin: "P051234567X".into(),
        },
        receipt_number: "HQ-R000017".into(),
        paid_at: time::macros::datetime!(2026-11-27 07:05 UTC),
        transaction_number: "HQ-000042".into(),
        policy_number: "POL-1001".into(),
        holder: "Amina Wanjiru Odhiambo".into(),
        amount: Money::from_minor(150_050, Currency::Kes).unwrap(),
        method: Method::Mpesa,
        mpesa_receipt: Some("NLJ7RT61SV".into()),
        card_brand: None,
        card_last4: None,
        tendered: None,
        method_detail: None,
        provisional: false,
        clerk: Some("wanjiku".into()),
        copy: false,
        verify_url: Some(
            "https://relay.example.co.ke/v/0123456789abcdef/HQ-R000017?amount=150050&currency=KES&date=2026-11-27&sig=00112233445566778899aabbccddeeff".into(),
        ),
    }
}

fn tool(name: &str, args: &[&str], pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new(name)
        .args(args)
        .arg(&path)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("{name} (poppler-utils) is needed: {e}"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn text(pdf: &[u8]) -> String {
    // One line per text line; collapse the layout's spacing.
    tool("pdftotext", &[], pdf)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn info(pdf: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.pdf");
    std::fs::write(&path, pdf).unwrap();
    let out = Command::new("pdfinfo").arg(&path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn every_field_can_be_read_back_in_both_layouts() {
    for layout in [Layout::A4, Layout::Roll80] {
        let pdf = render(&[sample()], layout).unwrap();
        let t = text(&pdf);
        for field in [
            "Jubilee Insurance, Moi Avenue",
            "P.O. Box 30376-00100",
            "+254 20 328 1000",
            "KRA PIN: P051234567X",
            "OFFICIAL RECEIPT",
            "HQ-R000017",
            "27 Nov 2026, 10:05 EAT",
            "HQ-000042",
            "POL-1001",
            "Amina Wanjiru Odhiambo",
            "KES 1,500.50",
            "One thousand five hundred Kenya shillings and fifty cents only",
            "M-Pesa, receipt NLJ7RT61SV",
            "wanjiku",
            "Scan to verify",
            "Thank you for your payment",
        ] {
            assert!(t.contains(field), "{layout:?}: {field:?} missing from: {t}");
        }
        assert!(!t.contains("COPY"), "an original is not a copy");
        assert!(
            pdf.len() < 40_000,
            "{layout:?}: a receipt stays small: {} bytes",
            pdf.len()
        );
    }
}

/// Each page's height in points and how far down its lowest word reaches, from
/// `pdftotext -bbox` (top-down coordinates).
fn page_extents(pdf: &[u8]) -> Vec<(f64, f64)> {
    let html = tool("pdftotext", &["-bbox"], pdf);
    let attr = |tag: &str, name: &str| -> f64 {
        let start = tag.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    let mut pages = Vec::new();
    for page in html.split("<page ").skip(1) {
        let height = attr(page, "height");
        let lowest = page
            .split("<word ")
            .skip(1)
            .map(|w| attr(w, "yMax"))
            .fold(0.0, f64::max);
        pages.push((height, lowest));
    }
    pages
}

#[test]
fn pages_are_a4_and_80_mm_wide() {
    let a4 = info(&render(&[sample()], Layout::A4).unwrap());
    assert!(a4.contains("595.2") && a4.contains("841.8"), "{a4}");
    let roll = info(&render(&[sample()], Layout::Roll80).unwrap());
    // 80 mm = 226.77 pt.
    assert!(roll.contains("226.77"), "{roll}");
}

/// A thermal printer feeds as much paper as the page is long: a roll receipt's page ends just
/// below its last line, and grows with what it has to say.
#[test]
fn a_roll_receipt_is_as_long_as_its_content() {
    const MM: f64 = 72.0 / 25.4;
    let long = Receipt {
        holder: "Amina Wanjiru Odhiambo Kamau Njoroge Otieno Achieng Mwangi Chebet Kiprono"
            .repeat(3),
        ..sample()
    };
    let no_code = Receipt {
        verify_url: None,
        ..sample()
    };
    let pdf = render(&[sample(), long, no_code], Layout::Roll80).unwrap();
    let pages = page_extents(&pdf);
    assert_eq!(pages.len(), 3);
    for (n, (height, lowest)) in pages.iter().enumerate() {
        assert!(lowest < height, "page {n}: the content fits: {pages:?}");
        let blank = (height - lowest) / MM;
        assert!(
            blank < 10.0,
            "page {n}: {blank:.1} mm of blank paper after the last line: {pages:?}"
        );
    }
    let [(sample_h, _), (long_h, _), (no_code_h, _)] = pages[..] else {
        unreachable!()
    };
    assert!(
        sample_h < 200.0 * MM,
        "shorter than the old fixed page: {sample_h}"
    );
    assert!(
        long_h > sample_h,
        "a long name makes a longer page: {pages:?}"
    );
    assert!(
        no_code_h + 25.0 * MM < sample_h,
        "no code to scan, 30 mm less paper: {pages:?}"
    );
    let a4 = page_extents(&render(&[sample()], Layout::A4).unwrap());
    assert!((a4[0].0 - 841.89).abs() < 0.1, "A4 stays A4: {a4:?}");
}

#[test]
fn a_reprint_says_copy_and_a_card_shows_brand_and_last_digits() {
    let mut r = sample();
    r.copy = true;
    r.method = Method::Card;
    r.card_brand = Some("visa".into());
    r.card_last4 = Some("4081".into());
    r.mpesa_receipt = None;
    let t = text(&render(&[r], Layout::Roll80).unwrap());
    assert!(t.contains("OFFICIAL RECEIPT - COPY"), "{t}");
    assert!(t.contains("Card, VISA ending 4081"), "{t}");
}

#[test]
fn a_batch_is_one_page_per_receipt() {
    let batch: Vec<Receipt> = (1..=3)
        .map(|n| Receipt {
            receipt_number: format!("HQ-R00000{n}"),
            ..sample()
        })
        .collect();
    let pdf = render(&batch, Layout::A4).unwrap();
    assert!(info(&pdf).contains("Pages:           3"), "{}", info(&pdf));
    let t = text(&pdf);
    for n in 1..=3 {
        assert!(t.contains(&format!("HQ-R00000{n}")));
    }
    assert!(render(&[], Layout::A4).is_err());
}

/// The QR code, rasterised as a printer would and read by a barcode reader (zbar), carries the
/// verification link exactly.
#[test]
fn the_code_scans_as_the_verification_link() {
    for (layout, dpi) in [(Layout::A4, "100"), (Layout::Roll80, "150")] {
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("r.pdf");
        std::fs::write(&pdf, render(&[sample()], layout).unwrap()).unwrap();
        let png = dir.path().join("r");
        let raster = Command::new("pdftoppm")
            .args(["-r", dpi, "-png", "-singlefile"])
            .arg(&pdf)
            .arg(&png)
            .status()
            .unwrap();
        assert!(raster.success());
        let out = Command::new("zbarimg")
            .args(["-q", "--raw"])
            .arg(dir.path().join("r.png"))
            .output()
            .unwrap_or_else(|e| panic!("zbarimg (zbar-tools) is needed: {e}"));
        assert!(out.status.success(), "{layout:?}: no code found");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            sample().verify_url.unwrap(),
            "{layout:?}"
        );
    }
}

#[test]
fn without_a_relay_there_is_no_code_to_scan() {
    let mut r = sample();
    r.verify_url = None;
    let t = text(&render(&[r], Layout::A4).unwrap());
    assert!(!t.contains("Scan to verify"), "{t}");
}
