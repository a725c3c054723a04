//! The device's end of the live channel: keeps a WebSocket to `/v1/live` open, reconnecting
//! with backoff, and publishes the latest commit the server announced. It never syncs itself;
//! the agent decides when to.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{watch, Notify};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use fieldsync_proto::live::{LiveNotice, LIVE_PATH};

use crate::agent::backoff::{jitter, Backoff};
use crate::agent::AgentOptions;
use crate::client::Client;
use crate::error::{Error, Result};

/// The server pings every 20 s; a connection silent for this long is dead (a mobile network
/// that dropped it without a word), so reconnect.
const SILENCE_LIMIT: Duration = Duration::from_secs(50);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// What the live task tells the agent.
#[derive(Debug)]
pub(crate) struct LiveSignals {
    /// Latest commit sequence number the server announced (ready or changed).
    pub announced: watch::Sender<u64>,
    /// Whether the connection is open.
    pub connected: watch::Sender<bool>,
    /// Signalled to cut a backoff wait short and reconnect now.
    pub reconnect: Notify,
}

impl Default for LiveSignals {
    fn default() -> Self {
        LiveSignals {
            announced: watch::Sender::new(0),
            connected: watch::Sender::new(false),
            reconnect: Notify::new(),
        }
    }
}

/// `ws://host/v1/live` for `http://host`, `wss://` for `https://`.
pub(crate) fn live_url(server_url: &str) -> Result<String> {
    let base = server_url.trim_end_matches('/');
    let ws = if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        return Err(Error::InvalidInput(format!(
            "'{server_url}' is not a server address starting with http:// or https://"
        )));
    };
    Ok(format!("{ws}{LIVE_PATH}"))
}

/// TLS settings for `wss://` when the session trusts its own certificate authority (as the
/// HTTP client does); `None` uses the built-in roots.
fn connector(ca_pem: Option<&str>) -> Result<Option<tokio_tungstenite::Connector>> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::CertificateDer;
    use tokio_rustls::rustls::{crypto, ClientConfig, RootCertStore};

    let Some(pem) = ca_pem else {
        return Ok(None);
    };
    let invalid = |e: String| {
        Error::InvalidInput(format!(
            "the certificate authority of this session cannot be used ({e}); log in again with a PEM certificate"
        ))
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        roots
            .add(cert.map_err(|e| invalid(e.to_string()))?)
            .map_err(|e| invalid(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(invalid("it holds no PEM certificate".into()));
    }
    let config = ClientConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(tokio_tungstenite::Connector::Rustls(Arc::new(config))))
}

/// Keeps the live connection up for as long as the task runs.
pub(crate) async fn run(client: Arc<Client>, options: AgentOptions, signals: Arc<LiveSignals>) {
    let hub = client.hub().clone();
    let mut backoff = Backoff::new(options.retry_min, options.retry_max);
    loop {
        let outcome = connect_and_listen(&client, &signals, &mut backoff).await;
        signals.connected.send_replace(false);
        hub.update_status(|s| s.live = false);
        let wait = match outcome {
            // A connection that was up ends: reconnect at once (the server restarted, say),
            // then back off if that fails.
            Ok(()) => Duration::ZERO,
            Err(e) => {
                let wait = backoff.fail(jitter());
                tracing::debug!(error = %e, retry_in_ms = wait.as_millis() as u64, "live connection failed");
                wait
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = signals.reconnect.notified() => {}
        }
    }
}

/// One connection: `Ok` once a connection that was open has ended, `Err` if none opened.
async fn connect_and_listen(
    client: &Client,
    signals: &LiveSignals,
    backoff: &mut Backoff,
) -> Result<()> {
    let stored = client.stored_session()?.ok_or(Error::NotLoggedIn)?;
    let url = live_url(&stored.session.server_url)?;
    let offline = |reason: String| Error::Offline {
        server: stored.session.server_url.clone(),
        reason,
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| offline(e.to_string()))?;
    let bearer = HeaderValue::from_str(&format!("Bearer {}", stored.token)).map_err(|_| {
        Error::Unauthorized {
            message: "the stored token cannot be sent".into(),
        }
    })?;
    request.headers_mut().insert("authorization", bearer);
    let tls = connector(stored.ca_cert_pem.as_deref())?;
    let connect = tokio_tungstenite::connect_async_tls_with_config(request, None, false, tls);
    let (mut socket, _) = match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) => return Err(offline(e.to_string())),
        Err(_) => return Err(offline("the live connection timed out".into())),
    };
    backoff.reset();
    tracing::debug!(%url, "live connection open");
    loop {
        let message = match tokio::time::timeout(SILENCE_LIMIT, socket.next()).await {
            Err(_) => {
                tracing::debug!("live connection silent; reconnecting");
                return Ok(());
            }
            Ok(None) | Ok(Some(Err(_))) => return Ok(()),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => match serde_json::from_str::<LiveNotice>(&text) {
                Ok(notice) => {
                    signals
                        .announced
                        .send_modify(|seq| *seq = (*seq).max(notice.seq()));
                    if matches!(notice, LiveNotice::Ready { .. }) {
                        signals.connected.send_replace(true);
                        client.hub().update_status(|s| s.live = true);
                    }
                }
                // A newer server may say more; what this version does not know, it ignores.
                Err(e) => tracing::debug!(error = %e, "unknown live message ignored"),
            },
            Message::Close(_) => return Ok(()),
            // Pings are answered by the WebSocket layer; anything else only shows it is alive.
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_urls_follow_the_server_scheme() {
        assert_eq!(
            live_url("http://127.0.0.1:8080").expect("ok"),
            "ws://127.0.0.1:8080/v1/live"
        );
        assert_eq!(
            live_url("https://fs.example.com/").expect("ok"),
            "wss://fs.example.com/v1/live"
        );
        assert!(live_url("ftp://x").is_err());
    }

    #[test]
    fn a_session_without_its_own_authority_uses_the_built_in_roots() {
        assert!(connector(None).expect("none").is_none());
        match connector(Some("not a certificate")) {
            Err(e) => assert!(e.to_string().contains("no PEM certificate"), "{e}"),
            Ok(_) => panic!("text without a certificate was taken"),
        }
    }
}
