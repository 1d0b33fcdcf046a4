//! The relay on PostgreSQL: a real sync round trip through `Relay`, restarts, and the binary's
//! `--postgres` / `NOABER_RELAY_POSTGRES` settings. Each test gets a fresh database in this
//! binary's throwaway cluster (`pg_harness`).

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::Duration;

use noaber_core::Role;
use noaber_core::sync::wire;
use noaber_relay::repair::{MissingRequest, MissingResponse};
use noaber_relay::storage::DB_FILE;
use serde_json::Value;

use crate::pg_harness;
use crate::support::{Device, TestRelay, TestResult, ask};

const BIN: &str = env!("CARGO_BIN_EXE_noaber-relay");

/// A password the test cluster ignores (it trusts local connections) and no output may show.
const PASSWORD: &str = "hunter2-not-for-logs";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_on_postgres_syncs_devices_and_keeps_its_log_across_restarts() -> TestResult {
    let conn = pg_harness::fresh_database()?;
    let pg = conn.clone();
    let relay = TestRelay::start_with(move |c| c.postgres = Some(pg)).await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let code = relay.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&relay, &code, "Bert", Role::Resident).await?;

    let ids = [ask(&a, "Boodschappen")?, ask(&a, "Lift")?];
    a.store
        .edit_help(&ids[0], Some("Boodschappen doen"), None)?;
    let resp = a.sync(&relay).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert!(resp.pull.is_empty());
    assert_eq!((resp.cursor, resp.more), (3, false));
    let resp = b.sync(&relay).await?;
    assert_eq!(
        resp.pull.iter().map(|p| p.seq).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    for id in &ids {
        assert_eq!(b.store.help(id)?, a.store.help(id)?);
    }
    b.store.respond_help(&ids[1], "ik rijd")?;
    b.sync_all(&relay).await?;
    a.sync_all(&relay).await?;
    assert_eq!(a.store.help(&ids[1])?, b.store.help(&ids[1])?);
    assert_eq!(relay.storage().head(&buurt)?, 4);
    // Nothing went to SQLite.
    assert!(!relay.dir.path().join(DB_FILE).exists());

    // A new relay process on the same database serves the same log and tokens.
    relay.stop().await?;
    let relay = TestRelay::start_with(move |c| c.postgres = Some(conn)).await?;
    assert_eq!(relay.storage().head(&buurt)?, 4);
    let mut c = Device::join(
        &relay,
        &relay.invite(&buurt, Role::Resident, 1)?,
        "Cor",
        Role::Resident,
    )
    .await?;
    c.sync_all(&relay).await?;
    assert_eq!(c.store.help(&ids[1])?, a.store.help(&ids[1])?);
    let resp = b.sync(&relay).await?;
    assert_eq!((resp.pull.len(), resp.cursor), (0, 4));

    // An organisers-only request reaches the organiser, not another resident.
    let mut secret = noaber_core::model::help::NewHelp::ask("groceries", "Schulden");
    secret.audience = noaber_core::Audience::Organisers;
    let secret = b.store.create_help(&secret)?;
    b.sync_all(&relay).await?;
    a.sync_all(&relay).await?;
    c.sync_all(&relay).await?;
    assert_eq!(a.store.help(&secret)?, b.store.help(&secret)?);
    assert!(c.store.help(&secret).is_err());
    assert_eq!((a.cursor, c.cursor), (5, 5));
    relay.stop().await?;
    Ok(())
}

