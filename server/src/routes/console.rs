//! The dispatcher console: static HTML, CSS and JavaScript modules built into the binary and
//! served at `/` and `/console/…`, with content types, validators and security headers.
//!
//! Files are revalidated on every load (`no-cache` with an `ETag`), so a new server version
//! is picked up at once while an unchanged file costs a 304.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::state::AppState;

/// One file of the console.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

macro_rules! asset {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_str!(concat!("../../console/", $name)),
        }
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

static ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("style.css", CSS),
    asset!("icon.svg", SVG),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("dom.js", JS),
    asset!("format.js", JS),
    asset!("forms.js", JS),
    asset!("live.js", JS),
    asset!("login.js", JS),
    asset!("board.js", JS),
    asset!("intake.js", JS),
    asset!("detail.js", JS),
    asset!("stock.js", JS),
    asset!("followups.js", JS),
    asset!("dashboard.js", JS),
    asset!("charts.js", JS),
];

/// Strong validators, one per asset, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| {
            let digest = Sha256::digest(a.body.as_bytes());
            format!("\"{}\"", hex::encode(&digest[..12]))
        })
        .collect()
});

/// Scripts and styles come from this server only; the live channel is a WebSocket to it;
/// images may be object URLs made from fetched attachments.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self' ws: wss:; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/console/{*file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers).unwrap_or_else(|e| e.into_response())
}

async fn file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    serve(&file, &headers).unwrap_or_else(|e| e.into_response())
}

fn serve(name: &str, request: &HeaderMap) -> Result<Response, Error> {
    let index = ASSETS
        .iter()
        .position(|a| a.name == name)
        .ok_or_else(|| Error::NotFound(format!("the console has no file named '{name}'")))?;
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, value);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if asset.content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_after(text: &str, marker: &str) -> Vec<String> {
        text.split(marker)
            .skip(1)
            .filter_map(|rest| {
                let quote = rest.chars().next()?;
                let rest = &rest[quote.len_utf8()..];
                Some(rest[..rest.find(quote)?].to_owned())
            })
            .collect()
    }

    #[test]
    fn every_referenced_file_is_served() {
        let mut checked = 0;
        for asset in ASSETS {
            let mut refs = names_after(asset.body, " from ");
            refs.extend(names_after(asset.body, "import("));
            refs.extend(names_after(asset.body, "src="));
            refs.extend(names_after(asset.body, "href="));
            for r in refs {
                let name = r.strip_prefix("./").or_else(|| r.strip_prefix("/console/"));
                let Some(name) = name else { continue };
                assert!(
                    ASSETS.iter().any(|a| a.name == name),
                    "{} refers to {r}, which is not served",
                    asset.name
                );
                checked += 1;
            }
        }
        assert!(checked > 10, "only {checked} references found");
    }

    #[test]
    fn files_have_types_and_validators() {
        let none = HeaderMap::new();
        let page = serve("index.html", &none).expect("index");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], HTML);
        assert!(page.headers().contains_key(header::CONTENT_SECURITY_POLICY));
        let script = serve("app.js", &none).expect("app.js");
        assert_eq!(script.headers()[header::CONTENT_TYPE], JS);
        assert_eq!(script.headers()[header::CACHE_CONTROL], "no-cache");
        let etag = script.headers()[header::ETAG].clone();

        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag.clone());
        let cached = serve("app.js", &again).expect("revalidated");
        assert_eq!(cached.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cached.headers()[header::ETAG], etag);

        let other = serve("style.css", &again).expect("style");
        assert_eq!(other.status(), StatusCode::OK, "another file's tag");
        assert!(matches!(
            serve("../Cargo.toml", &none),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn module_files_start_with_a_purpose_line() {
        for asset in ASSETS.iter().filter(|a| a.content_type == JS) {
            assert!(
                asset.body.starts_with("// "),
                "{} should start with a comment saying what it is for",
                asset.name
            );
        }
    }
}
