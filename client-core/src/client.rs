//! `Client`: the device library's front door. Local reads and edits work offline against the
//! store; `login`, `sync` and `technicians` talk to the server.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use fieldsync_proto::api::{LoginRequest, TechnicianInfo};
use fieldsync_proto::{
    Action, DocumentError, NewWorkOrder, Timestamp, WorkOrderId, WorkOrderSummary, WorkOrderView,
};

use crate::edit::RejectedChange;
use crate::error::{Error, Result};
use crate::events::{ChangeSource, Hub, Subscription, SyncState, SyncStatus};
use crate::local;
use crate::query::ListQuery;
use crate::remote::{self, Remote};
use crate::session::{LoginOptions, Owner, Session, StoredSession};
use crate::store::{docs, index, meta, outbox, resync, Store};
use crate::sync::{self, SyncProgress, SyncReport};

/// A device's Fieldsync library: its store, its session, and the way to its server.
/// `Send + Sync`; share one per store in an `Arc`.
#[derive(Debug)]
pub struct Client {
    pub(crate) store: Store,
    pub(crate) remote: Remote,
    hub: Arc<Hub>,
    /// One sync at a time, whoever asks (the app, the background agent): two concurrent
    /// rounds would push the same outbox rows twice.
    sync_lock: tokio::sync::Mutex<()>,
    /// Added to the system clock: see `set_clock_skew`.
    clock_skew: AtomicI64,
}

impl Client {
    /// Opens (creating if needed) the store `dir/fieldsync.db`. Does not touch the network.
    pub fn open(dir: impl AsRef<Path>) -> Result<Client> {
        let store = Store::open(dir.as_ref())?;
        let hub = Hub::new();
        let pending = store.read(outbox::outbox_count)?;
        hub.update_status(|s| s.pending_changes = pending as u64);
        Ok(Client {
            store,
            remote: Remote::default(),
            hub,
            sync_lock: tokio::sync::Mutex::new(()),
            clock_skew: AtomicI64::new(0),
        })
    }

    /// Shifts the device time this library records and reads by `millis`, as on a device
    /// whose clock is wrong: for simulators and clock-fault tests. Real devices leave it at 0.
    pub fn set_clock_skew(&self, millis: i64) {
        self.clock_skew.store(millis, Ordering::Relaxed);
    }

    /// The device's time: the system clock plus any skew set for tests.
    fn now(&self) -> Timestamp {
        Timestamp::now().plus_millis(self.clock_skew.load(Ordering::Relaxed))
    }

    /// Where the store lives.
    pub fn store_path(&self) -> &Path {
        self.store.path()
    }

    #[cfg(test)]
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Signs in at `server_url`. Keeps the device's earlier data if it belongs to the same
    /// user; for another user, starts afresh, unless unsynced changes would be lost.
    pub async fn login(
        &self,
        server_url: &str,
        username: &str,
        password: &str,
        device_name: &str,
    ) -> Result<Session> {
        self.login_with(
            server_url,
            username,
            password,
            device_name,
            &LoginOptions::default(),
        )
        .await
    }

