//! Demo data for `--demo`: accounts, customers, a parts catalogue and a few hundred work orders
//! in every state, made with the same document actions people use, spread over the last days
//! so that SLA clocks show every state. A seeded RNG makes it the same data every time
//! (relative to the moment of seeding).

mod data;

use fieldsync_proto::api::TechnicianProfile;
use fieldsync_proto::{
    followup_due_at, record_followup, Action, Actor, Asset, Contact, Customer, CustomerId,
    CustomerTier, DeviceId, EntryId, FollowUp, HoldReason, Impact, IntakeChannel, LocalChange,
    Measurement, MovementKind, NewFollowUp, NewPartUsage, NewRepairRecord, NewWorkOrder,
    ProblemCategory, Role, ScheduleWindow, Site, StockMovement, Timestamp, Urgency, UserId,
    WorkOrderDocument, WorkOrderId,
};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use crate::auth::password;
use crate::error::Error;
use crate::state::AppState;
use crate::storage::{DocumentCommit, NewChange, Part, SafetyLevel, User, UserRecord};

/// Password of every demo account (unless the admin's is given on the command line).
pub const DEMO_PASSWORD: &str = "demo";
const SEED: u64 = 0x0F1E_1D5C;
const TECHNICIANS: usize = 25;
const CUSTOMERS: usize = 60;
const WORK_ORDERS: usize = 300;
const SKILLS: [&str; 4] = ["hardware", "software", "installation", "consultation"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeedReport {
    pub users: usize,
    pub customers: usize,
    pub parts: usize,
    pub work_orders: usize,
}

/// How to sign in to the demo, for people.
pub fn login_hint(server_url: &str) -> String {
    format!(
        "Demo accounts (password '{DEMO_PASSWORD}'): technicians tech01 … tech{TECHNICIANS:02}, \
         dispatchers dispatch1 and dispatch2, and admin.\n\
         Try:\n  fieldsync login --server {server_url} --user tech01 --password {DEMO_PASSWORD}\n  \
         fieldsync login --server {server_url} --user dispatch1 --password {DEMO_PASSWORD}\n  \
         fieldsync login --server {server_url} --user admin --password {DEMO_PASSWORD}  \
         (or the --admin-password given)"
    )
}

fn uuid(rng: &mut StdRng) -> Uuid {
    uuid::Builder::from_random_bytes(rng.gen()).into_uuid()
}

fn near(rng: &mut StdRng, center: f64, spread: f64) -> f64 {
    center + rng.gen_range(-spread..spread)
}

/// Someone in the demo, with the device their demo history was made on.
struct Person {
    user: User,
    device: DeviceId,
}

impl Person {
    fn actor(&self) -> Actor {
        Actor {
            user: self.user.id,
            role: self.user.role,
            device: self.device,
        }
    }
}

fn person(
    rng: &mut StdRng,
    username: &str,
    display_name: String,
    role: Role,
    profile: TechnicianProfile,
) -> Person {
    Person {
        user: User {
            id: UserId(uuid(rng)),
            username: username.to_owned(),
            display_name,
            role,
            profile,
        },
        device: DeviceId(uuid(rng)),
    }
}

fn people(rng: &mut StdRng) -> (Person, Vec<Person>, Vec<Person>) {
    let admin = person(
        rng,
        "admin",
        "Alex Admin".into(),
        Role::Admin,
        TechnicianProfile::default(),
    );
    let dispatchers = vec![
        person(
            rng,
            "dispatch1",
            "Miriam Hoffmann".into(),
            Role::Dispatcher,
            Default::default(),
        ),
        person(
            rng,
            "dispatch2",
            "Jonas Weber".into(),
            Role::Dispatcher,
            Default::default(),
        ),
    ];
    let technicians = (0..TECHNICIANS)
        .map(|i| {
            let (region, lat, lon) = data::REGIONS[i % data::REGIONS.len()];
            let mut skills = vec![SKILLS[i % SKILLS.len()].to_owned()];
            for skill in SKILLS {
                if !skills.iter().any(|s| s == skill) && rng.gen_bool(0.35) {
                    skills.push(skill.to_owned());
                }
            }
            let profile = TechnicianProfile {
                skills,
                region: region.to_owned(),
                latitude: near(rng, lat, 0.2),
                longitude: near(rng, lon, 0.3),
                senior: i % 3 == 0,
            };
            let name = format!(
                "{} {}",
                data::FIRST_NAMES[i % data::FIRST_NAMES.len()],
                data::LAST_NAMES[(i * 7 + 3) % data::LAST_NAMES.len()]
            );
            person(
                rng,
                &format!("tech{:02}", i + 1),
                name,
                Role::Technician,
                profile,
            )
        })
        .collect();
    (admin, dispatchers, technicians)
}

fn customers(rng: &mut StdRng) -> Vec<Customer> {
    (0..CUSTOMERS)
        .map(|i| {
            let tier = match i % 6 {
                0 => CustomerTier::Vip,
                1 | 2 => CustomerTier::Basic,
                _ => CustomerTier::Standard,
            };
            let word = data::BUSINESS_WORDS[i % data::BUSINESS_WORDS.len()];
            let kind = data::BUSINESS_KINDS
                [(i * 5 + i / data::BUSINESS_WORDS.len()) % data::BUSINESS_KINDS.len()];
            let (region, lat, lon) = data::REGIONS[rng.gen_range(0..data::REGIONS.len())];
            let first = data::FIRST_NAMES[rng.gen_range(0..data::FIRST_NAMES.len())];
            let last = data::LAST_NAMES[rng.gen_range(0..data::LAST_NAMES.len())];
            let street = data::STREETS[rng.gen_range(0..data::STREETS.len())];
            Customer {
                id: CustomerId(uuid(rng)),
                name: format!("{word} {kind}"),
                tier,
                site: Site {
                    address: format!("{street} {}", rng.gen_range(1..180)),
                    region: region.to_owned(),
                    latitude: near(rng, lat, 0.25),
                    longitude: near(rng, lon, 0.35),
                },
                contact: Contact {
                    name: format!("{first} {last}"),
                    phone: format!(
                        "+49 {} {:07}",
                        rng.gen_range(30..90),
                        rng.gen_range(0..10_000_000)
                    ),
                    email: format!(
                        "{}.{}@{}.example",
                        first.to_lowercase(),
                        last.to_lowercase(),
                        word.to_lowercase()
                    ),
                },
            }
        })
        .collect()
}

fn parts() -> Vec<Part> {
    data::PARTS
        .iter()
        .map(|&(number, name, category, price, safety)| Part {
            part_number: number.to_owned(),
            name: name.to_owned(),
            category: category.to_owned(),
            unit_price_cents: price,
            safety_stock: safety,
        })
        .collect()
}

/// Where a demo work order ends up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    New,
    Assigned,
    Accepted,
    Traveling,
    OnSite,
    InProgress,
    OnHold,
    Completed,
    Closed,
    Cancelled,
}

