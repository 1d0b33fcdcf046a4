//! `POST /v1/sync` (push and pull in one round trip) and `POST /v1/missing` (repair).

use std::collections::HashSet;

use automerge::ChangeHash;
use axum::extract::State;
use noaber_core::sync::wire::{
    MAX_PULL, MAX_PUSH, PROTOCOL_VERSION, PullChange, SyncRequest, SyncResponse,
};
use serde_bytes::ByteBuf;

use super::error::ApiError;
use super::extract::{Authed, Cbor, CborBody};
use crate::ids::hex;
use crate::ingest;
use crate::relay::Relay;
use crate::repair::{MAX_HEADS, MissingRequest, MissingResponse};
use crate::storage::Puller;

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
    let changes = relay
        .blocking(move |r| {
            let storage = r.inner.storage.as_ref();
            let rows = storage.doc_changes(&device.buurt, &doc)?;
            if rows.is_empty() {
                return Ok(None);
            }
            let doc_state = ingest::build_doc(rows.iter().map(|(_, b)| b.clone()).collect())
                .map_err(|e| {
                    crate::Error::Other(format!("document `{}` does not load: {e}", hex(&doc)))
                })?;
            let mut doc_state = doc_state;
            // A restricted document the member does not read is answered like an unknown one:
            // its existence is not for them to learn.
            if !noaber_core::audience::readers(&doc_state).may_read(&device.member, device.role) {
                return Ok(None);
            }
            let known = heads
                .iter()
                .all(|h| doc_state.get_change_meta_by_hash(h).is_some());
            let have: &[ChangeHash] = if known { &heads } else { &[] };
            let wanted: HashSet<ChangeHash> = doc_state
                .get_changes_meta(have)
                .into_iter()
                .map(|m| m.hash)
                .collect();
            Ok(Some(
                rows.into_iter()
                    .filter(|(h, _)| wanted.contains(&ChangeHash(*h)))
                    .map(|(_, b)| ByteBuf::from(b))
                    .collect::<Vec<_>>(),
            ))
        })
        .await?
        .ok_or_else(not_found)?;
    Ok(Cbor(MissingResponse {
        v: PROTOCOL_VERSION,
        changes,
    }))
}
