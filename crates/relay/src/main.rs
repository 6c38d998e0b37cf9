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
    /// Write a consistent copy of the SQLite database to FILE while the relay runs, checked
    /// (integrity_check) before it replaces an earlier one; the sealing key is never inside.
    /// On PostgreSQL: says to use pg_dump or WAL archiving, checks the database answers, and
    /// exits 1 (nothing written)
    Backup { file: PathBuf },
    /// Restore a backup FILE as MALIPO_RELAY_DATABASE_URL's database, which must not exist yet
    /// (or be empty); a file that fails the check is refused and nothing is written
    Restore { file: PathBuf },
    /// Purge provider bodies older than MALIPO_RELAY_RETENTION_DAYS (default 90) that every
    /// active device of their company has read, keeping their per-day counts; prints what was
    /// purged and what is kept because a device has not read it. A serving relay does this
    /// every hour by itself
    Purge {
        /// Say what would be purged, delete nothing
        #[arg(long)]
        dry_run: bool,
        /// Days to keep, instead of MALIPO_RELAY_RETENTION_DAYS
        #[arg(long)]
        days: Option<u32>,
    },
    /// Ask the running relay whether it is ready (its /readyz): prints `ready`, or `not ready:`
    /// and why, and exits 1 unless ready. For scripts and service managers
    Check {
        /// The relay to ask; by default the one MALIPO_RELAY_LISTEN serves on this machine
        #[arg(long)]
        url: Option<String>,
        /// Ask again (every half second) until ready or this many seconds have passed: for a
        /// service manager waiting for a relay it just started
        #[arg(long, default_value_t = 0)]
        wait: u64,
    },
    #[command(subcommand)]
    Tenant(TenantCmd),
    #[command(subcommand)]
    Device(DeviceCmd),
    /// The company's policy register, which every counter pulls
    #[command(subcommand)]
    Policies(PoliciesCmd),
}

