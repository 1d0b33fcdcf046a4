//! Test fixtures shared by the conformance suite, the backends' own tests and the unit tests of
//! the decisions (`plan.rs`): buurten, invites, tickets, changes, batches and pullers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use automerge::ActorId;
use noaber_core::{Audience, MemberId, Role};

use super::{AppendBatch, JoinTicket, Joined, NewChange, NewInvite, Puller, Storage};
use crate::ids::{BuurtId, DeviceId, sha256};

/// What a fixture returns: any error fails the test.
pub(crate) type Fixture<T> = Result<T, Box<dyn std::error::Error>>;

/// "Now" in every fixture (ms).
pub(crate) const NOW: i64 = 1_800_000_000_000;

/// A new buurt named `name`.
pub(crate) fn buurt(s: &dyn Storage, name: &str) -> Fixture<BuurtId> {
    let id = BuurtId::new()?;
    s.create_buurt(&id, name, NOW)?;
    Ok(id)
}

/// Stores an invite with the code `code` to `b`, expiring at `NOW + 1000`; returns its hash.
pub(crate) fn invite(
    s: &dyn Storage,
    b: &BuurtId,
    code: &str,
    role: Role,
    uses: u32,
    member: Option<&MemberId>,
) -> Fixture<[u8; 32]> {
    let hash = sha256(code.as_bytes());
    s.create_invite(&NewInvite {
        hash,
        buurt: b.clone(),
        role,
        member: member.cloned(),
        created_at: NOW,
        expires_at: NOW + 1_000,
        max_uses: uses,
    })?;
    Ok(hash)
}

/// An invite to `b` for residents with a code of its own.
pub(crate) fn any_invite(s: &dyn Storage, b: &BuurtId, uses: u32) -> Fixture<[u8; 32]> {
    invite(s, b, DeviceId::new()?.as_str(), Role::Resident, uses, None)
}

/// A device that joined, and its token's hash.
pub(crate) struct Enrolled {
    /// What the join answered.
    pub joined: Joined,
    /// The hash of its token.
    pub token: [u8; 32],
}

/// A first (not retryable) join through `invite` of a new device with a new token, at `NOW`.
pub(crate) fn ticket(invite: [u8; 32], member: &MemberId, actors: &[ActorId]) -> JoinTicket {
    JoinTicket {
        invite_hash: invite,
        member: member.clone(),
        display_name: "Ans".into(),
        device: DeviceId::new().unwrap(),
        token_hash: sha256(DeviceId::new().unwrap().as_str().as_bytes()),
        actors: actors.to_vec(),
        retryable: false,
        now: NOW,
    }
}

/// Joins with [`ticket`]; a refusal is an error.
pub(crate) fn enrol(
    s: &dyn Storage,
    invite: [u8; 32],
    member: &MemberId,
    actors: &[ActorId],
) -> Fixture<Enrolled> {
    let t = ticket(invite, member, actors);
    let joined = s.join(&t)?.map_err(|r| format!("join refused: {r:?}"))?;
    Ok(Enrolled {
        joined,
        token: t.token_hash,
    })
}

/// A member of a fresh buurt with one device and one actor.
pub(crate) fn setup(s: &dyn Storage) -> Fixture<(BuurtId, Enrolled)> {
    let b = buurt(s, "Schildersbuurt")?;
    let inv = any_invite(s, &b, 10)?;
    let e = enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?;
    Ok((b, e))
}

/// A change of the buurt document `[doc; 16]` with the hash `[n; 32]`.
pub(crate) fn change(doc: u8, n: u8) -> NewChange {
    NewChange {
        doc: [doc; 16],
        hash: [n; 32],
        bytes: vec![doc, n],
        audience: Audience::Buurt,
        grants: Vec::new(),
        photos: Vec::new(),
    }
}

/// A change of a restricted document, making `grants` its readers.
pub(crate) fn restricted(doc: u8, n: u8, audience: Audience, grants: &[&MemberId]) -> NewChange {
    NewChange {
        audience,
        grants: grants.iter().map(|m| (*m).clone()).collect(),
        ..change(doc, n)
    }
}

/// A pulling device of some resident (who reads only buurt documents).
pub(crate) fn resident(device: &DeviceId) -> Fixture<Puller> {
    Ok(Puller {
        device: device.clone(),
        member: MemberId::new()?,
        coordinator: false,
    })
}

/// Someone who reads every buurt document, on a device that pushed nothing.
pub(crate) fn anyone() -> Puller {
    resident(&DeviceId::new().unwrap()).unwrap()
}

/// The changes of one request of device `d` to buurt `b`, received at `NOW`.
pub(crate) fn batch(b: &BuurtId, d: &DeviceId, changes: Vec<NewChange>) -> AppendBatch {
    AppendBatch {
        buurt: b.clone(),
        device: d.clone(),
        changes,
        received_at: NOW,
    }
}
