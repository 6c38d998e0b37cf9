//! Nairobi time. East Africa Time is UTC+3 all year (no daylight saving), so a fixed offset is
//! exact. Days in summaries, receipts and schedules are Nairobi days.
//!
//! Dates are written day first, the Kenyan way (30/11/2026), whatever the machine's locale;
//! the ISO form (2026-11-30) is read too, for scripts and for what machines exchange.

use time::{Date, OffsetDateTime, Time, UtcOffset, macros::offset};

pub const NAIROBI: UtcOffset = offset!(+3);

/// The Nairobi calendar date of an instant.
pub fn nairobi_date(at: OffsetDateTime) -> Date {
    at.to_offset(NAIROBI).date()
}

/// The first instant of a Nairobi day, in UTC milliseconds since the epoch.
pub fn day_start_ms(date: Date) -> i64 {
    let start = date.with_time(Time::MIDNIGHT).assume_offset(NAIROBI);
    (start.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Milliseconds since the epoch, the form instants are stored in.
pub fn to_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// The instant `ms` milliseconds after the epoch, in UTC.
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A date as a person writes it: day first (`30/11/2026`, `30-11-2026`, `30.11.2026`, `1/2/2026`),
/// or the ISO form (`2026-11-30`). Anything else, including month-first dates whose "month" is
/// over 12 and impossible days like 31/02, is `None`.
pub fn parse_day(text: &str) -> Option<Date> {
    read_day(text).ok()
}

/// [`parse_day`], saying what is wrong when it is not a date: a month that does not exist, a
/// day the month does not have (`February 2026 has 28 days`), or not a date at all.
pub fn read_day(text: &str) -> Result<Date, String> {
    const LIKE: &str = "write the date day first, like 30/11/2026";
    let text = text.trim();
    if text.len() > 10 {
        return Err(LIKE.to_owned());
    }
    let parts: Vec<&str> = text.split(['/', '-', '.']).collect();
    let [a, b, c] = parts.as_slice() else {
        return Err(LIKE.to_owned());
    };
    let number = |s: &str, max_len: usize| {
        (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u16>().ok())
            .flatten()
            .ok_or_else(|| LIKE.to_owned())
    };
    let (year, month, day) = if a.len() == 4 && text.contains('-') {
        (number(a, 4)?, number(b, 2)?, number(c, 2)?)
    } else if c.len() == 4 {
        (number(c, 4)?, number(b, 2)?, number(a, 2)?)
    } else {
        return Err(LIKE.to_owned());
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok())
        .ok_or_else(|| format!("there is no month {month}: {LIKE}"))?;
    let year = i32::from(year);
    let days = time::util::days_in_month(month, year);
    match u8::try_from(day) {
        Ok(d) if (1..=days).contains(&d) => {
            Date::from_calendar_date(year, month, d).map_err(|_| LIKE.to_owned())
        }
        _ => Err(format!("{month} {year} has {days} days")),
    }
}

/// A date the Kenyan way: `30/11/2026`.
pub fn kenyan_date(date: Date) -> String {
    format!(
        "{:02}/{:02}/{}",
        date.day(),
        u8::from(date.month()),
        date.year()
    )
}

/// An instant as a Kenyan reads it, in Nairobi time: `30/11/2026 14:05`.
pub fn nairobi_time(at: OffsetDateTime) -> String {
    let local = at.to_offset(NAIROBI);
    format!(
        "{} {:02}:{:02}",
        kenyan_date(local.date()),
        local.hour(),
        local.minute()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_impossible_date_says_what_is_wrong() {
        assert_eq!(
            read_day("31/02/2026"),
            Err("February 2026 has 28 days".into())
        );
        assert_eq!(read_day("29/02/2028").map(|d| d.day()), Ok(29));
        assert_eq!(read_day("0/3/2026"), Err("March 2026 has 31 days".into()));
        assert_eq!(
            read_day("11/30/2026"),
            Err("there is no month 30: write the date day first, like 30/11/2026".into())
        );
        assert_eq!(
            read_day("tomorrow"),
            Err("write the date day first, like 30/11/2026".into())
        );
    }

    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn dates_are_read_day_first_or_iso() {
        let d = date!(2026 - 11 - 30);
        for text in [
            "30/11/2026",
            "30-11-2026",
            "30.11.2026",
            " 30/11/2026 ",
            "2026-11-30",
        ] {
            assert_eq!(parse_day(text), Some(d), "{text}");
        }
        assert_eq!(
            parse_day("1/2/2026"),
            Some(date!(2026 - 02 - 01)),
            "day first"
        );
        for text in [
            "11/30/2026",
            "31/02/2026",
            "2026/11/30",
            "30/11/26",
            "30/11",
            "",
            "30//2026",
            "+3/11/2026",
            "30/11/2026/1",
            "0030/11/2026",
        ] {
            assert_eq!(parse_day(text), None, "{text:?}");
        }
    }

    #[test]
    fn dates_are_written_day_first() {
        assert_eq!(kenyan_date(date!(2026 - 11 - 30)), "30/11/2026");
        assert_eq!(kenyan_date(date!(2027 - 01 - 05)), "05/01/2027");
        assert_eq!(
            parse_day(&kenyan_date(date!(2027 - 01 - 05))),
            Some(date!(2027 - 01 - 05))
        );
    }

    #[test]
    fn late_evening_utc_is_already_tomorrow_in_nairobi() {
        assert_eq!(
            nairobi_date(datetime!(2026-11-26 21:30 UTC)),
            date!(2026 - 11 - 27)
        );
        assert_eq!(
            nairobi_date(datetime!(2026-11-26 20:59 UTC)),
            date!(2026 - 11 - 26)
        );
    }

    #[test]
    fn a_nairobi_day_starts_at_21_00_utc_the_day_before() {
        let ms = day_start_ms(date!(2026 - 11 - 27));
        assert_eq!(from_ms(ms), datetime!(2026-11-26 21:00 UTC));
        assert_eq!(to_ms(from_ms(ms)), ms);
    }
}
