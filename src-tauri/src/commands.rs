//! The IPC commands. Each unpacks the state, calls one service and returns its view, or its
//! error as `{code, message}`; roles are enforced by the services with the signed-in user, never
//! only hidden in the UI. The requests and responses are declared in [`malipo_app::ipc`], which
//! the UI's TypeScript types are generated from.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use malipo_app::input::{CheckInput, InputCheck};
use malipo_app::ipc::{
    AddUser, AppInfo, AuditFilter, BounceCheque, ByNumber, CardsOf, CashDay, ChequesFilter,
    CloseCash, CompanyFilter, ConfirmSlip, Credentials, DateRange, Day, DecideSuspense, DemoPaid,
    DemoPayBill, DepositCash, HistoryFilter, ImportBankStatement, ImportPolicies, ImportStatement,
    InstallUpdate, MatchTill, MessageId, MessagesFilter, OrphansFilter, PolicyCorrected,
    PolicyForm, PolicyMessages, PolicySearch, QrCode, RefundId, RefundsFilter, ReinstatePolicy,
    RejectRefund, RequestRefund, ResolveOrphan, SaveReceipt, SaveSecret, SaveSetting, SavedReceipt,
    SessionView, SignOffCash, SlipsFilter, VerifyCode,
};
use malipo_app::settings::SettingsView;
use malipo_app::views::{
    AuditView, DashboardView, List, PolicyDetails, PolicyRow, PolicyView, TransactionView, UserView,
};
use malipo_app::{
    Actor, App, AppError, BankStatementReport, CardRequest, CashReport, CashRequest, ChequeRequest,
    ChequeView, CollectRequest, CollectionView, DepositView, DoctorReport, DrawerView, Error,
    ImportReport, InstalledUpdate, MessageView, MpesaRequest, MpesaRoutes, OrphanView,
    PaybillRoute, PaystackMpesaRequest, PolicyQuery, ProviderSettings, ReconcileReport, RefundView,
    SavedCardView, SecretStore, SendReport, Session, SlipRequest, SlipView, StatementImport,
    SummaryQuery, SuspenseDecided, SuspenseView, UpdateView,
};

type Answer<T> = Result<T, AppError>;

/// The largest policy register the window may send for import.
const MAX_REGISTER_BYTES: usize = 50_000_000;

/// What the shell keeps besides the services.
pub struct Shell {
    pub data_dir: PathBuf,
    pub demo: bool,
    /// Demo mode's simulator and relay settings, while they are the ones in use.
    pub demo_settings: Option<ProviderSettings>,
    /// Demo mode's customer, who pays the paybill from the simulator.
    pub demo_customer: Option<malipo_demo::Customer>,
    pub session: Mutex<Option<Session>>,
    /// The OS credential store, or why there is none.
    pub secrets: Box<dyn SecretStore>,
    /// In demo mode, a provider setting or secret changed: leaving demo mode needs a restart.
    pub settings_changed: AtomicBool,
    /// When the process started, for the startup time logged once the UI is interactive.
    pub started: std::time::Instant,
    pub ready: std::sync::Once,
    /// Turned true once the UI is interactive: the background loops wait for it (see `run`).
    pub drawn: tokio::sync::watch::Sender<bool>,
    /// The update last shown to an administrator, installed only if they ask for it.
    pub update: Mutex<Option<tauri_plugin_updater::Update>>,
}

impl Shell {
    fn session(&self) -> std::sync::MutexGuard<'_, Option<Session>> {
        self.session.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn actor(&self) -> Result<Actor, Error> {
        match &*self.session() {
            Some(s) => Ok(Actor::User(s.clone())),
            None => Err(Error::SignInRequired),
        }
    }

    /// After a provider setting or secret changed: outside demo mode the provider clients are
    /// rebuilt at once; in demo mode the change applies after a restart.
    async fn settings_changed(&self, app: &App) -> Result<(), Error> {
        if self.demo {
            self.settings_changed.store(true, Ordering::Relaxed);
        } else {
            app.configure(app.provider_settings(self.secrets.as_ref()).await?);
        }
        Ok(())
    }
}

