//! Instalment schedules. A policy's premium is due in instalments; which are paid, pending or
//! overdue is derived from what has been paid and a date passed in, never stored.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::money::{Money, MoneyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    Monthly,
    Quarterly,
    Annually,
}

impl Frequency {
    pub fn months(self) -> u32 {
        match self {
            Frequency::Monthly => 1,
            Frequency::Quarterly => 3,
            Frequency::Annually => 12,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Monthly => "monthly",
            Frequency::Quarterly => "quarterly",
            Frequency::Annually => "annually",
        }
    }
}

impl FromStr for Frequency {
    type Err = ScheduleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "monthly" => Ok(Frequency::Monthly),
            "quarterly" => Ok(Frequency::Quarterly),
            "annually" | "annual" | "yearly" => Ok(Frequency::Annually),
            _ => Err(ScheduleError::Frequency(s.to_owned())),
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("a schedule has 1 to 120 instalments; got {0}")]
    Count(u32),
    #[error("unknown frequency '{0}'; use monthly, quarterly or annually")]
    Frequency(String),
    #[error("the schedule runs past the year 9999")]
    OutOfRange,
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// One instalment: the `seq`-th (from 1) of a policy's schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Instalment {
    pub seq: u32,
    pub due: Date,
    pub amount: Money,
}

#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstalmentStatus {
    Paid,
    /// Not fully paid and not yet past its due date.
    Pending,
    /// Not fully paid and past its due date.
    Overdue,
}

impl InstalmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InstalmentStatus::Paid => "paid",
            InstalmentStatus::Pending => "pending",
            InstalmentStatus::Overdue => "overdue",
        }
    }
}

/// Where a policy stands with its premiums on a day, from its oldest instalment not fully paid:
/// `active` while nothing is past due; in `grace` from the day after a missed due date for the
/// grace days; `lapsed` after them. Paying the arrears makes it active again (the standing is
/// read from the payments, so every counter that has them agrees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Active,
    Grace { ends: Date },
    Lapsed { since: Date },
}

impl Standing {
    /// The standing on `today` of a policy whose oldest unpaid instalment fell due on
    /// `oldest_unpaid` (none: everything due is paid), with `grace_days` of grace.
    pub fn on(oldest_unpaid: Option<Date>, today: Date, grace_days: u32) -> Standing {
        let Some(due) = oldest_unpaid.filter(|d| *d < today) else {
            return Standing::Active;
        };
        let ends = due
            .checked_add(time::Duration::days(i64::from(grace_days)))
            .unwrap_or(Date::MAX);
        if today <= ends {
            Standing::Grace { ends }
        } else {
            Standing::Lapsed {
                since: ends.next_day().unwrap_or(ends),
            }
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Active => "active",
            Standing::Grace { .. } => "grace",
            Standing::Lapsed { .. } => "lapsed",
        }
    }
}

/// An instalment as it stands on a given day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstalmentState {
    pub instalment: Instalment,
    /// What has been paid towards this instalment.
    pub paid: Money,
    pub outstanding: Money,
    pub status: InstalmentStatus,
    /// Days past due, 0 unless overdue.
    pub days_overdue: i64,
}

/// `count` instalments of `amount`, the first due on `start`, then every `frequency`.
/// A due day that a month lacks falls on that month's last day (31 Jan → 28 Feb).
pub fn generate(
    start: Date,
    count: u32,
    frequency: Frequency,
    amount: Money,
) -> Result<Vec<Instalment>, ScheduleError> {
    if !(1..=120).contains(&count) {
        return Err(ScheduleError::Count(count));
    }
    (0..count)
        .map(|i| {
            let due = add_months(start, i * frequency.months()).ok_or(ScheduleError::OutOfRange)?;
            Ok(Instalment {
                seq: i + 1,
                due,
                amount,
            })
        })
        .collect()
}

fn add_months(date: Date, months: u32) -> Option<Date> {
    let index = date.year() * 12 + i32::from(u8::from(date.month())) - 1 + months as i32;
    let year = index.div_euclid(12);
    let month = Month::try_from((index.rem_euclid(12) + 1) as u8).ok()?;
    let day = date.day().min(month.length(year));
    Date::from_calendar_date(year, month, day).ok()
}

