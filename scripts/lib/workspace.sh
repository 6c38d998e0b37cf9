# Sourced by the scripts: what cargo says about this workspace.

# The target directory, absolute (CI may point CARGO_TARGET_DIR at a shared cache).
workspace_target_dir() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])'
}

# The desktop app's version: the one installers, updates and receipts carry.
desktop_version() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "malipo-desktop"))'
}
