//! Attacks on the order of things by their time: a back-dated RSVP or claim that would win a
//! race it lost, a request dated year 9999 that would top every list (issue 11, finding 3).
//! The relay refuses an entry whose `at` is not after every entry its change depends on, or
//! before its document's `created_at`, and a new document whose `created_at` is more than 30
//! days behind or 24 h ahead of its clock: `rejected` with `bad_time`, nothing stored.

use automerge::transaction::Transactable;
use automerge::{ActorId, AutoCommit, ObjType, ROOT, ReadDoc};
use noaber_core::model::event::{NewEvent, Rsvp};
use noaber_core::model::task::NewTask;
use noaber_core::sync::wire::{self, PushChange, SyncRequest, SyncResponse};
use noaber_core::{EntityId, Role};
use noaber_relay::BuurtId;

use crate::support::{Device, TestRelay, TestResult, now_ms};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

/// The device's Automerge actor.
pub fn actor_of(d: &Device) -> TestResult<ActorId> {
    Ok(ActorId::try_from(d.store.identity().actor.as_str())?)
}

/// A log entry as an attacker writes it by hand on their copy of `id`: `by` and `role` are
/// theirs (the relay checks those), `t`, the fields and `at` whatever they like.
pub fn raw_entry(
    d: &Device,
    id: &EntityId,
    t: &str,
    fields: &[(&str, &str)],
    at: i64,
) -> TestResult<Vec<u8>> {
    let mut doc = AutoCommit::load(&d.store.document_bytes(id)?)?.with_actor(actor_of(d)?);
    let log = match doc.get(ROOT, "log")? {
        Some((automerge::Value::Object(ObjType::Map), log)) => log,
        _ => return Err("no log".into()),
    };
    let e = doc.put_object(&log, format!("forged{at}"), ObjType::Map)?;
    let identity = d.store.identity();
    doc.put(&e, "t", t)?;
    doc.put(&e, "by", identity.member.as_str())?;
    doc.put(&e, "role", identity.role.as_str())?;
    doc.put(&e, "at", at)?;
    for (k, v) in fields {
        doc.put(&e, *k, *v)?;
    }
    doc.commit();
    let change = doc.get_last_local_change().ok_or("no change")?;
    Ok(change.raw_bytes().to_vec())
}

/// Pushes one hand-made change for `id` (pulling nothing new: the cursor is the device's).
pub async fn push_raw(
    relay: &TestRelay,
    d: &Device,
    id: &EntityId,
    change: Vec<u8>,
) -> TestResult<SyncResponse> {
    let req = SyncRequest {
        v: 1,
        cursor: d.cursor,
        push: vec![PushChange {
            doc: wire::doc_bytes(id),
            change,
        }],
        max: None,
    };
    Ok(relay
        .sync(d.token(), &req)
        .await?
        .map_err(|e| format!("{e:?}"))?)
}

/// How many changes the relay stores for `id`.
fn stored(relay: &TestRelay, buurt: &BuurtId, id: &EntityId) -> TestResult<usize> {
    let doc: [u8; 16] = wire::doc_bytes(id).try_into().map_err(|_| "id")?;
    Ok(relay.storage().doc_changes(buurt, &doc)?.len())
}

/// An organiser and two residents, all synced.
async fn neighbours(relay: &TestRelay) -> TestResult<(BuurtId, Device, Device, Device)> {
    let (buurt, org_code) = relay.buurt("Tijd")?;
    let org = Device::join(relay, &org_code, "Olga", Role::Organiser).await?;
    let code = relay.invite(&buurt, Role::Resident, 2)?;
    let first = Device::join(relay, &code, "Fien", Role::Resident).await?;
    let attacker = Device::join(relay, &code, "Aart", Role::Resident).await?;
    Ok((buurt, org, first, attacker))
}

/// Pushes `change` and checks the relay refused it with `bad_time`, storing nothing.
async fn refused(
    relay: &TestRelay,
    buurt: &BuurtId,
    d: &Device,
    id: &EntityId,
    change: Vec<u8>,
) -> TestResult {
    let before = stored(relay, buurt, id)?;
    let resp = push_raw(relay, d, id, change).await?;
    assert_eq!(resp.rejected.len(), 1, "{:?}", resp.rejected);
    assert_eq!(resp.rejected[0].code, "bad_time");
    assert_eq!(stored(relay, buurt, id)?, before, "nothing stored");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_dated_rsvp_is_refused_and_the_first_comer_keeps_the_last_place() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, mut org, mut first, mut attacker) = neighbours(&relay).await?;
    let mut new = NewEvent::new(
        "Workshop",
        "Buurthuis",
        now_ms() + DAY,
        now_ms() + DAY + HOUR,
    );
    new.capacity = Some(1);
    let id = org.store.create_event(&new)?;
    org.sync_all(&relay).await?;
    first.sync_all(&relay).await?;
    first.store.rsvp_event(&id, Rsvp::Going)?;
    first.sync_all(&relay).await?;
    attacker.sync_all(&relay).await?;
    let first_at = first.store.event(&id)?.confirmed[0].since;

    // The attack: an RSVP written after seeing the first comer's, dated before it (a second
    // earlier, at the same millisecond, at 1).
    let going = [("status", "going"), ("seen", "confirmed")];
    for at in [first_at - 1_000, first_at, 1] {
        let change = raw_entry(&attacker, &id, "rsvp", &going, at)?;
        refused(&relay, &buurt, &attacker, &id, change).await?;
    }

    // The relay keeps serving: the attacker's honest RSVP goes on the waitlist, and everyone
    // sees the first comer in the place.
    attacker.store.rsvp_event(&id, Rsvp::Going)?;
    attacker.sync_all(&relay).await?;
    org.sync_all(&relay).await?;
    let v = org.store.event(&id)?;
    assert_eq!(v.confirmed.len(), 1);
    assert_eq!(v.confirmed[0].member, first.store.identity().member);
    assert_eq!(v.waitlist[0].member, attacker.store.identity().member);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_dated_1_cannot_take_over_an_adopted_task() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, mut org, mut adopter, mut attacker) = neighbours(&relay).await?;
    let id = org.store.create_task(&NewTask::new("Bankje schilderen"))?;
    org.sync_all(&relay).await?;
    adopter.sync_all(&relay).await?;
    adopter.store.claim_task(&id)?;
    adopter.sync_all(&relay).await?;
    attacker.sync_all(&relay).await?;
    let created_at = org.store.task(&id)?.created_at;

    for at in [1, created_at] {
        let change = raw_entry(&attacker, &id, "claim", &[("as", "adopter")], at)?;
        refused(&relay, &buurt, &attacker, &id, change).await?;
    }

    org.sync_all(&relay).await?;
    assert_eq!(
        org.store.task(&id)?.adopter,
        Some(adopter.store.identity().member)
    );
    Ok(())
}

