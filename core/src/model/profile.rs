//! Member profiles: how neighbours see each other — a name, where one lives (at complex
//! precision, never a house number), what one is good at and when one has time. Organisers
//! match help requests against skills and availability, so both are searchable.
//!
//! # Document (schema 1, `kind = "profile"`)
//!
//! | key | type | notes |
//! |---|---|---|
//! | `display_name` | str | 1..=80 characters; last writer wins (see below) |
//! | `household` | str? | household / complex label, at most 120 characters |
//! | `availability` | Text | free text ("weekday evenings"), merged character by character |
//!
//! Log entries: `skill_add {skill}`, `skill_remove {skill}`, `edit` (the fields above were
//! edited; it only says when).
//!
//! # The rules
//!
//! - **Only the member themself** (the document's creator) edits their profile. The API
//!   refuses anyone else; the replay ignores skill entries by anyone else (the relay refuses
//!   their root edits).
//! - **One profile per member** is the convention:
//!   [`Store::create_profile`](crate::Store::create_profile) refuses a second one, and
//!   [`Store::my_profile`](crate::Store::my_profile) picks the oldest (by creation time, then id)
//!   if two devices of the same member created one each while offline.
//! - **Skills** are entries, so two devices adding skills offline both keep theirs. A skill is
//!   identified case-insensitively; it is present when its latest entry in `(at, by, id)` order
//!   is an add (an add concurrent with a remove of the same skill: the later one wins), and it
//!   is shown as written in that latest add. Skills are listed in alphabetical order.
//! - **Display name and household** are plain strings, last writer wins: a name merged
//!   character by character from two devices would be neither. Only the owner writes them, so
//!   a conflict is between the owner's own devices. **Availability** is `Text`: free prose,
//!   where keeping both devices' words is what the owner expects.

use std::collections::BTreeMap;

use automerge::{AutoCommit, ROOT, ReadDoc};
use serde::Serialize;

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{Ctx, Detail, Kind, Participant, Projection, Relation};

names! {
    /// The entries of this kind's log (`t`), as stored.
    pub enum ProfileEntry {
        /// `edit`.
        Edit = "edit",
        /// `skill_add`.
        SkillAdd = "skill_add",
        /// `skill_remove`.
        SkillRemove = "skill_remove",
    }
}

/// Longest display name, in characters.
pub const MAX_DISPLAY_NAME: usize = crate::names::MAX_DISPLAY_NAME;
/// Longest household label, in characters.
pub const MAX_HOUSEHOLD: usize = 120;
/// Longest skill, in characters.
pub const MAX_SKILL: usize = 40;
/// Most skills one profile lists.
pub const MAX_SKILLS: usize = 30;
/// Longest availability text, in characters.
pub const MAX_AVAILABILITY: usize = 500;

/// Pages of "my" profiles [`Store::my_profile`](crate::Store::my_profile) looks through at most.
pub(crate) const MAX_PAGES: usize = 20;

/// What a new profile says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewProfile {
    /// Display name, 1..=80 characters.
    pub display_name: String,
    /// Household / complex label ("Complex 4"), if any.
    pub household: Option<String>,
    /// Skills ("fietsen repareren", "Turks"), each 1..=40 characters.
    pub skills: Vec<String>,
    /// When one has time, free text (may be empty).
    pub availability: String,
}

/// Changes to a profile; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProfileEdit {
    /// A new display name.
    pub display_name: Option<String>,
    /// A new household label; `Some("")` clears it.
    pub household: Option<String>,
    /// New availability text (may be empty).
    pub availability: Option<String>,
}

/// Everything a screen shows about one profile, derived from its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileView {
    /// Entity id.
    pub id: String,
    /// The member whose profile it is (its creator).
    pub member: MemberId,
    /// Display name.
    pub display_name: String,
    /// Household / complex label.
    pub household: Option<String>,
    /// Present skills, alphabetical.
    pub skills: Vec<String>,
    /// Availability text.
    pub availability: String,
    /// Created at.
    pub created_at: i64,
    /// Last edit.
    pub updated_at: i64,
}

fn display_name(value: &str) -> Result<String> {
    crate::names::check_name("display_name", value, MAX_DISPLAY_NAME)
}

fn household(value: Option<&str>) -> Result<Option<String>> {
    let Some(h) = value.map(str::trim).filter(|h| !h.is_empty()) else {
        return Ok(None);
    };
    doc::check_len("household", h, MAX_HOUSEHOLD)?;
    Ok(Some(h.to_owned()))
}

