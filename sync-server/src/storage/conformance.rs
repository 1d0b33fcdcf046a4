//! The conformance suite every [`Storage`] implementation must pass.
//!
//! Each check is a function over `&dyn Storage`; [`suite!`] turns the list into `#[test]`s for
//! one implementation, given a constructor from an empty directory:
//!
//! ```ignore
//! #[cfg(test)]
//! mod tests {
//!     super::super::conformance::suite!(|dir| super::SqliteStorage::open_dir(dir));
//! }
//! ```
//!
//! A PostgreSQL implementation adds the same three lines (with a constructor that makes a fresh
//! database). The checks pin the contracts written on the trait: join rules, contiguous
//! per-buurt sequence numbers, duplicates, document ownership, paging, all-or-nothing appends.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use automerge::ActorId;
use noaber_core::{Audience, MemberId, Role};

use super::fixtures::{
    Enrolled, NOW, batch, buurt, change, enrol, invite, resident, restricted, setup, ticket,
};
use super::{
    Appended, JoinRefusal, NewChange, NewInvite, PhotoRef, Puller, Storage, StorageError, UploadRow,
};
use crate::ids::{BuurtId, DeviceId, sha256};

/// What every check returns.
pub(crate) type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Generates one `#[test]` per conformance check for the implementation `$make` builds from
/// an empty directory (`&Path`).
macro_rules! suite {
    ($make:expr) => {
        $crate::storage::conformance::suite!(@each $make;
            buurten_are_created_listed_and_unique,
            join_registers_member_device_and_actors,
            join_refuses_bad_invites_and_writes_nothing,
            a_known_member_needs_an_invite_bound_to_them,
            actors_are_unique_per_buurt,
            a_retried_join_gets_its_device_again_and_uses_nothing,
            revoke_and_set_role,
            append_assigns_contiguous_seqs_and_skips_duplicates,
            append_refuses_documents_of_another_buurt,
            append_is_all_or_nothing,
            pull_pages_and_leaves_out_own_changes,
            pull_sends_restricted_documents_only_to_readers,
            doc_changes_are_in_order_and_scoped_to_the_buurt,
            unknown_buurt_is_not_found,
            uploads_and_photos_are_recorded_and_counted,
            expired_uploads_are_forgotten_and_returned,
            photos_are_readable_as_the_documents_referencing_them,
            photos_are_held_per_buurt_and_member,
            parallel_upload_starts_never_exceed_the_quota
        );
    };
    (@each $make:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() -> $crate::storage::conformance::Outcome {
                let dir = tempfile::tempdir()?;
                let storage = ($make)(dir.path())?;
                $crate::storage::conformance::$name(&storage)
            }
        )*
    };
}
pub(crate) use suite;

pub(crate) fn buurten_are_created_listed_and_unique(s: &dyn Storage) -> Outcome {
    s.ping()?;
    assert!(s.buurten()?.is_empty());
    let a = buurt(s, "Alpha")?;
    let b = buurt(s, "Beta")?;
    let all = s.buurten()?;
    assert_eq!(
        all.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["Alpha", "Beta"]
    );
    let got = s.buurt(&a)?.unwrap();
    assert_eq!(
        (got.head, got.name.as_str(), got.created_at),
        (0, "Alpha", NOW)
    );
    assert!(s.buurt(&BuurtId::new()?)?.is_none());
    assert!(matches!(
        s.create_buurt(&b, "again", NOW),
        Err(StorageError::Conflict { .. })
    ));
    assert!(matches!(
        s.create_invite(&NewInvite {
            hash: [1; 32],
            buurt: BuurtId::new()?,
            role: Role::Resident,
            member: None,
            created_at: NOW,
            expires_at: NOW + 1,
            max_uses: 1,
        }),
        Err(StorageError::NotFound { .. })
    ));
    Ok(())
}

