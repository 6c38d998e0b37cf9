//! The desktop app's IPC surface, declared once here: the commands the shell registers, the
//! request each takes and the response it gives. `ui/src/lib/generated/ipc.ts` is generated
//! from these declarations (and the views they return) by the `bindings` test, which fails when
//! the committed file drifts from them: regenerate with
//! `MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings`.
//!
//! A command with a request is invoked with `{request: …}`; one without, with `{}`. Errors are
//! always an [`AppError`].

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use malipo_domain::{Action, Method, RefundStatus, Role, TxStatus};

use crate::reports::HistoryQuery;
use crate::users::{Actor, Session};

// The one declaration of the IPC commands, in its own file: the shell's build script includes
// it too, to give each command a permission and write the window's capability.
include!("ipc_commands.rs");

/// Who is signed in, as the UI shows it, and what they may do: the screens offer exactly
/// these, by the rule the services enforce ([`Actor::may`]), so the UI keeps no role ladder
/// of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SessionView {
    pub username: String,
    pub role: Role,
    pub may: Vec<Action>,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        let actor = Actor::User(s.clone());
        SessionView {
            username: s.username.clone(),
            role: s.role,
            may: Action::ALL.into_iter().filter(|a| actor.may(*a)).collect(),
        }
    }
}

/// What the UI needs before anything else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct AppInfo {
    /// Running against the built-in simulator: nothing reaches Safaricom or Paystack.
    pub demo: bool,
    /// No user exists yet: the first one to be created is the administrator.
    pub first_run: bool,
    pub office: String,
    pub session: Option<SessionView>,
}

/// Where a saved receipt went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SavedReceipt {
    pub path: String,
    pub receipt_number: String,
    pub copy: bool,
}

/// A username and password: signing in, or creating the first administrator.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

/// Policies matching `search` (number, holder or phone); all of them without.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct PolicySearch {
    #[ts(optional)]
    pub search: Option<String>,
    /// Those with an instalment overdue first, longest overdue first.
    #[serde(default)]
    #[ts(optional)]
    pub overdue_first: Option<bool>,
}

/// A policy as the form gives it: added (`status` not used) or corrected (frequency,
/// instalments, first due date and status unchanged when left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct PolicyForm {
    pub number: String,
    pub holder: String,
    pub phone: String,
    #[ts(optional)]
    pub email: Option<String>,
    /// Due per instalment, e.g. `1,500`.
    pub premium: String,
    #[ts(optional)]
    pub frequency: Option<String>,
    #[ts(optional)]
    pub instalments: Option<u32>,
    /// The first due date, `DD/MM/YYYY`.
    #[ts(optional)]
    pub start: Option<String>,
    #[ts(optional)]
    pub status: Option<String>,
}

impl From<PolicyForm> for crate::PolicyInput {
    fn from(f: PolicyForm) -> Self {
        crate::PolicyInput {
            number: f.number,
            holder: f.holder,
            phone: f.phone,
            email: f.email,
            premium: f.premium,
            frequency: f.frequency,
            instalments: f.instalments,
            start: f.start,
            status: f.status,
        }
    }
}

/// A policy after a correction, and whether anything changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct PolicyCorrected {
    pub policy: crate::views::PolicyView,
    pub changed: bool,
}

/// A register file as picked (CSV text: the core system's export).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ImportPolicies {
    pub csv: String,
    /// Check every row and report, writing nothing.
    pub dry_run: bool,
}

/// One payment or policy, by its number.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ByNumber {
    pub number: String,
}

/// The text a QR code carries.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct QrCode {
    pub text: String,
}

/// A receipt's paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
pub enum ReceiptFormat {
    #[serde(rename = "a4")]
    A4,
    #[serde(rename = "80mm")]
    Roll80,
}

