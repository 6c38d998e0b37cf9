//! Syncing with the company's relay: the outbox pushes this office's payments up (the relay
//! keeps one row per payment, so pushing again is harmless), the inbox pulls provider events
//! after the stored cursor and applies each exactly once (the event is recorded in the same
//! SQLite transaction as the change it causes), and reconciliation asks the providers about
//! payments nobody has heard of for a while.
//!
//! [`App::sync_once`] runs one round; [`App::sync_forever`] repeats it whenever the relay's event
//! stream wakes it, and at least every [`PERIOD`] whatever the stream does, so a silent
//! connection cannot stall it. The relay's protocol is [`relay`]; what each event means here is
//! [`decide`].

mod company;
mod decide;
mod paybill;
mod pull;
mod statement;

use std::collections::HashMap;
use std::time::Duration;

use serde::Serialize;
use tracing::Instrument;

use malipo_relay_api as api;
use malipo_store::{InboxEvent, InboxOutcome};

use crate::error::{Error, Result};
use crate::relay::RelayClient;
use crate::settings::table;
use crate::views::OrphanView;
use crate::{Actor, App};
pub(crate) use paybill::{ForPolicy, fresh_reference, prompt_takes};
pub(crate) use pull::{PULL_COMPLETE_KEY, PULL_REGISTERED_KEY};
pub use pull::{PullRegistered, PullReport};
pub use statement::{StatementImport, StatementLine};

/// The longest `sync_forever` waits between rounds.
pub const PERIOD: Duration = Duration::from_secs(30);
/// How long an open payment may go unheard of before the provider is asked about it, unless
/// the office sets `sync.query_after_seconds`.
pub const QUERY_AFTER: time::Duration = time::Duration::seconds(45);
/// How many payments the outbox reads at a time (each upload is then cut by size).
const OUTBOX_READ: i64 = 200;
/// How many held events one round decides again.
const HELD_PER_ROUND: i64 = 50;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Payments the relay took from the outbox.
    pub uploaded: u64,
    /// Events pulled and recorded.
    pub pulled: u64,
    pub applied: u64,
    pub unchanged: u64,
    pub other_office: u64,
    pub orphans: u64,
    pub ignored: u64,
    /// Claims waiting for a provider's confirmation (decided again next round).
    pub held: u64,
    /// Claims the provider did not confirm, kept for a manager.
    pub suspect: u64,
    /// Paybill payments no policy matched, put on the company's suspense list.
    pub suspense: u64,
    /// Paybill payments recorded from Safaricom's own list (Pull Transactions): their
    /// confirmations never came.
    pub mpesa_pulled: u64,
    /// Payments and card refunds asked about (STK Push Query, Paystack verify or refund fetch).
    pub queried: u64,
    /// Policies added or changed here that the company register took.
    pub policies_sent: u64,
    /// Policies of the register new or changed here.
    pub policies_received: u64,
    /// Payments of the company (any counter's) learnt of or updated.
    pub payments_received: u64,
    /// The inbox cursor after the round.
    pub cursor: i64,
    /// What went wrong without stopping the round (payments the relay did not take).
    pub problems: Vec<String>,
}

/// The largest upload body the outbox sends: below the relay's limit, with room to spare.
const UPLOAD_LIMIT: usize = api::MAX_BODY - 1024;

/// An upload of as many of `items` (at least one) as fit in [`UPLOAD_LIMIT`] bytes, as
/// `{"KEY": [...]}` (after the fields of `head`, an object), and how many it holds.
fn batch_body<T>(
    head: serde_json::Value,
    key: &str,
    items: &[T],
    encode: impl Fn(&T) -> Result<(String, Vec<u8>)>,
) -> Result<(Vec<u8>, usize)> {
    const CLOSE: &[u8] = b"]}";
    let mut body = serde_json::to_vec(&head).map_err(Error::internal)?;
    if body.pop() != Some(b'}') {
        return Err(Error::internal("an upload's head is not an object"));
    }
    if body.len() > 1 {
        body.push(b',');
    }
    body.extend_from_slice(format!("\"{key}\":[").as_bytes());
    let mut taken = 0;
    for t in items {
        let (name, item) = encode(t)?;
        let separator = usize::from(taken > 0);
        if body.len() + separator + item.len() + CLOSE.len() > UPLOAD_LIMIT {
            if taken == 0 {
                return Err(Error::internal(format!(
                    "{name} is too large to upload ({} bytes)",
                    item.len()
                )));
            }
            break;
        }
        if taken > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&item);
        taken += 1;
    }
    body.extend_from_slice(CLOSE);
    Ok((body, taken))
}

