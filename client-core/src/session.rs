//! Who is signed in on this device, and with which server. The bearer token is kept apart from
//! the public `Session`, so that printing or serializing a session can never reveal it.

use serde::{Deserialize, Serialize};

use fieldsync_proto::{Actor, DeviceId, Role, Timestamp, UserId};

/// The signed-in user and device, as the app shows them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub server_url: String,
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub device_id: DeviceId,
    /// When the server stops accepting the token, if it said.
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
}

impl Session {
    /// Who acts when this session edits a work order.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.user_id,
            role: self.role,
            device: self.device_id,
        }
    }
}

/// The session as stored, with its token.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct StoredSession {
    pub session: Session,
    pub token: String,
    /// Certificate authority (PEM) given at login for a server with its own certificates.
    #[serde(default)]
    pub ca_cert_pem: Option<String>,
}

/// Choices for `Client::login_with`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoginOptions {
    /// A certificate authority (PEM) to trust besides the usual ones, for a server whose
    /// certificate it signed (a self-signed deployment). Kept with the session, so every later
    /// call to that server trusts it too.
    pub ca_cert_pem: Option<String>,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("session", &self.session)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// The user whose work orders and unsynced changes the store holds; survives logout.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Owner {
    pub user_id: UserId,
    pub username: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_token() {
        let stored = StoredSession {
            session: Session {
                server_url: "http://127.0.0.1:8080".into(),
                user_id: UserId::new(),
                username: "ana".into(),
                display_name: "Ana Silva".into(),
                role: Role::Technician,
                device_id: DeviceId::new(),
                expires_at: None,
            },
            token: "s3cret-token-value".into(),
            ca_cert_pem: None,
        };
        let text = format!("{stored:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("ana"), "{text}");
    }
}