fn availability(value: &str) -> Result<String> {
    let v = value.trim();
    doc::check_len("availability", v, MAX_AVAILABILITY)?;
    Ok(v.to_owned())
}

/// A valid skill, trimmed.
fn skill(value: &str) -> Result<String> {
    doc::require_text("skill", value, MAX_SKILL)
}

/// The identity of a skill: trimmed, lowercase.
fn skill_key(value: &str) -> String {
    value.trim().to_lowercase()
}

/// Writes a new profile into an empty document.
pub(crate) fn create(
    doc: &mut AutoCommit,
    id: &EntityId,
    ctx: &Ctx,
    new: &NewProfile,
) -> Result<()> {
    let name = display_name(&new.display_name)?;
    let household = household(new.household.as_deref())?;
    let availability = availability(&new.availability)?;
    let mut skills: Vec<String> = Vec::new();
    for s in &new.skills {
        let s = skill(s)?;
        if !skills.iter().any(|k| skill_key(k) == skill_key(&s)) {
            skills.push(s);
        }
    }
    if skills.len() > MAX_SKILLS {
        return Err(Error::invalid(
            "skills",
            format!("{} skills, at most {MAX_SKILLS} allowed", skills.len()),
        ));
    }
    doc::init(doc, Kind::Profile, id, ctx)?;
    doc::put(doc, &ROOT, "display_name", name)?;
    doc::put_opt(doc, &ROOT, "household", household.map(Field::Str))?;
    doc::set_text(doc, &ROOT, "availability", &availability)?;
    for s in skills {
        doc::append_entry(doc, ctx, ProfileEntry::SkillAdd, &[("skill", s.into())])?;
    }
    Ok(())
}

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

fn own(v: &ProfileView, ctx: &Ctx) -> Result<()> {
    if v.member == ctx.member {
        Ok(())
    } else {
        Err(Error::not_allowed(
            "only the member themself may edit their profile",
        ))
    }
}

/// The operation behind `Store::edit_profile` (its docs state the rule and the errors).
pub(crate) fn edit_profile(doc: &mut AutoCommit, ctx: &Ctx, edit: &ProfileEdit) -> Result<()> {
    let v = derive(doc)?;
    own(&v, ctx)?;
    let name = edit.display_name.as_deref().map(display_name).transpose()?;
    let household = edit
        .household
        .as_deref()
        .map(|h| household(Some(h)))
        .transpose()?;
    let availability = edit.availability.as_deref().map(availability).transpose()?;
    if let Some(name) = name {
        doc::put(doc, &ROOT, "display_name", name)?;
    }
    if let Some(h) = household {
        doc::put_opt(doc, &ROOT, "household", h.map(Field::Str))?;
    }
    if let Some(a) = availability {
        doc::set_text(doc, &ROOT, "availability", &a)?;
    }
    doc::append_entry(doc, ctx, ProfileEntry::Edit, &[])?;
    Ok(())
}

/// The operation behind `Store::add_skill` (its docs state the rule and the errors).
pub(crate) fn add_skill(doc: &mut AutoCommit, ctx: &Ctx, skill_name: &str) -> Result<()> {
    let v = derive(doc)?;
    own(&v, ctx)?;
    let s = skill(skill_name)?;
    if v.skills.iter().any(|k| skill_key(k) == skill_key(&s)) {
        return Ok(());
    }
    if v.skills.len() >= MAX_SKILLS {
        return Err(Error::invalid(
            "skills",
            format!("the profile already lists {MAX_SKILLS} skills"),
        ));
    }
    doc::append_entry(doc, ctx, ProfileEntry::SkillAdd, &[("skill", s.into())])?;
    Ok(())
}

