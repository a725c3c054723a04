//! Accounts and sign-in: checking and creating users, and logging a device in.

use std::net::IpAddr;
use std::time::Instant;

use fieldsync_proto::api::{
    AuditKind, LoginRequest, LoginResponse, NewUser, TechnicianProfile, UserInfo,
};
use fieldsync_proto::{Timestamp, UserId};

use crate::auth::{password, token};
use crate::error::Error;
use crate::state::{AppState, TOKEN_TTL_MILLIS};
use crate::storage::{NewAuditEntry, NewSession, User, UserRecord};

const MAX_USERNAME: usize = 64;
const MIN_PASSWORD: usize = 4;
const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_NAME: usize = 128;
const MAX_SKILLS: usize = 32;

fn invalid(message: String) -> Error {
    Error::InvalidInput(message)
}

fn check_text(field: &str, value: &str, max_chars: usize) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    if value.chars().count() > max_chars {
        return Err(invalid(format!(
            "{field} is longer than {max_chars} characters"
        )));
    }
    Ok(())
}

fn check_username(username: &str) -> Result<(), Error> {
    check_text("username", username, MAX_USERNAME)?;
    if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(invalid(format!(
            "username '{username}' may only contain letters, digits, '.', '_' and '-'"
        )));
    }
    Ok(())
}

fn check_profile(p: &TechnicianProfile) -> Result<(), Error> {
    if p.skills.len() > MAX_SKILLS {
        return Err(invalid(format!(
            "profile.skills has {} entries; at most {MAX_SKILLS} are allowed",
            p.skills.len()
        )));
    }
    for (i, skill) in p.skills.iter().enumerate() {
        check_text(&format!("profile.skills[{i}]"), skill, MAX_USERNAME)?;
    }
    if p.region.chars().count() > MAX_USERNAME {
        return Err(invalid(format!(
            "profile.region is longer than {MAX_USERNAME} characters"
        )));
    }
    if !(p.latitude.is_finite() && (-90.0..=90.0).contains(&p.latitude)) {
        return Err(invalid(
            "profile.latitude must be between -90 and 90".into(),
        ));
    }
    if !(p.longitude.is_finite() && (-180.0..=180.0).contains(&p.longitude)) {
        return Err(invalid(
            "profile.longitude must be between -180 and 180".into(),
        ));
    }
    Ok(())
}

