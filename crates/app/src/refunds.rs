//! Refunds: a clerk asks, a manager approves (which sends it to the provider: a Paystack
//! refund for cards, an M-Pesa reversal for M-Pesa) or rejects, and the refund is followed to
//! its final state through the providers' events (via sync) or, for cards, by asking.
//!
//! A refund can never take a payment's refunds past what was paid; partial refunds are allowed.

use serde::Serialize;

use malipo_domain::refund::{RefundEvent, RefundStatus};
use malipo_domain::{Action, Method, Money};
use malipo_providers::daraja::DarajaError;
use malipo_providers::paystack::PaystackError;
use malipo_store::{RefundDetails, RefundRecord, TxKey};

use crate::views::rfc3339;
use crate::{Actor, App, Error, Result};

/// A refund as clerks and managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RefundView {
    pub id: i64,
    /// The payment's number.
    pub transaction: String,
    pub amount: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: String,
    pub status: RefundStatus,
    /// Requested and waiting for a manager to approve or reject it.
    pub awaiting_decision: bool,
    /// Approved but not (known to be) sent to the provider: approving again sends it.
    pub unsent: bool,
    /// Sent or about to be: the provider's answer is still to come.
    pub in_flight: bool,
    pub requested_by: String,
    pub decided_by: Option<String>,
    /// The Paystack refund id, or the M-Pesa reversal's ConversationID.
    pub provider_ref: Option<String>,
    pub failure_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&RefundRecord> for RefundView {
    fn from(r: &RefundRecord) -> Self {
        RefundView {
            id: r.id,
            transaction: r.transaction_number.clone(),
            amount: r.amount.amount_string(),
            amount_minor: r.amount.minor(),
            currency: r.amount.currency().code().to_owned(),
            reason: r.reason.clone(),
            status: r.status,
            awaiting_decision: r.status == RefundStatus::Requested,
            unsent: r.status == RefundStatus::Approved,
            in_flight: matches!(r.status, RefundStatus::Approved | RefundStatus::Processing),
            requested_by: r.requested_by.clone(),
            decided_by: r.decided_by.clone(),
            provider_ref: r.provider_ref.clone(),
            failure_reason: r.failure_reason.clone(),
            created_at: rfc3339(r.created_at),
            updated_at: rfc3339(r.updated_at),
        }
    }
}

/// The refund event a Paystack refund status means (`None`: nothing new to record).
pub(crate) fn paystack_refund_event(status: &str) -> Option<RefundEvent> {
    match status {
        "processed" => Some(RefundEvent::Processed),
        "failed" => Some(RefundEvent::Failed),
        "pending" | "processing" | "needs-attention" => Some(RefundEvent::Submitted),
        _ => None,
    }
}

