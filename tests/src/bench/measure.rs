//! Measuring helpers: percentiles of timed samples and the memory of a process from /proc.

use std::time::Duration;

/// The `p` quantile (0..=1) of `samples`, nearest rank; zero for no samples.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    if samples.is_empty() {
        return Duration::ZERO;
    }
    samples.sort_unstable();
    let rank = ((samples.len() as f64) * p).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Resident memory of a process now and at its peak, in MB (`VmRSS`, `VmHWM`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_mb: f64,
    pub peak_mb: f64,
}

pub fn memory_of(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| -> f64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    };
    Ok(Memory {
        rss_mb: field("VmRSS:"),
        peak_mb: field("VmHWM:"),
    })
}

/// Memory of this process.
pub fn own_memory() -> anyhow::Result<Memory> {
    memory_of(std::process::id())
}
