//! `derive`: the replay of the log into the view, with the concurrency rules beside it; and
//! `project`, the view as the store's [`Projection`](crate::model::Projection) rows.

use automerge::{ROOT, ReadDoc};
use jiff::ToSpan;
use jiff::civil::Date;

use crate::doc::{self, Entry};
use crate::error::Result;
use crate::ids::MemberId;
use crate::model::rrule::Rule;
use crate::model::{
    Action, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, allowed,
};

use super::{
    ChecklistItem, DEFAULT_TZ, MAX_CHECKLIST, MAX_HOUSEHOLD, MAX_ITEM, MAX_NOTE, MAX_PLEDGE_TARGET,
    Occurrence, Outcome, Pledge, RECENT_OCCURRENCES, Schedule, TaskEntry, TaskStatus, TaskView,
    check_schedule, parse_date,
};

#[derive(Debug, Clone)]
struct Recorded {
    date: Date,
    outcome: Outcome,
    by: MemberId,
    at: i64,
    note: String,
}

/// The replay's state.
struct Replay {
    creator: MemberId,
    schedule: Schedule,
    pledge_target: Option<u32>,
    started: bool,
    /// Members who are in, in log order of their claims: the adopter first.
    claimants: Vec<MemberId>,
    pledges: Vec<Pledge>,
    paused: bool,
    checklist: Vec<ChecklistItem>,
    /// One per date.
    recorded: Vec<Recorded>,
    notices: Vec<Notice>,
}

impl Replay {
    fn adopter(&self) -> Option<&MemberId> {
        self.claimants.first()
    }

    fn is_in(&self, m: &MemberId) -> bool {
        self.claimants.contains(m)
    }

    fn households(&self) -> usize {
        let mut hs: Vec<&str> = self.pledges.iter().map(|p| p.household.as_str()).collect();
        hs.sort_unstable();
        hs.dedup();
        hs.len()
    }

    fn pledging(&self) -> bool {
        self.pledge_target.is_some() && !self.started
    }

    fn latest(&self) -> Option<Date> {
        self.recorded.iter().map(|r| r.date).max()
    }

    fn finished(&self) -> bool {
        self.schedule.finished(self.latest())
    }

    fn notice(&mut self, member: &MemberId, code: NoticeCode, text: String) {
        self.notices.push(Notice {
            member: member.clone(),
            code,
            text,
        });
    }

    fn may_manage(&self, e: &Entry) -> bool {
        allowed(Action::ManageTask, e.role)
    }

    fn may_checklist(&self, e: &Entry) -> bool {
        e.by == self.creator || self.is_in(&e.by) || self.may_manage(e)
    }

    /// One step of the replay.
    fn apply(&mut self, e: &Entry) {
        match TaskEntry::parse(&e.t) {
            Some(TaskEntry::Claim) => self.claim(e),
            Some(TaskEntry::Release) => self.release(e),
            Some(TaskEntry::Pledge) => {
                let Some(target) = self.pledge_target else {
                    return;
                };
                let household = e
                    .str("household")
                    .map(str::trim)
                    .filter(|h| !h.is_empty() && h.chars().count() <= MAX_HOUSEHOLD)
                    .unwrap_or(e.by.as_str())
                    .to_owned();
                self.pledges.retain(|p| p.member != e.by);
                self.pledges.push(Pledge {
                    member: e.by.clone(),
                    household,
                    at: e.at,
                });
                if self.households() >= target as usize {
                    self.started = true;
                }
            }
            Some(TaskEntry::Unpledge) => self.pledges.retain(|p| p.member != e.by),
            Some(TaskEntry::Occurrence) => self.occurrence(e),
            Some(TaskEntry::Pause) | Some(TaskEntry::Resume)
                if self.adopter() == Some(&e.by) || self.may_manage(e) =>
            {
                self.paused = e.t == TaskEntry::Pause;
            }
            Some(TaskEntry::CheckAdd) => {
                let text = e.str("text").map(str::trim).unwrap_or_default();
                let ok = !text.is_empty() && text.chars().count() <= MAX_ITEM;
                if ok && self.checklist.len() < MAX_CHECKLIST && self.may_checklist(e) {
                    self.checklist.push(ChecklistItem {
                        id: e.id.clone(),
                        text: text.to_owned(),
                        by: e.by.clone(),
                        at: e.at,
                    });
                }
            }
            Some(TaskEntry::CheckRemove) if self.may_checklist(e) => {
                if let Some(item) = e.str("item") {
                    self.checklist.retain(|i| i.id != item);
                }
            }
            Some(TaskEntry::Schedule) => {
                if e.by != self.creator && !self.may_manage(e) {
                    return;
                }
                let tz = e.str("tz");
                if let Ok(s) =
                    check_schedule(e.str("rrule"), e.str("dtstart"), tz.or(Some(DEFAULT_TZ)))
                {
                    self.schedule = s;
                }
            }
            _ => {} // unknown entry types come from newer schemas: ignored
        }
    }

