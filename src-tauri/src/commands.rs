//! The IPC commands. Each is a thin call into [`malipo_app::App`]; roles are enforced by the
//! services with the signed-in user, never only hidden in the UI. The requests and responses
//! are declared in [`malipo_app::ipc`], which the UI's TypeScript types are generated from.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use malipo_app::ipc::{AppInfo, HistoryFilter, SavedReceipt, SessionView};
use malipo_app::settings::SettingsView;
use malipo_app::views::{
    AuditView, DashboardView, List, PolicyDetails, PolicyView, TransactionView, UserView,
};
use malipo_app::{
    Actor, App, AppError, CardRequest, ErrorCode, MpesaRequest, OrphanView, ProviderSettings,
    ReconcileReport, RefundView, SavedCardView, SecretStore, Session, SummaryQuery,
};
use malipo_receipt::Layout;

/// What the shell keeps besides the services.
pub struct Shell {
    pub data_dir: PathBuf,
    /// The provider settings in force (the demo's when in demo mode).
    pub settings: ProviderSettings,
    pub demo: bool,
    pub session: Mutex<Option<Session>>,
    /// The OS credential store, or why there is none.
    pub secrets: Box<dyn SecretStore>,
    /// A provider setting or secret changed since start: it applies after a restart.
    pub settings_changed: AtomicBool,
    /// When the process started, for the startup time logged once the UI is interactive.
    pub started: std::time::Instant,
    pub ready: std::sync::Once,
}

impl Shell {
    fn actor(&self) -> Result<Actor, AppError> {
        let session = self
            .session
            .lock()
            .map_err(|_| AppError::new(ErrorCode::Internal, "the session is unavailable"))?;
        match &*session {
            Some(s) => Ok(Actor::User(s.clone())),
            None => Err(AppError::new(ErrorCode::Unauthenticated, "sign in first")),
        }
    }
}

#[tauri::command]
pub async fn app_info(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Result<AppInfo, AppError> {
    let session = shell
        .session
        .lock()
        .map_err(|_| AppError::new(ErrorCode::Internal, "the session is unavailable"))?
        .as_ref()
        .map(SessionView::from);
    Ok(AppInfo {
        demo: shell.demo,
        first_run: app.in_setup_mode().await?,
        office: app.office_code().await?.to_string(),
        session,
    })
}

/// On first run: creates the administrator and signs them in.
#[tauri::command]
pub async fn create_admin(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    username: String,
    password: String,
) -> Result<SessionView, AppError> {
    if !app.in_setup_mode().await? {
        return Err(AppError::new(
            ErrorCode::Conflict,
            "this office already has users: sign in",
        ));
    }
    app.add_user(&Actor::Setup, &username, "admin", &password)
        .await?;
    sign_in(app, shell, username, password).await
}

#[tauri::command]
pub async fn sign_in(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    username: String,
    password: String,
) -> Result<SessionView, AppError> {
    let session = app.sign_in(&username, &password).await?;
    let view = SessionView::from(&session);
    *shell
        .session
        .lock()
        .map_err(|_| AppError::new(ErrorCode::Internal, "the session is unavailable"))? =
        Some(session);
    Ok(view)
}

#[tauri::command]
pub fn sign_out(shell: tauri::State<'_, Shell>) -> Result<(), AppError> {
    *shell
        .session
        .lock()
        .map_err(|_| AppError::new(ErrorCode::Internal, "the session is unavailable"))? = None;
    Ok(())
}

/// Policies matching `search` (number, holder or phone), first page of 100, by number.
#[tauri::command]
pub async fn list_policies(
    app: tauri::State<'_, App>,
    search: Option<String>,
) -> Result<List<PolicyView>, AppError> {
    app.policies(search.as_deref(), 1, 100).await
}

/// Sends the M-Pesa prompt to the customer's phone.
#[tauri::command]
pub async fn pay_mpesa(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    policy: String,
    phone: String,
    amount: String,
    again: bool,
) -> Result<TransactionView, AppError> {
    let actor = shell.actor()?;
    app.pay_mpesa(
        &actor,
        &shell.settings,
        &MpesaRequest {
            policy,
            phone,
            amount,
            again,
        },
    )
    .await
}

/// Opens a Paystack checkout for a card payment (the answer carries its `authorization_url`),
/// or, with `saved_card` (the last four digits), charges the customer's saved card.
#[tauri::command]
pub async fn pay_card(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    policy: String,
    email: String,
    amount: String,
    again: bool,
    saved_card: Option<String>,
) -> Result<TransactionView, AppError> {
    let actor = shell.actor()?;
    app.pay_card(
        &actor,
        &shell.settings,
        &CardRequest {
            policy,
            email,
            amount,
            again,
            saved_card,
        },
    )
    .await
}

/// A QR code (SVG) of `text`: the checkout link, for the customer's phone camera.
#[tauri::command]
pub fn qr_code(text: String) -> Result<String, AppError> {
    malipo_receipt::qr_svg(&text).map_err(|e| AppError::invalid("text", e.to_string()))
}

/// Where a payment stands. Callbacks arrive through sync in the background; a payment still
/// open after 15 seconds is also asked about directly.
#[tauri::command]
pub async fn payment_status(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    number: String,
) -> Result<TransactionView, AppError> {
    let actor = shell.actor()?;
    let t = app.transaction(&number).await?;
    let open = matches!(t.status.as_str(), "pending" | "awaiting_customer");
    let quiet = time::OffsetDateTime::parse(
        &t.updated_at,
        &time::format_description::well_known::Rfc3339,
    )
    .is_ok_and(|at| app.now() - at > time::Duration::seconds(15));
    if open && quiet {
        return Ok(app.refresh(&actor, &shell.settings, &number).await?.0);
    }
    Ok(t)
}

/// Saves the receipt (A4 or 80 mm) in the data directory's `receipts/` and, with `print`,
/// sends it to the printer.
#[tauri::command]
pub async fn save_receipt(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    number: String,
    format: String,
    print: bool,
) -> Result<SavedReceipt, AppError> {
    let actor = shell.actor()?;
    let layout: Layout = format
        .parse()
        .map_err(|e: String| AppError::invalid("format", e))?;
    let receipt = app
        .receipt(&actor, &shell.settings, &number, layout)
        .await?;
    let path = malipo_app::spool_path(&shell.data_dir, &receipt.receipt_number);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::new(ErrorCode::Internal, format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&path, &receipt.pdf)
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("{}: {e}", path.display())))?;
    if print {
        let printer = app.printer().await?;
        malipo_app::print(&path, printer.as_deref())?;
    }
    Ok(SavedReceipt {
        path: path.display().to_string(),
        receipt_number: receipt.receipt_number,
        copy: receipt.copy,
    })
}

