//! Commit notices across server instances: every commit NOTIFYs inside its transaction (so
//! the notice goes out only if it commits), and each instance keeps one connection LISTENing
//! that re-publishes what it hears, its own commits included, into the local feed.
//!
//! Notifications arrive in commit order, which is sequence order, so the listener remembers
//! the last sequence number it published. When its connection drops it reconnects, LISTENs
//! again, then reads what it missed from `commit_notices`: no notice is lost to a reconnect,
//! and none is published twice.

use std::time::Duration;

use sha2::{Digest, Sha256};
use tokio::sync::{broadcast, mpsc};
use tokio::task::{AbortHandle, JoinHandle};
use tokio_postgres::{AsyncMessage, NoTls, Notification};

use super::convert::{db_err, explain};
use super::documents;
use crate::storage::{CommitNotice, Seq, StorageError};

/// Notices read from the log per query while catching up.
const CATCH_UP_PAGE: i64 = 1000;
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(5);

/// The NOTIFY channel of a schema. Channels are per database, so the schema is part of the
/// name; hashed, because a channel name has at most 63 bytes.
pub fn channel_name(schema: &str) -> String {
    let digest = Sha256::digest(schema.as_bytes());
    format!("fieldsync_commits_{}", hex::encode(&digest[..8]))
}

/// Application name of the listening connection, as `pg_stat_activity` shows it.
pub fn application_name(channel: &str) -> String {
    format!("fieldsync-listen {channel}")
}

/// Starts listening; returns once LISTEN is in place, so that every commit from then on is
/// published. Aborting the handle stops the listener and closes its connection.
pub async fn start(
    config: tokio_postgres::Config,
    channel: String,
    pool: deadpool_postgres::Pool,
    feed: broadcast::Sender<CommitNotice>,
) -> Result<AbortHandle, StorageError> {
    let mut config = config;
    config
        .application_name(application_name(&channel))
        // A connection that silently died would otherwise go unnoticed for hours, with no
        // notices and no error; this one should be replaced within a minute.
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .keepalives_interval(Duration::from_secs(10))
        .keepalives_retries(3);
    let listening = Listening::connect(&config, &channel).await?;
    let client = pool.get().await.map_err(super::pool_err)?;
    let last = documents::max_seq(&client).await?;
    drop(client);
    let listener = Listener {
        config,
        channel,
        pool,
        feed,
        last,
    };
    Ok(tokio::spawn(listener.run(listening)).abort_handle())
}

struct Listener {
    config: tokio_postgres::Config,
    channel: String,
    pool: deadpool_postgres::Pool,
    feed: broadcast::Sender<CommitNotice>,
    /// The last sequence number published.
    last: Seq,
}

impl Listener {
    async fn run(mut self, mut listening: Listening) {
        loop {
            let why = self.deliver(&mut listening).await;
            drop(listening);
            tracing::warn!(error = %why, "lost the PostgreSQL connection that listens for commits; reconnecting");
            let mut wait = FIRST_RETRY;
            listening = loop {
                tokio::time::sleep(wait).await;
                match self.reconnect().await {
                    Ok(listening) => break listening,
                    Err(e) => {
                        tracing::warn!(error = %e, retry_in = ?wait, "cannot listen for commits yet");
                        wait = (wait * 2).min(MAX_RETRY);
                    }
                }
            };
            tracing::info!(after = self.last.0, "listening for commits again");
        }
    }

    /// Publishes notifications until the connection fails; returns why it did.
    async fn deliver(&mut self, listening: &mut Listening) -> String {
        while let Some(message) = listening.notifications.recv().await {
            let notification = match message {
                Ok(n) => n,
                Err(e) => return explain(&e),
            };
            match documents::decode_notice(notification.payload()) {
                Some(notice) => self.publish(notice),
                None => tracing::warn!(
                    channel = notification.channel(),
                    payload = notification.payload(),
                    "ignoring a notification that is not a commit notice"
                ),
            }
        }
        "the connection closed".to_owned()
    }

    fn publish(&mut self, notice: CommitNotice) {
        // Already published while catching up after a reconnect.
        if notice.seq <= self.last {
            return;
        }
        self.last = notice.seq;
        // Nobody listening is fine: the notice only saves a device from waiting.
        let _ = self.feed.send(notice);
    }

    /// Listens again, then publishes what was committed while nobody listened.
    async fn reconnect(&mut self) -> Result<Listening, StorageError> {
        let listening = Listening::connect(&self.config, &self.channel).await?;
        let client = self.pool.get().await.map_err(super::pool_err)?;
        loop {
            let missed = documents::notices_after(&client, self.last, CATCH_UP_PAGE).await?;
            let done = missed.len() < CATCH_UP_PAGE as usize;
            for notice in missed {
                self.publish(notice);
            }
            if done {
                return Ok(listening);
            }
        }
    }
}

/// A connection that LISTENs, with the task that reads its messages.
struct Listening {
    notifications: mpsc::Receiver<Result<Notification, tokio_postgres::Error>>,
    _client: tokio_postgres::Client,
    reader: JoinHandle<()>,
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Listening {
    async fn connect(config: &tokio_postgres::Config, channel: &str) -> Result<Self, StorageError> {
        let (client, mut connection) = config.connect(NoTls).await.map_err(|e| {
            StorageError::Database(format!(
                "cannot open the connection that listens for commits: {}",
                explain(&e)
            ))
        })?;
        let (tx, notifications) = mpsc::channel(crate::storage::COMMIT_FEED_CAPACITY);
        // The connection does its I/O only while polled, queries included, so it is polled
        // here all the time and hands notifications over.
        let reader = tokio::spawn(async move {
            loop {
                let message = std::future::poll_fn(|cx| connection.poll_message(cx)).await;
                let forward = match message {
                    Some(Ok(AsyncMessage::Notification(n))) => Ok(n),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => Err(e),
                    None => return,
                };
                let failed = forward.is_err();
                if tx.send(forward).await.is_err() || failed {
                    return;
                }
            }
        });
        // The channel name is made of [a-z0-9_] only (`channel_name`); quoted all the same.
        client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await
            .map_err(db_err)?;
        Ok(Self {
            notifications,
            _client: client,
            reader,
        })
    }
}
