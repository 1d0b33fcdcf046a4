//! The operations: pure functions (a document and a [`Ctx`](crate::model::Ctx) in, entries and
//! fields written) that check against the derived state; `store` wraps each in its write path.

use automerge::{AutoCommit, ROOT};

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId};
use crate::model::{Action, Ctx, Kind, require};

use super::{
    CATEGORIES, FIELDS, HelpEntry, HelpStatus, HelpView, MAX_BODY, MAX_LABEL, MAX_MESSAGE,
    MAX_TITLE, NewHelp, PRECISIONS, URGENCIES, derive,
};

fn one_of(field: &'static str, value: &str, allowed: &[&str]) -> Result<String> {
    if allowed.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err(Error::invalid(
            field,
            format!("`{value}` is not one of {}", allowed.join(", ")),
        ))
    }
}

/// Writes a new help request into an empty document.
pub(crate) fn create(doc: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewHelp) -> Result<()> {
    require(ctx, Action::CreateHelp)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("body", &new.body, MAX_BODY)?;
    doc::check_len("location_label", &new.location_label, MAX_LABEL)?;
    let category = one_of("category", &new.category, CATEGORIES)?;
    let urgency = one_of("urgency", &new.urgency, URGENCIES)?;
    let precision = one_of("precision", &new.precision, PRECISIONS)?;
    if let (Some(s), Some(e)) = (new.window_start, new.window_end) {
        if e < s {
            return Err(Error::invalid("window_end", "is before `window_start`"));
        }
    }
    doc::init(doc, Kind::Help, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::put(doc, &ROOT, "mode", if new.offer { "offer" } else { "ask" })?;
    doc::put(doc, &ROOT, "category", category)?;
    doc::set_text(doc, &ROOT, "title", &title)?;
    doc::set_text(doc, &ROOT, "body", new.body.trim())?;
    doc::put(doc, &ROOT, "urgency", urgency)?;
    doc::put_opt(doc, &ROOT, "window_start", new.window_start.map(Field::Int))?;
    doc::put_opt(doc, &ROOT, "window_end", new.window_end.map(Field::Int))?;
    doc::put(doc, &ROOT, "precision", precision)?;
    doc::put(doc, &ROOT, "location_label", new.location_label.trim())?;
    Ok(())
}

pub(crate) fn refuse(v: &HelpView, action: &'static str, now: i64) -> Error {
    let status = if v.is_expired(now) {
        "expired".to_owned()
    } else {
        v.status.as_str().to_owned()
    };
    Error::InvalidTransition {
        kind: "help request",
        action,
        status,
    }
}

/// The operation behind `Store::edit_help` (its docs state the rule and the errors).
pub(crate) fn edit_help(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    title: Option<&str>,
    body: Option<&str>,
) -> Result<()> {
    let v = derive(doc)?;
    // Who may write each field is the kind's table, which `validate` reads too.
    FIELDS.require(
        &[("title", title.is_some()), ("body", body.is_some())],
        ctx,
        &v.requester,
        "only the requester or an organiser may edit a help request",
    )?;
    if let Some(t) = title {
        let t = doc::require_text("title", t, MAX_TITLE)?;
        doc::set_text(doc, &ROOT, "title", &t)?;
    }
    if let Some(b) = body {
        doc::check_len("body", b, MAX_BODY)?;
        doc::set_text(doc, &ROOT, "body", b.trim())?;
    }
    Ok(())
}

/// The operation behind `Store::respond_help` (its docs state the rule and the errors).
pub(crate) fn respond_help(doc: &mut AutoCommit, ctx: &Ctx, message: &str) -> Result<()> {
    let v = derive(doc)?;
    if !matches!(v.status, HelpStatus::Open | HelpStatus::Matched) || v.is_expired(ctx.now) {
        return Err(refuse(&v, "respond to", ctx.now));
    }
    if ctx.member == v.requester {
        return Err(Error::not_allowed("you cannot respond to your own request"));
    }
    doc::check_len("message", message, MAX_MESSAGE)?;
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Respond,
        &[("message", message.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::withdraw_help_response` (its docs state the rule and the errors).
pub(crate) fn withdraw_help_response(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if !v.responses.iter().any(|r| r.member == ctx.member) {
        return Err(Error::not_found("response", ctx.member.as_str()));
    }
    doc::append_entry(doc, ctx, HelpEntry::Withdraw, &[])?;
    Ok(())
}

/// The operation behind `Store::match_help` (its docs state the rule and the errors).
pub(crate) fn match_help(doc: &mut AutoCommit, ctx: &Ctx, helper: &MemberId) -> Result<()> {
    let v = derive(doc)?;
    if !v.may_manage(ctx) {
        return Err(Error::not_allowed(
            "only the requester or an organiser may match a helper",
        ));
    }
    if v.status != HelpStatus::Open || v.is_expired(ctx.now) {
        return Err(refuse(&v, "match", ctx.now));
    }
    if !v.responses.iter().any(|r| &r.member == helper) {
        return Err(Error::invalid(
            "helper",
            format!("`{helper}` has not responded"),
        ));
    }
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Match,
        &[("helper", helper.as_str().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::unmatch_help` (its docs state the rule and the errors).
pub(crate) fn unmatch_help(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    let Some(match_id) = v
        .match_id
        .clone()
        .filter(|_| v.status == HelpStatus::Matched)
    else {
        return Err(refuse(&v, "unmatch", ctx.now));
    };
    if !(v.may_manage(ctx) || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester, an organiser or the helper may unmatch",
        ));
    }
    doc::append_entry(doc, ctx, HelpEntry::Unmatch, &[("match", match_id.into())])?;
    Ok(())
}

/// The operation behind `Store::complete_help` (its docs state the rule and the errors).
pub(crate) fn complete_help(doc: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(doc)?;
    if v.status != HelpStatus::Matched {
        return Err(refuse(&v, "complete", ctx.now));
    }
    if !(v.may_manage(ctx) || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester, the helper or an organiser may mark it done",
        ));
    }
    doc::append_entry(doc, ctx, HelpEntry::Done, &[])?;
    Ok(())
}

/// The operation behind `Store::cancel_help` (its docs state the rule and the errors).
pub(crate) fn cancel_help(doc: &mut AutoCommit, ctx: &Ctx, reason: &str) -> Result<()> {
    let v = derive(doc)?;
    if !matches!(v.status, HelpStatus::Open | HelpStatus::Matched) {
        return Err(refuse(&v, "cancel", ctx.now));
    }
    if !v.may_manage(ctx) {
        return Err(Error::not_allowed(
            "only the requester or an organiser may cancel",
        ));
    }
    doc::check_len("reason", reason, MAX_MESSAGE)?;
    doc::append_entry(
        doc,
        ctx,
        HelpEntry::Cancel,
        &[("reason", reason.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::thank_help` (its docs state the rule and the errors).
pub(crate) fn thank_help(doc: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<()> {
    let v = derive(doc)?;
    if v.status != HelpStatus::Done {
        return Err(refuse(&v, "thank", ctx.now));
    }
    if !(ctx.member == v.requester || v.helper.as_ref() == Some(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the requester and the helper leave thanks",
        ));
    }
    let text = doc::require_text("text", text, MAX_MESSAGE)?;
    doc::append_entry(doc, ctx, HelpEntry::Thanks, &[("text", text.into())])?;
    Ok(())
}
