//! Static files: the demo page at `/` and the wasm package at `/pkg/`.
//!
//! `tower-http`'s `ServeDir` serves them, behind checks it does not make itself:
//!
//! - no dotfile or dot folder is served (`/pkg/.gitignore`, `/.git/config`): a path with any
//!   segment starting with `.`, percent-encoded or not, is a 404;
//! - nothing outside the folder is served through a symlink: the file is resolved and must lie
//!   inside the folder, else 404;
//! - content types are set from a table for what this server ships, because guessing by
//!   extension calls a `.d.ts` `video/vnd.dlna.mpeg-tts` (an MPEG transport stream);
//! - every file is revalidated on each load (`Cache-Control: no-cache`), so a rebuilt package is
//!   picked up at once. `X-Content-Type-Options: nosniff` is added by [`crate::guard`], as on
//!   every response.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tower::Service;
use tower_http::services::ServeDir;

use crate::error::ApiError;

/// The prefix the wasm package is served under.
pub const PKG_PREFIX: &str = "/pkg";

/// Content types by file name ending, longest endings first.
const CONTENT_TYPES: [(&str, &str); 9] = [
    (".d.ts", "application/typescript; charset=utf-8"),
    (".ts", "application/typescript; charset=utf-8"),
    (".wasm", "application/wasm"),
    (".mjs", "text/javascript; charset=utf-8"),
    (".js", "text/javascript; charset=utf-8"),
    (".html", "text/html; charset=utf-8"),
    (".css", "text/css; charset=utf-8"),
    (".json", "application/json"),
    (".svg", "image/svg+xml"),
];

/// The two folders and their services.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    site: Folder,
    pkg: Folder,
}

#[derive(Debug, Clone)]
struct Folder {
    root: PathBuf,
    files: ServeDir,
}

impl Folder {
    fn new(root: &Path) -> Self {
        // Resolved once, so the symlink check compares real paths; a folder that does not exist
        // (yet) is kept as given and simply serves nothing.
        let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        Self { files: ServeDir::new(&root), root }
    }
}

impl StaticFiles {
    /// Serves `site` at `/` and `pkg` at `/pkg/`.
    pub fn new(site: &Path, pkg: &Path) -> Arc<Self> {
        Arc::new(Self { site: Folder::new(site), pkg: Folder::new(pkg) })
    }
}

/// The fallback handler: a file from one of the folders, or a JSON 404.
pub async fn serve(State(files): State<Arc<StaticFiles>>, mut request: Request) -> Response {
    let path = request.uri().path();
    let (folder, inner_path) = match path.strip_prefix(PKG_PREFIX) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => (&files.pkg, rest.to_owned()),
        _ => (&files.site, path.to_owned()),
    };
    let Some(relative) = safe_relative_path(&inner_path) else {
        return ApiError::NotFound.into_response();
    };
    let Some(served) = resolve_inside(&folder.root, &relative).await else {
        return ApiError::NotFound.into_response();
    };
    let inner_path = if inner_path.is_empty() { "/".to_owned() } else { inner_path };
    let query = request.uri().query().map(|query| format!("?{query}")).unwrap_or_default();
    match Uri::try_from(format!("{inner_path}{query}")) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return ApiError::NotFound.into_response(),
    }
    let mut service = folder.files.clone();
    let Ok(response) = Service::call(&mut service, request).await;
    finish(response.map(Body::new), &served)
}

/// The decoded path below the folder, or `None` if any segment is empty-named by a dot (`.`,
/// `..`, a dotfile) or holds a separator or NUL once decoded.
fn safe_relative_path(path: &str) -> Option<PathBuf> {
    let mut relative = PathBuf::new();
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        let decoded = percent_decode_str(segment).decode_utf8().ok()?;
        if decoded.starts_with('.') || decoded.contains(['/', '\\', '\0']) {
            return None;
        }
        relative.push(decoded.as_ref());
    }
    relative
        .components()
        .all(|component| matches!(component, Component::Normal(_)))
        .then_some(relative)
}

/// The file that will be served (a folder's `index.html`), if it resolves to a place inside
/// `root`. A path that does not exist stays inside: `ServeDir` answers it with a 404.
async fn resolve_inside(root: &Path, relative: &Path) -> Option<PathBuf> {
    let mut candidate = root.join(relative);
    if tokio::fs::metadata(&candidate).await.is_ok_and(|meta| meta.is_dir()) {
        candidate.push("index.html");
    }
    let inside = match tokio::fs::canonicalize(&candidate).await {
        Ok(real) => real.starts_with(root),
        Err(_) => {
            !tokio::fs::symlink_metadata(&candidate).await.is_ok_and(|meta| meta.is_symlink())
        }
    };
    inside.then_some(candidate)
}

fn finish(mut response: Response, served: &Path) -> Response {
    if response.status() == StatusCode::OK || response.status() == StatusCode::PARTIAL_CONTENT {
        let name = served.to_string_lossy();
        if let Some((_, content_type)) =
            CONTENT_TYPES.iter().find(|(ending, _)| name.ends_with(ending))
        {
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
    }
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_dotfiles_are_refused() {
        assert_eq!(safe_relative_path("/index.html"), Some(PathBuf::from("index.html")));
        assert_eq!(safe_relative_path("/"), Some(PathBuf::new()));
        assert_eq!(safe_relative_path("/a/b.js"), Some(PathBuf::from("a/b.js")));
        for refused in [
            "/.gitignore",
            "/a/.env",
            "/%2egit/config",
            "/../etc/passwd",
            "/%2e%2e/x",
            "/a%2fb",
            "/a%5cb",
            "/a%00b",
            "/%ff",
        ] {
            assert_eq!(safe_relative_path(refused), None, "{refused}");
        }
    }
}