impl App {
    /// A clerk asks for `amount` of payment `key` back, saying why.
    pub async fn request_refund(
        &self,
        actor: &Actor,
        key: &str,
        amount: &str,
        reason: &str,
    ) -> Result<RefundView> {
        actor.require(Action::RequestRefund)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::invalid(
                "reason",
                "say why the money goes back (it is shown to the manager and kept in the audit log)",
            ));
        }
        let payment = self.store().transaction(&TxKey::parse(key)).await?;
        let amount = Money::parse(amount, payment.amount.currency())
            .map_err(|e| Error::invalid("amount", e))?;
        if amount.is_zero() {
            return Err(Error::invalid("amount", "a refund must be more than zero"));
        }
        let record = self
            .store()
            .request_refund(
                actor.name(),
                &TxKey::Id(payment.id),
                amount,
                reason,
                self.now(),
            )
            .await?;
        Ok(RefundView::from(&record))
    }

    /// A manager rejects a requested refund.
    pub async fn reject_refund(&self, actor: &Actor, id: i64) -> Result<RefundView> {
        actor.require(Action::ApproveRefund)?;
        let office = self.office_code().await?;
        let (record, _, _) = self
            .store()
            .refund_event(
                actor.name(),
                id,
                &office,
                RefundEvent::Reject,
                &RefundDetails::default(),
                self.now(),
            )
            .await?;
        Ok(RefundView::from(&record))
    }

    /// A manager approves a requested refund, which sends it to the provider. When the
    /// provider cannot be reached the refund stays approved and approving it again retries.
    pub async fn approve_refund(&self, actor: &Actor, id: i64) -> Result<RefundView> {
        actor.require(Action::ApproveRefund)?;
        let office = self.office_code().await?;
        let refund = self.store().refund(id).await?;
        match refund.status {
            RefundStatus::Requested => {
                self.store()
                    .refund_event(
                        actor.name(),
                        id,
                        &office,
                        RefundEvent::Approve,
                        &RefundDetails::default(),
                        self.now(),
                    )
                    .await?;
            }
            RefundStatus::Approved => {}
            other => {
                return Err(Error::Conflict(format!(
                    "refund {id} is {other}; only a requested refund can be approved"
                )));
            }
        }
        let payment = self
            .store()
            .transaction(&TxKey::Id(refund.transaction_id))
            .await?;
        let (event, details) = match payment.method {
            Method::Card => {
                let providers = self.providers();
                match providers
                    .paystack()?
                    .refund(&payment.reference, Some(refund.amount), &refund.reason)
                    .await
                {
                    Ok(r) => (
                        paystack_refund_event(&r.status).unwrap_or(RefundEvent::Submitted),
                        RefundDetails {
                            provider_ref: Some(r.id.to_string()),
                            failure_reason: None,
                        },
                    ),
                    Err(PaystackError::Rejected(why) | PaystackError::NotFound(why)) => (
                        RefundEvent::Failed,
                        RefundDetails {
                            provider_ref: None,
                            failure_reason: Some(format!("Paystack refused the refund: {why}")),
                        },
                    ),
                    Err(e) => return Err(not_sent(id, &e.to_string())),
                }
            }
            Method::Mpesa => {
                let Some(receipt) = payment.provider_receipt.clone() else {
                    return Err(Error::Conflict(format!(
                        "no M-Pesa receipt number is known for {} (its success came from a query, not Safaricom's callback), so it cannot be reversed from here; reverse it on the M-Pesa portal",
                        payment.number
                    )));
                };
                let providers = self.providers();
                match providers
                    .daraja()?
                    .reverse(&receipt, refund.amount, &refund.reason)
                    .await
                {
                    Ok(accepted) => (
                        RefundEvent::Submitted,
                        RefundDetails {
                            provider_ref: Some(accepted.conversation_id),
                            failure_reason: None,
                        },
                    ),
                    Err(DarajaError::BadRequest { message, .. }) => (
                        RefundEvent::Failed,
                        RefundDetails {
                            provider_ref: None,
                            failure_reason: Some(format!("M-Pesa refused the reversal: {message}")),
                        },
                    ),
                    Err(e @ DarajaError::Invalid(_)) => return Err(e.into()),
                    Err(e) => return Err(not_sent(id, &e.to_string())),
                }
            }
        };
        let (record, _, _) = self
            .store()
            .refund_event(actor.name(), id, &office, event, &details, self.now())
            .await?;
        Ok(RefundView::from(&record))
    }

    /// Refunds, newest first (only those in `status` when given).
    pub async fn refunds(&self, status: Option<&str>) -> Result<Vec<RefundView>> {
        let status = status
            .map(|s| s.parse::<RefundStatus>())
            .transpose()
            .map_err(|e| Error::invalid("status", e))?;
        Ok(self
            .store()
            .refunds(status, 500)
            .await?
            .iter()
            .map(RefundView::from)
            .collect())
    }

    /// Asks Paystack about card refunds still processing; returns how many were asked.
    pub(crate) async fn follow_card_refunds(&self) -> Result<u64> {
        let providers = self.providers();
        let Ok(client) = providers.paystack() else {
            return Ok(0);
        };
        let office = self.office_code().await?;
        let mut asked = 0;
        for refund in self
            .store()
            .refunds(Some(RefundStatus::Processing), 100)
            .await?
        {
            let payment = self
                .store()
                .transaction(&TxKey::Id(refund.transaction_id))
                .await?;
            let Some(id) = refund
                .provider_ref
                .as_deref()
                .and_then(|r| r.parse::<u64>().ok())
                .filter(|_| payment.method == Method::Card)
            else {
                continue;
            };
            asked += 1;
            let Ok(r) = client.refund_fetch(id).await else {
                continue;
            };
            if let Some(event) = paystack_refund_event(&r.status) {
                self.store()
                    .refund_event(
                        Actor::Sync.name(),
                        refund.id,
                        &office,
                        event,
                        &RefundDetails::default(),
                        self.now(),
                    )
                    .await?;
            }
        }
        Ok(asked)
    }
}

fn not_sent(id: i64, why: &str) -> Error {
    Error::Unconfirmed {
        subject: format!("refund {id}"),
        cause: why.to_owned(),
        advice: "is approved but was not sent; approve it again to retry",
    }
}
