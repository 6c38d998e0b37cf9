//! [`Msisdn`]: a Kenyan mobile number in the form M-Pesa wants, `2547XXXXXXXX` or `2541XXXXXXXX`.

use std::fmt;

/// Why a phone number was refused, naming what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("enter the customer's phone number, e.g. 0712 345 678")]
    Empty,
    #[error("'{0}' is not allowed in a phone number; use digits, spaces, dashes and a leading +")]
    InvalidCharacter(char),
    #[error("+{0} is not a Kenyan number; M-Pesa needs a number starting +254, 07 or 01")]
    NotKenyan(String),
    #[error("the number has {digits} digits; a Kenyan mobile number has 10, like 0712 345 678")]
    WrongLength { digits: usize },
    #[error("{prefix}… is not a Kenyan mobile number; use one starting 07 or 01")]
    NotMobile { prefix: String },
}

/// A Kenyan mobile number, always held as 12 digits starting `2547` or `2541`.
///
/// The only way to make one is [`Msisdn::parse`], so holding an `Msisdn` means the number is
/// well formed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Msisdn(String);

/// A stored phone number as logs show it (see [`Msisdn::masked`]): `254712***678`. Anything
/// that is not twelve ASCII digits is hidden whole.
pub fn masked(number: &str) -> String {
    if number.len() == 12 && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}***{}", &number[..6], &number[9..])
    } else {
        "*".repeat(number.chars().count())
    }
}

impl Msisdn {
    /// Accepts `07XXXXXXXX`, `01XXXXXXXX`, `+2547…`, `2547…` and `7XXXXXXXX` (or `1…`), with any
    /// spaces or dashes between the digits.
    pub fn parse(input: &str) -> Result<Msisdn, PhoneError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(PhoneError::Empty);
        }
        let (plus, body) = match text.strip_prefix('+') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let mut digits = String::with_capacity(12);
        for c in body.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' => {}
                other => return Err(PhoneError::InvalidCharacter(other)),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        let national = if plus {
            match digits.strip_prefix("254") {
                Some(rest) => rest.to_owned(),
                None => return Err(PhoneError::NotKenyan(digits.chars().take(3).collect())),
            }
        } else if digits.len() == 12 && digits.starts_with("254") {
            digits[3..].to_owned()
        } else if digits.len() == 10 && digits.starts_with('0') {
            digits[1..].to_owned()
        } else if digits.len() == 9 && !digits.starts_with('0') {
            digits.clone()
        } else {
            let counted = if digits.starts_with("254") {
                digits.len() - 2
            } else {
                digits.len()
            };
            return Err(PhoneError::WrongLength { digits: counted });
        };
        if national.len() != 9 {
            return Err(PhoneError::WrongLength {
                digits: national.len() + 1,
            });
        }
        if !(national.starts_with('7') || national.starts_with('1')) {
            return Err(PhoneError::NotMobile {
                prefix: format!("0{}", &national[..1]),
            });
        }
        Ok(Msisdn(format!("254{national}")))
    }

    /// `2547XXXXXXXX`, as sent to Daraja and stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The local form a Kenyan reads: `0712 345 678`.
    pub fn local(&self) -> String {
        let n = &self.0[3..];
        format!("0{} {} {}", &n[..3], &n[3..6], &n[6..])
    }

    /// For logs and screens that need not show the whole number: `254712***678`.
    pub fn masked(&self) -> String {
        masked(&self.0)
    }
}

impl fmt::Display for Msisdn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_see_only_the_prefix_and_the_last_digits() {
        assert_eq!(
            Msisdn::parse("0712 345 678").unwrap().masked(),
            "254712***678"
        );
        assert_eq!(masked("254110123456"), "254110***456");
        assert_eq!(masked("12345"), "*****");
    }
    use proptest::prelude::*;

    fn ok(s: &str) -> String {
        Msisdn::parse(s).unwrap().as_str().to_owned()
    }

    #[test]
    fn accepts_every_form_clerks_write() {
        for form in [
            "0712345678",
            "0712 345 678",
            "0712-345-678",
            "+254712345678",
            "+254 712 345 678",
            "254712345678",
            "712345678",
            "  712 345678 ",
        ] {
            assert_eq!(
                ok(form),
                "254712345678",
                "{form:?} is a valid Safaricom number"
            );
        }
        assert_eq!(ok("0110 123 456"), "254110123456");
        assert_eq!(ok("+254110123456"), "254110123456");
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(Msisdn::parse(""), Err(PhoneError::Empty));
        assert_eq!(Msisdn::parse("+"), Err(PhoneError::Empty));
        assert_eq!(
            Msisdn::parse("0712.345.678"),
            Err(PhoneError::InvalidCharacter('.'))
        );
        assert_eq!(
            Msisdn::parse("(0712)345678"),
            Err(PhoneError::InvalidCharacter('('))
        );
        assert_eq!(
            Msisdn::parse("+255712345678"),
            Err(PhoneError::NotKenyan("255".into()))
        );
        assert_eq!(
            Msisdn::parse("071234567"),
            Err(PhoneError::WrongLength { digits: 9 })
        );
        assert_eq!(
            Msisdn::parse("07123456789"),
            Err(PhoneError::WrongLength { digits: 11 })
        );
        assert_eq!(
            Msisdn::parse("+25471234567"),
            Err(PhoneError::WrongLength { digits: 9 })
        );
        assert_eq!(
            Msisdn::parse("0201234567"),
            Err(PhoneError::NotMobile {
                prefix: "02".into()
            })
        );
        assert_eq!(
            Msisdn::parse("254201234567"),
            Err(PhoneError::NotMobile {
                prefix: "02".into()
            })
        );
    }

    #[test]
    fn local_and_masked_forms() {
        let m = Msisdn::parse("0712345678").unwrap();
        assert_eq!(m.local(), "0712 345 678");
        assert_eq!(m.masked(), "254712***678");
    }

    proptest! {
        #[test]
        fn every_form_of_a_valid_number_normalises_the_same(
            lead in prop::sample::select(vec!['7', '1']),
            rest in "[0-9]{8}",
            sep in prop::sample::select(vec!["", " ", "-"]),
        ) {
            let national = format!("{lead}{rest}");
            let want = format!("254{national}");
            let spaced = format!("{}{sep}{}{sep}{}", &national[..3], &national[3..6], &national[6..]);
            for form in [
                format!("0{spaced}"),
                format!("+254{sep}{spaced}"),
                format!("254{spaced}"),
                spaced.clone(),
            ] {
                prop_assert_eq!(Msisdn::parse(&form).map(|m| m.as_str().to_owned()), Ok(want.clone()));
            }
        }

        #[test]
        fn parse_never_panics_and_output_is_always_twelve_digits(s in "\\PC{0,20}") {
            if let Ok(m) = Msisdn::parse(&s) {
                prop_assert_eq!(m.as_str().len(), 12);
                prop_assert!(m.as_str().starts_with("2547") || m.as_str().starts_with("2541"));
            }
        }
    }
}
