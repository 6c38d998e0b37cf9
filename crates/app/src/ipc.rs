//! The desktop app's IPC surface, declared once here: the commands the shell registers and
//! the requests and responses they carry. `ui/src/lib/generated/ipc.ts` is generated from these
//! declarations (and the views they return) by the `bindings` test, which fails when the
//! committed file drifts from them: regenerate with
//! `MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings`.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::reports::HistoryQuery;
use crate::users::Session;

// COMMANDS: every command the desktop shell registers. Kept in its own file, which the
// shell's build script includes too, to give each command a permission.
include!("ipc_commands.rs");

/// Who is signed in, as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
pub struct SessionView {
    pub username: String,
    /// `clerk`, `manager` or `admin`.
    pub role: String,
}

impl From<&Session> for SessionView {
    fn from(s: &Session) -> Self {
        SessionView {
            username: s.username.clone(),
            role: s.role.to_string(),
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

/// A history filter as the UI sends it; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct HistoryFilter {
    #[ts(optional)]
    pub status: Option<String>,
    #[ts(optional)]
    pub method: Option<String>,
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
}

impl From<HistoryFilter> for HistoryQuery {
    fn from(f: HistoryFilter) -> HistoryQuery {
        let some = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
        HistoryQuery {
            status: some(f.status),
            method: some(f.method),
            from: some(f.from),
            to: some(f.to),
            search: some(f.search),
            page: f.page,
            per_page: f.per_page,
        }
    }
}

/// The TypeScript declarations of the IPC surface, as `ui/src/lib/generated/ipc.ts` holds them.
pub fn typescript() -> String {
    use crate::settings::{SecretView, SettingView, SettingsView};
    use crate::sync::CompanyView;
    use crate::views::{
        AuditView, DashboardView, DayView, InstalmentView, KeyedTotals, List, PolicyDetails,
        PolicyView, SummaryView, TotalsView, TransactionView, UserView,
    };
    use crate::{
        AppError, Difference, ErrorCode, OrphanView, ReconcileReport, RefundView, SavedCardView,
    };
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
    for decl in [
        ErrorCode::decl(&cfg),
        AppError::decl(&cfg),
        <List<()>>::decl(&cfg),
        PolicyView::decl(&cfg),
        TransactionView::decl(&cfg),
        SessionView::decl(&cfg),
        AppInfo::decl(&cfg),
        SavedReceipt::decl(&cfg),
        HistoryFilter::decl(&cfg),
        PolicyDetails::decl(&cfg),
        InstalmentView::decl(&cfg),
        SavedCardView::decl(&cfg),
        TotalsView::decl(&cfg),
        KeyedTotals::decl(&cfg),
        DayView::decl(&cfg),
        SummaryView::decl(&cfg),
        CompanyView::decl(&cfg),
        DashboardView::decl(&cfg),
        RefundView::decl(&cfg),
        OrphanView::decl(&cfg),
        Difference::decl(&cfg),
        crate::reconcile::Side::decl(&cfg),
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
