//! Attachments end to end: a real server, devices with their own stores, and a proxy that cuts
//! and damages the link. Photos arrive intact however often the link drops, a device killed
//! mid-upload resumes instead of starting over, damaged chunks are refused and sent again, and
//! nobody outside a work order's scope can fetch its photos.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use fieldsync_client::{AttachSource, Client, CHUNK_BYTES};
use fieldsync_proto::{Action, AttachmentKind, BlobHash, WorkOrderId};
use fieldsync_server::{BlobLimits, StartOptions};
use fieldsync_tests::fault_proxy::{Fault, FaultProxy};
use fieldsync_tests::{intake, Device, TestServer};
use sha2::{Digest, Sha256};

fn photo(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn hash_of(bytes: &[u8]) -> BlobHash {
    BlobHash::from_digest(&Sha256::digest(bytes).into())
}

/// A work order for `tech` created by the office, on the technician's device.
async fn job_for(server: &TestServer, office: &Device, tech: &Device, who: &str) -> WorkOrderId {
    let assignee = if who == "tech-a" {
        server.tech_a
    } else {
        server.tech_b
    };
    let view = office
        .client
        .create_work_order(intake(Some(assignee)))
        .expect("create");
    office.client.sync().await.expect("office sync");
    tech.client.sync().await.expect("tech sync");
    tech.client.act(view.id, Action::Accept).expect("accept");
    view.id
}

/// Fetches an attachment on `device` and returns its bytes.
async fn fetched(device: &Device, sha: &BlobHash) -> Vec<u8> {
    let path = device.client.attachment_file(sha).await.expect("fetch");
    std::fs::read(path).expect("read fetched file")
}

#[tokio::test]
async fn a_20_mb_photo_arrives_intact_through_a_link_that_keeps_dropping() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let job = job_for(&server, &office, &tech, "tech-a").await;

    let bytes = photo(20 * 1024 * 1024, 1);
    let sha = hash_of(&bytes);
    let file = tech.dir.path().join("IMG_2001.jpg");
    std::fs::write(&file, &bytes).expect("write photo");
    let attachment = tech
        .client
        .attach(job, AttachSource::Path(&file), AttachmentKind::Photo, None)
        .expect("attach");
    assert_eq!(attachment.sha256, sha);
    assert_eq!(attachment.content_type, "image/jpeg");

    // Thirty requests in a row meet a dropped link: cut after 400 or 800 kB (a chunk is 1 MB),
    // or the server's answer lost.
    let proxy = FaultProxy::start(server.server.addr())
        .await
        .expect("proxy");
    let faults: Vec<Fault> = (0..30)
        .map(|i| match i % 3 {
            0 => Fault::CutRequest(400_000),
            1 => Fault::DropResponse,
            _ => Fault::CutRequest(800_000),
        })
        .collect();
    let planned = faults.len();
    proxy.plan(faults);
    tech.client.set_server_url(&proxy.url()).expect("via proxy");

    let mut failures = 0;
    let mut attempts = 0;
    while attempts < 100 {
        attempts += 1;
        match tech.client.sync().await {
            Ok(_) if tech.client.pending_uploads().expect("pending").is_empty() => break,
            Ok(_) => {}
            Err(e) => {
                assert!(e.is_retryable(), "only the link failed: {e}");
                failures += 1;
            }
        }
    }
    assert!(tech.client.pending_uploads().expect("pending").is_empty());
    assert_eq!(proxy.remaining(), 0, "every planned fault was met");
    println!(
        "20 MB photo: {planned} faults planned, {failures} failed syncs, {attempts} sync attempts"
    );
    assert!(failures >= 5, "the link really dropped: {failures}");

    office.client.sync().await.expect("office sync");
    let seen = office.client.attachments(job).expect("attachments");
    assert_eq!(seen.len(), 1);
    assert!(!seen[0].local, "downloads are lazy");
    let got = fetched(&office, &sha).await;
    assert_eq!(got.len(), bytes.len());
    assert_eq!(hash_of(&got), sha, "the photo arrived intact");
    assert!(office.client.attachments(job).expect("again")[0].local);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_killed_mid_upload_resumes_without_starting_over() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let job = job_for(&server, &office, &tech, "tech-a").await;

    let size = 8 * 1024 * 1024;
    let bytes = photo(size, 2);
    let sha = hash_of(&bytes);
    tech.client
        .attach(
            job,
            AttachSource::Bytes {
                bytes: &bytes,
                file_name: "fault.jpg",
            },
            AttachmentKind::Photo,
            None,
        )
        .expect("attach");
    let store = tech.store_path();
    let Device { client, dir } = tech;
    drop(client);

    // Another process uploads until the server holds 5 MB, then is killed with SIGKILL.
    let stop_at = 5 * 1024 * 1024;
    let mut child = Command::new(env!("CARGO_BIN_EXE_upload_then_hang"))
        .arg(&store)
        .arg(stop_at.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn device process");
    let stdout = child.stdout.take().expect("stdout");
    // The server runs in this process: wait for the child without blocking it.
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        line
    })
    .await
    .expect("reader");
    let held: u64 = line
        .trim()
        .strip_prefix("at ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {line:?}"));
    assert!(held >= stop_at && held < size as u64, "{held}");
    child.kill().expect("kill -9");
    child.wait().expect("reaped");

    // The app starts again on the same store and syncs.
    let tech = Device {
        client: Client::open(dir.path()).expect("reopen"),
        dir,
    };
    let queued = tech.client.pending_uploads().expect("pending");
    assert_eq!(queued.len(), 1, "the upload is still queued after the kill");
    assert_eq!(
        queued[0].sent_bytes, held,
        "what went before the kill was recorded"
    );
    let report = tech.client.sync().await.expect("sync after restart");
    assert_eq!(report.uploaded_attachments, 1);
    let resent = report.attachment_bytes_sent;
    println!("killed at {held} of {size} bytes; the restarted device sent {resent} bytes");
    assert_eq!(
        resent,
        size as u64 - held,
        "only the missing bytes were sent"
    );
    assert!(resent < size as u64);

    office.client.sync().await.expect("office sync");
    assert_eq!(hash_of(&fetched(&office, &sha).await), sha);
}

