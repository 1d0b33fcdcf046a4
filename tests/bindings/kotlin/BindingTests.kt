// The Kotlin binding tests: the Android library's wrapper (`nl.noaber`, android/noaber/src/main)
// over the generated `nl.noaber.ffi` bindings, on the JVM (JNA) against libnoaber_ffi and a real
// relay, plus the app's screen state (android/app/src/main/kotlin/nl/noaber/app/state). Run by
// scripts/test-bindings.sh, which compiles those sources with the host-generated bindings and
// names the relay binary in NOABER_RELAY_BIN. A tiny runner: every test is a suspend function;
// prints `kotlin: N passed, M failed` and exits non-zero on a failure.

import java.io.File
import java.net.InetSocketAddress
import java.net.ServerSocket
import java.net.Socket
import java.nio.file.Files
import java.util.Collections
import java.util.concurrent.CountDownLatch
import java.util.concurrent.Semaphore
import java.util.concurrent.TimeUnit
import kotlin.system.exitProcess
import kotlinx.coroutines.CompletableDeferred
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.awaitCancellation
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.channels.Channel
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import kotlinx.coroutines.withTimeout
import kotlinx.coroutines.withTimeoutOrNull
import nl.noaber.*
import nl.noaber.app.state.*
import nl.noaber.ffi.*

const val WAIT_MS = 30_000L // an upper bound for things that normally take milliseconds
const val TEST_MS = 120_000L // an upper bound for one test

class Failure(message: String) : Exception(message)

fun check(condition: Boolean, message: () -> String) {
    if (!condition) throw Failure(message())
}

fun <T> eq(actual: T, expected: T, what: String = "value") {
    if (actual != expected) throw Failure("$what: expected <$expected>, got <$actual>")
}

inline fun <reified E : Throwable> throws(block: () -> Unit): E {
    try {
        block()
    } catch (e: Throwable) {
        if (e is E) return e
        throw Failure("expected ${E::class.simpleName}, got $e")
    }
    throw Failure("expected ${E::class.simpleName}, nothing was thrown")
}

/** Waits on a latch or semaphore off the coroutine's thread. */
suspend fun waitFor(what: String, wait: (Long, TimeUnit) -> Boolean) {
    check(withContext(Dispatchers.IO) { wait(WAIT_MS, TimeUnit.MILLISECONDS) }) { what }
}

/** A real `noaber-relay serve` on a free port, with a temporary data folder. */
class Relay {
    private val bin = System.getenv("NOABER_RELAY_BIN") ?: "target/debug/noaber-relay"
    private val data: File = Files.createTempDirectory("noaber-relay-").toFile()
    private var proc: Process
    val url: String
    val buurt: String
    val invites: Map<String, String>

    private fun serve(listen: String): Pair<Process, String> {
        val pb = ProcessBuilder(bin, "serve", "--data", data.path, "--listen", listen)
        pb.environment()["NOABER_RELAY_JOIN_BURST"] = "1000"
        pb.environment()["RUST_LOG"] = "warn"
        pb.redirectError(ProcessBuilder.Redirect.DISCARD)
        val p = pb.start()
        val line = p.inputStream.bufferedReader().readLine() ?: ""
        if (!line.startsWith("listening on ")) {
            p.destroyForcibly()
            data.deleteRecursively()
            throw IllegalStateException("relay did not start: '$line'")
        }
        return p to "http://" + line.removePrefix("listening on ")
    }

    /** Stops the relay process, keeping its data: devices are offline until [resume]. */
    fun pause() {
        proc.destroyForcibly()
        proc.waitFor(WAIT_MS, TimeUnit.MILLISECONDS)
    }

    /** Starts the relay again on the same address and data. */
    fun resume() {
        proc = serve(url.removePrefix("http://")).first
    }

    init {
        val (p, u) = serve("127.0.0.1:0")
        proc = p
        url = u
        buurt = field(admin("create-buurt", "De Linde"), "buurt_id")
        invites = listOf("resident", "organiser", "caretaker").associateWith { role ->
            field(admin("invite", "--buurt", buurt, "--role", role, "--uses", "50"), "code")
        }
    }

    private fun admin(vararg args: String): String {
        val p = ProcessBuilder(listOf(bin, "admin") + args + listOf("--data", data.path))
            .redirectError(ProcessBuilder.Redirect.DISCARD)
            .start()
        val out = p.inputStream.bufferedReader().readText()
        check(p.waitFor() == 0) { "relay admin ${args.first()} failed" }
        return out
    }

    private fun field(json: String, name: String): String =
        Regex("\"$name\"\\s*:\\s*\"([^\"]+)\"").find(json)?.groupValues?.get(1)
            ?: throw IllegalStateException("no $name in relay output")

    fun stop() {
        proc.destroyForcibly()
        proc.waitFor(WAIT_MS, TimeUnit.MILLISECONDS)
        data.deleteRecursively()
    }
}

/** Stores (through the wrapper) in a temporary folder, closed and removed after each test. */
class Scope(val relay: Relay) : AutoCloseable {
    val dir: File = Files.createTempDirectory("noaber-kt-").toFile()
    private val stores = mutableListOf<Noaber>()

    suspend fun store(name: String): Noaber =
        Noaber.open(File(dir, "$name.db").path).also { stores.add(it) }

    /** A store joined to the test buurt with an invite for `role`. */
    suspend fun member(name: String, role: String): Noaber {
        val s = store(name)
        val b = s.join(relay.url, relay.invites.getValue(role), name)
        eq(b.id, relay.buurt, "joined buurt")
        eq(s.withStore { identity() }.role, Role.valueOf(role.uppercase()), "role from the invite")
        return s
    }

    suspend fun sync(vararg stores: Noaber): List<SyncReport> = stores.map { it.sync(relay.buurt) }

    override fun close() {
        stores.forEach { it.close() }
        dir.deleteRecursively()
    }
}

