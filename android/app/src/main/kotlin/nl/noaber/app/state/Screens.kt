// The three journeys' screen state as Flows over the store (plain Kotlin: the JVM tests collect
// them against a real store and relay). A ViewModel only does `stateIn(viewModelScope, ...)`.
package nl.noaber.app.state

import kotlinx.coroutines.flow.Flow
import nl.noaber.Noaber
import nl.noaber.listAll
import nl.noaber.ffi.Kind
import nl.noaber.ffi.ListOrder
import nl.noaber.ffi.ListQuery
import nl.noaber.ffi.MyNotice
import nl.noaber.ffi.NewReport
import nl.noaber.ffi.NoaberException
import nl.noaber.ffi.RejectedChange
import nl.noaber.ffi.Role
import nl.noaber.ffi.SyncStatus

/** Rows a screen section shows; more are a "show all" away. */
const val SECTION_LIMIT: UInt = 50u

// ---------------------------------------------------------------------------------------------
// Resident: home

/** A resident's home: the help board, their own requests, events, adopted tasks, notices. */
data class HomeState(
    /** Open requests and offers of neighbours that nobody answered yet. */
    val helpBoard: List<HelpCard>,
    /** The local member's own requests and offers, any status. */
    val myHelp: List<HelpCard>,
    /** Upcoming events, soonest first, marked when the member takes part. */
    val events: List<EventCard>,
    /** Tasks the member adopted or backs up. */
    val myTasks: List<TaskCard>,
    /** What the member should be told (a lost claim, a waitlist place). */
    val notices: List<MyNotice>,
)

/** [HomeState] now and after every change. */
fun homeState(noaber: Noaber): Flow<HomeState> = noaber.observe {
    val me = identity().member
    val open = list(ListQuery(kind = Kind.HELP, needsResponse = true, limit = SECTION_LIMIT)).items
    val mine = list(ListQuery(kind = Kind.HELP, mine = true, limit = SECTION_LIMIT)).items
    val now = nowMs()
    val events = list(ListQuery(kind = Kind.EVENT, order = ListOrder.UPCOMING, timeFrom = now, limit = SECTION_LIMIT)).items
    val myEvents = list(ListQuery(kind = Kind.EVENT, mine = true, timeFrom = now, limit = 500u)).items.map { it.id }.toSet()
    val tasks = list(ListQuery(kind = Kind.TASK, mine = true, limit = SECTION_LIMIT)).items
    HomeState(
        helpBoard = open.filter { it.createdBy != me }.map { it.toHelpCard(me) },
        myHelp = mine.filter { it.createdBy == me }.map { it.toHelpCard(me) },
        events = events.filter { it.status != "cancelled" }.map { it.toEventCard(myEvents) },
        myTasks = tasks.map { it.toTaskCard(me) },
        notices = myNotices(),
    )
}

// ---------------------------------------------------------------------------------------------
// Caretaker: report an issue, offline, and see what waits to sync

/** What the sync line of a screen says. */
sealed interface SyncBadge {
    /** Nothing waits; [lastSyncAt] is when the last sync completed (`null`: never). */
    data class UpToDate(val lastSyncAt: Long?) : SyncBadge

    /** [pending] changes wait and the last attempt did not fail (or none was made yet). */
    data class Waiting(val pending: Long) : SyncBadge

    /**
     * The last attempt failed ([failures] in a row): [pending] changes wait for a connection.
     * The error text is the library's, for a log; the screen says "offline".
     */
    data class Offline(val pending: Long, val failures: Long, val lastError: String?) : SyncBadge

    /** The relay refused changes (they are not retried); shown until the member looks at them. */
    data class Refused(val pending: Long, val refused: List<RejectedChange>) : SyncBadge
}

/** The badge for a buurt's sync status; refusals come first, then failures, then waiting. */
fun syncBadge(status: SyncStatus): SyncBadge = when {
    status.rejected.isNotEmpty() -> SyncBadge.Refused(status.pending, status.rejected)
    status.failures > 0 -> SyncBadge.Offline(status.pending, status.failures, status.lastError)
    status.pending > 0 -> SyncBadge.Waiting(status.pending)
    else -> SyncBadge.UpToDate(status.lastSyncAt)
}

/** The caretaker's report screen: the sync badge, their reports, and reports awaiting a response. */
data class ReportsState(
    /** The active buurt's sync, or `null` before joining one (everything waits locally). */
    val badge: SyncBadge?,
    /** Local changes waiting for a relay, over every buurt (also before joining). */
    val pending: ULong,
    /** Reports the member made or takes part in, newest activity first. */
    val mine: List<ReportCard>,
    /** Reports in `reported` or `reopened` that someone should pick up. */
    val awaitingResponse: List<ReportCard>,
)

/**
 * [ReportsState] now and after every change or sync through [noaber]; one query run reads
 * every part, so the badge and the lists never disagree.
 */
