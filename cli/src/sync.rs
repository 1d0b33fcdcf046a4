//! Relay commands: join a buurt, sync with it, its status, leave it, and the outbox.

use clap::Args;
use noaber_core::{Error, MemberId, Store};

use crate::args::member_id;
use crate::out::Out;
use crate::time;

/// The arguments of `join`.
#[derive(Debug, Args)]
pub(crate) struct JoinArgs {
    /// The relay's URL, e.g. `https://relay.example.nl`
    url: String,
    /// The invite code an organiser gave you.
    code: String,
    /// The name other members see.
    #[arg(long)]
    name: String,
    /// Join as this existing member (a second device of the same person; the invite must
    /// be bound to that member: `noaber-relay admin invite --member ID`).
    #[arg(long, value_parser = member_id)]
    member: Option<MemberId>,
}

/// The arguments of `sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// Stay connected and sync whenever the buurt's log moves (Ctrl-C to stop).
    #[arg(long)]
    live: bool,
    /// Only this buurt (default: every joined buurt).
    #[arg(long)]
    buurt: Option<String>,
}

/// The arguments of `leave`.
#[derive(Debug, Args)]
pub(crate) struct LeaveArgs {
    /// The buurt id.
    buurt: String,
}

/// Joins a buurt on a relay with an invite code.
pub(crate) fn join(store: &Store, out: &Out, a: JoinArgs) -> Result<(), Error> {
    if let Some(m) = &a.member {
        store.adopt_member(m)?;
    }
    let client = noaber_core::sync::http::Client::new()?;
    let b = runtime()?.block_on(client.join(store, &a.url, &a.code, &a.name))?;
    out.print(&b, || {
        format!(
            "joined {} ({}) as {}: buurt {}",
            b.name,
            b.relay_url,
            b.role.as_str(),
            b.id
        )
    })
}

/// Local changes not yet acknowledged by a relay.
pub(crate) fn outbox(store: &Store, out: &Out) -> Result<(), Error> {
    let n = store.pending_count()?;
    let refused = store.refused_count()?;
    out.print(
        &serde_json::json!({ "pending": n, "refused": refused }),
        || {
            let mut line = format!("{n} change(s) waiting to sync");
            if refused > 0 {
                line.push_str(&format!(
                    "; {refused} refused by the relay (see `noaber status`)"
                ));
            }
            line
        },
    )
}

/// Sync status per buurt and the photo upload queue.
pub(crate) fn status(store: &Store, out: &Out) -> Result<(), Error> {
    let statuses: Vec<_> = store
        .buurten()?
        .iter()
        .map(|b| store.sync_status(&b.id))
        .collect::<Result<_, _>>()?;
    let outbox = store.pending_count()?;
    let uploads = store.photo_uploads()?;
    let json = serde_json::json!({
        "buurten": statuses,
        "unsynced_changes": outbox,
        "photo_uploads": uploads,
    });
    out.print(&json, || {
        let queue = describe_uploads(&uploads);
        if statuses.is_empty() {
            return format!("not joined to a buurt; {outbox} local change(s) will sync after `noaber join`{queue}");
        }
        let lines = statuses
            .iter()
            .map(|s| {
                let last = s.last_sync_at.map(time::show).unwrap_or_else(|| "never".into());
                let mut line = format!(
                    "{}: {} pending, last sync {last}, at {} of {}",
                    s.buurt, s.pending, s.cursor, s.head
                );
                if let Some(e) = &s.last_error {
                    line.push_str(&format!("\n  last error: {e}"));
                }
                for r in &s.rejected {
                    line.push_str(&format!("\n  refused {}: {} ({})", r.entity, r.code, r.reason));
                }
                line
            })
            .collect::<Vec<_>>()
            .join("\n");
        format!("{lines}{queue}")
    })
}

/// Leaves a buurt: forgets its token and removes its data from this device.
pub(crate) fn leave(store: &Store, out: &Out, a: LeaveArgs) -> Result<(), Error> {
    store.leave_buurt(&a.buurt)?;
    out.ok()
}

