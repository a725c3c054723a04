//! Figures and how they are shown: a table for people, then one JSON line per figure
//! (`{"scenario","value","unit","target"}`) for machines.

use serde::Serialize;

/// Unit of a figure; lower is better unless it counts per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Ms,
    Bytes,
    Megabytes,
    PerSecond,
}

impl Unit {
    pub fn label(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Bytes => "bytes",
            Unit::Megabytes => "MB",
            Unit::PerSecond => "syncs/s",
        }
    }

    pub fn higher_is_better(self) -> bool {
        self == Unit::PerSecond
    }
}

/// One measured figure and its target.
#[derive(Clone, Debug)]
pub struct Figure {
    pub scenario: String,
    pub value: f64,
    pub unit: Unit,
    pub target: f64,
    /// What was measured, for the table.
    pub note: String,
}

impl Figure {
    pub fn new(
        scenario: &str,
        value: f64,
        unit: Unit,
        target: f64,
        note: impl Into<String>,
    ) -> Self {
        Figure {
            scenario: scenario.to_owned(),
            value,
            unit,
            target,
            note: note.into(),
        }
    }

    pub fn met(&self) -> bool {
        if self.unit.higher_is_better() {
            self.value >= self.target
        } else {
            self.value <= self.target
        }
    }

    pub fn json(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            scenario: &'a str,
            value: f64,
            unit: &'a str,
            target: f64,
        }
        serde_json::to_string(&Line {
            scenario: &self.scenario,
            value: round(self.value),
            unit: self.unit.label(),
            target: self.target,
        })
        .unwrap_or_default()
    }
}

fn round(v: f64) -> f64 {
    if v.abs() >= 100.0 {
        v.round()
    } else {
        (v * 100.0).round() / 100.0
    }
}

/// A row of the table: a figure, a skip, or a failure.
pub enum Row {
    Figure(Figure),
    Skipped { scenario: String, reason: String },
    Failed { scenario: String, error: String },
}

pub fn print_table(rows: &[Row]) {
    println!();
    println!(
        "{:<26} {:>12} {:<8} {:>10}  {:<7} note",
        "scenario", "value", "unit", "target", "result"
    );
    println!("{}", "-".repeat(96));
    for row in rows {
        match row {
            Row::Figure(f) => {
                let cmp = if f.unit.higher_is_better() {
                    ">="
                } else {
                    "<="
                };
                println!(
                    "{:<26} {:>12} {:<8} {:>10}  {:<7} {}",
                    f.scenario,
                    format_value(f.value),
                    f.unit.label(),
                    format!("{cmp} {}", format_value(f.target)),
                    if f.met() { "met" } else { "MISSED" },
                    f.note
                );
            }
            Row::Skipped { scenario, reason } => {
                println!(
                    "{scenario:<26} {:>12} {:<8} {:>10}  {:<7} {reason}",
                    "-", "", "", "skipped"
                );
            }
            Row::Failed { scenario, error } => {
                println!(
                    "{scenario:<26} {:>12} {:<8} {:>10}  {:<7} {error}",
                    "-", "", "", "ERROR"
                );
            }
        }
    }
    println!();
}

fn format_value(v: f64) -> String {
    if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
