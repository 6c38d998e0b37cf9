//! M-Pesa Ratiba standing orders: what the office asked Safaricom to create on a holder's
//! profile, and what Safaricom answered. No money moves here: each run of an order reaches the
//! paybill as the holder's own payment and is allocated and confirmed as such.

use serde_json::json;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::{Date, OffsetDateTime};

use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Currency, Money};

use crate::audit::{self, Change};
use crate::policies::parse_date;
use crate::{Result, Store, StoreError};

/// A standing order as the office asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewStandingOrder<'a> {
    pub policy_id: i64,
    pub name: &'a str,
    pub request_ref: &'a str,
    pub phone: &'a str,
    pub amount: Money,
    /// The policy's frequency (`monthly`, `quarterly`, `annually`).
    pub frequency: &'a str,
    pub start: Date,
    pub end: Date,
}

/// What Safaricom said of a standing order once the holder answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderResult<'a> {
    pub created: bool,
    pub code: &'a str,
    pub description: &'a str,
    /// Safaricom's reference for the order.
    pub order_ref: Option<&'a str>,
}

/// A standing order as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandingOrder {
    pub id: i64,
    pub policy_id: i64,
    pub policy_number: String,
    pub name: String,
    pub request_ref: String,
    pub response_ref: Option<String>,
    pub phone: String,
    pub amount: Money,
    pub frequency: String,
    pub start: Date,
    pub end: Date,
    /// `asking`, `awaiting_pin`, `active`, `failed` or `stopped`.
    pub status: String,
    pub result_code: Option<String>,
    pub result_desc: Option<String>,
    /// Safaricom's reference for the order.
    pub order_ref: Option<String>,
    pub created_by: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

const SELECT: &str =
    "SELECT o.*, p.number FROM standing_orders o JOIN policies p ON p.id = o.policy_id";

fn from_row(r: &SqliteRow) -> Result<StandingOrder> {
    let currency = Currency::from_code(r.get("currency"))
        .map_err(|e| StoreError::Corrupt(format!("standing_orders.currency: {e}")))?;
    Ok(StandingOrder {
        id: r.get("id"),
        policy_id: r.get("policy_id"),
        policy_number: r.get("number"),
        name: r.get("name"),
        request_ref: r.get("request_ref"),
        response_ref: r.get("response_ref"),
        phone: r.get("phone"),
        amount: Money::from_minor(r.get("amount_minor"), currency)
            .map_err(|e| StoreError::Corrupt(format!("standing_orders.amount_minor: {e}")))?,
        frequency: r.get("frequency"),
        start: parse_date(r.get("start_date"))?,
        end: parse_date(r.get("end_date"))?,
        status: r.get("status"),
        result_code: r.get("result_code"),
        result_desc: r.get("result_desc"),
        order_ref: r.get("order_ref"),
        created_by: r.get("created_by"),
        created_at: from_ms(r.get("created_at")),
        updated_at: from_ms(r.get("updated_at")),
    })
}

fn snapshot(o: &StandingOrder) -> serde_json::Value {
    json!({
        "name": o.name,
        "amount": o.amount.to_string(),
        "frequency": o.frequency,
        "start": o.start.to_string(),
        "end": o.end.to_string(),
        "status": o.status,
        "result_code": o.result_code,
        "result_desc": o.result_desc,
        "order_ref": o.order_ref,
    })
}

async fn read_in(conn: &mut sqlx::SqliteConnection, id: i64) -> Result<StandingOrder> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE o.id = ?")))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("standing order {id}")))?;
    from_row(&row)
}

