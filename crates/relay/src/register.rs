//! The company's policy register: every policy of every branch, imported once (from a counter,
//! or here with `malipo-relay policies import`) and pulled by every counter by cursor.
//!
//! Holders' names, phone numbers and e-mail addresses are customer data: they are sealed under
//! the relay's key (`MALIPO_RELAY_SECRET_KEY`) before they reach the database, opened only to
//! answer a device of the same company, and never logged or counted in metrics. Policy numbers,
//! premiums and schedules stay plain (counters and paybill validation look policies up by
//! number). An import is checked whole first: one refused policy writes nothing.

use std::collections::HashMap;

use sqlx::Row;

use malipo_domain::Secret;
use malipo_domain::register::RegisterPolicy;
use malipo_relay_api::{RegisterEntry, RegisterRecord, RegisterRefusal, RegisterReport};

use crate::sealing::SealingKey;
use crate::store::{RelayError, RelayStore, Result, now_ms, on_db};

/// Without the relay's key, no customer data is kept.
fn key(sealing: Option<&SealingKey>) -> Result<&SealingKey> {
    sealing.ok_or_else(|| {
        RelayError::Invalid(
            "the relay keeps the policy register's names and phone numbers sealed: start it with MALIPO_RELAY_SECRET_KEY".into(),
        )
    })
}

fn seal(key: &SealingKey, text: &str) -> Result<Vec<u8>> {
    key.seal(&Secret::new(text))
        .map_err(|e| RelayError::Random(e.to_string()))
}

fn open(key: &SealingKey, sealed: &[u8]) -> Result<String> {
    key.open(sealed)
        .map(|s| s.expose().to_owned())
        .map_err(|_| {
            RelayError::Invalid(
                "a register entry cannot be opened with this relay's key (MALIPO_RELAY_SECRET_KEY changed?)".into(),
            )
        })
}

