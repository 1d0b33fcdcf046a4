//! The HTTP transport of the sync engine (feature `http`): reqwest over rustls, driven by
//! tokio. It moves bytes and maps failures to errors; every decision is the engine's.

use std::time::Duration;

mod photos;
pub use photos::{UPLOAD_CHUNK, UploadProgress, UploadReport};

use crate::error::{Error, Result};
use crate::store::Store;
use crate::store::membership::Buurt;
use crate::sync::engine::{Round, RoundOutcome};
use crate::sync::wire::{
    self, CBOR, ErrorBody, JoinRequest, JoinResponse, PROTOCOL_VERSION, SyncResponse,
};

/// Most rounds one [`Client::sync`] runs (a page each); 200 × 2 000 changes covers a device
/// that was offline for 400 000 changes before it yields.
pub const MAX_ROUNDS: usize = 200;

/// What one [`Client::sync`] did, summed over its rounds.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    /// Round trips made.
    pub rounds: usize,
    /// Local changes pushed and accepted.
    pub accepted: usize,
    /// Local changes refused for good (entity, code, reason).
    pub rejected: Vec<crate::sync::engine::RejectedChange>,
    /// Refusals for now (`unavailable`, `missing_dependencies`): the changes stay pending and
    /// are pushed again after a wait ([`crate::sync::engine::retry_wait_ms`]).
    pub retrying: usize,
    /// Changes pulled.
    pub pulled: usize,
    /// Of those, new to this device.
    pub applied: usize,
    /// The cursor at the end.
    pub cursor: u64,
    /// Documents repaired through `/v1/missing` (missing dependencies fetched).
    pub repaired: usize,
}

/// An HTTP client for one or more relays.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
}

fn network(e: &reqwest::Error) -> Error {
    // reqwest's messages carry the URL, never a header: no token can leak through them.
    Error::Network(e.to_string())
}

async fn relay_error(resp: reqwest::Response) -> Error {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(b) => Error::Relay {
            status,
            code: b.error.code,
            message: b.error.message,
        },
        Err(_) => Error::Relay {
            status,
            code: "http".into(),
            message: format!("status {status}"),
        },
    }
}

impl Client {
    /// A client with sensible timeouts (connect 10 s, whole request 60 s).
    ///
    /// # Errors
    ///
    /// [`Error::Network`] when the TLS stack cannot be set up.
    pub fn new() -> Result<Client> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("noaber/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| network(&e))?;
        Ok(Client { http })
    }

