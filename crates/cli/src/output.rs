//! Printing results: `--json` gives the services' views as JSON; otherwise aligned tables a
//! clerk can read, with money grouped in thousands and dates in Nairobi time.

use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use malipo_app::views::{
    AuditView, InstalmentView, List, PolicyDetails, PolicyRow, PolicyView, SummaryView, TotalsView,
    TransactionView, UserView,
};
use malipo_app::{CheckStatus, ImportReport, SavedCardView};
use malipo_domain::time_zone::{self, NAIROBI, parse_day};
use malipo_domain::{Currency, Money};

pub struct Output {
    pub json: bool,
}

fn print_json<T: Serialize + ?Sized>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("malipo: cannot print JSON: {e}"),
    }
}

/// `1500.00` + `KES` → `KES 1,500.00`; the services' decimal strings are exact.
fn money(minor: i64, currency: &str) -> String {
    let c = Currency::from_code(currency).unwrap_or_default();
    Money::from_minor(minor, c)
        .map(|m| m.to_string())
        .unwrap_or_else(|_| format!("{currency} ?"))
}

/// A decimal string from the services (`750.00`) with its currency, grouped: `KES 750.00`.
fn decimal(amount: &str, currency: &str) -> String {
    let c = Currency::from_code(currency).unwrap_or_default();
    match Money::parse(amount, c) {
        Ok(m) => m.to_string(),
        // Zero is not a payment, so `parse` refuses it; it is still a figure here.
        Err(_) if amount.bytes().all(|b| b == b'0' || b == b'.') => format!("{c} 0.00"),
        Err(_) => format!("{currency} {amount}"),
    }
}

fn drawer_row(d: &malipo_app::DrawerView) -> Vec<String> {
    vec![
        d.clerk.clone(),
        d.payments.to_string(),
        money(d.received_minor, &d.currency),
        money(d.paid_out_minor, &d.currency),
        money(d.expected_minor, &d.currency),
        d.counted_minor
            .map(|c| money(c, &d.currency))
            .unwrap_or_else(|| "open".into()),
        d.variance.clone().unwrap_or_default(),
        d.signed_off_by.clone().unwrap_or_default(),
    ]
}

/// RFC 3339 → `27/11/2026 11:04` in Nairobi time.
fn local(at: &str) -> String {
    OffsetDateTime::parse(at, &Rfc3339)
        .ok()
        .and_then(|t| {
            t.to_offset(NAIROBI)
                .format(format_description!("[day]/[month]/[year] [hour]:[minute]"))
                .ok()
        })
        .unwrap_or_else(|| at.to_owned())
}

fn table(headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}", w = *w))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(headers.iter().map(|h| (*h).to_owned()).collect());
    for row in rows {
        line(row.clone());
    }
}

/// `page` 0: a page reached with `--after`.
fn page_note(shown: usize, total: i64, page: u32, per_page: u32, noun: &str) {
    if total == 0 {
        println!("No {noun} found.");
        return;
    }
    if page == 0 {
        // A page walked to with --after: where it starts is not counted.
        println!("Showing {shown} of {total} {noun}.");
        return;
    }
    let first = i64::from(page.saturating_sub(1)) * i64::from(per_page) + 1;
    if shown == 0 {
        println!("Page {page} is past the end: {total} {noun} in all.");
    } else {
        println!(
            "Showing {first}–{} of {total} {noun}.",
            first + shown as i64 - 1
        );
    }
}

/// `1 payment`, `3 payments`.
fn payments(n: i64) -> String {
    if n == 1 {
        "1 payment".to_owned()
    } else {
        format!("{n} payments")
    }
}

/// `2026-11-30` as Kenyans write it: `30/11/2026`.
pub fn kenyan_date(iso: &str) -> String {
    parse_day(iso).map_or_else(|| iso.to_owned(), time_zone::kenyan_date)
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".to_owned())
}

impl Output {
    pub fn policy(&self, p: &PolicyView) {
        if self.json {
            return print_json(p);
        }
        println!("Policy {}: {} ({})", p.number, p.holder, p.phone);
        println!(
            "Premium {} {}",
            money(p.premium_minor, &p.currency),
            p.frequency
        );
        if let Some(e) = &p.email {
            println!("E-mail {e}");
        }
    }

    pub fn import(&self, r: &ImportReport) {
        if self.json {
            return print_json(r);
        }
        let policies = |n: usize| {
            if n == 1 {
                "1 policy".to_owned()
            } else {
                format!("{n} policies")
            }
        };
        if !r.refused.is_empty() {
            println!(
                "{} refused:",
                if r.refused.len() == 1 {
                    "1 row".to_owned()
                } else {
                    format!("{} rows", r.refused.len())
                }
            );
            for refused in &r.refused {
                println!("  {refused}");
            }
            return;
        }
        let what = format!(
            "{} added, {} updated, {} unchanged",
            policies(r.added.len()),
            r.updated.len(),
            r.unchanged
        );
        if r.dry_run {
            println!(
                "All {} rows are valid: {what} if imported; nothing was written (dry run).",
                r.rows
            );
        } else {
            println!("{what}; {}.", r.register);
        }
    }