/// The operation behind `Store::remove_skill` (its docs state the rule and the errors).
pub(crate) fn remove_skill(doc: &mut AutoCommit, ctx: &Ctx, skill_name: &str) -> Result<()> {
    let v = derive(doc)?;
    own(&v, ctx)?;
    let s = skill(skill_name)?;
    if !v.skills.iter().any(|k| skill_key(k) == skill_key(&s)) {
        return Err(Error::not_found("skill", s));
    }
    doc::append_entry(doc, ctx, ProfileEntry::SkillRemove, &[("skill", s.into())])?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::clock::ManualClock;
    use crate::model::Role;
    use crate::store::Store;
    use crate::store::query::ListQuery;

    const T: i64 = 1_700_000_000_000;

    fn device(member: &MemberId) -> Result<(Store, Arc<ManualClock>)> {
        let clock = Arc::new(ManualClock::new(T));
        let store = Store::open_in_memory(clock.clone())?;
        store.set_member_id(member)?;
        store.set_identity(Role::Resident, None, None)?;
        Ok((store, clock))
    }

    fn sync(stores: &[&Store]) -> Result<()> {
        for from in stores {
            let batch: Vec<(EntityId, Vec<u8>)> = from
                .pending_changes(1000)?
                .into_iter()
                .map(|c| (c.entity, c.bytes))
                .collect();
            for to in stores {
                if !std::ptr::eq(*from, *to) {
                    to.apply_remote_changes(&batch)?;
                }
            }
        }
        Ok(())
    }

    fn ans() -> NewProfile {
        NewProfile {
            display_name: "Ans".into(),
            household: Some("Complex 4".into()),
            skills: vec!["fietsen repareren".into(), "Turks".into(), "turks".into()],
            availability: "doordeweeks 's avonds".into(),
        }
    }

    fn field_of(r: Result<impl std::fmt::Debug>) -> &'static str {
        match r {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn create_project_and_find_mine() -> Result<()> {
        let me = MemberId::new()?;
        let (s, _) = device(&me)?;
        assert_eq!(s.my_profile()?, None);
        let id = s.create_profile(&ans())?;
        let v = s.profile(&id)?;
        assert_eq!(v.member, me);
        assert_eq!(v.display_name, "Ans");
        assert_eq!(
            v.skills,
            ["fietsen repareren", "Turks"],
            "case-insensitive duplicates merge"
        );
        assert_eq!(s.my_profile()?.map(|p| p.id), Some(id.as_str().to_owned()));
        assert_eq!(field_of(s.create_profile(&ans())), "profile");

        let page = s.list(&ListQuery {
            kind: Some(Kind::Profile),
            ..Default::default()
        })?;
        assert_eq!(page.items[0].status, "active");
        assert_eq!(page.items[0].title, "Ans");
        assert!(matches!(
            &page.items[0].detail,
            Detail::Profile { household: Some(h), .. } if h == "Complex 4"
        ));
        for word in ["fietsen", "avonds"] {
            let found = s.list(&ListQuery {
                text: Some(word.into()),
                ..Default::default()
            })?;
            assert_eq!(found.items.len(), 1, "{word}");
        }
        Ok(())
    }

    #[test]
    fn validation() -> Result<()> {
        let (s, _) = device(&MemberId::new()?)?;
        let p = |f: fn(&mut NewProfile)| {
            let mut p = ans();
            f(&mut p);
            p
        };
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.display_name = "  ".into()))),
            "display_name"
        );
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.display_name = "a".repeat(81)))),
            "display_name"
        );
        // Issue 11, finding 9: names that reorder or hide text (the rule of `names`).
        for name in [
            "Ans\u{202E}sneoJ",
            "An\u{200B}s",
            "\u{2066}Ans",
            "Ans\u{FEFF}",
        ] {
            let mut named = ans();
            named.display_name = name.into();
            assert_eq!(field_of(s.create_profile(&named)), "display_name");
        }
        assert!(matches!(
            s.set_identity(crate::Role::Resident, Some("Ans\u{202E}"), None),
            Err(Error::InvalidInput { field, .. }) if field == "display_name"
        ));
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.household = Some("h".repeat(121))))),
            "household"
        );
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.skills = vec![String::new()]))),
            "skill"
        );
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.skills = vec!["s".repeat(41)]))),
            "skill"
        );
        assert_eq!(
            field_of(s.create_profile(&p(|p| p.availability = "a".repeat(501)))),
            "availability"
        );
        let many = p(|p| p.skills = (0..31).map(|i| format!("skill {i}")).collect());
        assert_eq!(field_of(s.create_profile(&many)), "skills");
        let id = s.create_profile(&p(|p| p.display_name = "a".repeat(80)))?;
        let empty = ProfileEdit {
            display_name: Some(String::new()),
            ..Default::default()
        };
        assert_eq!(field_of(s.edit_profile(&id, &empty)), "display_name");
        assert_eq!(field_of(s.add_skill(&id, " ")), "skill");
        Ok(())
    }

    #[test]
    fn only_the_owner_edits() -> Result<()> {
        let owner = MemberId::new()?;
        let (a, clock) = device(&owner)?;
        let (b, _) = device(&MemberId::new()?)?;
        b.set_identity(Role::Staff, None, None)?;
        let id = a.create_profile(&ans())?;
        sync(&[&a, &b])?;
        let edit = ProfileEdit {
            display_name: Some("Niet Ans".into()),
            ..Default::default()
        };
        assert!(matches!(
            b.edit_profile(&id, &edit),
            Err(Error::NotAllowed { .. })
        ));
        assert!(matches!(
            b.add_skill(&id, "inbreken"),
            Err(Error::NotAllowed { .. })
        ));
        assert!(matches!(
            b.remove_skill(&id, "Turks"),
            Err(Error::NotAllowed { .. })
        ));
        assert_eq!(b.my_profile()?, None, "someone else's profile is not mine");

        clock.advance(1_000);
        a.edit_profile(
            &id,
            &ProfileEdit {
                display_name: Some("Ans de Vries".into()),
                household: Some(String::new()),
                availability: Some("weekends".into()),
            },
        )?;
        // A forged skill entry by someone else is ignored by the replay.
        b.update_entity(&id, Kind::Profile, |doc, ctx| {
            doc::append_entry(doc, ctx, "skill_add", &[("skill", "inbreken".into())])?;
            Ok(())
        })?;
        sync(&[&a, &b])?;
        let v = a.profile(&id)?;
        assert_eq!(v, b.profile(&id)?);
        assert_eq!(v.display_name, "Ans de Vries");
        assert_eq!(v.household, None);
        assert_eq!(v.availability, "weekends");
        assert_eq!(v.updated_at, T + 1_000);
        assert!(!v.skills.iter().any(|s| s == "inbreken"));
        assert_eq!(a.projection_dump()?, b.projection_dump()?);
        Ok(())
    }

    /// The owner's phone and tablet add skills offline: both are kept. An add concurrent with
    /// a remove of the same skill: the later one in the order wins.
    #[test]
    fn concurrent_skill_adds_merge() -> Result<()> {
        let owner = MemberId::new()?;
        let (phone, phone_clock) = device(&owner)?;
        let (tablet, tablet_clock) = device(&owner)?;
        let id = phone.create_profile(&ans())?;
        sync(&[&phone, &tablet])?;
        phone_clock.set(T + 10);
        phone.add_skill(&id, "koken")?;
        phone_clock.set(T + 12);
        phone.remove_skill(&id, "turks")?;
        tablet_clock.set(T + 20);
        tablet.add_skill(&id, "Tuinieren")?;
        tablet_clock.set(T + 25);
        tablet.add_skill(&id, "Koken")?; // the tablet has not seen the phone's add
        tablet_clock.set(T + 33);
        tablet.remove_skill(&id, "Turks")?;
        tablet_clock.set(T + 35);
        tablet.add_skill(&id, "TURKS")?; // later than the phone's remove: it stays
        phone_clock.set(T + 40);
        phone.remove_skill(&id, "koken")?; // later than the tablet's add: it goes
        tablet_clock.set(T + 41);
        tablet.add_skill(&id, "fietsen REPAREREN")?; // already there: no entry
        sync(&[&phone, &tablet])?;
        let v = phone.profile(&id)?;
        assert_eq!(v, tablet.profile(&id)?);
        assert_eq!(v.skills, ["fietsen repareren", "Tuinieren", "TURKS"]);
        assert_eq!(phone.projection_dump()?, tablet.projection_dump()?);
        assert!(matches!(
            phone.remove_skill(&id, "vliegen"),
            Err(Error::NotFound { .. })
        ));
        Ok(())
    }

    /// Two devices of one member each created a profile offline: both see the oldest as theirs.
    #[test]
    fn my_profile_picks_the_oldest() -> Result<()> {
        let owner = MemberId::new()?;
        let (phone, phone_clock) = device(&owner)?;
        let (tablet, tablet_clock) = device(&owner)?;
        tablet_clock.set(T + 100);
        let _newer = tablet.create_profile(&ans())?;
        phone_clock.set(T + 50);
        let older = phone.create_profile(&ans())?;
        sync(&[&phone, &tablet])?;
        for s in [&phone, &tablet] {
            assert_eq!(
                s.my_profile()?.map(|p| p.id),
                Some(older.as_str().to_owned())
            );
        }
        Ok(())
    }
}
