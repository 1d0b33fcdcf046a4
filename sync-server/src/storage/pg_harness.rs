//! Throwaway PostgreSQL clusters for tests: tests start the services they need themselves.
//!
//! [`shared`] starts one cluster per test binary on first use; [`Cluster::database`] makes a
//! fresh database in it for each test. [`Cluster::start`] makes a private cluster that is
//! stopped and removed when dropped.
//!
//! - **Binaries**: `$NOABER_PG_BINDIR`, then `pg_config --bindir`, then the newest
//!   `/usr/lib/postgresql/*/bin`, then `initdb` on the `PATH`. Not found is a test *failure*
//!   that says how to install them (`scripts/test-all.sh` does), never a silent pass.
//! - **No ports**: the server listens only on a Unix socket in its own temporary directory
//!   (`listen_addresses=''`, `-k DIR`), so clusters never collide. `fsync=off`: nothing here
//!   needs to survive a power cut (a process kill loses nothing even so: the kernel keeps what
//!   was written); [`Cluster::start_durable`] keeps `fsync` on, for benchmarks.
//! - **Crashes on cue**: [`Cluster::crash`] (`SIGKILL` to the postmaster and every backend),
//!   [`Cluster::stop`] (a fast shutdown) and [`Cluster::restart`] on the same data directory.
//! - **Root** (CI): `initdb` and `postgres` refuse to run as root, so the directory is given to
//!   the `postgres` system user and both run as that user through `setpriv`.
//! - **Clean-up that survives a crash**: the server runs under a small `sh` supervisor whose
//!   standard input is a pipe from this process. When the pipe closes — on [`Drop`], or when
//!   the test binary exits for whatever reason — the supervisor stops the server (`SIGQUIT`,
//!   an immediate shutdown) and removes the directory. The shared cluster is never dropped
//!   (it lives in a `static`); the end of the process is its guard.
//! - **Readiness** is polled by connecting, a bounded number of times at a short interval; a
//!   server that exits early fails at once with its log.
//!
//! This file is compiled into the library's unit tests and, by `#[path]`, into `tests/it`, the
//! end-to-end tests (`tests/e2e/tests/two_relays.rs`) and the benchmarks.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Why a cluster could not be had.
#[derive(Debug)]
pub struct HarnessError(pub String);

impl std::fmt::Display for HarnessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HarnessError {}

fn fail(msg: impl Into<String>) -> HarnessError {
    HarnessError(msg.into())
}

/// Connection attempts while the server starts, and the pause between them (at most ~15 s).
const READY_TRIES: u32 = 600;
const READY_POLL: Duration = Duration::from_millis(25);
/// The database superuser `initdb` creates.
const SUPERUSER: &str = "noaber";

/// Stops the server and removes `$1` once standard input closes. The server's own standard
/// input is `/dev/null`, so only this process holds the pipe.
const SUPERVISOR: &str = r#"
dir="$1"; shift
"$@" </dev/null >"$dir/server.log" 2>&1 &
server=$!
echo "started $server"
cat >/dev/null
if [ -f "$dir/data/postmaster.pid" ]; then
    kill -QUIT "$(head -n 1 "$dir/data/postmaster.pid")" 2>/dev/null
fi
kill -QUIT "$server" 2>/dev/null
wait "$server" 2>/dev/null
rm -rf "$dir"
"#;

/// A running throwaway cluster.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    root: bool,
    /// `fsync` and full-page writes on (a benchmark's honest durable commits).
    durable: bool,
    /// The server's process.
    server_pid: Mutex<Option<u32>>,
    supervisor: Mutex<Option<(Child, ChildStdin)>>,
    /// Servers [`Cluster::restart`] started (reaped on drop; the supervisor stops the one
    /// running, whose pid is in `postmaster.pid`).
    restarted: Mutex<Vec<Child>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster").field("dir", &self.dir).finish()
    }
}

