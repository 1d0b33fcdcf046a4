//! The checks shared by the operations and the replay: fields, photos, and whether a workflow
//! transition may be taken.

use std::collections::BTreeSet;

use automerge::ReadDoc;

use crate::doc::{self, Entry};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{Action, Kind, Role, allowed};

use super::{
    MAX_LABEL_PART, MAX_PARTY, MAX_PHOTO_BYTES, MAX_PHOTO_SIDE, MAX_REASON, PHOTO_MIMES, PhotoRef,
    ReportEntry, ReportStatus, ReportView, derive, derive_from,
};

// ---------------------------------------------------------------------------------------------
// Validation shared by the API and the replay

pub(super) fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

pub(super) fn label_part(field: &'static str, value: Option<&String>) -> Result<Option<String>> {
    let Some(v) = value.map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    doc::check_len(field, v, MAX_LABEL_PART)?;
    Ok(Some(v.to_owned()))
}

pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Validates a photo reference.
pub(crate) fn check_photo(p: &PhotoRef) -> Result<()> {
    if !is_sha256_hex(&p.hash) {
        return Err(Error::invalid(
            "hash",
            "must be 64 lowercase hex digits (sha-256)",
        ));
    }
    if !PHOTO_MIMES.contains(&p.mime.as_str()) {
        return Err(Error::invalid(
            "mime",
            format!("is not one of {}", PHOTO_MIMES.join(", ")),
        ));
    }
    if p.size > MAX_PHOTO_BYTES {
        return Err(Error::invalid(
            "size",
            format!("{} bytes is more than {MAX_PHOTO_BYTES}", p.size),
        ));
    }
    for (field, v) in [("width", p.width), ("height", p.height)] {
        if !(1..=MAX_PHOTO_SIDE).contains(&v) {
            return Err(Error::invalid(
                field,
                format!("{v} is not in 1..={MAX_PHOTO_SIDE}"),
            ));
        }
    }
    Ok(())
}

pub(super) fn photo_from_entry(e: &Entry) -> Option<PhotoRef> {
    let p = PhotoRef {
        hash: e.str("hash")?.to_owned(),
        mime: e.str("mime")?.to_owned(),
        size: u64::try_from(e.int("size")?).ok()?,
        width: u32::try_from(e.int("width")?).ok()?,
        height: u32::try_from(e.int("height")?).ok()?,
    };
    check_photo(&p).ok().map(|()| p)
}

/// The photos a report document references: the hashes of the photo entries
/// [`Store::report`](crate::Store::report) shows (well-formed, attached by someone allowed to, at
/// most [`MAX_PHOTOS`](super::MAX_PHOTOS), each once), in attachment order. Empty for a document of another kind or
/// one without a readable header. The relay records who attached them ([`photo_refs`]).
pub fn photo_hashes(d: &impl ReadDoc) -> Vec<String> {
    if !doc::header(d).is_ok_and(|h| matches!(h.kind, Kind::Report)) {
        return Vec::new();
    }
    derive(d)
        .map(|v| v.photos.into_iter().map(|p| p.photo.hash).collect())
        .unwrap_or_default()
}

/// Who attached each photo a report shows ([`photo_hashes`]): one `(hash, attacher)` pair per
/// member whose `photo` entry for that hash counts (well-formed, written by someone allowed to
/// attach), so a photo two members attached names both, whichever entry came first. Sorted,
/// without repeats; empty for a document of another kind. The relay records these with each
/// accepted change: a photo is served only through a reference whose attacher uploaded the
/// photo's bytes in that buurt (`docs/protocol.md`, *Photos*), so knowing a hash gives nothing.
pub fn photo_refs(d: &impl ReadDoc) -> Vec<(String, MemberId)> {
    if !doc::header(d).is_ok_and(|h| matches!(h.kind, Kind::Report)) {
        return Vec::new();
    }
    let entries = doc::entries(d);
    let Ok(v) = derive_from(d, &entries) else {
        return Vec::new();
    };
    let shown: BTreeSet<&str> = v.photos.iter().map(|p| p.photo.hash.as_str()).collect();
    let mut refs = BTreeSet::new();
    for e in entries
        .iter()
        .filter(|e| e.t == ReportEntry::Photo && v.may_attach(&e.by, e.role))
    {
        if let Some(p) = photo_from_entry(e).filter(|p| shown.contains(p.hash.as_str())) {
            refs.insert((p.hash, e.by.clone()));
        }
    }
    refs.into_iter().collect()
}

/// Why a transition is not applied.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The report is already in the target state.
    Redundant,
    /// Not allowed from the current state.
    State,
    /// The role or relation does not allow it.
    Permission(&'static str),
    /// A required field is missing or malformed.
    Input(Error),
}

/// A transition someone attempts (from the API) or attempted (an entry being replayed).
pub(super) struct Attempt<'a> {
    pub(super) by: &'a MemberId,
    pub(super) role: Role,
    pub(super) to: ReportStatus,
    pub(super) reason: Option<&'a str>,
    pub(super) of: Option<&'a str>,
    pub(super) referred_to: Option<&'a str>,
}

fn required(field: &'static str, value: Option<&str>, max: usize) -> Result<(), Refusal> {
    doc::require_text(field, value.unwrap_or_default(), max)
        .map(|_| ())
        .map_err(Refusal::Input)
}

/// The transition table of the module docs. The one place both the API and the replay ask.
pub(super) fn check(v: &ReportView, a: &Attempt<'_>) -> Result<(), Refusal> {
    use ReportStatus::*;
    if a.to == v.status {
        return Err(Refusal::Redundant);
    }
    let from_rank = v.status.work_rank();
    match a.to {
        Acknowledged | Planned | InProgress | Resolved => {
            let forward = matches!((from_rank, a.to.work_rank()), (Some(f), Some(t)) if f < t);
            if !forward {
                return Err(Refusal::State);
            }
            if !allowed(Action::WorkReport, a.role) {
                return Err(Refusal::Permission(
                    "only a caretaker or staff may work on a report",
                ));
            }
        }
        Rejected | Duplicate | Referred => {
            if !matches!(from_rank, Some(0..=3)) {
                return Err(Refusal::State);
            }
            if !allowed(Action::TriageReport, a.role) {
                return Err(Refusal::Permission(
                    "only a caretaker, organiser or staff may reject, mark duplicate or refer",
                ));
            }
            match a.to {
                Rejected => required("reason", a.reason, MAX_REASON)?,
                Referred => required("to", a.referred_to, MAX_PARTY)?,
                _ => {
                    let of = a.of.unwrap_or_default();
                    let of = EntityId::parse(of)
                        .map_err(|_| Refusal::Input(Error::invalid("of", "is not a report id")))?;
                    if of.as_str() == v.id {
                        return Err(Refusal::Input(Error::invalid(
                            "of",
                            "a report cannot duplicate itself",
                        )));
                    }
                }
            }
        }
        Confirmed => {
            if v.status != Resolved {
                return Err(Refusal::State);
            }
            if a.by != &v.reporter {
                return Err(Refusal::Permission("only the reporter may confirm the fix"));
            }
        }
        Reopened => {
            if v.status != Resolved {
                return Err(Refusal::State);
            }
            if a.by != &v.reporter && a.role != Role::Staff {
                return Err(Refusal::Permission(
                    "only the reporter or staff may reopen a report",
                ));
            }
            doc::check_len("reason", a.reason.unwrap_or_default(), MAX_REASON)
                .map_err(Refusal::Input)?;
        }
        Reported => return Err(Refusal::State),
    }
    Ok(())
}
