// NoaberKit: the Swift face of the Noaber core.
//
// The generated bindings (module `NoaberFFI`, re-exported here) are the whole API: records,
// enums, `NoaberError` and `NoaberStore`. This layer adds only what Swift code expects and
// the bindings cannot express:
// - local calls (about a millisecond, but on disk) run on a background queue through
//   `Noaber.local`, so `await` from the main actor never blocks it;
// - network calls are `async` functions whose Swift `Task` cancellation reaches Rust: a
//   cancelled Swift task does not drop the Rust future, so every call takes a `CancelHandle`
//   that `withTaskCancellationHandler` cancels;
// - subscriptions and sync status are `AsyncStream`s whose termination ends the subscription.
// Every domain rule stays in the Rust core; nothing here decides anything about the domain.

@_exported import NoaberFFI
import Dispatch
import Foundation

/// One local Noaber store and the app's way into it: local calls off the calling thread,
/// network calls with Swift cancellation, and streams of changes and sync status.
///
/// Create one per store file and keep it for the app's lifetime. It is `Sendable`: share it
/// between actors and tasks freely.
public final class Noaber: @unchecked Sendable {
    /// The generated store: every operation of the core. Its calls are synchronous and touch
    /// the disk; from the main actor, call them through ``local(_:)``.
    public let store: NoaberStore

    /// Where local calls run: concurrent (the store serialises its own SQLite access).
    private let queue = DispatchQueue(label: "nl.noaber.local", qos: .userInitiated, attributes: .concurrent)

    /// Those waiting for a fresh sync status (``syncStatusUpdates(buurtId:)``), by buurt.
    let statusWatchers = StatusWatchers()

    /// Wraps a store that is already open.
    public init(store: NoaberStore) {
        self.store = store
    }

    /// Opens (creating if needed) the store at `path` on a background queue.
    ///
    /// - Throws: `NoaberError.Storage` when the file cannot be opened or migrated.
    public static func open(path: String) async throws -> Noaber {
        let queue = DispatchQueue.global(qos: .userInitiated)
        let store: NoaberStore = try await withCheckedThrowingContinuation { cont in
            queue.async { cont.resume(with: Result { try NoaberStore.open(path: path) }) }
        }
        return Noaber(store: store)
    }

