//! What a provider's answer means for a payment: the one mapping from "the provider says" to a
//! payment event, whichever way it was heard (a relay event in sync, a query or a verification
//! asked at the counter).

use malipo_domain::{FailureKind, Money, Source, TxEvent};
use malipo_providers::daraja::QueryResult;
use malipo_store::{ProviderDetails, TransactionRecord};

/// What "the provider says the customer paid `paid`" means for payment `tx`, whoever says it
/// (a callback, a query, a verification): paid as asked, or paid another amount, which a
/// manager must review. The one mapping for every method and every way of hearing it.
pub fn paid_event(
    tx: &TransactionRecord,
    paid: Money,
    source: Source,
    provider_receipt: Option<String>,
    provider: &str,
) -> (TxEvent, ProviderDetails) {
    let details = ProviderDetails {
        provider_receipt,
        failure_reason: (paid != tx.amount).then(|| {
            format!(
                "{provider} took {paid} but {} was asked; a manager must review it",
                tx.amount
            )
        }),
        ..ProviderDetails::default()
    };
    (TxEvent::Paid { paid, source }, details)
}

/// What "the provider says it did not go through" means, with its code and a clerk's message.
pub fn not_paid_event(
    kind: FailureKind,
    source: Source,
    code: Option<String>,
    message: String,
) -> (TxEvent, ProviderDetails) {
    (
        TxEvent::NotPaid { kind, source },
        ProviderDetails {
            failure_code: code,
            failure_reason: Some(message),
            ..ProviderDetails::default()
        },
    )
}

/// What Safaricom's answer to an STK query, asked by this office, means for M-Pesa payment `tx`.
pub fn query_event(tx: &TransactionRecord, answer: QueryResult) -> (TxEvent, ProviderDetails) {
    match answer {
        QueryResult::Pending => (TxEvent::StillPending, ProviderDetails::default()),
        QueryResult::Paid => paid_event(tx, tx.amount, Source::Query, None, "M-Pesa"),
        QueryResult::NotPaid(f) => not_paid_event(f.kind, Source::Query, Some(f.code), f.message),
    }
}
