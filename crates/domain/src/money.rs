//! [`Money`]: an amount in integer minor units together with its [`Currency`].
//!
//! There is no floating point anywhere in this module and no constructor that takes one.
//! What a clerk types is parsed digit by digit ([`Money::parse`]); what a provider needs is
//! converted at the edge ([`Money::whole_units`] for M-Pesa, [`Money::minor`] for Paystack).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The currencies Malipo takes: KES through M-Pesa and cards, the others through Paystack.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Currency {
    #[default]
    Kes,
    Ngn,
    Ghs,
    Zar,
    Usd,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Kes,
        Currency::Ngn,
        Currency::Ghs,
        Currency::Zar,
        Currency::Usd,
    ];

    /// The ISO 4217 code, as providers and receipts write it.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Kes => "KES",
            Currency::Ngn => "NGN",
            Currency::Ghs => "GHS",
            Currency::Zar => "ZAR",
            Currency::Usd => "USD",
        }
    }

    /// Digits after the decimal point; every currency here has 100 minor units.
    pub fn decimals(self) -> u32 {
        match self {
            Currency::Kes | Currency::Ngn | Currency::Ghs | Currency::Zar | Currency::Usd => 2,
        }
    }

    fn minor_per_unit(self) -> i64 {
        10_i64.pow(self.decimals())
    }

    /// Parses an ISO code, case-insensitively; `KSh`/`Ksh`, as Kenyans write it, is KES.
    pub fn from_code(code: &str) -> Result<Currency, MoneyError> {
        match code.to_ascii_uppercase().as_str() {
            "KES" | "KSH" => Ok(Currency::Kes),
            "NGN" => Ok(Currency::Ngn),
            "GHS" => Ok(Currency::Ghs),
            "ZAR" => Ok(Currency::Zar),
            "USD" => Ok(Currency::Usd),
            _ => Err(MoneyError::UnknownCurrency(code.to_owned())),
        }
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an amount was refused. Each message says what to type instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("enter an amount, e.g. 1,500")]
    Empty,
    #[error("the amount has no digits; enter it like 1,500 or 1500.50")]
    NoDigits,
    #[error("the amount cannot be negative")]
    Negative,
    #[error("the amount must be more than zero")]
    Zero,
    #[error("{currency} amounts have at most {max} decimal places")]
    TooManyDecimals { currency: Currency, max: u32 },
    #[error("the amount is too large")]
    Overflow,
    #[error("'{0}' is not allowed in an amount; use digits, commas and one decimal point")]
    InvalidCharacter(char),
    #[error("commas must separate groups of three digits, e.g. 1,500,000")]
    MisplacedSeparator,
    #[error("enter digits after the decimal point, or leave it out")]
    EmptyFraction,
    #[error("unknown currency '{0}'; use KES, NGN, GHS, ZAR or USD")]
    UnknownCurrency(String),
    #[error("the amount names two currencies")]
    TwoCurrencies,
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    #[error("{0} cannot be paid in fractions; enter whole shillings")]
    Fractional(Currency),
}