impl Target {
    /// Recent work is mostly open, older work mostly done.
    fn pick(rng: &mut StdRng, minutes_ago: i64) -> Self {
        use Target::*;
        let table: &[(Target, u32)] = if minutes_ago < 6 * 60 {
            &[
                (New, 25),
                (Assigned, 25),
                (Accepted, 15),
                (Traveling, 10),
                (OnSite, 8),
                (InProgress, 12),
                (OnHold, 3),
                (Cancelled, 2),
            ]
        } else {
            &[
                (New, 4),
                (Assigned, 9),
                (Accepted, 6),
                (Traveling, 3),
                (OnSite, 2),
                (InProgress, 14),
                (OnHold, 8),
                (Completed, 20),
                (Closed, 28),
                (Cancelled, 6),
            ]
        };
        let total: u32 = table.iter().map(|(_, w)| w).sum();
        let mut roll = rng.gen_range(0..total);
        for &(target, weight) in table {
            if roll < weight {
                return target;
            }
            roll -= weight;
        }
        New
    }
}

fn skill_for(category: ProblemCategory) -> &'static str {
    match category {
        ProblemCategory::Hardware => "hardware",
        ProblemCategory::Software => "software",
        ProblemCategory::Installation => "installation",
        ProblemCategory::Consultation | ProblemCategory::ServiceComplaint => "consultation",
    }
}

