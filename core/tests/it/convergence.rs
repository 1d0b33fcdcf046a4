//! Convergence under concurrency: random operations on three replicas, delivered in random
//! order with duplicates and drops, then a full exchange. Every replica must end with the same
//! documents (heads) and the same projection rows, and the derived state must obey the rule
//! written next to its code.

use noaber_core::model::help::{HelpStatus, NewHelp};
use noaber_core::{EntityId, Result, Role};
use proptest::prelude::*;

use crate::support::{Replica, sync_all};

/// One step of a scenario.
#[derive(Debug, Clone)]
enum Step {
    /// Replica `who` tries an action (it may be refused locally; that is fine).
    Act {
        who: usize,
        action: HelpAction,
        tick: i64,
    },
    /// Deliver some of `from`'s changes to `to`: `pick` chooses which (drops), `dup` repeats
    /// the batch, `rev` reverses the order (so dependencies arrive after their dependents).
    Deliver {
        from: usize,
        to: usize,
        pick: u64,
        dup: bool,
        rev: bool,
    },
}

#[derive(Debug, Clone)]
enum HelpAction {
    Respond,
    Withdraw,
    Match(usize),
    Unmatch,
    Done,
    Cancel,
    Edit(String),
    Comment,
}

fn action() -> impl Strategy<Value = HelpAction> {
    prop_oneof![
        3 => Just(HelpAction::Respond),
        1 => Just(HelpAction::Withdraw),
        3 => (0..3usize).prop_map(HelpAction::Match),
        1 => Just(HelpAction::Unmatch),
        2 => Just(HelpAction::Done),
        1 => Just(HelpAction::Cancel),
        1 => "[a-z ]{0,6}".prop_map(HelpAction::Edit),
        1 => Just(HelpAction::Comment),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0..3usize, action(), 0..3i64).prop_map(|(who, action, tick)| Step::Act { who, action, tick }),
        2 => (0..3usize, 0..3usize, any::<u64>(), any::<bool>(), any::<bool>())
            .prop_map(|(from, to, pick, dup, rev)| Step::Deliver { from, to, pick, dup, rev }),
    ]
}

fn act(r: &Replica, id: &EntityId, a: &HelpAction, members: &[noaber_core::MemberId]) {
    let s = &r.store;
    let _ = match a {
        HelpAction::Respond => s.respond_help(id, "ik kan"),
        HelpAction::Withdraw => s.withdraw_help_response(id),
        HelpAction::Match(h) => s.match_help(id, &members[*h]),
        HelpAction::Unmatch => s.unmatch_help(id),
        HelpAction::Done => s.complete_help(id),
        HelpAction::Cancel => s.cancel_help(id, ""),
        HelpAction::Edit(t) => s.edit_help(id, None, Some(t)),
        HelpAction::Comment => s.add_comment(id, "hallo").map(|_| ()),
    };
}

/// Delivers the changes of `from` that `pick`'s bits select (the rest are dropped) to `to`,
/// reversed (dependencies last) when `rev`, twice when `dup`.
fn deliver_part(
    rs: &[&Replica],
    from: usize,
    to: usize,
    pick: u64,
    dup: bool,
    rev: bool,
) -> Result<()> {
    if from == to {
        return Ok(());
    }
    let all = rs[from].outgoing()?;
    let mut batch: Vec<_> = all
        .into_iter()
        .enumerate()
        .filter(|(i, _)| pick >> (i % 64) & 1 == 1)
        .map(|(_, c)| c)
        .collect();
    if rev {
        batch.reverse();
    }
    if dup {
        batch.extend(batch.clone());
    }
    rs[to].store.apply_remote_changes(&batch)?;
    Ok(())
}

/// A random delivery schedule: `(from, to, pick, dup, rev)` as in [`Step::Deliver`].
type Schedule = Vec<(usize, usize, u64, bool, bool)>;

fn schedule(n: usize) -> impl Strategy<Value = Schedule> {
    proptest::collection::vec(
        (0..n, 0..n, any::<u64>(), any::<bool>(), any::<bool>()),
        0..12,
    )
}

