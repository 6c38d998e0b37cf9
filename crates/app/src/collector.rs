//! The collector: from the office's collection hour on a due day, it charges the saved card or
//! sends the M-Pesa prompt of each policy whose holder asked for it, and tries again on the
//! retry days while the instalment is unpaid and the policy in grace.
//!
//! Each instalment is tried at most once a day across the whole company: the try is claimed at
//! the relay (`collect:POLICY:SEQ:DAY`, as paybill codes are) and recorded here before anything
//! is asked of a provider, so two counters running at the same minute charge once. Nothing is
//! charged for an instalment already paid by any channel, for a cancelled policy, while another
//! payment for the policy may still be paid, in a currency other than the card's, or for more
//! than the instalment still owes. Every charge is a normal payment (numbers, receipts, sync,
//! refunds) marked with how it was collected; a card Paystack says is gone stops the
//! instruction, and the holder and the office are told.

use serde::Serialize;
use time::{Date, Duration};

use malipo_domain::schedule::{InstalmentState, InstalmentStatus};
use malipo_domain::time_zone::{NAIROBI, nairobi_date};
use malipo_domain::{
    Action, Email, Method, Money, Msisdn, PolicyStatus, ProviderReference, TxEvent,
};
use malipo_providers::daraja::MpesaAmount;
use malipo_providers::paystack::{CardStatus, PaystackError};
use malipo_store::{
    AttemptOutcome, Collectable, NewInstruction, NewTransaction, ProviderDetails, StoreError,
    TransactionRecord,
};

use crate::error::{Error, Result};
use crate::settings::table;
use crate::{Actor, App};

/// The retry days unless the office sets `collect.retry_days`.
pub const DEFAULT_RETRY_DAYS: [i64; 3] = [1, 3, 7];
/// The collection hour unless the office sets `collect.hour`.
const DEFAULT_HOUR: (u8, u8) = (9, 0);
/// How often the desktop and `malipo sync` look for instalments to collect.
pub const COLLECT_PERIOD: std::time::Duration = std::time::Duration::from_secs(300);

/// `HH:MM` (24-hour, Nairobi).
pub fn parse_hour(text: &str) -> std::result::Result<(u8, u8), String> {
    let t = text.trim();
    let (h, m) = t.split_once(':').unwrap_or((t, "00"));
    match (h.trim().parse::<u8>(), m.trim().parse::<u8>()) {
        (Ok(h), Ok(m)) if h < 24 && m < 60 && m.to_string().len() <= 2 => Ok((h, m)),
        _ => Err(format!(
            "'{}' is not a time of day like 09:00",
            t.chars().take(20).collect::<String>()
        )),
    }
}

/// The retry days as the office sets them: days after the due date, 1 to 60.
pub fn parse_retry_days(text: &str) -> std::result::Result<Vec<i64>, String> {
    let days = crate::messages::parse_ladder(text)?;
    match days.iter().find(|d| !(1..=60).contains(*d)) {
        Some(d) => Err(format!("{d}: a retry is 1 to 60 days after the due date")),
        None => Ok(days),
    }
}

/// Which day of the ladder `today` is for an instalment due on `due`: 0 on the due day, a retry
/// day after it while the policy is still in grace; none on any other day.
pub fn ladder_day(due: Date, today: Date, retry: &[i64], grace_days: u32) -> Option<i64> {
    let offset = (today - due).whole_days();
    (offset == 0 || (retry.contains(&offset) && offset <= i64::from(grace_days))).then_some(offset)
}

/// What one run of the collector did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CollectReport {
    pub charged: u32,
    pub prompted: u32,
    pub failed: u32,
    pub skipped: u32,
    pub items: Vec<CollectItem>,
}

/// One instalment the collector looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CollectItem {
    pub policy: String,
    /// The instalment's place in the schedule, and its due date.
    pub seq: u32,
    pub due_date: String,
    /// `card` or `mpesa_prompt`.
    pub kind: String,
    /// What was (or would be) asked for: what the instalment still owes.
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    /// `charged`, `prompted` (the customer answers on their phone), `failed`, `pending` (no
    /// clear answer: asked about like any other payment) or `skipped`; with `--dry-run`,
    /// `would_charge` or `would_prompt`.
    pub outcome: String,
    /// The payment started for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transaction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The instruction was stopped: Paystack says the card is gone.
    pub stopped: bool,
}

