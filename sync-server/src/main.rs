//! `noaber-relay`: serve the relay, or administer its data.
//!
//! `main` only parses arguments and configuration, installs the log subscriber, raises the
//! open-file limit, binds the listeners (public, and metrics when `metrics_listen` is set) and
//! calls [`noaber_relay::serve`]; administration prints JSON on stdout.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use noaber_core::{MemberId, Role};
use noaber_relay::admin::{self, InviteOptions};
use noaber_relay::storage::{PostgresStorage, SqliteStorage, Storage};
use noaber_relay::{BuurtId, Config, DeviceId, Error, Overrides, Relay, Result};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(name = "noaber-relay", version, about = "Noaber's relay server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the relay (SQLite in the data directory, or PostgreSQL with `--postgres`).
    Serve {
        /// Data directory [default: ./noaber-data; env NOABER_RELAY_DATA].
        #[arg(long)]
        data: Option<PathBuf>,
        /// Address to listen on [default: 127.0.0.1:8080; env NOABER_RELAY_LISTEN].
        #[arg(long)]
        listen: Option<String>,
        /// Keep the state in PostgreSQL: a connection string such as
        /// `host=/run/postgresql user=noaber dbname=noaber` [env NOABER_RELAY_POSTGRES].
        /// A password here shows in the process list: prefer the environment or the file.
        #[arg(long)]
        postgres: Option<String>,
        /// Serve Prometheus `/metrics` on this address, e.g. `127.0.0.1:9090` [default: not
        /// served; env NOABER_RELAY_METRICS_LISTEN]. Never the public `--listen` address.
        #[arg(long)]
        metrics_listen: Option<String>,
        /// A TOML configuration file [env NOABER_RELAY_CONFIG].
        #[arg(long, env = "NOABER_RELAY_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Administer buurten, invites, members and devices (prints JSON).
    Admin {
        /// Data directory.
        #[arg(
            long,
            global = true,
            env = "NOABER_RELAY_DATA",
            default_value = "./noaber-data"
        )]
        data: PathBuf,
        /// The relay's PostgreSQL database, when it uses one (a connection string).
        #[arg(
            long,
            global = true,
            env = "NOABER_RELAY_POSTGRES",
            hide_env_values = true
        )]
        postgres: Option<String>,
        #[command(subcommand)]
        command: Admin,
    },
}

