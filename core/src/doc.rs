//! Reading and writing the shape every Noaber document shares.
//!
//! Every entity document (schema version 1) has this root map:
//!
//! | key | type | written |
//! |---|---|---|
//! | `schema` | int | at creation: the schema version, `1` |
//! | `kind` | str | at creation: `help`, `event`, `task`, `report`, `profile` |
//! | `id` | str | at creation: the entity id |
//! | `created_by` | str | at creation: member id of the creator |
//! | `created_role` | str | at creation: the creator's role then |
//! | `created_at` | int | at creation: ms since the epoch |
//! | `log` | map | at creation, empty: entry id → entry (below) |
//! | `comments` | map | at creation, empty: comment id → comment ([`crate::model::comment`]) |
//! | kind fields | … | see each kind's module |
//!
//! **Entries.** What people *do* (respond, match, claim, RSVP, transition, ...) is appended to
//! `log` as a map under a fresh random key: `{t, by, role, at, ...fields}`. Two devices never
//! write the same key, so concurrent actions never overwrite each other; the derived status is a
//! deterministic function of the whole log (each kind's module states its rule). Entries are
//! ordered by `(at, by, id)` — the total order every device computes identically. A device
//! writes `at` as its clock but at least one millisecond after every entry it has seen
//! ([`next_at`]), so a reaction always sorts after what it reacted to.
//!
//! **Containers are created only in the creation change.** Two devices that both created the
//! same nested map would conflict and one map (with everything inside it) would be hidden; so no
//! operation after creation creates a container at a fixed key, only under fresh random keys.
//!
//! **Unknown keys are ignored** when reading, so a newer schema can add fields and old clients
//! keep working.

use std::collections::BTreeMap;

use automerge::{
    AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, ScalarValueRef, Value, ValueRef,
    transaction::Transactable,
};

use crate::error::{Error, Result};
use crate::ids::{EntityId, MemberId, new_entry_id};
use crate::kind::{Ctx, Kind, Role};

/// The schema version this code writes. Readers accept this version and older ones.
pub const SCHEMA_VERSION: i64 = 1;

/// A scalar value of an entry field.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Str(String),
    Int(i64),
    F64(f64),
    Bool(bool),
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Str(s.to_owned())
    }
}
impl From<String> for Field {
    fn from(s: String) -> Self {
        Field::Str(s)
    }
}
impl From<i64> for Field {
    fn from(v: i64) -> Self {
        Field::Int(v)
    }
}
impl From<f64> for Field {
    fn from(v: f64) -> Self {
        Field::F64(v)
    }
}
impl From<bool> for Field {
    fn from(v: bool) -> Self {
        Field::Bool(v)
    }
}

impl Field {
    fn to_scalar(&self) -> ScalarValue {
        match self {
            Field::Str(s) => ScalarValue::Str(s.as_str().into()),
            Field::Int(i) => ScalarValue::Int(*i),
            Field::F64(f) => ScalarValue::F64(*f),
            Field::Bool(b) => ScalarValue::Boolean(*b),
        }
    }

    fn from_scalar_ref(s: &ScalarValueRef<'_>) -> Option<Field> {
        match s {
            ScalarValueRef::Str(s) => Some(Field::Str(s.to_string())),
            ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i) => Some(Field::Int(*i)),
            ScalarValueRef::Uint(u) => i64::try_from(*u).ok().map(Field::Int),
            ScalarValueRef::F64(f) => Some(Field::F64(*f)),
            ScalarValueRef::Boolean(b) => Some(Field::Bool(*b)),
            _ => None,
        }
    }
}

/// One action from the document's `log`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Entry {
    /// The entry's random key in `log`.
    pub id: String,
    /// The entry type (`respond`, `match`, `claim`, ...).
    pub t: String,
    /// The member who did it.
    pub by: MemberId,
    /// Their role when they did it (claimed by the device; the relay verifies it).
    pub role: Role,
    /// When, in ms since the epoch, by the acting device's clock.
    pub at: i64,
    fields: BTreeMap<String, Field>,
}

