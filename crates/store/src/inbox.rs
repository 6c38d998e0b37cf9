//! Provider events pulled from the relay, and the outbox cursor of payments pushed to it.
//!
//! An event is recorded in the `inbox` in the same write transaction as the change it causes,
//! keyed by the relay's gapless sequence number: a crash before the commit leaves neither, a
//! second delivery finds the row and changes nothing. The device's cursor is the highest
//! recorded sequence number.

use sqlx::Row;
use time::OffsetDateTime;

use malipo_domain::time_zone::{from_ms, to_ms};
use malipo_domain::{Desk, TxEvent, transaction::Outcome};

use crate::transactions::{ProviderDetails, TransactionRecord, TxKey, apply_in, tx_from_row};
use crate::{Result, Store, StoreError};

/// An event as the relay serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    pub seq: i64,
    pub provider: String,
    pub kind: String,
    pub dedup_key: String,
    pub received_at: i64,
    pub body: String,
}

/// What an event did here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// It changed a payment of this office.
    Applied,
    /// It was about a payment of this office and told us nothing new.
    Unchanged,
    /// It is about another office's payment: the company view only.
    OtherOffice,
    /// It matches no payment anywhere: kept for a manager.
    Orphan,
    /// Nothing in it to act on (events Malipo does not use, or an event the payment's state
    /// cannot take; the note says which).
    Ignored,
    /// A claim waiting for the provider's confirmation (the provider could not be asked, or is
    /// still processing): looked at again each round, never holding back the events after it.
    Held,
    /// A claim the provider did not confirm (a forged or contradicting callback, a webhook for a
    /// charge Paystack does not know): kept for a manager; the note says why.
    Suspect,
    /// A paybill payment Safaricom confirmed whose account matches no policy: on the company's
    /// suspense list (kept at the relay) for a manager to allocate.
    Suspense,
}

impl InboxOutcome {
    fn from_db(text: &str) -> InboxOutcome {
        match text {
            "applied" => InboxOutcome::Applied,
            "unchanged" => InboxOutcome::Unchanged,
            "other_office" => InboxOutcome::OtherOffice,
            "orphan" => InboxOutcome::Orphan,
            "held" => InboxOutcome::Held,
            "suspect" => InboxOutcome::Suspect,
            "suspense" => InboxOutcome::Suspense,
            _ => InboxOutcome::Ignored,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InboxOutcome::Applied => "applied",
            InboxOutcome::Unchanged => "unchanged",
            InboxOutcome::OtherOffice => "other_office",
            InboxOutcome::Orphan => "orphan",
            InboxOutcome::Ignored => "ignored",
            InboxOutcome::Held => "held",
            InboxOutcome::Suspect => "suspect",
            InboxOutcome::Suspense => "suspense",
        }
    }
}

/// What to do with an event.
#[derive(Debug, Clone)]
pub enum InboxAction {
    /// Move the payment through the state machine. With `review`, the event itself is kept
    /// for a manager (recorded as suspect, with this note) although the payment moved: the
    /// provider confirmed something other than what the event claimed.
    Apply {
        key: TxKey,
        event: TxEvent,
        details: ProviderDetails,
        review: Option<String>,
    },
    /// Move a refund on: the one with this provider id, or else the one of this payment (our
    /// reference) awaiting this amount.
    Refund {
        provider_ref: Option<String>,
        payment_reference: Option<String>,
        amount: Option<malipo_domain::Money>,
        event: malipo_domain::refund::RefundEvent,
        details: crate::RefundDetails,
    },
    /// Record a paybill payment Safaricom confirmed. A code recorded here before (typed at
    /// the counter first) leaves that payment as it is: the event is recorded as unchanged.
    Paybill { payment: crate::NewPaybill },
    /// Only record it.
    Record {
        outcome: InboxOutcome,
        transaction_id: Option<i64>,
        note: String,
    },
}

/// The result of recording an event.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub outcome: InboxOutcome,
    /// The payment as it stands after the event, when it was about one of ours.
    pub transaction: Option<TransactionRecord>,
    /// The event had been recorded before: nothing was done.
    pub already: bool,
}

/// An event a manager has to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanRecord {
    pub event: InboxEvent,
    /// Orphan (matched nothing) or suspect (a claim the provider did not confirm).
    pub outcome: InboxOutcome,
    pub note: String,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

fn event_from_row(r: &sqlx::sqlite::SqliteRow) -> InboxEvent {
    InboxEvent {
        seq: r.get("seq"),
        provider: r.get("provider"),
        kind: r.get("kind"),
        dedup_key: r.get("dedup_key"),
        received_at: r.get("received_at"),
        body: r.get("body"),
    }
}

const OUTBOX_CURSOR: &str = "sync.outbox_cursor";
const LAST_ROUND: &str = "sync.last_round_at";

impl Store {
    /// The highest relay sequence number recorded: where pulling resumes.
    pub async fn inbox_cursor(&self) -> Result<i64> {
        Ok(
            sqlx::query("SELECT coalesce(max(seq), 0) AS seq FROM inbox")
                .fetch_one(&self.pool)
                .await?
                .get("seq"),
        )
    }

