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
use crate::views::{LedgerStatus, TransactionView};
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
    /// `card`, `mpesa`, `paybill` or `cash`.
    pub method: Method,
    /// `paid_not_recorded`, `amount_differs`, `unknown_to_office`, `recorded_not_confirmed`,
    /// `receipt_unmatched`, `confirmed_by_query_only`, `in_suspense`, `awaiting_confirmation`,
    /// against M-Pesa's ledger `on_ledger_not_recorded` and `recorded_not_on_ledger`, or for
    /// a clerk's drawer (the clerk in `reference`, counted and expected as the amounts)
    /// `cash_not_closed`, `cash_variance` and `cash_not_signed_off`, or `collection_stopped`
    /// (the policy in `reference`: Paystack said its saved card is gone).
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

/// The day's M-Pesa payments against M-Pesa's own ledger.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LedgerSide {
    /// What covers the day: `statement` (an imported statement's period), `pull` (complete
    /// pulls of M-Pesa's list), or only `callbacks` (nothing of M-Pesa's own: the day is not
    /// yet covered).
    pub covered_by: String,
    /// How far into the day the ledger reaches (RFC 3339): the day's end for a statement,
    /// the last complete pull for Pull; payments after it are not compared.
    pub covered_until: Option<String>,
    /// Paid in according to M-Pesa's ledger: how many, and the sum in minor units.
    pub ledger_count: u64,
    pub ledger_minor: i64,
    /// The company's M-Pesa payments recorded that day (every counter's, as this one knows
    /// them): how many, and the sum in minor units.
    pub recorded_count: u64,
    pub recorded_minor: i64,
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
    /// M-Pesa's own ledger for the day, where a statement or a pull covers it.
    pub ledger: LedgerSide,
    /// Each clerk's drawer that day: cash received and paid out, the count and its variance.
    pub cash: Vec<crate::cash::DrawerView>,
    /// The office's cash (all days): received, refunded, deposited, and not yet deposited.
    pub cash_position: crate::views::CashPositionView,
    pub differences: Vec<Difference>,
}

/// The day's drawers: one not closed once the day is over, a count that differs from what the
/// payments say, and a cash-up no manager signed off.
fn cash(drawers: &[crate::cash::DrawerView], day_over: bool, report: &mut ReconcileReport) {
    for d in drawers {
        let mut differ = |kind: &str, explanation: String| {
            report.differences.push(Difference {
                method: Method::Cash,
                kind: kind.to_owned(),
                number: None,
                reference: Some(d.clerk.clone()),
                provider_amount: d.counted.clone(),
                local_amount: Some(d.expected.clone()),
                local_status: None,
                explanation,
            })
        };
        if !d.closed {
            if day_over {
                differ(
                    "cash_not_closed",
                    format!(
                        "{}'s drawer took {} {} in cash and was never counted and closed: count it with them and close it (`malipo cash close --day {}`)",
                        d.clerk, d.currency, d.expected, d.day
                    ),
                );
            }
            continue;
        }
        if d.variance_minor.is_some_and(|v| v != 0) {
            differ(
                "cash_variance",
                format!(
                    "{}'s count differs from the cash payments by {} {}: the note on the sign-off says what was found",
                    d.clerk,
                    d.currency,
                    d.variance.as_deref().unwrap_or_default()
                ),
            );
        }
        if d.signed_off_by.is_none() {
            differ(
                "cash_not_signed_off",
                format!(
                    "{}'s cash-up waits for a manager's sign-off (`malipo cash sign-off {} --day {}`)",
                    d.clerk, d.clerk, d.day
                ),
            );
        }
    }
}

/// After this long without anything covering M-Pesa's list, a missed payment is close to
/// leaving Pull's 48 hours; after those only the statement brings it back.
pub(crate) const LEDGER_STALE: time::Duration = time::Duration::hours(36);

/// How far M-Pesa's own ledger reaches at this counter: Pull registered, where the last
/// complete pull ended, where the latest imported statement ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LedgerReach {
    pub(crate) registered: Option<time::OffsetDateTime>,
    pub(crate) pulled_to: Option<time::OffsetDateTime>,
    pub(crate) statement_to: Option<time::OffsetDateTime>,
    /// Minutes between automatic pulls (0: off).
    pub(crate) minutes: i64,
}

impl LedgerReach {
    /// The moment up to which something of M-Pesa's own has been read, or from which it is
    /// about to be: a pull registered and switched on counts from its registration until its
    /// first complete pull.
    fn watched_from(&self) -> Option<time::OffsetDateTime> {
        let pulling = (self.minutes > 0)
            .then(|| self.pulled_to.or(self.registered))
            .flatten();
        pulling.max(self.statement_to).max(self.pulled_to)
    }
}