/// A non-negative amount of money in minor units (cents, kobo, pesewas).
///
/// Invariant: `minor >= 0`. Zero exists (an empty total) but [`Money::parse`] never yields it,
/// because nobody pays nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Money {
        Money { minor: 0, currency }
    }

    /// An amount already in minor units, as stored or as a provider reports it.
    pub fn from_minor(minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Money { minor, currency })
    }

    /// Whole units (for example shillings) converted exactly to minor units.
    pub fn from_major(major: i64, currency: Currency) -> Result<Money, MoneyError> {
        if major < 0 {
            return Err(MoneyError::Negative);
        }
        let minor = major
            .checked_mul(currency.minor_per_unit())
            .ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency })
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_zero(self) -> bool {
        self.minor == 0
    }

    /// The amount in whole units, refusing fractions (M-Pesa takes whole shillings only).
    pub fn whole_units(self) -> Result<i64, MoneyError> {
        let per = self.currency.minor_per_unit();
        if self.minor % per != 0 {
            return Err(MoneyError::Fractional(self.currency));
        }
        Ok(self.minor / per)
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_add(other.minor)
            .ok_or(MoneyError::Overflow)?;
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    /// `self - other`, refusing to go below zero.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let minor = self
            .minor
            .checked_sub(other.minor)
            .ok_or(MoneyError::Overflow)?;
        if minor < 0 {
            return Err(MoneyError::Negative);
        }
        Ok(Money {
            minor,
            currency: self.currency,
        })
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// The plain decimal form used in JSON and by providers that take decimals: `1500.00`.
    pub fn amount_string(self) -> String {
        let per = self.currency.minor_per_unit();
        format!(
            "{}.{:0width$}",
            self.minor / per,
            self.minor % per,
            width = self.currency.decimals() as usize
        )
    }

    /// The amount with thousands separators and no currency: `1,500.00`.
    pub fn grouped(self) -> String {
        let per = self.currency.minor_per_unit();
        let whole = (self.minor / per).to_string();
        let mut out = String::with_capacity(whole.len() + whole.len() / 3 + 4);
        for (i, c) in whole.chars().enumerate() {
            if i > 0 && (whole.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        format!(
            "{out}.{:0width$}",
            self.minor % per,
            width = self.currency.decimals() as usize
        )
    }

    /// Parses what a clerk types: `1500`, `1,500.50`, `KES 1,500`, `1500 KES`, `Ksh 200`.
    ///
    /// `default` is the currency when the text names none. The result is never zero.
    pub fn parse(input: &str, default: Currency) -> Result<Money, MoneyError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(MoneyError::Empty);
        }
        let (currency, number) = split_currency(text, default)?;
        let number = number.trim();
        if number.is_empty() {
            return Err(MoneyError::NoDigits);
        }
        if number.starts_with('-') {
            // Name the sign even when what follows is nonsense: it is the first thing wrong.
            return Err(MoneyError::Negative);
        }
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, Some(f)),
            None => (number, None),
        };
        let whole_digits = parse_whole(whole)?;
        let mut minor: i64 = 0;
        for d in whole_digits.bytes() {
            minor = minor
                .checked_mul(10)
                .and_then(|m| m.checked_add(i64::from(d - b'0')))
                .ok_or(MoneyError::Overflow)?;
        }
        minor = minor
            .checked_mul(currency.minor_per_unit())
            .ok_or(MoneyError::Overflow)?;
        if let Some(fraction) = fraction {
            if fraction.is_empty() {
                return Err(MoneyError::EmptyFraction);
            }
            if let Some(c) = fraction.chars().find(|c| !c.is_ascii_digit()) {
                return Err(MoneyError::InvalidCharacter(c));
            }
            let max = currency.decimals();
            if fraction.len() > max as usize {
                return Err(MoneyError::TooManyDecimals { currency, max });
            }
            let mut frac: i64 = 0;
            for d in fraction.bytes() {
                frac = frac * 10 + i64::from(d - b'0');
            }
            frac *= 10_i64.pow(max - fraction.len() as u32);
            minor = minor.checked_add(frac).ok_or(MoneyError::Overflow)?;
        }
        if whole_digits.is_empty() && fraction.is_none() {
            return Err(MoneyError::NoDigits);
        }
        if minor == 0 {
            return Err(MoneyError::Zero);
        }
        Ok(Money { minor, currency })
    }
}

/// Splits an optional currency code off either end of the text.
fn split_currency(text: &str, default: Currency) -> Result<(Currency, &str), MoneyError> {
    let leading: usize = text.chars().take_while(|c| c.is_ascii_alphabetic()).count();
    let trailing: usize = text
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    // A run of letters is a currency code only when it is three letters long; `12a` is a typo.
    let looks_like_code = |n: usize| n == 3;
    let odd_letters =
        (leading > 0 && !looks_like_code(leading)) || (trailing > 0 && !looks_like_code(trailing));
    if odd_letters && leading != text.len() {
        let at = if leading > 0 {
            0
        } else {
            text.len() - trailing
        };
        return Err(MoneyError::InvalidCharacter(
            text[at..].chars().next().unwrap_or('?'),
        ));
    }
    if leading == text.len() {
        // Only letters: either a currency without an amount or plain nonsense.
        return match Currency::from_code(text) {
            Ok(_) => Err(MoneyError::NoDigits),
            Err(_) => Err(MoneyError::InvalidCharacter(
                text.chars().next().unwrap_or('?'),
            )),
        };
    }
    match (leading > 0, trailing > 0) {
        (true, true) => Err(MoneyError::TwoCurrencies),
        (true, false) => Ok((Currency::from_code(&text[..leading])?, &text[leading..])),
        (false, true) => {
            let at = text.len() - trailing;
            Ok((Currency::from_code(&text[at..])?, &text[..at]))
        }
        (false, false) => Ok((default, text)),
    }
}

/// Checks the whole part (`1,500,000` or `1500000`) and returns its digits.
fn parse_whole(whole: &str) -> Result<String, MoneyError> {
    if let Some(c) = whole.chars().find(|c| !c.is_ascii_digit() && *c != ',') {
        return Err(if c == '-' {
            MoneyError::Negative
        } else {
            MoneyError::InvalidCharacter(c)
        });
    }
    if !whole.contains(',') {
        return Ok(whole.to_owned());
    }
    let groups: Vec<&str> = whole.split(',').collect();
    let first_ok = matches!(groups.first(), Some(g) if (1..=3).contains(&g.len()));
    let rest_ok = groups.iter().skip(1).all(|g| g.len() == 3);
    if !first_ok || !rest_ok {
        return Err(MoneyError::MisplacedSeparator);
    }
    Ok(groups.concat())
}