/** [test] with a relay of its own (a buurt no other test wrote to), stopped afterwards. */
fun inOwnBuurt(test: suspend (Scope) -> Unit): suspend (Scope) -> Unit = { _ ->
    val relay = Relay()
    try {
        Scope(relay).use { test(it) }
    } finally {
        relay.stop()
    }
}

class Recorder : ChangeListener {
    val batches: MutableList<List<Changed>> = Collections.synchronizedList(mutableListOf())
    val threads: MutableSet<String> = Collections.synchronizedSet(mutableSetOf())

    override fun onChange(changed: List<Changed>) {
        threads.add(Thread.currentThread().name)
        batches.add(changed)
    }

    fun ids(): Set<String> = synchronized(batches) { batches.flatten().map { it.id }.toSet() }
}

class SyncRecorder : SyncListener {
    val reports: MutableList<SyncReport> = Collections.synchronizedList(mutableListOf())
    val errors: MutableList<NoaberException> = Collections.synchronizedList(mutableListOf())
    val first = CountDownLatch(1)
    val pulled = CountDownLatch(1)

    override fun onSynced(report: SyncReport) {
        reports.add(report)
        first.countDown()
        if (report.applied > 0uL) pulled.countDown()
    }

    override fun onSyncFailed(error: NoaberException) {
        errors.add(error)
    }
}

fun newHelp(title: String, category: String = "other") = NewHelp(category = category, title = title)

// ---------------------------------------------------------------------------------------------
// Journeys, one per role

suspend fun helpJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val org = t.member("fatima", "organiser")
    val id = ans.withStore { createHelp(
        NewHelp(category = "groceries", title = "Boodschappen dinsdag",
            precision = "stairwell", locationLabel = "Portiek 12")) }
    eq(ans.withStore { help(id) }.status, HelpStatus.OPEN, "new request")
    val (pushed, pulled) = t.sync(ans, bert)
    eq(pushed.accepted, 1uL, "accepted")
    check(pulled.applied >= 1uL) { "bert pulled nothing" }
    val open = bert.withStore { list(ListQuery(kind = Kind.HELP, needsResponse = true)) }
    eq(open.items.map { it.id }, listOf(id), "needs a response")
    bert.withStore { respondHelp(id, "Ik kan dinsdag") }
    t.sync(bert, org)
    eq(org.withStore { help(id) }.responses.map { it.member }, listOf(bert.withStore { identity() }.member), "responders")
    val helper = bert.withStore { identity().member }
    org.withStore { matchHelp(id, helper) }
    t.sync(org, ans)
    val matched = ans.withStore { help(id) }
    eq(matched.status, HelpStatus.MATCHED, "status")
    eq(matched.helper, bert.withStore { identity() }.member, "helper")
    eq(matched.matchedBy, org.withStore { identity() }.member, "matched by")
    ans.withStore { completeHelp(id) }
    ans.withStore { thankHelp(id, "Dank je wel!") }
    val done = ans.withStore { help(id) }
    eq(done.status, HelpStatus.DONE, "status")
    eq(done.thanks.map { it.text }, listOf("Dank je wel!"), "thanks")
    val comment = bert.withStore { addComment(id, "Graag gedaan") }
    t.sync(bert, ans)
    eq(ans.withStore { comments(id) }.map { it.id to it.body }, listOf(comment to "Graag gedaan"), "comments")
    bert.withStore { editComment(id, comment, "Graag gedaan, tot volgende keer") }
    bert.withStore { withdrawComment(id, comment) }
    check(bert.withStore { comments(id) }.single().withdrawn) { "comment not withdrawn" }
    t.sync(bert)
    val found = bert.withStore { list(ListQuery(text = "boodschap")) }
    eq(found.items.map { it.id to it.status }, listOf(id to "done"), "search")
}

suspend fun eventJourney(t: Scope) {
    val org = t.member("organiser", "organiser")
    val ans = t.member("ans", "resident")
    val start = org.withStore { nowMs() } + 7 * 86_400_000L
    val id = org.withStore { createEvent(
        NewEvent(title = "Buurtbarbecue", startsAt = start, endsAt = start + 4 * 3_600_000L,
            place = "Binnentuin", capacity = 1L)) }
    val role = org.withStore { addEventRole(id, "Opbouw", "tafels en stoelen") }
    val shift = org.withStore { addEventShift(id, role, start - 3_600_000L, start, 1L) }
    eq(org.withStore { rsvpEvent(id, Rsvp.GOING) }, Attendance.Going(1uL), "organiser's place")
    t.sync(org, ans)
    eq(ans.withStore { rsvpEvent(id, Rsvp.GOING) }, Attendance.Waitlisted(1uL), "the only place is taken")
    eq(ans.withStore { signupShift(id, shift) }, ShiftSlot.On, "shift")
    val view = ans.withStore { event(id) }
    eq(view.myAttendance, Attendance.Waitlisted(1uL), "my attendance")
    eq(view.shifts.single().mySlot, ShiftSlot.On, "my slot")
    eq(view.shiftsNeeded to view.shiftsFilled, 1L to 1L, "coverage")
    org.withStore { rsvpEvent(id, Rsvp.DECLINED) }
    t.sync(org, ans)
    eq(ans.withStore { event(id) }.myAttendance, Attendance.Going(1uL), "promoted from the waitlist")
    org.withStore { editEvent(id, EventEdit(capacity = CapacityChange.Unlimited,
        point = PointChange.Set(GeoPoint(52.09, 5.12)))) }
    val edited = org.withStore { event(id) }
    eq(edited.capacity, null, "capacity")
    eq(edited.point, GeoPoint(52.09, 5.12), "point")
    val upcoming = ans.withStore { list(ListQuery(kind = Kind.EVENT, order = ListOrder.UPCOMING)) }
    eq(upcoming.items.map { it.id }, listOf(id), "upcoming")
    org.withStore { cancelEvent(id, "regen") }
    eq(org.withStore { event(id) }.status, EventStatus.CANCELLED, "status")
}