/// Runs `noaber-relay admin …` against PostgreSQL: the connection string from the flag or the
/// environment. `Ok` is the parsed JSON of a successful run.
fn admin(conn: &str, via_env: bool, args: &[&str]) -> TestResult<Value> {
    let mut cmd = Command::new(BIN);
    cmd.arg("admin").args(args).env_remove("NOABER_RELAY_DATA");
    if via_env {
        cmd.env("NOABER_RELAY_POSTGRES", conn);
    } else {
        cmd.env_remove("NOABER_RELAY_POSTGRES")
            .args(["--postgres", conn]);
    }
    let out = cmd.output()?;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
    if !out.status.success() {
        return Err(format!("admin {args:?} failed: {stderr}").into());
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_and_administers_postgres_without_printing_the_password() -> TestResult {
    let conn = format!("{} password={PASSWORD}", pg_harness::fresh_database()?);
    let created = admin(&conn, false, &["create-buurt", "Schildersbuurt"])?;
    let buurt = created["buurt_id"].as_str().ok_or("buurt_id")?.to_owned();
    let listed = admin(&conn, true, &["buurten"])?;
    assert_eq!(listed[0]["id"].as_str(), Some(buurt.as_str()));
    // `--help` shows the variable's name, never its value.
    let help = Command::new(BIN)
        .args(["admin", "buurten", "--help"])
        .env("NOABER_RELAY_POSTGRES", &conn)
        .output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("NOABER_RELAY_POSTGRES") && !help.contains(PASSWORD),
        "{help}"
    );

    let data = tempfile::tempdir()?;
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env("NOABER_RELAY_POSTGRES", &conn)
        .env_remove("NOABER_RELAY_LISTEN")
        .env("RUST_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id().to_string();
    let (tx, rx) = std::sync::mpsc::channel();
    for pipe in [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ]
    .into_iter()
    .flatten()
    {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(pipe).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);
    let mut addr = None;
    let mut lines = Vec::new();
    while addr.is_none() {
        let line = rx.recv_timeout(Duration::from_secs(30))?;
        if let Some(rest) = line.strip_prefix("listening on ") {
            addr = Some(rest.trim().to_owned());
        }
        lines.push(line);
    }
    let addr = addr.ok_or("no address")?;
    let ready = reqwest::get(format!("http://{addr}/readyz")).await?;
    assert_eq!(ready.status().as_u16(), 200);
    let status = Command::new("kill").args(["-TERM", &pid]).status()?;
    assert!(status.success());
    let exited = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    let exited = match exited {
        Ok(done) => done??,
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            return Err("serve did not stop on SIGTERM".into());
        }
    };
    assert!(exited.success(), "{exited:?}");
    lines.extend(rx.try_iter());
    let all = lines.join("\n");
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains("storage=\"postgres\"") || all.contains("storage=postgres"),
        "{all}"
    );
    // The relay used PostgreSQL, not the data directory.
    assert!(!data.path().join(DB_FILE).exists());
    Ok(())
}

/// Two relays on one database (issue 12): relay 1 holds a request in its validation cache;
/// a neighbour comments through relay 2; the requester pulls that comment through relay 1 and
/// answers it. Relay 1 must validate the answer against the committed log, not its cached copy
/// (which lacks relay 2's comment the answer depends on): accepted, and everyone converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relay_validates_against_what_another_relay_committed() -> TestResult {
    let conn = pg_harness::fresh_database()?;
    let (r1, r2) = two_relays(&conn).await?;
    let (buurt, org) = r1.buurt("Alpha")?;
    let mut a = Device::join(&r1, &org, "Ans", Role::Organiser).await?;
    let code = r1.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&r2, &code, "Bert", Role::Resident).await?;

    let id = ask(&a, "Boodschappen")?;
    a.sync_all(&r1).await?;
    b.sync_all(&r2).await?;
    for round in 0..3 {
        b.store.add_comment(&id, &format!("ik kan ({round})"))?;
        b.sync_all(&r2).await?;
        a.sync_all(&r1).await?;
        a.store.add_comment(&id, &format!("dank je ({round})"))?;
        let resp = a.sync(&r1).await?;
        assert!(
            resp.rejected.is_empty(),
            "round {round}: {:?}",
            resp.rejected
        );
        b.sync_all(&r2).await?;
    }
    a.sync_all(&r1).await?;
    assert_eq!(a.store.comments(&id)?.len(), 6);
    assert_eq!(a.store.comments(&id)?, b.store.comments(&id)?);
    assert_eq!(a.store.help(&id)?, b.store.help(&id)?);

    // `/v1/missing` through relay 1 answers from what is committed too, also what relay 2
    // accepted after relay 1 cached the document.
    b.store.add_comment(&id, "tot dinsdag")?;
    b.sync_all(&r2).await?;
    let resp = r1
        .http
        .post(r1.url("/v1/missing"))
        .bearer_auth(a.token())
        .header("content-type", wire::CBOR)
        .body(wire::to_cbor(&MissingRequest {
            v: 1,
            doc: wire::doc_bytes(&id),
            heads: vec![],
        })?)
        .send()
        .await?;
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let answer: MissingResponse = wire::from_cbor(&resp.bytes().await?)?;
    assert_eq!((answer.changes.len(), answer.more), (8, false));
    Ok(())
}

