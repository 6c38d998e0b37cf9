//! The URLs Safaricom and Paystack post to: rules Safaricom enforces without saying so, and whether the relay behind them answers.

use super::*;

/// Safaricom refuses callback and C2B URLs containing these words, in any case: it filters
/// them out and the callbacks never come (Daraja's Register URL documentation).
pub(super) const REFUSED_WORDS: [&str; 8] = [
    "mpesa",
    "m-pesa",
    "m_pesa",
    "safaricom",
    "exe",
    "cmd",
    "sql",
    "query",
];

/// Tunnels and request catchers: fine for a quick try, blocked by Safaricom in production and
/// gone when the laptop that opened them sleeps.
pub(super) const TUNNELS: [&str; 30] = [
    "ngrok.io",
    "ngrok.app",
    "ngrok.dev",
    "ngrok-free.app",
    "ngrok-free.dev",
    "loca.lt",
    "localtunnel.me",
    "serveo.net",
    "serveousercontent.com",
    "trycloudflare.com",
    "lhr.life",
    "localhost.run",
    "pagekite.me",
    "telebit.cloud",
    "tunnelmole.net",
    "pinggy.link",
    "pinggy.io",
    "devtunnels.ms",
    "localto.net",
    "zrok.io",
    "expose.dev",
    "sharedwithexpose.com",
    "mockbin.org",
    "mockbin.io",
    "requestbin.com",
    "requestbin.net",
    "pipedream.net",
    "webhook.site",
    "beeceptor.com",
    "hookbin.com",
];

/// Which Daraja the base URL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum DarajaEnv {
    Production,
    Sandbox,
    /// A simulator on this machine: no real money moves.
    Local,
    /// Neither Safaricom nor this machine.
    Other,
}

impl DarajaEnv {
    pub(super) fn of(base: &reqwest::Url) -> DarajaEnv {
        match base.host_str() {
            Some("api.safaricom.co.ke") => DarajaEnv::Production,
            Some("sandbox.safaricom.co.ke") => DarajaEnv::Sandbox,
            _ if is_loopback(base) => DarajaEnv::Local,
            _ => DarajaEnv::Other,
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            DarajaEnv::Production => "Safaricom's production (real money)",
            DarajaEnv::Sandbox => "Safaricom's sandbox (no real money)",
            DarajaEnv::Local => "a simulator on this machine (no real money)",
            DarajaEnv::Other => "not Safaricom",
        }
    }
}

/// The host of `url` as an IP address, when it is one.
pub(super) fn ip(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    url.host_str()?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

pub(super) fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str() == Some("localhost") || ip(url).is_some_and(|ip| ip.is_loopback())
}

/// Whether Safaricom could not reach `url`'s host from the internet.
pub(super) fn is_private(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return true;
    };
    match ip(url) {
        Some(std::net::IpAddr::V4(ip)) => {
            ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified()
        }
        Some(std::net::IpAddr::V6(ip)) => ip.is_loopback() || ip.is_unspecified(),
        None => host == "localhost" || host.ends_with(".local") || !host.contains('.'),
    }
}

/// A URL by its address only (`https://relay.example.co.ke/…`): paths of callback URLs carry
/// secret tokens.
pub(super) fn address(url: &reqwest::Url) -> String {
    let origin = url.origin().ascii_serialization();
    if url.path().len() > 1 {
        format!("{origin}/…")
    } else {
        origin
    }
}