impl RelayStore {
    /// The tenant's register entries with these numbers, opened.
    async fn register_entries(
        &self,
        tenant_id: &str,
        numbers: &[&str],
        sealing: &SealingKey,
    ) -> Result<HashMap<String, RegisterRecord>> {
        let mut found = HashMap::new();
        for chunk in numbers.chunks(500) {
            let rows: Vec<RegisterRow> = on_db!(self.db(), |pool, _sql| {
                let mut q = sqlx::QueryBuilder::new(
                    "SELECT number, seq, holder, phone, email, premium_minor, currency, frequency,
                            instalments, start_date, status FROM register WHERE tenant_id = ",
                );
                q.push_bind(tenant_id);
                q.push(" AND number IN (");
                let mut sep = q.separated(", ");
                for n in chunk {
                    sep.push_bind(*n);
                }
                q.push(")");
                q.build()
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| RegisterRow {
                        number: r.get("number"),
                        seq: r.get("seq"),
                        holder: r.get("holder"),
                        phone: r.get("phone"),
                        email: r.get("email"),
                        premium_minor: r.get("premium_minor"),
                        currency: r.get("currency"),
                        frequency: r.get("frequency"),
                        instalments: r.get::<i32, _>("instalments"),
                        start_date: r.get("start_date"),
                        status: r.get("status"),
                    })
                    .collect()
            });
            for row in rows {
                let rec = row.open(sealing)?;
                found.insert(rec.policy.number.clone(), rec.policy);
            }
        }
        Ok(found)
    }

    /// The tenant's register policies with these numbers (those it holds).
    pub async fn register_policies(
        &self,
        tenant_id: &str,
        sealing: Option<&SealingKey>,
        numbers: &[String],
    ) -> Result<HashMap<String, RegisterPolicy>> {
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let held = self
            .register_entries(tenant_id, &refs, key(sealing)?)
            .await?;
        held.into_iter()
            .map(|(n, r)| Ok((n, r.to_policy().map_err(RelayError::Invalid)?)))
            .collect()
    }

    /// Imports policies into the tenant's register: each new or changed one takes the
    /// register's next number. `lines` gives each record's CSV line for the report. Nothing is
    /// written when any is refused, or for a dry run.
    pub async fn import_register(
        &self,
        tenant_id: &str,
        sealing: Option<&SealingKey>,
        records: &[RegisterRecord],
        lines: Option<&[u64]>,
        dry_run: bool,
        office: Option<&str>,
    ) -> Result<RegisterReport> {
        let sealing = key(sealing)?;
        let mut report = RegisterReport::default();
        let mut checked: Vec<RegisterPolicy> = Vec::with_capacity(records.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, r) in records.iter().enumerate() {
            let line = lines.and_then(|l| l.get(i).copied());
            match r.to_policy() {
                Ok(p) => {
                    let n = p.number.to_string();
                    if seen.insert(n.clone(), i).is_some() {
                        report.refused.push(RegisterRefusal {
                            line,
                            number: Some(n),
                            why: "appears twice in one import".into(),
                        });
                    } else {
                        checked.push(p);
                    }
                }
                Err(why) => report.refused.push(RegisterRefusal {
                    line,
                    number: Some(r.number.chars().take(40).collect()),
                    why,
                }),
            }
        }
        let numbers: Vec<String> = checked.iter().map(|p| p.number.to_string()).collect();
        let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
        let held = self.register_entries(tenant_id, &refs, sealing).await?;
        let mut changed = Vec::new();
        for p in &checked {
            let wire = RegisterRecord::from_policy(p);
            match held.get(&wire.number) {
                Some(h) if *h == wire => report.unchanged += 1,
                Some(_) => {
                    report.updated.push(wire.number.clone());
                    changed.push(wire);
                }
                None => {
                    report.added.push(wire.number.clone());
                    changed.push(wire);
                }
            }
        }
        if dry_run || !report.refused.is_empty() {
            return Ok(report);
        }
        if changed.is_empty() {
            // The register holds every one of them already.
            report.written = true;
            return Ok(report);
        }
        // Each record with its holder, phone and e-mail sealed.
        type Sealed = (RegisterRecord, Vec<u8>, Vec<u8>, Option<Vec<u8>>);
        let sealed: Vec<Sealed> = changed
            .into_iter()
            .map(|r| {
                let holder = seal(sealing, &r.holder)?;
                let phone = seal(sealing, &r.phone)?;
                let email = r.email.as_deref().map(|e| seal(sealing, e)).transpose()?;
                Ok((r, holder, phone, email))
            })
            .collect::<Result<_>>()?;
        let now = now_ms();
        on_db!(self.db(), |pool, sql| {
            let mut tx = pool.begin().await?;
            // The tenant's row is held to the commit: register numbers follow commit order.
            let mut seq: i64 = sqlx::query(sql(
                "UPDATE tenants SET register_seq = register_seq WHERE id = ? RETURNING register_seq",
            ))
            .bind(tenant_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| RelayError::NotFound(format!("tenant {tenant_id}")))?
            .get("register_seq");
            for (r, holder, phone, email) in &sealed {
                seq += 1;
                sqlx::query(sql(
                    "INSERT INTO register (tenant_id, number, seq, holder, phone, email, premium_minor,
                         currency, frequency, instalments, start_date, status, updated_at, account_key,
                         office)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                     ON CONFLICT (tenant_id, number) DO UPDATE SET
                         seq = excluded.seq, holder = excluded.holder, phone = excluded.phone,
                         email = excluded.email, premium_minor = excluded.premium_minor,
                         currency = excluded.currency, frequency = excluded.frequency,
                         instalments = excluded.instalments, start_date = excluded.start_date,
                         status = excluded.status, updated_at = excluded.updated_at,
                         office = coalesce(register.office, excluded.office)",
                ))
                .bind(tenant_id)
                .bind(&r.number)
                .bind(seq)
                .bind(holder)
                .bind(phone)
                .bind(email)
                .bind(r.premium_minor)
                .bind(&r.currency)
                .bind(&r.frequency)
                .bind(i32::try_from(r.instalments).unwrap_or(i32::MAX))
                .bind(&r.start_date)
                .bind(&r.status)
                .bind(now)
                .bind(malipo_providers::daraja::c2b::account_key(&r.number))
                .bind(office)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query(sql("UPDATE tenants SET register_seq = ? WHERE id = ?"))
                .bind(seq)
                .bind(tenant_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        report.written = true;
        Ok(report)
    }

    /// The tenant's register entries after `after`, in the order they changed, at most `limit`.
    pub async fn register_page(
        &self,
        tenant_id: &str,
        sealing: Option<&SealingKey>,
        after: i64,
        limit: u32,
    ) -> Result<Vec<RegisterEntry>> {
        let sealing = key(sealing)?;
        let rows: Vec<RegisterRow> = on_db!(self.db(), |pool, sql| {
            sqlx::query(sql(
                "SELECT number, seq, holder, phone, email, premium_minor, currency, frequency,
                        instalments, start_date, status
                 FROM register WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
            ))
            .bind(tenant_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
            .iter()
            .map(|r| RegisterRow {
                number: r.get("number"),
                seq: r.get("seq"),
                holder: r.get("holder"),
                phone: r.get("phone"),
                email: r.get("email"),
                premium_minor: r.get("premium_minor"),
                currency: r.get("currency"),
                frequency: r.get("frequency"),
                instalments: r.get::<i32, _>("instalments"),
                start_date: r.get("start_date"),
                status: r.get("status"),
            })
            .collect()
        });
        rows.into_iter().map(|r| r.open(sealing)).collect()
    }
}

/// A register row as stored, customer data still sealed.
struct RegisterRow {
    number: String,
    seq: i64,
    holder: Vec<u8>,
    phone: Vec<u8>,
    email: Option<Vec<u8>>,
    premium_minor: i64,
    currency: String,
    frequency: String,
    instalments: i32,
    start_date: String,
    status: String,
}

impl RegisterRow {
    fn open(self, sealing: &SealingKey) -> Result<RegisterEntry> {
        Ok(RegisterEntry {
            seq: self.seq,
            policy: RegisterRecord {
                number: self.number,
                holder: open(sealing, &self.holder)?,
                phone: open(sealing, &self.phone)?,
                email: self
                    .email
                    .as_deref()
                    .map(|e| open(sealing, e))
                    .transpose()?,
                premium_minor: self.premium_minor,
                currency: self.currency,
                frequency: self.frequency,
                instalments: u32::try_from(self.instalments).unwrap_or(0),
                start_date: self.start_date,
                status: self.status,
            },
        })
    }
}
