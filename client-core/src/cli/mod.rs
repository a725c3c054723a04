//! The `fieldsync` command line: a technician's or dispatcher's terminal client on top of the
//! library. Human-readable output by default, JSON with `--json`; errors are one line on
//! standard error and a non-zero exit code.

mod args;
mod attach;
mod commands;
mod output;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;

/// Entry point of the `fieldsync` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: could not start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(text) => {
            // A closed pipe (`fieldsync list | head`) is not an error worth reporting.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