/// An instalment the collector acts on today.
struct Due<'a> {
    policy: &'a Collectable,
    state: &'a InstalmentState,
}

impl Due<'_> {
    fn item(&self, outcome: &str, reason: Option<String>) -> CollectItem {
        let owed = self.state.outstanding;
        CollectItem {
            policy: self.policy.number.clone(),
            seq: self.state.instalment.seq,
            due_date: self.state.instalment.due.to_string(),
            kind: self.policy.instruction.kind.clone(),
            amount: owed.amount_string(),
            amount_minor: owed.minor(),
            currency: owed.currency().code().to_owned(),
            outcome: outcome.to_owned(),
            transaction: None,
            reason,
            stopped: false,
        }
    }
}

/// What a declined charge means for the card.
fn card_gone(answer: &str) -> bool {
    let a = answer.to_ascii_lowercase();
    [
        "expired",
        "not reusable",
        "invalid authorization",
        "revoked",
        "lost",
        "stolen",
        "closed",
        "restricted card",
    ]
    .iter()
    .any(|w| a.contains(w))
}

impl App {
    /// Runs the collector now, at a person's word (prompts still wait out the quiet hours).
    /// With `dry_run`, says what it would do and changes nothing.
    pub async fn collect_due(&self, actor: &Actor, dry_run: bool) -> Result<CollectReport> {
        actor.require(if dry_run {
            Action::Read
        } else {
            Action::TakePayment
        })?;
        self.collect_pass(actor, dry_run).await
    }

    /// The collector's own run: nothing before the collection hour, then a pass (a pass finds
    /// nothing to do for an instalment already tried today).
    pub async fn collect_if_due(&self) -> Result<Option<CollectReport>> {
        let (h, m) = match self.store().setting(table::COLLECT_HOUR.key).await? {
            Some(text) => {
                parse_hour(&text).map_err(|e| Error::invalid(table::COLLECT_HOUR.key, e))?
            }
            None => DEFAULT_HOUR,
        };
        let local = self.now().to_offset(NAIROBI);
        if (local.hour(), local.minute()) < (h, m) {
            return Ok(None);
        }
        self.collect_pass(&Actor::Collector, false).await.map(Some)
    }

