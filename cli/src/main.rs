//! `noaber`: the desktop shell for organisers and scripts.
//!
//! Every subcommand works on a local store (`--store DIR`, or `NOABER_STORE`), offline.
//! Output is for people by default and JSON with `--json`. Errors go to stderr with exit code 1
//! (2 for a malformed command line).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use noaber_core::model::help::NewHelp;
use noaber_core::{Audience, EntityId, Error, Kind, ListQuery, MemberId, Order, Role, Store};
use serde::Serialize;

mod kinds;
mod time;

/// Noaber — neighbourhood help, events, tasks and reports, offline first.
#[derive(Debug, Parser)]
#[command(
    name = "noaber",
    version,
    about,
    propagate_version = true,
    disable_help_subcommand = true
)]
struct Cli {
    /// The folder holding the local store (created if missing).
    #[arg(
        long,
        global = true,
        env = "NOABER_STORE",
        default_value = "./noaber-store"
    )]
    store: PathBuf,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show or set who this device acts as.
    Whoami(WhoamiArgs),
    /// Help requests and offers.
    #[command(subcommand)]
    Help(HelpCmd),
    /// Buurt events: RSVPs, waitlists, volunteer shifts.
    #[command(subcommand)]
    Event(kinds::EventCmd),
    /// Ownership tasks: adopt, back up, record occurrences.
    #[command(subcommand)]
    Task(kinds::TaskCmd),
    /// Environment issue reports.
    #[command(subcommand)]
    Report(kinds::ReportCmd),
    /// Member profiles.
    #[command(subcommand)]
    Profile(kinds::ProfileCmd),
    /// Comments on any entity.
    #[command(subcommand)]
    Comment(CommentCmd),
    /// List entities of a kind (`help`, `event`, `task`, `report`, `profile`, or `all`).
    List(ListArgs),
    /// Full-text search over titles, bodies and comments.
    Search {
        /// Words to look for (prefix matched).
        text: String,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Counts per kind and status (an organiser's overview).
    Counts,
    /// What you should be told (lost claims, superseded matches, waitlist).
    Notices,
    /// Local changes not yet acknowledged by a relay.
    Outbox,
    /// Share a document written for the organisers or the participants with one more member
    /// (its creator or an organiser may).
    Share {
        /// The entity id.
        id: String,
        /// The member id to share it with.
        member: String,
    },
    /// Who reads a document: its audience and its readers besides the organisers.
    Readers {
        /// The entity id.
        id: String,
    },
    /// Derive every projection again from the documents.
    Rebuild,
    /// Join a buurt on a relay with an invite code.
    Join {
        /// The relay's URL, e.g. `https://relay.example.nl`
        url: String,
        /// The invite code an organiser gave you.
        code: String,
        /// The name other members see.
        #[arg(long)]
        name: String,
        /// Join as this existing member (a second device of the same person; the invite must
        /// be bound to that member: `noaber-relay admin invite --member ID`).
        #[arg(long)]
        member: Option<String>,
    },
    /// Sync with the relay: push local changes, pull everyone else's (one pass, or `--live`).
    Sync {
        /// Stay connected and sync whenever the buurt's log moves (Ctrl-C to stop).
        #[arg(long)]
        live: bool,
        /// Only this buurt (default: every joined buurt).
        #[arg(long)]
        buurt: Option<String>,
    },
    /// Sync status per buurt: pending changes, last sync, last error; and the photo upload
    /// queue.
    Status,
    /// Photos on reports.
    #[command(subcommand)]
    Photo(PhotoCmd),
    /// Leave a buurt: forget its token and remove its data from this device.
    Leave {
        /// The buurt id.
        buurt: String,
    },
}

#[derive(Debug, Args)]
struct WhoamiArgs {
    /// Set the role this device acts as (resident, caretaker, organiser, staff).
    #[arg(long)]
    role: Option<String>,
    /// Set your display name.
    #[arg(long)]
    name: Option<String>,
    /// Set your household / complex label.
    #[arg(long)]
    household: Option<String>,
}

#[derive(Debug, Args)]
struct NewHelpArgs {
    /// Short title.
    #[arg(long)]
    title: String,
    /// groceries, transport, odd_jobs, company, paperwork, garden, other.
    #[arg(long, default_value = "other")]
    category: String,
    /// Details.
    #[arg(long, default_value = "")]
    body: String,
    /// low, normal, high.
    #[arg(long, default_value = "normal")]
    urgency: String,
    /// Location precision: complex, stairwell, street, buurt (never a house number).
    #[arg(long, default_value = "street")]
    precision: String,
    /// Location label at that precision.
    #[arg(long, default_value = "")]
    location: String,
    /// Start of the time window (2026-12-01T10:00, a date, RFC 3339 or epoch ms).
    #[arg(long, value_parser = time::parse_ms)]
    from: Option<i64>,
    /// End of the time window; after it an open request expires.
    #[arg(long, value_parser = time::parse_ms)]
    until: Option<i64>,
    /// Who reads it: buurt (everyone), organisers, participants (you, organisers, whoever it
    /// is shared with or involves).
    #[arg(long, default_value = "buurt", value_parser = audience)]
    audience: Audience,
}

impl NewHelpArgs {
    fn into_new(self, offer: bool) -> NewHelp {
        NewHelp {
            audience: self.audience,
            offer,
            category: self.category,
            title: self.title,
            body: self.body,
            urgency: self.urgency,
            window_start: self.from,
            window_end: self.until,
            precision: self.precision,
            location_label: self.location,
        }
    }
}

#[derive(Debug, Subcommand)]
enum HelpCmd {
    /// Ask for help; prints the new id.
    Ask(NewHelpArgs),
    /// Offer help; prints the new id.
    Offer(NewHelpArgs),
    /// Show one request with its responses and status.
    Show { id: String },
    /// Edit the title and/or body.
    Edit {
        id: String,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        body: Option<String>,
    },
    /// Say "I can help".
    Respond {
        id: String,
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Withdraw your response.
    Withdraw { id: String },
    /// Match a responder as the helper (requester or organiser).
    Match {
        id: String,
        /// The responder's member id.
        #[arg(long)]
        helper: String,
    },
    /// Undo the match.
    Unmatch { id: String },
    /// Mark done.
    Done { id: String },
    /// Cancel.
    Cancel {
        id: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Leave thanks or feedback after done.
    Thank {
        id: String,
        #[arg(long)]
        text: String,
    },
}

#[derive(Debug, Subcommand)]
enum CommentCmd {
    /// Add a comment; prints its id.
    Add {
        /// The entity.
        id: String,
        /// The text.
        text: String,
    },
    /// Edit your own comment.
    Edit {
        id: String,
        comment: String,
        text: String,
    },
    /// Withdraw your own comment.
    Withdraw { id: String, comment: String },
    /// List an entity's comments.
    List { id: String },
}

#[derive(Debug, Args)]
struct ListArgs {
    /// help, event, task, report, profile, or all.
    kind: String,
    /// Only this status (open, matched, done, cancelled, expired, upcoming, active, due, overdue, reported, ...).
    #[arg(long)]
    status: Option<String>,
    /// Only this category.
    #[arg(long)]
    category: Option<String>,
    /// Only what you take part in.
    #[arg(long)]
    mine: bool,
    /// Only what needs a response.
    #[arg(long)]
    needs_response: bool,
    /// Only from this time on.
    #[arg(long, value_parser = time::parse_ms)]
    from: Option<i64>,
    /// Only up to this time.
    #[arg(long, value_parser = time::parse_ms)]
    to: Option<i64>,
    /// Only inside SOUTH,WEST,NORTH,EAST.
    #[arg(long)]
    bbox: Option<String>,
    /// Only matching these words.
    #[arg(long)]
    search: Option<String>,
    /// Soonest start first instead of most recent activity.
    #[arg(long)]
    upcoming: bool,
    /// Page size (max 500).
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Continue after this cursor (printed at the end of the previous page).
    #[arg(long)]
    after: Option<String>,
}

/// Opens the store in `dir`, creating the folder.
fn open(dir: &std::path::Path) -> Result<Store, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Storage(format!("cannot create `{}`: {e}", dir.display())))?;
    Store::open(dir.join("noaber.db"))
}

pub(crate) fn entity(s: &str) -> Result<EntityId, Error> {
    EntityId::parse(s.trim())
}

/// Parses `--audience`.
pub(crate) fn audience(s: &str) -> Result<Audience, Error> {
    Audience::parse(s.trim())
}

pub(crate) fn member(s: &str) -> Result<MemberId, Error> {
    MemberId::parse(s.trim())
}

/// What a command prints: text for people or JSON for scripts.
pub(crate) struct Out {
    json: bool,
}

impl Out {
    /// Prints `value` as JSON, or `text()` for people.
    pub(crate) fn print<T: Serialize>(
        &self,
        value: &T,
        text: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        if self.json {
            let s = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
            say(&s)
        } else {
            let t = text();
            if t.is_empty() { Ok(()) } else { say(&t) }
        }
    }

    /// Prints a new id.
    pub(crate) fn id(&self, id: &str) -> Result<(), Error> {
        self.print(&serde_json::json!({ "id": id }), || id.to_owned())
    }

    /// Prints "ok" (or `{"ok": true}`).
    pub(crate) fn ok(&self) -> Result<(), Error> {
        self.print(&serde_json::json!({ "ok": true }), || "ok".to_owned())
    }

    /// Prints a derived view: JSON, or its fields one per line.
    pub(crate) fn view<T: Serialize>(&self, value: &T) -> Result<(), Error> {
        let v = serde_json::to_value(value).map_err(|e| Error::Other(e.to_string()))?;
        self.print(&v, || render_text(&v, 0))
    }
}

/// Writes a line to stdout. A closed pipe (`noaber list all | head`) is not an error: the
/// reader has what it wanted.
pub(crate) fn say(line: &str) -> Result<(), Error> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Other(format!("cannot write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

/// Renders a JSON value as indented `key: value` lines.
fn render_text(v: &serde_json::Value, indent: usize) -> String {
    use serde_json::Value;
    let pad = "  ".repeat(indent);
    let mut out = String::new();
    match v {
        Value::Object(map) => {
            for (k, val) in map {
                match val {
                    Value::Null => {}
                    Value::Array(a) if a.is_empty() => {}
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{pad}{k}:\n{}", render_text(val, indent + 1)));
                    }
                    _ => {
                        let is_time = k.ends_with("_at")
                            || matches!(
                                k.as_str(),
                                "at" | "since" | "start" | "end" | "window_start" | "window_end"
                            );
                        let shown = match (is_time, val.as_i64()) {
                            (true, Some(ms)) => time::show(ms),
                            _ => scalar(val),
                        };
                        out.push_str(&format!("{pad}{k}: {shown}\n"));
                    }
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        let inner = render_text(item, indent + 1);
                        let inner = inner.trim_start();
                        out.push_str(&format!("{pad}- {inner}"));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn list(store: &Store, out: &Out, a: ListArgs) -> Result<(), Error> {
    let kind = match a.kind.as_str() {
        "all" => None,
        k => Some(Kind::parse(k)?),
    };
    let bbox = match a.bbox.as_deref() {
        None => None,
        Some(s) => {
            let parts: Vec<f64> = s
                .split(',')
                .map(|p| p.trim().parse::<f64>())
                .collect::<Result<_, _>>()
                .map_err(|_| Error::InvalidInput {
                    field: "bbox",
                    reason: format!("`{s}` is not SOUTH,WEST,NORTH,EAST"),
                })?;
            let [south, west, north, east] = parts[..] else {
                return Err(Error::InvalidInput {
                    field: "bbox",
                    reason: format!("`{s}` is not SOUTH,WEST,NORTH,EAST"),
                });
            };
            Some(noaber_core::BBox {
                south,
                west,
                north,
                east,
            })
        }
    };
    let q = ListQuery {
        kind,
        status: a.status,
        category: a.category,
        from: a.from,
        to: a.to,
        bbox,
        mine: a.mine,
        needs_response: a.needs_response,
        text: a.search,
        order: if a.upcoming {
            Order::Upcoming
        } else {
            Order::Recent
        },
        limit: a.limit,
        after: a.after,
    };
    let page = store.list(&q)?;
    print_page(out, &page)
}

fn print_page(out: &Out, page: &noaber_core::Page) -> Result<(), Error> {
    if out.json {
        // Scripts get the array; the cursor for the next page goes to stderr.
        out.print(&page.items, String::new)?;
        if let Some(next) = &page.next {
            eprintln!("next: {next}");
        }
        return Ok(());
    }
    for s in &page.items {
        let when = s.starts_at.map(time::show).unwrap_or_default();
        let cat = s.category.as_deref().unwrap_or("");
        let unsent = if s.unsynced { "  (not sent yet)" } else { "" };
        say(&format!(
            "{}  {:<8} {:<11} {:<12} {}  {}{unsent}",
            s.id,
            s.kind.as_str(),
            s.status,
            cat,
            s.title,
            when
        ))?;
    }
    if page.items.is_empty() {
        say("(nothing)")?;
    }
    if let Some(next) = &page.next {
        say(&format!("more: --after {next}"))?;
    }
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
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

fn sync_cmd(store: &Store, out: &Out, live: bool, buurt: Option<String>) -> Result<(), Error> {
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

/// Photo subcommands.
#[derive(Debug, Subcommand)]
enum PhotoCmd {
    /// Write a photo to a file: from this device if it holds it, else downloaded from the
    /// relay (exit code 3 and "pending" when the relay does not hold it yet).
    Fetch {
        /// SHA-256 of the photo (as `report show` lists it).
        hash: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// The buurt whose relay to ask (default: every joined buurt in turn).
        #[arg(long)]
        buurt: Option<String>,
    },
    /// Keep at most this many bytes of downloaded photos (photos waiting to upload are kept).
    CacheLimit {
        /// Bytes.
        bytes: u64,
    },
}

/// The exit code of `photo fetch` for a photo the relay does not hold yet.
const EXIT_PENDING: u8 = 3;

fn photo_cmd(store: &Store, out: &Out, cmd: PhotoCmd) -> Result<Option<u8>, Error> {
    match cmd {
        PhotoCmd::CacheLimit { bytes } => {
            store.set_photo_cache_limit(bytes)?;
            out.ok()?;
            Ok(None)
        }
        PhotoCmd::Fetch {
            hash,
            out: path,
            buurt,
        } => {
            let mut photo = store.photo(&hash)?;
            if photo.is_none() {
                let buurten = match buurt {
                    Some(b) => vec![store.buurt(&b)?.id],
                    None => store.buurten()?.into_iter().map(|b| b.id).collect(),
                };
                let client = noaber_core::sync::http::Client::new()?;
                let rt = runtime()?;
                for b in buurten {
                    photo = rt.block_on(client.fetch_photo(store, &b, &hash))?;
                    if photo.is_some() {
                        break;
                    }
                }
            }
            let Some(photo) = photo else {
                out.print(
                    &serde_json::json!({ "hash": hash, "state": "pending" }),
                    || format!("photo {hash} is pending: the relay does not hold it yet"),
                )?;
                return Ok(Some(EXIT_PENDING));
            };
            write_atomically(&path, &photo.bytes)?;
            out.print(
                &serde_json::json!({ "hash": hash, "mime": photo.mime, "size": photo.bytes.len(), "out": path }),
                || format!("wrote {} ({}, {} bytes)", path.display(), photo.mime, photo.bytes.len()),
            )?;
            Ok(None)
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a photo.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput {
            field: "out",
            reason: format!("`{}` names no file", path.display()),
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.part"));
    let fail = |e: std::io::Error| Error::InvalidInput {
        field: "out",
        reason: format!("cannot write `{}`: {e}", path.display()),
    };
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}

/// Runs the command; `Ok(Some(code))` for a non-error exit code other than 0.
fn run(cli: Cli) -> Result<Option<u8>, Error> {
    let out = Out { json: cli.json };
    let store = open(&cli.store)?;
    match cli.command {
        Command::Photo(cmd) => photo_cmd(&store, &out, cmd),
        command => run_command(&store, &out, command).map(|()| None),
    }
}

fn run_command(store: &Store, out: &Out, command: Command) -> Result<(), Error> {
    match command {
        Command::Whoami(a) => {
            let mut id = store.identity();
            if a.role.is_some() || a.name.is_some() || a.household.is_some() {
                let role = match a.role.as_deref() {
                    Some(r) => Role::parse(r)?,
                    None => id.role,
                };
                let name = a.name.or(id.display_name.clone());
                let household = a.household.or(id.household.clone());
                id = store.set_identity(role, name.as_deref(), household.as_deref())?;
            }
            out.print(&id, || {
                format!(
                    "member: {}\nrole: {}\nname: {}\nhousehold: {}",
                    id.member,
                    id.role.as_str(),
                    id.display_name.as_deref().unwrap_or("-"),
                    id.household.as_deref().unwrap_or("-")
                )
            })
        }
        Command::Help(cmd) => match cmd {
            HelpCmd::Ask(a) => out.id(store.create_help(&a.into_new(false))?.as_str()),
            HelpCmd::Offer(a) => out.id(store.create_help(&a.into_new(true))?.as_str()),
            HelpCmd::Show { id } => out.view(&store.help(&entity(&id)?)?),
            HelpCmd::Edit { id, title, body } => {
                store.edit_help(&entity(&id)?, title.as_deref(), body.as_deref())?;
                out.ok()
            }
            HelpCmd::Respond { id, message } => {
                store.respond_help(&entity(&id)?, &message)?;
                out.ok()
            }
            HelpCmd::Withdraw { id } => {
                store.withdraw_help_response(&entity(&id)?)?;
                out.ok()
            }
            HelpCmd::Match { id, helper } => {
                store.match_help(&entity(&id)?, &member(&helper)?)?;
                out.ok()
            }
            HelpCmd::Unmatch { id } => {
                store.unmatch_help(&entity(&id)?)?;
                out.ok()
            }
            HelpCmd::Done { id } => {
                store.complete_help(&entity(&id)?)?;
                out.ok()
            }
            HelpCmd::Cancel { id, reason } => {
                store.cancel_help(&entity(&id)?, &reason)?;
                out.ok()
            }
            HelpCmd::Thank { id, text } => {
                store.thank_help(&entity(&id)?, &text)?;
                out.ok()
            }
        },
        Command::Event(cmd) => kinds::event(store, out, cmd),
        Command::Task(cmd) => kinds::task(store, out, cmd),
        Command::Report(cmd) => kinds::report(store, out, cmd),
        Command::Profile(cmd) => kinds::profile(store, out, cmd),
        Command::Comment(cmd) => match cmd {
            CommentCmd::Add { id, text } => out.id(&store.add_comment(&entity(&id)?, &text)?),
            CommentCmd::Edit { id, comment, text } => {
                store.edit_comment(&entity(&id)?, &comment, &text)?;
                out.ok()
            }
            CommentCmd::Withdraw { id, comment } => {
                store.withdraw_comment(&entity(&id)?, &comment)?;
                out.ok()
            }
            CommentCmd::List { id } => {
                let comments = store.comments(&entity(&id)?)?;
                out.print(&comments, || {
                    comments
                        .iter()
                        .map(|c| {
                            let body = if c.withdrawn {
                                "(withdrawn)"
                            } else {
                                c.body.as_str()
                            };
                            format!("{}  {}  {}  {}", c.id, time::show(c.at), c.author, body)
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
        },
        Command::List(a) => list(store, out, a),
        Command::Search { text, limit } => {
            let page = store.list(&ListQuery {
                text: Some(text),
                limit,
                ..Default::default()
            })?;
            print_page(out, &page)
        }
        Command::Counts => {
            let counts = store.status_counts()?;
            out.print(&counts, || {
                counts
                    .iter()
                    .map(|c| format!("{:<8} {:<12} {}", c.kind.as_str(), c.status, c.count))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Notices => {
            let notices = store.my_notices()?;
            out.print(&notices, || {
                if notices.is_empty() {
                    return "(nothing)".into();
                }
                notices
                    .iter()
                    .map(|n| format!("{}  {}: {} ({})", n.entity, n.title, n.text, n.code))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
        }
        Command::Share { id, member: with } => {
            store.share(&entity(&id)?, &member(&with)?)?;
            out.ok()
        }
        Command::Readers { id } => out.view(&store.readers(&entity(&id)?)?),
        Command::Outbox => {
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
        Command::Join {
            url,
            code,
            name,
            member: as_member,
        } => {
            if let Some(m) = as_member {
                store.adopt_member(&member(&m)?)?;
            }
            let client = noaber_core::sync::http::Client::new()?;
            let b = runtime()?.block_on(client.join(store, &url, &code, &name))?;
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
        Command::Sync { live, buurt } => sync_cmd(store, out, live, buurt),
        Command::Status => {
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
        Command::Leave { buurt } => {
            store.leave_buurt(&buurt)?;
            out.ok()
        }
        Command::Rebuild => {
            let n = store.rebuild_projections()?;
            out.print(&serde_json::json!({ "rebuilt": n }), || {
                format!("rebuilt {n} entities")
            })
        }
        Command::Photo(cmd) => photo_cmd(store, out, cmd).map(|_| ()),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some(code)) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
