//! The names a payment goes by.
//!
//! - [`ProviderReference`]: what Daraja (`AccountReference`) and Paystack (`reference`) see.
//!   Twelve characters from an alphabet both accept, made from random bits handed in.
//! - [`TxNumber`]: what clerks say aloud, `NBI-2-000042`, sequential per counter.
//! - [`ReceiptNumber`]: printed on receipts, `NBI-2-R000017`, sequential per counter with no
//!   gaps, assigned only when a payment succeeds (the store hands out the next one in the same
//!   database transaction that records the success).
//!
//! A [`Desk`] is where numbers come from: the branch's [`OfficeCode`] and, in a company with
//! several counters, the counter's [`CounterCode`], unique in the company, so no two counters
//! can print the same number. An office set up before counters keeps its numbers (`NBI-000042`).

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("an office code is 2 to 6 letters or digits, like NBI or MSA2; got '{0}'")]
    OfficeCode(String),
    #[error("'{0}' is not a Malipo payment reference")]
    ProviderReference(String),
    #[error("a counter code is 1 to 3 letters or digits, like 2 or B1; got '{0}'")]
    CounterCode(String),
    #[error("'{0}' is not a transaction number like NBI-2-000042")]
    TxNumber(String),
    #[error("'{0}' is not a receipt number like NBI-2-R000017")]
    ReceiptNumber(String),
}

/// An office's short code, upper case, printed in every number it issues.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfficeCode(String);