/// An upload of as many of `records` (at least one) as fit in [`UPLOAD_LIMIT`] bytes, and how
/// many it holds.
fn upload_body(records: &[malipo_store::TransactionRecord]) -> Result<(Vec<u8>, usize)> {
    batch_body(serde_json::json!({}), "transactions", records, |t| {
        let item = serde_json::to_vec(&crate::views::upload_record(t)).map_err(Error::internal)?;
        Ok((format!("payment {}", t.number), item))
    })
}

/// When a payment may next be asked about, and the pause that got it there.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    next: tokio::time::Instant,
    pause: Duration,
}

impl App {
    /// One round: push, pull and apply, ask about stale payments, push what changed.
    pub async fn sync_once(&self) -> Result<SyncReport> {
        self.round(&mut HashMap::new()).await
    }

    /// The sync round, written once: `asked` remembers between rounds when each open payment
    /// may next be asked about.
    async fn round(&self, asked: &mut HashMap<i64, Asked>) -> Result<SyncReport> {
        let span = crate::trace::sync_round(self.desk().await?);
        let report = self.round_steps(asked).instrument(span.clone()).await;
        if let Ok(r) = &report {
            span.in_scope(|| {
                tracing::info!(
                    uploaded = r.uploaded,
                    applied = r.applied,
                    queried = r.queried,
                    cursor = r.cursor,
                    "round done"
                );
            });
        }
        report
    }

    async fn round_steps(&self, asked: &mut HashMap<i64, Asked>) -> Result<SyncReport> {
        let providers = self.providers();
        let relay = providers.relay()?;
        let mut report = SyncReport::default();
        self.learn_counter().await;
        // A push the relay refuses never keeps the office from applying provider events.
        self.push_noting(relay, &mut report).await?;
        self.push_policies(relay, &mut report).await?;
        self.pull_register(relay, &mut report).await?;
        self.pull(relay, &mut report).await?;
        self.pull_payments(relay, &mut report).await?;
        report.queried = self.reconcile_open(asked).await?;
        report.queried += self.follow_card_refunds().await?;
        // While Daraja is down it is asked again now and then: the prompt comes back by itself.
        if self.probe_daraja().await {
            report.queried += 1;
        }
        self.pull_if_due(&mut report).await?;
        self.push_noting(relay, &mut report).await?;
        report.cursor = self.store().inbox_cursor().await?;
        self.store().note_sync_round(self.now()).await?;
        Ok(report)
    }

