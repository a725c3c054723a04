//! Parts stock per location (warehouse or van), derived from a ledger of movements, with
//! safety-stock alerts.
//!
//! Stock on hand is never stored: it is a fold over movements that each carry a device-made id,
//! so the same ledger merged from several tablets gives the same numbers on every replica, and a
//! movement uploaded twice counts once. When two technicians used the last unit while offline,
//! the stock goes negative and says so; clamping it to zero would hide a real shortage.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::{EntryId, PartNumber, UserId, WorkOrderId};
use crate::time::Timestamp;
use crate::validation::{Violation, MAX_TEXT_BYTES};
use crate::work_order::WorkOrder;

/// Largest quantity one movement may carry (a pallet arriving at a warehouse, not a van).
pub const MAX_MOVEMENT_QUANTITY: i64 = 1_000_000;

/// A stock location code and a part number: the key of stock and safety levels.
pub type StockKey = (String, PartNumber);

/// What a movement does to stock.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MovementKind {
    /// Parts arrived at `location` from a supplier.
    Receipt,
    /// Parts moved between two locations (warehouse to van, van to van).
    Transfer { from: String, to: String },
    /// Parts used on a job, taken from `location`.
    Usage { work_order: WorkOrderId },
    /// A count correction at `location`: the only kind whose quantity may be negative.
    Adjustment,
}

/// One entry of the stock ledger.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockMovement {
    /// Made on the device, so a retried upload never counts twice.
    pub id: EntryId,
    pub kind: MovementKind,
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub part_number: PartNumber,
    /// The location whose stock changes; for a transfer, the sending location (same as `from`).
    pub location: String,
    /// Positive for receipts, transfers and usages; an adjustment adds it, sign included.
    pub quantity: i64,
    /// When the person recorded it, by the device's clock.
    pub at: Timestamp,
    pub by: UserId,
}

/// Why a stock movement was refused. Names the movement and every field at fault.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("stock movement {id} ({part_number} at {location}): {}", list(.violations))]
pub struct MovementError {
    pub id: EntryId,
    pub part_number: String,
    pub location: String,
    pub violations: Vec<Violation>,
}