impl LedgerReach {
    /// The dashboard's line as of `now`.
    fn status(&self, now: time::OffsetDateTime) -> LedgerStatus {
        let r = self;
        let text = |t: Option<time::OffsetDateTime>| t.map(crate::views::rfc3339);
        LedgerStatus {
            pull_registered_at: text(r.registered),
            pull_minutes: r.minutes,
            pulled_to: text(r.pulled_to),
            statement_to: text(r.statement_to),
            covered_to: text(r.pulled_to.max(r.statement_to)),
            stale: r.watched_from().is_none_or(|t| now - t > LEDGER_STALE),
        }
    }
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
            ledger: LedgerSide::default(),
            cash: Vec::new(),
            cash_position: crate::views::CashPositionView::from(
                &self
                    .store()
                    .cash_position(self.office_currency().await?)
                    .await?,
            ),
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
        self.against_ledger(from, to, &mut report).await?;
        let today = malipo_domain::time_zone::nairobi_date(self.now());
        report.cash = self.drawers_of(day).await?;
        cash(&report.cash.clone(), day < today, &mut report);
        for stopped in self.store().collections_stopped(from, to).await? {
            report.differences.push(Difference {
                method: Method::Card,
                kind: "collection_stopped".into(),
                number: None,
                reference: Some(stopped.policy_number.clone()),
                provider_amount: None,
                local_amount: None,
                local_status: None,
                explanation: format!(
                    "policy {}'s premiums are no longer collected by themselves: {}. The holder was told by SMS; take the next premium at the counter, or save a new card and set the collection again",
                    stopped.policy_number,
                    stopped.stopped_reason.as_deref().unwrap_or("stopped by Malipo")
                ),
            });
        }
        Ok(report)
    }

    /// How far M-Pesa's own ledger reaches at this counter.
    pub(crate) async fn ledger_reach(&self) -> Result<LedgerReach> {
        let store = self.store();
        let time_of =
            |v: Option<String>| v.and_then(|v| time::OffsetDateTime::parse(&v, &Rfc3339).ok());
        Ok(LedgerReach {
            registered: time_of(store.setting(crate::sync::PULL_REGISTERED_KEY).await?),
            pulled_to: time_of(store.setting(crate::sync::PULL_COMPLETE_KEY).await?),
            statement_to: store
                .statement_reach()
                .await?
                .map(malipo_domain::time_zone::from_ms),
            minutes: self
                .setting_i64(crate::settings::table::MPESA_PULL_MINUTES.key)
                .await?
                .unwrap_or(30),
        })
    }

    /// The dashboard's line on M-Pesa's ledger, for an office that takes paybill payments (C2B
    /// URLs set, Pull registered or a statement imported); none otherwise.
    pub async fn ledger_status(&self, actor: &Actor) -> Result<Option<LedgerStatus>> {
        actor.require(Action::Read)?;
        let reach = self.ledger_reach().await?;
        let paybill = self.providers().settings().c2b_urls.is_some();
        if !paybill && reach.registered.is_none() && reach.statement_to.is_none() {
            return Ok(None);
        }
        Ok(Some(reach.status(self.now())))
    }

    /// The day's M-Pesa payments (every counter's) against M-Pesa's ledger, where a statement
    /// or complete pulls cover the day: what M-Pesa received that nobody recorded, what was
    /// recorded that M-Pesa does not list, and amounts that differ.
    async fn against_ledger(&self, from: i64, to: i64, report: &mut ReconcileReport) -> Result<()> {
        let (coverage, entries, until) = self.store().ledger_between(from, to).await?;
        report.ledger.covered_by = coverage.as_str().to_owned();
        report.ledger.covered_until = (coverage != malipo_store::Coverage::Callbacks)
            .then(|| crate::views::rfc3339(malipo_domain::time_zone::from_ms(until)));
        if coverage == malipo_store::Coverage::Callbacks {
            return Ok(());
        }
        report.ledger.ledger_count = entries.len() as u64;
        report.ledger.ledger_minor = entries.iter().map(|e| e.amount.minor()).sum();
        let desk = self.desk().await?;
        let own = desk.office().to_string();
        let counter = desk.counter().map(|c| c.to_string());
        let mut recorded = Vec::new();
        for page in 1.. {
            let filter = malipo_store::CompanyFilter {
                from_ms: Some(from),
                to_ms: Some(until),
                page,
                per_page: 500,
                ..malipo_store::CompanyFilter::default()
            };
            let (rows, _) = self
                .store()
                .company_payments((own.as_str(), counter.as_deref()), &filter)
                .await?;
            let done = rows.len() < 500;
            recorded.extend(rows.into_iter().filter(|p| {
                matches!(p.method.as_str(), "mpesa" | "paybill")
                    && (p.status.is_paid() || p.status == TxStatus::Refunded)
            }));
            if done {
                break;
            }
        }
        report.ledger.recorded_count = recorded.len() as u64;
        report.ledger.recorded_minor = recorded.iter().map(|p| p.amount.minor()).sum();
        let method = |m: &str| {
            if m == "paybill" {
                Method::Paybill
            } else {
                Method::Mpesa
            }
        };
        // Payments M-Pesa received whose account matched no policy wait on the suspense list.
        let providers = self.providers();
        let suspense: std::collections::HashSet<String> = match providers.relay() {
            Ok(relay) => relay
                .suspense(true)
                .await
                .map(|items| {
                    items
                        .into_iter()
                        .filter(|i| i.status == "open")
                        .map(|i| i.trans_id)
                        .collect()
                })
                .unwrap_or_default(),
            Err(_) => Default::default(),
        };
        let on_ledger: HashMap<&str, &malipo_store::LedgerEntry> =
            entries.iter().map(|e| (e.receipt.as_str(), e)).collect();
        // The day's codes looked up together: a busy paybill has thousands a day.
        let codes: Vec<&str> = entries.iter().map(|e| e.receipt.as_str()).collect();
        let by_code = self.store().recorded_codes(&codes).await?;
        for e in &entries {
            let recorded_as = by_code
                .get(&e.receipt)
                .cloned()
                .map(|r| (r.number, r.amount, r.method, Some(r.status)));
            match recorded_as {
                None if suspense.contains(&e.receipt) => report.differences.push(Difference {
                    method: Method::Paybill,
                    kind: "in_suspense".into(),
                    number: None,
                    reference: Some(e.receipt.clone()),
                    provider_amount: Some(e.amount.to_string()),
                    local_amount: None,
                    local_status: None,
                    explanation: format!(
                        "M-Pesa received {} ({}) and it is on the company's suspense list (its account matched no policy): allocate it on the Suspense screen",
                        e.receipt, e.amount
                    ),
                }),
                None => report.differences.push(Difference {
                    method: Method::Paybill,
                    kind: "on_ledger_not_recorded".into(),
                    number: None,
                    reference: Some(e.receipt.clone()),
                    provider_amount: Some(e.amount.to_string()),
                    local_amount: None,
                    local_status: None,
                    explanation: format!(
                        "M-Pesa received {} ({}) but no counter recorded it: within 48 hours `malipo mpesa pull` records it; after that, import the M-Pesa statement, which proves and records it",
                        e.receipt, e.amount
                    ),
                }),
                Some((number, amount, m, status)) if amount != e.amount => {
                    report.differences.push(Difference {
                        method: method(&m),
                        kind: "amount_differs".into(),
                        number: Some(number.clone()),
                        reference: Some(e.receipt.clone()),
                        provider_amount: Some(e.amount.to_string()),
                        local_amount: Some(amount.to_string()),
                        local_status: status,
                        explanation: format!(
                            "M-Pesa's ledger says {} for {} but {number} records {amount}: a manager must compare them",
                            e.amount, e.receipt
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        for p in &recorded {
            let listed = match p.provider_receipt.as_deref() {
                Some(code) => on_ledger.contains_key(code) || self.store().on_ledger(code).await?,
                None => false,
            };
            if !listed {
                report.differences.push(Difference {
                    method: method(&p.method),
                    kind: "recorded_not_on_ledger".into(),
                    number: Some(p.number.clone()),
                    reference: p.provider_receipt.clone(),
                    provider_amount: None,
                    local_amount: Some(p.amount.to_string()),
                    local_status: Some(p.status),
                    explanation: match &p.provider_receipt {
                        Some(code) => format!(
                            "recorded as paid with M-Pesa code {code}, but M-Pesa's ledger does not list it: look the code up on the M-Pesa portal; if M-Pesa never received it, the payment must be reviewed"
                        ),
                        None => "recorded as paid without its M-Pesa code, so it cannot be found on M-Pesa's ledger: find it on the statement by time and amount".into(),
                    },
                });
            }
        }
        Ok(())
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
            let list = self.payments_page(&q).await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ledger_is_stale_when_nothing_read_it_for_36_hours() {
        let now = time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let h = time::Duration::hours;
        let reach = |registered, pulled_to, statement_to, minutes| LedgerReach {
            registered,
            pulled_to,
            statement_to,
            minutes,
        };
        let nothing = reach(None, None, None, 30).status(now);
        assert!(nothing.stale);
        assert_eq!(nothing.covered_to, None);
        let pulled = reach(Some(now - h(90)), Some(now - h(1)), None, 30).status(now);
        assert!(!pulled.stale);
        assert_eq!(pulled.covered_to, pulled.pulled_to);
        // Registered an hour ago, first pull still to come: not yet a worry.
        let fresh = reach(Some(now - h(1)), None, None, 30).status(now);
        assert!(!fresh.stale);
        assert_eq!(fresh.covered_to, None);
        // Pulls switched off: registration alone watches nothing.
        let off = reach(Some(now - h(1)), None, None, 0).status(now);
        assert!(off.stale);
        // A statement read up to yesterday covers; one from last week does not.
        let statement = reach(None, None, Some(now - h(20)), 30).status(now);
        assert!(!statement.stale);
        assert_eq!(statement.covered_to, statement.statement_to);
        let old = reach(
            Some(now - h(200)),
            Some(now - h(40)),
            Some(now - h(100)),
            30,
        )
        .status(now);
        assert!(old.stale);
        assert_eq!(old.covered_to, old.pulled_to, "the later of the two");
    }
}