#[derive(Debug, Subcommand)]
enum PoliciesCmd {
    /// Import policies from CSV (header: policy_number,holder_name,phone,email,premium, then
    /// optionally frequency,instalments,start_date,status,currency); prints what was added,
    /// updated, unchanged or refused (with the line and why). One refused row imports nothing.
    /// Needs MALIPO_RELAY_SECRET_KEY: names and phone numbers are kept sealed
    Import {
        #[arg(long)]
        tenant: String,
        file: PathBuf,
        /// The currency of premiums in rows without a currency column
        #[arg(long, default_value = "KES")]
        currency: String,
        /// Check and report, write nothing
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCmd {
    /// Create a tenant; prints its id, its Daraja callback URL (shown once) and its Paystack webhook URL
    Create {
        #[arg(long)]
        name: String,
    },
    /// Every tenant: id, name, devices (active, revoked), last event number, and when its latest
    /// provider event arrived. No URL token or secret is shown
    List,
    /// Set the tenant's Paystack secret key, read from stdin; kept sealed with MALIPO_RELAY_SECRET_KEY
    SetPaystackSecret { tenant: String },
    /// Give the tenant a new Daraja callback URL (shown once); the old one works for 24 more hours
    RotateDarajaUrl { tenant: String },
    /// Give the tenant new C2B (paybill) validation and confirmation URLs (shown once; a tenant
    /// made before paybill gets its first ones so); the old ones work for 24 more hours. Register
    /// them with Safaricom again (malipo mpesa register-urls)
    RotateC2bUrls { tenant: String },
    /// The smallest paybill payment validation accepts, e.g. 100 (KES); smaller ones are
    /// refused with C2B00013
    SetC2bMinimum { tenant: String, amount: String },
    /// Accept the tenant's Daraja callbacks only from ALLOW: `safaricom` (Safaricom's published
    /// addresses), addresses and blocks separated by commas, or `off` for any address
    SetDarajaAllow { tenant: String, allow: String },
}

#[derive(Debug, Subcommand)]
enum DeviceCmd {
    /// Add a device (one counter) to a tenant; prints its id, counter code and bearer token
    /// (shown once)
    Add {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// Its counter code, 1 to 3 letters or digits, unique in the company (refused when
        /// taken) [default: the next free number]
        #[arg(long)]
        counter: Option<String>,
    },
    /// Revoke a device's token
    Revoke { device: String },
}

/// `malipo-relay policies import`: the file read whole, then imported whole or not at all.
async fn import_policies(
    store: &RelayStore,
    tenant: &str,
    file: &std::path::Path,
    currency: &str,
    dry_run: bool,
) -> Result<malipo_relay_api::RegisterReport, String> {
    use malipo_domain::register;
    let currency = malipo_domain::Currency::from_code(currency).map_err(|e| e.to_string())?;
    let text = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (drafts, refused) = register::read_csv(&text, currency)?;
    let sealing = SealingKey::from_env().map_err(|e| e.to_string())?;
    // Rows that leave columns out keep what the register holds.
    let numbers: Vec<String> = drafts.iter().map(|d| d.number.to_string()).collect();
    let held = store
        .register_policies(tenant, sealing.as_ref(), &numbers)
        .await
        .map_err(|e| e.to_string())?;
    let today = malipo_domain::time_zone::nairobi_date(time::OffsetDateTime::now_utc());
    let mut records = Vec::new();
    let mut lines = Vec::new();
    let mut report = malipo_relay_api::RegisterReport::default();
    for r in refused {
        report.refused.push(malipo_relay_api::RegisterRefusal {
            line: Some(r.line),
            number: r.number,
            why: r.why,
        });
    }
    for d in &drafts {
        match d.resolve(held.get(d.number.as_str()), today) {
            Ok(p) => {
                records.push(malipo_relay_api::RegisterRecord::from_policy(&p));
                lines.push(d.line);
            }
            Err(why) => report.refused.push(malipo_relay_api::RegisterRefusal {
                line: Some(d.line),
                number: Some(d.number.to_string()),
                why,
            }),
        }
    }
    if records.is_empty() && report.refused.is_empty() {
        return Err("the file has no policies below the header".into());
    }
    let imported = store
        .import_register(
            tenant,
            sealing.as_ref(),
            &records,
            Some(&lines),
            dry_run || !report.refused.is_empty(),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    report.added = imported.added;
    report.updated = imported.updated;
    report.unchanged = imported.unchanged;
    report.refused.extend(imported.refused);
    report.refused.sort_by_key(|r| r.line);
    report.written = imported.written;
    Ok(report)
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

/// `MALIPO_RELAY_UPDATES_DIR`: the folder whose files `/updates/NAME` serves, if set; it
/// must exist.
fn updates_dir() -> Result<Option<std::path::PathBuf>, String> {
    match std::env::var_os("MALIPO_RELAY_UPDATES_DIR").filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            if dir.is_dir() {
                Ok(Some(dir))
            } else {
                Err(format!(
                    "MALIPO_RELAY_UPDATES_DIR: {} is not a folder",
                    dir.display()
                ))
            }
        }
    }
}

/// `MALIPO_RELAY_SHUTDOWN_DELAY_SECS` (default 0): on SIGTERM, how long the relay answers
/// not ready while still serving before it stops taking connections. Behind a load balancer
/// with health checks, more than their interval, so no request is sent to a closing instance.
fn shutdown_delay() -> Result<std::time::Duration, String> {
    match std::env::var("MALIPO_RELAY_SHUTDOWN_DELAY_SECS") {
        Err(_) => Ok(std::time::Duration::ZERO),
        Ok(v) if v.trim().is_empty() => Ok(std::time::Duration::ZERO),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|s| *s <= 60)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| {
                format!(
                    "MALIPO_RELAY_SHUTDOWN_DELAY_SECS={v} is not a whole number of seconds up to 60"
                )
            }),
    }
}

/// `MALIPO_RELAY_METRICS_LISTEN`: where `/metrics` is served, never on the public listener.
/// Loopback on a free port (printed at start) unless set; `off` for none.
fn metrics_listen() -> Option<String> {
    match std::env::var("MALIPO_RELAY_METRICS_LISTEN")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        None => Some("127.0.0.1:0".to_owned()),
        Some(v) if v.trim() == "off" => None,
        Some(v) => Some(v.trim().to_owned()),
    }
}

/// SIGTERM (a service manager stopping the relay) or SIGINT (Ctrl-C).
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    // Errors the relay keeps from its clients (a database's own words) go to its log.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("malipo-relay: {e}");
            ExitCode::from(1)
        }
    }
}

