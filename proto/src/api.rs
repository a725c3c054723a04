//! Bodies of the server's JSON API (login, users, technicians, work order lists), shared so
//! that the server, the client library and tests read and write the same shapes.

use serde::{Deserialize, Serialize};

use crate::classification::{HoldReason, Role};
use crate::followup::{DueFollowUp, FollowUp};
use crate::ids::{DeviceId, EntryId, UserId, WorkOrderId};
use crate::sla::BoardSla;
use crate::status::Status;
use crate::stock::StockMovement;
use crate::time::Timestamp;
use crate::view::WorkOrderSummary;
use crate::view::WorkOrderView;
use crate::vocab::word_enum;

/// Path of the login endpoint.
pub const LOGIN_PATH: &str = "/v1/login";

/// `POST /v1/login`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    /// Shown to people managing devices, e.g. "Tablet of Ann" or the host name.
    pub device_name: String,
    /// The id this device got at an earlier login, so that it keeps its identity.
    #[serde(default)]
    pub device_id: Option<DeviceId>,
}

impl std::fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .field("device_name", &self.device_name)
            .field("device_id", &self.device_id)
            .finish_non_exhaustive()
    }
}

/// Answer to a successful login. `token` goes in `Authorization: Bearer …` on every later call.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub token: String,
    pub expires_at: Timestamp,
    pub device_id: DeviceId,
    pub user: UserInfo,
}

impl std::fmt::Debug for LoginResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginResponse")
            .field("expires_at", &self.expires_at)
            .field("device_id", &self.device_id)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// Who someone is, without anything secret.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserInfo {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
}

/// What dispatch needs to know about a technician: skills, home region and seniority.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TechnicianProfile {
    #[serde(default)]
    pub skills: Vec<String>,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub latitude: f64,
    #[serde(default)]
    pub longitude: f64,
    #[serde(default)]
    pub senior: bool,
}

/// `POST /v1/admin/users`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewUser {
    pub username: String,
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
    pub display_name: String,
    pub role: Role,
    /// Only meaningful for technicians.
    #[serde(default)]
    pub profile: TechnicianProfile,
}

impl std::fmt::Debug for NewUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewUser")
            .field("username", &self.username)
            .field("display_name", &self.display_name)
            .field("role", &self.role)
            .field("profile", &self.profile)
            .finish_non_exhaustive()
    }
}

/// Answer to `POST /v1/admin/users`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedUser {
    pub id: UserId,
}

/// One entry of `GET /v1/technicians`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TechnicianInfo {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub skills: Vec<String>,
    pub region: String,
    pub latitude: f64,
    pub longitude: f64,
    pub senior: bool,
}

/// `POST /v1/work-orders/{id}/assign`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AssignRequest {
    pub technician: UserId,
    /// The `version` of the work order the dispatcher decided on. If it changed since, the
    /// assignment is refused (409) rather than overwriting someone else's.
    #[serde(default)]
    pub expected_version: Option<u64>,
}

/// `GET /v1/work-orders/{id}`: the work order with what the server knows around it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkOrderDetail {
    #[serde(flatten)]
    pub view: WorkOrderView,
    /// Changes with every stored update; send it back as `expected_version` to refuse a stale edit.
    pub version: u64,
    /// Status events in the order they took effect, with device and server times.
    pub timeline: Vec<TimelineEntry>,
    /// One per entry of `conflicts`, saying whether a dispatcher has reviewed it.
    pub conflict_reviews: Vec<ReviewState>,
    /// Changes pushed by devices that the server refused, kept for review.
    pub rejected_edits: Vec<RejectedEdit>,
    /// When the customer follow-up is due (completed jobs only) and what was recorded.
    pub follow_up_due: Option<Timestamp>,
    pub follow_up: Option<FollowUp>,
}

/// One status event of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TimelineEntry {
    pub event: EntryId,
    pub status: Status,
    pub by: UserId,
    pub role: Role,
    pub device: DeviceId,
    /// When the person acted, by their device's clock.
    pub device_time: Timestamp,
    /// When the server first received it; `None` for events from before the server kept this.
    pub server_time: Option<Timestamp>,
    pub reason: Option<String>,
    pub hold: Option<HoldReason>,
    /// The event did not fit the sequence and was set aside (see `conflicts`).
    pub set_aside: bool,
}

