//! The storage's decisions, written down once for every backend.
//!
//! Each backend ([`super::SqliteStorage`], [`super::PostgresStorage`]) reads the facts a
//! decision needs with its own SQL, inside the transaction that also writes, hands them to a
//! pure function here, and applies the answer: it keeps only the I/O (queries, locks,
//! retries). The rules, as the functions below keep them:
//!
//! # Joining: [`check_join`]
//!
//! In this order; the first rule that applies decides, and a refusal writes nothing.
//!
//! 1. No invite has the ticket's code: [`JoinRefusal::UnknownInvite`].
//! 2. A [retryable](JoinTicket::retryable) ticket whose token hash a device already has is a
//!    retry. It is *this* join done before when that device is in the invite's buurt, is not
//!    revoked, acts for the ticket's member, came through the ticket's invite and has exactly
//!    the ticket's actor ids (in any order): the answer is that device again
//!    ([`JoinPlan::Retry`]; nothing written, the invite not used again, even if it has
//!    expired or is used up since). Anything else is [`JoinRefusal::SecretTaken`].
//! 3. The invite expires at or before `now` (`expires_at <= now`): [`JoinRefusal::Expired`].
//! 4. The invite has been used `max_uses` times (or more): [`JoinRefusal::UsedUp`].
//! 5. The invite is bound to a member other than the ticket's: [`JoinRefusal::MemberTaken`].
//! 6. The member id is registered in another buurt: [`JoinRefusal::MemberTaken`] (ids are per
//!    buurt, so nobody squats an id in a buurt its owner has not joined yet).
//! 7. A member id the buurt knows needs an invite bound to it (a second device); otherwise
//!    [`JoinRefusal::MemberTaken`]. A known member keeps their stored role; a new one gets the
//!    invite's.
//! 8. An actor id registered in another buurt, or in this buurt to a device of another member
//!    or to one that is not revoked: [`JoinRefusal::ActorTaken`] (a re-enrolled phone takes
//!    over its revoked device's actor).
//! 9. Otherwise the device is enrolled ([`JoinPlan::Enrol`]): the member (if new), the device
//!    with the invite it came through, its actor ids, and one more use of the invite.
//!
//! # Appending: [`plan_append`]
//!
//! Batches in order, each batch's changes in order; per change:
//!
//! 1. A document stored for another buurt — or first stored by an earlier change of this same
//!    call for another buurt — gives [`Appended::WrongBuurt`].
//! 2. A hash already in the buurt's log, or stored earlier in this call for the same buurt,
//!    gives [`Appended::Duplicate`] (the same hash in another buurt's log is no duplicate).
//! 3. Otherwise the change is stored at its buurt's next sequence number (head + 1; the
//!    sequence is contiguous from 1 and never overflows silently). A new document becomes the
//!    buurt's with this change's audience; a known one keeps the audience of its first change.
//!    The change's grants become readers of the document (the first grant of a member counts;
//!    a duplicate or misplaced change grants nothing), and its photo references are recorded
//!    with it.
//!
//! Each batch's outcome carries its buurt's head once the whole call is applied.
//!
//! # Pulling: [`page_fetch`], [`assemble_page`]
//!
//! A pull reads at most `limit + 1` qualifying changes after the cursor. When more than
//! `limit` qualify, the page is the first `limit`, its cursor the last returned change's seq
//! (the cursor itself for a page of zero) and `more` is true. Otherwise the page is all of
//! them, the cursor the buurt's head (never behind the cursor asked for) and `more` is false.
//!
//! # Uploads: [`quota_allows`]
//!
//! An upload starts when the device's counted bytes plus the photo's declared length are at
//! most its quota (the sum saturating); otherwise it is refused with the bytes counted.

use std::collections::{HashMap, HashSet};

use noaber_core::MemberId;

use super::decode::{buurt_id, device_id, role, to_i64};
use super::{
    AppendBatch, Appended, BatchOutcome, JoinRefusal, JoinTicket, Joined, LogPage, LoggedChange,
    NewChange, StorageError, StorageResult, audience_code,
};

/// An invite as stored, with the buurt it admits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredInvite {
    /// The buurt's internal key.
    pub buurt: i64,
    /// The buurt's id, as stored.
    pub buurt_id: String,
    /// The buurt's name.
    pub buurt_name: String,
    /// The role it gives a new member, as stored.
    pub role: String,
    /// The member it is bound to, if any.
    pub member: Option<String>,
    /// It is refused from this moment on (ms).
    pub expires_at: i64,
    /// How many joins it admits.
    pub max_uses: i64,
    /// How many joins it admitted so far.
    pub uses: i64,
}

/// The device that already has a retryable ticket's token hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnrolledDevice {
    /// Its id, as stored.
    pub id: String,
    /// Its buurt's internal key.
    pub buurt: i64,
    /// The member it acts for.
    pub member: String,
    /// Whether it was revoked.
    pub revoked: bool,
    /// The hash of the invite it came through (none for a device of an older relay).
    pub invite: Option<Vec<u8>>,
    /// Its member's stored role.
    pub role: String,
    /// The actor ids registered to it, any order.
    pub actors: Vec<Vec<u8>>,
}

/// The device holding one of the ticket's actor ids in the invite's buurt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ActorHolder {
    /// The member that device acts for.
    pub member: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// What [`check_join`] decides on, read by a backend in the transaction that serialises joins,
