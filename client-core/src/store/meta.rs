//! Small named values of the store: the session (with its token), this device's id, the sync
//! cursor, and whose work orders the store holds.

use rusqlite::{Connection, OptionalExtension};

use fieldsync_proto::wire::Cursor;
use fieldsync_proto::DeviceId;

use crate::error::{Error, Result};
use crate::session::{Owner, StoredSession};

const SESSION: &str = "session";
const DEVICE_ID: &str = "device_id";
const CURSOR: &str = "cursor";
const OWNER: &str = "owner";

fn get(conn: &Connection, key: &str) -> Result<Option<String>> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

fn set(conn: &Connection, key: &str, value: &str) -> Result<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )?;
    Ok(())
}

fn delete(conn: &Connection, key: &str) -> Result<()> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

fn get_json<T: serde::de::DeserializeOwned>(conn: &Connection, key: &str) -> Result<Option<T>> {
    match get(conn, key)? {
        None => Ok(None),
        Some(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| Error::Corrupt {
                what: format!("the stored {key} cannot be read ({e})"),
            }),
    }
}

fn set_json<T: serde::Serialize>(conn: &Connection, key: &str, value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| Error::Corrupt {
        what: format!("the {key} cannot be encoded ({e})"),
    })?;
    set(conn, key, &text)
}

pub(crate) fn get_session(conn: &Connection) -> Result<Option<StoredSession>> {
    get_json(conn, SESSION)
}

pub(crate) fn set_session(conn: &Connection, session: &StoredSession) -> Result<()> {
    set_json(conn, SESSION, session)
}

pub(crate) fn clear_session(conn: &Connection) -> Result<()> {
    delete(conn, SESSION)
}

pub(crate) fn get_device_id(conn: &Connection) -> Result<Option<DeviceId>> {
    match get(conn, DEVICE_ID)? {
        None => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|e| Error::Corrupt {
            what: format!("the stored device id: {e}"),
        }),
    }
}

pub(crate) fn set_device_id(conn: &Connection, id: DeviceId) -> Result<()> {
    set(conn, DEVICE_ID, &id.to_string())
}

pub(crate) fn get_cursor(conn: &Connection) -> Result<Cursor> {
    match get(conn, CURSOR)? {
        None => Ok(Cursor::default()),
        Some(text) => text.parse().map(Cursor).map_err(|_| Error::Corrupt {
            what: format!("the stored sync cursor '{text}' is not a number"),
        }),
    }
}

pub(crate) fn set_cursor(conn: &Connection, cursor: Cursor) -> Result<()> {
    set(conn, CURSOR, &cursor.0.to_string())
}

pub(crate) fn get_owner(conn: &Connection) -> Result<Option<Owner>> {
    get_json(conn, OWNER)
}

pub(crate) fn set_owner(conn: &Connection, owner: &Owner) -> Result<()> {
    set_json(conn, OWNER, owner)
}

/// Forgets every value: session, token, device id, cursor and owner.
pub(crate) fn clear_all(conn: &Connection) -> Result<()> {
    conn.execute("DELETE FROM meta", [])?;
    Ok(())
}
