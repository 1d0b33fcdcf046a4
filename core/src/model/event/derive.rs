//! `derive`: the replay of the log into the view, with the concurrency rules beside it; and
//! `project`, the view as the store's [`Projection`](crate::model::Projection) rows.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ROOT, ReadDoc};

use crate::doc::{self, Entry};
use crate::error::Result;
use crate::ids::MemberId;
use crate::model::{
    Action, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, allowed,
};

use super::{
    Attendee, CAPACITY, EventEntry, EventStatus, EventView, NEEDED, Rsvp, SEEN_CONFIRMED,
    SEEN_WAITLISTED, Shift, VolunteerRole, check_times,
};

// ---------------------------------------------------------------------------------------------
// Derivation

/// The entry that made a member going (or signed up), with what it knew.
#[derive(Debug, Clone)]
struct Run {
    at: i64,
    entry: String,
    /// What the writer's device showed (`seen`), if recorded.
    seen: Option<String>,
    /// Whether the queue was already full when this entry came, in the replay.
    waitlisted_at_arrival: bool,
}

#[derive(Debug, Clone)]
struct Answer {
    rsvp: Rsvp,
    at: i64,
    /// `Some` while the answer is `going`.
    run: Option<Run>,
}

fn is_manager(e: &Entry) -> bool {
    allowed(Action::ManageEvent, e.role)
}

fn notice(v: &mut EventView, member: &MemberId, code: NoticeCode, text: String) {
    v.notices.push(Notice {
        member: member.clone(),
        code,
        text,
    });
}