/// Payments, newest first, filtered and paged.
#[tauri::command]
pub async fn history(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    filter: HistoryFilter,
) -> Result<List<TransactionView>, AppError> {
    shell.actor()?;
    app.history(&filter.into()).await
}

/// Writes every payment matching the filter to a CSV file in the data directory's `exports/`
/// and returns its path.
#[tauri::command]
pub async fn export_history(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    filter: HistoryFilter,
) -> Result<String, AppError> {
    shell.actor()?;
    let csv = app.history_csv(&filter.into()).await?;
    let stamp = app.now().unix_timestamp();
    let path = shell
        .data_dir
        .join("exports")
        .join(format!("history-{stamp}.csv"));
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| AppError::new(ErrorCode::Internal, format!("{}: {e}", dir.display())))?;
    }
    std::fs::write(&path, csv)
        .map_err(|e| AppError::new(ErrorCode::Internal, format!("{}: {e}", path.display())))?;
    Ok(path.display().to_string())
}

/// A policy with its instalment schedule and its payments.
#[tauri::command]
pub async fn policy_details(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    number: String,
) -> Result<PolicyDetails, AppError> {
    shell.actor()?;
    app.policy_details(&number).await
}

/// The cards Paystack keeps for a returning customer.
#[tauri::command]
pub async fn saved_cards(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    email: String,
) -> Result<Vec<SavedCardView>, AppError> {
    shell.actor()?;
    app.saved_cards(&email).await
}

/// The manager's dashboard for the days `from..=to` (`YYYY-MM-DD`, either open).
#[tauri::command]
pub async fn dashboard(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    from: Option<String>,
    to: Option<String>,
) -> Result<DashboardView, AppError> {
    let actor = shell.actor()?;
    let q = SummaryQuery {
        from,
        to,
        currency: None,
    };
    app.dashboard(&actor, &shell.settings, &q).await
}

