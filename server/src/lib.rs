//! Fieldsync server.
