//! The event, task, report and profile subcommands as a script uses them: ids on stdout, JSON
//! with `--json`, errors on stderr with exit code 1 (2 for a malformed command line).
//!
//! Two-device scenarios run the binary on two stores and carry the changes between them with
//! the core's outbox (`pending_changes` → `apply_remote_changes`), as a relay would.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use noaber_core::Store;
use serde_json::Value;

fn noaber(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_noaber"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("NOABER_STORE")
        .env("NOABER_TZ", "Europe/Amsterdam")
        .output()
        .expect("run noaber")
}

/// Runs a command that must succeed; returns its stdout, trimmed.
fn ok(store: &Path, args: &[&str]) -> String {
    let out = noaber(store, args);
    assert!(
        out.status.success(),
        "`noaber {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// Runs a command with `--json` that must succeed; returns the parsed output.
fn json(store: &Path, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_str(&ok(store, &all)).unwrap()
}

/// Runs a command that must fail with `code`, printing nothing on stdout and `want` on stderr.
fn fails(store: &Path, args: &[&str], code: i32, want: &str) {
    let out = noaber(store, args);
    assert_eq!(out.status.code(), Some(code), "`noaber {}`", args.join(" "));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(want), "`noaber {}`: {err}", args.join(" "));
    assert!(
        out.stdout.is_empty(),
        "`noaber {}` printed to stdout",
        args.join(" ")
    );
}

/// A fresh store folder acting as `role`; returns it with its member id.
fn device(dir: &Path, name: &str, role: &str) -> (PathBuf, String) {
    let store = dir.join(name);
    let me = json(&store, &["whoami", "--role", role, "--household", name]);
    (store, me["member"].as_str().unwrap().to_owned())
}

/// Carries every local change of `from` to `to`, as a relay would.
fn sync(from: &Path, to: &Path) {
    let a = Store::open(from.join("noaber.db")).unwrap();
    let b = Store::open(to.join("noaber.db")).unwrap();
    let batch: Vec<_> = a
        .pending_changes(10_000)
        .unwrap()
        .into_iter()
        .map(|c| (c.entity, c.bytes))
        .collect();
    b.apply_remote_changes(&batch).unwrap();
}

/// The one listed entity of `kind` with this id.
fn listed(store: &Path, kind: &str, id: &str) -> Value {
    let items = json(store, &["list", kind]);
    let items = items.as_array().unwrap();
    items
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("`list {kind}` lacks {id}: {items:?}"))
        .clone()
}

fn members(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().or_else(|| m["member"].as_str()).unwrap())
        .collect()
}

