//! Cash at the counter: the change a customer is owed, a drawer counted by denomination, and
//! the variance between what a drawer should hold and what was counted.
//!
//! All of it is integer minor units in one currency; a variance is signed (short is negative),
//! so it is its own type rather than a [`Money`], which is never negative.

use std::fmt;

use crate::money::{Currency, Money, MoneyError};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CashError {
    #[error("{tendered} tendered is less than the {amount} due; take at least the amount due")]
    ShortTendered { amount: Money, tendered: Money },
    #[error("{0}")]
    Money(#[from] MoneyError),
    #[error("'{0}' is not a denomination count; write them like 1000x5,500x3,50x4")]
    Denomination(String),
    #[error("the denomination {0} is given twice")]
    RepeatedDenomination(String),
    #[error("a count names at most {0} denominations")]
    TooManyDenominations(usize),
}

/// More kinds of note and coin than any currency has.
pub const MAX_DENOMINATIONS: usize = 30;

/// Cash handed over for an amount due: what was tendered and the change given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tender {
    pub amount: Money,
    pub tendered: Money,
    pub change: Money,
}

impl Tender {
    /// The change for `tendered` against `amount`: never negative, in the amount's currency.
    pub fn new(amount: Money, tendered: Money) -> Result<Tender, CashError> {
        if tendered.currency() != amount.currency() {
            return Err(
                MoneyError::CurrencyMismatch(amount.currency(), tendered.currency()).into(),
            );
        }
        let change = tendered
            .checked_sub(amount)
            .map_err(|_| CashError::ShortTendered { amount, tendered })?;
        Ok(Tender {
            amount,
            tendered,
            change,
        })
    }
}

/// A drawer counted note by note and coin by coin: `(denomination, how many)`, largest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub lines: Vec<(Money, u32)>,
    pub total: Money,
}

