//! Syncing with the company's relay: the outbox pushes this office's payments up (the relay
//! keeps one row per payment, so pushing again is harmless), the inbox pulls provider events
//! after the stored cursor and applies each exactly once (the event is recorded in the same
//! SQLite transaction as the change it causes), and reconciliation asks the providers about
//! payments nobody has heard of for a while.
//!
//! `sync_once` does one round; `sync_forever` repeats it whenever the relay's event stream
//! wakes it, and at least every [`PERIOD`] whatever the stream does, so a silent connection
//! cannot stall it.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use malipo_domain::{Method, OfficeCode, Secret, Source, TxEvent};
use malipo_providers::daraja;
use malipo_providers::paystack::{self, PaystackClient, WebhookEvent};
use malipo_store::{InboxAction, InboxEvent, InboxOutcome, ProviderDetails, TxKey};

use crate::payments::paystack_error;
use crate::settings::ProviderSettings;
use crate::views::{KeyedTotals, TotalsView, TransactionView};
use crate::{Actor, App, AppError, ErrorCode};

/// The longest `sync_forever` waits between rounds.
pub const PERIOD: Duration = Duration::from_secs(30);
/// How long an open payment may go unheard of before the provider is asked about it, unless
/// the office sets `sync.query_after_seconds`.
pub const QUERY_AFTER: time::Duration = time::Duration::seconds(45);
/// How many payments one outbox request carries.
const UPLOAD_BATCH: i64 = 200;
/// How many events one pull asks for.
const PULL_BATCH: u32 = 500;
/// A stream that has said nothing (not even its 15-second heartbeat) for this long is dead.
const STREAM_SILENCE: Duration = Duration::from_secs(45);

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
    /// Payments and card refunds asked about (STK Push Query, Paystack verify or refund fetch).
    pub queried: u64,
    /// The inbox cursor after the round.
    pub cursor: i64,
}

/// The company's payments across every office, as the relay sums them up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct CompanyView {
    pub currency: String,
    pub all: TotalsView,
    pub succeeded: TotalsView,
    pub pending: TotalsView,
    pub failed: TotalsView,
    pub needs_review: TotalsView,
    pub by_method: Vec<KeyedTotals>,
    pub by_office: Vec<KeyedTotals>,
}

/// The relay as a device sees it.
#[derive(Debug, Clone)]
pub struct RelayClient {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

#[derive(Debug, Deserialize)]
struct Page {
    events: Vec<WireEvent>,
    next: i64,
}

#[derive(Debug, Deserialize)]
struct WireEvent {
    seq: i64,
    provider: String,
    kind: String,
    dedup_key: String,
    received_at: i64,
    body: String,
    #[serde(default)]
    office: Option<String>,
}

fn unreachable_relay(e: &reqwest::Error) -> AppError {
    AppError::new(
        ErrorCode::Provider,
        format!(
            "the relay cannot be reached ({e}); payments are kept here and sent when it is back"
        ),
    )
}

impl RelayClient {
    pub fn new(base: &str, token: Secret) -> Result<RelayClient, AppError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
        Ok(RelayClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// The relay named by the settings (`MALIPO_RELAY_URL`, `MALIPO_RELAY_TOKEN`).
    pub fn from_settings(settings: &ProviderSettings) -> Result<RelayClient, AppError> {
        match (&settings.relay_url, &settings.relay_token) {
            (Some(url), Some(token)) => RelayClient::new(url, token.clone()),
            _ => Err(AppError::new(
                ErrorCode::InvalidInput,
                "no relay is configured: set MALIPO_RELAY_URL and MALIPO_RELAY_TOKEN (the device token from `malipo-relay device add`)",
            )),
        }
    }

    async fn refused(r: reqwest::Response) -> AppError {
        let status = r.status();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        let message = body["message"].as_str().unwrap_or("no reason given");
        let code = if status == reqwest::StatusCode::UNAUTHORIZED {
            ErrorCode::Unauthenticated
        } else {
            ErrorCode::Provider
        };
        AppError::new(code, format!("the relay refused ({status}): {message}"))
    }

    /// Sends a request with this device's token; a network failure is "the relay cannot be
    /// reached".
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, AppError> {
        request
            .bearer_auth(self.token.expose())
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| unreachable_relay(&e))
    }

