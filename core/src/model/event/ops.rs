//! The operations: pure functions (a document and a [`Ctx`](crate::model::Ctx) in, entries and
//! fields written) that check against the derived state; `store` wraps each in its write path.

use automerge::{AutoCommit, ROOT};

use crate::doc::{self, Field};
use crate::error::{Error, Result};
use crate::ids::EntityId;
use crate::model::{Action, Ctx, Kind, allowed, require};

use super::{
    Attendance, CAPACITY, EventEdit, EventEntry, EventStatus, EventView, FIELDS, MAX_DESCRIPTION,
    MAX_PLACE, MAX_REASON, MAX_ROLE_DESCRIPTION, MAX_ROLE_NAME, MAX_ROLES, MAX_SHIFTS, MAX_TITLE,
    NEEDED, NewEvent, Rsvp, SEEN_CONFIRMED, SEEN_WAITLISTED, ShiftSlot, TIMES, capacity_usize,
    derive,
};

// ---------------------------------------------------------------------------------------------
// Validation

fn check_time(field: &'static str, v: i64) -> Result<()> {
    if TIMES.contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("{v} is not a time between 1970 and 9999"),
        ))
    }
}

pub(super) fn check_times(starts_at: i64, ends_at: i64) -> Result<()> {
    check_time("starts_at", starts_at)?;
    check_time("ends_at", ends_at)?;
    if ends_at < starts_at {
        return Err(Error::invalid("ends_at", "is before `starts_at`"));
    }
    Ok(())
}

fn check_capacity(capacity: Option<i64>) -> Result<()> {
    match capacity {
        Some(c) if !CAPACITY.contains(&c) => Err(Error::invalid(
            "capacity",
            format!(
                "{c} is not between {} and {}",
                CAPACITY.start(),
                CAPACITY.end()
            ),
        )),
        _ => Ok(()),
    }
}

fn check_needed(needed: i64) -> Result<()> {
    if NEEDED.contains(&needed) {
        Ok(())
    } else {
        Err(Error::invalid(
            "needed",
            format!(
                "{needed} is not between {} and {}",
                NEEDED.start(),
                NEEDED.end()
            ),
        ))
    }
}

fn put_point(doc: &mut AutoCommit, point: Option<(f64, f64)>) -> Result<()> {
    if let Some((lat, lon)) = point {
        doc::check_point(lat, lon)?;
    }
    doc::put_opt(doc, &ROOT, "lat", point.map(|p| Field::F64(p.0)))?;
    doc::put_opt(doc, &ROOT, "lon", point.map(|p| Field::F64(p.1)))?;
    Ok(())
}

