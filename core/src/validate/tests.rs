//! The validator's tests: changes made by honest stores, and changes forged on the document.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use automerge::legacy::{Key, OpType};
use automerge::{ActorId, AutoCommit, Change, ObjId, ObjType, ROOT, ReadDoc, ScalarValue};

use crate::doc;
use crate::ids::{EntityId, MemberId};
use crate::model::{Kind, Role};

use std::collections::HashMap;
use std::io::Write;

use automerge::transaction::Transactable;

use super::*;
use crate::model::Ctx;
use crate::model::event::{EventEdit, NewEvent, Rsvp};
use crate::model::help::{HelpStatus, NewHelp};
use crate::model::profile::{NewProfile, ProfileEdit};
use crate::model::report::{NewReport, PhotoRef, ReportStatus, ReportTransition};
use crate::model::task::{NewTask, Outcome, TaskEdit, TaskSchedule};
use crate::store::Store;
use crate::testing::{DAY, Device, HOUR};

type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

/// Tuesday 2025-03-25 12:00 UTC.
const T0: i64 = 1_742_904_000_000;
const MAX_BYTES: usize = 1 << 20;
const MAX_INFLATED: usize = 4 << 20;

/// A phone whose clock reads `T0`.
fn phone(role: Role) -> crate::Result<Store> {
    phone_at(role, T0)
}

fn member(s: &Store) -> MemberId {
    s.identity().member
}

fn actor(s: &Store) -> ActorId {
    ActorId::try_from(s.identity().actor.as_str()).unwrap()
}

fn pusher(s: &Store) -> Pusher {
    let id = s.identity();
    Pusher {
        member: id.member,
        role: id.role,
        actors: vec![actor(s)],
        not_after: Some(s.now_ms() + 86_400_000),
        created_not_before: Some(s.now_ms() - 30 * 86_400_000),
    }
}

fn ctx(member: &MemberId, role: Role) -> Ctx {
    Ctx {
        member: member.clone(),
        role,
        household: None,
        now: T0 + HOUR,
    }
}

/// Commits what was written on a forged copy and returns that change.
fn last(d: &mut AutoCommit) -> Change {
    d.commit();
    d.get_last_local_change().unwrap()
}

fn code(r: Result<(), Rejection>) -> &'static str {
    match r {
        Ok(()) => "accepted",
        Err(r) => {
            assert!(REJECTION_CODES.contains(&r.code), "{r}");
            assert!(!r.reason.is_empty() && !r.reason.ends_with('.'), "{r}");
            assert_eq!(r.reason, r.reason.to_lowercase(), "{r}");
            r.code
        }
    }
}

fn log_entry(d: &AutoCommit, id: &str) -> ObjId {
    let log = doc::get_obj(d, &ROOT, "log", ObjType::Map).unwrap();
    doc::get_obj(d, &log, id, ObjType::Map).unwrap()
}

fn comment_obj(d: &AutoCommit, id: &str) -> ObjId {
    let map = doc::get_obj(d, &ROOT, "comments", ObjType::Map).unwrap();
    doc::get_obj(d, &map, id, ObjType::Map).unwrap()
}

/// A relay's side: its own copy of every document, built only from changes it accepted.
#[derive(Default)]
struct Relay {
    docs: HashMap<EntityId, AutoCommit>,
}

impl Relay {
    /// What a relay does with pushed bytes: bounds, decode, check, then apply.
    fn accept(&mut self, entity: &EntityId, bytes: &[u8], p: &Pusher) -> Result<(), Rejection> {
        check_bounds(bytes, MAX_BYTES, MAX_INFLATED)?;
        let change = Change::from_bytes(bytes.to_vec())
            .map_err(|_| reject(BAD_CHANGE, "does not decode"))?;
        check_change(self.docs.get(entity), entity, &change, p)?;
        self.docs
            .entry(entity.clone())
            .or_default()
            .apply_changes([change])
            .unwrap();
        Ok(())
    }

    fn check(&self, entity: &EntityId, change: &Change, p: &Pusher) -> Result<(), Rejection> {
        check_change(self.docs.get(entity), entity, change, p)
    }

    /// Pushes every pending change of every phone (each must be accepted), then delivers
    /// all of them to every phone.
    fn sync(&mut self, phones: &[&Store]) -> TestResult {
        let mut batch = Vec::new();
        for s in phones {
            let p = pusher(s);
            let mut seqs = Vec::new();
            for c in s.pending_changes(10_000)? {
                self.accept(&c.entity, &c.bytes, &p)
                    .map_err(|r| format!("an honest {} was refused: {r}", p.role.as_str()))?;
                seqs.push(c.seq);
                batch.push((c.entity, c.bytes));
            }
            s.ack_changes(&seqs)?;
        }
        for s in phones {
            s.apply_remote_changes(&batch)?;
        }
        Ok(())
    }

    /// Gives a phone that joined late every change the relay holds.
    fn catch_up(&self, s: &Store) -> TestResult {
        let mut batch = Vec::new();
        for (id, d) in &self.docs {
            for c in d.clone().get_changes(&[]) {
                batch.push((id.clone(), c.raw_bytes().to_vec()));
            }
        }
        s.apply_remote_changes(&batch)?;
        Ok(())
    }

    /// A copy of the relay's document to forge a change on, written by `actor`.
    fn forge(&self, entity: &EntityId, actor: ActorId) -> AutoCommit {
        self.docs[entity].clone().with_actor(actor)
    }
}

/// Adds, edits and withdraws a comment by `author`, through the relay.
fn comment_round(relay: &mut Relay, all: &[&Store], id: &EntityId, author: &Store) -> TestResult {
    let c = author.add_comment(id, "Goed idee")?;
    relay.sync(all)?;
    author.edit_comment(id, &c, "Heel goed idee")?;
    relay.sync(all)?;
    author.withdraw_comment(id, &c)?;
    relay.sync(all)?;
    Ok(())
}

// -----------------------------------------------------------------------------------------
// Every honest operation of every kind, by the roles that may take it, is accepted.

#[test]
fn honest_help_operations_are_accepted() -> TestResult {
    let req = phone(Role::Resident)?;
    let helper = phone(Role::Resident)?;
    let org = phone(Role::Organiser)?;
    let all = [&req, &helper, &org];
    let mut relay = Relay::default();
    let id = req.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    relay.sync(&all)?;
    helper.respond_help(&id, "ik kan")?;
    relay.sync(&all)?;
    // concurrent title edits by the requester and an organiser
    org.edit_help(&id, Some("Boodschappen zaterdag"), None)?;
    req.edit_help(&id, Some("Boodschappen Spar"), Some("Bij de Spar"))?;
    relay.sync(&all)?;
    req.match_help(&id, &member(&helper))?;
    relay.sync(&all)?;
    helper.complete_help(&id)?;
    relay.sync(&all)?;
    helper.thank_help(&id, "graag gedaan")?;
    req.thank_help(&id, "dank je")?;
    relay.sync(&all)?;
    comment_round(&mut relay, &all, &id, &helper)?;
    comment_round(&mut relay, &all, &id, &req)?;
    assert_eq!(org.help(&id)?.status, HelpStatus::Done);

    let id2 = req.create_help(&NewHelp::ask("odd_jobs", "Lamp ophangen"))?;
    relay.sync(&all)?;
    helper.respond_help(&id2, "")?;
    relay.sync(&all)?;
    org.match_help(&id2, &member(&helper))?;
    relay.sync(&all)?;
    helper.unmatch_help(&id2)?;
    relay.sync(&all)?;
    helper.withdraw_help_response(&id2)?;
    relay.sync(&all)?;
    org.cancel_help(&id2, "al geregeld")?;
    relay.sync(&all)?;
    assert_eq!(req.help(&id2)?.status, HelpStatus::Cancelled);
    Ok(())
}

