//! Taking payments: the M-Pesa prompt, card checkout, saved cards, and asking the provider
//! where a payment stands.
//!
//! Guards against charging a customer twice or by mistake, checked before anything is sent:
//! a second prompt for the same policy, phone (or e-mail) and amount within two minutes is
//! refused unless the clerk insists; an office-wide ceiling per payment; a per-clerk limit on
//! how many payments may be started a minute.

use time::Duration;

use malipo_domain::{
    Action, Currency, Email, Method, Money, Msisdn, OfficeCode, ProviderReference, Source, TxEvent,
};
use malipo_providers::daraja::{self, DarajaClient, DarajaError, QueryResult};
use malipo_providers::paystack::{CardStatus, CardTransaction, PaystackClient, PaystackError};
use malipo_store::{
    NewCard, NewTransaction, ProviderDetails, StoreError, TransactionRecord, TxKey,
};

use crate::settings::{ProviderSettings, key};
use crate::views::TransactionView;
use crate::{Actor, App, AppError, ErrorCode};

/// How long a second identical prompt counts as a likely double charge.
pub const REPEAT_WINDOW: Duration = Duration::minutes(2);
/// Payments a clerk may start per minute unless the office sets `limits.per_clerk_per_minute`.
pub const DEFAULT_PER_CLERK_PER_MINUTE: i64 = 10;

/// An M-Pesa payment as the clerk asks for it.
#[derive(Debug, Clone)]
pub struct MpesaRequest {
    pub policy: String,
    pub phone: String,
    pub amount: String,
    /// The clerk insists on a repeat of a payment made moments ago.
    pub again: bool,
}

/// A card payment as the clerk asks for it.
#[derive(Debug, Clone)]
pub struct CardRequest {
    pub policy: String,
    pub email: String,
    pub amount: String,
    pub again: bool,
    /// Charge the customer's saved card (the most recent one, or the one ending in these
    /// digits) instead of opening a checkout.
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

/// Whether asking the provider again makes sense and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextAsk {
    /// Final: nothing more to ask.
    Done,
    /// Still open: ask again after this long.
    After(std::time::Duration),
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

pub(crate) fn daraja_error(e: DarajaError) -> AppError {
    let code = match e {
        DarajaError::Invalid(_) => ErrorCode::InvalidInput,
        _ => ErrorCode::Provider,
    };
    AppError::new(code, e.to_string())
}

pub(crate) fn paystack_error(e: PaystackError) -> AppError {
    let code = match e {
        PaystackError::Invalid(_) => ErrorCode::InvalidInput,
        _ => ErrorCode::Provider,
    };
    AppError::new(code, e.to_string())
}

impl App {
    pub(crate) async fn setting_i64(&self, key: &str) -> Result<Option<i64>, AppError> {
        Ok(self
            .store()
            .setting(key)
            .await?
            .and_then(|v| v.trim().parse().ok()))
    }

