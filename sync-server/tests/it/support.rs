//! A relay in-process, devices with real `noaber_core::Store`s, and a small protocol client.

use std::sync::Arc;

use noaber_core::sync::wire::{
    self, CBOR, ErrorBody, JoinRequest, JoinResponse, PushChange, SyncRequest, SyncResponse,
};
use noaber_core::{EntityId, Role, Store, SystemClock};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::{BuurtId, Config, Relay};
use reqwest::StatusCode;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub type TestResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// A relay serving on an ephemeral port with its own data directory.
pub struct TestRelay {
    pub url: String,
    pub relay: Relay,
    pub dir: tempfile::TempDir,
    pub http: reqwest::Client,
    server: Option<JoinHandle<noaber_relay::Result<()>>>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestRelay {
    /// A relay with generous join limits (tests join many devices from one address).
    pub async fn start() -> TestResult<Self> {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config::with_data(dir.path());
        config.join_burst = 10_000;
        config.join_per_minute = 10_000;
        config.join_per_invite_burst = 10_000;
        config.join_per_invite_per_minute = 10_000;
        tweak(&mut config);
        Self::start_in(dir, config).await
    }

    /// A relay like [`start`] whose wall time is `clock`'s.
    pub async fn start_with_clock(clock: Arc<dyn noaber_relay::Clock>) -> TestResult<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = Config::with_data(dir.path());
        config.join_burst = 10_000;
        config.join_per_minute = 10_000;
        let relay = Relay::open_with_clock(&config, clock)?;
        Self::serve(relay, dir).await
    }

    pub async fn start_in(dir: tempfile::TempDir, config: Config) -> TestResult<Self> {
        let relay = Relay::open(&config)?;
        Self::serve(relay, dir).await
    }

    /// A relay over `storage` (photos in `dir`), with the generous join limits of [`start`].
    pub async fn start_over(
        storage: Arc<dyn noaber_relay::storage::Storage>,
        dir: tempfile::TempDir,
    ) -> TestResult<Self> {
        let mut config = Config::with_data(dir.path());
        config.join_burst = 10_000;
        config.join_per_minute = 10_000;
        let relay = Relay::with_storage(storage, &config)?;
        Self::serve(relay, dir).await
    }

