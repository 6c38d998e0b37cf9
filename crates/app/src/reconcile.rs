//! The daily reconciliation report: what the providers confirm against what this office
//! recorded, for one Nairobi day, with every difference listed and explained.
//!
//! Cards: Paystack's transaction list (successful charges paid that day, and any charge for a
//! payment of this office made that day) against this office's card payments. M-Pesa: Daraja
//! has no transaction list, so the evidence is Safaricom's callbacks as the relay delivered
//! them (each success carries its M-Pesa receipt number) against this office's M-Pesa payments.

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use time::format_description::well_known::Rfc3339;

use malipo_domain::time_zone::{day_start_ms, nairobi_date};
use malipo_providers::daraja::callback::{self, StkOutcome};
use malipo_providers::paystack::{CardStatus, CardTransaction, ListQuery, PaystackClient};
use malipo_store::InboxOutcome;

use malipo_domain::{Action, Method, TxStatus};

use crate::reports::HistoryQuery;
use crate::views::TransactionView;
use crate::{Actor, App, Result};

/// Paybill: Safaricom's confirmations as the relay delivered them against this office's paybill
/// payments. Another branch's confirmations and forged ones (Transaction Status did not
/// confirm them) are not this office's money.
fn paybill(
    local: &[TransactionView],
    confirmations: &[(malipo_store::InboxEvent, InboxOutcome)],
    report: &mut ReconcileReport,
) {
    let by_code: HashMap<&str, &TransactionView> = local
        .iter()
        .filter(|t| t.method == Method::Paybill)
        .filter_map(|t| t.provider_receipt.as_deref().map(|r| (r, t)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (event, outcome) in confirmations {
        if matches!(
            outcome,
            InboxOutcome::Suspect | InboxOutcome::OtherOffice | InboxOutcome::Ignored
        ) {
            continue;
        }
        let Ok(p) = malipo_providers::daraja::c2b::parse_payment(event.body.as_bytes()) else {
            continue;
        };
        if !seen.insert(p.trans_id.clone()) {
            continue;
        }
        report.paybill.confirmed += 1;
        let ours = by_code.get(p.trans_id.as_str()).copied();
        let diff = |kind: &str, explanation: String| Difference {
            method: Method::Paybill,
            kind: kind.into(),
            number: ours.map(|t| t.number.clone()),
            reference: Some(p.trans_id.clone()),
            provider_amount: Some(p.amount.to_string()),
            local_amount: ours.map(|t| format!("{} {}", t.currency, t.amount)),
            local_status: ours.map(|t| t.status),
            explanation,
        };
        match (ours, outcome) {
            (Some(t), _) if t.amount_minor != p.amount.minor() => report.differences.push(diff(
                "amount_differs",
                format!("the confirmation of {} is for {} but {} {} was recorded", p.trans_id, p.amount, t.currency, t.amount),
            )),
            (Some(_), _) => report.paybill.matched += 1,
            (None, InboxOutcome::Suspense) => report.differences.push(diff(
                "in_suspense",
                format!("account {:?} matched no policy: allocate it on the Suspense screen", p.account),
            )),
            (None, InboxOutcome::Held) => report.differences.push(diff(
                "awaiting_confirmation",
                "Safaricom's Transaction Status has not confirmed it yet; it is recorded when it does (keep Malipo syncing)".into(),
            )),
            (None, _) => report.differences.push(diff(
                "paid_not_recorded",
                "Safaricom confirmed it but no payment here holds its code; sync with the relay, or look for it at another counter".into(),
            )),
        }
    }
    for t in local
        .iter()
        .filter(|t| t.method == Method::Paybill && is_paid(t))
    {
        let code = t.provider_receipt.as_deref().unwrap_or_default();
        if !seen.contains(code) {
            report.differences.push(Difference {
                method: Method::Paybill,
                kind: "confirmed_by_query_only".into(),
                number: Some(t.number.clone()),
                reference: t.provider_receipt.clone(),
                provider_amount: None,
                local_amount: Some(format!("{} {}", t.currency, t.amount)),
                local_status: Some(t.status),
                explanation: "recorded from a code Transaction Status proved, but Safaricom's confirmation never reached the relay that day; check that the C2B URLs are registered with Safaricom".into(),
            });
        }
    }
}

/// One difference between a provider and this office.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Difference {
    /// `card` or `mpesa`.
    pub method: Method,
    /// `paid_not_recorded`, `amount_differs`, `unknown_to_office`, `recorded_not_confirmed`,
    /// `receipt_unmatched` or `confirmed_by_query_only`.
    pub kind: String,
    pub number: Option<String>,
    /// Our reference (cards) or the CheckoutRequestID (M-Pesa).
    pub reference: Option<String>,
    pub provider_amount: Option<String>,
    pub local_amount: Option<String>,
    pub local_status: Option<TxStatus>,
    /// What it means and what to do.
    pub explanation: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Side {
    /// Payments the provider confirms for the day.
    pub confirmed: u64,
    /// Of those, the ones this office recorded the same way.
    pub matched: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReconcileReport {
    pub date: String,
    /// This office's payments created that day, and how many of them succeeded.
    pub local_payments: u64,
    pub local_succeeded: u64,
    pub card: Side,
    pub mpesa: Side,
    /// Paybill confirmations Safaricom sent for this branch (or no branch) that day.
    pub paybill: Side,
    /// Whether Paystack could be asked (no Paystack settings: the card side is not checked).
    pub card_checked: bool,
    pub differences: Vec<Difference>,
}

fn paid_on(t: &CardTransaction, date: Date) -> bool {
    t.paid_at
        .as_deref()
        .and_then(|p| time::OffsetDateTime::parse(p, &Rfc3339).ok())
        .is_some_and(|at| nairobi_date(at) == date)
}

impl App {
    /// Reconciles the Nairobi day `date` (`YYYY-MM-DD`).
    pub async fn reconcile(&self, actor: &Actor, date: &str) -> Result<ReconcileReport> {
        actor.require(Action::ResolveReview)?;
        let day = crate::input::parse_date("date", date)?;
        let local = self.day_payments(day).await?;
        let mut report = ReconcileReport {
            date: day.to_string(),
            local_payments: local.len() as u64,
            local_succeeded: local.iter().filter(|t| is_paid(t)).count() as u64,
            card: Side::default(),
            mpesa: Side::default(),
            paybill: Side::default(),
            card_checked: false,
            differences: Vec::new(),
        };
        let providers = self.providers();
        if let Ok(client) = providers.paystack() {
            report.card_checked = true;
            let charges = self.paystack_day(client, day).await?;
            cards(&local, &charges, day, &mut report);
        }
        let from = day_start_ms(day);
        let to = day.next_day().map_or(i64::MAX, day_start_ms);
        let callbacks = self
            .store()
            .inbox_received("stk_callback", from, to)
            .await?;
        mpesa(&local, &callbacks, &mut report);
        let confirmations = self
            .store()
            .inbox_received("c2b_confirmation", from, to)
            .await?;
        paybill(&local, &confirmations, &mut report);
        Ok(report)
    }

    /// Every payment made on the Nairobi day `date`, page by page.
    pub(crate) async fn day_payments(&self, day: Date) -> Result<Vec<TransactionView>> {
        let mut all = Vec::new();
        for page in 1.. {
            let q = HistoryQuery {
                from: Some(day.to_string()),
                to: Some(day.to_string()),
                page: Some(page),
                per_page: Some(500),
                ..HistoryQuery::default()
            };
            let list = self.history(&q).await?;
            let done = list.items.len() < 500;
            all.extend(list.items);
            if done {
                break;
            }
        }
        Ok(all)
    }

    /// Paystack's charges around the day (its filter is by UTC date, a Nairobi day spans two).
    async fn paystack_day(
        &self,
        client: &PaystackClient,
        day: Date,
    ) -> Result<Vec<CardTransaction>> {
        let around = |d: Option<Date>| d.map(|d| d.to_string());
        let mut all = Vec::new();
        for page in 1..=100 {
            let q = ListQuery {
                from: around(day.previous_day()),
                to: around(day.next_day()),
                status: None,
                page,
                per_page: 100,
            };
            let p = client.transactions(&q).await?;
            let n = p.items.len();
            all.extend(p.items);
            if n < 100 || p.page_count.is_some_and(|c| u64::from(page) >= c) {
                break;
            }
        }
        Ok(all)
    }
}

/// Money was received, whether or not it was refunded since: the provider must show it.
fn is_paid(t: &TransactionView) -> bool {
    t.paid || t.status == TxStatus::Refunded
}

fn cards(
    local: &[TransactionView],
    charges: &[CardTransaction],
    day: Date,
    report: &mut ReconcileReport,
) {
    let by_reference: HashMap<&str, &TransactionView> = local
        .iter()
        .filter(|t| t.method == Method::Card)
        .map(|t| (t.reference.as_str(), t))
        .collect();
    let mut confirmed_refs = std::collections::HashSet::new();
    for c in charges {
        let ours = by_reference.get(c.reference.as_str());
        if !matches!(c.status, CardStatus::Paid) || !(paid_on(c, day) || ours.is_some()) {
            continue;
        }
        confirmed_refs.insert(c.reference.as_str());
        report.card.confirmed += 1;
        let diff = |kind: &str, t: Option<&TransactionView>, explanation: String| Difference {
            method: Method::Card,
            kind: kind.into(),
            number: t.map(|t| t.number.clone()),
            reference: Some(c.reference.clone()),
            provider_amount: Some(c.amount.to_string()),
            local_amount: t.map(|t| format!("{} {}", t.currency, t.amount)),
            local_status: t.map(|t| t.status),
            explanation,
        };
        match ours {
            None => report.differences.push(diff(
                "unknown_to_office",
                None,
                "Paystack charged this but no payment of this office has the reference: another office's payment, or one taken outside Malipo".into(),
            )),
            Some(t) if c.amount.minor() != t.amount_minor || c.amount.currency().code() != t.currency => {
                report.differences.push(diff(
                    "amount_differs",
                    Some(t),
                    format!(
                        "Paystack took {} but {} {} was asked; the payment is {} and a manager must decide it",
                        c.amount, t.currency, t.amount, t.status
                    ),
                ))
            }
            Some(t) if !is_paid(t) => report.differences.push(diff(
                "paid_not_recorded",
                Some(t),
                format!(
                    "Paystack took the money but the payment is {} here; sync with the relay or refresh {}",
                    t.status, t.number
                ),
            )),
            Some(_) => report.card.matched += 1,
        }
    }
    for t in local
        .iter()
        .filter(|t| t.method == Method::Card && is_paid(t))
    {
        if !confirmed_refs.contains(t.reference.as_str()) {
            report.differences.push(Difference {
                method: Method::Card,
                kind: "recorded_not_confirmed".into(),
                number: Some(t.number.clone()),
                reference: Some(t.reference.clone()),
                provider_amount: None,
                local_amount: Some(format!("{} {}", t.currency, t.amount)),
                local_status: Some(t.status),
                explanation: "recorded as paid here but Paystack lists no successful charge for it; check it in the Paystack dashboard".into(),
            });
        }
    }
}

fn mpesa(
    local: &[TransactionView],
    callbacks: &[(malipo_store::InboxEvent, InboxOutcome)],
    report: &mut ReconcileReport,
) {
    let by_checkout: HashMap<&str, &TransactionView> = local
        .iter()
        .filter(|t| t.method == Method::Mpesa)
        .filter_map(|t| t.provider_ref.as_deref().map(|r| (r, t)))
        .collect();
    let mut receipts_seen = std::collections::HashSet::new();
    for (event, outcome) in callbacks {
        // A claim Safaricom did not confirm (or has not yet) is no receipt.
        if matches!(outcome, InboxOutcome::Suspect | InboxOutcome::Held) {
            continue;
        }
        let Ok(cb) = callback::parse(event.body.as_bytes()) else {
            continue;
        };
        let StkOutcome::Paid {
            amount, receipt, ..
        } = cb.outcome
        else {
            continue;
        };
        report.mpesa.confirmed += 1;
        let ours = by_checkout.get(cb.checkout_request_id.as_str());
        let diff = |kind: &str, t: Option<&TransactionView>, explanation: String| Difference {
            method: Method::Mpesa,
            kind: kind.into(),
            number: t.map(|t| t.number.clone()),
            reference: Some(cb.checkout_request_id.clone()),
            provider_amount: Some(amount.to_string()),
            local_amount: t.map(|t| format!("{} {}", t.currency, t.amount)),
            local_status: t.map(|t| t.status),
            explanation,
        };
        match ours {
            None => {
                let whose = match outcome {
                    InboxOutcome::OtherOffice => "it is another office's payment",
                    _ => {
                        "no payment at any office matches it; it waits for a manager among the orphan events"
                    }
                };
                report.differences.push(diff(
                    "receipt_unmatched",
                    None,
                    format!("M-Pesa receipt {receipt} was paid but {whose}"),
                ));
            }
            Some(t) => {
                receipts_seen.insert(t.number.as_str());
                if amount.minor() != t.amount_minor {
                    report.differences.push(diff(
                        "amount_differs",
                        Some(t),
                        format!(
                            "M-Pesa receipt {receipt} is for {amount} but {} {} was asked; the payment is {}",
                            t.currency, t.amount, t.status
                        ),
                    ));
                } else if !is_paid(t) {
                    report.differences.push(diff(
                        "paid_not_recorded",
                        Some(t),
                        format!(
                            "M-Pesa receipt {receipt} says paid but the payment is {} here; sync with the relay",
                            t.status
                        ),
                    ));
                } else {
                    report.mpesa.matched += 1;
                }
            }
        }
    }
    for t in local
        .iter()
        .filter(|t| t.method == Method::Mpesa && is_paid(t))
    {
        if !receipts_seen.contains(t.number.as_str()) {
            report.differences.push(Difference {
                method: Method::Mpesa,
                kind: "confirmed_by_query_only".into(),
                number: Some(t.number.clone()),
                reference: t.provider_ref.clone(),
                provider_amount: None,
                local_amount: Some(format!("{} {}", t.currency, t.amount)),
                local_status: Some(t.status),
                explanation: "paid according to M-Pesa's answer to a status query, but Safaricom's callback with the receipt number never arrived; find the receipt on the M-Pesa statement".into(),
            });
        }
    }
}
