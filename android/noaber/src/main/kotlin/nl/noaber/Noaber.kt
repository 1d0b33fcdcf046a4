// Idiomatic Kotlin over the generated `nl.noaber.ffi` bindings. Plain JVM Kotlin (no android.*
// import): scripts/test-bindings.sh compiles these files with the host-generated bindings and
// runs the Kotlin suite through them; the Android build compiles them with the bindings
// generated with `android = true`.
package nl.noaber

import java.util.concurrent.atomic.AtomicBoolean
import kotlin.coroutines.cancellation.CancellationException
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.channels.awaitClose
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.currentCoroutineContext
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.buffer
import kotlinx.coroutines.flow.callbackFlow
import kotlinx.coroutines.flow.conflate
import kotlinx.coroutines.flow.distinctUntilChanged
import kotlinx.coroutines.flow.map
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import nl.noaber.ffi.Buurt
import nl.noaber.ffi.CancelHandle
import nl.noaber.ffi.ChangeListener
import nl.noaber.ffi.Changed
import nl.noaber.ffi.ListQuery
import nl.noaber.ffi.NoaberException
import nl.noaber.ffi.NoaberStore
import nl.noaber.ffi.Subscription
import nl.noaber.ffi.Summary
import nl.noaber.ffi.SyncListener
import nl.noaber.ffi.SyncReport
import nl.noaber.ffi.SyncStatus

/**
 * A Noaber device store for coroutine code: every local call goes through one `suspend`
 * entry point, [withStore], that runs the generated store's methods on [io]
 * (`Dispatchers.IO` by default); network calls stop when their coroutine is cancelled; and
 * changes, sync status and live sync are [Flow]s.
 *
 * The wrapper converts and schedules; every decision (statuses, who may do what, what waits to
 * sync) is the Rust core's. Errors are the generated [NoaberException] subclasses, thrown
 * unchanged (`NoaberException.InvalidInput.field` names the field to mark, and so on).
 *
 * Close it when the app no longer needs it (`use { }`, or [close] from `Application` teardown):
 * the SQLite file is released when the last running call returns.
 *
 * ```kotlin
 * val noaber = Noaber.open("${context.filesDir}/noaber.db")
 * val id = noaber.withStore { createHelp(NewHelp(category = "groceries", title = "Boodschappen dinsdag")) }
 * noaber.observe { list(ListQuery(kind = Kind.HELP, needsResponse = true)) }
 *     .collect { page -> render(page.items) }
 * ```
 */