/// The technician a dispatcher would pick: right skill, same region, senior for VIPs,
/// relaxing those wishes in that order when nobody fits.
fn pick_technician<'a>(
    rng: &mut StdRng,
    technicians: &'a [Person],
    category: ProblemCategory,
    region: &str,
    vip: bool,
) -> &'a Person {
    let skill = skill_for(category);
    let fits = |p: &&Person, same_region: bool, senior: bool| {
        p.user.profile.skills.iter().any(|s| s == skill)
            && (!same_region || p.user.profile.region == region)
            && (!senior || p.user.profile.senior)
    };
    for (same_region, senior) in [(true, vip), (false, vip), (true, false), (false, false)] {
        let candidates: Vec<&Person> = technicians
            .iter()
            .filter(|p| fits(p, same_region, senior))
            .collect();
        if let Some(p) = candidates.choose(rng) {
            return p;
        }
    }
    &technicians[rng.gen_range(0..technicians.len())]
}

/// A clock that moves forward through a job's life without passing `now`.
struct JobClock {
    at: Timestamp,
    now: Timestamp,
}

impl JobClock {
    fn advance(&mut self, rng: &mut StdRng, steps_left: i64) -> Timestamp {
        let room = (self.now.millis() - self.at.millis()) / (steps_left.max(1) + 1);
        let gap = room.min(3 * 60 * 60 * 1000);
        if gap > 1 {
            self.at = self.at.plus_millis(rng.gen_range(gap / 5..gap));
        }
        self.at
    }
}

struct Cast<'a> {
    dispatchers: &'a [Person],
    technicians: &'a [Person],
    customers: &'a [Customer],
    now: Timestamp,
}