/// Spreads `paid_total` over the instalments in due order and says where each stands on
/// `today`. An instalment due today is pending, not overdue.
pub fn states(
    instalments: &[Instalment],
    paid_total: Money,
    today: Date,
) -> Result<Vec<InstalmentState>, ScheduleError> {
    let mut sorted = instalments.to_vec();
    sorted.sort_by_key(|i| (i.due, i.seq));
    let mut left = paid_total;
    sorted
        .into_iter()
        .map(|instalment| {
            let amount = instalment.amount;
            if left.currency() != amount.currency() {
                return Err(
                    MoneyError::CurrencyMismatch(left.currency(), amount.currency()).into(),
                );
            }
            let paid = Money::from_minor(left.minor().min(amount.minor()), amount.currency())?;
            left = left.checked_sub(paid)?;
            let outstanding = amount.checked_sub(paid)?;
            let (status, days_overdue) = if outstanding.is_zero() {
                (InstalmentStatus::Paid, 0)
            } else if instalment.due < today {
                (
                    InstalmentStatus::Overdue,
                    (today - instalment.due).whole_days(),
                )
            } else {
                (InstalmentStatus::Pending, 0)
            };
            Ok(InstalmentState {
                instalment,
                paid,
                outstanding,
                status,
                days_overdue,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_instalment_is_grace_for_the_grace_days_then_lapsed() {
        let due = time::macros::date!(2026 - 12 - 01);
        let grace = |today| Standing::on(Some(due), today, 14);
        assert_eq!(Standing::on(None, due, 14), Standing::Active);
        assert_eq!(grace(due), Standing::Active, "due today is not missed yet");
        let ends = time::macros::date!(2026 - 12 - 15);
        assert_eq!(
            grace(time::macros::date!(2026 - 12 - 02)),
            Standing::Grace { ends }
        );
        assert_eq!(
            grace(ends),
            Standing::Grace { ends },
            "the last day of grace"
        );
        assert_eq!(
            grace(time::macros::date!(2026 - 12 - 16)),
            Standing::Lapsed {
                since: time::macros::date!(2026 - 12 - 16)
            }
        );
        assert_eq!(
            Standing::on(Some(due), time::macros::date!(2026 - 12 - 02), 0).as_str(),
            "lapsed",
            "no grace: lapsed the day after"
        );
    }
    use crate::money::Currency;
    use proptest::prelude::*;
    use time::macros::date;

    fn kes(minor: i64) -> Money {
        Money::from_minor(minor, Currency::Kes).unwrap()
    }

    #[test]
    fn month_ends_are_clamped() {
        let s = generate(date!(2026 - 01 - 31), 4, Frequency::Monthly, kes(100)).unwrap();
        let dues: Vec<Date> = s.iter().map(|i| i.due).collect();
        assert_eq!(
            dues,
            [
                date!(2026 - 01 - 31),
                date!(2026 - 02 - 28),
                date!(2026 - 03 - 31),
                date!(2026 - 04 - 30)
            ]
        );
        let q = generate(date!(2026 - 11 - 15), 2, Frequency::Quarterly, kes(1)).unwrap();
        assert_eq!(q[1].due, date!(2027 - 02 - 15));
        assert_eq!(
            generate(date!(2026 - 01 - 01), 0, Frequency::Monthly, kes(1)),
            Err(ScheduleError::Count(0))
        );
    }

    #[test]
    fn payments_fill_the_oldest_instalment_first() {
        let s = generate(date!(2026 - 09 - 01), 4, Frequency::Monthly, kes(10_000)).unwrap();
        let st = states(&s, kes(15_000), date!(2026 - 11 - 01)).unwrap();
        let status: Vec<_> = st.iter().map(|s| s.status).collect();
        assert_eq!(
            status,
            [
                InstalmentStatus::Paid,
                InstalmentStatus::Overdue,
                InstalmentStatus::Pending,
                InstalmentStatus::Pending
            ],
            "Sep is paid, Oct half paid and overdue, Nov is due today, Dec later"
        );
        assert_eq!(st[1].outstanding, kes(5_000));
        assert_eq!(st[1].days_overdue, 31);
    }

    proptest! {
        #[test]
        fn states_account_for_every_cent(
            count in 1_u32..24, each in 1_i64..100_000, paid in 0_i64..3_000_000, day in 0_i64..800
        ) {
            let s = generate(date!(2026 - 01 - 15), count, Frequency::Monthly, kes(each)).unwrap();
            let today = date!(2026 - 01 - 01) + time::Duration::days(day);
            let st = states(&s, kes(paid), today).unwrap();
            let allocated: i64 = st.iter().map(|s| s.paid.minor()).sum();
            prop_assert_eq!(allocated, paid.min(each * i64::from(count)));
            for s in &st {
                prop_assert_eq!(s.paid.minor() + s.outstanding.minor(), each);
                let overdue = s.status == InstalmentStatus::Overdue;
                prop_assert_eq!(overdue, !s.outstanding.is_zero() && s.instalment.due < today);
            }
        }
    }
}