/// once the invite is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JoinFacts {
    /// The invite presented.
    pub invite: StoredInvite,
    /// For a retryable ticket, the device that already has its token hash (read only then).
    pub enrolled: Option<EnrolledDevice>,
    /// Whether the ticket's member id is registered in another buurt.
    pub member_elsewhere: bool,
    /// The ticket's member's stored role in the invite's buurt, if the buurt knows them.
    pub member_role: Option<String>,
    /// Whether any of the ticket's actor ids is registered in another buurt.
    pub actors_elsewhere: bool,
    /// The devices holding the ticket's actor ids in the invite's buurt.
    pub actor_holders: Vec<ActorHolder>,
}

/// What a join that is not refused does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinPlan {
    /// The ticket's join was done before: answer this again and write nothing.
    Retry(Joined),
    /// Enrol the ticket's device as this says, then answer its `joined`.
    Enrol(Enrolment),
}

/// What enrolling a device writes, besides the ticket itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Enrolment {
    /// The internal key of the buurt joined.
    pub buurt: i64,
    /// Whether the member is new to the buurt (then registered with `joined.role`).
    pub new_member: bool,
    /// The answer once written.
    pub joined: Joined,
}

/// Decides a join by the rules in the module docs. `facts` is `None` when no invite has the
/// ticket's code.
///
/// # Errors
///
/// [`StorageError::Corrupt`] for a stored id or role that does not decode, read only where the
/// answer needs it.
pub(crate) fn check_join(
    t: &JoinTicket,
    facts: Option<&JoinFacts>,
) -> StorageResult<Result<JoinPlan, JoinRefusal>> {
    let Some(f) = facts else {
        return Ok(Err(JoinRefusal::UnknownInvite));
    };
    let invite = &f.invite;
    if t.retryable {
        if let Some(d) = &f.enrolled {
            let same = d.buurt == invite.buurt
                && !d.revoked
                && d.member == t.member.as_str()
                && d.invite.as_deref() == Some(t.invite_hash.as_slice())
                && same_actors(&d.actors, &t.actors);
            if !same {
                return Ok(Err(JoinRefusal::SecretTaken));
            }
            return Ok(Ok(JoinPlan::Retry(Joined {
                buurt: buurt_id(invite.buurt_id.clone())?,
                buurt_name: invite.buurt_name.clone(),
                member: t.member.clone(),
                role: role(&d.role)?,
                device: device_id(d.id.clone())?,
                retry: true,
            })));
        }
    }
    if invite.expires_at <= t.now {
        return Ok(Err(JoinRefusal::Expired));
    }
    if invite.uses >= invite.max_uses {
        return Ok(Err(JoinRefusal::UsedUp));
    }
    if invite
        .member
        .as_deref()
        .is_some_and(|m| m != t.member.as_str())
    {
        return Ok(Err(JoinRefusal::MemberTaken));
    }
    if f.member_elsewhere {
        return Ok(Err(JoinRefusal::MemberTaken));
    }
    let member_role = match &f.member_role {
        Some(_) if invite.member.is_none() => return Ok(Err(JoinRefusal::MemberTaken)),
        Some(stored) => role(stored)?,
        None => role(&invite.role)?,
    };
    let taken = f.actors_elsewhere
        || f.actor_holders
            .iter()
            .any(|h| h.member != t.member.as_str() || !h.revoked);
    if taken {
        return Ok(Err(JoinRefusal::ActorTaken));
    }
    Ok(Ok(JoinPlan::Enrol(Enrolment {
        buurt: invite.buurt,
        new_member: f.member_role.is_none(),
        joined: Joined {
            buurt: buurt_id(invite.buurt_id.clone())?,
            buurt_name: invite.buurt_name.clone(),
            member: t.member.clone(),
            role: member_role,
            device: t.device.clone(),
            retry: false,
        },
    })))
}

/// Whether the actor ids a device registered (`registered`, any order) are exactly `wanted`
/// (any order, repeats counted once): how a retried join is recognised as the same join.
pub(crate) fn same_actors(registered: &[Vec<u8>], wanted: &[automerge::ActorId]) -> bool {
    let mut registered: Vec<&[u8]> = registered.iter().map(Vec::as_slice).collect();
    registered.sort_unstable();
    let mut wanted: Vec<&[u8]> = wanted.iter().map(automerge::ActorId::to_bytes).collect();
    wanted.sort_unstable();
    wanted.dedup();
    registered == wanted
}

/// What one append call writes, decided by [`plan_append`] before any write.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct AppendPlan {
    /// Per batch, per change.
    pub appended: Vec<Vec<Appended>>,
    /// Per batch, its buurt's internal key.
    pub buurten: Vec<i64>,
    /// Documents first stored by this call: `(id, buurt key, audience code)`.
    pub new_docs: Vec<([u8; 16], i64, i64)>,
    /// The log rows, in sequence order per buurt.
    pub rows: Vec<LogRow>,
    /// Readers granted by stored changes: `(doc, member, buurt key, seq)`, first grant only.
    pub grants: Vec<([u8; 16], MemberId, i64, i64)>,
    /// The heads after the call, by buurt key (every buurt the call names).
    pub heads: HashMap<i64, u64>,
}

/// One log row of an [`AppendPlan`]; the change itself is `batches[batch].changes[change]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogRow {
    /// The buurt's internal key.
    pub buurt: i64,
    /// Its sequence number.
    pub seq: i64,
    /// The document's audience code (its first change's).
    pub audience: i64,
    /// Which batch.
    pub batch: usize,
    /// Which change of the batch.
    pub change: usize,
}

