// The Kotlin binding tests: the generated `nl.noaber.ffi` bindings on the JVM (JNA) against
// libnoaber_ffi and a real relay. Run by scripts/test-bindings.sh, which names the relay binary
// in NOABER_RELAY_BIN. A tiny runner: every test is a function; prints
// `kotlin: N passed, M failed` and exits non-zero on a failure.

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
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import nl.noaber.ffi.*

const val WAIT_MS = 30_000L // an upper bound for things that normally take milliseconds

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

fun <T> blocking(block: suspend () -> T): T = runBlocking { withTimeout(WAIT_MS) { block() } }

/** A real `noaber-relay serve` on a free port, with a temporary data folder. */
class Relay {
    private val bin = System.getenv("NOABER_RELAY_BIN") ?: "target/debug/noaber-relay"
    private val data: File = Files.createTempDirectory("noaber-relay-").toFile()
    private val proc: Process
    val url: String
    val buurt: String
    val invites: Map<String, String>

    init {
        val pb = ProcessBuilder(bin, "serve", "--data", data.path, "--listen", "127.0.0.1:0")
        pb.environment()["NOABER_RELAY_JOIN_BURST"] = "1000"
        pb.environment()["RUST_LOG"] = "warn"
        pb.redirectError(ProcessBuilder.Redirect.DISCARD)
        proc = pb.start()
        val line = proc.inputStream.bufferedReader().readLine() ?: ""
        if (!line.startsWith("listening on ")) {
            stop()
            throw IllegalStateException("relay did not start: '$line'")
        }
        url = "http://" + line.removePrefix("listening on ")
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

/** Stores in a temporary folder, closed and removed after each test. */
class Scope(val relay: Relay) : AutoCloseable {
    private val dir: File = Files.createTempDirectory("noaber-kt-").toFile()
    private val stores = mutableListOf<NoaberStore>()

    fun store(name: String): NoaberStore =
        NoaberStore.open(File(dir, "$name.db").path).also { stores.add(it) }

    /** A store joined to the test buurt with an invite for `role`. */
    fun member(name: String, role: String): NoaberStore {
        val s = store(name)
        val b = blocking { s.join(relay.url, relay.invites.getValue(role), name, null) }
        eq(b.id, relay.buurt, "joined buurt")
        eq(s.identity().role, Role.valueOf(role.uppercase()), "role from the invite")
        return s
    }

    fun sync(vararg stores: NoaberStore): List<SyncReport> =
        stores.map { blocking { it.sync(relay.buurt, null) } }

    override fun close() {
        stores.forEach { it.close() }
        dir.deleteRecursively()
    }
}

class Recorder : ChangeListener {
    val batches: MutableList<List<Changed>> = Collections.synchronizedList(mutableListOf())
    val threads: MutableSet<Long> = Collections.synchronizedSet(mutableSetOf())

    override fun onChange(changed: List<Changed>) {
        threads.add(Thread.currentThread().id)
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

fun help(title: String, category: String = "other") = NewHelp(category = category, title = title)

// ---------------------------------------------------------------------------------------------
// Journeys, one per role

fun helpJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val org = t.member("fatima", "organiser")
    val id = ans.createHelp(
        NewHelp(category = "groceries", title = "Boodschappen dinsdag",
            precision = "stairwell", locationLabel = "Portiek 12"))
    eq(ans.help(id).status, HelpStatus.OPEN, "new request")
    val (pushed, pulled) = t.sync(ans, bert)
    eq(pushed.accepted, 1uL, "accepted")
    check(pulled.applied >= 1uL) { "bert pulled nothing" }
    val open = bert.list(ListQuery(kind = Kind.HELP, needsResponse = true))
    eq(open.items.map { it.id }, listOf(id), "needs a response")
    bert.respondHelp(id, "Ik kan dinsdag")
    t.sync(bert, org)
    eq(org.help(id).responses.map { it.member }, listOf(bert.identity().member), "responders")
    org.matchHelp(id, bert.identity().member)
    t.sync(org, ans)
    val matched = ans.help(id)
    eq(matched.status, HelpStatus.MATCHED, "status")
    eq(matched.helper, bert.identity().member, "helper")
    eq(matched.matchedBy, org.identity().member, "matched by")
    ans.completeHelp(id)
    ans.thankHelp(id, "Dank je wel!")
    val done = ans.help(id)
    eq(done.status, HelpStatus.DONE, "status")
    eq(done.thanks.map { it.text }, listOf("Dank je wel!"), "thanks")
    val comment = bert.addComment(id, "Graag gedaan")
    t.sync(bert, ans)
    eq(ans.comments(id).map { it.id to it.body }, listOf(comment to "Graag gedaan"), "comments")
    bert.editComment(id, comment, "Graag gedaan, tot volgende keer")
    bert.withdrawComment(id, comment)
    check(bert.comments(id).single().withdrawn) { "comment not withdrawn" }
    t.sync(bert)
    val found = bert.list(ListQuery(text = "boodschap"))
    eq(found.items.map { it.id to it.status }, listOf(id to "done"), "search")
}

fun eventJourney(t: Scope) {
    val org = t.member("organiser", "organiser")
    val ans = t.member("ans", "resident")
    val start = org.nowMs() + 7 * 86_400_000L
    val id = org.createEvent(
        NewEvent(title = "Buurtbarbecue", startsAt = start, endsAt = start + 4 * 3_600_000L,
            place = "Binnentuin", capacity = 1L))
    val role = org.addEventRole(id, "Opbouw", "tafels en stoelen")
    val shift = org.addEventShift(id, role, start - 3_600_000L, start, 1L)
    eq(org.rsvpEvent(id, Rsvp.GOING), Attendance.Going(1uL), "organiser's place")
    t.sync(org, ans)
    eq(ans.rsvpEvent(id, Rsvp.GOING), Attendance.Waitlisted(1uL), "the only place is taken")
    eq(ans.signupShift(id, shift), ShiftSlot.On, "shift")
    val view = ans.event(id)
    eq(view.myAttendance, Attendance.Waitlisted(1uL), "my attendance")
    eq(view.shifts.single().mySlot, ShiftSlot.On, "my slot")
    eq(view.shiftsNeeded to view.shiftsFilled, 1L to 1L, "coverage")
    org.rsvpEvent(id, Rsvp.DECLINED)
    t.sync(org, ans)
    eq(ans.event(id).myAttendance, Attendance.Going(1uL), "promoted from the waitlist")
    org.editEvent(id, EventEdit(capacity = CapacityChange.Unlimited,
        point = PointChange.Set(GeoPoint(52.09, 5.12))))
    val edited = org.event(id)
    eq(edited.capacity, null, "capacity")
    eq(edited.point, GeoPoint(52.09, 5.12), "point")
    val upcoming = ans.list(ListQuery(kind = Kind.EVENT, order = ListOrder.UPCOMING))
    eq(upcoming.items.map { it.id }, listOf(id), "upcoming")
    org.cancelEvent(id, "regen")
    eq(org.event(id).status, EventStatus.CANCELLED, "status")
}

fun taskJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val id = ans.createTask(
        NewTask(title = "Binnentuin water geven", rrule = "FREQ=DAILY", dtstart = "2026-01-01"))
    eq(ans.task(id).status, TaskStatus.UNADOPTED, "new task")
    ans.claimTask(id)
    t.sync(ans, bert)
    bert.claimTask(id)
    val view = bert.task(id)
    eq(view.adopter, ans.identity().member, "adopter")
    eq(view.backups, listOf(bert.identity().member), "backups")
    eq(view.status, TaskStatus.ACTIVE, "status")
    val day = view.currentOccurrence ?: throw Failure("no current occurrence")
    bert.recordOccurrence(id, day, Outcome.DONE, "flink gegoten")
    val item = bert.addChecklistItem(id, "gieter vullen")
    val recorded = bert.task(id)
    eq(recorded.occurrences.first().date to recorded.occurrences.first().outcome,
        day to Outcome.DONE, "occurrence")
    eq(recorded.checklist.map { it.id }, listOf(item), "checklist")
    bert.removeChecklistItem(id, item)
    t.sync(bert, ans)
    ans.pauseTask(id)
    eq(ans.task(id).status, TaskStatus.PAUSED, "paused")
    ans.resumeTask(id)
    ans.releaseTask(id)
    eq(ans.task(id).adopter, bert.identity().member, "hand-over to the backup")
    eq(bert.list(ListQuery(kind = Kind.TASK, mine = true)).items.map { it.id }, listOf(id), "mine")
    val pledge = ans.createTask(NewTask(title = "Bankje schilderen", pledgeTarget = 2u))
    ans.pledgeTask(pledge)
    eq(ans.task(pledge).status, TaskStatus.PLEDGING, "pledging")
    ans.unpledgeTask(pledge)
}

fun reportJourney(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val care = t.member("caretaker", "caretaker")
    val id = ans.createReport(
        NewReport(category = "lighting", lat = 52.0907, lon = 5.1214, floor = "kelder",
            severity = "high", description = "Lamp kapot"))
    eq(ans.syncStatus(t.relay.buurt).pending, 1L, "waits to sync")
    t.sync(ans, bert, care)
    eq(ans.syncStatus(t.relay.buurt).pending, 0L, "synced")
    bert.meTooReport(id)
    care.transitionReport(id, ReportTransition.Acknowledge)
    care.setReportResponsible(id, "Gemeente")
    care.setReportResponse(id, "We komen donderdag")
    care.transitionReport(id, ReportTransition.Resolve)
    t.sync(bert, care, ans)
    val view = ans.report(id)
    eq(view.status, ReportStatus.RESOLVED, "status")
    eq(view.timeline.map { it.to }, listOf(ReportStatus.ACKNOWLEDGED, ReportStatus.RESOLVED), "timeline")
    eq(view.timeline.first().role, Role.CARETAKER, "role in the timeline")
    eq(view.meToo.map { it.member }, listOf(bert.identity().member), "me too")
    eq(view.responsible to view.response, "Gemeente" to "We komen donderdag", "triage")
    eq(view.title, "Lamp kapot", "title")
    ans.attachPhotoRef(id, PhotoRef("ab".repeat(32), "image/jpeg", 1000uL, 640u, 480u))
    ans.transitionReport(id, ReportTransition.Confirm)
    eq(ans.report(id).status, ReportStatus.CONFIRMED, "confirmed")
    eq(ans.report(id).photos.size, 1, "photos")
    val box = BBox(south = 52.08, west = 5.11, north = 52.10, east = 5.13)
    eq(ans.list(ListQuery(kind = Kind.REPORT, bbox = box)).items.map { it.id }, listOf(id), "bbox")
}

fun profileListsAndCounts(t: Scope) {
    val s = t.store("solo")
    val me = s.setIdentity(Role.ORGANISER, "Fatima", "Complex 4")
    eq(Triple(me.role, me.displayName, me.household), Triple(Role.ORGANISER, "Fatima", "Complex 4"), "identity")
    eq(s.myProfile(), null, "no profile yet")
    val pid = s.createProfile(NewProfile(displayName = "Fatima", skills = listOf("fietsen")))
    s.addSkill(pid, "Turks")
    s.removeSkill(pid, "fietsen")
    s.editProfile(pid, ProfileEdit(availability = "woensdagmiddag"))
    val p = s.myProfile() ?: throw Failure("no profile")
    eq(Triple(p.id, p.skills, p.availability), Triple(pid, listOf("Turks"), "woensdagmiddag"), "profile")
    val ids = (0 until 5).map { s.createHelp(help("Koffie $it", "company")) }
    val seen = mutableListOf<String>()
    var after: String? = null
    do {
        val page = s.list(ListQuery(kind = Kind.HELP, limit = 2u, after = after))
        check(page.items.size <= 2) { "page larger than its limit" }
        seen += page.items.map { it.id }
        after = page.next
    } while (after != null)
    eq(seen.sorted(), ids.sorted(), "all pages")
    val counts = s.statusCounts().associate { (it.kind to it.status) to it.count }
    eq(counts[Kind.HELP to "open"], 5L, "open requests")
    eq(s.kindOf(ids.first()), Kind.HELP, "kind")
    eq(s.pendingCount(), 9uL, "4 profile changes and 5 requests wait to sync")
    eq(s.myNotices(), emptyList<MyNotice>(), "notices")
    eq(s.rebuildProjections(), 6uL, "rebuilt")
}

// ---------------------------------------------------------------------------------------------
// Errors

fun invalidInputNamesTheField(t: Scope) {
    val s = t.store("errors")
    eq(throws<NoaberException.InvalidInput> { s.createHelp(help("")) }.field, "title", "field")
    eq(throws<NoaberException.InvalidInput> { s.help("not-an-id") }.field, "id", "field")
    eq(throws<NoaberException.InvalidInput> { s.list(ListQuery(limit = 501u)) }.field, "limit", "field")
}

fun notFoundAndNotAllowed(t: Scope) {
    val s = t.store("errors")
    val missing = "0123456789abcdef0123456789abcdef"
    eq(throws<NoaberException.NotFound> { s.help(missing) }.id, missing, "id")
    val refused = throws<NoaberException.NotAllowed> {
        s.createEvent(NewEvent(title = "Feest", startsAt = 0L, endsAt = 1L, place = "Hier"))
    }
    check(refused.reason.contains("resident")) { "reason names the role: ${refused.reason}" }
    val id = s.createHelp(help("Brood"))
    s.cancelHelp(id, "")
    throws<NoaberException.NotAllowed> { s.completeHelp(id) }
    throws<NoaberException.NotFound> { s.syncStatus(missing) }
}

fun relayRefusalAndOffline(t: Scope) {
    val s = t.store("errors")
    val refused = throws<NoaberException.Rejected> {
        blocking { s.join(t.relay.url, "AAAA-BBBB-CCCC", "Iemand", null) }
    }
    eq(refused.code, "invite_invalid", "code")
    val port = ServerSocket(0).use { it.localPort }
    throws<NoaberException.Network> {
        blocking { s.join("http://127.0.0.1:$port", "AAAA-BBBB-CCCC", "Iemand", null) }
    }
}

// ---------------------------------------------------------------------------------------------
// Listeners

fun listenerFromARustThreadUntilCancelled(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val rec = Recorder()
    val sub = bert.subscribe(rec)
    val own = bert.createHelp(help("Eigen"))
    eq(rec.ids(), setOf(own), "a local write notifies")
    val first = ans.createHelp(help("Eerste"))
    t.sync(ans, bert)
    check(first in rec.ids()) { "the pulled change was not announced" }
    val me = Thread.currentThread().id
    check(rec.threads.any { it != me }) { "a pulled change is announced on a Rust thread" }
    sub.cancel()
    sub.cancel() // idempotent
    val n = rec.batches.size
    val second = ans.createHelp(help("Tweede"))
    bert.createHelp(help("Nog een"))
    t.sync(ans, bert)
    check(second in bert.list(ListQuery()).items.map { it.id }) { "second not pulled" }
    eq(rec.batches.size, n, "no delivery after cancel()")
}

fun closingTheSubscriptionStopsDelivery(t: Scope) {
    val s = t.store("drop")
    val rec = Recorder()
    val sub = s.subscribe(rec)
    s.createHelp(help("Een"))
    sub.close()
    s.createHelp(help("Twee"))
    eq(rec.batches.size, 1, "deliveries")
}

fun aFailingListenerDoesNotBreakTheWrite(t: Scope) {
    val s = t.store("broken")
    val sub = s.subscribe(object : ChangeListener {
        override fun onChange(changed: List<Changed>) = throw IllegalStateException("app bug")
    })
    val id = s.createHelp(help("Toch opgeslagen"))
    eq(s.help(id).title, "Toch opgeslagen", "title")
    sub.cancel()
}

// ---------------------------------------------------------------------------------------------
// Sync

fun twoStoresSyncThroughARealRelay(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    eq(ans.buurten().map { it.id }, listOf(t.relay.buurt), "buurten")
    eq(ans.activeBuurt(), t.relay.buurt, "active")
    val id = ans.createHelp(help("Lift naar het ziekenhuis", "transport"))
    val pushed = blocking { ans.sync(t.relay.buurt, CancelHandle()) }
    eq(pushed.accepted to pushed.rejected, 1uL to emptyList<RejectedChange>(), "pushed")
    val pulled = blocking { bert.sync(t.relay.buurt, null) }
    check(pulled.applied >= 1uL) { "nothing applied" }
    eq(bert.help(id).title, "Lift naar het ziekenhuis", "title on the other device")
    val status = bert.syncStatus(t.relay.buurt)
    eq(Triple(status.pending, status.failures, status.lastError), Triple(0L, 0L, null), "status")
    check(status.lastSyncAt != null) { "no last sync" }
    bert.setActiveBuurt(t.relay.buurt)
    bert.leaveBuurt(t.relay.buurt)
    eq(bert.buurten(), emptyList<Buurt>(), "left")
    eq(bert.list(ListQuery()).items, emptyList<Summary>(), "data removed")
}

fun aRestrictedRequestReachesOnlyItsReaders(t: Scope) {
    val ans = t.member("ans", "resident")
    val kees = t.member("kees", "resident")
    val org = t.member("fatima", "organiser")
    val id = ans.createHelp(
        NewHelp(category = "paperwork", title = "Brief van de bank", audience = Audience.PARTICIPANTS))
    val readers = ans.readers(id)
    eq(readers.audience, Audience.PARTICIPANTS, "audience")
    eq(readers.members, listOf(ans.identity().member), "readers")
    t.sync(ans, kees, org)
    eq(org.help(id).title, "Brief van de bank", "the organiser reads it")
    throws<NoaberException.NotFound> { kees.help(id) }
    throws<NoaberException.NotFound> { kees.share(id, kees.identity().member) }
    org.share(id, kees.identity().member)
    t.sync(org, kees)
    eq(kees.help(id).title, "Brief van de bank", "shared, the neighbour reads it")
    // Only the creator or an organiser shares further.
    throws<NoaberException.NotAllowed> { kees.share(id, org.identity().member) }
    val open = ans.createHelp(help("Boodschappen", "groceries"))
    eq(throws<NoaberException.InvalidInput> { ans.share(open, kees.identity().member) }.field,
        "audience", "field")
}

fun liveSyncPullsAndStopsOnCancel(t: Scope) {
    val ans = t.member("ans", "resident")
    val bert = t.member("bert", "resident")
    val rec = SyncRecorder()
    val cancel = CancelHandle()
    runBlocking {
        // On another dispatcher: this thread blocks on latches below.
        val live = async(Dispatchers.IO) { bert.syncLive(t.relay.buurt, rec, cancel) }
        check(rec.first.await(WAIT_MS, TimeUnit.MILLISECONDS)) { "live sync never synced" }
        ans.createHelp(help("Live"))
        ans.sync(t.relay.buurt, null)
        check(rec.pulled.await(WAIT_MS, TimeUnit.MILLISECONDS)) { "the live connection pulled nothing" }
        check(!live.isCompleted) { "live sync ended by itself" }
        cancel.cancel()
        withTimeout(WAIT_MS) { live.await() } // returns normally once cancelled
    }
    check(cancel.isCancelled()) { "handle not cancelled" }
    eq(rec.errors.toList(), emptyList<NoaberException>(), "errors")
    check("Live" in bert.list(ListQuery()).items.map { it.title }) { "not pulled" }
}

/**
 * A relay that answers the join and then never answers a sync; it notes when the device hangs
 * up, which shows the Rust task really stopped.
 */
fun cancellingASyncWaitingOnTheNetworkDropsItsConnection(t: Scope) {
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
        val b = blocking { s.join("http://127.0.0.1:${server.localPort}", "AAAA-BBBB-CCCC", "Stil", null) }
        eq(b.member, member, "member from the join answer")
        val cancel = CancelHandle()
        runBlocking {
            // On another dispatcher: this thread blocks on semaphores below.
            val sync = async(Dispatchers.IO) { runCatching { s.sync(b.id, cancel) } }
            check(gotSync.tryAcquire(WAIT_MS, TimeUnit.MILLISECONDS)) { "the sync never reached the relay" }
            check(!sync.isCompleted) { "sync finished without an answer" }
            cancel.cancel()
            val outcome = withTimeout(WAIT_MS) { sync.await() }.exceptionOrNull()
            check(outcome is NoaberException.Cancelled) { "expected Cancelled, got $outcome" }
        }
        check(hungUp.tryAcquire(WAIT_MS, TimeUnit.MILLISECONDS)) { "the cancelled sync did not hang up" }
        throws<NoaberException.Cancelled> { blocking { s.sync(b.id, cancel) } }
        // Cancelling the coroutine drops the Rust future, which stops the task as well.
        runBlocking {
            val job = launch(Dispatchers.IO) { s.sync(b.id, null) }
            check(gotSync.tryAcquire(WAIT_MS, TimeUnit.MILLISECONDS)) { "the sync never reached the relay" }
            job.cancel()
            withTimeout(WAIT_MS) { job.join() }
            check(job.isCancelled) { "job not cancelled" }
        }
        check(hungUp.tryAcquire(WAIT_MS, TimeUnit.MILLISECONDS)) { "a cancelled coroutine did not hang up" }
    } finally {
        server.close()
        thread.join(WAIT_MS)
    }
}

val tests: List<Pair<String, (Scope) -> Unit>> = listOf(
    "help: a resident asks, a neighbour responds, an organiser matches" to ::helpJourney,
    "event: RSVP, waitlist, shifts" to ::eventJourney,
    "task: adopted, backed up, recorded" to ::taskJourney,
    "audience: a restricted request reaches only its readers" to ::aRestrictedRequestReachesOnlyItsReaders,
    "report: created and worked through" to ::reportJourney,
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
)

fun main() {
    var passed = 0
    var failed = 0
    val relay = Relay()
    try {
        for ((name, test) in tests) {
            try {
                Scope(relay).use { test(it) }
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