pub(crate) fn join_registers_member_device_and_actors(s: &dyn Storage) -> Outcome {
    let b = buurt(s, "Alpha")?;
    let inv = invite(s, &b, "ORG", Role::Organiser, 1, None)?;
    let m = MemberId::new()?;
    let actors = [ActorId::random(), ActorId::random()];
    let e = enrol(s, inv, &m, &actors)?;
    assert_eq!(e.joined.buurt, b);
    assert_eq!(e.joined.buurt_name, "Alpha");
    assert_eq!(e.joined.role, Role::Organiser);
    let auth = s.device_by_token(&e.token)?.unwrap();
    assert_eq!(auth.device, e.joined.device);
    assert_eq!(
        (auth.buurt.clone(), auth.member.clone(), auth.role),
        (b.clone(), m.clone(), Role::Organiser)
    );
    assert!(!auth.revoked);
    let mut want: Vec<_> = actors.to_vec();
    want.sort();
    let mut got = auth.actors.clone();
    got.sort();
    assert_eq!(got, want);
    assert!(s.device_by_token(&[9; 32])?.is_none());
    let members = s.members(&b)?;
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].display_name.as_str(), members[0].active_devices),
        ("Ans", 1)
    );
    let devices = s.devices(&b)?;
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].actors.len(), 2);
    Ok(())
}

pub(crate) fn join_refuses_bad_invites_and_writes_nothing(s: &dyn Storage) -> Outcome {
    let b = buurt(s, "Alpha")?;
    let m = MemberId::new()?;
    let a = [ActorId::random()];
    assert_eq!(
        s.join(&ticket([7; 32], &m, &a))?,
        Err(JoinRefusal::UnknownInvite)
    );
    let once = invite(s, &b, "ONCE", Role::Resident, 1, None)?;
    enrol(s, once, &m, &a)?;
    assert_eq!(
        s.join(&ticket(once, &MemberId::new()?, &[ActorId::random()]))?,
        Err(JoinRefusal::UsedUp)
    );
    let inv = invite(s, &b, "LATE", Role::Resident, 5, None)?;
    let mut late = ticket(inv, &MemberId::new()?, &[ActorId::random()]);
    late.now = NOW + 1_000; // expires_at is NOW + 1000: refused from that moment on
    assert_eq!(s.join(&late)?, Err(JoinRefusal::Expired));
    // Refusals wrote nothing: one member, one device.
    assert_eq!(s.members(&b)?.len(), 1);
    assert_eq!(s.devices(&b)?.len(), 1);
    Ok(())
}

pub(crate) fn a_known_member_needs_an_invite_bound_to_them(s: &dyn Storage) -> Outcome {
    let b = buurt(s, "Alpha")?;
    let open = invite(s, &b, "OPEN", Role::Organiser, 10, None)?;
    let m = MemberId::new()?;
    let first = enrol(s, open, &m, &[ActorId::random()])?;
    s.set_role(&b, &m, Role::Caretaker)?;
    // Someone presenting a known member id with an ordinary invite is refused.
    assert_eq!(
        s.join(&ticket(open, &m, &[ActorId::random()]))?,
        Err(JoinRefusal::MemberTaken)
    );
    // An invite bound to another member is refused too.
    let other = MemberId::new()?;
    let bound_other = invite(s, &b, "OTHER", Role::Resident, 1, Some(&other))?;
    assert_eq!(
        s.join(&ticket(bound_other, &m, &[ActorId::random()]))?,
        Err(JoinRefusal::MemberTaken)
    );
    // An invite bound to the member adds a second device, keeping the member's stored role.
    let bound = invite(s, &b, "BOUND", Role::Resident, 1, Some(&m))?;
    let second = enrol(s, bound, &m, &[ActorId::random()])?;
    assert_ne!(second.joined.device, first.joined.device);
    assert_eq!(second.joined.role, Role::Caretaker);
    let members = s.members(&b)?;
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].active_devices, 2);
    Ok(())
}

