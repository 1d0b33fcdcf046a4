//! The relay's configuration: defaults, then a TOML file, then `NOABER_RELAY_*` environment
//! variables, then command-line flags — each overriding the one before.
//!
//! ```toml
//! # noaber-relay.toml
//! data = "/var/lib/noaber"
//! listen = "0.0.0.0:8080"
//! join_per_minute = 30
//! join_per_invite_per_minute = 10
//! trusted_proxies = ["127.0.0.1"]   # behind nginx on the same machine
//! # Optional: keep the relay's state in PostgreSQL instead of SQLite in `data`.
//! # postgres = "host=/run/postgresql user=noaber dbname=noaber"
//! # Photos (in `data/blobs/`, or in the database with `postgres`): per device, bytes stored
//! # and sent.
//! blob_quota_bytes = 500000000
//! blob_rate_bytes_per_minute = 20000000
//! # Prometheus `/metrics`, on its own address (unset: not served).
//! metrics_listen = "127.0.0.1:9090"
//! # Connections and timeouts (the defaults; see docs/protocol.md, "Transport limits").
//! max_connections = 20000
//! max_connections_per_address = 256
//! http_header_timeout_secs = 10
//! http_idle_timeout_secs = 60
//! http_body_timeout_secs = 60
//! http_max_header_bytes = 16384
//! live_max = 16000
//! live_per_buurt = 4000
//! ```
//!
//! Every key can also be set as `NOABER_RELAY_<KEY>` (`NOABER_RELAY_DATA`,
//! `NOABER_RELAY_LISTEN`, `NOABER_RELAY_POSTGRES`, ...). Unknown keys in the file are an error,
//! so a typo is noticed. The `postgres` connection string may hold a password: it is never
//! logged, and `Debug` leaves it out.