fn codes(store: &Path) -> Vec<String> {
    json(store, &["notices"])
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["code"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Events

const START: &str = "2030-06-01T14:00";
const END: &str = "2030-06-01T18:00";

fn new_event(store: &Path, capacity: &str) -> String {
    ok(
        store,
        &[
            "event",
            "create",
            "--title",
            "Buurtfeest",
            "--place",
            "Buurthuis De Schakel",
            "--start",
            START,
            "--end",
            END,
            "--capacity",
            capacity,
            "--description",
            "met muziek",
            "--lat",
            "52.09",
            "--lon",
            "5.12",
        ],
    )
}

#[test]
fn event_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, me) = device(dir.path(), "org", "organiser");
    let id = new_event(&store, "2");
    assert_eq!(id.len(), 32, "prints the new id: {id}");

    let row = listed(&store, "event", &id);
    assert_eq!(row["title"], "Buurtfeest");
    assert_eq!(row["status"], "upcoming");
    assert_eq!(row["location_label"], "Buurthuis De Schakel");

    assert_eq!(
        ok(&store, &["event", "rsvp", &id, "going"]),
        "going (place 1)"
    );
    let again = json(&store, &["event", "rsvp", &id, "going"]);
    assert_eq!(again["answer"], "going");
    assert_eq!(again["place"], 1);

    let role = ok(
        &store,
        &[
            "event",
            "role",
            &id,
            "--name",
            "bar",
            "--description",
            "tappen",
        ],
    );
    assert_eq!(role.len(), 16, "prints the role id: {role}");
    let shift = ok(
        &store,
        &[
            "event",
            "shift",
            &id,
            "--role",
            &role,
            "--start",
            START,
            "--end",
            "2030-06-01T16:00",
            "--needed",
            "2",
        ],
    );
    assert_eq!(shift.len(), 16, "prints the shift id: {shift}");
    assert_eq!(
        ok(&store, &["event", "signup", &id, &shift]),
        "on the shift"
    );

    let v = json(&store, &["event", "show", &id]);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["status"], "upcoming");
    assert_eq!(v["capacity"], 2);
    assert_eq!(v["description"], "met muziek");
    assert_eq!(members(&v["confirmed"]), [me.as_str()]);
    assert_eq!(v["you"]["answer"], "going");
    assert_eq!(v["roles"][0]["name"], "bar");
    assert_eq!(v["shifts"][0]["id"], shift.as_str());
    assert_eq!(v["shifts"][0]["needed"], 2);
    assert_eq!(members(&v["shifts"][0]["on"]), [me.as_str()]);
    assert_eq!(v["shifts_filled"], 1);

    // People read the same view as lines.
    let text = ok(&store, &["event", "show", &id]);
    assert!(text.contains("title: Buurtfeest"), "{text}");
    assert!(text.contains("starts_at: 2030-06-01 14:00"), "{text}");

    ok(
        &store,
        &[
            "event",
            "edit",
            &id,
            "--title",
            "Zomerfeest",
            "--unlimited",
            "--no-point",
        ],
    );
    ok(&store, &["event", "withdraw", &id, &shift]);
    ok(&store, &["event", "rsvp", &id, "maybe"]);
    let v = json(&store, &["event", "show", &id]);
    assert_eq!(v["title"], "Zomerfeest");
    assert!(v["capacity"].is_null() && v["lat"].is_null());
    assert_eq!(members(&v["shifts"][0]["on"]), Vec::<&str>::new());
    assert_eq!(members(&v["maybe"]), [me.as_str()]);
    assert_eq!(v["you"]["answer"], "maybe");
    assert_eq!(listed(&store, "event", &id)["title"], "Zomerfeest");

    ok(&store, &["event", "cancel", &id, "--reason", "regen"]);
    assert_eq!(listed(&store, "event", &id)["status"], "cancelled");
    let v = json(&store, &["event", "show", &id]);
    assert_eq!(v["status"], "cancelled");
    assert_eq!(v["cancel_reason"], "regen");
    // Acting on a cancelled event is refused, naming the status.
    for args in [
        &["event", "rsvp", &id, "going"][..],
        &["event", "signup", &id, &shift],
        &["event", "edit", &id, "--title", "x"],
        &["event", "role", &id, "--name", "opbouw"],
        &["event", "cancel", &id],
    ] {
        fails(&store, args, 1, "cancelled");
    }
}

#[test]
fn event_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (resident, _) = device(dir.path(), "res", "resident");
    let (store, _) = device(dir.path(), "org", "organiser");
    let base = |start: &'static str, end: &'static str| {
        vec![
            "event", "create", "--title", "Feest", "--place", "Plein", "--start", start, "--end",
            end,
        ]
    };
    // Malformed command lines: clap, exit 2, naming the flag.
    fails(&store, &base("morgen", END), 2, "--start");
    fails(&store, &base(START, "13:00 uur"), 2, "--end");
    fails(
        &store,
        &[&base(START, END)[..], &["--capacity", "veel"]].concat(),
        2,
        "--capacity",
    );
    fails(
        &store,
        &[&base(START, END)[..], &["--lat", "52"]].concat(),
        2,
        "--lon",
    );
    // Values the core refuses: exit 1, naming the field.
    fails(&resident, &base(START, END), 1, "not allowed");
    fails(&store, &base(END, START), 1, "invalid `ends_at`");
    fails(
        &store,
        &[&base(START, END)[..], &["--capacity", "0"]].concat(),
        1,
        "invalid `capacity`",
    );
    let far = &[&base(START, END)[..], &["--lat", "91", "--lon", "5"]].concat();
    fails(&store, far, 1, "invalid `lat`");
    fails(
        &store,
        &[
            "event", "create", "--title", " ", "--place", "P", "--start", START, "--end", END,
        ],
        1,
        "invalid `title`",
    );

    let id = new_event(&store, "10");
    fails(&store, &["event", "edit", &id], 2, "required");
    fails(
        &store,
        &["event", "edit", &id, "--capacity", "3", "--unlimited"],
        2,
        "--unlimited",
    );
    fails(
        &store,
        &["event", "edit", &id, "--end", "2030-05-01"],
        1,
        "invalid `ends_at`",
    );
    fails(&store, &["event", "rsvp", &id, "perhaps"], 2, "perhaps");
    fails(
        &store,
        &["event", "signup", &id, "0123456789abcdef"],
        1,
        "no shift",
    );
    fails(
        &store,
        &["event", "withdraw", &id, "0123456789abcdef"],
        1,
        "no shift",
    );
    fails(
        &store,
        &[
            "event",
            "shift",
            &id,
            "--role",
            "0123456789abcdef",
            "--start",
            START,
            "--end",
            END,
        ],
        1,
        "no role",
    );
    let role = ok(&store, &["event", "role", &id, "--name", "bar"]);
    let shift = &[
        "event", "shift", &id, "--role", &role, "--start", START, "--end", END,
    ];
    fails(
        &store,
        &[&shift[..], &["--needed", "0"]].concat(),
        1,
        "invalid `needed`",
    );
    fails(&store, &["event", "show", "nope"], 2, "invalid `id`");
    fails(
        &store,
        &["event", "show", "0123456789abcdef0123456789abcdef"],
        1,
        "no event",
    );
    // A help request is not an event.
    let help = ok(&store, &["help", "ask", "--title", "Lamp"]);
    fails(&store, &["event", "show", &help], 1, "is a help");
}

