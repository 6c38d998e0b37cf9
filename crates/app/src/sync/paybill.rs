//! What a paybill confirmation, and Safaricom's Transaction Status answer about it, mean here.
//!
//! A confirmation is a claim: anyone who learns the confirmation URL can post one. It becomes a
//! payment only once Transaction Status, asked by this office, finds the M-Pesa code completed
//! for the same amount to this office's shortcode. One counter of the company records it: the
//! first to claim `paybill:CODE` at the relay. The payment goes to the policy whose number the
//! customer typed as the account (forgiving case, spaces and punctuation); when none matches,
//! it goes on the company's suspense list for a manager.

use malipo_domain::{Desk, Method, PolicyStatus, Source, TxStatus};
use malipo_providers::daraja::c2b::{self, C2bPayment, StatusResult};
use malipo_relay_api as api;
use malipo_store::{InboxAction, InboxOutcome, NewPaybill, PaybillCheck, StoreError, TxKey};
use time::{Duration, OffsetDateTime};

use super::decide::{apply, held, record};
use crate::App;
use crate::error::{Error, Result};
use crate::outcome::paid_event;

/// How much earlier than the prompt a confirmation's `TransTime` may say it was made (the two
/// clocks differ) and still be the prompt's payment.
const PROMPT_CLOCK_SKEW: Duration = Duration::minutes(10);

/// How long a confirmation naming a payment reference no counter has reported waits for the
/// counter that made the prompt.
const UNKNOWN_REFERENCE_WAIT: Duration = Duration::hours(1);

/// What a paybill confirmation is, told beside the prompts this company made.
pub(super) enum Told {
    /// Decided already: held, or another counter's.
    Decided(Box<InboxAction>),
    /// The payment of this paid M-Pesa prompt, told a second time.
    Prompt(Box<malipo_store::TransactionRecord>),
    /// A payment of its own.
    Payment,
}

/// What became of a payment M-Pesa's own list holds (a pulled one, a statement's row), taken
/// the way a confirmation is: the prompt it paid, or claimed for the company and allocated by
/// its account, or left as the confirmation path decides.
pub(super) enum Listed {
    /// The payment of this M-Pesa prompt, which now carries its code.
    Prompt(Box<malipo_store::TransactionRecord>),
    /// Decided beside the prompts without recording anything (held, or another counter's).
    Decided(Box<InboxAction>),
    /// The relay could not say who records it: nothing was done.
    Unclaimed(String),
    /// Another counter of the company records it (its name).
    ClaimedElsewhere(String),
    /// Recorded here now.
    Recorded(Box<malipo_store::TransactionRecord>),
    /// Recorded here already (the same code, a moment ago).
    Already,
    /// Not recorded: what the confirmation path did instead (suspense, held, …).
    NotRecorded(Box<InboxAction>),
}

/// What a code Transaction Status found is for the policy a clerk named.
pub(crate) enum ForPolicy {
    /// A payment of its own, to record.
    Record(Box<NewPaybill>),
    /// The payment of this M-Pesa prompt for the policy, which Safaricom confirmed without
    /// its code: the prompt takes the code, and nothing new is recorded.
    Prompt(Box<malipo_store::TransactionRecord>),
    /// Not recorded, and why.
    Refused(String),
}

impl ForPolicy {
    /// The decision for the event that brought the code; a refusal is recorded as `refused`
    /// with `why` wrapped by `note`.
    fn decision(
        self,
        code: &str,
        refused: InboxOutcome,
        note: impl Fn(&str) -> String,
    ) -> InboxAction {
        match self {
            ForPolicy::Record(payment) => InboxAction::Paybill { payment: *payment },
            ForPolicy::Prompt(tx) => apply(&tx, prompt_takes(&tx, code), None),
            ForPolicy::Refused(why) => record(refused, None, note(&why)),
        }
    }
}

/// The event that gives a prompt confirmed without its code that code.
pub(crate) fn prompt_takes(
    tx: &malipo_store::TransactionRecord,
    code: &str,
) -> (malipo_domain::TxEvent, malipo_store::ProviderDetails) {
    paid_event(
        tx,
        tx.amount,
        Source::Callback,
        Some(code.to_owned()),
        "M-Pesa",
    )
}