pub(crate) fn actors_are_unique_per_buurt(s: &dyn Storage) -> Outcome {
    let a = buurt(s, "Alpha")?;
    let b = buurt(s, "Beta")?;
    let inv_a = invite(s, &a, "A", Role::Resident, 10, None)?;
    let inv_b = invite(s, &b, "B", Role::Resident, 10, None)?;
    let actor = ActorId::random();
    let m = MemberId::new()?;
    let first = enrol(s, inv_a, &m, std::slice::from_ref(&actor))?;
    // Another member in the same buurt cannot register it.
    assert_eq!(
        s.join(&ticket(
            inv_a,
            &MemberId::new()?,
            std::slice::from_ref(&actor)
        ))?,
        Err(JoinRefusal::ActorTaken)
    );
    // Ids are per buurt: neither the member id nor the actor id can be registered in another
    // buurt (by anyone: a squatter, or the same device reusing its ids); nothing is written.
    assert_eq!(
        s.join(&ticket(inv_b, &m, std::slice::from_ref(&actor)))?,
        Err(JoinRefusal::MemberTaken)
    );
    assert_eq!(
        s.join(&ticket(inv_b, &m, &[ActorId::random()]))?,
        Err(JoinRefusal::MemberTaken)
    );
    assert_eq!(
        s.join(&ticket(
            inv_b,
            &MemberId::new()?,
            std::slice::from_ref(&actor)
        ))?,
        Err(JoinRefusal::ActorTaken)
    );
    assert!(s.members(&b)?.is_empty());
    assert!(s.devices(&b)?.is_empty());
    enrol(s, inv_b, &MemberId::new()?, &[ActorId::random()])?;
    // The same member re-enrolling while the first device is active: refused.
    let again = invite(s, &a, "AGAIN", Role::Resident, 2, Some(&m))?;
    assert_eq!(
        s.join(&ticket(again, &m, std::slice::from_ref(&actor)))?,
        Err(JoinRefusal::ActorTaken)
    );
    // Once that device is revoked, the member's new enrolment takes the actor over.
    assert!(s.revoke_device(&first.joined.device, NOW)?);
    let re = enrol(s, again, &m, std::slice::from_ref(&actor))?;
    let auth = s.device_by_token(&re.token)?.unwrap();
    assert_eq!(auth.actors, vec![actor]);
    assert!(s.device_by_token(&first.token)?.unwrap().actors.is_empty());
    Ok(())
}

/// A retryable ticket (`join_secret`): the same ticket again is answered with the same device
/// and writes nothing (the invite's one use stays used once); the token hash with anything
/// else, or of a revoked device, is [`JoinRefusal::SecretTaken`].
pub(crate) fn a_retried_join_gets_its_device_again_and_uses_nothing(s: &dyn Storage) -> Outcome {
    let a = buurt(s, "Alpha")?;
    let inv = invite(s, &a, "ONCE", Role::Organiser, 1, None)?;
    let actors = [ActorId::random(), ActorId::random()];
    let mut t = ticket(inv, &MemberId::new()?, &actors);
    t.retryable = true;
    let first = s.join(&t)?.map_err(|r| format!("{r:?}"))?;
    assert!(!first.retry);
    // The retry: a new device id is proposed, the first one is answered; actors in any order.
    let mut again = t.clone();
    again.device = DeviceId::new()?;
    again.actors.reverse();
    let second = s.join(&again)?.map_err(|r| format!("{r:?}"))?;
    assert!(second.retry);
    assert_eq!(
        (&second.device, &second.member, second.role),
        (&first.device, &first.member, Role::Organiser)
    );
    assert_eq!(s.devices(&a)?.len(), 1);
    assert_eq!(s.members(&a)?.len(), 1);
    // The invite's one use went to the first attempt.
    assert_eq!(
        s.join(&ticket(inv, &MemberId::new()?, &[ActorId::random()]))?,
        Err(JoinRefusal::UsedUp)
    );
    // A retry is honoured even once the invite has expired.
    let mut late = t.clone();
    late.now = NOW + 10_000;
    assert!(s.join(&late)?.map_err(|r| format!("{r:?}"))?.retry);
    // The same secret (token hash) with other actors, another member, another invite.
    let mut other = t.clone();
    other.actors = vec![actors[0].clone()];
    assert_eq!(s.join(&other)?, Err(JoinRefusal::SecretTaken));
    let mut other = t.clone();
    other.member = MemberId::new()?;
    assert_eq!(s.join(&other)?, Err(JoinRefusal::SecretTaken));
    let inv2 = invite(s, &a, "TWICE", Role::Resident, 2, None)?;
    let mut other = t.clone();
    other.invite_hash = inv2;
    assert_eq!(s.join(&other)?, Err(JoinRefusal::SecretTaken));
    // Without `retryable` the same ticket meets the ordinary rules.
    let mut plain = t.clone();
    plain.retryable = false;
    plain.token_hash = sha256(b"another token");
    assert_eq!(s.join(&plain)?, Err(JoinRefusal::UsedUp));
    // Revoked: the secret is dead.
    assert!(s.revoke_device(&first.device, NOW)?);
    assert_eq!(s.join(&t)?, Err(JoinRefusal::SecretTaken));
    assert_eq!(s.devices(&a)?.len(), 1);
    Ok(())
}

