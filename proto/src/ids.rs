//! Identifier newtypes: one type per kind of id, so signatures say what they take.

use std::fmt;
use std::str::FromStr;

use autosurgeon::{Hydrate, Reconcile};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Error for an identifier that could not be parsed from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{input}' is not a valid {kind} (expected a UUID such as 0190f6a2-7c1e-7a3b-9c1d-1234567890ab)")]
pub struct IdParseError {
    pub kind: &'static str,
    pub input: String,
}

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $label:literal) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered (UUIDv7) id made on this device.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = IdParseError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| IdParseError {
                    kind: $label,
                    input: s.to_owned(),
                })
            }
        }

        // Stored in documents as the UUID's 16 bytes.
        impl Reconcile for $name {
            type Key<'a> = Uuid;

            fn reconcile<R: autosurgeon::Reconciler>(&self, reconciler: R) -> Result<(), R::Error> {
                self.0.reconcile(reconciler)
            }

            fn key(&self) -> autosurgeon::reconcile::LoadKey<Self::Key<'_>> {
                autosurgeon::reconcile::LoadKey::Found(self.0)
            }

            fn hydrate_key<'a, D: autosurgeon::ReadDoc>(
                doc: &D,
                obj: &automerge::ObjId,
                prop: autosurgeon::Prop<'_>,
            ) -> Result<autosurgeon::reconcile::LoadKey<Self::Key<'a>>, autosurgeon::ReconcileError> {
                <Uuid as Reconcile>::hydrate_key(doc, obj, prop)
            }
        }

        impl Hydrate for $name {
            fn hydrate_bytes(bytes: &[u8]) -> Result<Self, autosurgeon::HydrateError> {
                Uuid::hydrate_bytes(bytes).map(Self)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::openapi::uuid_schema($label)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}

        impl From<Uuid> for $name {
            fn from(u: Uuid) -> Self {
                Self(u)
            }
        }
    };
}

uuid_id!(
    /// A work order; also the id of the Automerge document that holds it.
    WorkOrderId,
    "work order id"
);
uuid_id!(
    /// A person who signs in: technician, dispatcher or admin.
    UserId,
    "user id"
);
uuid_id!(
    /// One registered device (a tablet, a CLI installation, the server console).
    DeviceId,
    "device id"
);
uuid_id!(
    /// A customer account.
    CustomerId,
    "customer id"
);
uuid_id!(
    /// An entry appended to a work order (status event, part usage, repair record), made on
    /// the device so that a retried upload can never count it twice.
    EntryId,
    "entry id"
);

/// Name of a part in the catalogue, e.g. `PUMP-200`.
pub type PartNumber = String;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = WorkOrderId::new();
        let parsed: WorkOrderId = id.to_string().parse().expect("parses");
        assert_eq!(id, parsed);
    }

    #[test]
    fn bad_id_names_the_kind() {
        let err = "nope".parse::<DeviceId>().expect_err("must be refused");
        assert!(err.to_string().contains("device id"), "{err}");
    }
}