/// Delivers parts of what replicas made to others, per `schedule`, then everything to everyone
/// in the order the schedule's first entries suggest.
fn exchange(rs: &[&Replica], schedule: &Schedule) -> Result<()> {
    for (from, to, pick, dup, rev) in schedule {
        deliver_part(rs, *from, *to, *pick, *dup, *rev)?;
    }
    // Full exchange, receivers in reverse order for variety.
    for b in rs.iter().rev() {
        for a in rs {
            if !std::ptr::eq(*a, *b) {
                crate::support::deliver(a, b)?;
            }
        }
    }
    Ok(())
}

/// Every replica holds the same document and the same projection rows.
fn assert_converged(rs: &[&Replica], id: &EntityId) -> Result<()> {
    let heads = rs[0].store.heads(id)?;
    let dump = rs[0].store.projection_dump()?;
    for r in &rs[1..] {
        assert_eq!(r.store.heads(id)?, heads, "same document everywhere");
        assert_eq!(
            r.store.projection_dump()?,
            dump,
            "same projections everywhere"
        );
    }
    Ok(())
}

/// RSVPs racing for the last places: residents answer offline at distinct times, some decline
/// again; after any delivery order the confirmed list is the first `capacity` of those still
/// going, by the time they said going, and the rest are waitlisted in that order.
fn run_rsvp_race(capacity: i64, times: &[i64], declines: &[bool], sched: &Schedule) -> Result<()> {
    use noaber_core::model::event::{NewEvent, Rsvp};
    let org = Replica::new(Role::Organiser)?;
    let residents: Vec<Replica> = times
        .iter()
        .map(|_| Replica::new(Role::Resident))
        .collect::<Result<_>>()?;
    let mut new = NewEvent::new(
        "Buurtbarbecue",
        "Binnentuin",
        crate::support::T0 + 86_400_000,
        crate::support::T0 + 90_000_000,
    );
    new.capacity = Some(capacity);
    let id = org.store.create_event(&new)?;
    for r in &residents {
        crate::support::deliver(&org, r)?;
    }
    for ((r, t), decline) in residents.iter().zip(times).zip(declines) {
        r.clock.set(crate::support::T0 + 1_000 + t);
        r.store.rsvp_event(&id, Rsvp::Going)?;
        if *decline {
            r.clock.advance(50_000);
            r.store.rsvp_event(&id, Rsvp::Declined)?;
        }
    }
    let mut all: Vec<&Replica> = vec![&org];
    all.extend(residents.iter());
    exchange(&all, sched)?;
    assert_converged(&all, &id)?;

    // The model: still-going residents by the time they said going.
    let mut going: Vec<(i64, noaber_core::MemberId)> = residents
        .iter()
        .zip(times)
        .zip(declines)
        .filter(|(_, d)| !**d)
        .map(|((r, t), _)| (*t, r.member()))
        .collect();
    going.sort();
    let cap = usize::try_from(capacity).unwrap();
    let want_confirmed: Vec<_> = going.iter().take(cap).map(|(_, m)| m.clone()).collect();
    let want_waitlist: Vec<_> = going.iter().skip(cap).map(|(_, m)| m.clone()).collect();
    let v = org.store.event(&id)?;
    assert_eq!(
        v.confirmed
            .iter()
            .map(|a| a.member.clone())
            .collect::<Vec<_>>(),
        want_confirmed
    );
    assert_eq!(
        v.waitlist
            .iter()
            .map(|a| a.member.clone())
            .collect::<Vec<_>>(),
        want_waitlist
    );
    for m in &want_waitlist {
        assert!(
            v.notices
                .iter()
                .any(|n| &n.member == m && n.code == "waitlisted"),
            "the waitlisted are told"
        );
    }
    Ok(())
}

