//! Cheques and bank slips at the counter.
//!
//! A cheque pays the policy provisionally (its receipt says "subject to clearance") and follows
//! the cheque: banked (never before the date written on it), then cleared or bounced. A bounced
//! cheque's payment becomes `bounced`: the instalments it paid are open again, its number and
//! receipt stand, a reversing entry records it (with the office's fee, if it charges one), and
//! the holder is told by SMS once.
//!
//! A bank slip (the customer paid into the company's account) is not money until a manager
//! finds it in the bank: one by one, or from the bank's statement (a CSV whose columns are
//! named once and kept).

use serde::Serialize;
use time::Duration;

use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Method, Money, ProviderReference};
use malipo_store::{ChequeRecord, ChequeStep, NewCheque, NewSlip, SlipRecord, StoreError, TxKey};

use crate::error::{Error, Result};
use crate::payments::amount_for;
use crate::settings::table;
use crate::views::{TransactionView, rfc3339};
use crate::{Actor, App};

/// A cheque as the clerk receives it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct ChequeRequest {
    pub policy: String,
    pub amount: String,
    /// The cheque's number, as printed on it.
    pub number: String,
    pub bank: String,
    /// Whose account it is drawn on (an employer, the holder).
    pub drawer: String,
    /// The date written on it (today when none); a post-dated cheque is banked on that day.
    pub dated: Option<String>,
}

/// A deposit slip the customer brings.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct SlipRequest {
    pub policy: String,
    pub amount: String,
    /// The bank's reference on the slip.
    pub bank_ref: String,
}

/// A cheque with its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ChequeView {
    pub payment: TransactionView,
    pub number: String,
    pub bank: String,
    pub drawer: String,
    pub dated: String,
    /// `received`, `banked`, `cleared` or `bounced`.
    pub state: String,
    /// Its date has not come: it cannot be banked yet.
    pub post_dated: bool,
    pub banked_at: Option<String>,
    pub banked_by: Option<String>,
    pub settled_at: Option<String>,
    pub settled_by: Option<String>,
    pub bounce_reason: Option<String>,
    pub bounce_fee: Option<String>,
}

/// A bank slip with its payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SlipView {
    pub payment: TransactionView,
    pub bank_ref: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<String>,
    /// `manual`, or the statement it was found in.
    pub decided_how: Option<String>,
}

impl From<&SlipRecord> for SlipView {
    fn from(s: &SlipRecord) -> Self {
        SlipView {
            payment: TransactionView::from(&s.payment),
            bank_ref: s.bank_ref.clone(),
            decided_by: s.decided_by.clone(),
            decided_at: s.decided_at.map(rfc3339),
            decided_how: s.decided_how.clone(),
        }
    }
}

/// What a bank statement did to the slips.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct BankStatementReport {
    pub rows: u64,
    /// Slips found with their amount: confirmed, now money.
    pub confirmed: Vec<SlipView>,
    /// A slip's reference with another amount: left for a manager, with both amounts.
    pub amount_differs: Vec<String>,
    /// Rows naming no slip (other credits to the account).
    pub not_slips: u64,
    /// Slips decided before.
    pub already: u64,
    /// Rows that could not be read, with their line and why.
    pub refused: Vec<String>,
}

/// The bank statement's columns, as the manager named them once: `reference=Ref,amount=Credit`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Columns {
    reference: String,
    amount: String,
}

impl Columns {
    fn parse(text: &str) -> Result<Columns> {
        let mut reference = None;
        let mut amount = None;
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some(("reference", col)) => reference = Some(col.trim().to_owned()),
                Some(("amount", col)) => amount = Some(col.trim().to_owned()),
                _ => {
                    return Err(Error::invalid(
                        "columns",
                        format!("'{part}' is not reference=COLUMN or amount=COLUMN"),
                    ));
                }
            }
        }
        match (reference, amount) {
            (Some(reference), Some(amount)) if !reference.is_empty() && !amount.is_empty() => {
                Ok(Columns { reference, amount })
            }
            _ => Err(Error::invalid(
                "columns",
                "name both columns, like reference=Reference,amount=Credit",
            )),
        }
    }

    fn text(&self) -> String {
        format!("reference={},amount={}", self.reference, self.amount)
    }
}

/// The statement columns as a manager types them, checked and written the one way.
pub(crate) fn check_columns(text: &str) -> Result<String> {
    Ok(Columns::parse(text)?.text())
}

