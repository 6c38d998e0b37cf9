//! The desktop shell: opens the office database, registers the commands and shows the UI.
//! Commands unpack state, call one service and return its view or its `{code, message}` error.

mod commands;

use malipo_app::App;

/// Starts the app; exits with a message when the office database cannot be opened.
pub fn run() {
    let data_dir = malipo_app::default_data_dir();
    let app = match tauri::async_runtime::block_on(App::open(&data_dir)) {
        Ok(app) => app,
        Err(e) => {
            eprintln!(
                "malipo: cannot open the office database in {}: {e}",
                data_dir.display()
            );
            std::process::exit(1);
        }
    };
    let result = tauri::Builder::default()
        .manage(app)
        .invoke_handler(tauri::generate_handler![commands::list_policies])
        .run(tauri::generate_context!());
    if let Err(e) = result {
        eprintln!("malipo: the window could not start: {e}");
        std::process::exit(1);
    }
}
