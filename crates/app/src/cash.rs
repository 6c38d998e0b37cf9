//! Cash at the counter: a payment with the change worked out, each clerk's drawer closed at the
//! end of the day against what the payments say it should hold, a manager's sign-off, and the
//! office's deposits at the bank.
//!
//! A cash payment is a payment like any other (numbers, receipts, sync, summaries, refunds);
//! it is paid the moment it is recorded, since the notes are in the drawer.

use serde::Serialize;
use time::Date;

use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Count, Currency, Money, ProviderReference, Tender, Variance};
use malipo_store::{CashUpRecord, DepositRecord, Drawer, NewCash, StoreError};

use crate::error::{Error, Result};
use crate::payments::amount_for;
use crate::settings::table;
use crate::views::{CashPositionView, TransactionView, rfc3339};
use crate::{Actor, App};

/// A cash payment as the clerk records it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct CashRequest {
    pub policy: String,
    pub amount: String,
    /// What the customer handed over.
    pub tendered: String,
    /// The clerk insists on a repeat of a payment made moments ago.
    pub again: bool,
}

/// How a drawer was counted: one total, or note by note (`1000x5,500x3`).
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Counted {
    Total(String),
    Denominations(String),
}

/// A clerk's drawer on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DrawerView {
    pub clerk: String,
    pub day: String,
    pub currency: String,
    /// Cash payments taken into it, and how many.
    pub received: String,
    pub received_minor: i64,
    pub payments: i64,
    /// Cash refunds handed back from it.
    pub paid_out: String,
    pub paid_out_minor: i64,
    /// What it should hold (for a closed drawer, what it should have held when it was closed).
    pub expected: String,
    pub expected_minor: i64,
    pub closed: bool,
    pub counted: Option<String>,
    pub counted_minor: Option<i64>,
    /// Counted less expected: `+20.00` over, `-50.00` short.
    pub variance: Option<String>,
    pub variance_minor: Option<i64>,
    pub denominations: Option<String>,
    pub closed_at: Option<String>,
    pub closed_by: Option<String>,
    pub signed_off_by: Option<String>,
    pub signed_off_at: Option<String>,
    pub sign_off_note: Option<String>,
}

impl DrawerView {
    fn new(d: &Drawer) -> DrawerView {
        let mut view = DrawerView {
            clerk: d.clerk.clone(),
            day: d.day.to_string(),
            currency: d.expected.currency().code().to_owned(),
            received: d.received.amount_string(),
            received_minor: d.received.minor(),
            payments: d.payments,
            paid_out: d.paid_out.amount_string(),
            paid_out_minor: d.paid_out.minor(),
            expected: d.expected.amount_string(),
            expected_minor: d.expected.minor(),
            closed: false,
            counted: None,
            counted_minor: None,
            variance: None,
            variance_minor: None,
            denominations: None,
            closed_at: None,
            closed_by: None,
            signed_off_by: None,
            signed_off_at: None,
            sign_off_note: None,
        };
        if let Some(c) = &d.cash_up {
            view.close_with(c);
        }
        view
    }

    fn close_with(&mut self, c: &CashUpRecord) {
        let variance = Variance {
            minor: c.variance_minor,
            currency: c.expected.currency(),
        };
        self.expected = c.expected.amount_string();
        self.expected_minor = c.expected.minor();
        self.closed = true;
        self.counted = Some(c.counted.amount_string());
        self.counted_minor = Some(c.counted.minor());
        self.variance = Some(variance.amount_string());
        self.variance_minor = Some(c.variance_minor);
        self.denominations = c.denominations.clone();
        self.closed_at = Some(rfc3339(c.closed_at));
        self.closed_by = Some(c.closed_by.clone());
        self.signed_off_by = c.signed_off_by.clone();
        self.signed_off_at = c.signed_off_at.map(rfc3339);
        self.sign_off_note = c.sign_off_note.clone();
    }
}

