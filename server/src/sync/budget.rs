//! The pull budget: how many bytes of pull pages a server builds at once. A page holds the
//! snapshots it sends and then their encoding, so without a bound the memory of a server grows
//! with the number of devices syncing at the same moment; with one, the rest wait their turn.
//!
//! A pull reserves its page's byte limit (as the device asked for it, clamped to the server's)
//! once the page is about to hold snapshots or grows past `SMALL_PAGE_BYTES`, and gives it back
//! once its response is encoded. The many pulls that find only a few small changes never wait:
//! making them queue behind the big ones would stall every sync while a few devices download.

use fieldsync_proto::wire::PullLimits;
use tokio::sync::{Semaphore, SemaphorePermit};

use super::pull::SERVER_MAX_BYTES;

/// Page bytes being built at once by default: sixteen pages at the real client's 4 MiB limit.
pub const DEFAULT_PULL_BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// A page of at most this many bytes is built without a reservation.
pub const SMALL_PAGE_BYTES: usize = 64 * 1024;

/// The budget is counted in units of this many bytes.
const UNIT: usize = 1024;

/// Bytes of pull pages that may be built at once, shared by every request of a server.
#[derive(Debug)]
pub struct PullBudget {
    units: Semaphore,
    total: u32,
}

impl Default for PullBudget {
    fn default() -> Self {
        Self::new(DEFAULT_PULL_BUDGET_BYTES)
    }
}

impl PullBudget {
    /// A budget of `bytes`; never less than one page of the server's largest size, so that
    /// every pull can be served.
    pub fn new(bytes: usize) -> Self {
        let total = bytes.max(SERVER_MAX_BYTES as usize).div_ceil(UNIT);
        let total = u32::try_from(total).unwrap_or(u32::MAX);
        Self {
            units: Semaphore::new(total as usize),
            total,
        }
    }

    /// Units a pull with `limits` reserves.
    fn cost(&self, limits: PullLimits) -> u32 {
        let bytes = limits.max_bytes.clamp(1, SERVER_MAX_BYTES) as usize;
        (bytes.div_ceil(UNIT) as u32).min(self.total)
    }

    /// Waits until a page of `limits` fits, first come first served; the page's share comes
    /// back when the returned reservation is dropped.
    pub async fn reserve(&self, limits: PullLimits) -> SemaphorePermit<'_> {
        match self.units.acquire_many(self.cost(limits)).await {
            Ok(permit) => permit,
            // The semaphore is never closed.
            Err(_) => unreachable!("the pull budget is never closed"),
        }
    }
}

/// One pull's share of the budget: none until the pull asks for it, then the whole page's.
/// Taken at most once, so that no pull waits for more while holding some (which could leave
/// every pull waiting for the others).
#[derive(Debug)]
pub struct PageReservation<'a> {
    budget: &'a PullBudget,
    held: Option<SemaphorePermit<'a>>,
}

impl<'a> PageReservation<'a> {
    pub fn new(budget: &'a PullBudget) -> Self {
        Self { budget, held: None }
    }

    /// Waits for the page's share of the budget, unless it is held already.
    pub async fn hold(&mut self, limits: PullLimits) {
        if self.held.is_none() {
            self.held = Some(self.budget.reserve(limits).await);
        }
    }

    pub fn is_held(&self) -> bool {
        self.held.is_some()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn limits(max_bytes: u32) -> PullLimits {
        PullLimits {
            max_docs: 100,
            max_bytes,
        }
    }

    #[tokio::test]
    async fn pulls_wait_while_the_pages_in_flight_use_the_budget() {
        let budget = PullBudget::new(2 * SERVER_MAX_BYTES as usize);
        let first = budget.reserve(limits(SERVER_MAX_BYTES)).await;
        // Asking for more than the server's maximum costs only the maximum.
        let second = budget.reserve(limits(u32::MAX)).await;
        let third = tokio::time::timeout(Duration::from_millis(50), budget.reserve(limits(1)));
        assert!(third.await.is_err(), "the budget is spent");
        drop(first);
        let small = tokio::time::timeout(Duration::from_secs(5), budget.reserve(limits(1)))
            .await
            .expect("room again once a page is done");
        drop((second, small));
        assert_eq!(budget.units.available_permits(), budget.total as usize);
    }

    #[tokio::test]
    async fn a_page_reservation_is_taken_once_and_given_back_on_drop() {
        let budget = PullBudget::new(SERVER_MAX_BYTES as usize);
        let mut page = PageReservation::new(&budget);
        assert!(!page.is_held());
        page.hold(limits(1024)).await;
        page.hold(limits(1024)).await;
        assert!(page.is_held());
        assert_eq!(
            budget.units.available_permits(),
            budget.total as usize - 1,
            "one unit, taken once"
        );
        drop(page);
        assert_eq!(budget.units.available_permits(), budget.total as usize);
    }

    #[tokio::test]
    async fn a_budget_smaller_than_one_page_still_serves_the_largest_page() {
        let budget = PullBudget::new(1);
        let permit = tokio::time::timeout(
            Duration::from_secs(5),
            budget.reserve(limits(SERVER_MAX_BYTES)),
        )
        .await
        .expect("one page always fits");
        drop(permit);
    }
}