/// A hand-made new help request dated `created_at`.
fn dated_request(d: &Device, id: &EntityId, created_at: i64) -> TestResult<Vec<u8>> {
    let identity = d.store.identity();
    let mut doc = AutoCommit::new().with_actor(actor_of(d)?);
    doc.put(ROOT, "schema", 1i64)?;
    doc.put(ROOT, "kind", "help")?;
    doc.put(ROOT, "id", id.as_str())?;
    doc.put(ROOT, "created_at", created_at)?;
    doc.put(ROOT, "created_by", identity.member.as_str())?;
    doc.put(ROOT, "created_role", identity.role.as_str())?;
    doc.put_object(ROOT, "log", ObjType::Map)?;
    doc.put_object(ROOT, "comments", ObjType::Map)?;
    doc.put(ROOT, "mode", "ask")?;
    doc.put(ROOT, "category", "groceries")?;
    let title = doc.put_object(ROOT, "title", ObjType::Text)?;
    doc.splice_text(&title, 0, 0, "Bovenaan")?;
    doc.commit();
    let change = doc.get_last_local_change().ok_or("no change")?;
    Ok(change.raw_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_dated_year_9999_or_100_days_ago_is_refused() -> TestResult {
    let relay = TestRelay::start().await?;
    let (buurt, mut org, _, mut attacker) = neighbours(&relay).await?;
    attacker.sync_all(&relay).await?;
    let year_9999 = 253_402_300_799_000;
    for created_at in [year_9999, now_ms() + 2 * DAY, now_ms() - 100 * DAY] {
        let id = EntityId::new()?;
        let change = dated_request(&attacker, &id, created_at)?;
        refused(&relay, &buurt, &attacker, &id, change).await?;
    }
    // Within the window (a phone offline for three weeks): accepted, and the organiser's
    // sync still works and receives only that one.
    let id = EntityId::new()?;
    let change = dated_request(&attacker, &id, now_ms() - 21 * DAY)?;
    let resp = push_raw(&relay, &attacker, &id, change).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let resp = org.sync(&relay).await?;
    assert_eq!(resp.pull.len(), 1);
    assert_eq!(wire::doc_id(&resp.pull[0].doc)?, id);
    Ok(())
}

/// The clock window is the relay's injected clock, not the system's: once the relay's clock is
/// moved three days ahead, a request dated two days after the system's now (refused above) is
/// accepted, and one dated the system's now minus 89 days (92 behind the relay) is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_window_follows_the_relays_injected_clock() -> TestResult {
    let clock = std::sync::Arc::new(noaber_relay::ManualClock::new(now_ms()));
    let relay = TestRelay::start_with_clock(clock.clone()).await?;
    let (buurt, _, _, mut attacker) = neighbours(&relay).await?;
    attacker.sync_all(&relay).await?;
    clock.advance(3 * DAY);
    let ahead = EntityId::new()?;
    let change = dated_request(&attacker, &ahead, now_ms() + 2 * DAY)?;
    let resp = push_raw(&relay, &attacker, &ahead, change).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert_eq!(stored(&relay, &buurt, &ahead)?, 1);
    let behind = EntityId::new()?;
    let change = dated_request(&attacker, &behind, now_ms() - 89 * DAY)?;
    refused(&relay, &buurt, &attacker, &behind, change).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_after_what_it_depends_on_is_accepted_whatever_the_clock() -> TestResult {
    // What honest devices write is never refused: an entry one millisecond after the latest
    // it saw (a device whose clock is behind) is accepted.
    let relay = TestRelay::start().await?;
    let (_, mut org, mut first, mut other) = neighbours(&relay).await?;
    let id = org.store.create_task(&NewTask::new("Tegels vegen"))?;
    org.sync_all(&relay).await?;
    first.sync_all(&relay).await?;
    first.store.claim_task(&id)?;
    first.sync_all(&relay).await?;
    other.sync_all(&relay).await?;
    let doc = AutoCommit::load(&other.store.document_bytes(&id)?)?;
    let latest = doc
        .get(ROOT, "log")?
        .and_then(|(_, log)| {
            doc.map_range(&log, ..)
                .filter_map(|e| doc.get(e.id(), "at").ok().flatten())
                .filter_map(|(v, _)| v.as_i64())
                .max()
        })
        .ok_or("no entry")?;
    let change = raw_entry(&other, &id, "claim", &[("as", "backup")], latest + 1)?;
    let resp = push_raw(&relay, &other, &id, change).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    Ok(())
}
