//! The company around this counter: the policy register (pulled from the relay, and changes
//! made here waiting to reach it) and the other counters' payments, in the relay's order.

use std::collections::HashMap;

use serde_json::json;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use malipo_domain::register::{PolicyStatus, RegisterPolicy};
use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Email, HolderName, Money, Msisdn, PolicyNumber, TxStatus};

use crate::audit::{self, Change};
use crate::policies::money_from_row;
use crate::{Result, Store, StoreError, parse_col};

const REGISTER_CURSOR: &str = "sync.register_cursor";
const PAYMENTS_CURSOR: &str = "sync.payments_cursor";

/// What writing policies did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upserted {
    pub added: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: u64,
}

/// Where written policies come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicySource {
    /// Added or imported at this counter: to be sent to the register at the next sync.
    Counter,
    /// The company register: already there.
    Register,
}

/// A payment of the company as the relay orders it: this counter's own or another's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanyPayment {
    pub seq: i64,
    pub reference: String,
    pub number: String,
    pub office: String,
    pub counter: Option<String>,
    pub policy_number: Option<String>,
    pub method: String,
    pub status: TxStatus,
    pub amount: Money,
    pub refunded: Money,
    pub clerk: Option<String>,
    pub receipt_number: Option<String>,
    /// The provider's receipt: the M-Pesa code of an M-Pesa or paybill payment.
    pub provider_receipt: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The holder's name, from this counter's copy of the register (listings only).
    pub holder: Option<String>,
    /// Taken at this counter (its full record is here).
    pub here: bool,
}

