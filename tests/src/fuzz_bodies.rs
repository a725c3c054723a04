//! What each fuzz target in `fuzz/` does with its input, shared with the corpus regression
//! test so that every crasher the fuzzers ever found runs in CI. Each function takes arbitrary
//! bytes and must return without panicking; wrong input is refused, never trusted.

use std::sync::OnceLock;

use fieldsync_proto::api::{LoginRequest, NewUser};
use fieldsync_proto::wire::{self, ChangeBytes, SyncRequest, SyncResponse};
use fieldsync_proto::{
    Action, Actor, DeviceId, NewWorkOrder, Role, Timestamp, UserId, WorkOrderDocument, WorkOrderId,
    WorkOrderSummary,
};
use fieldsync_server::storage::{Seq, StoredDocument};
use fieldsync_server::sync::push::{plan_push, Access};

/// Protocol frames: decoding never panics, and what decodes encodes back to the same value.
pub fn wire_decode(data: &[u8]) {
    if let Ok(request) = wire::decode::<SyncRequest>(data) {
        let again: SyncRequest =
            wire::decode(&wire::encode(&request)).expect("a decoded request encodes back");
        assert_eq!(again, request);
    }
    if let Ok(response) = wire::decode::<SyncResponse>(data) {
        let again: SyncResponse =
            wire::decode(&wire::encode(&response)).expect("a decoded response encodes back");
        assert_eq!(again, response);
    }
}

struct Fixture {
    id: WorkOrderId,
    stored: StoredDocument,
    technician: Actor,
    office: Actor,
    /// A valid next change by the technician (accepting the job).
    accept: Vec<u8>,
    now: Timestamp,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let now = Timestamp(1_760_000_000_000);
        let technician = Actor {
            user: UserId::new(),
            role: Role::Technician,
            device: DeviceId::new(),
        };
        let office = Actor {
            user: UserId::new(),
            role: Role::Dispatcher,
            device: DeviceId::new(),
        };
        let id = WorkOrderId::new();
        let (mut doc, wo, _) =
            WorkOrderDocument::create(id, crate::intake(Some(technician.user)), &office, now)
                .expect("fixture work order");
        let snapshot = doc.save();
        let (_, accept) = doc
            .act(&Action::Accept, &technician, now.plus_minutes(5))
            .expect("fixture change");
        Fixture {
            id,
            stored: StoredDocument {
                id,
                snapshot,
                version: Seq(1),
                summary: WorkOrderSummary::new(&wo, now),
            },
            technician,
            office,
            accept: accept.bytes,
            now,
        }
    })
}

/// Splits `data` into chunks, each prefixed by a one-byte length.
fn chunks(data: &[u8]) -> Vec<ChangeBytes> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        out.push(ChangeBytes(tail[..len].to_vec()));
        rest = &tail[len..];
        if out.len() == 16 {
            break;
        }
    }
    out
}

/// The server's check of pushed changes: arbitrary bytes, a valid change with flipped bytes,
/// or a valid change followed by garbage, pushed by a technician or the office, to a stored
/// work order or a new one. Planning never panics.
pub fn push_validation(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let changes = match mode % 3 {
        0 => chunks(rest),
        1 => {
            let mut change = f.accept.clone();
            for pair in rest.chunks_exact(3) {
                let at = usize::from(u16::from_le_bytes([pair[0], pair[1]])) % change.len();
                change[at] ^= pair[2];
            }
            vec![ChangeBytes(change)]
        }
        _ => vec![ChangeBytes(f.accept.clone()), ChangeBytes(rest.to_vec())],
    };
    let actor = if mode & 0x80 != 0 {
        &f.office
    } else {
        &f.technician
    };
    let stored = (mode & 0x40 == 0).then_some(&f.stored);
    let _ = plan_push(stored, Access::Granted, f.id, &changes, actor, f.now);
}

/// REST JSON bodies: parsed as every body type the API takes; what parses is then used as the
/// server would (a work order created, an action applied), which refuses bad values cleanly.
pub fn rest_json(data: &[u8]) {
    let f = fixture();
    if let Ok(new) = serde_json::from_slice::<NewWorkOrder>(data) {
        let _ = WorkOrderDocument::create(WorkOrderId::new(), new, &f.office, f.now);
    }
    if let Ok(action) = serde_json::from_slice::<Action>(data) {
        for actor in [&f.office, &f.technician] {
            let mut doc = WorkOrderDocument::load(&f.stored.snapshot).expect("fixture loads");
            if let Ok((wo, _)) = doc.act(&action, actor, f.now) {
                fieldsync_proto::validate(&wo)
                    .expect("an accepted action leaves a valid work order");
            }
        }
    }
    let _ = serde_json::from_slice::<LoginRequest>(data);
    let _ = serde_json::from_slice::<NewUser>(data);
}