#[test]
fn two_devices_race_for_the_last_place() {
    let dir = tempfile::tempdir().unwrap();
    let (org, org_id) = device(dir.path(), "org", "organiser");
    let (res, res_id) = device(dir.path(), "res", "resident");
    let id = new_event(&org, "1");
    sync(&org, &res);
    // Residents may answer but not organise.
    fails(
        &res,
        &["event", "role", &id, "--name", "bar"],
        1,
        "not allowed",
    );
    fails(&res, &["event", "cancel", &id], 1, "not allowed");

    // Both take the only place offline; the organiser's answer is the earlier one.
    assert_eq!(
        ok(&org, &["event", "rsvp", &id, "going"]),
        "going (place 1)"
    );
    assert_eq!(
        ok(&res, &["event", "rsvp", &id, "going"]),
        "going (place 1)"
    );
    sync(&org, &res);
    sync(&res, &org);

    let a = json(&org, &["event", "show", &id]);
    let b = json(&res, &["event", "show", &id]);
    for v in [&a, &b] {
        assert_eq!(members(&v["confirmed"]), [org_id.as_str()]);
        assert_eq!(members(&v["waitlist"]), [res_id.as_str()]);
    }
    assert_eq!(b["you"]["answer"], "waitlisted");
    assert_eq!(b["you"]["position"], 1);
    assert!(
        codes(&res).contains(&"bumped".to_owned()),
        "{:?}",
        codes(&res)
    );
    assert!(codes(&org).is_empty());
    assert_eq!(listed(&res, "event", &id)["detail"]["waitlisted"], 1);

    // The organiser declines: the resident moves up, on both devices.
    ok(&org, &["event", "rsvp", &id, "declined"]);
    sync(&org, &res);
    let b = json(&res, &["event", "show", &id]);
    assert_eq!(members(&b["confirmed"]), [res_id.as_str()]);
    assert_eq!(b["you"]["answer"], "going");
    assert_eq!(
        ok(&res, &["event", "rsvp", &id, "going"]),
        "going (place 1)"
    );

    // A cancel from the organiser reaches the resident, who can no longer answer.
    ok(&org, &["event", "cancel", &id]);
    sync(&org, &res);
    fails(&res, &["event", "rsvp", &id, "maybe"], 1, "cancelled");
    assert!(codes(&res).contains(&"event_cancelled".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// Tasks

/// A weekly task on Mondays from Monday 5 January 2026.
fn new_task(store: &Path) -> String {
    ok(
        store,
        &[
            "task",
            "create",
            "--title",
            "Binnentuin water geven",
            "--rrule",
            "FREQ=WEEKLY;BYDAY=MO",
            "--start",
            "2026-01-05",
            "--location",
            "Binnentuin blok C",
        ],
    )
}

#[test]
fn task_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, me) = device(dir.path(), "res", "resident");
    let id = new_task(&store);
    assert_eq!(id.len(), 32, "prints the new id: {id}");
    let row = listed(&store, "task", &id);
    assert_eq!(row["title"], "Binnentuin water geven");
    assert_eq!(
        row["status"], "overdue",
        "unadopted, and its first Monday is long past"
    );

    assert_eq!(ok(&store, &["task", "claim", &id]), "adopter");
    ok(
        &store,
        &[
            "task",
            "record",
            &id,
            "--date",
            "2026-01-05",
            "done",
            "--note",
            "nat",
        ],
    );
    ok(
        &store,
        &["task", "record", &id, "--date", "2026-01-12", "skipped"],
    );
    let item = ok(&store, &["task", "check", &id, "add", "Gieter vullen"]);
    assert_eq!(item.len(), 16, "prints the item id: {item}");
    let other = ok(&store, &["task", "check", &id, "add", "Slang oprollen"]);
    ok(&store, &["task", "check", &id, "remove", &other]);

    let v = json(&store, &["task", "show", &id]);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["adopter"], me.as_str());
    assert_eq!(v["you"]["as"], "adopter");
    assert_eq!(v["status"], "active");
    assert_eq!(v["recurrence"], "FREQ=WEEKLY;BYDAY=MO");
    assert_eq!(v["location_label"], "Binnentuin blok C");
    assert_eq!(v["occurrences"][0]["date"], "2026-01-12");
    assert_eq!(v["occurrences"][0]["outcome"], "skipped");
    assert_eq!(v["occurrences"][1]["note"], "nat");
    assert_eq!(v["next_open"], "2026-01-19");
    assert_eq!(v["due"], "overdue");
    assert_eq!(v["checklist"].as_array().unwrap().len(), 1);
    assert_eq!(v["checklist"][0]["id"], item.as_str());

    ok(&store, &["task", "pause", &id]);
    assert_eq!(listed(&store, "task", &id)["status"], "paused");
    fails(&store, &["task", "pause", &id], 1, "paused");
    ok(&store, &["task", "resume", &id]);

    ok(
        &store,
        &[
            "task",
            "edit",
            &id,
            "--title",
            "Tuin",
            "--rrule",
            "FREQ=DAILY",
            "--no-point",
        ],
    );
    let v = json(&store, &["task", "show", &id]);
    assert_eq!(v["title"], "Tuin");
    assert_eq!(v["recurrence"], "FREQ=DAILY");
    assert_eq!(v["dtstart"], "2026-01-05", "the parts not given are kept");
    assert_eq!(v["tz"], "Europe/Amsterdam");
    // Daily now: today is an occurrence, recorded without --date.
    ok(&store, &["task", "record", &id, "done"]);
    let v = json(&store, &["task", "show", &id]);
    let today = jiff::Zoned::now()
        .with_time_zone(jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap())
        .date()
        .to_string();
    assert_eq!(v["occurrences"][0]["date"], today.as_str());
    assert_eq!(v["due"], "not_due");

    ok(&store, &["task", "release", &id]);
    let v = json(&store, &["task", "show", &id]);
    assert!(v["adopter"].is_null());
    assert_eq!(v["you"]["as"], "none");
    assert_eq!(listed(&store, "task", &id)["status"], "unadopted");
}

