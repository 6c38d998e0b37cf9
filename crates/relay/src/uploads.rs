//! Transactions uploaded by office desktops, and the company-wide summary built from them.
//! Uploads are idempotent: a payment is one row per reference, and only a newer version
//! (later `updated_at`) replaces it, so sending the same record ten times changes nothing.

use sqlx::Row;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use malipo_domain::{Currency, Method, Money, TxStatus};
use malipo_relay_api::{CompanySummary, KeyedFigures, Totals, UploadRecord, UploadResult};

use crate::store::{Device, RelayStore, Result, on_db};

/// A checked upload.
#[derive(Debug, Clone)]
pub struct Checked {
    reference: String,
    number: String,
    office: String,
    method: Method,
    status: TxStatus,
    amount: Money,
    refunded_minor: i64,
    provider_ref: Option<String>,
    created_at: i64,
    updated_at: i64,
}

fn ms(field: &str, text: &str) -> std::result::Result<i64, String> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| format!("{field} {text:?} is not an RFC 3339 time"))
}

/// Checks one uploaded record; the error names what is wrong.
pub fn check(r: &UploadRecord) -> std::result::Result<Checked, String> {
    let reference = r.reference.trim();
    if reference.is_empty() || reference.len() > 64 {
        return Err("reference must be 1 to 64 characters".into());
    }
    let office = r
        .number
        .split_once('-')
        .map(|(o, _)| o.to_owned())
        .filter(|o| !o.is_empty())
        .ok_or_else(|| {
            format!(
                "number {:?} is not a transaction number like NBI-000042",
                r.number
            )
        })?;
    let method: Method = r.method.parse()?;
    let status: TxStatus = r.status.parse()?;
    let currency = Currency::from_code(&r.currency).map_err(|e| e.to_string())?;
    let amount = Money::from_minor(r.amount_minor, currency).map_err(|e| e.to_string())?;
    if amount.is_zero() {
        return Err("amount_minor must be more than zero".into());
    }
    if !(0..=r.amount_minor).contains(&r.refunded_minor) {
        return Err("refunded_minor must be between 0 and amount_minor".into());
    }
    Ok(Checked {
        reference: reference.to_owned(),
        number: r.number.clone(),
        office,
        method,
        status,
        amount,
        refunded_minor: r.refunded_minor,
        provider_ref: r.provider_ref.clone(),
        created_at: ms("created_at", &r.created_at)?,
        updated_at: ms("updated_at", &r.updated_at)?,
    })
}

fn totals(count: i64, minor: i64, currency: Currency) -> Totals {
    let amount = Money::from_minor(minor.max(0), currency)
        .map(|m| m.amount_string())
        .unwrap_or_default();
    Totals {
        count,
        amount,
        amount_minor: minor,
    }
}

impl RelayStore {
    /// Stores uploads from `device` in one transaction.
    pub async fn upload(&self, device: &Device, items: &[Checked]) -> Result<UploadResult> {
        let mut result = UploadResult::default();
        on_db!(self.db(), |pool, sql| {
            let mut tx = pool.begin().await?;
            for c in items {
                let done = sqlx::query(sql(
                    "INSERT INTO transactions (tenant_id, reference, device_id, number, office, method, status,
                         amount_minor, refunded_minor, currency, provider_ref, created_at, updated_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (tenant_id, reference) DO UPDATE SET
                         status = excluded.status, refunded_minor = excluded.refunded_minor,
                         provider_ref = coalesce(excluded.provider_ref, transactions.provider_ref),
                         updated_at = excluded.updated_at
                     WHERE excluded.updated_at > transactions.updated_at",
                ))
                .bind(&device.tenant_id)
                .bind(&c.reference)
                .bind(&device.id)
                .bind(&c.number)
                .bind(&c.office)
                .bind(c.method.as_str())
                .bind(c.status.as_str())
                .bind(c.amount.minor())
                .bind(c.refunded_minor)
                .bind(c.amount.currency().code())
                .bind(&c.provider_ref)
                .bind(c.created_at)
                .bind(c.updated_at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    result.stored += 1;
                } else {
                    result.unchanged += 1;
                }
            }
            tx.commit().await?;
        });
        Ok(result)
    }

    /// Totals over the tenant's uploaded payments created in `[from_ms, to_ms)`.
    pub async fn company_summary(
        &self,
        tenant_id: &str,
        currency: Currency,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<CompanySummary> {
        // (status, method, office, count, sum of minor units)
        let rows: Vec<(String, String, String, i64, i64)> = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT status, method, office, count(*) AS n, CAST(sum(amount_minor) AS BIGINT) AS minor
                 FROM transactions
                 WHERE tenant_id = ? AND currency = ? AND created_at >= ? AND created_at < ?
                 GROUP BY status, method, office ORDER BY office, method",
            ))
            .bind(tenant_id)
            .bind(currency.code())
            .bind(from_ms)
            .bind(to_ms)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| (r.get("status"), r.get("method"), r.get("office"), r.get("n"), r.get("minor")))
            .collect()
        });
        let mut sums: [(i64, i64); 5] = [(0, 0); 5];
        // key → (collected count, collected minor, attempted count, attempted minor)
        type Split = std::collections::BTreeMap<String, (i64, i64, i64, i64)>;
        let mut by_method: Split = Default::default();
        let mut by_office: Split = Default::default();
        for (status, method, office, n, minor) in rows {
            let status: TxStatus = status.parse().unwrap_or(TxStatus::NeedsReview);
            let bucket = match status {
                TxStatus::Succeeded | TxStatus::PartiallyRefunded | TxStatus::Refunded => 1,
                TxStatus::Pending | TxStatus::AwaitingCustomer => 2,
                TxStatus::Failed | TxStatus::Cancelled | TxStatus::TimedOut => 3,
                TxStatus::NeedsReview => 4,
            };
            for i in [0, bucket] {
                sums[i].0 += n;
                sums[i].1 += minor;
            }
            let collected = bucket == 1;
            for entry in [
                by_method.entry(method.clone()).or_default(),
                by_office.entry(office).or_default(),
            ] {
                if collected {
                    entry.0 += n;
                    entry.1 += minor;
                }
                entry.2 += n;
                entry.3 += minor;
            }
        }
        let keyed = |map: Split| {
            map.into_iter()
                .map(|(key, (cn, cm, an, am))| KeyedFigures {
                    key,
                    collected: totals(cn, cm, currency),
                    attempted: totals(an, am, currency),
                })
                .collect()
        };
        Ok(CompanySummary {
            currency: currency.code().to_owned(),
            all: totals(sums[0].0, sums[0].1, currency),
            succeeded: totals(sums[1].0, sums[1].1, currency),
            pending: totals(sums[2].0, sums[2].1, currency),
            failed: totals(sums[3].0, sums[3].1, currency),
            needs_review: totals(sums[4].0, sums[4].1, currency),
            by_method: keyed(by_method),
            by_office: keyed(by_office),
        })
    }
}
