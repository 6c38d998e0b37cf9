//! The UI's TypeScript types are generated from the Rust declarations of the IPC surface; this
//! test fails when the committed file no longer matches them.
//! Regenerate: `MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings`.

#[test]
fn the_committed_typescript_matches_the_rust_declarations() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ui/src/lib/generated/ipc.ts"
    );
    let generated = malipo_app::ipc::typescript();
    if std::env::var_os("MALIPO_WRITE_BINDINGS").is_some() {
        std::fs::write(path, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "ui/src/lib/generated/ipc.ts is out of date with the Rust IPC declarations; regenerate it with \
         MALIPO_WRITE_BINDINGS=1 cargo test -p malipo-app --test bindings"
    );
}

/// The command list and the TypeScript types come from the same declaration.
#[test]
fn every_command_has_a_declared_request_and_response() {
    let cfg = ts_rs::Config::new();
    let typed: Vec<&str> = malipo_app::ipc::command_types(&cfg)
        .into_iter()
        .map(|(name, _, _)| name)
        .collect();
    assert_eq!(
        typed,
        malipo_app::ipc::COMMANDS,
        "COMMANDS and command_types from ipc_commands!"
    );
}

/// The desktop shell is not built by `cargo test`; its sources are read instead: it registers
/// its handlers from the one declaration (`ipc_commands!`), each `commands::` function of the
/// command's name, and every declared command is defined as a `#[tauri::command]`, and nothing
/// else is.
#[test]
fn the_shell_registers_exactly_the_declared_commands() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src-tauri/src");
    let lib = std::fs::read_to_string(format!("{dir}/lib.rs")).unwrap();
    // The handler is made once from the declaration and is the one given to Tauri (wrapped
    // so that commands wait for the office to open).
    assert!(
        lib.matches("malipo_app::ipc_commands!(handlers)").count() == 1
            && lib.matches(".invoke_handler(").count() == 1
            && lib.contains("tauri::generate_handler![$(commands::$name),*]"),
        "src-tauri/src/lib.rs registers a handler for each declared command, from the declaration"
    );
    assert_eq!(
        lib.matches("generate_handler!").count(),
        1,
        "no second list of handlers"
    );
    let commands = std::fs::read_to_string(format!("{dir}/commands.rs")).unwrap();
    let mut defined: Vec<&str> = commands
        .split("#[tauri::command]")
        .skip(1)
        .filter_map(|item| {
            let after = item.split("fn ").nth(1)?;
            after.split(['(', '<']).next().map(str::trim)
        })
        .collect();
    let mut declared = malipo_app::ipc::COMMANDS.to_vec();
    defined.sort_unstable();
    declared.sort_unstable();
    assert_eq!(
        defined, declared,
        "#[tauri::command] functions in src-tauri/src/commands.rs"
    );
}

/// Each command needs a permission (src-tauri/build.rs includes the declared list) and the main
/// window's capability grants exactly the declared commands' permissions and, of Tauri's core,
/// listening to events.
#[test]
fn the_window_may_call_exactly_the_declared_commands() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../src-tauri");
    let build = std::fs::read_to_string(format!("{dir}/build.rs")).unwrap();
    assert!(
        build.contains("include!(\"../crates/app/src/ipc_commands.rs\")")
            && build.contains("ipc_commands!(names)")
            && build.contains(".commands(COMMANDS)"),
        "src-tauri/build.rs gives every declared command a permission, from the declaration"
    );
    let mut declared = malipo_app::ipc::COMMANDS.to_vec();
    declared.sort_unstable();
    let capability: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{dir}/capabilities/default.json")).unwrap(),
    )
    .unwrap();
    let mut granted: Vec<String> = capability["permissions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    // Of Tauri's core, only listening to the app's own events.
    let mut wanted: Vec<String> = declared
        .iter()
        .map(|c| format!("allow-{}", c.replace('_', "-")))
        .chain([
            "core:event:allow-listen".into(),
            "core:event:allow-unlisten".into(),
        ])
        .collect();
    granted.sort_unstable();
    wanted.sort_unstable();
    assert_eq!(granted, wanted, "src-tauri/capabilities/default.json");
}
