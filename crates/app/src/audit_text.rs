//! The audit log in sentences, as a manager reads it ("halima approved a refund of KES 500.00
//! on HQ-1-000004: paid one month twice"). The entry itself (before and after as JSON) is kept
//! unchanged beside it; an action this module does not know is still said plainly.

use serde_json::Value;

use malipo_domain::{Currency, Money};
use malipo_store::AuditEntry;

/// `amount_minor` and `currency` of a JSON snapshot as money (`KES 1,500.00`).
fn money(v: &Value, field: &str) -> Option<String> {
    let minor = v.get(field)?.as_i64()?;
    let currency = Currency::from_code(v.get("currency")?.as_str()?).ok()?;
    Money::from_minor(minor, currency)
        .ok()
        .map(|m| m.to_string())
}

fn text<'a>(v: &'a Value, field: &str) -> Option<&'a str> {
    v.get(field)?.as_str().filter(|s| !s.is_empty())
}

/// `: why` when there is a why.
fn because(why: Option<&str>) -> String {
    why.map(|w| format!(": {w}")).unwrap_or_default()
}

/// How a payment's status reads in a sentence.
fn payment_status(status: &str) -> &str {
    match status {
        "succeeded" => "paid",
        "awaiting_customer" => "waiting for the customer",
        "needs_review" => "needing review",
        "timed_out" => "timed out",
        "partially_refunded" => "partly refunded",
        other => other,
    }
}