#[derive(Debug, Subcommand)]
enum Admin {
    /// Create a buurt; prints its id and a one-use organiser invite.
    CreateBuurt {
        /// The buurt's name.
        name: String,
    },
    /// List the buurten.
    Buurten,
    /// Create an invite code.
    Invite {
        /// The buurt (id).
        #[arg(long)]
        buurt: String,
        /// The role it gives: resident, caretaker, organiser or staff.
        #[arg(long, default_value = "resident")]
        role: String,
        /// Expiry: `30m`, `12h`, `7d` or an RFC 3339 time.
        #[arg(long, default_value = admin::DEFAULT_EXPIRY)]
        expires: String,
        /// How many joins it admits.
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Bind it to an existing member: it enrols a further device of theirs.
        #[arg(long)]
        member: Option<String>,
    },
    /// List a buurt's members.
    Members {
        /// The buurt (id).
        #[arg(long)]
        buurt: String,
    },
    /// List a buurt's devices.
    Devices {
        /// The buurt (id).
        #[arg(long)]
        buurt: String,
    },
    /// Revoke a device: its token stops working.
    RevokeDevice {
        /// The device (id).
        #[arg(long)]
        device: String,
    },
    /// Change a member's role.
    SetRole {
        /// The buurt (id).
        #[arg(long)]
        buurt: String,
        /// The member (id).
        #[arg(long)]
        member: String,
        /// The new role: resident, caretaker, organiser or staff.
        #[arg(long)]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            data,
            listen,
            postgres,
            metrics_listen,
            config,
        } => serve(
            config,
            Overrides {
                data,
                listen,
                postgres,
                metrics_listen,
            },
        ),
        Command::Admin {
            data,
            postgres,
            command,
        } => run_admin(&data, postgres.as_deref(), command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Blocking threads the relay's runtime may run at once; at most `HEAVY_TASKS` (2) of them
/// validate or load documents, the rest stay free for token lookups and storage reads.
const BLOCKING_THREADS: usize = 4;

fn serve(file: Option<PathBuf>, overrides: Overrides) -> Result<()> {
    let config = Config::load(file.as_deref(), overrides)?;
    init_tracing();
    // Every connection is a file descriptor: take what the hard limit allows (`serve` keeps
    // its connection cap below it and logs both).
    let before = noaber_relay::transport::fd_limit();
    let after = noaber_relay::transport::raise_fd_limit();
    if let (Some((soft, hard)), Some(now)) = (before, after) {
        tracing::info!(before = soft, after = now, hard, "open-file limit");
    }
    // Storage and validation run on blocking threads. A few are enough on the machines a
    // housing corporation runs (validation of one buurt is serial; the durable commit happens
    // on its own writer thread, which requests await without a blocking thread); hundreds
    // (tokio's default cap of 512) only cost memory: glibc gives threads their own malloc
    // arenas, whose freed memory fragments. With 16 the relay's resident memory wandered
    // between 316 and 435 MB while it stored 100 000 documents; with 4 it stays at ~150 MB and
    // still commits 7 000+ changes/s (`noaber-bench relay`, docs/BENCHMARKS.md).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()?;
    runtime.block_on(async move {
        let relay = Relay::open(&config)?;
        let listener = tokio::net::TcpListener::bind(&config.listen)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on `{}`: {e}", config.listen)))?;
        let addr = listener.local_addr()?;
        let metrics = match &config.metrics_listen {
            Some(at) => Some(tokio::net::TcpListener::bind(at).await.map_err(|e| {
                Error::Config(format!("cannot listen on `{at}` (`metrics_listen`): {e}"))
            })?),
            None => None,
        };
        if config.postgres.is_some() {
            // Never the connection string: it may hold a password.
            tracing::info!(%addr, storage = "postgres", "relay listening");
        } else {
            tracing::info!(%addr, data = %config.data.display(), "relay listening");
        }
        // A stable line for scripts and tests that start the relay on port 0.
        println!("listening on {addr}");
        if relay.storage().buurten()?.is_empty() {
            first_start_hint(&config, &addr.to_string());
        }
        noaber_relay::serve(listener, metrics, relay, shutdown_signal()).await
    })
}

fn first_start_hint(config: &Config, addr: &str) {
    let target = if config.postgres.is_some() {
        // The admin commands read NOABER_RELAY_POSTGRES; the string itself is never printed.
        "--postgres \"$NOABER_RELAY_POSTGRES\"".to_owned()
    } else {
        format!("--data {}", config.data.display())
    };
    eprintln!(
        "\nThis relay has no buurt yet. Create one (prints a one-use organiser invite):\n\n    \
         noaber-relay admin create-buurt \"Our buurt\" {target}\n\n\
         then join it from a device with that code:\n\n    \
         noaber --store ./my-store join http://{addr} ABCD-EFGH-JKMN --name \"Your name\"\n\n\
         and invite neighbours:\n\n    \
         noaber-relay admin invite {target} --buurt <buurt_id> --role resident --uses 20\n"
    );
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn print(value: &impl Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Other(format!("json encoding: {e}")))?;
    println!("{text}");
    Ok(())
}

fn role(s: &str) -> Result<Role> {
    Role::parse(s).map_err(|_| Error::InvalidInput {
        field: "role",
        reason: format!("`{s}` is not one of resident, caretaker, organiser, staff"),
    })
}

fn member(s: &str) -> Result<MemberId> {
    MemberId::parse(s).map_err(|_| Error::InvalidInput {
        field: "member",
        reason: format!("`{s}` is not 32 lowercase hex digits"),
    })
}

/// Connections an admin command may hold (it makes one call at a time).
const ADMIN_POOL: usize = 2;

fn run_admin(data: &std::path::Path, postgres: Option<&str>, command: Admin) -> Result<()> {
    let storage: Box<dyn Storage> = match postgres {
        Some(conn) => Box::new(PostgresStorage::open(conn, ADMIN_POOL)?),
        None => {
            if !data.join(noaber_relay::storage::DB_FILE).exists()
                && !matches!(command, Admin::CreateBuurt { .. })
            {
                return Err(Error::Config(format!(
                    "no relay data in `{}`; create a buurt first or pass --data",
                    data.display()
                )));
            }
            Box::new(SqliteStorage::open_dir(data)?)
        }
    };
    let storage = storage.as_ref();
    let now = jiff::Timestamp::now().as_millisecond();
    match command {
        Admin::CreateBuurt { name } => print(&admin::create_buurt(storage, &name, now)?),
        Admin::Buurten => print(&storage.buurten()?),
        Admin::Invite {
            buurt,
            role: r,
            expires,
            uses,
            member: m,
        } => {
            let opts = InviteOptions {
                role: role(&r)?,
                expires,
                uses,
                member: m.as_deref().map(member).transpose()?,
            };
            print(&admin::create_invite(
                storage,
                &BuurtId::parse(&buurt)?,
                &opts,
                now,
            )?)
        }
        Admin::Members { buurt } => print(&admin::members(storage, &BuurtId::parse(&buurt)?)?),
        Admin::Devices { buurt } => print(&admin::devices(storage, &BuurtId::parse(&buurt)?)?),
        Admin::RevokeDevice { device } => {
            let device = DeviceId::parse(&device)?;
            admin::revoke_device(storage, &device, now)?;
            print(&serde_json::json!({ "revoked": device }))
        }
        Admin::SetRole {
            buurt,
            member: m,
            role: r,
        } => {
            let (buurt, m, r) = (BuurtId::parse(&buurt)?, member(&m)?, role(&r)?);
            admin::set_role(storage, &buurt, &m, r)?;
            print(&serde_json::json!({ "buurt": buurt, "member": m, "role": r }))
        }
    }
}
