//! Users, devices and sessions in SQLite.

use fieldsync_proto::api::{DeviceInfo, TechnicianProfile};
use fieldsync_proto::{DeviceId, Role, Timestamp, UserId};
use rusqlite::{params, OptionalExtension, Row, Transaction};

use super::convert::{count_from_db, parse};
use super::db_err;
use crate::storage::{NewSession, Session, StorageError, TokenHash, User, UserRecord};

const USER_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.role, u.skills, u.region, u.latitude, u.longitude, u.senior";

/// The raw columns of `USER_COLUMNS`, read inside rusqlite's row callback.
struct UserRow {
    id: String,
    username: String,
    display_name: String,
    role: String,
    skills: String,
    region: String,
    latitude: f64,
    longitude: f64,
    senior: bool,
}

impl UserRow {
    /// Reads the user columns starting at `at`.
    fn read(row: &Row<'_>, at: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(at)?,
            username: row.get(at + 1)?,
            display_name: row.get(at + 2)?,
            role: row.get(at + 3)?,
            skills: row.get(at + 4)?,
            region: row.get(at + 5)?,
            latitude: row.get(at + 6)?,
            longitude: row.get(at + 7)?,
            senior: row.get(at + 8)?,
        })
    }

    fn into_user(self) -> Result<User, StorageError> {
        let skills: Vec<String> = serde_json::from_str(&self.skills)
            .map_err(|e| StorageError::Corrupt(format!("column users.skills: {e}")))?;
        Ok(User {
            id: parse("users.id", &self.id)?,
            username: self.username,
            display_name: self.display_name,
            role: parse("users.role", &self.role)?,
            profile: TechnicianProfile {
                skills,
                region: self.region,
                latitude: self.latitude,
                longitude: self.longitude,
                senior: self.senior,
            },
        })
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

pub fn insert(tx: &Transaction<'_>, record: &UserRecord) -> Result<(), StorageError> {
    let user = &record.user;
    let skills = serde_json::to_string(&user.profile.skills)
        .map_err(|e| StorageError::Database(format!("cannot encode skills: {e}")))?;
    tx.prepare_cached(
        "INSERT INTO users (id, username, display_name, role, password_hash, skills, region,
                            latitude, longitude, senior, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .map_err(db_err)?
    .execute(params![
        user.id.to_string(),
        user.username,
        user.display_name,
        user.role.as_str(),
        record.password_hash,
        skills,
        user.profile.region,
        user.profile.latitude,
        user.profile.longitude,
        user.profile.senior,
        record.created_at.millis(),
    ])
    .map_err(|e| {
        if is_unique_violation(&e) {
            StorageError::UsernameTaken(user.username.clone())
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

pub fn by_username(
    tx: &Transaction<'_>,
    username: &str,
) -> Result<Option<(User, String)>, StorageError> {
    let row = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u
             WHERE u.username = ?1 AND u.disabled_at IS NULL"
        ))
        .map_err(db_err)?
        .query_row([username], |r| {
            Ok((UserRow::read(r, 0)?, r.get::<_, String>(9)?))
        })
        .optional()
        .map_err(db_err)?;
    row.map(|(user, hash)| Ok((user.into_user()?, hash)))
        .transpose()
}

pub fn by_id(tx: &Transaction<'_>, id: UserId) -> Result<Option<User>, StorageError> {
    tx.prepare_cached(&format!(
        "SELECT {USER_COLUMNS} FROM users u WHERE u.id = ?1"
    ))
    .map_err(db_err)?
    .query_row([id.to_string()], |r| UserRow::read(r, 0))
    .optional()
    .map_err(db_err)?
    .map(UserRow::into_user)
    .transpose()
}

pub fn with_role(tx: &Transaction<'_>, role: Role) -> Result<Vec<User>, StorageError> {
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE u.role = ?1 AND u.disabled_at IS NULL ORDER BY u.username"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map([role.as_str()], |r| UserRow::read(r, 0))
        .map_err(db_err)?;
    rows.map(|row| row.map_err(db_err).and_then(UserRow::into_user))
        .collect()
}

pub fn count(tx: &Transaction<'_>) -> Result<u64, StorageError> {
    tx.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))
        .map(count_from_db)
        .map_err(db_err)
}

pub fn register_device(
    tx: &Transaction<'_>,
    user: UserId,
    requested: Option<DeviceId>,
    name: &str,
    now: Timestamp,
) -> Result<DeviceId, StorageError> {
    if let Some(device) = requested {
        let owner: Option<(String, Option<i64>)> = tx
            .prepare_cached("SELECT user_id, revoked_at FROM devices WHERE id = ?1")
            .map_err(db_err)?
            .query_row([device.to_string()], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()
            .map_err(db_err)?;
        match owner {
            Some((owner, None)) if owner == user.to_string() => {
                tx.prepare_cached("UPDATE devices SET name = ?2, last_seen = ?3 WHERE id = ?1")
                    .map_err(db_err)?
                    .execute(params![device.to_string(), name, now.millis()])
                    .map_err(db_err)?;
                return Ok(device);
            }
            None => {
                insert_device(tx, device, user, name, now)?;
                return Ok(device);
            }
            // Someone else's or a revoked device: this login gets a device of its own.
            Some(_) => {}
        }
    }
    let device = DeviceId::new();
    insert_device(tx, device, user, name, now)?;
    Ok(device)
}

fn insert_device(
    tx: &Transaction<'_>,
    device: DeviceId,
    user: UserId,
    name: &str,
    now: Timestamp,
) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO devices (id, user_id, name, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .map_err(db_err)?
    .execute(params![
        device.to_string(),
        user.to_string(),
        name,
        now.millis()
    ])
    .map_err(db_err)?;
    Ok(())
}

pub fn insert_session(tx: &Transaction<'_>, session: &NewSession) -> Result<(), StorageError> {
    tx.prepare_cached(
        "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .map_err(db_err)?
    .execute(params![
        session.token.0.as_slice(),
        session.user.to_string(),
        session.device.to_string(),
        session.created_at.millis(),
        session.expires_at.millis(),
    ])
    .map_err(db_err)?;
    Ok(())
}

pub fn session(tx: &Transaction<'_>, token: TokenHash) -> Result<Option<Session>, StorageError> {
    let row = tx
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, t.device_id, t.expires_at,
                    t.revoked_at IS NOT NULL OR d.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL,
                    d.last_seen
             FROM tokens t
             JOIN users u ON u.id = t.user_id
             JOIN devices d ON d.id = t.device_id
             WHERE t.hash = ?1"
        ))
        .map_err(db_err)?
        .query_row([token.0.as_slice()], |r| {
            Ok((
                UserRow::read(r, 0)?,
                r.get::<_, String>(9)?,
                r.get::<_, i64>(10)?,
                r.get::<_, bool>(11)?,
                r.get::<_, i64>(12)?,
            ))
        })
        .optional()
        .map_err(db_err)?;
    let Some((user, device, expires_at, revoked, last_seen)) = row else {
        return Ok(None);
    };
    Ok(Some(Session {
        user: user.into_user()?,
        device: parse("tokens.device_id", &device)?,
        expires_at: Timestamp(expires_at),
        revoked,
        device_last_seen: Timestamp(last_seen),
    }))
}

pub fn touch_device(
    tx: &Transaction<'_>,
    device: DeviceId,
    now: Timestamp,
) -> Result<(), StorageError> {
    tx.prepare_cached("UPDATE devices SET last_seen = MAX(last_seen, ?2) WHERE id = ?1")
        .map_err(db_err)?
        .execute(params![device.to_string(), now.millis()])
        .map_err(db_err)?;
    Ok(())
}

const DEVICE_COLUMNS: &str =
    "d.id, d.user_id, u.username, d.name, d.created_at, d.last_seen, d.revoked_at";

type DeviceRow = (String, String, String, String, i64, i64, Option<i64>);

fn device_row(r: &Row<'_>) -> rusqlite::Result<DeviceRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn device_info(row: DeviceRow) -> Result<DeviceInfo, StorageError> {
    let (id, user, username, name, created_at, last_seen, revoked_at) = row;
    Ok(DeviceInfo {
        id: parse("devices.id", &id)?,
        user: parse("devices.user_id", &user)?,
        username,
        name,
        created_at: Timestamp(created_at),
        last_seen: Timestamp(last_seen),
        revoked_at: revoked_at.map(Timestamp),
    })
}

pub fn device(tx: &Transaction<'_>, device: DeviceId) -> Result<Option<DeviceInfo>, StorageError> {
    tx.prepare_cached(&format!(
        "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = ?1"
    ))
    .map_err(db_err)?
    .query_row([device.to_string()], device_row)
    .optional()
    .map_err(db_err)?
    .map(device_info)
    .transpose()
}

pub fn devices(
    tx: &Transaction<'_>,
    user: Option<UserId>,
) -> Result<Vec<DeviceInfo>, StorageError> {
    let mut stmt = tx
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
             WHERE ?1 IS NULL OR d.user_id = ?1
             ORDER BY u.username, d.created_at, d.id"
        ))
        .map_err(db_err)?;
    let rows = stmt
        .query_map([user.map(|u| u.to_string())], device_row)
        .map_err(db_err)?;
    rows.map(|row| row.map_err(db_err).and_then(device_info))
        .collect()
}

pub fn revoke_device(
    tx: &Transaction<'_>,
    id: DeviceId,
    now: Timestamp,
) -> Result<Option<DeviceInfo>, StorageError> {
    tx.prepare_cached("UPDATE devices SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
        .map_err(db_err)?
        .execute(params![id.to_string(), now.millis()])
        .map_err(db_err)?;
    device(tx, id)
}

pub fn set_password(
    tx: &Transaction<'_>,
    user: UserId,
    password_hash: &str,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let changed = tx
        .prepare_cached("UPDATE users SET password_hash = ?2 WHERE id = ?1")
        .map_err(db_err)?
        .execute(params![user.to_string(), password_hash])
        .map_err(db_err)?;
    if changed == 0 {
        return Ok(false);
    }
    tx.prepare_cached(
        "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
    )
    .map_err(db_err)?
    .execute(params![user.to_string(), now.millis()])
    .map_err(db_err)?;
    Ok(true)
}
