//! Tauri's build step, with the app's commands declared so that each one needs a permission:
//! the main window's capability (`capabilities/default.json`) grants exactly these and nothing
//! else. The list is `malipo_app::ipc::COMMANDS` (a build script cannot use that crate cheaply);
//! the `bindings` test in crates/app fails when the two, or the capability, drift apart.

const COMMANDS: &[&str] = &[
    "app_info",
    "create_admin",
    "sign_in",
    "sign_out",
    "list_policies",
    "pay_mpesa",
    "pay_card",
    "qr_code",
    "payment_status",
    "save_receipt",
    "history",
    "export_history",
    "policy_details",
    "saved_cards",
    "dashboard",
    "refunds",
    "request_refund",
    "approve_refund",
    "reject_refund",
    "orphans",
    "resolve_orphan",
    "reconcile",
    "audit_log",
    "settings",
    "save_setting",
    "save_secret",
    "users",
    "add_user",
    "ui_ready",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step: {e:#}"));
}