pub(crate) fn revoke_and_set_role(s: &dyn Storage) -> Outcome {
    let (b, e) = setup(s)?;
    assert!(s.set_role(&b, &e.joined.member, Role::Staff)?);
    assert_eq!(s.device_by_token(&e.token)?.unwrap().role, Role::Staff);
    assert!(!s.set_role(&b, &MemberId::new()?, Role::Staff)?);
    assert!(!s.set_role(&BuurtId::new()?, &e.joined.member, Role::Staff)?);
    assert!(s.revoke_device(&e.joined.device, NOW + 5)?);
    assert!(s.revoke_device(&e.joined.device, NOW + 9)?);
    assert!(s.device_by_token(&e.token)?.unwrap().revoked);
    assert_eq!(s.devices(&b)?[0].revoked_at, Some(NOW + 5));
    assert_eq!(s.members(&b)?[0].active_devices, 0);
    assert!(!s.revoke_device(&DeviceId::new()?, NOW)?);
    Ok(())
}

pub(crate) fn append_assigns_contiguous_seqs_and_skips_duplicates(s: &dyn Storage) -> Outcome {
    let (b, e) = setup(s)?;
    let d = &e.joined.device;
    let out = s.append(&[
        batch(&b, d, vec![change(1, 1), change(1, 2)]),
        batch(&b, d, vec![change(2, 3), change(1, 2)]),
    ])?;
    assert_eq!(out[0].appended, [Appended::Stored(1), Appended::Stored(2)]);
    assert_eq!(out[1].appended, [Appended::Stored(3), Appended::Duplicate]);
    assert_eq!((out[0].head, out[1].head), (3, 3));
    let out = s.append(&[batch(&b, d, vec![change(1, 1), change(2, 4)])])?;
    assert_eq!(out[0].appended, [Appended::Duplicate, Appended::Stored(4)]);
    assert_eq!(s.head(&b)?, 4);
    assert!(s.has_change(&b, &[4; 32])?);
    assert!(!s.has_change(&b, &[5; 32])?);
    assert_eq!(s.doc_buurt(&[1; 16])?, Some(b.clone()));
    assert_eq!(s.doc_buurt(&[9; 16])?, None);
    Ok(())
}

pub(crate) fn append_refuses_documents_of_another_buurt(s: &dyn Storage) -> Outcome {
    let (a, ea) = setup(s)?;
    let (b, eb) = setup(s)?;
    s.append(&[batch(&a, &ea.joined.device, vec![change(1, 1)])])?;
    let out = s.append(&[batch(
        &b,
        &eb.joined.device,
        vec![change(1, 2), change(2, 3)],
    )])?;
    assert_eq!(out[0].appended, [Appended::WrongBuurt, Appended::Stored(1)]);
    assert_eq!(s.head(&a)?, 1);
    assert_eq!(s.head(&b)?, 1);
    assert_eq!(s.doc_buurt(&[1; 16])?, Some(a.clone()));
    // The same hash in another buurt's log is not a duplicate there.
    assert!(!s.has_change(&b, &[1; 32])?);
    Ok(())
}

pub(crate) fn append_is_all_or_nothing(s: &dyn Storage) -> Outcome {
    let (b, e) = setup(s)?;
    let res = s.append(&[
        batch(&b, &e.joined.device, vec![change(1, 1)]),
        batch(&b, &DeviceId::new()?, vec![change(1, 2)]),
    ]);
    assert!(matches!(res, Err(StorageError::NotFound { .. })));
    assert_eq!(s.head(&b)?, 0);
    assert!(s.doc_buurt(&[1; 16])?.is_none());
    assert!(
        s.pull(&b, 0, 10, &resident(&DeviceId::new()?)?)?
            .changes
            .is_empty()
    );
    Ok(())
}

