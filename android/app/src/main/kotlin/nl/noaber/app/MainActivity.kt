package nl.noaber.app

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.lifecycle.Lifecycle
import androidx.lifecycle.lifecycleScope
import androidx.lifecycle.repeatOnLifecycle
import kotlinx.coroutines.flow.catch
import kotlinx.coroutines.flow.collectLatest
import kotlinx.coroutines.flow.distinctUntilChangedBy
import kotlinx.coroutines.flow.filterNotNull
import kotlinx.coroutines.launch
import nl.noaber.app.state.describe
import nl.noaber.app.ui.NoaberRoot
import nl.noaber.ffi.NoaberException

/**
 * The single activity. While it is visible the active buurt is kept live (one connection; the
 * relay says when its log moved, no polling); in the background nothing runs, and the next
 * start syncs at once.
 */
class MainActivity : ComponentActivity() {
    private val model: AppViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent { NoaberRoot(model) }
        val app = application as NoaberApplication
        lifecycleScope.launch {
            repeatOnLifecycle(Lifecycle.State.STARTED) {
                model.sessionState.filterNotNull().distinctUntilChangedBy { it.buurt }.collectLatest { s ->
                    val buurt = s.buurt ?: return@collectLatest
                    // Failed syncs are retried by the library and shown through the sync status;
                    // the flow only ends with an error retrying cannot fix (a revoked device).
                    app.noaber.await().liveSync(buurt)
                        .catch { e -> if (e is NoaberException) model.message.value = describe(e) else throw e }
                        .collect { }
                }
            }
        }
    }
}
