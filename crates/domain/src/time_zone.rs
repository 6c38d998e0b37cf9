//! Nairobi time. East Africa Time is UTC+3 all year (no daylight saving), so a fixed offset is
//! exact. Days in summaries, receipts and schedules are Nairobi days.

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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

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
