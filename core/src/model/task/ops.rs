//! The operations: pure functions (a document and a [`Ctx`](crate::model::Ctx) in, entries and
//! fields written) that check against the derived state; `store` wraps each in its write path.

use automerge::{AutoCommit, ROOT};

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::rrule::Rule;
use crate::model::{Action, Ctx, Kind, allowed, require};

use super::{
    FIELDS, MAX_CHECKLIST, MAX_DESCRIPTION, MAX_HOUSEHOLD, MAX_ITEM, MAX_LABEL, MAX_NOTE,
    MAX_PLEDGE_TARGET, MAX_TITLE, NewTask, Outcome, TaskEdit, TaskEntry, TaskStanding, TaskStatus,
    TaskView, check_point, check_schedule, derive, parse_date,
};

/// Writes a new task into an empty document.
pub(crate) fn create(d: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewTask) -> Result<()> {
    require(ctx, Action::CreateTask)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("description", &new.description, MAX_DESCRIPTION)?;
    doc::check_len("location_label", &new.location_label, MAX_LABEL)?;
    let point = check_point(new.lat, new.lon)?;
    let schedule = check_schedule(
        new.rrule.as_deref(),
        new.dtstart.as_deref(),
        new.tz.as_deref(),
    )?;
    if let Some(k) = new.pledge_target {
        if !(1..=MAX_PLEDGE_TARGET).contains(&k) {
            return Err(Error::invalid(
                "pledge_target",
                format!("{k} is not in 1..={MAX_PLEDGE_TARGET}"),
            ));
        }
    }
    doc::init(d, Kind::Task, id, ctx)?;
    crate::audience::init(d, new.audience)?;
    doc::set_text(d, &ROOT, "title", &title)?;
    doc::set_text(d, &ROOT, "description", new.description.trim())?;
    if let Some((lat, lon)) = point {
        doc::put(d, &ROOT, "lat", lat)?;
        doc::put(d, &ROOT, "lon", lon)?;
    }
    doc::put(d, &ROOT, "location_label", new.location_label.trim())?;
    doc::put_opt(
        d,
        &ROOT,
        "rrule",
        schedule
            .rule
            .as_ref()
            .map(|r| Field::Str(r.to_rule_string())),
    )?;
    doc::put_opt(
        d,
        &ROOT,
        "dtstart",
        schedule.dtstart.map(|s| Field::Str(s.to_string())),
    )?;
    doc::put(d, &ROOT, "tz", schedule.tz_name.as_str())?;
    doc::put_opt(
        d,
        &ROOT,
        "pledge_target",
        new.pledge_target.map(|k| Field::Int(i64::from(k))),
    )?;
    Ok(())
}

pub(crate) fn refuse(v: &TaskView, action: &'static str) -> Error {
    Error::InvalidTransition {
        kind: "task",
        action,
        status: v.status.as_str().to_owned(),
    }
}

pub(crate) fn refuse_because(action: &'static str, status: &str) -> Error {
    Error::InvalidTransition {
        kind: "task",
        action,
        status: status.to_owned(),
    }
}

