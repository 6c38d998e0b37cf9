//! A bare Tauri window, the baseline `scripts/bench-startup` measures Malipo against: the same
//! Tauri and WebKit build, one window, a one-line page and nothing else. It prints
//! `painted at_unix_ms=…` when the page has loaded (the page's image request proves it).

use tauri::http::Response;
use tauri::{WebviewUrl, WebviewWindowBuilder};

const PAGE: &str = "<!doctype html><html><body><h1>Bare window</h1>\
    <img src=\"bare://localhost/painted\" alt=\"\" width=\"1\" height=\"1\"></body></html>";

fn main() {
    let mut context = tauri::generate_context!();
    // No windows from the app's configuration: only the bare one below.
    context.config_mut().app.windows.clear();
    tauri::Builder::default()
        .register_uri_scheme_protocol("bare", |_ctx, request| {
            if request.uri().path() == "/painted" {
                let at = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                println!("painted at_unix_ms={at}");
                return Response::builder()
                    .header("content-type", "image/gif")
                    .body(Vec::new())
                    .unwrap_or_default();
            }
            Response::builder()
                .header("content-type", "text/html")
                .body(PAGE.as_bytes().to_vec())
                .unwrap_or_default()
        })
        .setup(|app| {
            let url = "bare://localhost/".parse().map_err(Box::new)?;
            WebviewWindowBuilder::new(app, "bare", WebviewUrl::CustomProtocol(url))
                .title("bare")
                .inner_size(1280.0, 720.0)
                .build()?;
            Ok(())
        })
        .run(context)
        .unwrap_or_else(|e| panic!("the bare window could not start: {e}"));
}