impl Entry {
    pub fn str(&self, key: &str) -> Option<&str> {
        match self.fields.get(key) {
            Some(Field::Str(s)) => Some(s),
            _ => None,
        }
    }

    pub fn int(&self, key: &str) -> Option<i64> {
        match self.fields.get(key) {
            Some(Field::Int(i)) => Some(*i),
            _ => None,
        }
    }

    /// The key entries are ordered by on every device: `(at, by, id)`.
    pub fn order_key(&self) -> (i64, &str, &str) {
        (self.at, self.by.as_str(), &self.id)
    }
}

/// The fields every document carries at its root.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub schema: i64,
    pub kind: Kind,
    pub id: String,
    pub created_by: MemberId,
    pub created_role: Role,
    pub created_at: i64,
}

// ---------------------------------------------------------------------------------------------
// Reading

fn scalar(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<ScalarValue> {
    match doc.get(obj, key) {
        Ok(Some((Value::Scalar(s), _))) => Some(s.into_owned()),
        _ => None,
    }
}

pub(crate) fn get_str(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match scalar(doc, obj, key)? {
        ScalarValue::Str(s) => Some(s.to_string()),
        _ => None,
    }
}

pub(crate) fn get_i64(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<i64> {
    match scalar(doc, obj, key)? {
        ScalarValue::Int(i) | ScalarValue::Timestamp(i) => Some(i),
        ScalarValue::Uint(u) => i64::try_from(u).ok(),
        _ => None,
    }
}

pub(crate) fn get_f64(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<f64> {
    match scalar(doc, obj, key)? {
        ScalarValue::F64(f) => Some(f),
        ScalarValue::Int(i) => Some(i as f64),
        _ => None,
    }
}

pub(crate) fn get_bool(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<bool> {
    match scalar(doc, obj, key)? {
        ScalarValue::Boolean(b) => Some(b),
        _ => None,
    }
}

/// The id of the nested object of type `ty` at `key`, if there is one.
pub(crate) fn get_obj(doc: &impl ReadDoc, obj: &ObjId, key: &str, ty: ObjType) -> Option<ObjId> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(t), id))) if t == ty => Some(id),
        _ => None,
    }
}

/// A text field: an Automerge `Text` object (merged character by character) or, leniently,
/// a plain string.
pub(crate) fn get_text(doc: &impl ReadDoc, obj: &ObjId, key: &str) -> Option<String> {
    match doc.get(obj, key) {
        Ok(Some((Value::Object(ObjType::Text), id))) => doc.text(&id).ok(),
        Ok(Some((Value::Scalar(s), _))) => match s.as_ref() {
            ScalarValue::Str(s) => Some(s.to_string()),
            _ => None,
        },
        _ => None,
    }
}

/// Reads the root header.
///
/// # Errors
///
/// [`Error::Other`] when a required header field is missing or the schema is newer than this
/// code understands.
pub(crate) fn header(doc: &impl ReadDoc) -> Result<Header> {
    let missing = |k: &str| Error::Other(format!("document has no `{k}`"));
    let schema = get_i64(doc, &ROOT, "schema").ok_or_else(|| missing("schema"))?;
    if schema > SCHEMA_VERSION {
        // A newer app wrote this document. We still read what we know (unknown keys are
        // ignored), so this is not an error: newer schemas only add.
        tracing::debug!(schema, "document written by a newer schema");
    }
    let kind = get_str(doc, &ROOT, "kind").ok_or_else(|| missing("kind"))?;
    let kind = Kind::parse(&kind)?;
    let id = get_str(doc, &ROOT, "id").ok_or_else(|| missing("id"))?;
    let created_by = get_str(doc, &ROOT, "created_by").ok_or_else(|| missing("created_by"))?;
    let created_role = get_str(doc, &ROOT, "created_role")
        .and_then(|r| Role::parse(&r).ok())
        .unwrap_or(Role::Resident);
    let created_at = get_i64(doc, &ROOT, "created_at").ok_or_else(|| missing("created_at"))?;
    Ok(Header {
        schema,
        kind,
        id,
        created_by: MemberId::from_doc(created_by),
        created_role,
        created_at,
    })
}

