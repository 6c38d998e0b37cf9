//! Retention: the relay keeps providers' bodies for `MALIPO_RELAY_RETENTION_DAYS` (default 90;
//! `0` keeps everything). An event is purged only when it is older than that **and** every
//! active device of its tenant has read past it: what a counter has not yet read is never
//! purged, however old (a tenant with no active device keeps everything). Purging goes in small
//! batches, each one transaction that deletes the events and adds them to the per-day counts
//! (`event_days`: tenant, Nairobi day, provider, kind), so the figures outlive the bodies. On
//! PostgreSQL two instances purging at once delete each event once and count it once: the
//! counts come from what each delete returned.
//!
//! A body replayed after its event was purged is stored as a new event; the offices treat it as
//! any repeat (nothing moves money without the provider's confirmation).

use std::collections::BTreeMap;
use std::time::Duration;

use sqlx::Row;

use crate::store::{RelayStore, Result, now_ms, on_db};

/// Events deleted in one transaction: small, so the writer of new callbacks never waits long.
const BATCH: i64 = 500;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;
/// Nairobi is UTC+3 all year.
const NAIROBI_MS: i64 = 3 * 60 * 60 * 1000;

/// How long bodies are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    KeepAll,
    Days(u32),
}

impl Retention {
    pub const DEFAULT_DAYS: u32 = 90;

    /// `MALIPO_RELAY_RETENTION_DAYS`: a whole number of days, `0` to keep everything; 90 when
    /// unset.
    pub fn from_env() -> std::result::Result<Retention, String> {
        match std::env::var("MALIPO_RELAY_RETENTION_DAYS") {
            Err(_) => Ok(Retention::Days(Self::DEFAULT_DAYS)),
            Ok(v) if v.trim().is_empty() => Ok(Retention::Days(Self::DEFAULT_DAYS)),
            Ok(v) => Retention::parse(&v)
                .map_err(|why| format!("MALIPO_RELAY_RETENTION_DAYS={v}: {why}")),
        }
    }

    pub fn parse(text: &str) -> std::result::Result<Retention, String> {
        match text.trim().parse::<u32>() {
            Ok(0) => Ok(Retention::KeepAll),
            Ok(n) if n <= 36_500 => Ok(Retention::Days(n)),
            _ => Err("give a whole number of days (0 keeps everything)".into()),
        }
    }
}

/// What one pass purged, or would purge, of one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct TenantPurge {
    pub tenant: String,
    /// Events older than the cutoff that every active device has read: purged (or, in a dry
    /// run, to be purged).
    pub purged: i64,
    /// Events older than the cutoff kept because an active device has not read them yet.
    pub kept_unread: i64,
    /// The device furthest behind, when it holds events back.
    pub held_by: Option<String>,
}

/// One pass of retention.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PurgeReport {
    pub dry_run: bool,
    pub days: u32,
    /// Events received before this instant (ms since the epoch) were old enough.
    pub cutoff_ms: i64,
    pub tenants: Vec<TenantPurge>,
}

impl PurgeReport {
    pub fn purged(&self) -> i64 {
        self.tenants.iter().map(|t| t.purged).sum()
    }

    pub fn kept_unread(&self) -> i64 {
        self.tenants.iter().map(|t| t.kept_unread).sum()
    }

    /// One line for the log and the terminal.
    pub fn summary(&self) -> String {
        let verb = if self.dry_run {
            "would purge"
        } else {
            "purged"
        };
        let mut line = format!(
            "retention ({} days): {verb} {} events",
            self.days,
            self.purged()
        );
        let held: Vec<String> = self
            .tenants
            .iter()
            .filter(|t| t.kept_unread > 0)
            .map(|t| {
                format!(
                    "{} of tenant {} (device {} has not read them)",
                    t.kept_unread,
                    t.tenant,
                    t.held_by.as_deref().unwrap_or("?")
                )
            })
            .collect();
        if !held.is_empty() {
            line.push_str(&format!("; kept, not yet read: {}", held.join(", ")));
        }
        line
    }
}