use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Everything `noaber-relay serve` can be told.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The data directory (holds `relay.sqlite3`, and the photos in `blobs/`).
    pub data: PathBuf,
    /// The address to listen on.
    pub listen: String,
    /// Join attempts a client address may make per minute, sustained.
    pub join_per_minute: u32,
    /// Join attempts a client address may make at once.
    pub join_burst: u32,
    /// Join attempts naming one invite code (from any address) per minute, sustained.
    pub join_per_invite_per_minute: u32,
    /// Join attempts naming one invite code (from any address) at once.
    pub join_per_invite_burst: u32,
    /// Reverse proxies (their IP addresses) whose `X-Forwarded-For` is believed: a request
    /// from one of them is rate-limited by the address the proxy saw, not by the proxy's own.
    /// Empty (the default): the header is ignored, as anyone can send it.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Seconds between pings on a live connection.
    pub live_ping_secs: u64,
    /// A live connection silent this long (no pong, no message) is closed.
    pub live_idle_secs: u64,
    /// Live connections one device may hold; a further one closes the oldest.
    pub live_per_device: usize,
    /// Documents kept loaded for validation, in all (LRU, shared out among the cache's shards;
    /// memory does not grow with the documents stored: a small document costs ~17 KB).
    pub doc_cache: usize,
    /// A PostgreSQL connection string (`host=/run/postgresql user=noaber dbname=noaber` or a
    /// `postgres://` URL). When set, the relay keeps its state there, the photos' bytes
    /// included, so several relays can share it; `data` then holds nothing they must share
    /// (photo files of an older relay found in `data/blobs/` are imported at start).
    pub postgres: Option<String>,
    /// Most connections to PostgreSQL the relay holds at once.
    pub postgres_pool: usize,
    /// Photo bytes one device may keep on the relay: the photos it uploaded (each upload,
    /// also of bytes the relay already stored) plus its uploads in progress (`403
    /// quota_exceeded` beyond; checked and reserved in one transaction).
    pub blob_quota_bytes: u64,
    /// Photo bytes one device may send per minute (`429 rate_limited` beyond); at least one
    /// chunk (1 MiB).
    pub blob_rate_bytes_per_minute: u64,
    /// Where to serve `GET /metrics` (Prometheus text), e.g. `127.0.0.1:9090`. Unset (the
    /// default): metrics are not served. Never on the public `listen` address.
    pub metrics_listen: Option<String>,
    /// Connections open at once, in all (WebSockets included); a further one is closed at
    /// once. Lowered at start to what the open-file limit allows (see `transport`).
    pub max_connections: usize,
    /// Connections open at once from one address (an IPv6 address counts by its /64); a
    /// further one is closed at once. Connections from `trusted_proxies` count only in all.
    pub max_connections_per_address: usize,
    /// HTTP/1.1: a request's head (request line and headers) must arrive within this many
    /// seconds of the connection being ready for it (after accepting it, after each answer).
    pub http_header_timeout_secs: u64,
    /// A connection with no request in progress for this many seconds is closed (HTTP/1.1
    /// and HTTP/2; a live WebSocket has its own `live_idle_secs`).
    pub http_idle_timeout_secs: u64,
    /// A request's body must arrive within this many seconds of its head
    /// (`408 request_timeout` beyond).
    pub http_body_timeout_secs: u64,
    /// Largest request head: HTTP/1.1 read buffer, HTTP/2 header list (bytes).
    pub http_max_header_bytes: usize,
    /// Live connections (`/v1/live`) open at once, in all (`503 live_full` beyond).
    pub live_max: usize,
    /// Live connections open at once for one buurt (`503 live_full` beyond).
    pub live_per_buurt: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Every field but the connection string, which may hold a password.
        let Config {
            data,
            listen,
            join_per_minute,
            join_burst,
            join_per_invite_per_minute,
            join_per_invite_burst,
            trusted_proxies,
            live_ping_secs,
            live_idle_secs,
            live_per_device,
            doc_cache,
            postgres,
            postgres_pool,
            blob_quota_bytes,
            blob_rate_bytes_per_minute,
            metrics_listen,
            max_connections,
            max_connections_per_address,
            http_header_timeout_secs,
            http_idle_timeout_secs,
            http_body_timeout_secs,
            http_max_header_bytes,
            live_max,
            live_per_buurt,
        } = self;
        f.debug_struct("Config")
            .field("data", data)
            .field("listen", listen)
            .field("join_per_minute", join_per_minute)
            .field("join_burst", join_burst)
            .field("join_per_invite_per_minute", join_per_invite_per_minute)
            .field("join_per_invite_burst", join_per_invite_burst)
            .field("trusted_proxies", trusted_proxies)
            .field("live_ping_secs", live_ping_secs)
            .field("live_idle_secs", live_idle_secs)
            .field("live_per_device", live_per_device)
            .field("doc_cache", doc_cache)
            .field("postgres", &postgres.as_ref().map(|_| "(set)"))
            .field("postgres_pool", postgres_pool)
            .field("blob_quota_bytes", blob_quota_bytes)
            .field("blob_rate_bytes_per_minute", blob_rate_bytes_per_minute)
            .field("metrics_listen", metrics_listen)
            .field("max_connections", max_connections)
            .field("max_connections_per_address", max_connections_per_address)
            .field("http_header_timeout_secs", http_header_timeout_secs)
            .field("http_idle_timeout_secs", http_idle_timeout_secs)
            .field("http_body_timeout_secs", http_body_timeout_secs)
            .field("http_max_header_bytes", http_max_header_bytes)
            .field("live_max", live_max)
            .field("live_per_buurt", live_per_buurt)
            .finish()
    }
}

