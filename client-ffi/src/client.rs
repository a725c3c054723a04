//! `FieldsyncClient`: the object apps hold, one per store. Reads and actions are synchronous
//! and work offline (each action is durable when it returns); sign-in and sync are async.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use fieldsync_client::{Client, ClientEvent, ListQuery, SyncAgent};
use fieldsync_proto::{
    Action, HoldReason, Measurement, NewPartUsage, NewRepairRecord, NewWorkOrder, UserId,
    WorkOrderId,
};

use crate::error::FieldsyncError;
use crate::listener::{ClientListener, TaskHandle};
use crate::records::{
    from_server, BackgroundSyncOptions, PartUsageInput, RejectedChangeRecord, RepairRecordInput,
    SessionInfo, SyncReportRecord, SyncStatusRecord, WorkOrderDetails, WorkOrderSummaryRecord,
};
use crate::runtime;

type Result<T> = std::result::Result<T, FieldsyncError>;

/// A device's Fieldsync store and its connection to the server. Safe to share between threads.
#[derive(uniffi::Object)]
pub struct FieldsyncClient {
    client: Arc<Client>,
    agent: Mutex<Option<SyncAgent>>,
}

impl std::fmt::Debug for FieldsyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FieldsyncClient")
            .field("store", &self.client.store_path())
            .finish_non_exhaustive()
    }
}

fn work_order_id(text: &str) -> Result<WorkOrderId> {
    text.trim().parse().map_err(|e| {
        FieldsyncError::invalid(format!(
            "'{text}' is not a work order id ({e}); use the `id` of a summary"
        ))
    })
}

fn attachment_kind(text: &str) -> Result<fieldsync_proto::AttachmentKind> {
    text.parse()
        .map_err(|e: fieldsync_proto::UnknownWord| FieldsyncError::invalid(format!("kind: {e}")))
}

/// `pressure=2.4:bar` → a measurement named pressure of 2.4 bar.
fn measurement(text: &str) -> Result<Measurement> {
    let bad = || {
        FieldsyncError::invalid(format!(
            "'{text}' is not a measurement like pressure=2.4:bar"
        ))
    };
    let (name, rest) = text.split_once('=').ok_or_else(bad)?;
    let (value, unit) = rest.split_once(':').unwrap_or((rest, ""));
    let value: f64 = value.trim().parse().map_err(|_| bad())?;
    if name.trim().is_empty() || !value.is_finite() {
        return Err(bad());
    }
    Ok(Measurement {
        name: name.trim().to_owned(),
        value,
        unit: unit.trim().to_owned(),
    })
}

impl FieldsyncClient {
    fn act(&self, id: &str, action: Action) -> Result<WorkOrderDetails> {
        Ok(self.client.act(work_order_id(id)?, action)?.into())
    }

    fn agent(&self) -> std::sync::MutexGuard<'_, Option<SyncAgent>> {
        self.agent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[uniffi::export]
impl FieldsyncClient {
    /// Opens (creating if needed) the store in `store_dir`, e.g. the app's files directory.
    /// Does not touch the network.
    #[uniffi::constructor]
    pub fn open(store_dir: String) -> Result<Arc<FieldsyncClient>> {
        let client = Client::open(PathBuf::from(store_dir))?;
        Ok(Arc::new(FieldsyncClient {
            client: Arc::new(client),
            agent: Mutex::new(None),
        }))
    }

    /// Signs in; keeps this device's data if it belongs to the same user.
    pub async fn login(
        &self,
        server_url: String,
        username: String,
        password: String,
        device_name: String,
    ) -> Result<SessionInfo> {
        let client = self.client.clone();
        runtime::run(async move {
            let session = client
                .login(&server_url, &username, &password, &device_name)
                .await?;
            Ok(session.into())
        })
        .await
    }

    /// The signed-in session, if any.
    pub fn session(&self) -> Result<Option<SessionInfo>> {
        Ok(self.client.session()?.map(SessionInfo::from))
    }

    /// Forgets the session; work orders and unsynced changes stay for the same user.
    pub fn logout(&self) -> Result<()> {
        Ok(self.client.logout()?)
    }

    /// Points the session at another address of the same server.
    pub fn set_server_url(&self, server_url: String) -> Result<()> {
        Ok(self.client.set_server_url(&server_url)?)
    }