    /// Runs a local (synchronous) store call on a background queue and returns its result.
    ///
    /// ```swift
    /// let id = try await noaber.local { try $0.createHelp(new: NewHelp(category: "groceries", title: "Boodschappen")) }
    /// ```
    ///
    /// - Throws: whatever `body` throws, normally a `NoaberError`.
    public func local<T>(_ body: @escaping @Sendable (NoaberStore) throws -> T) async throws -> T {
        let store = self.store
        return try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
            queue.async { cont.resume(with: Result { try body(store) }) }
        }
    }

    // MARK: - Network

    /// Joins a buurt with an invite code; the buurt becomes the active one.
    ///
    /// Cancelling the calling `Task` stops the request (see ``withCancelHandle(_:)``).
    ///
    /// - Throws: `NoaberError.Rejected` (`invite_invalid`, `rate_limited`, …) when the relay
    ///   refuses, `.Network` when it cannot be reached, `CancellationError` when the task was
    ///   cancelled.
    public func join(relayUrl: String, invite: String, displayName: String) async throws -> Buurt {
        let buurt = try await withCancelHandle { cancel in
            try await self.store.join(relayUrl: relayUrl, invite: invite, displayName: displayName, cancel: cancel)
        }
        statusWatchers.refresh(buurt.id, store: store)
        return buurt
    }

    /// Syncs one buurt once: pushes what waits in the outbox and pulls what is new.
    ///
    /// Cancelling the calling `Task` stops the sync; what was acknowledged or pulled so far
    /// stays, the rest is repeated by the next sync. Watchers of the buurt's sync status get a
    /// fresh status afterwards, whether the sync succeeded or not.
    ///
    /// - Throws: `NoaberError.Network` when the relay cannot be reached, `.Rejected` when it
    ///   refuses the device, `.NotFound` for an unknown buurt, `CancellationError` when the
    ///   task was cancelled. A change the relay refuses is not an error: see
    ///   `SyncReport.rejected`.
    public func sync(buurtId: String) async throws -> SyncReport {
        defer { statusWatchers.refresh(buurtId, store: store) }
        return try await withCancelHandle { cancel in
            try await self.store.sync(buurtId: buurtId, cancel: cancel)
        }
    }

    /// Keeps one buurt in sync over the relay's live connection until the stream's consumer
    /// stops (the `for await` loop ends or its task is cancelled).
    ///
    /// Each completed round is a ``LiveSyncEvent/synced(_:)``; a failed attempt is a
    /// ``LiveSyncEvent/failed(_:)`` and the live sync retries on its own with backoff. The
    /// stream finishes after the consumer stopped, or with an error if the live sync could
    /// not start (an unknown buurt).
    public func liveSync(buurtId: String) -> AsyncThrowingStream<LiveSyncEvent, Error> {
        AsyncThrowingStream { continuation in
            let cancel = CancelHandle()
            let listener = LiveSyncListener(continuation: continuation) { [weak self] in
                guard let self else { return }
                self.statusWatchers.refresh(buurtId, store: self.store)
            }
            let store = self.store
            let task = Task.detached {
                do {
                    try await store.syncLive(buurtId: buurtId, listener: listener, cancel: cancel)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in
                cancel.cancel()
                _ = task
            }
        }
    }

    // MARK: - Photos

    // Attaching a photo is a local call like any other:
    // `local { try $0.attachPhoto(id: reportId, bytes: jpegData) }` (the core strips its
    // metadata before anything is stored and queues the upload; it works offline).

    /// Uploads the buurt's waiting photos, each resuming from the relay's offset; `progress`
    /// hears every acknowledged chunk (on a Rust thread). Cancelling the calling `Task` stops
    /// it; at most the chunk in flight is sent again next time. Live sync uploads by itself.
    ///
    /// - Throws: `NoaberError.Rejected` (`unauthorized`), `CancellationError`. Network
    ///   failures are recorded in `photoUploads()` and retried, not thrown.
    public func uploadPhotos(
        buurtId: String,
        progress: (@Sendable (PhotoProgress) -> Void)? = nil
    ) async throws -> UploadReport {
        let listener = progress.map { UploadForwarder(progress: $0) }
        return try await withCancelHandle { cancel in
            try await self.store.uploadPhotos(buurtId: buurtId, listener: listener, cancel: cancel)
        }
    }

    /// A report's photo: from this device, else from the relay (checked, then cached).
    /// `nil` while the relay does not hold it yet — show "photo pending".
    ///
    /// - Throws: `NoaberError.Network` offline, `.InvalidInput` for bytes that fail the
    ///   checks, `CancellationError`.
    public func fetchPhoto(buurtId: String, hash: String) async throws -> LocalPhoto? {
        try await withCancelHandle { cancel in
            try await self.store.fetchPhoto(buurtId: buurtId, hash: hash, cancel: cancel)
        }
    }

    // MARK: - Streams

    /// The entities that changed, batch by batch: local writes (delivered on the writing
    /// thread) and what a sync pulled (delivered on a network thread).
    ///
    /// A screen re-queries what it shows when a batch names something on it. The subscription
    /// ends when the stream's consumer stops; a batch already on its way may still arrive.
    /// Batches are buffered without bound; a consumer that falls behind sees them all.
    public func changes() -> AsyncStream<[Changed]> {
        AsyncStream { continuation in
            let subscription = store.subscribe(listener: ChangeForwarder(continuation: continuation))
            continuation.onTermination = { _ in subscription.cancel() }
        }
    }

    /// The sync status of one buurt: the current one at once, then a fresh one after every
    /// local or pulled change and after every sync, join or live round made through this
    /// `Noaber` (successful or not).
    ///
    /// What waits to sync is `SyncStatus.pending`; `lastError` and `failures` say whether the
    /// last attempt failed. Only the latest status is kept for a slow consumer. The stream
    /// ends when the consumer stops, or at once if the buurt is unknown.
    public func syncStatusUpdates(buurtId: String) -> AsyncStream<SyncStatus> {
        AsyncStream(bufferingPolicy: .bufferingNewest(1)) { continuation in
            let store = self.store
            let id = statusWatchers.add(buurtId, continuation)
            let subscription = store.subscribe(listener: StatusOnChange(buurtId: buurtId, store: store, watchers: statusWatchers))
            continuation.onTermination = { [statusWatchers] _ in
                subscription.cancel()
                statusWatchers.remove(buurtId, id)
            }
            statusWatchers.refresh(buurtId, store: store)
        }
    }
}

/// What a live sync reports.
public enum LiveSyncEvent: Sendable {
    /// A round completed (pushed and pulled what there was).
    case synced(SyncReport)
    /// An attempt failed (offline, refused); the live sync retries on its own.
    case failed(NoaberError)
}

#if compiler(>=6)
#else
extension SyncReport: @unchecked Sendable {}
extension SyncStatus: @unchecked Sendable {}
extension Changed: @unchecked Sendable {}
extension PhotoRef: @unchecked Sendable {}
extension UploadReport: @unchecked Sendable {}
extension LocalPhoto: @unchecked Sendable {}
#endif

