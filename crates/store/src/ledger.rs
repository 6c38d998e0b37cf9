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