fn list(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl StockMovement {
    /// Checks the rules a ledger entry must satisfy before it is stored.
    pub fn validate(&self) -> Result<(), MovementError> {
        let mut v = Vec::new();
        let mut fail = |field: &str, rule: String| {
            v.push(Violation {
                field: field.to_owned(),
                rule,
            })
        };
        for (field, value) in [
            ("part_number", &self.part_number),
            ("location", &self.location),
        ] {
            if value.trim().is_empty() {
                fail(field, "is required".into());
            } else if value.len() > MAX_TEXT_BYTES {
                fail(field, format!("is longer than {MAX_TEXT_BYTES} bytes"));
            }
        }
        let q = self.quantity;
        match &self.kind {
            MovementKind::Adjustment => {
                if q == 0 {
                    fail("quantity", "an adjustment of 0 changes nothing".into());
                }
            }
            MovementKind::Receipt | MovementKind::Transfer { .. } | MovementKind::Usage { .. } => {
                if q <= 0 {
                    fail(
                        "quantity",
                        format!("must be positive, got {q} (use an adjustment to correct a count)"),
                    );
                }
            }
        }
        if q.unsigned_abs() > MAX_MOVEMENT_QUANTITY.unsigned_abs() {
            fail(
                "quantity",
                format!("must be at most {MAX_MOVEMENT_QUANTITY} units, got {q}"),
            );
        }
        if let MovementKind::Transfer { from, to } = &self.kind {
            if from.trim().is_empty() {
                fail("kind.from", "is required".into());
            }
            if to.trim().is_empty() {
                fail("kind.to", "is required".into());
            }
            if from.trim() == to.trim() {
                fail(
                    "kind.to",
                    format!("must differ from kind.from (both are '{}')", to.trim()),
                );
            }
            if self.location.trim() != from.trim() {
                fail(
                    "location",
                    format!(
                        "of a transfer must be its sending location '{}', got '{}'",
                        from.trim(),
                        self.location.trim()
                    ),
                );
            }
        }
        if v.is_empty() {
            Ok(())
        } else {
            Err(MovementError {
                id: self.id,
                part_number: self.part_number.clone(),
                location: self.location.clone(),
                violations: v,
            })
        }
    }

    /// How this movement changes stock: (location, change) pairs.
    fn effects(&self) -> impl Iterator<Item = (&str, i128)> {
        let q = i128::from(self.quantity);
        let (first, second) = match &self.kind {
            MovementKind::Receipt | MovementKind::Adjustment => ((self.location.as_str(), q), None),
            MovementKind::Usage { .. } => ((self.location.as_str(), -q), None),
            MovementKind::Transfer { from, to } => ((from.as_str(), -q), Some((to.as_str(), q))),
        };
        std::iter::once(first).chain(second)
    }
}

/// Stock on hand per (location, part): every movement id counted once, in any order.
///
/// Location codes and part numbers are trimmed. Entries that net to zero are kept (the part is
/// stocked there, just not now). If one id appears with different contents (a corrupted or
/// forged copy), the smallest by value is used so the result still does not depend on order.
pub fn derive_stock<'a>(
    movements: impl IntoIterator<Item = &'a StockMovement>,
) -> BTreeMap<StockKey, i64> {
    let mut unique: BTreeMap<EntryId, &StockMovement> = BTreeMap::new();
    for m in movements {
        unique
            .entry(m.id)
            .and_modify(|kept| {
                if m < *kept {
                    *kept = m;
                }
            })
            .or_insert(m);
    }
    // Summed wide so no ledger, however long or hostile, can overflow or depend on order.
    let mut totals: BTreeMap<StockKey, i128> = BTreeMap::new();
    for m in unique.values() {
        for (location, change) in m.effects() {
            let key = (location.trim().to_owned(), m.part_number.trim().to_owned());
            *totals.entry(key).or_insert(0) += change;
        }
    }
    totals
        .into_iter()
        .map(|(key, total)| {
            let clamped =
                i64::try_from(total).unwrap_or(if total < 0 { i64::MIN } else { i64::MAX });
            (key, clamped)
        })
        .collect()
}

/// One line of stock, for lists and JSON (where map keys cannot be pairs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub location: String,
    pub part_number: PartNumber,
    pub on_hand: i64,
}

/// The stock map as a list ordered by location, then part.
pub fn stock_levels(stock: &BTreeMap<StockKey, i64>) -> Vec<StockLevel> {
    stock
        .iter()
        .map(|((location, part_number), &on_hand)| StockLevel {
            location: location.clone(),
            part_number: part_number.clone(),
            on_hand,
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StockAlertKind {
    /// More was used than was there: a real shortage, and the ledger needs a look.
    Negative,
    /// On hand is below the safety level: reorder or transfer.
    BelowSafety,
}

/// A stock level that needs someone's attention.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockAlert {
    pub location: String,
    pub part: PartNumber,
    pub on_hand: i64,
    /// The safety level for this part here; 0 where none is set.
    pub safety: i64,
    pub kind: StockAlertKind,
}

impl std::fmt::Display for StockAlert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            StockAlertKind::Negative => write!(
                f,
                "{} at {} is at {}: more was used than was in stock; check the recent usages",
                self.part, self.location, self.on_hand
            ),
            StockAlertKind::BelowSafety => write!(
                f,
                "{} at {}: {} on hand, below the safety level of {}",
                self.part, self.location, self.on_hand, self.safety
            ),
        }
    }
}