#[test]
fn honest_event_operations_are_accepted() -> TestResult {
    let org = phone(Role::Organiser)?;
    let staff = phone(Role::Staff)?;
    let r1 = phone(Role::Resident)?;
    let r2 = phone(Role::Resident)?;
    let r3 = phone(Role::Resident)?;
    let all = [&org, &staff, &r1, &r2, &r3];
    let mut relay = Relay::default();
    let mut new = NewEvent::new("Barbecue", "Speeltuin", T0 + DAY, T0 + DAY + 3 * HOUR);
    new.capacity = Some(2);
    new.point = Some((52.37, 4.89));
    let id = org.create_event(&new)?;
    relay.sync(&all)?;
    for r in [&r1, &r2, &r3] {
        r.rsvp_event(&id, Rsvp::Going)?; // offline, concurrently
    }
    relay.sync(&all)?;
    r1.rsvp_event(&id, Rsvp::Declined)?;
    r3.rsvp_event(&id, Rsvp::Maybe)?;
    relay.sync(&all)?;
    org.edit_event(
        &id,
        &EventEdit {
            title: Some("Buurtbarbecue".into()),
            capacity: Some(Some(3)),
            ..Default::default()
        },
    )?;
    staff.edit_event(
        &id,
        &EventEdit {
            description: Some("Neem een bord mee".into()),
            starts_at: Some(T0 + DAY + HOUR),
            place: Some("Binnentuin".into()),
            ..Default::default()
        },
    )?;
    relay.sync(&all)?;
    org.edit_event(
        &id,
        &EventEdit {
            point: Some(None),
            capacity: Some(None),
            ..Default::default()
        },
    )?;
    relay.sync(&all)?;
    let role = org.add_event_role(&id, "Bar", "")?;
    relay.sync(&all)?;
    let shift = org.add_event_shift(&id, &role, T0 + DAY, T0 + DAY + HOUR, 2)?;
    relay.sync(&all)?;
    r2.signup_shift(&id, &shift)?;
    r3.signup_shift(&id, &shift)?;
    relay.sync(&all)?;
    r2.withdraw_shift(&id, &shift)?;
    relay.sync(&all)?;
    comment_round(&mut relay, &all, &id, &r1)?;
    // the creator may edit even after losing the organiser role
    org.set_identity(Role::Resident, None, None)?;
    org.edit_event(
        &id,
        &EventEdit {
            title: Some("Barbecue!".into()),
            ..Default::default()
        },
    )?;
    relay.sync(&all)?;
    staff.cancel_event(&id, "regen")?;
    relay.sync(&all)?;
    assert_eq!(r1.event(&id)?.title, "Barbecue!");
    Ok(())
}

#[test]
fn honest_task_operations_are_accepted() -> TestResult {
    let res = phone(Role::Resident)?;
    let car = phone(Role::Caretaker)?;
    let a = phone(Role::Resident)?;
    let b = phone(Role::Resident)?;
    let all = [&res, &car, &a, &b];
    let mut relay = Relay::default();
    let id = res.create_task(&NewTask::new("Bankje schilderen"))?;
    relay.sync(&all)?;
    car.edit_task(
        &id,
        &TaskEdit {
            title: Some("Bankje verven".into()),
            point: Some(Some((52.0, 4.0))),
            schedule: Some(TaskSchedule {
                rrule: Some("FREQ=WEEKLY".into()),
                dtstart: Some("2025-03-25".into()),
                tz: None,
            }),
            ..Default::default()
        },
    )?;
    relay.sync(&all)?;
    res.edit_task(
        &id,
        &TaskEdit {
            description: Some("Groene verf".into()),
            location_label: Some("Speeltuin".into()),
            point: Some(None),
            ..Default::default()
        },
    )?;
    relay.sync(&all)?;
    a.claim_task(&id)?;
    b.claim_task(&id)?;
    relay.sync(&all)?;
    // the two claims raced: one adopts, the other is backup
    let (adopter, backup) = if res.task(&id)?.adopter == Some(member(&a)) {
        (&a, &b)
    } else {
        (&b, &a)
    };
    let item = backup.add_checklist_item(&id, "Schuren")?;
    relay.sync(&all)?;
    adopter.remove_checklist_item(&id, &item)?;
    relay.sync(&all)?;
    adopter.pause_task(&id)?;
    relay.sync(&all)?;
    car.resume_task(&id)?;
    relay.sync(&all)?;
    backup.record_occurrence(&id, "2025-03-25", Outcome::Done, "klaar")?;
    relay.sync(&all)?;
    adopter.release_task(&id)?;
    relay.sync(&all)?;
    comment_round(&mut relay, &all, &id, &b)?;

    let pledged = res.create_task(&NewTask {
        pledge_target: Some(2),
        ..NewTask::new("Plantenbak")
    })?;
    relay.sync(&all)?;
    a.pledge_task(&pledged)?;
    b.pledge_task(&pledged)?;
    relay.sync(&all)?;
    a.unpledge_task(&pledged)?;
    relay.sync(&all)?;
    assert_eq!(res.task(&pledged)?.pledges.len(), 1);
    Ok(())
}

#[test]
fn honest_report_operations_are_accepted() -> TestResult {
    let res = phone(Role::Resident)?;
    let car = phone(Role::Caretaker)?;
    let org = phone(Role::Organiser)?;
    let staff = phone(Role::Staff)?;
    let other = phone(Role::Resident)?;
    let all = [&res, &car, &org, &staff, &other];
    let mut relay = Relay::default();
    let id = res.create_report(&NewReport {
        description: "Glas".into(),
        complex: Some("Complex 4".into()),
        ..NewReport::at("litter", 52.37, 4.89)
    })?;
    relay.sync(&all)?;
    res.edit_report(&id, "Glas bij de ingang")?;
    car.edit_report(&id, "Glasscherven")?;
    relay.sync(&all)?;
    other.me_too_report(&id)?;
    relay.sync(&all)?;
    other.withdraw_me_too(&id)?;
    relay.sync(&all)?;
    car.transition_report(&id, ReportTransition::Acknowledge)?;
    relay.sync(&all)?;
    org.set_report_responsible(&id, "Gemeente")?;
    org.set_report_response(&id, "We kijken ernaar")?;
    relay.sync(&all)?;
    res.attach_photo_ref(
        &id,
        &PhotoRef {
            hash: "a".repeat(64),
            mime: "image/jpeg".into(),
            size: 1_000,
            width: 10,
            height: 10,
        },
    )?;
    relay.sync(&all)?;
    car.transition_report(&id, ReportTransition::Resolve)?;
    relay.sync(&all)?;
    res.transition_report(&id, ReportTransition::Confirm)?;
    relay.sync(&all)?;
    comment_round(&mut relay, &all, &id, &other)?;
    assert_eq!(org.report(&id)?.status, ReportStatus::Confirmed);

    let id2 = other.create_report(&NewReport::at("graffiti", 52.0, 4.0))?;
    relay.sync(&all)?;
    staff.transition_report(
        &id2,
        ReportTransition::Reject {
            reason: "geen probleem".into(),
        },
    )?;
    relay.sync(&all)?;
    Ok(())
}

#[test]
fn honest_profile_operations_are_accepted() -> TestResult {
    let me = phone(Role::Resident)?;
    let other = phone(Role::Staff)?;
    let all = [&me, &other];
    let mut relay = Relay::default();
    let id = me.create_profile(&NewProfile {
        display_name: "Ans".into(),
        household: Some("Complex 4".into()),
        skills: vec!["fietsen".into(), "Turks".into()],
        availability: "avonden".into(),
    })?;
    relay.sync(&all)?;
    me.edit_profile(
        &id,
        &ProfileEdit {
            display_name: Some("Ans B.".into()),
            household: Some(String::new()),
            availability: Some("weekend".into()),
        },
    )?;
    relay.sync(&all)?;
    me.add_skill(&id, "koken")?;
    relay.sync(&all)?;
    me.remove_skill(&id, "fietsen")?;
    relay.sync(&all)?;
    comment_round(&mut relay, &all, &id, &other)?;
    assert_eq!(other.profile(&id)?.display_name, "Ans B.");
    Ok(())
}