fn check_password(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD {
        return Err(invalid(format!(
            "password must have at least {MIN_PASSWORD} characters"
        )));
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(invalid(format!(
            "password is longer than {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Checks a new account; returns it trimmed, ready to store.
pub fn check_new_user(new: &NewUser) -> Result<User, Error> {
    let username = new.username.trim();
    check_username(username)?;
    check_password(&new.password)?;
    check_text("display_name", &new.display_name, MAX_NAME)?;
    check_profile(&new.profile)?;
    Ok(User {
        id: UserId::new(),
        username: username.to_owned(),
        display_name: new.display_name.trim().to_owned(),
        role: new.role,
        profile: TechnicianProfile {
            skills: new
                .profile
                .skills
                .iter()
                .map(|s| s.trim().to_owned())
                .collect(),
            region: new.profile.region.trim().to_owned(),
            ..new.profile.clone()
        },
    })
}

async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(Error::internal)?
}

/// Who did something to an account, for the audit trail.
fn by_whom(by: Option<&User>) -> String {
    match by {
        Some(admin) => format!("by {} ({})", admin.username, admin.role),
        None => "by the server's own setup".into(),
    }
}

/// Creates an account; `by` is the administrator who asked (`None`: the server itself).
pub async fn create_user(
    state: &AppState,
    new: NewUser,
    by: Option<&User>,
) -> Result<UserId, Error> {
    let user = check_new_user(&new)?;
    let password_hash = hash_password(new.password).await?;
    let (username, role) = (user.username.clone(), user.role);
    let id = store_user(state, user, password_hash).await?;
    state
        .audit(vec![NewAuditEntry {
            user: Some(id),
            username: Some(username),
            ..NewAuditEntry::new(
                AuditKind::UserCreated,
                Timestamp::now(),
                format!("{role} account created {}", by_whom(by)),
            )
        }])
        .await?;
    Ok(id)
}

/// Sets a new password for `target` and ends their sessions.
pub async fn reset_password(
    state: &AppState,
    target: &User,
    new_password: String,
    by: &User,
) -> Result<(), Error> {
    check_password(&new_password)?;
    let hash = hash_password(new_password).await?;
    let now = Timestamp::now();
    if !state.storage().set_password(target.id, hash, now).await? {
        return Err(Error::NotFound(format!(
            "there is no user '{}' any more",
            target.username
        )));
    }
    state
        .audit(vec![NewAuditEntry {
            user: Some(target.id),
            username: Some(target.username.clone()),
            ..NewAuditEntry::new(
                AuditKind::PasswordReset,
                now,
                format!(
                    "password reset {}; the user's sessions were ended",
                    by_whom(Some(by))
                ),
            )
        }])
        .await
}

/// Stores a checked user whose password is already hashed (demo seeding hashes once).
pub async fn store_user(
    state: &AppState,
    user: User,
    password_hash: String,
) -> Result<UserId, Error> {
    let id = user.id;
    state
        .storage()
        .create_user(UserRecord {
            user,
            password_hash,
            created_at: Timestamp::now(),
        })
        .await?;
    Ok(id)
}

/// Records a failed login: against the rate limits, and in the audit trail.
async fn login_failed(
    state: &AppState,
    username: &str,
    user: Option<&User>,
    address: Option<IpAddr>,
    why: &str,
) -> Result<Error, Error> {
    state
        .login_limiter()
        .failed(username, address, Instant::now());
    let typed: String = username.chars().take(MAX_USERNAME).collect();
    state
        .audit(vec![NewAuditEntry {
            user: user.map(|u| u.id),
            username: Some(user.map_or(typed, |u| u.username.clone())),
            address: address.map(|a| a.to_string()),
            ..NewAuditEntry::new(AuditKind::LoginFailed, Timestamp::now(), why)
        }])
        .await?;
    Ok(Error::Unauthorized("wrong username or password".into()))
}

pub async fn login(
    state: &AppState,
    req: LoginRequest,
    address: Option<IpAddr>,
) -> Result<LoginResponse, Error> {
    check_text("device_name", &req.device_name, MAX_NAME)?;
    let username = req.username.trim().to_owned();
    if let Err(limited) = state
        .login_limiter()
        .check(&username, address, Instant::now())
    {
        let secs = limited.retry_after.as_secs_f64().ceil().max(1.0) as u64;
        let whose = if limited.per_account {
            "for this account"
        } else {
            "from this address"
        };
        tracing::warn!(%username, ?address, "login refused: rate limited");
        return Err(Error::RateLimited {
            message: format!("too many failed sign-ins {whose}; try again in {secs} seconds"),
            retry_after_secs: secs,
        });
    }
    let found = state.storage().user_by_username(&username).await?;
    let password = req.password;
    let Some((user, stored_hash)) = found else {
        tokio::task::spawn_blocking(move || password::verify_nobody(&password))
            .await
            .map_err(Error::internal)?;
        return Err(login_failed(state, &username, None, address, "unknown username").await?);
    };
    let matches = tokio::task::spawn_blocking(move || password::verify(&password, &stored_hash))
        .await
        .map_err(Error::internal)?;
    if !matches {
        tracing::info!(username = %user.username, "login refused: wrong password");
        return Err(login_failed(state, &username, Some(&user), address, "wrong password").await?);
    }
    state.login_limiter().succeeded(&username);
    let now = Timestamp::now();
    // Whether this login re-uses a device of the same user, or registers one.
    let known = match req.device_id {
        Some(id) => state
            .storage()
            .device(id)
            .await?
            .is_some_and(|d| d.user == user.id && d.revoked_at.is_none()),
        None => false,
    };
    let device = state
        .storage()
        .register_device(user.id, req.device_id, req.device_name.trim(), now)
        .await?;
    let entry = |kind, detail: String| NewAuditEntry {
        user: Some(user.id),
        username: Some(user.username.clone()),
        device: Some(device),
        address: address.map(|a| a.to_string()),
        ..NewAuditEntry::new(kind, now, detail)
    };
    let mut entries = Vec::new();
    if !(known && req.device_id == Some(device)) {
        entries.push(entry(
            AuditKind::DeviceRegistered,
            format!("device '{}' registered", req.device_name.trim()),
        ));
    }
    entries.push(entry(
        AuditKind::LoginSucceeded,
        format!("signed in as {}", user.role),
    ));
    state.audit(entries).await?;
    let (token, token_hash) = token::generate();
    let expires_at = now.plus_millis(TOKEN_TTL_MILLIS);
    state
        .storage()
        .create_session(NewSession {
            token: token_hash,
            user: user.id,
            device,
            created_at: now,
            expires_at,
        })
        .await?;
    tracing::info!(username = %user.username, %device, "signed in");
    Ok(LoginResponse {
        token,
        expires_at,
        device_id: device,
        user: UserInfo {
            id: user.id,
            username: user.username,
            display_name: user.display_name,
            role: user.role,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use fieldsync_proto::Role;

    fn new_user() -> NewUser {
        NewUser {
            username: " tech01 ".into(),
            password: "demo".into(),
            display_name: "Ann Example".into(),
            role: Role::Technician,
            profile: TechnicianProfile {
                skills: vec![" hardware".into()],
                region: "north".into(),
                latitude: 53.5,
                longitude: 10.0,
                senior: false,
            },
        }
    }

    #[test]
    fn checks_name_every_field() {
        let ok = check_new_user(&new_user()).expect("valid");
        assert_eq!(ok.username, "tech01");
        assert_eq!(ok.profile.skills, vec!["hardware".to_owned()]);
        type BreakIt = fn(&mut NewUser);
        let cases: Vec<(BreakIt, &str)> = vec![
            (|u| u.username = "".into(), "username is required"),
            (|u| u.username = "ann smith".into(), "username 'ann smith'"),
            (|u| u.password = "abc".into(), "password"),
            (|u| u.display_name = " ".into(), "display_name"),
            (|u| u.profile.latitude = 91.0, "profile.latitude"),
            (|u| u.profile.longitude = f64::NAN, "profile.longitude"),
            (|u| u.profile.skills = vec!["".into()], "profile.skills[0]"),
        ];
        for (break_it, field) in cases {
            let mut u = new_user();
            break_it(&mut u);
            let err = check_new_user(&u).expect_err(field);
            assert!(matches!(err, Error::InvalidInput(_)));
            assert!(err.to_string().contains(field), "{err} should name {field}");
        }
    }
}
