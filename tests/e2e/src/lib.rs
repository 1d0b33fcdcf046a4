//! Harness for end-to-end scenarios: a relay (in-process, or as a separate process that can be
//! killed), devices with their own store files, and a TCP proxy that can cut a connection in
//! the middle of a response.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use noaber_core::sync::http::{Client, SyncReport};
use noaber_core::{Role, Store};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::{BuurtId, Config, Relay};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

pub mod attack;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A relay serving in-process on an ephemeral port.
pub struct InProcessRelay {
    pub url: String,
    pub relay: Relay,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
}

impl InProcessRelay {
    pub async fn start() -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config::with_data(dir.path());
        config.join_burst = 10_000;
        config.join_per_minute = 10_000;
        let relay = Relay::open(&config)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(noaber_relay::serve(
            listener,
            None,
            relay.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(InProcessRelay {
            url,
            relay,
            _dir: dir,
            stop: Some(stop),
        })
    }

    /// The relay's data folder (its database and photo files).
    pub fn data_dir(&self) -> &Path {
        self._dir.path()
    }

    /// Creates a buurt; returns its id and an invite for `role` with many uses.
    pub fn buurt(&self, name: &str, role: Role) -> TestResult<(BuurtId, String)> {
        let storage = self.relay.storage();
        let created = admin::create_buurt(&**storage, name, now_ms())?;
        let inv = admin::create_invite(
            &**storage,
            &created.buurt_id,
            &InviteOptions {
                role,
                expires: "7d".into(),
                uses: 100,
                member: None,
            },
            now_ms(),
        )?;
        Ok((created.buurt_id, inv.code))
    }

    /// Another invite to an existing buurt.
    pub fn invite(&self, buurt: &BuurtId, role: Role) -> TestResult<String> {
        let storage = self.relay.storage();
        let inv = admin::create_invite(
            &**storage,
            buurt,
            &InviteOptions {
                role,
                expires: "7d".into(),
                uses: 100,
                member: None,
            },
            now_ms(),
        )?;
        Ok(inv.code)
    }
}

impl Drop for InProcessRelay {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A device: its own store file and an HTTP client.
pub struct Device {
    pub store: Store,
    pub client: Client,
    pub buurt: String,
    _dir: tempfile::TempDir,
}

impl Device {
    /// A fresh device with an empty store.
    pub fn new() -> TestResult<Device> {
        let dir = tempfile::tempdir()?;
        let store = Store::open(dir.path().join("noaber.db"))?;
        Ok(Device {
            store,
            client: Client::new()?,
            buurt: String::new(),
            _dir: dir,
        })
    }

    /// A fresh device that joined `url` with `invite`.
    pub async fn joined(url: &str, invite: &str, name: &str) -> TestResult<Device> {
        let mut d = Device::new()?;
        let b = d.client.join(&d.store, url, invite, name).await?;
        d.buurt = b.id;
        Ok(d)
    }

    pub async fn sync(&self) -> TestResult<SyncReport> {
        Ok(self.client.sync(&self.store, &self.buurt).await?)
    }

    pub fn member(&self) -> noaber_core::MemberId {
        self.store.identity().member
    }

    /// The folder holding the device's store file and photo files.
    pub fn dir(&self) -> &Path {
        self._dir.path()
    }
}

/// The `noaber-relay` binary. `cargo test --workspace` builds it beside this test binary (Cargo
/// gives tests only their own package's binaries, so it is found by path); when it is missing
/// (`cargo test -p noaber-e2e` alone) it is built first. Building from inside a running
/// `cargo test --workspace` would wait for the build lock that run holds, so that is never done
/// when the binary exists.
pub fn relay_binary() -> PathBuf {
    workspace_binary("noaber-relay", "noaber-relay")
}

/// The `noaber` CLI binary, found or built like [`relay_binary`].
pub fn cli_binary() -> PathBuf {
    workspace_binary("noaber-cli", "noaber")
}

fn workspace_binary(package: &str, bin: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, p)) = built.iter().find(|(b, _)| b == bin) {
        return p.clone();
    }
    let exe = std::env::current_exe().unwrap();
    let target_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let path = target_dir.join(format!("{bin}{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", package, "--bin", bin])
            .env("CARGO_TARGET_DIR", target_dir.parent().unwrap())
            .status()
            .unwrap();
        assert!(status.success(), "building {bin} failed");
    }
    assert!(
        path.exists(),
        "{} missing: run `cargo build -p {package}`",
        path.display()
    );
    built.push((bin.to_owned(), path.clone()));
    path
}

