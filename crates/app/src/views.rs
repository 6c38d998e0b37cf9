//! What the services hand out: plain serialisable records, the JSON contract of the CLI and
//! the payloads of the desktop's commands. Money is always an exact decimal string beside the
//! integer minor units and the currency; instants are RFC 3339.

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use malipo_domain::schedule::InstalmentStatus;
use malipo_domain::{Method, Money, Role, TxStatus};
use malipo_store::{
    AuditEntry, CashPosition, CompanyPayment, DayTotals, Instruction, MessageRecord, PolicyRecord,
    PolicyStanding, ScheduleLine, Split, Summary, Totals, TransactionRecord, UserRecord,
};

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `{"items": [...], "total": N, "more": false}`: one page and how many match in all; `more`
/// when more than `total` match (a broad search stops counting there), and `"next"` where the
/// next page starts when there may be one (give it back as `after`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct List<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub more: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub next: Option<String>,
}

impl<T> List<T> {
    /// A page and the exact number that match.
    pub fn of(items: Vec<T>, total: i64) -> List<T> {
        List {
            items,
            total,
            more: false,
            next: None,
        }
    }
}

/// A keyset cursor as it travels: the payment's creation instant in ms and its id.
pub(crate) fn cursor(at_ms: i64, id: i64) -> String {
    format!("{at_ms}-{id}")
}

/// A cursor given back, or why it is not one.
pub(crate) fn read_cursor(text: &str) -> crate::Result<(i64, i64)> {
    text.trim()
        .split_once('-')
        .and_then(|(at, id)| Some((at.parse().ok()?, id.parse().ok()?)))
        .ok_or_else(|| crate::Error::invalid("after", "give back the `next` of the page before"))
}

/// A payment, in the shape README's "JSON shapes" fixes for the CLI and the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct TransactionView {
    pub id: i64,
    pub number: String,
    pub reference: String,
    pub policy: String,
    pub holder: String,
    pub method: Method,
    pub status: TxStatus,
    /// Still waiting on the provider or the customer (`pending`, `awaiting_customer`).
    pub open: bool,
    /// Money was received and kept, at least in part: a receipt prints as paid.
    pub paid: bool,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub refunded: String,
    pub refunded_minor: i64,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub provider_ref: Option<String>,
    pub provider_receipt: Option<String>,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub receipt_number: Option<String>,
    pub clerk: Option<String>,
    /// The card checkout link, for card payments.
    pub authorization_url: Option<String>,
    pub card_brand: Option<String>,
    pub card_last4: Option<String>,
    /// How a Paystack payment was made (`card`, `mobile_money`, `ussd`, `bank_transfer`, ...),
    /// and what paid when it was not a card.
    pub channel: Option<String>,
    pub instrument: Option<String>,
    /// `card` or `mpesa_prompt` when the collector started it on a due day (none: a person did).
    pub collected_by: Option<String>,
    /// Who paid a paybill payment, as Safaricom names them.
    pub payer: Option<String>,
    /// Cash: what the customer handed over and the change given back (decimal strings).
    pub tendered: Option<String>,
    pub tendered_minor: Option<i64>,
    pub change: Option<String>,
    pub change_minor: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
    /// Taken at another counter of the company: shown as the relay knows it (no phone or
    /// e-mail), read-only here.
    pub elsewhere: bool,
}