    fn claim(&mut self, e: &Entry) {
        if self.is_in(&e.by) || self.finished() {
            return;
        }
        // Entries replay in `(at, by, id)` order, so this claim sorts after every claim
        // already in: appending keeps the claimants ordered by the written rule.
        self.claimants.push(e.by.clone());
        let place = self.claimants.len().saturating_sub(1);
        if place > 0 && e.str("as") == Some("adopter") {
            let first = self.adopter().map(|m| m.to_string()).unwrap_or_default();
            let which = if place == 1 {
                "first backup".to_owned()
            } else {
                format!("backup number {place}")
            };
            self.notice(
                &e.by,
                NoticeCode::ClaimLost,
                format!("member {first} claimed it first; you are {which}"),
            );
        }
    }

    fn release(&mut self, e: &Entry) {
        let Some(place) = self.claimants.iter().position(|c| c == &e.by) else {
            return;
        };
        self.claimants.remove(place);
        if place == 0 {
            if let Some(next) = self.adopter().cloned() {
                self.notice(
                    &next,
                    NoticeCode::NowAdopter,
                    "the adopter stepped back; you are now the adopter".into(),
                );
            }
        }
    }

    fn occurrence(&mut self, e: &Entry) {
        let (Some(date), Some(outcome)) = (
            e.str("date").and_then(|d| parse_date("date", d).ok()),
            e.str("outcome").and_then(|o| Outcome::parse(o).ok()),
        ) else {
            return;
        };
        let why = if self.pledging() {
            Some("the task has not reached its pledge target")
        } else if !(self.is_in(&e.by) || self.may_manage(e)) {
            Some("you were not adopter or backup then")
        } else if !self.schedule.has(date) {
            Some("that date is not an occurrence of the schedule")
        } else if self.schedule.day_of(e.at).is_none_or(|today| date > today) {
            Some("that date was still in the future")
        } else {
            None
        };
        if let Some(why) = why {
            self.notice(
                &e.by,
                NoticeCode::OccurrenceIgnored,
                format!("your record for {date} was not applied: {why}"),
            );
            return;
        }
        let note = e.str("note").unwrap_or_default();
        let note: String = note.chars().take(MAX_NOTE).collect();
        let new = Recorded {
            date,
            outcome,
            by: e.by.clone(),
            at: e.at,
            note,
        };
        match self.recorded.iter().position(|r| r.date == date) {
            None => self.recorded.push(new),
            Some(i) => {
                let Some(old) = self.recorded.get(i).cloned() else {
                    return;
                };
                if old.outcome == Outcome::Skipped && outcome == Outcome::Done {
                    self.notice(
                        &old.by,
                        NoticeCode::SkipOverruled,
                        format!("your skip of {date} was overruled: it was done"),
                    );
                    if let Some(slot) = self.recorded.get_mut(i) {
                        *slot = new;
                    }
                } else if old.outcome == Outcome::Done && outcome == Outcome::Skipped {
                    self.notice(
                        &e.by,
                        NoticeCode::SkipOverruled,
                        format!("your skip of {date} was overruled: it was done"),
                    );
                }
            }
        }
    }
}

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<TaskView> {
    let header = doc::header(d)?;
    let entries = doc::entries(d);
    let pledge_target = doc::get_i64(d, &ROOT, "pledge_target")
        .and_then(|k| u32::try_from(k).ok())
        .filter(|k| (1..=MAX_PLEDGE_TARGET).contains(k));
    let mut r = Replay {
        creator: header.created_by.clone(),
        schedule: Schedule::from_root(d),
        pledge_target,
        started: false,
        claimants: Vec::new(),
        pledges: Vec::new(),
        paused: false,
        checklist: Vec::new(),
        recorded: Vec::new(),
        notices: Vec::new(),
    };
    for e in &entries {
        r.apply(e);
    }

    let latest = r.latest();
    let finished = r.finished();
    let status = if finished {
        TaskStatus::Finished
    } else if r.pledging() {
        TaskStatus::Pledging
    } else if r.paused {
        TaskStatus::Paused
    } else if r.claimants.is_empty() {
        TaskStatus::Unadopted
    } else {
        TaskStatus::Active
    };
    let next_open = if finished {
        None
    } else {
        r.schedule.next_open(latest)
    };
    let (due_at, overdue_at) = match next_open {
        Some(day) if matches!(status, TaskStatus::Active | TaskStatus::Unadopted) => {
            let overdue_day = day.checked_add(r.schedule.grace_days().days()).ok();
            (
                r.schedule.start_of(day),
                overdue_day.and_then(|o| r.schedule.start_of(o)),
            )
        }
        _ => (None, None),
    };
    let households = r.households();
    let mut recorded = r.recorded;
    recorded.sort_by_key(|r| std::cmp::Reverse(r.date));
    let (lat, lon) = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => (Some(lat), Some(lon)),
        _ => (None, None),
    };
    let mut claimants = r.claimants.into_iter();
    let adopter = claimants.next();
    Ok(TaskView {
        id: header.id.clone(),
        title: doc::get_text(d, &ROOT, "title").unwrap_or_default(),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        lat,
        lon,
        location_label: doc::get_str(d, &ROOT, "location_label").unwrap_or_default(),
        creator: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        recurrence: r.schedule.rule.as_ref().map(Rule::to_rule_string),
        dtstart: r.schedule.dtstart.map(|s| s.to_string()),
        tz: r.schedule.tz_name.clone(),
        pledge_target: r.pledge_target,
        status,
        adopter,
        backups: claimants.collect(),
        pledges: r.pledges,
        households,
        paused: r.paused,
        checklist: r.checklist,
        occurrences: recorded
            .iter()
            .take(RECENT_OCCURRENCES)
            .map(|o| Occurrence {
                date: o.date.to_string(),
                outcome: o.outcome,
                by: o.by.clone(),
                at: o.at,
                note: o.note.clone(),
            })
            .collect(),
        next_open: next_open.map(|n| n.to_string()),
        due_at,
        overdue_at,
        notices: r.notices,
        schedule: r.schedule,
        recorded: recorded.iter().map(|o| (o.date, o.outcome)).collect(),
        next_open_day: next_open,
    })
}