pub(super) fn capacity_usize(capacity: Option<i64>) -> Option<usize> {
    capacity.and_then(|c| usize::try_from(c).ok())
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<EventView> {
    let header = doc::header(d)?;
    let entries = doc::entries(d);
    let starts_at = doc::get_i64(d, &ROOT, "starts_at").unwrap_or(header.created_at);
    let ends_at = doc::get_i64(d, &ROOT, "ends_at")
        .unwrap_or(starts_at)
        .max(starts_at);
    let (lat, lon) = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => (Some(lat), Some(lon)),
        _ => (None, None),
    };
    let capacity = doc::get_i64(d, &ROOT, "capacity").filter(|c| CAPACITY.contains(c));
    let mut v = EventView {
        id: header.id.clone(),
        title: doc::get_text(d, &ROOT, "title").unwrap_or_default(),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        starts_at,
        ends_at,
        place: doc::get_str(d, &ROOT, "place").unwrap_or_default(),
        lat,
        lon,
        capacity,
        creator: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        status: EventStatus::Upcoming,
        cancelled_at: None,
        cancel_reason: None,
        confirmed: Vec::new(),
        waitlist: Vec::new(),
        maybe: Vec::new(),
        declined: Vec::new(),
        roles: Vec::new(),
        shifts: Vec::new(),
        shifts_needed: 0,
        shifts_filled: 0,
        notices: Vec::new(),
    };

    // 1. The standing cancel: the first valid one in the order.
    let cancel_at = entries
        .iter()
        .position(|e| e.t == EventEntry::Cancel && is_manager(e));
    if let Some(e) = cancel_at.and_then(|i| entries.get(i)) {
        v.status = EventStatus::Cancelled;
        v.cancelled_at = Some(e.at);
        v.cancel_reason = e.str("reason").filter(|r| !r.is_empty()).map(str::to_owned);
    }
    let cut = cancel_at.unwrap_or(entries.len());
    let (before, after) = entries.split_at(cut.min(entries.len()));

    // 2. Roles and shifts: sets of the valid entries before the cancel.
    for e in before
        .iter()
        .filter(|e| e.t == EventEntry::AddRole && is_manager(e))
    {
        let Some(name) = e.str("name").map(str::trim).filter(|n| !n.is_empty()) else {
            continue;
        };
        v.roles.push(VolunteerRole {
            id: e.id.clone(),
            name: name.to_owned(),
            description: e.str("description").unwrap_or_default().to_owned(),
        });
    }
    for e in before
        .iter()
        .filter(|e| e.t == EventEntry::AddShift && is_manager(e))
    {
        let (Some(role), Some(s), Some(end), Some(needed)) = (
            e.str("role_id"),
            e.int("starts_at"),
            e.int("ends_at"),
            e.int("needed"),
        ) else {
            continue;
        };
        if !v.roles.iter().any(|r| r.id == role)
            || check_times(s, end).is_err()
            || !NEEDED.contains(&needed)
        {
            continue;
        }
        v.shifts.push(Shift {
            id: e.id.clone(),
            role: role.to_owned(),
            starts_at: s,
            ends_at: end,
            needed,
            on: Vec::new(),
            reserve: Vec::new(),
        });
    }
    v.shifts
        .sort_by(|a, b| (a.starts_at, &a.id).cmp(&(b.starts_at, &b.id)));
    let shift_ids: BTreeSet<String> = v.shifts.iter().map(|s| s.id.clone()).collect();

    // 3. Answers and sign-ups, replayed in order up to the cancel.
    let cap = capacity_usize(capacity);
    let mut answers: BTreeMap<MemberId, Answer> = BTreeMap::new();
    let mut going_count: usize = 0;
    let mut signups: BTreeMap<(String, MemberId), (i64, String)> = BTreeMap::new();
    for e in before {
        match EventEntry::parse(&e.t) {
            Some(EventEntry::Rsvp) => {
                let Some(rsvp) = e.str("status").and_then(|s| Rsvp::parse(s).ok()) else {
                    continue;
                };
                let prev_run = answers.get(&e.by).and_then(|a| a.run.clone());
                let run = match (rsvp, prev_run) {
                    (Rsvp::Going, Some(run)) => Some(run), // still going: keeps its place
                    (Rsvp::Going, None) => {
                        let ahead = going_count;
                        going_count = going_count.saturating_add(1);
                        Some(Run {
                            at: e.at,
                            entry: e.id.clone(),
                            seen: e.str("seen").map(str::to_owned),
                            waitlisted_at_arrival: cap.is_some_and(|c| ahead >= c),
                        })
                    }
                    (_, Some(_)) => {
                        going_count = going_count.saturating_sub(1);
                        None
                    }
                    (_, None) => None,
                };
                answers.insert(
                    e.by.clone(),
                    Answer {
                        rsvp,
                        at: e.at,
                        run,
                    },
                );
            }
            Some(EventEntry::Signup) | Some(EventEntry::Unsignup) => {
                let Some(shift) = e.str("shift").filter(|s| shift_ids.contains(*s)) else {
                    continue;
                };
                let key = (shift.to_owned(), e.by.clone());
                if e.t == EventEntry::Unsignup {
                    signups.remove(&key);
                } else {
                    signups.entry(key).or_insert_with(|| (e.at, e.id.clone()));
                }
            }
            _ => {} // roles, shifts (above); unknown types come from newer schemas
        }
    }

    // The waitlist rule.
    let mut queue: Vec<(&MemberId, &Run)> = answers
        .iter()
        .filter_map(|(m, a)| a.run.as_ref().map(|r| (m, r)))
        .collect();
    queue.sort_by(|a, b| (a.1.at, a.0, &a.1.entry).cmp(&(b.1.at, b.0, &b.1.entry)));
    let split = cap.unwrap_or(usize::MAX).min(queue.len());
    let (confirmed, waitlist) = queue.split_at(split);
    v.confirmed = confirmed
        .iter()
        .map(|(m, r)| Attendee {
            member: (*m).clone(),
            since: r.at,
        })
        .collect();
    v.waitlist = waitlist
        .iter()
        .map(|(m, r)| Attendee {
            member: (*m).clone(),
            since: r.at,
        })
        .collect();
    for (m, a) in &answers {
        let attendee = Attendee {
            member: m.clone(),
            since: a.at,
        };
        match a.rsvp {
            Rsvp::Maybe => v.maybe.push(attendee),
            Rsvp::Declined => v.declined.push(attendee),
            Rsvp::Going => {}
        }
    }

    // The shift rule.
    let mut by_shift: BTreeMap<&str, Vec<(i64, &MemberId, &str)>> = BTreeMap::new();
    for ((shift, member), (at, entry)) in &signups {
        by_shift
            .entry(shift.as_str())
            .or_default()
            .push((*at, member, entry.as_str()));
    }
    for s in &mut v.shifts {
        let mut q = by_shift.remove(s.id.as_str()).unwrap_or_default();
        q.sort();
        let needed = usize::try_from(s.needed).unwrap_or(0);
        for (i, (_, m, _)) in q.into_iter().enumerate() {
            if i < needed {
                s.on.push(m.clone())
            } else {
                s.reserve.push(m.clone())
            }
        }
        v.shifts_needed = v.shifts_needed.saturating_add(s.needed);
        v.shifts_filled = v.shifts_filled.saturating_add(s.filled());
    }

    // Notices.
    if v.status == EventStatus::Cancelled {
        let mut told: BTreeSet<MemberId> = BTreeSet::new();
        told.extend(
            v.confirmed
                .iter()
                .chain(&v.waitlist)
                .map(|a| a.member.clone()),
        );
        for s in &v.shifts {
            told.extend(s.on.iter().chain(&s.reserve).cloned());
        }
        for e in after {
            let late_answer =
                e.t == EventEntry::Rsvp && matches!(e.str("status"), Some("going" | "maybe"));
            if late_answer || e.t == EventEntry::Signup {
                told.insert(e.by.clone());
            }
        }
        for m in &told {
            notice(
                &mut v,
                m,
                NoticeCode::EventCancelled,
                "the event was cancelled".to_owned(),
            );
        }
    } else {
        for (i, (m, r)) in waitlist.iter().enumerate() {
            let n = i.saturating_add(1);
            notice(
                &mut v,
                m,
                NoticeCode::Waitlisted,
                format!("you are number {n} on the waitlist"),
            );
            if r.seen.as_deref() == Some(SEEN_CONFIRMED) {
                let text = format!(
                    "another answer came first or the capacity was lowered: \
                     you are number {n} on the waitlist"
                );
                notice(&mut v, m, NoticeCode::Bumped, text);
            }
        }
        for (m, r) in confirmed {
            if r.seen.as_deref() == Some(SEEN_WAITLISTED) || r.waitlisted_at_arrival {
                notice(
                    &mut v,
                    m,
                    NoticeCode::Promoted,
                    "a place opened up: you are going".to_owned(),
                );
            }
        }
        let mut reserves = Vec::new();
        for s in &v.shifts {
            for (i, m) in s.reserve.iter().enumerate() {
                let n = i.saturating_add(1);
                reserves.push((
                    m.clone(),
                    format!("you are reserve number {n} for shift {}", s.id),
                ));
            }
        }
        for (m, text) in reserves {
            notice(&mut v, &m, NoticeCode::ShiftReserve, text);
        }
    }
    Ok(v)
}