// -----------------------------------------------------------------------------------------
// Hostile changes, forged on copies of the relay's documents.

/// An event by an organiser, with a resident's RSVP and a resident's comment.
struct World {
    relay: Relay,
    org: Store,
    res: Store,
    id: EntityId,
    comment: String,
}

fn world() -> std::result::Result<World, Box<dyn std::error::Error>> {
    let org = phone(Role::Organiser)?;
    let res = phone(Role::Resident)?;
    let mut relay = Relay::default();
    let mut new = NewEvent::new("Barbecue", "Speeltuin", T0 + DAY, T0 + DAY + HOUR);
    new.capacity = Some(10);
    let id = org.create_event(&new)?;
    relay.sync(&[&org, &res])?;
    res.rsvp_event(&id, Rsvp::Going)?;
    let comment = res.add_comment(&id, "Ik neem sla mee")?;
    relay.sync(&[&org, &res])?;
    Ok(World {
        relay,
        org,
        res,
        id,
        comment,
    })
}

impl World {
    fn forge(&self, by: &Store) -> AutoCommit {
        self.relay.forge(&self.id, actor(by))
    }

    fn check(&self, d: &mut AutoCommit, by: &Store) -> &'static str {
        code(self.relay.check(&self.id, &last(d), &pusher(by)))
    }

    fn entry_of(&self, by: &Store) -> String {
        doc::entries(&self.relay.docs[&self.id])
            .into_iter()
            .find(|e| e.by == member(by))
            .unwrap()
            .id
    }
}

#[test]
fn entries_and_comments_must_carry_a_sane_time() -> TestResult {
    let w = world()?;
    let now = w.res.now_ms();
    for (at, want) in [
        (now, "accepted"),
        (now + 86_400_000, "accepted"),
        (now + 86_400_001, BAD_TIME),
        (i64::MAX, BAD_TIME),
    ] {
        let mut d = w.forge(&w.res);
        let mut c = ctx(&member(&w.res), Role::Resident);
        c.now = at;
        doc::append_entry(&mut d, &c, "rsvp", &[])?;
        assert_eq!(w.check(&mut d, &w.res), want, "at = {at}");
        let mut d = w.forge(&w.res);
        crate::model::comment::add(&mut d, &c, "hallo")?;
        assert_eq!(w.check(&mut d, &w.res), want, "comment at = {at}");
    }
    Ok(())
}

#[test]
fn an_entry_must_carry_the_pushers_member_and_role() -> TestResult {
    let w = world()?;
    // honest: the resident's own entry in their own role
    let mut d = w.forge(&w.res);
    doc::append_entry(&mut d, &ctx(&member(&w.res), Role::Resident), "rsvp", &[])?;
    assert_eq!(w.check(&mut d, &w.res), "accepted");
    // someone else's `by`: the resident cancels "as the organiser"
    let mut d = w.forge(&w.res);
    doc::append_entry(
        &mut d,
        &ctx(&member(&w.org), Role::Organiser),
        "cancel",
        &[],
    )?;
    assert_eq!(w.check(&mut d, &w.res), FORGED_ENTRY);
    // their own `by` but a role they do not have
    let mut d = w.forge(&w.res);
    doc::append_entry(
        &mut d,
        &ctx(&member(&w.res), Role::Organiser),
        "cancel",
        &[],
    )?;
    assert_eq!(w.check(&mut d, &w.res), FORGED_ENTRY);
    // an entry without `by`, and an entry that is not a map
    let mut d = w.forge(&w.res);
    let log = doc::get_obj(&d, &ROOT, "log", ObjType::Map).unwrap();
    let e = d.put_object(&log, "0011223344556677", ObjType::Map)?;
    d.put(&e, "t", "rsvp")?;
    assert_eq!(w.check(&mut d, &w.res), FORGED_ENTRY);
    let mut d = w.forge(&w.res);
    d.put(&log, "0011223344556677", "rsvp")?;
    assert_eq!(w.check(&mut d, &w.res), FORGED_ENTRY);
    // a right `by` that wins over a hidden, conflicting one in the same change: every
    // value at `by` must be the pusher, not only the visible one
    let mut d = w.forge(&w.res);
    doc::append_entry(&mut d, &ctx(&member(&w.res), Role::Resident), "rsvp", &[])?;
    let mut expanded = last(&mut d).decode();
    let at = expanded
        .operations
        .iter()
        .position(|op| op.key == Key::Map("by".into()))
        .unwrap();
    let mut hidden = expanded.operations[at].clone();
    hidden.action = OpType::Put(ScalarValue::Str(member(&w.org).as_str().into()));
    hidden.pred = automerge::legacy::SortedVec::new();
    expanded.operations.insert(at, hidden); // a lower op counter: it loses the conflict
    let forged = Change::from(expanded);
    let mut applied = w.relay.docs[&w.id].clone();
    applied.apply_changes([forged.clone()])?;
    let visible = doc::entries(&applied);
    assert!(
        visible.iter().all(|e| e.by != member(&w.org)),
        "the forged `by` is hidden"
    );
    assert_eq!(
        code(w.relay.check(&w.id, &forged, &pusher(&w.res))),
        FORGED_ENTRY
    );
    Ok(())
}

#[test]
fn existing_entries_never_change() -> TestResult {
    let w = world()?;
    let rsvp = w.entry_of(&w.res);
    // the organiser edits the resident's entry
    let mut d = w.forge(&w.org);
    let e = log_entry(&d, &rsvp);
    d.put(&e, "status", "declined")?;
    assert_eq!(w.check(&mut d, &w.org), IMMUTABLE);
    // not even its author may
    let mut d = w.forge(&w.res);
    let e = log_entry(&d, &rsvp);
    d.put(&e, "at", 0)?;
    assert_eq!(w.check(&mut d, &w.res), IMMUTABLE);
    // nor delete it
    let mut d = w.forge(&w.res);
    let log = doc::get_obj(&d, &ROOT, "log", ObjType::Map).unwrap();
    d.delete(&log, rsvp.as_str())?;
    assert_eq!(w.check(&mut d, &w.res), IMMUTABLE);
    // nor replace it with a new map under the same key
    let mut d = w.forge(&w.res);
    let e = d.put_object(&log, rsvp.as_str(), ObjType::Map)?;
    d.put(&e, "by", member(&w.res).as_str())?;
    d.put(&e, "role", "resident")?;
    assert_eq!(w.check(&mut d, &w.res), IMMUTABLE);
    Ok(())
}

#[test]
fn comments_are_changed_only_by_their_author_and_never_lose_author_or_time() -> TestResult {
    let w = world()?;
    let c = w.comment.clone();
    // the author edits and withdraws: accepted
    let mut d = w.forge(&w.res);
    crate::model::comment::edit(&mut d, &ctx(&member(&w.res), Role::Resident), &c, "Sla")?;
    assert_eq!(w.check(&mut d, &w.res), "accepted");
    let mut d = w.forge(&w.res);
    crate::model::comment::withdraw(&mut d, &ctx(&member(&w.res), Role::Resident), &c)?;
    assert_eq!(w.check(&mut d, &w.res), "accepted");
    // someone else edits the body, or withdraws it: not allowed, whatever their role
    let mut d = w.forge(&w.org);
    let obj = comment_obj(&d, &c);
    doc::set_text(&mut d, &obj, "body", "Iets anders")?;
    assert_eq!(w.check(&mut d, &w.org), NOT_ALLOWED);
    let mut d = w.forge(&w.org);
    d.put(&obj, "withdrawn", true)?;
    assert_eq!(w.check(&mut d, &w.org), NOT_ALLOWED);
    // the author may not rewrite `author` or `at`, un-withdraw, or delete the comment
    for (key, value) in [
        ("author", ScalarValue::Str(member(&w.org).as_str().into())),
        ("at", ScalarValue::Int(0)),
        ("withdrawn", ScalarValue::Boolean(false)),
    ] {
        let mut d = w.forge(&w.res);
        d.put(&obj, key, value)?;
        assert_eq!(w.check(&mut d, &w.res), IMMUTABLE, "{key}");
    }
    let mut d = w.forge(&w.res);
    let map = doc::get_obj(&d, &ROOT, "comments", ObjType::Map).unwrap();
    d.delete(&map, c.as_str())?;
    assert_eq!(w.check(&mut d, &w.res), IMMUTABLE);
    // a new comment in someone else's name is forged
    let mut d = w.forge(&w.res);
    crate::model::comment::add(&mut d, &ctx(&member(&w.org), Role::Organiser), "Namens jou")?;
    assert_eq!(w.check(&mut d, &w.res), FORGED_ENTRY);
    Ok(())
}