fn text_field(field: &'static str, text: &str, min: usize, max: usize) -> Result<String> {
    let t = text.trim();
    let n = t.chars().count();
    if n < min || n > max || t.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            format!("{min} to {max} printable characters"),
        ));
    }
    Ok(t.to_owned())
}

/// How old a cheque may be: Kenyan banks refuse one dated more than six months ago (stale).
const STALE_AFTER: Duration = Duration::days(182);

impl App {
    async fn random_reference() -> Result<ProviderReference> {
        let mut bits = [0_u8; 8];
        getrandom::fill(&mut bits).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
        Ok(ProviderReference::from_random(u64::from_le_bytes(bits)))
    }

    /// The policy and the amount in its currency, after the checks every new payment passes.
    async fn counter_payment(
        &self,
        actor: &Actor,
        policy: &str,
        amount: &str,
        method: Method,
    ) -> Result<(malipo_store::PolicyRecord, Money)> {
        actor.require(Action::TakePayment)?;
        let policy = self.payable_policy(policy).await?;
        let amount = amount_for(&policy, "amount", amount)?;
        // A cheque or a slip is one of its kind by its number or reference (recorded once), so
        // two alike within minutes are two papers, not a double charge: no repeat guard.
        self.guard(actor, policy.id, method, "", amount, true)
            .await?;
        self.learn_counter().await;
        Ok((policy, amount))
    }