    /// Records `event` and does what `action` says, in one write transaction. A transition the
    /// payment's state machine refuses is recorded as ignored with the reason, so one odd
    /// event never stops the events after it. An event recorded as held is decided again: its
    /// row is replaced by the decision.
    pub async fn record_inbox(
        &self,
        actor: &str,
        office: &Desk,
        event: &InboxEvent,
        action: InboxAction,
        now: OffsetDateTime,
    ) -> Result<Recorded> {
        let mut tx = self.begin_write().await?;
        let seen = sqlx::query("SELECT outcome FROM inbox WHERE seq = ?")
            .bind(event.seq)
            .fetch_optional(&mut *tx)
            .await?;
        let was_held = match seen {
            Some(row) if InboxOutcome::from_db(row.get("outcome")) == InboxOutcome::Held => true,
            Some(row) => {
                return Ok(Recorded {
                    outcome: InboxOutcome::from_db(row.get("outcome")),
                    transaction: None,
                    already: true,
                });
            }
            None => false,
        };
        let (outcome, transaction, note) = match action {
            InboxAction::Apply {
                key,
                event: tx_event,
                details,
                review,
            } => {
                let (outcome, after, note) =
                    match apply_in(&mut tx, actor, &key, office, tx_event, &details, now).await {
                        Ok((after, Outcome::Moved { .. })) => {
                            (InboxOutcome::Applied, after, String::new())
                        }
                        Ok((after, Outcome::Unchanged(why))) => {
                            (InboxOutcome::Unchanged, after, why.to_owned())
                        }
                        Err(StoreError::Transition(e)) => {
                            let current = crate::transactions::fetch(&mut tx, &key).await?;
                            (InboxOutcome::Ignored, current, e.to_string())
                        }
                        Err(e) => return Err(e),
                    };
                match review {
                    Some(why) => (InboxOutcome::Suspect, Some(after), why),
                    None => (outcome, Some(after), note),
                }
            }
            InboxAction::Refund {
                provider_ref,
                payment_reference,
                amount,
                event: refund_event,
                details,
            } => {
                let by_ref = match &provider_ref {
                    Some(r) => sqlx::query("SELECT id FROM refunds WHERE provider_ref = ?")
                        .bind(r)
                        .fetch_optional(&mut *tx)
                        .await?
                        .map(|row| row.get::<i64, _>("id")),
                    None => None,
                };
                let by_amount = match (by_ref, &payment_reference, amount) {
                    (None, Some(reference), Some(amount)) => {
                        match crate::transactions::fetch(
                            &mut tx,
                            &TxKey::Reference(reference.clone()),
                        )
                        .await
                        {
                            Ok(p) => crate::refunds::awaiting(&mut tx, p.id, amount).await?,
                            Err(StoreError::NotFound(_)) => None,
                            Err(e) => return Err(e),
                        }
                    }
                    _ => None,
                };
                match by_ref.or(by_amount) {
                    Some(id) => match crate::refunds::refund_in(
                        &mut tx,
                        actor,
                        id,
                        office,
                        refund_event,
                        &details,
                        now,
                    )
                    .await
                    {
                        Ok((_, changed, payment)) => (
                            if changed {
                                InboxOutcome::Applied
                            } else {
                                InboxOutcome::Unchanged
                            },
                            Some(payment),
                            format!("refund {id}"),
                        ),
                        Err(StoreError::Refund(e)) => {
                            (InboxOutcome::Ignored, None, format!("refund {id}: {e}"))
                        }
                        Err(e) => return Err(e),
                    },
                    None => (
                        InboxOutcome::Orphan,
                        None,
                        "no refund here matches this refund event".to_owned(),
                    ),
                }
            }
            InboxAction::Paybill { payment } => {
                match crate::paybill::record_paybill_in(&mut tx, actor, &payment, now).await {
                    Ok(record) => (InboxOutcome::Applied, Some(record), String::new()),
                    Err(StoreError::Duplicate(what)) => {
                        let row = sqlx::query(
                            "SELECT id FROM transactions
                             WHERE method = 'paybill' AND provider_receipt = ?",
                        )
                        .bind(&payment.trans_id)
                        .fetch_one(&mut *tx)
                        .await?;
                        let current =
                            crate::transactions::fetch(&mut tx, &TxKey::Id(row.get("id"))).await?;
                        (
                            InboxOutcome::Unchanged,
                            Some(current),
                            format!("{what}: recorded here already"),
                        )
                    }
                    Err(e) => return Err(e),
                }
            }
            InboxAction::Record {
                outcome,
                transaction_id,
                note,
            } => {
                let current = match transaction_id {
                    Some(id) => Some(crate::transactions::fetch(&mut tx, &TxKey::Id(id)).await?),
                    None => None,
                };
                (outcome, current, note)
            }
        };
        if was_held {
            sqlx::query("DELETE FROM inbox WHERE seq = ? AND outcome = 'held'")
                .bind(event.seq)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "INSERT INTO inbox (seq, provider, kind, dedup_key, received_at, body, outcome,
                                transaction_id, note, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(event.seq)
        .bind(&event.provider)
        .bind(&event.kind)
        .bind(&event.dedup_key)
        .bind(event.received_at)
        .bind(&event.body)
        .bind(outcome.as_str())
        .bind(transaction.as_ref().map(|t| t.id))
        .bind(&note)
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Recorded {
            outcome,
            transaction,
            already: false,
        })
    }

