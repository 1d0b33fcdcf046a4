//! The operations: pure functions (a document and a [`Ctx`](crate::model::Ctx) in, entries and
//! fields written) that check against the derived state; `store` wraps each in its write path.

use automerge::{AutoCommit, ROOT};

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::{Action, Ctx, Kind, require};

use super::{
    Attempt, CATEGORIES, FIELDS, MAX_DESCRIPTION, MAX_PARTY, MAX_PHOTOS, MAX_RESPONSE, NewReport,
    PhotoRef, Refusal, ReportEntry, ReportStatus, ReportTransition, ReportView, SEVERITIES, check,
    check_photo, derive, label_part, one_of,
};

// ---------------------------------------------------------------------------------------------
// Document

/// Writes a new report into an empty document.
pub(crate) fn create(
    doc: &mut AutoCommit,
    id: &EntityId,
    ctx: &Ctx,
    new: &NewReport,
) -> Result<()> {
    require(ctx, Action::CreateReport)?;
    let category = one_of("category", &new.category, CATEGORIES)?;
    let severity = one_of("severity", &new.severity, SEVERITIES)?;
    doc::check_point(new.lat, new.lon)?;
    let description = new.description.trim();
    doc::check_len("description", description, MAX_DESCRIPTION)?;
    let complex = label_part("complex", new.complex.as_ref())?;
    let floor = label_part("floor", new.floor.as_ref())?;
    let stairwell = label_part("stairwell", new.stairwell.as_ref())?;
    doc::init(doc, Kind::Report, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::put(doc, &ROOT, "category", category)?;
    doc::set_text(doc, &ROOT, "description", description)?;
    doc::put(doc, &ROOT, "lat", new.lat)?;
    doc::put(doc, &ROOT, "lon", new.lon)?;
    doc::put_opt(doc, &ROOT, "complex", complex.map(Field::Str))?;
    doc::put_opt(doc, &ROOT, "floor", floor.map(Field::Str))?;
    doc::put_opt(doc, &ROOT, "stairwell", stairwell.map(Field::Str))?;
    doc::put(doc, &ROOT, "severity", severity)?;
    // Created now, in the creation change: later edits only update this Text (see doc.rs).
    doc::set_text(doc, &ROOT, "response", "")?;
    Ok(())
}

pub(crate) fn refuse(v: &ReportView, action: &'static str) -> Error {
    Error::InvalidTransition {
        kind: "report",
        action,
        status: v.status.as_str().to_owned(),
    }
}

/// The operation behind `Store::edit_report` (its docs state the rule and the errors).
pub(crate) fn edit_report(doc: &mut AutoCommit, ctx: &Ctx, description: &str) -> Result<()> {
    let v = derive(doc)?;
    // Who may write the field is the kind's table, which `validate` reads too.
    FIELDS.require(
        &[("description", true)],
        ctx,
        &v.reporter,
        "only the reporter, a caretaker or staff may edit a report",
    )?;
    let description = description.trim();
    doc::check_len("description", description, MAX_DESCRIPTION)?;
    doc::set_text(doc, &ROOT, "description", description)?;
    doc::append_entry(doc, ctx, ReportEntry::Edit, &[])?;
    Ok(())
}

/// The operation behind `Store::transition_report` (its docs state the rule and the errors).
pub(crate) fn transition_report(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    step: ReportTransition,
) -> Result<()> {
    let v = derive(doc)?;
    let (reason, of, referred_to) = match &step {
        ReportTransition::Reopen { reason } | ReportTransition::Reject { reason } => {
            (Some(reason.trim()), None, None)
        }
        ReportTransition::Duplicate { of } => (None, Some(of.as_str()), None),
        ReportTransition::Refer { to } => (None, None, Some(to.trim())),
        _ => (None, None, None),
    };
    let attempt = Attempt {
        by: &ctx.member,
        role: ctx.role,
        to: step.target(),
        reason,
        of,
        referred_to,
    };
    match check(&v, &attempt) {
        Ok(()) => {}
        Err(Refusal::Redundant | Refusal::State) => return Err(refuse(&v, step.verb())),
        Err(Refusal::Permission(why)) => return Err(Error::not_allowed(why)),
        Err(Refusal::Input(e)) => return Err(e),
    }
    let mut fields: Vec<(&str, Field)> = vec![("to", step.target().as_str().into())];
    if let Some(r) = reason.filter(|r| !r.is_empty()) {
        fields.push(("reason", r.into()));
    }
    if let Some(of) = of {
        fields.push(("of", of.into()));
    }
    if let Some(to) = referred_to {
        fields.push(("referred_to", to.into()));
    }
    doc::append_entry(doc, ctx, ReportEntry::Transition, &fields)?;
    Ok(())
}

/// The operation behind `Store::me_too_report` (its docs state the rule and the errors).
pub(crate) fn me_too_report(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if ctx.member == v.reporter {
        return Err(Error::not_allowed(
            "the reporter cannot say \"me too\" to their own report",
        ));
    }
    if v.status == ReportStatus::Confirmed {
        return Err(refuse(&v, "say \"me too\" to"));
    }
    if v.me_too.iter().any(|m| m.member == ctx.member) {
        return Ok(());
    }
    doc::append_entry(doc, ctx, ReportEntry::MeToo, &[])?;
    Ok(())
}

/// The operation behind `Store::withdraw_me_too` (its docs state the rule and the errors).
pub(crate) fn withdraw_me_too(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if !v.me_too.iter().any(|m| m.member == ctx.member) {
        return Err(Error::not_found("me_too", ctx.member.as_str()));
    }
    doc::append_entry(doc, ctx, ReportEntry::MeTooWithdraw, &[])?;
    Ok(())
}

/// The operation behind `Store::set_report_responsible` (its docs state the rule and the errors).
pub(crate) fn set_report_responsible(doc: &mut AutoCommit, ctx: &Ctx, party: &str) -> Result<()> {
    require(ctx, Action::TriageReport)?;
    let party = party.trim();
    doc::check_len("party", party, MAX_PARTY)?;
    doc::append_entry(
        doc,
        ctx,
        ReportEntry::Responsible,
        &[("party", party.into())],
    )?;
    Ok(())
}

/// The operation behind `Store::set_report_response` (its docs state the rule and the errors).
pub(crate) fn set_report_response(doc: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<()> {
    // Who may write the field is the kind's table, which `validate` reads too.
    let v = derive(doc)?;
    FIELDS.require(
        &[("response", true)],
        ctx,
        &v.reporter,
        &format!(
            "a {} may not {}",
            ctx.role.as_str(),
            Action::TriageReport.describe()
        ),
    )?;
    let text = text.trim();
    doc::check_len("response", text, MAX_RESPONSE)?;
    doc::set_text(doc, &ROOT, "response", text)?;
    doc::append_entry(doc, ctx, ReportEntry::Response, &[])?;
    Ok(())
}

/// Appends a `photo` entry for `photo` unless a photo with its hash is already attached (the
/// operation behind [`Store::attach_photo_ref`](crate::Store::attach_photo_ref) and the store's
/// `attach_photo`).
pub(crate) fn attach_photo(doc: &mut AutoCommit, ctx: &Ctx, photo: &PhotoRef) -> Result<()> {
    check_photo(photo)?;
    let v = derive(doc)?;
    if !v.may_attach(&ctx.member, ctx.role) {
        return Err(Error::not_allowed(
            "only the reporter, a caretaker, organiser or staff may attach photos",
        ));
    }
    if v.photos.iter().any(|p| p.photo.hash == photo.hash) {
        return Ok(());
    }
    if v.photos.len() >= MAX_PHOTOS {
        return Err(Error::invalid(
            "photo",
            format!("the report already has {MAX_PHOTOS} photos"),
        ));
    }
    let size =
        i64::try_from(photo.size).map_err(|_| Error::invalid("size", "does not fit in 64 bits"))?;
    doc::append_entry(
        doc,
        ctx,
        ReportEntry::Photo,
        &[
            ("hash", photo.hash.as_str().into()),
            ("mime", photo.mime.as_str().into()),
            ("size", size.into()),
            ("width", i64::from(photo.width).into()),
            ("height", i64::from(photo.height).into()),
        ],
    )?;
    Ok(())
}
