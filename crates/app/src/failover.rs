//! A way round a Daraja outage. When M-Pesa's API fails (no answer in time, 5xx, "system is
//! busy"), the M-Pesa screen offers, without retyping:
//!
//! - **the paybill route**: the customer pays from their own phone (the shortcode, the policy
//!   number as the account, the amount), told on screen and by SMS; the payment arrives as a
//!   paybill payment, proven and receipted as every one is;
//! - **M-Pesa through Paystack** (a company with a Paystack Kenya account): `POST /charge` with
//!   `mobile_money`, verified like every Paystack charge.
//!
//! A payment is never sent down two routes at once: neither is offered for a policy and amount
//! with a payment still open (a prompt that may yet be paid). Daraja is asked again in the
//! background while it is down, and the normal route returns by itself once it answers.

use serde::Serialize;
use time::Duration;

use malipo_domain::{Action, Email, Method, Msisdn, TxEvent};
use malipo_providers::daraja::MpesaAmount;
use malipo_providers::paystack::MpesaCharge;
use malipo_store::ProviderDetails;

use crate::error::{Error, Result};
use crate::health::ProviderHealth;
use crate::views::{TransactionView, rfc3339};
use crate::{Actor, App};

/// How often a down Daraja is asked again.
pub const PROBE_EVERY: Duration = Duration::seconds(60);

/// The CheckoutRequestID a probe asks about: no prompt has it, so any answer is "no such request".
const PROBE_CHECKOUT: &str = "ws_CO_000000000000000000000";

/// What the M-Pesa screen may offer now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct MpesaRoutes {
    pub mpesa: ProviderHealth,
    /// Daraja's latest calls all failed: offer the ways round.
    pub daraja_down: bool,
    /// The paybill number customers pay to themselves (none without M-Pesa settings).
    pub paybill: Option<String>,
    /// M-Pesa through Paystack is possible (Paystack set up, an office in Kenya shillings).
    pub paystack_mpesa: bool,
}

/// The paybill route as the screen shows it and the SMS says it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PaybillRoute {
    pub shortcode: String,
    /// The policy number: the account the customer types.
    pub account: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    /// The instructions went to the policy's phone by SMS now (false: the holder opted out, or
    /// the same was sent today already).
    pub sms_queued: bool,
    /// Watch for a paybill payment for this policy from this moment.
    pub since: String,
}

/// M-Pesa through Paystack, asked for when Daraja is down.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct PaystackMpesaRequest {
    pub policy: String,
    pub phone: String,
    pub amount: String,
    /// Paystack needs an e-mail; the policy's when none is given.
    pub email: Option<String>,
}

impl App {
    /// Whether M-Pesa is answering, and which ways round it this office has.
    pub async fn mpesa_routes(&self, actor: &Actor) -> Result<MpesaRoutes> {
        actor.require(Action::TakePayment)?;
        // A screen asking while Daraja is down asks Daraja again (now and then).
        self.probe_daraja().await;
        let providers = self.providers();
        let mpesa = self.health_of("mpesa").await?;
        Ok(MpesaRoutes {
            daraja_down: mpesa.state == "down",
            mpesa,
            paybill: providers
                .daraja()
                .ok()
                .map(|d| d.config().shortcode.clone()),
            paystack_mpesa: providers.has_paystack()
                && self.office_currency().await? == malipo_domain::Currency::Kes,
        })
    }

    /// Refuses a second route for a payment that may still be paid by the first.
    async fn no_open_payment(&self, policy_id: i64, amount: malipo_domain::Money) -> Result<()> {
        if let Some(open) = self
            .store()
            .open_payment_for(policy_id, amount, self.now() - Duration::minutes(30))
            .await?
        {
            return Err(Error::Conflict(format!(
                "{} for {amount} is still open ({}): it may yet be paid, so no second way is offered until it ends",
                open.number,
                open.status.as_str().replace('_', " ")
            )));
        }
        Ok(())
    }

