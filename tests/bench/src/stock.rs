//! The stock Automerge stack as a benchmark peer: the `@automerge/automerge-repo-sync-server`
//! npm package (Node) as the server and `samod` (Rust automerge-repo) as every client, all on
//! loopback.
//!
//! # How it is measured
//!
//! - **Bytes**: every client (A, B, the seeding client, C) reaches the server through its own
//!   [`CountingProxy`]; a workload reports only the measured client's proxy, so A's figures are
//!   A's alone. Bytes are TCP payload on the socket: WebSocket upgrade, framing, the
//!   automerge-repo handshake and every sync message.
//! - **Messages**: the client's WebSocket transport counts the binary WebSocket messages it sends
//!   and receives (each is one automerge-repo protocol message: `join`/`peer`, `sync`,
//!   `request`, `doc-unavailable`, …). [`Measured::messages`] is up + down.
//! - **Time** runs from the start of the connection (dial, WebSocket upgrade, handshake) until
//!   every expected change is in the client's documents (checked by change hash, not by a
//!   "synced" flag). Bytes and messages are read later, once the socket has been quiet for
//!   300 ms: the figures include the replies that trail the last visible edit, i.e. the whole
//!   cost of the exchange.
//! - **Dropped connections**: the stock server pings every client every 5 s and drops one whose
//!   pong it has not processed by the next tick, which happens while it is busy (seen while a
//!   client uploads 1 000 new documents). samod then redials; waits here follow the dialer's
//!   current connection, and a measured phase that needed a redial includes it in its figures
//!   and is counted by [`StockStack::redials`].
//!
//! # Setups
//!
//! - [`StockStack::reconnect`] builds its setup (device A holding `docs` help-request documents,
//!   all synced with the server; device B connected too) on the first call and **reuses** it
//!   while `docs` stays the same (a different `docs` builds a fresh one). Each call takes A
//!   offline, lets B make one small edit to each of the next `changed` documents (a rotating
//!   window, so rounds edit different documents) and sync it to the server, checks A has not
//!   seen the edits, then measures A's reconnect. A keeps its documents open (in memory) the whole
//!   time, as a running app would; samod syncs every open document on a new connection.
//! - [`StockStack::initial_sync`] seeds `docs` documents once per distinct `docs` through a
//!   seeding client (not measured, stopped afterwards) and reuses them; every call measures a
//!   **brand-new** client C with an empty in-memory store, given the document ids, that finds
//!   all of them concurrently and waits until each holds the seeded heads. C is stopped after.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use automerge::transaction::Transactable;
use automerge::{Automerge, AutomergeError, ChangeHash, ObjType, ROOT, ReadDoc};
use futures_util::future::{BoxFuture, join_all};
use futures_util::{SinkExt, StreamExt};
use samod::{
    BackoffConfig, ConnectionId, DialError, Dialer, DialerHandle, DocHandle, DocumentId, Repo,
    Transport, Url,
};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::BenchResult;
use crate::proxy::{Bytes, CountingProxy};

/// The npm package run as the server, at the version `stock/package.json` pins.
const SERVER_PACKAGE: &str = "@automerge/automerge-repo-sync-server";
/// Its entry point inside the npm project.
const SERVER_ENTRY: &str = "node_modules/@automerge/automerge-repo-sync-server/src/index.js";
/// Preloaded into the server's Node process: exit when stdin closes, i.e. when this process is
/// gone (even if killed before `Drop` runs). The server's own code runs unmodified.
const EXIT_WITH_PARENT: &str =
    "data:text/javascript,process.stdin.on('end',()=>process.exit(0));process.stdin.resume();";
/// How long the server may take to accept connections.
const SERVER_START: Duration = Duration::from_secs(30);
/// The bound on any one phase of a workload (setup, edits, the measured sync).
const PHASE_LIMIT: Duration = Duration::from_secs(300);
/// A socket silent this long has finished its exchange.
const QUIET: Duration = Duration::from_millis(300);
/// The longest wait for a socket to fall quiet after the measured point.
const QUIET_LIMIT: Duration = Duration::from_secs(10);
/// Help-request categories, as in `noaber-core`.
const CATEGORIES: &[&str] = &[
    "groceries",
    "transport",
    "odd_jobs",
    "company",
    "paperwork",
    "garden",
    "other",
];

