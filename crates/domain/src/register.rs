//! The company's policy register: every policy of every branch, as the core insurance system
//! exports it (CSV), imported once and shared by every counter.
//!
//! A row names the policy, its holder and premium; the schedule follows from the premium,
//! frequency, number of instalments and first due date, so every counter that holds the same
//! record derives the same instalments. Columns beyond the required five may be left out or
//! blank: a new policy then takes the defaults (monthly, 12 instalments, due from today,
//! active), an existing one keeps what it has. Reading the file changes nothing; the caller
//! decides with [`Draft::resolve`] against what it already holds.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::schedule::{self, Frequency, Instalment, ScheduleError};
use crate::time_zone::read_day;
use crate::{Currency, Email, HolderName, Money, Msisdn, PolicyNumber};

/// Whether a policy takes premiums.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyStatus {
    #[default]
    Active,
    /// Premiums fell behind; paying them reinstates the policy, so payments are taken.
    Lapsed,
    /// Ended: no payment is taken for it.
    Cancelled,
}

impl PolicyStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyStatus::Active => "active",
            PolicyStatus::Lapsed => "lapsed",
            PolicyStatus::Cancelled => "cancelled",
        }
    }
}

impl FromStr for PolicyStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "active" | "in force" | "inforce" => Ok(PolicyStatus::Active),
            "lapsed" => Ok(PolicyStatus::Lapsed),
            "cancelled" | "canceled" => Ok(PolicyStatus::Cancelled),
            other => Err(format!(
                "unknown status '{}'; use active, lapsed or cancelled",
                other.chars().take(20).collect::<String>()
            )),
        }
    }
}

impl fmt::Display for PolicyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A policy as the register holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterPolicy {
    pub number: PolicyNumber,
    pub holder: HolderName,
    pub phone: Msisdn,
    pub email: Option<Email>,
    /// The amount due per instalment.
    pub premium: Money,
    pub frequency: Frequency,
    pub instalments: u32,
    /// When the first instalment is due.
    pub start: Date,
    pub status: PolicyStatus,
}

impl RegisterPolicy {
    /// The instalments this record stands for.
    pub fn schedule(&self) -> Result<Vec<Instalment>, ScheduleError> {
        schedule::generate(self.start, self.instalments, self.frequency, self.premium)
    }
}

/// A row as read, before it meets what is already held: the optional columns that were left
/// out or blank are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// The line of the file (the header is line 1).
    pub line: u64,
    pub number: PolicyNumber,
    pub holder: HolderName,
    pub phone: Msisdn,
    pub email: Option<Email>,
    pub premium: Money,
    pub frequency: Option<Frequency>,
    pub instalments: Option<u32>,
    pub start: Option<Date>,
    pub status: Option<PolicyStatus>,
}

impl Draft {
    /// The record this row makes of `existing` (or of nothing, for a new policy); `today`
    /// is the first due date of a new policy that names none.
    pub fn resolve(
        &self,
        existing: Option<&RegisterPolicy>,
        today: Date,
    ) -> Result<RegisterPolicy, String> {
        let p = RegisterPolicy {
            number: self.number.clone(),
            holder: self.holder.clone(),
            phone: self.phone.clone(),
            email: self.email.clone(),
            premium: self.premium,
            frequency: self
                .frequency
                .or(existing.map(|e| e.frequency))
                .unwrap_or(Frequency::Monthly),
            instalments: self
                .instalments
                .or(existing.map(|e| e.instalments))
                .unwrap_or(12),
            start: self.start.or(existing.map(|e| e.start)).unwrap_or(today),
            status: self
                .status
                .or(existing.map(|e| e.status))
                .unwrap_or_default(),
        };
        p.schedule().map_err(|e| format!("instalments: {e}"))?;
        Ok(p)
    }
}