/// How long after a prompt was sent its payment may be finished: the customer has about a
/// minute to answer the prompt, and M-Pesa may take a few more to finish.
const PROMPT_WINDOW: Duration = Duration::minutes(10);

/// Whether Transaction Status's answer describes the payment of prompt `tx` (same amount
/// checked by the caller): paid from the phone prompted (Safaricom masks some digits) and
/// finished within [`PROMPT_WINDOW`] of the prompt.
fn is_prompts_payment(answer: &StatusResult, tx: &malipo_store::TransactionRecord) -> bool {
    let (Some(paid_from), Some(prompted), Some(at)) = (
        answer.payer_number(),
        tx.phone.as_deref(),
        answer.finished_at,
    ) else {
        return false;
    };
    let same_phone = paid_from.len() == prompted.len()
        && paid_from
            .chars()
            .zip(prompted.chars())
            .all(|(c, p)| c == '*' || c == p);
    same_phone && at >= tx.created_at - PROMPT_CLOCK_SKEW && at <= tx.created_at + PROMPT_WINDOW
}

/// Transaction Status's answer for a code M-Pesa has no record of.
const UNKNOWN_RECEIPT: &str = "R000001";

/// How long to wait for Transaction Status's answer before asking again: a minute, doubling
/// with each attempt, at most half an hour.
pub(crate) fn ask_again_after(attempts: i64) -> Duration {
    let doublings = u32::try_from(attempts.clamp(1, 6) - 1).unwrap_or(0);
    Duration::minutes((1_i64 << doublings).min(30))
}

/// A fresh reference for a payment recorded here.
pub(crate) fn fresh_reference() -> Result<malipo_domain::ProviderReference> {
    let mut bits = [0_u8; 8];
    getrandom::fill(&mut bits).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(malipo_domain::ProviderReference::from_random(
        u64::from_le_bytes(bits),
    ))
}

/// What Transaction Status has said about a code, as far as deciding goes.
pub(crate) enum Checked {
    /// Not asked yet, or asked and not answered in time: ask (again).
    Ask,
    /// Asked; the answer has not come yet.
    Waiting(OffsetDateTime),
    /// Safaricom has no such code.
    Unknown,
    /// Safaricom found it: its answer.
    Found(Box<StatusResult>),
}

pub(crate) fn checked(check: Option<&PaybillCheck>, now: OffsetDateTime) -> Result<Checked> {
    let Some(check) = check else {
        return Ok(Checked::Ask);
    };
    match (check.found, &check.answer) {
        (Some(false), _) => Ok(Checked::Unknown),
        (Some(true), Some(body)) => c2b::parse_status_result(body.as_bytes())
            .map(|r| Checked::Found(Box::new(r)))
            .map_err(|e| Error::internal(format!("a kept Transaction Status answer: {e}"))),
        _ if now >= check.next_ask_at => Ok(Checked::Ask),
        _ => Ok(Checked::Waiting(check.asked_at)),
    }
}

impl App {
    /// Asks Transaction Status about `code` and notes it; `policy` is the one a clerk named
    /// (with the clerk). Returns why it could not be asked, if it could not (it is asked again
    /// later).
    pub(crate) async fn ask_status(
        &self,
        code: &str,
        policy: Option<(&str, Option<i64>)>,
    ) -> Result<Option<String>> {
        let providers = self.providers();
        let client = providers.daraja()?;
        let attempts = self
            .store()
            .paybill_check(code)
            .await?
            .map_or(0, |c| c.attempts);
        let now = self.now();
        let next = now + ask_again_after(attempts + 1);
        match self
            .provider_call(
                "mpesa.transaction_status",
                code,
                client.transaction_status(code),
            )
            .await
        {
            Ok(accepted) => {
                self.store()
                    .note_paybill_ask(
                        code,
                        policy,
                        Some((
                            &accepted.conversation_id,
                            &accepted.originator_conversation_id,
                        )),
                        now,
                        next,
                    )
                    .await?;
                tracing::info!(code, "Transaction Status asked");
                Ok(None)
            }
            Err(e @ malipo_providers::daraja::DarajaError::Invalid(_)) => Err(e.into()),
            Err(e) => {
                self.store()
                    .note_paybill_ask(code, policy, None, now, next)
                    .await?;
                Ok(Some(e.to_string()))
            }
        }
    }