/// Writes `bytes` to `path`, creating its folder; the office's files are private to its user.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    malipo_app::write_private_file(path, bytes)
}

#[tauri::command]
pub async fn app_info(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<AppInfo> {
    let session = shell.session().as_ref().map(SessionView::from);
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
    request: Credentials,
) -> Answer<SessionView> {
    if !app.in_setup_mode().await? {
        return Err(Error::Conflict("this office already has users: sign in".into()).into());
    }
    app.add_user(&Actor::Setup, &request.username, "admin", &request.password)
        .await?;
    sign_in(app, shell, request).await
}

#[tauri::command]
pub async fn sign_in(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: Credentials,
) -> Answer<SessionView> {
    let session = app.sign_in(&request.username, &request.password).await?;
    let view = SessionView::from(&session);
    *shell.session() = Some(session);
    Ok(view)
}

#[tauri::command]
pub fn sign_out(shell: tauri::State<'_, Shell>) {
    *shell.session() = None;
}

/// Policies matching `search` (number, holder or phone), first page of 100, by number.
#[tauri::command]
pub async fn list_policies(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: PolicySearch,
) -> Answer<List<PolicyRow>> {
    let q = PolicyQuery {
        search: request.search,
        overdue_first: request.overdue_first.unwrap_or(false),
        page: Some(1),
        per_page: Some(100),
    };
    Ok(app.policies(&shell.actor()?, &q).await?)
}

/// Adds one policy with its instalment schedule.
#[tauri::command]
pub async fn add_policy(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: PolicyForm,
) -> Answer<PolicyView> {
    Ok(app.add_policy(&shell.actor()?, &request.into()).await?)
}

/// Corrects a policy as a register row would.
#[tauri::command]
pub async fn correct_policy(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: PolicyForm,
) -> Answer<PolicyCorrected> {
    let (policy, changed) = app.correct_policy(&shell.actor()?, &request.into()).await?;
    Ok(PolicyCorrected { policy, changed })
}

/// Imports the register from CSV text (or with `dry_run` says what it would do).
#[tauri::command]
pub async fn import_policies(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ImportPolicies,
) -> Answer<ImportReport> {
    // A register is a few megabytes at most; a larger file is the wrong one.
    if request.csv.len() > MAX_REGISTER_BYTES {
        return Err(Error::invalid(
            "CSV",
            format!(
                "the file is {} MB; a policy register is at most {} MB",
                request.csv.len() / 1_000_000,
                MAX_REGISTER_BYTES / 1_000_000
            ),
        )
        .into());
    }
    Ok(app
        .import_policies(&shell.actor()?, request.csv.as_bytes(), request.dry_run)
        .await?)
}

/// Sends the M-Pesa prompt to the customer's phone.
#[tauri::command]
pub async fn pay_mpesa(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: MpesaRequest,
) -> Answer<TransactionView> {
    let actor = shell.actor()?;
    let started = app.pay_mpesa(&actor, &request).await?;
    crate::events::watch_payment(handle, (*app).clone(), actor, &started);
    Ok(started)
}

/// Opens a Paystack checkout for a card payment (the answer carries its `authorization_url`),
/// or, with `saved_card` (the last four digits), charges the customer's saved card.
#[tauri::command]
pub async fn pay_card(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: CardRequest,
) -> Answer<TransactionView> {
    let actor = shell.actor()?;
    let started = app.pay_card(&actor, &request).await?;
    crate::events::watch_payment(handle, (*app).clone(), actor, &started);
    Ok(started)
}

/// Records cash handed over at the counter: paid at once, with its change.
#[tauri::command]
pub async fn pay_cash(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: CashRequest,
) -> Answer<TransactionView> {
    let paid = app.pay_cash(&shell.actor()?, &request).await?;
    crate::events::changed(&handle, "payments");
    Ok(paid)
}

/// A day's cash: the clerk's own drawer, or every drawer for a manager; the office's cash.
#[tauri::command]
pub async fn cash_report(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: CashDay,
) -> Answer<CashReport> {
    Ok(app
        .cash_report(&shell.actor()?, request.day.as_deref())
        .await?)
}

/// The signed-in clerk closes their drawer with what they counted.
#[tauri::command]
pub async fn close_cash(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: CloseCash,
) -> Answer<DrawerView> {
    Ok(app
        .close_cash(&shell.actor()?, &request.counted, request.day.as_deref())
        .await?)
}

/// A manager signs off a clerk's closed drawer.
#[tauri::command]
pub async fn sign_off_cash(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: SignOffCash,
) -> Answer<DrawerView> {
    Ok(app
        .sign_off_cash(
            &shell.actor()?,
            &request.clerk,
            request.day.as_deref(),
            request.note.as_deref(),
        )
        .await?)
}

/// Records cash taken to the bank.
#[tauri::command]
pub async fn deposit_cash(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: DepositCash,
) -> Answer<DepositView> {
    Ok(app
        .deposit_cash(&shell.actor()?, &request.amount, &request.bank_ref)
        .await?)
}

/// Till (Buy Goods) payments waiting to be matched at the counter.
#[tauri::command]
pub async fn till_arrivals(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<Vec<SuspenseView>> {
    Ok(app.till_arrivals(&shell.actor()?).await?)
}

/// A clerk matches a till payment to the customer's policy.
#[tauri::command]
pub async fn match_till(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: MatchTill,
) -> Answer<SuspenseDecided> {
    let decided = app
        .match_till(&shell.actor()?, &request.code, &request.policy)
        .await?;
    crate::events::changed(&handle, "payments");
    Ok(decided)
}

/// Records a cheque: the policy is paid provisionally.
#[tauri::command]
pub async fn pay_cheque(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: ChequeRequest,
) -> Answer<ChequeView> {
    let paid = app.pay_cheque(&shell.actor()?, &request).await?;
    crate::events::changed(&handle, "payments");
    Ok(paid)
}

/// Cheques in one state, or all.
#[tauri::command]
pub async fn cheques(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ChequesFilter,
) -> Answer<Vec<ChequeView>> {
    Ok(app
        .cheques(&shell.actor()?, request.state.as_deref())
        .await?)
}

/// A cheque taken to the bank.
#[tauri::command]
pub async fn bank_cheque(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ByNumber,
) -> Answer<ChequeView> {
    Ok(app.bank_cheque(&shell.actor()?, &request.number).await?)
}

/// The bank paid a banked cheque (managers).
#[tauri::command]
pub async fn clear_cheque(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ByNumber,
) -> Answer<ChequeView> {
    Ok(app.clear_cheque(&shell.actor()?, &request.number).await?)
}

/// The bank returned a banked cheque unpaid (managers).
#[tauri::command]
pub async fn bounce_cheque(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: BounceCheque,
) -> Answer<ChequeView> {
    let bounced = app
        .bounce_cheque(&shell.actor()?, &request.number, &request.reason)
        .await?;
    crate::events::changed(&handle, "payments");
    Ok(bounced)
}

/// Records a bank slip the customer brought: not money until a manager confirms it.
#[tauri::command]
pub async fn pay_bank(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: SlipRequest,
) -> Answer<SlipView> {
    let slip = app.pay_bank(&shell.actor()?, &request).await?;
    crate::events::changed(&handle, "payments");
    Ok(slip)
}

/// Bank slips waiting for a manager, or all.
#[tauri::command]
pub async fn bank_slips(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: SlipsFilter,
) -> Answer<Vec<SlipView>> {
    Ok(app.bank_slips(&shell.actor()?, request.all).await?)
}

/// A manager decides a bank slip.
#[tauri::command]
pub async fn confirm_slip(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: ConfirmSlip,
) -> Answer<SlipView> {
    let decided = app
        .confirm_slip(&shell.actor()?, &request.number, request.found)
        .await?;
    crate::events::changed(&handle, "payments");
    Ok(decided)
}

/// Confirms the slips the bank's statement shows credited.
#[tauri::command]
pub async fn import_bank_statement(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: ImportBankStatement,
) -> Answer<BankStatementReport> {
    let report = app
        .import_bank_statement(
            &shell.actor()?,
            &request.name,
            &request.csv,
            request.columns.as_deref(),
        )
        .await?;
    crate::events::changed(&handle, "payments");
    Ok(report)
}

/// Sets how a policy's premiums are collected (managers, with consent), or stops it (anyone).
#[tauri::command]
pub async fn set_collection(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: CollectRequest,
) -> Answer<CollectionView> {
    Ok(app.set_collection(&shell.actor()?, &request).await?)
}

/// Makes a lapsed policy active again once its arrears are paid (managers).
#[tauri::command]
pub async fn reinstate_policy(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ReinstatePolicy,
) -> Answer<PolicyView> {
    Ok(app
        .reinstate_policy(&shell.actor()?, &request.number, request.note.as_deref())
        .await?)
}

/// Whether M-Pesa is answering, and the ways round it this office has.
#[tauri::command]
pub async fn mpesa_routes(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<MpesaRoutes> {
    Ok(app.mpesa_routes(&shell.actor()?).await?)
}

/// The paybill route: what the customer pays from their own phone, sent to them by SMS.
#[tauri::command]
pub async fn paybill_route(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: MpesaRequest,
) -> Answer<PaybillRoute> {
    Ok(app.paybill_route(&shell.actor()?, &request).await?)
}

/// M-Pesa through Paystack, while Daraja is down.
#[tauri::command]
pub async fn pay_mpesa_paystack(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    handle: tauri::AppHandle,
    request: PaystackMpesaRequest,
) -> Answer<TransactionView> {
    let actor = shell.actor()?;
    let started = app.pay_mpesa_paystack(&actor, &request).await?;
    crate::events::watch_payment(handle, (*app).clone(), actor, &started);
    Ok(started)
}

/// A QR code (SVG) of `text`: the checkout link, for the customer's phone camera.
#[tauri::command]
pub fn qr_code(request: QrCode) -> Answer<String> {
    malipo_receipt::qr_svg(&request.text).map_err(|e| Error::invalid("text", e.to_string()).into())
}

/// Where a payment stands, as the payment screen watches it.
#[tauri::command]
pub async fn payment_status(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ByNumber,
) -> Answer<TransactionView> {
    Ok(app.payment_status(&shell.actor()?, &request.number).await?)
}

/// Saves the receipt (A4 or 80 mm) in the data directory's `receipts/` and, with `print`,
/// sends it to the printer.
#[tauri::command]
pub async fn save_receipt(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: SaveReceipt,
) -> Answer<SavedReceipt> {
    let saved = app
        .save_receipt(
            &shell.actor()?,
            &request.number,
            request.format.into(),
            None,
            request.print,
        )
        .await?;
    Ok(SavedReceipt {
        path: saved.path.display().to_string(),
        receipt_number: saved.receipt.receipt_number,
        copy: saved.receipt.copy,
    })
}

/// Payments, newest first, filtered and paged.
#[tauri::command]
pub async fn history(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: HistoryFilter,
) -> Answer<List<TransactionView>> {
    Ok(app.history(&shell.actor()?, &request.into()).await?)
}

/// The company's payments, every counter's as this one knows them; a clerk sees their own
/// branch, a manager any.
#[tauri::command]
pub async fn company_history(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: CompanyFilter,
) -> Answer<List<TransactionView>> {
    let actor = shell.actor()?;
    Ok(app.company_history(&actor, &request.into()).await?)
}

/// Writes every payment matching the filter to a CSV file in the data directory's `exports/`
/// and returns its path.
#[tauri::command]
pub async fn export_history(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: HistoryFilter,
) -> Answer<String> {
    let csv = app.history_csv(&shell.actor()?, &request.into()).await?;
    let path = shell
        .data_dir
        .join("exports")
        .join(malipo_app::export_file_name("history", app.now(), "csv"));
    write_private(&path, csv.as_bytes())?;
    Ok(path.display().to_string())
}

/// A policy with its instalment schedule and its payments.
#[tauri::command]
pub async fn policy_details(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ByNumber,
) -> Answer<PolicyDetails> {
    Ok(app.policy_details(&shell.actor()?, &request.number).await?)
}

/// The cards Paystack keeps for a returning customer.
#[tauri::command]
pub async fn saved_cards(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: CardsOf,
) -> Answer<Vec<SavedCardView>> {
    Ok(app.saved_cards(&shell.actor()?, &request.email).await?)
}

/// The manager's dashboard for the days `from..=to` (`YYYY-MM-DD`, either open).
#[tauri::command]
pub async fn dashboard(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: DateRange,
) -> Answer<DashboardView> {
    let q = SummaryQuery {
        from: request.from,
        to: request.to,
        currency: None,
        office: request.branch,
    };
    Ok(app.dashboard(&shell.actor()?, &q).await?)
}

/// Refunds, newest first, optionally of one status (`requested`, ...).
#[tauri::command]
pub async fn refunds(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: RefundsFilter,
) -> Answer<Vec<RefundView>> {
    let status = request.status.map(|s| s.as_str());
    Ok(app.refunds(&shell.actor()?, status).await?)
}

/// A clerk asks for money back on a payment; a manager decides.
#[tauri::command]
pub async fn request_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: RequestRefund,
) -> Answer<RefundView> {
    let actor = shell.actor()?;
    Ok(app
        .request_refund(&actor, &request.number, &request.amount, &request.reason)
        .await?)
}

/// A manager approves a refund, which sends it to Paystack or M-Pesa.
#[tauri::command]
pub async fn approve_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: RefundId,
) -> Answer<RefundView> {
    Ok(app.approve_refund(&shell.actor()?, request.id).await?)
}

#[tauri::command]
pub async fn reject_refund(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: RejectRefund,
) -> Answer<RefundView> {
    Ok(app
        .reject_refund(&shell.actor()?, request.id, &request.reason)
        .await?)
}

/// Provider events that matched no payment: the open ones, or all with `all`.
#[tauri::command]
pub async fn orphans(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: OrphansFilter,
) -> Answer<Vec<OrphanView>> {
    Ok(app.orphans(&shell.actor()?, request.all).await?)
}

#[tauri::command]
pub async fn resolve_orphan(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ResolveOrphan,
) -> Answer<()> {
    Ok(app
        .resolve_orphan(&shell.actor()?, request.seq, &request.note)
        .await?)
}

/// Paybill payments recorded in the last two hours, newest first: the clerk's live list.
#[tauri::command]
pub async fn recent_paybill(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<Vec<TransactionView>> {
    Ok(app.recent_paybill(&shell.actor()?).await?)
}

/// Proves an M-Pesa code a customer brings and records it for the policy.
#[tauri::command]
pub async fn verify_code(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: VerifyCode,
) -> Answer<TransactionView> {
    Ok(app
        .verify_code(&shell.actor()?, &request.code, &request.policy)
        .await?)
}

/// The company's suspense list: the open paybill payments, or all with `all`.
#[tauri::command]
pub async fn suspense(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: OrphansFilter,
) -> Answer<Vec<SuspenseView>> {
    Ok(app.suspense(&shell.actor()?, request.all).await?)
}

#[tauri::command]
pub async fn decide_suspense(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: DecideSuspense,
) -> Answer<SuspenseDecided> {
    Ok(app
        .decide_suspense(
            &shell.actor()?,
            &request.trans_id,
            request.policy.as_deref().filter(|p| !p.trim().is_empty()),
            &request.note,
        )
        .await?)
}

/// Demo mode only: a customer pays the office's paybill from the simulator, so the clerk sees a
/// paybill payment arrive as one would from a real phone.
#[tauri::command]
pub async fn demo_pay_bill(
    shell: tauri::State<'_, Shell>,
    request: DemoPayBill,
) -> Answer<DemoPaid> {
    shell.actor()?;
    let Some(customer) = &shell.demo_customer else {
        return Err(Error::Conflict("only demo mode has a simulated customer".into()).into());
    };
    let paid = customer.pay_bill(&request.account, &request.amount).await?;
    Ok(DemoPaid {
        trans_id: paid.trans_id,
        refused: paid.refused,
    })
}

/// Customer messages, newest first.
#[tauri::command]
pub async fn messages(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: MessagesFilter,
) -> Answer<Vec<MessageView>> {
    let blank = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    Ok(app
        .messages(
            &shell.actor()?,
            blank(request.status).as_deref(),
            blank(request.policy).as_deref(),
        )
        .await?)
}

/// A manager sends a message again.
#[tauri::command]
pub async fn resend_message(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: MessageId,
) -> Answer<MessageView> {
    Ok(app.resend_message(&shell.actor()?, request.id).await?)
}

/// Sends what is due now instead of at the next pass.
#[tauri::command]
pub async fn send_messages(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<SendReport> {
    Ok(app.send_messages(&shell.actor()?).await?)
}

#[tauri::command]
pub async fn policy_messages(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: PolicyMessages,
) -> Answer<()> {
    Ok(app
        .policy_messages(
            &shell.actor()?,
            &request.number,
            request.language.as_deref(),
            request.opted_out,
        )
        .await?)
}

/// The day's reconciliation against the providers. Managers only.
#[tauri::command]
pub async fn reconcile(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: Day,
) -> Answer<ReconcileReport> {
    Ok(app.reconcile(&shell.actor()?, &request.date).await?)
}

/// Imports an M-Pesa statement the manager picked (or says what it would do). Managers only.
#[tauri::command]
pub async fn import_statement(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: ImportStatement,
) -> Answer<StatementImport> {
    tracing::info!(file = %request.name.chars().take(80).collect::<String>(), dry_run = request.dry_run, "statement import");
    Ok(app
        .import_statement_upload(&shell.actor()?, &request.content_base64, request.dry_run)
        .await?)
}

/// The newest audit entries, optionally of one entity kind and id. Managers only.
#[tauri::command]
pub async fn audit_log(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: AuditFilter,
) -> Answer<Vec<AuditView>> {
    let actor = shell.actor()?;
    let entity = match (request.entity.as_deref(), request.entity_id.as_deref()) {
        (Some(kind), Some(id)) if !kind.is_empty() && !id.trim().is_empty() => {
            Some((kind, id.trim()))
        }
        _ => None,
    };
    Ok(app.audit_log(&actor, entity, request.limit).await?)
}

/// The settings screen. Administrators only.
#[tauri::command]
pub async fn settings(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<SettingsView> {
    let actor = shell.actor()?;
    Ok(app
        .settings_screen(
            &actor,
            shell.secrets.as_ref(),
            shell.settings_changed.load(Ordering::Relaxed),
        )
        .await?)
}

/// Every set-up check (`malipo doctor`), for administrators: against the settings in use, or,
/// once one changed in demo mode, against those the next start will use.
#[tauri::command]
pub async fn doctor(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<DoctorReport> {
    let actor = shell.actor()?;
    let running = match &shell.demo_settings {
        Some(demo) if !shell.settings_changed.load(Ordering::Relaxed) => Some(demo),
        _ => None,
    };
    Ok(app
        .doctor_as(&actor, shell.secrets.as_ref(), running)
        .await?)
}

#[tauri::command]
pub async fn save_setting(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: SaveSetting,
) -> Answer<()> {
    let actor = shell.actor()?;
    app.set_setting(&actor, &request.key, &request.value)
        .await?;
    if !malipo_app::settings::table::find(&request.key).is_some_and(|s| s.office) {
        shell.settings_changed(&app).await?;
    }
    Ok(())
}

/// Keeps a provider secret in the OS keyring (an empty value removes it).
#[tauri::command]
pub async fn save_secret(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: SaveSecret,
) -> Answer<()> {
    let actor = shell.actor()?;
    app.set_secret(
        &actor,
        shell.secrets.as_ref(),
        &request.name,
        &request.value,
    )
    .await?;
    shell.settings_changed(&app).await?;
    Ok(())
}

#[tauri::command]
pub async fn users(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<Vec<UserView>> {
    Ok(app.users(&shell.actor()?).await?)
}

/// An administrator adds a clerk, manager or administrator.
#[tauri::command]
pub async fn add_user(
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: AddUser,
) -> Answer<UserView> {
    let actor = shell.actor()?;
    Ok(app
        .add_user(
            &actor,
            &request.username,
            request.role.as_str(),
            &request.password,
        )
        .await?)
}

/// Checks a field as it is typed, by the rules the services apply when the form is sent.
#[tauri::command]
pub async fn check_input(app: tauri::State<'_, App>, request: CheckInput) -> Answer<InputCheck> {
    Ok(app.check_input(&request).await?)
}

/// Asks the company's update source for a newer version (administrators only); the answer,
/// with its notes, is kept for [`install_update`].
#[tauri::command]
pub async fn check_update<R: tauri::Runtime>(
    handle: tauri::AppHandle<R>,
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
) -> Answer<UpdateView> {
    let actor = shell.actor()?;
    let source = app.update_source(&actor).await?;
    let shown = source.to_string();
    let found = crate::updater::check(&handle, source).await?;
    let available = found.as_ref().map(crate::updater::describe);
    *shell.update.lock().unwrap_or_else(|e| e.into_inner()) = found;
    Ok(UpdateView {
        current: handle.package_info().version.to_string(),
        source: shown,
        available,
    })
}

/// Installs the version the administrator was shown, once its signature verifies.
#[tauri::command]
pub async fn install_update<R: tauri::Runtime>(
    handle: tauri::AppHandle<R>,
    app: tauri::State<'_, App>,
    shell: tauri::State<'_, Shell>,
    request: InstallUpdate,
) -> Answer<InstalledUpdate> {
    let actor = shell.actor()?;
    // The role is checked before anything is downloaded.
    app.update_source(&actor).await?;
    let shown = shell
        .update
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let update = match shown {
        Some(u) if u.version == request.version => u,
        Some(u) => {
            return Err(Error::Conflict(format!(
                "The last check found version {}, not {}: check for updates again",
                u.version, request.version
            ))
            .into());
        }
        None => {
            return Err(Error::Conflict(
                "No update has been found yet: check for updates first".into(),
            )
            .into());
        }
    };
    let current = handle.package_info().version.to_string();
    let bytes = crate::updater::download(&update).await?;
    // On Windows the installer takes over and Malipo exits as it starts: the audit line is
    // written before, once the package has verified.
    if cfg!(windows) {
        app.record_update(&actor, &current, &update.version).await?;
    }
    crate::updater::apply(&update, &bytes)?;
    if !cfg!(windows) {
        app.record_update(&actor, &current, &update.version).await?;
    }
    *shell.update.lock().unwrap_or_else(|e| e.into_inner()) = None;
    Ok(InstalledUpdate {
        version: update.version,
        restart_needed: true,
    })
}

/// Restarts Malipo (after an update is installed); administrators only.
#[tauri::command]
pub async fn restart_app<R: tauri::Runtime>(
    handle: tauri::AppHandle<R>,
    shell: tauri::State<'_, Shell>,
) -> Answer<()> {
    shell.actor()?.require(malipo_app::Action::ManageSettings)?;
    handle.restart()
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
        shell.drawn.send_replace(true);
    });
}
