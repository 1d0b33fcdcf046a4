//! The relay over a storage that fails when told to — an outage in the middle of a request, as
//! when PostgreSQL goes away while a push is half validated or being committed. Whatever
//! fails, nothing is acknowledged that the log does not hold, and the answer is the one the
//! protocol gives for it (`503 unavailable`, retried by the device).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use noaber_core::{MemberId, Role};
use noaber_relay::storage::{
    AppendBatch, BatchOutcome, BlobRow, Buurt, DeviceAuth, DeviceRow, HeadSink, JoinRefusal,
    JoinTicket, Joined, LogPage, MemberRow, NewInvite, Puller, SqliteStorage, Storage,
    StorageError, StorageResult, UploadRow,
};
use noaber_relay::{BuurtId, DeviceId};
use reqwest::StatusCode;

use crate::support::{Device, TestRelay, TestResult, ask, code};

/// Never armed.
const OFF: usize = usize::MAX;

/// A [`SqliteStorage`] whose `has_change` or `append` fails with `Unavailable` on the `n`th
/// call from when it is armed (counting from 1), once.
struct Flaky {
    inner: SqliteStorage,
    has_change_in: AtomicUsize,
    append_in: AtomicUsize,
}

impl Flaky {
    fn arm(counter: &AtomicUsize, n: usize) {
        counter.store(n, Ordering::SeqCst);
    }

    /// Whether this call is the armed one.
    fn trips(counter: &AtomicUsize) -> bool {
        let left = counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| match n {
            OFF => None,
            0 | 1 => Some(OFF),
            n => Some(n - 1),
        });
        matches!(left, Ok(1))
    }

    fn gone() -> StorageError {
        StorageError::Unavailable("the test took the database away".into())
    }
}