#[tokio::test]
async fn a_technician_cannot_fetch_another_technicians_photo_by_hash() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech_a = server.device("tech-a").await;
    let tech_b = server.device("tech-b").await;
    let job = job_for(&server, &office, &tech_a, "tech-a").await;
    let _own = job_for(&server, &office, &tech_b, "tech-b").await;

    let bytes = photo(200_000, 3);
    let sha = hash_of(&bytes);
    tech_a
        .client
        .attach(
            job,
            AttachSource::Bytes {
                bytes: &bytes,
                file_name: "meter.jpg",
            },
            AttachmentKind::Photo,
            None,
        )
        .expect("attach");
    tech_a
        .client
        .attach(
            job,
            AttachSource::Bytes {
                bytes: b"customer signature strokes",
                file_name: "signature.png",
            },
            AttachmentKind::Signature,
            None,
        )
        .expect("sign");
    let report = tech_a.client.sync().await.expect("sync");
    assert_eq!(report.uploaded_attachments, 2);

    // By hash over the API: the same 404 as a hash nobody has.
    let token_b = server.token("tech-b").await;
    let (status, body) = server.get(&token_b, &format!("/v1/blobs/{sha}")).await;
    assert_eq!(status, 404, "{body}");
    let nobody = hash_of(b"no such photo");
    let (status2, body2) = server.get(&token_b, &format!("/v1/blobs/{nobody}")).await;
    assert_eq!(status2, 404);
    assert_eq!(
        body["error"]["code"], body2["error"]["code"],
        "{body} vs {body2}"
    );
    // Through the library on their device as well.
    let err = tech_b
        .client
        .attachment_file(&sha)
        .await
        .expect_err("not theirs");
    assert!(err.to_string().contains("no attachment"), "{err}");

    // The owner and the office can.
    for token in [server.token("tech-a").await, server.token("dispatch").await] {
        let resp = reqwest::Client::new()
            .get(format!("{}/v1/blobs/{sha}", server.url()))
            .bearer_auth(&token)
            .send()
            .await
            .expect("get");
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().expect("type"),
            "image/jpeg"
        );
        let got = resp.bytes().await.expect("bytes");
        assert_eq!(hash_of(&got), sha);
    }
    office.client.sync().await.expect("office sync");
    let seen = office.client.attachments(job).expect("attachments");
    let kinds: Vec<AttachmentKind> = seen.iter().map(|a| a.attachment.kind).collect();
    assert_eq!(
        kinds,
        vec![AttachmentKind::Photo, AttachmentKind::Signature]
    );
    assert_eq!(
        office
            .client
            .prefetch_attachments(job)
            .await
            .expect("prefetch"),
        2
    );
    assert!(office
        .client
        .attachments(job)
        .expect("again")
        .iter()
        .all(|a| a.local));
}

