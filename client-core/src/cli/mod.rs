//! The `fieldsync` command line: a technician's or dispatcher's terminal client.