/// Whether a review item (a conflict or a rejected edit) was reviewed, and by whom.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewState {
    /// Use in `POST /v1/work-orders/{id}/reviews/{review_id}/resolve`.
    pub review_id: String,
    /// For a conflict, the status event it is about.
    pub event: Option<EntryId>,
    pub resolved: bool,
    pub resolved_by: Option<UserId>,
    pub resolved_at: Option<Timestamp>,
    pub note: Option<String>,
}

/// A pushed change the server refused, as recorded in the audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectedEdit {
    /// The review id (`rejected-<audit entry id>`).
    pub id: String,
    pub user: Option<UserId>,
    pub username: Option<String>,
    pub device: Option<DeviceId>,
    /// When the person made the edit, by their device's clock.
    pub device_time: Option<Timestamp>,
    /// When the server refused it.
    pub at: Timestamp,
    /// The rule it broke, e.g. `field_not_writable: urgency`.
    pub reason: String,
    pub resolved: bool,
    pub resolved_by: Option<UserId>,
    pub resolved_at: Option<Timestamp>,
}

/// `POST /v1/work-orders/{id}/reviews/{review_id}/resolve`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResolveReview {
    #[serde(default)]
    pub note: String,
}

/// One line of `GET /v1/stock`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockRow {
    pub location: String,
    pub part_number: String,
    /// From the catalogue; empty for a part it does not know.
    pub part_name: String,
    /// Folded from the ledger; negative when more was used than was there.
    pub on_hand: i64,
    /// The safety level for this part here; 0 where none is set.
    pub safety: i64,
    pub state: StockState,
}

/// How a stock line stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum StockState {
    Ok,
    BelowSafety,
    Negative,
}

/// Answer to `GET /v1/stock`: every part at every location with a movement or a safety level.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StockReport {
    pub levels: Vec<StockRow>,
}

/// The kinds of movement a person records through the API; usages come from work orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum NewMovementKind {
    Receipt,
    Transfer,
    Adjustment,
}

/// `POST /v1/stock/movements`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewMovement {
    /// Made by the caller so that a retried request counts once; made by the server if absent.
    #[serde(default)]
    pub id: Option<EntryId>,
    pub kind: NewMovementKind,
    pub part_number: String,
    /// Where the parts arrive (receipt), leave from (transfer) or are counted (adjustment).
    pub location: String,
    /// The receiving location of a transfer.
    #[serde(default)]
    pub to: Option<String>,
    /// Positive; an adjustment may be negative (not zero).
    pub quantity: i64,
}

/// Answer to `GET /v1/stock/movements`: newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MovementPage {
    pub items: Vec<StockMovement>,
}

/// `PUT /v1/stock/safety`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SafetyUpdate {
    pub part: String,
    pub location: String,
    pub level: i64,
}

/// Answer to `GET /v1/follow-ups`: calls due now, longest waiting first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FollowUpList {
    pub items: Vec<DueFollowUp>,
}

/// Answer to `GET /v1/work-orders`: one page of rows and how many match in total.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkOrderPage {
    pub items: Vec<WorkOrderRow>,
    pub total: u64,
}

/// One row of the board: the summary with its SLA state now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkOrderRow {
    #[serde(flatten)]
    pub summary: WorkOrderSummary,
    pub sla: BoardSla,
}

/// One technician suggested for a job (`GET /v1/work-orders/{id}/suggestions`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TechnicianSuggestion {
    pub technician_id: UserId,
    pub name: String,
    /// 1 is the best fit.
    pub rank: u32,
    /// Higher is better; comparable only within one answer.
    pub score: f64,
    /// `None` when the technician's or the site's position is unknown.
    pub distance_km: Option<f64>,
    /// Jobs assigned to them that are not completed, closed or cancelled.
    pub open_jobs: u32,
    pub skill_match: bool,
    pub senior: bool,
    /// Why they rank where they do, in plain sentences.
    pub reasons: Vec<String>,
}

/// Answer to `GET /v1/work-orders/{id}/suggestions`: best first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SuggestionList {
    pub suggestions: Vec<TechnicianSuggestion>,
}

/// Path of the audit trail: `GET /v1/audit?doc=&user=&from=&to=&limit=`.
pub const AUDIT_PATH: &str = "/v1/audit";
/// Path of the device list: `GET /v1/admin/devices?user=`.
pub const DEVICES_PATH: &str = "/v1/admin/devices";