/// Asks the relay at `url` (or on MALIPO_RELAY_LISTEN) for its readiness.
async fn check(url: Option<String>, wait: u64) -> Result<(), String> {
    let base = url.unwrap_or_else(|| format!("http://{}", listen()));
    let address = format!("{}{}", base.trim_end_matches('/'), malipo_relay_api::READYZ);
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
    loop {
        match ask_ready(&http, &address).await {
            Ok(()) => {
                println!("ready");
                return Ok(());
            }
            Err(why) if tokio::time::Instant::now() >= deadline => return Err(why),
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
        }
    }
}

/// One question to `/readyz`: ready, or why not.
async fn ask_ready(http: &reqwest::Client, address: &str) -> Result<(), String> {
    let answer = http
        .get(address)
        .send()
        .await
        .map_err(|e| format!("not ready: {address} does not answer ({e})"))?;
    let ok = answer.status().is_success();
    let body: serde_json::Value = answer.json().await.unwrap_or_default();
    if ok {
        return Ok(());
    }
    Err(format!(
        "not ready: {}",
        body["reason"].as_str().unwrap_or("the relay said no")
    ))
}

/// Restores `file` as the SQLite database MALIPO_RELAY_DATABASE_URL names.
async fn restore(file: &std::path::Path) -> Result<(), String> {
    let url = database_url();
    if is_postgres_url(&url) {
        return Err(
            "a PostgreSQL relay is restored with PostgreSQL's own tools (pg_restore, or WAL replay); see the README"
                .into(),
        );
    }
    let to = PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(&url));
    let done = malipo_relay::backup::restore(file, &to).await?;
    println!(
        "{}",
        serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?
    );
    Ok(())
}