    /// A paybill confirmation pulled from the relay.
    pub(super) async fn c2b_confirmation(
        &self,
        wire: &api::Event,
        office: &Desk,
    ) -> Result<InboxAction> {
        let payment = match c2b::parse_payment(wire.body.as_bytes()) {
            Ok(p) => p,
            Err(e) => {
                return Ok(record(
                    InboxOutcome::Ignored,
                    None,
                    format!("not a readable paybill confirmation: {e}"),
                ));
            }
        };
        let code = payment.trans_id.clone();
        if let Some(branch) = &wire.office
            && branch != office.office().as_str()
        {
            return Ok(record(
                InboxOutcome::OtherOffice,
                None,
                format!(
                    "paybill payment {code} for account {:?} belongs to branch {branch}",
                    payment.account
                ),
            ));
        }
        if let Some(tx) = self.store().transaction_by_receipt(&code).await? {
            return Ok(record(
                InboxOutcome::Unchanged,
                Some(tx.id),
                format!(
                    "M-Pesa code {code} is recorded here already as {}",
                    tx.number
                ),
            ));
        }
        if let Some(p) = self.store().company_payment_by_receipt(&code).await? {
            return Ok(record(
                InboxOutcome::OtherOffice,
                None,
                format!(
                    "M-Pesa code {code} was recorded by {} as {}",
                    p.office, p.number
                ),
            ));
        }
        let received =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(wire.received_at) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let prompt = match self.prompt_told_again(received, &payment).await? {
            Told::Decided(action) => return Ok(*action),
            Told::Prompt(tx) => Some(tx),
            Told::Payment => None,
        };
        let providers = self.providers();
        let Ok(client) = providers.daraja() else {
            // Held, it would be decided again every round for ever and crowd out the claims
            // this counter can prove; a counter with M-Pesa claims and records it.
            return Ok(record(
                InboxOutcome::OtherOffice,
                None,
                format!(
                    "M-Pesa is not set up at this counter: a counter with M-Pesa records {code}"
                ),
            ));
        };
        let shortcode = client.config().shortcode.clone();
        if payment.shortcode != shortcode {
            return Ok(record(
                InboxOutcome::Suspect,
                None,
                format!(
                    "names shortcode {}, not this office's {shortcode}; nothing was recorded",
                    payment.shortcode
                ),
            ));
        }
        let relay = providers.relay()?;
        let claim = match relay.claim(&format!("paybill:{code}")).await {
            Ok(c) => c,
            Err(e) => {
                return Ok(held(format!(
                    "the relay could not say which counter records M-Pesa code {code}: {e}"
                )));
            }
        };
        if !claim.won {
            return Ok(record(
                InboxOutcome::OtherOffice,
                None,
                format!(
                    "M-Pesa code {code} is recorded by another device ({}{})",
                    claim.device,
                    claim
                        .counter
                        .as_deref()
                        .map(|c| format!(", counter {c}"))
                        .unwrap_or_default()
                ),
            ));
        }
        let check = self.store().paybill_check(&code).await?;
        let answer = match checked(check.as_ref(), self.now())? {
            Checked::Ask => {
                return Ok(held(match self.ask_status(&code, None).await {
                    Ok(None) => format!(
                        "Safaricom's Transaction Status was asked about {code}; waiting for its answer"
                    ),
                    Ok(Some(why))
                    | Err(Error::Daraja(malipo_providers::daraja::DarajaError::Invalid(why))) => {
                        format!("Transaction Status could not be asked about {code}: {why}")
                    }
                    Err(e) => return Err(e),
                }));
            }
            Checked::Waiting(asked) => {
                return Ok(held(format!(
                    "waiting for Safaricom's Transaction Status answer about {code} (asked {})",
                    crate::views::rfc3339(asked)
                )));
            }
            Checked::Unknown => {
                return Ok(record(
                    InboxOutcome::Suspect,
                    None,
                    format!(
                        "Safaricom's Transaction Status has no M-Pesa code {code}: this confirmation is not genuine; nothing was recorded"
                    ),
                ));
            }
            Checked::Found(r) => r,
        };
        if let Some(why) = answer.confirms(&code, payment.amount, &shortcode) {
            return Ok(record(
                InboxOutcome::Suspect,
                None,
                format!(
                    "the confirmation of {code} is not what Safaricom says: {why}; nothing was recorded"
                ),
            ));
        }
        if let Some(tx) = prompt {
            // Only the reference ties this code to the prompt, and anyone may post a
            // confirmation: someone else's genuine code of the same amount must not become the
            // prompt's (that payment would then look recorded and vanish from view).
            if !is_prompts_payment(&answer, &tx) {
                return Ok(record(
                    InboxOutcome::Suspect,
                    Some(tx.id),
                    format!(
                        "names {}, but Safaricom says {code} was paid from another phone or not within minutes of that prompt; nothing was changed",
                        tx.number
                    ),
                ));
            }
            // The prompt's own payment, told a second time: it takes its M-Pesa code, and
            // nothing new is recorded.
            return Ok(apply(&tx, prompt_takes(&tx, &code), None));
        }
        if let Some(check) = check.as_ref()
            && let Some(policy) = &check.policy_number
        {
            // A clerk named the policy with the customer's SMS in hand: that wins over what
            // the customer typed as the account.
            return Ok(self
                .paybill_for_policy(&code, policy, check.clerk_id, &answer, office)
                .await?
                .decision(&code, InboxOutcome::Suspect, str::to_owned));
        }
        self.allocate_confirmed(&payment, answer.payer(), office)
            .await
    }