/// Serialises `npm ci` within this process.
static INSTALL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What one workload measured on the measured client's socket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// Bytes from the client to the server (TCP payload, counted by the proxy).
    pub bytes_up: u64,
    /// Bytes from the server to the client (TCP payload, counted by the proxy).
    pub bytes_down: u64,
    /// Wall time from the start of the connection until every expected change was visible.
    pub ms: f64,
    /// Protocol messages (binary WebSocket messages) sent plus received.
    pub messages: Option<u64>,
}

/// The stock Automerge stack on loopback: `@automerge/automerge-repo-sync-server` (Node) as the
/// server, `samod` (Rust automerge-repo) as the client, every byte counted by a
/// [`CountingProxy`]. Stops the Node server (kill + wait) and removes its temporary directory
/// on drop.
pub struct StockStack {
    server: Child,
    server_addr: SocketAddr,
    reconnect: Option<ReconnectSetup>,
    seeded: Option<Seeded>,
    redials: u64,
    // Dropped last: the server's DATA_DIR and log live here.
    tmp: tempfile::TempDir,
}

impl std::fmt::Debug for StockStack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StockStack")
            .field("server_pid", &self.server.id())
            .field("server_addr", &self.server_addr)
            .field("tmp", &self.tmp.path())
            .finish_non_exhaustive()
    }
}

