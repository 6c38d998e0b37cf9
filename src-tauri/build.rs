//! Tauri's build step, with the app's commands declared so that each one needs a permission,
//! and the main window's capability (`capabilities/default.json`) written to grant exactly
//! these and nothing else. The commands come from the one IPC declaration,
//! `crates/app/src/ipc_commands.rs`, included here (a build script cannot use that crate
//! cheaply); the `bindings` test in crates/app checks the committed capability against it.

include!("../crates/app/src/ipc_commands.rs");

/// The declared commands' names (their types are not needed here).
macro_rules! names {
    ($($name:ident : $request:ty => $response:ty),* $(,)?) => {
        const COMMANDS: &[&str] = &[$(stringify!($name)),*];
    };
}
ipc_commands!(names);

/// What the window may do of Tauri's core: listen to the app's own events (the services tell
/// it of changes), nothing else.
const CORE: &[&str] = &["core:event:allow-listen", "core:event:allow-unlisten"];

/// The main window's capability: the app's own commands and listening to its events; nothing
/// else of Tauri's core, and no plugin.
fn capability() -> String {
    let permissions: Vec<String> = COMMANDS
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .chain(CORE.iter().map(|p| (*p).to_owned()))
        .map(|p| format!("    \"{p}\""))
        .collect();
    format!(
        "{{\n  \"$schema\": \"../gen/schemas/desktop-schema.json\",\n  \"identifier\": \"default\",\n  \"description\": \"The main window may call the app's own commands and hear its events, and nothing else of Tauri's core or any plugin\",\n  \"windows\": [\n    \"main\"\n  ],\n  \"permissions\": [\n{}\n  ]\n}}\n",
        permissions.join(",\n")
    )
}

fn main() {
    println!("cargo:rerun-if-changed=../crates/app/src/ipc_commands.rs");
    // Written only when it changes, so the build does not run again for nothing.
    let path = "capabilities/default.json";
    let wanted = capability();
    if std::fs::read_to_string(path).ok().as_deref() != Some(wanted.as_str()) {
        std::fs::write(path, wanted).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri build step: {e:#}"));
}
