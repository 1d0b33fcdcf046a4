//! `noaber-bench SUITE [--json FILE] [--scale tiny|full]`: Noaber's benchmarks.
//!
//! Suites (`docs/BENCHMARKS.md` says what each measures and how):
//! - `local`: the device store with 10 000 entities, against bare SQLite in the same run;
//! - `sync`: a device and a relay on loopback over real HTTP: first sync, reconnect;
//! - `relay`: many simulated devices pushing and pulling at once; relay memory;
//! - `peer`: the same workloads against the stock Automerge stack (samod + the JS sync server).
//!
//! Every ratio is measured in one run, alternating the two sides, as medians over rounds.
//! `--scale tiny` runs each suite at a size small enough for CI's smoke test; its figures
//! mean nothing.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

mod attack;
mod live_idle;
mod local;
mod peer;
#[path = "../../../sync-server/src/storage/pg_harness.rs"]
mod pg_harness;
mod proxy;
mod relay;
mod relay_pg;
mod report;
mod stats;
mod stock;
mod sync;
mod workload;

/// What a suite may fail with.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Suite {
    Local,
    Sync,
    Relay,
    Peer,
}

/// How big a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scale {
    /// A smoke test: every code path, tiny sizes (CI).
    Tiny,
    /// The sizes `DESIGN.md`'s targets name.
    Full,
}

impl Scale {
    /// `full` at full scale, else `tiny`.
    pub fn pick(self, full: usize, tiny: usize) -> usize {
        match self {
            Scale::Full => full,
            Scale::Tiny => tiny,
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "noaber-bench",
    about = "Noaber's benchmarks (run with --release)"
)]
struct Cli {
    /// The suite to run.
    suite: Suite,
    /// Also write the figures as one JSON object to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// `full` (the default) or `tiny` (a smoke test).
    #[arg(long, value_enum, default_value = "full")]
    scale: Scale,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if cfg!(debug_assertions) && cli.scale == Scale::Full {
        eprintln!("note: a debug build; figures are only meaningful with --release");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.suite {
            Suite::Local => local::run(cli.scale),
            Suite::Sync => sync::run(cli.scale).await,
            Suite::Relay => relay::run(cli.scale).await,
            Suite::Peer => peer::run(cli.scale).await,
        }
    });
    match result {
        Ok(report) => {
            print!("{}", report.table());
            if let Some(path) = &cli.json {
                if let Err(e) = report.write_json(path) {
                    eprintln!("error: cannot write `{}`: {e}", path.display());
                    return std::process::ExitCode::FAILURE;
                }
            }
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