/// Alerts for stock that is negative or below its safety level, negatives first, then by
/// location and part.
///
/// A part with a safety level but no movements at that location counts as 0 on hand. Safety keys
/// are matched as given; use trimmed codes, as `derive_stock` does.
pub fn stock_alerts(
    stock: &BTreeMap<StockKey, i64>,
    safety: &BTreeMap<StockKey, i64>,
) -> Vec<StockAlert> {
    let mut alerts = Vec::new();
    let keys = stock
        .keys()
        .chain(safety.keys().filter(|k| !stock.contains_key(*k)));
    for key in keys {
        let on_hand = stock.get(key).copied().unwrap_or(0);
        let level = safety.get(key).copied().unwrap_or(0);
        let kind = if on_hand < 0 {
            StockAlertKind::Negative
        } else if on_hand < level {
            StockAlertKind::BelowSafety
        } else {
            continue;
        };
        alerts.push(StockAlert {
            location: key.0.clone(),
            part: key.1.clone(),
            on_hand,
            safety: level,
            kind,
        });
    }
    alerts.sort_by(|a, b| (a.kind, &a.location, &a.part).cmp(&(b.kind, &b.location, &b.part)));
    alerts
}

/// The work order's part usages as ledger movements taken from each usage's source location.
///
/// Each movement reuses its usage entry's id, so recording the same usage in the ledger from
/// several places (the device, the server on sync) still counts it once.
pub fn usages_from_work_order(wo: &WorkOrder) -> Vec<StockMovement> {
    wo.unique_part_usages()
        .map(|u| StockMovement {
            id: u.id,
            kind: MovementKind::Usage { work_order: wo.id },
            part_number: u.part_number.trim().to_owned(),
            location: u.source_location.trim().to_owned(),
            quantity: u.quantity,
            at: u.at,
            by: u.by,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use uuid::Uuid;

    fn eid(n: u128) -> EntryId {
        EntryId(Uuid::from_u128(n))
    }

    fn mv(n: u128, kind: MovementKind, part: &str, location: &str, quantity: i64) -> StockMovement {
        StockMovement {
            id: eid(n),
            kind,
            part_number: part.into(),
            location: location.into(),
            quantity,
            at: Timestamp(1_700_000_000_000 + n as i64),
            by: UserId(Uuid::from_u128(7)),
        }
    }

    fn transfer(from: &str, to: &str) -> MovementKind {
        MovementKind::Transfer {
            from: from.into(),
            to: to.into(),
        }
    }

    fn usage() -> MovementKind {
        MovementKind::Usage {
            work_order: WorkOrderId(Uuid::from_u128(99)),
        }
    }

    fn key(location: &str, part: &str) -> StockKey {
        (location.into(), part.into())
    }

    #[test]
    fn derive_table() {
        use MovementKind::*;
        // (name, ledger, expected (location, part, on hand))
        type Case = (
            &'static str,
            Vec<StockMovement>,
            Vec<(&'static str, &'static str, i64)>,
        );
        let cases: Vec<Case> = vec![
            ("nothing", vec![], vec![]),
            (
                "receipt then usage",
                vec![
                    mv(1, Receipt, "PUMP", "WH", 10),
                    mv(2, usage(), "PUMP", "WH", 3),
                ],
                vec![("WH", "PUMP", 7)],
            ),
            (
                "transfer moves stock between locations",
                vec![
                    mv(1, Receipt, "PUMP", "WH", 10),
                    mv(2, transfer("WH", "VAN-1"), "PUMP", "WH", 4),
                    mv(3, usage(), "PUMP", "VAN-1", 1),
                ],
                vec![("VAN-1", "PUMP", 3), ("WH", "PUMP", 6)],
            ),
            (
                "adjustments are signed",
                vec![
                    mv(1, Receipt, "FUSE", "WH", 5),
                    mv(2, Adjustment, "FUSE", "WH", -2),
                    mv(3, Adjustment, "FUSE", "WH", 1),
                ],
                vec![("WH", "FUSE", 4)],
            ),
            (
                "two offline usages of the last unit go negative, not zero",
                vec![
                    mv(1, Receipt, "PUMP", "VAN-1", 1),
                    mv(2, usage(), "PUMP", "VAN-1", 1),
                    mv(3, usage(), "PUMP", "VAN-1", 1),
                ],
                vec![("VAN-1", "PUMP", -1)],
            ),
            (
                "a retried upload counts once",
                vec![
                    mv(1, Receipt, "PUMP", "WH", 5),
                    mv(2, usage(), "PUMP", "WH", 2),
                    mv(2, usage(), "PUMP", "WH", 2),
                ],
                vec![("WH", "PUMP", 3)],
            ),
            (
                "parts and locations are kept apart, codes trimmed, zero kept",
                vec![
                    mv(1, Receipt, "PUMP", "WH", 2),
                    mv(2, Receipt, " FUSE ", "WH ", 3),
                    mv(3, usage(), "PUMP", "WH", 2),
                ],
                vec![("WH", "FUSE", 3), ("WH", "PUMP", 0)],
            ),
        ];
        for (name, movements, expected) in cases {
            let got = derive_stock(&movements);
            let expected: BTreeMap<StockKey, i64> = expected
                .into_iter()
                .map(|(l, p, q)| (key(l, p), q))
                .collect();
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn conflicting_copies_of_one_id_resolve_the_same_in_any_order() {
        let a = mv(1, MovementKind::Receipt, "PUMP", "WH", 5);
        let mut b = a.clone();
        b.quantity = 50;
        let one = derive_stock([&a, &b]);
        let other = derive_stock([&b, &a]);
        assert_eq!(one, other);
        assert_eq!(one[&key("WH", "PUMP")], 5);
    }

    #[test]
    fn huge_quantities_saturate_instead_of_overflowing() {
        let a = mv(1, MovementKind::Adjustment, "P", "WH", i64::MAX);
        let b = mv(2, MovementKind::Adjustment, "P", "WH", i64::MAX);
        let c = mv(3, usage(), "P", "VAN", i64::MIN);
        let got = derive_stock([&a, &b, &c]);
        assert_eq!(got[&key("WH", "P")], i64::MAX);
        assert_eq!(
            got[&key("VAN", "P")],
            i64::MAX,
            "using i64::MIN adds 2^63, clamped"
        );
    }

    #[test]
    fn validation_table() {
        use MovementKind::*;
        let cases: Vec<(StockMovement, &[&str])> = vec![
            (mv(1, Receipt, "PUMP", "WH", 3), &[]),
            (mv(1, Adjustment, "PUMP", "WH", -3), &[]),
            (mv(1, transfer("WH", "VAN"), "PUMP", "WH", 3), &[]),
            (mv(1, Receipt, " ", "WH", 3), &["part_number"]),
            (mv(1, Receipt, "PUMP", "", 3), &["location"]),
            (mv(1, Receipt, "PUMP", "WH", 0), &["quantity"]),
            (mv(1, usage(), "PUMP", "WH", -1), &["quantity"]),
            (mv(1, Adjustment, "PUMP", "WH", 0), &["quantity"]),
            (
                mv(1, Adjustment, "PUMP", "WH", -MAX_MOVEMENT_QUANTITY - 1),
                &["quantity"],
            ),
            (
                mv(1, Receipt, "PUMP", "WH", i64::MIN),
                &["quantity", "quantity"],
            ),
            (mv(1, transfer("WH", "WH"), "PUMP", "WH", 3), &["kind.to"]),
            (
                mv(1, transfer("WH", "VAN"), "PUMP", "VAN", 3),
                &["location"],
            ),
            (
                mv(1, transfer("", "VAN"), "PUMP", "WH", 3),
                &["kind.from", "location"],
            ),
        ];
        for (m, fields) in cases {
            let got: Vec<String> = match m.validate() {
                Ok(()) => vec![],
                Err(e) => e.violations.into_iter().map(|v| v.field).collect(),
            };
            assert_eq!(got, *fields, "{m:?}");
        }
    }

    #[test]
    fn movement_error_names_part_location_and_rule() {
        let m = mv(1, MovementKind::Receipt, "PUMP-200", "VAN-7", -2);
        let err = m.validate().expect_err("negative receipt");
        let text = err.to_string();
        for needle in ["PUMP-200", "VAN-7", "quantity", "must be positive, got -2"] {
            assert!(text.contains(needle), "{needle} missing from: {text}");
        }
    }

    #[test]
    fn alerts_table() {
        let stock: BTreeMap<StockKey, i64> = [
            (key("VAN-1", "PUMP"), -1),
            (key("VAN-1", "FUSE"), 2),
            (key("WH", "FUSE"), 10),
            (key("WH", "PUMP"), 4),
            (key("WH", "BELT"), -3),
        ]
        .into();
        let safety: BTreeMap<StockKey, i64> = [
            (key("VAN-1", "FUSE"), 2), // exactly at safety: fine
            (key("WH", "FUSE"), 11),   // below
            (key("WH", "PUMP"), 5),    // below
            (key("VAN-1", "PUMP"), 2), // negative wins over below-safety
            (key("VAN-2", "PUMP"), 1), // nothing ever moved there: 0 on hand
        ]
        .into();
        use StockAlertKind::*;
        let expected: Vec<StockAlert> = [
            ("VAN-1", "PUMP", -1, 2, Negative),
            ("WH", "BELT", -3, 0, Negative),
            ("VAN-2", "PUMP", 0, 1, BelowSafety),
            ("WH", "FUSE", 10, 11, BelowSafety),
            ("WH", "PUMP", 4, 5, BelowSafety),
        ]
        .into_iter()
        .map(|(location, part, on_hand, safety, kind)| StockAlert {
            location: location.into(),
            part: part.into(),
            on_hand,
            safety,
            kind,
        })
        .collect();
        assert_eq!(stock_alerts(&stock, &safety), expected);
    }

    #[test]
    fn alerts_read_as_sentences() {
        let below = StockAlert {
            location: "VAN-7".into(),
            part: "PUMP-200".into(),
            on_hand: 1,
            safety: 3,
            kind: StockAlertKind::BelowSafety,
        };
        assert_eq!(
            below.to_string(),
            "PUMP-200 at VAN-7: 1 on hand, below the safety level of 3"
        );
        let negative = StockAlert {
            on_hand: -1,
            kind: StockAlertKind::Negative,
            ..below
        };
        assert!(negative.to_string().contains("is at -1"), "{negative}");
    }

    #[test]
    fn stock_levels_list_the_map_in_order() {
        let stock: BTreeMap<StockKey, i64> =
            [(key("WH", "PUMP"), 4), (key("VAN", "PUMP"), -1)].into();
        let levels = stock_levels(&stock);
        assert_eq!(levels.len(), 2);
        assert_eq!(
            (levels[0].location.as_str(), levels[0].on_hand),
            ("VAN", -1)
        );
    }

    #[test]
    fn work_order_usages_become_ledger_entries_that_count_once() {
        use crate::actions::{Action, NewPartUsage};
        use crate::kpi::fixtures;
        let mut wo = fixtures::job(fixtures::T0);
        let tech = fixtures::technician(1);
        fixtures::start_work(&mut wo, &tech, fixtures::T0.plus_minutes(10));
        for (part, quantity, from) in [("PUMP", 1, "VAN-1 "), ("FUSE", 3, "WH")] {
            let use_part = Action::RecordPartUsage(NewPartUsage {
                part_number: part.into(),
                quantity,
                source_location: from.into(),
                serial: None,
                refurbished: false,
            });
            fixtures::act(&mut wo, &use_part, &tech, fixtures::T0.plus_minutes(30));
        }
        // The same usage entry merged in twice from two replicas.
        let dup = wo.part_usages[0].clone();
        wo.part_usages.push(dup);

        let usages = usages_from_work_order(&wo);
        assert_eq!(usages.len(), 2);
        assert_eq!(usages[0].id, wo.part_usages[0].id);
        assert_eq!(usages[0].kind, MovementKind::Usage { work_order: wo.id });
        assert_eq!(usages[0].location, "VAN-1");
        assert!(usages.iter().all(|m| m.validate().is_ok()));

        let mut ledger = vec![
            mv(1, MovementKind::Receipt, "PUMP", "VAN-1", 2),
            mv(2, MovementKind::Receipt, "FUSE", "WH", 10),
        ];
        ledger.extend(usages.iter().cloned());
        // The server books the usages again on the next sync: no effect.
        ledger.extend(usages_from_work_order(&wo));
        let stock = derive_stock(&ledger);
        assert_eq!(stock[&key("VAN-1", "PUMP")], 1);
        assert_eq!(stock[&key("WH", "FUSE")], 7);
    }

    fn arb_movement() -> impl Strategy<Value = StockMovement> {
        let location = || prop::sample::select(vec!["WH", "VAN-1", "VAN-2"]);
        let kind = prop_oneof![
            Just(MovementKind::Receipt),
            Just(MovementKind::Adjustment),
            Just(usage()),
            (location(), location()).prop_map(|(f, t)| transfer(f, t)),
        ];
        (
            0u128..40,
            kind,
            prop::sample::select(vec!["PUMP", "FUSE"]),
            location(),
            -50i64..50,
        )
            .prop_map(|(n, kind, part, location, quantity)| {
                // Transfers are booked at their sending location, as validation demands.
                let location = match &kind {
                    MovementKind::Transfer { from, .. } => from.clone(),
                    _ => location.to_owned(),
                };
                mv(n, kind, part, &location, quantity)
            })
    }

    fn dedup_by_id(movements: &[StockMovement]) -> Vec<StockMovement> {
        let mut seen = std::collections::HashSet::new();
        movements
            .iter()
            .filter(|m| seen.insert(m.id))
            .cloned()
            .collect()
    }

    proptest! {
        #[test]
        fn any_order_and_any_duplication_give_the_same_stock(
            movements in prop::collection::vec(arb_movement(), 0..40),
            rotate in 0usize..40,
            repeat in prop::collection::vec(0usize..40, 0..10),
        ) {
            let movements = dedup_by_id(&movements);
            let expected = derive_stock(&movements);
            let mut shuffled = movements.clone();
            shuffled.reverse();
            if !shuffled.is_empty() {
                let by = rotate % shuffled.len();
                shuffled.rotate_left(by);
                for i in repeat {
                    let copy = shuffled[i % shuffled.len()].clone();
                    shuffled.push(copy);
                }
            }
            prop_assert_eq!(derive_stock(&shuffled), expected);
        }

        #[test]
        fn transfers_conserve_and_the_total_is_receipts_minus_usages_plus_adjustments(
            movements in prop::collection::vec(arb_movement(), 0..40),
        ) {
            let movements = dedup_by_id(&movements);
            let stock = derive_stock(&movements);
            for part in ["PUMP", "FUSE"] {
                let total: i64 = stock.iter().filter(|((_, p), _)| p == part).map(|(_, q)| q).sum();
                let expected: i64 = movements
                    .iter()
                    .filter(|m| m.part_number == part)
                    .map(|m| match m.kind {
                        MovementKind::Receipt | MovementKind::Adjustment => m.quantity,
                        MovementKind::Usage { .. } => -m.quantity,
                        MovementKind::Transfer { .. } => 0,
                    })
                    .sum();
                prop_assert_eq!(total, expected, "{}", part);
            }
        }

        #[test]
        fn every_shortage_is_reported_and_nothing_is_clamped(
            movements in prop::collection::vec(arb_movement(), 0..40),
            level in 0i64..20,
        ) {
            let stock = derive_stock(&movements);
            let safety: BTreeMap<StockKey, i64> = stock.keys().map(|k| (k.clone(), level)).collect();
            let alerts = stock_alerts(&stock, &safety);
            for (k, &on_hand) in &stock {
                let alert = alerts.iter().find(|a| a.location == k.0 && a.part == k.1);
                match alert {
                    Some(a) => {
                        prop_assert_eq!(a.on_hand, on_hand);
                        let kind = if on_hand < 0 { StockAlertKind::Negative } else { StockAlertKind::BelowSafety };
                        prop_assert_eq!(a.kind, kind);
                    }
                    None => prop_assert!(on_hand >= level),
                }
            }
        }
    }
}
