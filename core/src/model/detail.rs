//! The kind-specific figures of a list row: one typed [`Detail`] per kind, derived by each
//! kind's `project` and stored in `entities.detail`.
//!
//! # Stored format (version 1)
//!
//! One JSON object: `"v"` (the format version, `1`), `"kind"` (the kind's stored name, as
//! [`Kind::as_str`]) and the variant's fields under their snake_case names; absent values are
//! written as `null` (a reader takes a missing optional field as absent), counts are integers,
//! and any other field is refused. For example
//! `{"v":1,"kind":"event","capacity":20,"going":3,"waitlisted":0,"maybe":1,"shifts_needed":4,"shifts_filled":2}`.
//! [`Detail`]'s fields are the list; `core/tests/golden/detail_v1.json` holds stored rows of
//! every kind, and a test writes and reads them back byte for byte, so the format cannot drift
//! without a new version.
//!
//! A detail is derived data: when its format changes, bump [`DETAIL_VERSION`] (rows of the old
//! version are then unreadable by design) and [`crate::store`] re-derives every row the first
//! time a store is opened by the new code (its `projection_version` setting), so no migration
//! has to rewrite JSON in SQL and a list never meets a row of another version.
//!
//! [`Kind::as_str`]: crate::kind::Kind::as_str

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{Error, Result};
use crate::ids::MemberId;
use crate::kind::Kind;

/// The stored format's version, written as `"v"`.
pub const DETAIL_VERSION: u32 = 1;

/// What a list row shows beyond the common columns, by kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Detail {
    /// A help request or offer.
    Help {
        /// `ask` or `offer`.
        mode: String,
        /// `low`, `normal`, `high`.
        urgency: String,
        /// Location precision: `complex`, `stairwell`, `street`, `buurt`.
        precision: String,
        /// The matched helper, if any.
        #[serde(deserialize_with = "stored_member")]
        helper: Option<MemberId>,
        /// Active responses.
        responses: i64,
    },
    /// A buurt event.
    Event {
        /// Capacity, if limited.
        capacity: Option<i64>,
        /// Confirmed "going".
        going: i64,
        /// Waitlisted.
        waitlisted: i64,
        /// "Maybe".
        maybe: i64,
        /// Volunteers needed over all shifts.
        shifts_needed: i64,
        /// Volunteer places filled (capped per shift at its need).
        shifts_filled: i64,
    },
    /// An adoptable task.
    Task {
        /// Current adopter.
        #[serde(deserialize_with = "stored_member")]
        adopter: Option<MemberId>,
        /// Number of backups.
        backups: i64,
        /// Distinct pledging households.
        pledges: i64,
        /// Households needed before the task becomes active (pledge mode).
        pledge_target: Option<i64>,
        /// Whether paused.
        paused: bool,
        /// The oldest open occurrence (`YYYY-MM-DD`), if the task recurs and is not finished.
        next_open: Option<String>,
        /// The recurrence rule text.
        recurrence: Option<String>,
    },
    /// A report of a neglected environment.
    Report {
        /// `low`, `normal`, `high`, `urgent`.
        severity: String,
        /// "Me too" count (distinct members).
        me_too: i64,
        /// The party responsible, if set.
        responsible: Option<String>,
        /// Number of photo references.
        photos: i64,
    },
    /// A member's profile.
    Profile {
        /// Display name.
        display_name: String,
        /// Household / complex label.
        household: Option<String>,
    },
}

/// A member id read back from a row this store wrote: written from a document, where ids
/// are compared, never trusted (see `MemberId::from_doc`), so it is not re-checked here.
fn stored_member<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<MemberId>, D::Error> {
    Ok(Option::<String>::deserialize(d)?.map(MemberId::from_doc))
}

/// The stored row: the version beside the tagged detail.
#[derive(Serialize)]
struct Stored<'a> {
    v: u32,
    #[serde(flatten)]
    detail: &'a Detail,
}

impl Detail {
    /// The kind this detail belongs to.
    pub fn kind(&self) -> Kind {
        match self {
            Detail::Help { .. } => Kind::Help,
            Detail::Event { .. } => Kind::Event,
            Detail::Task { .. } => Kind::Task,
            Detail::Report { .. } => Kind::Report,
            Detail::Profile { .. } => Kind::Profile,
        }
    }

    /// The stored JSON (see the module docs).
    ///
    /// # Errors
    ///
    /// [`Error::Other`] only if serde_json fails to write a map, which it does not for these
    /// types.
    pub(crate) fn to_stored(&self) -> Result<String> {
        serde_json::to_string(&Stored {
            v: DETAIL_VERSION,
            detail: self,
        })
        .map_err(|e| Error::Other(format!("cannot write a detail: {e}")))
    }

