//! The company's M-Pesa ledger as imported statements say it: each statement kept with its
//! header and every row, with what the import made of each row.

use serde_json::json;
use sqlx::Row;
use time::OffsetDateTime;

use malipo_domain::Money;
use malipo_domain::time_zone::to_ms;

use crate::audit::{self, Change};
use crate::{Result, Store};

/// What became of one statement row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowOutcome {
    Matched,
    Recovered,
    NotPremium,
    Refused,
}

impl RowOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RowOutcome::Matched => "matched",
            RowOutcome::Recovered => "recovered",
            RowOutcome::NotPremium => "not_premium",
            RowOutcome::Refused => "refused",
        }
    }
}

/// One row as kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    pub line: usize,
    pub receipt: String,
    pub completed_at: OffsetDateTime,
    pub paid_in: Option<Money>,
    pub withdrawn: Option<Money>,
    pub status: String,
    pub reason_type: String,
    pub details: String,
    pub other_party: String,
    pub account: String,
    pub outcome: RowOutcome,
    pub why: String,
}

/// A statement as kept, with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStatement {
    pub digest: String,
    pub shortcode: Option<String>,
    pub holder: Option<String>,
    pub period_text: Option<String>,
    pub period: Option<(OffsetDateTime, OffsetDateTime)>,
    pub opening: Option<Money>,
    pub closing: Option<Money>,
    pub currency: String,
    /// Every `name: value` line of the header block.
    pub header: Vec<(String, String)>,
}

/// The counts of a statement imported before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatementCounts {
    pub rows: u64,
    pub matched: u64,
    pub recovered: u64,
    pub not_premium: u64,
    pub refused: u64,
}

impl Store {
    /// The counts of the statement whose file has this SHA-256, if it was imported.
    pub async fn statement_by_digest(&self, digest: &str) -> Result<Option<StatementCounts>> {
        let row = sqlx::query(
            "SELECT rows, matched, recovered, not_premium, refused FROM mpesa_statements
             WHERE digest = ?",
        )
        .bind(digest)
        .fetch_optional(&self.pool)
        .await?;
        let n =
            |r: &sqlx::sqlite::SqliteRow, c: &str| u64::try_from(r.get::<i64, _>(c)).unwrap_or(0);
        Ok(row.map(|r| StatementCounts {
            rows: n(&r, "rows"),
            matched: n(&r, "matched"),
            recovered: n(&r, "recovered"),
            not_premium: n(&r, "not_premium"),
            refused: n(&r, "refused"),
        }))
    }

    /// Keeps a statement and its rows, with its audit line, in one write.
    pub async fn save_statement(
        &self,
        actor: &str,
        s: &NewStatement,
        rows: &[LedgerRow],
        now: OffsetDateTime,
    ) -> Result<i64> {
        let count = |o: RowOutcome| rows.iter().filter(|r| r.outcome == o).count() as i64;
        let mut tx = self.begin_write().await?;
        let header = serde_json::Value::Array(
            s.header
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect(),
        );
        let id: i64 = sqlx::query(
            "INSERT INTO mpesa_statements (digest, shortcode, holder, period_text, period_from,
                 period_to, opening_minor, closing_minor, currency, header, rows, matched,
                 recovered, not_premium, refused, imported_by, imported_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&s.digest)
        .bind(&s.shortcode)
        .bind(&s.holder)
        .bind(&s.period_text)
        .bind(s.period.map(|p| to_ms(p.0)))
        .bind(s.period.map(|p| to_ms(p.1)))
        .bind(s.opening.map(|m| m.minor()))
        .bind(s.closing.map(|m| m.minor()))
        .bind(&s.currency)
        .bind(header.to_string())
        .bind(rows.len() as i64)
        .bind(count(RowOutcome::Matched))
        .bind(count(RowOutcome::Recovered))
        .bind(count(RowOutcome::NotPremium))
        .bind(count(RowOutcome::Refused))
        .bind(actor)
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::unique_violation(e, || "this statement file".to_owned()))?
        .get("id");
        for r in rows {
            sqlx::query(
                "INSERT INTO mpesa_statement_rows (statement_id, line, receipt, completed_at,
                     paid_in_minor, withdrawn_minor, status, reason_type, details, other_party,
                     account, outcome, why)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(id)
            .bind(r.line as i64)
            .bind(&r.receipt)
            .bind(to_ms(r.completed_at))
            .bind(r.paid_in.map(|m| m.minor()))
            .bind(r.withdrawn.map(|m| m.minor()))
            .bind(&r.status)
            .bind(&r.reason_type)
            .bind(&r.details)
            .bind(&r.other_party)
            .bind(&r.account)
            .bind(r.outcome.as_str())
            .bind(&r.why)
            .execute(&mut *tx)
            .await?;
        }
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "mpesa_statement.import",
                entity: "mpesa_statement",
                entity_id: id.to_string(),
                before: None,
                after: Some(json!({
                    "shortcode": s.shortcode,
                    "period": s.period_text,
                    "rows": rows.len(),
                    "matched": count(RowOutcome::Matched),
                    "recovered": count(RowOutcome::Recovered),
                    "not_premium": count(RowOutcome::NotPremium),
                    "refused": count(RowOutcome::Refused),
                })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }
}

/// One payment as M-Pesa's ledger lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub receipt: String,
    pub at: OffsetDateTime,
    pub amount: Money,
}

/// Which ledger covers a day: an imported statement, Pull, or neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    Statement,
    Pull,
    /// Nothing of M-Pesa's own covers the day: only the callbacks.
    Callbacks,
}