    /// The checks every new payment goes through before a provider hears of it.
    async fn guard(
        &self,
        actor: &Actor,
        policy_id: i64,
        method: Method,
        payer: &str,
        amount: Money,
        again: bool,
    ) -> Result<(), AppError> {
        let now = self.now();
        if let Some(max) = self.store().setting(key::MAX_AMOUNT).await? {
            let max = Money::parse(&max, amount.currency()).map_err(|e| {
                AppError::new(ErrorCode::Internal, format!("limits.max_amount: {e}"))
            })?;
            if amount.currency() == max.currency() && amount.minor() > max.minor() {
                return Err(AppError::invalid(
                    "amount",
                    format!(
                        "{amount} is over this office's limit of {max} per payment; split it or ask a manager to raise the limit"
                    ),
                ));
            }
        }
        let per_minute = self
            .setting_i64(key::PER_CLERK_PER_MINUTE)
            .await?
            .unwrap_or(DEFAULT_PER_CLERK_PER_MINUTE);
        let started = self
            .store()
            .started_by(actor.user_id(), now - Duration::minutes(1))
            .await?;
        if started >= per_minute {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!(
                    "{} payments were started in the last minute, the most one clerk may; wait a moment",
                    started
                ),
            ));
        }
        if !again
            && let Some(t) = self
                .store()
                .recent_similar(policy_id, method, payer, amount, now - REPEAT_WINDOW)
                .await?
        {
            return Err(AppError::new(
                ErrorCode::Conflict,
                format!(
                    "{} for {amount} from {payer} was started {} seconds ago (now {}); check with the customer before charging again",
                    t.number,
                    (now - t.created_at).whole_seconds(),
                    t.status.as_str().replace('_', " ")
                ),
            ));
        }
        Ok(())
    }

    /// Runs the guards, then records a new pending payment by `method`.
    #[allow(clippy::too_many_arguments)] // each argument is one fact of the payment
    async fn start(
        &self,
        actor: &Actor,
        policy: &malipo_store::PolicyRecord,
        method: Method,
        phone: Option<&Msisdn>,
        email: Option<&Email>,
        amount: Money,
        again: bool,
    ) -> Result<TransactionRecord, AppError> {
        let payer = phone
            .map(Msisdn::as_str)
            .or(email.map(Email::as_str))
            .unwrap_or_default();
        self.guard(actor, policy.id, method, payer, amount, again)
            .await?;
        let new = NewTransaction {
            office: self.office_code().await?,
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
    async fn create(
        &self,
        actor: &Actor,
        new: NewTransaction,
    ) -> Result<TransactionRecord, AppError> {
        let mut new = new;
        for _ in 0..5 {
            let mut bits = [0_u8; 8];
            getrandom::fill(&mut bits)
                .map_err(|e| AppError::new(ErrorCode::Internal, format!("no randomness: {e}")))?;
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
        Err(AppError::new(
            ErrorCode::Internal,
            "could not draw an unused payment reference",
        ))
    }

    async fn apply(
        &self,
        actor: &str,
        id: i64,
        event: TxEvent,
        details: ProviderDetails,
    ) -> Result<TransactionRecord, AppError> {
        let office: OfficeCode = self.office_code().await?;
        let (after, outcome) = self
            .store()
            .apply_event(actor, &TxKey::Id(id), &office, event, &details, self.now())
            .await?;
        if let malipo_domain::Outcome::Moved { to, .. } = outcome {
            tracing::info!(number = %after.number, status = to.as_str(), by = actor, "payment moved");
        }
        Ok(after)
    }

    /// Sends the M-Pesa prompt. Returns the payment as it stands: `awaiting_customer` when
    /// the prompt is on its way, `failed` when M-Pesa refused it.
    pub async fn pay_mpesa(
        &self,
        actor: &Actor,
        settings: &ProviderSettings,
        req: &MpesaRequest,
    ) -> Result<TransactionView, AppError> {
        actor.require(Action::TakePayment)?;
        let phone = Msisdn::parse(&req.phone).map_err(|e| AppError::invalid("phone", e))?;
        let amount =
            Money::parse(&req.amount, Currency::Kes).map_err(|e| AppError::invalid("amount", e))?;
        daraja::check_amount(amount).map_err(|e| AppError::invalid("amount", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let config = settings.daraja()?.clone();
        let created = self
            .start(
                actor,
                &policy,
                Method::Mpesa,
                Some(&phone),
                None,
                amount,
                req.again,
            )
            .await?;
        let client = DarajaClient::new(config);
        let after = match client
            .stk_push(amount, &phone, &created.reference, "Premium")
            .await
        {
            Ok(accepted) => {
                let details = ProviderDetails {
                    provider_ref: Some(accepted.checkout_request_id),
                    ..ProviderDetails::default()
                };
                self.apply(actor.name(), created.id, TxEvent::Initiated, details)
                    .await?
            }
            Err(e) if !e.safe_to_retry() => {
                return Err(AppError::new(
                    ErrorCode::Provider,
                    format!(
                        "{e}. {} stays pending: the prompt may still reach the customer; if they pay, it will arrive. Do not prompt again before checking their phone.",
                        created.number
                    ),
                ));
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
                    TxEvent::InitiationRefused,
                    details,
                )
                .await?
            }
        };
        Ok(TransactionView::from(&after))
    }

    /// Opens a Paystack checkout (or charges a saved card). The view carries the
    /// `authorization_url` to open in a browser or show as a QR code.
    pub async fn pay_card(
        &self,
        actor: &Actor,
        settings: &ProviderSettings,
        req: &CardRequest,
    ) -> Result<TransactionView, AppError> {
        actor.require(Action::TakePayment)?;
        let email = Email::parse(&req.email).map_err(|e| AppError::invalid("email", e))?;
        let amount = Money::parse(&req.amount, self.office_currency().await?)
            .map_err(|e| AppError::invalid("amount", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let config = settings.paystack()?.clone();
        let saved = match &req.saved_card {
            None => None,
            Some(which) => {
                let cards = self.store().saved_cards(email.as_str()).await?;
                let which = which.trim();
                let card = cards
                    .into_iter()
                    .find(|c| which.is_empty() || which == "latest" || c.last4 == which);
                Some(card.ok_or_else(|| {
                    AppError::new(
                        ErrorCode::NotFound,
                        format!(
                            "{email} has no saved card{}; take the card through checkout",
                            if which.is_empty() || which == "latest" {
                                String::new()
                            } else {
                                format!(" ending {which}")
                            }
                        ),
                    )
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
        let client = PaystackClient::new(config);
        let after = match saved {
            Some(card) => {
                match client
                    .charge_authorization(
                        &email,
                        amount,
                        &card.authorization_code,
                        &created.reference,
                        metadata,
                    )
                    .await
                {
                    Ok(t) => {
                        let details = ProviderDetails {
                            provider_ref: Some(created.reference.clone()),
                            ..ProviderDetails::default()
                        };
                        self.apply(actor.name(), created.id, TxEvent::Initiated, details)
                            .await?;
                        self.apply_card_result(actor.name(), &created, &t).await?
                    }
                    Err(e) => self.card_refused(actor.name(), &created, e).await?,
                }
            }
            None => match client
                .initialize(&email, amount, &created.reference, metadata)
                .await
            {
                Ok(checkout) => {
                    let details = ProviderDetails {
                        provider_ref: Some(checkout.reference),
                        authorization_url: Some(checkout.authorization_url),
                        ..ProviderDetails::default()
                    };
                    self.apply(actor.name(), created.id, TxEvent::Initiated, details)
                        .await?
                }
                Err(e) => self.card_refused(actor.name(), &created, e).await?,
            },
        };
        Ok(TransactionView::from(&after))
    }

    async fn card_refused(
        &self,
        actor: &str,
        created: &TransactionRecord,
        e: PaystackError,
    ) -> Result<TransactionRecord, AppError> {
        if matches!(
            e,
            PaystackError::Transport(_) | PaystackError::Unexpected(_)
        ) {
            return Err(AppError::new(
                ErrorCode::Provider,
                format!(
                    "{e}. {} stays pending; refresh it before trying again.",
                    created.number
                ),
            ));
        }
        let details = ProviderDetails {
            failure_reason: Some(e.to_string()),
            ..ProviderDetails::default()
        };
        self.apply(actor, created.id, TxEvent::InitiationRefused, details)
            .await
    }

    /// Applies what Paystack said about a card payment: paid (with the amount Paystack took,
    /// so a different amount lands in review), declined, or still open.
    async fn apply_card_result(
        &self,
        actor: &str,
        tx: &TransactionRecord,
        t: &CardTransaction,
    ) -> Result<TransactionRecord, AppError> {
        let (event, details) = self.card_event(tx, t).await?;
        self.apply(actor, tx.id, event, details).await
    }

    /// The event a Paystack verification means for a card payment (remembering the card when
    /// it was paid).
    pub(crate) async fn card_event(
        &self,
        tx: &TransactionRecord,
        t: &CardTransaction,
    ) -> Result<(TxEvent, ProviderDetails), AppError> {
        Ok(match &t.status {
            CardStatus::Paid => {
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
                            },
                            self.now(),
                        )
                        .await?;
                }
                let details = ProviderDetails {
                    provider_receipt: Some(t.id.to_string()),
                    card_brand: t.card.as_ref().map(|c| c.brand.clone()),
                    card_last4: t.card.as_ref().map(|c| c.last4.clone()),
                    failure_reason: (t.amount != tx.amount).then(|| {
                        format!(
                            "Paystack took {} but {} was asked; a manager must review it",
                            t.amount, tx.amount
                        )
                    }),
                    ..ProviderDetails::default()
                };
                (
                    TxEvent::Paid {
                        paid: t.amount,
                        source: Source::Query,
                    },
                    details,
                )
            }
            CardStatus::NotPaid { kind, message } => (
                TxEvent::NotPaid {
                    kind: *kind,
                    source: Source::Query,
                },
                ProviderDetails {
                    failure_code: t.gateway_response.clone(),
                    failure_reason: Some(message.clone()),
                    ..ProviderDetails::default()
                },
            ),
            CardStatus::Open(_) => (TxEvent::StillPending, ProviderDetails::default()),
        })
    }

    /// Asks the provider where a payment stands (STK Push Query, or Paystack verify) and
    /// applies the answer. A query never downgrades a recorded success. An open payment
    /// nobody has heard of for long enough is given up as `timed_out`.
    pub async fn refresh(
        &self,
        actor: &Actor,
        settings: &ProviderSettings,
        key: &str,
    ) -> Result<(TransactionView, NextAsk), AppError> {
        let tx = self.store().transaction(&TxKey::parse(key)).await?;
        let name = actor.name();
        let after = if !tx.status.is_open() {
            tx
        } else {
            match tx.method {
                Method::Mpesa => self.refresh_mpesa(name, settings, &tx).await?,
                Method::Card => {
                    let client = PaystackClient::new(settings.paystack()?.clone());
                    let t = client.verify(&tx.reference).await.map_err(paystack_error)?;
                    self.apply_card_result(name, &tx, &t).await?
                }
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
        settings: &ProviderSettings,
        tx: &TransactionRecord,
    ) -> Result<TransactionRecord, AppError> {
        let Some(checkout_id) = tx.provider_ref.clone() else {
            // The prompt never got an answer from M-Pesa: nothing to ask about.
            return Ok(tx.clone());
        };
        let client = DarajaClient::new(settings.daraja()?.clone());
        let (event, details) = match client.stk_query(&checkout_id).await.map_err(daraja_error)? {
            QueryResult::Pending => (TxEvent::StillPending, ProviderDetails::default()),
            QueryResult::Paid => (
                TxEvent::Paid {
                    paid: tx.amount,
                    source: Source::Query,
                },
                ProviderDetails::default(),
            ),
            QueryResult::NotPaid(f) => (
                TxEvent::NotPaid {
                    kind: f.kind,
                    source: Source::Query,
                },
                ProviderDetails {
                    failure_code: Some(f.code),
                    failure_reason: Some(f.message),
                    ..ProviderDetails::default()
                },
            ),
        };
        self.apply(actor, tx.id, event, details).await
    }

    async fn give_up_if_due(
        &self,
        actor: &str,
        tx: TransactionRecord,
    ) -> Result<TransactionRecord, AppError> {
        if !tx.status.is_open() || self.now() - tx.updated_at < tx.method.give_up_after() {
            return Ok(tx);
        }
        let reason = match tx.method {
            Method::Mpesa => {
                "No answer from M-Pesa for 10 minutes. Ask the customer whether money left their account before prompting again."
            }
            Method::Card => "The customer did not finish the card checkout within 30 minutes.",
        };
        let details = ProviderDetails {
            failure_code: Some("no_answer".into()),
            failure_reason: Some(reason.into()),
            ..ProviderDetails::default()
        };
        self.apply(
            actor,
            tx.id,
            TxEvent::GiveUp {
                last_change: tx.updated_at,
            },
            details,
        )
        .await
    }

    /// Refreshes until the payment is final or `seconds` have passed, backing off when the
    /// provider asks for it. Returns the payment as it last stood.
    pub async fn wait_for(
        &self,
        actor: &Actor,
        settings: &ProviderSettings,
        key: &str,
        seconds: u64,
    ) -> Result<TransactionView, AppError> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(seconds);
        let mut pause = std::time::Duration::from_secs(2);
        loop {
            let view = match self.refresh(actor, settings, key).await {
                Ok((view, NextAsk::Done)) => return Ok(view),
                Ok((view, NextAsk::After(_))) => {
                    pause = std::time::Duration::from_secs(2);
                    view
                }
                Err(e) if e.message.contains("spike arrest") => {
                    pause = (pause * 2).min(std::time::Duration::from_secs(30));
                    self.transaction(key).await?
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

    /// The customer's saved cards, for the clerk to pick from.
    pub async fn saved_cards(&self, email: &str) -> Result<Vec<SavedCardView>, AppError> {
        let email = Email::parse(email).map_err(|e| AppError::invalid("email", e))?;
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

    async fn policy_record(&self, number: &str) -> Result<malipo_store::PolicyRecord, AppError> {
        self.store().policy(number).await?.ok_or_else(|| {
            AppError::new(
                ErrorCode::NotFound,
                format!(
                    "no policy {}; check the number with `malipo policy list --search`",
                    number.trim()
                ),
            )
        })
    }
}
