//! What each provider event pulled from the relay means for this office: a payment moved, a
//! refund moved, or an event only recorded (another office's, an orphan for a manager, a claim
//! the provider did not confirm, one held until the provider can be asked, or one with nothing
//! to act on). A callback or webhook is a claim, never proof: deciding asks the provider (an STK
//! Push Query, a Paystack verify) and the provider's answer is what moves money. Recording the
//! decision is the store's, in one write transaction with the change it causes.

use malipo_domain::refund::RefundEvent;
use malipo_domain::{Desk, Method, Source, TxEvent, TxStatus};
use malipo_providers::daraja::{self, DarajaError, QueryResult, StkOutcome};
use malipo_providers::paystack::{self, PaystackError, WebhookEvent};
use malipo_relay_api as api;
use malipo_store::{
    InboxAction, InboxOutcome, ProviderDetails, RefundDetails, StoreError, TransactionRecord, TxKey,
};

use crate::App;
use crate::error::Result;
use crate::outcome::{not_paid_event, paid_event};

/// What a provider event means here: what to do with it, in one write with recording it.
type Decision = InboxAction;

/// The event waits for a provider's answer this round could not get (why): it is held and
/// decided again next round, and the events after it go on.
pub(super) fn held(why: String) -> Decision {
    InboxAction::Record {
        outcome: InboxOutcome::Held,
        transaction_id: None,
        note: why,
    }
}

/// Moves payment `tx`; with `review`, the event is also kept for a manager.
pub(super) fn apply(
    tx: &TransactionRecord,
    (event, details): (TxEvent, ProviderDetails),
    review: Option<String>,
) -> Decision {
    InboxAction::Apply {
        key: TxKey::Id(tx.id),
        event,
        details,
        review,
    }
}

/// What an STK callback claims about the payment it names.
enum Claim {
    /// Paid, the amount and the phone as asked, with this M-Pesa receipt number.
    PaidAsAsked { receipt: String },
    /// Paid, but not as asked (why).
    PaidOtherwise(String),
    /// Not paid (why).
    NotPaid(String),
}

impl Claim {
    fn of(outcome: &StkOutcome, tx: &TransactionRecord) -> Claim {
        match outcome {
            StkOutcome::Paid {
                amount,
                receipt,
                phone,
                ..
            } => {
                if *amount != tx.amount {
                    Claim::PaidOtherwise(format!(
                        "claims {amount} paid where {} was asked",
                        tx.amount
                    ))
                } else if !phone_matches(phone.as_deref(), tx.phone.as_deref()) {
                    Claim::PaidOtherwise(format!(
                        "claims payment from {}, not the phone prompted",
                        malipo_domain::phone::masked(phone.as_deref().unwrap_or_default())
                    ))
                } else {
                    Claim::PaidAsAsked {
                        receipt: receipt.clone(),
                    }
                }
            }
            StkOutcome::NotPaid(f) => {
                Claim::NotPaid(format!("claims it was not paid ({})", f.code))
            }
        }
    }
}

/// Whether the phone a callback names is the one prompted. Safaricom may mask digits
/// (`2547******149`); those are not compared. A callback naming no phone cannot contradict.
fn phone_matches(claimed: Option<&str>, asked: Option<&str>) -> bool {
    let (Some(claimed), Some(asked)) = (claimed, asked) else {
        return true;
    };
    claimed.len() == asked.len()
        && claimed
            .chars()
            .zip(asked.chars())
            .all(|(c, a)| c == '*' || c == a)
}

pub(super) fn record(
    outcome: InboxOutcome,
    transaction_id: Option<i64>,
    note: impl Into<String>,
) -> Decision {
    InboxAction::Record {
        outcome,
        transaction_id,
        note: note.into(),
    }
}

/// An event about no payment of ours: another office's, or an orphan.
/// A Paystack charge or refund in a currency Malipo does not price: nothing is moved (no amount
/// can be compared with what was asked), and a manager looks at it in Review.
fn unpriced(u: &paystack::Unpriced) -> Decision {
    record(
        InboxOutcome::Suspect,
        None,
        format!(
            "Paystack sent {} for reference {} in {} ({} in its smallest unit), a currency this office does not take: nothing was recorded; look at it in the Paystack dashboard",
            u.event, u.reference, u.currency, u.amount_minor
        ),
    )
}

