//! Updates for the offices: the files of one folder (`MALIPO_RELAY_UPDATES_DIR`) served at
//! `/updates/NAME`, so a company publishes a release by copying it there (scripts/release
//! writes the folder). Only plain names are served, never a path; what is served needs no
//! secrecy, because every office verifies a package's signature before it installs it.

use std::path::{Path, PathBuf};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncReadExt;

use malipo_relay_api as api;

use crate::{Relay, problem};

/// A name the updates folder may serve: letters, digits, `.`, `_` and `-`, not starting with a
/// dot, at most 200 characters. Refuses `..`, slashes, backslashes and hidden files.
pub fn servable(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn content_type(name: &str) -> &'static str {
    if name.ends_with(".json") {
        "application/json"
    } else if name.ends_with(".sig") || name.ends_with(".txt") {
        "text/plain; charset=utf-8"
    } else {
        "application/octet-stream"
    }
}

/// `GET /updates/{name}`.
pub(crate) async fn file(
    State(relay): State<Relay>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    let Some(dir) = relay.updates_dir.as_deref() else {
        return problem(
            StatusCode::NOT_FOUND,
            api::ProblemCode::NoUpdates,
            "this relay publishes no updates",
        );
    };
    if !servable(&name) {
        return problem(
            StatusCode::NOT_FOUND,
            api::ProblemCode::NotFound,
            "no such file in the updates folder",
        );
    }
    match open(dir, &name).await {
        Ok(Some((file, len))) => {
            let mut response = Body::from_stream(chunks(file)).into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&name)),
            );
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            // The manifest changes in place when a release is published.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            api::ProblemCode::NotFound,
            "no such file in the updates folder",
        ),
        Err(e) => {
            tracing::error!(file = %name, error = %e, "updates folder");
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                api::ProblemCode::Unavailable,
                "the relay could not read this file just now; try again",
            )
        }
    }
}

/// The file and its length, or `None` when `dir` has no regular file of that name.
async fn open(dir: &Path, name: &str) -> std::io::Result<Option<(tokio::fs::File, u64)>> {
    let path: PathBuf = dir.join(name);
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata().await?;
    let len = meta.len();
    Ok(meta.is_file().then_some((file, len)))
}

/// The file in 64 KiB pieces, read as the client takes them.
fn chunks(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0; 64 * 1024];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

#[cfg(test)]
mod tests {
    use super::servable;

    #[test]
    fn only_plain_names_are_served() {
        for good in [
            "latest.json",
            "Malipo_0.2.0_x64-setup.exe",
            "Malipo_0.2.0_x64-setup.exe.sig",
            "Malipo_0.2.0_amd64.deb",
        ] {
            assert!(servable(good), "{good}");
        }
        for bad in [
            "",
            "..",
            "../relay.sqlite3",
            ".env",
            "a/b",
            "a\\b",
            "a..b",
            "latest.json%00",
            "x y",
            &"a".repeat(201),
        ] {
            assert!(!servable(bad), "{bad:?}");
        }
    }
}