    pub fn company_summary(&self, s: &malipo_app::CompanyView) {
        if self.json {
            return print_json(s);
        }
        println!("The company, in {}", s.currency);
        let row = |name: &str, t: &TotalsView| {
            vec![
                name.to_owned(),
                t.count.to_string(),
                money(t.amount_minor, &s.currency),
            ]
        };
        let mut rows = vec![
            row("collected", &s.succeeded),
            row("attempted", &s.all),
            row("waiting", &s.pending),
            row("failed", &s.failed),
        ];
        if s.needs_review.count > 0 {
            rows.push(row("needs review", &s.needs_review));
        }
        table(&["", "COUNT", "AMOUNT"], &rows);
        let split = |f: &malipo_app::views::KeyedFigures| {
            vec![
                f.key.clone(),
                money(f.collected.amount_minor, &s.currency),
                payments(f.collected.count),
                money(f.attempted.amount_minor, &s.currency),
                payments(f.attempted.count),
            ]
        };
        for (title, list) in [
            ("BRANCH", &s.by_office),
            ("COUNTER", &s.by_counter),
            ("METHOD", &s.by_method),
            ("CLERK", &s.by_clerk),
        ] {
            if !list.is_empty() {
                println!();
                let rows: Vec<_> = list.iter().map(split).collect();
                table(&[title, "COLLECTED", "", "ATTEMPTED", ""], &rows);
            }
        }
    }

    pub fn policies(&self, list: &List<PolicyRow>, page: u32, per_page: u32) {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|r| {
                let p = &r.policy;
                let next = match (&r.next_due_date, r.next_due_minor) {
                    (Some(date), Some(minor)) => {
                        format!("{} {}", kenyan_date(date), money(minor, &p.currency))
                    }
                    _ => "paid up".to_owned(),
                };
                let overdue = match r.days_overdue {
                    0 => "-".to_owned(),
                    1 => format!("1 day, {}", money(r.overdue_minor, &p.currency)),
                    n => format!("{n} days, {}", money(r.overdue_minor, &p.currency)),
                };
                let standing = match (&r.grace_ends, &r.lapsed_since) {
                    (Some(ends), _) => format!("grace to {}", kenyan_date(ends)),
                    (_, Some(since)) => format!("lapsed {}", kenyan_date(since)),
                    _ if r.awaiting_reinstatement => "lapsed, paid up: a manager reinstates".into(),
                    _ => r.standing.clone(),
                };
                vec![
                    p.number.clone(),
                    p.holder.clone(),
                    p.phone.clone(),
                    next,
                    overdue,
                    money(r.paid_to_date_minor, &p.currency),
                    standing,
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(
                &[
                    "POLICY",
                    "HOLDER",
                    "PHONE",
                    "NEXT DUE",
                    "OVERDUE",
                    "PAID TO DATE",
                    "STANDING",
                ],
                &rows,
            );
        }
        page_note(rows.len(), list.total, page, per_page, "policies");
    }

    pub fn policy_details(&self, d: &PolicyDetails) {
        if self.json {
            return print_json(d);
        }
        self.policy(&d.policy);
        match (d.standing.as_str(), &d.grace_ends, &d.lapsed_since) {
            (_, Some(ends), _) => println!("In grace until {}", kenyan_date(ends)),
            (_, _, Some(since)) => {
                println!("Lapsed since {}: its arrears are due", kenyan_date(since))
            }
            ("lapsed", ..) if d.awaiting_reinstatement => println!(
                "Lapsed in the company register, its arrears paid: a manager reinstates it (malipo policy reinstate {})",
                d.policy.number
            ),
            _ => {}
        }
        if d.credit_minor > 0 {
            println!(
                "Credit: {} paid ahead, for the next instalments",
                money(d.credit_minor, &d.policy.currency)
            );
        }
        if let Some(c) = &d.collection {
            self.collection(c);
        }
        println!();
        self.schedule(&List::of(d.instalments.clone(), d.instalments.len() as i64));
        println!();
        self.transactions(&d.transactions, 1, 50);
    }

    pub fn transactions(&self, list: &List<TransactionView>, page: u32, per_page: u32) {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|t| {
                vec![
                    t.number.clone(),
                    local(&t.created_at),
                    t.policy.clone(),
                    t.method.to_string(),
                    t.status.to_string(),
                    money(t.amount_minor, &t.currency),
                    opt(&t.receipt_number),
                ]
            })
            .collect();
        if !rows.is_empty() {
            table(
                &[
                    "NUMBER", "WHEN", "POLICY", "METHOD", "STATUS", "AMOUNT", "RECEIPT",
                ],
                &rows,
            );
        }
        if list.more {
            println!(
                "Showing {} of more than {} payments: narrow the search to count them all.",
                rows.len(),
                list.total
            );
        } else {
            page_note(rows.len(), list.total, page, per_page, "payments");
        }
        if let Some(next) = &list.next {
            println!("Next page: --after {next}");
        }
    }

