//! Refunds: a clerk asks, a manager approves (which sends it to the provider: a Paystack
//! refund for cards, an M-Pesa reversal for M-Pesa; cash is handed back from the drawer of the
//! clerk who asked, and is done at once) or rejects, and the refund is followed to
//! its final state through the providers' events (via sync) or, for cards, by asking.
//!
//! A refund can never take a payment's refunds past what was paid; partial refunds are allowed.

use serde::Serialize;

use malipo_domain::refund::{RefundEvent, RefundStatus};
use malipo_domain::{Action, Method, Money};
use malipo_providers::daraja::{DarajaError, MpesaAmount};
use malipo_providers::paystack::{CardRefund, PaystackError};
use malipo_store::{RefundDetails, RefundRecord, SendClaim, TransactionRecord, TxKey};

use crate::settings::table;
use crate::views::rfc3339;
use crate::{Actor, App, Error, Result};

/// A refund as clerks and managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RefundView {
    pub id: i64,
    /// The payment's number.
    pub transaction: String,
    /// The policy the payment was for, and its holder: who the money goes back to.
    pub policy: String,
    pub holder: String,
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
    /// A rejection's reason, or how an approval by its requester was allowed.
    pub decision_note: Option<String>,
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
            policy: r.policy_number.clone(),
            holder: r.holder.clone(),
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
            decision_note: r.decision_note.clone(),
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

    /// A manager rejects a requested refund, saying why (the reason stays on the refund and
    /// in the audit log).
    pub async fn reject_refund(&self, actor: &Actor, id: i64, reason: &str) -> Result<RefundView> {
        actor.require(Action::ApproveRefund)?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::invalid(
                "reason",
                "say why the refund is rejected (the clerk who asked sees it)",
            ));
        }
        if reason.chars().count() > 500 {
            return Err(Error::invalid("reason", "at most 500 characters"));
        }
        let office = self.desk().await?;
        let (record, _, _) = self
            .store()
            .refund_event(
                actor.name(),
                id,
                &office,
                RefundEvent::Reject,
                &RefundDetails {
                    decision_note: Some(reason.to_owned()),
                    ..RefundDetails::default()
                },
                self.now(),
            )
            .await?;
        Ok(RefundView::from(&record))
    }

    /// A manager approves a requested refund, which sends it to the provider. The person who
    /// asked for it may not approve it, unless the office allows that (a one-person office,
    /// [`table::REFUND_SELF_APPROVAL.key`]), and then the approval says so. When the provider cannot
    /// be reached the refund stays approved and approving it again retries.
    pub async fn approve_refund(&self, actor: &Actor, id: i64) -> Result<RefundView> {
        actor.require(Action::ApproveRefund)?;
        let office = self.desk().await?;
        let refund = self.store().refund(id).await?;
        match refund.status {
            RefundStatus::Requested => {
                let mut details = RefundDetails::default();
                if refund.requested_by == actor.name() {
                    if !self.self_approval().await? {
                        return Err(Error::Forbidden(format!(
                            "you asked for refund {id} yourself: another manager must approve it (a one-person office can allow this in Settings)"
                        )));
                    }
                    details.decision_note = Some(format!(
                        "approved by {}, who asked for it (one-person office)",
                        actor.name()
                    ));
                }
                self.store()
                    .refund_event(
                        actor.name(),
                        id,
                        &office,
                        RefundEvent::Approve,
                        &details,
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
        // Only one approval ever hands a refund to the provider; an approval that finds it was
        // handed over before looks it up at the provider instead of sending it again.
        let (event, details) = match self.store().claim_refund_send(id, self.now()).await? {
            SendClaim::Mine => self.send_refund(&refund, &payment).await?,
            SendClaim::SentBefore(at) => self.look_up_refund(&refund, &payment, at).await?,
        };
        let (record, _, _) = self
            .store()
            .refund_event(actor.name(), id, &office, event, &details, self.now())
            .await?;
        Ok(RefundView::from(&record))
    }

    /// Sends an approved refund: a Paystack refund, or an M-Pesa reversal. An answer that
    /// never came leaves it approved and sent (never sent again blindly); a request that
    /// certainly did not arrive gives the claim back, so approving again retries.
    async fn send_refund(
        &self,
        refund: &RefundRecord,
        payment: &TransactionRecord,
    ) -> Result<(RefundEvent, RefundDetails)> {
        let id = refund.id;
        let providers = self.providers();
        match payment.method {
            Method::Card => {
                let client = match providers.paystack() {
                    Ok(c) => c,
                    Err(e) => {
                        self.store().release_refund_send(id).await?;
                        return Err(e);
                    }
                };
                let send = client.refund(&payment.reference, Some(refund.amount), &refund.reason);
                match self
                    .provider_call("paystack.refund", format!("refund {id}"), send)
                    .await
                {
                    Ok(r) => Ok(paystack_refund_answer(&r)),
                    Err(PaystackError::Rejected(why) | PaystackError::NotFound(why)) => Ok((
                        RefundEvent::Failed,
                        RefundDetails {
                            provider_ref: None,
                            failure_reason: Some(format!("Paystack refused the refund: {why}")),
                            decision_note: None,
                        },
                    )),
                    Err(e @ (PaystackError::Invalid(_) | PaystackError::Unauthorized(_))) => {
                        self.store().release_refund_send(id).await?;
                        Err(e.into())
                    }
                    Err(e) => Err(unanswered(id, &e.to_string())),
                }
            }
            // Cash goes back across the counter from the drawer of the clerk who asked: the
            // approval is the paying out, so it is processed at once, unless that drawer is
            // closed for the day.
            Method::Cash => match self.cash_refund_drawer(refund).await {
                Ok(()) => Ok((RefundEvent::Processed, RefundDetails::default())),
                Err(e) => {
                    self.store().release_refund_send(id).await?;
                    Err(e)
                }
            },
            // The office pays a cheque or a bank deposit back itself (its own cheque or
            // transfer): recorded as done when approved, and only for money the bank holds.
            Method::Cheque | Method::Bank => match payment.cheque.as_ref().map(|c| c.2.as_str()) {
                Some(state) if state != "cleared" => {
                    self.store().release_refund_send(id).await?;
                    Err(Error::Conflict(format!(
                        "the cheque that paid {} is {state}, not cleared: nothing can go back before the bank has paid it",
                        payment.number
                    )))
                }
                _ => Ok((
                    RefundEvent::Processed,
                    RefundDetails {
                        decision_note: Some(
                            "paid back by the office (cheque or bank transfer)".to_owned(),
                        ),
                        ..RefundDetails::default()
                    },
                )),
            },
            Method::Mpesa | Method::Paybill => {
                let Some(receipt) = payment.provider_receipt.clone() else {
                    self.store().release_refund_send(id).await?;
                    return Err(Error::Conflict(format!(
                        "no M-Pesa receipt number is known for {} (its success came from a query, not Safaricom's callback), so it cannot be reversed from here; reverse it on the M-Pesa portal",
                        payment.number
                    )));
                };
                let client = match providers.daraja() {
                    Ok(c) => c,
                    Err(e) => {
                        self.store().release_refund_send(id).await?;
                        return Err(e);
                    }
                };
                let send = async {
                    let amount = MpesaAmount::new(refund.amount)?;
                    client.reverse(&receipt, amount, &refund.reason).await
                };
                match self
                    .provider_call("mpesa.reversal", format!("refund {id}"), send)
                    .await
                {
                    Ok(accepted) => Ok((
                        RefundEvent::Submitted,
                        RefundDetails {
                            provider_ref: Some(accepted.conversation_id),
                            failure_reason: None,
                            decision_note: None,
                        },
                    )),
                    Err(DarajaError::BadRequest { message, .. }) => Ok((
                        RefundEvent::Failed,
                        RefundDetails {
                            provider_ref: None,
                            failure_reason: Some(format!("M-Pesa refused the reversal: {message}")),
                            decision_note: None,
                        },
                    )),
                    Err(e) if e.safe_to_retry() => {
                        self.store().release_refund_send(id).await?;
                        Err(e.into())
                    }
                    Err(e) => Err(unanswered(id, &e.to_string())),
                }
            }
        }
    }

    /// A refund handed to the provider before, whose answer was lost: Paystack's refunds of the
    /// payment are looked through (one of this amount that no other refund here holds is this
    /// one; none means it never arrived, and it is sent now). M-Pesa has no list of reversals:
    /// its result comes back through the relay, so nothing is sent again.
    async fn look_up_refund(
        &self,
        refund: &RefundRecord,
        payment: &TransactionRecord,
        sent_at: time::OffsetDateTime,
    ) -> Result<(RefundEvent, RefundDetails)> {
        let id = refund.id;
        if self.now() - sent_at < SEND_IN_FLIGHT {
            return Err(Error::Conflict(format!(
                "refund {id} is being sent to the provider (since {}); look again in a minute",
                crate::views::rfc3339(sent_at)
            )));
        }
        match payment.method {
            Method::Card => {
                let providers = self.providers();
                let found = providers
                    .paystack()?
                    .refund_list(Some(&payment.reference))
                    .await?;
                let held: Vec<String> = self
                    .store()
                    .refunds_of(payment.id)
                    .await?
                    .into_iter()
                    .filter(|r| r.id != id)
                    .filter_map(|r| r.provider_ref)
                    .collect();
                match found
                    .iter()
                    .find(|r| r.amount == refund.amount && !held.contains(&r.id.to_string()))
                {
                    Some(r) => Ok(paystack_refund_answer(r)),
                    // It never arrived: send it now, under a fresh claim.
                    None => {
                        self.store().release_refund_send(id).await?;
                        match self.store().claim_refund_send(id, self.now()).await? {
                            SendClaim::Mine => self.send_refund(refund, payment).await,
                            SendClaim::SentBefore(_) => Err(Error::Conflict(format!(
                                "refund {id} is being sent by another approval; look again in a minute"
                            ))),
                        }
                    }
                }
            }
            // Handed over (or paid back by the office) when it was approved; only its recording
            // was lost.
            Method::Cash | Method::Cheque | Method::Bank => {
                Ok((RefundEvent::Processed, RefundDetails::default()))
            }
            Method::Mpesa | Method::Paybill => Err(Error::Conflict(format!(
                "refund {id} was sent to M-Pesa at {} and no answer came; M-Pesa's result arrives through the relay, so it is not sent again. If none has come within a day, check the reversal on the M-Pesa portal",
                crate::views::rfc3339(sent_at)
            ))),
        }
    }

    /// Refuses a cash refund whose requester's drawer is closed for today: the notes would
    /// come out of a drawer already counted.
    async fn cash_refund_drawer(&self, refund: &RefundRecord) -> Result<()> {
        let Some(user) = self.store().user(&refund.requested_by).await? else {
            return Err(Error::Conflict(format!(
                "refund {} was asked for by {}, who is no longer a user: cash goes back from the drawer of whoever asked, so ask for it again",
                refund.id, refund.requested_by
            )));
        };
        let today = malipo_domain::time_zone::nairobi_date(self.now());
        if self
            .store()
            .drawer_closed(user.id, today, refund.amount.currency())
            .await?
        {
            return Err(Error::Conflict(format!(
                "{}'s cash for {today} is closed: the {} cannot come out of that drawer today; approve it tomorrow",
                refund.requested_by, refund.amount
            )));
        }
        Ok(())
    }

    /// Whether the person who asked for a refund may approve it ([`table::REFUND_SELF_APPROVAL.key`]).
    async fn self_approval(&self) -> Result<bool> {
        Ok(self
            .store()
            .setting(table::REFUND_SELF_APPROVAL.key)
            .await?
            .is_some_and(|v| v == "on"))
    }

    /// Refunds, newest first (only those in `status` when given).
    pub async fn refunds(&self, actor: &Actor, status: Option<&str>) -> Result<Vec<RefundView>> {
        actor.require(Action::Read)?;
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
        let office = self.desk().await?;
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

/// How long after a refund was handed to the provider another approval waits before looking
/// it up (longer than any provider request may take).
const SEND_IN_FLIGHT: time::Duration = time::Duration::minutes(2);

/// The refund event and details a Paystack refund's status means.
fn paystack_refund_answer(r: &CardRefund) -> (RefundEvent, RefundDetails) {
    (
        paystack_refund_event(&r.status).unwrap_or(RefundEvent::Submitted),
        RefundDetails {
            provider_ref: Some(r.id.to_string()),
            failure_reason: None,
            decision_note: None,
        },
    )
}

fn unanswered(id: i64, why: &str) -> Error {
    Error::Unconfirmed {
        subject: format!("refund {id}"),
        cause: why.to_owned(),
        advice: "was sent but no answer came; it is never sent twice: approving it again looks it up at the provider first",
    }
}