/// The cluster this test binary shares (started on first use, removed when the process ends).
///
/// # Errors
///
/// When PostgreSQL is not installed or does not start.
pub fn shared() -> Result<&'static Cluster, HarnessError> {
    static SHARED: OnceLock<Result<Cluster, String>> = OnceLock::new();
    SHARED
        .get_or_init(|| Cluster::start().map_err(|e| e.0))
        .as_ref()
        .map_err(|e| fail(e.clone()))
}

/// A fresh, empty database in the shared cluster; returns its connection string.
///
/// # Errors
///
/// As [`shared`] and [`Cluster::database`].
pub fn fresh_database() -> Result<String, HarnessError> {
    shared()?.database()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// Where `initdb` and `postgres` are.
fn bindir() -> Result<PathBuf, HarnessError> {
    let mut tried = Vec::new();
    if let Some(dir) = std::env::var_os("NOABER_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        if has_server(&dir) {
            return Ok(dir);
        }
        tried.push(dir);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
        tried.push(dir);
    }
    // Debian: /usr/lib/postgresql/<major>/bin, the newest major first.
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, e.path().join("bin")))
        })
        .collect();
    debian.sort();
    if let Some((_, dir)) = debian.into_iter().rev().find(|(_, d)| has_server(d)) {
        return Ok(dir);
    }
    for dir in std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()) {
        if has_server(&dir) {
            return Ok(dir);
        }
        // A symlinked `initdb` (like /usr/local/bin/initdb) points into the real bindir.
        if let Ok(real) = std::fs::canonicalize(dir.join("initdb")) {
            if let Some(parent) = real.parent().filter(|p| has_server(p)) {
                return Ok(parent.to_owned());
            }
        }
    }
    Err(fail(format!(
        "PostgreSQL server binaries (`initdb`, `postgres`) not found (tried NOABER_PG_BINDIR, \
         `pg_config --bindir`, /usr/lib/postgresql/*/bin and PATH; looked in {tried:?}): \
         install them with `apt-get install -y postgresql` (scripts/test-all.sh does) or set \
         NOABER_PG_BINDIR"
    )))
}

/// Runs `program` as the cluster's owner: ourselves, or `postgres` when we are root.
/// `setpriv` (util-linux, like `runuser`) execs the program itself: no PAM session, no extra
/// process between the supervisor and the server.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// The processes whose parent is `pid` (from `/proc`).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat")).is_ok_and(|stat| {
                // `PID (comm) STATE PPID …`: fields after the last `)`.
                stat.rsplit_once(')')
                    .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok())
                    == Some(pid)
            })
        })
        .collect()
}

/// Whether `pid` runs (a zombie counts as gone).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
    })
}

/// Sends `SIGname` to `pids` (with `kill`: the servers may run as another user, and root may
/// signal them).
fn signal(name: &str, pids: &[u32]) -> Result<(), HarnessError> {
    Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status()
        .map_err(|e| fail(format!("cannot run kill: {e}")))?;
    Ok(())
}

fn run_async<T: Send>(f: impl std::future::Future<Output = T> + Send) -> Result<T, HarnessError> {
    // Its own thread and runtime: callers may be async tests, where blocking on a runtime of
    // our own would panic.
    std::thread::scope(|s| {
        s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(f))
                .map_err(|e| fail(format!("cannot build a runtime: {e}")))
        })
        .join()
        .map_err(|_| fail("the harness thread panicked"))?
    })
}

impl Cluster {
    /// Starts a private cluster, stopped and removed on drop.
    ///
    /// # Errors
    ///
    /// When the binaries are missing, `initdb` fails or the server does not come up.
    pub fn start() -> Result<Cluster, HarnessError> {
        Cluster::start_with(false)
    }

    /// A private cluster that flushes its commits to disk (`fsync=on`, as in production): for
    /// benchmarks, whose durable-commit figures would otherwise flatter PostgreSQL.
    ///
    /// # Errors
    ///
    /// As [`Cluster::start`].
    pub fn start_durable() -> Result<Cluster, HarnessError> {
        Cluster::start_with(true)
    }

