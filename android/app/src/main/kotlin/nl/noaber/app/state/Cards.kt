// Screen state made from store data: plain Kotlin (no android.*), so scripts/test-bindings.sh
// compiles and tests it on the JVM against a real store. Composables only render these.
package nl.noaber.app.state

import nl.noaber.ffi.Detail
import nl.noaber.ffi.Summary

/** A help request or offer as a list card. */
data class HelpCard(
    /** Entity id. */
    val id: String,
    /** Title. */
    val title: String,
    /** Category (`groceries`, `transport`, ...). */
    val category: String?,
    /** `true` for an offer of help, `false` for a request. */
    val offer: Boolean,
    /** Effective status (`open`, `matched`, `done`, `cancelled`, `expired`). */
    val status: String,
    /** Active responses ("I can help"). */
    val responses: Long,
    /** The matched helper's member id. */
    val helper: String?,
    /** Where, at the precision the requester chose. */
    val place: String?,
    /** Created at, ms. */
    val createdAt: Long,
    /** The local member asked or offered it. */
    val mine: Boolean,
)

/** An event as a list card. */
data class EventCard(
    /** Entity id. */
    val id: String,
    /** Title. */
    val title: String,
    /** Start, ms. */
    val startsAt: Long?,
    /** Place label. */
    val place: String?,
    /** Effective status (`upcoming`, `cancelled`). */
    val status: String,
    /** Confirmed attendees. */
    val going: Long,
    /** Places in all; `null` is unlimited. */
    val capacity: Long?,
    /** On the waitlist. */
    val waitlisted: Long,
    /** Volunteer places over all shifts. */
    val shiftsNeeded: Long,
    /** Volunteer places filled. */
    val shiftsFilled: Long,
    /** The local member answered or signed up. */
    val mine: Boolean,
) {
    /** Places left, `null` when unlimited; never below zero. */
    val placesLeft: Long? get() = capacity?.let { (it - going).coerceAtLeast(0) }

    /** Volunteers still missing. */
    val volunteersMissing: Long get() = (shiftsNeeded - shiftsFilled).coerceAtLeast(0)
}

/** A task as a list card. */
data class TaskCard(
    /** Entity id. */
    val id: String,
    /** Title. */
    val title: String,
    /** Effective status (`unadopted`, `active`, `due`, `overdue`, `paused`, `pledging`, ...). */
    val status: String,
    /** The adopter's member id. */
    val adopter: String?,
    /** How many backups stand behind the adopter. */
    val backups: Long,
    /** The next open occurrence (`YYYY-MM-DD`). */
    val nextOpen: String?,
    /** The local member adopted it (not only a backup). */
    val adoptedByMe: Boolean,
)

/** A report as a list card. */
data class ReportCard(
    /** Entity id. */
    val id: String,
    /** Title (the description's first line, or the category). */
    val title: String,
    /** Effective status (`reported`, `acknowledged`, ..., `resolved`). */
    val status: String,
    /** `low`, `normal`, `high` or `urgent`. */
    val severity: String?,
    /** Neighbours who said "me too". */
    val meToo: Long,
    /** Location label (complex, floor, stairwell). */
    val place: String?,
    /** Created at, ms. */
    val createdAt: Long,
    /** A change made on this device waits for the relay ("not sent yet"). */
    val waiting: Boolean = false,
)

/** The row's detail as [T], or an error naming what the row is (a caller mixed up kinds). */
private inline fun <reified T : Detail> Summary.detailOf(): T =
    detail as? T ?: throw IllegalStateException("not a ${T::class.simpleName} row: $kind")

/** Turns a help row into a card; [me] is the local member id. */
fun Summary.toHelpCard(me: String): HelpCard {
    val d = detailOf<Detail.Help>()
    return HelpCard(
        id = id, title = title, category = category, offer = d.mode == "offer",
        status = status, responses = d.responses, helper = d.helper,
        place = locationLabel?.takeIf { it.isNotEmpty() }, createdAt = createdAt, mine = createdBy == me,
    )
}

/** Turns an event row into a card; [mine] are the ids of events the local member takes part in. */
fun Summary.toEventCard(mine: Set<String>): EventCard {
    val d = detailOf<Detail.Event>()
    return EventCard(
        id = id, title = title, startsAt = startsAt, place = locationLabel, status = status,
        going = d.going, capacity = d.capacity, waitlisted = d.waitlisted,
        shiftsNeeded = d.shiftsNeeded, shiftsFilled = d.shiftsFilled,
        mine = id in mine,
    )
}

/** Turns a task row into a card; [me] is the local member id. */
fun Summary.toTaskCard(me: String): TaskCard {
    val d = detailOf<Detail.Task>()
    return TaskCard(
        id = id, title = title, status = status, adopter = d.adopter, backups = d.backups,
        nextOpen = d.nextOpen, adoptedByMe = d.adopter == me,
    )
}

/** Turns a report row into a card. */
fun Summary.toReportCard(): ReportCard {
    val d = detailOf<Detail.Report>()
    return ReportCard(
        id = id, title = title, status = status, severity = d.severity,
        meToo = d.meToo, place = locationLabel, createdAt = createdAt,
        waiting = unsynced,
    )
}