/// The projection of an event.
///
/// `needs_response`: not cancelled, and some shift is short of volunteers.
pub(crate) fn project(v: &EventView) -> Projection {
    let mut participants = vec![Participant {
        member: v.creator.clone(),
        relation: Relation::Creator,
    }];
    let lists: [(&[Attendee], Relation); 3] = [
        (&v.confirmed, Relation::Going),
        (&v.waitlist, Relation::Waitlisted),
        (&v.maybe, Relation::Maybe),
    ];
    for (list, relation) in lists {
        for a in list {
            participants.push(Participant {
                member: a.member.clone(),
                relation,
            });
        }
    }
    for s in &v.shifts {
        for m in s.on.iter().chain(&s.reserve) {
            participants.push(Participant {
                member: m.clone(),
                relation: Relation::Volunteer,
            });
        }
    }
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    Projection {
        kind: Kind::Event,
        status: v.status.as_str().to_owned(),
        category: None,
        title: v.title.clone(),
        body: v.description.clone(),
        created_by: v.creator.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: Some(v.starts_at),
        ends_at: Some(v.ends_at),
        expires_at: None,
        due_at: None,
        overdue_at: None,
        lat: v.lat,
        lon: v.lon,
        location_label: Some(v.place.clone()).filter(|p| !p.is_empty()),
        needs_response: v.status != EventStatus::Cancelled && v.shifts.iter().any(Shift::is_short),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Event {
            capacity: v.capacity,
            going: count(v.confirmed.len()),
            waitlisted: count(v.waitlist.len()),
            maybe: count(v.maybe.len()),
            shifts_needed: v.shifts_needed,
            shifts_filled: v.shifts_filled,
        },
    }
}
