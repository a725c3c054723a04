//! Network faults between devices and the server, through the fault-injecting proxy: dropped
//! answers, requests and answers cut at many byte offsets, delays that let a later request from
//! another device overtake, resets, and requests delivered twice or replayed late. Every device
//! keeps working through them; afterwards all converge and nothing is lost or doubled.

use std::collections::BTreeMap;
use std::time::Duration;

use fieldsync_proto::{
    Action, NewPartUsage, NewRepairRecord, ScheduleWindow, Timestamp, WorkOrder, WorkOrderId,
};
use fieldsync_tests::fault_proxy::{Fault, FaultProxy};
use fieldsync_tests::inspect::{device_document, server_document};
use fieldsync_tests::{intake, Device, TestServer};

fn faults() -> Vec<Fault> {
    let mut list = vec![Fault::Pass, Fault::DropResponse, Fault::Reset];
    for n in [0, 1, 16, 100, 180, 250, 400, 1000, 4000] {
        list.push(Fault::CutRequest(n));
        list.push(Fault::CutResponse(n));
    }
    list.extend([
        Fault::Duplicate {
            after: Duration::ZERO,
        },
        Fault::Duplicate {
            after: Duration::from_millis(150),
        },
        Fault::Delay(Duration::from_millis(50)),
        Fault::DropResponse,
    ]);
    list
}

fn part(tag: &str) -> Action {
    Action::RecordPartUsage(NewPartUsage {
        part_number: tag.into(),
        quantity: 1,
        source_location: "VAN-07".into(),
        serial: None,
        refurbished: false,
    })
}

fn repair(tag: &str) -> Action {
    Action::AddRepairRecord(NewRepairRecord {
        diagnosis: tag.into(),
        action_taken: "cleaned the contacts".into(),
        measurements: vec![],
    })
}

fn tags(wo: &WorkOrder) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in &wo.part_usages {
        *counts.entry(p.part_number.clone()).or_insert(0) += 1;
    }
    for r in &wo.repair_records {
        *counts.entry(r.diagnosis.clone()).or_insert(0) += 1;
    }
    counts
}

/// A sync through a faulty link: it may fail, but only as a network or server failure.
async fn faulty_sync(device: &Device, who: &str, fault: Fault) {
    if let Err(e) = device.client.sync().await {
        assert!(
            fault != Fault::Pass
                && (e.is_retryable() || matches!(e, fieldsync_client::Error::Server { .. })),
            "{who}: sync through {fault:?} failed unexpectedly: {e}"
        );
    }
}

async fn settle(devices: &[(&str, &Device)]) {
    for pass in 0..6 {
        let mut moved = false;
        for (who, d) in devices {
            let report = d
                .client
                .sync()
                .await
                .unwrap_or_else(|e| panic!("{who}: clean sync failed: {e}"));
            moved |= report.pulled_docs > 0 || report.pushed_docs > 0;
        }
        if !moved && pass > 0 {
            return;
        }
    }
    panic!("devices did not settle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_converge_through_every_kind_of_network_fault() {
    let server = TestServer::start().await;
    let proxy = FaultProxy::start(server.server.addr())
        .await
        .expect("proxy");
    let office = server.device("dispatch").await;
    let tech_a = server.device("tech-a").await;
    let tech_b = server.device("tech-b").await;
    let devices = [
        ("office", &office),
        ("tech-a", &tech_a),
        ("tech-b", &tech_b),
    ];
    for (_, d) in devices {
        d.client.set_server_url(&proxy.url()).expect("via proxy");
    }
    let job_a = office
        .client
        .create_work_order(intake(Some(server.tech_a)))
        .expect("create")
        .id;
    let job_b = office
        .client
        .create_work_order(intake(Some(server.tech_b)))
        .expect("create")
        .id;
    settle(&devices).await;

    let mut returned: Vec<(WorkOrderId, String)> = Vec::new();
    for (i, fault) in faults().into_iter().enumerate() {
        let tag_a = format!("a{i}");
        tech_a.client.act(job_a, part(&tag_a)).expect("part");
        returned.push((job_a, tag_a));
        let tag_b = format!("b{i}");
        tech_b.client.act(job_b, repair(&tag_b)).expect("repair");
        returned.push((job_b, tag_b));
        let start = Timestamp::now().plus_minutes(30 + i as i64);
        for job in [job_a, job_b] {
            office
                .client
                .act(
                    job,
                    Action::Reschedule {
                        window: Some(ScheduleWindow {
                            start,
                            end: start.plus_minutes(60),
                        }),
                    },
                )
                .expect("reschedule");
        }

        let (who, first, second) = match i % 3 {
            0 => ("tech-a", &tech_a, &tech_b),
            1 => ("tech-b", &tech_b, &office),
            _ => ("office", &office, &tech_a),
        };
        proxy.plan([fault]);
        if matches!(fault, Fault::Delay(_)) {
            // The delayed request is overtaken by another device's on its own connection.
            let (x, y) = tokio::join!(first.client.sync(), async {
                tokio::time::sleep(Duration::from_millis(10)).await;
                second.client.sync().await
            });
            x.unwrap_or_else(|e| panic!("{who}: delayed sync failed: {e}"));
            y.expect("overtaking sync");
        } else {
            faulty_sync(first, who, fault).await;
        }
        proxy.clear_plan();
        // The others carry on between faults.
        faulty_sync(second, "other", Fault::Pass).await;
    }
    // Late replays arrive before the final check.
    tokio::time::sleep(Duration::from_millis(300)).await;
    settle(&devices).await;

    for job in [job_a, job_b] {
        let mut stored = server_document(&server.server, job).await.expect("stored");
        let heads = stored.heads();
        let wo = stored.read().expect("reads");
        let counts = tags(&wo);
        for (doc, tag) in returned.iter().filter(|(d, _)| *d == job) {
            assert_eq!(counts.get(tag), Some(&1), "{tag} on {doc}: {counts:?}");
        }
        assert!(counts.values().all(|&n| n == 1), "doubled: {counts:?}");
        for (who, d) in devices {
            if let Some(mut doc) = device_document(&d.store_path(), job) {
                assert_eq!(doc.heads(), heads, "{who} differs from the server on {job}");
            } else {
                assert!(who == "tech-a" && job == job_b || who == "tech-b" && job == job_a);
            }
            if d.client.get(job).is_ok() {
                assert_eq!(d.client.pending_changes().expect("pending"), 0, "{who}");
            }
        }
    }
    assert!(proxy.replays() >= 2, "the duplicates were sent");
    eprintln!(
        "network faults: {} faults injected over {} requests, {} duplicated",
        faults().len(),
        proxy.requests(),
        proxy.replays()
    );
}
