//! Tauri's build step, with the app's commands declared so that each one needs a permission:
//! the main window's capability (`capabilities/default.json`) grants exactly these and nothing
//! else. The list is `malipo_app::ipc::COMMANDS`, included from its own file (a build script
//! cannot use that crate cheaply); the `bindings` test in crates/app fails when the capability
//! drifts from it.

include!("../crates/app/src/ipc_commands.rs");

fn main() {
    println!("cargo:rerun-if-changed=../crates/app/src/ipc_commands.rs");
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step: {e:#}"));
}