#[test]
fn a_one_off_task_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = device(dir.path(), "res", "resident");
    let id = ok(
        &store,
        &[
            "task",
            "create",
            "--title",
            "Bank schilderen",
            "--start",
            "2026-03-01",
        ],
    );
    ok(&store, &["task", "claim", &id]);
    ok(
        &store,
        &["task", "record", &id, "--date", "2026-03-01", "done"],
    );
    assert_eq!(listed(&store, "task", &id)["status"], "finished");
    fails(&store, &["task", "claim", &id], 1, "finished");
    // The creator may still change the schedule.
    ok(&store, &["task", "edit", &id, "--undated"]);
    let v = json(&store, &["task", "show", &id]);
    assert!(v["dtstart"].is_null() && v["recurrence"].is_null());
}

#[test]
fn task_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = device(dir.path(), "res", "resident");
    let create =
        |more: &[&'static str]| [&["task", "create", "--title", "Tuin"][..], more].concat();
    fails(&store, &create(&["--rrule", "FREQ=WEEKLY"]), 2, "--start");
    fails(&store, &create(&["--pledges", "lots"]), 2, "--pledges");
    fails(
        &store,
        &create(&["--rrule", "FREQ=HOURLY", "--start", "2026-01-01"]),
        1,
        "invalid `recurrence`",
    );
    fails(
        &store,
        &create(&["--start", "1 maart"]),
        1,
        "invalid `dtstart`",
    );
    fails(
        &store,
        &create(&["--tz", "Mars/Olympus"]),
        1,
        "invalid `tz`",
    );
    fails(
        &store,
        &create(&["--pledges", "0"]),
        1,
        "invalid `pledge_target`",
    );
    fails(
        &store,
        &["task", "create", "--title", ""],
        1,
        "invalid `title`",
    );

    let id = new_task(&store);
    fails(&store, &["task", "edit", &id], 2, "required");
    fails(
        &store,
        &["task", "edit", &id, "--rrule", "FREQ=DAILY", "--one-off"],
        2,
        "--one-off",
    );
    fails(&store, &["task", "release", &id], 1, "no claim");
    fails(&store, &["task", "pledge", &id], 1, "not in pledge mode");
    fails(
        &store,
        &["task", "record", &id, "--date", "2026-01-05", "gedaan"],
        2,
        "gedaan",
    );
    ok(&store, &["task", "claim", &id]);
    fails(&store, &["task", "claim", &id], 1, "already yours");
    fails(
        &store,
        &["task", "record", &id, "--date", "2026-01-06", "done"],
        1,
        "invalid `date`",
    );
    fails(
        &store,
        &["task", "record", &id, "--date", "2999-01-07", "done"],
        1,
        "invalid `date`",
    );
    fails(
        &store,
        &["task", "record", &id, "--date", "gisteren", "done"],
        1,
        "invalid `date`",
    );
    ok(
        &store,
        &["task", "record", &id, "--date", "2026-01-05", "done"],
    );
    fails(
        &store,
        &["task", "record", &id, "--date", "2026-01-05", "skipped"],
        1,
        "already recorded",
    );
    fails(
        &store,
        &["task", "check", &id, "add", "  "],
        1,
        "invalid `text`",
    );
    fails(
        &store,
        &["task", "check", &id, "remove", "0123456789abcdef"],
        1,
        "no checklist item",
    );
    fails(&store, &["task", "resume", &id], 1, "not paused");
}

