//! The customer-message templates an administrator may change, with the text Malipo ships.

/// The templates an administrator may change (`malipo settings set template.… TEXT`), each in
/// English (`.en`) and Kiswahili (`.sw`). Placeholders: `{office}`, `{holder}`, `{amount}`,
/// `{policy}`, `{receipt}`, `{code}`, `{balance}`, `{when}`, `{paybill}`.
pub const TEMPLATES: [&str; 8] = [
    "template.receipt_sms",
    "template.receipt_email_subject",
    "template.receipt_email",
    "template.reminder_sms",
    "template.cheque_bounced_sms",
    "template.paybill_route_sms",
    "template.lapse_sms",
    "template.card_gone_sms",
];

/// What the Settings screen calls template `name`.
pub fn template_label(name: &str) -> &'static str {
    match name {
        "template.receipt_sms" => "SMS receipt",
        "template.receipt_email_subject" => "E-mail receipt: subject",
        "template.receipt_email" => "E-mail receipt",
        "template.reminder_sms" => "SMS reminder",
        "template.cheque_bounced_sms" => "SMS: a cheque returned unpaid",
        "template.paybill_route_sms" => "SMS: pay by paybill while M-Pesa prompts fail",
        "template.lapse_sms" => "SMS: a policy lapsed",
        "template.card_gone_sms" => "SMS: a saved card can no longer be charged",
        _ => "Message",
    }
}

/// The help line under every template on the Settings screen.
pub const TEMPLATE_HELP: &str = "{holder}, {amount}, {policy}, {receipt}, {code}, {balance}, {when}, {office} and {paybill} are filled in when it is sent.";

/// The template `name` as Malipo ships it, in Kiswahili with `sw`.
pub fn default_template(name: &str, sw: bool) -> &'static str {
    match (name, sw) {
        ("template.receipt_sms", false) => {
            "{office}: received {amount} for policy {policy}{code}. Receipt {receipt}. {balance}"
        }
        ("template.receipt_sms", true) => {
            "{office}: tumepokea {amount} kwa bima {policy}{code}. Risiti {receipt}. {balance}"
        }
        ("template.receipt_email_subject", false) => "Receipt {receipt} from {office}",
        ("template.receipt_email_subject", true) => "Risiti {receipt} kutoka {office}",
        ("template.receipt_email", false) => {
            "Dear {holder},\n\nThank you: we received {amount} for policy {policy}{code}. Your receipt {receipt} is attached.\n{balance}\n\n{office}"
        }
        ("template.receipt_email", true) => {
            "Mpendwa {holder},\n\nAsante: tumepokea {amount} kwa bima {policy}{code}. Risiti yako {receipt} imeambatishwa.\n{balance}\n\n{office}"
        }
        ("template.lapse_sms", false) => {
            "{office}: policy {policy} lapsed on {when} because {amount} was not paid. Pay the arrears to restore the cover.{paybill}"
        }
        ("template.lapse_sms", true) => {
            "{office}: bima {policy} imesitishwa tarehe {when} kwa kuwa {amount} haikulipwa. Lipa deni ili kurejesha bima.{paybill}"
        }
        ("template.card_gone_sms", false) => {
            "{office}: we could not charge your card for policy {policy} ({amount}): the bank says it can no longer be used, so we have stopped charging it. Please pay at the counter or by M-Pesa.{paybill}"
        }
        ("template.card_gone_sms", true) => {
            "{office}: hatukuweza kutoza kadi yako kwa bima {policy} ({amount}): benki inasema haitumiki tena, kwa hivyo tumeacha kuitoza. Tafadhali lipa kwenye ofisi au kwa M-Pesa.{paybill}"
        }
        ("template.paybill_route_sms", false) => {
            "{office}: M-Pesa prompts are not getting through right now. Please pay {amount} for policy {policy} from your phone:{paybill}"
        }
        ("template.paybill_route_sms", true) => {
            "{office}: maombi ya M-Pesa hayafiki kwa sasa. Tafadhali lipa {amount} kwa bima {policy} kutoka kwa simu yako:{paybill}"
        }
        ("template.cheque_bounced_sms", false) => {
            "{office}: your cheque{code} of {amount} for policy {policy} was returned unpaid by the bank, so receipt {receipt} no longer counts as payment. {balance}{paybill}"
        }
        ("template.cheque_bounced_sms", true) => {
            "{office}: hundi yako{code} ya {amount} kwa bima {policy} imerudishwa na benki bila kulipwa, kwa hivyo risiti {receipt} si malipo tena. {balance}{paybill}"
        }
        ("template.reminder_sms", false) => {
            "{office}: the premium of {amount} for policy {policy} {when}.{paybill}"
        }
        (_, true) => "{office}: malipo ya {amount} ya bima {policy} {when}.{paybill}",
        _ => "{office}: {amount} for policy {policy} {when}.{paybill}",
    }
}
