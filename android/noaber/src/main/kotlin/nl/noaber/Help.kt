// Help requests and offers: suspend wrappers over the generated store, run on the I/O dispatcher.
package nl.noaber

import nl.noaber.ffi.HelpView
import nl.noaber.ffi.NewHelp

/** Asks for or offers help; returns the new request's id. @throws nl.noaber.ffi.NoaberException.InvalidInput naming the field. */
suspend fun Noaber.createHelp(new: NewHelp): String = withStore { createHelp(new) }

/** One help request, with its derived status, responses and match. */
suspend fun Noaber.help(id: String): HelpView = withStore { help(id) }

/** Edits the title and/or body of the local member's request; `null` leaves a field. */
suspend fun Noaber.editHelp(id: String, title: String? = null, body: String? = null) =
    withStore { editHelp(id, title, body) }

/** Responds "I can help" with a message. */
suspend fun Noaber.respondHelp(id: String, message: String) = withStore { respondHelp(id, message) }

/** Withdraws the local member's response. */
suspend fun Noaber.withdrawHelpResponse(id: String) = withStore { withdrawHelpResponse(id) }

/** Matches a responder as the helper (the requester or an organiser). */
suspend fun Noaber.matchHelp(id: String, helper: String) = withStore { matchHelp(id, helper) }

/** Undoes the standing match. */
suspend fun Noaber.unmatchHelp(id: String) = withStore { unmatchHelp(id) }

/** Marks the request done. */
suspend fun Noaber.completeHelp(id: String) = withStore { completeHelp(id) }

/** Cancels the request, with an optional reason (may be empty). */
suspend fun Noaber.cancelHelp(id: String, reason: String = "") = withStore { cancelHelp(id, reason) }

/** Thanks the helper. */
suspend fun Noaber.thankHelp(id: String, text: String) = withStore { thankHelp(id, text) }