impl StockStack {
    /// Installs the npm packages if needed (`npm ci` into `tests/bench/stock/node_modules`,
    /// preferring npm's offline cache; or the directory named by `NOABER_BENCH_STOCK_DIR`),
    /// starts the sync server (`node`, env `PORT` = a free ephemeral port, `DATA_DIR` in a
    /// temporary directory; the stock server listens on all interfaces, every client uses
    /// loopback) and waits until it accepts connections. The server exits with this process
    /// even if it is killed.
    ///
    /// # Errors
    ///
    /// When `node` or `npm` cannot be run, `npm ci` fails, or the server does not accept
    /// connections within 30 s (the error quotes the end of its log).
    pub async fn start() -> BenchResult<StockStack> {
        let dir = stock_dir();
        {
            let _guard = INSTALL.lock().await;
            let install_dir = dir.clone();
            tokio::task::spawn_blocking(move || install(&install_dir)).await??;
        }
        let tmp = tempfile::Builder::new().prefix("noaber-stock-").tempdir()?;
        let mut last_error = None;
        // The free port is picked by binding and releasing it: retry if someone took it.
        for _ in 0..3 {
            let port = free_port()?;
            let mut server = spawn_server(&dir, tmp.path(), port)?;
            let server_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            match wait_listening(&mut server, server_addr, tmp.path()).await {
                Ok(()) => {
                    return Ok(StockStack {
                        server,
                        server_addr,
                        reconnect: None,
                        seeded: None,
                        redials: 0,
                        tmp,
                    });
                }
                Err(e) => {
                    stop_child(&mut server);
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| "the sync server did not start".into()))
    }

    /// Workload "reconnect": device A holds `docs` help-request documents, all synced with the
    /// server; while A is offline, device B makes one small edit to each of `changed` of them and
    /// syncs them to the server; then A reconnects until every edit is visible in A's documents.
    /// Measures only A's reconnect (bytes and messages on A's socket, time until visible).
    /// The setup is built on the first call and reused while `docs` stays the same (see the
    /// module docs).
    ///
    /// # Errors
    ///
    /// When `docs` is 0 or `changed > docs`, a client cannot connect, A saw an edit while
    /// offline, or any phase takes longer than 300 s.
    pub async fn reconnect(&mut self, docs: usize, changed: usize) -> BenchResult<Measured> {
        if docs == 0 || changed > docs {
            return Err(format!(
                "reconnect needs 0 < docs and changed <= docs (docs {docs}, changed {changed})"
            )
            .into());
        }
        if self.reconnect.as_ref().map(|s| s.a_docs.len()) != Some(docs) {
            if let Some(old) = self.reconnect.take() {
                old.stop().await;
            }
            self.reconnect = Some(ReconnectSetup::build(self.server_addr, docs).await?);
        }
        let setup = self
            .reconnect
            .as_mut()
            .ok_or("the reconnect setup is missing")?;
        let (measured, connections) = setup.run(changed).await?;
        self.redials = self.redials.saturating_add(connections.saturating_sub(1));
        Ok(measured)
    }

    /// Workload "initial sync": the server holds `docs` help-request documents (seeded once per
    /// distinct `docs` by a seeding client, not measured); a brand-new client C, given their
    /// ids, finds all of them. Measures C's socket and the time until C holds every document
    /// at the seeded heads.
    ///
    /// # Errors
    ///
    /// When `docs` is 0, a client cannot connect, the server lacks a document, or any phase
    /// takes longer than 300 s.
    pub async fn initial_sync(&mut self, docs: usize) -> BenchResult<Measured> {
        if docs == 0 {
            return Err("initial sync needs at least one document (docs 0)".into());
        }
        if self.seeded.as_ref().map(|s| s.docs.len()) != Some(docs) {
            self.seeded = Some(Seeded::build(self.server_addr, docs).await?);
        }
        let seeded = self
            .seeded
            .as_ref()
            .ok_or("the seeded documents are missing")?;

        let mut c = Client::new(self.server_addr).await?;
        let before = c.proxy.bytes();
        let messages_before = c.messages.total();
        let started = Instant::now();
        let outcome = within("client C's initial sync", async {
            c.connect().await?;
            let repo = &c.repo;
            let found = join_all(seeded.docs.iter().map(|(id, heads)| async move {
                let handle = find(repo, id).await?;
                wait_for_hashes(&handle, heads).await?;
                Ok::<DocHandle, Box<dyn std::error::Error + Send + Sync>>(handle)
            }))
            .await;
            found.into_iter().collect::<BenchResult<Vec<DocHandle>>>()
        })
        .await;
        let ms = millis(started.elapsed());
        let handles = match outcome {
            Ok(handles) => handles,
            Err(e) => {
                c.stop().await;
                return Err(e);
            }
        };
        let bytes = quiet(&c.proxy).await.since(before);
        let messages = c.messages.total().saturating_sub(messages_before);
        self.redials = self
            .redials
            .saturating_add(bytes.connections.saturating_sub(1));
        drop(handles);
        c.stop().await;
        Ok(Measured {
            bytes_up: bytes.up,
            bytes_down: bytes.down,
            ms,
            messages: Some(messages),
        })
    }

    /// How often, over all measured phases so far, the measured client had to open another
    /// connection because the server dropped it (its keep-alive drops clients under load; samod
    /// redials and the figures include the redial). 0 in a clean run; report it if not.
    pub fn redials(&self) -> u64 {
        self.redials
    }

    /// Resident memory of the Node server process in MB (`VmRSS` in `/proc/PID/status`).
    pub fn server_rss_mb(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.server.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }
}

impl Drop for StockStack {
    fn drop(&mut self) {
        if let Some(setup) = self.reconnect.take() {
            setup.a.halt();
            setup.b.halt();
        }
        stop_child(&mut self.server);
    }
}

/// Device A with its documents, device B, and where B's next edits go.
struct ReconnectSetup {
    a: Client,
    a_docs: Vec<DocHandle>,
    b: Client,
    b_docs: HashMap<DocumentId, DocHandle>,
    next: usize,
}

impl ReconnectSetup {
    /// A creates `docs` documents and syncs them with the server; B connects.
    async fn build(server: SocketAddr, docs: usize) -> BenchResult<ReconnectSetup> {
        let mut a = Client::new(server).await?;
        let a_docs = match a.create_synced(docs, "device A").await {
            Ok(a_docs) => a_docs,
            Err(e) => {
                a.stop().await;
                return Err(e);
            }
        };
        let mut b = Client::new(server).await?;
        if let Err(e) = within("device B connecting", b.connect()).await {
            a.stop().await;
            b.stop().await;
            return Err(e);
        }
        Ok(ReconnectSetup {
            a,
            a_docs,
            b,
            b_docs: HashMap::new(),
            next: 0,
        })
    }