impl Coverage {
    pub fn as_str(self) -> &'static str {
        match self {
            Coverage::Statement => "statement",
            Coverage::Pull => "pull",
            Coverage::Callbacks => "callbacks",
        }
    }
}

/// How far from `from` the `windows` (sorted by start) reach without a gap (`from` when the
/// first does not start by then).
fn reach(windows: &[(i64, i64)], from: i64) -> i64 {
    let mut reached = from;
    for &(a, b) in windows {
        if a > reached {
            break;
        }
        reached = reached.max(b);
    }
    reached
}

impl Store {
    /// Keeps what a pull listed; with `window`, notes that window as pulled completely.
    pub async fn save_pulled(
        &self,
        entries: &[(LedgerEntry, String)],
        window: Option<(OffsetDateTime, OffsetDateTime)>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (e, account) in entries {
            sqlx::query(
                "INSERT INTO mpesa_pulled (receipt, at, amount_minor, currency, account, pulled_at)
                 VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (receipt) DO NOTHING",
            )
            .bind(&e.receipt)
            .bind(to_ms(e.at))
            .bind(e.amount.minor())
            .bind(e.amount.currency().code())
            .bind(account)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        }
        if let Some((from, to)) = window {
            sqlx::query(
                "INSERT INTO mpesa_pull_windows (from_ms, to_ms) VALUES (?, ?)
                 ON CONFLICT DO NOTHING",
            )
            .bind(to_ms(from))
            .bind(to_ms(to))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// M-Pesa's ledger for `[from_ms, to_ms)`: the paid-in rows of an imported statement whose
    /// period covers it (those Safaricom knows: matched or recovered), else what complete pulls
    /// listed from the day's start up to where they reach (the end of the span they cover, the
    /// third value), else nothing.
    pub async fn ledger_between(
        &self,
        from_ms: i64,
        to_ms_: i64,
    ) -> Result<(Coverage, Vec<LedgerEntry>, i64)> {
        let statement: Option<i64> = sqlx::query(
            "SELECT id FROM mpesa_statements WHERE period_from <= ? AND period_to >= ?
             ORDER BY imported_at DESC LIMIT 1",
        )
        .bind(from_ms)
        .bind(to_ms_ - 1000)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.get("id"));
        let entry = |r: &sqlx::sqlite::SqliteRow| -> Result<LedgerEntry> {
            let currency = malipo_domain::Currency::from_code(r.get::<&str, _>("currency"))
                .map_err(|e| crate::StoreError::Corrupt(format!("ledger currency: {e}")))?;
            Ok(LedgerEntry {
                receipt: r.get("receipt"),
                at: malipo_domain::time_zone::from_ms(r.get("at")),
                amount: Money::from_minor(r.get("amount_minor"), currency)
                    .map_err(|e| crate::StoreError::Corrupt(format!("ledger amount: {e}")))?,
            })
        };
        if let Some(id) = statement {
            let rows = sqlx::query(
                "SELECT r.receipt, r.completed_at AS at, r.paid_in_minor AS amount_minor,
                        s.currency
                 FROM mpesa_statement_rows r JOIN mpesa_statements s ON s.id = r.statement_id
                 WHERE r.statement_id = ? AND r.completed_at >= ? AND r.completed_at < ?
                   AND r.outcome IN ('matched', 'recovered') AND r.paid_in_minor IS NOT NULL
                 ORDER BY r.completed_at",
            )
            .bind(id)
            .bind(from_ms)
            .bind(to_ms_)
            .fetch_all(&self.pool)
            .await?;
            return Ok((
                Coverage::Statement,
                rows.iter().map(entry).collect::<Result<_>>()?,
                to_ms_,
            ));
        }
        let windows: Vec<(i64, i64)> = sqlx::query(
            "SELECT from_ms, to_ms FROM mpesa_pull_windows WHERE to_ms > ? AND from_ms < ?
             ORDER BY from_ms",
        )
        .bind(from_ms)
        .bind(to_ms_)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| (r.get("from_ms"), r.get("to_ms")))
        .collect();
        let until = reach(&windows, from_ms).min(to_ms_);
        if until <= from_ms {
            return Ok((Coverage::Callbacks, Vec::new(), from_ms));
        }
        let rows = sqlx::query(
            "SELECT receipt, at, amount_minor, currency FROM mpesa_pulled
             WHERE at >= ? AND at < ? ORDER BY at",
        )
        .bind(from_ms)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        Ok((
            Coverage::Pull,
            rows.iter().map(entry).collect::<Result<_>>()?,
            until,
        ))
    }

    /// The last moment (ms) any imported statement's period covers, if one was imported.
    pub async fn statement_reach(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(period_to) FROM mpesa_statements")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Whether any ledger this office holds (a statement or a pull) lists `receipt`.
    pub async fn on_ledger(&self, receipt: &str) -> Result<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM mpesa_statement_rows WHERE receipt = ? AND outcome IN ('matched', 'recovered')
             UNION ALL SELECT 1 FROM mpesa_pulled WHERE receipt = ? LIMIT 1",
        )
        .bind(receipt)
        .bind(receipt)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn windows_reach_only_as_far_as_they_go_without_a_gap() {
        use super::reach;
        assert_eq!(reach(&[(0, 50), (40, 100)], 10), 100);
        assert_eq!(reach(&[(0, 50), (60, 100)], 10), 50, "a gap");
        assert_eq!(reach(&[(20, 100)], 10), 10, "starts late");
        assert_eq!(reach(&[], 10), 10);
    }
}
