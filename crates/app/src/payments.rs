//! Taking payments: the M-Pesa prompt, card checkout, saved cards, and asking the provider
//! where a payment stands.
//!
//! Guards against charging a customer twice or by mistake, checked before anything is sent:
//! a second prompt for the same policy, phone (or e-mail) and amount within two minutes is
//! refused unless the clerk insists; an office-wide ceiling per payment; a per-clerk limit on
//! how many payments may be started a minute.

use time::Duration;

use malipo_domain::FailureKind;
use malipo_domain::{Action, Email, Method, Money, Msisdn, ProviderReference, Source, TxEvent};
use malipo_providers::daraja::{DarajaError, MpesaAmount};
use malipo_providers::paystack::{CardStatus, CardTransaction, PaystackError};
use malipo_store::{
    NewCard, NewTransaction, ProviderDetails, StoreError, TransactionRecord, TxKey,
};

use crate::error::{Error, Result};
use crate::outcome::{not_paid_event, paid_event, query_event};
use crate::settings::table;
use crate::views::TransactionView;
use crate::{Actor, App};

/// A watched payment is first asked about after this long without news.
pub const WATCH_QUIET: Duration = Duration::seconds(15);
/// The pause before asking about a watched payment again; it doubles after each answer that
/// changes nothing (M-Pesa "still processing", spike arrest), up to [`WATCH_MAX_PAUSE`].
const WATCH_FIRST_PAUSE: Duration = Duration::seconds(5);
const WATCH_MAX_PAUSE: Duration = Duration::seconds(60);

/// How long a second identical prompt counts as a likely double charge.
pub const REPEAT_WINDOW: Duration = Duration::minutes(2);
/// Payments a clerk may start per minute unless the office sets `limits.per_clerk_per_minute`.
pub const DEFAULT_PER_CLERK_PER_MINUTE: i64 = 10;

/// An M-Pesa payment as the clerk asks for it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct MpesaRequest {
    pub policy: String,
    pub phone: String,
    pub amount: String,
    /// The clerk insists on a repeat of a payment made moments ago.
    pub again: bool,
}

/// A card payment as the clerk asks for it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct CardRequest {
    pub policy: String,
    pub email: String,
    pub amount: String,
    pub again: bool,
    /// Charge the customer's saved card (the most recent one, or the one ending in these
    /// digits) instead of opening a checkout.
    #[serde(default)]
    #[ts(optional)]
    pub saved_card: Option<String>,
}

/// A card Paystack keeps for a customer, as shown to clerks (no authorization code).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
pub struct SavedCardView {
    pub brand: String,
    pub last4: String,
    pub expiry: String,
    pub bank: Option<String>,
}

/// When a watched payment may next be asked about, and the pause that got it there.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Watch {
    next: time::OffsetDateTime,
    pause: Duration,
}

/// Whether asking the provider again makes sense and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAsk {
    /// Final: nothing more to ask.
    Done,
    /// Still open: ask again after this long.
    After(std::time::Duration),
}

/// No premium is taken for a policy the register says is cancelled.
fn refuse_cancelled(policy: &malipo_store::PolicyRecord) -> Result<()> {
    if policy.status == malipo_domain::PolicyStatus::Cancelled {
        return Err(Error::invalid(
            "policy",
            format!(
                "policy {} is cancelled in the company register: no premium is taken for it",
                policy.number
            ),
        ));
    }
    Ok(())
}

/// An amount as typed, in the policy's currency (a premium is paid in its policy's currency,
/// whatever the office's default; an amount naming another is refused).
pub(crate) fn amount_for(
    policy: &malipo_store::PolicyRecord,
    field: &'static str,
    text: &str,
) -> Result<Money> {
    let currency = policy.premium.currency();
    let amount = Money::parse(text, currency).map_err(|e| Error::invalid(field, e))?;
    if amount.currency() != currency {
        return Err(Error::invalid(
            field,
            format!(
                "policy {} is paid in {currency}, not {}",
                policy.number,
                amount.currency()
            ),
        ));
    }
    Ok(amount)
}