    /// `login`, with options such as a certificate authority to trust.
    pub async fn login_with(
        &self,
        server_url: &str,
        username: &str,
        password: &str,
        device_name: &str,
        options: &LoginOptions,
    ) -> Result<Session> {
        let server_url = remote::normalize_server_url(server_url)?;
        let username = username.trim();
        if username.is_empty() {
            return Err(Error::InvalidInput("give a username to log in".into()));
        }
        let (device_id, owner, pending) = self.store.read(|c| {
            Ok((
                meta::get_device_id(c)?,
                meta::get_owner(c)?,
                outbox::outbox_count(c)?,
            ))
        })?;
        // Refuse before asking the server when the name alone shows the data is someone else's.
        if let Some(owner) = &owner {
            if pending > 0 && !owner.username.eq_ignore_ascii_case(username) {
                return Err(Error::OtherUsersChanges {
                    owner: owner.username.clone(),
                    pending,
                });
            }
        }
        self.remote.trust(options.ca_cert_pem.as_deref())?;
        let answer = self
            .remote
            .login(
                &server_url,
                &LoginRequest {
                    username: username.to_owned(),
                    password: password.to_owned(),
                    device_name: device_name.to_owned(),
                    device_id,
                },
            )
            .await?;
        let session = Session {
            server_url,
            user_id: answer.user.id,
            username: answer.user.username.clone(),
            display_name: answer.user.display_name.clone(),
            role: answer.user.role,
            device_id: answer.device_id,
            expires_at: Some(answer.expires_at),
        };
        let stored = StoredSession {
            session: session.clone(),
            token: answer.token,
            ca_cert_pem: options.ca_cert_pem.clone(),
        };
        self.store.write(|tx| {
            if let Some(owner) = meta::get_owner(tx)? {
                if owner.user_id != session.user_id {
                    let pending = outbox::outbox_count(tx)?;
                    if pending > 0 {
                        return Err(Error::OtherUsersChanges {
                            owner: owner.username,
                            pending,
                        });
                    }
                    forget_everything(tx)?;
                }
            }
            meta::set_owner(
                tx,
                &Owner {
                    user_id: session.user_id,
                    username: session.username.clone(),
                },
            )?;
            meta::set_device_id(tx, session.device_id)?;
            meta::set_session(tx, &stored)
        })?;
        tracing::info!(user = %session.username, device = %session.device_id, "logged in");
        // A background agent paused by refused credentials carries on.
        self.hub.wake.notify_one();
        Ok(session)
    }

    /// The signed-in session, if any.
    pub fn session(&self) -> Result<Option<Session>> {
        Ok(self.store.read(meta::get_session)?.map(|s| s.session))
    }

    /// Forgets the session and its token. Work orders and unsynced changes stay, so that
    /// logging in again as the same user loses nothing.
    pub fn logout(&self) -> Result<()> {
        self.store.write(|tx| meta::clear_session(tx))
    }

    /// Points the session at another address of the same server (a new host name, a proxy).
    pub fn set_server_url(&self, server_url: &str) -> Result<()> {
        let server_url = remote::normalize_server_url(server_url)?;
        self.store.write(|tx| {
            let mut stored = meta::get_session(tx)?.ok_or(Error::NotLoggedIn)?;
            stored.session.server_url = server_url;
            meta::set_session(tx, &stored)
        })
    }

    /// Work orders matching `q`, from the index (documents are not loaded).
    pub fn list(&self, q: &ListQuery) -> Result<Vec<WorkOrderSummary>> {
        self.store.read(|c| index::list(c, q))
    }

    /// Open work assigned to the signed-in user, most urgent first, then by resolution due time.
    pub fn my_open_jobs(&self) -> Result<Vec<WorkOrderSummary>> {
        self.store.read(|c| {
            let session = local::require_session(c)?;
            index::list(
                c,
                &ListQuery {
                    open_only: true,
                    assignee: Some(session.user_id),
                    ..ListQuery::default()
                },
            )
        })
    }

    /// Everything about one work order, with SLA clocks as of now.
    pub fn get(&self, id: WorkOrderId) -> Result<WorkOrderView> {
        let view = self.store.read(|c| local::view(c, id, self.now()));
        self.fetch_again_if_unreadable(id, view)
    }