impl From<&CompanyPayment> for TransactionView {
    fn from(c: &CompanyPayment) -> Self {
        TransactionView {
            id: 0,
            number: c.number.clone(),
            reference: c.reference.clone(),
            policy: c.policy_number.clone().unwrap_or_default(),
            holder: c.holder.clone().unwrap_or_default(),
            method: c.method.parse().unwrap_or(Method::Mpesa),
            status: c.status,
            open: c.status.is_open(),
            paid: c.status.is_paid(),
            amount: c.amount.amount_string(),
            amount_minor: c.amount.minor(),
            currency: c.amount.currency().code().to_owned(),
            refunded: c.refunded.amount_string(),
            refunded_minor: c.refunded.minor(),
            phone: None,
            email: None,
            provider_ref: None,
            provider_receipt: c.provider_receipt.clone(),
            failure_code: None,
            failure_reason: None,
            receipt_number: c.receipt_number.clone(),
            clerk: c.clerk.clone(),
            authorization_url: None,
            card_brand: None,
            card_last4: None,
            channel: None,
            instrument: None,
            collected_by: None,
            payer: None,
            tendered: None,
            tendered_minor: None,
            change: None,
            change_minor: None,
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            elsewhere: true,
        }
    }
}

impl From<&TransactionRecord> for TransactionView {
    fn from(t: &TransactionRecord) -> Self {
        let change = t.tendered.and_then(|m| m.checked_sub(t.amount).ok());
        TransactionView {
            id: t.id,
            number: t.number.clone(),
            reference: t.reference.clone(),
            policy: t.policy_number.clone(),
            holder: t.holder.clone(),
            method: t.method,
            status: t.status,
            open: t.status.is_open(),
            paid: t.status.is_paid(),
            amount: t.amount.amount_string(),
            amount_minor: t.amount.minor(),
            currency: t.amount.currency().code().to_owned(),
            refunded: t.refunded.amount_string(),
            refunded_minor: t.refunded.minor(),
            phone: t.phone.clone(),
            email: t.email.clone(),
            provider_ref: t.provider_ref.clone(),
            provider_receipt: t.provider_receipt.clone(),
            failure_code: t.failure_code.clone(),
            failure_reason: t.failure_reason.clone(),
            receipt_number: t.receipt_number.clone(),
            clerk: t.clerk.clone(),
            authorization_url: t.authorization_url.clone(),
            card_brand: t.card_brand.clone(),
            card_last4: t.card_last4.clone(),
            channel: t.channel.clone(),
            instrument: t.instrument.clone(),
            collected_by: t.collected_by.clone(),
            payer: t.payer.clone(),
            tendered: t.tendered.map(Money::amount_string),
            tendered_minor: t.tendered.map(Money::minor),
            change: change.map(Money::amount_string),
            change_minor: change.map(Money::minor),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
            elsewhere: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PolicyView {
    pub number: String,
    pub holder: String,
    pub phone: String,
    pub email: Option<String>,
    pub premium: String,
    pub premium_minor: i64,
    pub currency: String,
    pub frequency: String,
    /// `active`, `lapsed` (payments reinstate it) or `cancelled` (no payment is taken).
    pub status: String,
    pub created_at: String,
}

impl From<&PolicyRecord> for PolicyView {
    fn from(p: &PolicyRecord) -> Self {
        PolicyView {
            number: p.number.clone(),
            holder: p.holder.clone(),
            phone: p.phone.clone(),
            email: p.email.clone(),
            premium: p.premium.amount_string(),
            premium_minor: p.premium.minor(),
            currency: p.premium.currency().code().to_owned(),
            frequency: p.frequency.as_str().to_owned(),
            status: p.status.as_str().to_owned(),
            created_at: rfc3339(p.created_at),
        }
    }
}

/// A policy in the list, with where its payments stand today: what the counter asks first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PolicyRow {
    #[serde(flatten)]
    pub policy: PolicyView,
    /// Payments kept (succeeded, less refunds).
    pub paid_to_date: String,
    pub paid_to_date_minor: i64,
    /// The first instalment not fully paid (`null` once all are paid): when it is due and
    /// what is left to pay of it.
    pub next_due_date: Option<String>,
    pub next_due: Option<String>,
    pub next_due_minor: Option<i64>,
    /// Due before today and not paid.
    pub overdue: String,
    pub overdue_minor: i64,
    /// Days since the oldest unpaid instalment fell due; 0 when nothing is overdue.
    pub days_overdue: i64,
    /// Where it stands with its premiums: `active`, `grace` (an instalment missed, within the
    /// grace days), `lapsed` (after them, until the arrears are paid) or `cancelled`.
    pub standing: String,
    /// The last day of grace, while in grace; the day it lapsed, once lapsed.
    pub grace_ends: Option<String>,
    pub lapsed_since: Option<String>,
    /// Lapsed in the register with its arrears paid: a manager reinstates it
    /// (`policy.reinstate` = `manager`).
    pub awaiting_reinstatement: bool,
}

/// A policy's standing as the office shows it, and whether it waits for a manager: the
/// premiums decide, except that with `manager_reinstates` a policy the register has as lapsed
/// stays lapsed until a manager reinstates it.
pub(crate) fn shown_standing(
    status: malipo_domain::PolicyStatus,
    standing: malipo_domain::Standing,
    manager_reinstates: bool,
) -> (&'static str, bool) {
    use malipo_domain::{PolicyStatus, Standing};
    match (status, standing) {
        (PolicyStatus::Cancelled, _) => ("cancelled", false),
        (PolicyStatus::Lapsed, Standing::Active | Standing::Grace { .. }) if manager_reinstates => {
            ("lapsed", true)
        }
        (_, s) => (s.as_str(), false),
    }
}

impl PolicyRow {
    /// The row with its standing on `today`, given the office's grace days and whether a
    /// manager reinstates lapsed policies.
    pub fn with_standing(
        s: &PolicyStanding,
        today: time::Date,
        grace_days: u32,
        manager_reinstates: bool,
    ) -> PolicyRow {
        let mut row = PolicyRow::from(s);
        let oldest_unpaid = s.next_due.map(|n| n.due);
        let standing = malipo_domain::Standing::on(oldest_unpaid, today, grace_days);
        let (shown, waiting) = shown_standing(s.policy.status, standing, manager_reinstates);
        row.standing = shown.to_owned();
        row.awaiting_reinstatement = waiting;
        if row.standing != "cancelled" && !waiting {
            match standing {
                malipo_domain::Standing::Grace { ends } => row.grace_ends = Some(ends.to_string()),
                malipo_domain::Standing::Lapsed { since } => {
                    row.lapsed_since = Some(since.to_string())
                }
                malipo_domain::Standing::Active => {}
            }
        }
        row
    }
}

impl From<&PolicyStanding> for PolicyRow {
    fn from(s: &PolicyStanding) -> Self {
        PolicyRow {
            policy: PolicyView::from(&s.policy),
            paid_to_date: s.paid_to_date.amount_string(),
            paid_to_date_minor: s.paid_to_date.minor(),
            next_due_date: s.next_due.map(|n| n.due.to_string()),
            next_due: s.next_due.map(|n| n.amount.amount_string()),
            next_due_minor: s.next_due.map(|n| n.amount.minor()),
            overdue: s.overdue.amount_string(),
            overdue_minor: s.overdue.minor(),
            days_overdue: s.days_overdue,
            standing: String::new(),
            awaiting_reinstatement: false,
            grace_ends: None,
            lapsed_since: None,
        }
    }
}

/// A count and an amount; the same shape as the relay's company figures.
pub use malipo_relay_api::{KeyedFigures, KeyedTotals, Totals as TotalsView};

fn totals(t: Totals) -> TotalsView {
    TotalsView {
        count: t.count,
        amount: t.amount.amount_string(),
        amount_minor: t.amount.minor(),
    }
}

/// What the relay needs of a payment (nothing about the customer).
pub(crate) fn upload_record(t: &TransactionRecord) -> malipo_relay_api::UploadRecord {
    malipo_relay_api::UploadRecord {
        reference: t.reference.clone(),
        number: t.number.clone(),
        method: t.method.as_str().to_owned(),
        status: t.status.as_str().to_owned(),
        amount_minor: t.amount.minor(),
        refunded_minor: t.refunded.minor(),
        currency: t.amount.currency().code().to_owned(),
        provider_ref: t.provider_ref.clone(),
        policy: Some(t.policy_number.clone()),
        clerk: t.clerk.clone(),
        receipt_number: t.receipt_number.clone(),
        provider_receipt: t.provider_receipt.clone(),
        created_at: rfc3339(t.created_at),
        updated_at: rfc3339(t.updated_at),
    }
}

/// One Nairobi day's money collected and attempted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DayView {
    pub date: String,
    pub collected: TotalsView,
    pub attempted: TotalsView,
}

impl From<&DayTotals> for DayView {
    fn from(d: &DayTotals) -> Self {
        DayView {
            date: d.date.to_string(),
            collected: totals(d.figures.collected),
            attempted: totals(d.figures.attempted),
        }
    }
}

fn figures(key: String, f: &Split) -> KeyedFigures {
    KeyedFigures {
        key,
        collected: totals(f.collected),
        attempted: totals(f.attempted),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SummaryView {
    pub currency: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Money received: payments that succeeded (those refunded since included).
    pub collected: TotalsView,
    /// Money given back since on those days' payments: how many payments, and how much.
    pub refunded: TotalsView,
    /// Collected less refunded: what the office keeps (the count is of payments collected).
    pub net: TotalsView,
    /// Every payment started, whatever became of it.
    pub attempted: TotalsView,
    /// The same as `attempted` (kept for scripts written before it).
    pub all: TotalsView,
    /// The same as `collected` (kept for scripts written before it).
    pub succeeded: TotalsView,
    pub pending: TotalsView,
    pub failed: TotalsView,
    pub needs_review: TotalsView,
    pub by_status: Vec<KeyedTotals>,
    /// Collected and attempted per method: the collected figures add up to `succeeded`.
    pub by_method: Vec<KeyedFigures>,
    pub by_day: Vec<DayView>,
    pub by_clerk: Vec<KeyedFigures>,
}

impl SummaryView {
    pub fn new(
        s: &Summary,
        from: Option<String>,
        to: Option<String>,
        clerk_name: impl Fn(i64) -> String,
    ) -> SummaryView {
        SummaryView {
            currency: s.currency.code().to_owned(),
            from,
            to,
            collected: totals(s.succeeded),
            refunded: totals(s.refunded),
            net: TotalsView {
                count: s.succeeded.count,
                amount: s
                    .succeeded
                    .amount
                    .checked_sub(s.refunded.amount)
                    .map_or_else(|_| "?".to_owned(), |m| m.amount_string()),
                amount_minor: s.succeeded.amount.minor() - s.refunded.amount.minor(),
            },
            attempted: totals(s.all),
            all: totals(s.all),
            succeeded: totals(s.succeeded),
            pending: totals(s.pending),
            failed: totals(s.failed),
            needs_review: totals(s.needs_review),
            by_status: s
                .by_status
                .iter()
                .map(|(k, t)| KeyedTotals {
                    key: k.as_str().to_owned(),
                    totals: totals(*t),
                })
                .collect(),
            by_method: s
                .by_method
                .iter()
                .map(|(k, f)| figures(k.as_str().to_owned(), f))
                .collect(),
            by_day: s.by_day.iter().map(DayView::from).collect(),
            by_clerk: s
                .by_clerk
                .iter()
                .map(|(id, f)| figures(clerk_name(*id), f))
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct InstalmentView {
    pub policy: String,
    pub holder: String,
    pub phone: String,
    pub seq: u32,
    pub due_date: String,
    pub status: InstalmentStatus,
    pub amount: String,
    pub amount_minor: i64,
    pub paid: String,
    pub paid_minor: i64,
    pub outstanding: String,
    pub outstanding_minor: i64,
    pub currency: String,
    pub days_overdue: i64,
}

impl From<&ScheduleLine> for InstalmentView {
    fn from(l: &ScheduleLine) -> Self {
        let s = &l.state;
        let money = |m: Money| (m.amount_string(), m.minor());
        let (amount, amount_minor) = money(s.instalment.amount);
        let (paid, paid_minor) = money(s.paid);
        let (outstanding, outstanding_minor) = money(s.outstanding);
        InstalmentView {
            policy: l.policy_number.clone(),
            holder: l.holder.clone(),
            phone: l.phone.clone(),
            seq: s.instalment.seq,
            due_date: s.instalment.due.to_string(),
            status: s.status,
            amount,
            amount_minor,
            paid,
            paid_minor,
            outstanding,
            outstanding_minor,
            currency: s.instalment.amount.currency().code().to_owned(),
            days_overdue: s.days_overdue,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct UserView {
    pub username: String,
    pub role: Role,
    pub active: bool,
    pub created_at: String,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            username: u.username.clone(),
            role: u.role,
            active: u.active,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AuditView {
    pub id: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub entity: String,
    pub entity_id: String,
    /// The entry as a manager reads it: who did what, to what, and why.
    pub sentence: String,
    /// The entity before the change, as JSON.
    #[ts(type = "unknown")]
    pub before: Option<serde_json::Value>,
    #[ts(type = "unknown")]
    pub after: Option<serde_json::Value>,
}

impl From<&AuditEntry> for AuditView {
    fn from(e: &AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: rfc3339(e.at),
            actor: e.actor.clone(),
            action: e.action.clone(),
            entity: e.entity.clone(),
            entity_id: e.entity_id.clone(),
            sentence: crate::audit_text::sentence(e),
            before: e.before.clone(),
            after: e.after.clone(),
        }
    }
}

/// A policy with its schedule and its payments, for the details screen and `policy show`.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct PolicyDetails {
    #[serde(flatten)]
    pub policy: PolicyView,
    pub instalments: Vec<InstalmentView>,
    pub transactions: List<TransactionView>,
    /// Paid beyond what has fallen due (an overpayment): it pays the next instalments.
    pub credit: String,
    pub credit_minor: i64,
    /// The language of its customer messages: `en` or `sw`.
    pub language: String,
    /// Its holder asked for no messages.
    pub opted_out: bool,
    /// Its customer messages, newest first.
    pub messages: Vec<MessageView>,
    /// Where it stands with its premiums (as in the policy list).
    pub standing: String,
    pub grace_ends: Option<String>,
    pub lapsed_since: Option<String>,
    /// Lapsed in the register with its arrears paid: a manager reinstates it.
    pub awaiting_reinstatement: bool,
    /// How its premiums are collected without the counter, if that was ever set.
    pub collection: Option<CollectionView>,
}

/// The manager's dashboard in one answer: the office's summary, the company's from the relay
/// (or why it is missing), overdue instalments, and what waits for a decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DashboardView {
    pub office: SummaryView,
    pub company: Option<CompanyView>,
    /// Why the company-wide view is missing: no relay configured, or it cannot be reached.
    pub company_problem: Option<String>,
    /// Instalments past their due date and not fully paid, most overdue first.
    pub overdue: Vec<InstalmentView>,
    pub overdue_total: i64,
    /// Refunds requested and waiting for a manager.
    pub refunds_waiting: i64,
    /// Provider events that matched no payment, not yet resolved.
    pub orphans_open: i64,
    /// Customer messages by status (all time): queued, sent, delivered, failed, skipped.
    pub messages: MessageCounts,
    /// How far M-Pesa's own ledger has been read, for an office taking paybill payments.
    pub ledger: Option<LedgerStatus>,
    /// Paybill payments waiting in the company's suspense list for a manager (none when the
    /// relay could not be asked).
    pub suspense: Option<TotalsView>,
    /// The office's cash (in its currency) and the closed drawers awaiting a manager's sign-off.
    pub cash: CashPositionView,
    pub cash_ups_unsigned: i64,
    /// M-Pesa's and Paystack's health, from this office's own calls.
    pub providers: Vec<crate::health::ProviderHealth>,
    /// Policies in grace whose grace ends within a week: they lapse unless paid.
    pub lapsing: Vec<PolicyRow>,
}

/// The office's cash, all time, in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CashPositionView {
    pub currency: String,
    pub received: String,
    pub received_minor: i64,
    pub paid_out: String,
    pub paid_out_minor: i64,
    pub deposited: String,
    pub deposited_minor: i64,
    /// Cash in the office not yet taken to the bank.
    pub undeposited: String,
    pub undeposited_minor: i64,
}

impl From<&CashPosition> for CashPositionView {
    fn from(p: &CashPosition) -> Self {
        CashPositionView {
            currency: p.received.currency().code().to_owned(),
            received: p.received.amount_string(),
            received_minor: p.received.minor(),
            paid_out: p.paid_out.amount_string(),
            paid_out_minor: p.paid_out.minor(),
            deposited: p.deposited.amount_string(),
            deposited_minor: p.deposited.minor(),
            undeposited: p.undeposited.amount_string(),
            undeposited_minor: p.undeposited.minor(),
        }
    }
}

/// A policy's collection instruction as the screens show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CollectionView {
    pub policy: String,
    /// `none`, `card`, `mpesa_prompt` or `ratiba`.
    pub kind: String,
    pub card_last4: Option<String>,
    pub phone: Option<String>,
    pub consent_by: Option<String>,
    pub consent_how: Option<String>,
    pub consent: Option<String>,
    pub consent_at: Option<String>,
    /// Why it stopped, when Malipo or a person stopped it.
    pub stopped_reason: Option<String>,
    pub updated_by: String,
    pub updated_at: String,
    /// The latest M-Pesa Ratiba standing order asked for the policy.
    pub standing_order: Option<StandingOrderView>,
}

/// An M-Pesa Ratiba standing order and whether its runs arrive when due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct StandingOrderView {
    /// As the holder sees it in their M-Pesa menu.
    pub name: String,
    /// `asking`, `awaiting_pin`, `active`, `failed` or `stopped`.
    pub status: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub frequency: String,
    pub start: String,
    pub end: String,
    pub result_code: Option<String>,
    pub result: Option<String>,
    /// Safaricom's reference for the order.
    pub order_ref: Option<String>,
    pub asked_by: String,
    pub asked_at: String,
    /// Instalments due from its start until today.
    pub runs_due: i64,
    /// Of those, the ones unpaid two days after their due date.
    pub runs_missed: i64,
    /// The due date of the first missed run.
    pub late_since: Option<String>,
}

impl From<&malipo_store::StandingOrder> for StandingOrderView {
    fn from(o: &malipo_store::StandingOrder) -> Self {
        StandingOrderView {
            name: o.name.clone(),
            status: o.status.clone(),
            amount: o.amount.amount_string(),
            amount_minor: o.amount.minor(),
            currency: o.amount.currency().code().to_owned(),
            frequency: o.frequency.clone(),
            start: o.start.to_string(),
            end: o.end.to_string(),
            result_code: o.result_code.clone(),
            result: o.result_desc.clone(),
            order_ref: o.order_ref.clone(),
            asked_by: o.created_by.clone(),
            asked_at: rfc3339(o.created_at),
            runs_due: 0,
            runs_missed: 0,
            late_since: None,
        }
    }
}

impl From<&Instruction> for CollectionView {
    fn from(i: &Instruction) -> Self {
        CollectionView {
            policy: i.policy_number.clone(),
            kind: i.kind.clone(),
            card_last4: i.card_last4.clone(),
            phone: i.phone.clone(),
            consent_by: i.consent_by.clone(),
            consent_how: i.consent_how.clone(),
            consent: i.consent_text.clone(),
            consent_at: i.consent_at.map(rfc3339),
            stopped_reason: i.stopped_reason.clone(),
            updated_by: i.updated_by.clone(),
            updated_at: rfc3339(i.updated_at),
            standing_order: None,
        }
    }
}

/// How many customer messages are in each status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MessageCounts {
    pub queued: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub skipped: i64,
}

/// A message as the Messages screen and `malipo messages list` show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MessageView {
    pub id: i64,
    /// `receipt` or `reminder`.
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    pub policy: String,
    /// `queued`, `sending`, `sent`, `delivered`, `failed` or `skipped`.
    pub status: String,
    /// The number (masked) or address it went to.
    pub recipient: Option<String>,
    pub body: Option<String>,
    pub attempts: i64,
    /// Why it failed, was skipped, or is waiting.
    pub problem: Option<String>,
    pub created_at: String,
    pub sent_at: Option<String>,
    pub delivered_at: Option<String>,
    /// The message this one sends again.
    pub resent_from: Option<i64>,
}

impl From<&MessageRecord> for MessageView {
    fn from(m: &MessageRecord) -> Self {
        let rfc = rfc3339;
        MessageView {
            id: m.id,
            purpose: m.purpose.clone(),
            channel: m.channel.clone(),
            policy: m.policy_number.clone(),
            status: m.status.clone(),
            recipient: m.recipient.as_deref().map(|r| {
                if m.channel == "sms" {
                    malipo_domain::phone::masked(r)
                } else {
                    r.to_owned()
                }
            }),
            body: m.body.clone(),
            attempts: m.attempts,
            problem: m.problem.clone(),
            created_at: rfc(m.created_at),
            sent_at: m.sent_at.map(rfc),
            delivered_at: m.delivered_at.map(rfc),
            resent_from: m.resent_from,
        }
    }
}

/// What one pass of the sender did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SendReport {
    pub queued_reminders: u64,
    pub sent: u64,
    pub failed: u64,
    pub skipped: u64,
    /// Not sent this time (tried again later, or held for the quiet hours).
    pub later: u64,
}

/// A reminder due today for an instalment, for `malipo remind --dry-run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ReminderView {
    pub policy: String,
    pub holder: String,
    pub seq: i64,
    pub due_date: String,
    /// Days from the due date (negative: before).
    pub offset: i64,
    pub outstanding: String,
    /// Queued before (it will not be sent again).
    pub already: bool,
}

