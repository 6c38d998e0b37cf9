//! `malipo-sandbox`: run the Daraja and Paystack simulators.
//!
//! Environment: `MALIPO_SANDBOX_LISTEN` (default 127.0.0.1:8790),
//! `MALIPO_SANDBOX_PUBLIC_URL` (the address browsers reach it on; default the listen address),
//! `MALIPO_SANDBOX_PAYSTACK_WEBHOOK_URL` (where to post signed webhooks),
//! `MALIPO_SANDBOX_PAYSTACK_SECRET`, `MALIPO_SANDBOX_CONSUMER_KEY`,
//! `MALIPO_SANDBOX_CONSUMER_SECRET`, `MALIPO_SANDBOX_SHORTCODE`, `MALIPO_SANDBOX_PASSKEY`,
//! `MALIPO_SANDBOX_TOKEN_TTL` (seconds), `MALIPO_SANDBOX_CUSTOMER_DELAY_MS`,
//! `MALIPO_SANDBOX_SMS_USERNAME`, `MALIPO_SANDBOX_SMS_API_KEY`, `MALIPO_SANDBOX_SMS_REPORT_URL`
//! (where SMS delivery reports go).

use std::net::SocketAddr;
use std::process::ExitCode;

use malipo_sandbox::{Behaviour, Config};

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let listen = env("MALIPO_SANDBOX_LISTEN").unwrap_or_else(|| "127.0.0.1:8790".into());
    let addr: SocketAddr = match listen.parse() {
        Ok(a) => a,
        Err(_) => {
            eprintln!(
                "malipo-sandbox: MALIPO_SANDBOX_LISTEN={listen} is not an address like 127.0.0.1:8790"
            );
            return ExitCode::from(2);
        }
    };
    let defaults = Config::default();
    let config = Config {
        consumer_key: env("MALIPO_SANDBOX_CONSUMER_KEY").unwrap_or(defaults.consumer_key),
        consumer_secret: env("MALIPO_SANDBOX_CONSUMER_SECRET").unwrap_or(defaults.consumer_secret),
        shortcode: env("MALIPO_SANDBOX_SHORTCODE").unwrap_or(defaults.shortcode),
        passkey: env("MALIPO_SANDBOX_PASSKEY").unwrap_or(defaults.passkey),
        token_ttl_secs: env("MALIPO_SANDBOX_TOKEN_TTL")
            .and_then(|v| v.parse().ok())
            .unwrap_or(defaults.token_ttl_secs),
        paystack_secret: env("MALIPO_SANDBOX_PAYSTACK_SECRET").unwrap_or(defaults.paystack_secret),
        paystack_webhook_url: env("MALIPO_SANDBOX_PAYSTACK_WEBHOOK_URL"),
        public_url: env("MALIPO_SANDBOX_PUBLIC_URL").unwrap_or_default(),
        sms_username: env("MALIPO_SANDBOX_SMS_USERNAME").unwrap_or(defaults.sms_username.clone()),
        sms_api_key: env("MALIPO_SANDBOX_SMS_API_KEY").unwrap_or(defaults.sms_api_key.clone()),
        sms_report_url: env("MALIPO_SANDBOX_SMS_REPORT_URL"),
        ..defaults
    };
    let running = match malipo_sandbox::spawn(addr, config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("malipo-sandbox: cannot listen on {addr}: {e}");
            return ExitCode::from(1);
        }
    };
    if let Some(ms) = env("MALIPO_SANDBOX_CUSTOMER_DELAY_MS").and_then(|v| v.parse().ok()) {
        running.sandbox.set_behaviour(Behaviour {
            customer_delay_ms: ms,
            ..Behaviour::default()
        });
    }
    println!(
        "malipo-sandbox listening on {} (Daraja and Paystack; open it in a browser for the scenarios)",
        running.url()
    );
    match tokio::signal::ctrl_c().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("malipo-sandbox: {e}");
            ExitCode::from(1)
        }
    }
}