impl From<ReceiptFormat> for malipo_receipt::Layout {
    fn from(f: ReceiptFormat) -> Self {
        match f {
            ReceiptFormat::A4 => malipo_receipt::Layout::A4,
            ReceiptFormat::Roll80 => malipo_receipt::Layout::Roll80,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SaveReceipt {
    pub number: String,
    pub format: ReceiptFormat,
    /// Send it to the printer as well as saving it.
    pub print: bool,
}

/// A history filter as the UI sends it: a status or a method is one of their words (a word
/// outside them is refused before any service runs); absent or empty text means "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HistoryFilter {
    #[ts(optional)]
    pub status: Option<TxStatus>,
    #[ts(optional)]
    pub method: Option<Method>,
    #[ts(optional)]
    pub from: Option<String>,
    #[ts(optional)]
    pub to: Option<String>,
    #[ts(optional)]
    pub search: Option<String>,
    #[ts(optional)]
    pub page: Option<u32>,
    #[ts(optional)]
    pub per_page: Option<u32>,
    /// The `next` of the page before: the page after it.
    #[ts(optional)]
    pub after: Option<String>,
}

impl From<HistoryFilter> for HistoryQuery {
    fn from(f: HistoryFilter) -> HistoryQuery {
        let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        HistoryQuery {
            status: f.status.map(|s| s.as_str().to_owned()),
            method: f.method.map(|m| m.as_str().to_owned()),
            from: some(f.from),
            to: some(f.to),
            search: some(f.search),
            page: f.page,
            per_page: f.per_page,
            after: some(f.after),
        }
    }
}

/// A returning customer's saved cards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct CardsOf {
    pub email: String,
}

/// Nairobi days `from..=to` (`YYYY-MM-DD`), either open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct DateRange {
    #[ts(optional)]
    pub from: Option<String>,
    #[ts(optional)]
    pub to: Option<String>,
    /// The company view of one branch (office code) only.
    #[serde(default)]
    #[ts(optional)]
    pub branch: Option<String>,
}

/// The company's payments: every counter's (a clerk sees their own branch).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct CompanyFilter {
    #[ts(optional)]
    pub branch: Option<String>,
    #[ts(optional)]
    pub status: Option<TxStatus>,
    #[ts(optional)]
    pub policy: Option<String>,
    #[ts(optional)]
    pub from: Option<String>,
    #[ts(optional)]
    pub to: Option<String>,
    #[ts(optional)]
    pub page: Option<u32>,
    #[ts(optional)]
    pub per_page: Option<u32>,
}

impl From<CompanyFilter> for crate::CompanyQuery {
    fn from(f: CompanyFilter) -> crate::CompanyQuery {
        let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        crate::CompanyQuery {
            office: some(f.branch),
            status: f.status.map(|s| s.as_str().to_owned()),
            policy: some(f.policy),
            from: some(f.from),
            to: some(f.to),
            page: f.page,
            per_page: f.per_page,
        }
    }
}

/// Refunds of one status (`requested`, ...), or all.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct RefundsFilter {
    #[ts(optional)]
    pub status: Option<RefundStatus>,
}

/// A clerk asks for `amount` of payment `number` back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct RequestRefund {
    pub number: String,
    pub amount: String,
    pub reason: String,
}

/// A refund, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
pub struct RefundId {
    pub id: i64,
}

/// A refund rejected, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct RejectRefund {
    pub id: i64,
    pub reason: String,
}

/// Orphan provider events: the open ones, or all with `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
pub struct OrphansFilter {
    pub all: bool,
}

/// What a manager did about an orphan event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ResolveOrphan {
    pub seq: i64,
    pub note: String,
}

/// An M-Pesa code a customer brings to the counter, for a policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct VerifyCode {
    pub code: String,
    pub policy: String,
}

/// A manager's decision on a suspense payment: the policy it pays, or (without one) a refund.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct DecideSuspense {
    pub trans_id: String,
    #[ts(optional)]
    pub policy: Option<String>,
    pub note: String,
}

