//! Office and administration calls of the device library (they need the network): accounts,
//! devices, and the audit trail. The server decides who may make them; a technician is refused.

use reqwest::Method;

use fieldsync_proto::api::{
    AuditEntry, AuditPage, CreatedUser, DeviceInfo, NewUser, PasswordReset, AUDIT_PATH,
    DEVICES_PATH,
};
use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{DeviceId, Timestamp, UserId};

use crate::error::{Error, Result};
use crate::Client;

/// Filters of `Client::audit`; every filter given must match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A work order id or number.
    pub doc: Option<String>,
    /// A user id or username.
    pub user: Option<String>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// At most this many entries (the server's default when `None`).
    pub limit: Option<u32>,
}

/// Percent-encodes a query value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn with_query(path: &str, params: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

fn missing(what: &str) -> Error {
    Error::Server {
        code: ErrorCode::Internal,
        message: format!("the server sent an empty answer for {what}"),
    }
}

impl Client {
    async fn call<T: serde::de::DeserializeOwned + Default>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl serde::Serialize + ?Sized)>,
    ) -> Result<T> {
        let stored = self.online_session()?;
        let answer = self
            .remote
            .call_json(
                &stored.session.server_url,
                &stored.token,
                method,
                path,
                body,
            )
            .await;
        self.settle(answer)
    }

    /// Creates an account (admins only); returns the new user's id.
    pub async fn admin_create_user(&self, user: &NewUser) -> Result<UserId> {
        let created: Option<CreatedUser> = self
            .call(Method::POST, "/v1/admin/users", Some(user))
            .await?;
        created.map(|c| c.id).ok_or_else(|| missing("the new user"))
    }

    /// Sets a new password for `user` (a username or id) and ends their sessions (admins only).
    pub async fn admin_reset_password(&self, user: &str, password: &str) -> Result<()> {
        let path = format!("/v1/admin/users/{}/password", encode(user.trim()));
        self.call::<()>(
            Method::POST,
            &path,
            Some(&PasswordReset {
                password: password.to_owned(),
            }),
        )
        .await
    }

    /// Registered devices, of one user (a username or id) or of everyone (admins only).
    pub async fn admin_devices(&self, user: Option<&str>) -> Result<Vec<DeviceInfo>> {
        let path = with_query(DEVICES_PATH, &[("user", user.map(str::to_owned))]);
        self.call(Method::GET, &path, None::<&()>).await
    }

    /// Revokes a device (admins only): it is refused from then on and wipes itself.
    pub async fn admin_revoke_device(&self, device: DeviceId) -> Result<DeviceInfo> {
        let path = format!("{DEVICES_PATH}/{device}/revoke");
        let info: Option<DeviceInfo> = self.call(Method::POST, &path, None::<&()>).await?;
        info.ok_or_else(|| missing("the revoked device"))
    }

    /// The audit trail, newest first (dispatchers and admins).
    pub async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        let path = with_query(
            AUDIT_PATH,
            &[
                ("doc", filter.doc.clone()),
                ("user", filter.user.clone()),
                ("from", filter.from.map(Timestamp::to_rfc3339)),
                ("to", filter.to.map(Timestamp::to_rfc3339)),
                ("limit", filter.limit.map(|l| l.to_string())),
            ],
        );
        let page: Option<AuditPage> = self.call(Method::GET, &path, None::<&()>).await?;
        Ok(page.map(|p| p.items).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        assert_eq!(
            with_query(
                AUDIT_PATH,
                &[
                    ("doc", Some("WO-7KQ2-M9XD".into())),
                    ("from", Some("2026-03-01T09:00:00+01:00".into())),
                    ("user", None),
                ]
            ),
            "/v1/audit?doc=WO-7KQ2-M9XD&from=2026-03-01T09%3A00%3A00%2B01%3A00"
        );
        assert_eq!(with_query(DEVICES_PATH, &[("user", None)]), DEVICES_PATH);
    }
}
