//! Receipts rendered per second on one thread, for both layouts:
//! `cargo bench -p malipo-receipt --bench receipts` (or `scripts/bench-receipts`, which runs
//! Python's ReportLab on the same content in the same run and prints the ratio).
//!
//! `MALIPO_BENCH_RECEIPTS` sets how many of each (default 2000); `MALIPO_BENCH_OUT` names a
//! directory where the sample's content (`sample.json`) and one PDF of each layout are written,
//! so the comparison renders exactly the same receipt.

// Floating point here is for rates, never money.
#![allow(clippy::float_arithmetic)]

use std::time::Instant;

use malipo_domain::{Currency, Method, Money};
use malipo_receipt::{Layout, Office, Receipt, render, words};

fn sample(n: usize) -> Receipt {
    Receipt {
        office: Office {
            name: "Jubilee Insurance, Moi Avenue".into(),
            address: "Jubilee House, Moi Avenue, P.O. Box 30376-00100 Nairobi".into(),
            phone: "+254 20 328 1000".into(),
            kra_pin: "P051234567X".into(),
        },
        receipt_number: format!("HQ-R{n:06}"),
        paid_at: time::macros::datetime!(2026-11-27 07:05 UTC),
        transaction_number: format!("HQ-{n:06}"),
        policy_number: "POL-1001".into(),
        holder: "Amina Wanjiru Odhiambo".into(),
        amount: Money::from_minor(150_050, Currency::Kes).expect("amount"),
        method: Method::Mpesa,
        mpesa_receipt: Some("NLJ7RT61SV".into()),
        card_brand: None,
        card_last4: None,
        tendered: None,
        method_detail: None,
        provisional: false,
        clerk: Some("wanjiku".into()),
        copy: false,
        verify_url: Some(format!(
            "https://relay.example.co.ke/v/0123456789abcdef/HQ-R{n:06}?amount=150050&currency=KES&date=2026-11-27&sig=00112233445566778899aabbccddeeff"
        )),
    }
}

fn json_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn main() {
    let n: usize = std::env::var("MALIPO_BENCH_RECEIPTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    if let Some(dir) = std::env::var_os("MALIPO_BENCH_OUT") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("out dir");
        let r = sample(1);
        let fields = [
            ("office_name", r.office.name.clone()),
            ("office_address", r.office.address.clone()),
            ("office_phone", r.office.phone.clone()),
            ("office_kra_pin", r.office.kra_pin.clone()),
            ("receipt_number", r.receipt_number.clone()),
            ("date", "27 Nov 2026, 10:05 EAT".into()),
            ("transaction", r.transaction_number.clone()),
            ("policy", r.policy_number.clone()),
            ("holder", r.holder.clone()),
            ("amount", r.amount.to_string()),
            ("amount_words", words::amount(r.amount)),
            ("paid_by", "M-Pesa, receipt NLJ7RT61SV".into()),
            ("clerk", "wanjiku".into()),
            ("verify_url", r.verify_url.clone().unwrap_or_default()),
        ];
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("  \"{k}\": \"{}\"", json_escape(v)))
            .collect();
        std::fs::write(
            dir.join("sample.json"),
            format!("{{\n{}\n}}\n", body.join(",\n")),
        )
        .expect("sample");
        for (layout, name) in [(Layout::A4, "a4"), (Layout::Roll80, "80mm")] {
            let pdf = render(std::slice::from_ref(&r), layout).expect("render");
            std::fs::write(dir.join(format!("malipo-{name}.pdf")), pdf).expect("pdf");
        }
    }
    let receipts: Vec<Receipt> = (0..n).map(sample).collect();
    let plain: Vec<Receipt> = receipts
        .iter()
        .map(|r| Receipt {
            verify_url: None,
            ..r.clone()
        })
        .collect();
    for (set, qr) in [(&receipts, ""), (&plain, " without QR")] {
        for (layout, name) in [(Layout::A4, "A4"), (Layout::Roll80, "80 mm")] {
            // Warm up, then time one receipt per document, as a clerk prints them.
            let _ = render(&set[..1], layout).expect("render");
            let started = Instant::now();
            let mut bytes = 0;
            for r in set.iter() {
                bytes += render(std::slice::from_ref(r), layout)
                    .expect("render")
                    .len();
            }
            let secs = started.elapsed().as_secs_f64();
            let label = format!("{name}{qr}");
            println!(
                "malipo-receipt {label:>16}: {:>7.0} receipts/s on one thread ({n} in {secs:.2} s, {} bytes each)",
                n as f64 / secs,
                bytes / n
            );
        }
    }
}