    /// Open work assigned to the signed-in user, most urgent first.
    pub fn my_open_jobs(&self) -> Result<Vec<WorkOrderSummaryRecord>> {
        Ok(self
            .client
            .my_open_jobs()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Every work order on this device (`open_only`: not completed, closed or cancelled), most
    /// urgent first.
    pub fn list_work_orders(&self, open_only: bool) -> Result<Vec<WorkOrderSummaryRecord>> {
        let query = ListQuery {
            open_only,
            ..ListQuery::default()
        };
        Ok(self
            .client
            .list(&query)?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// One work order by id.
    pub fn get(&self, id: String) -> Result<WorkOrderDetails> {
        Ok(self.client.get(work_order_id(&id)?)?.into())
    }

    /// The id of a work order given its number (`WO-7KQ2-M9XD`), id, or a unique prefix.
    pub fn find(&self, number_or_id: String) -> Result<String> {
        Ok(self.client.find(&number_or_id)?.to_string())
    }

    pub fn accept(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::Accept)
    }

    pub fn start_travel(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::StartTravel)
    }

    pub fn arrive(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::Arrive)
    }

    pub fn start_work(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::StartWork)
    }

    /// `reason`: `waiting_for_parts`, `customer_absent` or `customer_request`.
    pub fn hold(
        &self,
        id: String,
        reason: String,
        note: Option<String>,
    ) -> Result<WorkOrderDetails> {
        let reason: HoldReason = reason
            .parse()
            .map_err(|e| FieldsyncError::invalid(format!("hold reason: {e}")))?;
        self.act(&id, Action::Hold { reason, note })
    }

    pub fn resume(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::Resume)
    }

    pub fn record_part_usage(&self, id: String, part: PartUsageInput) -> Result<WorkOrderDetails> {
        self.act(
            &id,
            Action::RecordPartUsage(NewPartUsage {
                part_number: part.part_number,
                quantity: part.quantity,
                source_location: part.source_location,
                serial: part.serial,
                refurbished: part.refurbished,
            }),
        )
    }

    pub fn add_repair_record(
        &self,
        id: String,
        record: RepairRecordInput,
    ) -> Result<WorkOrderDetails> {
        let measurements = record
            .measurements
            .iter()
            .map(|m| measurement(m))
            .collect::<Result<Vec<_>>>()?;
        self.act(
            &id,
            Action::AddRepairRecord(NewRepairRecord {
                diagnosis: record.diagnosis,
                action_taken: record.action_taken,
                measurements,
            }),
        )
    }

    /// Attaches a file (`kind`: photo, signature or document): copied into the store at once,
    /// uploaded with the next sync. Returns the attachment's SHA-256.
    pub fn attach_file(
        &self,
        id: String,
        path: String,
        kind: String,
        content_type: Option<String>,
    ) -> Result<String> {
        let kind = attachment_kind(&kind)?;
        let attachment = self.client.attach(
            work_order_id(&id)?,
            fieldsync_client::AttachSource::Path(std::path::Path::new(&path)),
            kind,
            content_type.as_deref(),
        )?;
        Ok(attachment.sha256.to_string())
    }

    /// Attaches bytes held in memory (a signature drawn on screen) under `file_name`.
    pub fn attach_bytes(
        &self,
        id: String,
        bytes: Vec<u8>,
        file_name: String,
        kind: String,
        content_type: Option<String>,
    ) -> Result<String> {
        let kind = attachment_kind(&kind)?;
        let attachment = self.client.attach(
            work_order_id(&id)?,
            fieldsync_client::AttachSource::Bytes {
                bytes: &bytes,
                file_name: &file_name,
            },
            kind,
            content_type.as_deref(),
        )?;
        Ok(attachment.sha256.to_string())
    }

    /// The path of an attachment's file on this device, downloading it first if needed.
    pub async fn attachment_file(&self, sha256: String) -> Result<String> {
        let sha: fieldsync_proto::BlobHash =
            sha256.parse().map_err(|e: fieldsync_proto::BadBlobHash| {
                FieldsyncError::invalid(format!("sha256: {e}"))
            })?;
        let client = self.client.clone();
        runtime::run(async move { Ok(client.attachment_file(&sha).await?.display().to_string()) })
            .await
    }