/// The projection of a task.
///
/// `needs_response`: unadopted. `starts_at`: the start of `next_open`'s day whatever the
/// status (for "upcoming" lists); `due_at`/`overdue_at` only while active or unadopted.
pub(crate) fn project(v: &TaskView) -> Projection {
    let mut participants = vec![Participant {
        member: v.creator.clone(),
        relation: Relation::Creator,
    }];
    if let Some(a) = &v.adopter {
        participants.push(Participant {
            member: a.clone(),
            relation: Relation::Adopter,
        });
    }
    for b in &v.backups {
        participants.push(Participant {
            member: b.clone(),
            relation: Relation::Backup,
        });
    }
    for p in &v.pledges {
        participants.push(Participant {
            member: p.member.clone(),
            relation: Relation::Pledger,
        });
    }
    let starts_at = v.next_open_day.and_then(|n| v.schedule.start_of(n));
    Projection {
        kind: Kind::Task,
        status: v.status.as_str().to_owned(),
        category: None,
        title: v.title.clone(),
        body: v.description.clone(),
        created_by: v.creator.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at,
        ends_at: None,
        expires_at: None,
        due_at: v.due_at,
        overdue_at: v.overdue_at,
        lat: v.lat,
        lon: v.lon,
        location_label: Some(v.location_label.clone()).filter(|l| !l.is_empty()),
        needs_response: v.status == TaskStatus::Unadopted,
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Task {
            adopter: v.adopter.clone(),
            backups: v.backups.len() as i64,
            pledges: v.households as i64,
            pledge_target: v.pledge_target.map(i64::from),
            paused: v.paused,
            next_open: v.next_open.clone(),
            recurrence: v.recurrence.clone(),
        },
    }
}