impl LogRow {
    /// The batch and change this row stores.
    ///
    /// # Errors
    ///
    /// [`StorageError::Backend`] when the row is not from `batches` (a bug).
    pub(crate) fn of<'a>(
        &self,
        batches: &'a [AppendBatch],
    ) -> StorageResult<(&'a AppendBatch, &'a NewChange)> {
        batches
            .get(self.batch)
            .and_then(|batch| Some((batch, batch.changes.get(self.change)?)))
            .ok_or_else(|| StorageError::Backend("append plan out of range (a bug)".into()))
    }
}

impl AppendPlan {
    /// What the call answers: per batch, its outcomes and its buurt's head after the call.
    pub(crate) fn outcomes(self) -> Vec<BatchOutcome> {
        let heads = self.heads;
        self.appended
            .into_iter()
            .zip(&self.buurten)
            .map(|(appended, n)| BatchOutcome {
                appended,
                head: heads.get(n).copied().unwrap_or(0),
            })
            .collect()
    }
}

/// Decides every change of an append call by the rules in the module docs. `buurten` holds
/// each batch's buurt key (the backend found the buurt and the device); `owners` the stored
/// documents among the call's as `(buurt key, audience code)`; `logged` the `(buurt key, hash)`
/// pairs of the call already in the logs; `heads` every named buurt's head.
///
/// # Errors
///
/// [`StorageError::Backend`] when a sequence number would overflow.
pub(crate) fn plan_append(
    batches: &[AppendBatch],
    buurten: &[i64],
    mut owners: HashMap<[u8; 16], (i64, i64)>,
    logged: &HashSet<(i64, [u8; 32])>,
    mut heads: HashMap<i64, u64>,
) -> StorageResult<AppendPlan> {
    let mut out = AppendPlan::default();
    let mut stored: HashSet<(i64, [u8; 32])> = HashSet::new();
    let mut granted: HashSet<([u8; 16], &str)> = HashSet::new();
    for (b, (batch, &n)) in batches.iter().zip(buurten).enumerate() {
        let mut head = heads.get(&n).copied().unwrap_or(0);
        let mut appended = Vec::with_capacity(batch.changes.len());
        for (i, c) in batch.changes.iter().enumerate() {
            let owner = owners.get(&c.doc).copied();
            if owner.is_some_and(|(o, _)| o != n) {
                appended.push(Appended::WrongBuurt);
                continue;
            }
            if logged.contains(&(n, c.hash)) || stored.contains(&(n, c.hash)) {
                appended.push(Appended::Duplicate);
                continue;
            }
            let audience = match owner {
                Some((_, audience)) => audience,
                None => {
                    let audience = audience_code(c.audience);
                    owners.insert(c.doc, (n, audience));
                    out.new_docs.push((c.doc, n, audience));
                    audience
                }
            };
            head = head
                .checked_add(1)
                .ok_or_else(|| StorageError::Backend("log sequence overflow".into()))?;
            let seq = to_i64(head, "seq")?;
            stored.insert((n, c.hash));
            out.rows.push(LogRow {
                buurt: n,
                seq,
                audience,
                batch: b,
                change: i,
            });
            for m in &c.grants {
                if granted.insert((c.doc, m.as_str())) {
                    out.grants.push((c.doc, m.clone(), n, seq));
                }
            }
            appended.push(Appended::Stored(head));
        }
        heads.insert(n, head);
        out.appended.push(appended);
        out.buurten.push(n);
    }
    out.heads = heads;
    Ok(out)
}

/// How many rows a pull of `limit` reads: one more than it returns, which tells whether more
/// remain (saturating at the backends' largest `LIMIT`).
pub(crate) fn page_fetch(limit: usize) -> i64 {
    i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX)
}

/// The page a pull answers from the qualifying changes it read (`changes`: in seq order, after
/// `after`, at most [`page_fetch`]`(limit)` of them) and the buurt's `head` in the same
/// snapshot, by the rules in the module docs.
pub(crate) fn assemble_page(
    mut changes: Vec<LoggedChange>,
    after: u64,
    limit: usize,
    head: u64,
) -> LogPage {
    if changes.len() > limit {
        changes.truncate(limit);
        let cursor = changes.last().map_or(after, |c| c.seq);
        LogPage {
            changes,
            cursor,
            more: true,
        }
    } else {
        LogPage {
            changes,
            cursor: head.max(after),
            more: false,
        }
    }
}