suspend fun taskJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val id = ans.withStore { createTask(
        NewTask(title = "Binnentuin water geven", rrule = "FREQ=DAILY", dtstart = "2026-01-01")) }
    eq(ans.withStore { task(id) }.status, TaskStatus.UNADOPTED, "new task")
    eq(ans.withStore { task(id) }.myStanding, TaskStanding.NotIn, "not in yet")
    eq(ans.withStore { claimTask(id) }, TaskStanding.Adopter, "the first claim adopts")
    t.sync(ans, bert)
    eq(bert.withStore { claimTask(id) }, TaskStanding.Backup(1uL), "the second backs up")
    val view = bert.withStore { task(id) }
    eq(view.myStanding, TaskStanding.Backup(1uL), "standing in the view")
    eq(view.adopter, ans.withStore { identity() }.member, "adopter")
    eq(view.backups, listOf(bert.withStore { identity() }.member), "backups")
    eq(view.status, TaskStatus.ACTIVE, "status")
    val day = view.currentOccurrence ?: throw Failure("no current occurrence")
    bert.withStore { recordOccurrence(id, day, Outcome.DONE, "flink gegoten") }
    val item = bert.withStore { addChecklistItem(id, "gieter vullen") }
    val recorded = bert.withStore { task(id) }
    eq(recorded.occurrences.first().date to recorded.occurrences.first().outcome,
        day to Outcome.DONE, "occurrence")
    eq(recorded.checklist.map { it.id }, listOf(item), "checklist")
    bert.withStore { removeChecklistItem(id, item) }
    t.sync(bert, ans)
    ans.withStore { pauseTask(id) }
    eq(ans.withStore { task(id) }.status, TaskStatus.PAUSED, "paused")
    ans.withStore { resumeTask(id) }
    ans.withStore { releaseTask(id) }
    eq(ans.withStore { task(id) }.adopter, bert.withStore { identity() }.member, "hand-over to the backup")
    eq(bert.withStore { list(ListQuery(kind = Kind.TASK, mine = true)) }.items.map { it.id }, listOf(id), "mine")
    val pledge = ans.withStore { createTask(NewTask(title = "Bankje schilderen", pledgeTarget = 2u)) }
    ans.withStore { pledgeTask(pledge) }
    eq(ans.withStore { task(pledge) }.status, TaskStatus.PLEDGING, "pledging")
    ans.withStore { unpledgeTask(pledge) }
}

suspend fun reportJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val care = t.member("caretaker", "caretaker")
    val id = ans.withStore { createReport(
        NewReport(category = "lighting", lat = 52.0907, lon = 5.1214, floor = "kelder",
            severity = "high", description = "Lamp kapot")) }
    eq(ans.withStore { syncStatus(t.relay.buurt) }.pending, 1L, "waits to sync")
    t.sync(ans, bert, care)
    eq(ans.withStore { syncStatus(t.relay.buurt) }.pending, 0L, "synced")
    bert.withStore { meTooReport(id) }
    care.withStore { transitionReport(id, ReportTransition.Acknowledge) }
    care.withStore { setReportResponsible(id, "Gemeente") }
    care.withStore { setReportResponse(id, "We komen donderdag") }
    care.withStore { transitionReport(id, ReportTransition.Resolve) }
    t.sync(bert, care, ans)
    val view = ans.withStore { report(id) }
    eq(view.status, ReportStatus.RESOLVED, "status")
    eq(view.timeline.map { it.to }, listOf(ReportStatus.ACKNOWLEDGED, ReportStatus.RESOLVED), "timeline")
    eq(view.timeline.first().role, Role.CARETAKER, "role in the timeline")
    eq(view.meToo.map { it.member }, listOf(bert.withStore { identity() }.member), "me too")
    eq(view.responsible to view.response, "Gemeente" to "We komen donderdag", "triage")
    eq(view.title, "Lamp kapot", "title")
    ans.withStore { attachPhotoFile(id, CAMERA_JPG.path) }
    ans.withStore { transitionReport(id, ReportTransition.Confirm) }
    eq(ans.withStore { report(id) }.status, ReportStatus.CONFIRMED, "confirmed")
    eq(ans.withStore { report(id) }.photos.size, 1, "photos")
    val box = BBox(south = 52.08, west = 5.11, north = 52.10, east = 5.13)
    eq(ans.withStore { list(ListQuery(kind = Kind.REPORT, bbox = box)) }.items.map { it.id }, listOf(id), "bbox")
}

suspend fun profileListsAndCounts(t: Scope) {
    val s = t.store("solo")
    val me = s.withStore { setIdentity(Role.ORGANISER, "Fatima", "Complex 4") }
    eq(Triple(me.role, me.displayName, me.household), Triple(Role.ORGANISER, "Fatima", "Complex 4"), "identity")
    eq(s.withStore { myProfile() }, null, "no profile yet")
    val pid = s.withStore { createProfile(NewProfile(displayName = "Fatima", skills = listOf("fietsen"))) }
    s.withStore { addSkill(pid, "Turks") }
    s.withStore { removeSkill(pid, "fietsen") }
    s.withStore { editProfile(pid, ProfileEdit(availability = "woensdagmiddag")) }
    val p = s.withStore { myProfile() } ?: throw Failure("no profile")
    eq(Triple(p.id, p.skills, p.availability), Triple(pid, listOf("Turks"), "woensdagmiddag"), "profile")
    val ids = (0 until 5).map { s.withStore { createHelp(newHelp("Koffie $it", "company")) } }
    val seen = mutableListOf<String>()
    var after: String? = null
    do {
        val page = s.withStore { list(ListQuery(kind = Kind.HELP, limit = 2u, after = after)) }
        check(page.items.size <= 2) { "page larger than its limit" }
        seen += page.items.map { it.id }
        after = page.next
    } while (after != null)
    eq(seen.sorted(), ids.sorted(), "all pages")
    val counts = s.withStore { statusCounts() }.associate { (it.kind to it.status) to it.count }
    eq(counts[Kind.HELP to "open"], 5L, "open requests")
    eq(s.withStore { kindOf(ids.first()) }, Kind.HELP, "kind")
    eq(s.withStore { pendingCount() }, 9uL, "4 profile changes and 5 requests wait to sync")
    eq(s.withStore { myNotices() }, emptyList<MyNotice>(), "notices")
    eq(s.withStore { rebuildProjections() }, 6uL, "rebuilt")
}

