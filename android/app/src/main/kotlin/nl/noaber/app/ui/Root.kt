package nl.noaber.app.ui

import androidx.compose.foundation.layout.padding
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.SnackbarHost
import androidx.compose.material3.SnackbarHostState
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import nl.noaber.app.AppViewModel
import nl.noaber.app.state.Journey
import nl.noaber.app.state.journeysFor

/** The app: a join screen until the device joined a buurt, then the role's journeys as tabs. */
@Composable
fun NoaberRoot(model: AppViewModel) {
    MaterialTheme {
        val session by model.sessionState.collectAsStateWithLifecycle()
        val message by model.message.collectAsStateWithLifecycle()
        val snackbar = remember { SnackbarHostState() }
        LaunchedEffect(message) {
            message?.let {
                snackbar.showSnackbar(it)
                model.message.value = null
            }
        }
        val s = session
        if (s == null) {
            Loading()
            return@MaterialTheme
        }
        if (s.buurt == null) {
            Scaffold(snackbarHost = { SnackbarHost(snackbar) }) { padding ->
                JoinScreen(Modifier.padding(padding), onJoin = model::join)
            }
            return@MaterialTheme
        }
        val journeys = journeysFor(s.identity.role)
        var current by rememberSaveable { mutableStateOf(journeys.first()) }
        Scaffold(
            snackbarHost = { SnackbarHost(snackbar) },
            bottomBar = {
                NavigationBar {
                    journeys.forEach { j ->
                        NavigationBarItem(
                            selected = j == current,
                            onClick = { current = j },
                            icon = { Text(j.icon) },
                            label = { Text(j.label) },
                        )
                    }
                }
            },
        ) { padding ->
            val modifier = Modifier.padding(padding)
            when (current) {
                Journey.HOME -> HomeScreen(model, modifier)
                Journey.REPORT -> ReportScreen(model, modifier)
                Journey.BOARD -> BoardScreen(model, modifier)
            }
        }
    }
}

private val Journey.label: String
    get() = when (this) {
        Journey.HOME -> "Buurt"
        Journey.REPORT -> "Melden"
        Journey.BOARD -> "Overzicht"
    }

// Text glyphs keep the app free of an icon dependency.
private val Journey.icon: String
    get() = when (this) {
        Journey.HOME -> "⌂"
        Journey.REPORT -> "!"
        Journey.BOARD -> "☰"
    }
