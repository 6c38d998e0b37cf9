//! The desktop shell: opens the office database, starts demo mode when no provider is
//! configured, keeps sync running in the background, registers the commands and shows the UI.
//! Commands unpack state, call one service and return its view or its `{code, message}` error.

mod commands;
mod events;
mod updater;

// tauri::generate_context! writes the plugins' configuration as serde_json values.
use serde_json as _;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};

use malipo_app::{App, NoSecretStore, OsKeyring, SecretStore};

use commands::Shell;
use tauri::Manager;

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

/// How long the background loops wait for the UI's first screen before starting anyway (a UI
/// that never reports itself interactive must not stop callbacks from being pulled).
const BACKGROUND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Returns once the UI has reported its first screen drawn, or after [`BACKGROUND_DEADLINE`].
async fn after_first_frame(mut drawn: tokio::sync::watch::Receiver<bool>) {
    let _ = tokio::time::timeout(BACKGROUND_DEADLINE, drawn.wait_for(|d| *d)).await;
}

/// The office as the window needs it: its database open, its secrets store found, its providers
/// configured (demo mode started when none is), and the shell's state.
async fn open_office(
    data_dir: std::path::PathBuf,
    started: std::time::Instant,
    drawn: tokio::sync::watch::Sender<bool>,
) -> (App, Shell, Option<malipo_demo::Demo>) {
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
        drawn,
        update: Mutex::new(None),
    };
    (app, shell, running_demo)
}

/// The loops that keep the office current, started once the first screen is drawn: on two
/// cores their first rounds (a sync, a collection pass, a messages pass) would otherwise take the
/// CPU from WebKit while it starts and loads the UI.
fn run_in_background(
    handle: &tauri::AppHandle,
    background: &App,
    drawn: &tokio::sync::watch::Sender<bool>,
) {
    let handle = handle.clone();
    // Callbacks reach this office through the relay: keep pulling them (a round
    // without a relay configured waits and looks again, so one set later is picked
    // up). A round that changed something is told to the window.
    let (syncing, told) = (background.clone(), handle.clone());
    let drawn_first = drawn.subscribe();
    tauri::async_runtime::spawn(async move {
        after_first_frame(drawn_first).await;
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
    let drawn_first = drawn.subscribe();
    tauri::async_runtime::spawn(async move {
        after_first_frame(drawn_first).await;
        collecting
            .collect_forever(std::future::pending(), |_| {
                events::changed(&collected, "payments");
            })
            .await;
    });
    // Customer receipts and reminders, queued with the payments, go out from here.
    let messaging = background.clone();
    let drawn_first = drawn.subscribe();
    tauri::async_runtime::spawn(async move {
        after_first_frame(drawn_first).await;
        messaging
            .messages_forever(std::future::pending(), |_| {
                events::changed(&handle, "messages");
            })
            .await;
    });
}

/// Set once the office is open and its state is managed.
#[derive(Default)]
struct Opened {
    done: Mutex<bool>,
    changed: Condvar,
}

impl Opened {
    fn set(&self) {
        *self.done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.changed.notify_all();
    }

    fn is_set(&self) -> bool {
        *self.done.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait(&self) {
        let mut done = self.done.lock().unwrap_or_else(|e| e.into_inner());
        while !*done {
            done = self.changed.wait(done).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// Demo mode's simulator and relay, kept running as long as the app.
struct DemoRunning {
    _demo: malipo_demo::Demo,
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
    let drawn = tokio::sync::watch::Sender::new(false);
    // The office is opened (and demo mode started) on a thread of its own while Tauri starts
    // WebKit, builds the window and loads the UI.
    let opening = {
        let (data_dir, drawn) = (data_dir.clone(), drawn.clone());
        std::thread::spawn(move || {
            tauri::async_runtime::block_on(open_office(data_dir, started, drawn))
        })
    };
    let mut builder = tauri::Builder::default();
    if let Some(updater) = updater::plugin() {
        builder = builder.plugin(updater);
    }
    let opened = Arc::new(Opened::default());
    let handler: Arc<dyn Fn(tauri::ipc::Invoke) -> bool + Send + Sync> =
        Arc::new(malipo_app::ipc_commands!(handlers));
    let result = builder
        .setup({
            let opened = opened.clone();
            move |tauri_app| {
                // Setup returns at once, so the window loads the UI while the office opens; the
                // state is handed to Tauri as soon as it is ready, and commands wait for it.
                let handle = tauri_app.handle().clone();
                std::thread::spawn(move || {
                    let (app, shell, running_demo) = opening
                        .join()
                        .unwrap_or_else(|_| fail("opening the office stopped unexpectedly"));
                    handle.manage(app.clone());
                    handle.manage(shell);
                    if let Some(demo) = running_demo {
                        handle.manage(DemoRunning { _demo: demo });
                    }
                    opened.set();
                    run_in_background(&handle, &app, &drawn);
                });
                Ok(())
            }
        })
        // A command the UI sends before the office is open (a first start creating the
        // database, an upgrade's migrations, demo mode's servers starting) waits for it, so none
        // sees the state missing; it waits on a thread of its own, because the thread that
        // answers commands is the window's, which must keep drawing meanwhile.
        .invoke_handler(move |invoke| {
            if opened.is_set() {
                return handler(invoke);
            }
            let (opened, handler) = (opened.clone(), handler.clone());
            std::thread::spawn(move || {
                opened.wait();
                let resolver = invoke.resolver.clone();
                let command = invoke.message.command().to_owned();
                if !handler(invoke) {
                    resolver.reject(format!("Command {command} not found"));
                }
            });
            true
        })
        .run(tauri::generate_context!());
    if let Err(e) = result {
        fail(&format!("the window could not start: {e}"));
    }
}
