//! How a policy's premiums are collected without anyone at the counter: a saved card charged
//! on the due day, an M-Pesa prompt sent on it, or an M-Pesa Ratiba standing order on the
//! holder's own profile, set by a manager with the holder's consent on record (who took it,
//! how, in what words); anyone may stop it. Every change is audited.

use malipo_domain::schedule::InstalmentStatus;
use malipo_domain::time_zone::nairobi_date;
use malipo_domain::{Action, Currency, Email, Msisdn};
use malipo_providers::daraja::MpesaAmount;
use malipo_providers::daraja::ratiba::{self, RatibaResult};
use malipo_store::{NewInstruction, NewStandingOrder, OrderResult, PolicyRecord, StandingOrder};

use crate::error::{Error, Result};
use crate::views::{CollectionView, StandingOrderView};
use crate::{Actor, App};

/// Days a standing order's run may take to reach the paybill after its due date before the
/// office calls it missing.
pub const RUN_SLACK_DAYS: i64 = 2;

/// A collection instruction as a person gives it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct CollectRequest {
    pub policy: String,
    /// `card`, `mpesa_prompt`, `ratiba` or `none` (stop: reminders only).
    pub kind: String,
    /// The saved card's last four digits (the latest saved card when none).
    pub card_last4: Option<String>,
    /// What the holder agreed to, in their words or the form's.
    pub consent: Option<String>,
    /// `in_person`, `sms_link` or `mpesa_pin`.
    pub consent_how: Option<String>,
}

