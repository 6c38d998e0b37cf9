//! `malipo-relay`: serve, and manage tenants and devices.
//!
//! The database is `MALIPO_RELAY_DATABASE_URL` (`sqlite://PATH` or a path; default
//! `~/.local/share/malipo-relay/relay.sqlite3`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::json;

use malipo_relay::store::RelayStore;

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
    /// Create a tenant; prints its id and its Daraja callback URL (the URL is shown once)
    Create {
        #[arg(long)]
        name: String,
    },
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

fn database_path() -> Result<PathBuf, String> {
    match std::env::var("MALIPO_RELAY_DATABASE_URL")
        .ok()
        .filter(|v| !v.is_empty())
    {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => Err(
            "PostgreSQL is not supported by this build of the relay yet; give a SQLite path".into(),
        ),
        Some(url) => Ok(PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url))),
        None => {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("."));
            Ok(home.join(".local/share/malipo-relay/relay.sqlite3"))
        }
    }
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
    let path = database_path()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let store = RelayStore::open(&path).await.map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve => {
            let addr = listen();
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            println!(
                "malipo-relay listening on {addr} (database {})",
                path.display()
            );
            axum::serve(listener, malipo_relay::router(store))
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
            });
            println!("{out:#}");
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
