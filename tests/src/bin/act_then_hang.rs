//! Records one part usage on a work order in an existing device store, says so on stdout, then
//! waits to be killed: the crash tests use it to kill a device right after an action returned.

use std::io::Write;

use fieldsync_client::Client;
use fieldsync_proto::{Action, NewPartUsage};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(work_order), Some(part)) = (args.next(), args.next(), args.next())
    else {
        anyhow::bail!("usage: act_then_hang STORE_DIR WORK_ORDER_ID PART_NUMBER");
    };
    let client = Client::open(&store)?;
    let id = client.find(&work_order)?;
    client.act(
        id,
        Action::RecordPartUsage(NewPartUsage {
            part_number: part,
            quantity: 1,
            source_location: "VAN-07".into(),
            serial: None,
            refurbished: false,
        }),
    )?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "done")?;
    out.flush()?;
    // Bounded: the test kills us long before this ends.
    std::thread::sleep(std::time::Duration::from_secs(120));
    Ok(())
}