/// The entry as one sentence.
pub fn sentence(e: &AuditEntry) -> String {
    let who = e.actor.as_str();
    let id = e.entity_id.as_str();
    let null = Value::Null;
    let after = e.after.as_ref().unwrap_or(&null);
    let before = e.before.as_ref().unwrap_or(&null);
    match e.action.as_str() {
        "transaction.create" => format!(
            "{who} started payment {id} of {}",
            money(after, "amount_minor").unwrap_or_else(|| "an amount".into())
        ),
        "transaction.status" => {
            let to = text(after, "status").unwrap_or("?");
            let receipt = text(after, "receipt_number")
                .filter(|r| text(before, "receipt_number") != Some(*r))
                .map(|r| format!(", receipt {r}"))
                .unwrap_or_default();
            let code = text(after, "provider_receipt")
                .map(|c| format!(" (code {c})"))
                .unwrap_or_default();
            format!(
                "{who} recorded payment {id} of {} as {}{code}{receipt}",
                money(after, "amount_minor").unwrap_or_default(),
                payment_status(to),
            )
        }
        "transaction.details" => format!("{who} added the provider's details to payment {id}"),
        "receipt.print" => format!(
            "{who} {} the receipt of payment {id}{}",
            if after.get("format").is_some() {
                "saved"
            } else {
                "printed"
            },
            if after.get("copy").and_then(Value::as_bool) == Some(true) {
                " (a copy)"
            } else {
                " (the original)"
            }
        ),
        "refund.request" => format!(
            "{who} asked for a refund of {} on {}{}",
            money(after, "amount_minor").unwrap_or_default(),
            text(after, "transaction").unwrap_or("a payment"),
            because(text(after, "reason"))
        ),
        "refund.status" => {
            let amount = money(after, "amount_minor").unwrap_or_default();
            let on = text(after, "transaction").unwrap_or("a payment");
            match text(after, "status").unwrap_or("") {
                "approved" | "processing" if text(before, "status") == Some("requested") => {
                    format!(
                        "{who} approved a refund of {amount} on {on}{}",
                        because(text(after, "reason"))
                    )
                }
                "rejected" => format!(
                    "{who} rejected a refund of {amount} on {on}{}",
                    because(text(after, "decision_note"))
                ),
                "processed" => format!("The refund of {amount} on {on} went back to the customer"),
                "failed" => format!(
                    "The refund of {amount} on {on} failed{}",
                    because(text(after, "failure_reason"))
                ),
                other => format!("The refund of {amount} on {on} is {other}"),
            }
        }
        "policy.add" => format!(
            "{who} added policy {id} for {} ({} {})",
            text(after, "holder").unwrap_or("a holder"),
            money(after, "premium_minor").unwrap_or_default(),
            text(after, "frequency").unwrap_or("")
        ),
        "policy.update" => {
            let changed: Vec<&str> = after
                .as_object()
                .map(|a| {
                    a.iter()
                        .filter(|(k, v)| before.get(k.as_str()) != Some(*v))
                        .map(|(k, _)| match k.as_str() {
                            "premium_minor" => "premium",
                            "start_date" => "first due date",
                            "holder" => "holder's name",
                            other => other,
                        })
                        .collect()
                })
                .unwrap_or_default();
            if changed.is_empty() {
                format!("{who} updated policy {id}")
            } else {
                format!("{who} changed policy {id}: {}", changed.join(", "))
            }
        }
        "policy.messages" => match after.get("opted_out").and_then(Value::as_bool) {
            Some(true) => format!("{who} noted that the holder of {id} wants no messages"),
            Some(false) => format!("{who} noted that the holder of {id} takes messages again"),
            None => format!(
                "{who} set the messages of {id} to {}",
                match text(after, "language") {
                    Some("sw") => "Kiswahili",
                    _ => "English",
                }
            ),
        },
        "setting.set" => format!(
            "{who} set {id} to {}",
            after
                .as_str()
                .map_or_else(|| after.to_string(), |v| format!("“{v}”"))
        ),
        "secret.store" => format!("{who} kept the secret {id} in the OS credential store"),
        "secret.remove" => format!("{who} removed the secret {id}"),
        "user.add" => format!(
            "{who} added {} as {}",
            text(after, "username").unwrap_or(id),
            text(after, "role").unwrap_or("a user")
        ),
        "orphan.resolve" => format!(
            "{who} resolved provider event {id}{}",
            because(text(after, "resolution"))
        ),
        "suspense.decide" => match text(after, "policy") {
            Some(policy) => format!(
                "{who} allocated paybill payment {id} to {policy}{}",
                because(text(after, "note"))
            ),
            None => format!(
                "{who} marked paybill payment {id} for refund{}",
                because(text(after, "note"))
            ),
        },
        "message.resend" => format!("{who} sent customer message {id} again"),
        "mpesa_statement.import" => format!(
            "{who} imported an M-Pesa statement ({}): {} rows, {} matched, {} recovered, {} refused",
            text(after, "period").unwrap_or("period not given"),
            after.get("rows").unwrap_or(&null),
            after.get("matched").unwrap_or(&null),
            after.get("recovered").unwrap_or(&null),
            after.get("refused").unwrap_or(&null),
        ),
        "cash.close" => format!(
            "{who} closed the cash of {id}: {} counted against {} expected",
            money(after, "counted_minor").unwrap_or_default(),
            money(after, "expected_minor").unwrap_or_default()
        ),
        "cash.sign_off" => format!(
            "{who} signed off the cash of {id}{}",
            because(text(after, "sign_off_note"))
        ),
        "cash.deposit" => format!(
            "{who} recorded a deposit of {} at the bank (reference {})",
            money(after, "amount_minor").unwrap_or_default(),
            text(after, "bank_ref").unwrap_or("?")
        ),
        "cheque.bank" => format!(
            "{who} took cheque {} of payment {id} to the bank",
            text(after, "number").unwrap_or("?")
        ),
        "cheque.clear" => format!(
            "{who} recorded that the bank paid cheque {} of payment {id}",
            text(after, "number").unwrap_or("?")
        ),
        "cheque.bounce" => format!(
            "{who} recorded that the bank returned cheque {} of payment {id} unpaid{}: the payment is reversed",
            text(after, "number").unwrap_or("?"),
            because(text(after, "bounce_reason"))
        ),
        "collection.set" => format!(
            "{who} set policy {id} to be collected by {} ({} consent: {})",
            match text(after, "kind") {
                Some("card") => format!(
                    "its card ending {}",
                    text(after, "card_last4").unwrap_or("?")
                ),
                Some("mpesa_prompt") => "an M-Pesa prompt on each due date".to_owned(),
                Some("ratiba") => "an M-Pesa Ratiba standing order".to_owned(),
                other => other.unwrap_or("?").to_owned(),
            },
            text(after, "consent_how").unwrap_or("?").replace('_', " "),
            text(after, "consent_text").unwrap_or("?")
        ),
        "collection.stop" => {
            format!("{who} stopped the automatic collection of policy {id}: reminders only")
        }
        "policy.reinstate" => format!(
            "{who} reinstated lapsed policy {id}{}",
            text(after, "note")
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        ),
        "standing_order.ask" => format!(
            "{who} asked M-Pesa for standing order {:?} on policy {id}: {} {} from {} to {}",
            text(after, "name").unwrap_or("?"),
            text(after, "amount").unwrap_or("?"),
            text(after, "frequency").unwrap_or("?"),
            text(after, "start").unwrap_or("?"),
            text(after, "end").unwrap_or("?")
        ),
        "standing_order.created" => format!(
            "M-Pesa created standing order {:?} on policy {id} (told to {who})",
            text(after, "name").unwrap_or("?")
        ),
        "standing_order.failed" => format!(
            "M-Pesa did not create standing order {:?} on policy {id}: {} (told to {who})",
            text(after, "name").unwrap_or("?"),
            text(after, "result_desc").unwrap_or("?")
        ),
        "standing_order.stopped" => format!(
            "{who} stopped counting on standing order {:?} of policy {id} (the holder cancels it on their phone)",
            text(after, "name").unwrap_or("?")
        ),
        "update.install" => format!(
            "{who} installed version {} over {}",
            text(after, "to").unwrap_or("?"),
            text(after, "from").unwrap_or("?")
        ),
        other => format!(
            "{who}: {} ({} {id})",
            other.replace(['.', '_'], " "),
            e.entity
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(
        actor: &str,
        action: &str,
        id: &str,
        before: Option<Value>,
        after: Value,
    ) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: time::OffsetDateTime::UNIX_EPOCH,
            actor: actor.into(),
            action: action.into(),
            entity: action.split('.').next().unwrap().into(),
            entity_id: id.into(),
            before,
            after: Some(after),
        }
    }

    #[test]
    fn entries_read_as_sentences() {
        let refund = |status: &str| {
            json!({"transaction": "HQ-1-000004", "reason": "policy cancelled", "status": status,
                   "amount_minor": 500_000, "currency": "KES", "decision_note": "duplicate"})
        };
        let approved = entry(
            "baraka",
            "refund.status",
            "7",
            Some(refund("requested")),
            refund("processing"),
        );
        assert_eq!(
            sentence(&approved),
            "baraka approved a refund of KES 5,000.00 on HQ-1-000004: policy cancelled"
        );
        let rejected = entry(
            "baraka",
            "refund.status",
            "7",
            Some(refund("requested")),
            refund("rejected"),
        );
        assert_eq!(
            sentence(&rejected),
            "baraka rejected a refund of KES 5,000.00 on HQ-1-000004: duplicate"
        );
        let paid = entry(
            "sync",
            "transaction.status",
            "HQ-1-000004",
            Some(json!({"status": "awaiting_customer", "receipt_number": null})),
            json!({"status": "succeeded", "amount_minor": 150_000, "currency": "KES",
                   "provider_receipt": "SGR7Q2K3LM", "receipt_number": "HQ-1-R000004"}),
        );
        assert_eq!(
            sentence(&paid),
            "sync recorded payment HQ-1-000004 of KES 1,500.00 as paid (code SGR7Q2K3LM), receipt HQ-1-R000004"
        );
        let changed = entry(
            "wanjiku",
            "policy.update",
            "POL-7",
            Some(json!({"holder": "Amina", "premium_minor": 150_000})),
            json!({"holder": "Amina", "premium_minor": 200_000}),
        );
        assert_eq!(sentence(&changed), "wanjiku changed policy POL-7: premium");
        let set = entry(
            "wanjiku",
            "setting.set",
            "office.name",
            None,
            json!("Demo Insurance"),
        );
        assert_eq!(
            sentence(&set),
            "wanjiku set office.name to “Demo Insurance”"
        );
        let unknown = entry("x", "widget.turn", "3", None, json!({}));
        assert_eq!(sentence(&unknown), "x: widget turn (widget 3)");
    }
}
