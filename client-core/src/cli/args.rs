//! The command line's grammar: global options and one subcommand per thing a technician or
//! dispatcher does, parsed by clap into typed values (statuses, urgencies… are checked here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use fieldsync_proto::{
    CustomerTier, HoldReason, Impact, IntakeChannel, ProblemCategory, Role, Status, Urgency,
};

use crate::query::ListOrder;

#[derive(Debug, Parser)]
#[command(
    name = "fieldsync",
    version,
    about = "Fieldsync from the terminal: your work orders, offline, synced when you say so"
)]
pub struct Cli {
    /// Directory of the local store [default: the platform data directory + /fieldsync].
    #[arg(long, env = "FIELDSYNC_STORE", global = true, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in to a server (needs the network once).
    Login(LoginArgs),
    /// Forget the session; local work orders and unsynced changes stay.
    Logout,
    /// Who is signed in on this store.
    Whoami,
    /// List work orders (open ones unless --all or --status).
    List(ListArgs),
    /// Everything about one work order.
    Show(WorkOrderArg),

    /// Accept an assigned job.
    Accept(WorkOrderArg),
    /// Start driving to the site.
    Travel(WorkOrderArg),
    /// Arrive on site.
    Arrive(WorkOrderArg),
    /// Start the work.
    Start(WorkOrderArg),
    /// Put the work on hold.
    Hold(HoldArgs),
    /// Resume work after a hold.
    Resume(WorkOrderArg),
    /// Record a part used on the job.
    Part(PartArgs),
    /// Record what you found and did.
    Repair(RepairArgs),
    /// Replace or extend the notes.
    Notes(NotesArgs),
    /// Complete the job.
    Complete(CompleteArgs),

    /// Create a work order (office).
    Create(Box<CreateArgs>),
    /// Change category, urgency and impact (office).
    Classify(ClassifyArgs),
    /// Assign to a technician (office).
    Assign(AssignArgs),
    /// Set or clear the visit window (office).
    Reschedule(RescheduleArgs),
    /// Cancel a job (office).
    Cancel(CancelArgs),
    /// Close a completed job (office).
    Close(WorkOrderArg),

    /// Attach a photo, signature or document to a work order (uploaded with the next sync).
    Attach(AttachArgs),
    /// The attachments of a work order: kind, size, whether on this device or still to upload.
    Attachments(WorkOrderArg),
    /// Download attachments: one by its hash (--sha256), or every one of a work order.
    Fetch(FetchArgs),

    /// Upload local changes and download what is new.
    Sync,
    /// Stay connected and print changes as they arrive (ctrl-c to stop).
    Watch(WatchArgs),
    /// Pending and refused changes, sync position, who is signed in.
    Status,
    /// Changes the server refused, with its reasons.
    Rejected(RejectedArgs),

    /// The audit trail (dispatchers and admins; needs the network).
    Audit(AuditArgs),
    /// Accounts and devices (admins; needs the network).
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create an account.
    CreateUser(CreateUserArgs),
    /// Set a new password; the user's sessions end.
    ResetPassword(ResetPasswordArgs),
    /// List registered devices.
    Devices(DevicesArgs),
    /// Revoke a device: it is refused from then on and removes its local data.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct CreateUserArgs {
    #[arg(long, value_name = "USERNAME")]
    pub username: String,
    #[arg(long, env = "FIELDSYNC_NEW_PASSWORD", hide_env_values = true)]
    pub password: String,
    #[arg(long, value_name = "NAME")]
    pub display_name: String,
    /// technician, dispatcher or admin
    #[arg(long)]
    pub role: Role,
    /// A technician's skill (repeatable).
    #[arg(long = "skill", value_name = "SKILL")]
    pub skills: Vec<String>,
    #[arg(long, default_value = "")]
    pub region: String,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub latitude: f64,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub longitude: f64,
    #[arg(long)]
    pub senior: bool,
}

#[derive(Debug, Args)]
pub struct ResetPasswordArgs {
    /// Username or user id.
    #[arg(value_name = "USER")]
    pub user: String,
    #[arg(long, env = "FIELDSYNC_NEW_PASSWORD", hide_env_values = true)]
    pub password: String,
}