fn provider_failure(e: &DarajaError) -> (Option<String>, String) {
    match e {
        DarajaError::BadRequest { code, message } | DarajaError::Provider { code, message, .. } => {
            (
                Some(code.clone()),
                format!(
                    "M-Pesa refused the request: {message}. Check the M-Pesa settings or take the payment another way."
                ),
            )
        }
        other => (None, format!("{other}")),
    }
}

impl App {
    pub(crate) async fn setting_i64(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .store()
            .setting(key)
            .await?
            .and_then(|v| v.trim().parse().ok()))
    }

    /// The checks every new payment goes through before a provider hears of it (`payer` is the
    /// phone or e-mail; empty for cash).
    pub(crate) async fn guard(
        &self,
        actor: &Actor,
        policy_id: i64,
        method: Method,
        payer: &str,
        amount: Money,
        again: bool,
    ) -> Result<()> {
        let now = self.now();
        if let Some(max) = self.store().setting(table::MAX_AMOUNT.key).await? {
            let max = Money::parse(&max, amount.currency())
                .map_err(|e| Error::internal(format!("limits.max_amount: {e}")))?;
            if amount.currency() == max.currency() && amount.minor() > max.minor() {
                return Err(Error::invalid(
                    "amount",
                    format!(
                        "{amount} is over this office's limit of {max} per payment; split it or ask a manager to raise the limit"
                    ),
                ));
            }
        }
        let per_minute = self
            .setting_i64(table::PER_CLERK_PER_MINUTE.key)
            .await?
            .unwrap_or(DEFAULT_PER_CLERK_PER_MINUTE);
        let started = self
            .store()
            .started_by(actor.user_id(), now - Duration::minutes(1))
            .await?;
        if started >= per_minute {
            return Err(Error::RateLimited(format!(
                "{started} payments were started in the last minute, the most one clerk may; wait a moment"
            )));
        }
        if !again
            && let Some(t) = self
                .store()
                .recent_similar(policy_id, method, payer, amount, now - REPEAT_WINDOW)
                .await?
        {
            return Err(Error::LikelyRepeat {
                number: t.number,
                amount,
                payer: match (payer, method) {
                    ("", Method::Cash) => "cash at the counter".to_owned(),
                    ("", other) => format!("a {}", other.as_str()),
                    (p, _) => p.to_owned(),
                },
                seconds: (now - t.created_at).whole_seconds(),
                status: t.status,
            });
        }
        Ok(())
    }

    /// The policy a premium is taken for: known here, and not cancelled in the register.
    pub(crate) async fn payable_policy(&self, number: &str) -> Result<malipo_store::PolicyRecord> {
        let policy = self.policy_record(number).await?;
        refuse_cancelled(&policy)?;
        Ok(policy)
    }

    /// Runs the guards, then records a new pending payment by `method`.
    #[allow(clippy::too_many_arguments)] // each argument is one fact of the payment
    pub(crate) async fn start(
        &self,
        actor: &Actor,
        policy: &malipo_store::PolicyRecord,
        method: Method,
        phone: Option<&Msisdn>,
        email: Option<&Email>,
        amount: Money,
        again: bool,
    ) -> Result<TransactionRecord> {
        refuse_cancelled(policy)?;
        let payer = phone
            .map(Msisdn::as_str)
            .or(email.map(Email::as_str))
            .unwrap_or_default();
        self.guard(actor, policy.id, method, payer, amount, again)
            .await?;
        // A counter of a company learns its counter code before its first number is given.
        self.learn_counter().await;
        let new = NewTransaction {
            desk: self.desk().await?,
            policy_id: policy.id,
            method,
            amount,
            phone: phone.cloned(),
            email: email.cloned(),
            reference: ProviderReference::from_random(0),
            clerk_id: actor.user_id(),
        };
        let created = self.create(actor, new).await?;
        tracing::info!(
            number = %created.number,
            method = method.as_str(),
            phone = phone.map(Msisdn::masked).unwrap_or_default(),
            amount = %amount,
            clerk = actor.name(),
            "payment started"
        );
        Ok(created)
    }

    /// Records a new pending payment under a fresh reference.
    async fn create(&self, actor: &Actor, new: NewTransaction) -> Result<TransactionRecord> {
        let mut new = new;
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
                other => return Ok(other?),
            }
        }
        Err(Error::internal(
            "could not draw an unused payment reference",
        ))
    }

    pub(crate) async fn apply(
        &self,
        actor: &str,
        id: i64,
        (event, details): (TxEvent, ProviderDetails),
    ) -> Result<TransactionRecord> {
        let desk = self.desk().await?;
        let (after, outcome) = self
            .store()
            .apply_event(actor, &TxKey::Id(id), &desk, event, &details, self.now())
            .await?;
        if let malipo_domain::Outcome::Moved { to, .. } = outcome {
            tracing::info!(number = %after.number, status = to.as_str(), by = actor, "payment moved");
        }
        Ok(after)
    }

    /// Sends the M-Pesa prompt. Returns the payment as it stands: `awaiting_customer` when
    /// the prompt is on its way, `failed` when M-Pesa refused it.
    pub async fn pay_mpesa(&self, actor: &Actor, req: &MpesaRequest) -> Result<TransactionView> {
        actor.require(Action::TakePayment)?;
        let phone = Msisdn::parse(&req.phone).map_err(|e| Error::invalid("phone", e))?;
        // Read once; the type carries M-Pesa's limits to the wire.
        let amount = MpesaAmount::parse(&req.amount).map_err(|e| Error::invalid("amount", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let providers = self.providers();
        let client = providers.daraja()?;
        let created = self
            .start(
                actor,
                &policy,
                Method::Mpesa,
                Some(&phone),
                None,
                amount.money(),
                req.again,
            )
            .await?;
        let push = client.stk_push(amount, &phone, &created.reference, "Premium");
        let after = match self
            .provider_call("mpesa.stk_push", &created.number, push)
            .await
        {
            Ok(accepted) => {
                let details = ProviderDetails {
                    provider_ref: Some(accepted.checkout_request_id),
                    ..ProviderDetails::default()
                };
                self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                    .await?
            }
            Err(e) if !e.safe_to_retry() => {
                return Err(Error::Unconfirmed {
                    subject: created.number,
                    cause: e.to_string(),
                    advice: "stays pending: the prompt may still reach the customer; if they pay, it will arrive. Do not prompt again before checking their phone.",
                });
            }
            Err(e) => {
                let (code, reason) = provider_failure(&e);
                let details = ProviderDetails {
                    failure_code: code,
                    failure_reason: Some(reason),
                    ..ProviderDetails::default()
                };
                self.apply(
                    actor.name(),
                    created.id,
                    (TxEvent::InitiationRefused, details),
                )
                .await?
            }
        };
        Ok(TransactionView::from(&after))
    }

    /// Opens a Paystack checkout (or charges a saved card). The view carries the
    /// `authorization_url` to open in a browser or show as a QR code.
    pub async fn pay_card(&self, actor: &Actor, req: &CardRequest) -> Result<TransactionView> {
        actor.require(Action::TakePayment)?;
        let email = Email::parse(&req.email).map_err(|e| Error::invalid("email", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let amount = amount_for(&policy, "amount", &req.amount)?;
        let providers = self.providers();
        let client = providers.paystack()?;
        let saved = match &req.saved_card {
            None => None,
            Some(which) => {
                let cards = self.store().saved_cards(email.as_str()).await?;
                let which = which.trim();
                let card = cards
                    .into_iter()
                    .find(|c| which.is_empty() || which == "latest" || c.last4 == which);
                Some(card.ok_or_else(|| {
                    Error::NotFound(format!(
                        "{email} has no saved card{}; take the card through checkout",
                        if which.is_empty() || which == "latest" {
                            String::new()
                        } else {
                            format!(" ending {which}")
                        }
                    ))
                })?)
            }
        };
        let created = self
            .start(
                actor,
                &policy,
                Method::Card,
                None,
                Some(&email),
                amount,
                req.again,
            )
            .await?;
        let metadata = serde_json::json!({"policy": policy.number, "transaction": created.number});
        let after = match saved {
            Some(card) => {
                let charge = client.charge_authorization(
                    &email,
                    amount,
                    &card.authorization_code,
                    &created.reference,
                    metadata,
                );
                match self
                    .provider_call("paystack.charge_authorization", &created.number, charge)
                    .await
                {
                    Ok(t) => {
                        let details = ProviderDetails {
                            provider_ref: Some(created.reference.clone()),
                            ..ProviderDetails::default()
                        };
                        self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                            .await?;
                        let event = self.card_event(&created, &t).await?;
                        self.apply(actor.name(), created.id, event).await?
                    }
                    Err(e) => self.card_refused(actor.name(), &created, e).await?,
                }
            }
            None => match self
                .provider_call(
                    "paystack.initialize",
                    &created.number,
                    client.initialize(&email, amount, &created.reference, metadata),
                )
                .await
            {
                Ok(checkout) => {
                    let details = ProviderDetails {
                        provider_ref: Some(checkout.reference),
                        authorization_url: Some(checkout.authorization_url),
                        ..ProviderDetails::default()
                    };
                    self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                        .await?
                }
                Err(e) => self.card_refused(actor.name(), &created, e).await?,
            },
        };
        Ok(TransactionView::from(&after))
    }

    pub(crate) async fn card_refused(
        &self,
        actor: &str,
        created: &TransactionRecord,
        e: PaystackError,
    ) -> Result<TransactionRecord> {
        // No answer, or a server error: the charge may have happened. Never final: the
        // payment stays pending and Paystack is asked by reference (refresh, or sync's asking).
        let ambiguous = match &e {
            PaystackError::Transport(_) | PaystackError::Unexpected(_) => true,
            PaystackError::Provider { status, .. } => *status >= 500,
            PaystackError::Invalid(_)
            | PaystackError::Unauthorized(_)
            | PaystackError::NotFound(_)
            | PaystackError::Rejected(_) => false,
        };
        if ambiguous {
            return Err(Error::Unconfirmed {
                subject: created.number.clone(),
                cause: e.to_string(),
                advice: "stays pending: Paystack may have charged the card. Malipo asks Paystack where it stands; refresh it before trying again.",
            });
        }
        let details = ProviderDetails {
            failure_reason: Some(e.to_string()),
            ..ProviderDetails::default()
        };
        self.apply(actor, created.id, (TxEvent::InitiationRefused, details))
            .await
    }

    /// The event a Paystack verification means for a card payment (remembering the card when
    /// it was paid).
    pub(crate) async fn card_event(
        &self,
        tx: &TransactionRecord,
        t: &CardTransaction,
    ) -> Result<(TxEvent, ProviderDetails)> {
        Ok(match &t.status {
            CardStatus::Paid => {
                // Only a card is kept as one: a bank, USSD, QR or mobile-money authorization has
                // no `card` (see the Paystack client).
                if let (Some(card), Some(email)) =
                    (&t.card, tx.email.as_ref().or(t.customer_email.as_ref()))
                {
                    self.store()
                        .save_card(
                            &NewCard {
                                email: email.clone(),
                                authorization_code: card.authorization_code.clone(),
                                signature: card.signature.clone(),
                                brand: card.brand.clone(),
                                last4: card.last4.clone(),
                                exp_month: card.exp_month.clone(),
                                exp_year: card.exp_year.clone(),
                                bank: card.bank.clone(),
                                reusable: card.reusable,
                                currency: t.amount.currency().code().to_owned(),
                            },
                            self.now(),
                        )
                        .await?;
                }
                let (event, mut details) = paid_event(
                    tx,
                    t.amount,
                    Source::Query,
                    Some(t.id.to_string()),
                    "Paystack",
                );
                details.card_brand = t.card.as_ref().map(|c| c.brand.clone());
                details.card_last4 = t.card.as_ref().map(|c| c.last4.clone());
                details.channel = t.channel.clone();
                details.instrument = t.instrument.clone();
                (event, details)
            }
            CardStatus::NotPaid { kind, message } => not_paid_event(
                *kind,
                Source::Query,
                t.gateway_response.clone(),
                message.clone(),
            ),
            CardStatus::Open(_) => (TxEvent::StillPending, ProviderDetails::default()),
        })
    }

    /// Asks the provider where a payment stands (STK Push Query, or Paystack verify) and
    /// applies the answer. A query never downgrades a recorded success. An open payment
    /// nobody has heard of for long enough is given up as `timed_out`.
    pub async fn refresh(&self, actor: &Actor, key: &str) -> Result<(TransactionView, NextAsk)> {
        let tx = self.store().transaction(&TxKey::parse(key)).await?;
        let name = actor.name();
        let after = if !tx.status.is_open() {
            tx
        } else {
            let providers = self.providers();
            match tx.method {
                // Recorded only once confirmed (or paid as recorded), so never open; nothing
                // to ask.
                Method::Paybill | Method::Cash | Method::Cheque | Method::Bank => tx,
                Method::Mpesa => self.refresh_mpesa(name, &tx).await?,
                Method::Card => match self
                    .provider_call(
                        "paystack.verify",
                        &tx.number,
                        providers.paystack()?.verify(&tx.reference),
                    )
                    .await
                {
                    Ok(t) => {
                        let event = self.card_event(&tx, &t).await?;
                        self.apply(name, tx.id, event).await?
                    }
                    // Paystack has no transaction under our reference: the request that would
                    // have made one never arrived, so nothing was taken.
                    Err(PaystackError::NotFound(_)) => {
                        let event = not_paid_event(
                            FailureKind::Failed,
                            Source::Query,
                            Some("not_found".into()),
                            "Paystack has no record of this charge, so nothing was taken; the card may be charged again".into(),
                        );
                        self.apply(name, tx.id, event).await?
                    }
                    Err(e) => return Err(e.into()),
                },
            }
        };
        let after = self.give_up_if_due(name, after).await?;
        let next = if after.status.is_open() {
            NextAsk::After(std::time::Duration::from_secs(3))
        } else {
            NextAsk::Done
        };
        Ok((TransactionView::from(&after), next))
    }

    async fn refresh_mpesa(
        &self,
        actor: &str,
        tx: &TransactionRecord,
    ) -> Result<TransactionRecord> {
        let Some(checkout_id) = tx.provider_ref.clone() else {
            // The prompt never got an answer from M-Pesa: nothing to ask about.
            return Ok(tx.clone());
        };
        let providers = self.providers();
        let query = providers.daraja()?.stk_query(&checkout_id);
        let answer = self
            .provider_call("mpesa.stk_query", &tx.number, query)
            .await?;
        let event = query_event(tx, answer);
        self.apply(actor, tx.id, event).await
    }

    async fn give_up_if_due(
        &self,
        actor: &str,
        tx: TransactionRecord,
    ) -> Result<TransactionRecord> {
        if !tx.status.is_open() || self.now() - tx.updated_at < tx.method.give_up_after() {
            return Ok(tx);
        }
        let reason = match tx.method {
            Method::Mpesa => {
                "No answer from M-Pesa for 10 minutes. Ask the customer whether money left their account before prompting again."
            }
            Method::Card => "The customer did not finish the card checkout within 30 minutes.",
            Method::Paybill | Method::Cash | Method::Cheque | Method::Bank => return Ok(tx),
        };
        let details = ProviderDetails {
            failure_code: Some("no_answer".into()),
            failure_reason: Some(reason.into()),
            ..ProviderDetails::default()
        };
        self.apply(
            actor,
            tx.id,
            (
                TxEvent::GiveUp {
                    last_change: tx.updated_at,
                },
                details,
            ),
        )
        .await
    }

    /// Refreshes until the payment is final or `seconds` have passed: every two seconds at
    /// first, then less often while the answer stays "still open" (up to every ten seconds),
    /// and backing off further when the provider asks for it. Returns the payment as it last
    /// stood.
    pub async fn wait_for(
        &self,
        actor: &Actor,
        key: &str,
        seconds: u64,
    ) -> Result<TransactionView> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
        let mut pause = std::time::Duration::from_secs(2);
        loop {
            let view = match self.refresh(actor, key).await {
                Ok((view, NextAsk::Done)) => return Ok(view),
                Ok((view, NextAsk::After(_))) => {
                    pause = (pause + pause / 2).min(std::time::Duration::from_secs(10));
                    view
                }
                Err(e) if e.is_provider_throttling() => {
                    pause = (pause * 2).min(std::time::Duration::from_secs(30));
                    self.transaction(actor, key).await?
                }
                Err(e) => return Err(e),
            };
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Ok(view);
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
        }
    }

    /// Where a payment stands, for a screen that watches it (however often it looks).
    /// Callbacks arrive through sync in the background; a payment still open after
    /// [`WATCH_QUIET`] without news is also asked about, then again after a pause that doubles
    /// each time the answer changes nothing, so a screen left open costs the rate-limited
    /// provider a handful of queries, not one per look.
    pub async fn payment_status(&self, actor: &Actor, number: &str) -> Result<TransactionView> {
        let t = self.store().transaction(&TxKey::parse(number)).await?;
        let now = self.now();
        if !t.status.is_open() {
            self.watched().remove(&t.id);
            return Ok(TransactionView::from(&t));
        }
        let due = self
            .watched()
            .get(&t.id)
            .map_or(t.updated_at + WATCH_QUIET, |w: &Watch| w.next);
        if now < due || now - t.updated_at <= WATCH_QUIET {
            return Ok(TransactionView::from(&t));
        }
        let answer = self.refresh(actor, number).await;
        let mut watched = self.watched();
        let pause = watched.get(&t.id).map_or(WATCH_FIRST_PAUSE, |w: &Watch| {
            (w.pause * 2_i32).min(WATCH_MAX_PAUSE)
        });
        watched.insert(
            t.id,
            Watch {
                next: now + pause,
                pause,
            },
        );
        drop(watched);
        match answer {
            Ok((view, _)) => Ok(view),
            // Asked to slow down: the screen keeps what it has and asks later.
            Err(e) if e.is_provider_throttling() => Ok(TransactionView::from(&t)),
            Err(e) => Err(e),
        }
    }

    /// The customer's saved cards, for the clerk to pick from.
    pub async fn saved_cards(&self, actor: &Actor, email: &str) -> Result<Vec<SavedCardView>> {
        actor.require(Action::Read)?;
        let email = Email::parse(email).map_err(|e| Error::invalid("email", e))?;
        Ok(self
            .store()
            .saved_cards(email.as_str())
            .await?
            .into_iter()
            .map(|c| SavedCardView {
                brand: c.brand,
                last4: c.last4,
                expiry: format!("{}/{}", c.exp_month, c.exp_year),
                bank: c.bank,
            })
            .collect())
    }

    pub(crate) async fn policy_record(&self, number: &str) -> Result<malipo_store::PolicyRecord> {
        self.store()
            .policy(number)
            .await?
            .ok_or_else(|| Error::UnknownPolicy(number.trim().to_owned()))
    }
}