pub(crate) fn pull_pages_and_leaves_out_own_changes(s: &dyn Storage) -> Outcome {
    let (b, e) = setup(s)?;
    let inv = invite(s, &b, "SECOND", Role::Resident, 1, None)?;
    let other = enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?;
    let mine = &e.joined.device;
    let theirs = &other.joined.device;
    // seqs 1..=3 by me, 4..=8 by them, 9 by me.
    s.append(&[batch(&b, mine, (1..=3).map(|n| change(1, n)).collect())])?;
    s.append(&[batch(&b, theirs, (4..=8).map(|n| change(2, n)).collect())])?;
    s.append(&[batch(&b, mine, vec![change(1, 9)])])?;

    let p = s.pull(&b, 0, 2, &resident(mine)?)?;
    assert_eq!(p.changes.iter().map(|c| c.seq).collect::<Vec<_>>(), [4, 5]);
    assert_eq!((p.cursor, p.more), (5, true));
    assert_eq!(p.changes[0].doc, [2; 16]);
    assert_eq!(p.changes[0].bytes, vec![2, 4]);
    let p = s.pull(&b, 5, 3, &resident(mine)?)?;
    assert_eq!(
        p.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [6, 7, 8]
    );
    // Only my own change remains: the cursor jumps to the head.
    assert_eq!((p.cursor, p.more), (9, false));
    let p = s.pull(&b, 0, 100, &resident(theirs)?)?;
    assert_eq!(
        p.changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [1, 2, 3, 9]
    );
    assert_eq!((p.cursor, p.more), (9, false));
    // A page of zero examines nothing.
    let p = s.pull(&b, 0, 0, &resident(mine)?)?;
    assert_eq!((p.changes.len(), p.cursor, p.more), (0, 0, true));
    let p = s.pull(&b, 9, 0, &resident(mine)?)?;
    assert_eq!((p.changes.len(), p.cursor, p.more), (0, 9, false));
    // An unknown device is excluded from nothing.
    assert_eq!(
        s.pull(&b, 0, 100, &resident(&DeviceId::new()?)?)?
            .changes
            .len(),
        9
    );
    Ok(())
}

pub(crate) fn pull_sends_restricted_documents_only_to_readers(s: &dyn Storage) -> Outcome {
    let (b, creator) = setup(s)?;
    let mut enrolled = Vec::new();
    for code in ["HELPER", "STRANGER"] {
        let inv = invite(s, &b, code, Role::Resident, 1, None)?;
        enrolled.push(enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?);
    }
    let [helper, stranger] = [&enrolled[0], &enrolled[1]];
    let me = &creator.joined.device;
    let member = |e: &Enrolled| e.joined.member.clone();
    let as_member = |e: &Enrolled, coordinator: bool| Puller {
        device: e.joined.device.clone(),
        member: e.joined.member.clone(),
        coordinator,
    };
    // seq 1: a buurt document; 2–3: a participants-only one by the creator; 4: a change that
    // grants it to the helper; 5: organisers-only.
    let creator_m = member(&creator);
    let helper_m = member(helper);
    let outcome = s.append(&[batch(
        &b,
        me,
        vec![
            change(1, 1),
            restricted(2, 2, Audience::Participants, &[&creator_m]),
            restricted(2, 3, Audience::Buurt, &[]),
            restricted(2, 4, Audience::Participants, &[&helper_m]),
            restricted(3, 5, Audience::Organisers, &[&creator_m]),
            // A duplicate grants nothing.
            restricted(3, 5, Audience::Organisers, &[&member(stranger)]),
        ],
    )])?;
    assert_eq!(outcome[0].appended[5], Appended::Duplicate);
    let seqs = |p: &Puller| -> Result<Vec<u64>, Box<dyn std::error::Error>> {
        Ok(s.pull(&b, 0, 100, p)?
            .changes
            .iter()
            .map(|c| c.seq)
            .collect())
    };
    // The stranger reads only the buurt document; the cursor still reaches the head.
    assert_eq!(seqs(&as_member(stranger, false))?, [1]);
    assert_eq!(s.pull(&b, 0, 100, &as_member(stranger, false))?.cursor, 5);
    // The helper reads the document granted to them, all of it from the log (the second
    // change recorded no audience of its own: the document's first change fixed it).
    assert_eq!(seqs(&as_member(helper, false))?, [1, 2, 3, 4]);
    // A coordinator reads everything.
    assert_eq!(seqs(&as_member(stranger, true))?, [1, 2, 3, 4, 5]);
    // Paging counts only what the puller reads.
    let p = s.pull(&b, 0, 1, &as_member(stranger, false))?;
    assert_eq!((p.changes.len(), p.cursor, p.more), (1, 5, false));
    let p = s.pull(&b, 1, 2, &as_member(helper, false))?;
    assert_eq!((p.cursor, p.more), (3, true));
    Ok(())
}

