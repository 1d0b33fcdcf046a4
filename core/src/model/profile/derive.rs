//! `derive`: the replay of the log into the view, with the concurrency rules beside it; and
//! `project`, the view as the store's [`Projection`](crate::model::Projection) rows.

use std::collections::BTreeMap;

use automerge::{ROOT, ReadDoc};

use crate::doc;
use crate::error::Result;
use crate::model::{Detail, Kind, Participant, Projection, Relation};

use super::{ProfileEntry, ProfileView, skill, skill_key};

/// Derives the view: the root fields, and the skills replayed from the log.
pub(crate) fn derive(d: &impl ReadDoc) -> Result<ProfileView> {
    let header = doc::header(d)?;
    let entries = doc::entries(d);
    // key → the latest entry's spelling, `None` when the latest entry is a remove.
    let mut skills: BTreeMap<String, Option<String>> = BTreeMap::new();
    for e in entries.iter().filter(|e| e.by == header.created_by) {
        let Some(s) = e.str("skill").and_then(|s| skill(s).ok()) else {
            continue;
        };
        match ProfileEntry::parse(&e.t) {
            Some(ProfileEntry::SkillAdd) => {
                skills.insert(skill_key(&s), Some(s));
            }
            Some(ProfileEntry::SkillRemove) => {
                skills.insert(skill_key(&s), None);
            }
            _ => {} // unknown entry types come from newer schemas: ignored
        }
    }
    let updated_at = doc::updated_at(&header, &entries);
    Ok(ProfileView {
        id: header.id.clone(),
        member: header.created_by.clone(),
        // Another device may have written anything: what hides or reorders text is dropped.
        display_name: doc::get_str(d, &ROOT, "display_name")
            .map(|n| {
                n.chars()
                    .filter(|&c| !crate::names::is_forbidden_in_name(c))
                    .collect()
            })
            .unwrap_or_default(),
        household: doc::get_str(d, &ROOT, "household").filter(|h| !h.is_empty()),
        skills: skills.into_values().flatten().collect(),
        availability: doc::get_text(d, &ROOT, "availability").unwrap_or_default(),
        created_at: header.created_at,
        updated_at,
    })
}

/// The projection of a profile: always `active`; the title is the display name; the body
/// (searched) holds the skills and the availability text.
pub(crate) fn project(v: &ProfileView) -> Projection {
    let mut body = v.skills.join(", ");
    if !v.availability.is_empty() {
        body.push('\n');
        body.push_str(&v.availability);
    }
    Projection {
        kind: Kind::Profile,
        status: "active".to_owned(),
        category: None,
        title: v.display_name.clone(),
        body,
        created_by: v.member.clone(),
        created_at: v.created_at,
        updated_at: v.updated_at,
        starts_at: None,
        ends_at: None,
        expires_at: None,
        due_at: None,
        overdue_at: None,
        lat: None,
        lon: None,
        location_label: None,
        needs_response: false,
        participants: vec![Participant {
            member: v.member.clone(),
            relation: Relation::Creator,
        }],
        notices: Vec::new(),
        comments: Vec::new(),
        detail: Detail::Profile {
            display_name: v.display_name.clone(),
            household: v.household.clone(),
        },
    }
}