fn one_work_order(rng: &mut StdRng, cast: &Cast<'_>) -> Result<DocumentCommit, Error> {
    let now = cast.now;
    let minutes_ago = rng.gen_range(15..5 * 24 * 60);
    let created = now.plus_minutes(-minutes_ago);
    let id = WorkOrderId(
        uuid::Builder::from_unix_timestamp_millis(
            u64::try_from(created.millis()).unwrap_or(0),
            &rng.gen(),
        )
        .into_uuid(),
    );
    let customer = cast.customers[rng.gen_range(0..cast.customers.len())].clone();
    let (category_text, description) = data::PROBLEMS[rng.gen_range(0..data::PROBLEMS.len())];
    let category: ProblemCategory = category_text.parse().map_err(Error::internal)?;
    let models: Vec<&str> = data::ASSETS
        .iter()
        .filter(|(c, _)| *c == category_text)
        .map(|(_, m)| *m)
        .collect();
    let model = models.choose(rng).copied().unwrap_or("Combi oven CX-200");
    let urgency = match rng.gen_range(0..100) {
        0..15 => Urgency::Emergency,
        15..75 => Urgency::Normal,
        _ => Urgency::Minor,
    };
    let impact = match rng.gen_range(0..100) {
        0..10 => Impact::ManyCustomers,
        10..40 => Impact::OneSite,
        _ => Impact::OneUnit,
    };
    let target = Target::pick(rng, minutes_ago);
    let dispatcher = &cast.dispatchers[rng.gen_range(0..cast.dispatchers.len())];
    let tech = pick_technician(
        rng,
        cast.technicians,
        category,
        &customer.site.region,
        customer.tier == CustomerTier::Vip,
    );
    // Half the cancelled jobs were cancelled before anyone was assigned.
    let unassigned_cancel = target == Target::Cancelled && rng.gen_bool(0.5);
    let assigned = target != Target::New && !unassigned_cancel;
    let schedule = rng.gen_bool(0.4).then(|| {
        let start = created.plus_minutes(rng.gen_range(60..48 * 60));
        ScheduleWindow {
            start,
            end: start.plus_minutes(120),
        }
    });
    let channels = IntakeChannel::ALL;
    let intake = NewWorkOrder {
        channel: channels[rng.gen_range(0..channels.len())],
        asset: Asset {
            model: model.to_owned(),
            serial: format!("SN-{:06}", rng.gen_range(0..1_000_000)),
        },
        customer,
        category,
        urgency,
        impact,
        description: description.to_owned(),
        schedule,
        assignee: assigned.then_some(tech.user.id),
    };
    let office = dispatcher.actor();
    let field = tech.actor();
    let (mut doc, _, first) = WorkOrderDocument::create(id, intake, &office, created)
        .map_err(|e| Error::Internal(format!("demo work order: {e}")))?;
    let mut changes: Vec<LocalChange> = vec![first];
    let mut clock = JobClock { at: created, now };
    // At most this many actions follow the creation.
    let mut steps_left = 14;
    let mut act = |doc: &mut WorkOrderDocument, rng: &mut StdRng, action: Action, actor: &Actor| {
        steps_left -= 1;
        let at = clock.advance(rng, steps_left);
        doc.act(&action, actor, at)
            .map(|(_, change)| changes.push(change))
            .map_err(|e| Error::Internal(format!("demo {} failed: {e}", action.name())))
    };

    use Target::*;
    if target == Cancelled {
        let reason = if assigned {
            "Customer fixed it themselves"
        } else {
            "Duplicate of an earlier call"
        };
        act(
            &mut doc,
            rng,
            Action::Cancel {
                reason: reason.into(),
            },
            &office,
        )?;
    }
    let reached = |t: Target| -> bool {
        let order = [
            Accepted, Traveling, OnSite, InProgress, OnHold, Completed, Closed,
        ];
        let rank = |x: Target| order.iter().position(|o| *o == x);
        matches!((rank(target), rank(t)), (Some(a), Some(b)) if a >= b)
    };
    if reached(Accepted) {
        act(&mut doc, rng, Action::Accept, &field)?;
    }
    if reached(Traveling) {
        act(&mut doc, rng, Action::StartTravel, &field)?;
    }
    if reached(OnSite) {
        act(&mut doc, rng, Action::Arrive, &field)?;
    }
    if reached(InProgress) {
        act(&mut doc, rng, Action::StartWork, &field)?;
        for _ in 0..rng.gen_range(0..=2) {
            let (number, ..) = data::PARTS[rng.gen_range(0..data::PARTS.len())];
            let location = data::STOCK_LOCATIONS[rng.gen_range(0..data::STOCK_LOCATIONS.len())];
            let usage = NewPartUsage {
                part_number: number.to_owned(),
                quantity: rng.gen_range(1..=3),
                source_location: location.to_owned(),
                serial: rng
                    .gen_bool(0.3)
                    .then(|| format!("P{:08}", rng.gen_range(0..100_000_000))),
                refurbished: rng.gen_bool(0.2),
            };
            act(&mut doc, rng, Action::RecordPartUsage(usage), &field)?;
        }
        let measurements = (0..rng.gen_range(1..=3))
            .map(|_| {
                let (name, unit, typical, spread) =
                    data::MEASUREMENTS[rng.gen_range(0..data::MEASUREMENTS.len())];
                Measurement {
                    name: name.to_owned(),
                    value: (near(rng, typical, spread) * 10.0).round() / 10.0,
                    unit: unit.to_owned(),
                }
            })
            .collect();
        let record = NewRepairRecord {
            diagnosis: data::DIAGNOSES[rng.gen_range(0..data::DIAGNOSES.len())].to_owned(),
            action_taken: data::REPAIR_ACTIONS[rng.gen_range(0..data::REPAIR_ACTIONS.len())]
                .to_owned(),
            measurements,
        };
        act(&mut doc, rng, Action::AddRepairRecord(record), &field)?;
    }
    let hold = |rng: &mut StdRng| Action::Hold {
        reason: HoldReason::ALL[rng.gen_range(0..HoldReason::ALL.len())],
        note: Some("Waiting; see notes".into()),
    };
    if target == OnHold {
        let action = hold(rng);
        act(&mut doc, rng, action, &field)?;
    }
    if reached(Completed) {
        if rng.gen_bool(0.2) {
            let action = hold(rng);
            act(&mut doc, rng, action, &field)?;
            act(&mut doc, rng, Action::Resume, &field)?;
        }
        let complete = Action::Complete {
            resolution: data::RESOLUTIONS[rng.gen_range(0..data::RESOLUTIONS.len())].to_owned(),
            signed_by: rng.gen_bool(0.8).then(|| "Site manager".to_owned()),
            first_time_fix: rng.gen_bool(0.85),
        };
        act(&mut doc, rng, complete, &field)?;
    }
    if target == Closed {
        act(&mut doc, rng, Action::Close, &office)?;
    }
    if matches!(target, Accepted | InProgress | OnHold) && rng.gen_bool(0.3) {
        let notes = Action::EditNotes {
            text: "Customer asks to call 30 minutes before arrival.".into(),
        };
        act(&mut doc, rng, notes, &field)?;
    }

    let wo = doc
        .read_valid(id)
        .map_err(|e| Error::Internal(format!("demo work order is invalid: {e}")))?;
    let changes = changes
        .into_iter()
        .map(|c| NewChange {
            hash: c.hash,
            bytes: c.bytes,
        })
        .collect();
    Ok(DocumentCommit::new_import(&wo, doc.save(), changes, now))
}