    /// [`Self::send`], refusing any answer but a success.
    async fn send_ok(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AppError> {
        let r = self.send(request).await?;
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        Ok(r)
    }

    async fn json<T: serde::de::DeserializeOwned>(r: reqwest::Response) -> Result<T, AppError> {
        r.json()
            .await
            .map_err(|e| AppError::new(ErrorCode::Provider, format!("the relay's answer: {e}")))
    }

    async fn events(&self, after: i64) -> Result<Page, AppError> {
        let r = self
            .send(self.http.get(format!("{}/v1/events", self.base)).query(&[
                ("after", after.to_string()),
                ("limit", PULL_BATCH.to_string()),
            ]))
            .await?;
        if r.status() == reqwest::StatusCode::CONFLICT {
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            return Err(AppError::new(
                ErrorCode::Provider,
                format!(
                    "this office has recorded events up to {after} but the relay's run only to {}: it is another relay or a restored one; nothing was applied",
                    body["last_seq"]
                ),
            ));
        }
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        RelayClient::json(r).await
    }

    async fn upload(&self, items: &[TransactionView]) -> Result<(), AppError> {
        let body = serde_json::json!({ "transactions": items });
        self.send_ok(
            self.http
                .post(format!("{}/v1/transactions", self.base))
                .json(&body),
        )
        .await?;
        Ok(())
    }

    /// The company-wide summary of the payments every office uploaded, in `currency`, for the
    /// Nairobi days `from..=to` (either open).
    pub async fn company_summary(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        currency: &str,
    ) -> Result<CompanyView, AppError> {
        let mut query = vec![("currency", currency)];
        query.extend(from.map(|f| ("from", f)));
        query.extend(to.map(|t| ("to", t)));
        let r = self
            .send_ok(
                self.http
                    .get(format!("{}/v1/summary", self.base))
                    .query(&query),
            )
            .await?;
        RelayClient::json(r).await
    }

    /// Opens the event stream and returns once it announces an event after `cursor` (its
    /// greeting already may), or when `wait` has passed, or when it has been silent for
    /// [`STREAM_SILENCE`]; whatever happens the caller pulls next.
    pub async fn wait_for_wake(&self, cursor: i64, wait: Duration) -> Result<(), AppError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut r = self
            .http
            .get(format!("{}/v1/events/stream", self.base))
            .bearer_auth(self.token.expose())
            .send()
            .await
            .map_err(|e| unreachable_relay(&e))?;
        if !r.status().is_success() {
            return Err(RelayClient::refused(r).await);
        }
        let mut seen = String::new();
        loop {
            let silence = tokio::time::Instant::now() + STREAM_SILENCE;
            let chunk = tokio::time::timeout_at(deadline.min(silence), r.chunk()).await;
            match chunk {
                Err(_) | Ok(Ok(None)) => return Ok(()),
                Ok(Err(e)) => return Err(unreachable_relay(&e)),
                Ok(Ok(Some(bytes))) => {
                    seen.push_str(&String::from_utf8_lossy(&bytes));
                    // Whole messages only: each ends with a blank line.
                    while let Some(end) = seen.find("\n\n") {
                        let message: String = seen.drain(..end + 2).collect();
                        if message.contains("event: wake") && announces_after(&message, cursor) {
                            return Ok(());
                        }
                    }
                }
            }
        }
    }
}

/// Whether a `wake` message announces an event after `cursor`: its `last_seq` is past it, or
/// it carries no number (the relay lost count of wakes: pull to be sure).
fn announces_after(message: &str, cursor: i64) -> bool {
    let data: String = message
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .collect();
    match serde_json::from_str::<serde_json::Value>(&data)
        .ok()
        .and_then(|v| v["last_seq"].as_i64())
    {
        Some(last) => last > cursor,
        None => true,
    }
}

/// What a provider event means here.
enum Decision {
    Act(InboxAction),
    /// The event needs an answer from a provider this round could not get: stop and try again.
    Later(AppError),
}

fn record(outcome: InboxOutcome, transaction_id: Option<i64>, note: impl Into<String>) -> Decision {
    Decision::Act(InboxAction::Record {
        outcome,
        transaction_id,
        note: note.into(),
    })
}

impl App {
    /// One round: push, pull and apply, ask about stale payments, push what changed.
    pub async fn sync_once(&self, settings: &ProviderSettings) -> Result<SyncReport, AppError> {
        let relay = RelayClient::from_settings(settings)?;
        let mut report = SyncReport::default();
        report.uploaded += self.push(&relay).await?;
        self.pull(&relay, settings, &mut report).await?;
        report.queried = self.reconcile_open(settings, &mut HashMap::new()).await?;
        report.queried += self.follow_card_refunds(settings).await?;
        report.uploaded += self.push(&relay).await?;
        report.cursor = self.store().inbox_cursor().await?;
        Ok(report)
    }

