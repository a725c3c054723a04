//! Small, fillable file systems for disk-full tests: a tmpfs mounted on a temporary directory
//! (needs root). Without root the tests say they were skipped, unless
//! `FIELDSYNC_REQUIRE_DISK_FAULTS=1` asks for them, as CI does.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// Makes a skipped disk test fail instead.
pub const REQUIRE_VAR: &str = "FIELDSYNC_REQUIRE_DISK_FAULTS";

/// A tmpfs of a fixed size; unmounted when dropped.
pub struct SmallDisk {
    dir: TempDir,
}

impl SmallDisk {
    /// Mounts a tmpfs of `megabytes` MB, or says why it cannot (and panics if required).
    pub fn mount(megabytes: u32) -> Option<SmallDisk> {
        let dir = TempDir::new().expect("temp dir");
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status();
        match status {
            Ok(s) if s.success() => Some(SmallDisk { dir }),
            other => {
                let why = format!(
                    "skipped: cannot mount a small tmpfs for the disk-full tests ({other:?}); they need root"
                );
                if std::env::var_os(REQUIRE_VAR).is_some() {
                    panic!("{why}, and {REQUIRE_VAR} is set");
                }
                eprintln!("{why}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the file system up with one file, and returns it (remove it to free the space).
    pub fn fill(&self) -> PathBuf {
        let path = self.dir.path().join("filler");
        let mut file = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0xA5u8; 64 * 1024];
        // Bounded by the file system's size; the last write fails with "no space".
        while file.write_all(&chunk).is_ok() {}
        let small = vec![0xA5u8; 512];
        while file.write_all(&small).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}