impl OfficeCode {
    pub fn parse(input: &str) -> Result<OfficeCode, ReferenceError> {
        let code = input.trim().to_ascii_uppercase();
        let ok = (2..=6).contains(&code.len())
            && code.chars().all(|c| c.is_ascii_alphanumeric())
            && code.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if ok {
            Ok(OfficeCode(code))
        } else {
            Err(ReferenceError::OfficeCode(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfficeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A counter's code, unique within the company: 1 to 3 letters or digits, upper case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterCode(String);

impl CounterCode {
    pub fn parse(input: &str) -> Result<CounterCode, ReferenceError> {
        let code = input.trim().to_ascii_uppercase();
        if (1..=3).contains(&code.len()) && code.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(CounterCode(code))
        } else {
            Err(ReferenceError::CounterCode(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CounterCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a payment is taken and its numbers come from: a branch and, when the company has
/// several counters, the counter. Written `NBI-2` (or `NBI` for an office without a counter),
/// the prefix of its transaction and receipt numbers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Desk {
    office: OfficeCode,
    counter: Option<CounterCode>,
}

impl Desk {
    pub fn new(office: OfficeCode, counter: Option<CounterCode>) -> Desk {
        Desk { office, counter }
    }

    /// `NBI-2` or `NBI`.
    pub fn parse(input: &str) -> Result<Desk, ReferenceError> {
        let input = input.trim();
        match input.split_once('-') {
            None => Ok(Desk::new(OfficeCode::parse(input)?, None)),
            Some((office, counter)) => Ok(Desk::new(
                OfficeCode::parse(office)?,
                Some(CounterCode::parse(counter)?),
            )),
        }
    }

    /// The branch.
    pub fn office(&self) -> &OfficeCode {
        &self.office
    }

    pub fn counter(&self) -> Option<&CounterCode> {
        self.counter.as_ref()
    }
}

impl From<OfficeCode> for Desk {
    fn from(office: OfficeCode) -> Desk {
        Desk::new(office, None)
    }
}

impl fmt::Display for Desk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.counter {
            Some(c) => write!(f, "{}-{c}", self.office),
            None => write!(f, "{}", self.office),
        }
    }
}

/// Crockford's base 32: no I, L, O or U, so a reference read aloud is not misheard.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The reference providers see: `M` followed by 11 Crockford base-32 characters (55 random
/// bits). It fits M-Pesa's 12-character `AccountReference` and uses only characters Paystack
/// accepts in a `reference`. Uniqueness is by randomness, and the store's unique index refuses
/// the astronomically rare repeat so the caller draws again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProviderReference(String);

impl ProviderReference {
    pub const LEN: usize = 12;

    /// Builds a reference from random bits supplied by the caller.
    pub fn from_random(bits: u64) -> ProviderReference {
        let mut s = String::with_capacity(Self::LEN);
        s.push('M');
        for i in 0..11 {
            let index = (bits >> (i * 5)) & 0x1f;
            s.push(char::from(ALPHABET[index as usize]));
        }
        ProviderReference(s)
    }

    pub fn parse(input: &str) -> Result<ProviderReference, ReferenceError> {
        let ok = input.len() == Self::LEN
            && input.starts_with('M')
            && input.bytes().skip(1).all(|b| ALPHABET.contains(&b));
        if ok {
            Ok(ProviderReference(input.to_owned()))
        } else {
            Err(ReferenceError::ProviderReference(input.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProviderReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `NBI-000042` or `NBI-2-000042` (with `marker` `R`: `NBI-R000017`, `NBI-2-R000017`).
fn parse_numbered(input: &str, marker: &str) -> Option<(Desk, u64)> {
    let (desk, rest) = input.trim().rsplit_once('-')?;
    let digits = rest.strip_prefix(marker)?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let seq: u64 = digits.parse().ok()?;
    (seq > 0).then_some(())?;
    Some((Desk::parse(desk).ok()?, seq))
}

/// A transaction's human number: the desk, a dash and a sequence of at least six digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxNumber {
    desk: Desk,
    seq: u64,
}

impl TxNumber {
    pub fn new(desk: Desk, seq: u64) -> TxNumber {
        TxNumber { desk, seq }
    }

    pub fn parse(input: &str) -> Result<TxNumber, ReferenceError> {
        parse_numbered(input, "")
            .map(|(desk, seq)| TxNumber { desk, seq })
            .ok_or_else(|| ReferenceError::TxNumber(input.to_owned()))
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn desk(&self) -> &Desk {
        &self.desk
    }
}

impl fmt::Display for TxNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:06}", self.desk, self.seq)
    }
}

/// A receipt number: the desk, `-R` and a gapless sequence of at least six digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReceiptNumber {
    desk: Desk,
    seq: u64,
}

impl ReceiptNumber {
    pub fn new(desk: Desk, seq: u64) -> ReceiptNumber {
        ReceiptNumber { desk, seq }
    }

    pub fn parse(input: &str) -> Result<ReceiptNumber, ReferenceError> {
        parse_numbered(input, "R")
            .map(|(desk, seq)| ReceiptNumber { desk, seq })
            .ok_or_else(|| ReferenceError::ReceiptNumber(input.to_owned()))
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }
}

impl fmt::Display for ReceiptNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-R{:06}", self.desk, self.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn office() -> Desk {
        OfficeCode::parse("nbi").unwrap().into()
    }

    fn counter(code: &str) -> Desk {
        Desk::new(
            OfficeCode::parse("nbi").unwrap(),
            Some(CounterCode::parse(code).unwrap()),
        )
    }

    #[test]
    fn a_counter_s_numbers_carry_its_code_and_an_office_without_one_keeps_its_own() {
        let tx = TxNumber::new(counter("2"), 341);
        assert_eq!(tx.to_string(), "NBI-2-000341");
        assert_eq!(TxNumber::parse("NBI-2-000341"), Ok(tx.clone()));
        assert_eq!(tx.desk().to_string(), "NBI-2");
        let r = ReceiptNumber::new(counter("b1"), 17);
        assert_eq!(r.to_string(), "NBI-B1-R000017");
        assert_eq!(ReceiptNumber::parse("NBI-B1-R000017"), Ok(r));
        assert_ne!(
            TxNumber::new(counter("1"), 5).to_string(),
            TxNumber::new(counter("2"), 5).to_string(),
            "two counters of one branch never share a number"
        );
        assert_eq!(TxNumber::parse("NBI-000042").unwrap().desk(), &office());
        assert!(
            TxNumber::parse("NBI-2345-000001").is_err(),
            "counter codes are short"
        );
        assert!(TxNumber::parse("NBI--000001").is_err());
        assert!(CounterCode::parse("").is_err());
        assert!(CounterCode::parse("A-B").is_err());
        assert_eq!(Desk::parse("msa-3").unwrap().to_string(), "MSA-3");
    }

    #[test]
    fn numbers_read_well_and_parse_back() {
        let tx = TxNumber::new(office(), 42);
        assert_eq!(tx.to_string(), "NBI-000042");
        assert_eq!(TxNumber::parse("NBI-000042"), Ok(tx));
        let r = ReceiptNumber::new(office(), 17);
        assert_eq!(r.to_string(), "NBI-R000017");
        assert_eq!(ReceiptNumber::parse("NBI-R000017"), Ok(r));
        assert_eq!(
            ReceiptNumber::new(office(), 1_234_567).to_string(),
            "NBI-R1234567"
        );
        assert!(
            TxNumber::parse("NBI-R000017").is_err(),
            "a receipt number is not a tx number"
        );
        assert!(TxNumber::parse("NBI-42").is_err());
        assert!(
            TxNumber::parse("NBI-000000").is_err(),
            "sequences start at 1"
        );
    }

    #[test]
    fn office_codes_are_short_and_alphanumeric() {
        assert!(OfficeCode::parse("N").is_err());
        assert!(OfficeCode::parse("NAIROBI").is_err());
        assert!(OfficeCode::parse("1NB").is_err());
        assert!(OfficeCode::parse("N-B").is_err());
        assert_eq!(OfficeCode::parse("msa2").unwrap().as_str(), "MSA2");
    }

    proptest! {
        #[test]
        fn references_fit_mpesa_and_paystack(bits: u64) {
            let r = ProviderReference::from_random(bits);
            prop_assert_eq!(r.as_str().len(), 12, "AccountReference holds 12 characters");
            prop_assert!(r.as_str().bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            prop_assert_eq!(ProviderReference::parse(r.as_str()), Ok(r.clone()));
        }

        #[test]
        fn different_bits_give_different_references(a in 0_u64..(1 << 55), b in 0_u64..(1 << 55)) {
            prop_assume!(a != b);
            prop_assert_ne!(ProviderReference::from_random(a), ProviderReference::from_random(b));
        }

        #[test]
        fn tx_numbers_round_trip(seq in 1_u64..100_000_000) {
            let n = TxNumber::new(office(), seq);
            prop_assert_eq!(TxNumber::parse(&n.to_string()), Ok(n));
        }
    }
}