// ---------------------------------------------------------------------------------------------
// Errors

suspend fun invalidInputNamesTheField(t: Scope) {
    val s = t.store("errors")
    eq(throws<NoaberException.InvalidInput> { s.withStore { createHelp(newHelp("")) } }.field, "title", "field")
    eq(throws<NoaberException.InvalidInput> { s.withStore { help("not-an-id") } }.field, "id", "field")
    eq(throws<NoaberException.InvalidInput> { s.withStore { list(ListQuery(limit = 501u)) } }.field, "limit", "field")
    // An id inside an argument (the core's `EntityId`) is checked as it crosses, the same way.
    val report = "0123456789abcdef0123456789abcdef"
    val step = ReportTransition.Duplicate("not-an-id")
    eq(throws<NoaberException.InvalidInput> { s.withStore { transitionReport(report, step) } }.field, "id", "field")
}

suspend fun notFoundAndNotAllowed(t: Scope) {
    val s = t.store("errors")
    val missing = "0123456789abcdef0123456789abcdef"
    eq(throws<NoaberException.NotFound> { s.withStore { help(missing) } }.id, missing, "id")
    val refused = throws<NoaberException.NotAllowed> {
        s.withStore { createEvent(NewEvent(title = "Feest", startsAt = 0L, endsAt = 1L, place = "Hier")) }
    }
    check(refused.reason.contains("resident")) { "reason names the role: ${refused.reason}" }
    val id = s.withStore { createHelp(newHelp("Brood")) }
    s.withStore { cancelHelp(id, "") }
    throws<NoaberException.NotAllowed> { s.withStore { completeHelp(id) } }
    throws<NoaberException.NotFound> { s.withStore { syncStatus(missing) } }
}

suspend fun relayRefusalAndOffline(t: Scope) {
    val s = t.store("errors")
    val refused = throws<NoaberException.Rejected> {
        s.join(t.relay.url, "AAAA-BBBB-CCCC", "Iemand")
    }
    eq(refused.code, "invite_invalid", "code")
    val port = ServerSocket(0).use { it.localPort }
    throws<NoaberException.Network> {
        s.join("http://127.0.0.1:$port", "AAAA-BBBB-CCCC", "Iemand")
    }
}

// ---------------------------------------------------------------------------------------------
// Listeners

suspend fun listenerFromARustThreadUntilCancelled(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val rec = Recorder()
    val sub = bert.onChange(rec::onChange)
    val own = bert.withStore { createHelp(newHelp("Eigen")) }
    eq(rec.ids(), setOf(own), "a local write notifies")
    val first = ans.withStore { createHelp(newHelp("Eerste")) }
    t.sync(ans, bert)
    check(first in rec.ids()) { "the pulled change was not announced" }
    // JNA names a native thread it attaches "Thread-N"; the JVM's own threads here are the
    // coroutine workers and main.
    check(rec.threads.any { !it.startsWith("DefaultDispatcher") && it != "main" }) {
        "a pulled change is announced on a Rust thread: ${rec.threads}"
    }
    sub.cancel()
    sub.cancel() // idempotent
    val n = rec.batches.size
    val second = ans.withStore { createHelp(newHelp("Tweede")) }
    bert.withStore { createHelp(newHelp("Nog een")) }
    t.sync(ans, bert)
    check(second in bert.withStore { list(ListQuery()) }.items.map { it.id }) { "second not pulled" }
    eq(rec.batches.size, n, "no delivery after cancel()")
}

suspend fun closingTheSubscriptionStopsDelivery(t: Scope) {
    val s = t.store("drop")
    val rec = Recorder()
    // The generated subscription is AutoCloseable: `use` stops delivery.
    s.store.subscribe(rec).use { s.withStore { createHelp(newHelp("Een")) } }
    s.withStore { createHelp(newHelp("Twee")) }
    eq(rec.batches.size, 1, "deliveries")
}

suspend fun aFailingListenerDoesNotBreakTheWrite(t: Scope) {
    val s = t.store("broken")
    val sub = s.onChange { throw IllegalStateException("app bug") }
    val id = s.withStore { createHelp(newHelp("Toch opgeslagen")) }
    eq(s.withStore { help(id) }.title, "Toch opgeslagen", "title")
    sub.cancel()
}

// ---------------------------------------------------------------------------------------------
// Sync

suspend fun twoStoresSyncThroughARealRelay(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    eq(ans.withStore { buurten() }.map { it.id }, listOf(t.relay.buurt), "buurten")
    eq(ans.withStore { activeBuurt() }, t.relay.buurt, "active")
    val id = ans.withStore { createHelp(newHelp("Lift naar het ziekenhuis", "transport")) }
    // The generated call with an explicit handle, then the wrapper's.
    val pushed = ans.store.sync(t.relay.buurt, CancelHandle())
    eq(pushed.accepted to pushed.rejected, 1uL to emptyList<RejectedChange>(), "pushed")
    val pulled = bert.sync(t.relay.buurt)
    check(pulled.applied >= 1uL) { "nothing applied" }
    eq(bert.withStore { help(id) }.title, "Lift naar het ziekenhuis", "title on the other device")
    val status = bert.withStore { syncStatus(t.relay.buurt) }
    eq(Triple(status.pending, status.failures, status.lastError), Triple(0L, 0L, null), "status")
    check(status.lastSyncAt != null) { "no last sync" }
    bert.withStore { setActiveBuurt(t.relay.buurt) }
    bert.leaveBuurt(t.relay.buurt)
    eq(bert.withStore { buurten() }, emptyList<Buurt>(), "left")
    eq(bert.withStore { list(ListQuery()) }.items, emptyList<Summary>(), "data removed")
}

