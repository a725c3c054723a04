//! Reading what each replica holds, for convergence checks: a device store's documents (read
//! straight from its SQLite file) and the server's, as Automerge documents with their heads.

use std::path::Path;

use fieldsync_proto::{WorkOrderDocument, WorkOrderId};
use fieldsync_server::RunningServer;
use rusqlite::{Connection, OpenFlags};

/// The document as the device at `store_dir` holds it, or `None` if it does not hold it.
pub fn device_document(store_dir: &Path, id: WorkOrderId) -> Option<WorkOrderDocument> {
    let conn = Connection::open_with_flags(
        store_dir.join(fieldsync_client::DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("device store opens read-only");
    let mut stmt = conn
        .prepare("SELECT bytes FROM doc_chunks WHERE doc = ?1 ORDER BY seq")
        .expect("chunk query");
    let chunks: Vec<Vec<u8>> = stmt
        .query_map([id.to_string()], |r| r.get(0))
        .expect("chunks")
        .collect::<Result<_, _>>()
        .expect("chunk rows");
    if chunks.is_empty() {
        return None;
    }
    Some(
        WorkOrderDocument::load_chunks(chunks.iter().map(Vec::as_slice))
            .expect("device document loads"),
    )
}

/// The work orders the device at `store_dir` holds.
pub fn device_work_orders(store_dir: &Path) -> Vec<WorkOrderId> {
    let conn = Connection::open_with_flags(
        store_dir.join(fieldsync_client::DB_FILE),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("device store opens read-only");
    let mut stmt = conn
        .prepare("SELECT DISTINCT doc FROM doc_chunks ORDER BY doc")
        .expect("doc query");
    let ids: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .expect("docs")
        .collect::<Result<_, _>>()
        .expect("doc rows");
    ids.iter()
        .map(|s| s.parse().expect("stored id parses"))
        .collect()
}

/// The document as the server stores it, or `None` if it has never heard of it.
pub async fn server_document(server: &RunningServer, id: WorkOrderId) -> Option<WorkOrderDocument> {
    let stored = server
        .state()
        .storage()
        .load_document(id)
        .await
        .expect("server storage reads")?;
    Some(WorkOrderDocument::load(&stored.snapshot).expect("server document loads"))
}
