//! End-to-end tests live in this directory's test target (`journeys/`, one module per journey):
//! they run the `malipo-sandbox`, `malipo-relay` and `malipo` binaries of this workspace as real
//! processes talking real HTTP. The binaries are built by `cargo test --workspace` (or
//! `cargo build -p malipo-cli -p malipo-relay -p malipo-sandbox`) before these tests run.
