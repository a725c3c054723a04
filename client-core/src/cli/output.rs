//! How the command line shows things to people: aligned work order tables, a readable detail
//! page, relative due times, and one-line summaries. Pure functions of their inputs and `now`,
//! so every format is unit-tested.

use std::fmt::Write;

use fieldsync_proto::{
    HoldReason, Role, Status, Timestamp, UserId, WorkOrderSummary, WorkOrderView,
};

use crate::edit::RejectedChange;
use crate::sync::SyncReport;

/// "3h 20m", "2d 4h", "45m", "<1m": the largest two units of a duration.
pub fn duration(millis: i64) -> String {
    let minutes = millis.unsigned_abs() / 60_000;
    let (days, hours, mins) = (minutes / 1440, (minutes / 60) % 24, minutes % 60);
    match (days, hours, mins) {
        (0, 0, 0) => "<1m".into(),
        (0, 0, m) => format!("{m}m"),
        (0, h, 0) => format!("{h}h"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, 0, _) => format!("{d}d"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// When something is due, relative to now: "in 3h 20m" or "overdue 15m".
pub fn due_in(due: Timestamp, now: Timestamp) -> String {
    let left = due.millis() - now.millis();
    if left >= 0 {
        format!("in {}", duration(left))
    } else {
        format!("overdue {}", duration(left))
    }
}

/// "2026-03-01 09:00 UTC".
pub fn time(at: Timestamp) -> String {
    at.to_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

fn status_text(status: Status) -> String {
    status.as_str().replace('_', " ")
}

/// Cuts text to `width` characters, marking the cut with an ellipsis.
fn fit(text: &str, width: usize) -> String {
    let count = text.chars().count();
    if count <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

const CUSTOMER_WIDTH: usize = 32;

/// An aligned table: number, priority, status, customer, resolution due.
pub fn work_order_table(rows: &[WorkOrderSummary], now: Timestamp) -> String {
    if rows.is_empty() {
        return "No work orders. Run `fieldsync sync` to fetch new ones.\n".into();
    }
    let lines: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            let due = if r.status.is_open() {
                due_in(r.resolution_due, now)
            } else {
                "-".into()
            };
            let mut status = status_text(r.status);
            if r.conflicts > 0 {
                status.push_str(" (!)");
            }
            [
                r.number.clone(),
                format!("{:?}", r.priority),
                status,
                fit(&r.customer_name, CUSTOMER_WIDTH),
                due,
            ]
        })
        .collect();
    let header = ["NUMBER", "PRI", "STATUS", "CUSTOMER", "DUE"];
    let mut widths = header.map(|h| h.chars().count());
    for line in &lines {
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut row = |cells: &[&str]| {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                line.push_str(cell);
            } else {
                let pad = widths[i] - cell.chars().count();
                line.push_str(cell);
                line.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    row(&header);
    for line in &lines {
        let cells: Vec<&str> = line.iter().map(String::as_str).collect();
        row(&cells);
    }
    out
}

fn who(user: UserId, me: Option<UserId>) -> String {
    if Some(user) == me {
        "you".into()
    } else {
        user.to_string()
    }
}

fn hold_text(reason: HoldReason) -> String {
    reason.as_str().replace('_', " ")
}

/// Everything about a work order, in sections, for `fieldsync show`.
pub fn work_order_detail(v: &WorkOrderView, me: Option<UserId>, now: Timestamp) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = write_detail(&mut out, v, me, now);
    out
}

fn write_detail(
    out: &mut String,
    v: &WorkOrderView,
    me: Option<UserId>,
    now: Timestamp,
) -> std::fmt::Result {
    writeln!(
        out,
        "{}  {:?}  {}",
        v.number,
        v.priority,
        status_text(v.status).to_uppercase()
    )?;
    let c = &v.customer;
    writeln!(out, "Customer     {} ({})", c.name, c.tier)?;
    writeln!(out, "Site         {} [{}]", c.site.address, c.site.region)?;
    let contact: Vec<&str> = [&c.contact.name, &c.contact.phone, &c.contact.email]
        .into_iter()
        .map(String::as_str)
        .filter(|s| !s.trim().is_empty())
        .collect();
    if !contact.is_empty() {
        writeln!(out, "Contact      {}", contact.join(", "))?;
    }
    if !v.asset.model.is_empty() || !v.asset.serial.is_empty() {
        writeln!(
            out,
            "Asset        {} (serial {})",
            v.asset.model, v.asset.serial
        )?;
    }
    writeln!(
        out,
        "Problem      {}, urgency {}, impact {}, via {}",
        v.category,
        v.urgency,
        v.impact.as_str().replace('_', " "),
        v.channel
    )?;
    writeln!(out, "Created      {}", time(v.created_at))?;
    match v.assignee {
        Some(a) => writeln!(out, "Assigned to  {}", who(a, me))?,
        None => writeln!(out, "Assigned to  nobody yet")?,
    }
    if let Some(s) = v.schedule {
        writeln!(out, "Visit        {} to {}", time(s.start), time(s.end))?;
    }
    let sla = &v.sla;
    let clock = |due: Timestamp, state: fieldsync_proto::ClockState| {
        let state = format!("{state:?}").to_lowercase();
        match state.as_str() {
            "running" | "nearbreach" | "breached" => {
                format!("{} ({}, {})", time(due), state, due_in(due, now))
            }
            _ => format!("{} ({state})", time(due)),
        }
    };
    writeln!(
        out,
        "Response     due {}",
        clock(sla.response_due, sla.response)
    )?;
    writeln!(
        out,
        "Resolution   due {}",
        clock(sla.resolution_due, sla.resolution)
    )?;
    if sla.times_adjusted {
        writeln!(
            out,
            "             (some device clocks were wrong; their times were moved to fit)"
        )?;
    }
    writeln!(out)?;
    writeln!(out, "Description")?;
    for line in v.description.lines() {
        writeln!(out, "  {line}")?;
    }
    if !v.notes.trim().is_empty() {
        writeln!(out, "Notes")?;
        for line in v.notes.lines() {
            writeln!(out, "  {line}")?;
        }
    }
    if !v.status_events.is_empty() {
        writeln!(out, "Timeline")?;
        for e in &v.status_events {
            let mut line = format!(
                "  {}  {:<12} by {} ({})",
                time(e.at),
                status_text(e.status),
                who(e.by, me),
                e.role
            );
            if let Some(h) = e.hold {
                let _ = write!(line, ", {}", hold_text(h));
            }
            if let Some(r) = &e.reason {
                let _ = write!(line, ": {r}");
            }
            writeln!(out, "{line}")?;
        }
    }
    if !v.part_usages.is_empty() {
        writeln!(out, "Parts ({} used)", v.parts_used)?;
        for p in &v.part_usages {
            let mut line = format!(
                "  {} x {} from {}",
                p.quantity, p.part_number, p.source_location
            );
            if let Some(s) = &p.serial {
                let _ = write!(line, ", serial {s}");
            }
            if p.refurbished {
                line.push_str(", refurbished");
            }
            writeln!(out, "{line}")?;
        }
    }
    if !v.repair_records.is_empty() {
        writeln!(out, "Repair records")?;
        for r in &v.repair_records {
            writeln!(out, "  {}  found: {}", time(r.at), r.diagnosis)?;
            writeln!(out, "  {:>20}  did: {}", "", r.action_taken)?;
            for m in &r.measurements {
                writeln!(out, "  {:>20}  {} = {} {}", "", m.name, m.value, m.unit)?;
            }
        }
    }
    if let Some(done) = &v.completion {
        writeln!(out, "Completion")?;
        writeln!(out, "  {}  {}", time(done.at), done.resolution)?;
        if let Some(name) = &done.signed_by {
            writeln!(out, "  signed by {name}")?;
        }
        if !done.first_time_fix {
            writeln!(out, "  not fixed on the first visit")?;
        }
    }
    if !v.conflicts.is_empty() {
        writeln!(out, "Conflicts (for the dispatcher to review)")?;
        for c in &v.conflicts {
            writeln!(out, "  ! {}", c.kind.describe())?;
        }
    }
    Ok(())
}

/// One line after an action: what the work order is now.
pub fn action_done(what: &str, v: &WorkOrderView) -> String {
    format!(
        "{}: {what}; now {} ({:?})\n",
        v.number,
        status_text(v.status),
        v.priority
    )
}

/// The one-line summary after a sync.
pub fn sync_summary(r: &SyncReport) -> String {
    let uploaded = if r.pushed_docs == 0 {
        "nothing to upload".to_string()
    } else {
        format!(
            "uploaded changes to {} work order{}",
            r.accepted_docs,
            plural(r.accepted_docs)
        )
    };
    let mut out = format!(
        "Synced in {} round{}: {uploaded}, received {} update{}",
        r.rounds,
        plural(r.rounds),
        r.pulled_docs,
        plural(r.pulled_docs)
    );
    if r.rejected_docs > 0 {
        let _ = write!(
            out,
            "; the server refused changes to {} work order{} (see `fieldsync rejected`)",
            r.rejected_docs,
            plural(r.rejected_docs)
        );
    }
    if r.uploaded_attachments > 0 {
        let _ = write!(
            out,
            "; uploaded {} attachment{} ({} bytes sent)",
            r.uploaded_attachments,
            plural(r.uploaded_attachments),
            r.attachment_bytes_sent
        );
    }
    if r.attachments_refused > 0 {
        let _ = write!(
            out,
            "; the server refused {} attachment{} for now (see `fieldsync attachments`)",
            r.attachments_refused,
            plural(r.attachments_refused)
        );
    }
    out.push_str(".\n");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The refused changes, one block each.
pub fn rejected_list(list: &[RejectedChange]) -> String {
    if list.is_empty() {
        return "The server has refused nothing.\n".into();
    }
    let mut out = String::new();
    for r in list {
        let _ = writeln!(
            out,
            "{}  {}  {} ({}): {}",
            time(r.at),
            r.number,
            r.edit.name(),
            r.code,
            r.message
        );
    }
    out
}

/// `whoami`.
pub fn session_line(s: &crate::Session) -> String {
    let role = match s.role {
        Role::Technician => "technician",
        Role::Dispatcher => "dispatcher",
        Role::Admin => "admin",
    };
    format!(
        "{} ({}, {role}) on {}, device {}\n",
        s.username, s.display_name, s.server_url, s.device_id
    )
}

/// The audit trail, one entry a line, newest first.
pub fn audit_table(entries: &[fieldsync_proto::api::AuditEntry]) -> String {
    if entries.is_empty() {
        return "No audit entries match.\n".into();
    }
    let mut out = String::new();
    for e in entries {
        let who = e.username.as_deref().unwrap_or("-");
        let doc = e.number.as_deref().unwrap_or("-");
        let _ = writeln!(
            out,
            "{}  {:<17} {:<16} {:<12} {}",
            time(e.at),
            e.kind.as_str(),
            fit(who, 16),
            doc,
            e.detail
        );
    }
    out
}

/// Registered devices, one a line.
pub fn device_table(devices: &[fieldsync_proto::api::DeviceInfo]) -> String {
    if devices.is_empty() {
        return "No devices.\n".into();
    }
    let mut out = String::new();
    for d in devices {
        let state = match d.revoked_at {
            Some(at) => format!("revoked {}", time(at)),
            None => format!("last seen {}", time(d.last_seen)),
        };
        let _ = writeln!(
            out,
            "{}  {:<16} {:<28} {state}",
            d.id,
            fit(&d.username, 16),
            fit(&d.name, 28)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use fieldsync_proto::{CustomerTier, Priority, ProblemCategory, WorkOrderId};

    use super::*;

    const NOW: Timestamp = Timestamp(1_767_225_600_000); // 2026-01-01 00:00 UTC

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0), "<1m");
        assert_eq!(duration(45 * 60_000), "45m");
        assert_eq!(duration(3 * 3_600_000), "3h");
        assert_eq!(duration(3 * 3_600_000 + 20 * 60_000), "3h 20m");
        assert_eq!(duration(2 * 86_400_000 + 4 * 3_600_000 + 59_000), "2d 4h");
        assert_eq!(duration(86_400_000), "1d");
        assert_eq!(due_in(NOW.plus_minutes(90), NOW), "in 1h 30m");
        assert_eq!(due_in(NOW.plus_minutes(-15), NOW), "overdue 15m");
        assert_eq!(time(NOW), "2026-01-01 00:00 UTC");
    }

    fn row(number: &str, customer: &str, status: Status, due_minutes: i64) -> WorkOrderSummary {
        WorkOrderSummary {
            id: WorkOrderId::new(),
            number: number.into(),
            status,
            priority: Priority::P2,
            customer_name: customer.into(),
            tier: CustomerTier::Vip,
            region: "north".into(),
            category: ProblemCategory::Hardware,
            assignee: None,
            created_at: NOW,
            response_due: NOW,
            resolution_due: NOW.plus_minutes(due_minutes),
            schedule_start: None,
            conflicts: 0,
        }
    }

    #[test]
    fn tables_are_aligned() {
        let mut conflicted = row("WO-BBBB-2222", "Kiosk", Status::InProgress, -30);
        conflicted.conflicts = 1;
        let rows = vec![
            row(
                "WO-AAAA-1111",
                "Harbor Bakery and Coffee Roasters of the Old Town",
                Status::Assigned,
                200,
            ),
            conflicted,
            row("WO-CCCC-3333", "Dock 7", Status::Completed, 10),
        ];
        let text = work_order_table(&rows, NOW);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("NUMBER"));
        // Every column starts at the same character on every line.
        let at = |line: &str, col: usize| line.chars().skip(col).collect::<String>();
        let col = lines[0].find("STATUS").expect("status column");
        assert!(at(lines[1], col).starts_with("assigned "), "{text}");
        assert!(at(lines[2], col).starts_with("in progress (!)"), "{text}");
        let due_col = lines[0].find("DUE").expect("due column");
        assert_eq!(at(lines[1], due_col), "in 3h 20m", "{text}");
        assert_eq!(at(lines[2], due_col), "overdue 30m", "{text}");
        assert!(
            lines[3].ends_with('-'),
            "no due time for completed work: {text}"
        );
        assert!(
            lines[1].contains("Harbor Bakery and Coffee Roaste…"),
            "{text}"
        );
        assert!(work_order_table(&[], NOW).contains("fieldsync sync"));
    }

    #[test]
    fn sync_summaries_mention_refusals_only_when_there_are_some() {
        let report = SyncReport {
            rounds: 1,
            pushed_docs: 1,
            accepted_docs: 1,
            rejected_docs: 0,
            pulled_docs: 3,
            cursor: Default::default(),
            ..Default::default()
        };
        assert_eq!(
            sync_summary(&report),
            "Synced in 1 round: uploaded changes to 1 work order, received 3 updates.\n"
        );
        let refused = SyncReport {
            rejected_docs: 2,
            ..report
        };
        assert!(sync_summary(&refused).contains("refused changes to 2 work orders"));
        let idle = SyncReport {
            pushed_docs: 0,
            accepted_docs: 0,
            ..report
        };
        assert!(sync_summary(&idle).contains("nothing to upload"));
    }
}
