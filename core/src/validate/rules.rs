//! Who may write what (rules 4 to 10): a new document's header, root kind fields by kind,
//! log entries and comments, each located write checked against the document before it.

use std::collections::BTreeSet;

use automerge::{AutoCommit, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use crate::audience;
use crate::doc;
use crate::ids::EntityId;
use crate::model::fields::Who;
use crate::model::{Kind, allowed, create_action, fields};

use super::{
    Act, BAD_CHANGE, BAD_TIME, Before, FORGED_ENTRY, HEADER, IMMUTABLE, NOT_ALLOWED, Pusher,
    Rejection, Seg, Touch, WRONG_DOCUMENT, reject,
};

/// Whether every value at `obj.key` (winner and conflicts) is the string `want`, and there is
/// at least one.
fn all_str_eq(d: &AutoCommit, obj: &ObjId, key: &str, want: &str) -> bool {
    match d.get_all(obj, key) {
        Ok(values) => {
            !values.is_empty()
                && values.iter().all(|(v, _)| {
                    matches!(v, Value::Scalar(s) if matches!(s.as_ref(), ScalarValue::Str(s) if s.as_str() == want))
                })
        }
        Err(_) => false,
    }
}

/// Rule 4: what a new document must say after its creation change.
pub(super) fn check_creation(
    d: &AutoCommit,
    entity: &EntityId,
    pusher: &Pusher,
) -> Result<(), Rejection> {
    let missing = |field: &str| {
        reject(
            BAD_CHANGE,
            format!("a new document needs `{field}` in its header"),
        )
    };
    if doc::get_i64(d, &ROOT, "schema").is_none_or(|s| s < 1) {
        return Err(missing("schema"));
    }
    let kind = doc::get_str(d, &ROOT, "kind")
        .and_then(|k| Kind::parse(&k).ok())
        .ok_or_else(|| missing("kind"))?;
    let id = doc::get_str(d, &ROOT, "id").ok_or_else(|| missing("id"))?;
    if id != entity.as_str() {
        return Err(reject(
            WRONG_DOCUMENT,
            "the new document's `id` is not the entity it was pushed for",
        ));
    }
    let Some(created_at) = doc::get_i64(d, &ROOT, "created_at") else {
        return Err(missing("created_at"));
    };
    let too_early = created_at < pusher.created_not_before.unwrap_or(0);
    if too_early || pusher.not_after.is_some_and(|limit| created_at > limit) {
        return Err(reject(
            BAD_TIME,
            "the new document's `created_at` is too far from the relay's clock",
        ));
    }
    if !audience::audience_is_known(d) {
        return Err(reject(
            BAD_CHANGE,
            "the new document's `audience` is not one this relay knows",
        ));
    }
    for container in ["log", "comments"] {
        if doc::get_obj(d, &ROOT, container, ObjType::Map).is_none() {
            return Err(missing(container));
        }
    }
    if !all_str_eq(d, &ROOT, "created_by", pusher.member.as_str()) {
        return Err(reject(
            FORGED_ENTRY,
            "the new document's `created_by` is not the pusher",
        ));
    }
    if !all_str_eq(d, &ROOT, "created_role", pusher.role.as_str()) {
        return Err(reject(
            FORGED_ENTRY,
            "the new document's `created_role` is not the pusher's role",
        ));
    }
    if let Some(action) = create_action(kind) {
        if !allowed(action, pusher.role) {
            return Err(reject(
                NOT_ALLOWED,
                format!("a {} may not {}", pusher.role.as_str(), action.describe()),
            ));
        }
    }
    Ok(())
}

/// Rules 5 to 10 for each located write; collects new entries and comments for their final
/// check.
pub(super) struct Rules<'a> {
    pub(super) before: &'a Before,
    pub(super) pusher: &'a Pusher,
    pub(super) new_entries: BTreeSet<String>,
    pub(super) new_comments: BTreeSet<String>,
    pub(super) floor: Floor,
}

/// The earliest times a new entry or comment may carry (rules 6 and 8).
pub(super) struct Floor {
    /// The document's `created_at`.
    pub(super) created_at: Option<i64>,
    /// The latest `at` of the entries the change depends on ([`latest_entry_at`]).
    pub(super) latest_seen: Option<i64>,
}