/// The configuration's keys (for the environment provider).
const KEYS: &[&str] = &[
    "data",
    "listen",
    "join_per_minute",
    "join_burst",
    "join_per_invite_per_minute",
    "join_per_invite_burst",
    "trusted_proxies",
    "live_ping_secs",
    "live_idle_secs",
    "live_per_device",
    "doc_cache",
    "postgres",
    "postgres_pool",
    "blob_quota_bytes",
    "blob_rate_bytes_per_minute",
    "metrics_listen",
    "max_connections",
    "max_connections_per_address",
    "http_header_timeout_secs",
    "http_idle_timeout_secs",
    "http_body_timeout_secs",
    "http_max_header_bytes",
    "live_max",
    "live_per_buurt",
];

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("./noaber-data"),
            listen: "127.0.0.1:8080".into(),
            join_per_minute: 30,
            join_burst: 60,
            join_per_invite_per_minute: 10,
            join_per_invite_burst: 30,
            trusted_proxies: Vec::new(),
            live_ping_secs: 30,
            live_idle_secs: 90,
            live_per_device: 4,
            doc_cache: 1024,
            postgres: None,
            postgres_pool: crate::storage::DEFAULT_POOL_SIZE,
            blob_quota_bytes: 500_000_000,
            blob_rate_bytes_per_minute: 20_000_000,
            metrics_listen: None,
            max_connections: 20_000,
            max_connections_per_address: 256,
            http_header_timeout_secs: 10,
            http_idle_timeout_secs: 60,
            http_body_timeout_secs: 60,
            http_max_header_bytes: 16 * 1024,
            live_max: 16_000,
            live_per_buurt: 4_000,
        }
    }
}

impl Config {
    /// A default configuration with its data directory at `data` (tests, embedding).
    pub fn with_data(data: impl Into<PathBuf>) -> Self {
        Config {
            data: data.into(),
            ..Config::default()
        }
    }

    /// Reads the configuration: defaults, the TOML `file` if given, `NOABER_RELAY_*`
    /// environment variables, then `overrides` (the command line's flags).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for an unreadable file, an unknown key or a value of the wrong type;
    /// [`Error::InvalidInput`] for values out of range.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(Error::Config(format!(
                    "`{}` does not exist",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        // Only the keys above: other `NOABER_RELAY_*` variables (the CLI's, a wrapper's) are
        // none of the relay's business and must not fail it.
        figment = figment.merge(Env::prefixed("NOABER_RELAY_").only(KEYS));
        if let Some(data) = overrides.data {
            figment = figment.merge(Serialized::default("data", data));
        }
        if let Some(listen) = overrides.listen {
            figment = figment.merge(Serialized::default("listen", listen));
        }
        if let Some(postgres) = overrides.postgres {
            figment = figment.merge(Serialized::default("postgres", postgres));
        }
        if let Some(metrics) = overrides.metrics_listen {
            figment = figment.merge(Serialized::default("metrics_listen", metrics));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| Error::Config(e.to_string()))?;
        config.check()?;
        Ok(config)
    }

    /// Checks ranges.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first value out of range.
    pub fn check(&self) -> Result<()> {
        let range = |field: &'static str, v: u64, lo: u64, hi: u64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(Error::invalid(field, format!("{v} is not in {lo}..={hi}")))
            }
        };
        range("join_per_minute", self.join_per_minute.into(), 1, 100_000)?;
        range("join_burst", self.join_burst.into(), 1, 100_000)?;
        range(
            "join_per_invite_per_minute",
            self.join_per_invite_per_minute.into(),
            1,
            100_000,
        )?;
        range(
            "join_per_invite_burst",
            self.join_per_invite_burst.into(),
            1,
            100_000,
        )?;
        range("live_ping_secs", self.live_ping_secs, 1, 3_600)?;
        range(
            "live_idle_secs",
            self.live_idle_secs,
            self.live_ping_secs,
            7_200,
        )?;
        range("live_per_device", self.live_per_device as u64, 1, 64)?;
        range("doc_cache", self.doc_cache as u64, 1, 100_000)?;
        range("postgres_pool", self.postgres_pool as u64, 1, 1_000)?;
        range("blob_quota_bytes", self.blob_quota_bytes, 0, 1 << 50)?;
        range(
            "blob_rate_bytes_per_minute",
            self.blob_rate_bytes_per_minute,
            crate::blob::MAX_CHUNK_BYTES as u64,
            1 << 40,
        )?;
        range("max_connections", self.max_connections as u64, 2, 1_000_000)?;
        range(
            "max_connections_per_address",
            self.max_connections_per_address as u64,
            1,
            self.max_connections as u64,
        )?;
        range(
            "http_header_timeout_secs",
            self.http_header_timeout_secs,
            1,
            300,
        )?;
        range(
            "http_idle_timeout_secs",
            self.http_idle_timeout_secs,
            1,
            3_600,
        )?;
        range(
            "http_body_timeout_secs",
            self.http_body_timeout_secs,
            1,
            3_600,
        )?;
        range(
            "http_max_header_bytes",
            self.http_max_header_bytes as u64,
            crate::transport::MIN_HEADER_BYTES as u64,
            1 << 20,
        )?;
        // Live sockets are connections too: leave room for HTTP requests beside them.
        range(
            "live_max",
            self.live_max as u64,
            1,
            self.max_connections as u64 - 1,
        )?;
        range(
            "live_per_buurt",
            self.live_per_buurt as u64,
            1,
            self.live_max as u64,
        )?;
        let blank = |v: &Option<String>| v.as_deref().is_some_and(|p| p.trim().is_empty());
        if blank(&self.postgres) {
            return Err(Error::invalid("postgres", "is empty"));
        }
        if blank(&self.metrics_listen) {
            return Err(Error::invalid("metrics_listen", "is empty"));
        }
        // (Port 0 picks a free port for each: the same text is then two addresses.)
        if self.metrics_listen.as_deref() == Some(self.listen.as_str())
            && !self.listen.ends_with(":0")
        {
            return Err(Error::invalid(
                "metrics_listen",
                format!("`{}` is the public `listen` address", self.listen),
            ));
        }
        Ok(())
    }

    pub(crate) fn ping_interval(&self) -> Duration {
        Duration::from_secs(self.live_ping_secs)
    }

    pub(crate) fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.live_idle_secs)
    }

    pub(crate) fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.http_header_timeout_secs)
    }

    pub(crate) fn http_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.http_idle_timeout_secs)
    }

    pub(crate) fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.http_body_timeout_secs)
    }
}

