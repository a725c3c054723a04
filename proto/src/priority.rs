//! Priority is computed, never typed: urgency × impact, raised one level for VIP customers.

use serde::{Deserialize, Serialize};

use crate::classification::{CustomerTier, Impact, Urgency};

/// P1 is the most urgent. Ordered so that `P1 < P4`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Priority {
    P1,
    P2,
    P3,
    P4,
}

impl Priority {
    pub fn rank(self) -> u8 {
        match self {
            Priority::P1 => 1,
            Priority::P2 => 2,
            Priority::P3 => 3,
            Priority::P4 => 4,
        }
    }

    pub fn from_rank(rank: u8) -> Option<Self> {
        match rank {
            1 => Some(Priority::P1),
            2 => Some(Priority::P2),
            3 => Some(Priority::P3),
            4 => Some(Priority::P4),
            _ => None,
        }
    }

    fn raised(self) -> Self {
        Priority::from_rank(self.rank().saturating_sub(1).max(1)).unwrap_or(Priority::P1)
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "P{}", self.rank())
    }
}

/// The priority of a work order, from what the office classified.
pub fn priority(urgency: Urgency, impact: Impact, tier: CustomerTier) -> Priority {
    use Impact::*;
    use Priority::*;
    use Urgency::*;
    let base = match (urgency, impact) {
        (Emergency, ManyCustomers | OneSite) => P1,
        (Emergency, OneUnit) => P2,
        (Normal, ManyCustomers) => P2,
        (Normal, OneSite | OneUnit) => P3,
        (Minor, ManyCustomers) => P3,
        (Minor, OneSite | OneUnit) => P4,
    };
    match tier {
        CustomerTier::Vip => base.raised(),
        CustomerTier::Standard | CustomerTier::Basic => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CustomerTier::*;
    use Impact::*;
    use Priority::*;
    use Urgency::*;

    #[test]
    fn priority_table() {
        let table = [
            (Emergency, ManyCustomers, Standard, P1),
            (Emergency, OneSite, Standard, P1),
            (Emergency, OneUnit, Standard, P2),
            (Emergency, OneUnit, Vip, P1),
            (Emergency, ManyCustomers, Vip, P1),
            (Emergency, OneUnit, Basic, P2),
            (Normal, ManyCustomers, Standard, P2),
            (Normal, OneSite, Standard, P3),
            (Normal, OneUnit, Standard, P3),
            (Normal, OneUnit, Vip, P2),
            (Normal, ManyCustomers, Vip, P1),
            (Normal, OneSite, Basic, P3),
            (Minor, ManyCustomers, Standard, P3),
            (Minor, OneSite, Standard, P4),
            (Minor, OneUnit, Standard, P4),
            (Minor, OneUnit, Vip, P3),
            (Minor, ManyCustomers, Vip, P2),
            (Minor, OneUnit, Basic, P4),
        ];
        for (u, i, t, expected) in table {
            assert_eq!(priority(u, i, t), expected, "{u} × {i} for {t}");
        }
    }

    #[test]
    fn every_combination_has_a_priority_and_vip_is_never_lower() {
        for &u in Urgency::ALL {
            for &i in Impact::ALL {
                let std = priority(u, i, Standard);
                let vip = priority(u, i, Vip);
                assert!(vip <= std, "VIP must not rank below standard for {u}/{i}");
            }
        }
    }
}
