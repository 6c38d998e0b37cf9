//! Paybill payments customers send from their own phones: registering the relay's C2B URLs
//! with Safaricom, proving a code a customer brings to the counter, and the company's suspense
//! list of confirmed payments whose account matched no policy.
//!
//! Nothing here records a payment on a customer's word or a posted body: a code is recorded
//! once Safaricom's Transaction Status has found it completed to this office's shortcode (see
//! `sync::paybill`), and a suspense payment was proven so before it was put on the list.

use std::time::Duration;

use serde::Serialize;

use malipo_domain::time_zone::nairobi_time;
use malipo_domain::{Action, Currency, Money, PolicyStatus};
use malipo_providers::daraja::c2b::StatusResult;
use malipo_providers::daraja::{DarajaError, RegisterVersion, ResponseType, c2b};
use malipo_relay_api as api;
use malipo_store::NewPaybill;

use crate::error::{Error, Result};
use crate::relay::RelayError;
use crate::settings::table;
use crate::sync::{ForPolicy, prompt_takes};
use crate::views::TransactionView;
use crate::{Actor, App};

/// How long `verify` waits for Safaricom's Transaction Status answer.
pub const VERIFY_WAIT: Duration = Duration::from_secs(90);

/// What registering the C2B URLs did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RegisteredUrls {
    pub shortcode: String,
    /// `Completed` or `Cancelled`.
    pub response_type: String,
    /// `v1` or `v2`.
    pub version: String,
    /// The URLs, with their secret token hidden.
    pub validation_url: String,
    pub confirmation_url: String,
    /// Safaricom's answer.
    pub answer: String,
}

/// A paybill payment on the company's suspense list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SuspenseView {
    /// The M-Pesa code.
    pub trans_id: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    /// What the customer typed as the account.
    pub account: String,
    /// A till (Buy Goods) payment: no account at all, so a clerk matches it at the counter.
    pub till: bool,
    pub payer: String,
    /// Masked by Safaricom.
    pub msisdn: String,
    pub paid_at: String,
    /// `open`, `allocated` or `refund`.
    pub status: String,
    pub policy: Option<String>,
    pub note: Option<String>,
    pub decided_by: Option<String>,
}

/// A manager's decision on a suspense payment, and the payment it made here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct SuspenseDecided {
    pub item: SuspenseView,
    /// The payment recorded for the policy (none for a refund).
    pub payment: Option<TransactionView>,
}

fn suspense_view(item: &api::SuspenseItem) -> Result<SuspenseView> {
    let currency = Currency::from_code(&item.currency).map_err(Error::internal)?;
    let amount = Money::from_minor(item.amount_minor, currency).map_err(Error::internal)?;
    Ok(SuspenseView {
        trans_id: item.trans_id.clone(),
        amount: amount.amount_string(),
        amount_minor: item.amount_minor,
        currency: item.currency.clone(),
        account: item.account.clone(),
        till: item.account.trim().is_empty(),
        payer: item.payer.clone(),
        msisdn: item.msisdn.clone(),
        paid_at: item.paid_at.clone(),
        status: item.status.clone(),
        policy: item.policy.clone(),
        note: item.note.clone(),
        decided_by: item.decided_by.clone(),
    })
}

/// A URL with the secret token in its path hidden: `https://relay.example/c2b/v/…a1b2`.
fn hide_token(url: &str) -> String {
    match url.rsplit_once('/') {
        Some((head, token)) if token.len() > 8 => {
            format!("{head}/…{}", &token[token.len() - 4..])
        }
        _ => url.to_owned(),
    }
}

/// What Safaricom's refusal of a RegisterURL call means, in words a clerk can act on.
fn register_refusal(e: DarajaError, version: RegisterVersion) -> Error {
    let (code, message) = match &e {
        DarajaError::Provider { code, message, .. } | DarajaError::BadRequest { code, message } => {
            (code.as_str(), message.as_str())
        }
        _ => return e.into(),
    };
    let other = match version {
        RegisterVersion::V1 => "v2",
        RegisterVersion::V2 => "v1",
    };
    // Safaricom answers both "already registered" and the wrong RegisterURL product with
    // 500.003.1001; only its errorMessage tells them apart. This reads the provider's words,
    // never one of ours.
    if message.to_ascii_lowercase().contains("already registered") {
        let code = if code.is_empty() {
            String::new()
        } else {
            format!(" ({code})")
        };
        return Error::Conflict(format!(
            "Safaricom says URLs are already registered for this shortcode{code}. On production they can be registered once: to change them, ask Safaricom's API support (apisupport@safaricom.co.ke) to delete the registration, then run this again"
        ));
    }
    if code == "500.003.1001" {
        return Error::Conflict(format!(
            "Safaricom refused the registration ({code}: {message}). This usually means the shortcode's Daraja app is on the other RegisterURL product: register again with version {other} (the setting mpesa.c2b_version)"
        ));
    }
    e.into()
}

