//! How a policy's premiums are collected without anyone at the counter: a saved card charged
//! on the due day, or an M-Pesa prompt sent on it, set by a manager with the holder's consent
//! on record (who took it, how, in what words); anyone may stop it. Every change is audited.

use malipo_domain::{Action, Email, Msisdn};
use malipo_store::NewInstruction;

use crate::error::{Error, Result};
use crate::views::CollectionView;
use crate::{Actor, App};

/// A collection instruction as a person gives it.
#[derive(Debug, Clone, serde::Deserialize, ts_rs::TS)]
pub struct CollectRequest {
    pub policy: String,
    /// `card`, `mpesa_prompt` or `none` (stop: reminders only).
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
            "card" | "mpesa_prompt" => actor.require(Action::SetCollection)?,
            other => {
                return Err(Error::invalid(
                    "kind",
                    format!(
                        "'{}' is not card, mpesa_prompt or none",
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
            .unwrap_or("in_person");
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
            "mpesa_prompt" => {
                let phone = Msisdn::parse(&policy.phone).map_err(|e| Error::invalid("phone", e))?;
                (None, None, Some(phone.as_str().to_owned()))
            }
            _ => (None, None, None),
        };
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
        Ok(CollectionView::from(&record))
    }

    /// `number`'s collection instruction, if one was ever set.
    pub(crate) async fn collection_of(&self, policy_id: i64) -> Result<Option<CollectionView>> {
        Ok(self
            .store()
            .instruction(policy_id)
            .await?
            .as_ref()
            .map(CollectionView::from))
    }
}
