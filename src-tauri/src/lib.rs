//! The desktop shell: opens the office database, starts demo mode when no provider is
//! configured, keeps sync running in the background, registers the commands and shows the UI.
//! Commands unpack state, call one service and return its view or its `{code, message}` error.

mod commands;
mod events;
mod updater;

// tauri::generate_context! writes the plugins' configuration as serde_json values.
use serde_json as _;

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use malipo_app::{App, NoSecretStore, OsKeyring, SecretStore};

use commands::Shell;

/// Tauri's handler for every command of the one IPC declaration (`malipo_app::ipc_commands!`),
/// each the `commands::` function of the same name.
macro_rules! handlers {
    ($($name:ident : $request:ty => $response:ty),* $(,)?) => {
        tauri::generate_handler![$(commands::$name),*]
    };
}

fn fail(what: &str) -> ! {
    eprintln!("malipo: {what}");
    std::process::exit(1);
}

/// Logs to `logs/malipo.YYYY-MM-DD.log` in the data directory, one file a day, the last 14
/// kept. The services log payment numbers, statuses and masked phone numbers, never secrets.
fn start_logging(
    data_dir: &std::path::Path,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = data_dir.join("logs");
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("malipo: logging to files is off: {}: {e}", dir.display());
        return None;
    }
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("malipo")
        .filename_suffix("log")
        .max_log_files(14)
        .build(&dir)
        .map_err(|e| eprintln!("malipo: logging to files is off: {e}"))
        .ok()?;
    let (writer, guard) = tracing_appender::non_blocking(appender);
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(writer)
        .finish();
    tracing::subscriber::set_global_default(subscriber).ok()?;
    Some(guard)
}

/// Starts the app; exits with a message when the office database cannot be opened.
pub fn run() {
    let started = std::time::Instant::now();
    // Before any thread starts (the log writer, the async runtime, WebKit's).
    malipo_app::keep_new_files_private();
    malipo_app::prepare_keyring();
    let data_dir = malipo_app::default_data_dir();
    let _logging = start_logging(&data_dir);
    tracing::info!(data_dir = %data_dir.display(), "starting");
    let (app, shell, running_demo) = tauri::async_runtime::block_on(async {
        let app = App::open(&data_dir).await.unwrap_or_else(|e| {
            fail(&format!(
                "cannot open the office database in {}: {e}",
                data_dir.display()
            ))
        });
        let secrets: Box<dyn SecretStore> = match OsKeyring::for_office(&data_dir) {
            Ok(k) => {
                tracing::info!(store = k.kind(), "secrets kept in the OS credential store");
                Box::new(k)
            }
            Err(why) => {
                tracing::warn!(%why, "no OS credential store: secrets come from the environment only");
                Box::new(NoSecretStore { why: Some(why) })
            }
        };
        let configured = app
            .provider_settings(secrets.as_ref())
            .await
            .unwrap_or_else(|e| fail(&format!("the provider settings: {e}")));
        let running_demo = if malipo_demo::wanted(&configured) {
            let d = malipo_demo::start(&data_dir)
                .await
                .unwrap_or_else(|e| fail(&e.to_string()));
            app.configure(d.settings.clone());
            let added = malipo_demo::prepare(&app).await;
            if added > 0 {
                tracing::info!(added, "demo mode: the sample policies were added");
            }
            Some(d)
        } else {
            app.configure(configured);
            None
        };
        let shell = Shell {
            data_dir: data_dir.clone(),
            demo: running_demo.is_some(),
            demo_settings: running_demo.as_ref().map(|d| d.settings.clone()),
            demo_customer: running_demo.as_ref().map(malipo_demo::Demo::customer),
            session: Mutex::new(None),
            secrets,
            settings_changed: AtomicBool::new(false),
            started,
            ready: std::sync::Once::new(),
            update: Mutex::new(None),
        };
        (app, shell, running_demo)
    });
    let mut builder = tauri::Builder::default();
    if let Some(updater) = updater::plugin() {
        builder = builder.plugin(updater);
    }
    let background = app.clone();
    let result = builder
        .setup(move |tauri_app| {
            let handle = tauri_app.handle().clone();
            // Callbacks reach this office through the relay: keep pulling them (a round
            // without a relay configured waits and looks again, so one set later is picked
            // up). A round that changed something is told to the window.
            let (syncing, told) = (background.clone(), handle.clone());
            tauri::async_runtime::spawn(async move {
                let _ = syncing
                    .sync_forever(std::future::pending(), |round| {
                        if round.is_ok_and(events::round_changed) {
                            events::changed(&told, "payments");
                        }
                    })
                    .await;
            });
            // Due-day charges and prompts, from the collection hour.
            let (collecting, collected) = (background.clone(), handle.clone());
            tauri::async_runtime::spawn(async move {
                collecting
                    .collect_forever(std::future::pending(), |_| {
                        events::changed(&collected, "payments");
                    })
                    .await;
            });
            // Customer receipts and reminders, queued with the payments, go out from here.
            let messaging = background.clone();
            tauri::async_runtime::spawn(async move {
                messaging
                    .messages_forever(std::future::pending(), |_| {
                        events::changed(&handle, "messages");
                    })
                    .await;
            });
            Ok(())
        })
        .manage(app)
        .manage(shell)
        .invoke_handler(malipo_app::ipc_commands!(handlers))
        .run(tauri::generate_context!());
    drop(running_demo);
    if let Err(e) = result {
        fail(&format!("the window could not start: {e}"));
    }
}