/// Every well-formed entry of the `log`, sorted by `(at, by, id)`.
///
/// Malformed entries (missing `t`, `by` or `at`) are skipped: a buggy or hostile peer must not
/// make the whole document unreadable.
pub(crate) fn entries(doc: &impl ReadDoc) -> Vec<Entry> {
    let Some(log) = get_obj(doc, &ROOT, "log", ObjType::Map) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in doc.map_range(&log, ..) {
        let ValueRef::Object(ObjType::Map) = item.value else {
            continue;
        };
        let obj = item.id();
        let mut fields = BTreeMap::new();
        for f in doc.map_range(&obj, ..) {
            if let ValueRef::Scalar(s) = &f.value {
                if let Some(v) = Field::from_scalar_ref(s) {
                    fields.insert(f.key.to_string(), v);
                }
            }
        }
        let (Some(Field::Str(t)), Some(Field::Str(by)), Some(Field::Int(at))) =
            (fields.remove("t"), fields.remove("by"), fields.remove("at"))
        else {
            continue;
        };
        let role = match fields.remove("role") {
            Some(Field::Str(r)) => Role::parse(&r).unwrap_or(Role::Resident),
            _ => Role::Resident,
        };
        out.push(Entry {
            id: item.key.to_string(),
            t,
            by: MemberId::from_doc(by),
            role,
            at,
            fields,
        });
    }
    out.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    out
}