    /// One round: A offline, B edits `changed` documents, A reconnects (measured).
    /// Returns the figures and the TCP connections A opened while measured (1 unless the
    /// server dropped A and samod redialled).
    async fn run(&mut self, changed: usize) -> BenchResult<(Measured, u64)> {
        let docs = self.a_docs.len();
        self.a.disconnect().await;

        // B's edits, synced to the server while A is away (not measured).
        let mut expected: Vec<(usize, Vec<ChangeHash>)> = Vec::with_capacity(changed);
        for k in 0..changed {
            let index = self
                .next
                .wrapping_add(k)
                .checked_rem(docs)
                .ok_or("device A holds no documents")?;
            let handle = self
                .a_docs
                .get(index)
                .ok_or("document index out of range")?;
            let id = handle.document_id().clone();
            let b_handle = match self.b_docs.get(&id) {
                Some(h) => h.clone(),
                None => {
                    let found =
                        within("device B finding a document", find(&self.b.repo, &id)).await?;
                    self.b_docs.insert(id, found.clone());
                    found
                }
            };
            let heads = b_handle.with_document(small_edit)?;
            within_plain("device B syncing its edit", self.b.server_has(&b_handle)).await?;
            expected.push((index, heads));
        }
        self.next = self
            .next
            .wrapping_add(changed)
            .checked_rem(docs)
            .unwrap_or(0);

        for (index, heads) in &expected {
            let handle = self
                .a_docs
                .get(*index)
                .ok_or("document index out of range")?;
            if handle.with_document(|d| has_all(d, heads)) {
                return Err("device A received an edit while offline".into());
            }
        }

        // A's reconnect (measured).
        let before = self.a.proxy.bytes();
        let messages_before = self.a.messages.total();
        let started = Instant::now();
        let a_docs = &self.a_docs;
        let a = &mut self.a;
        within("device A's reconnect", async move {
            a.connect().await?;
            let waits = expected.iter().map(|(index, heads)| async move {
                let handle = a_docs.get(*index).ok_or("document index out of range")?;
                wait_for_hashes(handle, heads).await
            });
            join_all(waits)
                .await
                .into_iter()
                .collect::<BenchResult<Vec<()>>>()
        })
        .await?;
        let ms = millis(started.elapsed());
        let bytes = quiet(&self.a.proxy).await.since(before);
        let messages = self.a.messages.total().saturating_sub(messages_before);
        let measured = Measured {
            bytes_up: bytes.up,
            bytes_down: bytes.down,
            ms,
            messages: Some(messages),
        };
        Ok((measured, bytes.connections))
    }

    async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
    }
}

/// Documents on the server for the initial-sync workload: ids and the heads they were seeded at.
struct Seeded {
    docs: Vec<(DocumentId, Vec<ChangeHash>)>,
}

impl Seeded {
    async fn build(server: SocketAddr, docs: usize) -> BenchResult<Seeded> {
        let mut seeder = Client::new(server).await?;
        let created = seeder.create_synced(docs, "the seeding client").await;
        let seeded = created.map(|handles| Seeded {
            docs: handles
                .iter()
                .map(|h| (h.document_id().clone(), h.with_document(|d| d.get_heads())))
                .collect(),
        });
        seeder.stop().await;
        seeded
    }
}

