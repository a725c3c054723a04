//! Conversions between domain values and PostgreSQL columns, and between driver errors and
//! `StorageError`; unreadable stored values become `StorageError::Corrupt` naming the column.

use std::str::FromStr;

use crate::storage::{Seq, StorageError};

/// A driver error with its causes, which the driver's own message leaves out ("db error").
pub fn db_err(e: tokio_postgres::Error) -> StorageError {
    if e.code() == Some(&tokio_postgres::error::SqlState::DISK_FULL) {
        return StorageError::Full(explain(&e));
    }
    StorageError::Database(explain(&e))
}

/// An error followed by its sources, `: `-separated.
pub fn explain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    let mut last = text.clone();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Wrappers often repeat their cause word for word.
        if cause_text != last {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        last = cause_text;
        source = cause.source();
    }
    text
}

/// Parses a text column into a domain value (roles, statuses…).
pub fn parse<T>(column: &str, text: &str) -> Result<T, StorageError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StorageError::Corrupt(format!("column {column}: {e}")))
}

pub fn seq_from_db(value: i64) -> Result<Seq, StorageError> {
    u64::try_from(value)
        .map(Seq)
        .map_err(|_| StorageError::Corrupt(format!("negative sequence number {value}")))
}

pub fn seq_to_db(seq: Seq) -> i64 {
    // Sequence numbers count commits and cannot reach 2^63; clamping keeps a hostile cursor
    // from wrapping into a negative number.
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

pub fn count_from_db(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
