//! Faults: the relay killed (SIGKILL, not shut down politely) between and during syncs, and a
//! connection cut in the middle of a response. Nothing acknowledged is lost, un-acknowledged
//! changes are pushed again, nothing is stored twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use noaber_core::ListQuery;
use noaber_core::model::help::NewHelp;
use noaber_e2e::{Device, Proxy, RelayProcess, TestResult, relay_binary};

/// Creates a buurt and a resident invite with the relay's admin commands on `data`.
fn admin_buurt(data: &std::path::Path) -> TestResult<String> {
    let out = std::process::Command::new(relay_binary())
        .args(["admin", "create-buurt", "De Linde", "--data"])
        .arg(data)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json_lite::Value = serde_json_lite::parse(&String::from_utf8(out.stdout)?)?;
    let buurt = v.get("buurt_id").ok_or("no buurt_id")?;
    let out = std::process::Command::new(relay_binary())
        .args([
            "admin", "invite", "--role", "resident", "--uses", "50", "--buurt", &buurt, "--data",
        ])
        .arg(data)
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json_lite::parse(&String::from_utf8(out.stdout)?)?;
    Ok(v.get("code").ok_or("no code")?)
}

/// A tiny reader for the flat JSON objects the admin commands print (string values only).
mod serde_json_lite {
    pub struct Value(Vec<(String, String)>);
    impl Value {
        pub fn get(&self, k: &str) -> Option<String> {
            self.0
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.clone())
        }
    }
    pub fn parse(s: &str) -> Result<Value, String> {
        let mut out = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find('"') {
            let after = &rest[start + 1..];
            let end = after.find('"').ok_or("unterminated key")?;
            let key = after[..end].to_owned();
            let after = &after[end + 1..];
            let colon = after.trim_start();
            if !colon.starts_with(':') {
                rest = after;
                continue;
            }
            let value = colon[1..].trim_start();
            if let Some(v) = value.strip_prefix('"') {
                let vend = v.find('"').ok_or("unterminated value")?;
                out.push((key, v[..vend].to_owned()));
                rest = &v[vend + 1..];
            } else {
                let vend = value.find([',', '}', '\n']).unwrap_or(value.len());
                out.push((key, value[..vend].trim().to_owned()));
                rest = &value[vend..];
            }
        }
        Ok(Value(out))
    }
}

