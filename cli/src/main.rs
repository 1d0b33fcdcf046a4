//! `noaber`: the desktop shell for organisers and scripts.
//!
//! Every subcommand works on a local store (`--store DIR`, or `NOABER_STORE`), offline.
//! Output is for people by default and JSON with `--json`. Errors go to stderr with exit code 1
//! (2 for a malformed command line, malformed ids included).
//!
//! One module per command group; `args` holds the shared value parsers and flag groups, `out`
//! the text/JSON rendering.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use noaber_core::{Error, Store};

mod args;
mod comment;
mod event;
mod help;
mod list;
mod out;
mod photo;
mod profile;
mod report;
mod share;
mod sync;
mod task;
mod time;
mod whoami;

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
    Whoami(whoami::WhoamiArgs),
    /// Help requests and offers.
    #[command(subcommand)]
    Help(help::HelpCmd),
    /// Buurt events: RSVPs, waitlists, volunteer shifts.
    #[command(subcommand)]
    Event(event::EventCmd),
    /// Ownership tasks: adopt, back up, record occurrences.
    #[command(subcommand)]
    Task(task::TaskCmd),
    /// Environment issue reports.
    #[command(subcommand)]
    Report(report::ReportCmd),
    /// Member profiles.
    #[command(subcommand)]
    Profile(profile::ProfileCmd),
    /// Comments on any entity.
    #[command(subcommand)]
    Comment(comment::CommentCmd),
    /// List entities of one kind, or of all kinds.
    List(list::ListArgs),
    /// Full-text search over titles, bodies and comments.
    Search(list::SearchArgs),
    /// Counts per kind and status (an organiser's overview).
    Counts,
    /// What you should be told (lost claims, superseded matches, waitlist).
    Notices,
    /// Local changes not yet acknowledged by a relay.
    Outbox,
    /// Share a document written for the organisers or the participants with one more member
    /// (its creator or an organiser may).
    Share(share::ShareArgs),
    /// Who reads a document: its audience and its readers besides the organisers.
    Readers(share::ReadersArgs),
    /// Derive every projection again from the documents.
    Rebuild,
    /// Join a buurt on a relay with an invite code.
    Join(sync::JoinArgs),
    /// Sync with the relay: push local changes, pull everyone else's (one pass, or `--live`).
    Sync(sync::SyncArgs),
    /// Sync status per buurt: pending changes, last sync, last error; and the photo upload
    /// queue.
    Status,
    /// Photos on reports.
    #[command(subcommand)]
    Photo(photo::PhotoCmd),
    /// Leave a buurt: forget its token and remove its data from this device.
    Leave(sync::LeaveArgs),
}

/// Opens the store in `dir`, creating the folder.
fn open(dir: &std::path::Path) -> Result<Store, Error> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Storage(format!("cannot create `{}`: {e}", dir.display())))?;
    Store::open(dir.join("noaber.db"))
}

/// Runs the command; `Ok(Some(code))` for a non-error exit code other than 0.
fn run(cli: Cli) -> Result<Option<u8>, Error> {
    let o = &out::Out { json: cli.json };
    let s = &open(&cli.store)?;
    match cli.command {
        Command::Whoami(a) => whoami::run(s, o, a),
        Command::Help(c) => help::run(s, o, c),
        Command::Event(c) => event::run(s, o, c),
        Command::Task(c) => task::run(s, o, c),
        Command::Report(c) => report::run(s, o, c),
        Command::Profile(c) => profile::run(s, o, c),
        Command::Comment(c) => comment::run(s, o, c),
        Command::List(a) => list::list(s, o, a),
        Command::Search(a) => list::search(s, o, a),
        Command::Counts => list::counts(s, o),
        Command::Notices => list::notices(s, o),
        Command::Rebuild => list::rebuild(s, o),
        Command::Share(a) => share::share(s, o, a),
        Command::Readers(a) => share::readers(s, o, a),
        Command::Outbox => sync::outbox(s, o),
        Command::Join(a) => sync::join(s, o, a),
        Command::Sync(a) => sync::sync(s, o, a),
        Command::Status => sync::status(s, o),
        Command::Leave(a) => sync::leave(s, o, a),
        Command::Photo(c) => return photo::run(s, o, c),
    }
    .map(|()| None)
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