/// A runtime for one command's network calls.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Other(format!("cannot start the async runtime: {e}")))
}

fn describe_report(buurt: &str, r: &noaber_core::sync::http::SyncReport) -> String {
    let mut s = format!(
        "{buurt}: pushed {} (accepted), pulled {} ({} new), cursor {}",
        r.accepted, r.pulled, r.applied, r.cursor
    );
    for rej in &r.rejected {
        s.push_str(&format!(
            "\n  refused {}: {} ({})",
            rej.entity, rej.code, rej.reason
        ));
    }
    if r.retrying > 0 {
        s.push_str(&format!(
            "\n  {} change(s) the relay cannot take yet: still waiting, sent again shortly",
            r.retrying
        ));
    }
    s
}

/// The upload queue for `status`: one line per photo not yet done (and those sent today).
fn describe_uploads(uploads: &[noaber_core::store::photos::PhotoUpload]) -> String {
    use noaber_core::store::photos::UploadState;
    let mut s = String::new();
    for u in uploads {
        let short = u.hash.get(..12).unwrap_or(&u.hash);
        let state = match u.state {
            UploadState::Done => "uploaded".to_owned(),
            UploadState::Rejected => "refused".to_owned(),
            UploadState::Pending if u.buurt.is_none() => "waits for `noaber join`".to_owned(),
            UploadState::Pending => format!("{} of {} bytes sent", u.sent, u.size),
        };
        s.push_str(&format!("\nphoto {short}… on report {}: {state}", u.entity));
        if let (UploadState::Pending | UploadState::Rejected, Some(e)) = (u.state, &u.last_error) {
            s.push_str(&format!(" (last error: {e})"));
        }
    }
    s
}

/// Syncs every joined buurt once, or follows one with `--live`.
pub(crate) fn sync(
    store: &Store,
    out: &Out,
    SyncArgs { live, buurt }: SyncArgs,
) -> Result<(), Error> {
    let client = noaber_core::sync::http::Client::new()?;
    let rt = runtime()?;
    let buurten = match buurt {
        Some(b) => vec![store.buurt(&b)?.id],
        None => store.buurten()?.into_iter().map(|b| b.id).collect(),
    };
    if buurten.is_empty() {
        return Err(Error::InvalidInput {
            field: "buurt",
            reason: "this store has not joined a buurt yet; use `noaber join URL CODE --name NAME`"
                .into(),
        });
    }
    if live {
        let [b] = &buurten[..] else {
            return Err(Error::InvalidInput {
                field: "buurt",
                reason: "`--live` follows one buurt: give `--buurt ID`".into(),
            });
        };
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        return rt.block_on(client.live(
            store,
            b,
            |r| {
                let _ = match r {
                    Ok(rep) => out.print(rep, || describe_report(b, rep)),
                    Err(e) => {
                        eprintln!("sync: {e} (retrying)");
                        Ok(())
                    }
                };
            },
            stop,
        ));
    }
    let mut failed = None;
    for b in buurten {
        match rt.block_on(client.sync(store, &b)) {
            Ok(rep) => out.print(&rep, || describe_report(&b, &rep))?,
            Err(e) => {
                failed = Some(e);
                continue;
            }
        }
        // Photos follow their reports (resumable: a cut connection continues next time).
        let up = rt.block_on(client.upload_photos(store, &b, |p| {
            if !out.json && p.sent < p.total {
                eprintln!(
                    "  photo {}…: {} of {} bytes",
                    p.hash.get(..12).unwrap_or(""),
                    p.sent,
                    p.total
                );
            }
        }))?;
        if up != noaber_core::sync::http::UploadReport::default() {
            out.print(&serde_json::json!({ "buurt": b, "photos": up }), || {
                format!(
                    "{b}: photos uploaded {}, refused {}, waiting {} ({} bytes sent)",
                    up.completed, up.rejected, up.waiting, up.bytes_sent
                )
            })?;
        }
    }
    failed.map_or(Ok(()), Err)
}