    pub fn transaction(&self, t: &TransactionView) {
        if self.json {
            return print_json(t);
        }
        let rows = [
            ("Number", t.number.clone()),
            ("Status", t.status.to_string()),
            ("Amount", money(t.amount_minor, &t.currency)),
            ("Refunded", money(t.refunded_minor, &t.currency)),
            ("Method", t.method.to_string()),
            ("Policy", format!("{} ({})", t.policy, t.holder)),
            ("Phone", opt(&t.phone)),
            ("Payer", opt(&t.payer)),
            ("E-mail", opt(&t.email)),
            ("Reference", t.reference.clone()),
            ("Provider ref", opt(&t.provider_ref)),
            ("Provider receipt", opt(&t.provider_receipt)),
            ("Receipt", opt(&t.receipt_number)),
            (
                "Failure",
                match (&t.failure_code, &t.failure_reason) {
                    (None, None) => "-".to_owned(),
                    (c, r) => format!("{} {}", opt(c), opt(r)),
                },
            ),
            (
                "Card",
                match (&t.card_brand, &t.card_last4) {
                    (Some(b), Some(l)) => format!("{b} •••• {l}"),
                    _ => "-".to_owned(),
                },
            ),
            ("Checkout", opt(&t.authorization_url)),
            (
                "Cash",
                match (&t.tendered, &t.change) {
                    (Some(tendered), Some(change)) => format!(
                        "{} tendered, change {}",
                        decimal(tendered, &t.currency),
                        decimal(change, &t.currency)
                    ),
                    _ => "-".to_owned(),
                },
            ),
            ("Clerk", opt(&t.clerk)),
            ("Created", local(&t.created_at)),
            ("Updated", local(&t.updated_at)),
        ];
        for (k, v) in rows {
            println!("{k:<17} {v}");
        }
    }

    pub fn summary(&self, s: &SummaryView) {
        if self.json {
            return print_json(s);
        }
        let range = match (&s.from, &s.to) {
            (None, None) => "all time".to_owned(),
            (f, t) => format!(
                "{} to {}",
                f.as_deref().unwrap_or("the start"),
                t.as_deref().unwrap_or("today")
            ),
        };
        println!("Summary in {}, {range}", s.currency);
        let row = |name: &str, t: &TotalsView| {
            vec![
                name.to_owned(),
                t.count.to_string(),
                money(t.amount_minor, &s.currency),
            ]
        };
        let mut rows = vec![
            row("collected", &s.collected),
            row("refunded", &s.refunded),
            row("net", &s.net),
            row("attempted", &s.attempted),
            row("waiting", &s.pending),
            row("failed", &s.failed),
        ];
        if s.needs_review.count > 0 {
            rows.push(row("needs review", &s.needs_review));
        }
        table(&["", "COUNT", "AMOUNT"], &rows);
        let split = |name: &str, f: &malipo_app::views::KeyedFigures| {
            vec![
                name.to_owned(),
                money(f.collected.amount_minor, &s.currency),
                payments(f.collected.count),
                money(f.attempted.amount_minor, &s.currency),
                payments(f.attempted.count),
            ]
        };
        let headers = ["", "COLLECTED", "", "ATTEMPTED", ""];
        if !s.by_method.is_empty() {
            println!();
            let rows: Vec<_> = s.by_method.iter().map(|k| split(&k.key, k)).collect();
            table(&[&["METHOD"], &headers[1..]].concat(), &rows);
        }
        if !s.by_clerk.is_empty() {
            println!();
            let rows: Vec<_> = s.by_clerk.iter().map(|k| split(&k.key, k)).collect();
            table(&[&["CLERK"], &headers[1..]].concat(), &rows);
        }
        if !s.by_day.is_empty() {
            println!();
            let rows: Vec<_> = s
                .by_day
                .iter()
                .map(|d| {
                    vec![
                        kenyan_date(&d.date),
                        money(d.collected.amount_minor, &s.currency),
                        payments(d.collected.count),
                        money(d.attempted.amount_minor, &s.currency),
                        payments(d.attempted.count),
                    ]
                })
                .collect();
            table(&[&["DAY"], &headers[1..]].concat(), &rows);
        }
    }

    pub fn schedule(&self, list: &List<InstalmentView>) {
        if self.json {
            return print_json(list);
        }
        let rows: Vec<Vec<String>> = list
            .items
            .iter()
            .map(|i| {
                vec![
                    i.policy.clone(),
                    i.holder.clone(),
                    i.seq.to_string(),
                    kenyan_date(&i.due_date),
                    if i.days_overdue > 0 {
                        format!("{} ({}d)", i.status.as_str(), i.days_overdue)
                    } else {
                        i.status.as_str().to_owned()
                    },
                    money(i.outstanding_minor, &i.currency),
                ]
            })
            .collect();
        if rows.is_empty() {
            println!("No instalments found.");
        } else {
            table(
                &["POLICY", "HOLDER", "#", "DUE", "STATUS", "OUTSTANDING"],
                &rows,
            );
        }
    }