    /// The paybill route: the shortcode, the policy number as the account and the amount, shown
    /// and sent by SMS to the policy's phone. The payment arrives as a paybill payment.
    pub async fn paybill_route(
        &self,
        actor: &Actor,
        req: &crate::MpesaRequest,
    ) -> Result<PaybillRoute> {
        actor.require(Action::TakePayment)?;
        let amount = MpesaAmount::parse(&req.amount).map_err(|e| Error::invalid("amount", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let providers = self.providers();
        let shortcode = providers.daraja()?.config().shortcode.clone();
        self.no_open_payment(policy.id, amount.money()).await?;
        let (language, opted_out) = self.store().policy_message_prefs(policy.id).await?;
        let sw = language == "sw";
        let office = self.office_details().await?.name;
        let body = self
            .template("template.paybill_route_sms", sw)
            .await?
            .replace("{office}", &office)
            .replace("{holder}", &policy.holder)
            .replace("{amount}", &amount.money().to_string())
            .replace("{policy}", &policy.number)
            .replace("{paybill}", &self.paybill_words(&policy.number, sw))
            .trim()
            .to_owned();
        let now = self.now();
        let sms_queued = !opted_out
            && self
                .store()
                .queue_notice(
                    policy.id,
                    // Once a day for a policy and amount, however often the clerk offers it.
                    &format!(
                        "route:sms:{}:{}:{}",
                        policy.number,
                        amount.money().minor(),
                        malipo_domain::time_zone::nairobi_date(now)
                    ),
                    &body,
                    now,
                )
                .await?;
        tracing::info!(policy = %policy.number, amount = %amount.money(), clerk = actor.name(), "paybill route offered");
        Ok(PaybillRoute {
            shortcode,
            account: policy.number.clone(),
            amount: amount.money().amount_string(),
            amount_minor: amount.money().minor(),
            currency: "KES".into(),
            sms_queued,
            since: rfc3339(now),
        })
    }

    /// M-Pesa through Paystack: a Paystack payment (`card` with channel `mobile_money`) the
    /// customer approves on their phone, verified like every Paystack charge.
    pub async fn pay_mpesa_paystack(
        &self,
        actor: &Actor,
        req: &PaystackMpesaRequest,
    ) -> Result<TransactionView> {
        actor.require(Action::TakePayment)?;
        let phone = Msisdn::parse(&req.phone).map_err(|e| Error::invalid("phone", e))?;
        let amount = MpesaAmount::parse(&req.amount).map_err(|e| Error::invalid("amount", e))?;
        let charge = MpesaCharge::new(amount.money()).map_err(|e| Error::invalid("amount", e))?;
        let policy = self.policy_record(&req.policy).await?;
        let email = match req.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
            Some(e) => e.to_owned(),
            None => policy.email.clone().ok_or_else(|| {
                Error::invalid(
                    "email",
                    "Paystack needs the customer's e-mail address: ask for one (or add it to the policy)",
                )
            })?,
        };
        let email = Email::parse(&email).map_err(|e| Error::invalid("email", e))?;
        let providers = self.providers();
        let client = providers.paystack()?;
        self.no_open_payment(policy.id, amount.money()).await?;
        let created = self
            .start(
                actor,
                &policy,
                Method::Card,
                Some(&phone),
                Some(&email),
                amount.money(),
                false,
            )
            .await?;
        let metadata = serde_json::json!({"policy": policy.number, "transaction": created.number, "route": "mpesa"});
        let send = client.charge_mpesa(&email, charge, &phone, &created.reference, metadata);
        let after = match self
            .provider_call("paystack.charge_mpesa", &created.number, send)
            .await
        {
            Ok(answer) => {
                let details = ProviderDetails {
                    provider_ref: Some(created.reference.clone()),
                    channel: Some("mobile_money".into()),
                    failure_reason: None,
                    ..ProviderDetails::default()
                };
                tracing::info!(number = %created.number, status = %answer.status, "M-Pesa through Paystack sent");
                self.apply(actor.name(), created.id, (TxEvent::Initiated, details))
                    .await?
            }
            Err(e) => self.card_refused(actor.name(), &created, e).await?,
        };
        Ok(TransactionView::from(&after))
    }

    /// While Daraja is down, asks it again now and then, so the normal route comes back by itself
    /// once it answers. The question is an STK Push Query about a prompt that never was: M-Pesa
    /// Express answering at all (even "no such request") is the proof. Returns whether it asked.
    pub(crate) async fn probe_daraja(&self) -> bool {
        let now = self.now();
        let Ok(health) = self.health_of("mpesa").await else {
            return false;
        };
        if health.state != "down" {
            return false;
        }
        let last = health.last_failed;
        let due = last
            .as_deref()
            .and_then(|t| {
                time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
            })
            .is_none_or(|at| now - at >= PROBE_EVERY);
        if !due {
            return false;
        }
        let providers = self.providers();
        let Ok(client) = providers.daraja() else {
            return false;
        };
        let _ = self
            .provider_call("mpesa.probe", "health", client.stk_query(PROBE_CHECKOUT))
            .await;
        true
    }
}

impl App {
    /// Runs a call to a provider in its span (see [`crate::trace::provider_call`]) and notes
    /// how it ended in the provider's health.
    pub(crate) async fn provider_call<T, E: std::fmt::Display + crate::health::Health>(
        &self,
        call: &'static str,
        subject: impl std::fmt::Display,
        fut: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let result = crate::trace::provider_call(call, subject, fut).await;
        let provider = if call.starts_with("mpesa.") {
            "mpesa"
        } else {
            "paystack"
        };
        let ended = match &result {
            Ok(_) => crate::health::Ended::Answered,
            Err(e) => e.ended(),
        };
        // Health is a help, never a reason for a payment to fail: a write that fails is logged.
        if let Err(e) = self
            .store()
            .note_provider_call(provider, self.now(), ended.as_str())
            .await
        {
            tracing::warn!(error = %e, provider, "provider health not noted");
        }
        result
    }

    /// `provider`'s health now, from this office's calls in the last minutes.
    pub(crate) async fn health_of(&self, provider: &'static str) -> Result<ProviderHealth> {
        let now = self.now();
        let calls = self
            .store()
            .provider_calls(provider, now - crate::health::WINDOW)
            .await?;
        let calls: Vec<(time::OffsetDateTime, &str)> =
            calls.iter().map(|(at, e)| (*at, e.as_str())).collect();
        Ok(crate::health::assess(provider, &calls, now))
    }

    /// M-Pesa's and Paystack's health, from this office's own calls.
    pub async fn provider_health(
        &self,
        actor: &crate::Actor,
    ) -> crate::Result<Vec<ProviderHealth>> {
        actor.require(malipo_domain::Action::Read)?;
        Ok(vec![
            self.health_of("mpesa").await?,
            self.health_of("paystack").await?,
        ])
    }
}