/// A row that cannot be imported: its line, its policy number when it has one, and why.
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub line: u64,
    pub number: Option<String>,
    pub why: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.number {
            Some(n) => write!(f, "line {} ({n}): {}", self.line, self.why),
            None => write!(f, "line {}: {}", self.line, self.why),
        }
    }
}

/// The columns every register file has; `frequency`, `instalments`, `start_date`, `status`
/// and `currency` may follow.
pub const REQUIRED_COLUMNS: [&str; 5] =
    ["policy_number", "holder_name", "phone", "email", "premium"];

/// Reads a register file: every row either a [`Draft`] or [`Refused`] with its line. A
/// policy number that appears twice refuses the second row. `currency` is that of premiums in
/// rows with no `currency` column. The error is for a file that cannot be read at all (no
/// header, or one that lacks a required column).
pub fn read_csv(text: &[u8], currency: Currency) -> Result<(Vec<Draft>, Vec<Refused>), String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(text);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("cannot read the header line: {e}"))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let missing: Vec<&str> = REQUIRED_COLUMNS
        .iter()
        .copied()
        .filter(|c| column(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "the header lacks {}; it must start {}",
            missing.join(", "),
            REQUIRED_COLUMNS.join(",")
        ));
    }
    let mut drafts = Vec::new();
    let mut refused = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                refused.push(Refused {
                    line,
                    number: None,
                    why: e.to_string(),
                });
                continue;
            }
        };
        let line = record.position().map_or(0, |p| p.line());
        let get = |name: &str| {
            column(name)
                .and_then(|i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let number = get("policy_number").map(str::to_owned);
        match read_row(line, &get, currency) {
            Ok(draft) => {
                let key = draft.number.to_string();
                if let Some(first) = first_line.get(&key) {
                    refused.push(Refused {
                        line,
                        number: Some(key),
                        why: format!("appears again (first on line {first})"),
                    });
                } else {
                    first_line.insert(key, line);
                    drafts.push(draft);
                }
            }
            Err(why) => refused.push(Refused {
                line,
                number: number.map(|n| n.chars().take(40).collect()),
                why,
            }),
        }
    }
    Ok((drafts, refused))
}

/// One policy as a form gives it, read by the rules a register row is read by: `get` answers
/// a column name (`policy_number`, `holder_name`, `phone`, `email`, `premium`, `frequency`,
/// `instalments`, `start_date`, `status`) with its value, none when blank.
pub fn draft_of<'a>(
    get: &dyn Fn(&str) -> Option<&'a str>,
    currency: Currency,
) -> Result<Draft, String> {
    read_row(0, get, currency)
}