/// The operation behind `Store::edit_task` (its docs state the rule and the errors).
pub(crate) fn edit_task(d: &mut AutoCommit, ctx: &Ctx, edit: &TaskEdit) -> Result<()> {
    let v = derive(d)?;
    // Who may write each field is the kind's table, which `validate` reads too. A schedule
    // change is a `schedule` entry, not a root field: it is written by the same editors
    // ([`EDITOR`], which the replay also applies), so a schedule-only edit is checked as if
    // it wrote every field.
    FIELDS.require(
        &[
            ("title", edit.title.is_some()),
            ("description", edit.description.is_some()),
            ("location_label", edit.location_label.is_some()),
            ("lat", edit.point.is_some()),
            ("lon", edit.point.is_some()),
        ],
        ctx,
        &v.creator,
        "only the creator, a caretaker or an organiser may edit a task",
    )?;
    if edit.schedule.is_some() && !v.may_edit(ctx) {
        return Err(Error::not_allowed(
            "only the creator, a caretaker or an organiser may edit a task",
        ));
    }
    let title = edit
        .title
        .as_deref()
        .map(|t| doc::require_text("title", t, MAX_TITLE))
        .transpose()?;
    if let Some(desc) = &edit.description {
        doc::check_len("description", desc, MAX_DESCRIPTION)?;
    }
    if let Some(label) = &edit.location_label {
        doc::check_len("location_label", label, MAX_LABEL)?;
    }
    let point = match edit.point {
        Some(Some((lat, lon))) => Some(check_point(Some(lat), Some(lon))?),
        Some(None) => Some(None),
        None => None,
    };
    let schedule = edit
        .schedule
        .as_ref()
        .map(|s| check_schedule(s.rrule.as_deref(), s.dtstart.as_deref(), s.tz.as_deref()))
        .transpose()?;
    if let Some(t) = title {
        doc::set_text(d, &ROOT, "title", &t)?;
    }
    if let Some(desc) = &edit.description {
        doc::set_text(d, &ROOT, "description", desc.trim())?;
    }
    if let Some(label) = &edit.location_label {
        doc::put(d, &ROOT, "location_label", label.trim())?;
    }
    if let Some(point) = point {
        doc::put_opt(d, &ROOT, "lat", point.map(|(lat, _)| Field::F64(lat)))?;
        doc::put_opt(d, &ROOT, "lon", point.map(|(_, lon)| Field::F64(lon)))?;
    }
    if let Some(s) = schedule {
        let rrule = s
            .rule
            .as_ref()
            .map(Rule::to_rule_string)
            .unwrap_or_default();
        let dtstart = s.dtstart.map(|x| x.to_string()).unwrap_or_default();
        let fields = [
            ("rrule", rrule.into()),
            ("dtstart", dtstart.into()),
            ("tz", s.tz_name.into()),
        ];
        doc::append_entry(d, ctx, TaskEntry::Schedule, &fields)?;
    }
    Ok(())
}

/// The operation behind `Store::claim_task` (its docs state the rule and the errors).
pub(crate) fn claim_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<TaskStanding> {
    let v = derive(d)?;
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, "claim"));
    }
    if v.is_in(&ctx.member) {
        return Err(refuse_because("claim", "already yours"));
    }
    let role = if v.adopter.is_none() {
        "adopter"
    } else {
        "backup"
    };
    doc::append_entry(d, ctx, TaskEntry::Claim, &[("as", role.into())])?;
    Ok(derive(d)?.standing(&ctx.member))
}

/// The operation behind `Store::release_task` (its docs state the rule and the errors).
pub(crate) fn release_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if !v.is_in(&ctx.member) {
        return Err(Error::not_found("claim", ctx.member.as_str()));
    }
    doc::append_entry(d, ctx, TaskEntry::Release, &[])?;
    Ok(())
}

/// The operation behind `Store::pledge_task` (its docs state the rule and the errors).
pub(crate) fn pledge_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if v.pledge_target.is_none() {
        return Err(refuse_because("pledge to", "not in pledge mode"));
    }
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, "pledge to"));
    }
    if v.pledges.iter().any(|p| p.member == ctx.member) {
        return Err(refuse_because("pledge to", "already pledged by you"));
    }
    let household = ctx
        .household
        .as_deref()
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .unwrap_or(ctx.member.as_str())
        .to_owned();
    doc::check_len("household", &household, MAX_HOUSEHOLD)?;
    doc::append_entry(
        d,
        ctx,
        TaskEntry::Pledge,
        &[("household", household.into())],
    )?;
    Ok(())
}

/// The operation behind `Store::unpledge_task` (its docs state the rule and the errors).
pub(crate) fn unpledge_task(d: &mut AutoCommit, ctx: &Ctx) -> Result<()> {
    let v = derive(d)?;
    if !v.pledges.iter().any(|p| p.member == ctx.member) {
        return Err(Error::not_found("pledge", ctx.member.as_str()));
    }
    doc::append_entry(d, ctx, TaskEntry::Unpledge, &[])?;
    Ok(())
}

