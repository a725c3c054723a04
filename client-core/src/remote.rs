//! The server's HTTP API as this device uses it: login, one sync round trip, the technician
//! directory. Turns every transport and HTTP failure into an `Error` that says what to do.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use fieldsync_proto::api::{LoginRequest, LoginResponse, TechnicianInfo, LOGIN_PATH};
use fieldsync_proto::wire::{self, ErrorBody, ErrorCode, SyncRequest, SyncResponse};

use crate::error::{Error, Result};

/// A sync answer may carry a few MB over a slow mobile link.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// HTTP client for one server; built on first use so that opening a store never touches the
/// network stack, and built again when the trusted certificate authority changes.
#[derive(Debug, Default)]
pub(crate) struct Remote {
    http: Mutex<Http>,
}

#[derive(Debug, Default)]
struct Http {
    /// The extra certificate authority (PEM) to trust, if any.
    ca: Option<String>,
    /// Built with `ca`; `None` until first needed.
    client: Option<reqwest::Client>,
}

/// Checks that `pem` holds at least one certificate, naming `what` if not.
pub(crate) fn parse_ca(pem: &str, what: &str) -> Result<Vec<reqwest::Certificate>> {
    let certs = reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| Error::InvalidInput(format!("{what} is not a PEM certificate ({e})")))?;
    if certs.is_empty() {
        return Err(Error::InvalidInput(format!(
            "{what} holds no certificate (expected PEM 'BEGIN CERTIFICATE' blocks)"
        )));
    }
    Ok(certs)
}

/// `server` without a trailing slash, joined with `path`.
pub(crate) fn url(server: &str, path: &str) -> String {
    format!("{}{path}", server.trim_end_matches('/'))
}

/// Checks and tidies a server address typed by a person.
pub(crate) fn normalize_server_url(text: &str) -> Result<String> {
    let text = text.trim().trim_end_matches('/');
    let rest = text
        .strip_prefix("http://")
        .or_else(|| text.strip_prefix("https://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
            Ok(text.to_owned())
        }
        _ => Err(Error::InvalidInput(format!(
            "'{text}' is not a server address; give one like https://fieldsync.example.com or http://127.0.0.1:8080"
        ))),
    }
}

/// The innermost cause of a transport error: "connection refused" rather than "error sending
/// request".
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return "the request timed out".into();
    }
    let mut source: &dyn std::error::Error = e;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    if e.is_connect() && !text.contains("connect") {
        format!("could not connect: {text}")
    } else {
        text
    }
}

pub(crate) fn offline(server: &str, e: &reqwest::Error) -> Error {
    let reason = describe(e);
    // A certificate problem is not solved by waiting for signal: say what it is.
    if reason.to_ascii_lowercase().contains("certificate") {
        return Error::UntrustedServer {
            server: server.to_owned(),
            reason,
        };
    }
    Error::Offline {
        server: server.to_owned(),
        reason,
    }
}

/// Turns an HTTP error answer into an error, using the server's `ErrorBody` when it sent one.
pub(crate) fn error_from(status: StatusCode, body: &[u8]) -> Error {
    if let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(body) {
        return match error.code {
            ErrorCode::Unauthorized => Error::Unauthorized {
                message: error.message,
            },
            ErrorCode::DeviceRevoked => Error::DeviceRevoked {
                message: error.message,
            },
            code => Error::Server {
                code,
                message: error.message,
            },
        };
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => {
            return Error::Unauthorized {
                message: "the session is not valid".into(),
            }
        }
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => ErrorCode::InvalidInput,
        StatusCode::FORBIDDEN => ErrorCode::Forbidden,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::TooLarge,
        StatusCode::TOO_MANY_REQUESTS => ErrorCode::RateLimited,
        _ => ErrorCode::Internal,
    };
    let snippet: String = String::from_utf8_lossy(body).chars().take(200).collect();
    Error::Server {
        code,
        message: format!("HTTP {status}: {}", snippet.trim()),
    }
}

impl Remote {
    /// Trusts `ca` (PEM), besides the usual authorities, from the next request on.
    pub fn trust(&self, ca: Option<&str>) -> Result<()> {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if http.ca.as_deref() == ca {
            return Ok(());
        }
        if let Some(pem) = ca {
            parse_ca(pem, "the certificate authority")?;
        }
        http.ca = ca.map(str::to_owned);
        http.client = None;
        Ok(())
    }