    /// Joins a buurt with an invite code and records the membership in `store`.
    ///
    /// # Errors
    ///
    /// [`Error::Network`] when the relay cannot be reached; [`Error::Relay`] with the relay's
    /// code (`invite_invalid`, `rate_limited`, ...); [`Error::InvalidInput`] for a malformed
    /// answer or URL.
    pub async fn join(
        &self,
        store: &Store,
        relay_url: &str,
        invite: &str,
        display_name: &str,
    ) -> Result<Buurt> {
        let base = relay_url.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::invalid(
                "relay_url",
                "must start with http:// or https://",
            ));
        }
        let display_name = crate::names::display_name(display_name)?;
        // Stored before it is sent: a retry after a lost answer (or a crash) sends the same
        // ids and secret, and the relay answers it with the same device and token.
        let attempt = store.join_attempt(base, invite.trim())?;
        let req = JoinRequest {
            v: PROTOCOL_VERSION,
            invite: invite.trim().to_owned(),
            display_name,
            member: attempt.member.to_string(),
            actors: vec![attempt.actor.clone()],
            join_secret: Some(attempt.secret.clone()),
        };
        let resp = self
            .http
            .post(format!("{base}/v1/join"))
            .json(&req)
            .send()
            .await
            .map_err(|e| network(&e))?;
        let status = resp.status();
        if !status.is_success() {
            // Refused for good: the next attempt starts afresh. A rate limit or a relay
            // failure may pass: keep the attempt for the retry.
            if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                store.forget_join_attempt(base, invite.trim())?;
            }
            return Err(relay_error(resp).await);
        }
        let body: JoinResponse = resp.json().await.map_err(|e| network(&e))?;
        store.join_buurt(base, &body)
    }

    /// One round trip: push what is pending, pull a page.
    ///
    /// # Errors
    ///
    /// As [`Client::sync`].
    pub async fn round(&self, store: &Store, buurt: &str) -> Result<RoundOutcome> {
        let round = store.sync_prepare(buurt)?;
        self.send(store, &round).await
    }

    /// Sends a round prepared with [`Store::sync_prepare`] (or
    /// [`Store::sync_prepare_at_most`]) and applies the answer.
    ///
    /// # Errors
    ///
    /// As [`Client::sync`].
    pub async fn send(&self, store: &Store, round: &Round) -> Result<RoundOutcome> {
        let buurt = round.buurt.as_str();
        let b = store.buurt(buurt)?;
        let token = store.buurt_token(buurt)?;
        let body = wire::to_cbor(&round.request)?;
        let resp = self
            .http
            .post(format!("{}/v1/sync", b.relay_url))
            .header(reqwest::header::CONTENT_TYPE, CBOR)
            .bearer_auth(token)
            .body(body)
            .send()
            .await
            .map_err(|e| network(&e))?;
        if !resp.status().is_success() {
            return Err(relay_error(resp).await);
        }
        let bytes = resp.bytes().await.map_err(|e| network(&e))?;
        let answer: SyncResponse = wire::from_cbor(&bytes)?;
        store.sync_finish(round, &answer)
    }

    /// Syncs `buurt` until nothing is left to push or pull (at most [`MAX_ROUNDS`] rounds).
    /// A failure is recorded in the store's sync status (with the backoff it implies) and
    /// returned; what earlier rounds did stays done.
    ///
    /// # Errors
    ///
    /// [`Error::Network`] (offline, timeout, cut connection), [`Error::Relay`] (the relay's
    /// code: `unauthorized` for a revoked device, ...), [`Error::NotFound`] for a buurt not
    /// joined, storage errors.
    pub async fn sync(&self, store: &Store, buurt: &str) -> Result<SyncReport> {
        self.sync_with_progress(store, buurt, |_| {}).await
    }

    /// [`Client::sync`], calling `progress` after every round (each round's outcome; the
    /// store's [`Store::sync_status`] then has the cursor and the relay's head, so a UI can
    /// show how far a long pull has come).
    ///
    /// # Errors
    ///
    /// As [`Client::sync`].
    pub async fn sync_with_progress(
        &self,
        store: &Store,
        buurt: &str,
        mut progress: impl FnMut(&RoundOutcome),
    ) -> Result<SyncReport> {
        let mut report = SyncReport::default();
        for _ in 0..MAX_ROUNDS {
            let out = match self.round(store, buurt).await {
                Ok(out) => out,
                Err(e) => {
                    if !matches!(e, Error::NotFound { .. }) {
                        store.sync_failed(buurt, &e)?;
                    }
                    return Err(e);
                }
            };
            progress(&out);
            report.rounds += 1;
            report.accepted += out.accepted;
            report.rejected.extend(out.rejected);
            report.retrying += out.retrying.len();
            report.pulled += out.pulled;
            report.applied += out.applied.applied;
            report.cursor = out.cursor;
            if !out.again {
                break;
            }
        }
        report.repaired = self.repair(store, buurt).await?;
        Ok(report)
    }

    /// The repair path: for every document of `buurt` that waits for changes that never
    /// arrived (a damaged or restored local log), asks the relay for what it lacks
    /// (`POST /v1/missing` with the document's heads) and applies the answer. Returns how many
    /// documents were repaired.
    ///
    /// # Errors
    ///
    /// [`Error::Network`], [`Error::Relay`], storage errors.
    pub async fn repair(&self, store: &Store, buurt: &str) -> Result<usize> {
        let todo = store.needing_repair(buurt, 100)?;
        if todo.is_empty() {
            return Ok(0);
        }
        let b = store.buurt(buurt)?;
        let token = store.buurt_token(buurt)?;
        let mut repaired = 0;
        for (entity, heads) in todo {
            let req = wire::MissingRequest {
                v: PROTOCOL_VERSION,
                doc: wire::doc_bytes(&entity),
                heads: heads.into_iter().map(serde_bytes::ByteBuf::from).collect(),
            };
            let resp = self
                .http
                .post(format!("{}/v1/missing", b.relay_url))
                .header(reqwest::header::CONTENT_TYPE, CBOR)
                .bearer_auth(&token)
                .body(wire::to_cbor(&req)?)
                .send()
                .await
                .map_err(|e| network(&e))?;
            if resp.status() == reqwest::StatusCode::NOT_FOUND {
                // The relay has none of it: a document whose creation it refused.
                store.forget_document(&entity)?;
                repaired += 1;
                continue;
            }
            if !resp.status().is_success() {
                return Err(relay_error(resp).await);
            }
            let bytes = resp.bytes().await.map_err(|e| network(&e))?;
            let answer: wire::MissingResponse = wire::from_cbor(&bytes)?;
            let changes = answer
                .changes
                .into_iter()
                .map(serde_bytes::ByteBuf::into_vec)
                .collect();
            store.apply_repair(buurt, &entity, changes)?;
            repaired += 1;
        }
        Ok(repaired)
    }

    /// Stays connected to `buurt`'s live channel until `stop` completes: syncs at once, then
    /// whenever the relay says its log moved past the local cursor, and whenever a local commit
    /// leaves changes for `buurt` waiting in the outbox; calls `on_sync` with each report. A
    /// dropped connection is retried with [`crate::sync::engine::backoff`]; no polling: between
    /// notifications nothing runs.
    ///
    /// Local commits made while a sync is running coalesce into one more sync after it; a
    /// commit while disconnected waits for the reconnection, whose first sync pushes it. After
    /// a successful sync, photos in the upload queue whose backoff has passed are sent
    /// ([`Client::upload_due_photos`]).
    ///
    /// # Errors
    ///
    /// [`Error::Relay`] with `unauthorized` (a revoked device: retrying cannot help);
    /// storage errors. Network failures are retried, not returned.
    pub async fn live(
        &self,
        store: &Store,
        buurt: &str,
        mut on_sync: impl FnMut(&Result<SyncReport>),
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<()> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

        tokio::pin!(stop);
        // Woken by every commit to the store (local writes and applied pulls alike); a
        // permit is kept when nobody waits, so a commit during a sync is not missed.
        let committed = std::sync::Arc::new(tokio::sync::Notify::new());
        let _subscription = {
            let committed = std::sync::Arc::clone(&committed);
            store.subscribe(move |_| committed.notify_one())
        };
        loop {
            let b = store.buurt(buurt)?;
            let first = self.sync(store, buurt).await;
            let fatal = matches!(&first, Err(Error::Relay { status: 401, .. }));
            on_sync(&first);
            if fatal {
                return first.map(|_| ());
            }
            if first.is_ok() {
                // Photos follow their reports; an upload in progress is resumable, so being
                // stopped halfway loses at most one chunk.
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    r = self.upload_due_photos(store, buurt, |_| {}) => { r?; }
                }
            }
            let url = format!("{}/v1/live", b.relay_url.replacen("http", "ws", 1));
            let connected = async {
                let mut req = url
                    .as_str()
                    .into_client_request()
                    .map_err(|e| Error::Network(e.to_string()))?;
                let token = store.buurt_token(buurt)?;
                let value = format!("Bearer {token}")
                    .parse()
                    .map_err(|_| Error::Other("device token is not a valid header".into()))?;
                req.headers_mut().insert("authorization", value);
                let (ws, _) = tokio_tungstenite::connect_async(req)
                    .await
                    .map_err(|e| Error::Network(e.to_string()))?;
                Ok::<_, Error>(ws)
            };
            let mut ws = tokio::select! {
                () = &mut stop => return Ok(()),
                ws = connected => match ws {
                    Ok(ws) => ws,
                    Err(e) => {
                        let wait = store.sync_failed(buurt, &e)?;
                        tokio::select! {
                            () = &mut stop => return Ok(()),
                            () = tokio::time::sleep(wait.max(Duration::from_millis(200))) => continue,
                        }
                    }
                },
            };
            loop {
                // A change refused for now goes again when its wait is over, also when nothing
                // else happens in the buurt (at least a second apart, whatever the answer).
                let retry = store
                    .sync_retry_in(buurt)?
                    .map(|d| d.max(Duration::from_secs(1)));
                let retry_due = async {
                    match retry {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                };
                let msg = tokio::select! {
                    () = &mut stop => return Ok(()),
                    () = retry_due => {
                        let r = self.sync(store, buurt).await;
                        on_sync(&r);
                        continue;
                    }
                    () = committed.notified() => {
                        // Pulls applied by our own syncs wake us too; only a waiting local
                        // change is worth a round trip.
                        if store.sync_status(buurt)?.pending > 0 {
                            let r = self.sync(store, buurt).await;
                            let synced = r.is_ok();
                            on_sync(&r);
                            if synced {
                                tokio::select! {
                                    () = &mut stop => return Ok(()),
                                    r = self.upload_due_photos(store, buurt, |_| {}) => { r?; }
                                }
                            }
                        }
                        continue;
                    }
                    msg = ws.next() => msg,
                };
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        let Ok(head) =
                            serde_json::from_str::<crate::sync::wire::LiveHead>(text.as_str())
                        else {
                            continue;
                        };
                        store.sync_head(buurt, head.head)?;
                        let cursor = u64::try_from(store.buurt(buurt)?.cursor).unwrap_or(0);
                        let pending = store.sync_status(buurt)?.pending;
                        if head.head > cursor || pending > 0 {
                            let r = self.sync(store, buurt).await;
                            on_sync(&r);
                        }
                    }
                    Some(Ok(_)) => {} // pings are answered by tungstenite; others ignored
                    Some(Err(_)) | None => break, // reconnect
                }
            }
        }
    }
}