async fn run(cli: Cli) -> Result<(), String> {
    // Asks the running relay over HTTP: its own database may be the thing that is down.
    let command = match cli.command {
        Command::Check { url, wait } => return check(url, wait).await,
        // Into an empty place: the database must not be opened (that would create it).
        Command::Restore { file } => return restore(&file).await,
        other => other,
    };
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
    match command {
        Command::Check { url, wait } => check(url, wait).await?,
        Command::Restore { file } => restore(&file).await?,
        Command::Backup { file } => {
            let done = store.backup(&file).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&done).map_err(|e| e.to_string())?
            );
        }
        Command::Purge { dry_run, days } => {
            use malipo_relay::retention::Retention;
            let days = match days.map(Retention::Days) {
                Some(r) => r,
                None => Retention::from_env()?,
            };
            let Retention::Days(days) = days else {
                println!("retention is off (MALIPO_RELAY_RETENTION_DAYS=0): everything is kept");
                return Ok(());
            };
            if days == 0 {
                return Err("--days 0 would purge everything read; give at least 1".into());
            }
            let report = store
                .purge(days, malipo_relay::store::now_ms(), dry_run)
                .await
                .map_err(|e| e.to_string())?;
            eprintln!("{}", report.summary());
            println!(
                "{}",
                serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
            );
        }
        Command::Serve => {
            let addr = listen();
            let limits = malipo_relay::serve::Limits::from_env()?;
            let sealing = SealingKey::from_env().map_err(|e| e.to_string())?;
            let access = malipo_relay::access::Access::from_env()?;
            let listener = tokio::net::TcpListener::bind(&addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
            let mut relay = Relay::new(store, sealing, access);
            relay.limits = limits;
            relay.public_url = Some(public_url());
            relay.updates_dir = updates_dir()?;
            let metrics = metrics_listen();
            let metrics_at = match metrics.as_deref() {
                Some(at) => {
                    let l = tokio::net::TcpListener::bind(at)
                        .await
                        .map_err(|e| format!("cannot listen for metrics on {at}: {e}"))?;
                    let bound = l.local_addr().map_err(|e| e.to_string())?;
                    let router = malipo_relay::metrics_router(relay.clone());
                    tokio::spawn(async move {
                        let _ = axum::serve(l, router).await;
                    });
                    format!("metrics on {bound}")
                }
                None => "no metrics listener".to_owned(),
            };
            let updates_at = match &relay.updates_dir {
                Some(dir) => format!("updates from {}; ", dir.display()),
                None => String::new(),
            };
            println!(
                "malipo-relay listening on {addr} (database {}; {updates_at}{metrics_at})",
                describe(&url)
            );
            if relay.sealing.is_none() {
                eprintln!(
                    "malipo-relay: MALIPO_RELAY_SECRET_KEY is not set: Paystack webhooks will be refused and devices get no receipt key"
                );
            }
            let retention = match malipo_relay::retention::Retention::from_env()? {
                malipo_relay::retention::Retention::Days(days) => {
                    let purging =
                        tokio::spawn(malipo_relay::retention::schedule(relay.store.clone(), days));
                    Some(purging)
                }
                malipo_relay::retention::Retention::KeepAll => None,
            };
            let app = malipo_relay::router(relay.clone());
            let counted = relay.store.shared_metrics();
            let delay = shutdown_delay()?;
            let shutdown = async move {
                stop_signal().await;
                relay.close_streams();
                if !delay.is_zero() {
                    // Behind a load balancer: not ready first, still serving, until its health
                    // checks have sent everything to the other instances.
                    relay.store.stop_being_ready();
                    eprintln!(
                        "malipo-relay: stopping: not ready from now; serving {} s more",
                        delay.as_secs()
                    );
                    tokio::time::sleep(delay).await;
                }
                eprintln!("malipo-relay: stopping: no new connections; open requests finish");
            };
            malipo_relay::serve::serve(listener, app, limits, counted, shutdown)
                .await
                .map_err(|e| e.to_string())?;
            if let Some(purging) = retention {
                purging.abort();
            }
            eprintln!("malipo-relay: stopped");
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
                "c2b_validation_url": format!("{}{}/{}", public_url(), malipo_relay_api::C2B_VALIDATION_PATH, t.c2b_token),
                "c2b_confirmation_url": format!("{}{}/{}", public_url(), malipo_relay_api::C2B_CONFIRMATION_PATH, t.c2b_token),
            });
            println!("{out:#}");
        }
        Command::Tenant(TenantCmd::List) => {
            let list = store.tenant_list().await.map_err(|e| e.to_string())?;
            let out: Vec<serde_json::Value> = list
                .iter()
                .map(|t| {
                    json!({
                        "id": t.id,
                        "name": t.name,
                        "active_devices": t.active_devices,
                        "revoked_devices": t.revoked_devices,
                        "last_seq": t.last_seq,
                        "last_received_at": t.last_received_ms.and_then(|ms| {
                            time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                                .ok()
                                .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
                        }),
                    })
                })
                .collect();
            println!("{:#}", serde_json::Value::Array(out));
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
        Command::Tenant(TenantCmd::RotateC2bUrls { tenant }) => {
            let token = store
                .rotate_c2b_token(&tenant)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:#}",
                json!({
                    "id": tenant,
                    "c2b_validation_url": format!("{}{}/{token}", public_url(), malipo_relay_api::C2B_VALIDATION_PATH),
                    "c2b_confirmation_url": format!("{}{}/{token}", public_url(), malipo_relay_api::C2B_CONFIRMATION_PATH),
                    "previous_urls_valid_for_hours": 24
                })
            );
        }
        Command::Tenant(TenantCmd::SetC2bMinimum { tenant, amount }) => {
            let minimum = malipo_domain::Money::parse(&amount, malipo_domain::Currency::Kes)
                .map_err(|e| e.to_string())?;
            store
                .set_c2b_minimum(&tenant, minimum.minor())
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{:#}",
                json!({"id": tenant, "c2b_minimum": minimum.amount_string()})
            );
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
        Command::Device(DeviceCmd::Add {
            tenant,
            name,
            counter,
        }) => {
            let (d, token) = store
                .add_device(&tenant, &name, counter.as_deref())
                .await
                .map_err(|e| e.to_string())?;
            // Its receipt key, kept sealed; without a sealing key it is kept the first time
            // the device calls a relay that has one.
            if let Some(sealing) = SealingKey::from_env().map_err(|e| e.to_string())? {
                store
                    .keep_receipt_key(&d.id, &token, &sealing)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            println!(
                "{:#}",
                json!({"id": d.id, "tenant": d.tenant_id, "name": d.name, "counter": d.counter, "token": token})
            );
        }
        Command::Policies(PoliciesCmd::Import {
            tenant,
            file,
            currency,
            dry_run,
        }) => {
            let report = import_policies(&store, &tenant, &file, &currency, dry_run).await?;
            println!("{:#}", json!(report));
            if !report.refused.is_empty() {
                return Err(format!(
                    "{} refused; nothing was imported",
                    match report.refused.len() {
                        1 => "1 row was".to_owned(),
                        n => format!("{n} rows were"),
                    }
                ));
            }
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