#[derive(Debug, Args)]
pub struct DevicesArgs {
    /// Only this user's devices (username or id).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// Device id, as listed by `fieldsync admin devices`.
    #[arg(value_name = "DEVICE")]
    pub device: fieldsync_proto::DeviceId,
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only entries about this work order (number or id).
    #[arg(long, value_name = "WO")]
    pub doc: Option<String>,
    /// Only entries about this user (username or id).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// From this time on, RFC 3339.
    #[arg(long, value_parser = parse_time)]
    pub from: Option<fieldsync_proto::Timestamp>,
    /// Up to this time, RFC 3339.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<fieldsync_proto::Timestamp>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Server address, e.g. https://fieldsync.example.com
    #[arg(long, value_name = "URL")]
    pub server: String,
    #[arg(long, value_name = "USERNAME")]
    pub user: String,
    #[arg(long, env = "FIELDSYNC_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// How this device is listed for administrators.
    #[arg(long, value_name = "NAME")]
    pub device_name: Option<String>,
    /// Trust this certificate authority (PEM) for a server with its own certificate; kept
    /// with the session.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only these statuses, comma separated (e.g. assigned,accepted).
    #[arg(long, value_delimiter = ',', value_name = "STATUS")]
    pub status: Vec<Status>,
    /// Include completed, closed and cancelled work.
    #[arg(long)]
    pub all: bool,
    /// Only work assigned to me.
    #[arg(long)]
    pub mine: bool,
    #[arg(long, value_enum, default_value_t = OrderArg::Priority)]
    pub order: OrderArg,
    #[arg(long)]
    pub limit: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OrderArg {
    Priority,
    Due,
    Newest,
}

impl From<OrderArg> for ListOrder {
    fn from(o: OrderArg) -> Self {
        match o {
            OrderArg::Priority => ListOrder::Priority,
            OrderArg::Due => ListOrder::Due,
            OrderArg::Newest => ListOrder::Newest,
        }
    }
}

/// What an attachment shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    Photo,
    Signature,
    Document,
}

impl From<KindArg> for fieldsync_proto::AttachmentKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Photo => fieldsync_proto::AttachmentKind::Photo,
            KindArg::Signature => fieldsync_proto::AttachmentKind::Signature,
            KindArg::Document => fieldsync_proto::AttachmentKind::Document,
        }
    }
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Work order number (WO-XXXX-XXXX), id, or the start of either.
    #[arg(value_name = "WO")]
    pub wo: String,
    /// The file to attach.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[arg(long, value_enum, default_value = "photo")]
    pub kind: KindArg,
    /// MIME type [default: from the file's extension].
    #[arg(long, value_name = "TYPE")]
    pub content_type: Option<String>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Work order number (WO-XXXX-XXXX), id, or the start of either.
    #[arg(value_name = "WO")]
    pub wo: String,
    /// Only this attachment (its SHA-256, or the start of it).
    #[arg(long, value_name = "HASH")]
    pub sha256: Option<String>,
    /// Copy the fetched files into this directory under their file names.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct WorkOrderArg {
    /// Work order number (WO-XXXX-XXXX), id, or the start of either.
    #[arg(value_name = "WO")]
    pub wo: String,
}

#[derive(Debug, Args)]
pub struct HoldArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    /// waiting_for_parts, customer_absent or customer_request
    #[arg(long)]
    pub reason: HoldReason,
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, Args)]
pub struct PartArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    /// Part number, e.g. PUMP-200.
    #[arg(long)]
    pub part: String,
    #[arg(long)]
    pub qty: i64,
    /// Van or warehouse the part came from.
    #[arg(long, value_name = "LOCATION")]
    pub from: String,
    #[arg(long)]
    pub serial: Option<String>,
    #[arg(long)]
    pub refurbished: bool,
}

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    #[arg(long)]
    pub diagnosis: String,
    /// What was done.
    #[arg(long)]
    pub action: String,
    /// A measurement as name=value:unit, e.g. pressure=2.4:bar (repeatable).
    #[arg(long = "measure", value_name = "NAME=VALUE:UNIT", value_parser = parse_measurement)]
    pub measurements: Vec<fieldsync_proto::Measurement>,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("notes").required(true).args(["text", "append"]))]
pub struct NotesArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    /// Replace the notes with this text.
    #[arg(long)]
    pub text: Option<String>,
    /// Add this text as a new line at the end.
    #[arg(long)]
    pub append: Option<String>,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    #[arg(long)]
    pub resolution: String,
    /// Name of the customer who signed for the work.
    #[arg(long, value_name = "NAME")]
    pub signed_by: Option<String>,
    /// The problem was not fixed on the first visit.
    #[arg(long)]
    pub not_first_time_fix: bool,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Read a NewWorkOrder as JSON from FILE, or from standard input with '-'.
    #[arg(long, value_name = "FILE")]
    pub from_json: Option<String>,
    #[arg(long, value_name = "NAME", required_unless_present = "from_json")]
    pub customer: Option<String>,
    #[arg(long, default_value_t = CustomerTier::Standard)]
    pub tier: CustomerTier,
    #[arg(long, required_unless_present = "from_json")]
    pub address: Option<String>,
    #[arg(long, required_unless_present = "from_json")]
    pub region: Option<String>,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub latitude: f64,
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub longitude: f64,
    #[arg(long, value_name = "NAME")]
    pub contact_name: Option<String>,
    #[arg(long, value_name = "PHONE")]
    pub contact_phone: Option<String>,
    #[arg(long, value_name = "EMAIL")]
    pub contact_email: Option<String>,
    #[arg(long, value_name = "MODEL")]
    pub asset_model: Option<String>,
    #[arg(long, value_name = "SERIAL")]
    pub asset_serial: Option<String>,
    /// hardware, software, installation, consultation or service_complaint
    #[arg(long, required_unless_present = "from_json")]
    pub category: Option<ProblemCategory>,
    /// emergency, normal or minor
    #[arg(long, required_unless_present = "from_json")]
    pub urgency: Option<Urgency>,
    /// many_customers, one_site or one_unit
    #[arg(long, required_unless_present = "from_json")]
    pub impact: Option<Impact>,
    #[arg(long, required_unless_present = "from_json")]
    pub description: Option<String>,
    /// phone, web, app, email or visit
    #[arg(long, default_value_t = IntakeChannel::Phone)]
    pub channel: IntakeChannel,
    /// Assign at once to this technician (username or id).
    #[arg(long, value_name = "TECHNICIAN")]
    pub technician: Option<String>,
}

