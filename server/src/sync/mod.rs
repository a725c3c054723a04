//! The sync logic, independent of any storage backend: what a pushed document may change and
//! how it is merged, what a pull sends each device, and office edits made through the API.
//! Every document update, from a device or from the office, ends in `Storage::commit` with
//! optimistic concurrency, so devices pull all of them the same way.

pub mod budget;
pub mod cache;
pub mod edit;
pub mod merger;
pub mod pull;
pub mod push;
#[cfg(test)]
pub(crate) mod scenarios;

/// How often an update is recomputed when another commit to the same document won the race.
pub const MAX_COMMIT_ATTEMPTS: usize = 8;
