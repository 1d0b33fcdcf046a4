//! `POST /v1/sync` (push and pull in one round trip) and `POST /v1/missing` (repair).

use std::collections::HashSet;

use automerge::{AutoCommit, ChangeHash};
use axum::extract::State;
use noaber_core::sync::wire::{
    MAX_BODY_BYTES, MAX_PULL, MAX_PUSH, PROTOCOL_VERSION, PullChange, SyncRequest, SyncResponse,
};
use serde_bytes::ByteBuf;

use super::error::ApiError;
use super::extract::{Authed, Cbor, CborBody};
use crate::ids::hex;
use crate::ingest;
use crate::relay::Relay;
use crate::repair::{MAX_HEADS, MissingRequest, MissingResponse};
use crate::storage::{DeviceAuth, Puller};

/// `POST /v1/sync`: validate and durably commit the pushed changes, then answer with the
/// rejections and a page of the buurt's log after `cursor`.
pub(crate) async fn sync(
    State(relay): State<Relay>,
    Authed { device, .. }: Authed,
    CborBody(req): CborBody<SyncRequest>,
) -> Result<Cbor<SyncResponse>, ApiError> {
    if req.v != PROTOCOL_VERSION {
        return Err(ApiError::UnsupportedVersion(req.v));
    }
    if req.push.len() > MAX_PUSH {
        return Err(ApiError::PayloadTooLarge(format!(
            "`push` holds {} changes, at most {MAX_PUSH}",
            req.push.len()
        )));
    }
    let buurt = device.buurt.clone();
    let role = device.role;
    let head = relay
        .blocking(move |r| Ok(r.inner.storage.head(&buurt)?))
        .await?;
    if req.cursor > head {
        return Err(ApiError::BadRequest(format!(
            "`cursor` {} is beyond the log's head {head}; the device's log belongs to another relay or was reset",
            req.cursor
        )));
    }
    let rejected = if req.push.is_empty() {
        Vec::new()
    } else {
        ingest::push(&relay, &device, req.push).await?
    };
    let limit = req.max.map_or(MAX_PULL, |m| {
        usize::try_from(m).unwrap_or(MAX_PULL).min(MAX_PULL)
    });
    let cursor = req.cursor;
    let page = relay
        .blocking(move |r| {
            Ok(r.inner
                .storage
                .pull(&device.buurt, cursor, limit, &Puller::of(&device))?)
        })
        .await?;
    Ok(Cbor(SyncResponse {
        v: PROTOCOL_VERSION,
        rejected,
        pull: page
            .changes
            .into_iter()
            .map(|c| PullChange {
                seq: c.seq,
                doc: c.doc.to_vec(),
                change: c.bytes,
            })
            .collect(),
        cursor: page.cursor,
        more: page.more,
        head: Some(head.max(page.cursor)),
        role: Some(role.as_str().to_owned()),
    }))
}

/// `POST /v1/missing`: every stored change of a document that is not an ancestor of the
/// device's heads (see [`crate::repair`]).
pub(crate) async fn missing(
    State(relay): State<Relay>,
    Authed { device, .. }: Authed,
    CborBody(req): CborBody<MissingRequest>,
) -> Result<Cbor<MissingResponse>, ApiError> {
    if req.v != PROTOCOL_VERSION {
        return Err(ApiError::UnsupportedVersion(req.v));
    }
    let doc = <[u8; 16]>::try_from(req.doc.as_slice()).map_err(|_| {
        ApiError::BadRequest(format!(
            "invalid `doc`: {} bytes, 16 expected",
            req.doc.len()
        ))
    })?;
    if req.heads.len() > MAX_HEADS {
        return Err(ApiError::BadRequest(format!(
            "invalid `heads`: {} hashes, at most {MAX_HEADS}",
            req.heads.len()
        )));
    }
    let heads = req
        .heads
        .iter()
        .enumerate()
        .map(|(i, h)| {
            ChangeHash::try_from(h.as_slice()).map_err(|_| {
                ApiError::BadRequest(format!("invalid `heads[{i}]`: 32 bytes expected"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let not_found = || ApiError::NotFound(format!("no document `{}` in this buurt", hex(&doc)));
    let buurt = device.buurt.clone();
    // The relay's copy of the document comes from the validation cache (loaded once, not per
    // call), in the buurt's turn and with a heavy-task permit: parallel calls on a large
    // document queue behind each other instead of each rebuilding it.
    let answer = relay
        .heavy(&buurt, move |r| {
            let rows = r.inner.storage.doc_changes(&device.buurt, &doc)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let Some(mut state) = ingest::checkout(r, &device.buurt, &doc, Some(rows.clone()))?
            else {
                return Ok(None);
            };
            // A cached copy that lacks a committed change (another relay on the same database
            // wrote it) is rebuilt from the log: the answer is computed from what is committed.
            if rows
                .iter()
                .any(|(h, _)| state.get_change_meta_by_hash(&ChangeHash(*h)).is_none())
            {
                drop(state);
                let Some(fresh) = ingest::checkout(r, &device.buurt, &doc, Some(rows.clone()))?
                else {
                    return Ok(None);
                };
                state = fresh;
            }
            let answer = answer_missing(&mut state, &device, &heads, rows);
            r.docs(&device.buurt).put(doc, state);
            Ok(answer)
        })
        .await?
        .ok_or_else(not_found)?;
    let (changes, more) = answer;
    Ok(Cbor(MissingResponse {
        v: PROTOCOL_VERSION,
        changes,
        more,
    }))
}

/// The answer to `/v1/missing` from the relay's copy of the document and its stored `rows`:
/// `None` when the member does not read it; else the changes that are not ancestors of the
/// known `heads` (unknown heads are ignored), in log order, at most [`MAX_PULL`] of them and
/// about [`MAX_BODY_BYTES`] (always at least one), and whether more are left.
fn answer_missing(
    state: &mut AutoCommit,
    device: &DeviceAuth,
    heads: &[ChangeHash],
    rows: Vec<([u8; 32], Vec<u8>)>,
) -> Option<(Vec<ByteBuf>, bool)> {
    // A restricted document the member does not read is answered like an unknown one: its
    // existence is not for them to learn.
    if !noaber_core::audience::readers(&*state).may_read(&device.member, device.role) {
        return None;
    }
    let have: Vec<ChangeHash> = heads
        .iter()
        .filter(|h| state.get_change_meta_by_hash(h).is_some())
        .copied()
        .collect();
    let wanted: HashSet<ChangeHash> = state
        .get_changes_meta(&have)
        .into_iter()
        .map(|m| m.hash)
        .collect();
    let mut changes = Vec::new();
    let mut bytes = 0usize;
    let mut more = false;
    for (hash, change) in rows {
        if !wanted.contains(&ChangeHash(hash)) {
            continue;
        }
        let full = changes.len() >= MAX_PULL
            || (!changes.is_empty() && bytes.saturating_add(change.len()) > MAX_BODY_BYTES);
        if full {
            more = true;
            break;
        }
        bytes = bytes.saturating_add(change.len());
        changes.push(ByteBuf::from(change));
    }
    Some((changes, more))
}