#[derive(Debug, Args)]
pub struct ClassifyArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    #[arg(long)]
    pub urgency: Urgency,
    #[arg(long)]
    pub impact: Impact,
    /// Keep the current category when not given.
    #[arg(long)]
    pub category: Option<ProblemCategory>,
    /// Change the customer's tier too.
    #[arg(long)]
    pub tier: Option<CustomerTier>,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    /// Username (looked up on the server) or user id.
    #[arg(long, value_name = "USERNAME|ID")]
    pub technician: String,
}

#[derive(Debug, Args)]
pub struct RescheduleArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    /// Start of the visit window, RFC 3339 (2026-03-01T09:00:00+01:00).
    #[arg(long, value_parser = parse_time, required_unless_present = "clear", requires = "end")]
    pub start: Option<fieldsync_proto::Timestamp>,
    #[arg(long, value_parser = parse_time, requires = "start")]
    pub end: Option<fieldsync_proto::Timestamp>,
    /// Remove the visit window.
    #[arg(long, conflicts_with_all = ["start", "end"])]
    pub clear: bool,
}

#[derive(Debug, Args)]
pub struct CancelArgs {
    #[arg(value_name = "WO")]
    pub wo: String,
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Stop after this many seconds.
    #[arg(long = "for", value_name = "SECONDS")]
    pub for_seconds: Option<u64>,
}

#[derive(Debug, Args)]
pub struct RejectedArgs {
    /// Forget the list after showing it.
    #[arg(long)]
    pub clear: bool,
}

fn parse_time(text: &str) -> Result<fieldsync_proto::Timestamp, String> {
    fieldsync_proto::Timestamp::parse_rfc3339(text)
        .map_err(|e| format!("'{text}' is not an RFC 3339 time like 2026-03-01T09:00:00Z ({e})"))
}