    /// Rounds until `stop` resolves: after each, waits for the relay's stream to announce an
    /// event (at most [`PERIOD`]); when the relay is unreachable, backs off up to a minute.
    /// `each` sees every round's report or error.
    pub async fn sync_forever(
        &self,
        settings: &ProviderSettings,
        stop: impl std::future::Future<Output = ()>,
        mut each: impl FnMut(Result<&SyncReport, &AppError>),
    ) -> Result<(), AppError> {
        let relay = RelayClient::from_settings(settings)?;
        let mut asked: HashMap<i64, Asked> = HashMap::new();
        let mut backoff = Duration::from_secs(1);
        tokio::pin!(stop);
        loop {
            let round = async {
                let mut report = SyncReport::default();
                report.uploaded += self.push(&relay).await?;
                self.pull(&relay, settings, &mut report).await?;
                report.queried = self.reconcile_open(settings, &mut asked).await?;
                report.queried += self.follow_card_refunds(settings).await?;
                report.uploaded += self.push(&relay).await?;
                report.cursor = self.store().inbox_cursor().await?;
                Ok::<_, AppError>(report)
            };
            let pause = match round.await {
                Ok(report) => {
                    each(Ok(&report));
                    backoff = Duration::from_secs(1);
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e.message, "sync round failed");
                    each(Err(&e));
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    Some(backoff)
                }
            };
            let wait = async {
                match pause {
                    Some(p) => tokio::time::sleep(p).await,
                    // A stream that fails at once must not turn this into a busy loop.
                    None => {
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

    /// Sends every payment changed since the outbox cursor; returns how many.
    async fn push(&self, relay: &RelayClient) -> Result<u64, AppError> {
        let mut sent = 0;
        loop {
            let cursor = self.store().outbox_cursor().await?;
            let batch = self.store().outbox(cursor, UPLOAD_BATCH).await?;
            let Some(last) = batch.last() else {
                return Ok(sent);
            };
            let next = (malipo_domain::time_zone::to_ms(last.updated_at), last.id);
            let views: Vec<TransactionView> = batch.iter().map(TransactionView::from).collect();
            relay.upload(&views).await?;
            self.store().set_outbox_cursor(next).await?;
            sent += views.len() as u64;
        }
    }

    /// Pulls and applies events after the cursor until the relay has no more.
    async fn pull(
        &self,
        relay: &RelayClient,
        settings: &ProviderSettings,
        report: &mut SyncReport,
    ) -> Result<(), AppError> {
        let office = self.office_code().await?;
        loop {
            let cursor = self.store().inbox_cursor().await?;
            let page = relay.events(cursor).await?;
            if page.events.is_empty() {
                return Ok(());
            }
            for wire in page.events {
                let event = InboxEvent {
                    seq: wire.seq,
                    provider: wire.provider.clone(),
                    kind: wire.kind.clone(),
                    dedup_key: wire.dedup_key.clone(),
                    received_at: wire.received_at,
                    body: wire.body.clone(),
                };
                let action = match self.decide(&wire, &office, settings).await? {
                    Decision::Act(a) => a,
                    Decision::Later(e) => return Err(e),
                };
                let recorded = self
                    .store()
                    .record_inbox(Actor::Sync.name(), &office, &event, action, self.now())
                    .await?;
                if recorded.already {
                    continue;
                }
                tracing::info!(
                    seq = event.seq,
                    kind = %event.kind,
                    outcome = recorded.outcome.as_str(),
                    number = recorded.transaction.as_ref().map(|t| t.number.as_str()).unwrap_or(""),
                    "provider event"
                );
                report.pulled += 1;
                match recorded.outcome {
                    InboxOutcome::Applied => report.applied += 1,
                    InboxOutcome::Unchanged => report.unchanged += 1,
                    InboxOutcome::OtherOffice => report.other_office += 1,
                    InboxOutcome::Orphan => report.orphans += 1,
                    InboxOutcome::Ignored => report.ignored += 1,
                }
            }
            if page.next <= cursor {
                return Ok(());
            }
        }
    }

    /// A payment of ours the event is about, or where else it belongs.
    async fn not_ours(&self, wire: &WireEvent, office: &OfficeCode, what: &str) -> Decision {
        match &wire.office {
            Some(other) if other != office.as_str() => record(
                InboxOutcome::OtherOffice,
                None,
                format!("{what} belongs to office {other}"),
            ),
            _ => record(
                InboxOutcome::Orphan,
                None,
                format!("no payment here or at any office matches {what}"),
            ),
        }
    }

    async fn decide(
        &self,
        wire: &WireEvent,
        office: &OfficeCode,
        settings: &ProviderSettings,
    ) -> Result<Decision, AppError> {
        match (wire.provider.as_str(), wire.kind.as_str()) {
            ("daraja", "stk_callback") => {
                let cb = match daraja::callback::parse(wire.body.as_bytes()) {
                    Ok(cb) => cb,
                    Err(e) => {
                        return Ok(record(
                            InboxOutcome::Ignored,
                            None,
                            format!("not a readable STK callback: {e}"),
                        ));
                    }
                };
                let what = format!("CheckoutRequestID {}", cb.checkout_request_id);
                let Some(tx) = self
                    .store()
                    .transaction_by_provider_ref(&cb.checkout_request_id)
                    .await?
                else {
                    return Ok(self.not_ours(wire, office, &what).await);
                };
                let (event, details) = match cb.outcome {
                    daraja::callback::StkOutcome::Paid {
                        amount, receipt, ..
                    } => (
                        TxEvent::Paid {
                            paid: amount,
                            source: Source::Callback,
                        },
                        ProviderDetails {
                            provider_receipt: Some(receipt),
                            failure_reason: (amount != tx.amount).then(|| {
                                format!(
                                    "M-Pesa took {amount} but {} was asked; a manager must review it",
                                    tx.amount
                                )
                            }),
                            ..ProviderDetails::default()
                        },
                    ),
                    daraja::callback::StkOutcome::NotPaid(f) => (
                        TxEvent::NotPaid {
                            kind: f.kind,
                            source: Source::Callback,
                        },
                        ProviderDetails {
                            failure_code: Some(f.code),
                            failure_reason: Some(f.message),
                            ..ProviderDetails::default()
                        },
                    ),
                };
                Ok(Decision::Act(InboxAction::Apply {
                    key: TxKey::Id(tx.id),
                    event,
                    details,
                }))
            }
            ("paystack", "charge.success") => {
                let reference = match paystack::parse_event(wire.body.as_bytes()) {
                    Ok(WebhookEvent::ChargeSuccess(t)) => t.reference,
                    Ok(_) | Err(_) => {
                        return Ok(record(
                            InboxOutcome::Ignored,
                            None,
                            "not a readable charge.success webhook",
                        ));
                    }
                };
                let what = format!("Paystack reference {reference}");
                let tx = match self
                    .store()
                    .transaction(&TxKey::Reference(reference.clone()))
                    .await
                {
                    Ok(tx) => tx,
                    Err(malipo_store::StoreError::NotFound(_)) => {
                        return Ok(self.not_ours(wire, office, &what).await);
                    }
                    Err(e) => return Err(e.into()),
                };
                // The webhook is only a hint: what counts is what Paystack says when asked.
                let client = match settings.paystack() {
                    Ok(c) => PaystackClient::new(c.clone()),
                    Err(_) => {
                        return Ok(record(
                            InboxOutcome::Ignored,
                            Some(tx.id),
                            format!(
                                "Paystack is not configured here, so the webhook could not be checked; run `malipo tx refresh {}` once it is",
                                tx.number
                            ),
                        ));
                    }
                };
                let verified = match client.verify(&reference).await {
                    Ok(v) => v,
                    Err(e) => return Ok(Decision::Later(paystack_error(e))),
                };
                let (event, details) = self.card_event(&tx, &verified).await?;
                Ok(Decision::Act(InboxAction::Apply {
                    key: TxKey::Id(tx.id),
                    event,
                    details,
                }))
            }
            ("paystack", kind) if kind.starts_with("refund.") => {
                let Ok(WebhookEvent::Refund(ev)) = paystack::parse_event(wire.body.as_bytes())
                else {
                    return Ok(record(
                        InboxOutcome::Ignored,
                        None,
                        "not a readable refund webhook",
                    ));
                };
                let what = format!(
                    "a refund of Paystack reference {}",
                    ev.transaction_reference
                );
                match self
                    .store()
                    .transaction(&TxKey::Reference(ev.transaction_reference.clone()))
                    .await
                {
                    Ok(_) => {}
                    Err(malipo_store::StoreError::NotFound(_)) => {
                        return Ok(self.not_ours(wire, office, &what).await);
                    }
                    Err(e) => return Err(e.into()),
                }
                let Some(event) = crate::refunds::paystack_refund_event(&ev.status) else {
                    return Ok(record(
                        InboxOutcome::Ignored,
                        None,
                        format!("refund status {} changes nothing", ev.status),
                    ));
                };
                Ok(Decision::Act(InboxAction::Refund {
                    provider_ref: None,
                    payment_reference: Some(ev.transaction_reference),
                    amount: Some(ev.amount),
                    event,
                    details: malipo_store::RefundDetails::default(),
                }))
            }
            ("daraja", "reversal_result") => {
                let Ok(r) = daraja::parse_reversal_result(wire.body.as_bytes()) else {
                    return Ok(record(
                        InboxOutcome::Ignored,
                        None,
                        "not a readable reversal result",
                    ));
                };
                let (event, failure_reason) = if r.succeeded {
                    (malipo_domain::refund::RefundEvent::Processed, None)
                } else {
                    (
                        malipo_domain::refund::RefundEvent::Failed,
                        Some(format!(
                            "M-Pesa did not reverse it: {} (ResultCode {})",
                            r.description, r.code
                        )),
                    )
                };
                let known = self
                    .store()
                    .refund_by_provider_ref(&r.conversation_id)
                    .await?;
                let provider_ref = match known {
                    Some(_) => r.conversation_id,
                    None => r.originator_conversation_id,
                };
                Ok(Decision::Act(InboxAction::Refund {
                    provider_ref: Some(provider_ref),
                    payment_reference: None,
                    amount: None,
                    event,
                    details: malipo_store::RefundDetails {
                        provider_ref: None,
                        failure_reason,
                    },
                }))
            }
            (provider, kind) => Ok(record(
                InboxOutcome::Ignored,
                None,
                format!("{provider} {kind} events change no payment"),
            )),
        }
    }

    /// Asks the providers about open payments nobody has heard of for [`QUERY_AFTER`]: M-Pesa
    /// prompts (STK Push Query) and card checkouts (Paystack verify). Each payment is asked
    /// again only after a growing pause, and a spike-arrest answer ends the round, so the
    /// providers' rate limits are respected. Returns how many were asked.
    async fn reconcile_open(
        &self,
        settings: &ProviderSettings,
        asked: &mut HashMap<i64, Asked>,
    ) -> Result<u64, AppError> {
        let after = self
            .setting_i64(crate::settings::key::QUERY_AFTER_SECONDS)
            .await?
            .map_or(QUERY_AFTER, time::Duration::seconds);
        let open = self
            .store()
            .open_transactions(self.now() - after, 50)
            .await?;
        let now = tokio::time::Instant::now();
        let mut count = 0;
        for tx in open {
            if asked.get(&tx.id).is_some_and(|a| now < a.next) {
                continue;
            }
            let configured = match tx.method {
                Method::Mpesa => settings.daraja().is_ok(),
                Method::Card => settings.paystack().is_ok(),
            };
            if !configured {
                continue;
            }
            count += 1;
            match self.refresh(&Actor::Sync, settings, &tx.number).await {
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
                Err(e) if e.message.contains("spike arrest") => break,
                Err(e) if e.code == ErrorCode::Provider => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(count)
    }
}

/// When a payment may next be asked about, and the pause that got it there.
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    next: tokio::time::Instant,
    pause: Duration,
}

/// A provider event that matched no payment anywhere, as a manager sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct OrphanView {
    /// The relay's sequence number: how to name it when resolving.
    pub seq: i64,
    pub provider: String,
    pub kind: String,
    pub dedup_key: String,
    pub received_at: String,
    /// Why it matched nothing.
    pub note: String,
    /// The provider's raw body.
    pub body: String,
    pub resolved_by: Option<String>,
    pub resolution: Option<String>,
}

impl App {
    /// Orphan events, newest first: the unresolved ones, or all with `all`.
    pub async fn orphans(&self, actor: &Actor, all: bool) -> Result<Vec<OrphanView>, AppError> {
        actor.require(malipo_domain::Action::ResolveReview)?;
        Ok(self
            .store()
            .inbox_events(InboxOutcome::Orphan, all, 500)
            .await?
            .into_iter()
            .map(|o| OrphanView {
                seq: o.event.seq,
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
    pub async fn resolve_orphan(
        &self,
        actor: &Actor,
        seq: i64,
        resolution: &str,
    ) -> Result<(), AppError> {
        actor.require(malipo_domain::Action::ResolveReview)?;
        let resolution = resolution.trim();
        if resolution.is_empty() {
            return Err(AppError::invalid(
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

#[cfg(test)]
mod tests {
    use super::announces_after;

    #[test]
    fn a_wake_counts_only_when_it_is_past_the_cursor() {
        let wake = |n: i64| format!("event: wake\ndata: {{\"last_seq\":{n}}}\n\n");
        assert!(announces_after(&wake(8), 7));
        assert!(!announces_after(&wake(7), 7));
        assert!(!announces_after(&wake(3), 7));
        assert!(
            announces_after("event: wake\ndata: {}\n\n", 7),
            "a lost count pulls"
        );
    }
}
