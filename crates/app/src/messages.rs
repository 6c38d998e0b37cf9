//! Customer messages: SMS receipts (Africa's Talking), e-mail receipts with the PDF (the
//! office's SMTP server), and SMS reminders before and after an instalment falls due.
//!
//! Receipts are queued by the store in the same transaction that makes a payment paid;
//! reminders are queued by [`App::queue_reminders`] for the ladder step of the day, each once.
//! [`App::send_messages`] sends what is due: each message is taken (marked `sending`) before it
//! is handed to the provider and its answer recorded after, so none is sent twice; a message
//! certainly not sent (no credit, the server unreachable) is tried again with a growing pause,
//! and one whose fate is unknown is left for a manager to resend. Nothing goes to a holder who
//! opted out, no SMS is sent in the quiet hours, and a reminder for an instalment paid in the
//! meantime is dropped.

use time::{Date, Duration, OffsetDateTime};

use malipo_domain::schedule::InstalmentStatus;
use malipo_domain::time_zone::{NAIROBI, kenyan_date, nairobi_date};
use malipo_domain::{Action, Money, Msisdn};
use malipo_providers::email::{EmailError, Pdf};
use malipo_providers::sms::SmsError;
use malipo_store::{Attempt, MessageFilter, MessageRecord, ScheduleFilter, TxKey};

use crate::error::{Error, Result};
use crate::settings::table;
use crate::settings::templates::default_template;
use crate::views::{MessageView, ReminderView, SendReport};
use crate::{Actor, App};

/// How often the running app looks for messages to send.
pub const MESSAGE_PERIOD: std::time::Duration = std::time::Duration::from_secs(15);

/// How many times a message certainly not sent is tried before it is given up.
const MAX_ATTEMPTS: i64 = 8;

/// The ladder unless the office sets `messages.reminder_days`: a week and three days before,
/// on the day, and three days after.
pub const DEFAULT_LADDER: [i64; 4] = [-7, -3, 0, 3];

/// The grace window's reminders unless the office sets `policy.grace_reminder_days`: a week,
/// ten days and thirteen days after the missed due date (the due day itself is the ladder's).
pub const DEFAULT_GRACE_STEPS: [i64; 3] = [7, 10, 13];

/// How many days after a policy lapses its lapse notice may still be queued (a machine that was
/// off on the day sends it when it is back).
const LAPSE_NOTICE_CATCH_UP: i64 = 7;

/// The hours (Nairobi) no SMS is sent, `start-end`, e.g. `21-7`; `None` for none.
pub fn parse_quiet_hours(text: &str) -> std::result::Result<Option<(u8, u8)>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") || t.is_empty() {
        return Ok(None);
    }
    let (a, b) = t
        .split_once('-')
        .ok_or_else(|| format!("'{t}' is not hours like 21-7"))?;
    let hour = |s: &str| {
        s.trim()
            .parse::<u8>()
            .ok()
            .filter(|h| *h < 24)
            .ok_or_else(|| format!("'{s}' is not an hour from 0 to 23"))
    };
    Ok(Some((hour(a)?, hour(b)?)))
}

/// When the quiet hours that hold `now` end, or `None` when `now` is not in them.
pub fn quiet_until(quiet: Option<(u8, u8)>, now: OffsetDateTime) -> Option<OffsetDateTime> {
    let (start, end) = quiet?;
    let local = now.to_offset(NAIROBI);
    let h = local.hour();
    let inside = if start <= end {
        (start..end).contains(&h)
    } else {
        h >= start || h < end
    };
    if !inside {
        return None;
    }
    let mut day = local.date();
    if h >= end {
        day = day.next_day()?;
    }
    Some(day.with_hms(end, 0, 0).ok()?.assume_offset(NAIROBI))
}