/// The latest `at` of any entry, or the creation time: "last activity".
pub(crate) fn updated_at(header: &Header, entries: &[Entry]) -> i64 {
    entries
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(header.created_at)
        .max(header.created_at)
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Writes the shared root fields of a new document of `kind`.
pub(crate) fn init(doc: &mut AutoCommit, kind: Kind, id: &EntityId, ctx: &Ctx) -> Result<()> {
    doc.put(ROOT, "schema", SCHEMA_VERSION)?;
    doc.put(ROOT, "kind", kind.as_str())?;
    doc.put(ROOT, "id", id.as_str())?;
    doc.put(ROOT, "created_by", ctx.member.as_str())?;
    doc.put(ROOT, "created_role", ctx.role.as_str())?;
    doc.put(ROOT, "created_at", ctx.now)?;
    doc.put_object(ROOT, "log", ObjType::Map)?;
    doc.put_object(ROOT, "comments", ObjType::Map)?;
    Ok(())
}

/// Sets a text field, merging with concurrent edits: an existing `Text` object is updated by
/// a character diff; a missing one is created (do that only in the creation change).
pub(crate) fn set_text(doc: &mut AutoCommit, obj: &ObjId, key: &str, value: &str) -> Result<()> {
    match doc.get(obj, key)? {
        Some((Value::Object(ObjType::Text), text)) => doc.update_text(&text, value)?,
        _ => {
            let text = doc.put_object(obj, key, ObjType::Text)?;
            doc.splice_text(&text, 0, 0, value)?;
        }
    }
    Ok(())
}

/// Puts an optional scalar: `None` deletes the key.
pub(crate) fn put_opt(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: Option<Field>,
) -> Result<()> {
    match value {
        Some(v) => doc.put(obj, key, v.to_scalar())?,
        None => {
            if doc.get(obj, key)?.is_some() {
                doc.delete(obj, key)?;
            }
        }
    }
    Ok(())
}

/// Puts a scalar field.
pub(crate) fn put(
    doc: &mut AutoCommit,
    obj: &ObjId,
    key: &str,
    value: impl Into<Field>,
) -> Result<()> {
    doc.put(obj, key, value.into().to_scalar())?;
    Ok(())
}

/// Keys every entry carries; an entry's own fields may not use them (a field named `by` would
/// make the entry claim another author).
const RESERVED: [&str; 4] = ["t", "by", "role", "at"];

/// The `at` a new entry gets: the device's clock, but never before the document's `created_at`
/// and never earlier than one millisecond after every entry the device has already seen.
/// Entries are ordered by `at`, so this keeps every action after the actions it was a reaction
/// to, even when the device's clock is behind or two actions fall in the same millisecond (a
/// hybrid logical clock, in effect). The relay refuses an entry that breaks this (`bad_time`,
/// rule 6 of [`crate::validate`]), so an honest device with a clock behind is never refused.
pub(crate) fn next_at(doc: &impl ReadDoc, now: i64) -> i64 {
    let (created_at, latest) = time_floor(doc);
    let base = created_at.map_or(now, |c| now.max(c));
    match latest {
        Some(at) if at >= base => at.saturating_add(1),
        _ => base,
    }
}

/// The `at` a new comment gets: the device's clock, but never before the document's
/// `created_at` or any entry the device has seen (the relay's rule 8 of [`crate::validate`]).
pub(crate) fn comment_at(doc: &impl ReadDoc, now: i64) -> i64 {
    let (created_at, latest) = time_floor(doc);
    [created_at, latest]
        .into_iter()
        .flatten()
        .fold(now, i64::max)
}

/// The document's `created_at` and the latest `at` of its entries, as [`entries`] reads them
/// (the relay computes the same on the document a change depends on).
fn time_floor(doc: &impl ReadDoc) -> (Option<i64>, Option<i64>) {
    let created_at = get_i64(doc, &ROOT, "created_at");
    (created_at, entries(doc).iter().map(|e| e.at).max())
}

/// Appends an entry of type `t` by the acting member to the `log`; returns its id.
/// Its `at` is [`next_at`].
pub(crate) fn append_entry(
    doc: &mut AutoCommit,
    ctx: &Ctx,
    t: impl AsRef<str>,
    fields: &[(&str, Field)],
) -> Result<String> {
    let t = t.as_ref();
    let log = get_obj(doc, &ROOT, "log", ObjType::Map)
        .ok_or_else(|| Error::Other("document has no `log`".into()))?;
    if let Some((k, _)) = fields.iter().find(|(k, _)| RESERVED.contains(k)) {
        return Err(Error::Other(format!(
            "entry field `{k}` would overwrite a reserved key; this is a bug"
        )));
    }
    let at = next_at(doc, ctx.now);
    let id = new_entry_id()?;
    let entry = doc.put_object(&log, id.as_str(), ObjType::Map)?;
    doc.put(&entry, "t", t)?;
    doc.put(&entry, "by", ctx.member.as_str())?;
    doc.put(&entry, "role", ctx.role.as_str())?;
    doc.put(&entry, "at", at)?;
    for (k, v) in fields {
        doc.put(&entry, *k, v.to_scalar())?;
    }
    Ok(id)
}

/// Validates a required, trimmed, length-bounded text input.
pub(crate) fn require_text(field: &'static str, value: &str, max_chars: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    check_len(field, v, max_chars)?;
    Ok(v.to_owned())
}

/// Validates an optional length-bounded text input (may be empty).
pub(crate) fn check_len(field: &'static str, value: &str, max_chars: usize) -> Result<()> {
    let n = value.chars().count();
    if n > max_chars {
        return Err(Error::invalid(
            field,
            format!("is {n} characters, at most {max_chars} allowed"),
        ));
    }
    Ok(())
}

/// Validates a latitude/longitude pair.
pub(crate) fn check_point(lat: f64, lon: f64) -> Result<()> {
    if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
        return Err(Error::invalid("lat", format!("{lat} is not a latitude")));
    }
    if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
        return Err(Error::invalid("lon", format!("{lon} is not a longitude")));
    }
    Ok(())
}
