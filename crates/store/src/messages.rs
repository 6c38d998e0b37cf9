//! Customer messages: the queue of SMS and e-mail receipts and reminders, each at most once.
//!
//! Receipts are queued by a trigger in the same transaction that makes a payment paid; reminders
//! by [`Store::queue_reminder`], keyed by policy, instalment and ladder step. A sender takes a due
//! message with [`Store::take_message`] (marking it `sending`) and records the provider's answer;
//! a message left `sending` by a crash is not sent again on its own.

use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};

use crate::{Result, Store, StoreError};

/// A message as queued or as it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    pub id: i64,
    pub key: String,
    /// `receipt` or `reminder`.
    pub purpose: String,
    /// `sms` or `email`.
    pub channel: String,
    pub policy_id: i64,
    pub policy_number: String,
    pub transaction_id: Option<i64>,
    pub instalment_seq: Option<i64>,
    /// `queued`, `sending`, `sent`, `delivered`, `failed` or `skipped`.
    pub status: String,
    pub recipient: Option<String>,
    pub body: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: OffsetDateTime,
    pub provider_id: Option<String>,
    pub problem: Option<String>,
    pub resent_from: Option<i64>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub sent_at: Option<OffsetDateTime>,
    pub delivered_at: Option<OffsetDateTime>,
}

/// What became of one attempt to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The provider took it (its id for delivery reports, when it gives one).
    Sent { provider_id: Option<String> },
    /// It was certainly not sent and may be tried again from `retry_at`.
    Retry {
        problem: String,
        retry_at: OffsetDateTime,
    },
    /// It will not be sent (the provider refused it for good, or it is no longer wanted).
    Failed { problem: String },
    /// Not wanted any more (the instalment was paid, the holder opted out): nothing was sent.
    Skipped { why: String },
}

const SELECT: &str = "SELECT m.*, p.number AS policy_number FROM messages m
     JOIN policies p ON p.id = m.policy_id";

fn from_row(r: &SqliteRow) -> MessageRecord {
    let at = |c: &str| r.get::<Option<i64>, _>(c).map(from_ms);
    MessageRecord {
        id: r.get("id"),
        key: r.get("key"),
        purpose: r.get("purpose"),
        channel: r.get("channel"),
        policy_id: r.get("policy_id"),
        policy_number: r.get("policy_number"),
        transaction_id: r.get("transaction_id"),
        instalment_seq: r.get("instalment_seq"),
        status: r.get("status"),
        recipient: r.get("recipient"),
        body: r.get("body"),
        attempts: r.get("attempts"),
        next_attempt_at: from_ms(r.get("next_attempt_at")),
        provider_id: r.get("provider_id"),
        problem: r.get("problem"),
        resent_from: r.get("resent_from"),
        created_at: from_ms(r.get("created_at")),
        updated_at: from_ms(r.get("updated_at")),
        sent_at: at("sent_at"),
        delivered_at: at("delivered_at"),
    }
}

/// Which messages to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct MessageFilter {
    pub status: Option<String>,
    pub policy: Option<String>,
    pub limit: u32,
}