/// Values given on the command line, which win over everything else.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--data`.
    pub data: Option<PathBuf>,
    /// `--listen`.
    pub listen: Option<String>,
    /// `--postgres` (a connection string; never printed).
    pub postgres: Option<String>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<String>,
}

impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Overrides {
            data,
            listen,
            postgres,
            metrics_listen,
        } = self;
        f.debug_struct("Overrides")
            .field("data", data)
            .field("listen", listen)
            .field("postgres", &postgres.as_ref().map(|_| "(set)"))
            .field("metrics_listen", metrics_listen)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail dictates the closure's error type
    fn file_env_and_flags_override_in_order() -> Result<()> {
        figment::Jail::expect_with(|jail| {
            jail.create_file("relay.toml", "listen = \"0.0.0.0:9000\"\njoin_burst = 3\n")?;
            jail.set_env("NOABER_RELAY_JOIN_BURST", "4");
            jail.set_env("NOABER_RELAY_DATA", "/from/env");
            jail.set_env("NOABER_RELAY_SOMETHING_ELSE", "ignored");
            let c = Config::load(Some(Path::new("relay.toml")), Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.listen, "0.0.0.0:9000");
            assert_eq!(c.join_burst, 4);
            assert_eq!(c.data, PathBuf::from("/from/env"));
            let c = Config::load(
                Some(Path::new("relay.toml")),
                Overrides {
                    data: Some("/from/flag".into()),
                    ..Overrides::default()
                },
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(c.data, PathBuf::from("/from/flag"));
            jail.create_file("typo.toml", "lisen = \"x\"\n")?;
            assert!(Config::load(Some(Path::new("typo.toml")), Overrides::default()).is_err());
            assert!(Config::load(Some(Path::new("missing.toml")), Overrides::default()).is_err());
            Ok(())
        });
        Ok(())
    }

    #[test]
    fn the_environment_keys_name_every_field() -> Result<()> {
        let value =
            serde_json::to_value(Config::default()).map_err(|e| Error::Other(e.to_string()))?;
        let mut fields: Vec<&str> = value
            .as_object()
            .map(|o| o.keys().map(String::as_str).collect())
            .unwrap_or_default();
        fields.sort_unstable();
        let mut keys = KEYS.to_vec();
        keys.sort_unstable();
        assert_eq!(fields, keys);
        Ok(())
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail dictates the closure's error type
    fn postgres_comes_from_file_env_or_flag_and_is_never_printed() -> Result<()> {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(c.postgres, None);
            jail.create_file(
                "relay.toml",
                "postgres = \"host=/f dbname=a\"\npostgres_pool = 3\n",
            )?;
            let c = Config::load(Some(Path::new("relay.toml")), Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(c.postgres.as_deref(), Some("host=/f dbname=a"));
            assert_eq!(c.postgres_pool, 3);
            jail.set_env(
                "NOABER_RELAY_POSTGRES",
                "postgres://noaber:s3cret@db/noaber",
            );
            let c = Config::load(Some(Path::new("relay.toml")), Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(
                c.postgres.as_deref(),
                Some("postgres://noaber:s3cret@db/noaber")
            );
            assert!(!format!("{c:?}").contains("s3cret"));
            let flags = Overrides {
                postgres: Some("host=/flag password=hunter2".into()),
                ..Overrides::default()
            };
            assert!(!format!("{flags:?}").contains("hunter2"));
            let c = Config::load(None, flags).map_err(|e| e.to_string())?;
            assert_eq!(c.postgres.as_deref(), Some("host=/flag password=hunter2"));
            jail.create_file("zero.toml", "postgres_pool = 0\n")?;
            assert!(Config::load(Some(Path::new("zero.toml")), Overrides::default()).is_err());
            Ok(())
        });
        Ok(())
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail dictates the closure's error type
    fn photo_limits_come_from_file_or_env() -> Result<()> {
        figment::Jail::expect_with(|jail| {
            let c = Config::load(None, Overrides::default()).map_err(|e| e.to_string())?;
            assert_eq!(
                (c.blob_quota_bytes, c.blob_rate_bytes_per_minute),
                (500_000_000, 20_000_000)
            );
            jail.create_file("relay.toml", "blob_quota_bytes = 1000\n")?;
            jail.set_env("NOABER_RELAY_BLOB_RATE_BYTES_PER_MINUTE", "2000000");
            let c = Config::load(Some(Path::new("relay.toml")), Overrides::default())
                .map_err(|e| e.to_string())?;
            assert_eq!(
                (c.blob_quota_bytes, c.blob_rate_bytes_per_minute),
                (1000, 2_000_000)
            );
            jail.set_env("NOABER_RELAY_BLOB_RATE_BYTES_PER_MINUTE", "1000");
            assert!(Config::load(None, Overrides::default()).is_err());
            Ok(())
        });
        Ok(())
    }

    #[test]
    fn ranges_are_checked() {
        assert!(Config::default().check().is_ok());
        let c = Config {
            live_idle_secs: 1,
            ..Config::default()
        };
        assert!(c.check().is_err());
        for bad in [
            Config {
                max_connections_per_address: 20_001,
                ..Config::default()
            },
            Config {
                live_max: 20_000,
                ..Config::default()
            },
            Config {
                live_per_buurt: 16_001,
                ..Config::default()
            },
            Config {
                http_header_timeout_secs: 0,
                ..Config::default()
            },
            Config {
                http_max_header_bytes: 1024,
                ..Config::default()
            },
            Config {
                metrics_listen: Some("127.0.0.1:8080".into()),
                ..Config::default()
            },
            Config {
                metrics_listen: Some(" ".into()),
                ..Config::default()
            },
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