/// The Nairobi day of `ms` since the epoch, `YYYY-MM-DD`.
fn nairobi_day(ms: i64) -> String {
    let days = (ms + NAIROBI_MS).div_euclid(DAY_MS);
    let date = time::Date::from_julian_day(
        i32::try_from(days + 2_440_588).unwrap_or(time::Date::MIN.to_julian_day()),
    )
    .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

impl RelayStore {
    /// One retention pass as of `now_ms`: per tenant, deletes (or with `dry_run` counts) the
    /// events received more than `days` before that every active device has read.
    pub async fn purge(&self, days: u32, now_ms: i64, dry_run: bool) -> Result<PurgeReport> {
        let cutoff = now_ms - i64::from(days) * DAY_MS;
        let tenants: Vec<(String, Option<i64>, Option<String>)> = on_db!(&self.db, |pool, sql| {
            sqlx::query(sql("SELECT t.id,
                        (SELECT min(d.acked_seq) FROM devices d
                           WHERE d.tenant_id = t.id AND d.revoked = 0) AS read_to,
                        (SELECT d.id FROM devices d WHERE d.tenant_id = t.id AND d.revoked = 0
                           ORDER BY d.acked_seq, d.id LIMIT 1) AS slowest
                 FROM tenants t ORDER BY t.id"))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("id"), r.get("read_to"), r.get("slowest")))
            .collect()
        });
        let mut report = PurgeReport {
            dry_run,
            days,
            cutoff_ms: cutoff,
            tenants: Vec::new(),
        };
        for (tenant, read_to, slowest) in tenants {
            // No active device: nobody has read anything, so nothing may go.
            let read_to = read_to.unwrap_or(0);
            let (old_read, old_unread) = self.old_events(&tenant, read_to, cutoff).await?;
            let purged = if dry_run || old_read == 0 {
                old_read
            } else {
                self.purge_tenant(&tenant, read_to, cutoff).await?
            };
            if purged > 0 || old_unread > 0 {
                report.tenants.push(TenantPurge {
                    tenant,
                    purged,
                    kept_unread: old_unread,
                    held_by: slowest.filter(|_| old_unread > 0),
                });
            }
        }
        if !dry_run {
            self.metrics().purged(report.purged());
        }
        Ok(report)
    }

    /// Old events of `tenant` read by every active device, and old ones not yet read.
    async fn old_events(&self, tenant: &str, read_to: i64, cutoff: i64) -> Result<(i64, i64)> {
        Ok(on_db!(&self.db, |pool, sql| {
            let row = sqlx::query(sql(
                "SELECT coalesce(sum(CASE WHEN seq <= ? THEN 1 ELSE 0 END), 0) AS read,
                        coalesce(sum(CASE WHEN seq > ? THEN 1 ELSE 0 END), 0) AS unread
                 FROM events WHERE tenant_id = ? AND received_at < ?",
            ))
            .bind(read_to)
            .bind(read_to)
            .bind(tenant)
            .bind(cutoff)
            .fetch_one(pool)
            .await?;
            (row.get::<i64, _>("read"), row.get::<i64, _>("unread"))
        }))
    }

    /// Deletes `tenant`'s old, read events batch by batch; returns how many this call deleted.
    async fn purge_tenant(&self, tenant: &str, read_to: i64, cutoff: i64) -> Result<i64> {
        let mut total = 0;
        loop {
            let n = self.purge_batch(tenant, read_to, cutoff).await?;
            total += n;
            if n < BATCH {
                return Ok(total);
            }
            // Let the writer of new callbacks in between batches.
            tokio::task::yield_now().await;
        }
    }

    async fn purge_batch(&self, tenant: &str, read_to: i64, cutoff: i64) -> Result<i64> {
        on_db!(&self.db, |pool, sql| {
            let mut tx = pool.begin().await?;
            let gone: Vec<(i64, String, String)> =
                sqlx::query(sql("DELETE FROM events WHERE tenant_id = ? AND seq IN
                     (SELECT seq FROM events WHERE tenant_id = ? AND seq <= ? AND received_at < ?
                      ORDER BY seq LIMIT ?)
                 RETURNING received_at, provider, kind"))
                .bind(tenant)
                .bind(tenant)
                .bind(read_to)
                .bind(cutoff)
                .bind(BATCH)
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| (r.get("received_at"), r.get("provider"), r.get("kind")))
                .collect();
            let mut days: BTreeMap<(String, String, String), i64> = BTreeMap::new();
            for (at, provider, kind) in &gone {
                *days
                    .entry((nairobi_day(*at), provider.clone(), kind.clone()))
                    .or_default() += 1;
            }
            for ((day, provider, kind), n) in days {
                sqlx::query(sql(
                    "INSERT INTO event_days (tenant_id, day, provider, kind, events)
                     VALUES (?, ?, ?, ?, ?)
                     ON CONFLICT (tenant_id, day, provider, kind)
                     DO UPDATE SET events = event_days.events + excluded.events",
                ))
                .bind(tenant)
                .bind(day)
                .bind(provider)
                .bind(kind)
                .bind(n)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(i64::try_from(gone.len()).unwrap_or(i64::MAX))
        })
    }

    /// The per-day counts of `tenant`'s events: the purged ones kept in `event_days` and the
    /// ones still stored, added together, oldest day first: (day, provider, kind, events).
    pub async fn event_days(&self, tenant: &str) -> Result<Vec<(String, String, String, i64)>> {
        let mut days: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        on_db!(&self.db, |pool, sql| {
            for r in sqlx::query(sql(
                "SELECT day, provider, kind, events FROM event_days WHERE tenant_id = ?",
            ))
            .bind(tenant)
            .fetch_all(pool)
            .await?
            {
                *days
                    .entry((r.get("day"), r.get("provider"), r.get("kind")))
                    .or_default() += r.get::<i64, _>("events");
            }
            for r in sqlx::query(sql(
                "SELECT received_at, provider, kind FROM events WHERE tenant_id = ?",
            ))
            .bind(tenant)
            .fetch_all(pool)
            .await?
            {
                *days
                    .entry((
                        nairobi_day(r.get("received_at")),
                        r.get("provider"),
                        r.get("kind"),
                    ))
                    .or_default() += 1;
            }
        });
        Ok(days
            .into_iter()
            .map(|((day, provider, kind), n)| (day, provider, kind, n))
            .collect())
    }
}

/// How often the schedule purges, and how soon after start its first pass (a report only).
pub const EVERY: Duration = Duration::from_secs(60 * 60);
pub const FIRST_AFTER: Duration = Duration::from_secs(60);

/// The schedule a serving relay runs: a first pass after [`FIRST_AFTER`] that only reports what
/// it would purge (logged, so an operator who just turned retention on sees it before anything
/// goes), then a purge every [`EVERY`]. Runs until the task is dropped.
pub async fn schedule(store: RelayStore, days: u32) {
    tokio::time::sleep(FIRST_AFTER).await;
    let mut dry_run = true;
    loop {
        match store.purge(days, now_ms(), dry_run).await {
            Ok(report) => {
                let mut line = report.summary();
                if dry_run {
                    line.push_str(&format!(
                        "; nothing was deleted: purging starts in {} minutes",
                        EVERY.as_secs() / 60
                    ));
                }
                eprintln!("malipo-relay: {line}");
            }
            Err(e) => eprintln!("malipo-relay: retention: {e}; tried again in an hour"),
        }
        dry_run = false;
        tokio::time::sleep(EVERY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_nairobi_days() {
        // 2026-12-06 21:30 UTC is 00:30 on the 7th in Nairobi.
        let ms = time::macros::datetime!(2026-12-06 21:30 UTC).unix_timestamp() * 1000;
        assert_eq!(nairobi_day(ms), "2026-12-07");
        assert_eq!(nairobi_day(ms - 60 * 60 * 1000), "2026-12-06");
        assert_eq!(nairobi_day(0), "1970-01-01");
    }

    #[test]
    fn retention_is_days_or_everything() {
        assert_eq!(Retention::parse("90"), Ok(Retention::Days(90)));
        assert_eq!(Retention::parse("0"), Ok(Retention::KeepAll));
        assert!(Retention::parse("-1").is_err());
        assert!(Retention::parse("ninety").is_err());
        assert!(Retention::parse("99999999").is_err());
    }
}