impl App {
    /// Registers the relay's C2B validation and confirmation URLs for this office's shortcode
    /// with Safaricom (RegisterURL). `response_type` and `version` default to the settings
    /// `mpesa.c2b_response_type` (else `Completed`) and `mpesa.c2b_version` (else `v2`).
    pub async fn register_c2b_urls(
        &self,
        actor: &Actor,
        response_type: Option<&str>,
        version: Option<&str>,
    ) -> Result<RegisteredUrls> {
        actor.require(Action::ManageSettings)?;
        let providers = self.providers();
        let client = providers.daraja()?;
        let settings = providers.settings();
        let Some((validation, confirmation)) = settings.c2b_urls.clone() else {
            return Err(Error::NotConfigured {
                what: "the relay's C2B URLs",
                missing: vec![
                    "MALIPO_MPESA_C2B_VALIDATION_URL",
                    "MALIPO_MPESA_C2B_CONFIRMATION_URL",
                ],
            });
        };
        let response_type = match response_type {
            Some(r) => Some(r.to_owned()),
            None => {
                self.store()
                    .setting(table::MPESA_C2B_RESPONSE_TYPE.key)
                    .await?
            }
        };
        let response_type = match response_type.as_deref().map(str::to_ascii_lowercase) {
            None => ResponseType::Completed,
            Some(r) if r == "completed" => ResponseType::Completed,
            Some(r) if r == "cancelled" => ResponseType::Cancelled,
            Some(other) => {
                return Err(Error::invalid(
                    "response type",
                    format!("'{other}' is neither Completed nor Cancelled"),
                ));
            }
        };
        let version = match version {
            Some(v) => Some(v.to_owned()),
            None => self.store().setting(table::MPESA_C2B_VERSION.key).await?,
        };
        let version = match version.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("v2") => RegisterVersion::V2,
            Some("v1") => RegisterVersion::V1,
            Some(other) => {
                return Err(Error::invalid(
                    "version",
                    format!("'{other}' is neither v1 nor v2"),
                ));
            }
        };
        let answer = client
            .register_urls(
                version,
                response_type,
                confirmation.expose(),
                validation.expose(),
            )
            .await
            .map_err(|e| register_refusal(e, version))?;
        Ok(RegisteredUrls {
            shortcode: client.config().shortcode.clone(),
            response_type: response_type.as_str().to_owned(),
            version: match version {
                RegisterVersion::V1 => "v1",
                RegisterVersion::V2 => "v2",
            }
            .to_owned(),
            validation_url: hide_token(validation.expose()),
            confirmation_url: hide_token(confirmation.expose()),
            answer,
        })
    }

    /// Proves an M-Pesa code a customer brings to the counter and records it for `policy`:
    /// shows it when it is recorded already (here or at another counter), asks Safaricom's
    /// Transaction Status otherwise and waits up to [`VERIFY_WAIT`] for the answer, syncing
    /// with the relay that carries it. Refused when Safaricom does not know the code, or it
    /// paid another business or a different state than completed.
    pub async fn verify_code(
        &self,
        actor: &Actor,
        code: &str,
        policy: &str,
    ) -> Result<TransactionView> {
        self.verify_code_within(actor, code, policy, VERIFY_WAIT)
            .await
    }

    /// [`Self::verify_code`], waiting at most `wait`.
    pub async fn verify_code_within(
        &self,
        actor: &Actor,
        code: &str,
        policy: &str,
        wait: Duration,
    ) -> Result<TransactionView> {
        actor.require(Action::TakePayment)?;
        let code = code.trim().to_ascii_uppercase();
        if !c2b::is_receipt_number(&code) {
            return Err(Error::invalid(
                "code",
                "an M-Pesa code is 10 letters and digits, like RKTQDM7W6S (it is at the start of the customer's SMS)",
            ));
        }
        let Some(record) = self.store().policy(policy).await? else {
            return Err(Error::UnknownPolicy(policy.trim().to_owned()));
        };
        if record.status == PolicyStatus::Cancelled {
            return Err(Error::Conflict(format!(
                "policy {} is cancelled and takes no payments",
                record.number
            )));
        }
        if let Some(known) = self.recorded_for(&code, &record.number).await? {
            return Ok(known);
        }
        let providers = self.providers();
        providers.daraja()?;
        let relay = providers.relay()?;
        // A code on the company's suspense list is decided there, once for the company: a
        // manager allocates it (so two counters can never both record it).
        let listed = relay.suspense(true).await?;
        if let Some(item) = listed.iter().find(|i| i.trans_id == code) {
            return match item.status.as_str() {
                "open" if actor.may(Action::ResolveReview) => Ok(self
                    .decide_suspense(
                        actor,
                        &code,
                        Some(&record.number),
                        &format!(
                            "the customer brought the SMS to the counter ({})",
                            actor.name()
                        ),
                    )
                    .await?
                    .payment
                    .ok_or_else(|| Error::internal("an allocation without its payment"))?),
                "open" => Err(Error::Conflict(format!(
                    "M-Pesa code {code} is on the suspense list (the customer typed {:?} as the account): a manager allocates it to {} on the Suspense screen",
                    item.account, record.number
                ))),
                "refund" => Err(Error::Conflict(format!(
                    "M-Pesa code {code} was marked for refund by {}",
                    item.decided_by.as_deref().unwrap_or("a manager")
                ))),
                _ => Err(Error::Conflict(format!(
                    "M-Pesa code {code} was allocated to policy {} by {}; it appears here once that counter syncs",
                    item.policy.as_deref().unwrap_or("another policy"),
                    item.decided_by.as_deref().unwrap_or("a manager")
                ))),
            };
        }
        let claim = relay.claim(&format!("paybill:{code}")).await?;
        if !claim.won {
            return Err(Error::Conflict(format!(
                "M-Pesa code {code} is being recorded at another counter ({}); it appears here once that counter syncs",
                claim.counter.as_deref().unwrap_or(&claim.device)
            )));
        }
        let check = self.store().paybill_check(&code).await?;
        let named = check.as_ref().and_then(|c| c.policy_number.clone());
        if let Some(other) = named.filter(|n| *n != record.number) {
            return Err(Error::Conflict(format!(
                "M-Pesa code {code} was typed for policy {other} already; a manager can sort it out"
            )));
        }
        if check.as_ref().is_none_or(|c| c.answered_at.is_none()) {
            // Asking again is harmless: the first answer stands.
            if let Some(why) = self
                .ask_status(&code, Some((&record.number, actor.user_id())))
                .await?
            {
                return Err(Error::Conflict(format!(
                    "Safaricom's Transaction Status could not be asked about {code}: {why}"
                )));
            }
        } else {
            self.store()
                .note_paybill_ask(
                    &code,
                    Some((&record.number, actor.user_id())),
                    None,
                    self.now(),
                    self.now(),
                )
                .await?;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // The answer comes back through the relay's feed; a sync round records it, and the
            // code with it.
            self.sync_once().await?;
            if let Some(known) = self.recorded_for(&code, &record.number).await? {
                return Ok(known);
            }
            let check = self.store().paybill_check(&code).await?;
            match check.as_ref().and_then(|c| c.found) {
                Some(false) => {
                    return Err(Error::NotFound(format!(
                        "Safaricom does not know M-Pesa code {code}: check the code in the customer's SMS"
                    )));
                }
                Some(true) => {
                    let answer = check
                        .and_then(|c| c.answer)
                        .ok_or_else(|| Error::internal("a found code without its answer"))?;
                    let answer = c2b::parse_status_result(answer.as_bytes())
                        .map_err(|e| Error::internal(format!("a kept answer: {e}")))?;
                    let desk = self.desk().await?;
                    return match self
                        .paybill_for_policy(&code, &record.number, actor.user_id(), &answer, &desk)
                        .await?
                    {
                        ForPolicy::Refused(why) => Err(Error::Conflict(format!(
                            "M-Pesa code {code} is not recorded: {why}"
                        ))),
                        ForPolicy::Record(payment) => {
                            self.record_typed(actor, &payment, &record.number).await
                        }
                        ForPolicy::Prompt(tx) => {
                            let paid = self
                                .apply(actor.name(), tx.id, prompt_takes(&tx, &code))
                                .await?;
                            self.after_paybill().await;
                            Ok(TransactionView::from(&paid))
                        }
                    };
                }
                None => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unconfirmed {
                    subject: format!("M-Pesa code {code}"),
                    cause: "Safaricom's Transaction Status has not answered yet".into(),
                    advice: "is recorded for the policy as soon as it does (keep Malipo syncing), or run this again in a minute",
                });
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Safaricom's Transaction Status answer about `code`: the one kept, or asked for now and
    /// waited for (syncing with the relay that carries it) for at most `wait`. Refused when
    /// Safaricom does not know the code.
    async fn proven(&self, code: &str, wait: Duration) -> Result<StatusResult> {
        let check = self.store().paybill_check(code).await?;
        if check.as_ref().is_none_or(|c| c.answered_at.is_none())
            && let Some(why) = self.ask_status(code, None).await?
        {
            return Err(Error::Conflict(format!(
                "Safaricom's Transaction Status could not be asked about {code}: {why}"
            )));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let check = self.store().paybill_check(code).await?;
            match check.and_then(|c| Some((c.found?, c.answer))) {
                Some((false, _)) => {
                    return Err(Error::NotFound(format!(
                        "Safaricom does not know M-Pesa code {code}; nothing was recorded"
                    )));
                }
                Some((true, Some(body))) => {
                    return c2b::parse_status_result(body.as_bytes())
                        .map_err(|e| Error::internal(format!("a kept answer: {e}")));
                }
                _ => {}
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::Unconfirmed {
                    subject: format!("M-Pesa code {code}"),
                    cause: "Safaricom's Transaction Status has not answered yet".into(),
                    advice: "is not allocated until it does; try again in a minute",
                });
            }
            self.sync_once().await?;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Records a code proven at the counter (the answer came before a sync round could).
    async fn record_typed(
        &self,
        actor: &Actor,
        payment: &NewPaybill,
        policy: &str,
    ) -> Result<TransactionView> {
        match self
            .store()
            .record_paybill(actor.name(), payment, self.now())
            .await
        {
            Ok(t) => {
                self.after_paybill().await;
                Ok(TransactionView::from(&t))
            }
            Err(malipo_store::StoreError::Duplicate(_)) => self
                .recorded_for(&payment.trans_id, policy)
                .await?
                .ok_or_else(|| Error::internal("a recorded code went missing")),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends a new paybill payment to the relay now, so other counters see it taken.
    async fn after_paybill(&self) {
        if self.providers().relay().is_ok()
            && let Err(e) = self.sync_once().await
        {
            tracing::warn!(error = %e, "paybill payment not sent to the relay yet");
        }
    }

    /// The payment `code` is recorded as for `policy`, here or at another counter of the
    /// company. A code that paid another policy is refused in words that say whose it is, when
    /// and where, so nothing that looks like a payment is shown for this one.
    async fn recorded_for(&self, code: &str, policy: &str) -> Result<Option<TransactionView>> {
        let Some((view, at, place)) = self.recorded_code(code).await? else {
            return Ok(None);
        };
        if view.policy == policy {
            return Ok(Some(view));
        }
        let whose = match view.holder.as_str() {
            "" => format!("policy {}", view.policy),
            holder => format!("policy {} ({holder})", view.policy),
        };
        let amount = Currency::from_code(&view.currency)
            .and_then(|c| Money::from_minor(view.amount_minor, c))
            .map_err(Error::internal)?;
        Err(Error::Conflict(format!(
            "M-Pesa code {code} already paid {whose}: {amount} on {} at {place}{}. It is not a payment for {policy}",
            nairobi_time(at),
            view.receipt_number
                .as_deref()
                .map(|r| format!(", receipt {r}"))
                .unwrap_or_default(),
        )))
    }

    /// The payment a code is recorded as, here or at another counter of the company, with
    /// when it was recorded and at which counter.
    async fn recorded_code(
        &self,
        code: &str,
    ) -> Result<Option<(TransactionView, time::OffsetDateTime, String)>> {
        let here = match self.store().paybill_by_code(code).await? {
            Some(t) => Some(t),
            None => self.store().transaction_by_receipt(code).await?,
        };
        if let Some(t) = here {
            let place = format!("this counter ({})", self.desk().await?);
            return Ok(Some((TransactionView::from(&t), t.created_at, place)));
        }
        Ok(self
            .store()
            .company_payment_by_receipt(code)
            .await?
            .map(|p| {
                let place = match &p.counter {
                    Some(counter) => format!("counter {}-{counter}", p.office),
                    None => format!("office {}", p.office),
                };
                (TransactionView::from(&p), p.created_at, place)
            }))
    }

    /// Paybill payments recorded here in the last two hours, newest first (at most ten): what
    /// a clerk's screen shows arriving.
    pub async fn recent_paybill(&self, actor: &Actor) -> Result<Vec<TransactionView>> {
        actor.require(Action::TakePayment)?;
        let since = self.now() - time::Duration::hours(2);
        Ok(self
            .store()
            .recent_paybill(since, 10)
            .await?
            .iter()
            .map(TransactionView::from)
            .collect())
    }

    /// The company's suspense list: open paybill payments (every one with `all`).
    pub async fn suspense(&self, actor: &Actor, all: bool) -> Result<Vec<SuspenseView>> {
        actor.require(Action::ResolveReview)?;
        let providers = self.providers();
        providers
            .relay()?
            .suspense(all)
            .await?
            .iter()
            .map(suspense_view)
            .collect()
    }

    /// A manager allocates a suspense payment to `policy`, or marks it for refund (`policy`
    /// `None`), with a note: decided once for the whole company at the relay, then the payment
    /// recorded here for the policy.
    pub async fn decide_suspense(
        &self,
        actor: &Actor,
        trans_id: &str,
        policy: Option<&str>,
        note: &str,
    ) -> Result<SuspenseDecided> {
        actor.require(Action::ResolveReview)?;
        self.decide_listed(actor, trans_id, policy, note, false)
            .await
    }

    /// Till (Buy Goods) payments waiting to be matched: they carry no account, so the clerk the
    /// customer speaks to matches them to a policy at the counter.
    pub async fn till_arrivals(&self, actor: &Actor) -> Result<Vec<SuspenseView>> {
        actor.require(Action::TakePayment)?;
        let providers = self.providers();
        let Ok(relay) = providers.relay() else {
            return Ok(Vec::new());
        };
        relay
            .suspense(false)
            .await?
            .iter()
            .filter(|i| i.status == "open" && i.account.trim().is_empty())
            .map(suspense_view)
            .collect()
    }

    /// A clerk matches a till payment to the policy the customer names. Only a till payment (one
    /// with no account); a paybill payment whose account matched nothing stays a manager's.
    /// Proven with Transaction Status and decided once for the company, like any allocation.
    pub async fn match_till(
        &self,
        actor: &Actor,
        trans_id: &str,
        policy: &str,
    ) -> Result<SuspenseDecided> {
        actor.require(Action::TakePayment)?;
        let note = format!("till payment matched at the counter by {}", actor.name());
        self.decide_listed(actor, trans_id, Some(policy), &note, true)
            .await
    }

    async fn decide_listed(
        &self,
        actor: &Actor,
        trans_id: &str,
        policy: Option<&str>,
        note: &str,
        till_only: bool,
    ) -> Result<SuspenseDecided> {
        let trans_id = trans_id.trim().to_ascii_uppercase();
        let note = note.trim();
        if note.is_empty() {
            return Err(Error::invalid(
                "note",
                "say why (it is kept with the decision)",
            ));
        }
        if note.chars().count() > 500 {
            return Err(Error::invalid("note", "at most 500 characters"));
        }
        let record = match policy {
            Some(p) => {
                // The number as typed, or as a customer would type it (`pol 1004`).
                let record = match self.store().policy(p).await? {
                    Some(r) => Some(r),
                    None => {
                        let mut like = self
                            .store()
                            .policies_by_account(&malipo_domain::policy::account_key(p))
                            .await?;
                        (like.len() == 1).then(|| like.remove(0))
                    }
                };
                let Some(record) = record else {
                    return Err(Error::UnknownPolicy(p.trim().to_owned()));
                };
                if record.status == PolicyStatus::Cancelled {
                    return Err(Error::Conflict(format!(
                        "policy {} is cancelled and takes no payments",
                        record.number
                    )));
                }
                Some(record)
            }
            None => None,
        };
        let providers = self.providers();
        let relay = providers.relay()?;
        let listed = relay.suspense(true).await?;
        let Some(item) = listed.into_iter().find(|i| i.trans_id == trans_id) else {
            return Err(Error::NotFound(format!(
                "M-Pesa code {trans_id} on the suspense list"
            )));
        };
        if till_only && !item.account.trim().is_empty() {
            return Err(Error::Forbidden(format!(
                "M-Pesa code {trans_id} was paid to the paybill with account {:?}: a manager allocates it from Suspense",
                item.account
            )));
        }
        if item.status != "open" {
            return Err(Error::Conflict(format!(
                "M-Pesa code {trans_id} was decided already by {}: {}",
                item.decided_by.as_deref().unwrap_or("another device"),
                item.policy
                    .as_deref()
                    .map_or_else(|| "to refund".to_owned(), |p| format!("allocated to {p}"))
            )));
        }
        // The list is what a device put there; before it becomes money here, Safaricom's own
        // Transaction Status says what was paid (and to whom).
        let proven = match &record {
            Some(_) => Some(self.proven(&trans_id, VERIFY_WAIT).await?),
            None => None,
        };
        if let Some(answer) = &proven {
            let shortcode = providers.daraja()?.config().shortcode.clone();
            let listed_amount = Money::from_minor(
                item.amount_minor,
                Currency::from_code(&item.currency).map_err(Error::internal)?,
            )
            .map_err(Error::internal)?;
            if let Some(why) = answer.confirms(&trans_id, listed_amount, &shortcode) {
                return Err(Error::Conflict(format!(
                    "the suspense list's {trans_id} is not what Safaricom says ({why}); it was not allocated"
                )));
            }
        }
        let decision = api::SuspenseDecision {
            trans_id: trans_id.clone(),
            policy: record.as_ref().map(|r| r.number.clone()),
            refund: record.is_none(),
            note: note.to_owned(),
        };
        let item = match relay.decide_suspense(&decision).await {
            Ok(item) => item,
            Err(RelayError::Refused {
                code: api::ProblemCode::AlreadyDecided,
                message,
                ..
            }) => {
                return Err(Error::Conflict(message));
            }
            Err(RelayError::Refused {
                code: api::ProblemCode::NotFound,
                ..
            }) => {
                return Err(Error::NotFound(format!(
                    "M-Pesa code {trans_id} on the suspense list"
                )));
            }
            Err(e) => return Err(e.into()),
        };
        let mut audit_after = serde_json::json!({
            "policy": decision.policy,
            "refund": decision.refund,
            "note": note,
        });
        let payment = match &record {
            Some(policy) => {
                let currency = Currency::from_code(&item.currency).map_err(Error::internal)?;
                let amount =
                    Money::from_minor(item.amount_minor, currency).map_err(Error::internal)?;
                let paid_at = time::OffsetDateTime::parse(
                    &item.paid_at,
                    &time::format_description::well_known::Rfc3339,
                )
                .unwrap_or_else(|_| self.now());
                let new = NewPaybill {
                    desk: self.desk().await?,
                    policy_id: policy.id,
                    amount,
                    trans_id: trans_id.clone(),
                    payer: proven
                        .as_ref()
                        .and_then(StatusResult::payer)
                        .or_else(|| Some(item.payer.clone())),
                    msisdn: Some(item.msisdn.clone()),
                    paid_at,
                    clerk_id: actor.user_id(),
                    reference: crate::sync::fresh_reference()?,
                };
                let view = self.record_typed(actor, &new, &policy.number).await?;
                audit_after["payment"] = serde_json::json!(view.number);
                Some(view)
            }
            None => None,
        };
        self.store()
            .audit(
                actor.name(),
                "suspense.decide",
                "paybill",
                &trans_id,
                audit_after,
                self.now(),
            )
            .await?;
        Ok(SuspenseDecided {
            item: suspense_view(&item)?,
            payment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_in_a_url_is_hidden() {
        assert_eq!(
            hide_token("https://relay.example/c2b/confirm/5ecret0token0a1b2"),
            "https://relay.example/c2b/confirm/…a1b2"
        );
        assert_eq!(
            hide_token("https://x.example/short"),
            "https://x.example/short"
        );
    }

    #[test]
    fn refusals_of_a_registration_say_what_to_do() {
        let mismatch = register_refusal(
            DarajaError::Provider {
                status: 500,
                code: "500.003.1001".into(),
                message: "Internal Server Error".into(),
            },
            RegisterVersion::V2,
        );
        assert!(mismatch.to_string().contains("version v1"), "{mismatch}");
        let again = register_refusal(
            DarajaError::Provider {
                status: 500,
                code: "500.003.1001".into(),
                message: "URLs are already registered".into(),
            },
            RegisterVersion::V2,
        );
        assert!(again.to_string().contains("registered once"), "{again}");
        let bare = register_refusal(
            DarajaError::Provider {
                status: 200,
                code: String::new(),
                message: "Failed, URLs are already registered.".into(),
            },
            RegisterVersion::V2,
        )
        .to_string();
        assert!(bare.contains("registered once"), "{bare}");
        assert!(!bare.contains("()"), "no empty code in brackets: {bare}");
    }
}