class Noaber private constructor(
    /**
     * The generated store. Its local methods block on disk I/O: call them through
     * [withStore]. Its network methods (`sync`, `syncLive`, ...) take a [CancelHandle]
     * ([withCancelHandle]); [join], [sync] and [liveSync] pass one for you.
     */
    val store: NoaberStore,
    private val io: CoroutineDispatcher,
) : AutoCloseable {

    /** Buurt ids whose sync state may have moved (a sync through this instance ended). */
    private val syncEnded = MutableSharedFlow<String>(
        extraBufferCapacity = 64,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /** Opening and closing the store. */
    companion object {
        /**
         * Opens (or creates) the store in the SQLite file at [path] on [io]. The folder must
         * exist.
         *
         * @throws NoaberException.Storage when the file cannot be opened or was written by a
         *   newer app version.
         */
        suspend fun open(path: String, io: CoroutineDispatcher = Dispatchers.IO): Noaber =
            withContext(io) { Noaber(NoaberStore.open(path), io) }
    }

    /**
     * The way into the store for every local call: runs [block] against the generated
     * [NoaberStore] on [io] and returns its result. There is no Kotlin function per store
     * method: each generated method (`createHelp`, `help`, `list`, `claimTask`, `syncStatus`,
     * ..., documented on [NoaberStore]) is called inside the block, so a method added to the
     * Rust API is usable here as soon as the bindings are generated again. Several calls in
     * one block take one hop.
     *
     * Errors are the generated [NoaberException] subclasses, thrown unchanged; nothing is
     * locked here (the Rust store serialises its own SQLite access). Only local calls belong in
     * [block]: the generated network calls are `suspend` and go through [join], [sync],
     * [liveSync], [uploadPhotos] and [fetchPhoto], which cancel them with the coroutine.
     *
     * ```kotlin
     * val id = noaber.withStore { createHelp(NewHelp(category = "groceries", title = "Brood")) }
     * val (view, comments) = noaber.withStore { help(id) to comments(id) }
     * ```
     */
    suspend fun <T> withStore(block: NoaberStore.() -> T): T = withContext(io) { store.block() }

    /** Releases the store; calls after this throw `IllegalStateException`. Idempotent. */
    override fun close() {
        store.close()
    }

    // -----------------------------------------------------------------------------------------
    // Buurten and sync

    /**
     * Leaves a buurt: forgets its token and removes its entities from this device, then tells
     * the sync-status flows of [id].
     */
    suspend fun leaveBuurt(id: String) {
        withStore { leaveBuurt(id) }
        syncEnded.tryEmit(id)
    }

    /**
     * Joins a buurt on the relay at [relayUrl] with an [invite] code; it becomes the active
     * buurt and the device takes the invite's role. Cancelling the coroutine stops the request.
     *
     * @throws NoaberException.Network when the relay cannot be reached.
     * @throws NoaberException.Rejected with the relay's code (`invite_invalid`, `rate_limited`).
     */
    suspend fun join(relayUrl: String, invite: String, displayName: String): Buurt =
        network(null) { cancel -> store.join(relayUrl, invite, displayName, cancel) }

    /**
     * Syncs [buurt] once: pushes local changes and pulls everyone else's. Cancelling the
     * coroutine stops the sync on the library's network thread (safe half-way: an interrupted
     * round is repeated by the next sync). A failure is also recorded in the sync status.
     *
     * @throws NoaberException.Network when offline; the changes stay queued.
     * @throws NoaberException.Rejected (`unauthorized`) for a revoked device.
     */
    suspend fun sync(buurt: String): SyncReport =
        network(buurt) { cancel -> store.sync(buurt, cancel) }

    /**
     * Keeps [buurt] live while collected: syncs at once, then whenever the relay's log moves,
     * emitting each sync's outcome (a failed sync is retried by the library with backoff).
     * Cancelling the collector closes the connection. Completes with an exception only when
     * retrying cannot help (`Rejected` `unauthorized`, `NotFound`).
     */
    fun liveSync(buurt: String): Flow<LiveSync> = callbackFlow {
        val cancel = CancelHandle()
        val listener = object : SyncListener {
            override fun onSynced(report: SyncReport) {
                trySend(LiveSync.Synced(report))
                syncEnded.tryEmit(buurt)
            }

            override fun onSyncFailed(error: NoaberException) {
                trySend(LiveSync.Failed(error))
                syncEnded.tryEmit(buurt)
            }
        }
        launch {
            try {
                store.syncLive(buurt, listener, cancel)
                close()
            } catch (e: CancellationException) {
                throw e
            } catch (e: Exception) {
                close(e)
            }
        }
        awaitClose {
            cancel.cancel()
            cancel.close()
        }
    }.buffer(Channel.UNLIMITED)

    /** [withCancelHandle], then tells the sync-status flows of [buurt] (when not null). */
    private suspend fun <T> network(buurt: String?, call: suspend (CancelHandle) -> T): T {
        try {
            return withCancelHandle(call)
        } finally {
            if (buurt != null) syncEnded.tryEmit(buurt)
        }
    }

    // -----------------------------------------------------------------------------------------
    // Subscriptions

    /**
     * Registers [listener] for the entities each commit changed (local writes and pulled
     * batches). It is called on a Rust thread with no lock held; keep it short. Close the
     * returned [Subscription] (`use { }`) to stop delivery. In coroutine code, [changes] is
     * simpler.
     */
    fun onChange(listener: (List<Changed>) -> Unit): Subscription =
        store.subscribe(object : ChangeListener {
            override fun onChange(changed: List<Changed>) = listener(changed)
        })

    /**
     * The entities each commit changed, while collected. Nothing is dropped: the listener
     * never blocks the Rust thread that commits, so a slow collector buffers batches.
     */
    fun changes(): Flow<List<Changed>> = callbackFlow {
        val subscription = store.subscribe(object : ChangeListener {
            override fun onChange(changed: List<Changed>) {
                trySend(changed)
            }
        })
        awaitClose {
            subscription.cancel()
            subscription.close()
        }
    }.buffer(Channel.UNLIMITED)

    /**
     * [query]'s result (run like [withStore], on [io]) now and again after every commit and
     * after every sync run through this instance, skipping repeats. (An acknowledged push commits no entity change, so
     * subscribers are not told; re-running after a sync keeps `pendingCount()` and sync
     * statuses in a query current.) Signals that arrive while a query runs are coalesced into
     * one more run, so a burst costs two queries.
     *
     * ```kotlin
     * noaber.observe { list(ListQuery(kind = Kind.EVENT, order = ListOrder.UPCOMING)) }
     * ```
     */
    fun <T> observe(query: NoaberStore.() -> T): Flow<T> = triggers("")
        .map { withStore(query) }
        .distinctUntilChanged()

    /**
     * [buurt]'s sync status now and whenever it may have moved: a local write (more pending),
     * a pulled change, or a sync or live sync run through this instance (acknowledged,
     * failed, retried). Syncs run by another [Noaber] on the same file are seen at the next
     * commit.
     */
    fun syncStatusFlow(buurt: String): Flow<SyncStatus> = triggers(buurt)
        .map { withStore { syncStatus(buurt) } }
        .distinctUntilChanged()

    /** `pendingCount()` now and whenever it may have moved (see [syncStatusFlow]). */
    fun pendingCountFlow(): Flow<ULong> = triggers("")
        .map { withStore { pendingCount() } }
        .distinctUntilChanged()

    /**
     * One signal now, then one after every commit and, when [buurt] is not null, after every
     * sync of that buurt ("" for any buurt); conflated. The subscription is registered before
     * the first signal, so nothing committed after the first read is missed.
     */
    private fun triggers(buurt: String?): Flow<Unit> = callbackFlow {
        val subscription = store.subscribe(object : ChangeListener {
            override fun onChange(changed: List<Changed>) {
                trySend(Unit)
            }
        })
        if (buurt != null) {
            launch(start = CoroutineStart.UNDISPATCHED) {
                syncEnded.collect { b -> if (buurt.isEmpty() || b == buurt) trySend(Unit) }
            }
        }
        trySend(Unit)
        awaitClose {
            subscription.cancel()
            subscription.close()
        }
    }.conflate()
}

/**
 * Every page of [query], read one page at a time (the query's `limit` sets the page size).
 * Blocks like the generated calls: use it inside [Noaber.withStore] or [Noaber.observe].
 */
fun NoaberStore.listAll(query: ListQuery): List<Summary> {
    val all = mutableListOf<Summary>()
    var after: String? = query.after
    do {
        val page = list(query.copy(after = after))
        all += page.items
        after = page.next
    } while (after != null)
    return all
}

/** What one sync of a [Noaber.liveSync] connection did. */
sealed interface LiveSync {
    /** A sync completed. */
    data class Synced(
        /** What it pushed and pulled. */
        val report: SyncReport,
    ) : LiveSync

    /** A sync failed; the library retries with backoff. */
    data class Failed(
        /** Why (usually `Network`: offline). */
        val error: NoaberException,
    ) : LiveSync
}

/**
 * Runs [call] (a generated network function: `join`, `sync`, `syncLive`) with a fresh
 * [CancelHandle] that the calling coroutine's cancellation cancels, and closes the handle
 * afterwards. uniffi also drops the Rust future when the coroutine is cancelled; the handle is
 * the library's own stop signal (the one Swift relies on), checked inside the Rust task, so
 * either path ends the task that holds the connection.
 *
 * The watcher is unconfined: cancelling the coroutine runs its `finally` at once, on the
 * cancelling thread, before the suspended call resumes and uniffi frees the future.
 *
 * ```kotlin
 * withCancelHandle { cancel -> noaber.store.sync(buurt, cancel) }
 * ```
 */
suspend fun <T> withCancelHandle(call: suspend (CancelHandle) -> T): T {
    val cancel = CancelHandle()
    val finished = AtomicBoolean(false)
    try {
        return coroutineScope {
            val watcher = launch(Dispatchers.Unconfined, start = CoroutineStart.UNDISPATCHED) {
                try {
                    awaitCancellation()
                } finally {
                    if (!finished.get()) cancel.cancel()
                }
            }
            try {
                call(cancel)
            } catch (e: NoaberException.Cancelled) {
                // Stopped through the handle because the coroutine was cancelled.
                currentCoroutineContext().ensureActive()
                throw e
            } finally {
                finished.set(true)
                watcher.cancel()
            }
        }
    } finally {
        cancel.close()
    }
}