/// `POST /v1/admin/users/{username or id}/password`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PasswordReset {
    #[cfg_attr(feature = "openapi", schema(format = Password))]
    pub password: String,
}

impl std::fmt::Debug for PasswordReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordReset").finish_non_exhaustive()
    }
}

/// One registered device, as administrators see it (`GET /v1/admin/devices`, and the answer
/// to `POST /v1/admin/devices/{id}/revoke`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceInfo {
    pub id: DeviceId,
    pub user: UserId,
    pub username: String,
    pub name: String,
    pub created_at: Timestamp,
    pub last_seen: Timestamp,
    /// When an administrator revoked it; a revoked device is refused from then on.
    pub revoked_at: Option<Timestamp>,
}

word_enum!(
    /// What an audit entry records.
    AuditKind, "audit entry kind" {
        LoginSucceeded => "login_succeeded",
        LoginFailed => "login_failed",
        DeviceRegistered => "device_registered",
        DeviceRevoked => "device_revoked",
        ChangeAccepted => "change_accepted",
        ChangeRejected => "change_rejected",
        Assigned => "assigned",
        UserCreated => "user_created",
        PasswordReset => "password_reset",
    }
);

/// One entry of the append-only audit trail.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// Increasing in the order entries were written.
    pub id: u64,
    /// When the server recorded it.
    pub at: Timestamp,
    pub kind: AuditKind,
    /// The user the entry is about: who signed in or pushed the change, or whose account or
    /// device an administrator changed (the administrator is named in `detail`). For a failed
    /// login, the account tried, if it exists.
    pub user: Option<UserId>,
    pub username: Option<String>,
    pub device: Option<DeviceId>,
    pub doc: Option<WorkOrderId>,
    /// The work order's number, when the entry concerns one.
    pub number: Option<String>,
    /// When the person acted, by their device's clock (changes made offline).
    pub device_time: Option<Timestamp>,
    /// What happened, e.g. `status_events +accepted, part_usages +1`, or why it was refused.
    pub detail: String,
    /// Network address the request came from, where it is known.
    pub address: Option<String>,
}

/// Answer to `GET /v1/audit`: newest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub items: Vec<AuditEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let login = LoginRequest {
            username: "tech01".into(),
            password: "hunter2-secret".into(),
            device_name: "tablet".into(),
            device_id: None,
        };
        assert!(!format!("{login:?}").contains("hunter2-secret"));
        let answer = LoginResponse {
            token: "0123abcd-token".into(),
            expires_at: Timestamp(0),
            device_id: DeviceId::new(),
            user: UserInfo {
                id: UserId::new(),
                username: "tech01".into(),
                display_name: "Tech One".into(),
                role: Role::Technician,
            },
        };
        assert!(!format!("{answer:?}").contains("0123abcd-token"));
    }

    #[test]
    fn audit_entries_round_trip_and_resets_hide_the_password() {
        let entry = AuditEntry {
            id: 7,
            at: Timestamp(1),
            kind: AuditKind::ChangeRejected,
            user: Some(UserId::new()),
            username: Some("tech01".into()),
            device: Some(DeviceId::new()),
            doc: Some(WorkOrderId::new()),
            number: Some("WO-AAAA-BBBB".into()),
            device_time: Some(Timestamp(0)),
            detail: "field_not_writable: urgency".into(),
            address: None,
        };
        let json = serde_json::to_value(&entry).expect("json");
        assert_eq!(json["kind"], "change_rejected");
        assert_eq!(
            serde_json::from_value::<AuditEntry>(json).expect("back"),
            entry
        );
        let reset = PasswordReset {
            password: "hunter2-secret".into(),
        };
        assert!(!format!("{reset:?}").contains("hunter2"));
    }

    #[test]
    fn new_user_profile_is_optional() {
        let json =
            r#"{"username":"d2","password":"pw12","display_name":"D Two","role":"dispatcher"}"#;
        let user: NewUser = serde_json::from_str(json).expect("parses");
        assert_eq!(user.profile, TechnicianProfile::default());
        let bad = r#"{"username":"d2","password":"pw12","display_name":"D Two","role":"boss"}"#;
        let err = serde_json::from_str::<NewUser>(bad).expect_err("unknown role");
        assert!(err.to_string().contains("unknown role 'boss'"), "{err}");
    }
}
