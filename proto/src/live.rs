//! The live channel (`GET /v1/live`, a WebSocket): the server tells a connected device that
//! something in its scope was committed, and the device runs an ordinary sync round. Notices
//! carry no document data, so scope checks and acknowledgements stay in one place, the sync
//! endpoint, and a lost notice costs only latency: the periodic sync catches up.
//!
//! Notices are JSON text frames, small and readable in a browser's developer tools.

use serde::{Deserialize, Serialize};

/// Path of the WebSocket endpoint.
pub const LIVE_PATH: &str = "/v1/live";

/// Query parameter that carries the bearer token for clients that cannot set the
/// `Authorization` header on a WebSocket handshake (browsers). The header is preferred.
pub const LIVE_TOKEN_PARAM: &str = "token";

/// A message from the server on the live channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum LiveNotice {
    /// First message of every connection: the server's latest commit. A device whose cursor
    /// is behind it syncs (it may have missed notices while it was disconnected).
    Ready { seq: u64 },
    /// Something in the device's scope was committed; `seq` is the latest commit of a burst,
    /// so a device whose cursor has reached it has nothing to fetch.
    Changed { seq: u64 },
}

impl LiveNotice {
    /// The commit sequence number the notice speaks of.
    pub fn seq(&self) -> u64 {
        match self {
            LiveNotice::Ready { seq } | LiveNotice::Changed { seq } => *seq,
        }
    }

    /// The JSON text frame.
    pub fn to_text(&self) -> String {
        match self {
            LiveNotice::Ready { seq } => format!(r#"{{"type":"ready","seq":{seq}}}"#),
            LiveNotice::Changed { seq } => format!(r#"{{"type":"changed","seq":{seq}}}"#),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_small_tagged_json() {
        for notice in [
            LiveNotice::Ready { seq: 0 },
            LiveNotice::Changed { seq: 42 },
        ] {
            let text = notice.to_text();
            assert_eq!(
                serde_json::to_string(&notice).expect("json"),
                text,
                "hand-written text matches serde"
            );
            let back: LiveNotice = serde_json::from_str(&text).expect("parse");
            assert_eq!(back, notice);
        }
        assert_eq!(
            LiveNotice::Changed { seq: 7 }.to_text(),
            r#"{"type":"changed","seq":7}"#
        );
        assert_eq!(LiveNotice::Ready { seq: 9 }.seq(), 9);
        assert!(serde_json::from_str::<LiveNotice>(r#"{"type":"gone","seq":1}"#).is_err());
    }
}