    /// Whether a paybill confirmation is an M-Pesa prompt's payment told a second time: on a
    /// paybill shortcode with C2B URLs registered, a paid STK push also reaches the
    /// confirmation URL, its `BillRefNumber` the push's `AccountReference` (our reference) and
    /// its `TransID` the prompt's receipt. It is the prompt's when the amount is the prompt's
    /// and it was made after the prompt; a prompt not settled yet holds it until Safaricom has
    /// answered about the prompt. Another counter's prompt is that counter's to match. Anything
    /// else (a prompt that ended unpaid, another amount, a second code) is a payment of its
    /// own, allocated to the policy the reference belongs to.
    pub(super) async fn prompt_told_again(
        &self,
        seen_at: OffsetDateTime,
        payment: &C2bPayment,
    ) -> Result<Told> {
        let Ok(reference) =
            malipo_domain::ProviderReference::parse(&payment.account.trim().to_ascii_uppercase())
        else {
            return Ok(Told::Payment);
        };
        let code = &payment.trans_id;
        let tx = match self
            .store()
            .transaction(&TxKey::Reference(reference.as_str().to_owned()))
            .await
        {
            Ok(tx) => tx,
            Err(StoreError::NotFound(_)) => {
                return self
                    .other_counters_prompt(seen_at, payment, &reference)
                    .await;
            }
            Err(e) => return Err(e.into()),
        };
        let made_after = payment
            .made_at()
            .is_none_or(|at| at >= tx.created_at - PROMPT_CLOCK_SKEW);
        if tx.method != Method::Mpesa
            || tx.amount != payment.amount
            || !made_after
            || tx.provider_receipt.is_some()
        {
            return Ok(Told::Payment);
        }
        if tx.status.is_open() {
            return Ok(Told::Decided(Box::new(held(format!(
                "M-Pesa code {code} names {}, an M-Pesa prompt not settled yet: it is decided once Safaricom has answered about the prompt",
                tx.number
            )))));
        }
        if tx.status.is_paid() || tx.status == TxStatus::Refunded {
            return Ok(Told::Prompt(Box::new(tx)));
        }
        Ok(Told::Payment)
    }