/// Writes a new event into an empty document.
pub(crate) fn create(doc: &mut AutoCommit, id: &EntityId, ctx: &Ctx, new: &NewEvent) -> Result<()> {
    require(ctx, Action::CreateEvent)?;
    let title = doc::require_text("title", &new.title, MAX_TITLE)?;
    doc::check_len("description", &new.description, MAX_DESCRIPTION)?;
    let place = doc::require_text("place", &new.place, MAX_PLACE)?;
    check_times(new.starts_at, new.ends_at)?;
    if let Some((lat, lon)) = new.point {
        doc::check_point(lat, lon)?;
    }
    check_capacity(new.capacity)?;
    doc::init(doc, Kind::Event, id, ctx)?;
    crate::audience::init(doc, new.audience)?;
    doc::set_text(doc, &ROOT, "title", &title)?;
    doc::set_text(doc, &ROOT, "description", new.description.trim())?;
    doc::put(doc, &ROOT, "starts_at", new.starts_at)?;
    doc::put(doc, &ROOT, "ends_at", new.ends_at)?;
    doc::put(doc, &ROOT, "place", place)?;
    put_point(doc, new.point)?;
    doc::put_opt(doc, &ROOT, "capacity", new.capacity.map(Field::Int))?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operations

fn refuse_if_cancelled(v: &EventView, action: &'static str) -> Result<()> {
    if v.status == EventStatus::Cancelled {
        Err(Error::InvalidTransition {
            kind: "event",
            action,
            status: v.status.as_str().into(),
        })
    } else {
        Ok(())
    }
}

fn require_manager(ctx: &Ctx, what: &str) -> Result<()> {
    if allowed(Action::ManageEvent, ctx.role) {
        Ok(())
    } else {
        Err(Error::not_allowed(format!(
            "a {} may not {what}",
            ctx.role.as_str()
        )))
    }
}

pub(crate) fn edit(doc: &mut AutoCommit, ctx: &Ctx, e: &EventEdit) -> Result<()> {
    let v = derive(doc)?;
    // Who may write each field is the kind's table, which `validate` reads too. A time edit
    // writes both `starts_at` and `ends_at`, a point both `lat` and `lon`.
    let times = e.starts_at.is_some() || e.ends_at.is_some();
    FIELDS.require(
        &[
            ("title", e.title.is_some()),
            ("description", e.description.is_some()),
            ("starts_at", times),
            ("ends_at", times),
            ("place", e.place.is_some()),
            ("lat", e.point.is_some()),
            ("lon", e.point.is_some()),
            ("capacity", e.capacity.is_some()),
        ],
        ctx,
        &v.creator,
        "only an organiser, staff or the creator may edit an event",
    )?;
    // An extra rule of the operation, not of the table: a cancelled event is not edited.
    refuse_if_cancelled(&v, "edit")?;
    // Validate everything before writing anything.
    let title = e
        .title
        .as_deref()
        .map(|t| doc::require_text("title", t, MAX_TITLE))
        .transpose()?;
    if let Some(d) = &e.description {
        doc::check_len("description", d, MAX_DESCRIPTION)?;
    }
    let place = e
        .place
        .as_deref()
        .map(|p| doc::require_text("place", p, MAX_PLACE))
        .transpose()?;
    if let Some(Some((lat, lon))) = e.point {
        doc::check_point(lat, lon)?;
    }
    let times = (e.starts_at.is_some() || e.ends_at.is_some()).then(|| {
        (
            e.starts_at.unwrap_or(v.starts_at),
            e.ends_at.unwrap_or(v.ends_at),
        )
    });
    if let Some((s, end)) = times {
        check_times(s, end)?;
    }
    if let Some(c) = e.capacity {
        check_capacity(c)?;
    }
    if let Some(t) = title {
        doc::set_text(doc, &ROOT, "title", &t)?;
    }
    if let Some(d) = &e.description {
        doc::set_text(doc, &ROOT, "description", d.trim())?;
    }
    if let Some(p) = place {
        doc::put(doc, &ROOT, "place", p)?;
    }
    if let Some(point) = e.point {
        put_point(doc, point)?;
    }
    if let Some((s, end)) = times {
        // Both, always, one after the other: concurrent time edits then resolve to the same
        // change for both keys, so a merge never pairs one edit's start with another's end.
        doc::put(doc, &ROOT, "starts_at", s)?;
        doc::put(doc, &ROOT, "ends_at", end)?;
    }
    if let Some(c) = e.capacity {
        doc::put_opt(doc, &ROOT, "capacity", c.map(Field::Int))?;
    }
    Ok(())
}

pub(crate) fn rsvp(doc: &mut AutoCommit, ctx: &Ctx, answer: Rsvp) -> Result<Attendance> {
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "answer")?;
    if v.rsvp_of(&ctx.member) == Some(answer) {
        return Ok(v.attendance(&ctx.member)); // already the answer: nothing to write
    }
    let mut fields = vec![("status", Field::from(answer.as_str()))];
    if answer == Rsvp::Going {
        // The local member joins the back of the queue: record what this device shows them.
        let queue = v.confirmed.len().saturating_add(v.waitlist.len());
        let full = capacity_usize(v.capacity).is_some_and(|c| queue >= c);
        fields.push((
            "seen",
            Field::from(if full {
                SEEN_WAITLISTED
            } else {
                SEEN_CONFIRMED
            }),
        ));
    }
    doc::append_entry(doc, ctx, EventEntry::Rsvp, &fields)?;
    Ok(derive(doc)?.attendance(&ctx.member))
}