/// The operation behind `Store::add_checklist_item` (its docs state the rule and the errors).
pub(crate) fn add_checklist_item(d: &mut AutoCommit, ctx: &Ctx, text: &str) -> Result<String> {
    let v = derive(d)?;
    if !(v.may_edit(ctx) || v.is_in(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the creator, adopter, backups, caretakers or organisers edit the checklist",
        ));
    }
    let text = doc::require_text("text", text, MAX_ITEM)?;
    if v.checklist.len() >= MAX_CHECKLIST {
        return Err(Error::invalid(
            "text",
            format!("the checklist already has {MAX_CHECKLIST} items"),
        ));
    }
    doc::append_entry(d, ctx, TaskEntry::CheckAdd, &[("text", text.into())])
}

/// The operation behind `Store::record_occurrence` (its docs state the rule and the errors).
pub(crate) fn record_occurrence(
    d: &mut AutoCommit,
    ctx: &Ctx,
    date: &str,
    outcome: Outcome,
    note: &str,
) -> Result<()> {
    let v = derive(d)?;
    if !(v.is_in(&ctx.member) || allowed(Action::ManageTask, ctx.role)) {
        return Err(Error::not_allowed(
            "only the adopter, a backup, a caretaker or an organiser may record",
        ));
    }
    if v.status == TaskStatus::Pledging {
        return Err(refuse(&v, "record an occurrence of"));
    }
    let day = parse_date("date", date.trim())?;
    doc::check_len("note", note, MAX_NOTE)?;
    if !v.schedule.has(day) {
        return Err(Error::invalid(
            "date",
            format!("`{day}` is not an occurrence of the task's schedule"),
        ));
    }
    let today = v
        .schedule
        .day_of(ctx.now)
        .ok_or_else(|| Error::invalid("date", "today is out of range"))?;
    if day > today {
        return Err(Error::invalid(
            "date",
            format!("`{day}` is after today ({today})"),
        ));
    }
    match v.recorded.get(&day) {
        Some(Outcome::Done) => {
            return Err(Error::invalid(
                "date",
                format!("`{day}` is already recorded as done"),
            ));
        }
        Some(Outcome::Skipped) if outcome == Outcome::Skipped => {
            return Err(Error::invalid(
                "date",
                format!("`{day}` is already recorded as skipped"),
            ));
        }
        // A finished task only takes a done over a recorded skip.
        None if v.status == TaskStatus::Finished => {
            return Err(refuse(&v, "record an occurrence of"));
        }
        _ => {}
    }
    let fields = [
        ("date", day.to_string().into()),
        ("outcome", outcome.as_str().into()),
        ("note", note.trim().into()),
    ];
    doc::append_entry(d, ctx, TaskEntry::Occurrence, &fields)?;
    Ok(())
}

/// The operation behind `Store::pause_task` and `Store::resume_task`.
pub(crate) fn pause_or_resume(d: &mut AutoCommit, ctx: &Ctx, pause: bool) -> Result<()> {
    let v = derive(d)?;
    let action = if pause { "pause" } else { "resume" };
    if !(v.adopter.as_ref() == Some(&ctx.member) || allowed(Action::ManageTask, ctx.role)) {
        return Err(Error::not_allowed(format!(
            "only the adopter, a caretaker or an organiser may {action} a task"
        )));
    }
    if v.status == TaskStatus::Finished {
        return Err(refuse(&v, action));
    }
    if v.paused == pause {
        let status = if pause { "paused" } else { "not paused" };
        return Err(refuse_because(action, status));
    }
    let entry = if pause {
        TaskEntry::Pause
    } else {
        TaskEntry::Resume
    };
    doc::append_entry(d, ctx, entry, &[])?;
    Ok(())
}

/// The operation behind `Store::remove_checklist_item` (its docs state the rule and the errors).
pub(crate) fn remove_checklist_item(d: &mut AutoCommit, ctx: &Ctx, item: &str) -> Result<()> {
    let v = derive(d)?;
    if !(v.may_edit(ctx) || v.is_in(&ctx.member)) {
        return Err(Error::not_allowed(
            "only the creator, adopter, backups, caretakers or organisers edit the checklist",
        ));
    }
    if !v.checklist.iter().any(|i| i.id == item) {
        return Err(Error::not_found("checklist item", item));
    }
    doc::append_entry(d, ctx, TaskEntry::CheckRemove, &[("item", item.into())])?;
    Ok(())
}