suspend fun aRestrictedRequestReachesOnlyItsReaders(t: Scope) {
    val ans = t.member("ans", "resident")
    val kees = t.member("kees", "resident")
    val org = t.member("fatima", "organiser")
    val id = ans.withStore { createHelp(
        NewHelp(category = "paperwork", title = "Brief van de bank", audience = Audience.PARTICIPANTS)) }
    val readers = ans.withStore { readers(id) }
    eq(readers.audience, Audience.PARTICIPANTS, "audience")
    eq(readers.members, listOf(ans.withStore { identity() }.member), "readers")
    t.sync(ans, kees, org)
    eq(org.withStore { help(id) }.title, "Brief van de bank", "the organiser reads it")
    throws<NoaberException.NotFound> { kees.withStore { help(id) } }
    val keesId = kees.withStore { identity().member }
    throws<NoaberException.NotFound> { kees.withStore { share(id, identity().member) } }
    org.withStore { share(id, keesId) }
    t.sync(org, kees)
    eq(kees.withStore { help(id) }.title, "Brief van de bank", "shared, the neighbour reads it")
    // Only the creator or an organiser shares further.
    val orgId = org.withStore { identity().member }
    throws<NoaberException.NotAllowed> { kees.withStore { share(id, orgId) } }
    val open = ans.withStore { createHelp(newHelp("Boodschappen", "groceries")) }
    eq(throws<NoaberException.InvalidInput> { ans.withStore { share(open, keesId) } }.field,
        "audience", "field")
}

suspend fun liveSyncPullsAndStopsOnCancel(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val rec = SyncRecorder()
    val cancel = CancelHandle()
    coroutineScope {
        // The generated call with its handle (the wrapper's Flow is tested below).
        val live = async(Dispatchers.IO) { bert.store.syncLive(t.relay.buurt, rec, cancel) }
        waitFor("live sync never synced", rec.first::await)
        ans.withStore { createHelp(newHelp("Live")) }
        ans.sync(t.relay.buurt)
        waitFor("the live connection pulled nothing", rec.pulled::await)
        check(!live.isCompleted) { "live sync ended by itself" }
        cancel.cancel()
        withTimeout(WAIT_MS) { live.await() } // returns normally once cancelled
    }
    check(cancel.isCancelled()) { "handle not cancelled" }
    eq(rec.errors.toList(), emptyList<NoaberException>(), "errors")
    check("Live" in bert.withStore { list(ListQuery()) }.items.map { it.title }) { "not pulled" }
}

/**
 * A relay that answers the join and then never answers a sync; it notes when the device hangs
 * up, which shows the Rust task really stopped.
 */
suspend fun cancellingASyncWaitingOnTheNetworkDropsItsConnection(t: Scope) {
    val gotSync = Semaphore(0)
    val hungUp = Semaphore(0)
    val server = ServerSocket()
    server.bind(InetSocketAddress("127.0.0.1", 0))
    val member = "ab".repeat(16)
    val thread = Thread {
        while (true) {
            val conn: Socket = try { server.accept() } catch (e: java.io.IOException) { break }
            conn.use {
                val input = conn.getInputStream()
                val head = StringBuilder()
                while (!head.endsWith("\r\n\r\n")) {
                    val b = input.read()
                    if (b < 0) break
                    head.append(b.toChar())
                }
                if (head.startsWith("POST /v1/join")) {
                    val body = """{"v":1,"buurt":"${"cd".repeat(16)}","buurt_name":"Stil","member":"$member",""" +
                        """"role":"resident","device":"${"ef".repeat(16)}","token":"${"t".repeat(64)}"}"""
                    conn.getOutputStream().write(
                        ("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n" +
                            "content-length: ${body.length}\r\n\r\n$body").toByteArray())
                } else {
                    gotSync.release()
                    conn.soTimeout = WAIT_MS.toInt()
                    val hangUp = try {
                        while (input.read() >= 0) { /* the request body; then nothing */ }
                        true
                    } catch (e: java.io.IOException) {
                        false
                    }
                    if (hangUp) hungUp.release()
                }
            }
        }
    }
    thread.isDaemon = true
    thread.start()
    try {
        val s = t.store("silent")
        val b = s.join("http://127.0.0.1:${server.localPort}", "AAAA-BBBB-CCCC", "Stil")
        eq(b.member, member, "member from the join answer")
        // The generated call, stopped by its explicit handle (what Swift relies on).
        val cancel = CancelHandle()
        coroutineScope {
            val sync = async(Dispatchers.IO) { runCatching { s.store.sync(b.id, cancel) } }
            waitFor("the sync never reached the relay", gotSync::tryAcquire)
            check(!sync.isCompleted) { "sync finished without an answer" }
            cancel.cancel()
            val outcome = withTimeout(WAIT_MS) { sync.await() }.exceptionOrNull()
            check(outcome is NoaberException.Cancelled) { "expected Cancelled, got $outcome" }
        }
        waitFor("the cancelled sync did not hang up", hungUp::tryAcquire)
        throws<NoaberException.Cancelled> { s.store.sync(b.id, cancel) }
        // The wrapper's suspend sync, stopped by cancelling its coroutine: the wrapper cancels
        // the call's handle and uniffi drops the future; the relay sees the connection close.
        coroutineScope {
            val job = launch(Dispatchers.IO) { s.sync(b.id) }
            waitFor("the sync never reached the relay", gotSync::tryAcquire)
            check(!job.isCompleted) { "sync finished without an answer" }
            job.cancel()
            withTimeout(WAIT_MS) { job.join() }
            check(job.isCancelled) { "job not cancelled" }
        }
        waitFor("a cancelled coroutine did not hang up", hungUp::tryAcquire)
    } finally {
        server.close()
        thread.join(WAIT_MS)
    }
}

