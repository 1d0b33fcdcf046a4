//! A process killed in the middle of writing (SIGKILL, no chance to clean up) loses nothing it
//! had committed and leaves a store whose projections, outbox and documents agree.
//!
//! The test runs itself as a child process (`NOABER_CRASH_CHILD` set) that writes entities,
//! comments and edits as fast as it can and prints each id after its commit; the parent reads
//! some lines, kills the child wherever it is, and checks the store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;

use noaber_core::model::help::NewHelp;
use noaber_core::{EntityId, ListQuery, ManualClock, Result, Store};

use crate::support::T0;

const CHILD_ENV: &str = "NOABER_CRASH_CHILD";

fn child(path: &str) -> ! {
    let store = Store::open_with_clock(path, Arc::new(ManualClock::new(T0))).unwrap();
    let mut i = 0u64;
    loop {
        let id = store
            .create_help(&NewHelp::ask("odd_jobs", &format!("Klus {i}")))
            .unwrap();
        store.add_comment(&id, "wie kan er helpen?").unwrap();
        // Never the empty body it already has: an edit that changes nothing commits nothing,
        // and every reported entity must have exactly three changes.
        store
            .edit_help(&id, None, Some(&"x".repeat((i % 200) as usize + 1)))
            .unwrap();
        println!("wrote {id}");
        i += 1;
    }
}

#[test]
fn killed_mid_write_loses_nothing_committed() -> Result<()> {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("noaber.db");
    let mut committed: Vec<EntityId> = Vec::new();
    for round in 0..3 {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash::killed_mid_write_loses_nothing_committed",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let out = proc.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let want = 50 + round * 37;
        let mut seen = 0;
        while seen < want {
            let Some(line) = lines.next() else { break };
            if let Some(id) = line.unwrap().strip_prefix("wrote ") {
                committed.push(EntityId::parse(id.trim()).unwrap());
                seen += 1;
            }
        }
        proc.kill().unwrap(); // SIGKILL, wherever it is
        proc.wait().unwrap();
        assert_eq!(seen, want, "the child wrote as asked");
    }

    let store = Store::open_with_clock(&path, Arc::new(ManualClock::new(T0)))?;
    // Everything reported as committed is there, with its comment and edit.
    for id in &committed {
        let v = store.help(id)?;
        assert!(v.title.starts_with("Klus "));
        assert_eq!(store.comments(id)?.len(), 1);
    }
    // Projections, documents and outbox agree: one row per document, three changes per
    // complete entity (an entity the kill interrupted has one or two), rebuild changes nothing.
    // The child runs ahead of what the parent has read (its lines wait in the pipe until the
    // kill lands), so the store may hold more complete entities than `committed`; at most one
    // per kill is incomplete.
    let mut all = Vec::new();
    let mut q = ListQuery {
        limit: 500,
        ..Default::default()
    };
    loop {
        let page = store.list(&q)?;
        all.extend(page.items);
        match page.next {
            Some(n) => q.after = Some(n),
            None => break,
        }
    }
    assert!(all.len() >= committed.len());
    let mut incomplete = 0u64;
    for item in &all {
        if store.comments(&EntityId::parse(&item.id)?)?.is_empty() {
            incomplete += 1;
        }
    }
    assert!(
        incomplete <= 3,
        "{incomplete} entities without their comment"
    );
    let pending = store.pending_count()?;
    // Each entity is one to three changes, and every reported one has all three.
    assert!(pending >= 3 * committed.len() as u64 && pending <= 3 * all.len() as u64);
    assert!(
        pending >= 3 * (all.len() as u64 - incomplete) - 3,
        "{pending} changes pending for {} entities, {incomplete} without their comment",
        all.len()
    );
    let before = store.projection_dump()?;
    store.rebuild_projections()?;
    assert_eq!(store.projection_dump()?, before);
    // And the store is writable again.
    store.create_help(&NewHelp::ask("other", "Na de crash"))?;
    Ok(())
}