#[test]
fn two_devices_claim_one_task_and_pledge_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, a_id) = device(dir.path(), "a", "resident");
    let (b, b_id) = device(dir.path(), "b", "resident");
    let id = ok(
        &a,
        &[
            "task",
            "create",
            "--title",
            "Trappenhuis vegen",
            "--pledges",
            "2",
            "--start",
            "2026-02-01",
            "--rrule",
            "FREQ=WEEKLY",
        ],
    );
    ok(&a, &["task", "pledge", &id]);
    assert_eq!(listed(&a, "task", &id)["status"], "pledging");
    sync(&a, &b);
    // A second household's pledge meets the target: the task starts.
    ok(&b, &["task", "pledge", &id]);
    assert_ne!(
        listed(&b, "task", &id)["status"],
        "pledging",
        "two households: started"
    );

    // Both claim offline; the earlier claim (a's) wins, b becomes first backup and is told.
    assert_eq!(ok(&a, &["task", "claim", &id]), "adopter");
    assert_eq!(ok(&b, &["task", "claim", &id]), "adopter");
    sync(&a, &b);
    sync(&b, &a);
    for store in [&a, &b] {
        let v = json(store, &["task", "show", &id]);
        assert_eq!(v["adopter"], a_id.as_str());
        assert_eq!(members(&v["backups"]), [b_id.as_str()]);
        assert_eq!(v["households"], 2);
        assert_eq!(v["status"], "active");
    }
    assert_eq!(json(&b, &["task", "show", &id])["you"]["position"], 1);
    assert!(
        codes(&b).contains(&"claim_lost".to_owned()),
        "{:?}",
        codes(&b)
    );

    // The backup may record; a stranger may not.
    ok(&b, &["task", "record", &id, "--date", "2026-02-01", "done"]);
    let (c, _) = device(dir.path(), "c", "resident");
    sync(&a, &c);
    sync(&b, &c);
    fails(
        &c,
        &["task", "record", &id, "--date", "2026-02-08", "done"],
        1,
        "not allowed",
    );
    fails(&c, &["task", "pause", &id], 1, "not allowed");
    fails(&c, &["task", "edit", &id, "--title", "x"], 1, "not allowed");

    // The adopter steps back: the backup takes over.
    ok(&a, &["task", "release", &id]);
    sync(&a, &b);
    assert_eq!(json(&b, &["task", "show", &id])["you"]["as"], "adopter");
    assert!(codes(&b).contains(&"now_adopter".to_owned()));
}

// ---------------------------------------------------------------------------------------------
// Reports

fn new_report(store: &Path) -> String {
    ok(
        store,
        &[
            "report",
            "create",
            "--category",
            "bulky_waste",
            "--description",
            "Matras bij de kelderdeur",
            "--lat",
            "52.0907",
            "--lon",
            "5.1214",
            "--complex",
            "Complex 4",
            "--floor",
            "kelder",
            "--stairwell",
            "portiek 12-20",
            "--severity",
            "high",
        ],
    )
}

