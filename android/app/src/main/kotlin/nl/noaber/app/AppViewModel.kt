package nl.noaber.app

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import kotlinx.coroutines.ExperimentalCoroutinesApi
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.SharingStarted
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.emitAll
import kotlinx.coroutines.flow.emptyFlow
import kotlinx.coroutines.flow.flatMapLatest
import kotlinx.coroutines.flow.flow
import kotlinx.coroutines.flow.stateIn
import kotlinx.coroutines.launch
import nl.noaber.Noaber
import nl.noaber.app.state.BoardState
import nl.noaber.app.state.HomeState
import nl.noaber.app.state.ReportDraft
import nl.noaber.app.state.ReportsState
import nl.noaber.app.state.SubmitResult
import nl.noaber.app.state.boardState
import nl.noaber.app.state.describe
import nl.noaber.app.state.homeState
import nl.noaber.app.state.reportsState
import nl.noaber.app.state.submitReport
import nl.noaber.ffi.Identity
import nl.noaber.ffi.NoaberException
import nl.noaber.ffi.NewHelp
import nl.noaber.ffi.Rsvp

/** Who the device is and where it syncs; `null` buurt before the first join. */
data class Session(val identity: Identity, val buurt: String?)

/**
 * The app's one ViewModel: exposes the plain-Kotlin screen state (nl.noaber.app.state) as
 * StateFlows and turns taps into store calls. Errors become a one-line message; the field of an
 * `InvalidInput` is what a form marks.
 */
@OptIn(ExperimentalCoroutinesApi::class)
class AppViewModel(app: Application) : AndroidViewModel(app) {
    private val store = (app as NoaberApplication).noaber
    private val session = MutableStateFlow<Session?>(null)

    /** The current session; `null` while the store opens. */
    val sessionState: StateFlow<Session?> = session

    /** A message for a snackbar (an error or "saved, will sync"). */
    val message = MutableStateFlow<String?>(null)

    init {
        viewModelScope.launch { refreshSession() }
    }

    private suspend fun refreshSession() {
        val n = store.await()
        session.value = n.withStore { Session(identity(), activeBuurt()) }
    }

    private fun <T> screen(make: (Noaber, Session) -> Flow<T>): StateFlow<T?> = session
        .flatMapLatest { s -> if (s == null) emptyFlow() else flow { emitAll(make(store.await(), s)) } }
        .stateIn(viewModelScope, SharingStarted.WhileSubscribed(5_000), null)

    /** The resident's home. */
    val home: StateFlow<HomeState?> = screen { n, _ -> homeState(n) }

    /** The caretaker's reports and what waits to sync. */
    val reports: StateFlow<ReportsState?> = screen { n, s -> reportsState(n, s.buurt) }

    /** The organiser's board. */
    val board: StateFlow<BoardState?> = screen { n, _ -> boardState(n) }

    /** Runs [action] on the store, reporting a failure as [message]. */
    private fun act(done: String? = null, action: suspend (Noaber) -> Unit) {
        viewModelScope.launch {
            try {
                action(store.await())
                if (done != null) message.value = done
            } catch (e: NoaberException) {
                message.value = describe(e)
            }
        }
    }

    /** Joins a buurt with an invite code; the role comes from the invite. */
    fun join(relayUrl: String, invite: String, name: String) = act("Welkom in de buurt") { n ->
        n.join(relayUrl.trim(), invite.trim(), name.trim())
        refreshSession()
    }

    /** Asks for (or offers) help. */
    fun ask(new: NewHelp) = act("Geplaatst") { n -> n.withStore { createHelp(new) } }

    /** Responds to a neighbour's request. */
    fun respond(id: String, message: String) = act("Verstuurd") { n -> n.withStore { respondHelp(id, message) } }

    /** RSVPs to an event. */
    fun rsvp(id: String, answer: Rsvp) = act { n -> n.withStore { rsvpEvent(id, answer) } }

    /** Stores a report; the form keeps [onResult]'s field error. */
    fun submit(draft: ReportDraft, onResult: (SubmitResult) -> Unit) {
        viewModelScope.launch { onResult(submitReport(store.await(), draft)) }
    }

    /** Syncs the active buurt now (pull to refresh). */
    fun syncNow() = act { n -> session.value?.buurt?.let { n.sync(it) } }
}