/// Demo mode only: the simulator's customer pays the office's paybill.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct DemoPayBill {
    /// The account number as the customer types it.
    pub account: String,
    /// Whole shillings.
    pub amount: String,
}

/// What became of a demo paybill payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct DemoPaid {
    /// The M-Pesa code in the customer's SMS.
    pub trans_id: String,
    /// Validation refused it: nothing was taken.
    pub refused: bool,
}

/// Customer messages: of one status, or one policy's; all without.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, TS)]
pub struct MessagesFilter {
    #[ts(optional)]
    pub status: Option<String>,
    #[ts(optional)]
    pub policy: Option<String>,
}

/// One customer message, by its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
pub struct MessageId {
    pub id: i64,
}

/// A policy's messages: its language (`en`, `sw`) and whether its holder opted out.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct PolicyMessages {
    pub number: String,
    #[ts(optional)]
    pub language: Option<String>,
    #[ts(optional)]
    pub opted_out: Option<bool>,
}

/// One Nairobi day, `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct Day {
    pub date: String,
}

/// A day's cash (`YYYY-MM-DD`; today when none).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct CashDay {
    pub day: Option<String>,
}

/// The signed-in clerk closes their drawer with what they counted.
#[derive(Debug, Clone, Deserialize, TS)]
pub struct CloseCash {
    pub counted: crate::Counted,
    pub day: Option<String>,
}

/// A manager signs off a clerk's closed drawer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SignOffCash {
    pub clerk: String,
    pub day: Option<String>,
    pub note: Option<String>,
}

/// Cash taken to the bank, with the deposit slip's reference.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct DepositCash {
    pub amount: String,
    pub bank_ref: String,
}

/// A till payment matched to the policy the customer names.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct MatchTill {
    /// Its M-Pesa code.
    pub code: String,
    pub policy: String,
}

/// Cheques in one state (`received`, `banked`, `cleared`, `bounced`), or all.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ChequesFilter {
    pub state: Option<String>,
}

/// A banked cheque the bank returned unpaid, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct BounceCheque {
    pub number: String,
    pub reason: String,
}

/// A lapsed policy a manager makes active again, and why.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ReinstatePolicy {
    pub number: String,
    pub note: Option<String>,
}

/// Bank slips waiting for a manager, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, TS)]
pub struct SlipsFilter {
    pub all: bool,
}

/// A manager's decision on a bank slip: the money is in the bank, or it is not.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ConfirmSlip {
    pub number: String,
    pub found: bool,
}

/// The bank's statement (CSV text) and, the first time, which columns hold the reference and
/// the amount (`reference=Reference,amount=Credit`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ImportBankStatement {
    pub name: String,
    pub csv: String,
    pub columns: Option<String>,
}

/// An M-Pesa statement file as the clerk picked it: its name and its bytes (base64).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct ImportStatement {
    pub name: String,
    pub content_base64: String,
    /// Say what the import would do; ask and record nothing.
    pub dry_run: bool,
}

/// The newest audit entries, optionally of one entity (`transaction`, `HQ-000001`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct AuditFilter {
    #[ts(optional)]
    pub entity: Option<String>,
    #[ts(optional)]
    pub entity_id: Option<String>,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SaveSetting {
    pub key: String,
    pub value: String,
}

/// A secret for the OS keyring; an empty value removes it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct SaveSecret {
    pub name: String,
    pub value: String,
}

/// Install the version the administrator was shown (refused if the source now offers another).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct InstallUpdate {
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, TS)]
pub struct AddUser {
    pub username: String,
    pub role: Role,
    pub password: String,
}

/// Makes, from the one declaration in `ipc_commands.rs`, the list of commands and each one's
/// request and response for the generated TypeScript.
macro_rules! declare {
    ($($name:ident : $request:ty => $response:ty),* $(,)?) => {
        /// Every command the desktop shell registers, by the name the UI invokes.
        pub const COMMANDS: &[&str] = &[$(stringify!($name)),*];

        /// Every command with the TypeScript names of its request (`null`: none) and response.
        pub fn command_types(cfg: &ts_rs::Config) -> Vec<(&'static str, String, String)> {
            vec![$((
                stringify!($name),
                <$request as TS>::name(cfg),
                <$response as TS>::name(cfg),
            )),*]
        }
    };
}