/// Several people claim one task while offline: every device shows the same adopter (the
/// earliest claim), the others become backups in claim order, and each of them is told.
fn run_claim_race(times: &[i64], sched: &Schedule) -> Result<()> {
    use noaber_core::model::task::NewTask;
    let creator = Replica::new(Role::Caretaker)?;
    let claimants: Vec<Replica> = times
        .iter()
        .map(|_| Replica::new(Role::Resident))
        .collect::<Result<_>>()?;
    let id = creator
        .store
        .create_task(&NewTask::new("Trappenhuis vegen"))?;
    for c in &claimants {
        crate::support::deliver(&creator, c)?;
    }
    for (c, t) in claimants.iter().zip(times) {
        c.clock.set(crate::support::T0 + 1_000 + t);
        c.store.claim_task(&id)?;
        // Each saw itself as adopter when it claimed.
        assert_eq!(c.store.task(&id)?.adopter, Some(c.member()));
    }
    let mut all: Vec<&Replica> = vec![&creator];
    all.extend(claimants.iter());
    exchange(&all, sched)?;
    assert_converged(&all, &id)?;

    let mut order: Vec<(i64, noaber_core::MemberId)> = claimants
        .iter()
        .zip(times)
        .map(|(c, t)| (*t, c.member()))
        .collect();
    order.sort();
    let v = claimants[0].store.task(&id)?;
    assert_eq!(
        v.adopter.as_ref(),
        Some(&order[0].1),
        "the earliest claim adopts"
    );
    let backups: Vec<_> = order[1..].iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(v.backups, backups, "the others are backups in claim order");
    for m in &backups {
        assert!(
            v.notices
                .iter()
                .any(|n| &n.member == m && n.code == "claim_lost"),
            "a lost claim is told"
        );
    }
    Ok(())
}

/// What a replica does to a report in [`run_report_scenario`].
#[derive(Debug, Clone)]
enum ReportOp {
    MeToo,
    Withdraw,
    Transition(u8),
    Edit(String),
}

fn report_op() -> impl Strategy<Value = ReportOp> {
    prop_oneof![
        3 => Just(ReportOp::MeToo),
        1 => Just(ReportOp::Withdraw),
        4 => (0..9u8).prop_map(ReportOp::Transition),
        1 => "[a-z ]{0,5}".prop_map(ReportOp::Edit),
    ]
}