    /// A work order whose local copy cannot be loaded (damaged storage, or a snapshot filed
    /// unread by the first sync that turns out bad) is asked for whole at the next sync, unless
    /// local edits of it wait to be sent. The caller still gets the error.
    fn fetch_again_if_unreadable<T>(&self, id: WorkOrderId, result: Result<T>) -> Result<T> {
        let what = match &result {
            Err(Error::Corrupt { what }) => what.clone(),
            Err(Error::Document {
                source:
                    e @ (DocumentError::Corrupt(_)
                    | DocumentError::Schema(_)
                    | DocumentError::WrongDocument { .. }),
                ..
            }) => format!("the local copy is unreadable: {e}"),
            _ => return result,
        };
        let now = self.now();
        let marked = self
            .store
            .write(|tx| resync::fetch_again_unreadable(tx, id, &what, now));
        match marked {
            Ok(true) => {
                tracing::warn!(%id, %what, "unreadable local copy; asking the server for it again")
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(%id, error = %e, "could not ask for an unreadable work order again")
            }
        }
        result
    }

    /// Resolves a number (`WO-7KQ2-M9XD`), a full id, or a unique prefix of either.
    pub fn find(&self, number_or_id: &str) -> Result<WorkOrderId> {
        self.store.read(|c| index::find_by_text(c, number_or_id))
    }

    /// Does `action` as the signed-in user; durable when this returns.
    pub fn act(&self, id: WorkOrderId, action: Action) -> Result<WorkOrderView> {
        let now = self.now();
        let done = self.store.write(|tx| {
            let view = local::act(tx, id, &action, now)?;
            Ok((view, outbox::outbox_count(tx)?))
        });
        let (view, pending) = self.fetch_again_if_unreadable(id, done)?;
        tracing::debug!(work_order = %view.number, action = action.name(), "action recorded");
        self.hub.local_edit(id, pending);
        Ok(view)
    }

    /// Creates a work order (office roles only); it reaches the server on the next sync.
    pub fn create_work_order(&self, new: NewWorkOrder) -> Result<WorkOrderView> {
        let now = self.now();
        let (view, pending) = self.store.write(|tx| {
            let view = local::create(tx, new, now)?;
            Ok((view, outbox::outbox_count(tx)?))
        })?;
        self.hub.local_edit(view.id, pending);
        Ok(view)
    }

    /// Pushes the outbox and pulls until caught up.
    pub async fn sync(&self) -> Result<SyncReport> {
        self.sync_with_progress(&|_| {}).await
    }