    pub(crate) fn http(&self, server: &str) -> Result<reqwest::Client> {
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = &http.client {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("fieldsync-client/", env!("CARGO_PKG_VERSION")));
        if let Some(pem) = &http.ca {
            for cert in parse_ca(pem, "the certificate authority")? {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| offline(server, &e))?;
        http.client = Some(client.clone());
        Ok(client)
    }

    /// A JSON call with the bearer token; `None` answers (204) become `T::default()`.
    pub async fn call_json<T: DeserializeOwned + Default>(
        &self,
        server: &str,
        token: &str,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T> {
        let mut request = self
            .http(server)?
            .request(method, url(server, path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let resp = request.send().await.map_err(|e| offline(server, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| offline(server, &e))?;
        if !status.is_success() {
            return Err(error_from(status, &body));
        }
        if status == StatusCode::NO_CONTENT || body.is_empty() {
            return Ok(T::default());
        }
        serde_json::from_slice(&body).map_err(|e| Error::Server {
            code: ErrorCode::Internal,
            message: format!("the answer to {path} could not be read ({e})"),
        })
    }

    pub async fn login(&self, server: &str, req: &LoginRequest) -> Result<LoginResponse> {
        let resp = self
            .http(server)?
            .post(url(server, LOGIN_PATH))
            .json(req)
            .send()
            .await
            .map_err(|e| offline(server, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| offline(server, &e))?;
        if !status.is_success() {
            return Err(error_from(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Server {
            code: ErrorCode::Internal,
            message: format!("the login answer could not be read ({e})"),
        })
    }

    /// One round trip. Returns the response and its size in bytes.
    pub async fn sync(
        &self,
        server: &str,
        token: &str,
        request: &SyncRequest,
    ) -> Result<(SyncResponse, usize)> {
        let resp = self
            .http(server)?
            .post(url(server, wire::SYNC_PATH))
            .bearer_auth(token)
            .header(reqwest::header::CONTENT_TYPE, wire::CONTENT_TYPE)
            .body(wire::encode(request))
            .send()
            .await
            .map_err(|e| offline(server, &e))?;
        let status = resp.status();
        // A cut-off answer is the same as no answer: the outbox stays, and the retry is
        // idempotent on the server.
        let body = resp.bytes().await.map_err(|e| offline(server, &e))?;
        let is_frame = status == StatusCode::OK
            || (status == StatusCode::UNPROCESSABLE_ENTITY && body.starts_with(&wire::MAGIC));
        if !is_frame {
            return Err(error_from(status, &body));
        }
        let response = wire::decode::<SyncResponse>(&body).map_err(|e| Error::Server {
            code: e.code(),
            message: format!("the server's sync answer could not be read ({e})"),
        })?;
        Ok((response, body.len()))
    }

    pub async fn technicians(&self, server: &str, token: &str) -> Result<Vec<TechnicianInfo>> {
        let resp = self
            .http(server)?
            .get(url(server, "/v1/technicians"))
            .bearer_auth(token)
            .send()
            .await
            .map_err(|e| offline(server, &e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| offline(server, &e))?;
        if !status.is_success() {
            return Err(error_from(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Server {
            code: ErrorCode::Internal,
            message: format!("the technician list could not be read ({e})"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_are_checked_and_tidied() {
        assert_eq!(
            normalize_server_url(" http://127.0.0.1:8080/ ").expect("ok"),
            "http://127.0.0.1:8080"
        );
        assert!(normalize_server_url("fieldsync.example.com").is_err());
        assert!(normalize_server_url("https://").is_err());
    }

    #[test]
    fn error_bodies_become_typed_errors() {
        let body = serde_json::to_vec(&ErrorBody::new(ErrorCode::TooLarge, "push is 40 MB"))
            .expect("json");
        match error_from(StatusCode::PAYLOAD_TOO_LARGE, &body) {
            Error::Server { code, message } => {
                assert_eq!(code, ErrorCode::TooLarge);
                assert_eq!(message, "push is 40 MB");
            }
            other => panic!("unexpected {other:?}"),
        }
        let body = serde_json::to_vec(&ErrorBody::new(ErrorCode::Unauthorized, "token expired"))
            .expect("json");
        assert!(matches!(
            error_from(StatusCode::UNAUTHORIZED, &body),
            Error::Unauthorized { .. }
        ));
        assert!(matches!(
            error_from(StatusCode::UNAUTHORIZED, b"nope"),
            Error::Unauthorized { .. }
        ));
        match error_from(StatusCode::BAD_GATEWAY, b"<html>proxy down</html>") {
            Error::Server { code, message } => {
                assert_eq!(code, ErrorCode::Internal);
                assert!(message.contains("502"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_offline() {
        // A port that was just free: nothing listens there any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let remote = Remote::default();
        let request = SyncRequest {
            cursor: Default::default(),
            push: Vec::new(),
            resync: Vec::new(),
            limits: Default::default(),
        };
        let err = remote
            .sync(&format!("http://127.0.0.1:{port}"), "t", &request)
            .await
            .expect_err("nothing listens there");
        assert!(matches!(err, Error::Offline { .. }), "{err:?}");
    }
}