    /// What waits for a manager: refunds requested and not decided, and events for review
    /// (orphans and suspects) not resolved. Counted, however many there are.
    pub async fn waiting_decisions(&self) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM refunds WHERE status = 'requested') AS refunds,
                    (SELECT count(*) FROM inbox WHERE outcome IN ('orphan', 'suspect')
                       AND resolved_at IS NULL) AS orphans",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok((row.get("refunds"), row.get("orphans")))
    }

    /// Events for a manager's review (orphans and suspects), newest first: the unresolved ones
    /// unless `all`.
    pub async fn events_for_review(&self, all: bool, limit: i64) -> Result<Vec<OrphanRecord>> {
        let rows = sqlx::query(
            "SELECT seq, provider, kind, dedup_key, received_at, body, outcome, note, resolved_by,
                    resolution
             FROM inbox WHERE outcome IN ('orphan', 'suspect') AND (? OR resolved_at IS NULL)
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(all)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OrphanRecord {
                event: event_from_row(r),
                outcome: InboxOutcome::from_db(r.get("outcome")),
                note: r.get("note"),
                resolved_by: r.get("resolved_by"),
                resolution: r.get("resolution"),
            })
            .collect())
    }

    /// Marks an event for review (an orphan or a suspect) resolved by `actor`, saying how;
    /// refused for an event that is not one, or is resolved already.
    pub async fn resolve_orphan(
        &self,
        actor: &str,
        seq: i64,
        resolution: &str,
        now: OffsetDateTime,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE inbox SET resolved_by = ?, resolved_at = ?, resolution = ?
             WHERE seq = ? AND outcome IN ('orphan', 'suspect') AND resolved_at IS NULL",
        )
        .bind(actor)
        .bind(to_ms(now))
        .bind(resolution)
        .bind(seq)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(StoreError::NotFound(format!(
                "unresolved event {seq} for review"
            )));
        }
        crate::audit::record(
            &mut tx,
            now,
            crate::audit::Change {
                actor,
                action: "orphan.resolve",
                entity: "event",
                entity_id: seq.to_string(),
                before: None,
                after: Some(serde_json::json!({ "resolution": resolution })),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Events held for a provider's confirmation, oldest first, at most `limit`.
    pub async fn held_events(&self, limit: i64) -> Result<Vec<InboxEvent>> {
        let rows = sqlx::query(
            "SELECT seq, provider, kind, dedup_key, received_at, body FROM inbox
             WHERE outcome = 'held' ORDER BY seq LIMIT ?",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(event_from_row).collect())
    }

    /// Events of `kind` the relay received in `[from_ms, to_ms)`, with what each did here.
    pub async fn inbox_received(
        &self,
        kind: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(InboxEvent, InboxOutcome)>> {
        let rows = sqlx::query(
            "SELECT seq, provider, kind, dedup_key, received_at, body, outcome FROM inbox
             WHERE kind = ? AND received_at >= ? AND received_at < ? ORDER BY seq",
        )
        .bind(kind)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (event_from_row(r), InboxOutcome::from_db(r.get("outcome"))))
            .collect())
    }

    /// Where the outbox stands: the (updated_at ms, id) of the last payment the relay took.
    pub async fn outbox_cursor(&self) -> Result<(i64, i64)> {
        let raw = self.setting(OUTBOX_CURSOR).await?;
        Ok(raw
            .as_deref()
            .and_then(|v| v.split_once(':'))
            .and_then(|(ms, id)| Some((ms.parse().ok()?, id.parse().ok()?)))
            .unwrap_or((i64::MIN, 0)))
    }

    /// Payments changed after `cursor`, in the order they changed.
    pub async fn outbox(&self, cursor: (i64, i64), limit: i64) -> Result<Vec<TransactionRecord>> {
        let rows = sqlx::query(crate::transactions::select_tx_where(
            "(t.updated_at, t.id) > (?, ?) ORDER BY t.updated_at, t.id LIMIT ?",
        ))
        .bind(cursor.0)
        .bind(cursor.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(tx_from_row).collect()
    }

    /// Notes that a sync round reached the relay and finished at `at`.
    pub async fn note_sync_round(&self, at: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(LAST_ROUND)
        .bind(to_ms(at).to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// When the last sync round finished, if one ever did.
    pub async fn last_sync_round(&self) -> Result<Option<OffsetDateTime>> {
        Ok(self
            .setting(LAST_ROUND)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            .map(from_ms))
    }

    /// Moves the outbox cursor once the relay has taken everything up to `cursor`.
    pub async fn set_outbox_cursor(&self, cursor: (i64, i64)) -> Result<()> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?, ?)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(OUTBOX_CURSOR)
        .bind(format!("{}:{}", cursor.0, cursor.1))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
