//! Exponential backoff with jitter for retries against an unreachable server: each failure
//! doubles the wait up to a cap, and a random part spreads a fleet of devices out so that they
//! do not all come back at the same instant when the server does.

use std::time::Duration;

#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            failures: 0,
        }
    }

    /// Counts a failure and returns how long to wait before the next try. `jitter` is a random
    /// number in `[0, 1)`: the wait is between half the ceiling and the ceiling, never shorter,
    /// so an unreachable server is never hammered.
    pub fn fail(&mut self, jitter: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        delay(self.failures, self.min, self.max, jitter)
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }

    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// The wait after `failures` failures in a row.
fn delay(failures: u32, min: Duration, max: Duration, jitter: f64) -> Duration {
    let doublings = failures.saturating_sub(1).min(30);
    let ceiling = min.saturating_mul(1u32 << doublings).min(max);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    ceiling / 2 + ceiling.mul_f64(jitter) / 2
}

/// A random number in `[0, 1)` for `Backoff::fail`.
pub(crate) fn jitter() -> f64 {
    rand::random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(30);

    #[test]
    fn waits_double_up_to_the_cap() {
        let mut b = Backoff::new(MIN, MAX);
        let ceilings: Vec<Duration> = (0..10).map(|_| b.fail(0.999_999)).collect();
        assert!(ceilings[0] <= MIN && ceilings[0] > MIN / 2, "{ceilings:?}");
        for pair in ceilings.windows(2) {
            assert!(pair[1] >= pair[0], "never shrinks: {ceilings:?}");
        }
        assert!(ceilings[2] > Duration::from_millis(1900), "{ceilings:?}");
        assert!(*ceilings.last().expect("some") <= MAX, "{ceilings:?}");
        assert!(*ceilings.last().expect("some") > MAX - Duration::from_millis(1));
        assert_eq!(b.failures(), 10);
        for _ in 0..100 {
            assert!(b.fail(0.7) <= MAX, "a long outage stays capped");
        }
        b.reset();
        assert!(b.fail(0.0) == MIN / 2, "back to the shortest wait");
    }

    #[test]
    fn jitter_spreads_within_half_the_ceiling() {
        let four = MIN * 4;
        assert_eq!(delay(3, MIN, MAX, 0.0), four / 2);
        assert_eq!(delay(3, MIN, MAX, 1.0), four);
        assert_eq!(delay(3, MIN, MAX, f64::NAN), four / 2 + four / 4);
        let spread: Vec<Duration> = (0..50).map(|_| delay(3, MIN, MAX, jitter())).collect();
        assert!(spread.iter().all(|d| *d >= four / 2 && *d <= four));
        assert!(spread.iter().any(|d| *d != spread[0]), "random: {spread:?}");
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        assert_eq!(delay(u32::MAX, MIN, MAX, 1.0), MAX);
        let mut b = Backoff::new(MAX, MIN);
        assert_eq!(b.fail(1.0), MAX, "a cap below the minimum is raised to it");
    }
}