    /// A confirmation naming a reference this counter never made: another counter's prompt
    /// (that counter matches it), or, while no counter has reported the reference, held for
    /// up to [`UNKNOWN_REFERENCE_WAIT`] so a counter that has not synced yet can; after that
    /// it is a payment of its own.
    async fn other_counters_prompt(
        &self,
        seen_at: OffsetDateTime,
        payment: &C2bPayment,
        reference: &malipo_domain::ProviderReference,
    ) -> Result<Told> {
        let code = &payment.trans_id;
        if let Some(p) = self
            .store()
            .company_payment_by_reference(reference.as_str())
            .await?
        {
            if p.method != "mpesa" {
                return Ok(Told::Payment);
            }
            let place = match &p.counter {
                Some(counter) => format!("counter {}-{counter}", p.office),
                None => format!("office {}", p.office),
            };
            return Ok(Told::Decided(Box::new(record(
                InboxOutcome::OtherOffice,
                None,
                format!(
                    "M-Pesa code {code} names {}, an M-Pesa prompt made at {place}: that counter matches it",
                    p.number
                ),
            ))));
        }
        if !self
            .store()
            .policies_by_account(&c2b::account_key(&payment.account))
            .await?
            .is_empty()
        {
            return Ok(Told::Payment);
        }
        if self.now() - seen_at < UNKNOWN_REFERENCE_WAIT {
            return Ok(Told::Decided(Box::new(held(format!(
                "M-Pesa code {code} names payment reference {reference}, which no counter has reported yet: it waits up to an hour for the counter that made the prompt"
            )))));
        }
        Ok(Told::Payment)
    }

    /// What a code Transaction Status found is for the policy a clerk named: a payment to
    /// record; the payment of an M-Pesa prompt for the policy that Safaricom confirmed without
    /// its code (same amount, from the phone prompted, finished within minutes of the prompt);
    /// or why it is not recorded: the answer does not prove a completed payment to this
    /// office, the policy cannot take it, or a prompt payment of the same amount for the policy
    /// was confirmed without its code lately and the code may be that payment's.
    pub(crate) async fn paybill_for_policy(
        &self,
        code: &str,
        policy_number: &str,
        clerk_id: Option<i64>,
        answer: &StatusResult,
        office: &Desk,
    ) -> Result<ForPolicy> {
        let providers = self.providers();
        let shortcode = providers.daraja()?.config().shortcode.clone();
        let Some(amount) = answer.amount else {
            return Ok(ForPolicy::Refused(format!(
                "Safaricom gave no amount for {code}"
            )));
        };
        if let Some(why) = answer.confirms(code, amount, &shortcode) {
            return Ok(ForPolicy::Refused(why));
        }
        let Some(policy) = self.store().policy(policy_number).await? else {
            return Ok(ForPolicy::Refused(format!(
                "there is no policy {policy_number}"
            )));
        };
        if policy.status == PolicyStatus::Cancelled {
            return Ok(ForPolicy::Refused(format!(
                "policy {} is cancelled",
                policy.number
            )));
        }
        let since = self.now() - Duration::days(2);
        if let Some(tx) = self
            .store()
            .unreceipted_mpesa(policy.id, amount, since)
            .await?
        {
            if is_prompts_payment(answer, &tx) {
                return Ok(ForPolicy::Prompt(Box::new(tx)));
            }
            return Ok(ForPolicy::Refused(format!(
                "{} paid {amount} for {} by M-Pesa prompt on {} and Safaricom gave no code for it; if {code} is that payment it is recorded already. Compare the time in the customer's SMS, then ask a manager",
                tx.number,
                policy.number,
                crate::views::rfc3339(tx.created_at)
            )));
        }
        Ok(ForPolicy::Record(Box::new(NewPaybill {
            desk: office.clone(),
            policy_id: policy.id,
            amount,
            trans_id: code.to_owned(),
            payer: answer.payer(),
            msisdn: answer
                .parties
                .iter()
                .find(|p| p.starts_with("254"))
                .and_then(|p| p.split(" - ").next())
                .map(|m| {
                    // Safaricom masks it already; a whole number is masked here.
                    let m = m.trim();
                    if m.contains('*') {
                        m.to_owned()
                    } else {
                        malipo_domain::phone::masked(m)
                    }
                }),
            paid_at: answer.finished_at.unwrap_or_else(|| self.now()),
            clerk_id,
            reference: fresh_reference()?,
        })))
    }

