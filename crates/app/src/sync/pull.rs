//! Pull Transactions: Safaricom's own list of the paybill payments of the last 48 hours, so a
//! payment whose confirmation never arrived (the relay was down, the network dropped it,
//! Safaricom's side failed) is still recorded.
//!
//! The list comes from Safaricom over Malipo's own authenticated call, so unlike a confirmation
//! it needs no Transaction Status. Each payment not yet recorded goes the way a confirmation
//! goes (a prompt's payment gives the prompt its code; the rest is allocated by its account or
//! put on the suspense list), once for the whole company: the counter that claims
//! `paybill:CODE` at the relay records it, as with confirmations.

use malipo_domain::Msisdn;
use malipo_domain::user::Action;
use malipo_providers::daraja::c2b::C2bPayment;
use malipo_providers::daraja::pull::Pulled;
use malipo_store::{InboxAction, InboxOutcome};
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::SyncReport;
use super::paybill::Listed;
use crate::error::{Error, Result};
use crate::settings::table;
use crate::{Actor, App};

/// When this counter registered (or found registered) the shortcode for Pull: pulls happen on
/// their own only then.
pub(crate) const PULL_REGISTERED_KEY: &str = "mpesa.pull_registered_at";
/// The end of the last window pulled completely.
pub(crate) const PULL_COMPLETE_KEY: &str = "mpesa.pull_complete_to";
/// When sync last tried a pull, complete or not.
const PULL_TRIED_KEY: &str = "mpesa.pull_tried_at";

/// How far back Safaricom keeps the list.
const PULL_HORIZON: Duration = Duration::hours(48);
/// Every automatic pull looks back at least this far, so a payment Safaricom lists late is
/// still seen.
const PULL_OVERLAP: Duration = Duration::hours(2);

/// What `malipo mpesa register-pull` did.
#[derive(Debug, Clone, Serialize)]
pub struct PullRegistered {
    pub shortcode: String,
    /// The nominated number, masked.
    pub nominated: String,
    /// Safaricom had it registered already (`1001`); this counter now pulls too.
    pub already: bool,
    /// Safaricom's words.
    pub answer: String,
}

/// What one pull found.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct PullReport {
    /// The window, RFC 3339.
    pub from: String,
    pub to: String,
    /// Payments Safaricom listed.
    pub seen: u64,
    /// Recorded now (allocated to their policy).
    pub recorded: u64,
    /// Recorded before (here, at another counter, as a prompt's payment) or being recorded by
    /// the counter that claimed them.
    pub already: u64,
    /// Put on the company's suspense list (or on it already).
    pub suspense: u64,
    /// Left for a later pull: the prompt they name is not settled yet, or the relay could not
    /// be asked.
    pub waiting: u64,
}