#[test]
fn the_header_and_containers_never_change() -> TestResult {
    let w = world()?;
    for key in [
        "created_by",
        "created_role",
        "kind",
        "id",
        "schema",
        "created_at",
    ] {
        let mut d = w.forge(&w.org); // even the creator
        d.put(ROOT, key, member(&w.res).as_str())?;
        assert_eq!(w.check(&mut d, &w.org), IMMUTABLE, "{key}");
    }
    for key in ["log", "comments"] {
        let mut d = w.forge(&w.org);
        d.put_object(ROOT, key, ObjType::Map)?;
        assert_eq!(w.check(&mut d, &w.org), IMMUTABLE, "{key}");
        let mut d = w.forge(&w.org);
        d.delete(ROOT, key)?;
        assert_eq!(w.check(&mut d, &w.org), IMMUTABLE, "{key}");
    }
    Ok(())
}

#[test]
fn a_resident_may_not_create_an_event_but_may_create_what_residents_create() -> TestResult {
    let res = phone(Role::Resident)?;
    let me = ctx(&member(&res), Role::Resident);
    let create = |kind: Kind, c: &Ctx| -> crate::Result<(EntityId, Change)> {
        let id = EntityId::new()?;
        let mut d = AutoCommit::new().with_actor(actor(&res));
        doc::init(&mut d, kind, &id, c)?;
        doc::set_text(&mut d, &ROOT, "title", "Feest")?;
        Ok((id, last(&mut d)))
    };
    let (id, change) = create(Kind::Event, &me)?;
    assert_eq!(
        code(check_change(None, &id, &change, &pusher(&res))),
        NOT_ALLOWED
    );
    for kind in [Kind::Help, Kind::Task, Kind::Report, Kind::Profile] {
        let (id, change) = create(kind, &me)?;
        assert_eq!(
            code(check_change(None, &id, &change, &pusher(&res))),
            "accepted",
            "{kind:?}"
        );
    }
    // a new document in someone else's name, or in a role one does not have
    let (id, change) = create(Kind::Help, &ctx(&MemberId::new()?, Role::Resident))?;
    assert_eq!(
        code(check_change(None, &id, &change, &pusher(&res))),
        FORGED_ENTRY
    );
    let (id, change) = create(Kind::Event, &ctx(&member(&res), Role::Organiser))?;
    assert_eq!(
        code(check_change(None, &id, &change, &pusher(&res))),
        FORGED_ENTRY
    );
    // a new document without its header
    let id = EntityId::new()?;
    let mut d = AutoCommit::new().with_actor(actor(&res));
    d.put(ROOT, "kind", "help")?;
    d.put(ROOT, "id", id.as_str())?;
    assert_eq!(
        code(check_change(None, &id, &last(&mut d), &pusher(&res))),
        BAD_CHANGE
    );
    let mut d = AutoCommit::new().with_actor(actor(&res));
    doc::init(&mut d, Kind::Help, &id, &me)?;
    d.delete(ROOT, "comments")?;
    assert_eq!(
        code(check_change(None, &id, &last(&mut d), &pusher(&res))),
        BAD_CHANGE
    );
    let mut d = AutoCommit::new().with_actor(actor(&res));
    doc::init(&mut d, Kind::Help, &id, &me)?;
    d.put(ROOT, "kind", "petition")?;
    assert_eq!(
        code(check_change(None, &id, &last(&mut d), &pusher(&res))),
        BAD_CHANGE
    );
    Ok(())
}

#[test]
fn a_resident_may_not_edit_an_event() -> TestResult {
    let w = world()?;
    let mut d = w.forge(&w.res);
    doc::set_text(&mut d, &ROOT, "title", "Afgelast")?;
    assert_eq!(w.check(&mut d, &w.res), NOT_ALLOWED);
    for key in ["capacity", "starts_at", "place", "some_new_field"] {
        let mut d = w.forge(&w.res);
        d.put(ROOT, key, 1)?;
        assert_eq!(w.check(&mut d, &w.res), NOT_ALLOWED, "{key}");
    }
    let mut d = w.forge(&w.res);
    d.delete(ROOT, "capacity")?;
    assert_eq!(w.check(&mut d, &w.res), NOT_ALLOWED);
    // a staff member may
    let staff = phone(Role::Staff)?;
    let mut d = w.forge(&staff);
    doc::set_text(&mut d, &ROOT, "title", "Afgelast")?;
    d.put(ROOT, "capacity", 5)?;
    d.put(ROOT, "some_new_field", 5)?;
    assert_eq!(w.check(&mut d, &staff), "accepted");
    // but not replace a container: concurrent edits of the old one would vanish
    let mut d = w.forge(&w.org);
    let t = d.put_object(ROOT, "title", ObjType::Text)?;
    d.splice_text(&t, 0, 0, "Nieuw")?;
    assert_eq!(w.check(&mut d, &w.org), IMMUTABLE);
    Ok(())
}