/// The ladder as the office sets it (days from the due date).
pub fn parse_ladder(text: &str) -> std::result::Result<Vec<i64>, String> {
    let mut days = text
        .split(',')
        .map(|d| {
            d.trim()
                .parse::<i64>()
                .ok()
                .filter(|d| (-60..=60).contains(d))
                .ok_or_else(|| format!("'{}' is not a number of days from -60 to 60", d.trim()))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        return Err("give at least one day".into());
    }
    Ok(days)
}

/// The ladder step an unpaid instalment due on `due` has reached on `today`: the latest step
/// whose day is today or yesterday (a counter closed over a weekend sends the step it missed,
/// never a pile of older ones).
pub fn step_due(ladder: &[i64], due: Date, today: Date) -> Option<i64> {
    ladder
        .iter()
        .copied()
        .filter(|offset| {
            let day = due + Duration::days(*offset);
            day <= today && day >= today - Duration::days(1)
        })
        .max()
}

/// Backoff before trying a message again: 1, 2, 4 … minutes, at most an hour.
fn retry_after(attempts: i64) -> Duration {
    Duration::minutes(1_i64 << attempts.clamp(1, 7).saturating_sub(1)).min(Duration::hours(1))
}

impl App {
    pub(crate) async fn template(&self, name: &str, sw: bool) -> Result<String> {
        let lang = if sw { "sw" } else { "en" };
        Ok(self
            .store()
            .setting(&format!("{name}.{lang}"))
            .await?
            .unwrap_or_else(|| default_template(name, sw).to_owned()))
    }

    /// The reminder days: the office's ladder, and the grace window's steps that fall inside
    /// its grace days (a policy in grace is reminded on those days too).
    async fn ladder(&self) -> Result<Vec<i64>> {
        let mut days = match self.store().setting(table::REMINDER_DAYS.key).await? {
            Some(text) => {
                parse_ladder(&text).map_err(|e| Error::invalid(table::REMINDER_DAYS.key, e))?
            }
            None => DEFAULT_LADDER.to_vec(),
        };
        let grace = i64::from(self.grace_days().await?);
        let steps = match self.store().setting(table::GRACE_REMINDER_DAYS.key).await? {
            Some(text) => parse_ladder(&text)
                .map_err(|e| Error::invalid(table::GRACE_REMINDER_DAYS.key, e))?,
            None => DEFAULT_GRACE_STEPS.to_vec(),
        };
        days.extend(steps.into_iter().filter(|d| (1..=grace).contains(d)));
        days.sort_unstable();
        days.dedup();
        Ok(days)
    }

    pub(crate) async fn quiet_hours(&self) -> Result<Option<(u8, u8)>> {
        match self.store().setting(table::QUIET_HOURS.key).await? {
            Some(text) => {
                parse_quiet_hours(&text).map_err(|e| Error::invalid(table::QUIET_HOURS.key, e))
            }
            None => Ok(Some((21, 7))),
        }
    }

    /// The reminders the ladder asks for today, and whether each was queued before.
    pub async fn reminders_due(&self, actor: &Actor) -> Result<Vec<ReminderView>> {
        actor.require(Action::Read)?;
        let lines = self.unpaid_lines().await?;
        self.reminders_in(&lines).await
    }

    /// Every instalment not fully paid, as it stands today.
    async fn unpaid_lines(&self) -> Result<Vec<malipo_store::ScheduleLine>> {
        let today = nairobi_date(self.now());
        Ok(self
            .store()
            .schedule(&ScheduleFilter {
                today,
                status: None,
                policy: None,
            })
            .await?
            .into_iter()
            .filter(|l| !l.state.outstanding.is_zero() && l.state.status != InstalmentStatus::Paid)
            .collect())
    }

    async fn reminders_in(
        &self,
        lines: &[malipo_store::ScheduleLine],
    ) -> Result<Vec<ReminderView>> {
        let today = nairobi_date(self.now());
        let ladder = self.ladder().await?;
        let mut out = Vec::new();
        for l in lines {
            let s = &l.state;
            let Some(offset) = step_due(&ladder, s.instalment.due, today) else {
                continue;
            };
            let seq = i64::from(s.instalment.seq);
            out.push(ReminderView {
                already: self
                    .store()
                    .reminder_queued(&l.policy_number, seq, offset)
                    .await?,
                policy: l.policy_number.clone(),
                holder: l.holder.clone(),
                seq,
                due_date: s.instalment.due.to_string(),
                offset,
                outstanding: s.outstanding.to_string(),
            });
        }
        Ok(out)
    }

    /// Queues today's reminders (each ladder step of each instalment once), at a person's
    /// word rather than at the sender's next pass. Returns how many were new.
    pub async fn queue_reminders(&self, actor: &Actor) -> Result<u64> {
        actor.require(Action::TakePayment)?;
        self.queue_due_reminders().await
    }

    /// " Pay by M-Pesa Pay Bill 174379, account POL-1." (in the holder's language), or nothing
    /// without M-Pesa settings.
    pub(crate) fn paybill_words(&self, policy: &str, sw: bool) -> String {
        self.providers()
            .daraja()
            .ok()
            .map(|d| {
                let shortcode = &d.config().shortcode;
                if sw {
                    format!(" Lipa kwa M-Pesa Pay Bill {shortcode}, akaunti {policy}.")
                } else {
                    format!(" Pay by M-Pesa Pay Bill {shortcode}, account {policy}.")
                }
            })
            .unwrap_or_default()
    }

    /// Queues the lapse notice of each policy that lapsed in the last week (its oldest unpaid
    /// instalment's grace ended): once per missed instalment, never for a cancelled policy.
    async fn queue_lapse_notices(&self, lines: &[malipo_store::ScheduleLine]) -> Result<u64> {
        let today = nairobi_date(self.now());
        let grace = self.grace_days().await?;
        let mut oldest: std::collections::HashMap<&str, &malipo_store::ScheduleLine> =
            std::collections::HashMap::new();
        for l in lines.iter().filter(|l| !l.state.outstanding.is_zero()) {
            let e = oldest.entry(l.policy_number.as_str()).or_insert(l);
            if l.state.instalment.due < e.state.instalment.due {
                *e = l;
            }
        }
        let mut queued = 0;
        for (number, l) in oldest {
            let due = l.state.instalment.due;
            let malipo_domain::Standing::Lapsed { since } =
                malipo_domain::Standing::on(Some(due), today, grace)
            else {
                continue;
            };
            if (today - since).whole_days() > LAPSE_NOTICE_CATCH_UP {
                continue;
            }
            // Every pass (each 15 seconds) meets the same lapsed policies: one read each, and
            // a write only for a notice not yet queued.
            let key = format!("lapse:sms:{number}:{due}");
            if self.store().message_queued(&key).await? {
                continue;
            }
            let Some(policy) = self.store().policy(number).await? else {
                continue;
            };
            if policy.status == malipo_domain::PolicyStatus::Cancelled {
                continue;
            }
            let (language, _) = self.store().policy_message_prefs(policy.id).await?;
            let office = self.office_details().await?.name;
            let body = self
                .template("template.lapse_sms", language == "sw")
                .await?
                .replace("{office}", &office)
                .replace("{holder}", &policy.holder)
                .replace("{policy}", &policy.number)
                .replace("{amount}", &l.state.outstanding.to_string())
                .replace("{when}", &kenyan_date(since))
                .replace(
                    "{paybill}",
                    &self.paybill_words(&policy.number, language == "sw"),
                )
                .trim()
                .to_owned();
            if self
                .store()
                .queue_notice(
                    policy.id,
                    &format!("lapse:sms:{number}:{due}"),
                    &body,
                    self.now(),
                )
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    async fn queue_due_reminders(&self) -> Result<u64> {
        let lines = self.unpaid_lines().await?;
        // The register's status follows the premiums first, so every counter agrees on it.
        self.keep_standing(&lines).await?;
        let mut queued = self.queue_lapse_notices(&lines).await?;
        for r in self.reminders_in(&lines).await? {
            if r.already {
                continue;
            }
            let Some(policy) = self.store().policy(&r.policy).await? else {
                continue;
            };
            if self
                .store()
                .queue_reminder(policy.id, &policy.number, r.seq, r.offset, self.now())
                .await?
            {
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// The sender's pass ([`App::messages_forever`]) now, at a person's word.
    pub async fn send_messages(&self, actor: &Actor) -> Result<SendReport> {
        actor.require(Action::TakePayment)?;
        self.send_pass().await
    }

    /// Queues today's reminders and sends every message due: the sender's one pass.
    async fn send_pass(&self) -> Result<SendReport> {
        let mut report = SendReport {
            queued_reminders: self.queue_due_reminders().await?,
            ..SendReport::default()
        };
        // A message left `sending` for this long was being handed over when Malipo stopped.
        self.store()
            .abandon_sending(self.now() - Duration::minutes(5), self.now())
            .await?;
        let quiet = self.quiet_hours().await?;
        for _ in 0..200 {
            let Some(m) = self.store().take_message(self.now()).await? else {
                break;
            };
            if m.channel == "sms"
                && let Some(until) = quiet_until(quiet, self.now())
            {
                self.store().defer_message(m.id, until).await?;
                report.later += 1;
                continue;
            }
            let attempt = self.attempt(&m).await?;
            match &attempt {
                Attempt::Sent { .. } => report.sent += 1,
                Attempt::Retry { .. } => report.later += 1,
                Attempt::Failed { .. } => report.failed += 1,
                Attempt::Skipped { .. } => report.skipped += 1,
            }
            let done = self
                .store()
                .message_attempted(m.id, &attempt, self.now())
                .await?;
            tracing::info!(
                id = done.id,
                purpose = %done.purpose,
                channel = %done.channel,
                status = %done.status,
                "customer message"
            );
        }
        Ok(report)
    }

    /// Sends messages until `stop` resolves: a pass every [`MESSAGE_PERIOD`] (a machine that was
    /// offline sends its queue on its first pass back).
    pub async fn messages_forever(
        &self,
        stop: impl std::future::Future<Output = ()>,
        mut each: impl FnMut(&SendReport),
    ) {
        tokio::pin!(stop);
        loop {
            match self.send_pass().await {
                Ok(r) if r.sent + r.failed + r.skipped + r.queued_reminders > 0 => {
                    each(&r);
                    tracing::info!(
                        sent = r.sent,
                        failed = r.failed,
                        skipped = r.skipped,
                        later = r.later,
                        reminders = r.queued_reminders,
                        "messages pass"
                    );
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "messages pass failed"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(MESSAGE_PERIOD) => {}
            }
        }
    }

    /// Renders and hands over one message taken for sending.
    async fn attempt(&self, m: &MessageRecord) -> Result<Attempt> {
        let (language, opted_out) = self.store().policy_message_prefs(m.policy_id).await?;
        if opted_out {
            return Ok(Attempt::Skipped {
                why: "the holder opted out".into(),
            });
        }
        let sw = language == "sw";
        let Some(policy) = self.store().policy(&m.policy_number).await? else {
            return Ok(Attempt::Failed {
                problem: "the policy is gone".into(),
            });
        };
        let office = self.office_details().await?.name;
        let today = nairobi_date(self.now());
        let lines = self
            .store()
            .schedule(&ScheduleFilter {
                today,
                status: None,
                policy: Some(policy.number.clone()),
            })
            .await?;
        let overdue: i64 = lines
            .iter()
            .filter(|l| l.state.instalment.due <= today)
            .map(|l| l.state.outstanding.minor())
            .sum();
        let currency = policy.premium.currency();
        let balance = match Money::from_minor(overdue, currency) {
            Ok(m) if !m.is_zero() => {
                if sw {
                    format!("Salio linalodaiwa {m}.")
                } else {
                    format!("Balance due {m}.")
                }
            }
            _ => if sw {
                "Hakuna deni."
            } else {
                "Nothing is due."
            }
            .to_owned(),
        };
        let paybill = self.paybill_words(&policy.number, sw);
        let fill = |template: &str, amount: &Money, receipt: &str, code: &str, when: &str| {
            template
                .replace("{office}", &office)
                .replace("{holder}", &policy.holder)
                .replace("{amount}", &amount.to_string())
                .replace("{policy}", &policy.number)
                .replace("{receipt}", receipt)
                .replace("{code}", code)
                .replace("{balance}", &balance)
                .replace("{when}", when)
                .replace("{paybill}", &paybill)
                .trim()
                .to_owned()
        };
        let (subject, body, pdf) = match m.purpose.as_str() {
            "receipt" => {
                let Some(tx_id) = m.transaction_id else {
                    return Ok(Attempt::Failed {
                        problem: "a receipt without its payment".into(),
                    });
                };
                let t = self.store().transaction(&TxKey::Id(tx_id)).await?;
                let Some(receipt) = t.receipt_number.clone() else {
                    return Ok(Attempt::Skipped {
                        why: "the payment has no receipt".into(),
                    });
                };
                let code = match (&t.provider_receipt, &t.cheque) {
                    (Some(c), _) if t.method.is_mpesa() => format!(", M-Pesa {c}"),
                    (_, Some((number, _, _))) if sw => {
                        format!(", hundi no. {number} (inasubiri kulipwa na benki)")
                    }
                    (_, Some((number, _, _))) => {
                        format!(", cheque no. {number} (subject to clearance)")
                    }
                    _ => String::new(),
                };
                let pdf = if m.channel == "email" {
                    // The original unless one already left the building; it counts as the
                    // original only once the mail server has taken it (below).
                    let earlier = self.store().receipt_prints(&t.number).await?;
                    let office = self.office_details().await?;
                    let r = self.receipt_of(&t, &receipt, &office, earlier > 0);
                    Some(Pdf {
                        file_name: format!("receipt-{receipt}.pdf"),
                        bytes: malipo_receipt::render(
                            std::slice::from_ref(&r),
                            malipo_receipt::Layout::A4,
                        )
                        .map_err(|e| Error::internal(e.to_string()))?,
                    })
                } else {
                    None
                };
                let (subject, body) = if m.channel == "email" {
                    (
                        fill(
                            &self.template("template.receipt_email_subject", sw).await?,
                            &t.amount,
                            &receipt,
                            &code,
                            "",
                        ),
                        fill(
                            &self.template("template.receipt_email", sw).await?,
                            &t.amount,
                            &receipt,
                            &code,
                            "",
                        ),
                    )
                } else {
                    (
                        String::new(),
                        fill(
                            &self.template("template.receipt_sms", sw).await?,
                            &t.amount,
                            &receipt,
                            &code,
                            "",
                        ),
                    )
                };
                (subject, body, pdf.map(|p| (p, t.number.clone())))
            }
            // A lapse notice for a policy paid up since is not sent.
            "notice"
                if m.key.starts_with("lapse:")
                    && !matches!(
                        malipo_domain::Standing::on(
                            lines
                                .iter()
                                .filter(|l| !l.state.outstanding.is_zero())
                                .map(|l| l.state.instalment.due)
                                .min(),
                            today,
                            self.grace_days().await?,
                        ),
                        malipo_domain::Standing::Lapsed { .. }
                    ) =>
            {
                return Ok(Attempt::Skipped {
                    why: "the policy's arrears were paid: it is no longer lapsed".into(),
                });
            }
            // A notice written when it was queued (the paybill route) goes as it was written.
            "notice" if m.transaction_id.is_none() => match &m.body {
                Some(body) if !body.is_empty() => (String::new(), body.clone(), None),
                _ => {
                    return Ok(Attempt::Failed {
                        problem: "a notice without its text".into(),
                    });
                }
            },
            "notice" => {
                let Some(tx_id) = m.transaction_id else {
                    return Ok(Attempt::Failed {
                        problem: "a notice without its payment".into(),
                    });
                };
                let t = self.store().transaction(&TxKey::Id(tx_id)).await?;
                let code = t
                    .cheque
                    .as_ref()
                    .map(|(number, bank, _)| format!(" no. {number} ({bank})"))
                    .unwrap_or_default();
                let receipt = t.receipt_number.clone().unwrap_or_default();
                (
                    String::new(),
                    fill(
                        &self.template("template.cheque_bounced_sms", sw).await?,
                        &t.amount,
                        &receipt,
                        &code,
                        "",
                    ),
                    None,
                )
            }
            _ => {
                let seq = m.instalment_seq.unwrap_or_default();
                let Some(line) = lines
                    .iter()
                    .find(|l| i64::from(l.state.instalment.seq) == seq)
                else {
                    return Ok(Attempt::Failed {
                        problem: format!("instalment {seq} is gone"),
                    });
                };
                if line.state.outstanding.is_zero() {
                    return Ok(Attempt::Skipped {
                        why: "the instalment was paid".into(),
                    });
                }
                let due = line.state.instalment.due;
                let when = match (due.cmp(&today), sw) {
                    (std::cmp::Ordering::Equal, false) => "is due today".to_owned(),
                    (std::cmp::Ordering::Equal, true) => "yanadaiwa leo".to_owned(),
                    (std::cmp::Ordering::Greater, false) => {
                        format!("is due on {}", kenyan_date(due))
                    }
                    (std::cmp::Ordering::Greater, true) => {
                        format!("yanadaiwa tarehe {}", kenyan_date(due))
                    }
                    (std::cmp::Ordering::Less, false) => {
                        format!("was due on {} and is unpaid", kenyan_date(due))
                    }
                    (std::cmp::Ordering::Less, true) => {
                        format!("yalipaswa tarehe {} na bado hayajalipwa", kenyan_date(due))
                    }
                };
                let body = fill(
                    &self.template("template.reminder_sms", sw).await?,
                    &line.state.outstanding,
                    "",
                    "",
                    &when,
                );
                (String::new(), body, None)
            }
        };
        let retry = |problem: String| {
            if m.attempts >= MAX_ATTEMPTS {
                Attempt::Failed {
                    problem: format!("{problem} (gave up after {} attempts)", m.attempts),
                }
            } else {
                Attempt::Retry {
                    problem,
                    retry_at: self.now() + retry_after(m.attempts),
                }
            }
        };
        let providers = self.providers();
        if m.channel == "sms" {
            let Ok(phone) = Msisdn::parse(&policy.phone) else {
                return Ok(Attempt::Failed {
                    problem: format!("{} is not a Kenyan mobile number", policy.phone),
                });
            };
            let Some(sms) = providers.sms() else {
                return Ok(Attempt::Skipped {
                    why:
                        "SMS is not set up at this office (MALIPO_SMS_USERNAME, MALIPO_SMS_API_KEY)"
                            .into(),
                });
            };
            self.store()
                .message_content(m.id, phone.as_str(), &body)
                .await?;
            return Ok(match sms.send(&phone, &body).await {
                Ok(id) => Attempt::Sent {
                    provider_id: Some(id),
                },
                Err(SmsError::Later(why)) => retry(why),
                Err(e @ SmsError::Refused(_)) => Attempt::Failed {
                    problem: e.to_string(),
                },
                Err(e @ SmsError::Unknown(_)) => Attempt::Failed {
                    problem: format!("{e}; it may have been sent: a manager may resend it"),
                },
            });
        }
        let Some(address) = policy.email.clone().filter(|e| !e.is_empty()) else {
            return Ok(Attempt::Skipped {
                why: "the policy has no e-mail address".into(),
            });
        };
        let Some(mailer) = providers.mailer() else {
            return Ok(Attempt::Skipped {
                why: "e-mail is not set up at this office (MALIPO_SMTP_HOST, MALIPO_SMTP_FROM)"
                    .into(),
            });
        };
        self.store().message_content(m.id, &address, &body).await?;
        let (pdf, receipt_of) = pdf.unzip();
        Ok(match mailer.send(&address, &subject, &body, pdf).await {
            Ok(()) => {
                if let Some(number) = receipt_of {
                    self.store()
                        .record_receipt_print("messages", &number, "email", self.now())
                        .await?;
                }
                Attempt::Sent { provider_id: None }
            }
            Err(EmailError::Later(why)) => retry(why),
            Err(e @ EmailError::Refused(_)) => Attempt::Failed {
                problem: e.to_string(),
            },
        })
    }

    /// Messages, newest first: of one status, or one policy's.
    pub async fn messages(
        &self,
        actor: &Actor,
        status: Option<&str>,
        policy: Option<&str>,
    ) -> Result<Vec<MessageView>> {
        actor.require(Action::TakePayment)?;
        Ok(self
            .store()
            .messages(&MessageFilter {
                status: status.map(str::to_owned),
                policy: policy.map(str::to_owned),
                limit: 500,
            })
            .await?
            .iter()
            .map(MessageView::from)
            .collect())
    }

    /// A manager sends a message again (one that failed, or whose fate is unknown).
    pub async fn resend_message(&self, actor: &Actor, id: i64) -> Result<MessageView> {
        actor.require(Action::ResolveReview)?;
        let again = self.store().resend_message(id, self.now()).await?;
        self.store()
            .audit(
                actor.name(),
                "message.resend",
                "message",
                &id.to_string(),
                serde_json::json!({"again_as": again.id}),
                self.now(),
            )
            .await?;
        Ok(MessageView::from(&again))
    }

    /// Sets a policy's message language (`en` or `sw`) and whether its holder opted out.
    pub async fn policy_messages(
        &self,
        actor: &Actor,
        number: &str,
        language: Option<&str>,
        opted_out: Option<bool>,
    ) -> Result<()> {
        actor.require(Action::ManagePolicies)?;
        let language = match language.map(|l| l.trim().to_ascii_lowercase()) {
            None => None,
            Some(l) if l == "en" || l == "sw" => Some(l),
            Some(other) => {
                return Err(Error::invalid(
                    "language",
                    format!("'{other}' is neither en (English) nor sw (Kiswahili)"),
                ));
            }
        };
        self.store()
            .policy_messages(number, language.as_deref(), opted_out, self.now())
            .await?;
        let what = serde_json::json!({"language": language, "opted_out": opted_out});
        self.store()
            .audit(
                actor.name(),
                "policy.messages",
                "policy",
                number,
                what,
                self.now(),
            )
            .await?;
        Ok(())
    }

    /// A delivery report pulled from the relay: the message it names marked delivered or failed.
    pub(crate) async fn delivery_report(&self, body: &str) -> Result<Option<String>> {
        let Ok(report) = malipo_providers::sms::parse_delivery_report(body.as_bytes()) else {
            return Ok(None);
        };
        let Some(delivered) = report.delivered() else {
            return Ok(Some(format!("message {} is {}", report.id, report.status)));
        };
        let problem = report
            .failure_reason
            .as_deref()
            .map(|r| format!("not delivered: {r}"));
        Ok(self
            .store()
            .message_delivery(&report.id, delivered, problem.as_deref(), self.now())
            .await?
            .map(|m| format!("message {} is {}", m.id, m.status)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_ladder_sends_each_step_on_its_day_and_catches_up_one_day() {
        let ladder = DEFAULT_LADDER;
        let due = date!(2026 - 12 - 10);
        let steps: Vec<(Date, i64)> = (0..40)
            .map(|d| date!(2026 - 11 - 25) + Duration::days(d))
            .filter_map(|today| step_due(&ladder, due, today).map(|s| (today, s)))
            .collect();
        // Each step on its day, and the next day again (the same key: queued once).
        assert_eq!(
            steps,
            [
                (date!(2026 - 12 - 03), -7),
                (date!(2026 - 12 - 04), -7),
                (date!(2026 - 12 - 07), -3),
                (date!(2026 - 12 - 08), -3),
                (date!(2026 - 12 - 10), 0),
                (date!(2026 - 12 - 11), 0),
                (date!(2026 - 12 - 13), 3),
                (date!(2026 - 12 - 14), 3),
            ]
        );
        assert_eq!(parse_ladder("3, -7,0,-3").unwrap(), [-7, -3, 0, 3]);
        assert!(parse_ladder("seven").is_err());
    }

    #[test]
    fn quiet_hours_hold_sms_until_morning() {
        let quiet = parse_quiet_hours("21-7").unwrap();
        // 22:30 in Nairobi (19:30 UTC): held until 07:00 the next day.
        assert_eq!(
            quiet_until(quiet, datetime!(2026-11-30 19:30 UTC)),
            Some(datetime!(2026-12-01 07:00 +3))
        );
        // 05:00 in Nairobi: held until 07:00 the same day.
        assert_eq!(
            quiet_until(quiet, datetime!(2026-11-30 02:00 UTC)),
            Some(datetime!(2026-11-30 07:00 +3))
        );
        assert_eq!(quiet_until(quiet, datetime!(2026-11-30 09:00 UTC)), None);
        assert_eq!(parse_quiet_hours("off").unwrap(), None);
        assert!(parse_quiet_hours("25-7").is_err());
    }

    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(retry_after(1), Duration::minutes(1));
        assert_eq!(retry_after(3), Duration::minutes(4));
        assert_eq!(retry_after(8), Duration::hours(1));
    }
}