/// Follow-up calls already made for about two thirds of the jobs completed more than 48 hours
/// ago, so that the dashboard has satisfaction and NPS and the follow-up list has the rest.
fn follow_ups(
    rng: &mut StdRng,
    commits: &[DocumentCommit],
    caller: UserId,
    now: Timestamp,
) -> Result<Vec<FollowUp>, Error> {
    let mut out = Vec::new();
    for c in commits {
        let wo = WorkOrderDocument::load(&c.snapshot)
            .and_then(|d| d.read())
            .map_err(|e| Error::Internal(format!("demo work order: {e}")))?;
        let Some(due) = followup_due_at(&wo).filter(|d| *d <= now) else {
            continue;
        };
        if !rng.gen_bool(0.65) {
            continue;
        }
        let happy = wo.completion.as_ref().is_some_and(|c| c.first_time_fix);
        let satisfaction: u8 = if happy {
            rng.gen_range(3..=5)
        } else {
            rng.gen_range(1..=4)
        };
        let nps: u8 = (satisfaction * 2)
            .saturating_sub(rng.gen_range(0..=2))
            .min(10);
        let comment = match satisfaction {
            5 => "Very quick, friendly technician.",
            4 => "Fixed, though the visit window was late.",
            3 => "OK, needed a second call to arrange.",
            _ => "Problem came back; not happy with the wait.",
        };
        let answers = NewFollowUp {
            satisfaction: Some(satisfaction),
            nps: Some(nps),
            comment: comment.to_owned(),
        };
        let at = due.plus_minutes(rng.gen_range(30..600)).min(now);
        let follow_up = record_followup(&wo, answers, caller, at)
            .map_err(|e| Error::Internal(format!("demo follow-up: {e}")))?;
        out.push(follow_up);
    }
    Ok(out)
}