/// Cash taken to the bank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DepositView {
    pub id: i64,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub bank_ref: String,
    pub made_by: String,
    pub made_at: String,
}

impl From<&DepositRecord> for DepositView {
    fn from(d: &DepositRecord) -> Self {
        DepositView {
            id: d.id,
            amount: d.amount.amount_string(),
            amount_minor: d.amount.minor(),
            currency: d.amount.currency().code().to_owned(),
            bank_ref: d.bank_ref.clone(),
            made_by: d.made_by.clone(),
            made_at: rfc3339(d.made_at),
        }
    }
}

/// A day's cash: every drawer the signed-in user may see (a manager all, a clerk their own),
/// the office's position and the latest deposits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CashReport {
    pub day: String,
    pub drawers: Vec<DrawerView>,
    /// Closed drawers of any day still waiting for a manager's sign-off (managers only).
    pub awaiting_sign_off: Vec<DrawerView>,
    pub position: CashPositionView,
    pub deposits: Vec<DepositView>,
}

/// A day as typed (`2026-12-07`), or today in Nairobi; never a day still to come.
fn day_or_today(text: Option<&str>, today: Date) -> Result<Date> {
    let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(today);
    };
    let day = Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| Error::invalid("day", format!("'{text}' is not a day like 2026-12-07")))?;
    if day > today {
        return Err(Error::invalid("day", format!("{day} has not come yet")));
    }
    Ok(day)
}

fn cash_error(field: &'static str, e: malipo_domain::CashError) -> Error {
    Error::invalid(field, e)
}

impl App {
    /// Records cash handed over at the counter: the change is worked out (never negative),
    /// the payment is paid at once with its receipt number. Refused when the clerk's drawer
    /// is closed for the day.
    pub async fn pay_cash(&self, actor: &Actor, req: &CashRequest) -> Result<TransactionView> {
        actor.require(Action::TakePayment)?;
        let Some(clerk_id) = actor.user_id() else {
            return Err(Error::Forbidden(
                "cash goes into a clerk's drawer: sign in as the clerk who takes it".into(),
            ));
        };
        let policy = self.payable_policy(&req.policy).await?;
        let currency = policy.premium.currency();
        let amount = amount_for(&policy, "amount", &req.amount)?;
        let tendered = amount_for(&policy, "tendered", &req.tendered)?;
        let tender = Tender::new(amount, tendered).map_err(|e| cash_error("tendered", e))?;
        // A closed drawer says so first (recording checks again, in its own transaction).
        let today = nairobi_date(self.now());
        if self
            .store()
            .drawer_closed(clerk_id, today, currency)
            .await?
        {
            return Err(Error::Conflict(format!(
                "{}'s cash for {today} is closed (counted and handed in): no more cash can go in or out of that drawer today",
                actor.name()
            )));
        }
        self.guard(
            actor,
            policy.id,
            malipo_domain::Method::Cash,
            "",
            amount,
            req.again,
        )
        .await?;
        self.learn_counter().await;
        let desk = self.desk().await?;
        for _ in 0..5 {
            let mut bits = [0_u8; 8];
            getrandom::fill(&mut bits)
                .map_err(|e| Error::internal(format!("no randomness: {e}")))?;
            let new = NewCash {
                desk: desk.clone(),
                policy_id: policy.id,
                amount: tender.amount,
                tendered: tender.tendered,
                reference: ProviderReference::from_random(u64::from_le_bytes(bits)),
                clerk_id,
            };
            match self
                .store()
                .record_cash(actor.name(), &new, self.now())
                .await
            {
                Err(StoreError::Duplicate(_)) => continue,
                Err(e) => return Err(e.into()),
                Ok(t) => {
                    tracing::info!(
                        number = %t.number,
                        amount = %amount,
                        change = %tender.change,
                        clerk = actor.name(),
                        "cash received"
                    );
                    return Ok(TransactionView::from(&t));
                }
            }
        }
        Err(Error::internal(
            "could not draw an unused payment reference",
        ))
    }