    /// Replaces the notes; concurrent edits elsewhere merge as text.
    pub fn edit_notes(&self, id: String, text: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::EditNotes { text })
    }

    pub fn complete(
        &self,
        id: String,
        resolution: String,
        signed_by: Option<String>,
        first_time_fix: bool,
    ) -> Result<WorkOrderDetails> {
        self.act(
            &id,
            Action::Complete {
                resolution,
                signed_by,
                first_time_fix,
            },
        )
    }

    /// Office roles: assign to a technician by user id.
    pub fn assign(&self, id: String, technician_id: String) -> Result<WorkOrderDetails> {
        let technician: UserId = technician_id.trim().parse().map_err(|e| {
            FieldsyncError::invalid(format!("'{technician_id}' is not a user id ({e})"))
        })?;
        self.act(&id, Action::Assign { technician })
    }

    pub fn cancel(&self, id: String, reason: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::Cancel { reason })
    }

    pub fn close(&self, id: String) -> Result<WorkOrderDetails> {
        self.act(&id, Action::Close)
    }

    /// Any action, as the JSON the server's `/v1/work-orders/{id}/actions` takes, for actions
    /// without a method of their own (reschedule, classify).
    pub fn act_json(&self, id: String, action_json: String) -> Result<WorkOrderDetails> {
        let action: Action = serde_json::from_str(&action_json).map_err(|e| {
            FieldsyncError::invalid(format!("the action is not valid JSON for an action: {e}"))
        })?;
        self.act(&id, action)
    }

    /// Office roles: creates a work order from a `NewWorkOrder` JSON intake.
    pub fn create_work_order_json(&self, intake_json: String) -> Result<WorkOrderDetails> {
        let new: NewWorkOrder = serde_json::from_str(&intake_json).map_err(|e| {
            FieldsyncError::invalid(format!("the intake is not a valid work order: {e}"))
        })?;
        Ok(self.client.create_work_order(new)?.into())
    }

    /// Syncs now and waits for it: pushes every unsynced change and pulls until up to date.
    /// With background sync running, also cuts its retry wait short (the network is back).
    pub async fn sync_now(&self) -> Result<SyncReportRecord> {
        if let Some(agent) = self.agent().as_ref() {
            agent.sync_now();
        }
        let client = self.client.clone();
        runtime::run(async move { Ok(client.sync().await?.into()) }).await
    }

    /// Starts syncing in the background: on start, shortly after every action, when the server
    /// announces a change, periodically, and with backoff while the server is unreachable.
    /// Starting it again restarts it with the new options.
    pub fn start_background_sync(&self, options: Option<BackgroundSyncOptions>) -> Result<()> {
        let options = options.unwrap_or_default().into();
        let client = self.client.clone();
        let agent = runtime::enter(|| SyncAgent::start(client, options))??;
        *self.agent() = Some(agent);
        Ok(())
    }

    /// Stops background sync; work stays on the device and syncs when it runs again.
    pub fn stop_background_sync(&self) {
        self.agent().take();
    }

    /// The sync state now, with the number of unsynced changes.
    pub fn sync_status(&self) -> SyncStatusRecord {
        self.client.sync_status().into()
    }

    /// Local changes not yet acknowledged by the server.
    pub fn pending_changes(&self) -> Result<u64> {
        Ok(self.client.pending_changes()? as u64)
    }

    /// Changes the server refused, with its reasons.
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChangeRecord>> {
        Ok(self
            .client
            .rejected_changes()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Forgets the refused changes once the person has seen them; returns how many.
    pub fn clear_rejected_changes(&self) -> Result<u64> {
        Ok(self.client.clear_rejected_changes()? as u64)
    }

    /// Calls `listener` on every change and sync status change from now on, starting with the
    /// current status, until the returned handle is cancelled or dropped.
    pub fn subscribe(&self, listener: Box<dyn ClientListener>) -> Result<Arc<TaskHandle>> {
        let mut events = self.client.subscribe();
        listener.on_sync_status(self.client.sync_status().into());
        let task = runtime::spawn(async move {
            while let Some(event) = events.next().await {
                match event {
                    ClientEvent::Changed { docs, source } => listener.on_work_orders_changed(
                        docs.iter().map(ToString::to_string).collect(),
                        from_server(source),
                    ),
                    ClientEvent::Status(status) => listener.on_sync_status(status.into()),
                    ClientEvent::Missed { count } => listener.on_missed_events(count),
                }
            }
        })?;
        Ok(Arc::new(TaskHandle::new(task)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measurements_parse_like_the_cli() {
        let m = measurement("pressure = 2.4 : bar").expect("ok");
        assert_eq!(
            (m.name.as_str(), m.value, m.unit.as_str()),
            ("pressure", 2.4, "bar")
        );
        assert!(measurement("2.4bar").is_err());
        assert!(measurement("p=inf:bar").is_err());
    }

    #[test]
    fn a_store_opens_offline_and_reports_typed_errors() {
        let dir = tempfile::tempdir().expect("tmp");
        let client =
            FieldsyncClient::open(dir.path().to_string_lossy().into_owned()).expect("opens");
        assert_eq!(client.session().expect("session"), None);
        assert!(matches!(
            client.my_open_jobs(),
            Err(FieldsyncError::NotSignedIn { .. })
        ));
        assert!(matches!(
            client.get("not-an-id".into()),
            Err(FieldsyncError::InvalidInput { .. })
        ));
        assert_eq!(client.pending_changes().expect("pending"), 0);
        client
            .start_background_sync(None)
            .expect("starts without a session");
        client.stop_background_sync();
    }
}