/// Whether a new entry (`strict`: after every entry it depends on) or comment (not before)
/// may carry `at`.
fn after_floor(floor: &Floor, at: i64, strict: bool) -> bool {
    let after_entries = floor
        .latest_seen
        .is_none_or(|seen| if strict { at > seen } else { at >= seen });
    after_entries && floor.created_at.is_none_or(|created| at >= created)
}

impl Rules<'_> {
    pub(super) fn check(&mut self, touch: &Touch) -> Result<(), Rejection> {
        match touch.path.as_slice() {
            [] => Ok(()),
            [Seg::Index, ..] => Err(reject(BAD_CHANGE, "the document root is not a list")),
            [Seg::Key(key), rest @ ..] => match key.as_str() {
                "log" if !rest.is_empty() => self.log(rest),
                "comments" if !rest.is_empty() => self.comment(rest, &touch.act),
                k if HEADER.contains(&k) => match self.before.header {
                    None => Ok(()), // the creation change writes the header
                    Some(_) => Err(reject(
                        IMMUTABLE,
                        format!("`{k}` never changes after creation"),
                    )),
                },
                _ => self.field(key, rest, &touch.act),
            },
        }
    }

    /// Rules 6 and 7: a write in `log`.
    fn log(&mut self, rest: &[Seg]) -> Result<(), Rejection> {
        let [Seg::Key(entry), ..] = rest else {
            return Err(reject(BAD_CHANGE, "`log` is not a list"));
        };
        if self.before.entries.contains(entry) {
            return Err(reject(
                IMMUTABLE,
                "an existing log entry is never changed or deleted",
            ));
        }
        self.new_entries.insert(entry.clone());
        Ok(())
    }

    /// Rules 8 and 9: a write in `comments`.
    fn comment(&mut self, rest: &[Seg], act: &Act) -> Result<(), Rejection> {
        let [Seg::Key(id), inner @ ..] = rest else {
            return Err(reject(BAD_CHANGE, "`comments` is not a list"));
        };
        let Some(author) = self.before.comments.get(id) else {
            self.new_comments.insert(id.clone());
            return Ok(());
        };
        if author.as_deref() != Some(self.pusher.member.as_str()) {
            return Err(reject(NOT_ALLOWED, "only its author may change a comment"));
        }
        match inner {
            [] => Err(reject(IMMUTABLE, "a comment is never replaced or deleted")),
            [Seg::Key(f), ..] if f == "author" || f == "at" => Err(reject(
                IMMUTABLE,
                "a comment's `author` and `at` never change",
            )),
            [Seg::Key(f)] if f == "withdrawn" => match act {
                Act::Put(ScalarValue::Boolean(true)) | Act::Conflict => Ok(()),
                _ => Err(reject(
                    IMMUTABLE,
                    "a comment's `withdrawn` is only ever set to true",
                )),
            },
            _ => Ok(()),
        }
    }

    /// Rule 10: a root kind field (or anything inside it).
    fn field(&self, key: &str, rest: &[Seg], act: &Act) -> Result<(), Rejection> {
        let Some(header) = &self.before.header else {
            return Ok(()); // the creator writes every field of a new document
        };
        let table = fields(header.kind);
        let (name, who) = match table.known.iter().find(|(k, _)| *k == key) {
            Some((k, who)) => (format!("`{k}`"), *who),
            None => ("a field unknown to this schema".to_owned(), table.unknown),
        };
        if matches!(who, Who::Nobody) {
            return Err(reject(
                IMMUTABLE,
                format!(
                    "{name} of a {} is set at creation only",
                    header.kind.as_str()
                ),
            ));
        }
        if !who.permits(&self.pusher.member, self.pusher.role, &header.created_by) {
            return Err(reject(
                NOT_ALLOWED,
                format!(
                    "a {} who did not create this {} may not write {name}",
                    self.pusher.role.as_str(),
                    header.kind.as_str()
                ),
            ));
        }
        if rest.is_empty() && *act == Act::Make && self.before.containers.contains(key) {
            return Err(reject(
                IMMUTABLE,
                format!("the container at {name} is never replaced, only edited"),
            ));
        }
        Ok(())
    }

    /// The maps under the new keys `keys` of the root container `container` (every
    /// conflicting value of each key). Anything else there is `forged_entry`, described as
    /// `what` ("a new log entry", "a new comment").
    fn new_maps(
        d: &AutoCommit,
        container: &str,
        keys: &BTreeSet<String>,
        what: &str,
    ) -> Result<Vec<ObjId>, Rejection> {
        let forged = |why: &str| reject(FORGED_ENTRY, format!("{what} {why}"));
        let missing = format!("is not in the document's `{container}`");
        let parent =
            doc::get_obj(d, &ROOT, container, ObjType::Map).ok_or_else(|| forged(&missing))?;
        let mut out = Vec::new();
        for key in keys {
            let values = d.get_all(&parent, key.as_str()).unwrap_or_default();
            if values.is_empty() {
                return Err(forged(&missing));
            }
            for (value, obj) in values {
                if !matches!(value, Value::Object(ObjType::Map)) {
                    return Err(forged("is not a map"));
                }
                out.push(obj);
            }
        }
        Ok(out)
    }

    /// Every value of `obj`'s `at` is an integer, not before the document's `created_at` and
    /// after (`strict`) or not before every entry the change depends on; with
    /// [`Pusher::not_after`] set, also in `0..=not_after`. Else `bad_time`.
    fn check_time(
        &self,
        d: &AutoCommit,
        obj: &ObjId,
        what: &str,
        strict: bool,
    ) -> Result<(), Rejection> {
        let times: Vec<Option<i64>> = d
            .get_all(obj, "at")
            .unwrap_or_default()
            .iter()
            .map(|(v, _)| match v {
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Int(t) => Some(*t),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let sane = !times.is_empty()
            && times.iter().all(|t| {
                t.is_some_and(|t| {
                    self.pusher
                        .not_after
                        .is_none_or(|limit| (0..=limit).contains(&t))
                })
            });
        if !sane {
            return Err(reject(
                BAD_TIME,
                format!("{what} has an `at` that is missing, negative or too far in the future"),
            ));
        }
        if !times
            .iter()
            .flatten()
            .all(|t| after_floor(&self.floor, *t, strict))
        {
            let entries = if strict {
                "not after every entry"
            } else {
                "before an entry"
            };
            return Err(reject(
                BAD_TIME,
                format!(
                    "{what} has an `at` before the document's `created_at` or {entries} the change depends on"
                ),
            ));
        }
        Ok(())
    }

    /// Rule 6: every new entry says the pusher wrote it, in their role, at a sane time.
    pub(super) fn check_new_entries(&self, d: &AutoCommit) -> Result<(), Rejection> {
        const WHAT: &str = "a new log entry";
        for entry in Self::new_maps(d, "log", &self.new_entries, WHAT)? {
            if !all_str_eq(d, &entry, "by", self.pusher.member.as_str()) {
                return Err(reject(
                    FORGED_ENTRY,
                    format!("{WHAT} has a `by` that is not the pusher"),
                ));
            }
            if !all_str_eq(d, &entry, "role", self.pusher.role.as_str()) {
                return Err(reject(
                    FORGED_ENTRY,
                    format!("{WHAT} has a `role` that is not the pusher's role"),
                ));
            }
            self.check_time(d, &entry, WHAT, true)?;
        }
        Ok(())
    }

    /// Rule 8: every new comment says the pusher wrote it, at a sane time.
    pub(super) fn check_new_comments(&self, d: &AutoCommit) -> Result<(), Rejection> {
        const WHAT: &str = "a new comment";
        for comment in Self::new_maps(d, "comments", &self.new_comments, WHAT)? {
            if !all_str_eq(d, &comment, "author", self.pusher.member.as_str()) {
                return Err(reject(
                    FORGED_ENTRY,
                    format!("{WHAT} has an `author` that is not the pusher"),
                ));
            }
            self.check_time(d, &comment, WHAT, false)?;
        }
        Ok(())
    }
}