fn add_role(doc: &mut AutoCommit, ctx: &Ctx, name: &str, description: &str) -> Result<String> {
    require_manager(ctx, "add volunteer roles")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "add a role to")?;
    let name = doc::require_text("name", name, MAX_ROLE_NAME)?;
    doc::check_len("description", description, MAX_ROLE_DESCRIPTION)?;
    if v.roles.len() >= MAX_ROLES {
        return Err(Error::invalid(
            "role",
            format!("an event has at most {MAX_ROLES} roles"),
        ));
    }
    let fields = [
        ("name", Field::from(name)),
        ("description", description.trim().into()),
    ];
    doc::append_entry(doc, ctx, EventEntry::AddRole, &fields)
}

pub(crate) fn add_shift(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    role: &str,
    times: (i64, i64),
    needed: i64,
) -> Result<String> {
    require_manager(ctx, "add shifts")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "add a shift to")?;
    if !v.roles.iter().any(|r| r.id == role) {
        return Err(Error::not_found("role", role));
    }
    check_times(times.0, times.1)?;
    check_needed(needed)?;
    if v.shifts.len() >= MAX_SHIFTS {
        return Err(Error::invalid(
            "shift",
            format!("an event has at most {MAX_SHIFTS} shifts"),
        ));
    }
    let fields = [
        ("role_id", Field::from(role)),
        ("starts_at", times.0.into()),
        ("ends_at", times.1.into()),
        ("needed", needed.into()),
    ];
    doc::append_entry(doc, ctx, EventEntry::AddShift, &fields)
}

pub(crate) fn signup(doc: &mut AutoCommit, ctx: &Ctx, shift: &str) -> Result<ShiftSlot> {
    let v = derive(doc)?;
    let s = v
        .shift(shift)
        .ok_or_else(|| Error::not_found("shift", shift))?;
    refuse_if_cancelled(&v, "sign up for")?;
    if let Some(slot) = s.slot_of(&ctx.member) {
        return Ok(slot); // already signed up: nothing to write
    }
    doc::append_entry(doc, ctx, EventEntry::Signup, &[("shift", shift.into())])?;
    derive(doc)?
        .shift(shift)
        .and_then(|s| s.slot_of(&ctx.member))
        .ok_or_else(|| Error::Other("sign-up not found after writing it; this is a bug".into()))
}

pub(crate) fn withdraw(doc: &mut AutoCommit, ctx: &Ctx, shift: &str) -> Result<()> {
    let v = derive(doc)?;
    let s = v
        .shift(shift)
        .ok_or_else(|| Error::not_found("shift", shift))?;
    refuse_if_cancelled(&v, "withdraw from")?;
    if s.slot_of(&ctx.member).is_none() {
        return Err(Error::not_found("sign-up", shift));
    }
    doc::append_entry(doc, ctx, EventEntry::Unsignup, &[("shift", shift.into())])?;
    Ok(())
}

pub(crate) fn cancel(doc: &mut AutoCommit, ctx: &Ctx, reason: &str) -> Result<()> {
    require_manager(ctx, "cancel an event")?;
    let v = derive(doc)?;
    refuse_if_cancelled(&v, "cancel")?;
    doc::check_len("reason", reason, MAX_REASON)?;
    doc::append_entry(
        doc,
        ctx,
        EventEntry::Cancel,
        &[("reason", reason.trim().into())],
    )?;
    Ok(())
}

/// The operation behind `Store::add_event_role` (its docs state the rule and the errors).
pub(crate) fn add_event_role(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    name: &str,
    description: &str,
) -> Result<String> {
    add_role(doc, ctx, name, description)
}