    /// `sync`, reporting progress after every round. Waits for a sync already running (the
    /// background agent's, say) to finish first. Subscribers see the sync state and every
    /// work order the sync changed.
    pub async fn sync_with_progress(
        &self,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport> {
        let _one_at_a_time = self.sync_lock.lock().await;
        self.hub
            .update_status(|s| s.state = SyncState::Syncing(SyncProgress::default()));
        let report_progress = |p: SyncProgress| {
            self.hub.update_status(|s| s.state = SyncState::Syncing(p));
            progress(p);
        };
        let announce = |docs: &[WorkOrderId]| self.hub.changed(docs.to_vec(), ChangeSource::Server);
        let mut result = sync::run(&self.store, &self.remote, &report_progress, &announce).await;
        // Attachment bytes go after the work orders that reference them.
        if let Ok(report) = &mut result {
            match self.upload_attachments(&|_| {}).await {
                Ok(uploads) => {
                    report.uploaded_attachments = uploads.completed;
                    report.attachment_bytes_sent = uploads.bytes_sent;
                    report.attachments_refused = uploads.failed;
                }
                Err(e) => result = Err(e),
            }
        }
        let pending = self.store.read(outbox::outbox_count).unwrap_or(0) as u64;
        self.hub.update_status(|s| {
            s.pending_changes = pending;
            match &result {
                Ok(_) => {
                    s.state = SyncState::Idle;
                    s.last_synced_at = Some(Timestamp::now());
                }
                Err(e) if e.is_retryable() => {
                    s.state = SyncState::Offline {
                        message: e.to_string(),
                    }
                }
                Err(e) => {
                    s.state = SyncState::Error {
                        message: e.to_string(),
                    }
                }
            }
        });
        result
    }

    /// Events from now on: work orders changed here or by a sync, and sync status changes.
    /// Dropping the subscription unsubscribes.
    pub fn subscribe(&self) -> Subscription {
        self.hub.subscribe()
    }

    /// The sync state now, with the number of unsynced changes.
    pub fn sync_status(&self) -> SyncStatus {
        self.hub.status()
    }

    pub(crate) fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The session with its token, for the live connection.
    pub(crate) fn stored_session(&self) -> Result<Option<crate::session::StoredSession>> {
        self.store.read(meta::get_session)
    }

    /// Local changes not yet acknowledged by the server.
    pub fn pending_changes(&self) -> Result<usize> {
        self.store.read(outbox::outbox_count)
    }

    /// Local changes the server refused, oldest first, with its reasons.
    pub fn rejected_changes(&self) -> Result<Vec<RejectedChange>> {
        self.store.read(outbox::rejected_list)
    }

    /// Forgets the list of refused changes once the person has seen it.
    pub fn clear_rejected_changes(&self) -> Result<usize> {
        self.store.write(|tx| outbox::clear_rejected(tx))
    }

    /// Where the next sync resumes, for status displays.
    pub fn cursor(&self) -> Result<fieldsync_proto::wire::Cursor> {
        self.store.read(meta::get_cursor)
    }

    /// The server's technician directory (needs the network).
    pub async fn technicians(&self) -> Result<Vec<TechnicianInfo>> {
        let stored = self.online_session()?;
        let answer = self
            .remote
            .technicians(&stored.session.server_url, &stored.token)
            .await;
        self.settle(answer)
    }

    /// The stored session, with the remote set up to trust its certificate authority.
    pub(crate) fn online_session(&self) -> Result<StoredSession> {
        let stored = self
            .store
            .read(meta::get_session)?
            .ok_or(Error::NotLoggedIn)?;
        self.remote.trust(stored.ca_cert_pem.as_deref())?;
        Ok(stored)
    }

    /// Passes on a server answer; if it says this device was revoked, first removes
    /// everything the device holds.
    pub(crate) fn settle<T>(&self, answer: Result<T>) -> Result<T> {
        if let Err(Error::DeviceRevoked { .. }) = &answer {
            self.store.write(|tx| crate::store::wipe(tx))?;
            tracing::warn!("this device was revoked; its local data was removed");
        }
        answer
    }
}

/// Clears the data of the previous user before another signs in on this device.
fn forget_everything(tx: &rusqlite::Connection) -> Result<()> {
    docs::drop_all_docs(tx)?;
    resync::clear_all_resync(tx)?;
    outbox::clear_rejected(tx)?;
    meta::set_cursor(tx, Default::default())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use fieldsync_proto::wire::{Cursor, UpdatePayload};
    use fieldsync_proto::{Role, Status};

    use super::*;
    use crate::testing::fake_server::FakeServer;
    use crate::testing::{changes_since, now, office_actor, response, server_doc};

    const PASSWORD: &str = "correct horse";

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn the_client_can_be_shared_between_threads() {
        assert_send_sync::<Client>();
        fn sync_future_is_send(c: &Client) -> impl Send + '_ {
            c.sync()
        }
        let _ = sync_future_is_send;
    }

    #[test]
    fn open_creates_the_store_without_a_session() {
        let dir = tempfile::tempdir().expect("tmp");
        let client = Client::open(dir.path().join("device")).expect("open");
        assert!(dir.path().join("device").join(crate::DB_FILE).exists());
        assert_eq!(client.session().expect("session"), None);
        assert!(matches!(client.my_open_jobs(), Err(Error::NotLoggedIn)));
        assert_eq!(client.pending_changes().expect("pending"), 0);
    }

    async fn logged_in(server: &FakeServer, username: &str) -> (tempfile::TempDir, Client) {
        let dir = tempfile::tempdir().expect("tmp");
        let client = Client::open(dir.path()).expect("open");
        client
            .login(&server.url, username, PASSWORD, "test tablet")
            .await
            .expect("login");
        (dir, client)
    }

