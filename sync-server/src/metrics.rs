//! Prometheus metrics, served at `GET /metrics` on the `metrics_listen` address only.
//!
//! The `metrics` facade has one recorder per process, so the first [`crate::Relay`] installs
//! the Prometheus recorder and every later relay in the same process (tests) shares it. If the
//! embedding program installed another recorder first, `/metrics` answers 404.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `relay_http_requests_total` | counter | `route`, `status` |
//! | `relay_http_request_seconds` | histogram | `route` |
//! | `relay_changes_accepted_total` | counter | |
//! | `relay_changes_duplicate_total` | counter | (accepted changes the log already had) |
//! | `relay_changes_rejected_total` | counter | `code` |
//! | `relay_commit_batch_changes` | histogram | (changes per group commit) |
//! | `relay_commit_batch_requests` | histogram | (requests per group commit) |
//! | `relay_commit_seconds` | histogram | (one commit, fsync included) |
//! | `relay_live_connections` | gauge | |
//! | `relay_live_refused_total` | counter | `scope` (`buurt`, `all`: which live cap was full) |
//! | `relay_connections` | gauge | (open TCP connections, live ones included) |
//! | `relay_connections_refused_total` | counter | `reason` (`full`, `address`: closed unread; `accept`: accept failed) |
//! | `relay_joins_total` | counter | `outcome` |
//! | `relay_blob_bytes_uploaded_total` | counter | (photo bytes written to partial uploads) |
//! | `relay_blob_bytes_served_total` | counter | (photo bytes answered to fetches) |
//! | `relay_blob_uploads_completed_total` | counter | |
//! | `relay_blob_uploads_rejected_total` | counter | `code` (`hash_mismatch`, `photo_rejected`) |
//! | `relay_postgres_listening` | gauge | (1 while listening for other relays' commits on PostgreSQL) |

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub(crate) const HTTP_REQUESTS: &str = "relay_http_requests_total";
pub(crate) const HTTP_SECONDS: &str = "relay_http_request_seconds";
pub(crate) const ACCEPTED: &str = "relay_changes_accepted_total";
pub(crate) const DUPLICATES: &str = "relay_changes_duplicate_total";
pub(crate) const REJECTED: &str = "relay_changes_rejected_total";
pub(crate) const BATCH_CHANGES: &str = "relay_commit_batch_changes";
pub(crate) const BATCH_REQUESTS: &str = "relay_commit_batch_requests";
pub(crate) const COMMIT_SECONDS: &str = "relay_commit_seconds";
pub(crate) const LIVE: &str = "relay_live_connections";
pub(crate) const LIVE_REFUSED: &str = "relay_live_refused_total";
pub(crate) const CONNECTIONS: &str = "relay_connections";
pub(crate) const CONNECTIONS_REFUSED: &str = "relay_connections_refused_total";
pub(crate) const JOINS: &str = "relay_joins_total";
pub(crate) const BLOB_BYTES_UPLOADED: &str = "relay_blob_bytes_uploaded_total";
pub(crate) const BLOB_BYTES_SERVED: &str = "relay_blob_bytes_served_total";
pub(crate) const BLOB_UPLOADS_COMPLETED: &str = "relay_blob_uploads_completed_total";
pub(crate) const BLOB_UPLOADS_REJECTED: &str = "relay_blob_uploads_rejected_total";
pub(crate) const PG_LISTENING: &str = "relay_postgres_listening";

const SECONDS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];
const COUNTS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

fn build() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Prefix("relay_commit_batch".into()), COUNTS)
        });
    match builder.and_then(PrometheusBuilder::install_recorder) {
        Ok(handle) => {
            describe();
            Some(handle)
        }
        Err(e) => {
            tracing::warn!(error = %e, "metrics recorder not installed; /metrics is disabled");
            None
        }
    }
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    describe_histogram!(
        HTTP_SECONDS,
        Unit::Seconds,
        "time to answer a request, by route"
    );
    describe_counter!(
        ACCEPTED,
        "pushed changes accepted (stored or already present)"
    );
    describe_counter!(DUPLICATES, "accepted changes the log already had");
    describe_counter!(REJECTED, "pushed changes rejected, by code");
    describe_histogram!(BATCH_CHANGES, "changes written per group commit");
    describe_histogram!(BATCH_REQUESTS, "requests answered per group commit");
    describe_histogram!(
        COMMIT_SECONDS,
        Unit::Seconds,
        "duration of one durable commit (fsync)"
    );
    describe_gauge!(LIVE, "open live (WebSocket) connections");
    describe_gauge!(
        PG_LISTENING,
        "1 while the relay listens for other relays' commits on PostgreSQL, else 0"
    );
    describe_counter!(
        LIVE_REFUSED,
        "live connections refused, by the cap that was full"
    );
    describe_gauge!(CONNECTIONS, "open TCP connections, live ones included");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "connections closed unread or not accepted, by reason"
    );
    describe_counter!(JOINS, "join attempts, by outcome");
    describe_counter!(
        BLOB_BYTES_UPLOADED,
        Unit::Bytes,
        "photo bytes written to uploads"
    );
    describe_counter!(BLOB_BYTES_SERVED, Unit::Bytes, "photo bytes served");
    describe_counter!(BLOB_UPLOADS_COMPLETED, "photo uploads completed");
    describe_counter!(
        BLOB_UPLOADS_REJECTED,
        "completed photo uploads refused, by code"
    );
}

/// The process's Prometheus handle, installing the recorder on first use.
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get_or_init(build).as_ref()
}
