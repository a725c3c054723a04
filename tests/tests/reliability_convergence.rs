//! Convergence property: three to five replicas (dispatcher devices and technicians' tablets,
//! each a real client store) do random sequences of every domain action against a real server,
//! syncing in random order through a proxy that drops, cuts, duplicates and resets requests.
//! After a final full sync every replica holds the same document (same Automerge heads as the
//! server), the same derived values (status, priority, conflicts, SLA inputs, stock), and every
//! action that returned is in the document exactly once, or listed as refused on its device.
//!
//! Cases: `FIELDSYNC_PROPTEST_CASES` (default 160). A failing case is shrunk, printed, and its
//! seed saved in `reliability_convergence.proptest-regressions` beside this file, where every
//! later run replays it first.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::time::Duration;

use fieldsync_client::{Client, Error as ClientError};
use fieldsync_proto::{
    derive_stock, usages_from_work_order, Action, ChangeHash, EntryId, HoldReason, Impact,
    NewPartUsage, NewRepairRecord, ProblemCategory, Role, ScheduleWindow, Timestamp, Urgency,
    UserId, WorkOrder, WorkOrderId, WorkOrderView,
};
use fieldsync_tests::fault_proxy::{Fault, FaultProxy};
use fieldsync_tests::inspect::{device_document, server_document};
use fieldsync_tests::{intake, Device, TestServer};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, TestCaseError, TestRunner};

const DEFAULT_CASES: u32 = 160;

/// The replicas, in the order a case takes them: a case with `n` replicas uses the first `n`.
const REPLICAS: [(&str, &str); 5] = [
    ("office", "dispatch"),
    ("tech-a", "tech-a"),
    ("tech-b", "tech-b"),
    ("office-2", "dispatch"),
    ("tech-c", "tech-c"),
];

/// What one step of a case does.
#[derive(Clone, Debug)]
enum Step {
    /// Replica `who` does operation `op` (interpreted by its role) on work order `wo`.
    Act { who: u8, wo: u8, op: u8, arg: u8 },
    /// Replica `who` syncs; its first request meets `fault`.
    Sync { who: u8, fault: FaultChoice },
    /// Two replicas sync at the same time.
    SyncTogether { a: u8, b: u8 },
}

#[derive(Clone, Copy, Debug)]
enum FaultChoice {
    Pass,
    DropResponse,
    CutRequest(u16),
    CutResponse(u16),
    Reset,
    Duplicate,
    /// The request is replayed a little later, after newer ones.
    ReplayLate,
    Delay,
}

impl FaultChoice {
    fn fault(self) -> Fault {
        match self {
            FaultChoice::Pass => Fault::Pass,
            FaultChoice::DropResponse => Fault::DropResponse,
            FaultChoice::CutRequest(n) => Fault::CutRequest(usize::from(n)),
            FaultChoice::CutResponse(n) => Fault::CutResponse(usize::from(n)),
            FaultChoice::Reset => Fault::Reset,
            FaultChoice::Duplicate => Fault::Duplicate {
                after: Duration::ZERO,
            },
            FaultChoice::ReplayLate => Fault::Duplicate {
                after: Duration::from_millis(30),
            },
            FaultChoice::Delay => Fault::Delay(Duration::from_millis(5)),
        }
    }
}

#[derive(Clone, Debug)]
struct Script {
    replicas: usize,
    /// Initial assignee of each work order (index into the technicians of the case).
    work_orders: Vec<u8>,
    steps: Vec<Step>,
}

fn fault_choice() -> impl Strategy<Value = FaultChoice> {
    prop_oneof![
        6 => Just(FaultChoice::Pass),
        2 => Just(FaultChoice::DropResponse),
        1 => (0u16..1500).prop_map(FaultChoice::CutRequest),
        1 => (0u16..1500).prop_map(FaultChoice::CutResponse),
        1 => Just(FaultChoice::Reset),
        1 => Just(FaultChoice::Duplicate),
        1 => Just(FaultChoice::ReplayLate),
        1 => Just(FaultChoice::Delay),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => (0u8..5, 0u8..2, 0u8..10, any::<u8>())
            .prop_map(|(who, wo, op, arg)| Step::Act { who, wo, op, arg }),
        3 => (0u8..5, fault_choice()).prop_map(|(who, fault)| Step::Sync { who, fault }),
        1 => (0u8..5, 0u8..5).prop_map(|(a, b)| Step::SyncTogether { a, b }),
    ]
}