impl App {
    /// Sets how `req.policy`'s premiums are collected. Setting needs a manager and the holder's
    /// consent on record; stopping (`none`) anyone may do. A card must be one Paystack keeps for
    /// the policy's e-mail and may charge again; a prompt goes to the policy's phone.
    pub async fn set_collection(
        &self,
        actor: &Actor,
        req: &CollectRequest,
    ) -> Result<CollectionView> {
        let kind = req.kind.trim();
        match kind {
            "none" => actor.require(Action::TakePayment)?,
            "card" | "mpesa_prompt" | "ratiba" => actor.require(Action::SetCollection)?,
            other => {
                return Err(Error::invalid(
                    "kind",
                    format!(
                        "'{}' is not card, mpesa_prompt, ratiba or none",
                        other.chars().take(20).collect::<String>()
                    ),
                ));
            }
        }
        let policy = self.payable_policy(&req.policy).await?;
        let consent = req
            .consent
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty());
        let how = req
            .consent_how
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
            // A standing order is approved with the holder's own PIN.
            .unwrap_or(if kind == "ratiba" {
                "mpesa_pin"
            } else {
                "in_person"
            });
        if kind != "none" {
            let Some(c) = consent else {
                return Err(Error::invalid(
                    "consent",
                    "record what the holder agreed to (e.g. \"charge my card ending 4081 on each due date\")",
                ));
            };
            if c.chars().count() > 500 || c.chars().any(char::is_control) {
                return Err(Error::invalid(
                    "consent",
                    "at most 500 printable characters",
                ));
            }
            if !["in_person", "sms_link", "mpesa_pin"].contains(&how) {
                return Err(Error::invalid(
                    "consent_how",
                    "in_person, sms_link or mpesa_pin",
                ));
            }
        }
        let (card_email, card_last4, phone) = match kind {
            "card" => {
                let email = policy.email.clone().ok_or_else(|| {
                    Error::invalid(
                        "card",
                        "the policy has no e-mail, so no card is saved for it",
                    )
                })?;
                let email = Email::parse(&email).map_err(|e| Error::invalid("card", e))?;
                let cards = self.store().saved_cards(email.as_str()).await?;
                let wanted = req
                    .card_last4
                    .as_deref()
                    .map(str::trim)
                    .filter(|l| !l.is_empty());
                let card = cards
                    .into_iter()
                    .filter(|c| c.reusable)
                    .find(|c| wanted.is_none_or(|w| w == c.last4))
                    .ok_or_else(|| {
                        Error::NotFound(format!(
                            "a card Paystack may charge again for {email}{}: take one payment by card first",
                            wanted.map(|w| format!(" ending {w}")).unwrap_or_default()
                        ))
                    })?;
                let wants = policy.premium.currency().code();
                if let Some(other) = card.currency.as_deref().filter(|c| *c != wants) {
                    return Err(Error::invalid(
                        "card",
                        format!(
                            "the card ending {} was saved in {other}; the policy is paid in {wants}",
                            card.last4
                        ),
                    ));
                }
                (Some(email.as_str().to_owned()), Some(card.last4), None)
            }
            "mpesa_prompt" | "ratiba" => {
                let phone = Msisdn::parse(&policy.phone).map_err(|e| Error::invalid("phone", e))?;
                (None, None, Some(phone.as_str().to_owned()))
            }
            _ => (None, None, None),
        };
        // Whatever replaces a standing order, the office stops counting on it; only the holder
        // can cancel it on their phone.
        let before = self.store().instruction(policy.id).await?;
        if kind == "ratiba" {
            self.ask_standing_order(actor, &policy).await?;
        } else if before.as_ref().is_some_and(|b| b.kind == "ratiba") {
            self.store()
                .stop_standing_orders(actor.name(), policy.id, self.now())
                .await?;
        }
        let record = self
            .store()
            .set_instruction(
                actor.name(),
                policy.id,
                &NewInstruction {
                    kind,
                    card_email: card_email.as_deref(),
                    card_last4: card_last4.as_deref(),
                    phone: phone.as_deref(),
                    consent_how: Some(how),
                    consent_text: consent,
                    stopped_reason: (kind == "none")
                        .then(|| format!("stopped by {}", actor.name()))
                        .as_deref(),
                },
                self.now(),
            )
            .await?;
        let mut view = CollectionView::from(&record);
        view.standing_order = self.standing_order_view(policy.id).await?;
        Ok(view)
    }

    /// `number`'s collection instruction, if one was ever set, with its latest standing order.
    pub(crate) async fn collection_of(&self, policy_id: i64) -> Result<Option<CollectionView>> {
        let Some(instruction) = self.store().instruction(policy_id).await? else {
            return Ok(None);
        };
        let mut view = CollectionView::from(&instruction);
        view.standing_order = self.standing_order_view(policy_id).await?;
        Ok(Some(view))
    }

    /// Asks Safaricom to create a standing order for `policy`'s instalments after today: its
    /// instalment amount on each due date, the policy number as the paybill account. The holder
    /// approves it with their PIN; the result arrives through the relay. Refused (and nothing
    /// recorded but the refused order) when Daraja says no.
    async fn ask_standing_order(
        &self,
        actor: &Actor,
        policy: &PolicyRecord,
    ) -> Result<StandingOrder> {
        let providers = self.providers();
        let client = providers.daraja()?;
        if policy.premium.currency() != Currency::Kes {
            return Err(Error::invalid(
                "ratiba",
                format!(
                    "M-Pesa standing orders are in shillings; the policy is paid in {}",
                    policy.premium.currency()
                ),
            ));
        }
        let phone = Msisdn::parse(&policy.phone).map_err(|e| Error::invalid("phone", e))?;
        let today = nairobi_date(self.now());
        let lines = self.schedule_of(&policy.number, today).await?;
        let ahead: Vec<_> = lines
            .iter()
            .map(|l| &l.state)
            .filter(|s| s.instalment.due > today && s.status != InstalmentStatus::Paid)
            .collect();
        let (Some(first), Some(last)) = (ahead.first(), ahead.last()) else {
            return Err(Error::invalid(
                "ratiba",
                "no instalment of the policy falls due after today; a standing order would have nothing to pay",
            ));
        };
        let amount =
            MpesaAmount::new(first.instalment.amount).map_err(|e| Error::invalid("ratiba", e))?;
        let asked = self.store().standing_orders_asked(policy.id).await?;
        // Unique per holder at Safaricom: a second order for the policy is numbered.
        let name = if asked == 0 {
            format!("Premium {}", policy.number)
        } else {
            format!("Premium {} ({})", policy.number, asked + 1)
        };
        let order = ratiba::StandingOrder {
            name,
            phone: phone.clone(),
            amount,
            frequency: policy.frequency,
            start: first.instalment.due,
            end: last.instalment.due,
            account_reference: policy.number.clone(),
            description: "Premium".into(),
            request_ref: request_ref()?,
        };
        // Checked before anything is recorded: a policy number M-Pesa cannot carry is the
        // clerk's to know now.
        client
            .standing_order_request(&order)
            .map_err(|e| Error::invalid("ratiba", e))?;
        let recorded = self
            .store()
            .new_standing_order(
                actor.name(),
                &NewStandingOrder {
                    policy_id: policy.id,
                    name: &order.name,
                    request_ref: &order.request_ref,
                    phone: phone.as_str(),
                    amount: amount.money(),
                    frequency: policy.frequency.as_str(),
                    start: order.start,
                    end: order.end,
                },
                self.now(),
            )
            .await?;
        let asked = client.create_standing_order(&order);
        match self
            .provider_call("mpesa.ratiba", &policy.number, asked)
            .await
        {
            Ok(taken) => Ok(self
                .store()
                .standing_order_sent(recorded.id, Ok(&taken.response_ref), self.now())
                .await?),
            Err(e) if e.safe_to_retry() => {
                self.store()
                    .standing_order_sent(recorded.id, Err(&e.to_string()), self.now())
                    .await?;
                Err(e.into())
            }
            // No clear answer: the PIN prompt may be on the holder's phone, and Safaricom's
            // result (naming our reference) settles the order when it comes.
            Err(_) => Ok(recorded),
        }
    }

    /// Safaricom's result for a standing order: the order is active, or failed and the policy
    /// goes back to reminders only with the reason on record. `None` when no order of this
    /// office has either reference; a result told again changes nothing.
    pub(crate) async fn standing_order_result(&self, r: &RatibaResult) -> Result<Option<String>> {
        let store = self.store();
        let order = match store.standing_order_by_ref(&r.request_ref).await? {
            Some(o) => o,
            None => match store.standing_order_by_ref(&r.response_ref).await? {
                Some(o) => o,
                None => return Ok(None),
            },
        };
        let actor = Actor::Sync.name();
        // What Safaricom wrote is kept within bounds: a result is a claim from the internet.
        let description: String = r.description.chars().take(200).collect();
        let order_ref = r.transaction_id().filter(|t| t.len() <= 64);
        let settled = store
            .settle_standing_order(
                actor,
                order.id,
                OrderResult {
                    created: r.created(),
                    code: &r.code,
                    description: &description,
                    order_ref,
                },
                self.now(),
            )
            .await?;
        let Some(after) = settled else {
            return Ok(Some(format!(
                "the standing order for {} had its result already ({})",
                order.policy_number, order.status
            )));
        };
        if after.status == "active" {
            return Ok(Some(format!(
                "standing order {:?} for {} is active from {}",
                after.name, after.policy_number, after.start
            )));
        }
        let why = r.failure();
        let current = store.instruction(order.policy_id).await?;
        if current.is_some_and(|c| c.kind == "ratiba") {
            store
                .set_instruction(
                    actor,
                    order.policy_id,
                    &NewInstruction {
                        kind: "none",
                        card_email: None,
                        card_last4: None,
                        phone: None,
                        consent_how: None,
                        consent_text: None,
                        stopped_reason: Some(&format!(
                            "M-Pesa did not create the standing order: {why}"
                        )),
                    },
                    self.now(),
                )
                .await?;
        }
        Ok(Some(format!(
            "no standing order for {}: {why}",
            after.policy_number
        )))
    }

    /// Policy `policy_id`'s latest standing order, with whether its runs arrive: each instalment
    /// due from its start until [`RUN_SLACK_DAYS`] ago should be paid by then.
    async fn standing_order_view(&self, policy_id: i64) -> Result<Option<StandingOrderView>> {
        let Some(order) = self.store().latest_standing_order(policy_id).await? else {
            return Ok(None);
        };
        let today = nairobi_date(self.now());
        let mut view = StandingOrderView::from(&order);
        if order.status == "active" {
            let lines = self.schedule_of(&order.policy_number, today).await?;
            let runs = watch_runs(&order, lines.iter().map(|l| &l.state), today);
            (view.runs_due, view.runs_missed) = (runs.due, runs.missed);
            view.late_since = runs.late_since.map(|d| d.to_string());
        }
        Ok(Some(view))
    }
}

