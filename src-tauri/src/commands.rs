//! The IPC surface. Each command is a thin call into [`malipo_app::App`].

use malipo_app::views::{List, PolicyView};
use malipo_app::{App, AppError};

/// Policies matching `search` (number, holder or phone), first page of 100, by number.
#[tauri::command]
pub async fn list_policies(
    app: tauri::State<'_, App>,
    search: Option<String>,
) -> Result<List<PolicyView>, AppError> {
    app.policies(search.as_deref(), 1, 100).await
}
