//! What a person did on this device, as kept beside each unacknowledged change: shown back to
//! them if the server refuses it.

use serde::{Deserialize, Serialize};

use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{Action, NewWorkOrder, Timestamp, WorkOrderId};

/// A local edit: a new work order, or an action on an existing one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LocalEdit {
    Create(Box<NewWorkOrder>),
    Act(Action),
}

impl LocalEdit {
    /// Short name, e.g. `create` or `record_part_usage`.
    pub fn name(&self) -> &'static str {
        match self {
            LocalEdit::Create(_) => "create",
            LocalEdit::Act(action) => action.name(),
        }
    }

    /// The action, if this edit was one.
    pub fn action(&self) -> Option<&Action> {
        match self {
            LocalEdit::Act(action) => Some(action),
            LocalEdit::Create(_) => None,
        }
    }
}

/// A local change the server refused. The document went back to the server's version; the
/// edit is kept here so that nothing disappears without a trace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectedChange {
    pub doc: WorkOrderId,
    pub number: String,
    /// Hash of the refused Automerge change, in hex.
    pub hash: String,
    pub edit: LocalEdit,
    pub code: ErrorCode,
    pub message: String,
    /// When this device learned of the refusal.
    pub at: Timestamp,
}

impl RejectedChange {
    /// The refused action, if the edit was one (not a creation).
    pub fn action(&self) -> Option<&Action> {
        self.edit.action()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_round_trip_through_json() {
        let edit = LocalEdit::Act(Action::Cancel {
            reason: "duplicate".into(),
        });
        let text = serde_json::to_string(&edit).expect("json");
        assert_eq!(
            serde_json::from_str::<LocalEdit>(&text).expect("back"),
            edit
        );
        assert_eq!(edit.name(), "cancel");
    }
}