/// How a standing order's runs are arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Runs {
    /// Instalments due from the order's start until today.
    due: i64,
    /// Of those, the ones still unpaid [`RUN_SLACK_DAYS`] after their due date.
    missed: i64,
    /// The first missed one's due date.
    late_since: Option<time::Date>,
}

/// Each instalment the order covers that fell due by today should be paid within
/// [`RUN_SLACK_DAYS`] (a run reaches the paybill as the holder's payment, by whichever counter
/// or the relay it is recorded).
fn watch_runs<'a>(
    order: &StandingOrder,
    states: impl Iterator<Item = &'a malipo_domain::schedule::InstalmentState>,
    today: time::Date,
) -> Runs {
    let cutoff = today - time::Duration::days(RUN_SLACK_DAYS);
    let mut runs = Runs::default();
    for s in states {
        let due = s.instalment.due;
        if due < order.start || due > order.end || due > today {
            continue;
        }
        runs.due += 1;
        if s.status != InstalmentStatus::Paid && due <= cutoff {
            runs.missed += 1;
            runs.late_since.get_or_insert(due);
        }
    }
    runs
}

/// Our reference for a standing order (`CustomStoId`): 128 random bits written as a UUID.
fn request_ref() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use malipo_domain::Money;
    use malipo_domain::schedule::{Frequency, generate, states};
    use time::macros::date;

    fn order(start: time::Date, end: time::Date) -> StandingOrder {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        StandingOrder {
            id: 1,
            policy_id: 1,
            policy_number: "POL-1".into(),
            name: "Premium POL-1".into(),
            request_ref: "r".into(),
            response_ref: None,
            phone: "254708374149".into(),
            amount: Money::from_major(1000, Currency::Kes).unwrap(),
            frequency: "monthly".into(),
            start,
            end,
            status: "active".into(),
            result_code: None,
            result_desc: None,
            order_ref: None,
            created_by: "wanjiru".into(),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_run_is_missing_two_days_after_its_due_date_and_not_before() {
        let amount = Money::from_major(1000, Currency::Kes).unwrap();
        // Due on the 5th of January to June; the order covers February to June.
        let plan = generate(date!(2026 - 01 - 05), 6, Frequency::Monthly, amount).unwrap();
        let o = order(date!(2026 - 02 - 05), date!(2026 - 06 - 05));
        let watch = |paid_months: i64, today| {
            let paid = Money::from_major(1000 * paid_months, Currency::Kes).unwrap();
            watch_runs(&o, states(&plan, paid, today).unwrap().iter(), today)
        };
        // January (before the order) and February paid; March is due today, then a day late.
        let on_time = watch(2, date!(2026 - 03 - 05));
        assert_eq!((on_time.due, on_time.missed), (2, 0));
        assert_eq!(watch(2, date!(2026 - 03 - 06)).missed, 0);
        let late = watch(2, date!(2026 - 03 - 07));
        assert_eq!((late.due, late.missed), (2, 1));
        assert_eq!(late.late_since, Some(date!(2026 - 03 - 05)));
        // The March run came (three instalments paid): nothing is missing.
        assert_eq!(watch(3, date!(2026 - 03 - 07)).late_since, None);
        // Nothing paid since January: February and March are missing, from February.
        let behind = watch(1, date!(2026 - 03 - 20));
        assert_eq!(
            (behind.missed, behind.late_since),
            (2, Some(date!(2026 - 02 - 05)))
        );
    }
}
