//! The `noaber` binary as a script uses it: ids on stdout, JSON with `--json`, errors on stderr
//! with a non-zero exit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::path::Path;
use std::process::{Command, Output};

fn noaber(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_noaber"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("NOABER_STORE")
        .output()
        .expect("run noaber")
}

fn ok(store: &Path, args: &[&str]) -> String {
    let out = noaber(store, args);
    assert!(
        out.status.success(),
        "`noaber {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `args`, expecting clap's usage error (exit code 2, nothing on stdout); returns stderr.
fn usage_error(store: &Path, args: &[&str]) -> String {
    let out = noaber(store, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn ask_then_list_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let id = ok(
        &store,
        &[
            "help",
            "ask",
            "--title",
            "Boodschappen",
            "--category",
            "groceries",
        ],
    );
    let id = id.trim();
    assert_eq!(id.len(), 32, "prints the new id: {id}");

    let json: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--json", "list", "help"])).unwrap();
    let items = json.as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert_eq!(items[0]["title"], "Boodschappen");
    assert_eq!(items[0]["status"], "open");

    let text = ok(&store, &["list", "help"]);
    assert!(text.contains(id) && text.contains("open"));

    let comment = ok(&store, &["comment", "add", id, "ik kan dinsdag"]);
    assert_eq!(comment.trim().len(), 16);
    let found = ok(&store, &["--json", "search", "dinsdag"]);
    assert!(found.contains(id));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--json", "help", "show", id])).unwrap();
    assert_eq!(shown["status"], "open");
}

#[test]
fn errors_go_to_stderr_with_a_failure_code() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let cases: &[(&[&str], &str)] = &[
        (
            &["help", "ask", "--title", "x", "--category", "weapons"],
            "invalid `category`",
        ),
        (&["help", "ask", "--title", "   "], "invalid `title`"),
        (
            &["help", "show", "0123456789abcdef0123456789abcdef"],
            "no help",
        ),
        (&["list", "all", "--bbox", "1,2,3"], "invalid `bbox`"),
    ];
    for (args, want) in cases {
        let out = noaber(&store, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
    // A malformed command line is clap's exit code 2: a missing flag, a malformed id, an
    // unknown kind.
    assert_eq!(noaber(&store, &["help", "ask"]).status.code(), Some(2));
    let cases: &[(&[&str], &str)] = &[
        (&["help", "show", "not-an-id"], "invalid `id`"),
        (&["list", "bikes"], "invalid value 'bikes' for '<KIND>'"),
    ];
    for (args, want) in cases {
        let err = usage_error(&store, args);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_malformed_id_is_a_usage_error_naming_the_argument() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let id = "0123456789abcdef0123456789abcdef";
    let cases: &[(&[&str], &str)] = &[
        (&["help", "done", "nope"], "for '<ID>'"),
        (&["comment", "list", "0123"], "for '<ID>'"),
        (
            &["report", "duplicate", id, "--of", "nope"],
            "for '--of <OF>'",
        ),
        (
            &["help", "match", id, "--helper", "nope"],
            "for '--helper <HELPER>'",
        ),
        (&["share", id, "ABCDEF"], "for '<MEMBER>'"),
        (
            &[
                "join",
                "http://localhost:1",
                "code",
                "--name",
                "x",
                "--member",
                "x",
            ],
            "for '--member <MEMBER>'",
        ),
    ];
    for (args, want) in cases {
        let err = usage_error(&store, args);
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(err.contains("32 lowercase hex digits"), "{args:?}: {err}");
    }
}

#[test]
fn help_lists_the_kinds_and_roles() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let list = ok(&store, &["list", "--help"]);
    assert!(
        list.contains("[possible values: all, help, event, task, report, profile]"),
        "{list}"
    );
    let whoami = ok(&store, &["whoami", "--help"]);
    assert!(
        whoami.contains("[possible values: resident, caretaker, organiser, staff]"),
        "{whoami}"
    );
    // The values parse as before.
    ok(&store, &["whoami", "--role", "organiser"]);
    let err = usage_error(&store, &["whoami", "--role", "mayor"]);
    assert!(
        err.contains("invalid value 'mayor' for '--role <ROLE>'"),
        "{err}"
    );
}

#[test]
fn a_latitude_without_a_longitude_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let id = "0123456789abcdef0123456789abcdef";
    let event = [
        "event",
        "create",
        "--title",
        "x",
        "--place",
        "y",
        "--start",
        "2026-12-01",
        "--end",
        "2026-12-02",
    ];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        ([&event[..], &["--lat", "52.1"]].concat(), "--lon"),
        ([&event[..], &["--lon", "5.1"]].concat(), "--lat"),
        (
            vec!["task", "create", "--title", "x", "--lat", "-52.1"],
            "--lon",
        ),
        (vec!["event", "edit", id, "--lat", "52.1"], "--lon"),
        (vec!["task", "edit", id, "--lon", "5.1"], "--lat"),
    ];
    for (args, want) in &cases {
        let err = usage_error(&store, args);
        assert!(
            err.contains("required") && err.contains(want),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn a_cancelled_request_cannot_be_marked_done() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let id = ok(&store, &["help", "ask", "--title", "Lamp"]);
    ok(
        &store,
        &["help", "cancel", id.trim(), "--reason", "zelf gedaan"],
    );
    let out = noaber(&store, &["help", "done", id.trim()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cancelled"));
}

#[test]
fn a_restricted_request_is_shared_by_its_creator() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("buurt");
    let id = ok(
        &store,
        &[
            "help",
            "ask",
            "--title",
            "Hulp met een brief",
            "--category",
            "paperwork",
            "--audience",
            "participants",
        ],
    );
    let id = id.trim();
    let readers: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--json", "readers", id])).unwrap();
    assert_eq!(readers["audience"], "participants");
    assert_eq!(readers["members"].as_array().unwrap().len(), 1);

    let helper = "0123456789abcdef0123456789abcdef";
    ok(&store, &["share", id, helper]);
    let readers: serde_json::Value =
        serde_json::from_str(&ok(&store, &["--json", "readers", id])).unwrap();
    assert!(
        readers["members"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m == helper)
    );

    // A request for the whole buurt needs no sharing; an unknown audience is refused.
    let open = ok(&store, &["help", "ask", "--title", "Boodschappen"]);
    let out = noaber(&store, &["share", open.trim(), helper]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid `audience`"));
    let out = noaber(
        &store,
        &["help", "ask", "--title", "x", "--audience", "everyone"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown audience `everyone`"));
}
