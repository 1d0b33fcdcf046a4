//! Golden documents: changes written by schema version 1 of each kind, frozen in
//! `tests/golden/*.json` with the view they must derive. Old app versions stay in the field, so
//! every later version must still read these documents the same way. A failure here means a
//! change to the stored format or to a derivation rule: if intended, add a new golden file
//! rather than editing an old one.
//!
//! To (re)create a missing file: `NOABER_BLESS=1 cargo test -p noaber-core --test it golden`.

use std::path::PathBuf;

use noaber_core::model::help::NewHelp;
use noaber_core::{EntityId, Result, Role, Store};
use serde_json::{Value, json};

use crate::support::{Replica, T0, sync_all};

fn path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.json"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Checks (or with `NOABER_BLESS=1` writes) one golden file. `make` builds the scenario on
/// fresh replicas and returns the entity and every replica; `view` derives the view to freeze.
fn golden(
    name: &str,
    make: impl FnOnce() -> Result<(EntityId, Vec<Replica>)>,
    view: impl Fn(&Store, &EntityId) -> Result<Value>,
) -> Result<()> {
    let file = path(name);
    if std::env::var_os("NOABER_BLESS").is_some() && !file.exists() {
        let (id, replicas) = make()?;
        let refs: Vec<&Replica> = replicas.iter().collect();
        sync_all(&refs)?;
        let mut changes = Vec::new();
        for r in &replicas {
            changes.extend(
                r.outgoing()?
                    .into_iter()
                    .filter(|(e, _)| e == &id)
                    .map(|(_, b)| hex(&b)),
            );
        }
        let expected = view(&replicas[0].store, &id)?;
        let doc =
            json!({ "schema": 1, "entity": id.as_str(), "changes": changes, "expected": expected });
        std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
    }
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{}: {e} (create it with NOABER_BLESS=1)", file.display()));
    let doc: Value = serde_json::from_str(&text).unwrap();
    let id = EntityId::parse(doc["entity"].as_str().unwrap())?;
    let batch: Vec<_> = doc["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (id.clone(), unhex(c.as_str().unwrap())))
        .collect();
    let fresh = Replica::new(Role::Resident)?;
    fresh.clock.set(T0);
    fresh.store.apply_remote_changes(&batch)?;
    assert_eq!(
        view(&fresh.store, &id)?,
        doc["expected"],
        "{name}: the frozen document derives differently"
    );
    // Applying in reverse order (dependencies last) gives the same result.
    let rev = Replica::new(Role::Resident)?;
    let mut reversed = batch.clone();
    reversed.reverse();
    rev.store.apply_remote_changes(&reversed)?;
    assert_eq!(
        view(&rev.store, &id)?,
        doc["expected"],
        "{name}: order of arrival matters"
    );
    Ok(())
}

#[test]
fn help_request_v1() -> Result<()> {
    golden(
        "help_v1",
        || {
            let req = Replica::new(Role::Resident)?;
            let helper = Replica::new(Role::Resident)?;
            let mut new = NewHelp::ask("transport", "Lift naar de huisarts");
            new.body = "Donderdag om 10 uur, rolstoel past in de kofferbak".into();
            new.urgency = "high".into();
            new.precision = "stairwell".into();
            new.location_label = "Portiek 12–20".into();
            new.window_start = Some(T0);
            new.window_end = Some(T0 + 86_400_000);
            let id = req.store.create_help(&new)?;
            sync_all(&[&req, &helper])?;
            helper.clock.advance(1_000);
            helper.store.respond_help(&id, "Ik rijd je")?;
            sync_all(&[&req, &helper])?;
            req.clock.advance(2_000);
            req.store.match_help(&id, &helper.member())?;
            req.store.add_comment(&id, "Fijn, tot donderdag")?;
            req.store.complete_help(&id)?;
            req.store.thank_help(&id, "Dank je wel!")?;
            Ok((id, vec![req, helper]))
        },
        |s, id| Ok(serde_json::to_value(s.help(id)?).unwrap()),
    )
}

#[test]
fn event_v1() -> Result<()> {
    use noaber_core::model::event::{NewEvent, Rsvp};
    golden(
        "event_v1",
        || {
            let org = Replica::new(Role::Organiser)?;
            let a = Replica::new(Role::Resident)?;
            let b = Replica::new(Role::Resident)?;
            let mut new = NewEvent::new(
                "Buurtbarbecue",
                "Binnentuin De Linde",
                T0 + 86_400_000,
                T0 + 97_200_000,
            );
            new.description = "Neem een stoel mee".into();
            new.capacity = Some(1);
            new.point = Some((52.0907, 5.1214));
            let id = org.store.create_event(&new)?;
            let role = org
                .store
                .add_event_role(&id, "Opbouw", "Tafels en stoelen")?;
            let shift =
                org.store
                    .add_event_shift(&id, &role, T0 + 82_800_000, T0 + 86_400_000, 2)?;
            sync_all(&[&org, &a, &b])?;
            a.clock.advance(1_000);
            a.store.rsvp_event(&id, Rsvp::Going)?;
            b.clock.advance(2_000);
            b.store.rsvp_event(&id, Rsvp::Going)?;
            b.store.signup_shift(&id, &shift)?;
            sync_all(&[&org, &a, &b])?;
            a.clock.advance(5_000);
            a.store.rsvp_event(&id, Rsvp::Declined)?;
            Ok((id, vec![org, a, b]))
        },
        |s, id| Ok(serde_json::to_value(s.event(id)?).unwrap()),
    )
}

#[test]
fn task_v1() -> Result<()> {
    use noaber_core::model::task::{NewTask, Outcome};
    golden(
        "task_v1",
        || {
            let caretaker = Replica::new(Role::Caretaker)?;
            let a = Replica::new(Role::Resident)?;
            let b = Replica::new(Role::Resident)?;
            let mut new = NewTask::recurring(
                "Binnentuin water geven",
                "FREQ=WEEKLY;BYDAY=MO,TH",
                "2026-09-03",
            );
            new.description = "Vooral de moestuinbakken".into();
            new.location_label = "Binnentuin".into();
            let id = caretaker.store.create_task(&new)?;
            caretaker
                .store
                .add_checklist_item(&id, "Gieter vullen bij de kraan")?;
            sync_all(&[&caretaker, &a, &b])?;
            a.clock.advance(1_000);
            a.store.claim_task(&id)?;
            b.clock.advance(500);
            b.store.claim_task(&id)?; // concurrent: b claimed first
            sync_all(&[&caretaker, &a, &b])?;
            b.store
                .record_occurrence(&id, "2026-09-03", Outcome::Done, "flink gegoten")?;
            a.store
                .record_occurrence(&id, "2026-09-07", Outcome::Skipped, "regen")?;
            Ok((id, vec![caretaker, a, b]))
        },
        |s, id| Ok(serde_json::to_value(s.task(id)?).unwrap()),
    )
}

#[test]
fn report_v1() -> Result<()> {
    use noaber_core::model::report::{NewReport, PhotoRef, ReportTransition};
    golden(
        "report_v1",
        || {
            let caretaker = Replica::new(Role::Caretaker)?;
            let resident = Replica::new(Role::Resident)?;
            let neighbour = Replica::new(Role::Resident)?;
            let mut new = NewReport::at("lighting", 52.0907, 5.1214);
            new.description = "Lamp in de kelderbox-gang is kapot".into();
            new.complex = Some("De Linde".into());
            new.floor = Some("kelder".into());
            new.stairwell = Some("B".into());
            new.severity = "high".into();
            let id = resident.store.create_report(&new)?;
            resident.store.attach_photo_ref(
                &id,
                &PhotoRef {
                    hash: "a".repeat(64),
                    mime: "image/jpeg".into(),
                    size: 123_456,
                    width: 1600,
                    height: 1200,
                },
            )?;
            sync_all(&[&caretaker, &resident, &neighbour])?;
            neighbour.store.me_too_report(&id)?;
            caretaker.clock.advance(1_000);
            caretaker
                .store
                .transition_report(&id, ReportTransition::Acknowledge)?;
            caretaker
                .store
                .set_report_responsible(&id, "Woningcorporatie, team onderhoud")?;
            caretaker
                .store
                .transition_report(&id, ReportTransition::Resolve)?;
            caretaker.store.set_report_response(&id, "Lamp vervangen")?;
            sync_all(&[&caretaker, &resident, &neighbour])?;
            resident.clock.advance(10_000);
            resident
                .store
                .transition_report(&id, ReportTransition::Confirm)?;
            Ok((id, vec![resident, caretaker, neighbour]))
        },
        |s, id| Ok(serde_json::to_value(s.report(id)?).unwrap()),
    )
}

#[test]
fn profile_v1() -> Result<()> {
    use noaber_core::model::profile::NewProfile;
    golden(
        "profile_v1",
        || {
            let me = Replica::new(Role::Resident)?;
            let id = me.store.create_profile(&NewProfile {
                display_name: "Ans".into(),
                household: Some("De Linde 12".into()),
                skills: vec!["fietsen repareren".into(), "Nederlandse les".into()],
                availability: "doordeweeks 's avonds".into(),
            })?;
            me.store.remove_skill(&id, "Nederlandse les")?;
            me.store.add_skill(&id, "koken")?;
            Ok((id, vec![me]))
        },
        |s, id| Ok(serde_json::to_value(s.profile(id)?).unwrap()),
    )
}

/// A store written by the release before typed list details (schema 6: per-kind projection
/// tables, untyped `entities.detail`), frozen in `tests/frozen/store_v6.db` by that release's
/// CLI: an organiser's help ask and offer, an event with one RSVP, an adopted weekly task, a
/// report and a profile, with a comment. The current code opens it, migrates, re-derives its
/// list rows into typed details, still reads every document, and writes on.
#[test]
fn a_store_from_the_release_before_typed_details_opens_and_lists() -> Result<()> {
    use noaber_core::model::Detail;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("noaber.db");
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/frozen/store_v6.db"),
        &db,
    )
    .unwrap();
    let store = Store::open(&db)?;
    let rows = store.list(&noaber_core::ListQuery::default())?.items;
    let mut kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["event", "help", "help", "profile", "report", "task"]
    );
    for row in &rows {
        assert_eq!(row.detail.kind(), row.kind, "{}", row.id);
        let id = EntityId::parse(&row.id)?;
        match &row.detail {
            Detail::Help { mode, urgency, .. } if mode == "ask" => {
                assert_eq!(urgency, "high");
                assert_eq!(store.help(&id)?.title, "Boodschappen dinsdag");
                assert_eq!(store.comments(&id)?.len(), 1);
            }
            Detail::Help { mode, .. } => assert_eq!(mode, "offer"),
            Detail::Event {
                capacity, going, ..
            } => assert_eq!((*capacity, *going), (Some(20), 1)),
            Detail::Task {
                adopter,
                next_open,
                recurrence,
                ..
            } => {
                assert!(adopter.is_some());
                assert_eq!(next_open.as_deref(), Some("2027-01-04"));
                assert_eq!(recurrence.as_deref(), Some("FREQ=WEEKLY;BYDAY=MO"));
                assert_eq!(store.task(&id)?.title, "Portiek vegen");
            }
            Detail::Report { severity, .. } => assert_eq!(severity, "urgent"),
            Detail::Profile {
                display_name,
                household,
            } => assert_eq!(
                (display_name.as_str(), household.as_deref()),
                ("Fatima", Some("Complex 4"))
            ),
        }
    }
    // The old change log still pushes, and the store writes on.
    assert_eq!(store.pending_count()?, 9);
    store.create_help(&NewHelp::ask("other", "Na de update"))?;
    assert_eq!(
        store.list(&noaber_core::ListQuery::default())?.items.len(),
        7
    );
    Ok(())
}
