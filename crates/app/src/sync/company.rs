//! The company around this counter, kept in step at every sync: policies added or imported here
//! go up to the register, the register comes down (incrementally, by cursor), and so do every
//! counter's payments, in the relay's one order. A counter offline keeps working from its own
//! copy and catches up at its next round.

use malipo_domain::{CounterCode, Currency, Money, TxStatus};
use malipo_relay_api as api;
use malipo_store::{CompanyPayment, PolicySource, TxFilter};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{SyncReport, batch_body};
use crate::error::{Error, Result};
use crate::relay::RelayClient;
use crate::{Actor, App};

/// How many policies waiting for the register are read at once.
const PENDING_READ: u32 = 2000;

fn company_payment(p: &api::CompanyPayment) -> std::result::Result<CompanyPayment, String> {
    let currency = Currency::from_code(&p.currency).map_err(|e| e.to_string())?;
    let money = |minor| Money::from_minor(minor, currency).map_err(|e| e.to_string());
    let time = |t: &str| OffsetDateTime::parse(t, &Rfc3339).map_err(|e| e.to_string());
    Ok(CompanyPayment {
        seq: p.seq,
        reference: p.reference.clone(),
        number: p.number.clone(),
        office: p.office.clone(),
        counter: p.counter.clone(),
        policy_number: p.policy.clone(),
        method: p.method.clone(),
        status: p.status.parse::<TxStatus>()?,
        amount: money(p.amount_minor)?,
        refunded: money(p.refunded_minor)?,
        clerk: p.clerk.clone(),
        receipt_number: p.receipt_number.clone(),
        provider_receipt: p.provider_receipt.clone(),
        created_at: time(&p.created_at)?,
        updated_at: time(&p.updated_at)?,
        holder: None,
        here: false,
    })
}

impl App {
    /// Learns this counter's code from the relay, once, before its first payment. An office
    /// that numbered payments before it had a code keeps numbering as it did. Without a relay,
    /// or while it cannot be reached, nothing changes (the next payment asks again).
    pub(crate) async fn learn_counter(&self) {
        if let Err(e) = self.try_learn_counter().await {
            tracing::warn!(error = %e, "the counter code could not be learnt from the relay");
        }
    }

    async fn try_learn_counter(&self) -> Result<()> {
        if self.store().setting(crate::COUNTER_KEY).await?.is_some() {
            return Ok(());
        }
        let providers = self.providers();
        let Ok(relay) = providers.relay() else {
            return Ok(());
        };
        let numbered = self
            .store()
            .transactions(&TxFilter {
                per_page: 1,
                ..TxFilter::default()
            })
            .await?
            .total
            > 0;
        if numbered {
            return Ok(());
        }
        let (answer, _) = relay.check(&api::DeviceCheck::default()).await?;
        if let Some(code) = answer.counter {
            let code = CounterCode::parse(&code)
                .map_err(|e| Error::internal(format!("the relay's counter code: {e}")))?;
            self.store()
                .set_setting(
                    Actor::Sync.name(),
                    crate::COUNTER_KEY,
                    code.as_str(),
                    self.now(),
                )
                .await?;
            tracing::info!(
                counter = code.as_str(),
                "counter code learnt from the relay"
            );
        }
        Ok(())
    }

    /// Sends the policies added or changed here to the register. A policy the register
    /// refuses is reported and not sent again (until changed); the others go on.
    pub(crate) async fn push_policies(
        &self,
        relay: &RelayClient,
        report: &mut SyncReport,
    ) -> Result<()> {
        // Policies new to the register belong to this branch.
        let head = serde_json::json!({"office": self.office_code().await?.to_string()});
        loop {
            let pending = self.store().pending_policies(PENDING_READ).await?;
            if pending.is_empty() {
                return Ok(());
            }
            let (body, taken) = batch_body(head.clone(), "policies", &pending, |(p, _)| {
                let item = serde_json::to_vec(&api::RegisterRecord::from_policy(p))
                    .map_err(Error::internal)?;
                Ok((format!("policy {}", p.number), item))
            })?;
            let answer = relay.upload_policies(body).await?;
            let batch = &pending[..taken];
            let refused: Vec<&str> = answer
                .refused
                .iter()
                .filter_map(|r| r.number.as_deref())
                .collect();
            for r in &answer.refused {
                let problem = format!(
                    "policy {} was refused by the company register: {}",
                    r.number.as_deref().unwrap_or("?"),
                    r.why
                );
                tracing::warn!(%problem, "policy not registered");
                report.problems.push(problem);
            }
            // Written whole or not at all: after a refusal the rest goes again, without it.
            let done: Vec<(String, i64)> = batch
                .iter()
                .filter(|(p, _)| answer.written || refused.contains(&p.number.as_str()))
                .map(|(p, at)| (p.number.to_string(), *at))
                .collect();
            if done.is_empty() && !answer.written {
                // Refused without naming one: send nothing more this round.
                report
                    .problems
                    .push("the company register refused policies without saying which".into());
                return Ok(());
            }
            if answer.written {
                report.policies_sent += taken as u64 - refused.len() as u64;
            }
            self.store().policies_sent(&done).await?;
        }
    }

    /// Brings the register down from this counter's cursor.
    pub(super) async fn pull_register(
        &self,
        relay: &RelayClient,
        report: &mut SyncReport,
    ) -> Result<()> {
        loop {
            let cursor = self.store().register_cursor().await?;
            let page = relay.register(cursor).await?;
            if page.policies.is_empty() {
                return Ok(());
            }
            let mut policies = Vec::with_capacity(page.policies.len());
            for e in &page.policies {
                match e.policy.to_policy() {
                    Ok(p) => policies.push(p),
                    Err(why) => report.problems.push(format!(
                        "register entry {} ({}) was not taken: {why}",
                        e.seq, e.policy.number
                    )),
                }
            }
            let done = self
                .store()
                .upsert_policies(
                    Actor::Sync.name(),
                    &policies,
                    PolicySource::Register,
                    Some(page.next),
                    self.now(),
                )
                .await?;
            report.policies_received += (done.added.len() + done.updated.len()) as u64;
        }
    }

    /// Brings every counter's payments down from this counter's cursor.
    pub(super) async fn pull_payments(
        &self,
        relay: &RelayClient,
        report: &mut SyncReport,
    ) -> Result<()> {
        loop {
            let cursor = self.store().payments_cursor().await?;
            let page = relay.payments(cursor).await?;
            if page.payments.is_empty() {
                return Ok(());
            }
            let mut payments = Vec::with_capacity(page.payments.len());
            for p in &page.payments {
                match company_payment(p) {
                    Ok(p) => payments.push(p),
                    Err(why) => report
                        .problems
                        .push(format!("company payment {} was not taken: {why}", p.number)),
                }
            }
            self.store()
                .record_company_payments(&payments, page.next)
                .await?;
            report.payments_received += payments.len() as u64;
        }
    }
}