use crate::settings::SettingsView;
use crate::views::{
    AuditView, DashboardView, List, PolicyDetails, PolicyRow, PolicyView, TransactionView, UserView,
};
use crate::{
    BankStatementReport, CardRequest, CashReport, CashRequest, ChequeRequest, ChequeView,
    CollectRequest, CollectionView, DepositView, DoctorReport, DrawerView, ImportReport,
    InstalledUpdate, MessageView, MpesaRequest, MpesaRoutes, OrphanView, PaybillRoute,
    PaystackMpesaRequest, ReconcileReport, RefundView, SavedCardView, SendReport, SlipRequest,
    SlipView, StatementImport, SuspenseDecided, SuspenseView, UpdateView,
    input::{CheckInput, InputCheck},
};

ipc_commands!(declare);

/// The TypeScript declarations of the IPC surface, as `ui/src/lib/generated/ipc.ts` holds them.
pub fn typescript() -> String {
    use crate::settings::{SecretView, SettingView};
    use crate::views::CompanyView;
    use crate::views::{
        DayView, InstalmentView, KeyedFigures, KeyedTotals, SummaryView, TotalsView,
    };
    use crate::{AppError, Difference, ErrorCode};
    use malipo_domain::schedule::InstalmentStatus;
    use malipo_domain::{Method, TxStatus};
    // serde_json sends 64-bit integers as plain numbers; every id and amount in minor units is
    // well inside JavaScript's exact range (2^53).
    let cfg = ts_rs::Config::new().with_large_int("number");
    let mut out = String::from(
        "// Generated from the Rust declarations in crates/app (src/ipc.rs and the views);\n\
         // do not edit. Regenerate: MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings\n\n",
    );
    let commands: Vec<String> = COMMANDS.iter().map(|c| format!("\"{c}\"")).collect();
    out.push_str(&format!(
        "/** Every command the desktop shell registers. */\nexport type Command = {};\n",
        commands.join(" | ")
    ));
    out.push_str(
        "\n/** Each command's request (`null`: it takes none) and response. */\nexport type Commands = {\n",
    );
    for (name, request, response) in command_types(&cfg) {
        out.push_str(&format!(
            "  {name}: {{ request: {request}; response: {response} }};\n"
        ));
    }
    out.push_str("};\n");
    for decl in [
        ErrorCode::decl(&cfg),
        AppError::decl(&cfg),
        TxStatus::decl(&cfg),
        Method::decl(&cfg),
        Role::decl(&cfg),
        Action::decl(&cfg),
        InstalmentStatus::decl(&cfg),
        malipo_domain::RefundStatus::decl(&cfg),
        <List<()>>::decl(&cfg),
        PolicyView::decl(&cfg),
        PolicyRow::decl(&cfg),
        TransactionView::decl(&cfg),
        SessionView::decl(&cfg),
        AppInfo::decl(&cfg),
        SavedReceipt::decl(&cfg),
        Credentials::decl(&cfg),
        PolicySearch::decl(&cfg),
        PolicyForm::decl(&cfg),
        PolicyCorrected::decl(&cfg),
        ImportPolicies::decl(&cfg),
        ImportReport::decl(&cfg),
        malipo_domain::register::Refused::decl(&cfg),
        ByNumber::decl(&cfg),
        QrCode::decl(&cfg),
        ReceiptFormat::decl(&cfg),
        SaveReceipt::decl(&cfg),
        HistoryFilter::decl(&cfg),
        CompanyFilter::decl(&cfg),
        CardsOf::decl(&cfg),
        DateRange::decl(&cfg),
        RefundsFilter::decl(&cfg),
        RequestRefund::decl(&cfg),
        RefundId::decl(&cfg),
        RejectRefund::decl(&cfg),
        OrphansFilter::decl(&cfg),
        ResolveOrphan::decl(&cfg),
        VerifyCode::decl(&cfg),
        DecideSuspense::decl(&cfg),
        SuspenseView::decl(&cfg),
        SuspenseDecided::decl(&cfg),
        DemoPayBill::decl(&cfg),
        DemoPaid::decl(&cfg),
        MessagesFilter::decl(&cfg),
        MessageId::decl(&cfg),
        PolicyMessages::decl(&cfg),
        MessageView::decl(&cfg),
        SendReport::decl(&cfg),
        crate::views::MessageCounts::decl(&cfg),
        Day::decl(&cfg),
        AuditFilter::decl(&cfg),
        SaveSetting::decl(&cfg),
        SaveSecret::decl(&cfg),
        AddUser::decl(&cfg),
        MpesaRequest::decl(&cfg),
        CardRequest::decl(&cfg),
        CashRequest::decl(&cfg),
        crate::Counted::decl(&cfg),
        CashDay::decl(&cfg),
        CloseCash::decl(&cfg),
        SignOffCash::decl(&cfg),
        DepositCash::decl(&cfg),
        DrawerView::decl(&cfg),
        DepositView::decl(&cfg),
        crate::CashPositionView::decl(&cfg),
        CashReport::decl(&cfg),
        ChequeRequest::decl(&cfg),
        SlipRequest::decl(&cfg),
        ChequesFilter::decl(&cfg),
        MpesaRoutes::decl(&cfg),
        CollectRequest::decl(&cfg),
        CollectionView::decl(&cfg),
        crate::StandingOrderView::decl(&cfg),
        PaybillRoute::decl(&cfg),
        PaystackMpesaRequest::decl(&cfg),
        crate::ProviderHealth::decl(&cfg),
        MatchTill::decl(&cfg),
        BounceCheque::decl(&cfg),
        ReinstatePolicy::decl(&cfg),
        SlipsFilter::decl(&cfg),
        ConfirmSlip::decl(&cfg),
        ImportBankStatement::decl(&cfg),
        ChequeView::decl(&cfg),
        SlipView::decl(&cfg),
        BankStatementReport::decl(&cfg),
        CheckInput::decl(&cfg),
        crate::input::InputKind::decl(&cfg),
        InputCheck::decl(&cfg),
        crate::doctor::CheckStatus::decl(&cfg),
        crate::doctor::Check::decl(&cfg),
        DoctorReport::decl(&cfg),
        InstallUpdate::decl(&cfg),
        UpdateView::decl(&cfg),
        crate::AvailableUpdate::decl(&cfg),
        InstalledUpdate::decl(&cfg),
        PolicyDetails::decl(&cfg),
        InstalmentView::decl(&cfg),
        SavedCardView::decl(&cfg),
        TotalsView::decl(&cfg),
        KeyedTotals::decl(&cfg),
        KeyedFigures::decl(&cfg),
        DayView::decl(&cfg),
        SummaryView::decl(&cfg),
        CompanyView::decl(&cfg),
        DashboardView::decl(&cfg),
        RefundView::decl(&cfg),
        OrphanView::decl(&cfg),
        Difference::decl(&cfg),
        crate::reconcile::Side::decl(&cfg),
        crate::reconcile::LedgerSide::decl(&cfg),
        crate::views::LedgerStatus::decl(&cfg),
        ImportStatement::decl(&cfg),
        crate::StatementImport::decl(&cfg),
        crate::StatementLine::decl(&cfg),
        ReconcileReport::decl(&cfg),
        AuditView::decl(&cfg),
        SettingView::decl(&cfg),
        SecretView::decl(&cfg),
        SettingsView::decl(&cfg),
        UserView::decl(&cfg),
    ] {
        out.push_str("\nexport ");
        out.push_str(&decl);
        out.push('\n');
    }
    out
}