    /// A confirmed paybill payment: the policy its account names, or the suspense list.
    /// Records a payment M-Pesa's own list holds, once for the company: the prompt it paid takes
    /// its code; otherwise it is claimed at the relay (as paybill codes are) and allocated by
    /// its account like a confirmation, or put on the suspense list. M-Pesa's list is the proof:
    /// no Transaction Status is asked here.
    pub(super) async fn record_listed(
        &self,
        actor: &str,
        payment: &C2bPayment,
        seen_at: OffsetDateTime,
        payer: Option<String>,
        office: &Desk,
    ) -> Result<Listed> {
        match self.prompt_told_again(seen_at, payment).await? {
            Told::Prompt(tx) => {
                self.apply(actor, tx.id, prompt_takes(&tx, &payment.trans_id))
                    .await?;
                return Ok(Listed::Prompt(tx));
            }
            Told::Decided(action) => return Ok(Listed::Decided(action)),
            Told::Payment => {}
        }
        let providers = self.providers();
        let claim = match providers
            .relay()?
            .claim(&format!("paybill:{}", payment.trans_id))
            .await
        {
            Ok(c) => c,
            Err(e) => return Ok(Listed::Unclaimed(e.to_string())),
        };
        if !claim.won {
            return Ok(Listed::ClaimedElsewhere(
                claim.counter.unwrap_or(claim.device),
            ));
        }
        let payer = payer.filter(|p| !p.is_empty());
        Ok(
            match self.allocate_confirmed(payment, payer, office).await? {
                InboxAction::Paybill { payment } => match self
                    .store()
                    .record_paybill(actor, &payment, self.now())
                    .await
                {
                    Ok(t) => Listed::Recorded(Box::new(t)),
                    Err(StoreError::Duplicate(_)) => Listed::Already,
                    Err(e) => return Err(e.into()),
                },
                other => Listed::NotRecorded(Box::new(other)),
            },
        )
    }

    pub(super) async fn allocate_confirmed(
        &self,
        payment: &C2bPayment,
        payer: Option<String>,
        office: &Desk,
    ) -> Result<InboxAction> {
        let mut matches: Vec<_> = self
            .store()
            .policies_by_account(&c2b::account_key(&payment.account))
            .await?
            .into_iter()
            .filter(|p| p.status != PolicyStatus::Cancelled)
            .collect();
        if matches.is_empty()
            && let Some(policy) = self.policy_of_reference(&payment.account).await?
            && policy.status != PolicyStatus::Cancelled
        {
            // The customer typed a payment's reference (from an M-Pesa prompt or a receipt):
            // the money is for that payment's policy.
            matches.push(policy);
        }
        if let [policy] = matches.as_slice() {
            return Ok(InboxAction::Paybill {
                payment: NewPaybill {
                    desk: office.clone(),
                    policy_id: policy.id,
                    amount: payment.amount,
                    trans_id: payment.trans_id.clone(),
                    payer: payer.clone().or_else(|| Some(payment.payer.clone())),
                    msisdn: Some(payment.msisdn.clone()),
                    paid_at: payment.made_at().unwrap_or_else(|| self.now()),
                    clerk_id: None,
                    reference: fresh_reference()?,
                },
            });
        }
        let till = payment.account.trim().is_empty();
        let why = if till {
            "a till (Buy Goods) payment carries no account".to_owned()
        } else if matches.is_empty() {
            format!("account {:?} matches no policy", payment.account)
        } else {
            format!(
                "account {:?} matches {} policies",
                payment.account,
                matches.len()
            )
        };
        let item = api::SuspenseItem {
            trans_id: payment.trans_id.clone(),
            amount_minor: payment.amount.minor(),
            currency: payment.amount.currency().code().to_owned(),
            account: payment.account.clone(),
            payer: payer.unwrap_or_else(|| payment.payer.clone()),
            msisdn: payment.msisdn.clone(),
            paid_at: crate::views::rfc3339(payment.made_at().unwrap_or_else(|| self.now())),
            status: "open".into(),
            policy: None,
            note: None,
            decided_by: None,
        };
        let providers = self.providers();
        match providers.relay()?.add_suspense(&item).await {
            Ok(()) => Ok(record(
                InboxOutcome::Suspense,
                None,
                if till {
                    format!(
                        "{why}: waiting on the counters' arrivals to be matched to the customer's policy (or for a manager in Suspense)"
                    )
                } else {
                    format!("{why}: on the company's suspense list for a manager to allocate")
                },
            )),
            Err(e) => Ok(held(format!(
                "{why}, and the relay could not take it onto the suspense list: {e}"
            ))),
        }
    }