fn script() -> impl Strategy<Value = Script> {
    (
        3usize..=5,
        prop::collection::vec(0u8..3, 1..=2),
        prop::collection::vec(step(), 4..48),
    )
        .prop_map(|(replicas, work_orders, steps)| Script {
            replicas,
            work_orders,
            steps,
        })
}

struct Replica {
    name: &'static str,
    user: UserId,
    role: Role,
    device: Device,
}

impl Replica {
    fn client(&self) -> &Client {
        &self.device.client
    }
}

struct World {
    server: TestServer,
    proxy: FaultProxy,
    replicas: Vec<Replica>,
    /// Technicians in replica order: tech-a, tech-b, tech-c.
    techs: Vec<UserId>,
    case: u64,
    stats: Stats,
}

/// What the cases did, reported at the end so that a run that tested nothing shows.
#[derive(Debug, Default)]
struct Stats {
    actions_returned: Cell<u64>,
    actions_refused_locally: Cell<u64>,
    refused_by_server: Cell<u64>,
    conflicts_flagged: Cell<u64>,
    reassigned_away: Cell<u64>,
    finished: Cell<u64>,
}

fn bump(counter: &Cell<u64>, by: u64) {
    counter.set(counter.get() + by);
}

impl World {
    async fn new() -> World {
        let server = TestServer::start().await;
        let tech_c = server.add_user("tech-c", Role::Technician).await;
        let proxy = FaultProxy::start(server.server.addr())
            .await
            .expect("proxy starts");
        let mut replicas = Vec::new();
        for (name, username) in REPLICAS {
            let device = server.device(username).await;
            device
                .client
                .set_server_url(&proxy.url())
                .expect("point at the proxy");
            let session = device.client.session().expect("session").expect("in");
            replicas.push(Replica {
                name,
                user: session.user_id,
                role: session.role,
                device,
            });
        }
        let techs = vec![server.tech_a, server.tech_b, tech_c];
        World {
            server,
            proxy,
            replicas,
            techs,
            case: 0,
            stats: Stats::default(),
        }
    }
}

/// An action that returned: what it left in the document, to find exactly once at the end.
#[derive(Debug)]
struct Done {
    who: usize,
    wo: WorkOrderId,
    action: &'static str,
    mark: Mark,
}

#[derive(Debug)]
enum Mark {
    /// An appended entry: its id, and what it says (for an edit the device made again, with a
    /// new id, after an earlier edit of the same job was refused).
    Entry(EntryId, String),
    NoteToken(String),
}

/// The appended entries of a work order with what each says: kind, content and device time.
fn entries(
    status: &[fieldsync_proto::StatusEvent],
    parts: &[fieldsync_proto::PartUsage],
    repairs: &[fieldsync_proto::RepairRecord],
) -> Vec<(EntryId, String)> {
    status
        .iter()
        .map(|e| {
            (
                e.id,
                format!("status {} {} {}", e.status, e.by, e.at.millis()),
            )
        })
        .chain(parts.iter().map(|p| {
            (
                p.id,
                format!(
                    "part {} {} {} {}",
                    p.part_number,
                    p.quantity,
                    p.by,
                    p.at.millis()
                ),
            )
        }))
        .chain(repairs.iter().map(|r| {
            (
                r.id,
                format!("repair {} {} {}", r.diagnosis, r.by, r.at.millis()),
            )
        }))
        .collect()
}

type CaseResult = Result<(), TestCaseError>;

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