/// Caps `child`'s address space at `bytes` (`ulimit -v`; Linux only), killing it if that
/// fails: an allocation over the cap then fails and aborts the process.
pub fn cap_address_space(child: &mut Child, bytes: u64) -> TestResult {
    let limit = rustix::process::Rlimit {
        current: Some(bytes),
        maximum: Some(bytes),
    };
    let pid = rustix::process::Pid::from_child(child);
    if let Err(e) = rustix::process::prlimit(Some(pid), rustix::process::Resource::As, limit) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("cannot cap the relay's address space: {e}").into());
    }
    Ok(())
}

/// Raises this process's open-file limit (soft and, where allowed — as root —, hard) to at
/// least `want`, so it and the processes it starts can hold that many sockets; returns the soft
/// limit in force afterwards. Linux only.
pub fn raise_open_files(want: u64) -> TestResult<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let now = getrlimit(Resource::Nofile);
    let hard = now.maximum.unwrap_or(u64::MAX);
    let wanted = Rlimit {
        current: Some(want),
        maximum: Some(hard.max(want)),
    };
    if setrlimit(Resource::Nofile, wanted).is_err() {
        // Not allowed above the hard limit: as far as it goes.
        let capped = Rlimit {
            current: Some(want.min(hard)),
            maximum: now.maximum,
        };
        setrlimit(Resource::Nofile, capped)
            .map_err(|e| format!("cannot raise the open-file limit: {e}"))?;
    }
    Ok(getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX))
}

/// A process's peak resident memory (`VmHWM` of `/proc/PID/status`) in KiB; Linux only.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The relay as a separate process, so it can be killed with SIGKILL.
pub struct RelayProcess {
    pub child: Child,
    pub addr: SocketAddr,
    log: Arc<Mutex<std::collections::VecDeque<String>>>,
}

impl RelayProcess {
    /// Starts `noaber-relay serve` on `data` and waits for its "listening" line.
    pub fn start(data: &Path) -> TestResult<RelayProcess> {
        RelayProcess::start_capped(data, None)
    }

    /// [`RelayProcess::start`] with its address space capped at `address_space` bytes (as
    /// `ulimit -v` does; Linux only): an allocation over it fails and aborts the relay, so a
    /// relay that survives never needed more.
    pub fn start_capped(data: &Path, address_space: Option<u64>) -> TestResult<RelayProcess> {
        RelayProcess::start_with(data, address_space, &[])
    }

    /// A relay keeping its state (photos included) in the PostgreSQL database `conn` names;
    /// `data` is its own directory. Several of them on one database are one deployment.
    pub fn start_on_postgres(data: &Path, conn: &str) -> TestResult<RelayProcess> {
        RelayProcess::start_with(data, None, &[("NOABER_RELAY_POSTGRES", conn)])
    }