/// A samod repo (in-memory storage) that reaches the server through its own counting proxy.
struct Client {
    repo: Repo,
    proxy: CountingProxy,
    messages: Arc<MessageCounts>,
    dialer: Option<DialerHandle>,
}

impl Client {
    async fn new(server: SocketAddr) -> BenchResult<Client> {
        Ok(Client {
            proxy: CountingProxy::start(server).await?,
            repo: Repo::build_tokio().load().await,
            messages: Arc::new(MessageCounts::default()),
            dialer: None,
        })
    }

    /// Dials the server (through the proxy) and waits for the handshake.
    async fn connect(&mut self) -> BenchResult<ConnectionId> {
        self.disconnect().await;
        let dialer = Arc::new(WsDialer {
            url: Url::parse(&format!("ws://{}", self.proxy.addr))?,
            messages: Arc::clone(&self.messages),
        });
        let backoff = BackoffConfig {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
            max_retries: Some(20),
        };
        let handle = self.repo.dial(backoff, dialer)?;
        self.dialer = Some(handle.clone());
        handle
            .established()
            .await
            .map_err(|e| format!("cannot connect to the sync server: {e}"))?;
        Ok(handle
            .connection_id()
            .ok_or("connected, but samod reports no connection id")?)
    }

    /// Closes the connection (samod drops the transport) and lets the close settle.
    async fn disconnect(&mut self) {
        if let Some(dialer) = self.dialer.take() {
            dialer.close();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Creates `count` help-request documents and waits until the server has all of them.
    async fn create_synced(&mut self, count: usize, who: &str) -> BenchResult<Vec<DocHandle>> {
        within(&format!("{who} connecting"), self.connect()).await?;
        let mut handles = Vec::with_capacity(count);
        for i in 0..count {
            handles.push(self.repo.create(help_doc(i)?).await?);
        }
        within_plain(
            &format!("{who} syncing {count} new documents"),
            join_all(handles.iter().map(|h| self.server_has(h))),
        )
        .await?;
        Ok(handles)
    }

    /// Waits until the server holds `handle`'s current heads, over whichever connection the
    /// dialer has by then: the stock server drops a client whose pong it has not processed
    /// within its 5 s keep-alive tick (it happens under load), and samod redials.
    async fn server_has(&self, handle: &DocHandle) {
        loop {
            match self.dialer.as_ref().and_then(DialerHandle::connection_id) {
                Some(conn) => {
                    let synced = handle.they_have_our_changes(conn);
                    if tokio::time::timeout(Duration::from_secs(1), synced)
                        .await
                        .is_ok()
                    {
                        return;
                    }
                }
                None => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Stops dialing and stops the repo without waiting (for `Drop`).
    fn halt(&self) {
        if let Some(dialer) = &self.dialer {
            dialer.close();
        }
        drop(self.repo.stop());
    }

    async fn stop(mut self) {
        if let Some(dialer) = self.dialer.take() {
            dialer.close();
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.repo.stop()).await;
    }
}

/// Binary WebSocket messages through one client's transport.
#[derive(Debug, Default)]
struct MessageCounts {
    up: AtomicU64,
    down: AtomicU64,
}

impl MessageCounts {
    fn total(&self) -> u64 {
        self.up
            .load(Ordering::Relaxed)
            .saturating_add(self.down.load(Ordering::Relaxed))
    }
}

/// samod's dialer over `tokio-tungstenite` (plain `ws://`, no TLS), counting messages.
struct WsDialer {
    url: Url,
    messages: Arc<MessageCounts>,
}

impl Dialer for WsDialer {
    type Error = Infallible;

    fn url(&self) -> Url {
        self.url.clone()
    }

    fn connect(&self) -> BoxFuture<'static, Result<Transport, DialError<Infallible>>> {
        let url = self.url.clone();
        let messages = Arc::clone(&self.messages);
        Box::pin(async move {
            let (socket, _) = tokio_tungstenite::connect_async(url.as_str())
                .await
                .map_err(DialError::transient)?;
            let (sink, stream) = socket.split();
            let down = Arc::clone(&messages);
            let stream = stream.filter_map(move |message| {
                let item = match message {
                    Ok(Message::Binary(data)) => {
                        down.down.fetch_add(1, Ordering::Relaxed);
                        Some(Ok(Vec::from(data)))
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(e)),
                };
                std::future::ready(item)
            });
            let sink = sink.with(move |data: Vec<u8>| {
                messages.up.fetch_add(1, Ordering::Relaxed);
                std::future::ready(Ok::<Message, tungstenite::Error>(Message::Binary(
                    data.into(),
                )))
            });
            Ok(Transport::new(stream, sink))
        })
    }
}

/// A help request like Noaber's (`kind = "help"`): scalar fields, Text title and body, an empty
/// log; about 500 bytes saved.
fn help_doc(i: usize) -> Result<Automerge, AutomergeError> {
    let mut doc = Automerge::new();
    let category = CATEGORIES
        .get(i.checked_rem(CATEGORIES.len()).unwrap_or(0))
        .copied()
        .unwrap_or("other");
    let now = now_ms();
    doc.transact::<_, _, AutomergeError>(|tx| {
        tx.put(ROOT, "schema", 1_u64)?;
        tx.put(ROOT, "kind", "help")?;
        tx.put(ROOT, "mode", "ask")?;
        tx.put(ROOT, "category", category)?;
        let title = tx.put_object(ROOT, "title", ObjType::Text)?;
        tx.splice_text(&title, 0, 0, &format!("Boodschappen halen, verzoek {i}"))?;
        let body = tx.put_object(ROOT, "body", ObjType::Text)?;
        tx.splice_text(
            &body,
            0,
            0,
            "Wie kan donderdagmiddag een paar dingen van de supermarkt meenemen? \
             Ik betaal meteen terug.",
        )?;
        tx.put(ROOT, "urgency", "normal")?;
        tx.put(ROOT, "window_start", now)?;
        tx.put(ROOT, "window_end", now.saturating_add(86_400_000))?;
        tx.put(ROOT, "precision", "stairwell")?;
        tx.put(ROOT, "location_label", "Portiek 12-20")?;
        tx.put(ROOT, "created_by", format!("member-{:08x}", i))?;
        tx.put(ROOT, "created_at", now)?;
        tx.put_object(ROOT, "log", ObjType::Map)?;
        Ok(())
    })
    .map_err(|failure| failure.error)?;
    Ok(doc)
}

/// One small edit, as a Noaber log entry under a fresh key; returns the document's new heads.
fn small_edit(doc: &mut Automerge) -> BenchResult<Vec<ChangeHash>> {
    let key = format!("e{:016x}", rand_u64());
    doc.transact::<_, _, AutomergeError>(|tx| {
        let log = match tx.get(ROOT, "log")? {
            Some((automerge::Value::Object(ObjType::Map), id)) => id,
            _ => tx.put_object(ROOT, "log", ObjType::Map)?,
        };
        let entry = tx.put_object(&log, key.as_str(), ObjType::Map)?;
        tx.put(&entry, "op", "respond")?;
        tx.put(&entry, "by", "member-b")?;
        tx.put(&entry, "at", now_ms())?;
        tx.put(&entry, "message", "Ik kan helpen!")?;
        Ok(())
    })
    .map_err(|failure| failure.error)?;
    Ok(doc.get_heads())
}

/// Finds a document on the server, asking again if a dropped connection made it look
/// unavailable (at most 50 times, 100 ms apart).
async fn find(repo: &Repo, id: &DocumentId) -> BenchResult<DocHandle> {
    for _ in 0..50 {
        if let Some(handle) = repo.find(id.clone()).await? {
            return Ok(handle);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the server does not have document {id}").into())
}

fn has_all(doc: &Automerge, hashes: &[ChangeHash]) -> bool {
    hashes.iter().all(|h| doc.get_change_by_hash(h).is_some())
}

/// Waits until `handle`'s document contains every change in `hashes`.
async fn wait_for_hashes(handle: &DocHandle, hashes: &[ChangeHash]) -> BenchResult<()> {
    // Subscribe before checking, so a change applied in between is not missed.
    let mut changes = pin!(handle.changes());
    loop {
        if handle.with_document(|d| has_all(d, hashes)) {
            return Ok(());
        }
        if changes.next().await.is_none() {
            return Err("the document closed before the expected changes arrived".into());
        }
    }
}

/// Waits until the proxy has seen no traffic for [`QUIET`] (at most [`QUIET_LIMIT`]).
async fn quiet(proxy: &CountingProxy) -> Bytes {
    let started = Instant::now();
    let mut last = proxy.bytes();
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = proxy.bytes();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= QUIET || started.elapsed() >= QUIET_LIMIT {
            return now;
        }
    }
}

/// Bounds a fallible phase by [`PHASE_LIMIT`], naming it on timeout.
async fn within<T, E>(what: &str, fut: impl Future<Output = Result<T, E>>) -> BenchResult<T>
where
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    match tokio::time::timeout(PHASE_LIMIT, fut).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(format!("{what}: no result within {} s", PHASE_LIMIT.as_secs()).into()),
    }
}

/// Bounds an infallible phase by [`PHASE_LIMIT`].
async fn within_plain<T>(what: &str, fut: impl Future<Output = T>) -> BenchResult<T> {
    within(what, async { Ok::<T, Infallible>(fut.await) }).await
}

/// The npm project holding the server: `NOABER_BENCH_STOCK_DIR`, else `tests/bench/stock`.
fn stock_dir() -> PathBuf {
    std::env::var_os("NOABER_BENCH_STOCK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("stock"))
}

/// Checks `node` and `npm`, then runs `npm ci` unless `node_modules` is up to date.
fn install(dir: &Path) -> BenchResult<()> {
    tool_version("node")?;
    if installed(dir) {
        return Ok(());
    }
    tool_version("npm")?;
    let output = Command::new("npm")
        .args([
            "ci",
            "--no-audit",
            "--no-fund",
            "--prefer-offline",
            "--ignore-scripts",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `npm ci` in `{}`: {e}", dir.display()))?;
    if !output.status.success() {
        return Err(format!(
            "`npm ci` in `{}` failed ({}): {}",
            dir.display(),
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr))
        )
        .into());
    }
    if !installed(dir) {
        return Err(format!(
            "`npm ci` in `{}` succeeded but `{SERVER_ENTRY}` is missing",
            dir.display()
        )
        .into());
    }
    Ok(())
}

/// `node_modules` holds the server and npm's record of it is not older than the lockfile.
fn installed(dir: &Path) -> bool {
    let modified = |p: PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let (Some(record), Some(lock)) = (
        modified(dir.join("node_modules/.package-lock.json")),
        modified(dir.join("package-lock.json")),
    ) else {
        return false;
    };
    record >= lock && dir.join(SERVER_ENTRY).is_file()
}

fn tool_version(tool: &str) -> BenchResult<String> {
    let output = Command::new(tool)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            format!(
                "cannot run `{tool}` ({e}): the stock Automerge stack ({SERVER_PACKAGE}) needs \
                 Node 20 and npm on PATH"
            )
        })?;
    if !output.status.success() {
        return Err(format!("`{tool} --version` failed ({})", output.status).into());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn free_port() -> BenchResult<u16> {
    let listener = StdTcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

fn spawn_server(dir: &Path, tmp: &Path, port: u16) -> BenchResult<Child> {
    let log = File::create(tmp.join("server.log"))?;
    let log_err = log.try_clone()?;
    let child = Command::new("node")
        .args(["--import", EXIT_WITH_PARENT])
        .arg(dir.join(SERVER_ENTRY))
        .env("PORT", port.to_string())
        .env("DATA_DIR", tmp.join("data"))
        .current_dir(tmp)
        // Kept open by `Child` for the server's lifetime; see `EXIT_WITH_PARENT`.
        .stdin(Stdio::piped())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|e| format!("cannot start the sync server with `node`: {e}"))?;
    Ok(child)
}

/// Waits until the server accepts TCP connections; fails early if it exits.
async fn wait_listening(server: &mut Child, addr: SocketAddr, tmp: &Path) -> BenchResult<()> {
    let started = Instant::now();
    loop {
        if let Some(status) = server.try_wait()? {
            return Err(format!(
                "the sync server exited ({status}) before listening: {}",
                server_log(tmp)
            )
            .into());
        }
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        if started.elapsed() >= SERVER_START {
            return Err(format!(
                "the sync server did not listen on {addr} within {} s: {}",
                SERVER_START.as_secs(),
                server_log(tmp)
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn server_log(tmp: &Path) -> String {
    std::fs::read_to_string(tmp.join("server.log"))
        .map(|log| tail(&log))
        .unwrap_or_else(|e| format!("(no log: {e})"))
}

/// The last 2 000 characters of `text`.
fn tail(text: &str) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    let start = chars.len().saturating_sub(2_000);
    chars.get(start..).unwrap_or_default().iter().collect()
}

fn stop_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A random key for log entries (quality is irrelevant: uniqueness within a run).
fn rand_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = u64::try_from(now_ms()).unwrap_or(0);
    (t << 20) ^ n ^ u64::from(std::process::id()).rotate_left(40)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_help_request_saves_to_about_500_bytes() -> BenchResult<()> {
        let mut doc = help_doc(7)?;
        let size = doc.save().len();
        assert!((350..=700).contains(&size), "saved size {size}");
        let heads = small_edit(&mut doc)?;
        assert!(has_all(&doc, &heads));
        Ok(())
    }

    /// Starts the real stack (npm packages, Node server, samod clients) and runs both workloads
    /// at tiny sizes. Fails with a clear message when `node` or `npm` is missing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stock_stack_runs_both_workloads() -> BenchResult<()> {
        let mut stack = StockStack::start().await?;

        let first = stack.reconnect(5, 2).await?;
        assert!(first.bytes_up > 0 && first.bytes_down > 0, "{first:?}");
        assert!(first.ms > 0.0, "{first:?}");
        assert!(first.messages.is_some_and(|m| m >= 2), "{first:?}");
        // The setup is reused: a second round edits the next two documents.
        let second = stack.reconnect(5, 2).await?;
        assert!(second.bytes_up > 0 && second.bytes_down > 0, "{second:?}");
        // Every edit B made reached A (run() only returns once they are visible; check again).
        let setup = stack.reconnect.as_ref().expect("setup");
        let edited = setup
            .a_docs
            .iter()
            .filter(|h| {
                h.with_document(|d| {
                    let log = d.get(ROOT, "log").unwrap().unwrap().1;
                    d.keys(&log).count() == 1
                })
            })
            .count();
        assert_eq!(edited, 4, "two rounds of two edits on distinct documents");

        let initial = stack.initial_sync(5).await?;
        assert!(
            initial.bytes_up > 0 && initial.bytes_down > 0,
            "{initial:?}"
        );
        assert!(initial.ms > 0.0, "{initial:?}");
        // Five documents of ~500 bytes came down.
        assert!(initial.bytes_down > 5 * 300, "{initial:?}");

        // A different size builds a fresh setup.
        let rebuilt = stack.reconnect(3, 1).await?;
        assert!(
            rebuilt.bytes_up > 0 && rebuilt.bytes_down > 0,
            "{rebuilt:?}"
        );
        assert_eq!(stack.reconnect.as_ref().expect("setup").a_docs.len(), 3);

        assert_eq!(stack.redials(), 0, "no redial at this size");
        let rss = stack.server_rss_mb().expect("server rss");
        assert!(rss > 1.0, "rss {rss}");
        eprintln!("reconnect {first:?} then {second:?}; initial sync {initial:?}; rss {rss:.1} MB");
        Ok(())
    }
}