/// A write of one root field, for [`root_fields_follow_each_kinds_editors`].
#[derive(Debug, Clone, Copy)]
enum FieldWrite {
    /// An edit of the `Text` at this key.
    Text(&'static str),
    /// A string put at this key.
    Scalar(&'static str),
}

/// Runs `write` as `by` on a copy of `id`'s document and returns the relay's verdict.
fn verdict(
    relay: &Relay,
    id: &EntityId,
    by: &Store,
    write: FieldWrite,
) -> crate::Result<&'static str> {
    let mut d = relay.forge(id, actor(by));
    match write {
        FieldWrite::Text(key) => doc::set_text(&mut d, &ROOT, key, "Anders")?,
        FieldWrite::Scalar(key) => doc::put(&mut d, &ROOT, key, "anders")?,
    }
    Ok(code(relay.check(id, &last(&mut d), &pusher(by))))
}

#[test]
fn root_fields_follow_each_kinds_editors() -> TestResult {
    use FieldWrite::{Scalar, Text};
    const OK: &str = "accepted";
    let res = phone(Role::Resident)?;
    let nb = phone(Role::Resident)?; // a neighbour
    let car = phone(Role::Caretaker)?;
    let org = phone(Role::Organiser)?;
    let staff = phone(Role::Staff)?;
    let all = [&res, &nb, &car, &org, &staff];
    let mut relay = Relay::default();
    let help = res.create_help(&NewHelp::ask("garden", "Tuin"))?;
    let task = res.create_task(&NewTask::recurring("Tuin", "FREQ=WEEKLY", "2025-03-25"))?;
    let report = res.create_report(&NewReport::at("litter", 52.0, 4.0))?;
    let profile = res.create_profile(&NewProfile {
        display_name: "Ans".into(),
        ..Default::default()
    })?;
    relay.sync(&all)?;
    // everything here was created by `res`, a resident
    let cases = [
        (&help, &res, Text("title"), OK),
        (&help, &org, Text("body"), OK),
        (&help, &nb, Text("title"), NOT_ALLOWED),
        (&help, &car, Text("title"), NOT_ALLOWED),
        (&help, &res, Scalar("urgency"), IMMUTABLE),
        (&help, &org, Scalar("window_end"), IMMUTABLE),
        (&help, &res, Scalar("new_field"), OK),
        (&help, &nb, Scalar("new_field"), NOT_ALLOWED),
        (&task, &res, Text("title"), OK),
        (&task, &car, Scalar("location_label"), OK),
        (&task, &nb, Text("description"), NOT_ALLOWED),
        (&task, &res, Scalar("rrule"), IMMUTABLE),
        (&task, &staff, Scalar("pledge_target"), IMMUTABLE),
        (&report, &res, Text("description"), OK),
        (&report, &car, Text("description"), OK),
        (&report, &org, Text("description"), NOT_ALLOWED),
        (&report, &nb, Text("description"), NOT_ALLOWED),
        (&report, &org, Text("response"), OK),
        (&report, &res, Text("response"), NOT_ALLOWED),
        (&report, &car, Scalar("severity"), IMMUTABLE),
        (&report, &res, Scalar("lat"), IMMUTABLE),
        (&report, &staff, Scalar("new_field"), NOT_ALLOWED),
        (&report, &res, Scalar("new_field"), OK),
        (&profile, &res, Scalar("display_name"), OK),
        (&profile, &res, Text("availability"), OK),
        (&profile, &staff, Scalar("display_name"), NOT_ALLOWED),
        (&profile, &nb, Text("availability"), NOT_ALLOWED),
    ];
    for (id, by, write, want) in cases {
        let kind = res.kind_of(id)?;
        let role = by.identity().role;
        let got = verdict(&relay, id, by, write)?;
        assert_eq!(got, want, "{write:?} of a {kind:?} by a {role:?}");
    }
    Ok(())
}

#[test]
fn a_hidden_write_that_loses_a_conflict_is_still_refused() -> TestResult {
    let w = world()?;
    let staff = phone(Role::Staff)?;
    let mut relay = w.relay;
    let all = [&w.org, &w.res, &staff];
    relay.catch_up(&staff)?;
    // the heads right after creation: a write from there gets a lower op counter than the
    // edits below, which come after the RSVP and the comment
    let created = vec![
        relay.docs[&w.id]
            .clone()
            .get_changes(&[])
            .first()
            .unwrap()
            .hash(),
    ];
    // the organiser and staff set `capacity` concurrently: a conflict the relay accepts
    for (s, c) in [(&w.org, 20), (&staff, 30)] {
        s.edit_event(
            &w.id,
            &EventEdit {
                capacity: Some(Some(c)),
                ..Default::default()
            },
        )?;
    }
    relay.sync(&all)?;
    // the resident writes `capacity` concurrently too, with a lower op counter, from a
    // second device (so its change does not reuse a sequence number): their value loses
    let device = ActorId::random();
    let mut d = relay.docs[&w.id]
        .clone()
        .fork_at(&created)?
        .with_actor(device.clone());
    d.put(ROOT, "capacity", 1_000)?;
    let change = last(&mut d);
    // a diff does not show it at all ...
    let mut after = relay.docs[&w.id].clone();
    let before = after.get_heads();
    let capacity = doc::get_i64(&after, &ROOT, "capacity");
    after.apply_changes([change.clone()])?;
    let heads = after.get_heads();
    assert_eq!(doc::get_i64(&after, &ROOT, "capacity"), capacity);
    assert!(after.diff(&before, &heads).is_empty());
    // ... but it is there, and surfaces when an organiser who has not seen it removes the
    // capacity: so the operations are checked, not only the diff
    assert_eq!(after.get_all(ROOT, "capacity")?.len(), 3);
    w.org.edit_event(
        &w.id,
        &EventEdit {
            capacity: Some(None),
            ..Default::default()
        },
    )?;
    let removal = w.org.pending_changes(1)?.remove(0).bytes;
    after.apply_changes([Change::from_bytes(removal)?])?;
    assert_eq!(doc::get_i64(&after, &ROOT, "capacity"), Some(1_000));
    let mut p = pusher(&w.res);
    p.actors.push(device);
    assert_eq!(code(relay.check(&w.id, &change, &p)), NOT_ALLOWED);
    Ok(())
}

#[test]
fn a_change_by_an_actor_the_pusher_does_not_own_is_refused() -> TestResult {
    let w = world()?;
    let mut d = w.forge(&w.org);
    doc::append_entry(&mut d, &ctx(&member(&w.res), Role::Resident), "rsvp", &[])?;
    // written by the organiser's device, pushed by the resident
    assert_eq!(w.check(&mut d, &w.res), ACTOR_NOT_YOURS);
    let mut d = w.relay.forge(&w.id, ActorId::random());
    doc::append_entry(&mut d, &ctx(&member(&w.res), Role::Resident), "rsvp", &[])?;
    assert_eq!(w.check(&mut d, &w.res), ACTOR_NOT_YOURS);
    Ok(())
}

#[test]
fn a_change_whose_dependencies_the_relay_lacks_is_refused() -> TestResult {
    let org = phone(Role::Organiser)?;
    let id = org.create_event(&NewEvent::new("Feest", "Plein", T0 + DAY, T0 + DAY))?;
    org.edit_event(
        &id,
        &EventEdit {
            place: Some("Buurthuis".into()),
            ..Default::default()
        },
    )?;
    let pending = org.pending_changes(10)?;
    let edit = Change::from_bytes(pending[1].bytes.clone())?;
    assert_eq!(
        code(check_change(None, &id, &edit, &pusher(&org))),
        MISSING_DEPENDENCIES
    );
    let mut relay = Relay::default();
    relay.accept(&id, &pending[0].bytes, &pusher(&org))?;
    assert_eq!(code(relay.check(&id, &edit, &pusher(&org))), "accepted");
    Ok(())
}

#[test]
fn a_change_pushed_for_another_entity_is_the_wrong_document() -> TestResult {
    let org = phone(Role::Organiser)?;
    let id = org.create_event(&NewEvent::new("Feest", "Plein", T0 + DAY, T0 + DAY))?;
    org.edit_event(
        &id,
        &EventEdit {
            place: Some("Buurthuis".into()),
            ..Default::default()
        },
    )?;
    let pending = org.pending_changes(10)?;
    let creation = Change::from_bytes(pending[0].bytes.clone())?;
    let other = EntityId::new()?;
    assert_eq!(
        code(check_change(None, &other, &creation, &pusher(&org))),
        WRONG_DOCUMENT
    );
    let mut doc = AutoCommit::new();
    doc.apply_changes([creation])?;
    let edit = Change::from_bytes(pending[1].bytes.clone())?;
    assert_eq!(
        code(check_change(Some(&doc), &other, &edit, &pusher(&org))),
        WRONG_DOCUMENT
    );
    assert_eq!(
        code(check_change(Some(&doc), &id, &edit, &pusher(&org))),
        "accepted"
    );
    Ok(())
}

#[test]
fn a_document_without_a_readable_header_takes_no_changes() -> TestResult {
    let res = phone(Role::Resident)?;
    let id = EntityId::new()?;
    let mut relay_doc = AutoCommit::new();
    relay_doc.put(ROOT, "note", "no header")?;
    relay_doc.commit();
    // even a change that would be a valid creation on an empty document
    let mut d = relay_doc.fork().with_actor(actor(&res));
    doc::init(&mut d, Kind::Help, &id, &ctx(&member(&res), Role::Resident))?;
    let change = last(&mut d);
    assert_eq!(
        code(check_change(Some(&relay_doc), &id, &change, &pusher(&res))),
        BAD_CHANGE
    );
    Ok(())
}

#[test]
fn a_change_already_applied_is_refused_and_the_document_is_never_modified() -> TestResult {
    let w = world()?;
    let mut d = w.forge(&w.res);
    doc::append_entry(&mut d, &ctx(&member(&w.res), Role::Resident), "rsvp", &[])?;
    let change = last(&mut d);
    let mut heads = w.relay.docs[&w.id].clone().get_heads();
    assert_eq!(
        code(w.relay.check(&w.id, &change, &pusher(&w.res))),
        "accepted"
    );
    assert_eq!(w.relay.docs[&w.id].clone().get_heads(), heads);
    let mut relay = w.relay;
    relay
        .docs
        .get_mut(&w.id)
        .unwrap()
        .apply_changes([change.clone()])?;
    heads = relay.docs[&w.id].clone().get_heads();
    assert_eq!(
        code(relay.check(&w.id, &change, &pusher(&w.res))),
        BAD_CHANGE
    );
    assert_eq!(relay.docs[&w.id].clone().get_heads(), heads);
    Ok(())
}

#[test]
fn a_change_that_makes_automerge_panic_is_refused() -> TestResult {
    // A committed fuzzing crasher (see tests/it/hostile.rs): it decodes, but applying it
    // panics inside Automerge 0.12.
    let bytes = include_bytes!("../../tests/fuzz-crashers/invalid_actor_index.bin");
    check_bounds(bytes, MAX_BYTES, MAX_INFLATED)?;
    let change = Change::from_bytes(bytes.to_vec())?;
    let p = Pusher {
        member: MemberId::new()?,
        role: Role::Resident,
        actors: vec![change.actor_id().clone()],
        not_after: None,
        created_not_before: None,
    };
    assert_eq!(
        code(check_change(None, &EntityId::new()?, &change, &p)),
        BAD_CHANGE
    );
    Ok(())
}

// -----------------------------------------------------------------------------------------
// Bytes

use super::work::tests::uleb;

fn chunk(chunk_type: u8, body: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend([0, 0, 0, 0]);
    out.push(chunk_type);
    uleb(body.len() as u64, &mut out);
    out.extend(body);
    out
}

fn bounds(bytes: &[u8]) -> &'static str {
    code(check_bounds(bytes, MAX_BYTES, MAX_INFLATED).map(|_| ()))
}