/// `pressure=2.4:bar` → a measurement named pressure of 2.4 bar.
pub(crate) fn parse_measurement(text: &str) -> Result<fieldsync_proto::Measurement, String> {
    let bad = || format!("'{text}' is not a measurement like pressure=2.4:bar");
    let (name, rest) = text.split_once('=').ok_or_else(bad)?;
    let (value, unit) = rest.split_once(':').unwrap_or((rest, ""));
    let name = name.trim();
    if name.is_empty() {
        return Err(bad());
    }
    let value: f64 = value.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() {
        return Err(bad());
    }
    Ok(fieldsync_proto::Measurement {
        name: name.to_owned(),
        value,
        unit: unit.trim().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("fieldsync").chain(args.iter().copied()))
    }

    #[test]
    fn the_grammar_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn lists_take_comma_separated_statuses_and_global_flags_anywhere() {
        let cli =
            parse(&["list", "--status", "assigned,on_hold", "--mine", "--json"]).expect("parses");
        assert!(cli.json);
        match cli.command {
            Command::List(a) => {
                assert_eq!(a.status, [Status::Assigned, Status::OnHold]);
                assert!(a.mine);
                assert_eq!(a.order, OrderArg::Priority);
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = parse(&["list", "--status", "done"]).expect_err("unknown status");
        assert!(
            err.to_string().contains("in_progress"),
            "lists the words: {err}"
        );
    }

    #[test]
    fn repair_records_take_several_measurements() {
        let cli = parse(&[
            "repair",
            "WO-7KQ2",
            "--diagnosis",
            "clogged filter",
            "--action",
            "replaced filter",
            "--measure",
            "pressure=2.4:bar",
            "--measure",
            "temperature = -3.5 : °C",
        ])
        .expect("parses");
        let Command::Repair(a) = cli.command else {
            panic!("not repair");
        };
        assert_eq!(a.measurements.len(), 2);
        assert_eq!(a.measurements[0].name, "pressure");
        assert_eq!(a.measurements[0].value, 2.4);
        assert_eq!(a.measurements[1].value, -3.5);
        assert_eq!(a.measurements[1].unit, "°C");
        let err = parse(&[
            "repair",
            "X",
            "--diagnosis",
            "d",
            "--action",
            "a",
            "--measure",
            "2.4bar",
        ])
        .expect_err("bad measurement");
        assert!(err.to_string().contains("pressure=2.4:bar"), "{err}");
    }

    #[test]
    fn measurements_need_a_name_and_a_number() {
        assert!(parse_measurement("=1:bar").is_err());
        assert!(parse_measurement("p=high:bar").is_err());
        assert!(parse_measurement("p=NaN:bar").is_err());
        let m = parse_measurement("current=12").expect("unit is optional");
        assert_eq!((m.value, m.unit.as_str()), (12.0, ""));
    }

    #[test]
    fn notes_need_text_or_append() {
        let err = parse(&["notes", "WO-1"]).expect_err("nothing to write");
        assert_eq!(err.kind(), ErrorKind::MissingRequiredArgument);
        assert!(parse(&["notes", "WO-1", "--text", "a", "--append", "b"]).is_err());
        assert!(parse(&["notes", "WO-1", "--append", "b"]).is_ok());
    }

    #[test]
    fn reschedule_takes_a_window_or_clear() {
        assert!(parse(&["reschedule", "WO-1", "--start", "2026-03-01T09:00:00Z"]).is_err());
        let cli = parse(&[
            "reschedule",
            "WO-1",
            "--start",
            "2026-03-01T09:00:00+01:00",
            "--end",
            "2026-03-01T11:00:00+01:00",
        ])
        .expect("parses");
        let Command::Reschedule(a) = cli.command else {
            panic!("not reschedule");
        };
        assert_eq!(
            a.start.map(|t| t.to_rfc3339()),
            Some("2026-03-01T08:00:00Z".to_string())
        );
        assert!(parse(&["reschedule", "WO-1", "--clear"]).is_ok());
        let err = parse(&[
            "reschedule",
            "WO-1",
            "--start",
            "tomorrow",
            "--end",
            "later",
        ])
        .expect_err("not a time");
        assert!(err.to_string().contains("RFC 3339"), "{err}");
    }

    #[test]
    fn create_needs_the_intake_unless_it_comes_as_json() {
        assert!(parse(&["create", "--from-json", "-"]).is_ok());
        let err = parse(&["create", "--customer", "Harbor Bakery"]).expect_err("incomplete");
        assert!(err.to_string().contains("--address"), "{err}");
        let cli = parse(&[
            "create",
            "--customer",
            "Harbor Bakery",
            "--address",
            "1 Quay St",
            "--region",
            "north",
            "--category",
            "hardware",
            "--urgency",
            "emergency",
            "--impact",
            "one_site",
            "--description",
            "No heat",
            "--tier",
            "vip",
            "--latitude",
            "-33.9",
        ])
        .expect("parses");
        let Command::Create(a) = cli.command else {
            panic!("not create");
        };
        assert_eq!(a.tier, CustomerTier::Vip);
        assert_eq!(a.urgency, Some(Urgency::Emergency));
        assert_eq!(a.channel, IntakeChannel::Phone);
        assert_eq!(a.latitude, -33.9);
    }

    #[test]
    fn admin_commands_parse() {
        let cli = parse(&[
            "admin",
            "create-user",
            "--username",
            "tech09",
            "--password",
            "pw-1234",
            "--display-name",
            "Tech Nine",
            "--role",
            "technician",
            "--skill",
            "hardware",
        ])
        .expect("parses");
        let Command::Admin(AdminCommand::CreateUser(a)) = cli.command else {
            panic!("not create-user");
        };
        assert_eq!(a.role, Role::Technician);
        assert_eq!(a.skills, ["hardware"]);
        assert!(parse(&["admin", "revoke", "not-an-id"]).is_err());
        assert!(parse(&["admin", "devices", "--user", "tech01"]).is_ok());
        assert!(parse(&["admin", "reset-password", "tech01", "--password", "x1234"]).is_ok());
        assert!(parse(&["audit", "--doc", "WO-1", "--from", "2026-03-01T09:00:00Z"]).is_ok());
        assert!(parse(&[
            "login",
            "--server",
            "https://x",
            "--user",
            "a",
            "--ca-cert",
            "ca.pem"
        ])
        .is_ok());
    }

    #[test]
    fn hold_reasons_are_checked() {
        assert!(parse(&["hold", "WO-1", "--reason", "waiting_for_parts"]).is_ok());
        let err = parse(&["hold", "WO-1", "--reason", "lunch"]).expect_err("unknown reason");
        assert!(err.to_string().contains("customer_absent"), "{err}");
    }
}
