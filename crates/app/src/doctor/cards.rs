//! Paystack: the secret key against the API, and the webhook the relay checks with it.

use super::*;

pub(super) async fn paystack_checks(
    base: &str,
    key: Option<Secret>,
    daraja_env: Option<DarajaEnv>,
    relay: &RelaySide,
    challenge: &str,
) -> Vec<Check> {
    let Some(key) = key else {
        return vec![check(
            "paystack.key",
            CheckStatus::Warn,
            format!(
                "Paystack is not set up: card payments need {} (or in Settings)",
                table::PAYSTACK_SECRET_KEY.env
            ),
        )];
    };
    let mut checks = Vec::new();
    let k = key.expose().trim();
    let mut v = Verdict::new();
    let kind = if k.starts_with("sk_live_") {
        Some("live")
    } else if k.starts_with("sk_test_") {
        Some("test")
    } else {
        None
    };
    if k.starts_with("pk_") {
        v.fail("this is the public key (pk_…): Malipo needs the secret key (sk_…) from Paystack's Settings → API Keys & Webhooks");
    } else if kind.is_none() {
        v.fail("this does not look like a Paystack secret key (sk_test_… or sk_live_…): copy it again from Paystack's Settings → API Keys & Webhooks");
    }
    match (kind, daraja_env) {
        (Some("test"), Some(DarajaEnv::Production)) => v.fail(
            "a test key while M-Pesa is on production: card payments would not be real money; use the live secret key (sk_live_…)",
        ),
        (Some("live"), Some(DarajaEnv::Sandbox | DarajaEnv::Local)) => v.fail(
            "a live key while M-Pesa is on the sandbox: card payments would take real money; use the test secret key (sk_test_…) until going live",
        ),
        _ => {}
    }
    if !v.failed() {
        let client = PaystackClient::new(PaystackConfig::new(base, key.clone()));
        let q = ListQuery {
            from: None,
            to: None,
            status: None,
            page: 1,
            per_page: 1,
        };
        match client.transactions(&q).await {
            Ok(_) => {}
            Err(PaystackError::Unauthorized(_)) => v.fail(
                "Paystack refused the secret key: copy it again, whole, from Paystack's Settings → API Keys & Webhooks",
            ),
            Err(e) => v.fail(format!("Paystack did not answer the check: {e}")),
        }
    }
    checks.push(v.into_check(
        "paystack.key",
        format!(
            "Paystack accepts the {} secret key",
            kind.unwrap_or("secret")
        ),
    ));

    let ours = paystack::signature(&key, challenge.as_bytes());
    checks.push(match &relay.answer {
        None => check(
            "paystack.webhook",
            CheckStatus::Warn,
            format!("Paystack webhooks could not be checked: {}", relay.missing),
        ),
        Some(a) => match (a.paystack_secret, a.paystack_proof.as_deref()) {
            (api::SecretState::NotSet, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay has no Paystack secret for this company, so it refuses every webhook: run malipo-relay tenant set-paystack-secret with the same secret key",
            ),
            (api::SecretState::Sealed, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay cannot open its copy of the Paystack secret (MALIPO_RELAY_SECRET_KEY missing or changed): ask its operator",
            ),
            (api::SecretState::Set, Some(proof)) if proof == ours => check(
                "paystack.webhook",
                CheckStatus::Pass,
                match &a.paystack_webhook_url {
                    Some(url) => format!(
                        "the relay checks webhooks with this office's key; in Paystack's dashboard the webhook URL must be {url}"
                    ),
                    None => "the relay checks webhooks with this office's key".to_owned(),
                },
            ),
            (api::SecretState::Set, _) => check(
                "paystack.webhook",
                CheckStatus::Fail,
                "the relay holds a different Paystack secret from this office: every webhook would be refused as forged; set the same secret key on both",
            ),
        },
    });
    checks
}