impl Storage for Flaky {
    fn watch_heads(&self, sink: Arc<dyn HeadSink>) -> bool {
        self.inner.watch_heads(sink)
    }
    fn ping(&self) -> StorageResult<()> {
        self.inner.ping()
    }
    fn create_buurt(&self, id: &BuurtId, name: &str, now: i64) -> StorageResult<()> {
        self.inner.create_buurt(id, name, now)
    }
    fn buurt(&self, id: &BuurtId) -> StorageResult<Option<Buurt>> {
        self.inner.buurt(id)
    }
    fn buurten(&self) -> StorageResult<Vec<Buurt>> {
        self.inner.buurten()
    }
    fn create_invite(&self, invite: &NewInvite) -> StorageResult<()> {
        self.inner.create_invite(invite)
    }
    fn join(&self, ticket: &JoinTicket) -> StorageResult<Result<Joined, JoinRefusal>> {
        self.inner.join(ticket)
    }
    fn device_by_token(&self, token_hash: &[u8; 32]) -> StorageResult<Option<DeviceAuth>> {
        self.inner.device_by_token(token_hash)
    }
    fn members(&self, buurt: &BuurtId) -> StorageResult<Vec<MemberRow>> {
        self.inner.members(buurt)
    }
    fn devices(&self, buurt: &BuurtId) -> StorageResult<Vec<DeviceRow>> {
        self.inner.devices(buurt)
    }
    fn revoke_device(&self, device: &DeviceId, now: i64) -> StorageResult<bool> {
        self.inner.revoke_device(device, now)
    }
    fn set_role(&self, buurt: &BuurtId, member: &MemberId, role: Role) -> StorageResult<bool> {
        self.inner.set_role(buurt, member, role)
    }
    fn doc_buurt(&self, doc: &[u8; 16]) -> StorageResult<Option<BuurtId>> {
        self.inner.doc_buurt(doc)
    }
    fn has_change(&self, buurt: &BuurtId, hash: &[u8; 32]) -> StorageResult<bool> {
        if Self::trips(&self.has_change_in) {
            return Err(Self::gone());
        }
        self.inner.has_change(buurt, hash)
    }
    fn doc_changes(
        &self,
        buurt: &BuurtId,
        doc: &[u8; 16],
    ) -> StorageResult<Vec<([u8; 32], Vec<u8>)>> {
        self.inner.doc_changes(buurt, doc)
    }
    fn append(&self, batches: &[AppendBatch]) -> StorageResult<Vec<BatchOutcome>> {
        if Self::trips(&self.append_in) {
            return Err(Self::gone());
        }
        self.inner.append(batches)
    }
    fn head(&self, buurt: &BuurtId) -> StorageResult<u64> {
        self.inner.head(buurt)
    }
    fn pull(
        &self,
        buurt: &BuurtId,
        after: u64,
        limit: usize,
        puller: &Puller,
    ) -> StorageResult<LogPage> {
        self.inner.pull(buurt, after, limit, puller)
    }
    fn blob(&self, hash: &[u8; 32]) -> StorageResult<Option<BlobRow>> {
        self.inner.blob(hash)
    }
    fn held_blob(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<u64>> {
        self.inner.held_blob(device, hash)
    }
    fn start_upload(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        row: &UploadRow,
        quota: u64,
    ) -> StorageResult<Result<(), u64>> {
        self.inner.start_upload(device, hash, row, quota)
    }
    fn upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<Option<UploadRow>> {
        self.inner.upload(device, hash)
    }
    fn set_upload(&self, device: &DeviceId, hash: &[u8; 32], row: &UploadRow) -> StorageResult<()> {
        self.inner.set_upload(device, hash, row)
    }
    fn drop_upload(&self, device: &DeviceId, hash: &[u8; 32]) -> StorageResult<bool> {
        self.inner.drop_upload(device, hash)
    }
    fn complete_blob(
        &self,
        device: &DeviceId,
        hash: &[u8; 32],
        mime: &str,
        size: u64,
        now: i64,
    ) -> StorageResult<()> {
        self.inner.complete_blob(device, hash, mime, size, now)
    }
    fn blob_bytes(&self, device: &DeviceId) -> StorageResult<u64> {
        self.inner.blob_bytes(device)
    }
    fn expire_uploads(&self, before: i64) -> StorageResult<Vec<(DeviceId, [u8; 32])>> {
        self.inner.expire_uploads(before)
    }
    fn blob_readable(
        &self,
        buurt: &BuurtId,
        hash: &[u8; 32],
        puller: &Puller,
    ) -> StorageResult<bool> {
        self.inner.blob_readable(buurt, hash, puller)
    }
}

async fn flaky_relay() -> TestResult<(TestRelay, Arc<Flaky>)> {
    let dir = tempfile::tempdir()?;
    let flaky = Arc::new(Flaky {
        inner: SqliteStorage::open_dir(dir.path())?,
        has_change_in: AtomicUsize::new(OFF),
        append_in: AtomicUsize::new(OFF),
    });
    let relay = TestRelay::start_over(flaky.clone(), dir).await?;
    Ok((relay, flaky))
}

/// The storage fails while a push is half validated (the first change checked and applied to
/// the relay's cached copy, the second one's lookup failing): `503 unavailable`, nothing
/// acknowledged — and the device's next push of the same changes stores every one of them.
/// (The cached copy that took the first change used to stay behind, and answered its next push
/// as a duplicate: acknowledged, never in the log.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_halfway_through_validation_acknowledges_nothing_unstored() -> TestResult {
    let (relay, flaky) = flaky_relay().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let first = ask(&a, "Boodschappen")?;
    a.sync_all(&relay).await?;
    // A second change to the same document, and a new one.
    a.store.edit_help(&first, Some("Boodschappen doen"), None)?;
    ask(&a, "Lift kapot")?;
    Flaky::arm(&flaky.has_change_in, 2);
    let (_, push) = a.pending()?;
    assert_eq!(push.len(), 2);
    let req = noaber_core::sync::wire::SyncRequest {
        v: 1,
        cursor: a.cursor,
        push,
        max: None,
    };
    let refused = relay
        .sync(a.token(), &req)
        .await?
        .expect_err("the storage failed");
    assert_eq!(refused.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(code(&refused), "unavailable");
    assert_eq!(relay.storage().head(&buurt)?, 1, "nothing committed");
    // Pushed again: both stored.
    let resp = a.sync(&relay).await?;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert_eq!(relay.storage().head(&buurt)?, 3, "both changes in the log");
    let code_ = relay.invite(&buurt, Role::Resident, 1)?;
    let mut b = Device::join(&relay, &code_, "Bert", Role::Resident).await?;
    b.sync_all(&relay).await?;
    assert_eq!(b.store.help(&first)?, a.store.help(&first)?);
    Ok(())
}

/// The commit itself fails (the database went away under it): `503 unavailable` with
/// `Retry-After`, not `500`; the copies holding the changes are dropped, so the retry stores
/// them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_is_unavailable_and_its_retry_is_stored() -> TestResult {
    let (relay, flaky) = flaky_relay().await?;
    let (buurt, org) = relay.buurt("Alpha")?;
    let mut a = Device::join(&relay, &org, "Ans", Role::Organiser).await?;
    let id = ask(&a, "Boodschappen")?;
    Flaky::arm(&flaky.append_in, 1);
    let (_, push) = a.pending()?;
    let body = noaber_core::sync::wire::to_cbor(&noaber_core::sync::wire::SyncRequest {
        v: 1,
        cursor: a.cursor,
        push,
        max: None,
    })?;
    let resp = relay
        .http
        .post(relay.url("/v1/sync"))
        .bearer_auth(a.token())
        .header("content-type", noaber_core::sync::wire::CBOR)
        .body(body)
        .send()
        .await?;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().contains_key("retry-after"));
    assert_eq!(relay.storage().head(&buurt)?, 0);
    let resp = a.sync(&relay).await?;
    assert!(resp.rejected.is_empty());
    assert_eq!(relay.storage().head(&buurt)?, 1, "stored on the retry");
    assert!(
        !relay
            .storage()
            .doc_changes(&buurt, &doc_bytes(&id)?)?
            .is_empty()
    );
    Ok(())
}

fn doc_bytes(id: &noaber_core::EntityId) -> TestResult<[u8; 16]> {
    let hex = id.as_str();
    let mut out = [0u8; 16];
    for (o, i) in out.iter_mut().zip((0..32).step_by(2)) {
        *o = u8::from_str_radix(&hex[i..i + 2], 16)?;
    }
    Ok(out)
}
