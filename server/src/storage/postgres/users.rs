//! Users, devices and sessions in PostgreSQL.

use deadpool_postgres::GenericClient;
use fieldsync_proto::api::{DeviceInfo, TechnicianProfile};
use fieldsync_proto::{DeviceId, Role, Timestamp, UserId};
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::convert::{count_from_db, db_err, parse};
use crate::storage::{NewSession, Session, StorageError, TokenHash, User, UserRecord};

const USER_COLUMNS: &str =
    "u.id, u.username, u.display_name, u.role, u.skills, u.region, u.latitude, u.longitude, u.senior";

/// Reads the user columns of `USER_COLUMNS`, which start at column 0.
fn user_from_row(row: &Row) -> Result<User, StorageError> {
    let role: String = row.try_get(3).map_err(db_err)?;
    Ok(User {
        id: UserId(row.try_get(0).map_err(db_err)?),
        username: row.try_get(1).map_err(db_err)?,
        display_name: row.try_get(2).map_err(db_err)?,
        role: parse("users.role", &role)?,
        profile: TechnicianProfile {
            skills: row.try_get(4).map_err(db_err)?,
            region: row.try_get(5).map_err(db_err)?,
            latitude: row.try_get(6).map_err(db_err)?,
            longitude: row.try_get(7).map_err(db_err)?,
            senior: row.try_get(8).map_err(db_err)?,
        },
    })
}

pub async fn insert(c: &impl GenericClient, record: &UserRecord) -> Result<(), StorageError> {
    let user = &record.user;
    let stmt = c
        .prepare_cached(
            "INSERT INTO users (id, username, display_name, role, password_hash, skills, region,
                                latitude, longitude, senior, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .await
        .map_err(db_err)?;
    c.execute(
        &stmt,
        &[
            &user.id.0,
            &user.username,
            &user.display_name,
            &user.role.as_str(),
            &record.password_hash,
            &user.profile.skills,
            &user.profile.region,
            &user.profile.latitude,
            &user.profile.longitude,
            &user.profile.senior,
            &record.created_at.millis(),
        ],
    )
    .await
    .map_err(|e| {
        if e.code() == Some(&SqlState::UNIQUE_VIOLATION) {
            StorageError::UsernameTaken(user.username.clone())
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

pub async fn by_username(
    c: &impl GenericClient,
    username: &str,
) -> Result<Option<(User, String)>, StorageError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, u.password_hash FROM users u
             WHERE lower(u.username) = lower($1) AND u.disabled_at IS NULL"
        ))
        .await
        .map_err(db_err)?;
    let Some(row) = c.query_opt(&stmt, &[&username]).await.map_err(db_err)? else {
        return Ok(None);
    };
    Ok(Some((
        user_from_row(&row)?,
        row.try_get(9).map_err(db_err)?,
    )))
}

pub async fn by_id(c: &impl GenericClient, id: UserId) -> Result<Option<User>, StorageError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"
        ))
        .await
        .map_err(db_err)?;
    c.query_opt(&stmt, &[&id.0])
        .await
        .map_err(db_err)?
        .map(|row| user_from_row(&row))
        .transpose()
}

pub async fn with_role(c: &impl GenericClient, role: Role) -> Result<Vec<User>, StorageError> {
    // The same order as SQLite's case-insensitive column: ASCII case folded, bytewise.
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users u
             WHERE u.role = $1 AND u.disabled_at IS NULL
             ORDER BY lower(u.username) COLLATE \"C\""
        ))
        .await
        .map_err(db_err)?;
    let rows = c.query(&stmt, &[&role.as_str()]).await.map_err(db_err)?;
    rows.iter().map(user_from_row).collect()
}

pub async fn count(c: &impl GenericClient) -> Result<u64, StorageError> {
    let row = c
        .query_one("SELECT COUNT(*) FROM users", &[])
        .await
        .map_err(db_err)?;
    Ok(count_from_db(row.try_get(0).map_err(db_err)?))
}

pub async fn register_device(
    c: &impl GenericClient,
    user: UserId,
    requested: Option<DeviceId>,
    name: &str,
    now: Timestamp,
) -> Result<DeviceId, StorageError> {
    if let Some(device) = requested {
        // Twice at most: an id registered by a concurrent login (through another instance)
        // between the look-up and the insert is looked up again.
        for _ in 0..2 {
            let owner = c
                .query_opt(
                    "SELECT user_id, revoked_at FROM devices WHERE id = $1",
                    &[&device.0],
                )
                .await
                .map_err(db_err)?;
            match owner {
                Some(row) => {
                    let owner: uuid::Uuid = row.try_get(0).map_err(db_err)?;
                    let revoked: Option<i64> = row.try_get(1).map_err(db_err)?;
                    if owner == user.0 && revoked.is_none() {
                        c.execute(
                            "UPDATE devices SET name = $2, last_seen = $3 WHERE id = $1",
                            &[&device.0, &name, &now.millis()],
                        )
                        .await
                        .map_err(db_err)?;
                        return Ok(device);
                    }
                    // Someone else's or a revoked device: this login gets a device of its own.
                    break;
                }
                None => {
                    if insert_device(c, device, user, name, now).await? {
                        return Ok(device);
                    }
                }
            }
        }
    }
    loop {
        let device = DeviceId::new();
        if insert_device(c, device, user, name, now).await? {
            return Ok(device);
        }
    }
}

