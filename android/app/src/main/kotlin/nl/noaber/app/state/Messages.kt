// Texts for failed actions (Dutch, the app's language). Plain Kotlin: compiled by the JVM tests.
package nl.noaber.app.state

import nl.noaber.ffi.NoaberException

/** A short text for a failed action. Never includes personal data: the library's messages don't. */
fun describe(e: NoaberException): String = when (e) {
    is NoaberException.Network -> "Geen verbinding: het wordt later verstuurd"
    is NoaberException.InvalidInput -> "Controleer ${e.field}"
    is NoaberException.NotAllowed -> "Dat kan niet: ${e.reason}"
    is NoaberException.NotFound -> "Niet (meer) gevonden"
    is NoaberException.Rejected -> "Geweigerd (${e.code})"
    is NoaberException.Storage -> "Opslag werkt niet"
    is NoaberException.Cancelled -> "Gestopt"
    is NoaberException.Other -> "Er ging iets mis"
}