impl fmt::Display for Money {
    /// `KES 1,500.00`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.currency, self.grouped())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Kes).unwrap()
    }

    #[test]
    fn parses_what_clerks_type() {
        assert_eq!(Money::parse("1500", Currency::Kes), Ok(kes(150_000)));
        assert_eq!(Money::parse("1,500.50", Currency::Kes), Ok(kes(150_050)));
        assert_eq!(Money::parse("KES 1,500", Currency::Kes), Ok(kes(150_000)));
        assert_eq!(Money::parse("ksh200", Currency::Kes), Ok(kes(20_000)));
        assert_eq!(Money::parse(" 1500 KES ", Currency::Ngn), Ok(kes(150_000)));
        assert_eq!(Money::parse("0.5", Currency::Kes), Ok(kes(50)));
        assert_eq!(Money::parse(".5", Currency::Kes), Ok(kes(50)));
        assert_eq!(
            Money::parse("NGN 2,000,000.05", Currency::Kes),
            Ok(Money::from_minor(200_000_005, Currency::Ngn).unwrap())
        );
    }

    #[test]
    fn each_refusal_has_its_own_reason() {
        let p = |s| Money::parse(s, Currency::Kes);
        assert_eq!(p(""), Err(MoneyError::Empty));
        assert_eq!(p("   "), Err(MoneyError::Empty));
        assert_eq!(p("-5"), Err(MoneyError::Negative));
        assert_eq!(p("KES -5"), Err(MoneyError::Negative));
        assert_eq!(p("0"), Err(MoneyError::Zero));
        assert_eq!(p("0.00"), Err(MoneyError::Zero));
        assert_eq!(
            p("10.505"),
            Err(MoneyError::TooManyDecimals {
                currency: Currency::Kes,
                max: 2
            })
        );
        assert_eq!(p("99999999999999999999"), Err(MoneyError::Overflow));
        assert_eq!(p("92233720368547759"), Err(MoneyError::Overflow));
        assert_eq!(p("1,50"), Err(MoneyError::MisplacedSeparator));
        assert_eq!(p("1500,"), Err(MoneyError::MisplacedSeparator));
        assert_eq!(p("1.2.3"), Err(MoneyError::InvalidCharacter('.')));
        assert_eq!(p("12a"), Err(MoneyError::InvalidCharacter('a')));
        assert_eq!(p("15."), Err(MoneyError::EmptyFraction));
        assert_eq!(p("EUR 10"), Err(MoneyError::UnknownCurrency("EUR".into())));
        assert_eq!(p("KES"), Err(MoneyError::NoDigits));
        assert_eq!(p("KES 10 USD"), Err(MoneyError::TwoCurrencies));
        assert_eq!(p("1e3"), Err(MoneyError::InvalidCharacter('e')));
    }

    #[test]
    fn displays_with_thousands_separators() {
        assert_eq!(kes(150_050).to_string(), "KES 1,500.50");
        assert_eq!(kes(12_345_678_900).to_string(), "KES 123,456,789.00");
        assert_eq!(kes(5).to_string(), "KES 0.05");
        assert_eq!(kes(100_000).amount_string(), "1000.00");
        assert_eq!(kes(99_999).grouped(), "999.99");
    }

    #[test]
    fn whole_units_refuse_cents() {
        assert_eq!(kes(150_000).whole_units(), Ok(1500));
        assert_eq!(
            kes(150_050).whole_units(),
            Err(MoneyError::Fractional(Currency::Kes))
        );
    }

    #[test]
    fn arithmetic_refuses_mixed_currencies_and_going_below_zero() {
        let ngn = Money::from_minor(100, Currency::Ngn).unwrap();
        assert_eq!(
            kes(1).checked_add(ngn),
            Err(MoneyError::CurrencyMismatch(Currency::Kes, Currency::Ngn))
        );
        assert_eq!(kes(1).checked_sub(kes(2)), Err(MoneyError::Negative));
        assert_eq!(kes(5).checked_sub(kes(2)), Ok(kes(3)));
        assert_eq!(
            Money::from_minor(-1, Currency::Kes),
            Err(MoneyError::Negative)
        );
    }

    proptest! {
        #[test]
        fn plain_and_grouped_forms_parse_back(minor in 1_i64..=i64::MAX / 2) {
            let m = kes(minor);
            prop_assert_eq!(Money::parse(&m.amount_string(), Currency::Kes), Ok(m));
            prop_assert_eq!(Money::parse(&m.grouped(), Currency::Kes), Ok(m));
            prop_assert_eq!(Money::parse(&m.to_string(), Currency::Usd), Ok(m));
        }

        #[test]
        fn parse_never_panics_and_never_yields_zero(s in "\\PC{0,24}") {
            if let Ok(m) = Money::parse(&s, Currency::Kes) {
                prop_assert!(m.minor() > 0);
            }
        }

        #[test]
        fn digits_with_noise_are_refused(n in 1_u32..100_000, c in "[^0-9.,A-Za-z\\s]") {
            let text = format!("{n}{c}");
            prop_assert!(Money::parse(&text, Currency::Kes).is_err());
        }
    }
}