#[test]
fn bounds_refuse_what_is_not_one_change_chunk() -> TestResult {
    let org = phone(Role::Organiser)?;
    let id = org.create_event(&NewEvent::new("Feest", "Plein", T0 + DAY, T0 + DAY))?;
    let honest = org.pending_changes(1)?.remove(0).bytes;
    assert_eq!(bounds(&honest), "accepted");
    assert_eq!(bounds(b""), BAD_CHANGE);
    assert_eq!(bounds(b"hello, relay"), BAD_CHANGE);
    assert_eq!(bounds(&[0u8; 64]), BAD_CHANGE);
    // a whole document, or a bundle, is not a change
    let doc = org.document_bytes(&id)?;
    assert_eq!(bounds(&doc), BAD_CHANGE);
    assert_eq!(bounds(&chunk(3, b"")), BAD_CHANGE);
    assert_eq!(bounds(&chunk(9, b"")), BAD_CHANGE);
    // the length field must match the bytes
    let mut longer = honest.clone();
    longer.push(0);
    assert_eq!(bounds(&longer), BAD_CHANGE);
    assert_eq!(bounds(&honest[..honest.len() - 1]), BAD_CHANGE);
    let mut overlong = MAGIC.to_vec();
    overlong.extend([0, 0, 0, 0, 1, 0x80, 0x00]);
    assert_eq!(bounds(&overlong), BAD_CHANGE);
    let mut endless = MAGIC.to_vec();
    endless.extend([0, 0, 0, 0, 1]);
    endless.extend([0xff; 11]);
    assert_eq!(bounds(&endless), BAD_CHANGE);
    // too many bytes
    assert_eq!(
        code(check_bounds(&honest, honest.len() - 1, MAX_INFLATED).map(|_| ())),
        TOO_LARGE
    );
    // a compressed body that is not DEFLATE
    assert_eq!(bounds(&chunk(2, &[0xff; 16])), BAD_CHANGE);
    Ok(())
}

#[test]
fn bounds_stop_a_deflate_bomb() -> TestResult {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![0u8; 64 << 20])?;
    let bomb = chunk(2, &enc.finish()?);
    assert!(bomb.len() < MAX_BYTES / 8, "{} bytes", bomb.len());
    assert_eq!(bounds(&bomb), TOO_LARGE);
    Ok(())
}

#[test]
fn an_honest_compressed_change_passes_with_room_and_is_too_large_without() -> TestResult {
    let org = phone(Role::Organiser)?;
    let mut new = NewEvent::new("Feest", "Plein", T0 + DAY, T0 + DAY);
    new.description = "Een lange beschrijving. ".repeat(100);
    let id = org.create_event(&new)?;
    let raw = org.pending_changes(1)?.remove(0).bytes;
    let mut change = Change::from_bytes(raw.clone())?;
    let compressed = change.bytes().into_owned();
    assert_eq!(compressed.get(8), Some(&CHUNK_COMPRESSED_CHANGE));
    assert!(compressed.len() < raw.len());
    assert_eq!(bounds(&compressed), "accepted");
    assert_eq!(
        code(check_bounds(&compressed, MAX_BYTES, raw.len() / 2).map(|_| ())),
        TOO_LARGE
    );
    let decoded = Change::from_bytes(compressed)?;
    assert_eq!(
        code(check_change(None, &id, &decoded, &pusher(&org))),
        "accepted"
    );
    Ok(())
}

#[test]
fn rejection_codes_are_stable() {
    assert_eq!(
        REJECTION_CODES,
        [
            "bad_change",
            "too_large",
            "actor_not_yours",
            "missing_dependencies",
            "not_allowed",
            "forged_entry",
            "immutable",
            "wrong_document",
            "bad_time",
        ]
    );
    let r = reject(NOT_ALLOWED, "a resident may not create events");
    assert_eq!(
        r.to_string(),
        "not_allowed: a resident may not create events"
    );
}

// -----------------------------------------------------------------------------------------
// Rule 11: restricted documents are written only by their readers.

#[test]
fn a_restricted_document_is_written_only_by_its_readers() -> TestResult {
    use crate::audience::Audience;
    let req = phone(Role::Resident)?;
    let helper = phone(Role::Resident)?;
    let stranger = phone(Role::Resident)?;
    let org = phone(Role::Organiser)?;
    let mut relay = Relay::default();
    let new = NewHelp {
        audience: Audience::Participants,
        ..NewHelp::ask("paperwork", "Hulp met schulden")
    };
    let id = req.create_help(&new)?;
    relay.sync(&[&req, &org])?;

    // Someone who does not read it cannot write to it, even with a well-formed entry.
    relay.catch_up(&stranger)?;
    stranger.respond_help(&id, "ik help")?;
    let c = stranger.pending_changes(10)?.pop().unwrap();
    let change = Change::from_bytes(c.bytes)?;
    assert_eq!(
        code(relay.check(&id, &change, &pusher(&stranger))),
        "not_allowed"
    );

    // Shared by the organiser, the helper reads it and may respond; the organiser matches.
    org.share(&id, &member(&helper))?;
    relay.sync(&[&req, &org])?;
    relay.catch_up(&helper)?;
    helper.respond_help(&id, "ik kan helpen")?;
    relay.sync(&[&req, &org, &helper])?;
    org.match_help(&id, &member(&helper))?;
    relay.sync(&[&req, &org, &helper])?;
    assert_eq!(req.help(&id)?.status, HelpStatus::Matched);

    // A resident cannot widen the audience by writing `audience` afterwards.
    let mut d = relay.forge(&id, actor(&req));
    d.put(ROOT, "audience", "buurt")?;
    assert_eq!(
        code(relay.check(&id, &last(&mut d), &pusher(&req))),
        "immutable"
    );
    Ok(())
}

#[test]
fn a_new_document_with_an_unknown_audience_is_refused() -> TestResult {
    let req = phone(Role::Resident)?;
    let relay = Relay::default();
    let id = EntityId::new()?;
    let creation = |audience: &str| -> crate::Result<Change> {
        let mut d = AutoCommit::new().with_actor(actor(&req));
        doc::init(&mut d, Kind::Help, &id, &ctx(&member(&req), Role::Resident))?;
        d.put(ROOT, "audience", audience)?;
        Ok(last(&mut d))
    };
    let known = creation("participants")?;
    assert_eq!(code(relay.check(&id, &known, &pusher(&req))), "accepted");
    let refused = relay
        .check(&id, &creation("household")?, &pusher(&req))
        .unwrap_err();
    assert_eq!(refused.code, "bad_change");
    assert!(refused.reason.contains("`audience`"), "{refused}");
    Ok(())
}

