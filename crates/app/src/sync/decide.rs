//! What each provider event pulled from the relay means for this office: a payment moved, a
//! refund moved, or an event only recorded (another office's, an orphan for a manager, or one
//! with nothing to act on). Deciding may ask a provider (a Paystack webhook is only a hint until
//! verify says the same); recording the decision is the store's, in one write transaction.

use malipo_domain::refund::RefundEvent;
use malipo_domain::{OfficeCode, Source};
use malipo_providers::daraja;
use malipo_providers::paystack::{self, WebhookEvent};
use malipo_relay_api as api;
use malipo_store::{InboxAction, InboxOutcome, RefundDetails, StoreError, TxKey};

use crate::App;
use crate::error::{Error, Result};
use crate::payments::{not_paid_event, paid_event};

/// What a provider event means here.
pub(super) enum Decision {
    Act(InboxAction),
    /// The event needs an answer from a provider this round could not get: stop and try again.
    Later(Error),
}

fn record(outcome: InboxOutcome, transaction_id: Option<i64>, note: impl Into<String>) -> Decision {
    Decision::Act(InboxAction::Record {
        outcome,
        transaction_id,
        note: note.into(),
    })
}

/// An event about no payment of ours: another office's, or an orphan.
fn not_ours(wire: &api::Event, office: &OfficeCode, what: &str) -> Decision {
    match &wire.office {
        Some(other) if other != office.as_str() => record(
            InboxOutcome::OtherOffice,
            None,
            format!("{what} belongs to office {other}"),
        ),
        _ => record(
            InboxOutcome::Orphan,
            None,
            format!("no payment here or at any office matches {what}"),
        ),
    }
}

impl App {
    pub(super) async fn decide(&self, wire: &api::Event, office: &OfficeCode) -> Result<Decision> {
        match (wire.provider.as_str(), wire.kind.as_str()) {
            ("daraja", "stk_callback") => self.stk_callback(wire, office).await,
            ("paystack", "charge.success") => self.charge_success(wire, office).await,
            ("paystack", kind) if kind.starts_with("refund.") => {
                self.paystack_refund(wire, office).await
            }
            ("daraja", "reversal_result") => self.reversal_result(wire).await,
            (provider, kind) => Ok(record(
                InboxOutcome::Ignored,
                None,
                format!("{provider} {kind} events change no payment"),
            )),
        }
    }

    async fn stk_callback(&self, wire: &api::Event, office: &OfficeCode) -> Result<Decision> {
        let cb = match daraja::callback::parse(wire.body.as_bytes()) {
            Ok(cb) => cb,
            Err(e) => {
                return Ok(record(
                    InboxOutcome::Ignored,
                    None,
                    format!("not a readable STK callback: {e}"),
                ));
            }
        };
        let what = format!("CheckoutRequestID {}", cb.checkout_request_id);
        let Some(tx) = self
            .store()
            .transaction_by_provider_ref(&cb.checkout_request_id)
            .await?
        else {
            return Ok(not_ours(wire, office, &what));
        };
        let (event, details) = match cb.outcome {
            daraja::callback::StkOutcome::Paid {
                amount, receipt, ..
            } => paid_event(&tx, amount, Source::Callback, Some(receipt), "M-Pesa"),
            daraja::callback::StkOutcome::NotPaid(f) => {
                not_paid_event(f.kind, Source::Callback, Some(f.code), f.message)
            }
        };
        Ok(Decision::Act(InboxAction::Apply {
            key: TxKey::Id(tx.id),
            event,
            details,
        }))
    }

    async fn charge_success(&self, wire: &api::Event, office: &OfficeCode) -> Result<Decision> {
        let reference = match paystack::parse_event(wire.body.as_bytes()) {
            Ok(WebhookEvent::ChargeSuccess(t)) => t.reference,
            Ok(_) | Err(_) => {
                return Ok(record(
                    InboxOutcome::Ignored,
                    None,
                    "not a readable charge.success webhook",
                ));
            }
        };
        let what = format!("Paystack reference {reference}");
        let tx = match self
            .store()
            .transaction(&TxKey::Reference(reference.clone()))
            .await
        {
            Ok(tx) => tx,
            Err(StoreError::NotFound(_)) => return Ok(not_ours(wire, office, &what)),
            Err(e) => return Err(e.into()),
        };
        // The webhook is only a hint: what counts is what Paystack says when asked.
        let providers = self.providers();
        let Ok(client) = providers.paystack() else {
            return Ok(record(
                InboxOutcome::Ignored,
                Some(tx.id),
                format!(
                    "Paystack is not configured here, so the webhook could not be checked; refresh {} once it is",
                    tx.number
                ),
            ));
        };
        let verified = match client.verify(&reference).await {
            Ok(v) => v,
            Err(e) => return Ok(Decision::Later(e.into())),
        };
        let (event, details) = self.card_event(&tx, &verified).await?;
        Ok(Decision::Act(InboxAction::Apply {
            key: TxKey::Id(tx.id),
            event,
            details,
        }))
    }

    async fn paystack_refund(&self, wire: &api::Event, office: &OfficeCode) -> Result<Decision> {
        let Ok(WebhookEvent::Refund(ev)) = paystack::parse_event(wire.body.as_bytes()) else {
            return Ok(record(
                InboxOutcome::Ignored,
                None,
                "not a readable refund webhook",
            ));
        };
        let what = format!(
            "a refund of Paystack reference {}",
            ev.transaction_reference
        );
        match self
            .store()
            .transaction(&TxKey::Reference(ev.transaction_reference.clone()))
            .await
        {
            Ok(_) => {}
            Err(StoreError::NotFound(_)) => return Ok(not_ours(wire, office, &what)),
            Err(e) => return Err(e.into()),
        }
        let Some(event) = crate::refunds::paystack_refund_event(&ev.status) else {
            return Ok(record(
                InboxOutcome::Ignored,
                None,
                format!("refund status {} changes nothing", ev.status),
            ));
        };
        Ok(Decision::Act(InboxAction::Refund {
            provider_ref: None,
            payment_reference: Some(ev.transaction_reference),
            amount: Some(ev.amount),
            event,
            details: RefundDetails::default(),
        }))
    }

    async fn reversal_result(&self, wire: &api::Event) -> Result<Decision> {
        let Ok(r) = daraja::parse_reversal_result(wire.body.as_bytes()) else {
            return Ok(record(
                InboxOutcome::Ignored,
                None,
                "not a readable reversal result",
            ));
        };
        let (event, failure_reason) = if r.succeeded {
            (RefundEvent::Processed, None)
        } else {
            (
                RefundEvent::Failed,
                Some(format!(
                    "M-Pesa did not reverse it: {} (ResultCode {})",
                    r.description, r.code
                )),
            )
        };
        let known = self
            .store()
            .refund_by_provider_ref(&r.conversation_id)
            .await?;
        let provider_ref = match known {
            Some(_) => r.conversation_id,
            None => r.originator_conversation_id,
        };
        Ok(Decision::Act(InboxAction::Refund {
            provider_ref: Some(provider_ref),
            payment_reference: None,
            amount: None,
            event,
            details: RefundDetails {
                provider_ref: None,
                failure_reason,
            },
        }))
    }
}