/// Refunds, newest first, optionally of one status (`requested`, ...).
#[tauri::command]
pub async fn refunds(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    status: Option<String>,
) -> Result<Vec<RefundView>, AppError> {
    shell.actor()?;
    app.refunds(status.as_deref().filter(|s| !s.is_empty()))
        .await
}

/// A clerk asks for money back on a payment; a manager decides.
#[tauri::command]
pub async fn request_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    number: String,
    amount: String,
    reason: String,
) -> Result<RefundView, AppError> {
    let actor = shell.actor()?;
    app.request_refund(&actor, &number, &amount, &reason).await
}

/// A manager approves a refund, which sends it to Paystack or M-Pesa.
#[tauri::command]
pub async fn approve_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    id: i64,
) -> Result<RefundView, AppError> {
    let actor = shell.actor()?;
    app.approve_refund(&actor, &shell.settings, id).await
}

#[tauri::command]
pub async fn reject_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    id: i64,
) -> Result<RefundView, AppError> {
    let actor = shell.actor()?;
    app.reject_refund(&actor, id).await
}

/// Provider events that matched no payment: the open ones, or all with `all`.
#[tauri::command]
pub async fn orphans(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    all: bool,
) -> Result<Vec<OrphanView>, AppError> {
    let actor = shell.actor()?;
    app.orphans(&actor, all).await
}

#[tauri::command]
pub async fn resolve_orphan(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    seq: i64,
    note: String,
) -> Result<(), AppError> {
    let actor = shell.actor()?;
    app.resolve_orphan(&actor, seq, &note).await
}

/// The day's reconciliation against the providers. Managers only.
#[tauri::command]
pub async fn reconcile(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    date: String,
) -> Result<ReconcileReport, AppError> {
    let actor = shell.actor()?;
    actor.require(malipo_app::Action::ResolveReview)?;
    app.reconcile(&shell.settings, &date).await
}

/// The newest audit entries, optionally of one entity kind and id. Managers only.
#[tauri::command]
pub async fn audit_log(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    entity: Option<String>,
    entity_id: Option<String>,
    limit: u32,
) -> Result<Vec<AuditView>, AppError> {
    let actor = shell.actor()?;
    let entity = match (entity.as_deref(), entity_id.as_deref()) {
        (Some(kind), Some(id)) if !kind.is_empty() && !id.trim().is_empty() => {
            Some((kind, id.trim()))
        }
        _ => None,
    };
    app.audit_log(&actor, entity, limit).await
}

/// The settings screen. Administrators only.
#[tauri::command]
pub async fn settings(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Result<SettingsView, AppError> {
    let actor = shell.actor()?;
    app.settings_screen(
        &actor,
        shell.secrets.as_ref(),
        shell.settings_changed.load(Ordering::Relaxed),
    )
    .await
}

#[tauri::command]
pub async fn save_setting(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    key: String,
    value: String,
) -> Result<(), AppError> {
    let actor = shell.actor()?;
    app.set_setting(&actor, &key, &value).await?;
    if !malipo_app::setting::ALL.contains(&key.as_str()) {
        shell.settings_changed.store(true, Ordering::Relaxed);
    }
    Ok(())
}

/// Keeps a provider secret in the OS keyring (an empty value removes it).
#[tauri::command]
pub async fn save_secret(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    name: String,
    value: String,
) -> Result<(), AppError> {
    let actor = shell.actor()?;
    app.set_secret(&actor, shell.secrets.as_ref(), &name, &value)
        .await?;
    shell.settings_changed.store(true, Ordering::Relaxed);
    Ok(())
}

#[tauri::command]
pub async fn users(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Result<Vec<UserView>, AppError> {
    shell.actor()?.require(malipo_app::Action::ManageUsers)?;
    app.users().await
}

/// An administrator adds a clerk, manager or administrator.
#[tauri::command]
pub async fn add_user(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    username: String,
    role: String,
    password: String,
) -> Result<UserView, AppError> {
    let actor = shell.actor()?;
    app.add_user(&actor, &username, &role, &password).await
}

/// The UI has drawn its first screen and takes input: logged once with the time since start
/// (`scripts/bench-startup` reads it).
#[tauri::command]
pub fn ui_ready(shell: tauri::State<'_, Shell>) {
    shell.ready.call_once(|| {
        let at_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        tracing::info!(
            after_ms = shell.started.elapsed().as_millis(),
            at_unix_ms,
            "interactive"
        );
    });
}