    async fn serve(relay: Relay, dir: tempfile::TempDir) -> TestResult<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(noaber_relay::serve(
            listener,
            None,
            relay.clone(),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(TestRelay {
            url,
            relay,
            dir,
            http: reqwest::Client::new(),
            server: Some(server),
            stop: Some(stop),
        })
    }

    /// Graceful shutdown: waits for `serve` to return.
    pub async fn stop(mut self) -> TestResult<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await??;
        }
        Ok(self.dir)
    }

    /// Kills the server task without any shutdown and returns the data directory.
    pub fn kill(mut self) -> tempfile::TempDir {
        if let Some(server) = self.server.take() {
            server.abort();
        }
        self.stop.take();
        self.dir
    }

    pub fn storage(&self) -> &dyn noaber_relay::storage::Storage {
        self.relay.storage().as_ref()
    }

    /// A new buurt; returns its id and the organiser invite.
    pub fn buurt(&self, name: &str) -> TestResult<(BuurtId, String)> {
        let b = admin::create_buurt(self.storage(), name, now_ms())?;
        Ok((b.buurt_id, b.organiser_invite))
    }

    pub fn invite(&self, buurt: &BuurtId, role: Role, uses: u32) -> TestResult<String> {
        let opts = InviteOptions {
            role,
            expires: "1d".into(),
            uses,
            member: None,
        };
        Ok(admin::create_invite(self.storage(), buurt, &opts, now_ms())?.code)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// `POST /v1/join` with any JSON; returns the status and body.
    pub async fn join_raw(
        &self,
        body: &serde_json::Value,
    ) -> TestResult<(StatusCode, serde_json::Value)> {
        let resp = self
            .http
            .post(self.url("/v1/join"))
            .json(body)
            .send()
            .await?;
        let status = resp.status();
        Ok((status, resp.json().await?))
    }

    pub async fn join(
        &self,
        req: &JoinRequest,
    ) -> TestResult<Result<JoinResponse, (StatusCode, ErrorBody)>> {
        let resp = self
            .http
            .post(self.url("/v1/join"))
            .json(req)
            .send()
            .await?;
        let status = resp.status();
        if status.is_success() {
            Ok(Ok(resp.json().await?))
        } else {
            Ok(Err((status, resp.json().await?)))
        }
    }

    /// `POST /v1/sync`; `Err` carries the status and error body.
    pub async fn sync(
        &self,
        token: &str,
        req: &SyncRequest,
    ) -> TestResult<Result<SyncResponse, (StatusCode, ErrorBody)>> {
        self.sync_bytes(Some(token), wire::to_cbor(req)?).await
    }

    pub async fn sync_bytes(
        &self,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> TestResult<Result<SyncResponse, (StatusCode, ErrorBody)>> {
        let mut req = self
            .http
            .post(self.url("/v1/sync"))
            .header("content-type", CBOR)
            .body(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if status.is_success() {
            Ok(Ok(wire::from_cbor(&bytes)?))
        } else {
            Ok(Err((status, serde_json::from_slice(&bytes)?)))
        }
    }
}

/// One device: its own store, enrolled in one buurt.
pub struct Device {
    pub store: Store,
    pub joined: JoinResponse,
    pub cursor: u64,
}

impl Device {
    /// A fresh store joined with `code`, acting locally as `role` (the relay decides what counts).
    pub async fn join(relay: &TestRelay, code: &str, name: &str, role: Role) -> TestResult<Device> {
        let store = Store::open_in_memory(Arc::new(SystemClock))?;
        let id = store.identity();
        let joined = relay
            .join(&JoinRequest {
                v: 1,
                invite: code.into(),
                display_name: name.into(),
                member: id.member.to_string(),
                actors: vec![id.actor.clone()],
                join_secret: None,
            })
            .await?
            .map_err(|(s, e)| format!("join failed: {s} {e:?}"))?;
        store.set_identity(role, Some(name), None)?;
        Ok(Device {
            store,
            joined,
            cursor: 0,
        })
    }

    pub fn token(&self) -> &str {
        &self.joined.token
    }

    /// The device's un-acked changes as a push list, with their outbox seqs.
    pub fn pending(&self) -> TestResult<(Vec<i64>, Vec<PushChange>)> {
        let pending = self.store.pending_changes(wire::MAX_PUSH)?;
        Ok(pending
            .into_iter()
            .map(|c| {
                (
                    c.seq,
                    PushChange {
                        doc: wire::doc_bytes(&c.entity),
                        change: c.bytes,
                    },
                )
            })
            .unzip())
    }

    /// One sync round: push pending changes (acking the accepted ones), apply what is pulled.
    pub async fn sync(&mut self, relay: &TestRelay) -> TestResult<SyncResponse> {
        let (seqs, push) = self.pending()?;
        let resp = relay
            .sync(
                self.token(),
                &SyncRequest {
                    v: 1,
                    cursor: self.cursor,
                    push,
                    max: None,
                },
            )
            .await?
            .map_err(|(s, e)| format!("sync failed: {s} {e:?}"))?;
        let refused: Vec<u32> = resp.rejected.iter().map(|r| r.i).collect();
        let acked: Vec<i64> = seqs
            .iter()
            .enumerate()
            .filter(|(i, _)| !refused.contains(&(*i as u32)))
            .map(|(_, s)| *s)
            .collect();
        self.store.ack_changes(&acked)?;
        self.apply(&resp)?;
        self.cursor = resp.cursor;
        Ok(resp)
    }

    pub fn apply(&self, resp: &SyncResponse) -> TestResult {
        let batch = resp
            .pull
            .iter()
            .map(|p| Ok((wire::doc_id(&p.doc)?, p.change.clone())))
            .collect::<noaber_core::Result<Vec<(EntityId, Vec<u8>)>>>()?;
        if !batch.is_empty() {
            self.store.apply_remote_changes(&batch)?;
        }
        Ok(())
    }

    /// Syncs until nothing more is pending or to pull.
    pub async fn sync_all(&mut self, relay: &TestRelay) -> TestResult {
        loop {
            let resp = self.sync(relay).await?;
            if !resp.more && self.store.pending_count()? == 0 {
                return Ok(());
            }
            if !resp.rejected.is_empty() {
                return Err(format!("rejected: {:?}", resp.rejected).into());
            }
        }
    }
}

/// A simple help request on `device`'s store.
pub fn ask(device: &Device, title: &str) -> TestResult<EntityId> {
    Ok(device
        .store
        .create_help(&noaber_core::model::help::NewHelp::ask("groceries", title))?)
}

/// The error code of a failed call.
pub fn code(e: &(StatusCode, ErrorBody)) -> &str {
    &e.1.error.code
}