    /// The policy of the payment (here or at another counter) whose reference `account` is.
    async fn policy_of_reference(
        &self,
        account: &str,
    ) -> Result<Option<malipo_store::PolicyRecord>> {
        let Ok(reference) =
            malipo_domain::ProviderReference::parse(&account.trim().to_ascii_uppercase())
        else {
            return Ok(None);
        };
        let number = match self
            .store()
            .transaction(&TxKey::Reference(reference.as_str().to_owned()))
            .await
        {
            Ok(tx) => Some(tx.policy_number),
            Err(StoreError::NotFound(_)) => self
                .store()
                .company_payment_by_reference(reference.as_str())
                .await?
                .and_then(|p| p.policy_number),
            Err(e) => return Err(e.into()),
        };
        match number {
            Some(number) => Ok(self.store().policy(&number).await?),
            None => Ok(None),
        }
    }

    /// A Transaction Status answer (it may reach the relay as a `reversal_result` when it names
    /// no receipt): kept for the code it is about, or `None` when this office did not ask. A
    /// code a clerk typed at the counter is recorded on Safaricom's answer, for the clerk's
    /// policy; a code from a confirmation is recorded when its held confirmation is decided.
    pub(super) async fn status_answer(&self, wire: &api::Event) -> Result<Option<InboxAction>> {
        let Ok(r) = c2b::parse_status_result(wire.body.as_bytes()) else {
            return Ok(None);
        };
        let Some(code) = self
            .store()
            .paybill_ask(&r.conversation_id, &r.originator_conversation_id)
            .await?
        else {
            return Ok(None);
        };
        let now = self.now();
        if !(r.found() || r.code == UNKNOWN_RECEIPT) {
            let attempts = self
                .store()
                .paybill_check(&code)
                .await?
                .map_or(1, |c| c.attempts);
            let why = format!("{} ({})", r.description, r.code);
            self.store()
                .paybill_check_problem(&code, &why, now + ask_again_after(attempts + 1))
                .await?;
            return Ok(Some(record(
                InboxOutcome::Unchanged,
                None,
                format!("Transaction Status could not look up {code}: {why}; it is asked again"),
            )));
        }
        let first = self
            .store()
            .answer_paybill_check(&code, r.found(), &wire.body, now)
            .await?;
        // The first answer stands (a repeated one changes nothing), but a clerk's code whose
        // recording was cut short is recorded now.
        let check = self.store().paybill_check(&code).await?;
        let typed = check
            .filter(|c| c.found == Some(true))
            .and_then(|c| Some((c.policy_number?, c.clerk_id, c.answer?)));
        if let Some((policy, clerk, kept)) = typed
            && self.store().paybill_by_code(&code).await?.is_none()
        {
            // Safaricom's first answer, as kept, not this body.
            let kept = c2b::parse_status_result(kept.as_bytes())
                .map_err(|e| Error::internal(format!("a kept Transaction Status answer: {e}")))?;
            let office = self.desk().await?;
            return Ok(Some(
                self.paybill_for_policy(&code, &policy, clerk, &kept, &office)
                    .await?
                    .decision(&code, InboxOutcome::Unchanged, |why| {
                        format!("{code} was not recorded for {policy}: {why}")
                    }),
            ));
        }
        if !first {
            return Ok(Some(record(
                InboxOutcome::Unchanged,
                None,
                format!("Safaricom answered about {code} before; this changes nothing"),
            )));
        }
        if !r.found() {
            return Ok(Some(record(
                InboxOutcome::Unchanged,
                None,
                format!("Safaricom's Transaction Status has no M-Pesa code {code}"),
            )));
        }
        Ok(Some(record(
            InboxOutcome::Unchanged,
            None,
            format!("Safaricom's Transaction Status found {code}"),
        )))
    }
}