#[test]
fn report_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (store, me) = device(dir.path(), "res", "resident");
    let id = new_report(&store);
    assert_eq!(id.len(), 32, "prints the new id: {id}");
    let row = listed(&store, "report", &id);
    assert_eq!(row["title"], "Matras bij de kelderdeur");
    assert_eq!(row["status"], "reported");
    assert_eq!(row["category"], "bulky_waste");

    // The same member, now acting as caretaker, works on it.
    ok(&store, &["whoami", "--role", "caretaker"]);
    for step in ["acknowledge", "plan", "start"] {
        ok(&store, &["report", step, &id]);
    }
    assert_eq!(listed(&store, "report", &id)["status"], "in_progress");
    ok(&store, &["report", "responsible", &id, "Gemeente Utrecht"]);
    ok(
        &store,
        &["report", "response", &id, "Wordt donderdag opgehaald"],
    );
    let photo = format!(
        "{}/../tests/fixtures/photos/camera.jpg",
        env!("CARGO_MANIFEST_DIR")
    );
    let attached = json(&store, &["report", "photo", &id, &photo]);
    let hash = attached[0]["hash"].as_str().unwrap().to_owned();
    assert_eq!(attached[0]["mime"], "image/jpeg");
    assert_eq!(
        (
            attached[0]["width"].as_u64(),
            attached[0]["height"].as_u64()
        ),
        (Some(96), Some(64))
    );
    // `create --photo` (repeatable) attaches on creation; the same picture twice is one photo.
    let with_photo = ok(
        &store,
        &[
            "report",
            "create",
            "--category",
            "lighting",
            "--lat",
            "52.09",
            "--lon",
            "5.12",
            "--photo",
            &photo,
            "--photo",
            &photo,
        ],
    );
    let shown = json(&store, &["report", "show", with_photo.trim()]);
    assert_eq!(shown["photos"].as_array().unwrap().len(), 1);
    assert_eq!(shown["photos"][0]["photo"]["hash"], hash.as_str());
    ok(
        &store,
        &["report", "edit", &id, "--description", "Matras en kast"],
    );
    ok(&store, &["report", "resolve", &id]);

    let v = json(&store, &["report", "show", &id]);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["status"], "resolved");
    assert_eq!(v["reporter"], me.as_str());
    assert_eq!(v["severity"], "high");
    assert_eq!(v["stairwell"], "portiek 12-20");
    assert_eq!(v["description"], "Matras en kast");
    assert_eq!(v["responsible"], "Gemeente Utrecht");
    assert_eq!(v["response"], "Wordt donderdag opgehaald");
    assert_eq!(v["photos"][0]["photo"]["hash"], hash.as_str());
    // The photo is held here without its metadata, and waits in the upload queue.
    let out = store.join("fixed.jpg");
    ok(
        &store,
        &["photo", "fetch", &hash, "--out", out.to_str().unwrap()],
    );
    let bytes = std::fs::read(&out).unwrap();
    assert!(!bytes.windows(12).any(|w| w == b"SN-HOME-4242"));
    assert!(!bytes.windows(3).any(|w| w == b"GPS"));
    let status = json(&store, &["status"]);
    assert_eq!(status["photo_uploads"][0]["hash"], hash.as_str());
    assert_eq!(status["photo_uploads"][0]["state"], "pending");
    assert!(ok(&store, &["status"]).contains("waits for `noaber join`"));
    let steps: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        ["acknowledged", "planned", "in_progress", "resolved"]
    );

    ok(&store, &["report", "responsible", &id, "--clear"]);
    ok(&store, &["whoami", "--role", "resident"]);
    ok(
        &store,
        &["report", "reopen", &id, "--reason", "kast staat er nog"],
    );
    assert_eq!(listed(&store, "report", &id)["status"], "reopened");
    let v = json(&store, &["report", "show", &id]);
    assert!(v["responsible"].is_null());
    assert_eq!(v["timeline"][4]["reason"], "kast staat er nog");

    ok(&store, &["whoami", "--role", "caretaker"]);
    ok(&store, &["report", "resolve", &id]);
    ok(&store, &["report", "confirm", &id]);
    assert_eq!(listed(&store, "report", &id)["status"], "confirmed");
    fails(
        &store,
        &["report", "reject", &id, "--reason", "te laat"],
        1,
        "confirmed",
    );
}

