//! What a clerk types, checked while they type by the same rules the services apply when the
//! form is sent: the UI asks here rather than keeping rules of its own, so `.5`, `1500 KES` or
//! `+254 712-345-678` are judged the same on both sides.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use malipo_domain::{Currency, Email, Money, Msisdn};
use malipo_providers::daraja::MpesaAmount;

/// Which rule a field follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum InputKind {
    /// An amount in `currency` (a card payment, a refund, a premium).
    Amount,
    /// An amount M-Pesa can move: whole shillings, KES 1 to 250,000.
    MpesaAmount,
    /// A Kenyan mobile number.
    Phone,
    Email,
    /// A date typed day first (30/11/2026), or in ISO form.
    Date,
}

/// A field as typed so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CheckInput {
    pub kind: InputKind,
    pub text: String,
    /// The currency an amount is in (the policy's); the office's when not given.
    #[ts(optional)]
    pub currency: Option<String>,
}

/// What is wrong with a field, or how it will be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct InputCheck {
    /// What to fix, as one sentence; `null` when the field is fine.
    pub problem: Option<String>,
    /// How the services will read it: `KES 1,500.00`, `254712345678`, `amina@example.co.ke`.
    pub reads_as: Option<String>,
}

impl InputCheck {
    fn fine(reads_as: impl Into<String>) -> InputCheck {
        InputCheck {
            problem: None,
            reads_as: Some(reads_as.into()),
        }
    }

    fn problem(why: impl std::fmt::Display) -> InputCheck {
        let why = why.to_string();
        let mut chars = why.chars();
        let sentence = match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => why,
        };
        InputCheck {
            problem: Some(sentence),
            reads_as: None,
        }
    }
}

/// Checks one field; `office` is the currency when the request names none.
pub fn check(input: &CheckInput, office: Currency) -> InputCheck {
    let currency = match input.currency.as_deref().map(Currency::from_code) {
        None => office,
        Some(Ok(c)) => c,
        Some(Err(e)) => return InputCheck::problem(e),
    };
    match input.kind {
        InputKind::Amount => match Money::parse(&input.text, currency) {
            Ok(m) => InputCheck::fine(m.to_string()),
            Err(e) => InputCheck::problem(e),
        },
        InputKind::MpesaAmount => match MpesaAmount::parse(&input.text) {
            Ok(m) => InputCheck::fine(m.to_string()),
            Err(e) => InputCheck::problem(e),
        },
        InputKind::Phone => match Msisdn::parse(&input.text) {
            Ok(p) => InputCheck::fine(p.as_str()),
            Err(e) => InputCheck::problem(e),
        },
        InputKind::Email => match Email::parse(&input.text) {
            Ok(e) => InputCheck::fine(e.as_str()),
            Err(e) => InputCheck::problem(e),
        },
        InputKind::Date => match malipo_domain::time_zone::read_day(&input.text) {
            Ok(d) => InputCheck::fine(d.to_string()),
            Err(why) => InputCheck::problem(why),
        },
    }
}

/// Parses a date typed day first (`30/11/2026`) or in ISO form (`2026-11-30`).
pub(crate) fn parse_date(field: &str, text: &str) -> crate::Result<time::Date> {
    malipo_domain::time_zone::read_day(text).map_err(|why| {
        let shown = if text.chars().count() <= 20 {
            format!("'{}'", text.trim())
        } else {
            "That".to_owned()
        };
        crate::Error::invalid(field, format!("{shown} is not a date: {why}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(kind: InputKind, text: &str) -> InputCheck {
        check(
            &CheckInput {
                kind,
                text: text.into(),
                currency: None,
            },
            Currency::Kes,
        )
    }

    #[test]
    fn amounts_are_read_as_the_services_read_them() {
        assert_eq!(
            checked(InputKind::Amount, ".5").reads_as.as_deref(),
            Some("KES 0.50")
        );
        assert_eq!(
            checked(InputKind::Amount, "1500 KES").reads_as.as_deref(),
            Some("KES 1,500.00")
        );
        let cents = checked(InputKind::MpesaAmount, "1500.50");
        assert!(
            cents
                .problem
                .as_deref()
                .is_some_and(|p| p.starts_with("M-Pesa takes whole shillings")),
            "{cents:?}"
        );
        assert!(checked(InputKind::Amount, "-5").problem.is_some());
        assert!(checked(InputKind::Amount, "1,50").problem.is_some());
        let ngn = check(
            &CheckInput {
                kind: InputKind::Amount,
                text: "2,000".into(),
                currency: Some("NGN".into()),
            },
            Currency::Kes,
        );
        assert_eq!(ngn.reads_as.as_deref(), Some("NGN 2,000.00"));
    }

    #[test]
    fn phones_and_emails_follow_the_payment_rules() {
        assert_eq!(
            checked(InputKind::Phone, "+254 712-345-678")
                .reads_as
                .as_deref(),
            Some("254712345678")
        );
        let short = checked(InputKind::Phone, "071234567");
        assert!(
            short
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("9 digits")),
            "{short:?}"
        );
        assert!(
            short.problem.as_deref().is_some_and(|p| p.starts_with('T')),
            "a sentence starts with a capital: {short:?}"
        );
        assert_eq!(
            checked(InputKind::Email, " Amina@Example.co.ke ")
                .reads_as
                .as_deref(),
            Some("amina@example.co.ke")
        );
        assert!(checked(InputKind::Email, "amina@").problem.is_some());
    }

    #[test]
    fn an_impossible_day_is_named_as_one() {
        let feb = checked(InputKind::Date, "31/02/2026");
        assert_eq!(feb.problem.as_deref(), Some("February 2026 has 28 days"));
        let e = parse_date("start date", "31/02/2026").unwrap_err();
        assert!(
            e.to_string()
                .contains("'31/02/2026' is not a date: February 2026 has 28 days"),
            "{e}"
        );
    }

    #[test]
    fn dates_are_read_day_first() {
        assert_eq!(
            checked(InputKind::Date, "5/1/2027").reads_as.as_deref(),
            Some("2027-01-05")
        );
        let american = checked(InputKind::Date, "11/30/2026");
        assert!(
            american
                .problem
                .as_deref()
                .is_some_and(|p| p.contains("30/11/2026")),
            "{american:?}"
        );
    }
}
