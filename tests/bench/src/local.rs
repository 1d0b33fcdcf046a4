//! `local`: the device store with 10 000 entities of mixed kinds, against a bare SQLite write
//! of the same row in the same run.
//!
//! - write: one local operation, committed with its projection — alternately creating a help
//!   request and editing the title of an existing one (an edit loads the document if it is
//!   not cached, applies the change, derives and writes the projection, appends the outbox);
//! - bare SQLite: the rows such a write needs at the least — the change's bytes and a
//!   projection row with the same columns filled — in one transaction, on a database with the
//!   store's pragmas (WAL, `synchronous=NORMAL`, `wal_autocheckpoint=4000`), in the same
//!   directory;
//! - the two alternate, write for write, so a noisy neighbour hurts both alike;
//! - open: the store reopened (the OS page cache is warm: a phone's usually is too);
//! - queries: the five an app's screens make most (open help requests, what needs a response,
//!   upcoming events, a word search, the status counts), each run many times;
//! - pages: how many database pages one write adds to the WAL (a create, a title edit, a
//!   status change, and the bare write), on a small fresh store — a count, not a time, so it
//!   does not move with a noisy neighbour; most of a write's time is the pages it commits.

use std::time::Instant;

use noaber_core::model::help::NewHelp;
use noaber_core::{Kind, ListQuery, Order, Store};
use rusqlite::{Connection, params};

use crate::report::Report;
use crate::stats::{own_rss_mb, percentile};
use crate::workload::{TempStore, fill};
use crate::{BenchResult, Scale};

/// Runs the suite.
pub fn run(scale: Scale) -> BenchResult<Report> {
    let entities = scale.pick(10_000, 300);
    let writes = scale.pick(2_000, 40);
    let query_runs = scale.pick(200, 5);

    let t = TempStore::new()?;
    let fill_started = Instant::now();
    let ids = fill(&t.store, entities)?;
    let fill_s = fill_started.elapsed().as_secs_f64();
    let helps: Vec<_> = ids.iter().step_by(10).cloned().collect();

    let bare = bare_sqlite(t.dir())?;
    let mut ours = Vec::with_capacity(writes);
    let mut creates = Vec::with_capacity(writes / 2 + 1);
    let mut edits = Vec::with_capacity(writes / 2 + 1);
    let mut theirs = Vec::with_capacity(writes);
    for i in 0..writes {
        let started = Instant::now();
        if i % 2 == 0 {
            t.store
                .create_help(&NewHelp::ask("groceries", &format!("Nieuw verzoek {i}")))?;
        } else {
            let id = &helps[(i * 7919) % helps.len()];
            t.store
                .edit_help(id, Some(&format!("Boodschappen, versie {i}")), None)?;
        }
        let us = micros(started);
        ours.push(us);
        if i % 2 == 0 {
            creates.push(us);
        } else {
            edits.push(us);
        }
        let started = Instant::now();
        bare_write(&bare, i)?;
        theirs.push(micros(started));
    }

    let path = t.path.clone();
    drop(t.store);
    let started = Instant::now();
    let store = Store::open(&path)?;
    let open_ms = started.elapsed().as_secs_f64() * 1e3;
    let loaded_at_open = store.loaded_documents();

    let queries = queries(&store, query_runs)?;
    let pages = pages_per_write()?;
    let mut r = Report::new("local");
    r.add(
        "write_p50_us",
        percentile(&ours, 50.0),
        "local write, median (µs)",
    );
    r.add(
        "write_p95_us",
        percentile(&ours, 95.0),
        "local write, p95 (µs); target ≤ 1 000",
    );
    r.add(
        "create_p95_us",
        percentile(&creates, 95.0),
        "of those, creating a request, p95 (µs)",
    );
    r.add(
        "edit_p95_us",
        percentile(&edits, 95.0),
        "of those, editing a title, p95 (µs)",
    );
    r.add(
        "bare_sqlite_p50_us",
        percentile(&theirs, 50.0),
        "bare SQLite write, median (µs)",
    );
    r.add(
        "bare_sqlite_p95_us",
        percentile(&theirs, 95.0),
        "bare SQLite write, p95 (µs)",
    );
    r.add(
        "write_vs_sqlite_ratio",
        percentile(&ours, 95.0) / percentile(&theirs, 95.0).max(f64::MIN_POSITIVE),
        "p95 / p95; target ≤ 4",
    );
    r.add(
        "open_ms",
        open_ms,
        "open a store of this size (ms); target ≤ 50",
    );
    r.add(
        "docs_loaded_at_open",
        loaded_at_open as f64,
        "documents loaded by opening (must be 0)",
    );
    let all: Vec<f64> = queries
        .iter()
        .flat_map(|(_, s)| s.iter().copied())
        .collect();
    r.add(
        "query_p95_us",
        percentile(&all, 95.0),
        "the five queries, p95 (µs); target ≤ 5 000",
    );
    for (name, samples) in &queries {
        r.add(
            &format!("query_{name}_p95_us"),
            percentile(samples, 95.0),
            &format!("{name}, p95 (µs)"),
        );
    }
    for (key, n, what) in [
        ("pages_per_create", pages.create, "creating a request"),
        ("pages_per_edit", pages.edit, "editing a title"),
        (
            "pages_per_status_change",
            pages.status,
            "cancelling a request",
        ),
        ("pages_per_bare_write", pages.bare, "the bare SQLite write"),
    ] {
        r.add(key, n, &format!("WAL pages written by {what}, mean"));
    }
    r.add(
        "rss_mb",
        own_rss_mb(),
        "this process's resident memory (MB)",
    );
    r.add("entities", entities as f64, "entities in the store");
    r.note(format!(
        "{entities} mixed entities (filled in {fill_s:.1} s), {writes} writes alternating with \
         bare SQLite, {query_runs} runs of each query"
    ));
    Ok(r)
}

