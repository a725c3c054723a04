//! The `fieldsync` command line; see `fieldsync --help`.

fn main() -> std::process::ExitCode {
    fieldsync_client::cli::main()
}
