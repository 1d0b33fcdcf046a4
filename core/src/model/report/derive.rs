//! `derive`: the replay of the log into the view, with the concurrency rules beside it; and
//! `project`, the view as the store's [`Projection`](crate::model::Projection) rows.

use std::collections::BTreeSet;

use automerge::{ROOT, ReadDoc};

use crate::doc::{self, Entry};
use crate::error::Result;
use crate::model::{
    Action, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation, allowed,
};

use super::{
    Attempt, MAX_PARTY, MAX_PHOTOS, MeToo, Refusal, ReportEntry, ReportPhoto, ReportStatus,
    ReportView, TimelineEntry, check, photo_from_entry,
};

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<ReportView> {
    derive_from(d, &doc::entries(d))
}

/// [`derive`] over the document's `entries`, read once by a caller that needs them too.
pub(super) fn derive_from(d: &impl ReadDoc, entries: &[Entry]) -> Result<ReportView> {
    let header = doc::header(d)?;
    let point = match (doc::get_f64(d, &ROOT, "lat"), doc::get_f64(d, &ROOT, "lon")) {
        (Some(lat), Some(lon)) if doc::check_point(lat, lon).is_ok() => Some((lat, lon)),
        _ => None,
    };
    let part = |key: &str| doc::get_str(d, &ROOT, key).filter(|s| !s.is_empty());
    let mut v = ReportView {
        id: header.id.clone(),
        category: doc::get_str(d, &ROOT, "category").unwrap_or_else(|| "other".into()),
        description: doc::get_text(d, &ROOT, "description").unwrap_or_default(),
        lat: point.map(|p| p.0),
        lon: point.map(|p| p.1),
        complex: part("complex"),
        floor: part("floor"),
        stairwell: part("stairwell"),
        severity: doc::get_str(d, &ROOT, "severity").unwrap_or_else(|| "normal".into()),
        reporter: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, entries),
        status: ReportStatus::Reported,
        timeline: Vec::new(),
        me_too: Vec::new(),
        responsible: None,
        response: doc::get_text(d, &ROOT, "response").unwrap_or_default(),
        response_at: None,
        response_by: None,
        edited_at: None,
        photos: Vec::new(),
        reject_reason: None,
        duplicate_of: None,
        referred_to: None,
        notices: Vec::new(),
    };
    let mut hashes = BTreeSet::new();
    for e in entries {
        apply(&mut v, &mut hashes, e);
    }
    Ok(v)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// One step of the replay. Invalid entries are ignored (and noticed where someone should know).
fn apply(v: &mut ReportView, hashes: &mut BTreeSet<String>, e: &Entry) {
    match ReportEntry::parse(&e.t) {
        Some(ReportEntry::Transition) => {
            // A status this code does not know comes from a newer schema: ignored silently.
            let Some(to) = e.str("to").and_then(ReportStatus::parse) else {
                return;
            };
            let attempt = Attempt {
                by: &e.by,
                role: e.role,
                to,
                reason: e.str("reason"),
                of: e.str("of"),
                referred_to: e.str("referred_to"),
            };
            match check(v, &attempt) {
                Ok(()) => {
                    let step = TimelineEntry {
                        by: e.by.clone(),
                        role: e.role,
                        at: e.at,
                        to,
                        reason: non_empty(attempt.reason),
                        of: (to == ReportStatus::Duplicate)
                            .then(|| non_empty(attempt.of))
                            .flatten(),
                        referred_to: (to == ReportStatus::Referred)
                            .then(|| non_empty(attempt.referred_to))
                            .flatten(),
                    };
                    match to {
                        ReportStatus::Rejected => v.reject_reason = step.reason.clone(),
                        ReportStatus::Duplicate => v.duplicate_of = step.of.clone(),
                        ReportStatus::Referred => v.referred_to = step.referred_to.clone(),
                        _ => {}
                    }
                    v.status = to;
                    v.timeline.push(step);
                }
                Err(Refusal::Redundant) => {}
                Err(refusal) => {
                    let why = match refusal {
                        Refusal::Permission(_) => "your role may not take that step".to_owned(),
                        Refusal::Input(_) => "a required field was missing or invalid".to_owned(),
                        _ => format!("the report was already `{}`", v.status.as_str()),
                    };
                    v.notices.push(Notice {
                        member: e.by.clone(),
                        code: NoticeCode::TransitionIgnored,
                        text: format!("your change to `{}` was not applied: {why}", to.as_str()),
                    });
                }
            }
        }
        // The reporter's own never counts; an already active one keeps its first time.
        Some(ReportEntry::MeToo)
            if e.by != v.reporter && !v.me_too.iter().any(|m| m.member == e.by) =>
        {
            v.me_too.push(MeToo {
                member: e.by.clone(),
                at: e.at,
            });
        }
        Some(ReportEntry::MeTooWithdraw) => v.me_too.retain(|m| m.member != e.by),
        Some(ReportEntry::Edit) if e.by == v.reporter || allowed(Action::WorkReport, e.role) => {
            v.edited_at = Some(e.at);
        }
        Some(ReportEntry::Response) if allowed(Action::TriageReport, e.role) => {
            v.response_at = Some(e.at);
            v.response_by = Some(e.by.clone());
        }
        Some(ReportEntry::Responsible) if allowed(Action::TriageReport, e.role) => {
            let party = non_empty(e.str("party"));
            if party
                .as_deref()
                .is_none_or(|p| doc::check_len("party", p, MAX_PARTY).is_ok())
            {
                v.responsible = party;
            }
        }
        Some(ReportEntry::Photo) if v.may_attach(&e.by, e.role) && v.photos.len() < MAX_PHOTOS => {
            if let Some(photo) = photo_from_entry(e) {
                if hashes.insert(photo.hash.clone()) {
                    v.photos.push(ReportPhoto {
                        by: e.by.clone(),
                        at: e.at,
                        photo,
                    });
                }
            }
        }
        _ => {} // unknown entry types come from newer schemas: ignored
    }
}

/// The projection of a report.
///
/// `needs_response`: `reported` or `reopened`. Title: the description's first line, else the
/// category. Body (searched): description and public response.
pub(crate) fn project(v: &ReportView) -> Projection {
    let mut participants = vec![Participant {
        member: v.reporter.clone(),
        relation: Relation::Reporter,
    }];
    for m in &v.me_too {
        participants.push(Participant {
            member: m.member.clone(),
            relation: Relation::MeToo,
        });
    }
    let body = if v.response.is_empty() {
        v.description.clone()
    } else {
        format!("{}\n{}", v.description, v.response)
    };
    Projection {
        kind: Kind::Report,
        status: v.status.as_str().to_owned(),
        category: Some(v.category.clone()),
        title: v.title(),
        body,
        created_by: v.reporter.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: None,
        ends_at: None,
        expires_at: None,
        due_at: None,
        overdue_at: None,
        lat: v.lat,
        lon: v.lon,
        location_label: v.location_label(),
        needs_response: v.needs_response(),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Report {
            severity: v.severity.clone(),
            me_too: i64::try_from(v.me_too.len()).unwrap_or(i64::MAX),
            responsible: v.responsible.clone(),
            photos: i64::try_from(v.photos.len()).unwrap_or(i64::MAX),
        },
    }
}