pub(crate) fn doc_changes_are_in_order_and_scoped_to_the_buurt(s: &dyn Storage) -> Outcome {
    let (a, ea) = setup(s)?;
    let (b, _) = setup(s)?;
    s.append(&[batch(
        &a,
        &ea.joined.device,
        vec![change(1, 3), change(2, 1), change(1, 2)],
    )])?;
    let got = s.doc_changes(&a, &[1; 16])?;
    assert_eq!(got, vec![([3; 32], vec![1, 3]), ([2; 32], vec![1, 2])]);
    assert!(s.doc_changes(&b, &[1; 16])?.is_empty());
    assert!(s.doc_changes(&a, &[7; 16])?.is_empty());
    Ok(())
}

pub(crate) fn unknown_buurt_is_not_found(s: &dyn Storage) -> Outcome {
    let nobody = BuurtId::new()?;
    assert!(matches!(
        s.head(&nobody),
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.pull(&nobody, 0, 1, &resident(&DeviceId::new()?)?),
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.members(&nobody),
        Err(StorageError::NotFound { .. })
    ));
    assert!(matches!(
        s.devices(&nobody),
        Err(StorageError::NotFound { .. })
    ));
    Ok(())
}

pub(crate) fn uploads_and_photos_are_recorded_and_counted(s: &dyn Storage) -> Outcome {
    let (b, e) = setup(s)?;
    let d = e.joined.device.clone();
    let (h, other) = ([5; 32], [6; 32]);
    assert_eq!(s.upload(&d, &h)?, None);
    assert_eq!(s.blob_bytes(&d)?, 0);
    let mut row = UploadRow {
        length: 1_000,
        offset: 100,
        updated_at: NOW,
    };
    s.set_upload(&d, &h, &row)?;
    assert_eq!(s.upload(&d, &h)?, Some(row));
    row.offset = 600;
    row.updated_at = NOW + 1;
    s.set_upload(&d, &h, &row)?;
    assert_eq!(s.upload(&d, &h)?, Some(row));
    s.set_upload(
        &d,
        &other,
        &UploadRow {
            length: 50,
            offset: 0,
            updated_at: NOW,
        },
    )?;
    // The quota counts uploads in progress by their declared length.
    assert_eq!(s.blob_bytes(&d)?, 1_050);
    assert!(s.drop_upload(&d, &other)?);
    assert!(!s.drop_upload(&d, &other)?);
    assert_eq!(s.blob_bytes(&d)?, 1_000);
    assert!(matches!(
        s.set_upload(&DeviceId::new()?, &h, &row),
        Err(StorageError::NotFound { .. })
    ));

    assert_eq!(s.blob(&h)?, None);
    s.complete_blob(&d, &h, "image/jpeg", 1_000, NOW + 2)?;
    let blob = s.blob(&h)?.unwrap();
    assert_eq!(
        (
            blob.mime.as_str(),
            blob.size,
            &blob.uploaded_by,
            blob.created_at
        ),
        ("image/jpeg", 1_000, &d, NOW + 2)
    );
    assert_eq!(s.upload(&d, &h)?, None, "completing forgets the upload");
    assert_eq!(s.blob_bytes(&d)?, 1_000, "a completed photo counts once");
    assert_eq!(s.held_blob(&d, &h)?, Some(1_000));

    // A second member's device completing the same photo: stored once (the first uploader's
    // row stays), held by both, each upload charged to its own device.
    let code = DeviceId::new()?.to_string();
    let inv = invite(s, &b, &code, Role::Resident, 1, None)?;
    let e2 = enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?;
    assert_eq!(s.held_blob(&e2.joined.device, &h)?, None);
    s.set_upload(&e2.joined.device, &h, &row)?;
    s.complete_blob(&e2.joined.device, &h, "image/png", 1_000, NOW + 3)?;
    assert_eq!(s.blob(&h)?.unwrap().uploaded_by, d);
    assert_eq!(s.blob(&h)?.unwrap().mime, "image/jpeg");
    assert_eq!(s.blob_bytes(&e2.joined.device)?, 1_000);
    assert_eq!(s.upload(&e2.joined.device, &h)?, None);
    assert_eq!(s.held_blob(&e2.joined.device, &h)?, Some(1_000));
    Ok(())
}

