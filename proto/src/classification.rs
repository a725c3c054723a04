//! How a work order is classified at intake: channel, problem category, urgency, impact scope,
//! customer tier, and the roles people act in.

use crate::vocab::word_enum;

word_enum!(
    /// Where the request came in.
    IntakeChannel, "intake channel" {
        Phone => "phone",
        Web => "web",
        App => "app",
        Email => "email",
        Visit => "visit",
    }
);

word_enum!(
    /// What kind of problem the customer reported.
    ProblemCategory, "problem category" {
        Hardware => "hardware",
        Software => "software",
        Installation => "installation",
        Consultation => "consultation",
        ServiceComplaint => "service_complaint",
    }
);

word_enum!(
    /// How urgent the customer's problem is.
    Urgency, "urgency" {
        Emergency => "emergency",
        Normal => "normal",
        Minor => "minor",
    }
);

word_enum!(
    /// How far the problem reaches.
    Impact, "impact" {
        ManyCustomers => "many_customers",
        OneSite => "one_site",
        OneUnit => "one_unit",
    }
);

word_enum!(
    /// The customer's service tier.
    CustomerTier, "customer tier" {
        Vip => "vip",
        Standard => "standard",
        Basic => "basic",
    }
);

word_enum!(
    /// The role a user acts in; it decides which fields they own.
    Role, "role" {
        Technician => "technician",
        Dispatcher => "dispatcher",
        Admin => "admin",
    }
);

impl Role {
    /// Dispatchers and admins run the office side of a work order.
    pub fn is_office(self) -> bool {
        matches!(self, Role::Dispatcher | Role::Admin)
    }
}

word_enum!(
    /// Why work is paused.
    HoldReason, "hold reason" {
        WaitingForParts => "waiting_for_parts",
        CustomerAbsent => "customer_absent",
        CustomerRequest => "customer_request",
    }
);

impl HoldReason {
    /// Holds caused by the customer pause the SLA clocks; waiting for our own parts does not.
    pub fn pauses_sla(self) -> bool {
        matches!(
            self,
            HoldReason::CustomerAbsent | HoldReason::CustomerRequest
        )
    }
}