/// The action a replica's `op` stands for: field work for technicians, office work otherwise.
fn action_for(
    world: &World,
    r: &Replica,
    current: &WorkOrderView,
    op: u8,
    arg: u8,
    token: &str,
) -> Action {
    if r.role == Role::Technician {
        use fieldsync_proto::Status::*;
        match op {
            // The next step of the normal flow from where this tablet sees the job.
            0..=3 => match current.status {
                Accepted => Action::StartTravel,
                Traveling => Action::Arrive,
                OnSite => Action::StartWork,
                InProgress if arg.is_multiple_of(3) => Action::Complete {
                    resolution: format!("fixed {token}"),
                    signed_by: None,
                    first_time_fix: true,
                },
                OnHold => Action::Resume,
                _ => Action::Accept,
            },
            4 => {
                if current.status == fieldsync_proto::Status::OnHold {
                    Action::Resume
                } else {
                    Action::Hold {
                        reason: if arg.is_multiple_of(2) {
                            HoldReason::WaitingForParts
                        } else {
                            HoldReason::CustomerRequest
                        },
                        note: None,
                    }
                }
            }
            5 => Action::RecordPartUsage(NewPartUsage {
                part_number: format!("PART-{}", arg % 4),
                quantity: i64::from(arg % 3) + 1,
                source_location: format!("VAN-{}", arg % 2),
                serial: None,
                refurbished: arg.is_multiple_of(5),
            }),
            6 => Action::AddRepairRecord(NewRepairRecord {
                diagnosis: format!("diagnosis {token}"),
                action_taken: "replaced the worn part".into(),
                measurements: vec![],
            }),
            7 | 8 => Action::EditNotes {
                text: format!("{} {token}", current.notes).trim().to_owned(),
            },
            _ => Action::Complete {
                resolution: format!("fixed {token}"),
                signed_by: None,
                first_time_fix: arg.is_multiple_of(2),
            },
        }
    } else {
        match op % 5 {
            0 if arg.is_multiple_of(2) => Action::Assign {
                technician: world.techs[usize::from(arg / 2) % world.techs.len()],
            },
            0 | 1 => Action::Close,
            2 => Action::Classify {
                category: ProblemCategory::Hardware,
                urgency: [Urgency::Emergency, Urgency::Normal, Urgency::Minor]
                    [usize::from(arg % 3)],
                impact: [Impact::ManyCustomers, Impact::OneSite, Impact::OneUnit]
                    [usize::from(arg / 3 % 3)],
                tier: None,
            },
            3 => {
                if arg.is_multiple_of(2) {
                    Action::Cancel {
                        reason: "customer withdrew".into(),
                    }
                } else {
                    let start = Timestamp::now().plus_minutes(i64::from(arg) * 10);
                    Action::Reschedule {
                        window: Some(ScheduleWindow {
                            start,
                            end: start.plus_minutes(90),
                        }),
                    }
                }
            }
            _ => Action::Reschedule { window: None },
        }
    }
}

/// Entries in `after` that are not in `before`.
fn new_entries(before: &WorkOrderView, after: &WorkOrderView) -> Vec<(EntryId, String)> {
    let old = entries(
        &before.status_events,
        &before.part_usages,
        &before.repair_records,
    );
    entries(
        &after.status_events,
        &after.part_usages,
        &after.repair_records,
    )
    .into_iter()
    .filter(|(id, _)| !old.iter().any(|(o, _)| o == id))
    .collect()
}

