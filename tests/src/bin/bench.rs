//! The benchmark harness: `cargo run --release -p fieldsync-tests --bin bench -- [--quick]
//! [--only NAME]`. Prints a table, then one JSON line per figure. Exits non-zero if a scenario
//! failed to run (a missed target is reported, not an error).

use fieldsync_tests::bench::report::{print_table, Row};
use fieldsync_tests::bench::{self, client_store, Outcome, Sizes, SCENARIOS};

fn usage() -> String {
    format!(
        "usage: bench [--quick] [--only NAME]\nscenarios: {}",
        SCENARIOS.join(", ")
    )
}

fn main() -> anyhow::Result<()> {
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--only" => only = Some(args.next().ok_or_else(|| anyhow::anyhow!(usage()))?),
            "--client-rss" => {
                // The child process of `client_rss_10k`.
                let store = args.next().ok_or_else(|| anyhow::anyhow!(usage()))?;
                return client_store::client_rss_child(&store);
            }
            "-h" | "--help" => {
                println!("{}", usage());
                return Ok(());
            }
            other => anyhow::bail!("unknown argument '{other}'\n{}", usage()),
        }
    }
    if let Some(name) = &only {
        anyhow::ensure!(
            SCENARIOS.iter().any(|s| bench::selected(s, Some(name))),
            "no scenario is called '{name}'\n{}",
            usage()
        );
    }
    // Many live connections need many file descriptors; children (the server) inherit it.
    if let Err(e) = bench::live::raise_file_limit() {
        eprintln!("warning: cannot raise the open-file limit: {e}");
    }
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let rows = runtime.block_on(async {
        let mut fixtures = client_store::Fixtures::default();
        let mut rows = Vec::new();
        for name in SCENARIOS {
            if !bench::selected(name, only.as_deref()) {
                continue;
            }
            eprintln!("running {name}{}", if quick { " (quick)" } else { "" });
            match bench::run_scenario(name, &sizes, &mut fixtures).await {
                Ok(Outcome::Figures(figures)) => {
                    for f in figures {
                        eprintln!(
                            "  {} = {:.2} {} (target {}) {}",
                            f.scenario,
                            f.value,
                            f.unit.label(),
                            f.target,
                            if f.met() { "met" } else { "MISSED" }
                        );
                        rows.push(Row::Figure(f));
                    }
                }
                Ok(Outcome::Skipped(reason)) => {
                    eprintln!("  skipped: {reason}");
                    rows.push(Row::Skipped {
                        scenario: (*name).to_owned(),
                        reason,
                    });
                }
                Err(e) => {
                    eprintln!("  ERROR: {e:#}");
                    rows.push(Row::Failed {
                        scenario: (*name).to_owned(),
                        error: format!("{e:#}"),
                    });
                }
            }
        }
        rows
    });
    print_table(&rows);
    let mut failed = 0;
    let mut missed = 0;
    for row in &rows {
        match row {
            Row::Figure(f) => {
                if !f.met() {
                    missed += 1;
                }
                println!("{}", f.json());
            }
            Row::Failed { .. } => failed += 1,
            Row::Skipped { .. } => {}
        }
    }
    if missed > 0 {
        eprintln!("{missed} figure(s) MISSED their target");
    }
    if failed > 0 {
        eprintln!("{failed} scenario(s) failed to run");
        std::process::exit(1);
    }
    Ok(())
}
