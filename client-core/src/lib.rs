//! Fieldsync device library.
