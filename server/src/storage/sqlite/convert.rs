//! Conversions between domain values and SQLite columns; unreadable stored values become
//! `StorageError::Corrupt` naming the column, never a panic.

use std::str::FromStr;

use crate::storage::{Seq, StorageError};

/// Parses a text column into a domain value (ids, roles, statuses…).
pub fn parse<T>(column: &str, text: &str) -> Result<T, StorageError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.parse()
        .map_err(|e| StorageError::Corrupt(format!("column {column}: {e}")))
}

pub fn parse_opt<T>(column: &str, text: Option<String>) -> Result<Option<T>, StorageError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    text.map(|t| parse(column, &t)).transpose()
}

pub fn seq_from_db(value: i64) -> Result<Seq, StorageError> {
    u64::try_from(value)
        .map(Seq)
        .map_err(|_| StorageError::Corrupt(format!("negative sequence number {value}")))
}

pub fn seq_to_db(seq: Seq) -> i64 {
    // Sequence numbers count commits; they cannot reach 2^63 in practice, and clamping keeps
    // a hostile cursor from wrapping into a negative number.
    i64::try_from(seq.0).unwrap_or(i64::MAX)
}

pub fn count_from_db(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
