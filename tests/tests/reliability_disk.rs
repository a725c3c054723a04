//! Disk faults: the device's or the server's disk fills up. The action or the push fails with
//! an error that says the disk is full, nothing stored before is damaged or lost, and work
//! carries on once space is freed. Uses a small tmpfs (root only; see `small_disk`).

use fieldsync_client::{Client, Error as ClientError, StoreError};
use fieldsync_proto::wire::ErrorCode;
use fieldsync_proto::{Action, NewPartUsage, Status};
use fieldsync_tests::inspect::server_document;
use fieldsync_tests::small_disk::SmallDisk;
use fieldsync_tests::{intake, TestServer, PASSWORD};

fn big_notes(tag: &str) -> Action {
    // Near the 64 KB text limit: a few of these make the database files grow.
    Action::EditNotes {
        text: format!("{tag}: {}", "measured and noted. ".repeat(3_000)),
    }
}

fn part(n: usize) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: format!("FUSE-{n}"),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

fn integrity(db: &std::path::Path) -> String {
    let conn = rusqlite::Connection::open(db).expect("open");
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity check")
}

#[tokio::test]
async fn a_full_device_disk_fails_the_action_clearly_and_loses_nothing() {
    let Some(disk) = SmallDisk::mount(6) else {
        return;
    };
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");

    let store = disk.path().join("tablet");
    let tech = Client::open(&store).expect("store on the small disk");
    tech.login(&server.url(), "tech-a", PASSWORD, "tablet")
        .await
        .expect("login");
    tech.sync().await.expect("download");
    tech.act(id, Action::Accept).expect("accept");
    tech.act(id, part(0)).expect("part");
    let before = tech.get(id).expect("view");
    let pending = tech.pending_changes().expect("pending");

    let filler = disk.fill();
    let mut refused = 0;
    let mut returned = vec![];
    for n in 1..=5 {
        match tech.act(id, big_notes(&format!("visit {n}"))) {
            Ok(_) => returned.push(n),
            Err(e) => {
                assert!(
                    matches!(e, ClientError::Storage(StoreError::DiskFull { .. })),
                    "{e:?}"
                );
                let text = e.to_string();
                assert!(text.contains("disk is full"), "{text}");
                assert!(text.contains(&store.display().to_string()), "{text}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the full disk refused nothing");
    if returned.is_empty() {
        assert_eq!(tech.get(id).expect("view"), before, "nothing half-saved");
        assert_eq!(tech.pending_changes().expect("pending"), pending);
    }
    // Syncing with a full disk fails cleanly or succeeds; either way nothing is lost.
    let _ = tech.sync().await;

    std::fs::remove_file(&filler).expect("free the space");
    tech.act(id, part(1))
        .expect("works again once space is free");
    tech.sync().await.expect("sync after space returns");
    assert_eq!(tech.pending_changes().expect("pending"), 0);
    assert_eq!(
        integrity(&store.join(fieldsync_client::DB_FILE)),
        "ok",
        "the store survived the full disk"
    );

    office.client.sync().await.expect("office catches up");
    let seen = office.client.get(id).expect("view");
    assert_eq!(seen.status, Status::Accepted);
    let parts: Vec<_> = seen
        .part_usages
        .iter()
        .map(|p| p.part_number.as_str())
        .collect();
    assert_eq!(parts, ["FUSE-0", "FUSE-1"], "every returned part once");
    if let Some(&last) = returned.last() {
        assert!(
            seen.notes.starts_with(&format!("visit {last}:")),
            "the last returned notes edit is there"
        );
    }
    drop(tech);
}

#[tokio::test]
async fn a_full_server_disk_answers_503_and_the_push_completes_later() {
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let server = TestServer::start_at(disk.path().join("server")).await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let id = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    office.client.sync().await.expect("upload");
    tech.client.sync().await.expect("download");
    tech.client.act(id, Action::Accept).expect("accept");
    tech.client.sync().await.expect("accepted");
    let stored_before = server_document(&server.server, id)
        .await
        .expect("stored")
        .heads();

    // Signing in writes a session, so the dispatcher does it before the disk fills.
    let token = server.token("dispatch").await;
    let filler = disk.fill();
    for n in 0..3 {
        tech.client
            .act(id, big_notes(&format!("visit {n}")))
            .expect("saved on the device");
    }
    tech.client.act(id, part(7)).expect("part");
    let pending = tech.client.pending_changes().expect("pending");
    let err = tech.client.sync().await.expect_err("the server is full");
    match &err {
        ClientError::Server { code, message } => {
            assert_eq!(*code, ErrorCode::Internal);
            assert!(message.contains("storage is full"), "{message}");
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }
    assert!(err.is_retryable(), "the device will retry");
    assert_eq!(tech.client.pending_changes().expect("pending"), pending);

    // The JSON API says the same.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/work-orders", server.url()))
        .bearer_auth(&token)
        .json(&intake(None))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 503);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("storage is full")),
        "{body}"
    );
    let mut stored = server_document(&server.server, id).await.expect("stored");
    assert_eq!(stored.heads(), stored_before, "nothing half-stored");

    std::fs::remove_file(&filler).expect("free the space");
    tech.client.sync().await.expect("the push completes");
    assert_eq!(tech.client.pending_changes().expect("pending"), 0);
    office.client.sync().await.expect("office catches up");
    let seen = office.client.get(id).expect("view");
    assert!(seen.notes.starts_with("visit 2:"), "last notes edit stored");
    assert_eq!(seen.part_usages.len(), 1);
    assert_eq!(
        integrity(&server.data_dir().join(fieldsync_server::DATABASE_FILE)),
        "ok"
    );
}