// ---------------------------------------------------------------------------------------------
// The wrapper's Flows, AutoCloseable and list details

suspend fun changesFlowAndObserve(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    coroutineScope {
        // Registered before anything is written (UNDISPATCHED runs the collector to its first
        // suspension, which is after the subscription was made).
        val batches = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            withTimeout(WAIT_MS) { bert.changes().take(2).toList() }
        }
        val open = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            withTimeout(WAIT_MS) {
                bert.observe { list(ListQuery(kind = Kind.HELP, needsResponse = true)).items.map { it.title } }
                    .first { it.size == 2 }
            }
        }
        val own = bert.withStore { createHelp(newHelp("Eigen")) }
        val pulled = ans.withStore { createHelp(newHelp("Van Ans")) }
        t.sync(ans, bert)
        val got = batches.await()
        eq(got.first().map { it.id to it.kind }, listOf(own to Kind.HELP), "the local write")
        eq(got.last().map { it.id }, listOf(pulled), "the pulled batch")
        eq(open.await().toSet(), setOf("Eigen", "Van Ans"), "observed list after the pull")
    }
    // Collection stopped (take), so the subscriptions were cancelled: a write is not delivered
    // anywhere and does not fail.
    bert.withStore { createHelp(newHelp("Na afloop")) }
}

suspend fun liveSyncFlowPullsUntilTheCollectorStops(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    t.sync(bert) // what earlier tests left on the relay: the live connection's first sync pulls nothing
    val before = bert.withStore { syncStatus(t.relay.buurt) }.lastSyncAt
    val events = Channel<LiveSync>(Channel.UNLIMITED)
    coroutineScope {
        val live = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            bert.liveSync(t.relay.buurt).collect { events.send(it) }
        }
        val first = withTimeout(WAIT_MS) { events.receive() }
        check(first is LiveSync.Synced) { "the connection's first sync: $first" }
        // The sync status follows syncs run through the same Noaber, live ones included.
        withTimeout(WAIT_MS) { bert.syncStatusFlow(t.relay.buurt).first { it.lastSyncAt != before } }
        ans.withStore { createHelp(newHelp("Live via Flow")) }
        ans.sync(t.relay.buurt)
        withTimeout(WAIT_MS) {
            while (true) {
                val e = events.receive()
                val synced = e as? LiveSync.Synced ?: throw Failure("a live sync failed: $e")
                if (synced.report.applied > 0uL) break
            }
        }
        check(live.isActive) { "live sync ended by itself" }
        live.cancel() // closes the connection (the flow's awaitClose cancels the handle)
        withTimeout(WAIT_MS) { live.join() }
    }
    check("Live via Flow" in bert.withStore { list(ListQuery()) }.items.map { it.title }) { "not pulled" }
}

/** The caretaker's journey: a report made offline waits, is shown as waiting, then syncs. */
suspend fun offlineReportWaitsAndSyncsWhenBack(t: Scope) {
    val relay = t.relay // its own (inOwnBuurt): this test takes it offline
    run {
        val care = t.store("caretaker")
        care.join(relay.url, relay.invites.getValue("caretaker"), "Huismeester")
        // What the screen shows, as one long-lived collection (the ViewModel's stateIn).
        val state = MutableStateFlow<ReportsState?>(null)
        coroutineScope {
            val watcher = launch(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
                reportsState(care, relay.buurt).collect { state.value = it }
            }
            suspend fun until(what: String, p: (ReportsState) -> Boolean): ReportsState =
                withTimeoutOrNull(WAIT_MS) { state.filterNotNull().first(p) }
                    ?: throw Failure("$what; the screen shows ${state.value}")
            until("nothing waits at first") { it.badge is SyncBadge.UpToDate && it.pending == 0uL }
            relay.pause()
            val draft = ReportDraft(category = "lighting", description = "Lamp kelder kapot\nbij de bergingen",
                lat = 52.0907, lon = 5.1214, floor = "kelder", severity = "high")
            eq(submitReport(care, draft.copy(lat = null)), SubmitResult.FieldError("lat", "no location yet"), "no location")
            val unknown = submitReport(care, draft.copy(category = "kapot"))
            check(unknown is SubmitResult.FieldError && unknown.field == "category") { "unknown category: $unknown" }
            val saved = submitReport(care, draft)
            check(saved is SubmitResult.Saved) { "not saved: $saved" }
            val waiting = until("the report waits") { it.badge == SyncBadge.Waiting(1) }
            eq(waiting.mine.map { it.title to it.waiting }, listOf("Lamp kelder kapot" to true), "my reports, not sent yet")
            eq(waiting.awaitingResponse.map { it.status }, listOf("reported"), "awaiting a response")
            throws<NoaberException.Network> { care.sync(relay.buurt) }
            val offline = until("offline is shown") { it.badge is SyncBadge.Offline }
            eq((offline.badge as SyncBadge.Offline).pending to offline.pending, 1L to 1uL, "still waiting")
            relay.resume()
            eq(care.sync(relay.buurt).accepted, 1uL, "accepted once back")
            val synced = until("synced") { it.badge is SyncBadge.UpToDate && it.pending == 0uL }
            eq(synced.mine.map { it.waiting }, listOf(false), "sent")
            watcher.cancel()
        }
    }
}

suspend fun closingTheWrapperReleasesTheStore(t: Scope) {
    val path = File(t.dir, "closed.db").path
    val id = Noaber.open(path).use { it.withStore { createHelp(newHelp("Bewaard")) } }
    val closed = Noaber.open(path)
    closed.close()
    closed.close() // idempotent
    throws<IllegalStateException> { closed.withStore { identity() } }
    Noaber.open(path).use { eq(it.withStore { help(id) }.title, "Bewaard", "reopened") }
}