fn not_ours(wire: &api::Event, office: &Desk, what: &str) -> Decision {
    match &wire.office {
        Some(other) if *other != office.to_string() => record(
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
    pub(super) async fn decide(&self, wire: &api::Event, office: &Desk) -> Result<Decision> {
        match (wire.provider.as_str(), wire.kind.as_str()) {
            ("daraja", "stk_callback") => self.stk_callback(wire, office).await,
            ("paystack", "charge.success") => self.charge_success(wire, office).await,
            ("paystack", kind) if kind.starts_with("refund.") => {
                self.paystack_refund(wire, office).await
            }
            ("africastalking", "sms_delivery") => {
                Ok(match self.delivery_report(&wire.body).await? {
                    Some(note) => record(InboxOutcome::Unchanged, None, note),
                    None => record(
                        InboxOutcome::OtherOffice,
                        None,
                        "a delivery report for a message another office sent",
                    ),
                })
            }
            ("daraja", "c2b_confirmation") => self.c2b_confirmation(wire, office).await,
            ("daraja", "status_result") => Ok(match self.status_answer(wire).await? {
                Some(decision) => decision,
                None => record(
                    InboxOutcome::OtherOffice,
                    None,
                    "a Transaction Status answer to a question another office asked",
                ),
            }),
            // A standing order's result moves no money: its runs arrive as paybill payments.
            ("daraja", "ratiba_result") => {
                let r = match daraja::ratiba::parse_result(wire.body.as_bytes()) {
                    Ok(r) => r,
                    Err(e) => {
                        return Ok(record(
                            InboxOutcome::Ignored,
                            None,
                            format!("not a readable Ratiba result: {e}"),
                        ));
                    }
                };
                Ok(match self.standing_order_result(&r).await? {
                    Some(note) => record(InboxOutcome::Unchanged, None, note),
                    None => not_ours(wire, office, &format!("standing order {}", r.request_ref)),
                })
            }
            // A Transaction Status answer that names no receipt reads like a reversal result.
            ("daraja", "reversal_result") => match self.status_answer(wire).await? {
                Some(decision) => Ok(decision),
                None => self.reversal_result(wire).await,
            },
            (provider, kind) => Ok(record(
                InboxOutcome::Ignored,
                None,
                format!("{provider} {kind} events change no payment"),
            )),
        }
    }

    /// An STK callback is a claim: anyone who learns the callback URL can post one. The payment
    /// moves only on Safaricom's own answer to an STK Push Query for that CheckoutRequestID; the
    /// callback adds the M-Pesa receipt number when its amount and phone are the ones asked. A
    /// claim Safaricom contradicts is kept for a manager; one it cannot answer yet is held.
    async fn stk_callback(&self, wire: &api::Event, office: &Desk) -> Result<Decision> {
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
        if tx.method != Method::Mpesa {
            return Ok(record(
                InboxOutcome::Suspect,
                Some(tx.id),
                format!(
                    "an M-Pesa callback names {}, a {} payment; nothing was changed",
                    tx.number, tx.method
                ),
            ));
        }
        let claim = Claim::of(&cb.outcome, &tx);
        // On a paybill shortcode the same payment also reaches the confirmation URL; when that
        // telling was recorded as a payment of its own (the prompt had ended unpaid), this one
        // must not count it twice.
        if let Claim::PaidAsAsked { receipt } = &claim
            && let Some(other) = self.store().transaction_by_receipt(receipt).await?
            && other.id != tx.id
        {
            return Ok(record(
                InboxOutcome::Unchanged,
                Some(tx.id),
                format!(
                    "M-Pesa code {receipt} is recorded already as {}; {} is left as it is",
                    other.number, tx.number
                ),
            ));
        }
        if tx.status.is_paid() || tx.status == TxStatus::Refunded {
            // Safaricom confirmed this payment already; the callback can only add its receipt.
            let paid = paid_event(&tx, tx.amount, Source::Callback, None, "M-Pesa");
            return Ok(match claim {
                Claim::PaidAsAsked { receipt } => match &tx.provider_receipt {
                    None => {
                        let (event, mut details) = paid;
                        details.provider_receipt = Some(receipt);
                        apply(&tx, (event, details), None)
                    }
                    Some(known) if *known == receipt => record(
                        InboxOutcome::Unchanged,
                        Some(tx.id),
                        "the receipt number was recorded already",
                    ),
                    Some(known) => record(
                        InboxOutcome::Suspect,
                        Some(tx.id),
                        format!(
                            "claims M-Pesa receipt {receipt} for {}, whose receipt is {known}; nothing was changed",
                            tx.number
                        ),
                    ),
                },
                Claim::PaidOtherwise(why) | Claim::NotPaid(why) => record(
                    InboxOutcome::Suspect,
                    Some(tx.id),
                    format!(
                        "{why}, but Safaricom confirmed {} paid; nothing was changed",
                        tx.number
                    ),
                ),
            });
        }
        if !tx.status.is_open() && matches!(claim, Claim::NotPaid(_)) {
            return Ok(record(
                InboxOutcome::Unchanged,
                Some(tx.id),
                "the payment had already ended without being paid",
            ));
        }
        // Open, or ended unpaid and now claimed paid: Safaricom's word decides.
        let providers = self.providers();
        let Ok(client) = providers.daraja() else {
            return Ok(held(
                "M-Pesa is not configured here, so the callback cannot be confirmed".into(),
            ));
        };
        let query = client.stk_query(&cb.checkout_request_id);
        let answer = match self
            .provider_call("mpesa.stk_query", &tx.number, query)
            .await
        {
            Ok(answer) => answer,
            Err(DarajaError::BadRequest { message, .. }) => {
                return Ok(record(
                    InboxOutcome::Suspect,
                    Some(tx.id),
                    format!("Safaricom does not confirm {what} ({message}); nothing was changed"),
                ));
            }
            Err(e) => {
                return Ok(held(format!("Safaricom could not be asked: {e}")));
            }
        };
        Ok(match (answer, claim) {
            (QueryResult::Pending, _) => held(
                "Safaricom is still processing this payment; it is asked again next round".into(),
            ),
            (QueryResult::Paid, Claim::PaidAsAsked { receipt }) => apply(
                &tx,
                paid_event(&tx, tx.amount, Source::Callback, Some(receipt), "M-Pesa"),
                None,
            ),
            (QueryResult::Paid, Claim::PaidOtherwise(why) | Claim::NotPaid(why)) => apply(
                &tx,
                paid_event(&tx, tx.amount, Source::Query, None, "M-Pesa"),
                Some(format!(
                    "{why}; Safaricom says {} was paid as asked, so it is recorded as paid without this callback's receipt number",
                    tx.number
                )),
            ),
            (QueryResult::NotPaid(f), Claim::NotPaid(_)) => apply(
                &tx,
                not_paid_event(f.kind, Source::Callback, Some(f.code), f.message),
                None,
            ),
            (QueryResult::NotPaid(f), Claim::PaidAsAsked { .. } | Claim::PaidOtherwise(_)) => {
                let why = format!(
                    "claims {} was paid, but Safaricom says: {} (ResultCode {}); this callback is not genuine",
                    tx.number, f.message, f.code
                );
                apply(
                    &tx,
                    not_paid_event(f.kind, Source::Query, Some(f.code), f.message),
                    Some(why),
                )
            }
        })
    }

    /// A Paystack `charge.success` is a hint: Paystack's verify by reference decides, comparing
    /// amount and currency. A reference Paystack does not know is kept for a manager; an answer
    /// that could not be had is held and asked again.
    async fn charge_success(&self, wire: &api::Event, office: &Desk) -> Result<Decision> {
        let reference = match paystack::parse_event(wire.body.as_bytes()) {
            Ok(WebhookEvent::ChargeSuccess(t)) => t.reference,
            Ok(WebhookEvent::Unpriced(u)) => return Ok(unpriced(&u)),
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
        let providers = self.providers();
        let Ok(client) = providers.paystack() else {
            return Ok(held(
                "Paystack is not configured here, so the webhook cannot be checked".into(),
            ));
        };
        let verified = match self
            .provider_call("paystack.verify", &tx.number, client.verify(&reference))
            .await
        {
            Ok(v) => v,
            Err(e @ (PaystackError::NotFound(_) | PaystackError::Rejected(_))) => {
                return Ok(record(
                    InboxOutcome::Suspect,
                    Some(tx.id),
                    format!(
                        "Paystack does not confirm {what} ({e}); {} was not changed",
                        tx.number
                    ),
                ));
            }
            Err(e) => return Ok(held(format!("Paystack could not be asked: {e}"))),
        };
        let event = self.card_event(&tx, &verified).await?;
        Ok(apply(&tx, event, None))
    }

    async fn paystack_refund(&self, wire: &api::Event, office: &Desk) -> Result<Decision> {
        let ev = match paystack::parse_event(wire.body.as_bytes()) {
            Ok(WebhookEvent::Refund(ev)) => ev,
            Ok(WebhookEvent::Unpriced(u)) => return Ok(unpriced(&u)),
            _ => {
                return Ok(record(
                    InboxOutcome::Ignored,
                    None,
                    "not a readable refund webhook",
                ));
            }
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
        Ok(InboxAction::Refund {
            provider_ref: None,
            payment_reference: Some(ev.transaction_reference),
            amount: Some(ev.amount),
            event,
            details: RefundDetails::default(),
        })
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
        let store = self.store();
        let by_conversation = store.refund_by_provider_ref(&r.conversation_id).await?;
        let by_originator = store
            .refund_by_provider_ref(&r.originator_conversation_id)
            .await?;
        if by_conversation.is_some() || by_originator.is_some() {
            let provider_ref = if by_conversation.is_some() {
                r.conversation_id
            } else {
                r.originator_conversation_id
            };
            return Ok(InboxAction::Refund {
                provider_ref: Some(provider_ref),
                payment_reference: None,
                amount: None,
                event,
                details: RefundDetails {
                    provider_ref: None,
                    failure_reason,
                    decision_note: None,
                },
            });
        }
        // A reversal whose answer never reached us (so its ConversationID is unknown here): the
        // result names the payment reversed and the amount, which find the approved refund.
        let payment = match &r.original_transaction_id {
            Some(receipt) => self.store().transaction_by_receipt(receipt).await?,
            None => None,
        };
        Ok(InboxAction::Refund {
            provider_ref: Some(r.conversation_id.clone()),
            payment_reference: payment.map(|p| p.reference),
            amount: r.amount,
            event,
            details: RefundDetails {
                provider_ref: Some(r.conversation_id),
                failure_reason,
                decision_note: None,
            },
        })
    }
}