/// The stock ledger before the jobs' usages: receipts at the warehouses, transfers to the vans,
/// a few count corrections; and safety levels from the catalogue (higher at warehouses). Some
/// vans end up below safety or negative through the jobs' usages, as they would.
fn stock(rng: &mut StdRng, by: UserId, now: Timestamp) -> (Vec<StockMovement>, Vec<SafetyLevel>) {
    let (warehouses, vans): (Vec<&str>, Vec<&str>) = data::STOCK_LOCATIONS
        .iter()
        .partition(|l| l.starts_with("WH-"));
    let mut movements = Vec::new();
    let mut safety = Vec::new();
    let mut entry = |rng: &mut StdRng,
                     kind: MovementKind,
                     part: &str,
                     location: &str,
                     quantity: i64,
                     days_ago: i64| {
        movements.push(StockMovement {
            id: EntryId(uuid(rng)),
            kind,
            part_number: part.to_owned(),
            location: location.to_owned(),
            quantity,
            at: now.plus_minutes(-days_ago * 24 * 60 - rng.gen_range(0..600)),
            by,
        });
    };
    for &(part, _, _, _, level) in data::PARTS {
        for &wh in &warehouses {
            let quantity = rng.gen_range(8..40);
            entry(rng, MovementKind::Receipt, part, wh, quantity, 12);
            safety.push(SafetyLevel {
                location: wh.to_owned(),
                part_number: part.to_owned(),
                level: level * 2,
            });
        }
        for &van in &vans {
            if !rng.gen_bool(0.4) {
                continue;
            }
            let from = warehouses[rng.gen_range(0..warehouses.len())];
            let kind = MovementKind::Transfer {
                from: from.to_owned(),
                to: van.to_owned(),
            };
            let quantity = rng.gen_range(1..=4);
            entry(rng, kind, part, from, quantity, 6);
            safety.push(SafetyLevel {
                location: van.to_owned(),
                part_number: part.to_owned(),
                level: (level / 3).max(1),
            });
        }
        if rng.gen_bool(0.15) {
            let wh = warehouses[rng.gen_range(0..warehouses.len())];
            let quantity = -rng.gen_range(1..=3);
            entry(rng, MovementKind::Adjustment, part, wh, quantity, 2);
        }
    }
    (movements, safety)
}

/// Fills an empty database with the demo. The caller checks that it is empty.
pub async fn seed(state: &AppState, admin_password: &str) -> Result<SeedReport, Error> {
    let mut rng = StdRng::seed_from_u64(SEED);
    let (admin, dispatchers, technicians) = people(&mut rng);
    let customers = customers(&mut rng);
    let now = Timestamp::now();

    // One hash for all the demo accounts: hashing is slow on purpose.
    let admin_password = admin_password.to_owned();
    let (demo_hash, admin_hash) = tokio::task::spawn_blocking(move || {
        let demo = password::hash(DEMO_PASSWORD)?;
        let admin = if admin_password == DEMO_PASSWORD {
            demo.clone()
        } else {
            password::hash(&admin_password)?
        };
        Ok::<_, Error>((demo, admin))
    })
    .await
    .map_err(Error::internal)??;

    let storage = state.storage();
    let everyone = std::iter::once((&admin, &admin_hash))
        .chain(dispatchers.iter().map(|p| (p, &demo_hash)))
        .chain(technicians.iter().map(|p| (p, &demo_hash)));
    let mut users = 0;
    for (p, hash) in everyone {
        storage
            .create_user(UserRecord {
                user: p.user.clone(),
                password_hash: hash.clone(),
                created_at: now,
            })
            .await?;
        users += 1;
    }
    let catalogue = parts();
    let part_count = catalogue.len();
    storage.upsert_parts(catalogue).await?;

    let customer_count = customers.len();
    let caller = dispatchers[0].user.id;
    let (commits, follow_ups) = tokio::task::spawn_blocking(move || {
        let cast = Cast {
            dispatchers: &dispatchers,
            technicians: &technicians,
            customers: &customers,
            now,
        };
        let commits = (0..WORK_ORDERS)
            .map(|_| one_work_order(&mut rng, &cast))
            .collect::<Result<Vec<_>, _>>()?;
        let follow_ups = follow_ups(&mut rng, &commits, caller, now)?;
        Ok::<_, Error>((commits, follow_ups))
    })
    .await
    .map_err(Error::internal)??;
    let work_orders = commits.len();
    storage.import(commits).await?;
    for f in follow_ups {
        storage.record_follow_up(f).await?;
    }
    let mut stock_rng = StdRng::seed_from_u64(SEED ^ 0x570C);
    let (movements, safety) = stock(&mut stock_rng, admin.user.id, now);
    storage.record_movements(movements, now).await?;
    for level in safety {
        storage.set_safety_level(level).await?;
    }
    Ok(SeedReport {
        users,
        customers: customer_count,
        parts: part_count,
        work_orders,
    })
}