// -----------------------------------------------------------------------------------------
// Times: no back-dating past what the change depends on; `created_at` near the relay's
// clock (rules 4, 6, 8).

/// A phone whose clock reads `now`.
fn phone_at(role: Role, now: i64) -> crate::Result<Store> {
    Ok(Device::new(role, now)?.store)
}

/// `s` as a relay whose clock reads `relay_now` sees them.
fn pusher_at(s: &Store, relay_now: i64) -> Pusher {
    Pusher {
        not_after: Some(relay_now + DAY),
        created_not_before: Some(relay_now - 30 * DAY),
        ..pusher(s)
    }
}

/// An entry as an attacker writes it on the relay's copy of `id`: `by` and `role` true,
/// `at` whatever they like (no clamp).
fn raw_entry(
    relay: &Relay,
    id: &EntityId,
    by: &Store,
    t: &str,
    fields: &[(&str, &str)],
    at: i64,
) -> Change {
    let mut d = relay.forge(id, actor(by));
    let log = doc::get_obj(&d, &ROOT, "log", ObjType::Map).unwrap();
    let e = d.put_object(&log, "forged", ObjType::Map).unwrap();
    d.put(&e, "t", t).unwrap();
    d.put(&e, "by", member(by).as_str()).unwrap();
    d.put(&e, "role", by.identity().role.as_str()).unwrap();
    d.put(&e, "at", at).unwrap();
    for (k, v) in fields {
        d.put(&e, *k, *v).unwrap();
    }
    last(&mut d)
}

#[test]
fn a_back_dated_rsvp_cannot_take_the_last_place() -> TestResult {
    let org = phone(Role::Organiser)?;
    let first = phone_at(Role::Resident, T0 + 60_000)?;
    let late = phone_at(Role::Resident, T0 + 120_000)?;
    let mut relay = Relay::default();
    let mut new = NewEvent::new("Workshop", "Buurthuis", T0 + DAY, T0 + DAY + HOUR);
    new.capacity = Some(1);
    let id = org.create_event(&new)?;
    relay.sync(&[&org, &first, &late])?;
    first.rsvp_event(&id, Rsvp::Going)?;
    relay.sync(&[&org, &first, &late])?;
    let first_at = T0 + 60_000;
    let going = [("status", "going"), ("seen", "confirmed")];
    // Before the first comer's RSVP (which the change depends on), at it (a tie the
    // attacker's member id could win), before the event existed: refused.
    for at in [T0 + 1, first_at - 1, first_at, T0 - DAY, 1] {
        let c = raw_entry(&relay, &id, &late, "rsvp", &going, at);
        assert_eq!(
            code(relay.check(&id, &c, &pusher(&late))),
            BAD_TIME,
            "at {at}"
        );
    }
    // After it: accepted, and the first comer keeps the place.
    let c = raw_entry(&relay, &id, &late, "rsvp", &going, first_at + 1);
    relay.accept(&id, c.raw_bytes(), &pusher(&late))?;
    let v = crate::model::event::derive(&relay.docs[&id])?;
    assert_eq!(v.confirmed.len(), 1);
    assert_eq!(v.confirmed[0].member, member(&first));
    assert_eq!(v.waitlist[0].member, member(&late));
    Ok(())
}

#[test]
fn a_claim_dated_1_cannot_take_over_an_adopted_task() -> TestResult {
    let res = phone(Role::Resident)?;
    let adopter = phone_at(Role::Resident, T0 + HOUR)?;
    let attacker = phone_at(Role::Resident, T0 + 2 * HOUR)?;
    let mut relay = Relay::default();
    let id = res.create_task(&NewTask::new("Bankje schilderen"))?;
    relay.sync(&[&res, &adopter, &attacker])?;
    adopter.claim_task(&id)?;
    relay.sync(&[&res, &adopter, &attacker])?;
    for at in [1, T0, T0 + HOUR] {
        let c = raw_entry(&relay, &id, &attacker, "claim", &[("as", "adopter")], at);
        assert_eq!(
            code(relay.check(&id, &c, &pusher(&attacker))),
            BAD_TIME,
            "at {at}"
        );
    }
    // The honest claim now: first backup, the adopter stays.
    attacker.claim_task(&id)?;
    relay.sync(&[&res, &adopter, &attacker])?;
    let v = crate::model::task::derive(&relay.docs[&id])?;
    assert_eq!(v.adopter, Some(member(&adopter)));
    Ok(())
}

#[test]
fn created_at_stays_near_the_relays_clock() -> TestResult {
    // Year 9999 (a request that tops every list), 40 days old, before 1970: refused; a
    // caretaker's 29-day-old offline report and a clock a day ahead: accepted.
    let year_9999 = 253_402_300_799_000;
    for (created, want) in [
        (year_9999, BAD_TIME),
        (T0 + DAY + 1, BAD_TIME),
        (T0 - 40 * DAY, BAD_TIME),
        (T0 - 30 * DAY - 1, BAD_TIME),
        (-1, BAD_TIME),
        (T0 - 29 * DAY, "accepted"),
        (T0 + DAY, "accepted"),
        (T0 - 2 * HOUR, "accepted"),
    ] {
        let s = phone_at(Role::Resident, created)?;
        let id = s.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
        let change = Change::from_bytes(s.pending_changes(1)?.remove(0).bytes)?;
        let verdict = code(check_change(None, &id, &change, &pusher_at(&s, T0)));
        assert_eq!(verdict, want, "created_at {created}");
    }
    Ok(())
}

#[test]
fn an_honest_device_with_a_clock_behind_is_never_refused() -> TestResult {
    // The organiser's clock is right; the resident's is 2 hours behind. Every entry and
    // comment the resident writes after seeing the organiser's is clamped past them.
    let org = phone(Role::Organiser)?;
    let behind = phone_at(Role::Resident, T0 - 2 * HOUR)?;
    let mut relay = Relay::default();
    let push = |relay: &mut Relay, s: &Store| -> TestResult {
        let mut seqs = Vec::new();
        let mut batch = Vec::new();
        for c in s.pending_changes(100)? {
            relay
                .accept(&c.entity, &c.bytes, &pusher_at(s, T0))
                .map_err(|r| format!("an honest change was refused: {r}"))?;
            seqs.push(c.seq);
            batch.push((c.entity, c.bytes));
        }
        s.ack_changes(&seqs)?;
        org.apply_remote_changes(&batch)?;
        behind.apply_remote_changes(&batch)?;
        Ok(())
    };
    let mut new = NewEvent::new("Barbecue", "Speeltuin", T0 + DAY, T0 + DAY + HOUR);
    new.capacity = Some(1);
    let event = org.create_event(&new)?;
    let task = org.create_task(&NewTask::new("Bankje"))?;
    push(&mut relay, &org)?;
    org.claim_task(&task)?;
    org.add_comment(&event, "Welkom")?;
    push(&mut relay, &org)?;
    behind.rsvp_event(&event, Rsvp::Going)?;
    behind.add_comment(&event, "Ik kom")?;
    behind.claim_task(&task)?;
    behind.add_comment(&task, "Ik help mee")?;
    let own = behind.create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    behind.add_comment(&own, "Graag voor vrijdag")?;
    push(&mut relay, &behind)?;
    let v = crate::model::task::derive(&relay.docs[&task])?;
    assert_eq!(
        v.adopter,
        Some(member(&org)),
        "a slow clock does not jump the queue"
    );
    for e in doc::entries(&relay.docs[&event]) {
        assert!(e.at >= T0, "clamped to the event's created_at");
    }
    Ok(())
}

