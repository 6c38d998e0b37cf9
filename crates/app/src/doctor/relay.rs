//! The relay: reachable, this device's token accepted, the office's sync recent.

use super::*;

/// A sync older than this is worth a warning.
pub(super) const SYNC_STALE: time::Duration = time::Duration::hours(1);

impl App {
    pub(super) async fn relay_checks(
        &self,
        url: Option<&str>,
        token: Option<Secret>,
        ca: Option<&std::result::Result<crate::relay::RelayCa, String>>,
        callback: Option<&str>,
        challenge: &str,
    ) -> Result<(Vec<Check>, RelaySide)> {
        let mut checks = Vec::new();
        let none = |why: &str| RelaySide {
            answer: None,
            missing: why.to_owned(),
            down: None,
        };
        let Some(url) = url else {
            checks.push(check(
                "relay.reachable",
                CheckStatus::Fail,
                "no relay is set: provider callbacks reach offices only through it; set MALIPO_RELAY_URL and MALIPO_RELAY_TOKEN",
            ));
            return Ok((checks, none("no relay is set")));
        };
        let Some(token) = token else {
            checks.push(check(
                "relay.token",
                CheckStatus::Fail,
                "no device token is set: ask the relay's operator for one (malipo-relay device add) and set MALIPO_RELAY_TOKEN",
            ));
            return Ok((checks, none("no device token is set")));
        };
        let ca = match ca {
            Some(Err(why)) => {
                checks.push(check(
                    "relay.ca_file",
                    CheckStatus::Fail,
                    format!("{why}: MALIPO_RELAY_CA_FILE must name the PEM file of the authority that signed the relay's certificate"),
                ));
                return Ok((
                    checks,
                    none("the relay's certificate authority cannot be read"),
                ));
            }
            Some(Ok(ca)) => Some(ca),
            None => None,
        };
        let client = RelayClient::new(url, token, ca);
        match client.healthz().await {
            Ok(()) => checks.push(check(
                "relay.reachable",
                CheckStatus::Pass,
                format!("the relay at {url} answers its health check"),
            )),
            Err(e) => {
                checks.push(check(
                    "relay.reachable",
                    CheckStatus::Fail,
                    format!(
                        "cannot reach the relay at {url} ({}): check it is running and the address is right",
                        reason(&e)
                    ),
                ));
                let origin = reqwest::Url::parse(url)
                    .ok()
                    .map(|u| u.origin().ascii_serialization());
                return Ok((
                    checks,
                    RelaySide {
                        down: origin,
                        ..none("the relay cannot be reached")
                    },
                ));
            }
        }
        let q = api::DeviceCheck {
            daraja_callback_url: callback.map(str::to_owned),
            paystack_challenge: Some(challenge.to_owned()),
        };
        let sent = self.now();
        let (answer, relay_clock) = match client.check(&q).await {
            Ok(found) => found,
            Err(RelayError::Unauthorized(_)) => {
                checks.push(check(
                    "relay.token",
                    CheckStatus::Fail,
                    "the relay refused this office's device token (unknown or revoked): ask the relay's operator for a new one (malipo-relay device add) and set MALIPO_RELAY_TOKEN",
                ));
                return Ok((checks, none("the relay refused the device token")));
            }
            Err(e) => {
                checks.push(check(
                    "relay.token",
                    CheckStatus::Fail,
                    format!("the relay did not answer the set-up check: {e}"),
                ));
                return Ok((checks, none("the relay did not answer")));
            }
        };
        checks.push(check(
            "relay.token",
            CheckStatus::Pass,
            format!(
                "this office is device '{}' of {}",
                answer.device, answer.company
            ),
        ));
        let received = self.now();
        checks.push(match relay_clock {
            None => check(
                "relay.clock",
                CheckStatus::Warn,
                "the relay sent no time to compare clocks with",
            ),
            Some(theirs) => {
                // Compared with the middle of the round trip; the header has whole seconds.
                let ours = sent + (received - sent) / 2_i32;
                let skew = (ours - theirs).whole_seconds();
                if skew.abs() > MAX_CLOCK_SKEW_SECS {
                    check(
                        "relay.clock",
                        CheckStatus::Fail,
                        format!(
                            "this machine's clock is {} {} the relay's: set the date and time (M-Pesa refuses prompts with a wrong timestamp, and receipts would carry the wrong date)",
                            ago(time::Duration::seconds(skew.abs())),
                            if skew > 0 { "ahead of" } else { "behind" }
                        ),
                    )
                } else {
                    check(
                        "relay.clock",
                        CheckStatus::Pass,
                        format!("this machine's clock is within {} s of the relay's", skew.abs().max(1)),
                    )
                }
            }
        });
        checks.push(self.sync_check(&answer).await?);
        Ok((
            checks,
            RelaySide {
                answer: Some(answer),
                missing: String::new(),
                down: None,
            },
        ))
    }

    pub(super) async fn sync_check(&self, answer: &api::DeviceCheckAnswer) -> Result<Check> {
        let cursor = self.store().inbox_cursor().await?;
        let last = self.store().last_sync_round().await?;
        let now = self.now();
        Ok(if cursor > answer.last_seq {
            check(
                "relay.sync",
                CheckStatus::Fail,
                format!(
                    "this office has recorded events up to {cursor} but the relay's run only to {}: it is another relay, or one restored from an older backup; ask its operator",
                    answer.last_seq
                ),
            )
        } else if let Some(at) = last {
            let behind = answer.last_seq - cursor;
            let status = if now - at > SYNC_STALE {
                CheckStatus::Warn
            } else {
                CheckStatus::Pass
            };
            let waiting = if behind > 0 {
                format!(", {behind} newer waiting")
            } else {
                String::new()
            };
            check(
                "relay.sync",
                status,
                format!(
                    "last synced {} ago; events recorded up to {cursor} of {}{waiting}{}",
                    ago(now - at),
                    answer.last_seq,
                    if status == CheckStatus::Warn {
                        ": is the sync running? (the desktop app syncs while it is open)"
                    } else {
                        ""
                    }
                ),
            )
        } else {
            check(
                "relay.sync",
                CheckStatus::Warn,
                "this office has never synced with the relay: sync once (the desktop app syncs by itself while open)",
            )
        })
    }
}
