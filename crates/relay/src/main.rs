//! `malipo-relay`: serve, and manage tenants and devices.
//!
//! The database is `MALIPO_RELAY_DATABASE_URL`: `postgres://…` for PostgreSQL (several
//! instances may share it), or `sqlite://PATH` or a path (default
//! `~/.local/share/malipo-relay/relay.sqlite3`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use malipo_domain::Secret;
use malipo_relay::Relay;
use malipo_relay::sealing::SealingKey;
use malipo_relay::store::{RelayStore, is_postgres_url};

#[derive(Debug, Parser)]
#[command(
    name = "malipo-relay",
    version,
    about = "Malipo's relay for M-Pesa callbacks"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve on MALIPO_RELAY_LISTEN (default 127.0.0.1:8787)
    Serve,
    #[command(subcommand)]
    Tenant(TenantCmd),
    #[command(subcommand)]
    Device(DeviceCmd),
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Create a tenant; prints its id, its Daraja callback URL (shown once) and its Paystack webhook URL
    Create {
        #[arg(long)]
        name: String,
    },
    /// Set the tenant's Paystack secret key, read from stdin; kept sealed with MALIPO_RELAY_SECRET_KEY
    SetPaystackSecret { tenant: String },
    /// Give the tenant a new Daraja callback URL (shown once); the old one works for 24 more hours
    RotateDarajaUrl { tenant: String },
    /// Accept the tenant's Daraja callbacks only from ALLOW: `safaricom` (Safaricom's published
    /// addresses), addresses and blocks separated by commas, or `off` for any address
    SetDarajaAllow { tenant: String, allow: String },
}

#[derive(Debug, Subcommand)]
enum DeviceCmd {
    /// Add a device to a tenant; prints its id and bearer token (shown once)
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
    },
    /// Revoke a device's token
    Revoke { device: String },
}

/// The database: a PostgreSQL URL, or a SQLite path (optionally `sqlite://PATH`).
fn database_url() -> String {
    std::env::var("MALIPO_RELAY_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            home.join(".local/share/malipo-relay/relay.sqlite3")
                .display()
                .to_string()
        })
}

/// The database as it may be printed: a PostgreSQL URL loses its user and password.
fn describe(url: &str) -> String {
    if !is_postgres_url(url) {
        return url.strip_prefix("sqlite://").unwrap_or(url).to_owned();
    }
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split_once('?').map_or(rest, |(r, _)| r);
    format!("{scheme}://{rest}")
}

fn listen() -> String {
    std::env::var("MALIPO_RELAY_LISTEN")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "127.0.0.1:8787".into())
}

fn public_url() -> String {
    std::env::var("MALIPO_RELAY_PUBLIC_URL")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| format!("http://{}", listen()))
        .trim_end_matches('/')
        .to_owned()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("malipo-relay: {e}");
            ExitCode::from(1)
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let url = database_url();
    if !is_postgres_url(&url) {
        let path = PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
    }
    let store = RelayStore::connect(&url)
        .await
        .map_err(|e| format!("{}: {e}", describe(&url)))?;
    match cli.command {
        Command::Serve => {
            let addr = listen();
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            println!(
                "malipo-relay listening on {addr} (database {})",
                describe(&url)
            );
            let sealing = SealingKey::from_env().map_err(|e| e.to_string())?;
            if sealing.is_none() {
                eprintln!(
                    "malipo-relay: MALIPO_RELAY_SECRET_KEY is not set: Paystack webhooks will be refused"
                );
            }
            let access = malipo_relay::access::Access::from_env()?;
            let app = malipo_relay::router(Relay::new(store, sealing, access));
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| e.to_string())?;
        }
        Command::Tenant(TenantCmd::Create { name }) => {
            let t = store
                .create_tenant(&name)
                .await
                .map_err(|e| e.to_string())?;
            let out = json!({
                "id": t.tenant.id,
                "name": t.tenant.name,
                "daraja_callback_url": format!("{}{}/{}", public_url(), malipo_relay::DARAJA_PATH, t.daraja_token),
                "paystack_webhook_url": format!("{}{}/{}", public_url(), malipo_relay::PAYSTACK_PATH, t.tenant.id),
            });
            println!("{out:#}");
        }
        Command::Tenant(TenantCmd::SetPaystackSecret { tenant }) => {
            let key = SealingKey::from_env()
                .map_err(|e| e.to_string())?
                .ok_or("set MALIPO_RELAY_SECRET_KEY first (64 hex digits: `openssl rand -hex 32`); secrets are never stored unsealed")?;
            let mut line = String::new();
            std::io::stdin()
                .read_line(&mut line)
                .map_err(|e| format!("cannot read the secret from stdin: {e}"))?;
            let secret = Secret::new(line.trim());
            if !(secret.expose().starts_with("sk_live_") || secret.expose().starts_with("sk_test_"))
            {
                return Err("a Paystack secret key starts with sk_live_ or sk_test_".into());
            }
            let sealed = key.seal(&secret).map_err(|e| e.to_string())?;
            store
                .set_paystack_secret(&tenant, &sealed)
                .await
                .map_err(|e| e.to_string())?;
            println!("{:#}", json!({"id": tenant, "paystack_secret": "set"}));
        }
        Command::Tenant(TenantCmd::RotateDarajaUrl { tenant }) => {
            let token = store
                .rotate_daraja_token(&tenant)
                .await
                .map_err(|e| e.to_string())?;
            let url = format!("{}{}/{token}", public_url(), malipo_relay::DARAJA_PATH);
            println!(
                "{:#}",
                json!({"id": tenant, "daraja_callback_url": url, "previous_url_valid_for_hours": 24})
            );
        }
        Command::Tenant(TenantCmd::SetDarajaAllow { tenant, allow }) => {
            let parsed = malipo_relay::access::parse_allow(&allow)?;
            let stored = parsed.as_ref().map(|_| allow.trim());
            store
                .set_daraja_allow(&tenant, stored)
                .await
                .map_err(|e| e.to_string())?;
            let addresses = parsed.map_or(0, |l| l.len());
            println!(
                "{:#}",
                json!({"id": tenant, "daraja_allow": stored, "addresses": addresses})
            );
        }
        Command::Device(DeviceCmd::Add { tenant, name }) => {
            let (d, token) = store
                .add_device(&tenant, &name)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:#}",
                json!({"id": d.id, "tenant": d.tenant_id, "name": d.name, "token": token})
            );
        }
        Command::Device(DeviceCmd::Revoke { device }) => {
            if !store
                .revoke_device(&device)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!("no device {device}"));
            }
            println!("{:#}", json!({"id": device, "revoked": true}));
        }
    }
    Ok(())
}
