//! Finding what a change touches: the header keys that never change, what the document held
//! before the change, and the location (keys from the root) of every operation and patch.

use std::collections::{HashMap, HashSet};

use automerge::legacy::{Key, ObjectId, Op, OpType};
use automerge::{
    AutoCommit, ObjId, ObjType, Patch, PatchAction, Prop, ROOT, ReadDoc, ScalarValue, Value,
};

use crate::doc;
use crate::ids::EntityId;

use super::{BAD_CHANGE, Rejection, WRONG_DOCUMENT, reject};

/// The keys whose values never change after creation (rule 5).
pub(super) const HEADER: [&str; 9] = [
    "schema",
    "audience",
    "kind",
    "id",
    "created_by",
    "created_role",
    "created_at",
    "log",
    "comments",
];

/// What the document held before the change, as far as the rules need it.
pub(super) struct Before {
    /// `None`: the document is new (the change must create it).
    pub(super) header: Option<doc::Header>,
    /// Keys of `log`.
    pub(super) entries: HashSet<String>,
    /// Keys of `comments`, with each comment's author.
    pub(super) comments: HashMap<String, Option<String>>,
    /// Root keys holding a container (map, list, text).
    pub(super) containers: HashSet<String>,
}

impl Before {
    pub(super) fn read(d: &AutoCommit, entity: &EntityId) -> Result<Before, Rejection> {
        let header = doc::header(d).ok();
        if header.as_ref().is_some_and(|h| h.id != entity.as_str()) {
            return Err(reject(
                WRONG_DOCUMENT,
                "the document's `id` is not the entity the change was pushed for",
            ));
        }
        let entries = doc::get_obj(d, &ROOT, "log", ObjType::Map)
            .map(|log| d.keys(&log).collect())
            .unwrap_or_default();
        let comments = doc::get_obj(d, &ROOT, "comments", ObjType::Map)
            .map(|map| {
                d.keys(&map)
                    .map(|key| {
                        let author = doc::get_obj(d, &map, &key, ObjType::Map)
                            .and_then(|c| doc::get_str(d, &c, "author"));
                        (key, author)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let containers = d
            .keys(&ROOT)
            .filter(|k| matches!(d.get(&ROOT, k.as_str()), Ok(Some((Value::Object(_), _)))))
            .collect();
        Ok(Before {
            header,
            entries,
            comments,
            containers,
        })
    }
}

/// One step of a location: a map key, or a position in a list or text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index,
}

impl From<&Prop> for Seg {
    fn from(p: &Prop) -> Self {
        match p {
            Prop::Map(k) => Seg::Key(k.clone()),
            Prop::Seq(_) => Seg::Index,
        }
    }
}

/// What a write does at its location.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Act {
    Put(ScalarValue),
    Make,
    Delete,
    /// A conflict flagged at the location (a diff only).
    Conflict,
    /// Anything else: text splices, increments, marks.
    Other,
}

/// One write: where (keys from the root, ending with the key written) and what.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Touch {
    pub(super) path: Vec<Seg>,
    pub(super) act: Act,
}

/// Locates one operation of the change in the document it was applied to.
pub(super) fn locate_op(
    d: &AutoCommit,
    op: &Op,
    paths: &mut HashMap<String, Vec<Seg>>,
) -> Result<Touch, Rejection> {
    let mut path = match &op.obj {
        ObjectId::Root => Vec::new(),
        ObjectId::Id(id) => {
            let name = format!("{}@{}", id.0, id.1.to_hex_string());
            match paths.get(&name) {
                Some(p) => p.clone(),
                None => {
                    let unknown = || {
                        reject(
                            BAD_CHANGE,
                            "the change writes to an object the document does not have",
                        )
                    };
                    // `import_obj` resolves "counter@actor" to the document's object id (with
                    // its internal actor index); automerge is pinned at =0.12.0 for this.
                    let obj: ObjId = d.import_obj(&name).map_err(|_| unknown())?;
                    let p: Vec<Seg> = d
                        .parents(&obj)
                        .map_err(|_| unknown())?
                        .path()
                        .iter()
                        .map(|(_, prop)| Seg::from(prop))
                        .collect();
                    paths.insert(name, p.clone());
                    p
                }
            }
        }
    };
    path.push(match &op.key {
        Key::Map(k) => Seg::Key(k.to_string()),
        Key::Seq(_) => Seg::Index,
    });
    let act = match &op.action {
        OpType::Put(v) => Act::Put(v.clone()),
        OpType::Make(_) => Act::Make,
        OpType::Delete => Act::Delete,
        _ => Act::Other,
    };
    Ok(Touch { path, act })
}

/// Locates one patch of the diff.
pub(super) fn locate_patch(patch: &Patch) -> Touch {
    let mut path: Vec<Seg> = patch.path.iter().map(|(_, p)| Seg::from(p)).collect();
    let act = match &patch.action {
        PatchAction::PutMap { key, value, .. } => {
            path.push(Seg::Key(key.clone()));
            match &value.0 {
                Value::Object(_) => Act::Make,
                Value::Scalar(s) => Act::Put(s.clone().into_owned()),
            }
        }
        PatchAction::DeleteMap { key } => {
            path.push(Seg::Key(key.clone()));
            Act::Delete
        }
        PatchAction::Conflict { prop } => {
            path.push(Seg::from(prop));
            Act::Conflict
        }
        PatchAction::Increment { prop, .. } => {
            path.push(Seg::from(prop));
            Act::Other
        }
        _ => {
            path.push(Seg::Index);
            Act::Other
        }
    };
    Touch { path, act }
}