/// A payment holding an M-Pesa code, wherever in the company it was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedCode {
    pub number: String,
    pub amount: Money,
    /// `mpesa`, `paybill` or `card`.
    pub method: String,
    pub status: TxStatus,
}
/// Which company payments to list: newest first.
#[derive(Debug, Clone, Default)]
pub struct CompanyFilter {
    /// One branch only.
    pub office: Option<String>,
    pub status: Option<TxStatus>,
    pub policy: Option<String>,
    /// `[from_ms, to_ms)`.
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub page: u32,
    pub per_page: u32,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// A stored policy as the register has it; its schedule's first due date and length come from
/// its instalments.
fn register_policy(r: &SqliteRow) -> Result<RegisterPolicy> {
    Ok(RegisterPolicy {
        number: PolicyNumber::parse(r.get("number")).map_err(|e| corrupt("policy number", e))?,
        holder: HolderName::parse(r.get("holder")).map_err(|e| corrupt("holder", e))?,
        phone: Msisdn::parse(r.get("phone")).map_err(|e| corrupt("phone", e))?,
        email: r
            .get::<Option<&str>, _>("email")
            .map(Email::parse)
            .transpose()
            .map_err(|e| corrupt("email", e))?,
        premium: money_from_row(r, "premium_minor")?,
        frequency: parse_col(r.get::<&str, _>("frequency"), "policies.frequency")?,
        instalments: r.get::<u32, _>("instalment_count"),
        start: crate::policies::parse_date(r.get("start_date"))?,
        status: parse_col(r.get::<&str, _>("status"), "policies.status")?,
    })
}

const POLICY_WITH_SCHEDULE: &str = "SELECT p.*,
        (SELECT due_date FROM instalments i WHERE i.policy_id = p.id ORDER BY seq LIMIT 1)
            AS start_date,
        (SELECT count(*) FROM instalments i WHERE i.policy_id = p.id) AS instalment_count
     FROM policies p";

fn payment_from_row(r: &SqliteRow) -> Result<CompanyPayment> {
    Ok(CompanyPayment {
        seq: r.get("seq"),
        reference: r.get("reference"),
        number: r.get("number"),
        office: r.get("office"),
        counter: r.get("counter"),
        policy_number: r.get("policy_number"),
        method: r.get("method"),
        status: parse_col(r.get::<&str, _>("status"), "company_payments.status")?,
        amount: money_from_row(r, "amount_minor")?,
        refunded: money_from_row(r, "refunded_minor")?,
        clerk: r.get("clerk"),
        receipt_number: r.get("receipt_number"),
        provider_receipt: r.try_get("provider_receipt").ok().flatten(),
        created_at: from_ms(r.get("created_at")),
        updated_at: from_ms(r.get("updated_at")),
        holder: r.try_get("holder").ok().flatten(),
        here: r.try_get::<i64, _>("here").is_ok_and(|h| h == 1),
    })
}

async fn write_schedule(conn: &mut SqliteConnection, id: i64, p: &RegisterPolicy) -> Result<()> {
    let schedule = p.schedule().map_err(|e| corrupt("schedule", e))?;
    sqlx::query("DELETE FROM instalments WHERE policy_id = ?")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    for i in schedule {
        sqlx::query(
            "INSERT INTO instalments (policy_id, seq, due_date, amount_minor, currency)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(i.seq)
        .bind(i.due.to_string())
        .bind(i.amount.minor())
        .bind(i.amount.currency().code())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn described(p: &RegisterPolicy) -> serde_json::Value {
    json!({
        "holder": p.holder.as_str(),
        "phone": p.phone.as_str(),
        "email": p.email.as_ref().map(Email::as_str),
        "premium_minor": p.premium.minor(),
        "currency": p.premium.currency().code(),
        "frequency": p.frequency.as_str(),
        "instalments": p.instalments,
        "start_date": p.start.to_string(),
        "status": p.status.as_str(),
    })
}

async fn setting_i64(store: &Store, key: &str) -> Result<i64> {
    Ok(store
        .setting(key)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

async fn set_in(conn: &mut SqliteConnection, key: &str, value: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO settings (key, value) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value.to_string())
    .execute(conn)
    .await?;
    Ok(())
}

impl Store {
    /// The policies with these numbers this counter holds, as the register would have them.
    pub async fn register_policies(
        &self,
        numbers: &[&str],
    ) -> Result<HashMap<String, RegisterPolicy>> {
        let mut found = HashMap::new();
        for chunk in numbers.chunks(500) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(POLICY_WITH_SCHEDULE);
            q.push(" WHERE p.number IN (");
            let mut sep = q.separated(", ");
            for n in chunk {
                sep.push_bind(*n);
            }
            q.push(")");
            for r in q.build().fetch_all(&self.pool).await? {
                let p = register_policy(&r)?;
                found.insert(p.number.to_string(), p);
            }
        }
        Ok(found)
    }

    /// Writes policies, each added, changed (its schedule made again when the premium,
    /// frequency, length or first due date changed) or left as it is, in one transaction with
    /// an audit line for each change. From the register they arrive as already sent, with
    /// the register cursor that reaches them; from this counter they wait for the next sync.
    pub async fn upsert_policies(
        &self,
        actor: &str,
        policies: &[RegisterPolicy],
        source: PolicySource,
        register_cursor: Option<i64>,
        now: OffsetDateTime,
    ) -> Result<Upserted> {
        let numbers: Vec<&str> = policies.iter().map(|p| p.number.as_str()).collect();
        let held = self.register_policies(&numbers).await?;
        let pending = i64::from(source == PolicySource::Counter);
        let mut done = Upserted::default();
        let mut tx = self.begin_write().await?;
        for p in policies {
            let number = p.number.to_string();
            match held.get(&number) {
                Some(h) if h == p => {
                    if source == PolicySource::Register {
                        sqlx::query("UPDATE policies SET register_pending = 0 WHERE number = ?")
                            .bind(&number)
                            .execute(&mut *tx)
                            .await?;
                    }
                    done.unchanged += 1;
                }
                Some(h) => {
                    let id: i64 = sqlx::query(
                        "UPDATE policies SET holder = ?, phone = ?, email = ?, premium_minor = ?,
                             currency = ?, frequency = ?, status = ?, register_pending = ?,
                             updated_at = ?
                         WHERE number = ? RETURNING id",
                    )
                    .bind(p.holder.as_str())
                    .bind(p.phone.as_str())
                    .bind(p.email.as_ref().map(Email::as_str))
                    .bind(p.premium.minor())
                    .bind(p.premium.currency().code())
                    .bind(p.frequency.as_str())
                    .bind(p.status.as_str())
                    .bind(pending)
                    .bind(to_ms(now))
                    .bind(&number)
                    .fetch_one(&mut *tx)
                    .await?
                    .get("id");
                    let schedule_changed = (h.premium, h.frequency, h.instalments, h.start)
                        != (p.premium, p.frequency, p.instalments, p.start);
                    if schedule_changed {
                        write_schedule(&mut tx, id, p).await?;
                    }
                    let change = Change {
                        actor,
                        action: "policy.update",
                        entity: "policy",
                        entity_id: number.clone(),
                        before: Some(described(h)),
                        after: Some(described(p)),
                    };
                    audit::record(&mut tx, now, change).await?;
                    done.updated.push(number);
                }
                None => {
                    let id: i64 = sqlx::query(
                        "INSERT INTO policies (number, holder, phone, email, premium_minor, currency,
                             frequency, status, register_pending, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    )
                    .bind(&number)
                    .bind(p.holder.as_str())
                    .bind(p.phone.as_str())
                    .bind(p.email.as_ref().map(Email::as_str))
                    .bind(p.premium.minor())
                    .bind(p.premium.currency().code())
                    .bind(p.frequency.as_str())
                    .bind(p.status.as_str())
                    .bind(pending)
                    .bind(to_ms(now))
                    .bind(to_ms(now))
                    .fetch_one(&mut *tx)
                    .await?
                    .get("id");
                    write_schedule(&mut tx, id, p).await?;
                    let change = Change {
                        actor,
                        action: "policy.add",
                        entity: "policy",
                        entity_id: number.clone(),
                        before: None,
                        after: Some(described(p)),
                    };
                    audit::record(&mut tx, now, change).await?;
                    done.added.push(number);
                }
            }
        }
        if let Some(cursor) = register_cursor {
            set_in(&mut tx, REGISTER_CURSOR, cursor).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Policies added or changed here that the register has not taken yet, oldest change
    /// first, with the change's time (to mark them sent only if unchanged since).
    pub async fn pending_policies(&self, limit: u32) -> Result<Vec<(RegisterPolicy, i64)>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{POLICY_WITH_SCHEDULE} WHERE p.register_pending = 1 ORDER BY p.updated_at, p.id LIMIT ?"
        )))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((register_policy(r)?, r.get::<i64, _>("updated_at"))))
            .collect()
    }

    /// The register took these policies (number, change time): they no longer wait, unless
    /// changed again since.
    pub async fn policies_sent(&self, sent: &[(String, i64)]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for (number, at) in sent {
            sqlx::query(
                "UPDATE policies SET register_pending = 0 WHERE number = ? AND updated_at = ?",
            )
            .bind(number)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How far this counter has read the register.
    pub async fn register_cursor(&self) -> Result<i64> {
        setting_i64(self, REGISTER_CURSOR).await
    }

    /// How far this counter has read the company's payments.
    pub async fn payments_cursor(&self) -> Result<i64> {
        setting_i64(self, PAYMENTS_CURSOR).await
    }

    /// Records a page of the company's payments (a later version of a payment replaces an
    /// earlier one) and the cursor after it, in one transaction.
    pub async fn record_company_payments(
        &self,
        payments: &[CompanyPayment],
        cursor: i64,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        for p in payments {
            sqlx::query(
                "INSERT INTO company_payments (reference, seq, number, office, counter, policy_number,
                     method, status, amount_minor, refunded_minor, currency, clerk, receipt_number,
                     provider_receipt, created_at, updated_at)
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                 ON CONFLICT (reference) DO UPDATE SET
                     seq = excluded.seq, status = excluded.status,
                     refunded_minor = excluded.refunded_minor,
                     receipt_number = excluded.receipt_number,
                     provider_receipt = coalesce(excluded.provider_receipt, provider_receipt),
                     updated_at = excluded.updated_at
                 WHERE excluded.seq > company_payments.seq",
            )
            .bind(&p.reference)
            .bind(p.seq)
            .bind(&p.number)
            .bind(&p.office)
            .bind(&p.counter)
            .bind(&p.policy_number)
            .bind(&p.method)
            .bind(p.status.as_str())
            .bind(p.amount.minor())
            .bind(p.refunded.minor())
            .bind(p.amount.currency().code())
            .bind(&p.clerk)
            .bind(&p.receipt_number)
            .bind(&p.provider_receipt)
            .bind(to_ms(p.created_at))
            .bind(to_ms(p.updated_at))
            .execute(&mut *tx)
            .await?;
        }
        set_in(&mut tx, PAYMENTS_CURSOR, cursor).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The company's payments as this counter knows them, newest first, and how many match:
    /// every counter's from the relay's feed, and this counter's own (its record wins, and
    /// those not yet sent are there too). `here` names this counter's branch and counter.
    pub async fn company_payments(
        &self,
        here: (&str, Option<&str>),
        f: &CompanyFilter,
    ) -> Result<(Vec<CompanyPayment>, i64)> {
        let status = f.status.map(TxStatus::as_str);
        let ledger = "(SELECT c.seq, c.reference, c.number, c.office, c.counter, c.policy_number,
                    c.method, c.status, c.amount_minor, c.refunded_minor, c.currency, c.clerk,
                    c.receipt_number, c.provider_receipt, c.created_at, c.updated_at, p.holder,
                    0 AS here
             FROM company_payments c LEFT JOIN policies p ON p.number = c.policy_number
             WHERE NOT EXISTS (SELECT 1 FROM transactions t WHERE t.reference = c.reference)
             UNION ALL
             SELECT 0, t.reference, t.number, ?8, ?9, p.number, t.method, t.status,
                    t.amount_minor, t.refunded_minor, t.currency, u.username, t.receipt_number,
                    t.provider_receipt, t.created_at, t.updated_at, p.holder, 1
             FROM transactions t JOIN policies p ON p.id = t.policy_id
             LEFT JOIN users u ON u.id = t.clerk_id)";
        let filter = "(?1 IS NULL OR office = ?1) AND (?2 IS NULL OR status = ?2)
             AND (?3 IS NULL OR policy_number = ?3) AND (?4 IS NULL OR created_at >= ?4)
             AND (?5 IS NULL OR created_at < ?5)";
        let total: i64 = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) AS n FROM {ledger} WHERE {filter}"
        )))
        .bind(&f.office)
        .bind(status)
        .bind(&f.policy)
        .bind(f.from_ms)
        .bind(f.to_ms)
        .bind(0)
        .bind(0)
        .bind(here.0)
        .bind(here.1)
        .fetch_one(&self.pool)
        .await?
        .get("n");
        let per_page = f.per_page.clamp(1, 500);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT * FROM {ledger} WHERE {filter}
             ORDER BY created_at DESC, reference LIMIT ?6 OFFSET ?7"
        )))
        .bind(&f.office)
        .bind(status)
        .bind(&f.policy)
        .bind(f.from_ms)
        .bind(f.to_ms)
        .bind(per_page)
        .bind((f.page.max(1) - 1).saturating_mul(per_page))
        .bind(here.0)
        .bind(here.1)
        .fetch_all(&self.pool)
        .await?;
        let items = rows.iter().map(payment_from_row).collect::<Result<_>>()?;
        Ok((items, total))
    }

    /// One payment of the company by its number, as this counter knows it.
    pub async fn company_payment(&self, number: &str) -> Result<Option<CompanyPayment>> {
        sqlx::query(
            "SELECT c.*, p.holder, 0 AS here FROM company_payments c
             LEFT JOIN policies p ON p.number = c.policy_number WHERE c.number = ?",
        )
        .bind(number.trim().to_ascii_uppercase())
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(payment_from_row)
        .transpose()
    }

    /// [`Self::recorded_code`] for many codes at once (a statement's rows): a few queries of
    /// up to 500 codes each instead of two per code. Codes recorded nowhere are left out.
    pub async fn recorded_codes(&self, codes: &[&str]) -> Result<HashMap<String, RecordedCode>> {
        let mut found: HashMap<String, RecordedCode> = HashMap::new();
        let read = |r: &SqliteRow| -> Result<(String, RecordedCode)> {
            Ok((
                r.get("code"),
                RecordedCode {
                    number: r.get("number"),
                    amount: money_from_row(r, "amount_minor")?,
                    method: r.get("method"),
                    status: parse_col(r.get::<&str, _>("status"), "status")?,
                },
            ))
        };
        for chunk in codes.chunks(500) {
            // This counter's own first (the lowest id, as `transaction_by_receipt` takes it).
            let mut own: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT provider_receipt AS code, number, amount_minor, currency, method, status
                 FROM transactions WHERE provider_receipt IN (",
            );
            let mut list = own.separated(", ");
            for c in chunk {
                list.push_bind(*c);
            }
            own.push(") ORDER BY id DESC");
            for r in own.build().fetch_all(&self.pool).await? {
                let (code, rec) = read(&r)?;
                found.insert(code, rec);
            }
            let rest: Vec<&str> = chunk
                .iter()
                .copied()
                .filter(|c| !found.contains_key(*c))
                .collect();
            if rest.is_empty() {
                continue;
            }
            let mut other: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT provider_receipt AS code, number, amount_minor, currency, method, status
                 FROM company_payments WHERE provider_receipt IN (",
            );
            let mut list = other.separated(", ");
            for c in &rest {
                list.push_bind(*c);
            }
            // The newest entry wins, as in `company_payment_by_receipt`.
            other.push(") ORDER BY seq");
            for r in other.build().fetch_all(&self.pool).await? {
                let (code, rec) = read(&r)?;
                found.insert(code, rec);
            }
        }
        Ok(found)
    }

    /// The payment that holds M-Pesa code `code`: this counter's own, else another counter's
    /// as this counter learnt it.
    pub async fn recorded_code(&self, code: &str) -> Result<Option<RecordedCode>> {
        if let Some(t) = self.transaction_by_receipt(code).await? {
            return Ok(Some(RecordedCode {
                number: t.number,
                amount: t.amount,
                method: t.method.to_string(),
                status: t.status,
            }));
        }
        Ok(self
            .company_payment_by_receipt(code)
            .await?
            .map(|p| RecordedCode {
                number: p.number,
                amount: p.amount,
                method: p.method,
                status: p.status,
            }))
    }

    /// Another counter's payment with this provider reference, as this counter learnt it.
    pub async fn company_payment_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<CompanyPayment>> {
        sqlx::query(
            "SELECT c.*, p.holder, 0 AS here FROM company_payments c
             LEFT JOIN policies p ON p.number = c.policy_number WHERE c.reference = ?",
        )
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(payment_from_row)
        .transpose()
    }

    /// Another counter's payment with this M-Pesa code, as this counter learnt it.
    pub async fn company_payment_by_receipt(
        &self,
        receipt: &str,
    ) -> Result<Option<CompanyPayment>> {
        sqlx::query(
            "SELECT c.*, p.holder, 0 AS here FROM company_payments c
             LEFT JOIN policies p ON p.number = c.policy_number
             WHERE c.provider_receipt = ? ORDER BY c.seq DESC LIMIT 1",
        )
        .bind(receipt)
        .fetch_optional(&self.pool)
        .await?
        .as_ref()
        .map(payment_from_row)
        .transpose()
    }

    /// Whether a policy may take payments, by its status in the register.
    pub async fn policy_status(&self, number: &str) -> Result<Option<PolicyStatus>> {
        sqlx::query("SELECT status FROM policies WHERE number = ?")
            .bind(number)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| parse_col(r.get::<&str, _>("status"), "policies.status"))
            .transpose()
    }
}
