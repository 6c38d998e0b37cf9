//! The provider clients of one configuration, built once and shared by every service: the
//! Daraja client keeps its OAuth token and connection pool, Paystack and the relay their
//! connection pools. [`App::configure`] replaces them when the settings change; a service that
//! is running keeps the clients it started with.

use std::sync::Arc;

use malipo_providers::daraja::DarajaClient;
use malipo_providers::paystack::PaystackClient;

use crate::error::{Error, Result};
use crate::relay::RelayClient;
use crate::settings::ProviderSettings;

/// The configured clients; any of them may be missing, and asking for a missing one says which
/// settings to give.
#[derive(Debug)]
pub struct Providers {
    daraja: Option<Arc<DarajaClient>>,
    paystack: Option<Arc<PaystackClient>>,
    relay: Option<RelayClient>,
    sms: Option<malipo_providers::sms::SmsClient>,
    mailer: Option<malipo_providers::email::Mailer>,
    settings: ProviderSettings,
}

impl Providers {
    /// Builds a client for every provider `settings` configure.
    pub fn new(settings: ProviderSettings) -> Providers {
        Providers {
            daraja: settings
                .mpesa
                .clone()
                .map(|c| Arc::new(DarajaClient::new(c))),
            paystack: settings
                .paystack
                .clone()
                .map(|c| Arc::new(PaystackClient::new(c))),
            relay: match (&settings.relay_url, &settings.relay_token) {
                (Some(url), Some(token)) => Some(RelayClient::new(
                    url,
                    token.clone(),
                    settings.relay_ca.as_ref(),
                )),
                _ => None,
            },
            sms: settings
                .sms
                .clone()
                .map(malipo_providers::sms::SmsClient::new),
            mailer: settings
                .smtp
                .clone()
                .map(malipo_providers::email::Mailer::new),
            settings,
        }
    }

    /// Customer SMS, when Africa's Talking is set up.
    pub fn sms(&self) -> Option<&malipo_providers::sms::SmsClient> {
        self.sms.as_ref()
    }

    /// The office's mail server, when it is set up.
    pub fn mailer(&self) -> Option<&malipo_providers::email::Mailer> {
        self.mailer.as_ref()
    }

    /// No provider at all: every payment service says what to set.
    pub fn none() -> Providers {
        Providers::new(ProviderSettings::default())
    }

    pub fn daraja(&self) -> Result<&DarajaClient> {
        self.daraja.as_deref().ok_or_else(|| Error::NotConfigured {
            what: "M-Pesa",
            missing: if self.settings.mpesa_missing.is_empty() {
                vec![
                    "MALIPO_MPESA_CONSUMER_KEY",
                    "MALIPO_MPESA_CONSUMER_SECRET",
                    "MALIPO_MPESA_SHORTCODE",
                    "MALIPO_MPESA_PASSKEY",
                    "MALIPO_MPESA_CALLBACK_URL",
                ]
            } else {
                self.settings.mpesa_missing.clone()
            },
        })
    }

    pub fn paystack(&self) -> Result<&PaystackClient> {
        self.paystack
            .as_deref()
            .ok_or_else(|| Error::NotConfigured {
                what: "card payments",
                missing: vec!["MALIPO_PAYSTACK_SECRET_KEY"],
            })
    }

    pub fn relay(&self) -> Result<&RelayClient> {
        self.relay.as_ref().ok_or_else(|| Error::NotConfigured {
            what: "the relay",
            missing: [
                (self.settings.relay_url.is_none(), "MALIPO_RELAY_URL"),
                (self.settings.relay_token.is_none(), "MALIPO_RELAY_TOKEN"),
            ]
            .into_iter()
            .filter_map(|(missing, name)| missing.then_some(name))
            .collect(),
        })
    }

    pub fn has_mpesa(&self) -> bool {
        self.daraja.is_some()
    }

    pub fn has_paystack(&self) -> bool {
        self.paystack.is_some()
    }

    /// The settings these clients were built from.
    pub fn settings(&self) -> &ProviderSettings {
        &self.settings
    }
}