fun reportsState(noaber: Noaber, buurt: String?): Flow<ReportsState> = noaber.observe {
    ReportsState(
        badge = buurt?.let { syncBadge(syncStatus(it)) },
        pending = pendingCount(),
        mine = list(ListQuery(kind = Kind.REPORT, mine = true, limit = SECTION_LIMIT)).items.map { it.toReportCard() },
        awaitingResponse = list(ListQuery(kind = Kind.REPORT, needsResponse = true, limit = SECTION_LIMIT))
            .items.map { it.toReportCard() },
    )
}

/** The report form as typed; numbers are parsed by [submitReport]. */
data class ReportDraft(
    /** One of the core's report categories (`lighting`, `litter`, `bulky_waste`, ...). */
    val category: String = "",
    /** What is wrong; its first line is the title. */
    val description: String = "",
    /** Latitude, from the location provider. */
    val lat: Double? = null,
    /** Longitude, from the location provider. */
    val lon: Double? = null,
    /** Complex label. */
    val complex: String = "",
    /** Floor ("kelder", "3"). */
    val floor: String = "",
    /** Stairwell. */
    val stairwell: String = "",
    /** `low`, `normal`, `high` or `urgent`. */
    val severity: String = "normal",
)

/** The outcome of submitting a [ReportDraft]. */
sealed interface SubmitResult {
    /** Stored on the device (it syncs when there is a connection). */
    data class Saved(val id: String) : SubmitResult

    /** A field to mark, named as the core names it (`description`, `category`, `lat`, ...). */
    data class FieldError(val field: String, val reason: String) : SubmitResult

    /** The member may not do this (a role or state the core refuses). */
    data class NotAllowed(val reason: String) : SubmitResult
}

/**
 * Stores a report from [draft]. The store validates (the core owns the rules); only a missing
 * location is caught here, because the form cannot send "no point" to `createReport`.
 */
suspend fun submitReport(noaber: Noaber, draft: ReportDraft): SubmitResult {
    val lat = draft.lat ?: return SubmitResult.FieldError("lat", "no location yet")
    val lon = draft.lon ?: return SubmitResult.FieldError("lon", "no location yet")
    return try {
        SubmitResult.Saved(
            noaber.withStore {
                createReport(
                    NewReport(
                        category = draft.category.trim(), description = draft.description.trim(), lat = lat, lon = lon,
                        complex = draft.complex.trim().ifEmpty { null }, floor = draft.floor.trim().ifEmpty { null },
                        stairwell = draft.stairwell.trim().ifEmpty { null }, severity = draft.severity,
                    ),
                )
            },
        )
    } catch (e: NoaberException.InvalidInput) {
        SubmitResult.FieldError(e.field, e.reason)
    } catch (e: NoaberException.NotAllowed) {
        SubmitResult.NotAllowed(e.reason)
    }
}

// ---------------------------------------------------------------------------------------------
// Organiser: the board

/** An event whose shifts still miss volunteers. */
data class ShiftGap(
    /** The event. */
    val event: EventCard,
    /** Volunteers still missing over all its shifts. */
    val missing: Long,
)

/** An organiser's board: what nobody has picked up yet. */
data class BoardState(
    /** Open requests without a matched helper, oldest first (waiting longest on top). */
    val unmatchedHelp: List<HelpCard>,
    /** Upcoming events short of volunteers, soonest first. */
    val shiftGaps: List<ShiftGap>,
    /** Reports nobody responded to yet. */
    val reportsAwaiting: List<ReportCard>,
    /** Open (unexpired) requests in all, for the header. */
    val openHelpCount: Long,
)

/** [BoardState] now and after every change. */
fun boardState(noaber: Noaber): Flow<BoardState> = noaber.observe {
    val me = identity().member
    val open = listAll(ListQuery(kind = Kind.HELP, status = "open", limit = 500u))
    val now = nowMs()
    val short = list(
        ListQuery(kind = Kind.EVENT, needsResponse = true, order = ListOrder.UPCOMING, timeFrom = now, limit = SECTION_LIMIT),
    ).items
    val reports = list(ListQuery(kind = Kind.REPORT, needsResponse = true, limit = SECTION_LIMIT)).items
    val unmatched = open.map { it.toHelpCard(me) }.filter { it.helper == null }.sortedBy { it.createdAt }
    BoardState(
        unmatchedHelp = unmatched,
        shiftGaps = short.map { it.toEventCard(emptySet()) }.map { ShiftGap(it, it.volunteersMissing) }.filter { it.missing > 0 },
        reportsAwaiting = reports.map { it.toReportCard() },
        openHelpCount = open.size.toLong(),
    )
}

/** Which journeys a role sees, in tab order. */
fun journeysFor(role: Role): List<Journey> = when (role) {
    Role.RESIDENT -> listOf(Journey.HOME, Journey.REPORT)
    Role.CARETAKER -> listOf(Journey.REPORT, Journey.HOME)
    Role.ORGANISER, Role.STAFF -> listOf(Journey.BOARD, Journey.HOME, Journey.REPORT)
}

/** The app's three journeys. */
enum class Journey {
    /** A resident's home. */
    HOME,

    /** Report an issue; what waits to sync. */
    REPORT,

    /** The organiser's board. */
    BOARD,
}
