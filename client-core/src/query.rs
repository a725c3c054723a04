//! What a list of work orders should hold and in which order; answered from the index table.

use serde::{Deserialize, Serialize};

use fieldsync_proto::{Status, UserId};

/// A filter and order for `Client::list`. The default lists everything by priority.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Only these statuses (all when `None`).
    pub statuses: Option<Vec<Status>>,
    /// Only open work: not completed, closed or cancelled.
    pub open_only: bool,
    /// Only work assigned to this user.
    pub assignee: Option<UserId>,
    pub order: ListOrder,
    pub limit: Option<usize>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListOrder {
    /// Most urgent first (P1 before P4), then the earliest resolution due time.
    #[default]
    Priority,
    /// Earliest resolution due time first.
    Due,
    /// Most recently created first.
    Newest,
}
