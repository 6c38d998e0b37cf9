//! Transactions uploaded by office desktops, and the company-wide summary built from them.
//! Uploads are idempotent: a payment is one row per reference, and only a newer version
//! (later `updated_at`) replaces it, so sending the same record ten times changes nothing.

use sqlx::Row;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use malipo_domain::{Currency, Method, Money, TxNumber, TxStatus};
use malipo_relay_api::{
    CompanyPayment, CompanySummary, KeyedFigures, Totals, UploadRecord, UploadResult,
};

use crate::store::{Device, RelayStore, Result, on_db};

/// A checked upload.
#[derive(Debug, Clone)]
pub struct Checked {
    reference: String,
    number: String,
    office: String,
    counter: Option<String>,
    policy: Option<String>,
    clerk: Option<String>,
    receipt_number: Option<String>,
    provider_receipt: Option<String>,
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
    let number = TxNumber::parse(&r.number).map_err(|e| e.to_string())?;
    let short = |what: &str, v: &Option<String>| match v.as_deref().map(str::trim) {
        Some("") => Ok(None),
        Some(t) if t.len() > 64 || t.chars().any(char::is_control) => {
            Err(format!("{what} must be at most 64 printable characters"))
        }
        Some(t) => Ok(Some(t.to_owned())),
        None => Ok(None),
    };
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
        number: number.to_string(),
        office: number.desk().office().to_string(),
        counter: number.desk().counter().map(ToString::to_string),
        policy: short("policy", &r.policy)?,
        clerk: short("clerk", &r.clerk)?,
        receipt_number: short("receipt_number", &r.receipt_number)?,
        provider_receipt: short("provider_receipt", &r.provider_receipt)?,
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

/// An instant in ms since the epoch, as RFC 3339.
fn rfc(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

impl RelayStore {
    /// Stores uploads from `device` in one transaction. Each new or newer version takes the
    /// tenant's next payment number: the transaction holds the tenant's row from its first
    /// statement to its commit, so numbers follow commit order and a device reading by cursor
    /// never skips a payment that committed late.
    pub async fn upload(&self, device: &Device, items: &[Checked]) -> Result<UploadResult> {
        let mut result = UploadResult::default();
        on_db!(self.db(), |pool, sql| {
            let mut tx = pool.begin().await?;
            let mut seq: i64 = sqlx::query(sql(
                "UPDATE tenants SET payment_seq = payment_seq WHERE id = ? RETURNING payment_seq",
            ))
            .bind(&device.tenant_id)
            .fetch_one(&mut *tx)
            .await?
            .get("payment_seq");
            for c in items {
                let done = sqlx::query(sql(
                    "INSERT INTO transactions (tenant_id, reference, device_id, number, office, method, status,
                         amount_minor, refunded_minor, currency, provider_ref, created_at, updated_at,
                         seq, counter, policy, clerk, receipt_number, provider_receipt)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (tenant_id, reference) DO UPDATE SET
                         status = excluded.status, refunded_minor = excluded.refunded_minor,
                         provider_ref = coalesce(excluded.provider_ref, transactions.provider_ref),
                         receipt_number = coalesce(excluded.receipt_number, transactions.receipt_number),
                         provider_receipt = coalesce(excluded.provider_receipt, transactions.provider_receipt),
                         updated_at = excluded.updated_at, seq = excluded.seq
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
                .bind(seq + 1)
                .bind(&c.counter)
                .bind(&c.policy)
                .bind(&c.clerk)
                .bind(&c.receipt_number)
                .bind(&c.provider_receipt)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() == 1 {
                    seq += 1;
                    result.stored += 1;
                } else {
                    result.unchanged += 1;
                }
            }
            sqlx::query(sql("UPDATE tenants SET payment_seq = ? WHERE id = ?"))
                .bind(seq)
                .bind(&device.tenant_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(result)
    }

    /// The tenant's payments after `after` in the company's order, at most `limit`.
    pub async fn payments(
        &self,
        tenant_id: &str,
        after: i64,
        limit: u32,
    ) -> Result<Vec<CompanyPayment>> {
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT seq, reference, number, office, counter, policy, method, status, amount_minor,
                        refunded_minor, currency, clerk, receipt_number, provider_receipt,
                        created_at, updated_at
                 FROM transactions WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            ))
            .bind(tenant_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| CompanyPayment {
                seq: r.get("seq"),
                reference: r.get("reference"),
                number: r.get("number"),
                office: r.get("office"),
                counter: r.get("counter"),
                policy: r.get("policy"),
                method: r.get("method"),
                status: r.get("status"),
                amount_minor: r.get("amount_minor"),
                refunded_minor: r.get("refunded_minor"),
                currency: r.get("currency"),
                clerk: r.get("clerk"),
                receipt_number: r.get("receipt_number"),
                provider_receipt: r.get("provider_receipt"),
                created_at: rfc(r.get("created_at")),
                updated_at: rfc(r.get("updated_at")),
            })
            .collect()
        }))
    }

    /// Totals over the tenant's uploaded payments created in `[from_ms, to_ms)`, of branch
    /// `office` only when given.
    pub async fn company_summary(
        &self,
        tenant_id: &str,
        currency: Currency,
        from_ms: i64,
        to_ms: i64,
        office: Option<&str>,
    ) -> Result<CompanySummary> {
        // (status, method, office, counter, clerk, count, sum of minor units)
        type Row = (
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            i64,
            i64,
        );
        let rows: Vec<Row> = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT status, method, office, counter, clerk, count(*) AS n,
                        CAST(sum(amount_minor) AS BIGINT) AS minor
                 FROM transactions
                 WHERE tenant_id = ? AND currency = ? AND created_at >= ? AND created_at < ?
                   AND (? IS NULL OR office = ?)
                 GROUP BY status, method, office, counter, clerk",
            ))
            .bind(tenant_id)
            .bind(currency.code())
            .bind(from_ms)
            .bind(to_ms)
            .bind(office)
            .bind(office)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| {
                (
                    r.get("status"),
                    r.get("method"),
                    r.get("office"),
                    r.get("counter"),
                    r.get("clerk"),
                    r.get("n"),
                    r.get("minor"),
                )
            })
            .collect()
        });
        let mut sums: [(i64, i64); 5] = [(0, 0); 5];
        // key → (collected count, collected minor, attempted count, attempted minor)
        type Split = std::collections::BTreeMap<String, (i64, i64, i64, i64)>;
        let (mut by_method, mut by_office, mut by_counter, mut by_clerk): (
            Split,
            Split,
            Split,
            Split,
        ) = Default::default();
        for (status, method, office, counter, clerk, n, minor) in rows {
            let status: TxStatus = status.parse().unwrap_or(TxStatus::NeedsReview);
            let bucket = match status {
                TxStatus::Succeeded | TxStatus::PartiallyRefunded | TxStatus::Refunded => 1,
                TxStatus::Pending | TxStatus::AwaitingCustomer | TxStatus::AwaitingConfirmation => {
                    2
                }
                TxStatus::Failed | TxStatus::Cancelled | TxStatus::TimedOut | TxStatus::Bounced => {
                    3
                }
                TxStatus::NeedsReview => 4,
            };
            for i in [0, bucket] {
                sums[i].0 += n;
                sums[i].1 += minor;
            }
            let collected = bucket == 1;
            let desk = match counter {
                Some(c) => format!("{office}-{c}"),
                None => office.clone(),
            };
            for entry in [
                by_method.entry(method.clone()).or_default(),
                by_office.entry(office).or_default(),
                by_counter.entry(desk).or_default(),
                by_clerk
                    .entry(clerk.unwrap_or_else(|| "-".to_owned()))
                    .or_default(),
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
            by_counter: keyed(by_counter),
            by_clerk: keyed(by_clerk),
            last_received_at: self.last_received(tenant_id).await?.map(rfc),
        })
    }

    /// When the tenant's latest provider event was received (ms), if it has any.
    pub async fn last_received(&self, tenant_id: &str) -> Result<Option<i64>> {
        Ok(on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT received_at FROM events WHERE tenant_id = ? ORDER BY seq DESC LIMIT 1",
            ))
            .bind(tenant_id)
            .fetch_optional(pool)
            .await?
            .map(|r| r.get("received_at"))
        }))
    }
}
