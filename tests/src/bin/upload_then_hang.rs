//! Uploads the queued attachments of an existing device store until the server holds at least
//! a given number of bytes of one, says so on stdout, then hangs in the middle of the upload
//! waiting to be killed: the crash tests use it to kill a device mid-upload.

use std::io::Write;

use fieldsync_client::Client;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(store), Some(stop_at)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: upload_then_hang STORE_DIR STOP_AFTER_BYTES");
    };
    let stop_at: u64 = stop_at.parse()?;
    let client = Client::open(&store)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        client
            .upload_attachments(&|p| {
                if p.offset >= stop_at && p.offset < p.size {
                    let mut out = std::io::stdout().lock();
                    let _ = writeln!(out, "at {}", p.offset);
                    let _ = out.flush();
                    // Bounded: the test kills us long before this ends.
                    std::thread::sleep(std::time::Duration::from_secs(120));
                }
            })
            .await
    })?;
    println!("finished");
    Ok(())
}
