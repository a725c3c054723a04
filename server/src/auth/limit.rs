//! Login rate limiting, per account and per network address: token buckets in memory. Only
//! failed attempts spend a token, so people who type their password right are never slowed,
//! while guessing is held to a trickle. Limits are per server instance.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many failures a bucket absorbs at once, and how fast it refills.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BucketLimit {
    pub burst: u32,
    /// One more attempt is allowed after each such period.
    pub refill_every: Duration,
}

/// The limits of login attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failed attempts on one account (whatever address they come from).
    pub per_account: BucketLimit,
    /// Failed attempts from one address (whatever account they try).
    pub per_address: BucketLimit,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            per_account: BucketLimit {
                burst: 5,
                refill_every: Duration::from_secs(60),
            },
            per_address: BucketLimit {
                burst: 20,
                refill_every: Duration::from_secs(6),
            },
        }
    }
}

/// Most keys one table tracks; beyond it, buckets that are full again are forgotten first.
const MAX_TRACKED: usize = 50_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

struct Table<K> {
    limit: BucketLimit,
    buckets: Mutex<HashMap<K, Bucket>>,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new(limit: BucketLimit) -> Self {
        Self {
            limit,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let burst = f64::from(self.limit.burst);
        let period = self.limit.refill_every.as_secs_f64().max(f64::EPSILON);
        let gained = now.saturating_duration_since(bucket.at).as_secs_f64() / period;
        (bucket.tokens + gained).min(burst)
    }

    /// `Err(wait)` while the key has no attempt left.
    fn check(&self, key: &K, now: Instant) -> Result<(), Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let Some(bucket) = buckets.get(key) else {
            return Ok(());
        };
        let tokens = self.refilled(*bucket, now);
        if tokens >= 1.0 {
            return Ok(());
        }
        let missing = 1.0 - tokens;
        Err(self.limit.refill_every.mul_f64(missing))
    }

    fn spend(&self, key: &K, now: Instant) {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let tokens = match buckets.get(key) {
            Some(bucket) => self.refilled(*bucket, now),
            None => f64::from(self.limit.burst),
        };
        buckets.insert(
            key.clone(),
            Bucket {
                tokens: (tokens - 1.0).max(0.0),
                at: now,
            },
        );
        if buckets.len() > MAX_TRACKED {
            let burst = f64::from(self.limit.burst);
            buckets.retain(|_, b| self.refilled(*b, now) < burst);
            if buckets.len() > MAX_TRACKED {
                // A flood of distinct keys: keep the most limited half, which matters most.
                let mut tokens: Vec<f64> =
                    buckets.values().map(|b| self.refilled(*b, now)).collect();
                tokens.sort_by(f64::total_cmp);
                let cut = tokens[tokens.len() / 2];
                buckets.retain(|_, b| self.refilled(*b, now) < cut);
            }
        }
    }

    fn forget(&self, key: &K) {
        self.buckets
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }
}

/// Which limit refused an attempt, and how long to wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limited {
    pub per_account: bool,
    pub retry_after: Duration,
}

/// The login limiter of one server instance.
pub struct LoginLimiter {
    accounts: Table<String>,
    addresses: Table<IpAddr>,
}

impl std::fmt::Debug for LoginLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginLimiter").finish_non_exhaustive()
    }
}

fn account_key(username: &str) -> String {
    username.trim().to_lowercase()
}

impl LoginLimiter {
    pub fn new(limits: LoginLimits) -> Self {
        Self {
            accounts: Table::new(limits.per_account),
            addresses: Table::new(limits.per_address),
        }
    }

    /// Whether an attempt may be made now; asked before the password is checked.
    pub fn check(
        &self,
        username: &str,
        address: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), Limited> {
        if let Err(wait) = self.accounts.check(&account_key(username), now) {
            return Err(Limited {
                per_account: true,
                retry_after: wait,
            });
        }
        if let Some(address) = address {
            if let Err(wait) = self.addresses.check(&address, now) {
                return Err(Limited {
                    per_account: false,
                    retry_after: wait,
                });
            }
        }
        Ok(())
    }

    /// Records a failed attempt against the account and the address.
    pub fn failed(&self, username: &str, address: Option<IpAddr>, now: Instant) {
        self.accounts.spend(&account_key(username), now);
        if let Some(address) = address {
            self.addresses.spend(&address, now);
        }
    }

    /// A correct password clears the account's failures (not the address's).
    pub fn succeeded(&self, username: &str) {
        self.accounts.forget(&account_key(username));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter() -> LoginLimiter {
        LoginLimiter::new(LoginLimits {
            per_account: BucketLimit {
                burst: 3,
                refill_every: Duration::from_secs(60),
            },
            per_address: BucketLimit {
                burst: 5,
                refill_every: Duration::from_secs(10),
            },
        })
    }

    #[test]
    fn failures_use_up_the_account_then_refill() {
        let l = limiter();
        let t0 = Instant::now();
        let addr: IpAddr = [10, 0, 0, 1].into();
        for _ in 0..3 {
            assert!(l.check("Ann", Some(addr), t0).is_ok());
            l.failed("Ann", Some(addr), t0);
        }
        let refused = l.check("ann", Some(addr), t0).expect_err("limited");
        assert!(refused.per_account);
        assert_eq!(refused.retry_after, Duration::from_secs(60));
        assert!(
            l.check("bob", None, t0).is_ok(),
            "other accounts are not affected"
        );
        assert!(
            l.check("ann", None, t0 + Duration::from_secs(61)).is_ok(),
            "refilled"
        );
        l.succeeded("ANN");
        assert!(
            l.check("ann", None, t0).is_ok(),
            "success clears the account"
        );
    }

    #[test]
    fn one_address_cannot_spray_many_accounts() {
        let l = limiter();
        let t0 = Instant::now();
        let addr: IpAddr = [10, 0, 0, 2].into();
        for i in 0..5 {
            let name = format!("user{i}");
            assert!(l.check(&name, Some(addr), t0).is_ok());
            l.failed(&name, Some(addr), t0);
        }
        let refused = l
            .check("user9", Some(addr), t0)
            .expect_err("address limited");
        assert!(!refused.per_account);
        assert!(l.check("user9", Some([10, 0, 0, 3].into()), t0).is_ok());
        assert!(l
            .check("user9", Some(addr), t0 + Duration::from_secs(10))
            .is_ok());
    }
}