#[test]
fn report_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = device(dir.path(), "res", "resident");
    let create = |more: &[&'static str]| {
        [
            &[
                "report",
                "create",
                "--category",
                "litter",
                "--lat",
                "52.1",
                "--lon",
                "5.1",
            ][..],
            more,
        ]
        .concat()
    };
    fails(
        &store,
        &["report", "create", "--category", "litter", "--lat", "52.1"],
        2,
        "--lon",
    );
    fails(
        &store,
        &[
            "report",
            "create",
            "--category",
            "litter",
            "--lat",
            "noord",
            "--lon",
            "5",
        ],
        2,
        "--lat",
    );
    fails(
        &store,
        &[
            "report",
            "create",
            "--category",
            "fire",
            "--lat",
            "52",
            "--lon",
            "5",
        ],
        1,
        "invalid `category`",
    );
    fails(
        &store,
        &[
            "report",
            "create",
            "--category",
            "litter",
            "--lat",
            "-91",
            "--lon",
            "5",
        ],
        1,
        "invalid `lat`",
    );
    fails(
        &store,
        &create(&["--severity", "meh"]),
        1,
        "invalid `severity`",
    );

    let id = ok(&store, &create(&[]));
    // A resident reports but does not work on or triage reports.
    fails(&store, &["report", "acknowledge", &id], 1, "not allowed");
    fails(
        &store,
        &["report", "reject", &id, "--reason", "nee"],
        1,
        "not allowed",
    );
    fails(&store, &["report", "response", &id, "ok"], 1, "not allowed");
    fails(
        &store,
        &["report", "responsible", &id, "Gemeente"],
        1,
        "not allowed",
    );
    fails(&store, &["report", "me-too", &id], 1, "not allowed");
    fails(&store, &["report", "confirm", &id], 1, "reported");
    fails(&store, &["report", "withdraw-me-too", &id], 1, "no me_too");
    fails(&store, &["report", "reject", &id], 2, "--reason");
    fails(&store, &["report", "responsible", &id], 2, "--clear");
    let not_a_photo = store.join("notes.txt");
    std::fs::write(&not_a_photo, "boodschappenlijst").unwrap();
    fails(
        &store,
        &["report", "photo", &id, not_a_photo.to_str().unwrap()],
        1,
        "invalid `photo`",
    );
    fails(
        &store,
        &["report", "photo", &id, "/no/such/photo.jpg"],
        1,
        "cannot open",
    );
    fails(&store, &["report", "photo", &id], 2, "PATHS");
    // A bad photo on `create` leaves no report behind.
    let before = json(&store, &["list", "report"]).as_array().unwrap().len();
    fails(
        &store,
        &[
            "report",
            "create",
            "--category",
            "litter",
            "--lat",
            "52",
            "--lon",
            "5",
            "--photo",
            not_a_photo.to_str().unwrap(),
        ],
        1,
        "invalid `photo`",
    );
    assert_eq!(
        json(&store, &["list", "report"]).as_array().unwrap().len(),
        before
    );
    ok(&store, &["whoami", "--role", "organiser"]);
    fails(
        &store,
        &["report", "reject", &id, "--reason", " "],
        1,
        "invalid `reason`",
    );
    fails(
        &store,
        &["report", "duplicate", &id, "--of", &id],
        1,
        "invalid `of`",
    );
    fails(
        &store,
        &["report", "duplicate", &id, "--of", "nope"],
        2,
        "invalid `id`",
    );
    fails(
        &store,
        &["report", "refer", &id, "--to", ""],
        1,
        "invalid `to`",
    );
    let other = ok(&store, &create(&[]));
    ok(&store, &["report", "duplicate", &other, "--of", &id]);
    assert_eq!(
        json(&store, &["report", "show", &other])["duplicate_of"],
        id.as_str()
    );
    ok(&store, &["report", "refer", &id, "--to", "Gemeente"]);
    assert_eq!(listed(&store, "report", &id)["status"], "referred");
}