    /// [`RelayProcess::start_capped`] with more `NOABER_RELAY_*` settings in its environment.
    pub fn start_with(
        data: &Path,
        address_space: Option<u64>,
        env: &[(&str, &str)],
    ) -> TestResult<RelayProcess> {
        let mut child = Command::new(relay_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .envs(env.iter().copied())
            .env("NOABER_RELAY_JOIN_PER_MINUTE", "10000")
            .env("NOABER_RELAY_JOIN_BURST", "10000")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if let Some(cap) = address_space {
            // Set before the relay opens its storage: it has printed nothing yet.
            cap_address_space(&mut child, cap)?;
        }
        // Both pipes are drained for the relay's whole life (a full pipe would block its
        // logging, and with it the relay); the last lines of its log are kept for messages.
        let log = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let stderr = child.stderr.take().unwrap();
        let keep = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                let mut k = keep.lock().unwrap();
                if k.len() == 50 {
                    k.pop_front();
                }
                k.push_back(line);
            }
        });
        let stdout = child.stdout.take().unwrap();
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        while let Some(line) = lines.next() {
            let line = line?;
            if let Some(addr) = line.strip_prefix("listening on ") {
                std::thread::spawn(move || for _ in lines.by_ref() {});
                return Ok(RelayProcess {
                    child,
                    addr: addr.trim().parse()?,
                    log,
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

    /// Its peak resident memory so far (`VmHWM`), in MiB; Linux only.
    pub fn peak_rss_mib(&self) -> Option<u64> {
        peak_rss_kib(self.child.id()).map(|kib| kib / 1024)
    }

    /// `None` while the relay runs; how it ended (with the last lines of its log) once it has.
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.try_wait().ok()??;
        let log: Vec<String> = self.log.lock().unwrap().iter().cloned().collect();
        Some(format!("{status}; its log ended:\n{}", log.join("\n")))
    }

    /// The last lines of its log (for a failing test's message).
    pub fn log_tail(&self) -> String {
        let log: Vec<String> = self.log.lock().unwrap().iter().cloned().collect();
        log.join("\n")
    }

    /// SIGKILL: no shutdown, no flushing.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy in front of a relay: its own stable address, a target that can move (a
/// restarted relay), and the ability to cut the next response after N bytes.
#[derive(Clone)]
pub struct Proxy {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    cut_after: Arc<AtomicUsize>,
    cut_request_after: Arc<AtomicUsize>,
}

const NO_CUT: usize = usize::MAX;

impl Proxy {
    pub async fn start(target: SocketAddr) -> TestResult<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let proxy = Proxy {
            addr: listener.local_addr()?,
            target: Arc::new(Mutex::new(target)),
            cut_after: Arc::new(AtomicUsize::new(NO_CUT)),
            cut_request_after: Arc::new(AtomicUsize::new(NO_CUT)),
        };
        let p = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let target = *p.target.lock().unwrap();
                tokio::spawn(pipe(
                    client,
                    target,
                    p.cut_after.clone(),
                    p.cut_request_after.clone(),
                ));
            }
        });
        Ok(proxy)
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn retarget(&self, target: SocketAddr) {
        *self.target.lock().unwrap() = target;
    }

    /// The next response bytes on any connection (pooled keep-alive ones included) are cut
    /// after `bytes` bytes; then both sides of that connection close.
    pub fn cut_next_response_after(&self, bytes: usize) {
        self.cut_after.store(bytes, Ordering::SeqCst);
    }

    /// The next request bytes a client sends on any connection are cut after `bytes` bytes
    /// (counted from the first read after arming, across requests on that connection); then
    /// both sides of that connection close. An upload cut in the middle.
    pub fn cut_next_request_after(&self, bytes: usize) {
        self.cut_request_after.store(bytes, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either closes, cutting after the armed number of bytes.
async fn copy_with_cut(
    from: &mut (impl tokio::io::AsyncRead + Unpin),
    to: &mut (impl tokio::io::AsyncWrite + Unpin),
    cut_arm: &AtomicUsize,
) {
    let mut sent = 0usize;
    let mut cut = NO_CUT;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if cut == NO_CUT {
            let armed = cut_arm.swap(NO_CUT, Ordering::SeqCst);
            if armed != NO_CUT {
                cut = armed;
                sent = 0;
            }
        }
        let allowed = cut.saturating_sub(sent).min(n);
        if to.write_all(&buf[..allowed]).await.is_err() {
            break;
        }
        sent += allowed;
        if allowed < n {
            break; // the cut: drop the rest and close
        }
    }
    let _ = to.shutdown().await;
}

async fn pipe(
    mut client: TcpStream,
    target: SocketAddr,
    cut_response: Arc<AtomicUsize>,
    cut_request: Arc<AtomicUsize>,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let up = copy_with_cut(&mut cr, &mut sw, &cut_request);
    let down = copy_with_cut(&mut sr, &mut cw, &cut_response);
    tokio::select! {
        () = up => {},
        () = down => {},
    }
}