fn total_items(d: &Device) -> TestResult<usize> {
    Ok(d.store
        .list(&ListQuery {
            limit: 500,
            ..Default::default()
        })?
        .items
        .len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_killed_between_and_during_syncs_loses_nothing_acknowledged() -> TestResult {
    let data = tempfile::tempdir()?;
    let invite = admin_buurt(data.path())?;
    let relay = RelayProcess::start(data.path())?;
    let proxy = Proxy::start(relay.addr).await?;
    let a = Device::joined(&proxy.url(), &invite, "A").await?;
    let b = Device::joined(&proxy.url(), &invite, "B").await?;

    // Acknowledged, then the relay dies between syncs.
    for i in 0..20 {
        a.store
            .create_help(&NewHelp::ask("groceries", &format!("Voor de crash {i}")))?;
    }
    let r = a.sync().await?;
    assert_eq!(r.accepted, 20);
    relay.kill();
    let relay = RelayProcess::start(data.path())?;
    proxy.retarget(relay.addr);
    b.sync().await?;
    assert_eq!(
        total_items(&b)?,
        20,
        "every acknowledged change survived the kill"
    );

    // The relay dies while a sync is in flight: whatever was not acknowledged is pushed again.
    for i in 0..200 {
        a.store
            .create_help(&NewHelp::ask("groceries", &format!("Tijdens de crash {i}")))?;
    }
    let syncing = a.sync();
    let killer = async {
        tokio::task::yield_now().await;
        relay.kill();
    };
    let (result, ()) = tokio::join!(syncing, killer);
    let pending_after_kill = a.store.sync_status(&a.buurt)?.pending;
    assert!(result.is_err() || pending_after_kill == 0);
    let relay = RelayProcess::start(data.path())?;
    proxy.retarget(relay.addr);
    a.sync().await?;
    assert_eq!(
        a.store.sync_status(&a.buurt)?.pending,
        0,
        "re-pushed after the restart"
    );
    b.sync().await?;
    assert_eq!(total_items(&b)?, 220);
    assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);

    // No duplicates in the relay's log: a fresh device pulls exactly 220 creations.
    let c = Device::joined(&proxy.url(), &invite, "C").await?;
    let pulled = c.sync().await?;
    assert_eq!(pulled.pulled, 220, "each change stored once");
    drop(relay);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_cut_in_the_middle_loses_nothing() -> TestResult {
    let data = tempfile::tempdir()?;
    let invite = admin_buurt(data.path())?;
    let relay = RelayProcess::start(data.path())?;
    let proxy = Proxy::start(relay.addr).await?;
    let a = Device::joined(&proxy.url(), &invite, "A").await?;
    let b = Device::joined(&proxy.url(), &invite, "B").await?;
    for i in 0..50 {
        a.store
            .create_help(&NewHelp::ask("odd_jobs", &format!("Klus {i}")))?;
    }
    a.sync().await?;
    for i in 0..30 {
        b.store
            .create_help(&NewHelp::ask("garden", &format!("Tuin {i}")))?;
    }
    // b's push is committed by the relay, but the answer (with a's 50 changes) is cut.
    proxy.cut_next_response_after(300);
    let cut = b.sync().await;
    assert!(cut.is_err(), "the cut surfaces as an error");
    assert_eq!(
        b.store.sync_status(&b.buurt)?.pending,
        30,
        "nothing acknowledged without an answer"
    );
    assert!(b.store.sync_status(&b.buurt)?.last_error.is_some());
    // The next sync re-pushes (duplicates at the relay) and pulls everything.
    let r = b.sync().await?;
    assert_eq!(r.accepted, 30);
    assert_eq!(b.store.sync_status(&b.buurt)?.pending, 0);
    a.sync().await?;
    assert_eq!(total_items(&a)?, 80);
    assert_eq!(a.store.projection_dump()?, b.store.projection_dump()?);
    let c = Device::joined(&proxy.url(), &invite, "C").await?;
    assert_eq!(
        c.sync().await?.pulled,
        80,
        "the re-pushed changes were not stored twice"
    );
    drop(relay);
    Ok(())
}

/// Issue 11, finding 8: the relay enrols the device but its answer is cut. The device's retry
/// sends the ids and `join_secret` it stored before the first attempt, and gets its device and
/// token back, although the invite admits one join; the device then syncs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_whose_answer_is_cut_is_retried() -> TestResult {
    let relay = noaber_e2e::InProcessRelay::start().await?;
    let (buurt, _) = relay.buurt("De Linde", noaber_core::Role::Organiser)?;
    let code = noaber_relay::admin::create_invite(
        &**relay.relay.storage(),
        &buurt,
        &noaber_relay::admin::InviteOptions {
            role: noaber_core::Role::Resident,
            expires: "1d".into(),
            uses: 1,
            member: None,
        },
        noaber_e2e::now_ms(),
    )?
    .code;
    let proxy = Proxy::start(relay.url.trim_start_matches("http://").parse()?).await?;
    let mut d = Device::new()?;
    proxy.cut_next_response_after(20);
    let cut = d.client.join(&d.store, &proxy.url(), &code, "Ans").await;
    assert!(cut.is_err(), "the cut surfaces as an error");
    assert!(d.store.buurten()?.is_empty());
    assert_eq!(relay.relay.storage().devices(&buurt)?.len(), 1, "enrolled");
    let b = d.client.join(&d.store, &proxy.url(), &code, "Ans").await?;
    d.buurt = b.id;
    assert_eq!(
        relay.relay.storage().devices(&buurt)?.len(),
        1,
        "the same device"
    );
    assert_eq!(
        b.device,
        relay.relay.storage().devices(&buurt)?[0].device.to_string()
    );
    d.store
        .create_help(&NewHelp::ask("groceries", "Na de herhaalde aanmelding"))?;
    assert_eq!(d.sync().await?.accepted, 1);
    Ok(())
}