    /// Technician "ana", logged in, whose first sync (ending at `cursor`) brought one job.
    async fn synced_with_one_job(
        server: &FakeServer,
        cursor: u64,
    ) -> (
        tempfile::TempDir,
        Client,
        WorkOrderId,
        fieldsync_proto::WorkOrderDocument,
    ) {
        let tech = server.user("ana", Role::Technician, PASSWORD);
        let (dir, client) = logged_in(server, "ana").await;
        let (a, mut doc_a) = server_doc(tech);
        server.lock().pages.push_back(response(
            cursor,
            vec![(a, UpdatePayload::Snapshot(doc_a.save()))],
        ));
        client.sync().await.expect("first sync");
        (dir, client, a, doc_a)
    }

    #[tokio::test]
    async fn login_stores_the_session_and_keeps_the_device_id() {
        let server = FakeServer::start().await;
        let tech = server.user("ana", Role::Technician, PASSWORD);
        let (_dir, client) = logged_in(&server, "ana").await;
        let session = client.session().expect("read").expect("session");
        assert_eq!(session.user_id, tech);
        assert_eq!(session.role, Role::Technician);
        assert_eq!(session.display_name, "ANA");
        assert!(session.expires_at.is_some());

        client.logout().expect("logout");
        assert_eq!(client.session().expect("read"), None);
        client
            .login(&format!("{}/", server.url), "ana", PASSWORD, "test tablet")
            .await
            .expect("login again");
        let again = client.session().expect("read").expect("session");
        assert_eq!(again.device_id, session.device_id);
        assert_eq!(again.server_url, server.url, "trailing slash trimmed");
        let logins = server.lock().logins.clone();
        assert_eq!(logins[0].device_id, None);
        assert_eq!(logins[1].device_id, Some(session.device_id));
    }

    #[tokio::test]
    async fn a_wrong_password_is_unauthorized_and_stores_nothing() {
        let server = FakeServer::start().await;
        server.user("ana", Role::Technician, PASSWORD);
        let dir = tempfile::tempdir().expect("tmp");
        let client = Client::open(dir.path()).expect("open");
        let err = client
            .login(&server.url, "ana", "guess", "tablet")
            .await
            .expect_err("wrong password");
        assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
        assert!(
            err.to_string().contains("wrong username or password"),
            "{err}"
        );
        assert_eq!(client.session().expect("read"), None);
    }

    #[tokio::test]
    async fn a_damaged_first_copy_is_listed_then_fetched_again_when_opened() {
        let server = FakeServer::start().await;
        let tech = server.user("ana", Role::Technician, PASSWORD);
        let (_dir, client) = logged_in(&server, "ana").await;
        let (a, mut doc_a) = server_doc(tech);
        let good = doc_a.save();
        // The first sync files snapshots under the server's index row without loading them:
        // a damaged one is listed like the others and noticed only when opened.
        let mut page = response(1, vec![(a, UpdatePayload::Snapshot(good.clone()))]);
        if let UpdatePayload::Snapshot(bytes) = &mut page.updates[0].payload {
            bytes.truncate(bytes.len() / 2);
        }
        server.lock().pages.push_back(page);
        client.sync().await.expect("first sync");
        assert_eq!(client.my_open_jobs().expect("jobs").len(), 1);

        let err = client.get(a).expect_err("a damaged copy");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert!(err.to_string().contains("fieldsync sync"), "{err}");
        let err = client.accept(a).expect_err("no action on a damaged copy");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        assert_eq!(client.pending_changes().expect("pending"), 0);

        // The next sync asks for it whole, and the server's copy replaces the damaged one.
        server
            .lock()
            .pages
            .push_back(response(2, vec![(a, UpdatePayload::Snapshot(good))]));
        client.sync().await.expect("second sync");
        let asked = server
            .lock()
            .requests
            .last()
            .expect("request")
            .resync
            .clone();
        assert_eq!(asked, vec![a]);
        assert_eq!(client.get(a).expect("view").status, Status::Assigned);
        client.accept(a).expect("accept");
    }