pub(crate) fn expired_uploads_are_forgotten_and_returned(s: &dyn Storage) -> Outcome {
    let (_, e) = setup(s)?;
    let d = e.joined.device.clone();
    let at = |updated_at| UploadRow {
        length: 10,
        offset: 1,
        updated_at,
    };
    s.set_upload(&d, &[1; 32], &at(NOW - 10))?;
    s.set_upload(&d, &[2; 32], &at(NOW))?;
    assert_eq!(s.expire_uploads(NOW)?, vec![(d.clone(), [1; 32])]);
    assert_eq!(s.upload(&d, &[1; 32])?, None);
    assert_eq!(s.upload(&d, &[2; 32])?, Some(at(NOW)));
    assert!(s.expire_uploads(NOW)?.is_empty());
    Ok(())
}

/// A photo reference attached by the member `e` enrolled.
fn cite(hash: [u8; 32], e: &Enrolled) -> PhotoRef {
    PhotoRef {
        hash,
        by: e.joined.member.clone(),
    }
}

/// Records `e`'s device as having uploaded `hash` whole.
fn hold(s: &dyn Storage, e: &Enrolled, hash: [u8; 32]) -> Outcome {
    s.complete_blob(&e.joined.device, &hash, "image/jpeg", 10, NOW)?;
    Ok(())
}

pub(crate) fn photos_are_readable_as_the_documents_referencing_them(s: &dyn Storage) -> Outcome {
    let (a, ea) = setup(s)?;
    let (b, eb) = setup(s)?;
    let helper = MemberId::new()?;
    let (open, closed, nowhere) = ([9; 32], [8; 32], [7; 32]);
    for h in [open, closed, nowhere] {
        hold(s, &ea, h)?;
    }
    s.append(&[batch(
        &a,
        &ea.joined.device,
        vec![
            NewChange {
                photos: vec![cite(open, &ea)],
                ..change(1, 1)
            },
            NewChange {
                photos: vec![cite(closed, &ea)],
                ..restricted(2, 2, Audience::Organisers, &[&helper])
            },
            // A later change of the same document referencing the same photo: one reference.
            NewChange {
                photos: vec![cite(open, &ea)],
                ..change(1, 3)
            },
        ],
    )])?;
    let as_member = |member: &MemberId, coordinator: bool| Puller {
        device: eb.joined.device.clone(),
        member: member.clone(),
        coordinator,
    };
    let resident = as_member(&MemberId::new()?, false);
    assert!(s.blob_readable(&a, &open, &resident)?);
    assert!(!s.blob_readable(&a, &closed, &resident)?);
    assert!(s.blob_readable(&a, &closed, &as_member(&helper, false))?);
    assert!(s.blob_readable(&a, &closed, &as_member(&MemberId::new()?, true))?);
    assert!(!s.blob_readable(&a, &nowhere, &as_member(&helper, true))?);
    // Another buurt's members never read it, whatever their role.
    assert!(!s.blob_readable(&b, &open, &as_member(&helper, true))?);
    assert!(!s.blob_readable(&BuurtId::new()?, &open, &resident)?);
    Ok(())
}