fn micros(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e6
}

/// A database with the store's pragmas and the least a write needs: a change row and a
/// projection row.
/// WAL pages per write, by kind of write (see the module docs).
struct Pages {
    create: f64,
    edit: f64,
    status: f64,
    bare: f64,
}

/// Writes 30 of each kind of write on a fresh store (well under the 4 000-page checkpoint, so
/// the WAL only grows) and divides its growth by the frames a page takes.
fn pages_per_write() -> BenchResult<Pages> {
    const N: usize = 30;
    let t = TempStore::new()?;
    let wal = |p: &std::path::Path| {
        let mut w = p.as_os_str().to_owned();
        w.push("-wal");
        std::fs::metadata(w).map(|m| m.len()).unwrap_or(0)
    };
    let page: u64 =
        Connection::open(&t.path)?.pragma_query_value(None, "page_size", |r| r.get(0))?;
    // A WAL frame is a 24-byte header and one page.
    let per = |from: u64, to: u64| to.saturating_sub(from) as f64 / N as f64 / (page + 24) as f64;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(
            t.store
                .create_help(&NewHelp::ask("groceries", &format!("Eerder {i}")))?,
        );
    }
    let a = wal(&t.path);
    for i in 0..N {
        ids.push(t.store.create_help(&NewHelp::ask(
            "groceries",
            &format!("Hulp gezocht bij de boodschappen {i}"),
        ))?);
    }
    let b = wal(&t.path);
    for (i, id) in ids.iter().take(N).enumerate() {
        t.store
            .edit_help(id, Some(&format!("Boodschappen, versie {i}")), None)?;
    }
    let c = wal(&t.path);
    for id in ids.iter().skip(10).take(N) {
        t.store.cancel_help(id, "")?;
    }
    let d = wal(&t.path);

    let bare = bare_sqlite(t.dir())?;
    let bare_path = t.dir().join("bare.db");
    for i in 0..10 {
        bare_write(&bare, i)?;
    }
    let e = wal(&bare_path);
    for i in 10..10 + N {
        bare_write(&bare, i)?;
    }
    let f = wal(&bare_path);
    Ok(Pages {
        create: per(a, b),
        edit: per(b, c),
        status: per(c, d),
        bare: per(e, f),
    })
}

fn bare_sqlite(dir: &std::path::Path) -> BenchResult<Connection> {
    let conn = Connection::open(dir.join("bare.db"))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
    conn.execute_batch(
        "CREATE TABLE changes (seq INTEGER PRIMARY KEY, doc TEXT NOT NULL, bytes BLOB NOT NULL);
         CREATE TABLE entities (id TEXT PRIMARY KEY, kind TEXT NOT NULL, status TEXT NOT NULL,
             title TEXT NOT NULL, body TEXT NOT NULL, created_by TEXT NOT NULL,
             created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) WITHOUT ROWID;
         CREATE INDEX entities_kind ON entities(kind, status, updated_at);",
    )?;
    Ok(conn)
}

fn bare_write(conn: &Connection, i: usize) -> BenchResult<()> {
    let id = format!("{:032x}", i / 2);
    let bytes = vec![0x85u8; 150];
    let tx = conn.unchecked_transaction()?;
    tx.prepare_cached("INSERT INTO changes (doc, bytes) VALUES (?1, ?2)")?
        .execute(params![id, bytes])?;
    tx.prepare_cached(
        "INSERT INTO entities (id, kind, status, title, body, created_by, created_at, updated_at)
         VALUES (?1, 'help', 'open', ?2, '', 'm', ?3, ?3)
         ON CONFLICT (id) DO UPDATE SET title = excluded.title, updated_at = excluded.updated_at",
    )?
    .execute(params![id, format!("Boodschappen, versie {i}"), i as i64])?;
    tx.commit()?;
    Ok(())
}

type Samples = Vec<(&'static str, Vec<f64>)>;

fn queries(store: &Store, runs: usize) -> BenchResult<Samples> {
    let now = crate::workload::now_ms();
    let open_help = ListQuery {
        kind: Some(Kind::Help),
        status: Some("open".into()),
        limit: 50,
        ..ListQuery::default()
    };
    let needs = ListQuery {
        needs_response: true,
        limit: 50,
        ..ListQuery::default()
    };
    let upcoming = ListQuery {
        kind: Some(Kind::Event),
        from: Some(now),
        order: Order::Upcoming,
        limit: 50,
        ..ListQuery::default()
    };
    let search = ListQuery {
        text: Some("portiek".into()),
        limit: 50,
        ..ListQuery::default()
    };
    let mut out: Samples = vec![
        ("open_help", Vec::new()),
        ("needs_response", Vec::new()),
        ("upcoming_events", Vec::new()),
        ("search", Vec::new()),
        ("counts", Vec::new()),
    ];
    for _ in 0..runs {
        for (name, samples) in &mut out {
            let started = Instant::now();
            match *name {
                "open_help" => drop(store.list(&open_help)?),
                "needs_response" => drop(store.list(&needs)?),
                "upcoming_events" => drop(store.list(&upcoming)?),
                "search" => drop(store.list(&search)?),
                _ => drop(store.status_counts()?),
            }
            samples.push(micros(started));
        }
    }
    Ok(out)
}