/// The company's payments across every office, as the relay sums them up.
pub type CompanyView = malipo_relay_api::CompanySummary;

/// A provider event kept for a manager, as they see it: one that matched no payment anywhere
/// (`orphan`), or a claim the provider did not confirm (`suspect`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct OrphanView {
    /// The relay's sequence number: how to name it when resolving.
    pub seq: i64,
    /// `orphan` or `suspect`.
    pub outcome: String,
    /// A claim the provider did not confirm (`suspect`), rather than one matching nothing.
    pub unconfirmed: bool,
    pub provider: String,
    pub kind: String,
    pub dedup_key: String,
    pub received_at: String,
    /// Why it is here: what it matched, or what the provider said instead.
    pub note: String,
    /// The provider's raw body.
    pub body: String,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

/// The dashboard's line on M-Pesa's ledger (what the doctor's `mpesa.ledger` says).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LedgerStatus {
    /// When Pull Transactions was registered at this counter (RFC 3339), if it was.
    pub pull_registered_at: Option<String>,
    /// Minutes between automatic pulls (0: off).
    pub pull_minutes: i64,
    /// Where the last complete pull ended.
    pub pulled_to: Option<String>,
    /// Where the latest imported statement's period ends.
    pub statement_to: Option<String>,
    /// The later of the two: M-Pesa payments up to here have been compared with M-Pesa's list;
    /// days after it are not yet covered.
    pub covered_to: Option<String>,
    /// Nothing has covered M-Pesa's list for more than 36 hours (or ever): a payment whose
    /// confirmation never came would go unnoticed.
    pub stale: bool,
}