/// `DD/MM/YYYY HH:MM` (or `DD/MM/YYYY`, the day's start), Nairobi time.
fn read_moment(field: &str, text: &str) -> Result<OffsetDateTime> {
    let text = text.trim();
    let (day, clock) = text.split_once(' ').unwrap_or((text, "00:00"));
    let date = crate::input::parse_date(field, day)?;
    let clock = clock.trim();
    let bad = || {
        Error::invalid(
            field,
            format!(
                "'{}' is not a time of day: write it like 14:30",
                clock.chars().take(8).collect::<String>()
            ),
        )
    };
    let (h, m) = clock.split_once(':').ok_or_else(bad)?;
    let (h, m): (u8, u8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let at = time::Time::from_hms(h, m, 0).map_err(|_| bad())?;
    Ok(date
        .with_time(at)
        .assume_offset(malipo_domain::time_zone::NAIROBI))
}

pub(super) fn stamp(at: OffsetDateTime) -> String {
    let t = at.to_offset(malipo_domain::time_zone::NAIROBI);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl App {
    /// Registers the shortcode for Pull Transactions with Safaricom (administrators):
    /// `nominated` is a Safaricom number of the business. "Already registered" (`1001`) is not
    /// a failure: this counter then pulls too.
    pub async fn register_pull(&self, actor: &Actor, nominated: &str) -> Result<PullRegistered> {
        actor.require(Action::ManageSettings)?;
        let nominated = Msisdn::parse(nominated)
            .map_err(|e| Error::invalid("nominated number", e.to_string()))?;
        let providers = self.providers();
        let client = providers.daraja()?;
        let callback = client.config().callback_url.expose().to_owned();
        let answer = self
            .provider_call(
                "mpesa.pull_register",
                &client.config().shortcode,
                client.register_pull(&nominated, &callback),
            )
            .await?;
        let now = self.now();
        self.store()
            .set_setting(
                actor.name(),
                PULL_REGISTERED_KEY,
                &now.format(&Rfc3339).map_err(Error::internal)?,
                now,
            )
            .await?;
        Ok(PullRegistered {
            shortcode: client.config().shortcode.clone(),
            nominated: malipo_domain::phone::masked(nominated.as_str()),
            already: answer.already,
            answer: if answer.already {
                format!(
                    "{} (Safaricom had this shortcode registered for Pull already; this counter pulls too)",
                    answer.description
                )
            } else {
                answer.description
            },
        })
    }

    /// Pulls a window on demand (managers): from `from` (default 48 hours ago) to `to`
    /// (default now), `DD/MM/YYYY HH:MM` in Nairobi time. Safaricom lists only the last 48
    /// hours; older payments come back with the statement.
    pub async fn pull_mpesa(
        &self,
        actor: &Actor,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<PullReport> {
        actor.require(Action::ResolveReview)?;
        let now = self.now();
        let to = match to {
            Some(t) => read_moment("to", t)?.min(now),
            None => now,
        };
        let from = match from {
            Some(f) => read_moment("from", f)?,
            None => now - PULL_HORIZON,
        };
        if from < now - PULL_HORIZON - Duration::minutes(1) {
            return Err(Error::invalid(
                "from",
                "Safaricom lists only the last 48 hours: import the M-Pesa statement for older payments",
            ));
        }
        if from >= to {
            return Err(Error::invalid(
                "from",
                "the window must start before it ends",
            ));
        }
        let report = self.pull_window(actor.name(), from, to).await?;
        let providers = self.providers();
        if let Ok(relay) = providers.relay()
            && let Err(e) = self.push(relay).await
        {
            tracing::warn!(error = %e, "pulled payments not sent to the relay yet");
        }
        Ok(report)
    }

    /// Pulls on its own every `mpesa.pull_minutes` once this counter has Pull registered: the
    /// window since the last complete pull, at least the last 2 hours, at most 48.
    pub(super) async fn pull_if_due(&self, report: &mut SyncReport) -> Result<()> {
        let minutes = self
            .setting_i64(table::MPESA_PULL_MINUTES.key)
            .await?
            .unwrap_or(30);
        if minutes <= 0
            || !self.providers().has_mpesa()
            || self.store().setting(PULL_REGISTERED_KEY).await?.is_none()
        {
            return Ok(());
        }
        let time_of = |v: Option<String>| v.and_then(|v| OffsetDateTime::parse(&v, &Rfc3339).ok());
        let now = self.now();
        let tried = time_of(self.store().setting(PULL_TRIED_KEY).await?);
        if tried.is_some_and(|t| now - t < Duration::minutes(minutes)) {
            return Ok(());
        }
        self.store()
            .set_setting(
                "sync",
                PULL_TRIED_KEY,
                &now.format(&Rfc3339).map_err(Error::internal)?,
                now,
            )
            .await?;
        let complete = time_of(self.store().setting(PULL_COMPLETE_KEY).await?);
        let from = complete
            .map_or(now - PULL_HORIZON, |c| c.min(now - PULL_OVERLAP))
            .max(now - PULL_HORIZON);
        match self.pull_window("sync", from, now).await {
            Ok(pulled) => {
                report.mpesa_pulled += pulled.recorded;
                report.suspense += pulled.suspense;
            }
            Err(e) if e.is_provider() => {
                report.problems.push(format!(
                    "M-Pesa's list of payments could not be pulled: {e}"
                ));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    /// Pulls `from..to` and records what was missing; a window every payment of which was
    /// decided is noted as complete.
    async fn pull_window(
        &self,
        actor: &str,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Result<PullReport> {
        let providers = self.providers();
        let client = providers.daraja()?;
        let relay = providers.relay()?;
        let shortcode = client.config().shortcode.clone();
        let pulled = self
            .provider_call("mpesa.pull", &shortcode, client.pull(from, to))
            .await?;
        let on_suspense: std::collections::HashSet<String> = relay
            .suspense(true)
            .await?
            .into_iter()
            .map(|i| i.trans_id)
            .collect();
        let office = self.desk().await?;
        let mut report = PullReport {
            from: from.format(&Rfc3339).map_err(Error::internal)?,
            to: to.format(&Rfc3339).map_err(Error::internal)?,
            ..PullReport::default()
        };
        for p in &pulled {
            report.seen += 1;
            let outcome = self
                .pulled_one(actor, p, &shortcode, &office, &on_suspense)
                .await?;
            match outcome {
                PulledOutcome::Recorded => report.recorded += 1,
                PulledOutcome::Already => report.already += 1,
                PulledOutcome::Suspense => report.suspense += 1,
                PulledOutcome::Waiting => report.waiting += 1,
            }
        }
        tracing::info!(
            seen = report.seen,
            recorded = report.recorded,
            suspense = report.suspense,
            waiting = report.waiting,
            "M-Pesa's list pulled"
        );
        let listed: Vec<(malipo_store::LedgerEntry, String)> = pulled
            .iter()
            .map(|p| {
                (
                    malipo_store::LedgerEntry {
                        receipt: p.trans_id.clone(),
                        at: p.at,
                        amount: p.amount,
                    },
                    p.account.clone(),
                )
            })
            .collect();
        self.store()
            .save_pulled(
                &listed,
                (report.waiting == 0).then_some((from, to)),
                self.now(),
            )
            .await?;
        if report.waiting == 0 {
            let before = self
                .store()
                .setting(PULL_COMPLETE_KEY)
                .await?
                .and_then(|v| OffsetDateTime::parse(&v, &Rfc3339).ok());
            if before.is_none_or(|b| b < to) {
                self.store()
                    .set_setting(actor, PULL_COMPLETE_KEY, &report.to, self.now())
                    .await?;
            }
        }
        Ok(report)
    }

    /// One payment Safaricom listed.
    async fn pulled_one(
        &self,
        actor: &str,
        p: &Pulled,
        shortcode: &str,
        office: &malipo_domain::Desk,
        on_suspense: &std::collections::HashSet<String>,
    ) -> Result<PulledOutcome> {
        let code = &p.trans_id;
        if self.store().recorded_code(code).await?.is_some() {
            return Ok(PulledOutcome::Already);
        }
        if on_suspense.contains(code) {
            return Ok(PulledOutcome::Suspense);
        }
        let payment = C2bPayment {
            transaction_type: p.kind.clone(),
            trans_id: code.clone(),
            trans_time: stamp(p.at),
            amount: p.amount,
            shortcode: shortcode.to_owned(),
            account: p.account.clone(),
            msisdn: p.msisdn.clone(),
            payer: p.sender.clone(),
        };
        let payer = Some(p.sender.clone());
        Ok(
            match self
                .record_listed(actor, &payment, p.at, payer, office)
                .await?
            {
                Listed::Recorded(_) => PulledOutcome::Recorded,
                Listed::Unclaimed(why) => {
                    tracing::warn!(code, error = %why, "the relay could not say who records a pulled payment");
                    PulledOutcome::Waiting
                }
                Listed::Decided(action) | Listed::NotRecorded(action) => match *action {
                    InboxAction::Record {
                        outcome: InboxOutcome::Held,
                        ..
                    } => PulledOutcome::Waiting,
                    InboxAction::Record {
                        outcome: InboxOutcome::Suspense,
                        ..
                    } => PulledOutcome::Suspense,
                    _ => PulledOutcome::Already,
                },
                Listed::Prompt(_) | Listed::ClaimedElsewhere(_) | Listed::Already => {
                    PulledOutcome::Already
                }
            },
        )
    }
}

enum PulledOutcome {
    Recorded,
    Already,
    Suspense,
    Waiting,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_is_read_day_first_in_nairobi_time() {
        let at = read_moment("from", "05/12/2026 14:30").unwrap();
        assert_eq!(at.to_offset(time::UtcOffset::UTC).hour(), 11);
        assert_eq!(
            read_moment("from", "05/12/2026").unwrap(),
            read_moment("from", "05/12/2026 00:00").unwrap()
        );
        let late = read_moment("from", "05/12/2026 25:00").unwrap_err();
        assert!(late.to_string().contains("like 14:30"), "{late}");
        let month = read_moment("to", "12/31/2026 10:00").unwrap_err();
        assert!(month.to_string().contains("no month 31"), "{month}");
        assert_eq!(stamp(at), "20261205143000");
    }
}
