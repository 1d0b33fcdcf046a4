//! An attacker with one organiser account: a real store for its ids and for honest-looking
//! changes, and raw HTTP for what no honest client sends. Used by the attack scenarios here
//! and by the benchmark's latency-under-attack figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use noaber_core::forge::Forge;
use noaber_core::model::help::NewHelp;
use noaber_core::sync::wire::{
    self, CBOR, JoinRequest, JoinResponse, PROTOCOL_VERSION, PushChange, SyncRequest, SyncResponse,
};
use noaber_core::{Role, Store, SystemClock};

use crate::TestResult;

/// The attacker: a real store for its ids and honest-looking changes, and raw HTTP.
pub struct Attacker {
    http: reqwest::Client,
    url: String,
    token: String,
    /// Its actor id, as bytes (what forged changes carry).
    pub actor: Vec<u8>,
    /// Its store, acting as an organiser.
    pub store: Store,
}

impl Attacker {
    /// Joins `url` with `invite` (raw `POST /v1/join`).
    pub async fn join(url: &str, invite: &str) -> TestResult<Attacker> {
        let store = Store::open_in_memory(Arc::new(SystemClock))?;
        store.set_identity(Role::Organiser, Some("Mallory"), None)?;
        let id = store.identity();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(300))
            .build()?;
        let joined: JoinResponse = http
            .post(format!("{url}/v1/join"))
            .json(&JoinRequest {
                v: PROTOCOL_VERSION,
                invite: invite.to_owned(),
                display_name: "Mallory".into(),
                member: id.member.to_string(),
                actors: vec![id.actor.clone()],
                join_secret: None,
            })
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let actor = (0..id.actor.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&id.actor[i..i + 2], 16))
            .collect::<Result<_, _>>()?;
        Ok(Attacker {
            http,
            url: url.to_owned(),
            token: joined.token,
            actor,
            store,
        })
    }

    /// Pushes `changes`; the codes of the refused ones, in order (`""` for accepted ones).
    pub async fn push(&self, changes: Vec<PushChange>) -> TestResult<Vec<(String, String)>> {
        let n = changes.len();
        let resp = self
            .http
            .post(format!("{}/v1/sync", self.url))
            .header(reqwest::header::CONTENT_TYPE, CBOR)
            .bearer_auth(&self.token)
            .body(wire::to_cbor(&SyncRequest {
                v: PROTOCOL_VERSION,
                cursor: 0,
                push: changes,
                max: Some(1),
            })?)
            .send()
            .await?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("sync answered {status}: {}", resp.text().await?).into());
        }
        let answer: SyncResponse = wire::from_cbor(&resp.bytes().await?)?;
        let mut out = vec![(String::new(), String::new()); n];
        for r in answer.rejected {
            out[r.i as usize] = (r.code, r.reason);
        }
        Ok(out)
    }

    /// The store's changes after outbox position `after`, and the new position.
    pub fn changes_after(&self, after: i64) -> TestResult<(Vec<PushChange>, i64)> {
        let all = self.store.pending_changes(100_000)?;
        let last = all.last().map_or(after, |c| c.seq);
        let changes = all
            .into_iter()
            .filter(|c| c.seq > after)
            .map(|c| PushChange {
                doc: wire::doc_bytes(&c.entity),
                change: c.bytes,
            })
            .collect();
        Ok((changes, last))
    }

    /// One round of op bombs for the (never created) document `doc`: a change declaring
    /// 1 000 000 puts, one declaring 6 000 000 (what aborted the relay before it bounded
    /// declared work), a delete declaring 1 000 000 predecessors (all three refused from their
    /// metadata), and one of 99 999 puts, under every bound, that is expanded and validated
    /// before it is refused. Returns the codes the relay answered.
    pub async fn bombs(&self, doc: [u8; 16]) -> TestResult<Vec<String>> {
        let bombs = [
            Forge::puts(&self.actor, 1_000_000),
            Forge::puts(&self.actor, 6_000_000),
            Forge::many_preds(&self.actor, 1_000_000),
            Forge::puts(&self.actor, 99_999),
        ];
        let answer = self
            .push(
                bombs
                    .iter()
                    .map(|b| PushChange {
                        doc: doc.to_vec(),
                        change: b.chunk(),
                    })
                    .collect(),
            )
            .await?;
        Ok(answer.into_iter().map(|(code, _)| code).collect())
    }

    /// Grows one new help request by comments of ~5 000 characters, each pushed on its own,
    /// until the relay refuses one; returns how many were accepted and the refusal's code and
    /// reason. At most `limit` comments; stops early (code `""`) once `stop` is set.
    pub async fn grow(&self, limit: u64, stop: &AtomicBool) -> TestResult<(u64, String, String)> {
        let request = self
            .store
            .create_help(&NewHelp::ask("company", "Een lang gesprek"))?;
        let (created, mut at) = self.changes_after(0)?;
        if let Some((code, reason)) = self
            .push(created)
            .await?
            .pop()
            .filter(|(c, _)| !c.is_empty())
        {
            return Err(format!("the request was refused: {code} ({reason})").into());
        }
        let body = "koffie ".repeat(5_000 / 7);
        for accepted in 0..limit {
            if stop.load(Ordering::Relaxed) {
                return Ok((accepted, String::new(), String::new()));
            }
            self.store.add_comment(&request, &body)?;
            let (change, next) = self.changes_after(at)?;
            at = next;
            if let Some((code, reason)) = self
                .push(change)
                .await?
                .pop()
                .filter(|(c, _)| !c.is_empty())
            {
                return Ok((accepted, code, reason));
            }
        }
        Ok((limit, String::new(), String::new()))
    }
}