impl Store {
    /// Records a standing order about to be asked for (`asking`), audited as `actor`'s.
    pub async fn new_standing_order(
        &self,
        actor: &str,
        new: &NewStandingOrder<'_>,
        now: OffsetDateTime,
    ) -> Result<StandingOrder> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO standing_orders (policy_id, name, request_ref, phone, amount_minor,
                 currency, frequency, start_date, end_date, status, created_by, created_at,
                 updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'asking', ?, ?, ?) RETURNING id",
        )
        .bind(new.policy_id)
        .bind(new.name)
        .bind(new.request_ref)
        .bind(new.phone)
        .bind(new.amount.minor())
        .bind(new.amount.currency().code())
        .bind(new.frequency)
        .bind(new.start.to_string())
        .bind(new.end.to_string())
        .bind(actor)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .fetch_one(&mut *tx)
        .await?
        .get("id");
        let order = read_in(&mut tx, id).await?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: "standing_order.ask",
                entity: "policy",
                entity_id: order.policy_number.clone(),
                before: None,
                after: Some(snapshot(&order)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// What Daraja said to the request: taken (`response_ref`, now waiting for the holder's
    /// PIN) or refused (`failed`, with why).
    pub async fn standing_order_sent(
        &self,
        id: i64,
        answer: std::result::Result<&str, &str>,
        now: OffsetDateTime,
    ) -> Result<StandingOrder> {
        let mut tx = self.begin_write().await?;
        let (status, response_ref, why) = match answer {
            Ok(r) => ("awaiting_pin", Some(r), None),
            Err(why) => ("failed", None, Some(why)),
        };
        sqlx::query(
            "UPDATE standing_orders SET status = ?, response_ref = ?, result_desc = ?,
                 updated_at = ? WHERE id = ? AND status = 'asking'",
        )
        .bind(status)
        .bind(response_ref)
        .bind(why)
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let order = read_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(order)
    }

    /// The order a Ratiba result names: by our reference, or by Daraja's.
    pub async fn standing_order_by_ref(&self, reference: &str) -> Result<Option<StandingOrder>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE o.request_ref = ?1 OR o.response_ref = ?1 ORDER BY o.id DESC LIMIT 1"
        )))
        .bind(reference)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// Applies Safaricom's result to order `id`: `active` when created, `failed` otherwise.
    /// `None` when the order has had its result already (a result told twice changes nothing).
    pub async fn settle_standing_order(
        &self,
        actor: &str,
        id: i64,
        result: OrderResult<'_>,
        now: OffsetDateTime,
    ) -> Result<Option<StandingOrder>> {
        let mut tx = self.begin_write().await?;
        let before = read_in(&mut tx, id).await?;
        if !matches!(before.status.as_str(), "asking" | "awaiting_pin") {
            return Ok(None);
        }
        sqlx::query(
            "UPDATE standing_orders SET status = ?, result_code = ?, result_desc = ?,
                 order_ref = ?, updated_at = ? WHERE id = ?",
        )
        .bind(if result.created { "active" } else { "failed" })
        .bind(result.code)
        .bind(result.description)
        .bind(result.order_ref)
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let after = read_in(&mut tx, id).await?;
        audit::record(
            &mut tx,
            now,
            Change {
                actor,
                action: if result.created {
                    "standing_order.created"
                } else {
                    "standing_order.failed"
                },
                entity: "policy",
                entity_id: after.policy_number.clone(),
                before: Some(snapshot(&before)),
                after: Some(snapshot(&after)),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(after))
    }

    /// Policy `policy_id`'s latest standing order.
    pub async fn latest_standing_order(&self, policy_id: i64) -> Result<Option<StandingOrder>> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE o.policy_id = ? ORDER BY o.id DESC LIMIT 1"
        )))
        .bind(policy_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row).transpose()
    }

    /// How many standing orders were ever asked for policy `policy_id`.
    pub async fn standing_orders_asked(&self, policy_id: i64) -> Result<i64> {
        Ok(
            sqlx::query("SELECT count(*) AS n FROM standing_orders WHERE policy_id = ?")
                .bind(policy_id)
                .fetch_one(&self.pool)
                .await?
                .get("n"),
        )
    }

    /// Marks policy `policy_id`'s live standing orders `stopped`: the office no longer counts
    /// on them (only the holder can cancel an order on their phone). Returns those stopped.
    pub async fn stop_standing_orders(
        &self,
        actor: &str,
        policy_id: i64,
        now: OffsetDateTime,
    ) -> Result<Vec<StandingOrder>> {
        let mut tx = self.begin_write().await?;
        let ids: Vec<i64> = sqlx::query(
            "UPDATE standing_orders SET status = 'stopped', updated_at = ?
             WHERE policy_id = ? AND status IN ('asking', 'awaiting_pin', 'active') RETURNING id",
        )
        .bind(to_ms(now))
        .bind(policy_id)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.get("id"))
        .collect();
        let mut stopped = Vec::new();
        for id in ids {
            let order = read_in(&mut tx, id).await?;
            audit::record(
                &mut tx,
                now,
                Change {
                    actor,
                    action: "standing_order.stopped",
                    entity: "policy",
                    entity_id: order.policy_number.clone(),
                    before: None,
                    after: Some(snapshot(&order)),
                },
            )
            .await?;
            stopped.push(order);
        }
        tx.commit().await?;
        Ok(stopped)
    }
}