/// PostgreSQL away (issue 12): while the relay's database refuses connections, sync answers
/// `503 unavailable` with `Retry-After` and `/readyz` fails; nothing is acknowledged. When the
/// database is back the relay recovers by itself and the same push is accepted once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_away_sync_is_unavailable_and_then_recovers() -> TestResult {
    let conn = pg_harness::fresh_database()?;
    let db = db_name(&conn)?;
    let relay = TestRelay::start_with(move |c| c.postgres = Some(conn)).await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    ask(&a, "Boodschappen")?;
    a.sync_all(&relay).await?;

    let cluster = pg_harness::shared()?;
    shut_out(cluster, &db)?;
    ask(&a, "Lift")?;
    let (_, push) = a.pending()?;
    let body = wire::to_cbor(&wire::SyncRequest {
        v: 1,
        cursor: a.cursor,
        push,
        max: None,
    })?;
    for _ in 0..2 {
        let resp = relay
            .http
            .post(relay.url("/v1/sync"))
            .bearer_auth(a.token())
            .header("content-type", wire::CBOR)
            .body(body.clone())
            .send()
            .await?;
        assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
        let text = resp.text().await?;
        assert!(text.contains("\"unavailable\""), "{text}");
    }
    let ready = relay.http.get(relay.url("/readyz")).send().await?;
    assert_eq!(ready.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);

    let_in(cluster, &db)?;
    let ready = relay.http.get(relay.url("/readyz")).send().await?;
    assert_eq!(ready.status(), reqwest::StatusCode::OK);
    let resp = a.sync(&relay).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    a.sync_all(&relay).await?;
    assert_eq!(relay.storage().head(&buurt)?, 2);
    Ok(())
}

/// Live across relays (issue 12): a device live on relay 2 is told when a device on relay 1
/// pushes (PostgreSQL `LISTEN/NOTIFY`), and still after the database dropped every connection
/// and refused new ones for a while (the listener reconnects by itself and catches up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_wakes_devices_on_another_relay_also_after_the_database_went_away() -> TestResult {
    let conn = pg_harness::fresh_database()?;
    let db = db_name(&conn)?;
    let (r1, r2) = two_relays(&conn).await?;
    let (buurt, org) = r1.buurt("Alpha")?;
    let mut a = Device::join(&r1, &org, "Ans", Role::Organiser).await?;
    let code = r1.invite(&buurt, Role::Resident, 5)?;
    let b = Device::join(&r2, &code, "Bert", Role::Resident).await?;

    let mut ws = crate::live::connect(&r2, b.token()).await?;
    assert_eq!(crate::live::next(&mut ws).await?, Ok(0));
    ask(&a, "Boodschappen")?;
    a.sync_all(&r1).await?;
    assert_eq!(head_at_least(&mut ws, 1).await?, 1);
    ask(&a, "Lift")?;
    ask(&a, "Koffie")?;
    a.sync_all(&r1).await?;
    assert_eq!(head_at_least(&mut ws, 3).await?, 3);

    // Notifications of another shape on the channel are skipped; the listener carries on.
    let cluster = pg_harness::shared()?;
    cluster.execute(
        &db,
        &format!(
            "NOTIFY noaber_heads, 'garbage'; NOTIFY noaber_heads, 'x 7';
             NOTIFY noaber_heads, '{} -1'; NOTIFY noaber_heads, '';",
            buurt.as_str()
        ),
    )?;
    ask(&a, "Fiets")?;
    a.sync_all(&r1).await?;
    assert_eq!(head_at_least(&mut ws, 4).await?, 4);

    // The database drops every connection (the listeners' too) and refuses new ones for a
    // while; then a commit through relay 1 reaches the socket on relay 2 again.
    shut_out(cluster, &db)?;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let_in(cluster, &db)?;
    ask(&a, "Trap vegen")?;
    a.sync_all(&r1).await?;
    assert_eq!(head_at_least(&mut ws, 5).await?, 5);
    ask(&a, "Tuin")?;
    a.sync_all(&r1).await?;
    assert_eq!(head_at_least(&mut ws, 6).await?, 6);
    Ok(())
}

/// Reads heads from the socket until one reaches `want`; returns it.
async fn head_at_least(ws: &mut crate::live::Socket, want: u64) -> TestResult<u64> {
    loop {
        match crate::live::next(ws).await? {
            Ok(head) if head >= want => return Ok(head),
            Ok(_) => {}
            Err(close) => return Err(format!("closed: {close:?}").into()),
        }
    }
}

/// The database name in a harness connection string.
fn db_name(conn: &str) -> TestResult<String> {
    Ok(conn
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .ok_or("no dbname")?
        .to_owned())
}

/// Makes `db` refuse new connections and drops the ones it has: PostgreSQL gone, as far as a
/// relay can tell, while the cluster keeps serving other tests.
fn shut_out(cluster: &pg_harness::Cluster, db: &str) -> TestResult {
    cluster.execute(
        "postgres",
        &format!(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false;
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}';"
        ),
    )?;
    Ok(())
}

/// Undoes [`shut_out`].
fn let_in(cluster: &pg_harness::Cluster, db: &str) -> TestResult {
    cluster.execute(
        "postgres",
        &format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"),
    )?;
    Ok(())
}

