package nl.noaber.app.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.Card
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import nl.noaber.app.AppViewModel
import nl.noaber.app.state.EventCard
import nl.noaber.app.state.HelpCard
import nl.noaber.app.state.TaskCard
import nl.noaber.ffi.NewHelp
import nl.noaber.ffi.Rsvp

/** A resident's home: the help board (respond), ask/offer, events (RSVP), adopted tasks. */
@Composable
fun HomeScreen(model: AppViewModel, modifier: Modifier) {
    val state by model.home.collectAsStateWithLifecycle()
    val home = state ?: return Loading(modifier)
    var asking by rememberSaveable { mutableStateOf(false) }
    var responding by rememberSaveable { mutableStateOf<String?>(null) }
    LazyColumn(modifier.fillMaxWidth().padding(horizontal = 16.dp)) {
        item {
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                TextButton(onClick = { asking = true }) { Text("Vraag of bied hulp") }
                TextButton(onClick = model::syncNow) { Text("Vernieuwen") }
            }
        }
        if (home.notices.isNotEmpty()) {
            item { Section("Voor jou") }
            items(home.notices, key = { "n" + it.entity + it.code }) { n -> Text("${n.title}: ${n.text}") }
        }
        item { Section("Hulpbord") }
        if (home.helpBoard.isEmpty()) item { Empty("Niemand vraagt nu iets") }
        items(home.helpBoard, key = { it.id }) { card -> HelpRow(card) { responding = card.id } }
        item { Section("Mijn vragen en aanbod") }
        if (home.myHelp.isEmpty()) item { Empty("Nog niets geplaatst") }
        items(home.myHelp, key = { "m" + it.id }) { card -> HelpRow(card, onRespond = null) }
        item { Section("Activiteiten") }
        if (home.events.isEmpty()) item { Empty("Geen activiteiten gepland") }
        items(home.events, key = { it.id }) { card -> EventRow(card) { answer -> model.rsvp(card.id, answer) } }
        item { Section("Mijn taken") }
        if (home.myTasks.isEmpty()) item { Empty("Je hebt nog geen taak geadopteerd") }
        items(home.myTasks, key = { it.id }) { card -> TaskRow(card) }
    }
    if (asking) AskDialog(onDismiss = { asking = false }) { new -> model.ask(new); asking = false }
    responding?.let { id ->
        RespondDialog(onDismiss = { responding = null }) { text -> model.respond(id, text); responding = null }
    }
}

@Composable
private fun HelpRow(card: HelpCard, onRespond: (() -> Unit)?) {
    Card(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Column(Modifier.padding(12.dp)) {
            Text((if (card.offer) "Aanbod · " else "Vraag · ") + (card.category ?: ""), style = MaterialTheme.typography.labelSmall)
            Text(card.title, style = MaterialTheme.typography.bodyLarge)
            card.place?.let { Text(it, style = MaterialTheme.typography.bodySmall) }
            Text(helpStatus(card), style = MaterialTheme.typography.bodySmall)
            if (onRespond != null) TextButton(onClick = onRespond) { Text(if (card.offer) "Graag!" else "Ik kan helpen") }
        }
    }
}

private fun helpStatus(card: HelpCard): String = when (card.status) {
    "open" -> if (card.responses == 0L) "Nog geen reactie" else "${card.responses} reactie(s)"
    "matched" -> "Er is een helper"
    "done" -> "Gedaan"
    "expired" -> "Verlopen"
    "cancelled" -> "Ingetrokken"
    else -> card.status
}

@Composable
private fun EventRow(card: EventCard, onRsvp: (Rsvp) -> Unit) {
    Card(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Column(Modifier.padding(12.dp)) {
            Text(card.title, style = MaterialTheme.typography.bodyLarge)
            Text("${formatTime(card.startsAt)} · ${card.place ?: ""}", style = MaterialTheme.typography.bodySmall)
            val places = card.placesLeft?.let { " · nog $it plaatsen" } ?: ""
            Text("${card.going} gaan$places" + if (card.waitlisted > 0) " · ${card.waitlisted} wachtend" else "",
                style = MaterialTheme.typography.bodySmall)
            Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                FilterChip(selected = card.mine, onClick = { onRsvp(Rsvp.GOING) }, label = { Text("Ik kom") })
                FilterChip(selected = false, onClick = { onRsvp(Rsvp.MAYBE) }, label = { Text("Misschien") })
                FilterChip(selected = false, onClick = { onRsvp(Rsvp.DECLINED) }, label = { Text("Niet") })
            }
        }
    }
}

@Composable
private fun TaskRow(card: TaskCard) {
    Card(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Column(Modifier.padding(12.dp)) {
            Text(card.title, style = MaterialTheme.typography.bodyLarge)
            val role = if (card.adoptedByMe) "Jij hebt deze taak" else "Je bent reserve"
            val due = when (card.status) {
                "due" -> " · nu aan de beurt"
                "overdue" -> " · achter"
                "paused" -> " · gepauzeerd"
                else -> card.nextOpen?.let { " · volgende: $it" } ?: ""
            }
            Text(role + due, style = MaterialTheme.typography.bodySmall)
        }
    }
}

@Composable
private fun AskDialog(onDismiss: () -> Unit, onPost: (NewHelp) -> Unit) {
    var title by rememberSaveable { mutableStateOf("") }
    var offer by rememberSaveable { mutableStateOf(false) }
    var category by rememberSaveable { mutableStateOf("groceries") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text(if (offer) "Hulp aanbieden" else "Hulp vragen") },
        text = {
            Column(verticalArrangement = Arrangement.spacedBy(8.dp)) {
                Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                    FilterChip(selected = !offer, onClick = { offer = false }, label = { Text("Vragen") })
                    FilterChip(selected = offer, onClick = { offer = true }, label = { Text("Aanbieden") })
                }
                Row(horizontalArrangement = Arrangement.spacedBy(4.dp)) {
                    listOf("groceries" to "Boodschappen", "transport" to "Vervoer", "odd_jobs" to "Klusje", "company" to "Gezelschap")
                        .forEach { (key, label) ->
                            FilterChip(selected = category == key, onClick = { category = key }, label = { Text(label) })
                        }
                }
                OutlinedTextField(title, { title = it }, label = { Text("Wat?") })
            }
        },
        confirmButton = {
            TextButton(onClick = { onPost(NewHelp(offer = offer, category = category, title = title.trim())) }) { Text("Plaatsen") }
        },
        dismissButton = { TextButton(onClick = onDismiss) { Text("Annuleren") } },
    )
}

@Composable
private fun RespondDialog(onDismiss: () -> Unit, onSend: (String) -> Unit) {
    var text by rememberSaveable { mutableStateOf("") }
    AlertDialog(
        onDismissRequest = onDismiss,
        title = { Text("Reageren") },
        text = { OutlinedTextField(text, { text = it }, label = { Text("Bericht") }) },
        confirmButton = { TextButton(onClick = { onSend(text.trim()) }) { Text("Versturen") } },
        dismissButton = { TextButton(onClick = onDismiss) { Text("Annuleren") } },
    )
}