async fn act(
    world: &World,
    who: usize,
    wo: WorkOrderId,
    op: u8,
    arg: u8,
    done: &mut Vec<Done>,
) -> CaseResult {
    let r = &world.replicas[who];
    let before = match r.client().get(wo) {
        Ok(view) => view,
        // The job left this tablet (reassigned): nothing to do.
        Err(ClientError::NotFound { .. }) => return Ok(()),
        Err(e) => return Err(fail(format!("{}: reading {wo} failed: {e}", r.name))),
    };
    // Bracketed so that no token is part of another ("c1-2-1" is the start of "c1-2-10"), even
    // when concurrent note edits end up side by side without a space.
    let token = format!("[c{}-{}-{}]", world.case, who, done.len());
    let action = action_for(world, r, &before, op, arg, &token);
    let name = action.name();
    let is_notes = matches!(action, Action::EditNotes { .. });
    let result = r.client().act(wo, action);
    match result {
        Ok(after) => {
            bump(&world.stats.actions_returned, 1);
            if is_notes {
                done.push(Done {
                    who,
                    wo,
                    action: name,
                    mark: Mark::NoteToken(token),
                });
            }
            for (entry, what) in new_entries(&before, &after) {
                done.push(Done {
                    who,
                    wo,
                    action: name,
                    mark: Mark::Entry(entry, what),
                });
            }
            Ok(())
        }
        // Refused locally (wrong status, not assigned): a person would see the reason.
        Err(ClientError::Action(_)) => {
            bump(&world.stats.actions_refused_locally, 1);
            Ok(())
        }
        Err(e) => Err(fail(format!("{}: {name} on {wo} failed: {e}", r.name))),
    }
}

async fn sync_with_fault(world: &World, who: usize, fault: Fault) -> CaseResult {
    let r = &world.replicas[who];
    world.proxy.plan([fault]);
    let result = r.client().sync().await;
    world.proxy.clear_plan();
    match result {
        Ok(_) => Ok(()),
        Err(e) if fault != Fault::Pass && fault_error(&e) => Ok(()),
        Err(e) => Err(fail(format!("{}: sync with {fault:?} failed: {e}", r.name))),
    }
}

/// Errors a device may see when the network breaks under it.
fn fault_error(e: &ClientError) -> bool {
    e.is_retryable()
        || matches!(
            e,
            ClientError::Server { .. } | ClientError::Unauthorized { .. }
        )
}

/// Syncs every replica until a whole pass changes nothing.
async fn settle(world: &World, n: usize) -> CaseResult {
    world.proxy.clear_plan();
    for pass in 0..8 {
        let mut moved = false;
        for who in 0..n {
            let r = &world.replicas[who];
            let report =
                r.client().sync().await.map_err(|e| {
                    fail(format!("{}: final sync (pass {pass}) failed: {e}", r.name))
                })?;
            moved |= report.pulled_docs > 0 || report.pushed_docs > 0;
        }
        if !moved && pass > 0 {
            return Ok(());
        }
    }
    Err(fail("replicas did not settle after 8 sync passes".into()))
}

/// Document content and derived values, leaving out what moves with the clock between two
/// readings: the SLA clock states and, while a job is on hold, the paused time and the
/// resolution due time it extends. (`check` compares those too, at one instant.)
fn content(view: &WorkOrderView) -> serde_json::Value {
    let mut value = serde_json::to_value(view).expect("view serializes");
    if let Some(sla) = value.get_mut("sla").and_then(|s| s.as_object_mut()) {
        for moving in ["response", "resolution", "paused_millis", "resolution_due"] {
            sla.remove(moving);
        }
    }
    value
}

fn stock_of(wo: &WorkOrder) -> BTreeMap<(String, String), i64> {
    derive_stock(&usages_from_work_order(wo))
}

/// How often `mark` occurs in the document as stored (not de-duplicated).
fn occurrences(wo: &WorkOrder, mark: &Mark) -> usize {
    match mark {
        Mark::Entry(id, what) => {
            let all = entries(&wo.status_events, &wo.part_usages, &wo.repair_records);
            match all.iter().filter(|(e, _)| e == id).count() {
                // Made again with a new id: found by what it says.
                0 => all.iter().filter(|(_, w)| w == what).count().min(1),
                n => n,
            }
        }
        Mark::NoteToken(token) => wo.notes.as_str().matches(token.as_str()).count(),
    }
}

