// Events, RSVPs and volunteer shifts: suspend wrappers over the generated store.
package nl.noaber

import nl.noaber.ffi.Attendance
import nl.noaber.ffi.EventEdit
import nl.noaber.ffi.EventView
import nl.noaber.ffi.NewEvent
import nl.noaber.ffi.Rsvp
import nl.noaber.ffi.ShiftSlot

/** Creates an event (organisers and staff); returns its id. */
suspend fun Noaber.createEvent(new: NewEvent): String = withStore { createEvent(new) }

/** One event, with the local member's attendance and shift slots. */
suspend fun Noaber.event(id: String): EventView = withStore { event(id) }

/** Edits an event; `null` fields are left as they are. */
suspend fun Noaber.editEvent(id: String, edit: EventEdit) = withStore { editEvent(id, edit) }

/** Answers for the local member; returns where they stand (a place, or the waitlist). */
suspend fun Noaber.rsvpEvent(id: String, answer: Rsvp): Attendance = withStore { rsvpEvent(id, answer) }

/** Adds a volunteer role; returns its id. */
suspend fun Noaber.addEventRole(id: String, name: String, description: String = ""): String =
    withStore { addEventRole(id, name, description) }

/** Adds a shift for a role needing [needed] volunteers; returns its id. */
suspend fun Noaber.addEventShift(id: String, role: String, startsAt: Long, endsAt: Long, needed: Long): String =
    withStore { addEventShift(id, role, startsAt, endsAt, needed) }

/** Signs the local member up for a shift; returns whether they are on it or a reserve. */
suspend fun Noaber.signupShift(id: String, shift: String): ShiftSlot = withStore { signupShift(id, shift) }

/** Withdraws the local member from a shift. */
suspend fun Noaber.withdrawShift(id: String, shift: String) = withStore { withdrawShift(id, shift) }

/** Cancels an event, with an optional reason. */
suspend fun Noaber.cancelEvent(id: String, reason: String = "") = withStore { cancelEvent(id, reason) }
