//! `derive`: the replay of the log into the view, with the concurrency rules beside it; and
//! `project`, the view as the store's [`Projection`](crate::model::Projection) rows.

use automerge::{ROOT, ReadDoc};

use crate::doc::{self, Entry};
use crate::error::Result;
use crate::ids::MemberId;
use crate::model::{Action, Detail, Kind, Notice, NoticeCode, Participant, Projection, Relation};

use super::{HelpEntry, HelpStatus, HelpView, Response, Thanks};

/// Derives the view: replays the log as the module docs describe.
pub(crate) fn derive(doc: &impl ReadDoc) -> Result<HelpView> {
    let header = doc::header(doc)?;
    let entries = doc::entries(doc);
    let mut v = HelpView {
        id: header.id.clone(),
        mode: doc::get_str(doc, &ROOT, "mode").unwrap_or_else(|| "ask".into()),
        category: doc::get_str(doc, &ROOT, "category").unwrap_or_else(|| "other".into()),
        title: doc::get_text(doc, &ROOT, "title").unwrap_or_default(),
        body: doc::get_text(doc, &ROOT, "body").unwrap_or_default(),
        urgency: doc::get_str(doc, &ROOT, "urgency").unwrap_or_else(|| "normal".into()),
        window_start: doc::get_i64(doc, &ROOT, "window_start"),
        window_end: doc::get_i64(doc, &ROOT, "window_end"),
        precision: doc::get_str(doc, &ROOT, "precision").unwrap_or_else(|| "buurt".into()),
        location_label: doc::get_str(doc, &ROOT, "location_label").unwrap_or_default(),
        requester: header.created_by.clone(),
        created_at: header.created_at,
        updated_at: doc::updated_at(&header, &entries),
        status: HelpStatus::Open,
        responses: Vec::new(),
        helper: None,
        matched_by: None,
        match_id: None,
        thanks: Vec::new(),
        cancel_reason: None,
        notices: Vec::new(),
    };
    for e in &entries {
        apply(&mut v, e);
    }
    Ok(v)
}

fn notice(v: &mut HelpView, member: &MemberId, code: NoticeCode, text: &str) {
    v.notices.push(Notice {
        member: member.clone(),
        code,
        text: text.to_owned(),
    });
}

fn is_manager(v: &HelpView, e: &Entry) -> bool {
    e.by == v.requester || crate::model::allowed(Action::MatchHelpForOthers, e.role)
}

/// One step of the replay. Invalid entries are ignored (and noticed where someone should know).
fn apply(v: &mut HelpView, e: &Entry) {
    let open_or_matched = matches!(v.status, HelpStatus::Open | HelpStatus::Matched);
    match HelpEntry::parse(&e.t) {
        Some(HelpEntry::Respond) if open_or_matched && e.by != v.requester => {
            v.responses.retain(|r| r.member != e.by);
            v.responses.push(Response {
                member: e.by.clone(),
                at: e.at,
                message: e.str("message").unwrap_or_default().to_owned(),
            });
        }
        Some(HelpEntry::Withdraw) => {
            v.responses.retain(|r| r.member != e.by);
            if v.status == HelpStatus::Matched && v.helper.as_ref() == Some(&e.by) {
                v.status = HelpStatus::Open;
                v.helper = None;
                v.matched_by = None;
                v.match_id = None;
                let requester = v.requester.clone();
                notice(
                    v,
                    &requester,
                    NoticeCode::HelperWithdrew,
                    "your matched helper withdrew; the request is open again",
                );
            }
        }
        Some(HelpEntry::Match) => {
            let Some(helper) = e.str("helper").map(|h| MemberId::from_doc(h.to_owned())) else {
                return;
            };
            let responded = v.responses.iter().any(|r| r.member == helper);
            if v.status == HelpStatus::Open && is_manager(v, e) && responded {
                v.status = HelpStatus::Matched;
                v.helper = Some(helper);
                v.matched_by = Some(e.by.clone());
                v.match_id = Some(e.id.clone());
            } else if v.status == HelpStatus::Cancelled {
                notice(
                    v,
                    &helper,
                    NoticeCode::RequestCancelled,
                    "the request was cancelled before you were matched",
                );
                notice(
                    v,
                    &e.by,
                    NoticeCode::MatchIgnored,
                    "your match came after the request was cancelled",
                );
            } else if v.status == HelpStatus::Matched && v.helper.as_ref() != Some(&helper) {
                notice(
                    v,
                    &helper,
                    NoticeCode::MatchSuperseded,
                    "someone else was matched first",
                );
                notice(
                    v,
                    &e.by,
                    NoticeCode::MatchSuperseded,
                    "another match was made first; yours was not applied",
                );
            }
        }
        Some(HelpEntry::Unmatch) => {
            let target = e.str("match");
            let standing = v.match_id.as_deref();
            let may = is_manager(v, e) || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Matched && may && target.is_some() && target == standing {
                if let Some(h) = v.helper.take() {
                    if h != e.by {
                        notice(
                            v,
                            &h,
                            NoticeCode::Unmatched,
                            "you are no longer matched to this request",
                        );
                    }
                }
                v.status = HelpStatus::Open;
                v.matched_by = None;
                v.match_id = None;
            }
        }
        Some(HelpEntry::Done) => {
            let may = is_manager(v, e) || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Matched && may {
                v.status = HelpStatus::Done;
            }
        }
        Some(HelpEntry::Cancel) if open_or_matched && is_manager(v, e) => {
            if let Some(h) = v.helper.clone() {
                notice(
                    v,
                    &h,
                    NoticeCode::RequestCancelled,
                    "the request you were matched to was cancelled",
                );
            }
            v.status = HelpStatus::Cancelled;
            v.cancel_reason = e.str("reason").filter(|r| !r.is_empty()).map(str::to_owned);
        }
        Some(HelpEntry::Thanks) => {
            let party = e.by == v.requester || v.helper.as_ref() == Some(&e.by);
            if v.status == HelpStatus::Done && party {
                v.thanks.push(Thanks {
                    by: e.by.clone(),
                    at: e.at,
                    text: e.str("text").unwrap_or_default().to_owned(),
                });
            }
        }
        _ => {} // unknown entry types come from newer schemas: ignored
    }
}

/// The projection of a help request.
///
/// `needs_response`: open with no active response yet.
pub(crate) fn project(v: &HelpView) -> Projection {
    let mut participants = vec![Participant {
        member: v.requester.clone(),
        relation: Relation::Requester,
    }];
    for r in &v.responses {
        participants.push(Participant {
            member: r.member.clone(),
            relation: Relation::Responder,
        });
    }
    if let Some(h) = &v.helper {
        participants.push(Participant {
            member: h.clone(),
            relation: Relation::Helper,
        });
    }
    Projection {
        kind: Kind::Help,
        status: v.status.as_str().to_owned(),
        category: Some(v.category.clone()),
        title: v.title.clone(),
        body: v.body.clone(),
        created_by: v.requester.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: v.window_start,
        ends_at: v.window_end,
        expires_at: v.window_end,
        due_at: None,
        overdue_at: None,
        lat: None,
        lon: None,
        location_label: Some(v.location_label.clone()).filter(|l| !l.is_empty()),
        needs_response: v.status == HelpStatus::Open && v.responses.is_empty(),
        participants,
        notices: v.notices.clone(),
        comments: Vec::new(),
        detail: Detail::Help {
            mode: v.mode.clone(),
            urgency: v.urgency.clone(),
            precision: v.precision.clone(),
            helper: v.helper.clone(),
            responses: v.responses.len() as i64,
        },
    }
}