#[test]
fn two_workers_disagree_and_a_neighbour_says_me_too() {
    let dir = tempfile::tempdir().unwrap();
    let (reporter, _) = device(dir.path(), "reporter", "resident");
    let (neighbour, neighbour_id) = device(dir.path(), "neighbour", "resident");
    let (caretaker, _) = device(dir.path(), "caretaker", "caretaker");
    let (organiser, _) = device(dir.path(), "organiser", "organiser");
    let id = new_report(&reporter);
    for other in [&neighbour, &caretaker, &organiser] {
        sync(&reporter, other);
    }

    // Offline: the caretaker resolves, then the organiser rejects; a neighbour says me too.
    ok(&caretaker, &["report", "resolve", &id]);
    ok(
        &organiser,
        &["report", "reject", &id, "--reason", "niet van ons"],
    );
    ok(&neighbour, &["report", "me-too", &id]);
    let all = [&reporter, &neighbour, &caretaker, &organiser];
    for from in all {
        for to in all {
            if from != to {
                sync(from, to);
            }
        }
    }
    for store in all {
        let v = json(store, &["report", "show", &id]);
        assert_eq!(v["status"], "resolved", "the earlier step stands");
        assert_eq!(members(&v["me_too"]), [neighbour_id.as_str()]);
    }
    assert!(codes(&organiser).contains(&"transition_ignored".to_owned()));

    // Only the reporter closes the loop.
    fails(&neighbour, &["report", "confirm", &id], 1, "not allowed");
    ok(&reporter, &["report", "confirm", &id]);
    sync(&reporter, &neighbour);
    ok(&neighbour, &["report", "withdraw-me-too", &id]);
    fails(&neighbour, &["report", "me-too", &id], 1, "confirmed");
}

// ---------------------------------------------------------------------------------------------
// Profiles

#[test]
fn profile_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("res");
    let me = json(
        &store,
        &["whoami", "--name", "Fatima", "--household", "Complex 4"],
    );
    let me = me["member"].as_str().unwrap();
    assert!(json(&store, &["profile", "mine"]).is_null());
    assert_eq!(ok(&store, &["profile", "mine"]), "(no profile yet)");
    fails(
        &store,
        &["profile", "skill", "add", "koken"],
        1,
        "no profile",
    );

    let id = ok(
        &store,
        &[
            "profile",
            "create",
            "--skill",
            "Fietsen repareren",
            "--skill",
            "Turks",
        ],
    );
    assert_eq!(id.len(), 32, "prints the new id: {id}");
    let row = listed(&store, "profile", &id);
    assert_eq!(row["title"], "Fatima", "the name comes from whoami");
    assert_eq!(row["status"], "active");

    ok(&store, &["profile", "skill", "add", "Koken"]);
    ok(&store, &["profile", "skill", "remove", "turks"]);
    ok(&store, &["profile", "skill", "add", "koken", "--id", &id]);
    ok(
        &store,
        &["profile", "edit", "--availability", "doordeweeks 's avonds"],
    );
    ok(
        &store,
        &[
            "profile",
            "edit",
            &id,
            "--name",
            "Fatima B.",
            "--household",
            "",
        ],
    );

    let v = json(&store, &["profile", "show", &id]);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["member"], me);
    assert_eq!(v["display_name"], "Fatima B.");
    assert!(v["household"].is_null());
    assert_eq!(
        v["skills"],
        serde_json::json!(["Fietsen repareren", "Koken"])
    );
    assert_eq!(v["availability"], "doordeweeks 's avonds");
    assert_eq!(json(&store, &["profile", "mine"]), v);
    assert_eq!(listed(&store, "profile", &id)["title"], "Fatima B.");
}

#[test]
fn profile_errors_and_someone_elses_profile() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = device(dir.path(), "a", "resident");
    let (b, _) = device(dir.path(), "b", "organiser");
    // No name given and none set with whoami.
    fails(&a, &["profile", "create"], 1, "invalid `display_name`");
    let id = ok(&a, &["profile", "create", "--name", "Anna"]);
    fails(
        &a,
        &["profile", "create", "--name", "Anna"],
        1,
        "invalid `profile`",
    );
    fails(&a, &["profile", "edit"], 2, "required");
    fails(
        &a,
        &["profile", "edit", "--name", " "],
        1,
        "invalid `display_name`",
    );
    fails(&a, &["profile", "skill", "add", ""], 1, "invalid `skill`");
    fails(
        &a,
        &["profile", "skill", "remove", "zwemmen"],
        1,
        "no skill",
    );
    fails(&a, &["profile", "show", "nope"], 2, "invalid `id`");

    // Another member, even an organiser, cannot edit it.
    sync(&a, &b);
    assert_eq!(json(&b, &["profile", "show", &id])["display_name"], "Anna");
    fails(
        &b,
        &["profile", "edit", &id, "--name", "Bob"],
        1,
        "not allowed",
    );
    fails(
        &b,
        &["profile", "skill", "add", "koken", "--id", &id],
        1,
        "not allowed",
    );
    assert!(json(&b, &["profile", "mine"]).is_null());
}