/// The same bytes uploaded in two buurten are stored once but held twice; a reference serves
/// a photo only when its attacher holds it in the document's buurt.
pub(crate) fn photos_are_held_per_buurt_and_member(s: &dyn Storage) -> Outcome {
    let (a, ea) = setup(s)?;
    let (b, eb) = setup(s)?;
    let code = DeviceId::new()?.to_string();
    let inv = invite(s, &a, &code, Role::Resident, 1, None)?;
    let snoop = enrol(s, inv, &MemberId::new()?, &[ActorId::random()])?;
    let (photo, other) = ([3; 32], [4; 32]);
    hold(s, &ea, photo)?;
    // Held by its uploader only, in its buurt only.
    assert_eq!(s.held_blob(&ea.joined.device, &photo)?, Some(10));
    assert_eq!(s.held_blob(&snoop.joined.device, &photo)?, None);
    assert_eq!(s.held_blob(&eb.joined.device, &photo)?, None);
    assert_eq!(s.held_blob(&DeviceId::new()?, &photo)?, None);

    // Someone who merely knows the hash references it from a document of their own: in their
    // buurt (b) and in the photo's (a). Neither reference serves it, to anyone.
    s.append(&[
        batch(
            &b,
            &eb.joined.device,
            vec![NewChange {
                photos: vec![cite(photo, &eb)],
                ..change(11, 11)
            }],
        ),
        batch(
            &a,
            &snoop.joined.device,
            vec![NewChange {
                photos: vec![cite(photo, &snoop), cite(other, &snoop)],
                ..change(12, 12)
            }],
        ),
    ])?;
    let reader = |e: &Enrolled, coordinator: bool| Puller {
        device: e.joined.device.clone(),
        member: e.joined.member.clone(),
        coordinator,
    };
    assert!(!s.blob_readable(&b, &photo, &reader(&eb, true))?);
    assert!(!s.blob_readable(&a, &photo, &reader(&snoop, true))?);
    assert!(!s.blob_readable(&a, &photo, &reader(&ea, true))?);

    // The uploader's own reference serves it (the order does not matter: here the reference
    // came first and the upload after, as an offline device does).
    s.append(&[batch(
        &a,
        &ea.joined.device,
        vec![NewChange {
            photos: vec![cite(other, &ea)],
            ..change(13, 13)
        }],
    )])?;
    assert!(!s.blob_readable(&a, &other, &reader(&snoop, false))?);
    hold(s, &ea, other)?;
    assert!(s.blob_readable(&a, &other, &reader(&snoop, false))?);

    // The same bytes uploaded in buurt b by its member: stored once, held there too, and now
    // b's reference (by that member) serves b's readers.
    hold(s, &eb, photo)?;
    assert_eq!(s.held_blob(&eb.joined.device, &photo)?, Some(10));
    assert!(s.blob_readable(&b, &photo, &reader(&eb, false))?);
    // Buurt a still has no reference by a holder.
    assert!(!s.blob_readable(&a, &photo, &reader(&snoop, false))?);
    Ok(())
}

/// Parallel upload starts of one device, each alone within the quota, reserve at most the
/// quota together; a refused start writes nothing.
pub(crate) fn parallel_upload_starts_never_exceed_the_quota(s: &dyn Storage) -> Outcome {
    let (_, e) = setup(s)?;
    let d = e.joined.device.clone();
    let (quota, each, starts) = (20_000_000u64, 6_000_000u64, 8u8);
    hold(s, &e, [200; 32])?;
    let row = UploadRow {
        length: each,
        offset: 0,
        updated_at: NOW,
    };
    let barrier = std::sync::Barrier::new(usize::from(starts));
    let results: Vec<Result<(), u64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..starts)
            .map(|i| {
                let (d, barrier) = (&d, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    s.start_upload(d, &[i; 32], &row, quota)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a start panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    let won = results.iter().filter(|r| r.is_ok()).count() as u64;
    // 10 bytes held + 3 × 6 MB fit in 20 MB; a fourth does not.
    assert_eq!(won, 3, "{results:?}");
    assert_eq!(s.blob_bytes(&d)?, 10 + won * each);
    assert!(s.blob_bytes(&d)? <= quota);
    for (i, r) in (0..starts).zip(&results) {
        assert_eq!(s.upload(&d, &[i; 32])?.is_some(), r.is_ok(), "start {i}");
        if let Err(used) = r {
            assert!(used + each > quota, "refused at {used}");
        }
    }
    // Restarting an upload already reserved does not count it twice.
    let first = (0..starts)
        .zip(&results)
        .find_map(|(i, r)| r.is_ok().then_some(i))
        .unwrap();
    assert_eq!(s.start_upload(&d, &[first; 32], &row, quota)?, Ok(()));
    assert!(matches!(
        s.start_upload(&DeviceId::new()?, &[1; 32], &row, quota),
        Err(StorageError::NotFound { .. })
    ));
    Ok(())
}