    fn start_with(durable: bool) -> Result<Cluster, HarnessError> {
        let bin = bindir()?;
        let root = is_root();
        // /tmp keeps the socket path short and is reachable by the `postgres` user.
        let base = if root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("noaber-pg-")
            .tempdir_in(&base)
            .map_err(|e| fail(format!("cannot create a temporary directory: {e}")))?
            .keep();
        let cluster = Cluster {
            dir: dir.clone(),
            bin: bin.clone(),
            root,
            durable,
            server_pid: Mutex::new(None),
            supervisor: Mutex::new(None),
            restarted: Mutex::new(Vec::new()),
        };
        if root {
            let status = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| fail(format!("cannot run chown: {e}")))?;
            if !status.success() {
                return Err(fail(
                    "running as root and cannot give the cluster directory to the `postgres` \
                     user (is the postgresql package installed?)",
                ));
            }
        }
        let data = dir.join("data");
        let out = as_owner(root, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", SUPERUSER, "--no-sync", "-E", "UTF8"])
            .args(["--locale=C", "--no-instructions"])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| fail(format!("cannot run initdb: {e}")))?;
        if !out.status.success() {
            return Err(fail(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let server = cluster.server_command();
        let mut supervisor = Command::new("sh");
        supervisor
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("noaber-pg-supervisor")
            .arg(&dir)
            .arg(server.get_program())
            .args(server.get_args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = supervisor
            .spawn()
            .map_err(|e| fail(format!("cannot start sh: {e}")))?;
        let stdin = child
            .stdin
            .take()
            .ok_or_else(|| fail("the supervisor has no stdin"))?;
        // Wait for "started PID": the server process exists (or the shell failed).
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)
                .map_err(|e| fail(format!("cannot read the supervisor: {e}")))?;
        }
        *cluster.supervisor.lock().unwrap() = Some((child, stdin));
        let pid = line
            .trim()
            .strip_prefix("started ")
            .and_then(|p| p.parse::<u32>().ok())
            .ok_or_else(|| fail("the supervisor did not start the server"))?;
        *cluster.server_pid.lock().unwrap() = Some(pid);
        cluster.wait_ready()?;
        Ok(cluster)
    }

    /// `postgres` on this cluster's data directory.
    fn server_command(&self) -> Command {
        let mut server = as_owner(self.root, &self.bin.join("postgres"));
        server
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-k")
            .arg(&self.dir)
            .args(["-c", "listen_addresses=", "-c", "max_connections=200"]);
        if !self.durable {
            server.args(["-c", "fsync=off", "-c", "full_page_writes=off"]);
        }
        server
    }

    /// The running server's pid (`None` after [`Cluster::crash`] or [`Cluster::stop`]).
    pub fn server_pid(&self) -> Option<u32> {
        *self.server_pid.lock().unwrap()
    }

    /// Kills the server with `SIGKILL`, the postmaster and every backend, as a crash or an
    /// OOM kill would, and waits until they are gone. The next [`Cluster::restart`] runs crash
    /// recovery. (`fsync=off` loses nothing here: the kernel keeps what was written.)
    ///
    /// # Errors
    ///
    /// When `kill` cannot be run.
    pub fn crash(&self) -> Result<(), HarnessError> {
        let Some(pid) = self.server_pid.lock().unwrap().take() else {
            return Ok(());
        };
        // The postmaster first, so it cannot start new backends; then its children, which
        // would otherwise keep the shared memory that a new postmaster refuses to share.
        let mut victims = vec![pid];
        victims.extend(children_of(pid));
        signal("KILL", &victims)?;
        self.wait_gone(&victims);
        Ok(())
    }

    /// Stops the server as an operator would (`SIGINT`, PostgreSQL's fast shutdown: open
    /// transactions roll back, clients are disconnected) and waits until it is gone.
    ///
    /// # Errors
    ///
    /// When `kill` cannot be run.
    pub fn stop(&self) -> Result<(), HarnessError> {
        let Some(pid) = self.server_pid.lock().unwrap().take() else {
            return Ok(());
        };
        let mut procs = vec![pid];
        procs.extend(children_of(pid));
        signal("INT", &[pid])?;
        self.wait_gone(&procs);
        Ok(())
    }

    fn wait_gone(&self, pids: &[u32]) {
        // Reaps a restarted server of ours (a zombie otherwise keeps its /proc entry).
        for child in self.restarted.lock().unwrap().iter_mut() {
            if pids.contains(&child.id()) {
                let _ = child.wait();
            }
        }
        for _ in 0..READY_TRIES {
            if pids.iter().all(|p| !alive(*p)) {
                return;
            }
            std::thread::sleep(READY_POLL);
        }
    }

    /// Starts the server again on the same data directory (after [`Cluster::crash`] or
    /// [`Cluster::stop`]) and waits until it accepts connections.
    ///
    /// # Errors
    ///
    /// When the server does not come up.
    pub fn restart(&self) -> Result<(), HarnessError> {
        if self.server_pid().is_some() {
            return Ok(());
        }
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.dir.join("server.log"))
            .map_err(|e| fail(format!("cannot open the server log: {e}")))?;
        let log2 = log
            .try_clone()
            .map_err(|e| fail(format!("cannot open the server log: {e}")))?;
        let child = self
            .server_command()
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| fail(format!("cannot start postgres: {e}")))?;
        *self.server_pid.lock().unwrap() = Some(child.id());
        self.restarted.lock().unwrap().push(child);
        self.wait_ready()
    }

    /// The directory holding the socket (the `host` of a connection string).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// A connection string for `dbname` as the superuser.
    pub fn conn(&self, dbname: &str) -> String {
        format!(
            "host={} port=5432 user={SUPERUSER} dbname={dbname}",
            self.dir.display()
        )
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    /// Whether the server process is gone (or a zombie the supervisor has not reaped yet).
    fn server_exited(&self) -> bool {
        let Some(pid) = *self.server_pid.lock().unwrap() else {
            return true;
        };
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // `PID (comm) STATE …`: the state follows the last `)`.
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
            Err(_) => true,
        }
    }

    fn wait_ready(&self) -> Result<(), HarnessError> {
        let conn = self.conn("postgres");
        for _ in 0..READY_TRIES {
            let ok = run_async(async {
                tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                    .await
                    .is_ok()
            })?;
            if ok {
                return Ok(());
            }
            if self.server_exited() {
                return Err(fail(format!("postgres did not start:\n{}", self.log())));
            }
            std::thread::sleep(READY_POLL);
        }
        Err(fail(format!(
            "postgres did not accept connections in time:\n{}",
            self.log()
        )))
    }

    /// Runs SQL (simple protocol, several statements allowed) on database `dbname`.
    ///
    /// # Errors
    ///
    /// When connecting or the SQL fails.
    pub fn execute(&self, dbname: &str, sql: &str) -> Result<(), HarnessError> {
        let conn = self.conn(dbname);
        run_async(async move {
            let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
                .await
                .map_err(|e| fail(format!("cannot connect to `{dbname}`: {e}")))?;
            let driver = tokio::spawn(connection);
            let out = client
                .batch_execute(sql)
                .await
                .map_err(|e| fail(format!("`{sql}` failed: {e:?}")));
            drop(client);
            let _ = driver.await;
            out
        })?
    }

    /// Creates a fresh database and returns its connection string.
    ///
    /// # Errors
    ///
    /// When `CREATE DATABASE` fails.
    pub fn database(&self) -> Result<String, HarnessError> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let name = format!("t{}", NEXT.fetch_add(1, Ordering::Relaxed));
        self.execute("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.conn(&name))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let taken = self
            .supervisor
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some((mut child, mut stdin)) = taken {
            // Closing the pipe tells the supervisor to stop the server and remove the dir.
            let _ = stdin.flush();
            drop(stdin);
            let _ = child.wait();
            let restarted = self
                .restarted
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for server in restarted.iter_mut() {
                let _ = server.wait();
            }
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
