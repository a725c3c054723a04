//! One method per action, for apps that prefer `client.accept(id)` to building an `Action`.
//! Each is exactly `act` with that action.

use fieldsync_proto::{
    Action, CustomerTier, HoldReason, Impact, NewPartUsage, NewRepairRecord, ProblemCategory,
    ScheduleWindow, Urgency, UserId, WorkOrderId, WorkOrderView,
};

use crate::client::Client;
use crate::error::Result;

impl Client {
    pub fn accept(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::Accept)
    }

    pub fn start_travel(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::StartTravel)
    }

    pub fn arrive(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::Arrive)
    }

    pub fn start_work(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::StartWork)
    }

    pub fn hold(
        &self,
        id: WorkOrderId,
        reason: HoldReason,
        note: Option<String>,
    ) -> Result<WorkOrderView> {
        self.act(id, Action::Hold { reason, note })
    }

    pub fn resume(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::Resume)
    }

    pub fn record_part_usage(&self, id: WorkOrderId, usage: NewPartUsage) -> Result<WorkOrderView> {
        self.act(id, Action::RecordPartUsage(usage))
    }

    pub fn add_repair_record(
        &self,
        id: WorkOrderId,
        record: NewRepairRecord,
    ) -> Result<WorkOrderView> {
        self.act(id, Action::AddRepairRecord(record))
    }

    /// Replaces the notes with `text`; concurrent edits elsewhere merge as text.
    pub fn edit_notes(&self, id: WorkOrderId, text: impl Into<String>) -> Result<WorkOrderView> {
        self.act(id, Action::EditNotes { text: text.into() })
    }

    pub fn complete(
        &self,
        id: WorkOrderId,
        resolution: impl Into<String>,
        signed_by: Option<String>,
        first_time_fix: bool,
    ) -> Result<WorkOrderView> {
        self.act(
            id,
            Action::Complete {
                resolution: resolution.into(),
                signed_by,
                first_time_fix,
            },
        )
    }

    pub fn classify(
        &self,
        id: WorkOrderId,
        category: ProblemCategory,
        urgency: Urgency,
        impact: Impact,
        tier: Option<CustomerTier>,
    ) -> Result<WorkOrderView> {
        self.act(
            id,
            Action::Classify {
                category,
                urgency,
                impact,
                tier,
            },
        )
    }

    pub fn assign(&self, id: WorkOrderId, technician: UserId) -> Result<WorkOrderView> {
        self.act(id, Action::Assign { technician })
    }

    /// Sets the planned visit window, or clears it with `None`.
    pub fn reschedule(
        &self,
        id: WorkOrderId,
        window: Option<ScheduleWindow>,
    ) -> Result<WorkOrderView> {
        self.act(id, Action::Reschedule { window })
    }

    pub fn cancel(&self, id: WorkOrderId, reason: impl Into<String>) -> Result<WorkOrderView> {
        self.act(
            id,
            Action::Cancel {
                reason: reason.into(),
            },
        )
    }

    pub fn close(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        self.act(id, Action::Close)
    }
}