    #[tokio::test]
    async fn changes_filed_without_what_they_build_on_are_fetched_again_when_opened() {
        let server = FakeServer::start().await;
        let (_dir, client, a, mut doc_a) = synced_with_one_job(&server, 1).await;

        // Two office edits; the device is sent only the second, which builds on the first. It
        // is filed unread, so the gap shows when the work order is opened.
        let heads = doc_a.heads();
        let start = now().plus_minutes(30);
        for minutes in [60, 90] {
            let window = Some(fieldsync_proto::ScheduleWindow {
                start,
                end: start.plus_minutes(minutes),
            });
            doc_a
                .act(&Action::Reschedule { window }, &office_actor(), now())
                .expect("reschedule");
        }
        let mut sent = changes_since(&mut doc_a, a, &heads);
        if let UpdatePayload::Changes(changes) = &mut sent.payload {
            changes.remove(0);
        }
        let mut page = response(2, Vec::new());
        page.updates.push(sent);
        server.lock().pages.push_back(page);
        client.sync().await.expect("second sync");

        let err = client.get(a).expect_err("an incomplete copy");
        assert!(matches!(err, Error::Corrupt { .. }), "{err:?}");
        // The next sync asks for it whole, and from then on it opens.
        server.lock().pages.push_back(response(
            3,
            vec![(a, UpdatePayload::Snapshot(doc_a.save()))],
        ));
        client.sync().await.expect("third sync");
        let asked = server
            .lock()
            .requests
            .last()
            .expect("request")
            .resync
            .clone();
        assert_eq!(asked, vec![a]);
        let view = client.get(a).expect("view");
        assert_eq!(view.schedule.map(|w| w.end), Some(start.plus_minutes(90)));
        client.accept(a).expect("accept");
    }