async fn check(world: &World, n: usize, ids: &[WorkOrderId], done: &[Done]) -> CaseResult {
    let now = Timestamp::now();
    for &id in ids {
        let mut server_doc = server_document(&world.server.server, id)
            .await
            .ok_or_else(|| fail(format!("the server lost {id}")))?;
        let server_heads: Vec<ChangeHash> = server_doc.heads();
        let server_wo = server_doc
            .read()
            .map_err(|e| fail(format!("server copy of {id} unreadable: {e}")))?;
        let mut ids_seen: Vec<EntryId> = entries(
            &server_wo.status_events,
            &server_wo.part_usages,
            &server_wo.repair_records,
        )
        .into_iter()
        .map(|(e, _)| e)
        .collect();
        let total = ids_seen.len();
        ids_seen.sort();
        ids_seen.dedup();
        prop_assert_eq!(ids_seen.len(), total, "{} holds an entry twice", id);
        let server_view = WorkOrderView::new(&server_wo, now);
        let expected = content(&server_view);
        let expected_stock = stock_of(&server_wo);
        for who in 0..n {
            let r = &world.replicas[who];
            let held = device_document(&r.device.store_path(), id);
            let must_hold = r.role != Role::Technician || server_wo.assignee == Some(r.user);
            let Some(mut doc) = held else {
                if must_hold {
                    return Err(fail(format!(
                        "{} does not hold {id} after the final sync",
                        r.name
                    )));
                }
                continue;
            };
            let heads = doc.heads();
            prop_assert_eq!(
                &heads,
                &server_heads,
                "{}: heads of {} differ from the server's",
                r.name,
                id
            );
            let wo = doc
                .read()
                .map_err(|e| fail(format!("{}: copy of {id} unreadable: {e}", r.name)))?;
            prop_assert_eq!(
                stock_of(&wo),
                expected_stock.clone(),
                "{}: stock of {}",
                r.name,
                id
            );
            // Every derived value, SLA clocks included, computed at the same instant.
            prop_assert_eq!(
                serde_json::to_value(WorkOrderView::new(&wo, now)).expect("view serializes"),
                serde_json::to_value(&server_view).expect("view serializes"),
                "{}: derived values of {}",
                r.name,
                id
            );
            let view = r
                .client()
                .get(id)
                .map_err(|e| fail(format!("{}: get {id}: {e}", r.name)))?;
            prop_assert_eq!(
                content(&view),
                expected.clone(),
                "{}: view of {}",
                r.name,
                id
            );
            let summary = r
                .client()
                .list(&Default::default())
                .map_err(|e| fail(format!("{}: list: {e}", r.name)))?
                .into_iter()
                .find(|s| s.id == id)
                .ok_or_else(|| fail(format!("{}: {id} missing from the index", r.name)))?;
            prop_assert_eq!(
                summary.status,
                server_view.status,
                "{}: indexed status of {}",
                r.name,
                id
            );
            prop_assert_eq!(
                summary.priority,
                server_view.priority,
                "{}: indexed priority of {}",
                r.name,
                id
            );
            prop_assert_eq!(
                summary.assignee,
                server_view.assignee,
                "{}: indexed assignee of {}",
                r.name,
                id
            );
            prop_assert_eq!(
                summary.conflicts as usize,
                server_view.conflicts.len(),
                "{}: indexed conflicts of {}",
                r.name,
                id
            );
        }
    }
    // Every action that returned is there exactly once, or its device lists it as refused.
    for d in done {
        let mut doc = server_document(&world.server.server, d.wo)
            .await
            .ok_or_else(|| fail(format!("the server lost {}", d.wo)))?;
        let _ = doc.heads();
        let wo = doc.read().map_err(|e| fail(e.to_string()))?;
        let count = occurrences(&wo, &d.mark);
        let r = &world.replicas[d.who];
        if count == 0 {
            let refused = r
                .client()
                .rejected_changes()
                .map_err(|e| fail(e.to_string()))?
                .iter()
                .any(|c| c.doc == d.wo && c.edit.name() == d.action);
            prop_assert!(
                refused,
                "{}: {} on {} was lost: {:?}",
                r.name,
                d.action,
                d.wo,
                d.mark
            );
        } else {
            prop_assert_eq!(
                count,
                1,
                "{}: {} on {} is doubled: {:?} (notes on the server: {:?})",
                r.name,
                d.action,
                d.wo,
                d.mark,
                wo.notes.as_str()
            );
        }
    }
    // Every device's outbox is empty.
    for r in &world.replicas[..n] {
        let pending = r
            .client()
            .pending_changes()
            .map_err(|e| fail(e.to_string()))?;
        prop_assert_eq!(pending, 0, "{} still has unsent changes", r.name);
    }
    Ok(())
}

