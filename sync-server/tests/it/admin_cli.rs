//! The binary: admin commands print JSON; `serve` explains a first start and stops on SIGTERM.

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use noaber_core::Role;
use noaber_core::sync::wire::SyncRequest;
use serde_json::Value;

use crate::support::{Device, TestRelay, TestResult};

const BIN: &str = env!("CARGO_BIN_EXE_noaber-relay");

/// Runs `noaber-relay admin …` on `data`; `Ok` is the parsed JSON of a successful run,
/// `Err` its stderr.
fn admin(data: &Path, args: &[&str]) -> TestResult<Result<Value, String>> {
    let out = Command::new(BIN)
        .arg("admin")
        .args(args)
        .arg("--data")
        .arg(data)
        .env_remove("NOABER_RELAY_DATA")
        .output()?;
    if out.status.success() {
        Ok(Ok(serde_json::from_slice(&out.stdout)?))
    } else {
        Ok(Err(String::from_utf8_lossy(&out.stderr).into_owned()))
    }
}

fn ok(r: TestResult<Result<Value, String>>) -> TestResult<Value> {
    Ok(r?.map_err(|e| format!("command failed: {e}"))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_print_json() -> TestResult {
    let dir = tempfile::tempdir()?;
    let data = dir.path();
    let created = ok(admin(data, &["create-buurt", "Schildersbuurt"]))?;
    let buurt = created["buurt_id"].as_str().ok_or("buurt_id")?.to_owned();
    let org = created["organiser_invite"]
        .as_str()
        .ok_or("organiser_invite")?
        .to_owned();
    assert_eq!(buurt.len(), 32);
    assert_eq!(org.len(), 14);
    let invite = ok(admin(
        data,
        &[
            "invite",
            "--buurt",
            &buurt,
            "--role",
            "caretaker",
            "--expires",
            "2d",
            "--uses",
            "3",
        ],
    ))?;
    let code = invite["code"].as_str().ok_or("code")?.to_owned();
    assert_eq!(invite["role"], "caretaker");
    assert_eq!(invite["uses"], 3);
    assert_eq!(
        ok(admin(data, &["members", "--buurt", &buurt]))?,
        Value::Array(vec![])
    );
    let listed = ok(admin(data, &["buurten"]))?;
    assert_eq!(listed[0]["name"], "Schildersbuurt");

    // Devices join a relay serving the same directory while the commands run.
    let config = noaber_relay::Config::with_data(data);
    let relay = TestRelay::start_in(tempfile::tempdir()?, config).await?;
    let ans = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let _kees = Device::join(&relay, &code, "Kees", Role::Caretaker).await?;
    let members = ok(admin(data, &["members", "--buurt", &buurt]))?;
    assert_eq!(members.as_array().map(Vec::len), Some(2));
    assert_eq!(members[0]["display_name"], "Ans");
    assert_eq!(members[0]["role"], "organiser");
    let devices = ok(admin(data, &["devices", "--buurt", &buurt]))?;
    assert_eq!(devices.as_array().map(Vec::len), Some(2));
    assert_eq!(devices[0]["actors"][0], ans.store.identity().actor);

    let member = ans.joined.member.clone();
    let set = ok(admin(
        data,
        &[
            "set-role", "--buurt", &buurt, "--member", &member, "--role", "staff",
        ],
    ))?;
    assert_eq!(set["role"], "staff");
    let members = ok(admin(data, &["members", "--buurt", &buurt]))?;
    assert_eq!(members[0]["role"], "staff");

    let revoked = ok(admin(
        data,
        &["revoke-device", "--device", &ans.joined.device],
    ))?;
    assert_eq!(revoked["revoked"], ans.joined.device.as_str());
    let r = relay
        .sync(
            ans.token(),
            &SyncRequest {
                v: 1,
                cursor: 0,
                push: vec![],
                max: None,
            },
        )
        .await?;
    assert_eq!(r.err().map(|e| e.0.as_u16()), Some(401));

    // Mistakes are reported on stderr with a failing exit status; no secrets echoed.
    let unknown = "0".repeat(32);
    let e = admin(data, &["invite", "--buurt", &unknown])?
        .err()
        .ok_or("unknown buurt accepted")?;
    assert!(e.contains("no buurt"), "{e}");
    let e = admin(data, &["invite", "--buurt", &buurt, "--role", "mayor"])?
        .err()
        .ok_or("bad role")?;
    assert!(e.contains("role"), "{e}");
    let e = admin(data, &["invite", "--buurt", &buurt, "--uses", "0"])?
        .err()
        .ok_or("0 uses")?;
    assert!(e.contains("uses"), "{e}");
    let e = admin(data, &["create-buurt", ""])?
        .err()
        .ok_or("empty name")?;
    assert!(e.contains("name"), "{e}");
    let empty = tempfile::tempdir()?;
    let e = admin(empty.path(), &["members", "--buurt", &buurt])?
        .err()
        .ok_or("no data")?;
    assert!(e.contains("no relay data"), "{e}");
    relay.stop().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_explains_a_first_start_and_stops_on_sigterm() -> TestResult {
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        .env_remove("NOABER_RELAY_DATA")
        .env_remove("NOABER_RELAY_LISTEN")
        .env("NOABER_RELAY_METRICS_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let (mut addr, mut metrics_addr) = (None, None);
    let mut hint = false;
    while addr.is_none() || metrics_addr.is_none() || !hint {
        let line = rx.recv_timeout(Duration::from_secs(30))?;
        let field = |name: &str| {
            line.split(name)
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(str::to_owned)
        };
        addr = addr.or_else(|| field(" addr="));
        metrics_addr = metrics_addr.or_else(|| field(" metrics_addr="));
        hint |= line.contains("noaber-relay admin create-buurt");
    }
    let addr = addr.ok_or("no address")?;
    let metrics_addr = metrics_addr.ok_or("no metrics address")?;
    let health = reqwest::get(format!("http://{addr}/healthz")).await?;
    assert_eq!(health.status().as_u16(), 200);
    let ready = reqwest::get(format!("http://{addr}/readyz")).await?;
    assert_eq!(ready.status().as_u16(), 200);
    // Metrics are on their own listener only.
    let public = reqwest::get(format!("http://{addr}/metrics")).await?;
    assert_eq!(public.status().as_u16(), 404);
    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await?
        .text()
        .await?;
    assert!(metrics.contains("relay_http_requests_total"), "{metrics}");

    let pid = child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status()?;
    assert!(status.success());
    let waited = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await;
    let exited = match waited {
        Ok(done) => done??,
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
            return Err("serve did not stop on SIGTERM".into());
        }
    };
    assert!(exited.success(), "{exited:?}");
    Ok(())
}
