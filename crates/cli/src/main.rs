//! `malipo`: the office's services from a terminal. Glue only: parse arguments, find out who
//! is acting, call [`malipo_app::App`], print a table or `--json`.
//!
//! Errors print one line on stderr and exit non-zero: 2 bad input, 3 not found, 4 conflict,
//! 5 not signed in or not allowed, 6 the provider could not be reached or refused, 1 anything
//! else.

mod output;

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use malipo_receipt::Layout;

use malipo_app::{
    Actor, App, AppError, CardRequest, ErrorCode, HistoryQuery, MpesaRequest, NoSecretStore,
    PolicyInput, ScheduleQuery, SummaryQuery,
};
use malipo_domain::schedule::InstalmentStatus;

#[derive(Debug, Parser)]
#[command(
    name = "malipo",
    version,
    about = "Malipo: premiums by M-Pesa and card, at the counter"
)]
struct Cli {
    /// Where the office database lives [default: ~/.local/share/malipo]
    #[arg(long, global = true, env = "MALIPO_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON on stdout
    #[arg(long, global = true)]
    json: bool,
    /// Act as this user (password from MALIPO_PASSWORD or a prompt)
    #[arg(long = "as", global = true, env = "MALIPO_USER", value_name = "USER")]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Add, import, list and show policies
    #[command(subcommand)]
    Policy(PolicyCmd),
    /// Take a payment by M-Pesa or card
    #[command(subcommand)]
    Pay(PayCmd),
    /// Payment history
    #[command(subcommand)]
    Tx(TxCmd),
    /// A customer's saved cards (brand, last four digits, expiry)
    Cards {
        #[arg(long)]
        email: String,
    },
    /// Totals: all, succeeded, pending, failed; by method, by day and by clerk
    Summary(SummaryArgs),
    /// Instalment schedules
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Users and roles
    #[command(subcommand)]
    User(UserCmd),
    /// The office's details, printed on receipts
    #[command(subcommand)]
    Settings(SettingsCmd),
    /// Who changed what (managers)
    Audit(AuditArgs),
    /// Compare one day's payments with what Paystack and Safaricom's callbacks confirm; every
    /// difference listed and explained
    Reconcile {
        /// The day, YYYY-MM-DD (Nairobi)
        #[arg(long)]
        date: String,
    },
    /// A paid payment's receipt as PDF: saved with --out, printed with --print (CUPS `lp`;
    /// MALIPO_PRINTER or the printer.name setting, else the default printer). Reprints say COPY
    Receipt {
        id_or_number: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: Option<PathBuf>,
        /// a4 or 80mm (thermal roll)
        #[arg(long, default_value = "a4")]
        format: String,
        #[arg(long)]
        print: bool,
    },
    /// A day's receipts in one PDF for the office file (one page each, marked COPY)
    Receipts {
        /// The day, YYYY-MM-DD (Nairobi)
        #[arg(long)]
        date: String,
        #[arg(long, value_name = "FILE.pdf")]
        out: PathBuf,
        /// a4 or 80mm
        #[arg(long, default_value = "a4")]
        format: String,
    },
    /// Provider events that matched no payment anywhere (managers)
    #[command(subcommand)]
    Orphans(OrphansCmd),
    /// Refunds: clerks request, managers approve or reject
    #[command(subcommand)]
    Refund(RefundCmd),
    /// Exchange payments and provider events with the company's relay (MALIPO_RELAY_URL,
    /// MALIPO_RELAY_TOKEN), and ask the providers about payments nobody has heard of; runs
    /// until interrupted unless --once
    Sync {
        /// One round, then exit
        #[arg(long)]
        once: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrphansCmd {
    /// Unresolved orphan events, newest first
    List {
        /// Resolved ones too
        #[arg(long)]
        all: bool,
    },
    /// Record what was done about one
    Resolve {
        /// Its sequence number, from the list
        seq: i64,
        #[arg(long)]
        note: String,
    },
}

#[derive(Debug, Subcommand)]
enum RefundCmd {
    /// Ask for money back on a paid payment (a manager approves it)
    Request {
        /// The payment's id, number or reference
        id_or_number: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        #[arg(long)]
        reason: String,
    },
    /// Approve a requested refund and send it to the provider (managers)
    Approve { refund_id: i64 },
    /// Reject a requested refund (managers)
    Reject { refund_id: i64 },
    /// Refunds, newest first
    List {
        /// requested, approved, rejected, processing, processed or failed
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Add one policy with its instalment schedule
    Add(PolicyAddArgs),
    /// Import policies from CSV (header: policy_number,holder_name,phone,email,premium)
    Import {
        file: PathBuf,
        /// Check every row and report, writing nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// List policies, optionally matching number, holder or phone
    List {
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
    },
    /// One policy with its schedule and payments
    Show { number: String },
}

#[derive(Debug, Args)]
struct PolicyAddArgs {
    #[arg(long)]
    number: String,
    #[arg(long)]
    holder: String,
    #[arg(long)]
    phone: String,
    #[arg(long)]
    email: Option<String>,
    /// Amount due per instalment, e.g. 1,500
    #[arg(long, allow_hyphen_values = true)]
    premium: String,
    /// monthly, quarterly or annually
    #[arg(long, default_value = "monthly")]
    frequency: String,
    #[arg(long, default_value_t = 12)]
    instalments: u32,
    /// First due date, YYYY-MM-DD [default: today]
    #[arg(long)]
    start: Option<String>,
}

#[derive(Debug, Subcommand)]
enum PayCmd {
    /// Send the M-Pesa prompt to the customer's phone
    Mpesa {
        #[arg(long)]
        policy: String,
        /// The phone that pays, e.g. 0712 345 678
        #[arg(long)]
        phone: String,
        /// Whole shillings, e.g. 1,500
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Wait up to this many seconds for the customer, then print the final state
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Send it even though the same payment was started moments ago
        #[arg(long)]
        again: bool,
    },
    /// Open a card checkout (prints the link), or charge a saved card
    Card {
        #[arg(long)]
        policy: String,
        /// The customer's e-mail address (Paystack sends the receipt there)
        #[arg(long)]
        email: String,
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Charge the customer's saved card: the latest one, or the one ending in these digits
        #[arg(long, value_name = "LAST4", num_args = 0..=1, default_missing_value = "latest")]
        saved_card: Option<String>,
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        #[arg(long)]
        again: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TxCmd {
    /// Payments, newest first
    List {
        /// pending, awaiting_customer, succeeded, failed, cancelled, timed_out, needs_review, refunded, partially_refunded
        #[arg(long)]
        status: Option<String>,
        /// mpesa or card
        #[arg(long)]
        method: Option<String>,
        /// First day, YYYY-MM-DD (Nairobi)
        #[arg(long)]
        from: Option<String>,
        /// Last day, YYYY-MM-DD (Nairobi), included
        #[arg(long)]
        to: Option<String>,
        /// Number, policy, holder, phone or receipt
        #[arg(long)]
        search: Option<String>,
        #[arg(long, default_value_t = 1)]
        page: u32,
        #[arg(long, default_value_t = 50)]
        per_page: u32,
    },
    /// One payment by id, number or reference
    Show { id_or_number: String },
    /// Ask the provider where a payment stands (STK query / Paystack verify)
    Refresh {
        id_or_number: String,
        /// Keep asking for up to this many seconds until it is final
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
}

#[derive(Debug, Args)]
struct SummaryArgs {
    #[arg(long)]
    from: Option<String>,
    #[arg(long)]
    to: Option<String>,
    /// KES, NGN, GHS, ZAR or USD [default: the office's currency]
    #[arg(long)]
    currency: Option<String>,
}

#[derive(Debug, Subcommand)]
enum ScheduleCmd {
    /// Instalments and where they stand
    List {
        /// Only instalments not yet due or due today
        #[arg(long, conflicts_with = "overdue")]
        pending: bool,
        /// Only instalments past their due date and not fully paid
        #[arg(long)]
        overdue: bool,
        #[arg(long)]
        policy: Option<String>,
        /// As of this day, YYYY-MM-DD [default: today in Nairobi]
        #[arg(long)]
        date: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Add a user; the password comes from MALIPO_NEW_PASSWORD, the first line of stdin, or a prompt
    Add {
        #[arg(long)]
        username: String,
        /// clerk, manager or admin
        #[arg(long)]
        role: String,
    },
    List,
}

#[derive(Debug, Subcommand)]
enum SettingsCmd {
    /// office.code, office.name, office.address, office.phone, office.kra_pin, office.currency
    Set {
        key: String,
        value: String,
    },
    List,
}

#[derive(Debug, Args)]
struct AuditArgs {
    /// transaction, policy, user or setting
    #[arg(long, requires = "id")]
    entity: Option<String>,
    #[arg(long)]
    id: Option<String>,
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

fn exit_code(e: &AppError) -> u8 {
    match e.code {
        ErrorCode::InvalidInput => 2,
        ErrorCode::NotFound => 3,
        ErrorCode::Conflict => 4,
        ErrorCode::Unauthenticated | ErrorCode::Forbidden => 5,
        ErrorCode::Provider => 6,
        ErrorCode::Internal => 1,
    }
}

/// Clap's message squeezed onto one line: what is wrong, without the usage block.
fn one_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first_block = text.split("\n\n").next().unwrap_or_default();
    first_block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .trim_start_matches("error: ")
        .to_owned()
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp
                    | clap::error::ErrorKind::DisplayVersion
                    | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) =>
        {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("malipo: {} (see malipo --help)", one_line(&e));
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("malipo: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("malipo: {e}");
            ExitCode::from(exit_code(&e))
        }
    }
}

/// The acting user for a write: set-up mode, or `--as` with a password.
async fn actor(app: &App, user: Option<&str>) -> Result<Actor, AppError> {
    if app.in_setup_mode().await? {
        return Ok(Actor::Setup);
    }
    let Some(user) = user else {
        return app.actor(None).await;
    };
    let password = match std::env::var("MALIPO_PASSWORD") {
        Ok(p) => p,
        Err(_) if std::io::stdin().is_terminal() => {
            rpassword::prompt_password(format!("Password for {user}: ")).map_err(|e| {
                AppError::new(
                    ErrorCode::Unauthenticated,
                    format!("cannot read the password: {e}"),
                )
            })?
        }
        Err(_) => {
            return Err(AppError::new(
                ErrorCode::Unauthenticated,
                "no password: set MALIPO_PASSWORD or run in a terminal to be asked",
            ));
        }
    };
    app.actor(Some((user, &password))).await
}

fn new_password() -> Result<String, AppError> {
    if let Ok(p) = std::env::var("MALIPO_NEW_PASSWORD") {
        return Ok(p);
    }
    let unreadable = |e: std::io::Error| {
        AppError::new(
            ErrorCode::InvalidInput,
            format!("cannot read the password: {e}"),
        )
    };
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("New user's password: ").map_err(unreadable)?;
        let again = rpassword::prompt_password("Type it again: ").map_err(unreadable)?;
        if first != again {
            return Err(AppError::invalid("password", "the two passwords differ"));
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(unreadable)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Writes `bytes` to `path` (creating its folder), or says why it cannot.
fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), AppError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            AppError::invalid("out", format!("cannot create {}: {e}", dir.display()))
        })?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| AppError::invalid("out", format!("cannot write {}: {e}", path.display())))
}

async fn run(cli: Cli) -> Result<(), AppError> {
    let data_dir = cli
        .data_dir
        .clone()
        .unwrap_or_else(malipo_app::default_data_dir);
    let app = App::open(&data_dir).await?;
    let out = output::Output { json: cli.json };
    let json = cli.json;
    let user = cli.user.as_deref();
    match cli.command {
        Command::Policy(PolicyCmd::Add(a)) => {
            let actor = actor(&app, user).await?;
            let input = PolicyInput {
                number: a.number,
                holder: a.holder,
                phone: a.phone,
                email: a.email,
                premium: a.premium,
                frequency: Some(a.frequency),
                instalments: Some(a.instalments),
                start: a.start,
            };
            out.policy(&app.add_policy(&actor, &input).await?);
        }
        Command::Policy(PolicyCmd::Import { file, dry_run }) => {
            let mut text = Vec::new();
            std::fs::File::open(&file)
                .and_then(|mut f| f.read_to_end(&mut text))
                .map_err(|e| {
                    AppError::invalid("file", format!("cannot read {}: {e}", file.display()))
                })?;
            let actor = actor(&app, user).await?;
            out.import(
                &app.import_policies(&actor, text.as_slice(), dry_run)
                    .await?,
            );
        }
        Command::Policy(PolicyCmd::List {
            search,
            page,
            per_page,
        }) => {
            out.policies(
                &app.policies(search.as_deref(), page, per_page).await?,
                page,
                per_page,
            );
        }
        Command::Policy(PolicyCmd::Show { number }) => {
            out.policy_details(&app.policy_details(&number).await?);
        }
        Command::Tx(TxCmd::List {
            status,
            method,
            from,
            to,
            search,
            page,
            per_page,
        }) => {
            let q = HistoryQuery {
                status,
                method,
                from,
                to,
                search,
                page: Some(page),
                per_page: Some(per_page),
            };
            out.transactions(&app.history(&q).await?, page, per_page);
        }
        Command::Refund(RefundCmd::Request {
            id_or_number,
            amount,
            reason,
        }) => {
            let actor = actor(&app, user).await?;
            out.refund(
                &app.request_refund(&actor, &id_or_number, &amount, &reason)
                    .await?,
            );
        }
        Command::Refund(RefundCmd::Approve { refund_id }) => {
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            out.refund(&app.approve_refund(&actor, &settings, refund_id).await?);
        }
        Command::Refund(RefundCmd::Reject { refund_id }) => {
            let actor = actor(&app, user).await?;
            out.refund(&app.reject_refund(&actor, refund_id).await?);
        }
        Command::Refund(RefundCmd::List { status }) => {
            out.refunds(&app.refunds(status.as_deref()).await?);
        }
        Command::Receipt {
            id_or_number,
            out: file,
            format,
            print,
        } => {
            let layout: Layout = format
                .parse()
                .map_err(|e: String| AppError::invalid("format", e))?;
            if file.is_none() && !print {
                return Err(AppError::invalid(
                    "receipt",
                    "say where it goes: --out FILE.pdf, --print, or both",
                ));
            }
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            let receipt = app
                .receipt(&actor, &settings, &id_or_number, layout)
                .await?;
            let path =
                file.unwrap_or_else(|| malipo_app::spool_path(&data_dir, &receipt.receipt_number));
            write_file(&path, &receipt.pdf)?;
            let printed = if print {
                let printer = app.printer().await?;
                Some(malipo_app::print(&path, printer.as_deref())?)
            } else {
                None
            };
            out.receipt(&receipt, &path, printed.as_ref());
        }
        Command::Receipts {
            date,
            out: file,
            format,
        } => {
            let layout: Layout = format
                .parse()
                .map_err(|e: String| AppError::invalid("format", e))?;
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            let (pdf, count) = app.day_receipts(&actor, &settings, &date, layout).await?;
            write_file(&file, &pdf)?;
            out.done(&format!(
                "{count} receipts of {date} saved to {}",
                file.display()
            ));
        }
        Command::Orphans(OrphansCmd::List { all }) => {
            let actor = actor(&app, user).await?;
            out.orphans(&app.orphans(&actor, all).await?);
        }
        Command::Orphans(OrphansCmd::Resolve { seq, note }) => {
            let actor = actor(&app, user).await?;
            app.resolve_orphan(&actor, seq, &note).await?;
            out.done(&format!("Orphan event {seq} resolved."));
        }
        Command::Reconcile { date } => {
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            out.reconcile(&app.reconcile(&settings, &date).await?);
        }
        Command::Sync { once } => {
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            if once {
                out.sync(&app.sync_once(&settings).await?);
            } else {
                let stop = async {
                    let _ = tokio::signal::ctrl_c().await;
                };
                app.sync_forever(&settings, stop, |round| match round {
                    Ok(report) => out.sync(report),
                    Err(e) => eprintln!("malipo: sync: {}", e.message),
                })
                .await?;
            }
        }
        Command::Tx(TxCmd::Show { id_or_number }) => {
            out.transaction(&app.transaction(&id_or_number).await?);
        }
        Command::Tx(TxCmd::Refresh { id_or_number, wait }) => {
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            let view = match wait {
                Some(seconds) => {
                    app.wait_for(&actor, &settings, &id_or_number, seconds)
                        .await?
                }
                None => app.refresh(&actor, &settings, &id_or_number).await?.0,
            };
            out.transaction(&view);
        }
        Command::Pay(PayCmd::Mpesa {
            policy,
            phone,
            amount,
            wait,
            again,
        }) => {
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            let view = app
                .pay_mpesa(
                    &actor,
                    &settings,
                    &MpesaRequest {
                        policy,
                        phone,
                        amount,
                        again,
                    },
                )
                .await
                .map_err(insist_hint)?;
            let view = match wait {
                Some(seconds) if view.status == "awaiting_customer" => {
                    if !json {
                        eprintln!(
                            "Prompt sent to {}; waiting for the customer (up to {seconds} s)…",
                            view.phone.as_deref().unwrap_or("the phone")
                        );
                    }
                    app.wait_for(&actor, &settings, &view.number, seconds)
                        .await?
                }
                _ => view,
            };
            out.transaction(&view);
        }
        Command::Pay(PayCmd::Card {
            policy,
            email,
            amount,
            saved_card,
            wait,
            again,
        }) => {
            let actor = actor(&app, user).await?;
            let settings = app.provider_settings(&NoSecretStore::default()).await?;
            let req = CardRequest {
                policy,
                email,
                amount,
                again,
                saved_card,
            };
            let view = app
                .pay_card(&actor, &settings, &req)
                .await
                .map_err(insist_hint)?;
            if !json
                && let Some(url) = view
                    .authorization_url
                    .as_deref()
                    .filter(|_| view.status == "awaiting_customer")
            {
                println!(
                    "Open this link to pay (or show it as a QR code to the customer):\n{url}\n"
                );
            }
            let view = match wait {
                Some(seconds) if view.status == "awaiting_customer" => {
                    app.wait_for(&actor, &settings, &view.number, seconds)
                        .await?
                }
                _ => view,
            };
            out.transaction(&view);
        }
        Command::Cards { email } => out.cards(&app.saved_cards(&email).await?),
        Command::Summary(s) => {
            let q = SummaryQuery {
                from: s.from,
                to: s.to,
                currency: s.currency,
            };
            out.summary(&app.summary(&q).await?);
        }
        Command::Schedule(ScheduleCmd::List {
            pending,
            overdue,
            policy,
            date,
        }) => {
            let status = match (pending, overdue) {
                (true, _) => Some(InstalmentStatus::Pending),
                (_, true) => Some(InstalmentStatus::Overdue),
                _ => None,
            };
            out.schedule(
                &app.schedule(&ScheduleQuery {
                    status,
                    policy,
                    date,
                })
                .await?,
            );
        }
        Command::User(UserCmd::Add { username, role }) => {
            let actor = actor(&app, user).await?;
            let password = new_password()?;
            out.user(&app.add_user(&actor, &username, &role, &password).await?);
        }
        Command::User(UserCmd::List) => out.users(&app.users().await?),
        Command::Settings(SettingsCmd::Set { key, value }) => {
            let actor = actor(&app, user).await?;
            app.set_setting(&actor, &key, &value).await?;
            out.settings(&app.settings().await?);
        }
        Command::Settings(SettingsCmd::List) => out.settings(&app.settings().await?),
        Command::Audit(a) => {
            let actor = actor(&app, user).await?;
            let entity = a.entity.as_deref().zip(a.id.as_deref());
            out.audit(&app.audit_log(&actor, entity, a.limit).await?);
        }
    }
    Ok(())
}

/// A repeat payment is refused by the services in words any interface can show; the CLI adds
/// how to go ahead here.
fn insist_hint(mut e: AppError) -> AppError {
    if e.code == ErrorCode::Conflict && e.message.ends_with("before charging again") {
        e.message.push_str(" (use --again to insist)");
    }
    e
}