fn read_row<'a>(
    line: u64,
    get: &dyn Fn(&str) -> Option<&'a str>,
    currency: Currency,
) -> Result<Draft, String> {
    let number = PolicyNumber::parse(get("policy_number").unwrap_or_default())
        .map_err(|e| format!("policy number: {e}"))?;
    let holder = HolderName::parse(get("holder_name").unwrap_or_default())
        .map_err(|e| format!("holder: {e}"))?;
    let phone =
        Msisdn::parse(get("phone").unwrap_or_default()).map_err(|e| format!("phone: {e}"))?;
    let email = get("email")
        .map(Email::parse)
        .transpose()
        .map_err(|e| format!("email: {e}"))?;
    let currency = match get("currency") {
        Some(code) => Currency::from_code(code).map_err(|e| format!("currency: {e}"))?,
        None => currency,
    };
    let premium = Money::parse(get("premium").unwrap_or_default(), currency)
        .map_err(|e| format!("premium: {e}"))?;
    if premium.is_zero() {
        return Err("premium: it must be more than zero".into());
    }
    let frequency = get("frequency")
        .map(str::parse::<Frequency>)
        .transpose()
        .map_err(|e| format!("frequency: {e}"))?;
    let instalments = get("instalments")
        .map(|n| {
            n.parse::<u32>()
                .map_err(|_| format!("instalments: '{n}' is not a whole number"))
        })
        .transpose()?;
    let start = get("start_date")
        .map(|d| read_day(d).map_err(|why| format!("start date: '{d}' is not a date: {why}")))
        .transpose()?;
    let status = get("status")
        .map(str::parse::<PolicyStatus>)
        .transpose()
        .map_err(|e| format!("status: {e}"))?;
    Ok(Draft {
        line,
        number,
        holder,
        phone,
        email,
        premium,
        frequency,
        instalments,
        start,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 30);

    #[test]
    fn rows_are_read_with_their_lines_and_bad_ones_refused_with_why() {
        let text = "\u{feff}Policy_Number,holder_name,phone,email,premium,frequency,instalments,start_date,status\n\
                    P-1,Amina Wanjiru,0712 345 678,amina@example.co.ke,\"1,500\",monthly,12,01/07/2026,active\n\
                    P-2,Otieno,0722000111,,2000,,,,\n\
                    P-3,Chebet,0722,,2000\n\
                    P-1,Again,0712345678,,100\n\
                    P-4,Kip,0745678901,,50,weekly\n\
                    P-5,Njeri,0701234567,,3200,,,,gone\n";
        let (drafts, refused) = read_csv(text.as_bytes(), Currency::Kes).unwrap();
        assert_eq!(drafts.len(), 2);
        assert_eq!(drafts[0].line, 2);
        assert_eq!(drafts[0].start, Some(date!(2026 - 07 - 01)), "day first");
        assert_eq!(drafts[1].frequency, None, "blank: not given");
        let lines: Vec<(u64, &str)> = refused.iter().map(|r| (r.line, r.why.as_str())).collect();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(refused[0].line, 4);
        assert!(refused[0].why.starts_with("phone:"), "{}", refused[0]);
        assert_eq!(
            refused[1].to_string(),
            "line 5 (P-1): appears again (first on line 2)"
        );
        assert!(refused[2].why.starts_with("frequency:"), "{}", refused[2]);
        assert!(refused[3].why.contains("unknown status"), "{}", refused[3]);
    }

    #[test]
    fn a_new_policy_takes_the_defaults_and_an_existing_one_keeps_what_is_not_given() {
        let text = "policy_number,holder_name,phone,email,premium\nP-1,Amina,0712345678,,1500\n";
        let (drafts, _) = read_csv(text.as_bytes(), Currency::Kes).unwrap();
        let new = drafts[0].resolve(None, TODAY).unwrap();
        assert_eq!(
            (new.frequency, new.instalments, new.start, new.status),
            (Frequency::Monthly, 12, TODAY, PolicyStatus::Active)
        );
        let held = RegisterPolicy {
            frequency: Frequency::Quarterly,
            instalments: 4,
            start: date!(2026 - 01 - 10),
            status: PolicyStatus::Lapsed,
            ..new.clone()
        };
        let again = drafts[0]
            .resolve(Some(&held), date!(2027 - 03 - 01))
            .unwrap();
        assert_eq!(again, held, "re-importing the same file changes nothing");
        assert_eq!(again.schedule().unwrap().len(), 4);
    }

    #[test]
    fn a_file_without_the_required_columns_is_refused_whole() {
        let err = read_csv(b"number,holder\nP-1,A\n", Currency::Kes).unwrap_err();
        assert!(err.contains("lacks policy_number"), "{err}");
    }

    #[test]
    fn premiums_in_another_currency_say_so() {
        let text = "policy_number,holder_name,phone,email,premium,currency\nP-1,Ade,0712345678,,\"20,000\",NGN\n";
        let (drafts, refused) = read_csv(text.as_bytes(), Currency::Kes).unwrap();
        assert!(refused.is_empty(), "{refused:?}");
        assert_eq!(
            drafts[0].premium,
            Money::from_minor(2_000_000, Currency::Ngn).unwrap()
        );
    }
}