    /// Collects until `stop` resolves: a look every [`COLLECT_PERIOD`].
    pub async fn collect_forever(
        &self,
        stop: impl std::future::Future<Output = ()>,
        mut each: impl FnMut(&CollectReport),
    ) {
        tokio::pin!(stop);
        loop {
            match self.collect_if_due().await {
                Ok(Some(r)) if r.charged + r.prompted + r.failed > 0 => {
                    each(&r);
                    tracing::info!(
                        charged = r.charged,
                        prompted = r.prompted,
                        failed = r.failed,
                        skipped = r.skipped,
                        "collection pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "collection pass failed"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(COLLECT_PERIOD) => {}
            }
        }
    }

    async fn retry_days(&self) -> Result<Vec<i64>> {
        Ok(
            match self.store().setting(table::COLLECT_RETRY_DAYS.key).await? {
                Some(text) => parse_retry_days(&text)
                    .map_err(|e| Error::invalid(table::COLLECT_RETRY_DAYS.key, e))?,
                None => DEFAULT_RETRY_DAYS.to_vec(),
            },
        )
    }

    async fn collect_pass(&self, actor: &Actor, dry_run: bool) -> Result<CollectReport> {
        let now = self.now();
        let today = nairobi_date(now);
        let retry = self.retry_days().await?;
        let grace = self.grace_days().await?;
        let reach = retry
            .iter()
            .copied()
            .filter(|d| *d <= i64::from(grace))
            .max()
            .unwrap_or(0);
        let policies = self
            .store()
            .collectable(today - Duration::days(reach), today)
            .await?;
        let quiet = crate::messages::quiet_until(self.quiet_hours().await?, now);
        let mut report = CollectReport::default();
        for policy in &policies {
            // The oldest instalment on its ladder today: payments fill instalments in due
            // order, so a charge for it can never pay past what is owed.
            let Some(state) = policy.states.iter().find(|s| {
                s.status != InstalmentStatus::Paid
                    && ladder_day(s.instalment.due, today, &retry, grace).is_some()
            }) else {
                continue;
            };
            let due = Due { policy, state };
            let item = if policy.status == PolicyStatus::Cancelled {
                due.item("skipped", Some("the policy is cancelled".into()))
            } else if policy.states.iter().any(|s| {
                s.instalment.due < state.instalment.due && s.status != InstalmentStatus::Paid
            }) {
                // An older instalment past its ladder is arrears for the counter, not a charge
                // the holder agreed to for this due date.
                due.item(
                    "skipped",
                    Some(
                        "an older instalment is unpaid: arrears are collected at the counter"
                            .into(),
                    ),
                )
            } else if policy.instruction.kind == "mpesa_prompt" && quiet.is_some() {
                due.item("skipped", Some("quiet hours: prompted after them".into()))
            } else if dry_run {
                due.item(
                    if policy.instruction.kind == "card" {
                        "would_charge"
                    } else {
                        "would_prompt"
                    },
                    None,
                )
            } else {
                self.collect_one(actor, &due, today).await?
            };
            match item.outcome.as_str() {
                "charged" => report.charged += 1,
                "prompted" => report.prompted += 1,
                "failed" => report.failed += 1,
                "skipped" => report.skipped += 1,
                _ => {}
            }
            report.items.push(item);
        }
        Ok(report)
    }

    /// Claims, records and carries out one instalment's try today.
    async fn collect_one(&self, actor: &Actor, due: &Due<'_>, today: Date) -> Result<CollectItem> {
        let policy = due.policy;
        let seq = due.state.instalment.seq;
        if let Some(t) = self.store().unsettled_payment_of(policy.policy_id).await? {
            return Ok(due.item(
                "skipped",
                Some(format!("payment {} for it may still be paid", t.number)),
            ));
        }
        if self
            .store()
            .collection_tried(policy.policy_id, seq, today)
            .await?
        {
            return Ok(due.item("skipped", Some("tried today already".into())));
        }
        // The company's word first: the first counter to claim today's try makes it.
        if let Ok(relay) = self.providers().relay() {
            let subject = format!("collect:{}:{seq}:{today}", policy.number);
            match relay.claim(&subject).await {
                Ok(c) if c.won => {}
                Ok(c) => {
                    if let Some(id) = self
                        .store()
                        .begin_attempt(
                            policy.policy_id,
                            seq,
                            due.state.instalment.due,
                            today,
                            &policy.instruction.kind,
                            self.now(),
                        )
                        .await?
                    {
                        let detail = format!(
                            "tried today by {}{}",
                            c.device,
                            c.counter
                                .map(|c| format!(", counter {c}"))
                                .unwrap_or_default()
                        );
                        self.store()
                            .end_attempt(id, AttemptOutcome::Elsewhere, Some(&detail), self.now())
                            .await?;
                        return Ok(due.item("skipped", Some(detail)));
                    }
                    return Ok(due.item("skipped", Some("tried today already".into())));
                }
                Err(e) => {
                    return Ok(due.item(
                        "skipped",
                        Some(format!(
                            "the relay could not say which counter collects it today ({e}); tried again later"
                        )),
                    ));
                }
            }
        }
        let Some(attempt) = self
            .store()
            .begin_attempt(
                policy.policy_id,
                seq,
                due.state.instalment.due,
                today,
                &policy.instruction.kind,
                self.now(),
            )
            .await?
        else {
            return Ok(due.item("skipped", Some("tried today already".into())));
        };
        let (item, outcome) = match policy.instruction.kind.as_str() {
            "card" => self.charge_card(actor, due, attempt).await?,
            _ => self.send_prompt(actor, due, attempt).await?,
        };
        self.store()
            .end_attempt(attempt, outcome, item.reason.as_deref(), self.now())
            .await?;
        tracing::info!(
            policy = %item.policy,
            seq = item.seq,
            kind = %item.kind,
            outcome = %item.outcome,
            "instalment collection"
        );
        Ok(item)
    }

    /// The payment a try is made under, marked as collected before the provider is asked.
    async fn collection_payment(
        &self,
        actor: &Actor,
        due: &Due<'_>,
        attempt: i64,
        method: Method,
        phone: Option<&Msisdn>,
        email: Option<&Email>,
    ) -> Result<TransactionRecord> {
        self.learn_counter().await;
        let mut new = NewTransaction {
            desk: self.desk().await?,
            policy_id: due.policy.policy_id,
            method,
            amount: due.state.outstanding,
            phone: phone.cloned(),
            email: email.cloned(),
            reference: ProviderReference::from_random(0),
            clerk_id: actor.user_id(),
        };
        for _ in 0..5 {
            let mut bits = [0_u8; 8];
            getrandom::fill(&mut bits)
                .map_err(|e| Error::internal(format!("no randomness: {e}")))?;
            new.reference = ProviderReference::from_random(u64::from_le_bytes(bits));
            match self
                .store()
                .insert_transaction(actor.name(), &new, self.now())
                .await
            {
                Err(StoreError::Duplicate(_)) => continue,
                Ok(created) => {
                    self.store().attach_attempt(attempt, created.id).await?;
                    return Ok(created);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::internal(
            "could not draw an unused payment reference",
        ))
    }

    async fn charge_card(
        &self,
        actor: &Actor,
        due: &Due<'_>,
        attempt: i64,
    ) -> Result<(CollectItem, AttemptOutcome)> {
        let policy = due.policy;
        let owed: Money = due.state.outstanding;
        let ins = &policy.instruction;
        let email = ins.card_email.as_deref().and_then(|e| Email::parse(e).ok());
        let card = match &email {
            Some(email) => self
                .store()
                .saved_cards(email.as_str())
                .await?
                .into_iter()
                .find(|c| Some(c.last4.as_str()) == ins.card_last4.as_deref()),
            None => None,
        };
        let (Some(email), Some(card)) = (email, card) else {
            let reason = "the saved card is no longer kept: the instruction was stopped";
            self.stop_instruction(due, reason).await?;
            let mut item = due.item("failed", Some(reason.into()));
            item.stopped = true;
            return Ok((item, AttemptOutcome::Failed));
        };
        if card
            .currency
            .as_deref()
            .is_some_and(|c| c != owed.currency().code())
        {
            return Ok((
                due.item(
                    "skipped",
                    Some(format!(
                        "the card is charged in {}, the policy is in {}",
                        card.currency.as_deref().unwrap_or_default(),
                        owed.currency().code()
                    )),
                ),
                AttemptOutcome::Failed,
            ));
        }
        let providers = self.providers();
        let client = match providers.paystack() {
            Ok(c) => c,
            Err(e) => {
                return Ok((
                    due.item("failed", Some(e.to_string())),
                    AttemptOutcome::Failed,
                ));
            }
        };
        let created = self
            .collection_payment(actor, due, attempt, Method::Card, None, Some(&email))
            .await?;
        let metadata = serde_json::json!({
            "policy": policy.number,
            "transaction": created.number,
            "collected": "card",
        });
        let charge = client.charge_authorization(
            &email,
            owed,
            &card.authorization_code,
            &created.reference,
            metadata,
        );
        let answer = self
            .provider_call("paystack.charge_authorization", &created.number, charge)
            .await;
        let mut item = due.item("failed", None);
        item.transaction = Some(created.number.clone());
        match answer {
            Ok(t) => {
                let details = ProviderDetails {
                    provider_ref: Some(created.reference.clone()),
                    ..ProviderDetails::default()
                };
                self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                    .await?;
                let event = self.card_event(&created, &t).await?;
                let after = self.apply(actor.name(), created.id, event).await?;
                match &t.status {
                    CardStatus::Paid if after.status.is_paid() => {
                        item.outcome = "charged".into();
                        Ok((item, AttemptOutcome::Charged))
                    }
                    CardStatus::Paid | CardStatus::Open(_) => {
                        item.outcome = "pending".into();
                        item.reason = Some("Paystack has not finished it: it is asked about like any other payment".into());
                        Ok((item, AttemptOutcome::Pending))
                    }
                    CardStatus::NotPaid { .. } => {
                        let answer = t.gateway_response.clone().unwrap_or_default();
                        let gone =
                            card_gone(&answer) || t.card.as_ref().is_some_and(|c| !c.reusable);
                        item.reason = Some(format!(
                            "declined: {}",
                            if answer.is_empty() {
                                "no reason given"
                            } else {
                                &answer
                            }
                        ));
                        if gone {
                            self.card_is_gone(due, &card.authorization_code, &answer)
                                .await?;
                            item.stopped = true;
                        }
                        Ok((item, AttemptOutcome::Failed))
                    }
                }
            }
            Err(e) => {
                let refused_for_good = matches!(&e, PaystackError::Rejected(m) | PaystackError::Invalid(m) if card_gone(m));
                let after = match self.card_refused(actor.name(), &created, e).await {
                    Ok(after) => after,
                    Err(Error::Unconfirmed { cause, .. }) => {
                        item.outcome = "pending".into();
                        item.reason = Some(format!(
                            "no clear answer from Paystack ({cause}): it is asked about like any other payment"
                        ));
                        return Ok((item, AttemptOutcome::Pending));
                    }
                    Err(other) => return Err(other),
                };
                let why = after.failure_reason.clone().unwrap_or_default();
                item.reason = Some(why.clone());
                if refused_for_good {
                    self.card_is_gone(due, &card.authorization_code, &why)
                        .await?;
                    item.stopped = true;
                }
                Ok((item, AttemptOutcome::Failed))
            }
        }
    }

    async fn send_prompt(
        &self,
        actor: &Actor,
        due: &Due<'_>,
        attempt: i64,
    ) -> Result<(CollectItem, AttemptOutcome)> {
        let owed = due.state.outstanding;
        let phone = due
            .policy
            .instruction
            .phone
            .as_deref()
            .and_then(|p| Msisdn::parse(p).ok());
        let amount = MpesaAmount::new(owed);
        let (Some(phone), Ok(amount)) = (phone, amount) else {
            return Ok((
                due.item(
                    "failed",
                    Some(format!("{owed} cannot be asked for by M-Pesa prompt")),
                ),
                AttemptOutcome::Failed,
            ));
        };
        let providers = self.providers();
        let client = match providers.daraja() {
            Ok(c) => c,
            Err(e) => {
                return Ok((
                    due.item("failed", Some(e.to_string())),
                    AttemptOutcome::Failed,
                ));
            }
        };
        let created = self
            .collection_payment(actor, due, attempt, Method::Mpesa, Some(&phone), None)
            .await?;
        let mut item = due.item("prompted", None);
        item.transaction = Some(created.number.clone());
        let push = client.stk_push(amount, &phone, &created.reference, "Premium");
        match self
            .provider_call("mpesa.stk_push", &created.number, push)
            .await
        {
            Ok(accepted) => {
                let details = ProviderDetails {
                    provider_ref: Some(accepted.checkout_request_id),
                    ..ProviderDetails::default()
                };
                self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                    .await?;
                Ok((item, AttemptOutcome::Prompted))
            }
            Err(e) if !e.safe_to_retry() => {
                item.outcome = "pending".into();
                item.reason = Some(format!(
                    "no clear answer from M-Pesa ({e}): the prompt may reach the phone; it is asked about like any other payment"
                ));
                Ok((item, AttemptOutcome::Pending))
            }
            Err(e) => {
                let details = ProviderDetails {
                    failure_reason: Some(e.to_string()),
                    ..ProviderDetails::default()
                };
                self.apply(
                    actor.name(),
                    created.id,
                    (TxEvent::InitiationRefused, details),
                )
                .await?;
                item.outcome = "failed".into();
                item.reason = Some(e.to_string());
                Ok((item, AttemptOutcome::Failed))
            }
        }
    }

    /// Paystack will not charge the card again: it leaves the holder's cards, the instruction
    /// stops (audited, with the reason), and the holder is told by SMS once.
    async fn card_is_gone(
        &self,
        due: &Due<'_>,
        authorization_code: &str,
        answer: &str,
    ) -> Result<()> {
        self.store().card_gone(authorization_code).await?;
        let last4 = due
            .policy
            .instruction
            .card_last4
            .clone()
            .unwrap_or_default();
        self.stop_instruction(
            due,
            &format!(
                "the card ending {last4} can no longer be charged ({})",
                if answer.is_empty() {
                    "Paystack gave no reason"
                } else {
                    answer
                }
            ),
        )
        .await?;
        let Some(policy) = self.store().policy(&due.policy.number).await? else {
            return Ok(());
        };
        let (language, _) = self.store().policy_message_prefs(policy.id).await?;
        let sw = language == "sw";
        let office = self.office_details().await?.name;
        let body = self
            .template("template.card_gone_sms", sw)
            .await?
            .replace("{office}", &office)
            .replace("{holder}", &policy.holder)
            .replace("{policy}", &policy.number)
            .replace("{amount}", &due.state.outstanding.to_string())
            .replace("{paybill}", &self.paybill_words(&policy.number, sw))
            .trim()
            .to_owned();
        self.store()
            .queue_notice(
                policy.id,
                &format!("card_gone:sms:{}:{last4}", policy.number),
                &body,
                self.now(),
            )
            .await?;
        Ok(())
    }

    async fn stop_instruction(&self, due: &Due<'_>, reason: &str) -> Result<()> {
        self.store()
            .set_instruction(
                Actor::Collector.name(),
                due.policy.policy_id,
                &NewInstruction {
                    kind: "none",
                    card_email: None,
                    card_last4: None,
                    phone: None,
                    consent_how: None,
                    consent_text: None,
                    stopped_reason: Some(reason),
                },
                self.now(),
            )
            .await?;
        tracing::warn!(policy = %due.policy.number, reason, "collection stopped");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_ladder_is_the_due_day_then_the_retry_days_inside_grace() {
        let due = date!(2026 - 12 - 01);
        let on = |d: Date| ladder_day(due, d, &[1, 3, 7], 5);
        assert_eq!(on(due), Some(0));
        assert_eq!(on(date!(2026 - 12 - 02)), Some(1));
        assert_eq!(on(date!(2026 - 12 - 03)), None);
        assert_eq!(on(date!(2026 - 12 - 04)), Some(3));
        assert_eq!(
            on(date!(2026 - 12 - 08)),
            None,
            "day 7 is past 5 days of grace"
        );
        assert_eq!(on(date!(2026 - 11 - 30)), None, "not before the due day");
    }

    #[test]
    fn hours_and_retry_days_are_read_strictly() {
        assert_eq!(parse_hour("09:00"), Ok((9, 0)));
        assert_eq!(parse_hour(" 17:30 "), Ok((17, 30)));
        assert_eq!(parse_hour("8"), Ok((8, 0)));
        assert!(parse_hour("24:00").is_err());
        assert!(parse_hour("09:60").is_err());
        assert!(parse_hour("nine").is_err());
        assert_eq!(parse_retry_days("7, 1,3"), Ok(vec![1, 3, 7]));
        assert!(parse_retry_days("0,3").is_err());
        assert!(parse_retry_days("-1").is_err());
    }

    #[test]
    fn a_card_is_gone_when_the_bank_says_it_cannot_be_used_again() {
        assert!(card_gone("Expired Card"));
        assert!(card_gone("This authorization is not reusable"));
        assert!(!card_gone("Insufficient Funds"));
        assert!(!card_gone("Declined"));
    }
}