/// Whether an upload of `length` bytes fits a `quota` of which `used` bytes are counted:
/// `Err(used)` when it does not. The sum saturates, so a quota of `u64::MAX` refuses nothing.
pub(crate) fn quota_allows(used: u64, length: u64, quota: u64) -> Result<(), u64> {
    if used.saturating_add(length) > quota {
        Err(used)
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use automerge::ActorId;
    use noaber_core::{Audience, MemberId, Role};

    use super::super::fixtures::{NOW, batch, change, restricted, ticket};
    use super::*;
    use crate::ids::{BuurtId, DeviceId};

    /// The invite's hash and its buurt's key in every join case.
    const INVITE: [u8; 32] = [7; 32];
    const BUURT: i64 = 1;

    /// A first join of a new member with two actors through an open invite for organisers with
    /// one use left, expiring 1 ms after `NOW`; nothing else registered anywhere.
    fn join_case() -> (JoinTicket, JoinFacts) {
        let actors = [ActorId::from(vec![1u8; 16]), ActorId::from(vec![2u8; 16])];
        let t = ticket(INVITE, &MemberId::new().unwrap(), &actors);
        let facts = JoinFacts {
            invite: StoredInvite {
                buurt: BUURT,
                buurt_id: BuurtId::new().unwrap().to_string(),
                buurt_name: "Alpha".into(),
                role: Role::Organiser.as_str().into(),
                member: None,
                expires_at: NOW + 1,
                max_uses: 1,
                uses: 0,
            },
            enrolled: None,
            member_elsewhere: false,
            member_role: None,
            actors_elsewhere: false,
            actor_holders: Vec::new(),
        };
        (t, facts)
    }

    /// The device an earlier attempt of `t` enrolled (its member now a caretaker; actors in
    /// another order).
    fn enrolled(t: &JoinTicket) -> EnrolledDevice {
        EnrolledDevice {
            id: DeviceId::new().unwrap().to_string(),
            buurt: BUURT,
            member: t.member.as_str().to_owned(),
            revoked: false,
            invite: Some(t.invite_hash.to_vec()),
            role: Role::Caretaker.as_str().into(),
            actors: t
                .actors
                .iter()
                .rev()
                .map(|a| a.to_bytes().to_vec())
                .collect(),
        }
    }

    fn someone_else() -> String {
        MemberId::new().unwrap().as_str().to_owned()
    }

    /// A device of `member` holding one of the ticket's actor ids.
    fn holder(member: impl Into<String>, revoked: bool) -> ActorHolder {
        ActorHolder {
            member: member.into(),
            revoked,
        }
    }

    /// What a join case came to.
    #[derive(Debug, PartialEq, Eq)]
    enum Want {
        Refused(JoinRefusal),
        Enrol { new_member: bool, role: Role },
        Retry,
    }
    use Want::{Enrol, Refused, Retry};

    fn decide(t: &JoinTicket, f: &JoinFacts) -> Want {
        match check_join(t, Some(f)).unwrap() {
            Err(why) => Refused(why),
            Ok(JoinPlan::Retry(joined)) => {
                assert!(joined.retry);
                assert_eq!(joined.member, t.member);
                Retry
            }
            Ok(JoinPlan::Enrol(Enrolment {
                buurt,
                new_member,
                joined,
            })) => {
                assert_eq!(buurt, BUURT);
                assert_eq!(joined.device, t.device);
                assert_eq!(joined.member, t.member);
                assert_eq!(joined.buurt.as_str(), f.invite.buurt_id);
                assert_eq!(joined.buurt_name, "Alpha");
                assert!(!joined.retry);
                Enrol {
                    new_member,
                    role: joined.role,
                }
            }
        }
    }

    const NEW_ORGANISER: Want = Enrol {
        new_member: true,
        role: Role::Organiser,
    };
    const KNOWN_STAFF: Want = Enrol {
        new_member: false,
        role: Role::Staff,
    };

    /// A known member (stored as staff) with an invite bound to them: their second device.
    fn second_device(t: &mut JoinTicket, f: &mut JoinFacts) {
        f.member_role = Some(Role::Staff.as_str().into());
        f.invite.member = Some(t.member.as_str().to_owned());
    }

    /// Every rule of `check_join`, alone and where two meet (the earlier rule decides).
    #[test]
    fn join_rules_each_branch() {
        type Edit = fn(&mut JoinTicket, &mut JoinFacts);
        let cases: &[(&str, Edit, Want)] = &[
            ("a new member, open invite", |_, _| {}, NEW_ORGANISER),
            (
                "expiring at exactly now",
                |t, f| t.now = f.invite.expires_at,
                Refused(JoinRefusal::Expired),
            ),
            (
                "expired before now",
                |t, f| t.now = f.invite.expires_at + 1,
                Refused(JoinRefusal::Expired),
            ),
            (
                "expiring 1 ms after now",
                |t, f| t.now = f.invite.expires_at - 1,
                NEW_ORGANISER,
            ),
            (
                "expired long ago (garbage time)",
                |t, f| {
                    t.now = i64::MAX;
                    f.invite.expires_at = i64::MIN;
                },
                Refused(JoinRefusal::Expired),
            ),
            (
                "used up",
                |_, f| f.invite.uses = 1,
                Refused(JoinRefusal::UsedUp),
            ),
            (
                "used more often than allowed (garbage)",
                |_, f| f.invite.uses = 5,
                Refused(JoinRefusal::UsedUp),
            ),
            (
                "allowing no use at all",
                |_, f| f.invite.max_uses = 0,
                Refused(JoinRefusal::UsedUp),
            ),
            (
                "one use left of many",
                |_, f| {
                    f.invite.max_uses = 10;
                    f.invite.uses = 9;
                },
                NEW_ORGANISER,
            ),
            (
                "expired and used up: expiry first",
                |t, f| {
                    t.now = f.invite.expires_at;
                    f.invite.uses = 1;
                },
                Refused(JoinRefusal::Expired),
            ),
            (
                "used up and bound to another: used up first",
                |_, f| {
                    f.invite.uses = 1;
                    f.invite.member = Some(someone_else());
                },
                Refused(JoinRefusal::UsedUp),
            ),
            (
                "bound to another member",
                |_, f| f.invite.member = Some(someone_else()),
                Refused(JoinRefusal::MemberTaken),
            ),
            (
                "bound to the ticket's member, new to the buurt: the invite's role",
                |t, f| f.invite.member = Some(t.member.as_str().to_owned()),
                NEW_ORGANISER,
            ),
            (
                "bound to the ticket's member, known: the stored role",
                second_device,
                KNOWN_STAFF,
            ),
            (
                "known member, open invite",
                |_, f| f.member_role = Some(Role::Staff.as_str().into()),
                Refused(JoinRefusal::MemberTaken),
            ),
            (
                "member registered in another buurt",
                |_, f| f.member_elsewhere = true,
                Refused(JoinRefusal::MemberTaken),
            ),
            (
                "member elsewhere, invite bound to them",
                |t, f| {
                    f.member_elsewhere = true;
                    f.invite.member = Some(t.member.as_str().to_owned());
                },
                Refused(JoinRefusal::MemberTaken),
            ),
            (
                "actor registered in another buurt",
                |_, f| f.actors_elsewhere = true,
                Refused(JoinRefusal::ActorTaken),
            ),
            (
                "actor held by another member's active device",
                |_, f| {
                    f.actor_holders = vec![holder(someone_else(), false)];
                },
                Refused(JoinRefusal::ActorTaken),
            ),
            (
                "actor held by another member's revoked device",
                |_, f| {
                    f.actor_holders = vec![holder(someone_else(), true)];
                },
                Refused(JoinRefusal::ActorTaken),
            ),
            (
                "actor held by the member's own active device",
                |t, f| {
                    second_device(t, f);
                    f.actor_holders = vec![holder(t.member.as_str(), false)];
                },
                Refused(JoinRefusal::ActorTaken),
            ),
            (
                "actor of the member's own revoked device: taken over",
                |t, f| {
                    second_device(t, f);
                    f.actor_holders = vec![holder(t.member.as_str(), true)];
                },
                KNOWN_STAFF,
            ),
            (
                "one actor taken over, the other held by someone",
                |t, f| {
                    second_device(t, f);
                    f.actor_holders = vec![
                        holder(t.member.as_str(), true),
                        holder(someone_else(), false),
                    ];
                },
                Refused(JoinRefusal::ActorTaken),
            ),
            (
                "member and actor taken: member first",
                |_, f| {
                    f.member_elsewhere = true;
                    f.actors_elsewhere = true;
                },
                Refused(JoinRefusal::MemberTaken),
            ),
            (
                "retryable, no device has the token yet: the ordinary rules",
                |t, _| t.retryable = true,
                NEW_ORGANISER,
            ),
            (
                "retryable, no device yet, expired",
                |t, f| {
                    t.retryable = true;
                    t.now = f.invite.expires_at;
                },
                Refused(JoinRefusal::Expired),
            ),
            (
                "the same join again",
                |t, f| {
                    t.retryable = true;
                    f.enrolled = Some(enrolled(t));
                },
                Retry,
            ),
            (
                "the same join again, the invite expired and used up since",
                |t, f| {
                    t.retryable = true;
                    f.enrolled = Some(enrolled(t));
                    t.now = f.invite.expires_at + 1;
                    f.invite.uses = 1;
                },
                Retry,
            ),
            (
                "the same join again, its member and actor now known",
                |t, f| {
                    t.retryable = true;
                    f.enrolled = Some(enrolled(t));
                    f.member_role = Some(Role::Caretaker.as_str().into());
                    f.actor_holders = vec![holder(t.member.as_str(), false)];
                },
                Retry,
            ),
            (
                "the same join again with an actor repeated",
                |t, f| {
                    t.retryable = true;
                    f.enrolled = Some(enrolled(t));
                    t.actors.push(t.actors[0].clone());
                },
                Retry,
            ),
            (
                "not retryable: a device with the token is not looked at",
                |t, f| f.enrolled = Some(enrolled(t)),
                NEW_ORGANISER,
            ),
            (
                "a secret taken, the invite also expired: the secret first",
                |t, f| {
                    t.retryable = true;
                    t.now = f.invite.expires_at;
                    f.enrolled = Some(EnrolledDevice {
                        revoked: true,
                        ..enrolled(t)
                    });
                },
                Refused(JoinRefusal::SecretTaken),
            ),
        ];
        for (name, edit, want) in cases {
            let (mut t, mut f) = join_case();
            edit(&mut t, &mut f);
            assert_eq!(&decide(&t, &f), want, "{name}");
        }
    }

    /// A retryable ticket whose token hash belongs to a device that differs from it in any
    /// way is [`JoinRefusal::SecretTaken`].
    #[test]
    fn a_secret_of_another_join_is_taken() {
        type Edit = fn(&mut EnrolledDevice);
        let cases: &[(&str, Edit)] = &[
            ("in another buurt", |d| d.buurt = BUURT + 1),
            ("revoked", |d| d.revoked = true),
            ("acting for another member", |d| d.member = someone_else()),
            ("through another invite", |d| d.invite = Some(vec![8; 32])),
            ("remembering no invite", |d| d.invite = None),
            ("with fewer actors", |d| {
                d.actors.pop();
            }),
            ("with another actor too", |d| d.actors.push(vec![3; 16])),
            ("with no actors", |d| d.actors.clear()),
        ];
        for (name, edit) in cases {
            let (mut t, mut f) = join_case();
            t.retryable = true;
            let mut d = enrolled(&t);
            edit(&mut d);
            f.enrolled = Some(d);
            assert_eq!(decide(&t, &f), Refused(JoinRefusal::SecretTaken), "{name}");
        }
    }

    #[test]
    fn an_unknown_invite_is_refused_retry_or_not() {
        let (mut t, _) = join_case();
        assert_eq!(
            check_join(&t, None).unwrap(),
            Err(JoinRefusal::UnknownInvite)
        );
        t.retryable = true;
        assert_eq!(
            check_join(&t, None).unwrap(),
            Err(JoinRefusal::UnknownInvite)
        );
    }

    /// A retry answers the device the first attempt enrolled and its member's stored role,
    /// not the ticket's proposed device nor the invite's role.
    #[test]
    fn a_retry_answers_the_first_device() {
        let (mut t, mut f) = join_case();
        t.retryable = true;
        let first = enrolled(&t);
        f.enrolled = Some(first.clone());
        let Ok(JoinPlan::Retry(joined)) = check_join(&t, Some(&f)).unwrap() else {
            panic!("not a retry");
        };
        assert_eq!(joined.device.as_str(), first.id);
        assert_ne!(joined.device, t.device);
        assert_eq!(joined.role, Role::Caretaker);
        assert_eq!(joined.buurt.as_str(), f.invite.buurt_id);
    }

    /// Stored values are decoded only where the answer needs them: a refusal decided before
    /// never reads them; a needed one that does not decode is `Corrupt`.
    #[test]
    fn stored_values_are_decoded_where_needed() {
        let (mut t, mut f) = join_case();
        f.invite.role = "mayor".into();
        assert!(matches!(
            check_join(&t, Some(&f)),
            Err(StorageError::Corrupt(_))
        ));
        t.now = f.invite.expires_at;
        assert_eq!(check_join(&t, Some(&f)).unwrap(), Err(JoinRefusal::Expired));
        let (t, mut f) = join_case();
        f.invite.buurt_id = "not a buurt id".into();
        assert!(matches!(
            check_join(&t, Some(&f)),
            Err(StorageError::Corrupt(_))
        ));
        f.member_elsewhere = true;
        assert_eq!(
            check_join(&t, Some(&f)).unwrap(),
            Err(JoinRefusal::MemberTaken)
        );
        let (mut t, mut f) = join_case();
        t.retryable = true;
        f.enrolled = Some(EnrolledDevice {
            id: "?".into(),
            ..enrolled(&t)
        });
        assert!(matches!(
            check_join(&t, Some(&f)),
            Err(StorageError::Corrupt(_))
        ));
    }

    #[test]
    fn same_actors_ignores_order_and_repeats() {
        let (a, b, c) = (
            ActorId::from(vec![1u8; 16]),
            ActorId::from(vec![2u8; 16]),
            ActorId::from(vec![3u8; 16]),
        );
        let stored = |ids: &[&ActorId]| -> Vec<Vec<u8>> {
            ids.iter().map(|x| x.to_bytes().to_vec()).collect()
        };
        type Case = (Vec<Vec<u8>>, Vec<ActorId>, bool);
        let cases: &[Case] = &[
            (stored(&[&a, &b]), vec![a.clone(), b.clone()], true),
            (stored(&[&b, &a]), vec![a.clone(), b.clone()], true),
            (
                stored(&[&a, &b]),
                vec![b.clone(), a.clone(), b.clone()],
                true,
            ),
            (stored(&[&a]), vec![a.clone(), b.clone()], false),
            (stored(&[&a, &b]), vec![a.clone()], false),
            (stored(&[&a, &b]), vec![a.clone(), c.clone()], false),
            (stored(&[&a, &a]), vec![a.clone()], false),
            (stored(&[]), vec![a.clone()], false),
            (stored(&[]), vec![], true),
        ];
        for (i, (registered, wanted, same)) in cases.iter().enumerate() {
            assert_eq!(same_actors(registered, wanted), *same, "case {i}");
        }
    }

    /// `plan_append` over plain facts: `owners` as `(doc, buurt, audience)`, `logged` as
    /// `(buurt, hash)`, `heads` as `(buurt, head)`.
    fn plan(
        batches: &[AppendBatch],
        buurten: &[i64],
        owners: &[([u8; 16], i64, i64)],
        logged: &[(i64, [u8; 32])],
        heads: &[(i64, u64)],
    ) -> StorageResult<AppendPlan> {
        plan_append(
            batches,
            buurten,
            owners.iter().map(|&(d, b, a)| (d, (b, a))).collect(),
            &logged.iter().copied().collect(),
            heads.iter().copied().collect(),
        )
    }

    fn to(changes: Vec<NewChange>) -> AppendBatch {
        batch(&BuurtId::new().unwrap(), &DeviceId::new().unwrap(), changes)
    }

    #[test]
    fn no_batches_plan_nothing() {
        let p = plan(&[], &[], &[], &[], &[]).unwrap();
        assert_eq!(p, AppendPlan::default());
        assert!(p.outcomes().is_empty());
    }

    #[test]
    fn an_empty_batch_keeps_its_buurts_head() {
        let p = plan(&[to(Vec::new())], &[BUURT], &[], &[], &[(BUURT, 7)]).unwrap();
        assert!(p.rows.is_empty() && p.new_docs.is_empty() && p.grants.is_empty());
        assert_eq!(p.heads.get(&BUURT), Some(&7));
        let out = p.outcomes();
        assert_eq!(out.len(), 1);
        assert_eq!((out[0].appended.len(), out[0].head), (0, 7));
    }

    /// One change of document `[1; 16]` with hash `[1; 32]` to buurt 1 (head 4), against what
    /// is stored.
    #[test]
    fn append_outcome_of_one_change_each_branch() {
        let (doc, hash) = ([1u8; 16], [1u8; 32]);
        let organisers = audience_code(Audience::Organisers);
        type Facts = (&'static [([u8; 16], i64, i64)], &'static [(i64, [u8; 32])]);
        let cases: &[(&str, Facts, Appended, bool)] = &[
            ("a new document", (&[], &[]), Appended::Stored(5), true),
            (
                "a document of this buurt",
                (&[([1; 16], BUURT, 0)], &[]),
                Appended::Stored(5),
                false,
            ),
            (
                "a document of another buurt",
                (&[([1; 16], BUURT + 1, 0)], &[]),
                Appended::WrongBuurt,
                false,
            ),
            (
                "a hash in this buurt's log",
                (&[([1; 16], BUURT, 0)], &[(BUURT, [1; 32])]),
                Appended::Duplicate,
                false,
            ),
            (
                "a hash in this buurt's log, of a document not stored (garbage)",
                (&[], &[(BUURT, [1; 32])]),
                Appended::Duplicate,
                false,
            ),
            (
                "a hash only in another buurt's log",
                (&[], &[(BUURT + 1, [1; 32])]),
                Appended::Stored(5),
                true,
            ),
            (
                "another buurt's document and a logged hash: the buurt first",
                (&[([1; 16], BUURT + 1, 0)], &[(BUURT, [1; 32])]),
                Appended::WrongBuurt,
                false,
            ),
        ];
        for (name, (owners, logged), want, new_doc) in cases {
            let c = NewChange {
                audience: Audience::Organisers,
                ..change(1, 1)
            };
            let batches = [to(vec![c])];
            let p = plan(&batches, &[BUURT], owners, logged, &[(BUURT, 4)]).unwrap();
            assert_eq!(p.appended, [[*want]], "{name}");
            let stored = matches!(want, Appended::Stored(_));
            assert_eq!(p.rows.len(), usize::from(stored), "{name}");
            assert_eq!(
                p.heads.get(&BUURT),
                Some(&(4 + u64::from(stored))),
                "{name}"
            );
            let docs: &[([u8; 16], i64, i64)] = if *new_doc {
                &[(doc, BUURT, organisers)]
            } else {
                &[]
            };
            assert_eq!(p.new_docs, docs, "{name}");
            if let Some(row) = p.rows.first() {
                // A known document keeps its stored audience; a new one takes the change's.
                let audience = if *new_doc { organisers } else { 0 };
                assert_eq!(
                    (row.buurt, row.seq, row.audience, row.batch, row.change),
                    (BUURT, 5, audience, 0, 0),
                    "{name}"
                );
                let (_, c) = row.of(&batches).unwrap();
                assert_eq!((c.doc, c.hash), (doc, hash), "{name}");
            }
        }
    }

    #[test]
    fn duplicate_hashes_within_one_batch_are_stored_once() {
        let p = plan(
            &[to(vec![
                change(1, 1),
                change(1, 1),
                change(2, 1),
                change(1, 2),
            ])],
            &[BUURT],
            &[],
            &[],
            &[(BUURT, 0)],
        )
        .unwrap();
        assert_eq!(
            p.appended,
            [[
                Appended::Stored(1),
                Appended::Duplicate,
                // The same hash under another document is a duplicate all the same.
                Appended::Duplicate,
                Appended::Stored(2),
            ]]
        );
        assert_eq!(p.rows.iter().map(|r| r.change).collect::<Vec<_>>(), [0, 3]);
        // The document the duplicate named was never stored: it is not created.
        assert_eq!(p.new_docs, [([1; 16], BUURT, 0)]);
        assert_eq!(p.outcomes()[0].head, 2);
    }

    #[test]
    fn seqs_are_contiguous_per_buurt_across_batches() {
        let (a, b) = (BUURT, BUURT + 1);
        let p = plan(
            &[
                to(vec![change(1, 1), change(1, 2)]),
                to(vec![change(2, 1)]),
                to(vec![change(1, 3), change(1, 2)]),
                to(Vec::new()),
            ],
            &[a, b, a, b],
            &[],
            &[],
            &[(a, 10), (b, 3)],
        )
        .unwrap();
        assert_eq!(
            p.appended,
            [
                vec![Appended::Stored(11), Appended::Stored(12)],
                // The same hash in another buurt is no duplicate.
                vec![Appended::Stored(4)],
                vec![Appended::Stored(13), Appended::Duplicate],
                vec![],
            ]
        );
        assert_eq!(
            p.rows.iter().map(|r| (r.buurt, r.seq)).collect::<Vec<_>>(),
            [(a, 11), (a, 12), (b, 4), (a, 13)]
        );
        let heads: Vec<u64> = p.outcomes().iter().map(|o| o.head).collect();
        // Every batch answers its buurt's head after the whole call.
        assert_eq!(heads, [13, 4, 13, 4]);
    }

    #[test]
    fn a_document_first_stored_in_this_call_belongs_to_that_buurt() {
        let (a, b) = (BUURT, BUURT + 1);
        let p = plan(
            &[to(vec![change(1, 1)]), to(vec![change(1, 2), change(2, 3)])],
            &[a, b],
            &[],
            &[],
            &[(a, 0), (b, 0)],
        )
        .unwrap();
        assert_eq!(
            p.appended,
            [
                vec![Appended::Stored(1)],
                vec![Appended::WrongBuurt, Appended::Stored(1)],
            ]
        );
        assert_eq!(p.new_docs, [([1; 16], a, 0), ([2; 16], b, 0)]);
    }

    #[test]
    fn a_documents_audience_is_its_first_changes() {
        let participants = audience_code(Audience::Participants);
        let p = plan(
            &[to(vec![
                restricted(2, 1, Audience::Participants, &[]),
                restricted(2, 2, Audience::Buurt, &[]),
                restricted(3, 3, Audience::Organisers, &[]),
            ])],
            &[BUURT],
            &[([3; 16], BUURT, 0)],
            &[],
            &[(BUURT, 0)],
        )
        .unwrap();
        assert_eq!(
            p.rows.iter().map(|r| r.audience).collect::<Vec<_>>(),
            [participants, participants, 0]
        );
        assert_eq!(p.new_docs, [([2; 16], BUURT, participants)]);
    }

    #[test]
    fn grants_count_once_and_only_with_a_stored_change() {
        let m: Vec<MemberId> = (0..4).map(|_| MemberId::new().unwrap()).collect();
        let p = plan(
            &[to(vec![
                restricted(2, 1, Audience::Participants, &[&m[0], &m[0]]),
                restricted(2, 2, Audience::Participants, &[&m[0], &m[1]]),
                // A duplicate and a change of another buurt's document grant nothing.
                restricted(2, 2, Audience::Participants, &[&m[2]]),
                restricted(9, 4, Audience::Participants, &[&m[3]]),
                // The same member reading another document is another grant.
                restricted(3, 5, Audience::Organisers, &[&m[1]]),
            ])],
            &[BUURT],
            &[([9; 16], BUURT + 1, 2)],
            &[],
            &[(BUURT, 0)],
        )
        .unwrap();
        assert_eq!(
            p.grants,
            [
                ([2; 16], m[0].clone(), BUURT, 1),
                ([2; 16], m[1].clone(), BUURT, 2),
                ([3; 16], m[1].clone(), BUURT, 3),
            ]
        );
    }

    #[test]
    fn a_sequence_that_would_overflow_is_an_error_before_any_write() {
        for head in [u64::MAX, i64::MAX as u64] {
            let p = plan(
                &[to(vec![change(1, 1)])],
                &[BUURT],
                &[],
                &[],
                &[(BUURT, head)],
            );
            assert!(matches!(p, Err(StorageError::Backend(_))), "head {head}");
        }
        // Nothing to store: no new seq, no overflow.
        let p = plan(
            &[to(vec![change(1, 1)])],
            &[BUURT],
            &[([1; 16], BUURT, 0)],
            &[(BUURT, [1; 32])],
            &[(BUURT, u64::MAX)],
        )
        .unwrap();
        assert_eq!(p.outcomes()[0].head, u64::MAX);
        let p = plan(
            &[to(vec![change(1, 1)])],
            &[BUURT],
            &[],
            &[],
            &[(BUURT, i64::MAX as u64 - 1)],
        )
        .unwrap();
        assert_eq!(p.rows[0].seq, i64::MAX);
    }

    #[test]
    fn a_log_row_outside_the_batches_is_an_error() {
        let row = LogRow {
            buurt: BUURT,
            seq: 1,
            audience: 0,
            batch: 0,
            change: 1,
        };
        assert!(row.of(&[to(vec![change(1, 1)])]).is_err());
        assert!(row.of(&[]).is_err());
        assert!(
            LogRow { change: 0, ..row }
                .of(&[to(vec![change(1, 1)])])
                .is_ok()
        );
    }

    fn logged(seqs: &[u64]) -> Vec<LoggedChange> {
        seqs.iter()
            .map(|&seq| LoggedChange {
                seq,
                doc: [1; 16],
                bytes: seq.to_be_bytes().to_vec(),
            })
            .collect()
    }

    /// `(read, after, limit, head)` → `(returned, cursor, more)`.
    #[test]
    fn page_ends_each_branch() {
        type Case = (&'static [u64], u64, usize, u64, &'static [u64], u64, bool);
        let cases: &[(&str, Case)] = &[
            ("an empty log", (&[], 0, 10, 0, &[], 0, false)),
            (
                "nothing readable remains: the cursor jumps to the head",
                (&[], 5, 10, 9, &[], 9, false),
            ),
            (
                "a cursor beyond the head (garbage) never moves back",
                (&[], 12, 10, 9, &[], 12, false),
            ),
            (
                "fewer than the limit",
                (&[4, 6], 0, 3, 9, &[4, 6], 9, false),
            ),
            (
                "exactly the limit: no more",
                (&[4, 5, 6], 0, 3, 9, &[4, 5, 6], 9, false),
            ),
            (
                "one more than the limit: more, cursor at the last returned",
                (&[4, 5, 6, 7], 0, 3, 9, &[4, 5, 6], 6, true),
            ),
            (
                "a page of zero with something to read",
                (&[4], 2, 0, 9, &[], 2, true),
            ),
            (
                "a page of zero with nothing to read",
                (&[], 9, 0, 9, &[], 9, false),
            ),
            (
                "the largest page",
                (&[1, 2, 3], 0, usize::MAX, 3, &[1, 2, 3], 3, false),
            ),
        ];
        for (name, (read, after, limit, head, want, cursor, more)) in cases {
            let page = assemble_page(logged(read), *after, *limit, *head);
            let got: Vec<u64> = page.changes.iter().map(|c| c.seq).collect();
            assert_eq!(
                (got.as_slice(), page.cursor, page.more),
                (*want, *cursor, *more),
                "{name}"
            );
        }
    }

    #[test]
    fn a_pull_reads_one_more_than_its_page() {
        assert_eq!(page_fetch(0), 1);
        assert_eq!(page_fetch(500), 501);
        assert_eq!(page_fetch(i64::MAX as usize), i64::MAX);
        assert_eq!(page_fetch(usize::MAX), i64::MAX);
    }

    #[test]
    fn quota_each_branch() {
        let max = u64::MAX;
        let cases = [
            ((0, 0, 0), Ok(())),
            ((10, 90, 100), Ok(())),
            ((10, 91, 100), Err(10)),
            ((100, 0, 100), Ok(())),
            ((101, 0, 100), Err(101)),
            ((max, 1, max - 1), Err(max)),
            // The sum saturates: the largest quota refuses nothing.
            ((0, max, max), Ok(())),
            ((1, max, max), Ok(())),
            ((max, max, max), Ok(())),
        ];
        for ((used, length, quota), want) in cases {
            assert_eq!(
                quota_allows(used, length, quota),
                want,
                "{used} + {length} vs {quota}"
            );
        }
    }
}
