package nl.noaber.app.ui

import android.Manifest
import android.annotation.SuppressLint
import android.content.Context
import android.content.pm.PackageManager
import android.location.LocationManager
import androidx.activity.compose.rememberLauncherForActivityResult
import androidx.activity.result.contract.ActivityResultContracts
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.ExperimentalLayoutApi
import androidx.compose.foundation.layout.FlowRow
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.unit.dp
import androidx.core.content.ContextCompat
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import nl.noaber.app.AppViewModel
import nl.noaber.app.state.ReportCard
import nl.noaber.app.state.ReportDraft
import nl.noaber.app.state.SubmitResult
import nl.noaber.app.state.SyncBadge

/**
 * The caretaker's "report an issue": works offline (the report is stored at once and waits in
 * the outbox), and the badge on top says what waits to sync, or that the relay refused something.
 */
@OptIn(ExperimentalLayoutApi::class)
@Composable
fun ReportScreen(model: AppViewModel, modifier: Modifier) {
    val state by model.reports.collectAsStateWithLifecycle()
    val reports = state ?: return Loading(modifier)
    val context = LocalContext.current
    var draft by remember { mutableStateOf(ReportDraft()) }
    var fieldError by remember { mutableStateOf<SubmitResult.FieldError?>(null) }
    val askLocation = rememberLauncherForActivityResult(ActivityResultContracts.RequestPermission()) { granted ->
        if (granted) lastLocation(context)?.let { (lat, lon) -> draft = draft.copy(lat = lat, lon = lon) }
    }
    LazyColumn(modifier.fillMaxWidth().padding(horizontal = 16.dp)) {
        item { SyncLine(reports.badge, reports.pending, onSync = model::syncNow) }
        item { Section("Nieuwe melding") }
        item {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                // The core's report categories (core/src/model/report.rs `CATEGORIES`); the
                // bindings do not export the list yet, so it is repeated here.
                FlowRow(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
                    listOf(
                        "lighting" to "Verlichting", "litter" to "Zwerfafval", "bulky_waste" to "Grofvuil",
                        "damage" to "Schade", "graffiti" to "Graffiti", "pests" to "Ongedierte",
                        "overgrowth" to "Overwoekering", "unsafe_situation" to "Onveilig", "other" to "Anders",
                    ).forEach { (key, label) ->
                        FilterChip(selected = draft.category == key, onClick = { draft = draft.copy(category = key) },
                            label = { Text(label) })
                    }
                }
                OutlinedTextField(draft.description, { draft = draft.copy(description = it) },
                    label = { Text("Wat is er aan de hand?") }, isError = fieldError?.field == "description",
                    modifier = Modifier.fillMaxWidth())
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    OutlinedTextField(draft.floor, { draft = draft.copy(floor = it) }, label = { Text("Verdieping") },
                        modifier = Modifier.weight(1f))
                    OutlinedTextField(draft.stairwell, { draft = draft.copy(stairwell = it) }, label = { Text("Portiek") },
                        modifier = Modifier.weight(1f))
                }
                Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
                    listOf("low" to "Laag", "normal" to "Normaal", "high" to "Hoog", "urgent" to "Spoed").forEach { (key, label) ->
                        FilterChip(selected = draft.severity == key, onClick = { draft = draft.copy(severity = key) },
                            label = { Text(label) })
                    }
                }
                val where = if (draft.lat != null) "Locatie vastgelegd" else "Nog geen locatie"
                TextButton(onClick = { askLocation.launch(Manifest.permission.ACCESS_FINE_LOCATION) }) { Text(where) }
                fieldError?.let { Text("${it.field}: ${it.reason}", color = MaterialTheme.colorScheme.error) }
                Button(onClick = {
                    model.submit(draft) { result ->
                        when (result) {
                            is SubmitResult.Saved -> { draft = ReportDraft(); fieldError = null; model.message.value = "Opgeslagen" }
                            is SubmitResult.FieldError -> fieldError = result
                            is SubmitResult.NotAllowed -> model.message.value = result.reason
                        }
                    }
                }) { Text("Melden") }
            }
        }
        item { Section("Mijn meldingen") }
        if (reports.mine.isEmpty()) item { Empty("Nog geen meldingen") }
        items(reports.mine, key = { it.id }) { ReportRow(it) }
        item { Section("Wacht op reactie") }
        if (reports.awaitingResponse.isEmpty()) item { Empty("Alles is opgepakt") }
        items(reports.awaitingResponse, key = { "a" + it.id }) { ReportRow(it) }
    }
}

/** "3 wijzigingen wachten", "offline", "geweigerd: …" or "bijgewerkt". */
@Composable
fun SyncLine(badge: SyncBadge?, pending: ULong, onSync: () -> Unit) {
    val text = when (badge) {
        null -> "$pending wijziging(en) op dit toestel; meedoen in een buurt om te versturen"
        is SyncBadge.UpToDate -> "Alles verstuurd · ${formatTime(badge.lastSyncAt)}"
        is SyncBadge.Waiting -> "${badge.pending} wijziging(en) wachten om verstuurd te worden"
        is SyncBadge.Offline -> "Offline: ${badge.pending} wijziging(en) wachten op verbinding"
        is SyncBadge.Refused -> "Geweigerd: " + badge.refused.joinToString { it.reason }
    }
    Card(Modifier.fillMaxWidth().padding(top = 8.dp)) {
        Row(Modifier.padding(12.dp), horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Text(text, modifier = Modifier.weight(1f))
            if (badge != null) TextButton(onClick = onSync) { Text("Nu versturen") }
        }
    }
}

@Composable
private fun ReportRow(card: ReportCard) {
    Card(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Column(Modifier.padding(12.dp)) {
            Text(card.title, style = MaterialTheme.typography.bodyLarge)
            Text(listOfNotNull(card.status, card.severity, card.place, formatTime(card.createdAt)).joinToString(" · "),
                style = MaterialTheme.typography.bodySmall)
            if (card.meToo > 0) Text("${card.meToo}× ik ook", style = MaterialTheme.typography.bodySmall)
            if (card.waiting) Text("Nog niet verstuurd", style = MaterialTheme.typography.bodySmall)
        }
    }
}

/** The last fix the GPS or network provider has (works offline in a basement with a cached fix). */
@SuppressLint("MissingPermission") // checked on the line above the call
private fun lastLocation(context: Context): Pair<Double, Double>? {
    if (ContextCompat.checkSelfPermission(context, Manifest.permission.ACCESS_FINE_LOCATION) !=
        PackageManager.PERMISSION_GRANTED
    ) return null
    val lm = context.getSystemService(LocationManager::class.java) ?: return null
    return listOf(LocationManager.GPS_PROVIDER, LocationManager.NETWORK_PROVIDER)
        .mapNotNull { runCatching { lm.getLastKnownLocation(it) }.getOrNull() }
        .maxByOrNull { it.time }
        ?.let { it.latitude to it.longitude }
}
