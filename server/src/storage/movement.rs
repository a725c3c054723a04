//! How a stock movement's kind is kept in columns (`kind`, `to_location`, `work_order`) by
//! every backend.

use fieldsync_proto::{MovementKind, WorkOrderId};

use super::StorageError;

/// The columns of a kind: its word, the receiving location of a transfer, the job of a usage.
pub fn kind_columns(kind: &MovementKind) -> (&'static str, Option<&str>, Option<WorkOrderId>) {
    match kind {
        MovementKind::Receipt => ("receipt", None, None),
        MovementKind::Transfer { to, .. } => ("transfer", Some(to.as_str()), None),
        MovementKind::Usage { work_order } => ("usage", None, Some(*work_order)),
        MovementKind::Adjustment => ("adjustment", None, None),
    }
}

/// The kind back from its columns; a transfer's sending location is the movement's location.
pub fn kind_from_columns(
    kind: &str,
    location: &str,
    to: Option<String>,
    work_order: Option<WorkOrderId>,
) -> Result<MovementKind, StorageError> {
    let corrupt = |what: &str| StorageError::Corrupt(format!("stock_movements: {what}"));
    Ok(match kind {
        "receipt" => MovementKind::Receipt,
        "adjustment" => MovementKind::Adjustment,
        "transfer" => MovementKind::Transfer {
            from: location.to_owned(),
            to: to.ok_or_else(|| corrupt("a transfer without to_location"))?,
        },
        "usage" => MovementKind::Usage {
            work_order: work_order.ok_or_else(|| corrupt("a usage without work_order"))?,
        },
        other => return Err(corrupt(&format!("unknown kind '{other}'"))),
    })
}