suspend fun listDetailsAreReadFromTheRow(t: Scope) {
    // The row's detail is a typed enum per kind: no JSON in the shell.
    val ans = t.member("ans", "resident")
    ans.withStore { createHelp(newHelp("Boodschappen")) }
    val row = ans.withStore { list(ListQuery(kind = Kind.HELP)) }.items.single()
    val d = row.detail as? Detail.Help ?: throw AssertionError("a help row has a help detail: ${row.detail}")
    eq(Triple(d.mode, d.responses, d.helper), Triple("ask", 0L, null), "help detail")
    eq(row.toHelpCard(ans.withStore { identity().member }).offer, false, "help card")
    throws<IllegalStateException> { row.toEventCard(emptySet()) }
    val org = t.member("fatima", "organiser")
    val start = org.withStore { nowMs() } + 86_400_000L
    val ev = org.withStore { createEvent(NewEvent(title = "Opruimdag", startsAt = start, endsAt = start + 1, place = "Plein", capacity = 10L)) }
    org.withStore { addEventShift(ev, addEventRole(ev, "Prikker"), start, start + 1, 3L) }
    val card = org.withStore { list(ListQuery(kind = Kind.EVENT)) }.items.single().toEventCard(emptySet())
    eq(Triple(card.capacity, card.shiftsNeeded, card.volunteersMissing), Triple(10L, 3L, 3L), "event card")
    org.withStore { rsvpEvent(ev, Rsvp.GOING) }
    eq(org.withStore { list(ListQuery(kind = Kind.EVENT)) }.items.single().toEventCard(emptySet()).placesLeft, 9L, "places left")
}

suspend fun residentHomeShowsBoardEventsAndTasks(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val org = t.member("fatima", "organiser")
    val start = org.withStore { nowMs() } + 3 * 86_400_000L
    val ev = org.withStore { createEvent(NewEvent(title = "Buurtsoep", startsAt = start, endsAt = start + 7_200_000L, place = "Buurthuis")) }
    val theirs = bert.withStore { createHelp(NewHelp(category = "transport", title = "Lift naar de markt")) }
    val offer = bert.withStore { createHelp(NewHelp(offer = true, category = "odd_jobs", title = "Ik plak fietsbanden")) }
    t.sync(org, bert, ans)
    val mine = ans.withStore { createHelp(newHelp("Hulp bij formulier", "paperwork")) }
    val task = ans.withStore { createTask(NewTask(title = "Portiek vegen", rrule = "FREQ=WEEKLY", dtstart = "2026-01-05")) }
    ans.withStore { claimTask(task) }
    ans.withStore { rsvpEvent(ev, Rsvp.GOING) }
    val home = withTimeout(WAIT_MS) { homeState(ans).first() }
    eq(home.helpBoard.map { it.id }.toSet(), setOf(theirs, offer), "neighbours' open requests and offers")
    eq(home.helpBoard.single { it.id == offer }.offer, true, "an offer")
    eq(home.myHelp.map { it.id to it.mine }, listOf(mine to true), "my requests")
    eq(home.events.map { it.id to it.mine }, listOf(ev to true), "events, joined")
    eq(home.myTasks.map { it.id to it.adoptedByMe }, listOf(task to true), "adopted task")
    // The board follows changes: once Ans responds, Bert's request needs no response.
    coroutineScope {
        val next = async(Dispatchers.Default, start = CoroutineStart.UNDISPATCHED) {
            withTimeout(WAIT_MS) { homeState(ans).first { theirs !in it.helpBoard.map { c -> c.id } } }
        }
        ans.withStore { respondHelp(theirs, "Ik rijd zaterdag") }
        eq(next.await().helpBoard.map { it.id }, listOf(offer), "answered request left the board")
    }
}

suspend fun organiserBoardShowsWhatNobodyPickedUp(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val org = t.member("fatima", "organiser")
    val start = org.withStore { nowMs() } + 2 * 86_400_000L
    val ev = org.withStore { createEvent(NewEvent(title = "Kerstmarkt", startsAt = start, endsAt = start + 3_600_000L, place = "Plein")) }
    val role = org.withStore { addEventRole(ev, "Kraam") }
    val shift = org.withStore { addEventShift(ev, role, start, start + 3_600_000L, 2L) }
    val full = org.withStore { createEvent(NewEvent(title = "Koffie", startsAt = start, endsAt = start + 1, place = "Hal")) }
    org.withStore {
        addEventShift(full, addEventRole(full, "Schenken"), start, start + 1, 1L)
        signupShift(full, event(full).shifts.single().id)
    }
    val first = ans.withStore { createHelp(newHelp("Boodschappen", "groceries")) }
    val second = bert.withStore { createHelp(newHelp("Gordijnen ophangen", "odd_jobs")) }
    t.sync(ans, bert, org)
    org.withStore { respondHelp(second, "Ik vraag Kees") }
    val board = withTimeout(WAIT_MS) { boardState(org).first() }
    eq(board.unmatchedHelp.map { it.id }.toSet(), setOf(first, second), "open without a helper")
    eq(board.unmatchedHelp.single { it.id == second }.responses, 1L, "one response, no match yet")
    eq(board.shiftGaps.map { it.event.id to it.missing }, listOf(ev to 2L), "short of volunteers")
    // A match and a sign-up take them off the board.
    org.withStore { matchHelp(second, identity().member) }
    t.sync(org, bert)
    bert.withStore { signupShift(ev, shift) }
    t.sync(bert, org)
    val after = withTimeout(WAIT_MS) { boardState(org).first() }
    eq(after.unmatchedHelp.map { it.id }, listOf(first), "matched request left")
    eq(after.shiftGaps.map { it.event.id to it.missing }, listOf(ev to 1L), "one volunteer still missing")
    eq(after.openHelpCount, 1L, "open requests")
}

