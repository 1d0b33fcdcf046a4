package nl.noaber.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.Button
import androidx.compose.material3.CircularProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import java.time.Instant
import java.time.ZoneId
import java.time.format.DateTimeFormatter
import java.util.Locale

/** A spinner while the store opens or a screen's first state loads. */
@Composable
fun Loading(modifier: Modifier = Modifier) {
    Box(modifier.fillMaxSize(), contentAlignment = Alignment.Center) { CircularProgressIndicator() }
}

/** A section title. */
@Composable
fun Section(title: String) {
    Text(title, style = MaterialTheme.typography.titleMedium, modifier = Modifier.padding(top = 16.dp, bottom = 4.dp))
}

/** "Nothing here" under a section. */
@Composable
fun Empty(text: String) {
    Text(text, style = MaterialTheme.typography.bodySmall)
}

private val dayTime = DateTimeFormatter.ofPattern("EEE d MMM HH:mm", Locale.forLanguageTag("nl-NL"))

/** A time in ms since the epoch, in the device's zone ("za 14 dec 15:00"). */
fun formatTime(ms: Long?): String =
    ms?.let { dayTime.format(Instant.ofEpochMilli(it).atZone(ZoneId.systemDefault())) } ?: "—"

/** First run: join a buurt with the relay address and an invite code from the organiser. */
@Composable
fun JoinScreen(modifier: Modifier, onJoin: (String, String, String) -> Unit) {
    var relay by rememberSaveable { mutableStateOf("https://") }
    var invite by rememberSaveable { mutableStateOf("") }
    var name by rememberSaveable { mutableStateOf("") }
    Column(modifier.fillMaxWidth().padding(16.dp), verticalArrangement = Arrangement.spacedBy(8.dp)) {
        Text("Meedoen in je buurt", style = MaterialTheme.typography.headlineSmall)
        OutlinedTextField(relay, { relay = it }, label = { Text("Adres van de buurt") }, singleLine = true)
        OutlinedTextField(invite, { invite = it.uppercase() }, label = { Text("Uitnodigingscode") }, singleLine = true)
        OutlinedTextField(name, { name = it }, label = { Text("Je naam") }, singleLine = true)
        Button(onClick = { onJoin(relay, invite, name) }, enabled = invite.isNotBlank() && name.isNotBlank()) {
            Text("Meedoen")
        }
    }
}