/// A report worked on by a caretaker and an organiser while its reporter and a neighbour say
/// "me too", confirm or reopen, all offline with random delivery. Every replica converges; the
/// me-too count is exactly the members whose own latest action was "me too" (whatever happened
/// to the workflow meanwhile), never the reporter.
fn run_report_scenario(ops: &[(usize, ReportOp, i64)], sched: &Schedule) -> Result<()> {
    use noaber_core::model::report::{NewReport, ReportTransition};
    let rs = [
        Replica::new(Role::Resident)?,  // 0: reporter
        Replica::new(Role::Caretaker)?, // 1
        Replica::new(Role::Organiser)?, // 2
        Replica::new(Role::Resident)?,  // 3: neighbour
    ];
    let all: Vec<&Replica> = rs.iter().collect();
    let id = rs[0]
        .store
        .create_report(&NewReport::at("bulky_waste", 52.09, 5.12))?;
    sync_all(&all)?;
    let mut me_too: std::collections::BTreeMap<usize, bool> = Default::default();
    for (who, op, tick) in ops {
        let r = &rs[*who];
        r.clock.advance(*tick);
        let s = &r.store;
        match op {
            ReportOp::MeToo => {
                if s.me_too_report(&id).is_ok() {
                    me_too.insert(*who, true);
                }
            }
            ReportOp::Withdraw => {
                if s.withdraw_me_too(&id).is_ok() {
                    me_too.insert(*who, false);
                }
            }
            ReportOp::Transition(t) => {
                let t = match t {
                    0 => ReportTransition::Acknowledge,
                    1 => ReportTransition::Plan,
                    2 => ReportTransition::Start,
                    3 => ReportTransition::Resolve,
                    4 => ReportTransition::Confirm,
                    5 => ReportTransition::Reopen {
                        reason: String::new(),
                    },
                    6 => ReportTransition::Reject {
                        reason: "geen probleem".into(),
                    },
                    7 => ReportTransition::Refer {
                        to: "gemeente".into(),
                    },
                    _ => ReportTransition::Duplicate {
                        of: EntityId::new()?,
                    },
                };
                let _ = s.transition_report(&id, t);
            }
            ReportOp::Edit(text) => {
                let _ = s.edit_report(&id, text);
            }
        }
    }
    exchange(&all, sched)?;
    assert_converged(&all, &id)?;
    let v = rs[0].store.report(&id)?;
    let want: std::collections::BTreeSet<_> = me_too
        .iter()
        .filter(|(_, on)| **on)
        .map(|(w, _)| rs[*w].member())
        .collect();
    let got: std::collections::BTreeSet<_> = v.me_too.iter().map(|m| m.member.clone()).collect();
    assert_eq!(got, want, "me-too is independent of the workflow");
    assert!(
        !got.contains(&rs[0].member()),
        "the reporter's own me-too never counts"
    );
    // The projection agrees with the view, and a bounding box around the point finds it.
    let q = noaber_core::ListQuery {
        bbox: Some(noaber_core::BBox {
            south: 52.0,
            west: 5.0,
            north: 52.2,
            east: 5.2,
        }),
        ..Default::default()
    };
    let page = rs[3].store.list(&q)?;
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].status, v.status.as_str());
    assert!(matches!(
        page.items[0].detail,
        noaber_core::model::Detail::Report { me_too, .. } if me_too == want.len() as i64
    ));
    let away = noaber_core::ListQuery {
        bbox: Some(noaber_core::BBox {
            south: 51.0,
            west: 4.0,
            north: 51.5,
            east: 4.5,
        }),
        ..Default::default()
    };
    assert!(rs[3].store.list(&away)?.items.is_empty());
    Ok(())
}

fn run_help_scenario(steps: &[Step]) -> Result<()> {
    // Replica 0 asks; 1 is an organiser; 2 a neighbour.
    let rs = [
        Replica::new(Role::Resident)?,
        Replica::new(Role::Organiser)?,
        Replica::new(Role::Resident)?,
    ];
    let members: Vec<_> = rs.iter().map(Replica::member).collect();
    let id = rs[0]
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    sync_all(&[&rs[0], &rs[1], &rs[2]])?;
    for s in steps {
        match s {
            Step::Act { who, action, tick } => {
                rs[*who].clock.advance(*tick);
                act(&rs[*who], &id, action, &members);
            }
            Step::Deliver {
                from,
                to,
                pick,
                dup,
                rev,
            } => {
                deliver_part(&[&rs[0], &rs[1], &rs[2]], *from, *to, *pick, *dup, *rev)?;
            }
        }
    }
    sync_all(&[&rs[0], &rs[1], &rs[2]])?;

    let heads = rs[0].store.heads(&id)?;
    let dump = rs[0].store.projection_dump()?;
    let view = rs[0].store.help(&id)?;
    for r in &rs[1..] {
        assert_eq!(r.store.heads(&id)?, heads, "same document everywhere");
        assert_eq!(
            r.store.projection_dump()?,
            dump,
            "same projections everywhere"
        );
        assert_eq!(r.store.help(&id)?, view, "same derived view everywhere");
    }
    // The rule: a matched request has exactly one helper, who responded and is not the requester;
    // no other status has a helper.
    match view.status {
        HelpStatus::Matched | HelpStatus::Done => {
            let helper = view.helper.clone().expect("matched implies a helper");
            assert_ne!(helper, members[0]);
            if view.status == HelpStatus::Matched {
                assert!(
                    view.responses.iter().any(|r| r.member == helper),
                    "the helper's response is active"
                );
            }
        }
        HelpStatus::Open => assert!(view.helper.is_none()),
        HelpStatus::Cancelled => {}
    }
    assert!(
        view.responses.iter().all(|r| r.member != members[0]),
        "the requester never responds"
    );
    // Rebuilding from documents gives the incrementally kept rows.
    rs[2].store.rebuild_projections()?;
    assert_eq!(rs[2].store.projection_dump()?, dump);
    Ok(())
}

