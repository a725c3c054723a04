//! Rules a work order document must satisfy after every change, wherever the change was made.

use serde::{Deserialize, Serialize};

use crate::attachment::{MAX_CONTENT_TYPE_BYTES, MAX_FILE_NAME_BYTES};
use crate::work_order::{WorkOrder, SCHEMA_VERSION};

/// Longest free text accepted in one field (description, notes, diagnosis…), in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most entries in one append-only list of a single work order.
pub const MAX_ENTRIES: usize = 10_000;
/// Largest quantity of one part in one usage entry.
pub const MAX_PART_QUANTITY: i64 = 10_000;

/// One broken rule: which field, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Path of the field, e.g. `part_usages[2].quantity`.
    pub field: String,
    pub rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.rule)
    }
}

struct Checker(Vec<Violation>);

impl Checker {
    fn fail(&mut self, field: impl Into<String>, rule: impl Into<String>) {
        self.0.push(Violation {
            field: field.into(),
            rule: rule.into(),
        });
    }

    fn required(&mut self, field: &str, value: &str) {
        if value.trim().is_empty() {
            self.fail(field, "is required");
        }
        self.text(field, value);
    }

    fn text(&mut self, field: &str, value: &str) {
        if value.len() > MAX_TEXT_BYTES {
            self.fail(
                field,
                format!(
                    "is {} bytes; at most {MAX_TEXT_BYTES} are allowed",
                    value.len()
                ),
            );
        }
    }

    fn list(&mut self, field: &str, len: usize) {
        if len > MAX_ENTRIES {
            self.fail(
                field,
                format!("has {len} entries; at most {MAX_ENTRIES} are allowed"),
            );
        }
    }
}

/// Checks every rule and returns all violations at once, so a person can fix them together.
pub fn validate(wo: &WorkOrder) -> Result<(), Vec<Violation>> {
    let mut c = Checker(Vec::new());
    if wo.schema < 1 || wo.schema > SCHEMA_VERSION {
        c.fail(
            "schema",
            format!(
                "version {} is not supported (this build reads up to {SCHEMA_VERSION})",
                wo.schema
            ),
        );
    }
    c.required("number", &wo.number);
    c.required("customer.name", &wo.customer.name);
    c.text("customer.site.address", &wo.customer.site.address);
    c.text("customer.site.region", &wo.customer.site.region);
    let (lat, lon) = (wo.customer.site.latitude, wo.customer.site.longitude);
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        c.fail("customer.site.latitude", "must be between -90 and 90");
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        c.fail("customer.site.longitude", "must be between -180 and 180");
    }
    c.text("asset.model", &wo.asset.model);
    c.text("asset.serial", &wo.asset.serial);
    c.required("description", &wo.description);
    c.text("notes", wo.notes.as_str());
    if let Some(window) = &wo.schedule {
        if window.end < window.start {
            c.fail("schedule.end", "must not be before schedule.start");
        }
    }

    c.list("status_events", wo.status_events.len());
    for (i, e) in wo.status_events.iter().enumerate() {
        if !e.status.allowed_for(e.role) {
            c.fail(
                format!("status_events[{i}].status"),
                format!("a {} cannot set a job to {}", e.role, e.status),
            );
        }
        if let Some(reason) = &e.reason {
            c.text(&format!("status_events[{i}].reason"), reason);
        }
    }

    c.list("part_usages", wo.part_usages.len());
    for (i, u) in wo.part_usages.iter().enumerate() {
        let field = |name: &str| format!("part_usages[{i}].{name}");
        c.required(&field("part_number"), &u.part_number);
        c.required(&field("source_location"), &u.source_location);
        if u.quantity <= 0 {
            c.fail(
                field("quantity"),
                format!("must be positive, got {}", u.quantity),
            );
        } else if u.quantity > MAX_PART_QUANTITY {
            c.fail(
                field("quantity"),
                format!("must be at most {MAX_PART_QUANTITY}, got {}", u.quantity),
            );
        }
    }

    c.list("repair_records", wo.repair_records.len());
    for (i, r) in wo.repair_records.iter().enumerate() {
        let field = |name: &str| format!("repair_records[{i}].{name}");
        c.required(&field("diagnosis"), &r.diagnosis);
        c.text(&field("action_taken"), &r.action_taken);
        c.list(&field("measurements"), r.measurements.len());
        for (j, m) in r.measurements.iter().enumerate() {
            let field = |name: &str| format!("repair_records[{i}].measurements[{j}].{name}");
            c.required(&field("name"), &m.name);
            c.text(&field("unit"), &m.unit);
            if !m.value.is_finite() {
                c.fail(field("value"), "must be a finite number");
            }
        }
    }

    if let Some(done) = &wo.completion {
        c.required("completion.resolution", &done.resolution);
    }

    c.list("attachments", wo.attachments.len());
    for (i, a) in wo.attachments.iter().enumerate() {
        let field = |name: &str| format!("attachments[{i}].{name}");
        if a.size <= 0 {
            c.fail(field("size"), format!("must be positive, got {}", a.size));
        }
        let ct = a.content_type.trim();
        if ct.is_empty() || !ct.contains('/') || ct.len() > MAX_CONTENT_TYPE_BYTES {
            c.fail(
                field("content_type"),
                format!(
                    "must be a MIME type such as image/jpeg of at most {MAX_CONTENT_TYPE_BYTES} bytes"
                ),
            );
        }
        if a.file_name.len() > MAX_FILE_NAME_BYTES
            || a.file_name.contains(['/', '\\'])
            || a.file_name.chars().any(char::is_control)
        {
            c.fail(
                field("file_name"),
                format!("must be a plain file name of at most {MAX_FILE_NAME_BYTES} bytes, without slashes"),
            );
        }
    }

    if c.0.is_empty() {
        Ok(())
    } else {
        Err(c.0)
    }
}
