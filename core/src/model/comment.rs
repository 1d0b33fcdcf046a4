//! Comments, on every kind of entity.
//!
//! # Document
//!
//! Root `comments` (created with the document) maps a fresh random comment id to
//! `{author, at, body: Text, edited_at?, withdrawn?}`.
//!
//! # Rules
//!
//! - Append-only: a comment is never deleted from the document; withdrawing sets `withdrawn`
//!   and the projection shows it without text.
//! - Only the author edits or withdraws their own comment (checked here, and by the relay).
//!   The body is `Text`, so two devices of the same author editing offline merge.
//! - Withdraw wins over a concurrent edit: `withdrawn` is only ever set to `true`, so once any
//!   device has withdrawn, the merged comment is withdrawn.

use automerge::{AutoCommit, ObjType, ROOT, ReadDoc, ValueRef, transaction::Transactable};

use crate::doc;
use crate::error::{Error, Result};
use crate::ids::{MemberId, new_entry_id};
use crate::model::{CommentRow, Ctx};

/// Longest comment, in characters.
pub const MAX_COMMENT: usize = 5_000;

/// Every comment of a document, oldest first by `(at, id)`.
pub(crate) fn rows(d: &impl ReadDoc) -> Vec<CommentRow> {
    let Some(map) = doc::get_obj(d, &ROOT, "comments", ObjType::Map) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in d.map_range(&map, ..) {
        let ValueRef::Object(ObjType::Map) = item.value else {
            continue;
        };
        let obj = item.id();
        let (Some(author), Some(at)) =
            (doc::get_str(d, &obj, "author"), doc::get_i64(d, &obj, "at"))
        else {
            continue;
        };
        let withdrawn = doc::get_bool(d, &obj, "withdrawn").unwrap_or(false);
        out.push(CommentRow {
            id: item.key.to_string(),
            author: MemberId::from_doc(author),
            at,
            body: if withdrawn {
                String::new()
            } else {
                doc::get_text(d, &obj, "body").unwrap_or_default()
            },
            edited_at: doc::get_i64(d, &obj, "edited_at"),
            withdrawn,
        });
    }
    out.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    out
}

fn find(d: &AutoCommit, comment: &str) -> Result<automerge::ObjId> {
    doc::get_obj(d, &ROOT, "comments", ObjType::Map)
        .and_then(|map| doc::get_obj(d, &map, comment, ObjType::Map))
        .ok_or_else(|| Error::not_found("comment", comment))
}

pub(crate) fn add(d: &mut AutoCommit, ctx: &Ctx, body: &str) -> Result<String> {
    let body = doc::require_text("body", body, MAX_COMMENT)?;
    let map = doc::get_obj(d, &ROOT, "comments", ObjType::Map)
        .ok_or_else(|| Error::Other("document has no `comments`".into()))?;
    let id = new_entry_id()?;
    let c = d.put_object(&map, id.as_str(), ObjType::Map)?;
    doc::put(d, &c, "author", ctx.member.as_str())?;
    let at = doc::comment_at(d, ctx.now);
    doc::put(d, &c, "at", at)?;
    doc::set_text(d, &c, "body", &body)?;
    Ok(id)
}

fn own(d: &AutoCommit, ctx: &Ctx, comment: &str) -> Result<automerge::ObjId> {
    let c = find(d, comment)?;
    if doc::get_str(d, &c, "author").as_deref() != Some(ctx.member.as_str()) {
        return Err(Error::not_allowed("only the author may change a comment"));
    }
    if doc::get_bool(d, &c, "withdrawn").unwrap_or(false) {
        return Err(Error::InvalidTransition {
            kind: "comment",
            action: "change",
            status: "withdrawn".into(),
        });
    }
    Ok(c)
}

pub(crate) fn edit(d: &mut AutoCommit, ctx: &Ctx, comment: &str, body: &str) -> Result<()> {
    let body = doc::require_text("body", body, MAX_COMMENT)?;
    let c = own(d, ctx, comment)?;
    doc::set_text(d, &c, "body", &body)?;
    doc::put(d, &c, "edited_at", ctx.now)?;
    Ok(())
}

pub(crate) fn withdraw(d: &mut AutoCommit, ctx: &Ctx, comment: &str) -> Result<()> {
    let c = own(d, ctx, comment)?;
    doc::put(d, &c, "withdrawn", true)?;
    Ok(())
}