    pub fn doctor(&self, report: &malipo_app::DoctorReport) {
        if self.json {
            return print_json(report);
        }
        let width = report
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0);
        for c in &report.checks {
            let status = match c.status {
                CheckStatus::Pass => "pass",
                CheckStatus::Warn => "WARN",
                CheckStatus::Fail => "FAIL",
            };
            println!("{status}  {:<width$}  {}", c.name, c.message);
        }
        let count = |s: CheckStatus| report.checks.iter().filter(|c| c.status == s).count();
        let (fails, warns) = (count(CheckStatus::Fail), count(CheckStatus::Warn));
        println!();
        match (fails, warns) {
            (0, 0) => println!("Every check passed."),
            (0, w) => println!(
                "No check failed; {w} {} worth a look.",
                if w == 1 { "warning" } else { "warnings" }
            ),
            (f, w) => println!(
                "{f} {} to fix before going live, {w} {}.",
                if f == 1 { "problem" } else { "problems" },
                if w == 1 { "warning" } else { "warnings" }
            ),
        }
    }

    pub fn cards(&self, cards: &[SavedCardView]) {
        if self.json {
            return print_json(&json!({ "items": cards, "total": cards.len() }));
        }
        if cards.is_empty() {
            println!("No saved cards.");
            return;
        }
        let rows: Vec<_> = cards
            .iter()
            .map(|c| {
                vec![
                    c.brand.clone(),
                    format!("•••• {}", c.last4),
                    c.expiry.clone(),
                    c.bank.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(&["CARD", "NUMBER", "EXPIRES", "BANK"], &rows);
    }

    pub fn reconcile(&self, r: &malipo_app::ReconcileReport) {
        if self.json {
            return print_json(r);
        }
        println!(
            "{}: {} here, {} succeeded",
            kenyan_date(&r.date),
            payments(r.local_payments as i64),
            r.local_succeeded
        );
        if r.card_checked {
            println!(
                "  cards: Paystack confirms {}, {} match",
                r.card.confirmed, r.card.matched
            );
        } else {
            println!("  cards: not checked (no Paystack settings)");
        }
        println!(
            "  M-Pesa: {} receipts seen in callbacks, {} match",
            r.mpesa.confirmed, r.mpesa.matched
        );
        println!(
            "  M-Pesa Pay Bill: {} confirmations, {} match",
            r.paybill.confirmed, r.paybill.matched
        );
        match r.ledger.covered_by.as_str() {
            "callbacks" | "" => println!(
                "  M-Pesa's ledger: the day is not yet covered by a pull or an imported statement (only callbacks)"
            ),
            by => println!(
                "  M-Pesa's ledger ({by}, up to {}): {} paid in, {} recorded by the company",
                r.ledger.covered_until.as_deref().unwrap_or("-"),
                r.ledger.ledger_count,
                r.ledger.recorded_count
            ),
        }
        for d in &r.cash {
            println!(
                "  cash, {}: {} received, {} paid out, {} expected; {}",
                d.clerk,
                money(d.received_minor, &d.currency),
                money(d.paid_out_minor, &d.currency),
                money(d.expected_minor, &d.currency),
                match (&d.counted_minor, &d.variance) {
                    (Some(c), Some(v)) => format!(
                        "counted {}, variance {v}{}",
                        money(*c, &d.currency),
                        d.signed_off_by
                            .as_deref()
                            .map(|b| format!(", signed off by {b}"))
                            .unwrap_or_default()
                    ),
                    _ => "not closed".to_owned(),
                }
            );
        }
        let p = &r.cash_position;
        if p.received_minor > 0 {
            println!(
                "  office cash: {} not yet deposited ({} received, {} refunded, {} deposited)",
                money(p.undeposited_minor, &p.currency),
                money(p.received_minor, &p.currency),
                money(p.paid_out_minor, &p.currency),
                money(p.deposited_minor, &p.currency)
            );
        }
        if r.differences.is_empty() {
            println!("No differences.");
            return;
        }
        println!("{} differences:", r.differences.len());
        for d in &r.differences {
            println!(
                "  [{} {}] {}: {}",
                d.method,
                d.kind,
                d.number
                    .as_deref()
                    .or(d.reference.as_deref())
                    .unwrap_or("-"),
                d.explanation
            );
        }
    }

    pub fn receipt(
        &self,
        r: &malipo_app::ReceiptFile,
        path: &std::path::Path,
        printed: Option<&malipo_app::Printed>,
    ) {
        if self.json {
            return print_json(&json!({
                "receipt_number": r.receipt_number,
                "copy": r.copy,
                "file": path.display().to_string(),
                "bytes": r.pdf.len(),
                "verify_url": r.verify_url,
                "printed": printed,
            }));
        }
        println!(
            "Receipt {}{} saved to {}",
            r.receipt_number,
            if r.copy { " (COPY)" } else { "" },
            path.display()
        );
        if let Some(p) = printed {
            println!("{} via {}: {}", p.how, p.via, p.message);
        }
    }

    pub fn orphans(&self, list: &[malipo_app::OrphanView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No provider events wait for review.");
            return;
        }
        for o in list {
            println!(
                "{:>6}  {}  {:<7}  {} {}  {}{}",
                o.seq,
                o.received_at,
                o.outcome,
                o.provider,
                o.kind,
                o.note,
                o.resolution
                    .as_deref()
                    .map(|r| format!(" (resolved: {r})"))
                    .unwrap_or_default()
            );
        }
    }

    pub fn registered_urls(&self, r: &malipo_app::RegisteredUrls) {
        if self.json {
            return print_json(r);
        }
        println!(
            "Safaricom registered the C2B URLs for shortcode {} ({} RegisterURL): {}",
            r.shortcode, r.version, r.answer
        );
        println!("Validation URL    {}", r.validation_url);
        println!("Confirmation URL  {}", r.confirmation_url);
        println!(
            "When validation does not answer in time, Safaricom marks payments {}.",
            r.response_type
        );
    }

    pub fn pull_registered(&self, r: &malipo_app::PullRegistered) {
        if self.json {
            return print_json(r);
        }
        println!(
            "Shortcode {} is registered for Pull Transactions (nominated number {}): {}",
            r.shortcode, r.nominated, r.answer
        );
        println!("Sync now pulls M-Pesa's list of payments every mpesa.pull_minutes (default 30).");
    }

    pub fn pulled(&self, r: &malipo_app::PullReport) {
        if self.json {
            return print_json(r);
        }
        println!(
            "M-Pesa listed {} payments from {} to {}.",
            r.seen, r.from, r.to
        );
        println!(
            "Recorded now {}, recorded before {}, on the suspense list {}, left for a later pull {}.",
            r.recorded, r.already, r.suspense, r.waiting
        );
    }

    pub fn statement_import(&self, r: &malipo_app::StatementImport) {
        if self.json {
            return print_json(r);
        }
        if r.imported_before {
            println!("This statement was imported before; nothing changed.");
        }
        println!(
            "{} rows{}{}: {} matched, {} recovered, {} not premiums, {} refused.{}",
            r.rows,
            r.shortcode
                .as_deref()
                .map(|s| format!(" of shortcode {s}"))
                .unwrap_or_default(),
            r.period
                .as_deref()
                .map(|p| format!(" for {p}"))
                .unwrap_or_default(),
            r.matched,
            r.recovered,
            r.not_premium,
            r.refused,
            if r.dry_run {
                " (dry run: nothing was asked or recorded)"
            } else {
                ""
            }
        );
        for l in &r.recovered_rows {
            println!("  recovered  row {:>6}  {}  {}", l.line, l.receipt, l.why);
        }
        for l in &r.refused_rows {
            println!("  refused    row {:>6}  {}  {}", l.line, l.receipt, l.why);
        }
    }

    pub fn suspense(&self, list: &[malipo_app::SuspenseView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("Nothing is on the suspense list.");
            return;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|i| {
                vec![
                    i.trans_id.clone(),
                    local(&i.paid_at),
                    money(i.amount_minor, &i.currency),
                    format!("{:?}", i.account),
                    format!("{} {}", i.payer, i.msisdn),
                    match (&i.policy, i.status.as_str()) {
                        (Some(p), _) => format!("allocated to {p}"),
                        (None, "refund") => "to refund".to_owned(),
                        _ => i.status.clone(),
                    },
                ]
            })
            .collect();
        table(
            &["CODE", "PAID", "AMOUNT", "ACCOUNT TYPED", "PAYER", "STATUS"],
            &rows,
        );
    }

    pub fn suspense_decided(&self, d: &malipo_app::SuspenseDecided) {
        if self.json {
            return print_json(d);
        }
        match &d.payment {
            Some(p) => println!(
                "{} of {} allocated to policy {}: recorded as {}, receipt {}.",
                d.item.trans_id,
                money(d.item.amount_minor, &d.item.currency),
                p.policy,
                p.number,
                opt(&p.receipt_number)
            ),
            None => println!(
                "{} of {} marked for refund: reverse it in the M-Pesa business portal.",
                d.item.trans_id,
                money(d.item.amount_minor, &d.item.currency)
            ),
        }
    }

    pub fn messages(&self, list: &[malipo_app::MessageView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No messages.");
            return;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|m| {
                vec![
                    m.id.to_string(),
                    local(&m.created_at),
                    m.policy.clone(),
                    format!("{} {}", m.channel, m.purpose),
                    m.status.clone(),
                    opt(&m.recipient),
                    opt(&m.problem),
                ]
            })
            .collect();
        table(
            &["ID", "QUEUED", "POLICY", "WHAT", "STATUS", "TO", "NOTE"],
            &rows,
        );
    }

    pub fn send_report(&self, r: &malipo_app::SendReport) {
        if self.json {
            return print_json(r);
        }
        println!(
            "{} reminders queued; {} sent, {} failed, {} skipped, {} to try later.",
            r.queued_reminders, r.sent, r.failed, r.skipped, r.later
        );
    }

    pub fn reminders(&self, list: &[malipo_app::ReminderView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No reminder is due today.");
            return;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                vec![
                    r.policy.clone(),
                    r.holder.clone(),
                    r.seq.to_string(),
                    kenyan_date(&r.due_date),
                    match r.offset {
                        0 => "due today".to_owned(),
                        d if d < 0 => format!("{} days before", -d),
                        d => format!("{d} days late"),
                    },
                    r.outstanding.clone(),
                    if r.already {
                        "queued already"
                    } else {
                        "to queue"
                    }
                    .to_owned(),
                ]
            })
            .collect();
        table(
            &["POLICY", "HOLDER", "#", "DUE", "STEP", "OUTSTANDING", ""],
            &rows,
        );
    }

    pub fn collected(&self, r: &malipo_app::collector::CollectReport) {
        if self.json {
            return print_json(r);
        }
        for i in &r.items {
            println!(
                "{:<16} #{:<3} due {}  {:>14}  {:<12}  {}{}{}",
                i.policy,
                i.seq,
                i.due_date,
                format!("{} {}", i.currency, i.amount),
                i.kind.replace('_', " "),
                i.outcome.replace('_', " "),
                i.transaction
                    .as_deref()
                    .map(|t| format!(" {t}"))
                    .unwrap_or_default(),
                i.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default(),
            );
        }
        println!(
            "{} charged, {} prompted, {} failed, {} skipped.",
            r.charged, r.prompted, r.failed, r.skipped
        );
    }

    pub fn collection(&self, c: &malipo_app::CollectionView) {
        if self.json {
            return print_json(c);
        }
        match c.kind.as_str() {
            "card" => println!(
                "{}: its saved card ending {} is charged on each due date (consent taken {} by {}: {}).",
                c.policy,
                c.card_last4.as_deref().unwrap_or("?"),
                c.consent_how.as_deref().unwrap_or("-").replace('_', " "),
                c.consent_by.as_deref().unwrap_or("-"),
                c.consent.as_deref().unwrap_or("-")
            ),
            "mpesa_prompt" => println!(
                "{}: an M-Pesa prompt goes to {} on each due date (consent taken {} by {}: {}).",
                c.policy,
                c.phone.as_deref().unwrap_or("the policy's phone"),
                c.consent_how.as_deref().unwrap_or("-").replace('_', " "),
                c.consent_by.as_deref().unwrap_or("-"),
                c.consent.as_deref().unwrap_or("-")
            ),
            "ratiba" => {
                println!(
                    "{}: an M-Pesa Ratiba standing order on {} (consent taken {} by {}: {}).",
                    c.policy,
                    c.phone.as_deref().unwrap_or("the policy's phone"),
                    c.consent_how.as_deref().unwrap_or("-").replace('_', " "),
                    c.consent_by.as_deref().unwrap_or("-"),
                    c.consent.as_deref().unwrap_or("-")
                );
                if let Some(o) = &c.standing_order {
                    standing_order(o);
                }
            }
            _ => println!(
                "{}: collected at the counter (reminders only){}.",
                c.policy,
                c.stopped_reason
                    .as_deref()
                    .map(|r| format!("; {r}"))
                    .unwrap_or_default()
            ),
        }
    }

    pub fn mpesa_routes(&self, r: &malipo_app::MpesaRoutes) {
        if self.json {
            return print_json(r);
        }
        let h = &r.mpesa;
        println!(
            "M-Pesa is {} ({} calls in the last 5 minutes: {} timed out, {} unreachable, {} server errors, {} busy){}",
            h.state,
            h.calls,
            h.timeouts,
            h.unreachable,
            h.server_errors,
            h.busy,
            h.last_answered
                .as_deref()
                .map(|a| format!("; last answered {}", local(a)))
                .unwrap_or_default()
        );
        if r.daraja_down {
            println!("Ways round it:");
            match &r.paybill {
                Some(p) => println!(
                    "  the paybill: the customer pays Pay Bill {p} with the policy number as the account (`malipo pay mpesa-paybill`)"
                ),
                None => println!("  the paybill: not set up here"),
            }
            println!(
                "  M-Pesa through Paystack: {}",
                if r.paystack_mpesa {
                    "`malipo pay mpesa-paystack`"
                } else {
                    "not available (no Paystack account in Kenya shillings)"
                }
            );
        }
    }

    pub fn paybill_route(&self, r: &malipo_app::PaybillRoute) {
        if self.json {
            return print_json(r);
        }
        println!(
            "Ask the customer to pay from their phone: Lipa na M-Pesa, Pay Bill {}, account {}, amount {}.{}",
            r.shortcode,
            r.account,
            money(r.amount_minor, &r.currency),
            if r.sms_queued {
                " The same went to the policy's phone by SMS."
            } else {
                " No SMS was sent now (the holder asked for none, or it went today already)."
            }
        );
        println!(
            "It arrives as a paybill payment (`malipo paybill list`), proven and receipted as every one is."
        );
    }

    pub fn cheque(&self, c: &malipo_app::ChequeView) {
        if self.json {
            return print_json(c);
        }
        let t = &c.payment;
        println!(
            "{} cheque no. {} ({}, drawn by {}, dated {}) for {} ({}): {}{}{}",
            t.number,
            c.number,
            c.bank,
            c.drawer,
            c.dated,
            t.policy,
            money(t.amount_minor, &t.currency),
            c.state,
            if c.post_dated { ", post-dated" } else { "" },
            match (&c.state[..], &t.receipt_number, &c.bounce_reason) {
                ("bounced", _, Some(why)) => format!(
                    "; returned unpaid: {why}{}",
                    c.bounce_fee
                        .as_deref()
                        .map(|f| format!(" (fee {})", decimal(f, &t.currency)))
                        .unwrap_or_default()
                ),
                ("cleared", Some(r), _) => format!("; receipt {r}"),
                (_, Some(r), _) => format!("; receipt {r} (subject to clearance)"),
                _ => String::new(),
            }
        );
    }

    pub fn cheques(&self, list: &[malipo_app::ChequeView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No cheques.");
            return;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|c| {
                vec![
                    c.payment.number.clone(),
                    c.number.clone(),
                    c.bank.clone(),
                    c.drawer.clone(),
                    c.dated.clone(),
                    money(c.payment.amount_minor, &c.payment.currency),
                    c.payment.policy.clone(),
                    format!(
                        "{}{}",
                        c.state,
                        if c.post_dated { " (post-dated)" } else { "" }
                    ),
                ]
            })
            .collect();
        table(
            &[
                "PAYMENT", "CHEQUE", "BANK", "DRAWER", "DATED", "AMOUNT", "POLICY", "STATE",
            ],
            &rows,
        );
    }

    pub fn slip(&self, s: &malipo_app::SlipView) {
        if self.json {
            return print_json(s);
        }
        let t = &s.payment;
        println!(
            "{} bank slip {} for {} ({}): {}{}",
            t.number,
            s.bank_ref,
            t.policy,
            money(t.amount_minor, &t.currency),
            t.status,
            match (&s.decided_by, &t.receipt_number) {
                (Some(by), Some(r)) => format!("; confirmed by {by}, receipt {r}"),
                (Some(by), None) => format!("; not found in the bank ({by})"),
                _ => "; not money until a manager finds it in the bank".to_owned(),
            }
        );
    }

    pub fn slips(&self, list: &[malipo_app::SlipView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No bank slips waiting.");
            return;
        }
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|s| {
                vec![
                    s.payment.number.clone(),
                    s.bank_ref.clone(),
                    money(s.payment.amount_minor, &s.payment.currency),
                    s.payment.policy.clone(),
                    s.payment.status.to_string(),
                    s.decided_by.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(
            &[
                "PAYMENT",
                "BANK REF",
                "AMOUNT",
                "POLICY",
                "STATUS",
                "DECIDED BY",
            ],
            &rows,
        );
    }

    pub fn bank_statement(&self, r: &malipo_app::BankStatementReport) {
        if self.json {
            return print_json(r);
        }
        println!(
            "{} rows: {} slips confirmed, {} with another amount, {} decided before, {} other credits, {} unreadable",
            r.rows,
            r.confirmed.len(),
            r.amount_differs.len(),
            r.already,
            r.not_slips,
            r.refused.len()
        );
        for s in &r.confirmed {
            println!(
                "  confirmed {} {} ({}), receipt {}",
                s.payment.number,
                s.bank_ref,
                money(s.payment.amount_minor, &s.payment.currency),
                s.payment.receipt_number.as_deref().unwrap_or("-")
            );
        }
        for d in r.amount_differs.iter().chain(&r.refused) {
            println!("  {d}");
        }
    }

    pub fn cash_report(&self, r: &malipo_app::CashReport) {
        if self.json {
            return print_json(r);
        }
        println!("Cash on {}", r.day);
        if r.drawers.is_empty() {
            println!("No cash in or out of any drawer that day.");
        } else {
            let rows: Vec<Vec<String>> = r.drawers.iter().map(drawer_row).collect();
            table(
                &[
                    "CLERK",
                    "PAYMENTS",
                    "RECEIVED",
                    "PAID OUT",
                    "EXPECTED",
                    "COUNTED",
                    "VARIANCE",
                    "SIGNED OFF",
                ],
                &rows,
            );
        }
        if !r.awaiting_sign_off.is_empty() {
            println!("\nClosed, awaiting a manager's sign-off:");
            let rows: Vec<Vec<String>> = r
                .awaiting_sign_off
                .iter()
                .map(|d| {
                    vec![
                        d.day.clone(),
                        d.clerk.clone(),
                        money(d.expected_minor, &d.currency),
                        d.counted_minor
                            .map(|c| money(c, &d.currency))
                            .unwrap_or_default(),
                        d.variance.clone().unwrap_or_default(),
                    ]
                })
                .collect();
            table(&["DAY", "CLERK", "EXPECTED", "COUNTED", "VARIANCE"], &rows);
        }
        let p = &r.position;
        println!(
            "\nOffice cash: {} received, {} paid out, {} deposited; {} not yet deposited.",
            money(p.received_minor, &p.currency),
            money(p.paid_out_minor, &p.currency),
            money(p.deposited_minor, &p.currency),
            money(p.undeposited_minor, &p.currency)
        );
        for d in &r.deposits {
            println!(
                "  deposit {} {} ({}, {})",
                money(d.amount_minor, &d.currency),
                d.bank_ref,
                d.made_by,
                local(&d.made_at)
            );
        }
    }

    pub fn drawer(&self, d: &malipo_app::DrawerView) {
        if self.json {
            return print_json(d);
        }
        println!(
            "{}'s cash on {}: expected {}, counted {}, variance {}{}",
            d.clerk,
            d.day,
            money(d.expected_minor, &d.currency),
            d.counted_minor
                .map(|c| money(c, &d.currency))
                .unwrap_or_else(|| "-".into()),
            d.variance.as_deref().unwrap_or("-"),
            match (&d.signed_off_by, &d.sign_off_note) {
                (Some(by), Some(note)) => format!("; signed off by {by}: {note}"),
                (Some(by), None) => format!("; signed off by {by}"),
                _ if d.closed => "; awaiting a manager's sign-off".to_owned(),
                _ => String::new(),
            }
        );
    }

    pub fn deposit(&self, d: &malipo_app::DepositView) {
        if self.json {
            return print_json(d);
        }
        println!(
            "Deposit {} recorded: {} (bank reference {}).",
            d.id,
            money(d.amount_minor, &d.currency),
            d.bank_ref
        );
    }

    /// A one-line confirmation (`{"ok": true, "message": …}` with --json).
    pub fn done(&self, message: &str) {
        if self.json {
            return print_json(&json!({ "ok": true, "message": message }));
        }
        println!("{message}");
    }

    pub fn refund(&self, r: &malipo_app::RefundView) {
        if self.json {
            return print_json(r);
        }
        println!(
            "Refund {} of {} on {} ({}, {}): {}{}{}",
            r.id,
            money(r.amount_minor, &r.currency),
            r.transaction,
            r.policy,
            r.holder,
            r.status,
            r.decision_note
                .as_deref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default(),
            r.failure_reason
                .as_deref()
                .map(|f| format!(" ({f})"))
                .unwrap_or_default()
        );
    }

    pub fn refunds(&self, list: &[malipo_app::RefundView]) {
        if self.json {
            return print_json(&json!({ "items": list, "total": list.len() }));
        }
        if list.is_empty() {
            println!("No refunds.");
            return;
        }
        println!(
            "{:>5}  {:<12} {:<10} {:<22} {:>16}  {:<10}  {:<12} REASON",
            "ID", "PAYMENT", "POLICY", "HOLDER", "AMOUNT", "STATUS", "BY"
        );
        for r in list {
            println!(
                "{:>5}  {:<12} {:<10} {:<22} {:>16}  {:<10}  {:<12} {}",
                r.id,
                r.transaction,
                r.policy,
                r.holder.chars().take(22).collect::<String>(),
                money(r.amount_minor, &r.currency),
                r.status,
                r.requested_by,
                r.reason
            );
        }
    }

    /// One sync round: a JSON object per line with --json (so a long-running sync streams).
    pub fn sync(&self, r: &malipo_app::SyncReport) {
        if self.json {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
            return;
        }
        println!(
            "sync: sent {} payments; {} events ({} applied, {} unchanged, {} other offices', {} orphans, {} ignored, {} unconfirmed claims for review, {} waiting for the provider); asked about {}; cursor {}",
            r.uploaded,
            r.pulled,
            r.applied,
            r.unchanged,
            r.other_office,
            r.orphans,
            r.ignored,
            r.suspect,
            r.held,
            r.queried,
            r.cursor
        );
        for problem in &r.problems {
            eprintln!("malipo: sync: {problem}");
        }
    }

    pub fn user(&self, u: &UserView) {
        if self.json {
            return print_json(u);
        }
        println!("Added {} as {}.", u.username, u.role);
    }

    pub fn users(&self, users: &[UserView]) {
        if self.json {
            return print_json(&json!({ "items": users, "total": users.len() }));
        }
        let rows: Vec<_> = users
            .iter()
            .map(|u| {
                vec![
                    u.username.clone(),
                    u.role.to_string(),
                    if u.active { "yes" } else { "no" }.to_owned(),
                ]
            })
            .collect();
        table(&["USER", "ROLE", "ACTIVE"], &rows);
    }

    pub fn settings(&self, settings: &[(String, String)]) {
        if self.json {
            let map: serde_json::Map<String, serde_json::Value> = settings
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            return print_json(&map);
        }
        for (k, v) in settings {
            println!("{k:<16} {v}");
        }
    }

    pub fn audit(&self, entries: &[AuditView]) {
        if self.json {
            return print_json(&json!({ "items": entries, "total": entries.len() }));
        }
        let rows: Vec<_> = entries
            .iter()
            .map(|e| vec![local(&e.at), e.action.clone(), e.sentence.clone()])
            .collect();
        table(&["WHEN", "ACTION", "WHAT HAPPENED"], &rows);
    }
}

/// A standing order's state and its runs, for a person.
fn standing_order(o: &malipo_app::StandingOrderView) {
    let state = match o.status.as_str() {
        "asking" | "awaiting_pin" => "waiting for the holder to approve it with their M-Pesa PIN",
        "active" => "active",
        "failed" => "not created",
        _ => "no longer counted on (the holder cancels it on their phone: *334#, M-Pesa Ratiba)",
    };
    println!(
        "  Standing order {:?}: {} {} from {} to {}: {state}{}.",
        o.name,
        money(o.amount_minor, &o.currency),
        o.frequency,
        o.start,
        o.end,
        o.result
            .as_deref()
            .filter(|_| o.status == "failed")
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    if o.status == "active" {
        match &o.late_since {
            Some(since) => println!(
                "  Runs: {} due, {} missing since {since}: ask the holder whether the order still stands.",
                o.runs_due, o.runs_missed
            ),
            None => println!("  Runs: {} due, all arrived.", o.runs_due),
        }
    }
}