/// A URL Safaricom posts to: https, none of the refused words, no tunnel, reachable by
/// Safaricom, this company's relay (for the STK callback, its token too), which answers.
pub(super) async fn url_check(
    name: &str,
    what: &str,
    text: &str,
    env: DarajaEnv,
    relay: &RelaySide,
    stk: bool,
) -> Check {
    let mut v = Verdict::new();
    let Ok(url) = reqwest::Url::parse(text.trim()) else {
        v.fail(format!("{what} is not a web address"));
        return v.into_check(name, "");
    };
    let shown = address(&url);
    // A simulator on this machine posts to the relay on this machine: plain http is right there.
    let local_pair = env == DarajaEnv::Local && is_loopback(&url);
    if url.scheme() != "https" && !local_pair {
        v.fail(format!(
            "{what} ({shown}) is {}:// — Safaricom only posts to https:// addresses; use the relay's https address",
            url.scheme()
        ));
    }
    let lower = text.to_ascii_lowercase();
    if let Some(word) = REFUSED_WORDS.iter().find(|w| lower.contains(*w)) {
        v.fail(format!(
            "{what} contains \"{word}\": Safaricom silently refuses URLs with M-Pesa, Safaricom, exe, cmd, sql or query in them; use the relay's URL, which has none"
        ));
    }
    if let Some(host) = url.host_str()
        && let Some(tunnel) = TUNNELS
            .iter()
            .find(|t| host == **t || host.ends_with(&format!(".{t}")))
    {
        v.fail(format!(
            "{what} goes through {tunnel}, a tunnel or test service: Safaricom blocks these and they vanish when the laptop sleeps; point it at the company relay"
        ));
    }
    if is_private(&url) && !local_pair {
        v.fail(format!(
            "{what} ({shown}) is a private address Safaricom cannot reach: use the relay's public address"
        ));
    }
    if v.failed() {
        return v.into_check(name, "");
    }
    match &relay.answer {
        None => v.warn(format!(
            "{what} ({shown}) could not be compared with the relay: {}",
            relay.missing
        )),
        Some(answer) => {
            if let Some(public) = answer
                .public_url
                .as_deref()
                .and_then(|p| reqwest::Url::parse(p).ok())
                && public.origin() != url.origin()
            {
                v.fail(format!(
                    "{what} points at {}, not this company's relay ({}): Safaricom would post where Malipo never reads",
                    url.origin().ascii_serialization(),
                    public.origin().ascii_serialization()
                ));
            }
            if stk {
                match answer.daraja_token {
                    Some(api::TokenMatch::Current) | None => {}
                    Some(api::TokenMatch::Previous) => v.warn(format!(
                        "{what} carries the relay's previous token, which stops working within a day of the last rotation: set MALIPO_MPESA_CALLBACK_URL to the new one"
                    )),
                    Some(api::TokenMatch::Unknown) => v.fail(format!(
                        "{what} is not this company's at the relay (mistyped, another company's, or rotated away): callbacks would be refused; copy it again from malipo-relay tenant create or rotate"
                    )),
                    Some(api::TokenMatch::NotACallbackUrl) => v.fail(format!(
                        "{what} is not a relay callback URL (…{}/TOKEN): copy the daraja_callback_url malipo-relay gave for this company",
                        api::DARAJA_PATH
                    )),
                }
            }
        }
    }
    if v.failed() || relay.down.as_deref() == Some(&url.origin().ascii_serialization()) {
        return v.into_check(name, "");
    }
    // What Safaricom will reach: the relay behind the URL answers its health check.
    let health = format!("{}{}", url.origin().ascii_serialization(), api::HEALTHZ);
    let answered = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
        .map(|c| c.get(&health).send());
    match answered {
        Ok(sent) => match sent.await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => v.fail(format!(
                "the relay behind {what} ({shown}) answers its health check with HTTP {}",
                r.status().as_u16()
            )),
            Err(e) => v.fail(format!(
                "the relay behind {what} ({shown}) does not answer its health check ({}): Safaricom could not reach it either",
                if e.is_timeout() { "no answer in time".to_owned() } else if e.is_connect() { "cannot connect".to_owned() } else { e.to_string() }
            )),
        },
        Err(e) => v.fail(format!("cannot check {what}: {e}")),
    }
    v.into_check(
        name,
        format!("{what} ({shown}) is this company's relay, which answers"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_relay() -> RelaySide {
        RelaySide {
            answer: None,
            missing: "no relay is set".into(),
            down: None,
        }
    }

    async fn url(text: &str, env: DarajaEnv) -> Check {
        url_check(
            "mpesa.callback_url",
            "the STK callback URL",
            text,
            env,
            &no_relay(),
            true,
        )
        .await
    }

    #[tokio::test]
    async fn callback_urls_safaricom_would_refuse_fail_with_the_reason() {
        for (text, says) in [
            (
                "http://relay.example.co.ke/hooks/d/ab12",
                "only posts to https://",
            ),
            ("https://relay.example.co.ke/MPesa/callback", "\"mpesa\""),
            (
                "https://safaricom-callbacks.example.co.ke/hooks/d/ab",
                "\"safaricom\"",
            ),
            ("https://relay.example.co.ke/cgi/exec?x=1", "\"exe\""),
            (
                "https://ab12-41-90.ngrok-free.app/hooks/d/ab12",
                "ngrok-free.app",
            ),
            (
                "https://x.trycloudflare.com/hooks/d/ab",
                "trycloudflare.com",
            ),
            ("https://192.168.1.20/hooks/d/ab12", "private address"),
            ("https://relay/hooks/d/ab12", "private address"),
            ("not a url", "not a web address"),
        ] {
            let c = url(text, DarajaEnv::Production).await;
            assert_eq!(c.status, CheckStatus::Fail, "{text}: {c:?}");
            assert!(c.message.contains(says), "{text}: {}", c.message);
            assert!(
                !c.message.contains("ab12"),
                "the token is never shown: {}",
                c.message
            );
        }
        // Against a simulator on this machine, the relay on this machine over http is right.
        let local = url("http://127.0.0.1:9/hooks/d/ab12", DarajaEnv::Local).await;
        assert!(
            local.message.contains("does not answer its health check"),
            "only that nothing answers there: {local:?}"
        );
        let prod = url("http://127.0.0.1:9/hooks/d/ab12", DarajaEnv::Production).await;
        assert!(prod.message.contains("only posts to https://"), "{prod:?}");
    }
}
