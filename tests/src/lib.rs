//! Fieldsync end-to-end test support.