async fn run_case(world: &mut World, script: &Script) -> CaseResult {
    world.case += 1;
    let n = script.replicas;
    settle(world, world.replicas.len()).await?;
    for r in &world.replicas {
        r.client()
            .clear_rejected_changes()
            .map_err(|e| fail(e.to_string()))?;
    }
    // The office creates the work orders, and everyone receives them.
    let mut ids = Vec::new();
    for &tech in &script.work_orders {
        let assignee = world.techs[usize::from(tech) % world.techs.len()];
        let view = world.replicas[0]
            .client()
            .create_work_order(intake(Some(assignee)))
            .map_err(|e| fail(format!("create: {e}")))?;
        ids.push(view.id);
    }
    settle(world, n).await?;

    let mut done = Vec::new();
    for step in &script.steps {
        match *step {
            Step::Act { who, wo, op, arg } => {
                let who = usize::from(who) % n;
                let wo = ids[usize::from(wo) % ids.len()];
                act(world, who, wo, op, arg, &mut done).await?;
            }
            Step::Sync { who, fault } => {
                sync_with_fault(world, usize::from(who) % n, fault.fault()).await?;
            }
            Step::SyncTogether { a, b } => {
                let (a, b) = (usize::from(a) % n, usize::from(b) % n);
                let (ra, rb) = (&world.replicas[a], &world.replicas[b]);
                let (x, y) = tokio::join!(ra.client().sync(), rb.client().sync());
                x.map_err(|e| fail(format!("{}: concurrent sync: {e}", ra.name)))?;
                y.map_err(|e| fail(format!("{}: concurrent sync: {e}", rb.name)))?;
            }
        }
    }
    // Late replays of old requests land before the final sync.
    tokio::time::sleep(Duration::from_millis(40)).await;
    settle(world, n).await?;
    check(world, n, &ids, &done).await?;
    for r in &world.replicas[..n] {
        let refused = r
            .client()
            .rejected_changes()
            .map_err(|e| fail(e.to_string()))?;
        bump(&world.stats.refused_by_server, refused.len() as u64);
    }
    for (&id, &first) in ids.iter().zip(&script.work_orders) {
        let view = world.replicas[0]
            .client()
            .get(id)
            .map_err(|e| fail(e.to_string()))?;
        bump(&world.stats.conflicts_flagged, view.conflicts.len() as u64);
        if view.assignee != Some(world.techs[usize::from(first) % world.techs.len()]) {
            bump(&world.stats.reassigned_away, 1);
        }
        if !view.status.is_open() {
            bump(&world.stats.finished, 1);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("FIELDSYNC_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

#[test]
fn replicas_converge_under_random_actions_syncs_and_faults() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let world = std::cell::RefCell::new(rt.block_on(World::new()));
    let config = Config {
        cases: cases(),
        max_shrink_iters: 200,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        source_file: Some(file!()),
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&script(), |script| {
        let mut world = world.borrow_mut();
        rt.block_on(run_case(&mut world, &script))
    });
    let world = world.into_inner();
    let s = &world.stats;
    eprintln!(
        "convergence: {} cases, {} requests through the proxy ({} duplicated); actions: {} returned, {} refused on the device, {} refused by the server; work orders: {} with conflicts flagged, {} reassigned, {} completed, closed or cancelled",
        world.case,
        world.proxy.requests(),
        world.proxy.replays(),
        s.actions_returned.get(),
        s.actions_refused_locally.get(),
        s.refused_by_server.get(),
        s.conflicts_flagged.get(),
        s.reassigned_away.get(),
        s.finished.get(),
    );
    rt.block_on(async move { drop(world) });
    if let Err(e) = result {
        panic!("{e}");
    }
}