    /// Reads a stored row.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`] for text that is not a version-[`DETAIL_VERSION`] detail: another
    /// version, an unknown kind or field, a missing field, a wrong type. The store re-derives
    /// rows when the version changes, so this means a damaged row; `rebuild_projections`
    /// repairs it from the documents.
    pub fn from_stored(text: &str) -> Result<Detail> {
        let bad = |why: String| Error::Storage(format!("unreadable list detail: {why}"));
        let mut value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        let map = value
            .as_object_mut()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        match map.remove("v").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(DETAIL_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "version {v}, this code reads {DETAIL_VERSION}"
                )));
            }
            None => return Err(bad("no version".into())),
        }
        serde_json::from_value(value).map_err(|e| bad(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One stored row of each kind, as version 1 writes them (`core/tests/golden/detail_v1.json`,
    /// one row per line).
    const GOLDEN: &str = include_str!("../../tests/golden/detail_v1.json");

    fn examples() -> Vec<Detail> {
        let m = MemberId::parse("0123456789abcdef0123456789abcdef").unwrap();
        vec![
            Detail::Help {
                mode: "ask".into(),
                urgency: "high".into(),
                precision: "stairwell".into(),
                helper: Some(m.clone()),
                responses: 2,
            },
            Detail::Help {
                mode: "offer".into(),
                urgency: "normal".into(),
                precision: "buurt".into(),
                helper: None,
                responses: 0,
            },
            Detail::Event {
                capacity: Some(20),
                going: 3,
                waitlisted: 0,
                maybe: 1,
                shifts_needed: 4,
                shifts_filled: 2,
            },
            Detail::Event {
                capacity: None,
                going: 0,
                waitlisted: 0,
                maybe: 0,
                shifts_needed: 0,
                shifts_filled: 0,
            },
            Detail::Task {
                adopter: Some(m),
                backups: 1,
                pledges: 3,
                pledge_target: Some(5),
                paused: false,
                next_open: Some("2026-12-07".into()),
                recurrence: Some("FREQ=WEEKLY;BYDAY=MO".into()),
            },
            Detail::Report {
                severity: "urgent".into(),
                me_too: 4,
                responsible: Some("Gemeente".into()),
                photos: 2,
            },
            Detail::Profile {
                display_name: "Ans \"de buurvrouw\" Jansen".into(),
                household: None,
            },
        ]
    }

    /// The stored format is frozen: writing gives the golden rows byte for byte, and the
    /// golden rows read back to the same values. A change to a field breaks this test: bump
    /// `DETAIL_VERSION` and add a golden file for the new version.
    #[test]
    fn the_stored_format_matches_the_golden_rows() {
        let golden: Vec<&str> = GOLDEN.lines().filter(|l| !l.is_empty()).collect();
        let examples = examples();
        assert_eq!(golden.len(), examples.len());
        for (row, detail) in golden.iter().zip(&examples) {
            assert_eq!(&detail.to_stored().unwrap(), row);
            assert_eq!(&Detail::from_stored(row).unwrap(), detail);
        }
        let kinds: std::collections::BTreeSet<Kind> = examples.iter().map(Detail::kind).collect();
        assert_eq!(kinds.len(), Kind::ALL.len(), "every kind has a golden row");
    }

    #[test]
    fn the_tag_is_the_kinds_stored_name() {
        for d in examples() {
            let v: serde_json::Value = serde_json::from_str(&d.to_stored().unwrap()).unwrap();
            assert_eq!(v["kind"], d.kind().as_str());
        }
    }

    /// Anything else is a clear storage error, never a panic or a default.
    #[test]
    fn other_text_is_refused() {
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            "{\"kind\":\"report\",\"severity\":\"low\",\"me_too\":0,\"responsible\":null,\"photos\":0}",
            "{\"v\":2,\"kind\":\"report\",\"severity\":\"low\",\"me_too\":0,\"responsible\":null,\"photos\":0}",
            "{\"v\":\"1\",\"kind\":\"report\",\"severity\":\"low\",\"me_too\":0,\"responsible\":null,\"photos\":0}",
            "{\"v\":1,\"kind\":\"poll\"}",
            "{\"v\":1,\"kind\":\"report\",\"me_too\":0,\"responsible\":null,\"photos\":0}",
            "{\"v\":1,\"kind\":\"report\",\"severity\":\"low\",\"me_too\":\"0\",\"responsible\":null,\"photos\":0}",
            "{\"v\":1,\"kind\":\"report\",\"severity\":\"low\",\"me_too\":0,\"responsible\":null,\"photos\":0,\"extra\":1}",
            "{\"mode\":\"ask\",\"urgency\":\"low\",\"precision\":\"buurt\",\"helper\":null,\"responses\":0}",
        ] {
            match Detail::from_stored(bad) {
                Err(Error::Storage(msg)) => {
                    assert!(msg.starts_with("unreadable list detail"), "{msg}")
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
