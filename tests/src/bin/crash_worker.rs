//! Works on one work order in an existing device store until killed: records part usages and
//! repair records with unique tags, syncing now and then, and prints `done TAG` on stdout as
//! soon as each action has returned. The crash tests kill it with SIGKILL at random moments
//! and then check that every printed action is in the store exactly once.

use std::io::Write;

use fieldsync_client::Client;
use fieldsync_proto::{Action, NewPartUsage, NewRepairRecord};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(work_order), Some(prefix)) = (args.next(), args.next(), args.next())
    else {
        anyhow::bail!("usage: crash_worker STORE_DIR WORK_ORDER_ID TAG_PREFIX");
    };
    let client = Client::open(&store)?;
    let id = client.find(&work_order)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready")?;
    out.flush()?;
    // Bounded: the test kills us long before this ends.
    for n in 0..400 {
        let tag = format!("{prefix}-{n}");
        let action = if n % 3 == 2 {
            Action::AddRepairRecord(NewRepairRecord {
                diagnosis: tag.clone(),
                action_taken: "checked and cleaned".into(),
                measurements: vec![],
            })
        } else {
            Action::RecordPartUsage(NewPartUsage {
                part_number: tag.clone(),
                quantity: 1,
                source_location: "VAN-07".into(),
                serial: None,
                refurbished: false,
            })
        };
        client.act(id, action)?;
        writeln!(out, "done {tag}")?;
        out.flush()?;
        if n % 4 == 3 {
            // Offline is fine: the work stays in the outbox.
            let synced = client.sync().await.is_ok();
            writeln!(out, "sync {synced}")?;
            out.flush()?;
        }
    }
    Ok(())
}
