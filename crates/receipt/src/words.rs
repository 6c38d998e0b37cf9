//! Amounts in words, as receipts print them: "One thousand five hundred Kenya shillings and
//! fifty cents only".

use malipo_domain::{Currency, Money};

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
const SCALES: [(u64, &str); 4] = [
    (1_000_000_000_000, "trillion"),
    (1_000_000_000, "billion"),
    (1_000_000, "million"),
    (1_000, "thousand"),
];

/// 0..1000 in words ("three hundred and forty-two").
fn below_thousand(n: u64) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let rest_words = match rest {
        0 => String::new(),
        1..=19 => ONES[rest as usize].to_owned(),
        _ => match (TENS[(rest / 10) as usize], rest % 10) {
            (tens, 0) => tens.to_owned(),
            (tens, unit) => format!("{tens}-{}", ONES[unit as usize]),
        },
    };
    match (hundreds, rest_words.is_empty()) {
        (0, _) => rest_words,
        (h, true) => format!("{} hundred", ONES[h as usize]),
        (h, false) => format!("{} hundred and {rest_words}", ONES[h as usize]),
    }
}

/// A whole number in British English words ("one thousand and five", "two million").
pub fn number(n: u64) -> String {
    if n == 0 {
        return ONES[0].to_owned();
    }
    let mut parts = Vec::new();
    let mut rest = n;
    for (scale, name) in SCALES {
        if rest >= scale {
            parts.push(format!("{} {name}", number(rest / scale)));
            rest %= scale;
        }
    }
    if rest > 0 {
        // "one thousand and five": the "and" before a last part under a hundred.
        if !parts.is_empty() && rest < 100 {
            parts.push(format!("and {}", below_thousand(rest)));
        } else {
            parts.push(below_thousand(rest));
        }
    }
    parts.join(" ")
}

fn units(currency: Currency) -> (&'static str, &'static str, &'static str, &'static str) {
    match currency {
        Currency::Kes => ("Kenya shilling", "Kenya shillings", "cent", "cents"),
        Currency::Ngn => ("naira", "naira", "kobo", "kobo"),
        Currency::Ghs => ("Ghana cedi", "Ghana cedis", "pesewa", "pesewas"),
        Currency::Zar => ("rand", "rand", "cent", "cents"),
        Currency::Usd => ("US dollar", "US dollars", "cent", "cents"),
    }
}

/// The amount in words, capitalised, ending in "only".
pub fn amount(m: Money) -> String {
    let per = 10_u64.pow(m.currency().decimals());
    let minor = m.minor().unsigned_abs();
    let (whole, part) = (minor / per, minor % per);
    let (one, many, sub_one, sub_many) = units(m.currency());
    let mut text = format!("{} {}", number(whole), if whole == 1 { one } else { many });
    if part > 0 {
        text.push_str(&format!(
            " and {} {}",
            number(part),
            if part == 1 { sub_one } else { sub_many }
        ));
    }
    text.push_str(" only");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_a_cashier_would_write_them() {
        for (n, words) in [
            (0, "zero"),
            (7, "seven"),
            (15, "fifteen"),
            (40, "forty"),
            (42, "forty-two"),
            (100, "one hundred"),
            (101, "one hundred and one"),
            (342, "three hundred and forty-two"),
            (1_000, "one thousand"),
            (1_005, "one thousand and five"),
            (1_500, "one thousand five hundred"),
            (250_000, "two hundred and fifty thousand"),
            (1_000_001, "one million and one"),
            (
                2_345_678,
                "two million three hundred and forty-five thousand six hundred and seventy-eight",
            ),
        ] {
            assert_eq!(number(n), words, "{n}");
        }
    }

    #[test]
    fn amounts_name_the_currency_and_its_cents() {
        let kes = |minor| Money::from_minor(minor, Currency::Kes).unwrap();
        assert_eq!(
            amount(kes(150_050)),
            "One thousand five hundred Kenya shillings and fifty cents only"
        );
        assert_eq!(amount(kes(100)), "One Kenya shilling only");
        assert_eq!(amount(kes(1)), "Zero Kenya shillings and one cent only");
        assert_eq!(
            amount(Money::from_minor(2_000_000, Currency::Ngn).unwrap()),
            "Twenty thousand naira only"
        );
    }
}