    /// Records a cheque: the policy is paid provisionally, with a receipt marked "subject to
    /// clearance". A stale cheque (dated more than six months ago) is refused; a post-dated one
    /// is taken and banked on its date.
    pub async fn pay_cheque(&self, actor: &Actor, req: &ChequeRequest) -> Result<ChequeView> {
        actor.require(Action::TakePayment)?;
        let number = text_field("number", &req.number, 1, 20)?;
        if !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(Error::invalid(
                "number",
                "the cheque number as printed: letters and digits only",
            ));
        }
        let bank = text_field("bank", &req.bank, 2, 60)?;
        let drawer = text_field("drawer", &req.drawer, 2, 100)?;
        let today = nairobi_date(self.now());
        let dated = match req
            .dated
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            Some(d) => crate::input::parse_date("dated", d)?,
            None => today,
        };
        if dated < today - STALE_AFTER {
            return Err(Error::invalid(
                "dated",
                format!(
                    "a cheque dated {dated} is stale (over six months old): the bank will not pay it"
                ),
            ));
        }
        let (policy, amount) = self
            .counter_payment(actor, &req.policy, &req.amount, Method::Cheque)
            .await?;
        let desk = self.desk().await?;
        for _ in 0..5 {
            let new = NewCheque {
                desk: desk.clone(),
                policy_id: policy.id,
                amount,
                reference: Self::random_reference().await?,
                clerk_id: actor.user_id(),
                number: number.clone(),
                bank: bank.clone(),
                drawer: drawer.clone(),
                dated,
            };
            match self
                .store()
                .record_cheque(actor.name(), &new, self.now())
                .await
            {
                Err(StoreError::Duplicate(what)) if what.starts_with("reference") => continue,
                Err(e) => return Err(e.into()),
                Ok(c) => return Ok(self.cheque_view(&c)),
            }
        }
        Err(Error::internal(
            "could not draw an unused payment reference",
        ))
    }

    fn cheque_view(&self, c: &ChequeRecord) -> ChequeView {
        ChequeView {
            payment: TransactionView::from(&c.payment),
            number: c.number.clone(),
            bank: c.bank.clone(),
            drawer: c.drawer.clone(),
            dated: c.dated.to_string(),
            state: c.state.clone(),
            post_dated: c.state == "received" && c.dated > nairobi_date(self.now()),
            banked_at: c.banked_at.map(rfc3339),
            banked_by: c.banked_by.clone(),
            settled_at: c.settled_at.map(rfc3339),
            settled_by: c.settled_by.clone(),
            bounce_reason: c.bounce_reason.clone(),
            bounce_fee: c.bounce_fee.map(Money::amount_string),
        }
    }

    /// Cheques in `state` (`received`, `banked`, `cleared`, `bounced`; all when none), by date.
    pub async fn cheques(&self, actor: &Actor, state: Option<&str>) -> Result<Vec<ChequeView>> {
        actor.require(Action::Read)?;
        if let Some(s) = state
            && !["received", "banked", "cleared", "bounced"].contains(&s)
        {
            return Err(Error::invalid(
                "state",
                "received, banked, cleared or bounced",
            ));
        }
        Ok(self
            .store()
            .cheques(state, 1000)
            .await?
            .iter()
            .map(|c| self.cheque_view(c))
            .collect())
    }

    async fn cheque_of(&self, key: &str) -> Result<ChequeRecord> {
        let t = self.store().transaction(&TxKey::parse(key)).await?;
        if t.method != Method::Cheque {
            return Err(Error::invalid(
                "payment",
                format!("{} was paid by {}, not by cheque", t.number, t.method),
            ));
        }
        Ok(self.store().cheque(t.id).await?)
    }

    /// A clerk takes a cheque to the bank: refused before the date written on it.
    pub async fn bank_cheque(&self, actor: &Actor, key: &str) -> Result<ChequeView> {
        actor.require(Action::TakePayment)?;
        let c = self.cheque_of(key).await?;
        let desk = self.desk().await?;
        let after = self
            .store()
            .cheque_step(
                actor.name(),
                c.payment.id,
                ChequeStep::Bank,
                &desk,
                self.now(),
            )
            .await?;
        Ok(self.cheque_view(&after))
    }

    /// A manager records that the bank paid a banked cheque: the payment is certain.
    pub async fn clear_cheque(&self, actor: &Actor, key: &str) -> Result<ChequeView> {
        actor.require(Action::ResolveReview)?;
        let c = self.cheque_of(key).await?;
        let desk = self.desk().await?;
        let after = self
            .store()
            .cheque_step(
                actor.name(),
                c.payment.id,
                ChequeStep::Clear,
                &desk,
                self.now(),
            )
            .await?;
        Ok(self.cheque_view(&after))
    }

    /// A manager records that the bank returned a banked cheque unpaid: the payment is
    /// reversed (the instalments it paid are open again), the office's bounce fee recorded if it
    /// charges one, and the holder told by SMS once.
    pub async fn bounce_cheque(
        &self,
        actor: &Actor,
        key: &str,
        reason: &str,
    ) -> Result<ChequeView> {
        actor.require(Action::ResolveReview)?;
        let reason = text_field("reason", reason, 2, 200)?;
        let c = self.cheque_of(key).await?;
        let currency = c.payment.amount.currency();
        let fee = match self.store().setting(table::CHEQUE_BOUNCE_FEE.key).await? {
            Some(f) if !f.trim().is_empty() => Some(
                Money::parse(&f, currency)
                    .map_err(|e| Error::internal(format!("cheque.bounce_fee: {e}")))?,
            )
            .filter(|f| f.currency() == currency),
            _ => None,
        };
        let desk = self.desk().await?;
        let after = self
            .store()
            .cheque_step(
                actor.name(),
                c.payment.id,
                ChequeStep::Bounce {
                    reason: &reason,
                    fee,
                },
                &desk,
                self.now(),
            )
            .await?;
        tracing::info!(number = %after.payment.number, by = actor.name(), "cheque bounced");
        Ok(self.cheque_view(&after))
    }

    /// Records a deposit slip: `awaiting_confirmation`, not money until a manager confirms it.
    pub async fn pay_bank(&self, actor: &Actor, req: &SlipRequest) -> Result<SlipView> {
        actor.require(Action::TakePayment)?;
        let bank_ref = text_field("bank_ref", &req.bank_ref, 3, 40)?;
        let (policy, amount) = self
            .counter_payment(actor, &req.policy, &req.amount, Method::Bank)
            .await?;
        let desk = self.desk().await?;
        for _ in 0..5 {
            let new = NewSlip {
                desk: desk.clone(),
                policy_id: policy.id,
                amount,
                reference: Self::random_reference().await?,
                clerk_id: actor.user_id(),
                bank_ref: bank_ref.clone(),
            };
            match self
                .store()
                .record_slip(actor.name(), &new, self.now())
                .await
            {
                Err(StoreError::Duplicate(what)) if what.starts_with("reference") => continue,
                Err(e) => return Err(e.into()),
                Ok(s) => return Ok(SlipView::from(&s)),
            }
        }
        Err(Error::internal(
            "could not draw an unused payment reference",
        ))
    }

    /// Bank slips waiting for a manager (every slip with `all`).
    pub async fn bank_slips(&self, actor: &Actor, all: bool) -> Result<Vec<SlipView>> {
        actor.require(Action::Read)?;
        Ok(self
            .store()
            .slips(!all, 1000)
            .await?
            .iter()
            .map(SlipView::from)
            .collect())
    }

    /// A manager decides a slip: the money is in the bank (it becomes a paid payment with its
    /// receipt number), or it is not.
    pub async fn confirm_slip(&self, actor: &Actor, key: &str, found: bool) -> Result<SlipView> {
        actor.require(Action::ResolveReview)?;
        let t = self.store().transaction(&TxKey::parse(key)).await?;
        if t.method != Method::Bank {
            return Err(Error::invalid(
                "payment",
                format!("{} was paid by {}, not by a bank slip", t.number, t.method),
            ));
        }
        let desk = self.desk().await?;
        let s = self
            .store()
            .decide_slip(actor.name(), t.id, found, "manual", &desk, self.now())
            .await?;
        Ok(SlipView::from(&s))
    }

    /// Confirms the slips a bank statement (CSV) shows credited with their amount. `columns`
    /// names the reference and amount columns (`reference=Ref,amount=Credit`) and is kept for
    /// next time; without it the kept one is used. A slip whose amount differs is left for a
    /// manager; a row naming no slip is another credit and is left alone.
    pub async fn import_bank_statement(
        &self,
        actor: &Actor,
        name: &str,
        csv_text: &str,
        columns: Option<&str>,
    ) -> Result<BankStatementReport> {
        actor.require(Action::ResolveReview)?;
        if csv_text.len() > 10 * 1024 * 1024 {
            return Err(Error::invalid("file", "a statement of at most 10 MB"));
        }
        let columns = match columns.map(str::trim).filter(|c| !c.is_empty()) {
            Some(c) => Columns::parse(c)?,
            None => match self
                .store()
                .setting(table::BANK_STATEMENT_COLUMNS.key)
                .await?
            {
                Some(kept) => Columns::parse(&kept)?,
                None => {
                    return Err(Error::invalid(
                        "columns",
                        "name the statement's reference and amount columns once, like reference=Reference,amount=Credit",
                    ));
                }
            },
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(csv_text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| Error::invalid("file", format!("not a CSV file: {e}")))?
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    Error::invalid(
                        "columns",
                        format!(
                            "the statement has no column '{name}'; its columns: {}",
                            headers.iter().collect::<Vec<_>>().join(", ")
                        ),
                    )
                })
        };
        let (ref_at, amount_at) = (find(&columns.reference)?, find(&columns.amount)?);
        self.store()
            .set_setting(
                actor.name(),
                table::BANK_STATEMENT_COLUMNS.key,
                &columns.text(),
                self.now(),
            )
            .await?;
        let desk = self.desk().await?;
        let how = format!("statement {}", name.chars().take(80).collect::<String>());
        let mut report = BankStatementReport {
            rows: 0,
            confirmed: Vec::new(),
            amount_differs: Vec::new(),
            not_slips: 0,
            already: 0,
            refused: Vec::new(),
        };
        for (i, row) in reader.records().enumerate() {
            let line = i + 2;
            report.rows += 1;
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    report.refused.push(format!("line {line}: {e}"));
                    continue;
                }
            };
            let reference = row.get(ref_at).unwrap_or("").trim();
            let amount_text = row.get(amount_at).unwrap_or("").trim();
            if reference.is_empty() || amount_text.is_empty() {
                report.not_slips += 1;
                continue;
            }
            let Some(slip) = self.store().slip_by_ref(reference).await? else {
                report.not_slips += 1;
                continue;
            };
            if slip.decided_by.is_some() {
                report.already += 1;
                continue;
            }
            let amount = match Money::parse(amount_text, slip.payment.amount.currency()) {
                Ok(a) => a,
                Err(e) => {
                    report
                        .refused
                        .push(format!("line {line} ({reference}): amount: {e}"));
                    continue;
                }
            };
            if amount != slip.payment.amount {
                report.amount_differs.push(format!(
                    "{reference}: the statement says {amount}, the slip {} ({})",
                    slip.payment.amount, slip.payment.number
                ));
                continue;
            }
            let decided = self
                .store()
                .decide_slip(actor.name(), slip.payment.id, true, &how, &desk, self.now())
                .await?;
            report.confirmed.push(SlipView::from(&decided));
        }
        Ok(report)
    }
}