#[test]
fn an_offline_entry_may_be_older_than_what_it_did_not_see() -> TestResult {
    // Two residents RSVP offline; the later one pushes first. The earlier one's RSVP does
    // not depend on the later one, so it is accepted and (being first) keeps the place.
    let org = phone(Role::Organiser)?;
    let early = phone_at(Role::Resident, T0 + 60_000)?;
    let later = phone_at(Role::Resident, T0 + 120_000)?;
    let mut relay = Relay::default();
    let mut new = NewEvent::new("Workshop", "Buurthuis", T0 + DAY, T0 + DAY + HOUR);
    new.capacity = Some(1);
    let id = org.create_event(&new)?;
    relay.sync(&[&org, &early, &later])?;
    early.rsvp_event(&id, Rsvp::Going)?;
    later.rsvp_event(&id, Rsvp::Going)?;
    relay.sync(&[&later, &early])?;
    let v = crate::model::event::derive(&relay.docs[&id])?;
    assert_eq!(v.confirmed[0].member, member(&early));
    Ok(())
}

// -----------------------------------------------------------------------------------------
// One field table per kind: the operation, the table and the relay decide alike.

/// The operation that writes one root field (and nothing the table does not also govern).
type FieldOp = fn(&mut AutoCommit, &Ctx) -> crate::Result<()>;

/// The operation writing `field` of a `kind` document, `None` for a field no operation writes
/// after creation.
fn field_op(kind: Kind, field: &str) -> Option<FieldOp> {
    use crate::model::{event, help, profile, report, task};
    let op: FieldOp = match (kind, field) {
        (Kind::Help, "title") => |d, c| help::edit_help(d, c, Some("Nieuwe titel"), None),
        (Kind::Help, "body") => |d, c| help::edit_help(d, c, None, Some("Nieuwe tekst")),
        (Kind::Event, "title") => |d, c| {
            let e = EventEdit {
                title: Some("Nieuwe titel".into()),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "description") => |d, c| {
            let e = EventEdit {
                description: Some("Nieuwe tekst".into()),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "starts_at") => |d, c| {
            let e = EventEdit {
                starts_at: Some(T0 + DAY + HOUR),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "ends_at") => |d, c| {
            let e = EventEdit {
                ends_at: Some(T0 + DAY + 4 * HOUR),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "place") => |d, c| {
            let e = EventEdit {
                place: Some("Buurthuis".into()),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "lat" | "lon") => |d, c| {
            let e = EventEdit {
                point: Some(Some((52.1, 5.1))),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Event, "capacity") => |d, c| {
            let e = EventEdit {
                capacity: Some(Some(40)),
                ..EventEdit::default()
            };
            event::edit(d, c, &e)
        },
        (Kind::Task, "title") => |d, c| {
            let e = TaskEdit {
                title: Some("Nieuwe titel".into()),
                ..TaskEdit::default()
            };
            task::edit_task(d, c, &e)
        },
        (Kind::Task, "description") => |d, c| {
            let e = TaskEdit {
                description: Some("Nieuwe tekst".into()),
                ..TaskEdit::default()
            };
            task::edit_task(d, c, &e)
        },
        (Kind::Task, "location_label") => |d, c| {
            let e = TaskEdit {
                location_label: Some("Bij de bank".into()),
                ..TaskEdit::default()
            };
            task::edit_task(d, c, &e)
        },
        (Kind::Task, "lat" | "lon") => |d, c| {
            let e = TaskEdit {
                point: Some(Some((52.1, 5.1))),
                ..TaskEdit::default()
            };
            task::edit_task(d, c, &e)
        },
        (Kind::Report, "description") => |d, c| report::edit_report(d, c, "Nieuwe tekst"),
        (Kind::Report, "response") => |d, c| report::set_report_response(d, c, "We komen"),
        (Kind::Profile, "display_name") => |d, c| {
            let e = ProfileEdit {
                display_name: Some("Bea".into()),
                ..ProfileEdit::default()
            };
            profile::edit_profile(d, c, &e)
        },
        (Kind::Profile, "household") => |d, c| {
            let e = ProfileEdit {
                household: Some("Nummer 14".into()),
                ..ProfileEdit::default()
            };
            profile::edit_profile(d, c, &e)
        },
        (Kind::Profile, "availability") => |d, c| {
            let e = ProfileEdit {
                availability: Some("avonden".into()),
                ..ProfileEdit::default()
            };
            profile::edit_profile(d, c, &e)
        },
        _ => return None,
    };
    Some(op)
}

/// One document of each kind, created by a staff member and accepted by the relay.
fn one_of_each(creator: &Store, relay: &mut Relay) -> crate::Result<Vec<(Kind, EntityId)>> {
    let ids = vec![
        (
            Kind::Help,
            creator.create_help(&NewHelp::ask("groceries", "Boodschappen"))?,
        ),
        (
            Kind::Event,
            creator.create_event(&NewEvent::new(
                "Barbecue",
                "Speeltuin",
                T0 + DAY,
                T0 + DAY + 3 * HOUR,
            ))?,
        ),
        (Kind::Task, creator.create_task(&NewTask::new("Bankje"))?),
        (
            Kind::Report,
            creator.create_report(&NewReport::at("litter", 52.37, 4.89))?,
        ),
        (
            Kind::Profile,
            creator.create_profile(&NewProfile {
                display_name: "Ans".into(),
                ..NewProfile::default()
            })?,
        ),
    ];
    relay.sync(&[creator]).unwrap();
    Ok(ids)
}

/// For each kind, every field of its table × every role × creator or not: the operation that
/// writes the field succeeds exactly when the table permits it, the relay accepts the change
/// it made, and the relay refuses the same field written directly on the document by whom
/// the table refuses (`not_allowed`, or `immutable` for fields set at creation only).
#[test]
fn field_tables_decide_for_operations_and_relay_alike() -> TestResult {
    use crate::model::fields::Who;
    let creator = phone(Role::Staff)?;
    let creator_id = member(&creator);
    let other = MemberId::new()?;
    let mut relay = Relay::default();
    let ids = one_of_each(&creator, &mut relay)?;
    let (mut cases, mut written, mut forged) = (0, 0, 0);
    for (kind, id) in &ids {
        let table = crate::model::fields(*kind);
        for (field, who) in table.known {
            for role in Role::ALL {
                for is_creator in [true, false] {
                    let member = if is_creator {
                        creator_id.clone()
                    } else {
                        other.clone()
                    };
                    let ctx = ctx(&member, role);
                    let actor = ActorId::random();
                    let p = Pusher {
                        member: member.clone(),
                        role,
                        actors: vec![actor.clone()],
                        not_after: None,
                        created_not_before: None,
                    };
                    let permits = table.permits(field, &ctx, &creator_id);
                    assert_eq!(permits, who.permits(&member, role, &creator_id));
                    let case = format!("{kind:?}.{field} by a {role:?} (creator: {is_creator})");
                    if let Some(op) = field_op(*kind, field) {
                        let mut d = relay.forge(id, actor.clone());
                        match op(&mut d, &ctx) {
                            Ok(()) => {
                                assert!(permits, "{case}: the operation wrote it");
                                let got = code(relay.check(id, &last(&mut d), &p));
                                assert_eq!(got, "accepted", "{case}: the relay refused it");
                                written += 1;
                            }
                            Err(crate::Error::NotAllowed { .. }) => {
                                assert!(!permits, "{case}: the operation refused it")
                            }
                            Err(e) => panic!("{case}: {e}"),
                        }
                    } else {
                        assert_eq!(*who, Who::Nobody, "{case}: no operation writes it");
                    }
                    if !permits {
                        let mut d = relay.forge(id, actor);
                        d.put(ROOT, *field, "forged").unwrap();
                        let want = if *who == Who::Nobody {
                            IMMUTABLE
                        } else {
                            NOT_ALLOWED
                        };
                        let got = code(relay.check(id, &last(&mut d), &p));
                        assert_eq!(got, want, "{case}: a forged write");
                        forged += 1;
                    }
                    cases += 1;
                }
            }
        }
    }
    // 9 help + 8 event + 9 task + 9 report + 3 profile fields, × 4 roles × 2.
    assert_eq!(cases, 38 * 8);
    // Every case either wrote through its operation or was forged: 119 permitted writes.
    assert_eq!((written, forged), (119, 185));
    Ok(())
}
