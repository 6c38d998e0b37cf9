//! Policies and their holders: the policy number, the holder's name and e-mail address.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("enter a policy number")]
    EmptyNumber,
    #[error("the policy number is {0} characters long; at most 32 are allowed")]
    NumberTooLong(usize),
    #[error("'{0}' is not allowed in a policy number; use letters, digits, '-' and '/'")]
    NumberCharacter(char),
    #[error("enter the holder's name")]
    EmptyHolder,
    #[error("the holder's name is {0} characters long; at most 120 are allowed")]
    HolderTooLong(usize),
}

/// A policy number as the insurer writes it, e.g. `POL-2024/0042`, kept in upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyNumber(String);

impl PolicyNumber {
    pub fn parse(input: &str) -> Result<PolicyNumber, PolicyError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(PolicyError::EmptyNumber);
        }
        let len = text.chars().count();
        if len > 32 {
            return Err(PolicyError::NumberTooLong(len));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '/')))
        {
            return Err(PolicyError::NumberCharacter(c));
        }
        Ok(PolicyNumber(text.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PolicyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The policy holder's name, trimmed, with runs of spaces collapsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HolderName(String);

impl HolderName {
    pub fn parse(input: &str) -> Result<HolderName, PolicyError> {
        let name = input.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err(PolicyError::EmptyHolder);
        }
        let len = name.chars().count();
        if len > 120 {
            return Err(PolicyError::HolderTooLong(len));
        }
        Ok(HolderName(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("enter an e-mail address")]
    Empty,
    #[error("'{0}' is not an e-mail address; it needs one @ and a domain, like name@example.com")]
    Malformed(String),
}

/// An e-mail address with one `@`, a non-empty local part and a dotted domain; lower-cased.
///
/// Paystack needs one for every card payment; the receipt may be sent to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, EmailError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(EmailError::Empty);
        }
        let malformed = || EmailError::Malformed(text.to_owned());
        let (local, domain) = text.split_once('@').ok_or_else(malformed)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-'));
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@');
        if !domain_ok || !local_ok || text.len() > 254 {
            return Err(malformed());
        }
        Ok(Email(text.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An account number as customers type it, reduced to what identifies it: upper case, no
/// spaces, hyphens, slashes, dots or underscores (`mtr 2291`, `MTR-2291` and `mtr/2291` are
/// one account). Paybill validation and the policy searches read accounts this way.
pub fn account_key(account: &str) -> String {
    account
        .chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '/' | '.' | '_' | '\\'))
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_numbers_are_upper_cased_and_checked() {
        assert_eq!(
            PolicyNumber::parse(" pol-2024/7 ").unwrap().as_str(),
            "POL-2024/7"
        );
        assert_eq!(PolicyNumber::parse(""), Err(PolicyError::EmptyNumber));
        assert_eq!(
            PolicyNumber::parse("A B"),
            Err(PolicyError::NumberCharacter(' '))
        );
        assert_eq!(
            PolicyNumber::parse(&"X".repeat(33)),
            Err(PolicyError::NumberTooLong(33))
        );
    }

    #[test]
    fn holder_names_are_tidied() {
        assert_eq!(
            HolderName::parse("  Wanjiru   Kamau ").unwrap().as_str(),
            "Wanjiru Kamau"
        );
        assert_eq!(HolderName::parse("   "), Err(PolicyError::EmptyHolder));
    }

    #[test]
    fn emails_need_an_at_and_a_domain() {
        assert_eq!(
            Email::parse("Amina@Example.co.ke").unwrap().as_str(),
            "amina@example.co.ke"
        );
        for bad in [
            "amina",
            "amina@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@b.com",
            "a@.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} must be refused");
        }
        assert_eq!(Email::parse(""), Err(EmailError::Empty));
    }
}
