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