#[tokio::test]
async fn a_damaged_chunk_is_refused_and_sent_again_and_the_device_keeps_the_file() {
    let server = TestServer::start().await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let job = job_for(&server, &office, &tech, "tech-a").await;
    // Push the accept first, so that the first bytes through the proxy are the upload's.
    tech.client.sync().await.expect("sync");

    let size = 3 * 1024 * 1024;
    let bytes = photo(size, 4);
    let sha = hash_of(&bytes);
    tech.client
        .attach(
            job,
            AttachSource::Bytes {
                bytes: &bytes,
                file_name: "burnt-relay.jpg",
            },
            AttachmentKind::Photo,
            None,
        )
        .expect("attach");

    // A byte 600 kB into each of the next four requests is flipped on the way; the sync and
    // upload-start requests are shorter, so the first 1 MB chunk is the one damaged.
    let proxy = FaultProxy::start(server.server.addr())
        .await
        .expect("proxy");
    proxy.plan([Fault::CorruptRequest(600_000); 4]);
    tech.client.set_server_url(&proxy.url()).expect("via proxy");
    let report = tech.client.sync().await.expect("sync");
    println!("requests through the proxy: {}", proxy.requests());
    assert_eq!(proxy.remaining(), 0);
    assert_eq!(report.uploaded_attachments, 1);
    let sent = report.attachment_bytes_sent;
    println!("3 MB photo with a damaged chunk: {sent} bytes sent");
    assert!(
        sent > size as u64,
        "the damaged chunk was sent again: {sent}"
    );
    assert_eq!(
        (sent - size as u64) % CHUNK_BYTES as u64,
        0,
        "only whole chunks were resent"
    );
    assert!(tech.client.attachments(job).expect("list")[0].local);

    office.client.sync().await.expect("office sync");
    assert_eq!(hash_of(&fetched(&office, &sha).await), sha, "intact");
}

#[tokio::test]
async fn an_attachment_over_the_limits_stays_queued_with_the_reason() {
    let server = TestServer::start_with(StartOptions {
        blob_limits: Some(BlobLimits {
            max_file_bytes: 1_000_000,
            device_quota_bytes: 1_500_000,
        }),
        ..StartOptions::default()
    })
    .await;
    let office = server.device("dispatch").await;
    let tech = server.device("tech-a").await;
    let job = job_for(&server, &office, &tech, "tech-a").await;

    let attach = |bytes: &[u8], name: &str| {
        tech.client
            .attach(
                job,
                AttachSource::Bytes {
                    bytes,
                    file_name: name,
                },
                AttachmentKind::Document,
                Some("application/pdf"),
            )
            .expect("attach offline")
    };
    let big = attach(&photo(1_200_000, 5), "manual.pdf");
    let first = attach(&photo(900_000, 6), "report.pdf");
    let report = tech.client.sync().await.expect("sync");
    assert_eq!(report.uploaded_attachments, 1);
    assert_eq!(report.attachments_refused, 1);
    let pending = tech.client.pending_uploads().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].sha256, big.sha256);
    let reason = pending[0].last_error.clone().unwrap_or_default();
    assert!(
        reason.contains("1000000 bytes per file") && reason.contains("--max-attachment-bytes"),
        "{reason}"
    );

    // The quota counts what the device stored: 900,000 + 900,000 is over 1,500,000.
    let second = attach(&photo(900_000, 7), "invoice.pdf");
    let report = tech.client.sync().await.expect("sync");
    assert_eq!(report.attachments_refused, 2);
    let list = tech.client.attachments(job).expect("list");
    let state = |sha: &BlobHash| {
        list.iter()
            .find(|a| &a.attachment.sha256 == sha)
            .expect("listed")
            .clone()
    };
    assert!(!state(&first.sha256).upload_pending);
    let quota = state(&second.sha256);
    assert!(quota.upload_pending && quota.local);
    let reason = quota.upload_error.unwrap_or_default();
    assert!(reason.contains("quota is 1500000 bytes"), "{reason}");
}
