package nl.noaber.app

import android.app.Application
import java.io.File
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Deferred
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.async
import nl.noaber.Noaber

/**
 * Holds the one [Noaber] store of the process, opened off the main thread on first use. It
 * lives as long as the process: Android gives no reliable "app ends" callback, and SQLite's WAL
 * keeps every committed change safe when the process is killed.
 */
class NoaberApplication : Application() {
    /** Work that outlives a screen (opening the store). */
    val appScope = CoroutineScope(SupervisorJob() + Dispatchers.Default)

    /** The store in the app's private files (`noaber.db`). */
    val noaber: Deferred<Noaber> by lazy {
        appScope.async { Noaber.open(File(filesDir, "noaber.db").path) }
    }
}
