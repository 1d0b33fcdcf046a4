//! The operations: pure functions (a document and a [`Ctx`](crate::model::Ctx) in, entries and
//! fields written) that check against the derived state; `store` wraps each in its write path.

use automerge::{AutoCommit, ROOT};

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::{Ctx, Kind};

use super::{
    FIELDS, MAX_AVAILABILITY, MAX_DISPLAY_NAME, MAX_HOUSEHOLD, MAX_SKILL, MAX_SKILLS, NewProfile,
    ProfileEdit, ProfileEntry, ProfileView, derive,
};

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
pub(super) fn skill(value: &str) -> Result<String> {
    doc::require_text("skill", value, MAX_SKILL)
}

/// The identity of a skill: trimmed, lowercase.
pub(super) fn skill_key(value: &str) -> String {
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
    // Who may write each field is the kind's table, which `validate` reads too.
    FIELDS.require(
        &[
            ("display_name", edit.display_name.is_some()),
            ("household", edit.household.is_some()),
            ("availability", edit.availability.is_some()),
        ],
        ctx,
        &v.member,
        "only the member themself may edit their profile",
    )?;
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
