//! Group commit: one writer thread turns many requests' changes into one durable commit.
//!
//! A sync request validates its changes, sends them here as one [`AppendBatch`] and waits on a
//! oneshot. The writer takes the first waiting batch, drains everything else already queued
//! (up to [`MAX_GROUP_CHANGES`]), calls [`Storage::append`] once — one transaction, one fsync —
//! and answers every request of the group. While it waits on the disk, the next group queues
//! up, so under load many devices share each fsync and the cost per change falls; with one
//! device it is one commit per request, no delay added.
//!
//! After a commit the writer moves each touched buurt's live head ([`Heads`]), which wakes
//! the WebSockets of that buurt. When the last sender is gone (the relay shut down) the
//! thread finishes the queue and ends; [`Committer::close`] waits for that.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::oneshot;

use crate::live::Heads;
use crate::storage::{AppendBatch, BatchOutcome, Storage, StorageError, StorageResult};

/// Most changes one group commit writes (a bigger backlog is split over several commits).
pub(crate) const MAX_GROUP_CHANGES: usize = 8_192;

struct Job {
    batch: AppendBatch,
    reply: oneshot::Sender<StorageResult<BatchOutcome>>,
}

/// The handle requests use to reach the writer thread.
pub(crate) struct Committer {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Committer {
    /// Starts the writer thread.
    pub(crate) fn start(storage: Arc<dyn Storage>, heads: Arc<Heads>) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("relay-commit".into())
            .spawn(move || run(&rx, &|batches| storage.append(batches), &heads))?;
        Ok(Committer {
            queue: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Queues a batch; the receiver yields its outcome once it is durable.
    pub(crate) fn submit(
        &self,
        batch: AppendBatch,
    ) -> StorageResult<oneshot::Receiver<StorageResult<BatchOutcome>>> {
        let (reply, rx) = oneshot::channel();
        let queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = queue.as_ref().map(|q| q.send(Job { batch, reply }).is_ok());
        if sent == Some(true) {
            Ok(rx)
        } else {
            Err(StorageError::Backend("the relay is shutting down".into()))
        }
    }

    /// Stops taking batches, lets the writer finish what is queued and waits for it.
    pub(crate) fn close(&self) {
        drop(
            self.queue
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = thread {
            if t.join().is_err() {
                tracing::error!("the commit thread panicked");
            }
        }
    }
}

/// What the writer calls to commit a group: [`Storage::append`].
type Append<'a> = &'a dyn Fn(&[AppendBatch]) -> StorageResult<Vec<BatchOutcome>>;

fn run(rx: &mpsc::Receiver<Job>, append: Append<'_>, heads: &Heads) {
    while let Ok(first) = rx.recv() {
        let mut changes = first.batch.changes.len();
        let mut jobs = vec![first];
        while changes < MAX_GROUP_CHANGES {
            match rx.try_recv() {
                Ok(job) => {
                    changes = changes.saturating_add(job.batch.changes.len());
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let (batches, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.batch, j.reply)).unzip();
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| append(&batches)))
            .unwrap_or_else(|_| {
                Err(StorageError::Backend(
                    "the storage panicked while committing".into(),
                ))
            });
        metrics::histogram!(crate::metrics::COMMIT_SECONDS).record(started.elapsed().as_secs_f64());
        metrics::histogram!(crate::metrics::BATCH_CHANGES).record(changes as f64);
        metrics::histogram!(crate::metrics::BATCH_REQUESTS).record(batches.len() as f64);
        match result {
            Ok(outcomes) if outcomes.len() == batches.len() => {
                tracing::debug!(requests = batches.len(), changes, "group committed");
                for ((batch, outcome), reply) in batches.iter().zip(outcomes).zip(replies) {
                    heads.publish(&batch.buurt, outcome.head);
                    // A request that gave up waiting is fine: its changes are durable anyway.
                    let _ = reply.send(Ok(outcome));
                }
            }
            Ok(_) => {
                tracing::error!(
                    "the storage answered a group commit with the wrong number of outcomes"
                );
                for reply in replies {
                    let _ = reply.send(Err(StorageError::Backend("bad commit outcome".into())));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, requests = batches.len(), "group commit failed");
                for reply in replies {
                    let _ = reply.send(Err(same_error(&e)));
                }
            }
        }
    }
}

/// A copy of `e` for each request of a failed group commit, of the same kind where it matters
/// to the answer: an unreachable database stays `Unavailable` (`503`, retried by the device),
/// anything else is a backend failure (`500`).
fn same_error(e: &StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(why) => StorageError::Unavailable(why.clone()),
        other => StorageError::Backend(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    use super::*;
    use crate::ids::{BuurtId, DeviceId};
    use crate::storage::{Appended, NewChange};

    fn batch(buurt: &BuurtId, n: u8) -> crate::Result<AppendBatch> {
        Ok(AppendBatch {
            buurt: buurt.clone(),
            device: DeviceId::new()?,
            changes: vec![NewChange {
                doc: [n; 16],
                hash: [n; 32],
                bytes: vec![n],
                audience: noaber_core::Audience::Buurt,
                grants: Vec::new(),
                photos: Vec::new(),
            }],
            received_at: 0,
        })
    }

    /// While one commit is on the disk, everything that queues up goes into the next one, and
    /// every request gets its own outcome.
    #[test]
    fn requests_queued_during_a_commit_share_the_next_one() -> crate::Result<()> {
        let (entered_tx, entered) = channel::<usize>();
        let (release, release_rx) = channel::<()>();
        let release_rx = Mutex::new(release_rx);
        let head = Mutex::new(0u64);
        let append = |batches: &[AppendBatch]| -> StorageResult<Vec<BatchOutcome>> {
            let _ = entered_tx.send(batches.len());
            let _ = release_rx.lock().map(|r| r.recv());
            let mut head = head.lock().unwrap_or_else(PoisonError::into_inner);
            Ok(batches
                .iter()
                .map(|b| {
                    let appended = b
                        .changes
                        .iter()
                        .map(|_| {
                            *head += 1;
                            Appended::Stored(*head)
                        })
                        .collect();
                    BatchOutcome {
                        appended,
                        head: *head,
                    }
                })
                .collect())
        };
        let heads = Heads::default();
        let buurt = BuurtId::new()?;
        let mut live = heads.subscribe(&buurt);
        let (tx, rx) = mpsc::channel::<Job>();
        let mut replies = Vec::new();
        std::thread::scope(|s| -> crate::Result<()> {
            let (append, heads) = (&append, &heads);
            s.spawn(move || run(&rx, append, heads));
            let submit = |n: u8| -> crate::Result<_> {
                let (reply, rx) = oneshot::channel();
                tx.send(Job {
                    batch: batch(&buurt, n)?,
                    reply,
                })
                .map_err(|_| crate::Error::Other("writer gone".into()))?;
                Ok(rx)
            };
            replies.push(submit(0)?);
            assert_eq!(
                entered.recv().ok(),
                Some(1),
                "the first request commits alone"
            );
            for n in 1..=9 {
                replies.push(submit(n)?);
            }
            let _ = release.send(());
            assert_eq!(
                entered.recv().ok(),
                Some(9),
                "the nine queued meanwhile share one commit"
            );
            let _ = release.send(());
            drop(tx);
            Ok(())
        })?;
        let seqs: Vec<_> = replies
            .into_iter()
            .map(|mut r| match r.try_recv() {
                Ok(Ok(o)) => o.appended,
                other => vec![Appended::WrongBuurt; usize::from(other.is_ok())],
            })
            .collect();
        assert_eq!(
            seqs,
            (1..=10)
                .map(|s| vec![Appended::Stored(s)])
                .collect::<Vec<_>>()
        );
        assert_eq!(*live.borrow_and_update(), 10);
        Ok(())
    }
}