    #[tokio::test]
    async fn sync_pushes_the_outbox_and_pulls_every_page() {
        let server = FakeServer::start().await;
        let tech = server.user("ana", Role::Technician, PASSWORD);
        let (_dir, client) = logged_in(&server, "ana").await;
        let (a, mut doc_a) = server_doc(tech);
        let (b, mut doc_b) = server_doc(tech);
        {
            let mut state = server.lock();
            let mut first = response(1, vec![(a, UpdatePayload::Snapshot(doc_a.save()))]);
            first.more = true;
            first.remaining_docs = 1;
            state.pages.push_back(first);
            state.pages.push_back(response(
                2,
                vec![(b, UpdatePayload::Snapshot(doc_b.save()))],
            ));
        }
        let seen = Mutex::new(Vec::new());
        let report = client
            .sync_with_progress(&|p| seen.lock().expect("lock").push(p))
            .await
            .expect("sync");
        assert_eq!(report.rounds, 2);
        assert_eq!(report.pulled_docs, 2);
        assert_eq!(report.cursor, Cursor(2));
        let seen = seen.into_inner().expect("progress");
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[0].docs_done, seen[0].docs_total), (1, 2));
        assert_eq!((seen[1].docs_done, seen[1].docs_total), (2, 2));
        assert!(seen[1].bytes_done > seen[0].bytes_done);

        let jobs = client.my_open_jobs().expect("jobs");
        assert_eq!(jobs.len(), 2);
        client.accept(a).expect("accept");
        client.start_travel(a).expect("travel");
        assert_eq!(client.pending_changes().expect("pending"), 2);

        let report = client.sync().await.expect("sync");
        assert_eq!(report.pushed_docs, 1);
        assert_eq!(report.accepted_docs, 1);
        assert_eq!(client.pending_changes().expect("pending"), 0);
        let requests = server.lock().requests.clone();
        let last = requests.last().expect("request");
        assert_eq!(last.cursor, Cursor(2), "resumes from the stored cursor");
        assert_eq!(last.push[0].doc, a);
        assert_eq!(last.push[0].changes.len(), 2);
        assert_eq!(client.get(a).expect("view").status, Status::Traveling);
    }

    #[tokio::test]
    async fn an_unreachable_server_leaves_everything_in_place() {
        let server = FakeServer::start().await;
        let (_dir, client, a, _) = synced_with_one_job(&server, 1).await;
        client.accept(a).expect("accept");

        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        client
            .set_server_url(&format!("http://{closed}"))
            .expect("point elsewhere");
        let err = client.sync().await.expect_err("offline");
        assert!(matches!(err, Error::Offline { .. }), "{err:?}");
        assert!(err.to_string().contains("saved on this device"), "{err}");
        assert_eq!(client.pending_changes().expect("pending"), 1);
        assert_eq!(client.cursor().expect("cursor"), Cursor(1));
    }

    #[tokio::test]
    async fn another_user_cannot_take_over_unsynced_work() {
        let server = FakeServer::start().await;
        let ana = server.user("ana", Role::Technician, PASSWORD);
        server.user("ben", Role::Technician, PASSWORD);
        let (_dir, client) = logged_in(&server, "ana").await;
        let (a, mut doc_a) = server_doc(ana);
        server.lock().pages.push_back(response(
            1,
            vec![(a, UpdatePayload::Snapshot(doc_a.save()))],
        ));
        client.sync().await.expect("sync");
        client.accept(a).expect("accept");
        client.logout().expect("logout");

        let err = client
            .login(&server.url, "ben", PASSWORD, "tablet")
            .await
            .expect_err("ana's change is unsynced");
        assert!(
            matches!(err, Error::OtherUsersChanges { pending: 1, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("ana"), "{err}");

        client
            .login(&server.url, "ana", PASSWORD, "tablet")
            .await
            .expect("ana again");
        client.sync().await.expect("upload");
        client.logout().expect("logout");
        client
            .login(&server.url, "ben", PASSWORD, "tablet")
            .await
            .expect("ben now");
        assert!(
            matches!(client.get(a), Err(Error::NotFound { .. })),
            "ana's job is gone"
        );
        assert_eq!(
            client.cursor().expect("cursor"),
            Cursor(0),
            "ben starts afresh"
        );
    }

    #[tokio::test]
    async fn a_revoked_device_removes_its_data_and_says_so() {
        let server = FakeServer::start().await;
        let (_dir, client, a, _) = synced_with_one_job(&server, 4).await;
        client.accept(a).expect("accept");
        server.lock().revoked = true;

        let err = client.sync().await.expect_err("revoked");
        assert!(matches!(err, Error::DeviceRevoked { .. }), "{err:?}");
        assert!(
            err.to_string().contains("revoked by an administrator"),
            "{err}"
        );
        assert!(err.to_string().contains("removed"), "{err}");
        assert_eq!(client.session().expect("session"), None);
        assert_eq!(client.pending_changes().expect("pending"), 0);
        assert!(matches!(client.get(a), Err(Error::NotFound { .. })));
        assert!(client.list(&Default::default()).expect("list").is_empty());
        assert_eq!(client.cursor().expect("cursor"), Cursor(0));
        assert!(matches!(client.sync().await, Err(Error::NotLoggedIn)));
    }

    #[tokio::test]
    async fn technicians_come_from_the_server() {
        let server = FakeServer::start().await;
        server.user("disp", Role::Dispatcher, PASSWORD);
        server.lock().technicians.push(TechnicianInfo {
            id: fieldsync_proto::UserId::new(),
            username: "ana".into(),
            display_name: "Ana".into(),
            skills: vec!["hardware".into()],
            region: "north".into(),
            latitude: 53.5,
            longitude: 10.0,
            senior: true,
        });
        let (_dir, client) = logged_in(&server, "disp").await;
        let list = client.technicians().await.expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].username, "ana");
    }
}