impl Count {
    /// Reads `1000x5,500x3,50x4` (or `1000*5` / `1000:5`): each denomination an amount as a
    /// clerk types it, each count a whole number; a denomination may appear once.
    pub fn parse(text: &str, currency: Currency) -> Result<Count, CashError> {
        let mut lines: Vec<(Money, u32)> = Vec::new();
        let mut total = Money::zero(currency);
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if lines.len() == MAX_DENOMINATIONS {
                return Err(CashError::TooManyDenominations(MAX_DENOMINATIONS));
            }
            let (value, count) = part
                .split_once(['x', 'X', '*', ':'])
                .ok_or_else(|| CashError::Denomination(clip(part)))?;
            let value =
                Money::parse(value, currency).map_err(|_| CashError::Denomination(clip(part)))?;
            if value.currency() != currency {
                return Err(MoneyError::CurrencyMismatch(currency, value.currency()).into());
            }
            let count: u32 = count
                .trim()
                .parse()
                .map_err(|_| CashError::Denomination(clip(part)))?;
            if lines.iter().any(|(v, _)| *v == value) {
                return Err(CashError::RepeatedDenomination(value.grouped()));
            }
            let line = value
                .minor()
                .checked_mul(i64::from(count))
                .ok_or(MoneyError::Overflow)?;
            total = total.checked_add(Money::from_minor(line, currency)?)?;
            lines.push((value, count));
        }
        if lines.is_empty() {
            return Err(CashError::Denomination(String::new()));
        }
        lines.sort_by_key(|(v, _)| std::cmp::Reverse(v.minor()));
        Ok(Count { lines, total })
    }

    /// The count written back the way [`Count::parse`] reads it, largest denomination first.
    pub fn to_text(&self) -> String {
        self.lines
            .iter()
            .map(|(v, n)| format!("{}x{n}", trim_zero_fraction(*v)))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn trim_zero_fraction(m: Money) -> String {
    let s = m.amount_string();
    match s.split_once('.') {
        Some((whole, frac)) if frac.bytes().all(|b| b == b'0') => whole.to_owned(),
        _ => s,
    }
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Counted minus expected, in minor units of one currency: negative when the drawer is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variance {
    pub minor: i64,
    pub currency: Currency,
}

impl Variance {
    pub fn between(expected: Money, counted: Money) -> Result<Variance, MoneyError> {
        if expected.currency() != counted.currency() {
            return Err(MoneyError::CurrencyMismatch(
                expected.currency(),
                counted.currency(),
            ));
        }
        let minor = counted
            .minor()
            .checked_sub(expected.minor())
            .ok_or(MoneyError::Overflow)?;
        Ok(Variance {
            minor,
            currency: expected.currency(),
        })
    }

    /// The size of the variance as money (never negative).
    pub fn magnitude(self) -> Money {
        Money::from_minor(
            self.minor.unsigned_abs().min(i64::MAX as u64) as i64,
            self.currency,
        )
        .unwrap_or(Money::zero(self.currency))
    }

    /// `0.00`, `+50.00` (over) or `-50.00` (short): the decimal form JSON carries.
    pub fn amount_string(self) -> String {
        match self.minor {
            0 => self.magnitude().amount_string(),
            m if m > 0 => format!("+{}", self.magnitude().amount_string()),
            _ => format!("-{}", self.magnitude().amount_string()),
        }
    }
}

impl fmt::Display for Variance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.minor {
            0 => write!(f, "none"),
            m if m > 0 => write!(f, "{} over", self.magnitude()),
            _ => write!(f, "{} short", self.magnitude()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kes(text: &str) -> Money {
        Money::parse(text, Currency::Kes).unwrap()
    }

    #[test]
    fn change_is_what_was_tendered_over_the_amount() {
        let t = Tender::new(kes("1,250"), kes("2,000")).unwrap();
        assert_eq!(t.change, kes("750"));
        let exact = Tender::new(kes("1,250"), kes("1,250")).unwrap();
        assert!(exact.change.is_zero());
    }

    #[test]
    fn less_than_due_or_another_currency_is_refused() {
        assert!(matches!(
            Tender::new(kes("1,250"), kes("1,000")),
            Err(CashError::ShortTendered { .. })
        ));
        let usd = Money::parse("USD 20", Currency::Kes).unwrap();
        assert!(matches!(
            Tender::new(kes("1,250"), usd),
            Err(CashError::Money(MoneyError::CurrencyMismatch(..)))
        ));
    }

    #[test]
    fn a_count_by_denomination_adds_up_and_reads_back() {
        let c = Count::parse("50x4, 1000x5,500*3 ,20:1", Currency::Kes).unwrap();
        assert_eq!(c.total, kes("6,720"));
        assert_eq!(c.to_text(), "1000x5,500x3,50x4,20x1");
        assert_eq!(Count::parse(&c.to_text(), Currency::Kes).unwrap(), c);
    }

    #[test]
    fn a_bad_count_says_which_part() {
        for bad in ["", "1000", "1000x", "x5", "1000x-1", "1000x1.5", "abcx2"] {
            assert!(Count::parse(bad, Currency::Kes).is_err(), "{bad}");
        }
        assert!(matches!(
            Count::parse("1000x1,1000.00x2", Currency::Kes),
            Err(CashError::RepeatedDenomination(_))
        ));
        let many: Vec<String> = (1..=5000).map(|v| format!("{v}x1")).collect();
        assert!(matches!(
            Count::parse(&many.join(","), Currency::Kes),
            Err(CashError::TooManyDenominations(30))
        ));
        let huge = Count::parse("1000x4294967295,1000000000x4294967295", Currency::Kes);
        assert!(
            matches!(huge, Err(CashError::Money(MoneyError::Overflow))),
            "{huge:?}"
        );
    }

    #[test]
    fn a_variance_is_signed() {
        let short = Variance::between(kes("5,000"), kes("4,950")).unwrap();
        assert_eq!(short.minor, -5_000);
        assert_eq!(short.amount_string(), "-50.00");
        assert_eq!(short.to_string(), "KES 50.00 short");
        let over = Variance::between(kes("5,000"), kes("5,020")).unwrap();
        assert_eq!(over.amount_string(), "+20.00");
        assert_eq!(
            Variance::between(kes("1"), kes("1"))
                .unwrap()
                .amount_string(),
            "0.00"
        );
    }
}