/// Who reads a participants-only request (`noaber_core::audience`): replicas share, respond,
/// match and comment at random, offline, and exchange in a random order with drops and
/// duplicates. Every replica ends with the same readers, and they are exactly the model's: the
/// creator, whoever an allowed member shared it with or matched, and whoever wrote to it — never
/// fewer for anything that happened later, and never someone a message merely names.
fn run_readers_scenario(ops: &[(usize, ReaderOp, i64)], sched: &Schedule) -> Result<()> {
    use std::collections::BTreeSet;

    use noaber_core::Audience;

    // 0 asks; 1 is an organiser; 2 and 3 are neighbours.
    let rs = [
        Replica::new(Role::Resident)?,
        Replica::new(Role::Organiser)?,
        Replica::new(Role::Resident)?,
        Replica::new(Role::Resident)?,
    ];
    let refs: Vec<&Replica> = rs.iter().collect();
    let members: Vec<_> = rs.iter().map(Replica::member).collect();
    let id = rs[0].store.create_help(&NewHelp {
        audience: Audience::Participants,
        ..NewHelp::ask("paperwork", "Een brief")
    })?;
    sync_all(&refs)?;
    let mut model: BTreeSet<_> = [members[0].clone()].into();
    for (who, op, tick) in ops {
        let r = &rs[*who];
        r.clock.advance(*tick);
        let me = members[*who].clone();
        match op {
            ReaderOp::Share(to) => {
                if r.store.share(&id, &members[*to]).is_ok() {
                    model.insert(members[*to].clone());
                }
            }
            ReaderOp::Respond => {
                if r.store.respond_help(&id, "ik kan").is_ok() {
                    model.insert(me);
                }
            }
            ReaderOp::RespondNaming(n) => {
                // A message holding another member's id names nobody: only its author.
                if r.store.respond_help(&id, members[*n].as_str()).is_ok() {
                    model.insert(me);
                }
            }
            ReaderOp::Withdraw => {
                if r.store.withdraw_help_response(&id).is_ok() {
                    model.insert(me);
                }
            }
            ReaderOp::Match(h) => {
                if r.store.match_help(&id, &members[*h]).is_ok() {
                    model.insert(me);
                    model.insert(members[*h].clone());
                }
            }
            ReaderOp::Comment => {
                if r.store.add_comment(&id, "hallo").is_ok() {
                    model.insert(me);
                }
            }
        }
    }
    exchange(&refs, sched)?;
    assert_converged(&refs, &id)?;
    let readers = rs[0].store.readers(&id)?;
    for r in &rs[1..] {
        assert_eq!(r.store.readers(&id)?, readers, "same readers everywhere");
    }
    assert_eq!(readers.audience, Audience::Participants);
    assert_eq!(readers.members, model);
    // Coordinators read it whatever the list says; a neighbour only when on it.
    assert!(readers.may_read(&members[1], Role::Organiser));
    for n in [2, 3] {
        assert_eq!(
            readers.may_read(&members[n], Role::Resident),
            model.contains(&members[n])
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum ReaderOp {
    Share(usize),
    Respond,
    RespondNaming(usize),
    Withdraw,
    Match(usize),
    Comment,
}

fn reader_op() -> impl Strategy<Value = ReaderOp> {
    prop_oneof![
        3 => (0..4usize).prop_map(ReaderOp::Share),
        2 => Just(ReaderOp::Respond),
        2 => (0..4usize).prop_map(ReaderOp::RespondNaming),
        1 => Just(ReaderOp::Withdraw),
        2 => (0..4usize).prop_map(ReaderOp::Match),
        1 => Just(ReaderOp::Comment),
    ]
}

/// A relay for [`run_backdating`]: one document, built only from the changes
/// `noaber_core::validate` accepted, with an independent check of the time rule on each.
struct TimeRelay {
    doc: automerge::AutoCommit,
    now: i64,
}

/// Every entry `at` of `d`'s log: key → at.
fn entry_times(d: &automerge::AutoCommit) -> std::collections::BTreeMap<String, i64> {
    use automerge::ReadDoc;
    let Ok(Some((_, log))) = d.get(automerge::ROOT, "log") else {
        return Default::default();
    };
    d.map_range(&log, ..)
        .filter_map(|item| {
            let at = d.get(item.id(), "at").ok().flatten()?.0.as_i64()?;
            Some((item.key.to_string(), at))
        })
        .collect()
}

impl TimeRelay {
    /// Validates and applies `bytes` from `r`; `Err` is the rejection's code.
    fn push(
        &mut self,
        r: &Replica,
        entity: &EntityId,
        bytes: &[u8],
    ) -> std::result::Result<(), &'static str> {
        use noaber_core::validate::{Pusher, check_change};
        let change = automerge::Change::from_bytes(bytes.to_vec()).map_err(|_| "decode")?;
        let id = r.store.identity();
        let pusher = Pusher {
            member: id.member,
            role: id.role,
            actors: vec![automerge::ActorId::try_from(id.actor.as_str()).map_err(|_| "actor")?],
            not_after: Some(self.now + 86_400_000),
            created_not_before: Some(self.now - 30 * 86_400_000),
        };
        check_change(Some(&self.doc), entity, &change, &pusher).map_err(|r| r.code)?;
        // Independently of the validator: the state the change depends on, by `fork_at`.
        let seen = entry_times(&self.doc.fork_at(change.deps()).map_err(|_| "fork")?);
        let before = entry_times(&self.doc);
        self.doc.apply_changes([change]).map_err(|_| "apply")?;
        let latest_seen = seen.values().max().copied().unwrap_or(i64::MIN);
        for (key, at) in entry_times(&self.doc) {
            if !before.contains_key(&key) {
                assert!(
                    at > latest_seen,
                    "an accepted entry is after what it depends on"
                );
            }
        }
        Ok(())
    }

    /// Gives `r` every change the relay holds.
    fn pull(&mut self, r: &Replica, id: &EntityId) -> Result<()> {
        let batch: Vec<_> = self
            .doc
            .get_changes(&[])
            .into_iter()
            .map(|c| (id.clone(), c.raw_bytes().to_vec()))
            .collect();
        r.store.apply_remote_changes(&batch)?;
        Ok(())
    }
}

/// Back-dating (issue 11): three neighbours with clocks up to 2 h wrong claim one task, each
/// online (it pulls first) or offline (it claims on what it had), in a random order; an
/// attacker who pulled everything tries claims dated before what it saw. Every honest change
/// is accepted, every back-dated one refused (`bad_time`), every accepted entry is after every
/// entry its change depends on, and the adopter is the earliest honest claim.
fn run_backdating(
    skews: &[i64],
    plan: &[(usize, bool, i64)],
    attacks: &[(usize, i64)],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    use noaber_core::model::task::NewTask;
    const T0: i64 = crate::support::T0;
    let creator = Replica::new(Role::Caretaker)?;
    let honest: Vec<Replica> = skews
        .iter()
        .map(|_| Replica::new(Role::Resident))
        .collect::<Result<_>>()?;
    let attacker = Replica::new(Role::Resident)?;
    let id = creator.store.create_task(&NewTask::new("Bankje"))?;
    // The relay's clock is right; the creator's too.
    let mut relay = TimeRelay {
        doc: automerge::AutoCommit::new(),
        now: T0,
    };
    for c in creator.outgoing()? {
        let change = automerge::Change::from_bytes(c.1)?;
        relay.doc.apply_changes([change])?;
    }
    for r in honest.iter().chain([&attacker]) {
        relay.pull(r, &id)?;
    }
    let mut claims = Vec::new();
    for (step, (who, online, tick)) in plan.iter().enumerate() {
        relay.now += tick;
        let r = &honest[*who];
        r.clock.set(relay.now + skews[*who]);
        if *online {
            relay.pull(r, &id)?;
        }
        if r.store.claim_task(&id).is_ok() {
            let pending = r.store.pending_changes(100)?;
            for c in &pending {
                // An honest change is never refused, whatever the device's clock says.
                if let Err(code) = relay.push(r, &id, &c.bytes) {
                    panic!("an honest claim was refused: {code}");
                }
            }
            r.store
                .ack_changes(&pending.iter().map(|c| c.seq).collect::<Vec<_>>())?;
            claims.push(r.member());
        }
        for (_, back) in attacks.iter().filter(|(after, _)| *after == step) {
            relay.pull(&attacker, &id)?;
            let seen = entry_times(&relay.doc);
            let Some(latest) = seen.values().max().copied() else {
                continue;
            };
            let at = (latest - back).max(1);
            let mut d = automerge::AutoCommit::load(&attacker.store.document_bytes(&id)?)?
                .with_actor(automerge::ActorId::try_from(
                    attacker.store.identity().actor.as_str(),
                )?);
            use automerge::ReadDoc;
            use automerge::transaction::Transactable;
            let Some((_, log)) = d.get(automerge::ROOT, "log")? else {
                continue;
            };
            let e = d.put_object(&log, format!("forged{step}{back}"), automerge::ObjType::Map)?;
            d.put(&e, "t", "claim")?;
            d.put(&e, "by", attacker.member().as_str())?;
            d.put(&e, "role", "resident")?;
            d.put(&e, "at", at)?;
            d.put(&e, "as", "adopter")?;
            d.commit();
            let change = d.get_last_local_change().ok_or("no change")?;
            assert_eq!(
                relay.push(&attacker, &id, change.raw_bytes()),
                Err("bad_time"),
                "at {at}"
            );
        }
    }
    // Whoever claimed first in the log's order adopts; the attacker never does.
    let viewer = Replica::new(Role::Resident)?;
    relay.pull(&viewer, &id)?;
    let v = viewer.store.task(&id)?;
    assert_ne!(v.adopter, Some(attacker.member()));
    if !claims.is_empty() {
        assert!(v.adopter.as_ref().is_some_and(|a| claims.contains(a)));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn back_dating_never_wins_a_claim(
        skews in proptest::collection::vec(-7_200_000..=7_200_000i64, 3),
        plan in proptest::collection::vec((0..3usize, any::<bool>(), 0..600_000i64), 1..8),
        attacks in proptest::collection::vec((0..8usize, 0..200_000_000i64), 0..6),
    ) {
        run_backdating(&skews, &plan, &attacks).unwrap();
    }

    #[test]
    fn readers_of_a_restricted_request_converge(
        ops in proptest::collection::vec((0..4usize, reader_op(), 0..3i64), 1..25),
        sched in schedule(4),
    ) {
        run_readers_scenario(&ops, &sched).unwrap();
    }

    #[test]
    fn reports_converge_and_me_too_survives_the_workflow(
        ops in proptest::collection::vec((0..4usize, report_op(), 0..3i64), 1..30),
        sched in schedule(4),
    ) {
        run_report_scenario(&ops, &sched).unwrap();
    }

    #[test]
    fn claims_race_for_one_task(
        times in proptest::sample::subsequence((0..30i64).collect::<Vec<_>>(), 3).prop_shuffle(),
        sched in schedule(4),
    ) {
        run_claim_race(&times, &sched).unwrap();
    }

    #[test]
    fn rsvps_race_for_the_last_places(
        capacity in 1..4i64,
        times in proptest::sample::subsequence((0..40i64).collect::<Vec<_>>(), 4).prop_shuffle(),
        declines in proptest::collection::vec(proptest::bool::weighted(0.25), 4),
        sched in schedule(5),
    ) {
        run_rsvp_race(capacity, &times, &declines, &sched).unwrap();
    }

    #[test]
    fn help_requests_converge(steps in proptest::collection::vec(step(), 1..40)) {
        run_help_scenario(&steps).unwrap();
    }
}