/** The bridge itself: the handle is cancelled while the call is still suspended. */
suspend fun coroutineCancellationReachesTheCancelHandle(t: Scope) {
    val seen = CompletableDeferred<Boolean>()
    val started = CompletableDeferred<Unit>()
    coroutineScope {
        val job = launch(Dispatchers.Default) {
            withCancelHandle { handle ->
                check(!handle.isCancelled()) { "a fresh handle is cancelled" }
                try {
                    started.complete(Unit)
                    awaitCancellation() // stands in for a network call that never answers
                } finally {
                    // Runs when the suspended call resumes: the handle must be cancelled already.
                    seen.complete(handle.isCancelled())
                }
            }
        }
        withTimeout(WAIT_MS) { started.await() }
        job.cancel()
        eq(withTimeout(WAIT_MS) { seen.await() }, true, "handle cancelled before the call resumed")
    }
    // A call that returns normally leaves its handle alone and returns the value.
    eq(withCancelHandle { handle -> handle.isCancelled() }, false, "not cancelled after a normal call")
}

/** A camera-like JPEG: EXIF with a GPS position, a serial number and the owner's name. */
val CAMERA_JPG = File("tests/fixtures/photos/camera.jpg")

suspend fun photoTakenOfflineArrivesWithoutMetadata(t: Scope) {
    val care = t.member("caretaker", "caretaker")
    val ans = t.member("ans", "resident")
    val id = care.withStore { createReport(NewReport(category = "lighting", lat = 52.2001, lon = 5.3001)) }
    val photo = care.withStore { attachPhoto(id, CAMERA_JPG.readBytes()) }
    eq(Triple(photo.mime, photo.width, photo.height), Triple("image/jpeg", 96u, 64u), "photo")
    val held = care.withStore { photo(photo.hash) } ?: error("the photo is held here")
    for (secret in listOf("SN-HOME-4242", "Ans de Vries", "GPS", "xmpmeta")) {
        check(!String(held.bytes, Charsets.ISO_8859_1).contains(secret)) { "$secret survived" }
    }
    eq(care.withStore { photoUploads() }.single().state, UploadState.PENDING, "queued")
    try {
        care.withStore { attachPhoto(id, "GIF89a".toByteArray()) }
        error("a GIF is not accepted")
    } catch (e: NoaberException.InvalidInput) {
        eq(e.field, "photo", "field")
    }
    t.sync(care, ans)
    eq(ans.withStore { report(id) }.photos.map { it.photo.hash }, listOf(photo.hash), "the reference")
    eq(ans.fetchPhoto(t.relay.buurt, photo.hash), null, "pending until uploaded")
    val progress = Collections.synchronizedList(mutableListOf<PhotoProgress>())
    val report = care.uploadPhotos(t.relay.buurt) { progress.add(it) }
    eq(report.completed, 1uL, "uploaded")
    eq(progress.last(), PhotoProgress(photo.hash, id, photo.size, photo.size), "progress")
    eq(care.withStore { photoUploads() }.single().state, UploadState.DONE, "done")
    val got = ans.fetchPhoto(t.relay.buurt, photo.hash) ?: error("fetched")
    check(got.bytes.contentEquals(held.bytes)) { "the same clean bytes" }
    eq(got.mime, "image/jpeg", "mime")
}

val tests: List<Pair<String, suspend (Scope) -> Unit>> = listOf(
    "help: a resident asks, a neighbour responds, an organiser matches" to ::helpJourney,
    "event: RSVP, waitlist, shifts" to ::eventJourney,
    "task: adopted, backed up, recorded" to ::taskJourney,
    "audience: a restricted request reaches only its readers" to ::aRestrictedRequestReachesOnlyItsReaders,
    "report: created and worked through" to ::reportJourney,
    "photo: taken offline, uploaded, fetched without metadata" to inOwnBuurt(::photoTakenOfflineArrivesWithoutMetadata),
    "profile, identity, lists and counts" to ::profileListsAndCounts,
    "errors: invalid input names the field" to ::invalidInputNamesTheField,
    "errors: not found and not allowed" to ::notFoundAndNotAllowed,
    "errors: relay refusal and offline" to ::relayRefusalAndOffline,
    "listener: called from a Rust thread until cancelled" to ::listenerFromARustThreadUntilCancelled,
    "listener: closing the subscription stops delivery" to ::closingTheSubscriptionStopsDelivery,
    "listener: a failing listener does not break the write" to ::aFailingListenerDoesNotBreakTheWrite,
    "sync: two stores through a real relay" to ::twoStoresSyncThroughARealRelay,
    "sync: live sync pulls and stops on cancel" to ::liveSyncPullsAndStopsOnCancel,
    "sync: cancelling a sync waiting on the network drops its connection" to
        ::cancellingASyncWaitingOnTheNetworkDropsItsConnection,
    "sync: cancelling a coroutine cancels its call's CancelHandle" to ::coroutineCancellationReachesTheCancelHandle,
    "flow: changes() and observe() follow local writes and pulled batches" to inOwnBuurt(::changesFlowAndObserve),
    "flow: liveSync pulls until the collector stops" to ::liveSyncFlowPullsUntilTheCollectorStops,
    "caretaker: an offline report waits, shows as waiting, then syncs" to inOwnBuurt(::offlineReportWaitsAndSyncsWhenBack),
    "close: a closed Noaber refuses calls and releases the file" to ::closingTheWrapperReleasesTheStore,
    "detail: list rows' figures are read" to ::listDetailsAreReadFromTheRow,
    "resident: home shows the help board, events and tasks" to inOwnBuurt(::residentHomeShowsBoardEventsAndTasks),
    "organiser: the board shows what nobody picked up" to inOwnBuurt(::organiserBoardShowsWhatNobodyPickedUp),
)

fun main() {
    var passed = 0
    var failed = 0
    val relay = Relay()
    try {
        for ((name, test) in tests) {
            try {
                runBlocking { withTimeout(TEST_MS) { Scope(relay).use { test(it) } } }
                println("ok   $name")
                passed++
            } catch (e: Throwable) {
                println("FAIL $name: $e")
                e.printStackTrace(System.out)
                failed++
            }
        }
    } finally {
        relay.stop()
    }
    println("kotlin: $passed passed, $failed failed")
    exitProcess(if (failed == 0 && passed > 0) 0 else 1)
}