/// Runs `operation` with a fresh `CancelHandle` that is cancelled when the calling Swift
/// `Task` is cancelled (a cancelled Swift task does not drop the Rust future: the handle is
/// what stops the Rust side and closes its connection).
///
/// When the task was cancelled and the operation stopped with `NoaberError.Cancelled`, this
/// throws `CancellationError`, as Swift code expects of a cancelled task.
///
/// - Throws: what `operation` throws, or `CancellationError` as above.
public func withCancelHandle<T>(_ operation: (CancelHandle) async throws -> T) async throws -> T {
    let cancel = CancelHandle()
    do {
        return try await withTaskCancellationHandler {
            try await operation(cancel)
        } onCancel: {
            cancel.cancel()
        }
    } catch NoaberError.Cancelled where Task.isCancelled {
        throw CancellationError()
    }
}

/// One acknowledged chunk of a photo upload.
public struct PhotoProgress: Sendable, Equatable {
    /// The photo's SHA-256.
    public let hash: String
    /// The report it belongs to.
    public let entityId: String
    /// Bytes the relay holds durably.
    public let sent: UInt64
    /// The photo's size.
    public let total: UInt64
}

/// Forwards upload progress from Rust threads to a closure.
final class UploadForwarder: UploadListener, @unchecked Sendable {
    private let progress: @Sendable (PhotoProgress) -> Void

    init(progress: @escaping @Sendable (PhotoProgress) -> Void) {
        self.progress = progress
    }

    func onProgress(hash: String, entityId: String, sent: UInt64, total: UInt64) {
        progress(PhotoProgress(hash: hash, entityId: entityId, sent: sent, total: total))
    }
}

/// Forwards change notifications from Rust threads into an `AsyncStream`.
final class ChangeForwarder: ChangeListener, @unchecked Sendable {
    private let continuation: AsyncStream<[Changed]>.Continuation

    init(continuation: AsyncStream<[Changed]>.Continuation) {
        self.continuation = continuation
    }

    func onChange(changed: [Changed]) {
        continuation.yield(changed)
    }
}

/// Forwards a live sync's rounds into an `AsyncThrowingStream`.
final class LiveSyncListener: SyncListener, @unchecked Sendable {
    private let continuation: AsyncThrowingStream<LiveSyncEvent, Error>.Continuation
    private let after: @Sendable () -> Void

    init(continuation: AsyncThrowingStream<LiveSyncEvent, Error>.Continuation, after: @escaping @Sendable () -> Void) {
        self.continuation = continuation
        self.after = after
    }

    func onSynced(report: SyncReport) {
        continuation.yield(.synced(report))
        after()
    }

    func onSyncFailed(error: NoaberError) {
        continuation.yield(.failed(error))
        after()
    }
}

/// Refreshes a buurt's status watchers on every change notification.
final class StatusOnChange: ChangeListener, @unchecked Sendable {
    private let buurtId: String
    private let store: NoaberStore
    private let watchers: StatusWatchers

    init(buurtId: String, store: NoaberStore, watchers: StatusWatchers) {
        self.buurtId = buurtId
        self.store = store
        self.watchers = watchers
    }

    func onChange(changed: [Changed]) {
        watchers.refresh(buurtId, store: store)
    }
}

/// The continuations of ``Noaber/syncStatusUpdates(buurtId:)``, by buurt, behind a lock.
final class StatusWatchers: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var byBuurt: [String: [Int: AsyncStream<SyncStatus>.Continuation]] = [:]

    func add(_ buurtId: String, _ continuation: AsyncStream<SyncStatus>.Continuation) -> Int {
        lock.lock()
        defer { lock.unlock() }
        next += 1
        byBuurt[buurtId, default: [:]][next] = continuation
        return next
    }

    func remove(_ buurtId: String, _ id: Int) {
        lock.lock()
        defer { lock.unlock() }
        byBuurt[buurtId]?[id] = nil
        if byBuurt[buurtId]?.isEmpty == true { byBuurt[buurtId] = nil }
    }

    /// Reads the buurt's status (a quick local query) and hands it to its watchers; an unknown
    /// buurt (left, or never joined) ends their streams.
    ///
    /// Reading and handing over happen under the lock, so the last status a watcher gets is
    /// the latest read (the store never calls back into Swift while it holds a lock of its
    /// own, so this cannot deadlock). Another error (a damaged database) skips this refresh.
    /// Streams are finished outside the lock: `finish()` runs their `onTermination`, which
    /// calls ``remove(_:_:)``.
    func refresh(_ buurtId: String, store: NoaberStore) {
        lock.lock()
        guard let watchers = byBuurt[buurtId], !watchers.isEmpty else {
            lock.unlock()
            return
        }
        var gone = false
        do {
            let status = try store.syncStatus(buurtId: buurtId)
            for w in watchers.values { w.yield(status) }
        } catch NoaberError.NotFound {
            gone = true
        } catch {
            // Skipped; the next change or sync refreshes again.
        }
        lock.unlock()
        if gone {
            for w in watchers.values { w.finish() }
        }
    }
}