impl Store {
    /// Queues a reminder SMS for instalment `seq` of `policy_id` at ladder step `offset` (days
    /// from the due date); `false` when it was queued before (or the holder opted out).
    /// Queues a notice with its text already written (sent to the policy's phone), once per
    /// `key`. Returns whether it was queued now (false: the holder opted out, or it was before).
    pub async fn queue_notice(
        &self,
        policy_id: i64,
        key: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO messages (key, purpose, channel, policy_id, status, body,
                                             next_attempt_at, created_at, updated_at)
             SELECT ?, 'notice', 'sms', p.id, 'queued', ?, ?, ?, ?
             FROM policies p WHERE p.id = ? AND p.opted_out_at IS NULL",
        )
        .bind(key)
        .bind(body)
        .bind(to_ms(now))
        .bind(to_ms(now))
        .bind(to_ms(now))
        .bind(policy_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    pub async fn queue_reminder(
        &self,
        policy_id: i64,
        policy_number: &str,
        seq: i64,
        offset: i64,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO messages (key, purpose, channel, policy_id, instalment_seq,
                 status, next_attempt_at, created_at, updated_at)
             SELECT ?1, 'reminder', 'sms', p.id, ?2, 'queued', ?3, ?3, ?3
             FROM policies p WHERE p.id = ?4 AND p.opted_out_at IS NULL",
        )
        .bind(format!("reminder:sms:{policy_number}:{seq}:{offset}"))
        .bind(seq)
        .bind(to_ms(now))
        .bind(policy_id)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether a reminder for this step was ever queued.
    pub async fn reminder_queued(
        &self,
        policy_number: &str,
        seq: i64,
        offset: i64,
    ) -> Result<bool> {
        self.message_queued(&format!("reminder:sms:{policy_number}:{seq}:{offset}"))
            .await
    }

    /// Whether a message with this key was ever queued (a read: no write lock is taken).
    pub async fn message_queued(&self, key: &str) -> Result<bool> {
        Ok(sqlx::query("SELECT 1 FROM messages WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// Takes the next message due at `now` for sending: it becomes `sending`, its attempt
    /// counted, in one write, so two senders never take the same one.
    pub async fn take_message(&self, now: OffsetDateTime) -> Result<Option<MessageRecord>> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query(
            "SELECT id FROM messages WHERE status = 'queued' AND next_attempt_at <= ?
             ORDER BY next_attempt_at, id LIMIT 1",
        )
        .bind(to_ms(now))
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.get("id"));
        let Some(id) = id else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE messages SET status = 'sending', attempts = attempts + 1, updated_at = ?
             WHERE id = ?",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE m.id = ?")))
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(from_row(&row)))
    }

    /// Records the text and recipient of a message being sent, before it is handed over.
    pub async fn message_content(&self, id: i64, recipient: &str, body: &str) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET recipient = ?, body = ? WHERE id = ? AND status = 'sending'",
        )
        .bind(recipient)
        .bind(body)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records what an attempt to send message `id` came to.
    pub async fn message_attempted(
        &self,
        id: i64,
        attempt: &Attempt,
        now: OffsetDateTime,
    ) -> Result<MessageRecord> {
        let ms = to_ms(now);
        let q = match attempt {
            Attempt::Sent { provider_id } => sqlx::query(
                "UPDATE messages SET status = 'sent', provider_id = ?1, problem = NULL,
                     sent_at = ?2, updated_at = ?2 WHERE id = ?3 AND status = 'sending'",
            )
            .bind(provider_id.clone())
            .bind(ms),
            Attempt::Retry { problem, retry_at } => sqlx::query(
                "UPDATE messages SET status = 'queued', problem = ?, next_attempt_at = ?,
                     updated_at = ? WHERE id = ? AND status = 'sending'",
            )
            .bind(problem.clone())
            .bind(to_ms(*retry_at))
            .bind(ms),
            Attempt::Failed { problem } => sqlx::query(
                "UPDATE messages SET status = 'failed', problem = ?, updated_at = ?
                 WHERE id = ? AND status = 'sending'",
            )
            .bind(problem.clone())
            .bind(ms),
            Attempt::Skipped { why } => sqlx::query(
                "UPDATE messages SET status = 'skipped', problem = ?, updated_at = ?
                 WHERE id = ? AND status IN ('sending', 'queued')",
            )
            .bind(why.clone())
            .bind(ms),
        };
        q.bind(id).execute(&self.pool).await?;
        self.message(id).await
    }

    /// Puts a message taken for sending back in the queue untouched (quiet hours): the attempt
    /// is not counted.
    pub async fn defer_message(&self, id: i64, until: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "UPDATE messages SET status = 'queued', attempts = attempts - 1, next_attempt_at = ?
             WHERE id = ? AND status = 'sending'",
        )
        .bind(to_ms(until))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Messages left `sending` since before `taken_before` (the computer stopped while one was
    /// being handed over; a send takes well under a minute): whether
    /// the provider took them is unknown, so they are marked failed with that reason, never
    /// sent again on their own. Returns how many.
    pub async fn abandon_sending(
        &self,
        taken_before: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<u64> {
        Ok(sqlx::query(
            "UPDATE messages SET status = 'failed', updated_at = ?,
                 problem = 'Malipo stopped while handing it over: it may or may not have been sent; a manager may resend it'
             WHERE status = 'sending' AND updated_at < ?",
        )
        .bind(to_ms(now))
        .bind(to_ms(taken_before))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// A delivery report for the message the provider knows as `provider_id`: delivered, or
    /// failed with the provider's reason. `None` when no message here has that id.
    pub async fn message_delivery(
        &self,
        provider_id: &str,
        delivered: bool,
        problem: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<MessageRecord>> {
        let id: Option<i64> = sqlx::query("SELECT id FROM messages WHERE provider_id = ?")
            .bind(provider_id)
            .fetch_optional(&self.pool)
            .await?
            .map(|r| r.get("id"));
        let Some(id) = id else {
            return Ok(None);
        };
        if delivered {
            sqlx::query(
                "UPDATE messages SET status = 'delivered', delivered_at = ?1, updated_at = ?1,
                     problem = NULL WHERE id = ?2 AND status IN ('sent', 'failed')",
            )
            .bind(to_ms(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        } else {
            sqlx::query(
                "UPDATE messages SET status = 'failed', problem = ?, updated_at = ?
                 WHERE id = ? AND status = 'sent'",
            )
            .bind(problem.unwrap_or("the network could not deliver it"))
            .bind(to_ms(now))
            .bind(id)
            .execute(&self.pool)
            .await?;
        }
        self.message(id).await.map(Some)
    }

    pub async fn message(&self, id: i64) -> Result<MessageRecord> {
        sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT} WHERE m.id = ?")))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .as_ref()
            .map(from_row)
            .ok_or_else(|| StoreError::NotFound(format!("message {id}")))
    }

    /// Messages, newest first.
    pub async fn messages(&self, f: &MessageFilter) -> Result<Vec<MessageRecord>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "{SELECT} WHERE (?1 IS NULL OR m.status = ?1) AND (?2 IS NULL OR p.number = ?2)
             ORDER BY m.created_at DESC, m.id DESC LIMIT ?3"
        )))
        .bind(&f.status)
        .bind(f.policy.as_ref().map(|p| p.trim().to_ascii_uppercase()))
        .bind(f.limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(from_row).collect())
    }

    /// How many messages are in each status.
    pub async fn message_counts(&self) -> Result<Vec<(String, i64)>> {
        Ok(sqlx::query(
            "SELECT status, count(*) AS n FROM messages GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| (r.get("status"), r.get("n")))
        .collect())
    }

    /// Queues a message again as a new one (a manager's resend of a failed or unknown one).
    pub async fn resend_message(&self, id: i64, now: OffsetDateTime) -> Result<MessageRecord> {
        let before = self.message(id).await?;
        if !matches!(
            before.status.as_str(),
            "failed" | "sent" | "delivered" | "skipped"
        ) {
            return Err(StoreError::Refused(
                "only a message that was sent, failed or skipped can be sent again",
            ));
        }
        let new_id: i64 = sqlx::query(
            "INSERT INTO messages (key, purpose, channel, policy_id, transaction_id,
                 instalment_seq, status, next_attempt_at, resent_from, created_at, updated_at)
             SELECT key || ':again:' || ?1, purpose, channel, policy_id, transaction_id,
                    instalment_seq, 'queued', ?2, id, ?2, ?2
             FROM messages WHERE id = ?1 RETURNING id",
        )
        .bind(id)
        .bind(to_ms(now))
        .fetch_one(&self.pool)
        .await
        .map_err(|e| crate::unique_violation(e, || format!("a resend of message {id}")))?
        .get("id");
        self.message(new_id).await
    }

    /// Sets a policy's message language (`en` or `sw`) and whether its holder opted out.
    pub async fn policy_messages(
        &self,
        number: &str,
        language: Option<&str>,
        opted_out: Option<bool>,
        now: OffsetDateTime,
    ) -> Result<()> {
        let done = sqlx::query(
            "UPDATE policies SET language = coalesce(?1, language),
                 opted_out_at = CASE WHEN ?2 IS NULL THEN opted_out_at
                                     WHEN ?2 THEN coalesce(opted_out_at, ?3) ELSE NULL END
             WHERE number = ?4",
        )
        .bind(language)
        .bind(opted_out)
        .bind(to_ms(now))
        .bind(number.trim().to_ascii_uppercase())
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!("policy {number}")));
        }
        if opted_out == Some(true) {
            sqlx::query(
                "UPDATE messages SET status = 'skipped', problem = 'the holder opted out',
                     updated_at = ? WHERE status = 'queued'
                   AND policy_id = (SELECT id FROM policies WHERE number = ?)",
            )
            .bind(to_ms(now))
            .bind(number.trim().to_ascii_uppercase())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// A policy's message language and whether its holder opted out.
    pub async fn policy_message_prefs(&self, policy_id: i64) -> Result<(String, bool)> {
        let r = sqlx::query("SELECT language, opted_out_at FROM policies WHERE id = ?")
            .bind(policy_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((
            r.get("language"),
            r.get::<Option<i64>, _>("opted_out_at").is_some(),
        ))
    }
}
