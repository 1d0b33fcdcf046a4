//! Untrusted bytes and hostile documents: a peer (or a damaged relay) may send anything. The
//! store must answer with an error or ignore what it cannot use — never panic — and keep
//! serving every other entity. These are the stable mirrors of the fuzz targets in `fuzz/`.

use automerge::{AutoCommit, ObjType, ROOT, transaction::Transactable};
use noaber_core::model::help::NewHelp;
use noaber_core::{EntityId, Error, Kind, ListQuery, Result, Role};
use proptest::prelude::*;

use crate::support::Replica;

/// Every change of a document built directly with Automerge, as a peer would send them.
fn changes_of(doc: &mut AutoCommit) -> Vec<Vec<u8>> {
    doc.get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect()
}

/// A store with one good entity to check it keeps serving.
fn store_with_one() -> Result<(Replica, EntityId)> {
    let r = Replica::new(Role::Resident)?;
    let good = r
        .store
        .create_help(&NewHelp::ask("groceries", "Boodschappen"))?;
    Ok((r, good))
}

fn still_serves(r: &Replica, good: &EntityId) -> Result<()> {
    assert_eq!(r.store.help(good)?.title, "Boodschappen");
    r.store.list(&ListQuery::default())?;
    r.store.add_comment(good, "nog steeds hier")?;
    Ok(())
}

/// Fields of the wrong type, missing fields, entries that are not maps, entries claiming odd
/// authors and times: derivation copes, the entity is listed or skipped, nothing panics.
#[test]
fn documents_with_wrong_shapes_do_not_break_anything() -> Result<()> {
    let (r, good) = store_with_one()?;
    let kinds = ["help", "event", "task", "report", "profile", "bogus"];
    for (i, kind) in kinds.iter().enumerate() {
        let mut doc = AutoCommit::new();
        doc.put(ROOT, "schema", 99_i64).unwrap();
        doc.put(ROOT, "kind", *kind).unwrap();
        doc.put(ROOT, "id", "not-the-id").unwrap();
        doc.put(ROOT, "created_by", 42_i64).unwrap(); // wrong type
        doc.put(ROOT, "created_at", i64::MAX).unwrap();
        doc.put(ROOT, "title", 7_i64).unwrap();
        doc.put(ROOT, "capacity", -5_i64).unwrap();
        doc.put(ROOT, "lat", f64::NAN).unwrap();
        doc.put(ROOT, "rrule", "FREQ=HOURLY").unwrap();
        doc.put(ROOT, "dtstart", "yesterday").unwrap();
        let log = doc.put_object(ROOT, "log", ObjType::Map).unwrap();
        doc.put(&log, "scalar-entry", "x").unwrap();
        let list = doc.put_object(&log, "list-entry", ObjType::List).unwrap();
        doc.insert(&list, 0, 1_i64).unwrap();
        for (n, t) in [
            "respond",
            "match",
            "rsvp",
            "claim",
            "transition",
            "occurrence",
            "me_too",
            "skill_add",
            "cancel",
        ]
        .iter()
        .enumerate()
        {
            let e = doc.put_object(&log, format!("e{n}"), ObjType::Map).unwrap();
            doc.put(&e, "t", *t).unwrap();
            doc.put(&e, "by", "ffffffffffffffffffffffffffffffff")
                .unwrap();
            doc.put(&e, "role", "staff").unwrap();
            doc.put(&e, "at", if n % 2 == 0 { i64::MIN } else { i64::MAX })
                .unwrap();
            doc.put(&e, "helper", 3_i64).unwrap();
            doc.put(&e, "status", "going").unwrap();
            doc.put(&e, "to", "resolved").unwrap();
            doc.put(&e, "date", "2026-02-30").unwrap();
            doc.put(&e, "shift", "").unwrap();
        }
        doc.put_object(ROOT, "comments", ObjType::List).unwrap(); // wrong container type
        doc.commit();
        let id = EntityId::parse(&format!("{:032x}", i + 1))?;
        let batch: Vec<_> = changes_of(&mut doc)
            .into_iter()
            .map(|b| (id.clone(), b))
            .collect();
        // Either applied (and then readable without panic) or refused with a clear error.
        if r.store.apply_remote_changes(&batch).is_ok() {
            if let Ok(k) = r.store.kind_of(&id) {
                let _ = match k {
                    Kind::Help => r.store.help(&id).map(|_| ()),
                    Kind::Event => r.store.event(&id).map(|_| ()),
                    Kind::Task => r.store.task(&id).map(|_| ()),
                    Kind::Report => r.store.report(&id).map(|_| ()),
                    Kind::Profile => r.store.profile(&id).map(|_| ()),
                };
            }
        }
    }
    r.store.rebuild_projections()?;
    still_serves(&r, &good)
}

/// A document claiming a kind whose header is incomplete waits unlisted; it does not fail the
/// batch it came in.
#[test]
fn a_header_less_document_waits() -> Result<()> {
    let (r, good) = store_with_one()?;
    let mut doc = AutoCommit::new();
    doc.put(ROOT, "kind", "help").unwrap();
    doc.commit();
    let id = EntityId::new()?;
    let batch: Vec<_> = changes_of(&mut doc)
        .into_iter()
        .map(|b| (id.clone(), b))
        .collect();
    let report = r.store.apply_remote_changes(&batch)?;
    assert_eq!((report.applied, report.waiting), (1, 1));
    assert!(matches!(r.store.help(&id), Err(Error::NotFound { .. })));
    still_serves(&r, &good)
}

proptest! {
    /// Random bytes never decode as a change: a clear error, nothing stored.
    #[test]
    fn random_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (r, good) = store_with_one().unwrap();
        let id = EntityId::new().unwrap();
        match r.store.apply_remote_changes(&[(id, bytes)]) {
            Ok(report) => prop_assert_eq!(report.applied, 0),
            Err(Error::InvalidInput { field, .. }) => prop_assert_eq!(field, "change"),
            Err(e) => prop_assert!(false, "unexpected error {e:?}"),
        }
        still_serves(&r, &good).unwrap();
    }

    /// Valid changes with flipped bytes: refused or applied, never a panic, and the store goes
    /// on serving.
    #[test]
    fn mutated_changes_never_panic(flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6)) {
        let (src, _) = store_with_one().unwrap();
        let (r, good) = store_with_one().unwrap();
        let mut batch = src.outgoing().unwrap();
        for (pos, x) in &flips {
            let (_, bytes) = &mut batch[0];
            let n = bytes.len();
            bytes[pos % n] ^= x | 1;
        }
        let _ = r.store.apply_remote_changes(&batch);
        still_serves(&r, &good).unwrap();
    }
}

/// Crashers found by fuzzing, replayed: each must be refused with an error, never a panic.
/// `invalid_actor_index.bin` is a small change (actor `07…07`, one `log` entry) with one
/// flipped bit that still decodes but made Automerge 0.12 panic (`InvalidActorIndex`) inside
/// `apply_changes`; found by `mutated_changes_never_panic` and by flipping each bit in turn.
#[test]
fn committed_crashers_are_refused() -> Result<()> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-crashers");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "bin") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (r, good) = store_with_one()?;
        let id = EntityId::new()?;
        match r.store.apply_remote_changes(&[(id, bytes)]) {
            Err(Error::InvalidInput {
                field: "change", ..
            }) => {}
            other => panic!(
                "{}: expected a refused change, got {other:?}",
                path.display()
            ),
        }
        still_serves(&r, &good)?;
        n += 1;
    }
    assert!(n >= 1, "the crashers are in {}", dir.display());
    Ok(())
}