    /// [`Self::push`], counting what went into the report and a relay's refusal as a problem.
    async fn push_noting(&self, relay: &RelayClient, report: &mut SyncReport) -> Result<()> {
        match self.push(relay).await {
            Ok(n) => report.uploaded += n,
            Err(e) if e.is_provider() => {
                tracing::warn!(error = %e, "payments not sent to the relay");
                report
                    .problems
                    .push(format!("payments not sent to the relay: {e}"));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Rounds until `stop` resolves: after each, waits for the relay's stream to announce an
    /// event (at most [`PERIOD`]); when the relay is unreachable, backs off up to a minute.
    /// `each` sees every round's report or error.
    pub async fn sync_forever(
        &self,
        stop: impl std::future::Future<Output = ()>,
        mut each: impl FnMut(std::result::Result<&SyncReport, &Error>),
    ) -> Result<()> {
        let mut asked: HashMap<i64, Asked> = HashMap::new();
        let mut backoff = Duration::from_secs(1);
        tokio::pin!(stop);
        loop {
            if self.providers().relay().is_err() {
                // Nothing to sync with until a relay is configured; look again later.
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = tokio::time::sleep(PERIOD) => continue,
                }
            }
            let pause = match self.round(&mut asked).await {
                Ok(report) => {
                    each(Ok(&report));
                    backoff = Duration::from_secs(1);
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "sync round failed");
                    each(Err(&e));
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    Some(backoff)
                }
            };
            let wait = async {
                let providers = self.providers();
                match (pause, providers.relay()) {
                    (Some(p), _) => tokio::time::sleep(p).await,
                    (None, Err(_)) => {}
                    // A stream that fails at once must not turn this into a busy loop.
                    (None, Ok(relay)) => {
                        let cursor = self.store().inbox_cursor().await.unwrap_or(0);
                        if relay.wait_for_wake(cursor, PERIOD).await.is_err() {
                            tokio::time::sleep(backoff.min(PERIOD)).await;
                        }
                    }
                }
            };
            tokio::select! {
                () = &mut stop => return Ok(()),
                () = wait => {}
            }
        }
    }

    /// Sends every payment changed since the outbox cursor, in uploads cut to stay below the
    /// relay's body limit; the cursor moves after each upload the relay took. Returns how many.
    async fn push(&self, relay: &RelayClient) -> Result<u64> {
        let mut sent = 0;
        loop {
            let cursor = self.store().outbox_cursor().await?;
            let batch = self.store().outbox(cursor, OUTBOX_READ).await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            let mut rest = batch.as_slice();
            while !rest.is_empty() {
                let (body, taken) = upload_body(rest)?;
                relay.upload(body).await?;
                let last = &rest[taken - 1];
                self.store()
                    .set_outbox_cursor((malipo_domain::time_zone::to_ms(last.updated_at), last.id))
                    .await?;
                sent += taken as u64;
                rest = &rest[taken..];
            }
        }
    }

    /// Decides again the events held for a provider's answer, then pulls and applies events
    /// after the cursor until the relay has no more. An event still waiting is held again; it
    /// never holds back the ones after it.
    async fn pull(&self, relay: &RelayClient, report: &mut SyncReport) -> Result<()> {
        let office = self.desk().await?;
        self.settle_held(&office, |_| true, report).await?;
        let mut answers = false;
        loop {
            let cursor = self.store().inbox_cursor().await?;
            let page = relay.events(cursor).await?;
            for wire in &page.events {
                answers |= self.settle(wire, &office, false, report).await?;
            }
            if page.events.is_empty() || page.next <= cursor {
                break;
            }
        }
        // Safaricom answered about paybill codes this round: the confirmations waiting for those
        // answers need not wait for the next round.
        if answers {
            self.settle_held(&office, |e| e.kind == "c2b_confirmation", report)
                .await?;
        }
        Ok(())
    }

    /// Decides again the held events `which` picks.
    async fn settle_held(
        &self,
        office: &malipo_domain::Desk,
        which: impl Fn(&InboxEvent) -> bool,
        report: &mut SyncReport,
    ) -> Result<()> {
        for held in self.store().held_events(HELD_PER_ROUND).await? {
            if !which(&held) {
                continue;
            }
            let wire = api::Event {
                seq: held.seq,
                provider: held.provider,
                kind: held.kind,
                dedup_key: held.dedup_key,
                received_at: held.received_at,
                body: held.body,
                office: None,
            };
            self.settle(&wire, office, true, report).await?;
        }
        Ok(())
    }

    /// Decides one event and records it with the change it causes.
    async fn settle(
        &self,
        wire: &api::Event,
        office: &malipo_domain::Desk,
        was_held: bool,
        report: &mut SyncReport,
    ) -> Result<bool> {
        let event = InboxEvent {
            seq: wire.seq,
            provider: wire.provider.clone(),
            kind: wire.kind.clone(),
            dedup_key: wire.dedup_key.clone(),
            received_at: wire.received_at,
            body: wire.body.clone(),
        };
        let action = self.decide(wire, office).await?;
        let recorded = self
            .store()
            .record_inbox(Actor::Sync.name(), office, &event, action, self.now())
            .await?;
        if recorded.already {
            return Ok(false);
        }
        tracing::info!(
            seq = event.seq,
            kind = %event.kind,
            outcome = recorded.outcome.as_str(),
            number = recorded.transaction.as_ref().map(|t| t.number.as_str()).unwrap_or(""),
            "provider event"
        );
        if !was_held {
            report.pulled += 1;
        }
        match recorded.outcome {
            InboxOutcome::Applied => report.applied += 1,
            InboxOutcome::Unchanged => report.unchanged += 1,
            InboxOutcome::OtherOffice => report.other_office += 1,
            InboxOutcome::Orphan => report.orphans += 1,
            InboxOutcome::Ignored => report.ignored += 1,
            InboxOutcome::Held => report.held += 1,
            InboxOutcome::Suspect => report.suspect += 1,
            InboxOutcome::Suspense => report.suspense += 1,
        }
        Ok(matches!(
            event.kind.as_str(),
            "status_result" | "reversal_result"
        ))
    }

    /// Asks the providers about open payments nobody has heard of for [`QUERY_AFTER`]: M-Pesa
    /// prompts (STK Push Query) and card checkouts (Paystack verify). Each payment is asked
    /// again only after a growing pause, and a spike-arrest answer ends the round, so the
    /// providers' rate limits are respected. Returns how many were asked.
    async fn reconcile_open(&self, asked: &mut HashMap<i64, Asked>) -> Result<u64> {
        let after = self
            .setting_i64(table::QUERY_AFTER_SECONDS.key)
            .await?
            .map_or(QUERY_AFTER, time::Duration::seconds);
        let open = self
            .store()
            .open_transactions(self.now() - after, 50)
            .await?;
        let providers = self.providers();
        let now = tokio::time::Instant::now();
        let mut count = 0;
        for tx in open {
            if asked.get(&tx.id).is_some_and(|a| now < a.next) {
                continue;
            }
            let configured = match tx.method {
                malipo_domain::Method::Mpesa => providers.has_mpesa(),
                malipo_domain::Method::Card => providers.has_paystack(),
                malipo_domain::Method::Paybill
                | malipo_domain::Method::Cash
                | malipo_domain::Method::Cheque
                | malipo_domain::Method::Bank => false,
            };
            if !configured {
                continue;
            }
            count += 1;
            match self.refresh(&Actor::Sync, &tx.number).await {
                Ok(_) => {
                    let pause = asked.get(&tx.id).map_or(Duration::from_secs(15), |a| {
                        (a.pause * 2).min(Duration::from_secs(300))
                    });
                    asked.insert(
                        tx.id,
                        Asked {
                            next: now + pause,
                            pause,
                        },
                    );
                }
                // Spike arrest: stop asking anyone this round.
                Err(e) if e.is_provider_throttling() => break,
                Err(e) if e.is_provider() => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(count)
    }
}

impl App {
    /// Events kept for review (orphans and suspects), newest first: the unresolved ones, or all
    /// with `all`.
    pub async fn orphans(&self, actor: &Actor, all: bool) -> Result<Vec<OrphanView>> {
        actor.require(malipo_domain::Action::ResolveReview)?;
        Ok(self
            .store()
            .events_for_review(all, 500)
            .await?
            .into_iter()
            .map(|o| OrphanView {
                seq: o.event.seq,
                outcome: o.outcome.as_str().to_owned(),
                unconfirmed: o.outcome == InboxOutcome::Suspect,
                provider: o.event.provider,
                kind: o.event.kind,
                dedup_key: o.event.dedup_key,
                received_at: crate::views::rfc3339(malipo_domain::time_zone::from_ms(
                    o.event.received_at,
                )),
                note: o.note,
                body: o.event.body,
                resolved_by: o.resolved_by,
                resolution: o.resolution,
            })
            .collect())
    }

    /// A manager records what was done about an orphan event (refunded by hand, a payment
    /// taken outside Malipo, ...).
    pub async fn resolve_orphan(&self, actor: &Actor, seq: i64, resolution: &str) -> Result<()> {
        actor.require(malipo_domain::Action::ResolveReview)?;
        let resolution = resolution.trim();
        if resolution.is_empty() {
            return Err(Error::invalid(
                "note",
                "say what was done about it (it is kept in the audit log)",
            ));
        }
        self.store()
            .resolve_orphan(actor.name(), seq, resolution, self.now())
            .await?;
        Ok(())
    }
}
