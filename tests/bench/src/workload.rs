//! What the suites share: stores filled with a realistic mix of entities, and the relay as a
//! separate process (so its memory is its own).

use std::io::BufRead;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use noaber_core::model::event::NewEvent;
use noaber_core::model::help::NewHelp;
use noaber_core::model::report::NewReport;
use noaber_core::model::task::NewTask;
use noaber_core::{EntityId, Role, Store};
use noaber_relay::BuurtId;
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::storage::{PostgresStorage, SqliteStorage, Storage};

use crate::BenchResult;

/// Now, ms.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Creates entity number `i` of the mix an active buurt has: 4 in 10 help requests, 2 events,
/// 2 tasks, 2 reports. Returns its id.
pub fn create_mixed(store: &Store, i: usize) -> BenchResult<EntityId> {
    let day = 86_400_000;
    let start = now_ms() + day * i64::try_from(i % 60).unwrap_or(0);
    Ok(match i % 10 {
        0..=3 => store.create_help(&NewHelp::ask(
            ["groceries", "transport", "odd_jobs", "company"][i % 4],
            &format!("Hulp gevraagd {i}: boodschappen naar de Spar"),
        ))?,
        4 | 5 => store.create_event(&NewEvent::new(
            &format!("Buurtactiviteit {i}"),
            "Binnentuin",
            start,
            start + 3_600_000,
        ))?,
        6 | 7 => store.create_task(&NewTask::new(&format!("Trappenhuis {i} vegen")))?,
        _ => {
            let mut r = NewReport::at("lighting", 52.09 + (i as f64) * 1e-5, 5.12);
            r.description = format!("Lamp kapot in portiek {i}");
            store.create_report(&r)?
        }
    })
}

/// Fills `store` with `n` mixed entities, acting as an organiser (who may create every kind);
/// returns their ids.
pub fn fill(store: &Store, n: usize) -> BenchResult<Vec<EntityId>> {
    store.set_identity(Role::Organiser, Some("Fatima"), None)?;
    (0..n).map(|i| create_mixed(store, i)).collect()
}

/// The relay binary, built beside this one (`cargo build --release -p noaber-relay`) if missing.
pub fn relay_binary() -> BenchResult<PathBuf> {
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .ok_or("the benchmark binary has no directory")?;
    let path = dir.join(format!("noaber-relay{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let profile = if cfg!(debug_assertions) {
            vec![]
        } else {
            vec!["--release"]
        };
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "-p",
                "noaber-relay",
                "--bin",
                "noaber-relay",
            ])
            .args(profile)
            .status()?;
        if !status.success() || !path.exists() {
            return Err(format!("cannot build `{}`", path.display()).into());
        }
    }
    Ok(path)
}

/// `noaber-relay serve` in a child process on a temporary data directory.
pub struct RelayProcess {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub data: PathBuf,
    /// The PostgreSQL database it keeps its state in, if not SQLite in `data`.
    postgres: Option<String>,
    _dir: tempfile::TempDir,
}

impl RelayProcess {
    /// Starts a relay with `env` settings (`NOABER_RELAY_*`) and waits until it listens.
    pub fn start(env: &[(&str, &str)]) -> BenchResult<RelayProcess> {
        RelayProcess::start_capped(env, None)
    }

    /// [`RelayProcess::start`] with the relay's address space capped at `address_space` bytes
    /// (as `ulimit -v`; Linux only).
    pub fn start_capped(
        env: &[(&str, &str)],
        address_space: Option<u64>,
    ) -> BenchResult<RelayProcess> {
        RelayProcess::start_full(env, address_space, None)
    }

    /// A relay on the PostgreSQL database `conn` names (several of them share one).
    pub fn start_on_postgres(conn: &str, env: &[(&str, &str)]) -> BenchResult<RelayProcess> {
        RelayProcess::start_full(env, None, Some(conn))
    }

    fn start_full(
        env: &[(&str, &str)],
        address_space: Option<u64>,
        postgres: Option<&str>,
    ) -> BenchResult<RelayProcess> {
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("relay");
        let mut child = Command::new(relay_binary()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .env("NOABER_RELAY_JOIN_PER_MINUTE", "100000")
            .env("NOABER_RELAY_JOIN_BURST", "100000")
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .envs(postgres.map(|c| ("NOABER_RELAY_POSTGRES", c)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        if let Some(cap) = address_space {
            noaber_e2e::cap_address_space(&mut child, cap)?;
        }
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = std::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next() {
            if let Some(addr) = line?.strip_prefix("listening on ") {
                let addr = addr.trim().parse()?;
                // Keep draining stdout so the relay never blocks on a full pipe.
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return Ok(RelayProcess {
                    child,
                    addr,
                    data,
                    postgres: postgres.map(str::to_owned),
                    _dir: dir,
                });
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err("the relay exited before listening".into())
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `Some` (how it ended) once the relay has exited.
    pub fn exited(&mut self) -> Option<String> {
        self.child.try_wait().ok()?.map(|s| s.to_string())
    }

    /// Its peak resident memory so far (`VmHWM`) in MB; 0 where unknown.
    pub fn peak_rss_mb(&self) -> f64 {
        noaber_e2e::peak_rss_kib(self.child.id()).map_or(0.0, |kib| kib as f64 / 1024.0)
    }

    /// Its resident memory in MB.
    pub fn rss_mb(&self) -> f64 {
        crate::stats::rss_mb(self.child.id()).unwrap_or(0.0)
    }

    /// Creates a buurt and an invite for `role` with many uses (the admin commands' code, on
    /// the same database the running relay uses).
    pub fn buurt(&self, role: Role) -> BenchResult<(BuurtId, String)> {
        let storage: Box<dyn Storage> = match &self.postgres {
            Some(conn) => Box::new(PostgresStorage::open(conn, 1)?),
            None => Box::new(SqliteStorage::open_dir(&self.data)?),
        };
        let created = admin::create_buurt(&*storage, "Bench", now_ms())?;
        let code = invite(&*storage, &created.buurt_id, role)?;
        Ok((created.buurt_id, code))
    }
}

fn invite(storage: &dyn Storage, buurt: &BuurtId, role: Role) -> BenchResult<String> {
    let inv = admin::create_invite(
        storage,
        buurt,
        &InviteOptions {
            role,
            expires: "7d".into(),
            uses: 10_000,
            member: None,
        },
        now_ms(),
    )?;
    Ok(inv.code)
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A device store in a temporary directory.
pub struct TempStore {
    /// The store.
    pub store: Store,
    /// Its file.
    pub path: PathBuf,
    _dir: tempfile::TempDir,
}

impl TempStore {
    /// A fresh, empty store.
    pub fn new() -> BenchResult<TempStore> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("noaber.db");
        Ok(TempStore {
            store: Store::open(&path)?,
            path,
            _dir: dir,
        })
    }

    /// The directory it lives in.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}