/// Whether the device was inserted (false: the id exists already).
async fn insert_device(
    c: &impl GenericClient,
    device: DeviceId,
    user: UserId,
    name: &str,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO devices (id, user_id, name, created_at, last_seen)
             VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING",
        )
        .await
        .map_err(db_err)?;
    let inserted = c
        .execute(&stmt, &[&device.0, &user.0, &name, &now.millis()])
        .await
        .map_err(db_err)?;
    Ok(inserted == 1)
}

pub async fn insert_session(
    c: &impl GenericClient,
    session: &NewSession,
) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached(
            "INSERT INTO tokens (hash, user_id, device_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await
        .map_err(db_err)?;
    c.execute(
        &stmt,
        &[
            &session.token.0.as_slice(),
            &session.user.0,
            &session.device.0,
            &session.created_at.millis(),
            &session.expires_at.millis(),
        ],
    )
    .await
    .map_err(db_err)?;
    Ok(())
}

pub async fn session(
    c: &impl GenericClient,
    token: TokenHash,
) -> Result<Option<Session>, StorageError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {USER_COLUMNS}, t.device_id, t.expires_at,
                    t.revoked_at IS NOT NULL OR d.revoked_at IS NOT NULL OR u.disabled_at IS NOT NULL,
                    d.last_seen
             FROM tokens t
             JOIN users u ON u.id = t.user_id
             JOIN devices d ON d.id = t.device_id
             WHERE t.hash = $1"
        ))
        .await
        .map_err(db_err)?;
    let Some(row) = c
        .query_opt(&stmt, &[&token.0.as_slice()])
        .await
        .map_err(db_err)?
    else {
        return Ok(None);
    };
    Ok(Some(Session {
        user: user_from_row(&row)?,
        device: DeviceId(row.try_get(9).map_err(db_err)?),
        expires_at: Timestamp(row.try_get(10).map_err(db_err)?),
        revoked: row.try_get(11).map_err(db_err)?,
        device_last_seen: Timestamp(row.try_get(12).map_err(db_err)?),
    }))
}

pub async fn touch_device(
    c: &impl GenericClient,
    device: DeviceId,
    now: Timestamp,
) -> Result<(), StorageError> {
    let stmt = c
        .prepare_cached("UPDATE devices SET last_seen = GREATEST(last_seen, $2) WHERE id = $1")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&device.0, &now.millis()])
        .await
        .map_err(db_err)?;
    Ok(())
}

const DEVICE_COLUMNS: &str =
    "d.id, d.user_id, u.username, d.name, d.created_at, d.last_seen, d.revoked_at";

fn device_from_row(r: &Row) -> Result<DeviceInfo, StorageError> {
    Ok(DeviceInfo {
        id: DeviceId(r.try_get(0).map_err(db_err)?),
        user: UserId(r.try_get(1).map_err(db_err)?),
        username: r.try_get(2).map_err(db_err)?,
        name: r.try_get(3).map_err(db_err)?,
        created_at: Timestamp(r.try_get(4).map_err(db_err)?),
        last_seen: Timestamp(r.try_get(5).map_err(db_err)?),
        revoked_at: r
            .try_get::<_, Option<i64>>(6)
            .map_err(db_err)?
            .map(Timestamp),
    })
}

pub async fn device(
    c: &impl GenericClient,
    device: DeviceId,
) -> Result<Option<DeviceInfo>, StorageError> {
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id WHERE d.id = $1"
        ))
        .await
        .map_err(db_err)?;
    c.query_opt(&stmt, &[&device.0])
        .await
        .map_err(db_err)?
        .map(|row| device_from_row(&row))
        .transpose()
}

pub async fn devices(
    c: &impl GenericClient,
    user: Option<UserId>,
) -> Result<Vec<DeviceInfo>, StorageError> {
    // Usernames in SQLite's case-insensitive order (see `with_role`).
    let stmt = c
        .prepare_cached(&format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d JOIN users u ON u.id = d.user_id
             WHERE $1::UUID IS NULL OR d.user_id = $1
             ORDER BY lower(u.username) COLLATE \"C\", d.created_at, d.id"
        ))
        .await
        .map_err(db_err)?;
    let rows = c
        .query(&stmt, &[&user.map(|u| u.0)])
        .await
        .map_err(db_err)?;
    rows.iter().map(device_from_row).collect()
}

pub async fn revoke_device(
    c: &impl GenericClient,
    id: DeviceId,
    now: Timestamp,
) -> Result<Option<DeviceInfo>, StorageError> {
    let stmt = c
        .prepare_cached("UPDATE devices SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
        .await
        .map_err(db_err)?;
    c.execute(&stmt, &[&id.0, &now.millis()])
        .await
        .map_err(db_err)?;
    device(c, id).await
}

pub async fn set_password(
    c: &impl GenericClient,
    user: UserId,
    password_hash: &str,
    now: Timestamp,
) -> Result<bool, StorageError> {
    let changed = c
        .execute(
            &c.prepare_cached("UPDATE users SET password_hash = $2 WHERE id = $1")
                .await
                .map_err(db_err)?,
            &[&user.0, &password_hash],
        )
        .await
        .map_err(db_err)?;
    if changed == 0 {
        return Ok(false);
    }
    c.execute(
        &c.prepare_cached(
            "UPDATE tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .await
        .map_err(db_err)?,
        &[&user.0, &now.millis()],
    )
    .await
    .map_err(db_err)?;
    Ok(true)
}
