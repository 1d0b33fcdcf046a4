//! (being written)
use crate::error::{Error, Result};
use crate::model::Projection;
use automerge::ReadDoc;

pub(crate) struct View;

pub(crate) fn derive(_doc: &impl ReadDoc) -> Result<View> {
    Err(Error::Other("not yet".into()))
}

pub(crate) fn project(_v: &View) -> Projection {
    unreachable!("stub")
}