    /// A day's cash (today when `day` is `None`): a manager sees every drawer and the cash-ups
    /// awaiting sign-off; a clerk sees their own drawer. Both see the office's cash position.
    pub async fn cash_report(&self, actor: &Actor, day: Option<&str>) -> Result<CashReport> {
        actor.require(Action::Read)?;
        let today = nairobi_date(self.now());
        let day = day_or_today(day, today)?;
        let currency = self.office_currency().await?;
        let manager = actor.may(Action::SignOffCash) || matches!(actor, Actor::Console);
        let drawers = if manager {
            self.store().drawers(day, currency).await?
        } else {
            match actor.user_id() {
                Some(id) => vec![self.store().drawer(id, day, currency).await?],
                None => Vec::new(),
            }
        };
        let awaiting_sign_off = if manager {
            self.store()
                .cash_ups(today - time::Duration::days(60), today)
                .await?
                .iter()
                .filter(|c| c.signed_off_at.is_none())
                .map(|c| {
                    let mut v = DrawerView::new(&Drawer {
                        clerk_id: c.clerk_id,
                        clerk: c.clerk.clone(),
                        day: c.day,
                        received: Money::zero(c.expected.currency()),
                        payments: 0,
                        paid_out: Money::zero(c.expected.currency()),
                        expected: c.expected,
                        cash_up: None,
                    });
                    v.close_with(c);
                    v
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(CashReport {
            day: day.to_string(),
            drawers: drawers.iter().map(DrawerView::new).collect(),
            awaiting_sign_off,
            position: CashPositionView::from(&self.store().cash_position(currency).await?),
            deposits: self
                .store()
                .deposits(20)
                .await?
                .iter()
                .map(DepositView::from)
                .collect(),
        })
    }

    /// Closes the signed-in clerk's drawer for `day` (today by default) with what they counted.
    /// From then on that drawer takes no more cash that day.
    pub async fn close_cash(
        &self,
        actor: &Actor,
        counted: &Counted,
        day: Option<&str>,
    ) -> Result<DrawerView> {
        actor.require(Action::TakePayment)?;
        let Some(clerk_id) = actor.user_id() else {
            return Err(Error::Forbidden(
                "a drawer is closed by its clerk: sign in as the clerk whose cash it is".into(),
            ));
        };
        let day = day_or_today(day, nairobi_date(self.now()))?;
        let currency = self.office_currency().await?;
        let (total, denominations) = match counted {
            Counted::Total(text) => {
                let text = text.trim();
                let total = if text.trim_matches(['0', '.', ' ']).is_empty() && !text.is_empty() {
                    Money::zero(currency)
                } else {
                    Money::parse(text, currency).map_err(|e| Error::invalid("counted", e))?
                };
                (total, None)
            }
            Counted::Denominations(text) => {
                let count =
                    Count::parse(text, currency).map_err(|e| cash_error("denominations", e))?;
                (count.total, Some(count.to_text()))
            }
        };
        if total.currency() != currency {
            return Err(Error::invalid(
                "counted",
                format!(
                    "the drawer is counted in {currency}, not {}",
                    total.currency()
                ),
            ));
        }
        let record = self
            .store()
            .close_drawer(
                actor.name(),
                clerk_id,
                day,
                total,
                denominations.as_deref(),
                self.now(),
            )
            .await?;
        let variance = Variance {
            minor: record.variance_minor,
            currency,
        };
        tracing::info!(clerk = actor.name(), %day, variance = %variance, "cash closed");
        self.drawer_view(clerk_id, day, currency).await
    }

    /// Every drawer with cash in or out on `day`, or closed (reconciliation).
    pub(crate) async fn drawers_of(&self, day: Date) -> Result<Vec<DrawerView>> {
        let currency = self.office_currency().await?;
        Ok(self
            .store()
            .drawers(day, currency)
            .await?
            .iter()
            .map(DrawerView::new)
            .collect())
    }

    async fn drawer_view(
        &self,
        clerk_id: i64,
        day: Date,
        currency: Currency,
    ) -> Result<DrawerView> {
        Ok(DrawerView::new(
            &self.store().drawer(clerk_id, day, currency).await?,
        ))
    }

    /// A manager signs off `clerk`'s closed drawer for `day` (today by default), with a note
    /// (needed when the count is short or over). Their own drawer only in a one-person office.
    pub async fn sign_off_cash(
        &self,
        actor: &Actor,
        clerk: &str,
        day: Option<&str>,
        note: Option<&str>,
    ) -> Result<DrawerView> {
        actor.require(Action::SignOffCash)?;
        let day = day_or_today(day, nairobi_date(self.now()))?;
        let currency = self.office_currency().await?;
        let user = self
            .store()
            .user(clerk.trim())
            .await?
            .ok_or_else(|| Error::NotFound(format!("user {}", clerk.trim())))?;
        let drawer = self.store().drawer(user.id, day, currency).await?;
        let Some(cash_up) = &drawer.cash_up else {
            return Err(Error::Conflict(format!(
                "{}'s cash for {day} is not closed yet: the clerk counts it and closes it first",
                user.username
            )));
        };
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500) {
            return Err(Error::invalid("note", "at most 500 characters"));
        }
        if cash_up.variance_minor != 0 && note.is_none() {
            let variance = Variance {
                minor: cash_up.variance_minor,
                currency,
            };
            return Err(Error::invalid(
                "note",
                format!(
                    "{}'s count is {variance}: say what was found (the note stays with the cash-up and in the audit log)",
                    user.username
                ),
            ));
        }
        let mut note = note.map(str::to_owned);
        if Some(user.id) == actor.user_id() {
            let allowed = self
                .store()
                .setting(table::CASH_SELF_SIGN_OFF.key)
                .await?
                .is_some_and(|v| v == "on");
            if !allowed {
                return Err(Error::Forbidden(
                    "this is your own cash: another manager signs it off (a one-person office can allow this in Settings)"
                        .into(),
                ));
            }
            let own = format!(
                "signed off by {}, whose cash it is (one-person office)",
                actor.name()
            );
            note = Some(match note {
                Some(n) => format!("{n}; {own}"),
                None => own,
            });
        }
        self.store()
            .sign_off_cash_up(
                actor.name(),
                user.id,
                day,
                currency,
                note.as_deref(),
                self.now(),
            )
            .await?;
        self.drawer_view(user.id, day, currency).await
    }

    /// Records cash taken to the bank, with the bank's reference from the deposit slip.
    pub async fn deposit_cash(
        &self,
        actor: &Actor,
        amount: &str,
        bank_ref: &str,
    ) -> Result<DepositView> {
        actor.require(Action::TakePayment)?;
        let currency = self.office_currency().await?;
        let amount = Money::parse(amount, currency).map_err(|e| Error::invalid("amount", e))?;
        let bank_ref = bank_ref.trim();
        if bank_ref.is_empty()
            || bank_ref.chars().count() > 40
            || bank_ref.chars().any(char::is_control)
        {
            return Err(Error::invalid(
                "bank_ref",
                "the reference on the bank's deposit slip, 1 to 40 characters",
            ));
        }
        let record = self
            .store()
            .record_deposit(actor.name(), amount, bank_ref, self.now())
            .await?;
        Ok(DepositView::from(&record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_today_or_before() {
        let today = time::macros::date!(2026 - 12 - 07);
        assert_eq!(day_or_today(None, today).unwrap(), today);
        assert_eq!(day_or_today(Some(" "), today).unwrap(), today);
        assert_eq!(
            day_or_today(Some("2026-12-06"), today).unwrap(),
            time::macros::date!(2026 - 12 - 06)
        );
        assert!(day_or_today(Some("2026-12-08"), today).is_err());
        assert!(day_or_today(Some("7/12/2026"), today).is_err());
    }
}
