//! A policy's standing in the company register: when its grace runs out, the register's status
//! becomes `lapsed`, so every counter, the relay and the core system's next export agree; it is
//! `active` again once the arrears are paid, or (with `policy.reinstate` set to `manager`) only
//! when a manager reinstates it.
//!
//! Each lapse (a missed instalment whose grace ended) is written to the register once for the
//! company: the counter that claims `lapse:POLICY:DUE` at the relay writes it, the others leave
//! it, and each counter remembers the lapse it dealt with. So a policy a manager reinstated is
//! never marked lapsed again by a counter that has not yet heard of its payment.

use std::collections::HashMap;

use time::Date;

use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, PolicyStatus, Standing};
use malipo_store::{PolicySource, ScheduleLine};

use crate::views::PolicyView;
use crate::{Actor, App, Error, Result};

impl App {
    /// Whether a lapsed policy waits for a manager once its arrears are paid
    /// (`policy.reinstate` = `manager`).
    pub(crate) async fn manager_reinstates(&self) -> Result<bool> {
        Ok(self
            .store()
            .setting(crate::settings::table::POLICY_REINSTATE.key)
            .await?
            .is_some_and(|v| v == "manager"))
    }

    /// Brings the register's status in step with the premiums (`unpaid`: every instalment not
    /// fully paid, as the sender's pass reads them): policies whose grace ended are marked
    /// `lapsed`; lapsed ones whose arrears are paid are `active` again unless a manager
    /// reinstates. Returns how many policies changed.
    pub(crate) async fn keep_standing(&self, unpaid: &[ScheduleLine]) -> Result<u64> {
        let today = nairobi_date(self.now());
        let grace = self.grace_days().await?;
        let mut oldest: HashMap<&str, Date> = HashMap::new();
        for l in unpaid {
            let due = l.state.instalment.due;
            let e = oldest.entry(l.policy_number.as_str()).or_insert(due);
            if due < *e {
                *e = due;
            }
        }
        let mut changed = 0;
        for (number, due) in &oldest {
            if !matches!(
                Standing::on(Some(*due), today, grace),
                Standing::Lapsed { .. }
            ) {
                continue;
            }
            let Some(policy) = self.store().policy(number).await? else {
                continue;
            };
            if self.store().lapse_marked(policy.id, *due).await? {
                continue;
            }
            match policy.status {
                PolicyStatus::Active => {}
                // The register has the lapse already (another counter's, or this one's before
                // it stopped): remembered, so it is never written again.
                PolicyStatus::Lapsed => {
                    self.store()
                        .mark_lapse(policy.id, *due, "elsewhere", self.now())
                        .await?;
                    continue;
                }
                PolicyStatus::Cancelled => continue,
            }
            // The company's word first: one counter writes each lapse.
            if let Ok(relay) = self.providers().relay() {
                match relay.claim(&format!("lapse:{number}:{due}")).await {
                    Ok(c) if c.won => {}
                    Ok(_) => {
                        self.store()
                            .mark_lapse(policy.id, *due, "elsewhere", self.now())
                            .await?;
                        continue;
                    }
                    // The relay cannot be reached: the rest wait for a later pass rather than
                    // each waiting out its own timeout now.
                    Err(_) => break,
                }
            }
            if self.set_status(number, PolicyStatus::Lapsed).await? {
                changed += 1;
            }
            self.store()
                .mark_lapse(policy.id, *due, "marked", self.now())
                .await?;
        }
        if !self.manager_reinstates().await? {
            for policy in self
                .store()
                .policies_in_status(PolicyStatus::Lapsed)
                .await?
            {
                let lapsed = oldest.get(policy.number.as_str()).is_some_and(|due| {
                    matches!(
                        Standing::on(Some(*due), today, grace),
                        Standing::Lapsed { .. }
                    )
                });
                // Only a lapse written for its premiums is lifted by them; one the core system
                // wrote for its own reasons is the core system's (or a manager's) to lift.
                if !lapsed
                    && self.store().ever_lapsed(policy.id).await?
                    && self
                        .set_status(&policy.number, PolicyStatus::Active)
                        .await?
                {
                    changed += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Makes lapsed policy `number` active again (managers), once nothing is past its grace;
    /// the register has it at once (or at the next sync). `note` goes in the audit log.
    pub async fn reinstate_policy(
        &self,
        actor: &Actor,
        number: &str,
        note: Option<&str>,
    ) -> Result<PolicyView> {
        actor.require(Action::ReinstatePolicy)?;
        let Some(policy) = self.store().policy(number).await? else {
            return Err(Error::UnknownPolicy(number.trim().to_owned()));
        };
        if policy.status != PolicyStatus::Lapsed {
            return Err(Error::invalid(
                "policy",
                format!(
                    "{} is {}, not lapsed",
                    policy.number,
                    policy.status.as_str()
                ),
            ));
        }
        let today = nairobi_date(self.now());
        let oldest_unpaid = self
            .schedule_of(&policy.number, today)
            .await?
            .iter()
            .filter(|l| !l.state.outstanding.is_zero())
            .map(|l| l.state.instalment.due)
            .min();
        if let Standing::Lapsed { since } =
            Standing::on(oldest_unpaid, today, self.grace_days().await?)
        {
            return Err(Error::invalid(
                "policy",
                format!(
                    "{} has arrears past its grace (lapsed since {since}): take them first",
                    policy.number
                ),
            ));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if note.is_some_and(|n| n.chars().count() > 500 || n.chars().any(char::is_control)) {
            return Err(Error::invalid("note", "at most 500 printable characters"));
        }
        self.set_status_as(actor.name(), &policy.number, PolicyStatus::Active)
            .await?;
        self.store()
            .audit(
                actor.name(),
                "policy.reinstate",
                "policy",
                &policy.number,
                serde_json::json!({"note": note}),
                self.now(),
            )
            .await?;
        self.policy(actor, &policy.number).await
    }

    async fn set_status(&self, number: &str, status: PolicyStatus) -> Result<bool> {
        self.set_status_as(Actor::Sync.name(), number, status).await
    }

    /// Writes `status` for `number` in the register (sent at once, or at the next sync).
    async fn set_status_as(&self, actor: &str, number: &str, status: PolicyStatus) -> Result<bool> {
        let held = self.store().register_policies(&[number]).await?;
        let Some(mut policy) = held.get(number).cloned() else {
            return Ok(false);
        };
        if policy.status == status {
            return Ok(false);
        }
        policy.status = status;
        self.store()
            .upsert_policies(
                actor,
                std::slice::from_ref(&policy),
                PolicySource::Counter,
                None,
                self.now(),
            )
            .await?;
        let shared = self.share_policies().await;
        tracing::info!(policy = %number, status = status.as_str(), register = %shared, "standing");
        Ok(true)
    }
}