/// Two relays on the database `conn`, each with its own data directory.
async fn two_relays(conn: &str) -> TestResult<(TestRelay, TestRelay)> {
    let (c1, c2) = (conn.to_owned(), conn.to_owned());
    let r1 = TestRelay::start_with(move |c| c.postgres = Some(c1)).await?;
    let r2 = TestRelay::start_with(move |c| c.postgres = Some(c2)).await?;
    Ok((r1, r2))
}

/// Photos across relays (issue 12): each relay has its own data directory, yet a photo whose
/// chunks went to one relay and then the other is complete on both and fetched through both;
/// none of it is a file. While the database is away the photo endpoints answer `503
/// unavailable` with `Retry-After`; a photo recorded but whose bytes are gone is `404`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_reach_every_relay_and_their_chunks_may_alternate() -> TestResult {
    use crate::blobs::{error_code, fetch, jpeg, put, put_json, report_with, sha, status};
    let conn = pg_harness::fresh_database()?;
    let db = db_name(&conn)?;
    let (r1, r2) = two_relays(&conn).await?;
    let (buurt, org) = r1.buurt("Alpha")?;
    let mut a = Device::join(&r1, &org, "Ans", Role::Organiser).await?;
    let code = r1.invite(&buurt, Role::Resident, 5)?;
    let mut b = Device::join(&r2, &code, "Bert", Role::Resident).await?;

    let bytes = jpeg(250_000, 7);
    let hash = sha(&bytes);
    let mut at = 0;
    for (i, part) in bytes.chunks(60_000).enumerate() {
        let relay = if i % 2 == 0 { &r1 } else { &r2 };
        assert_eq!(status(relay, a.token(), &hash).await?, (at as u64, false));
        let (s, v) = put_json(relay, a.token(), &hash, at, bytes.len(), part).await?;
        at += part.len();
        assert!(s.is_success(), "chunk {i}: {v}");
        assert_eq!(v["offset"].as_u64(), Some(at as u64), "chunk {i}");
    }
    for relay in [&r1, &r2] {
        assert_eq!(status(relay, a.token(), &hash).await?, (250_000, true));
    }
    report_with(&r1, &mut a, &bytes, noaber_core::Audience::Buurt).await?;
    b.sync_all(&r2).await?;
    for relay in [&r2, &r1] {
        let resp = fetch(relay, Some(b.token()), &hash, None).await?;
        assert_eq!(resp.status(), reqwest::StatusCode::OK);
        assert_eq!(resp.bytes().await?.as_ref(), bytes.as_slice());
        let resp = fetch(relay, Some(b.token()), &hash, Some("bytes=59990-60009")).await?;
        assert_eq!(resp.status(), reqwest::StatusCode::PARTIAL_CONTENT);
        assert_eq!(resp.bytes().await?.as_ref(), &bytes[59_990..60_010]);
        assert!(
            !relay.dir.path().join("blobs").exists(),
            "no photo files beside a relay on PostgreSQL"
        );
    }

    // The database away: unavailable, to be retried — not an internal error, not a 404.
    let cluster = pg_harness::shared()?;
    let other = jpeg(5_000, 8);
    shut_out(cluster, &db)?;
    let answers = [
        fetch(&r2, Some(b.token()), &hash, None).await?,
        put(&r1, Some(a.token()), &sha(&other), 0, other.len(), &other).await?,
        r2.http
            .get(r2.url(&format!("/v1/uploads/{hash}")))
            .bearer_auth(a.token())
            .send()
            .await?,
    ];
    for resp in answers {
        assert_eq!(resp.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(error_code(resp).await?, "unavailable");
    }
    let_in(cluster, &db)?;
    let resp = fetch(&r2, Some(b.token()), &hash, None).await?;
    assert_eq!(resp.bytes().await?.as_ref(), bytes.as_slice());

    // Recorded, but its bytes gone (an operator's mistake): `404`, on `GET` and `HEAD` alike.
    cluster.execute(&db, "DELETE FROM blob_file_chunks; DELETE FROM blob_files;")?;
    let resp = fetch(&r1, Some(b.token()), &hash, None).await?;
    assert_eq!(resp.status(), reqwest::StatusCode::NOT_FOUND);
    assert_eq!(error_code(resp).await?, "not_found");
    let resp = r1
        .http
        .head(r1.url(&format!("/v1/blobs/{hash}")))
        .bearer_auth(b.token())
        .send()
        .await?;
    assert_eq!(resp.status(), reqwest::StatusCode::NOT_FOUND);
    Ok(())
}
