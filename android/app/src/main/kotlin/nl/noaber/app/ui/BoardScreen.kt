package nl.noaber.app.ui

import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.lazy.LazyColumn
import androidx.compose.foundation.lazy.items
import androidx.compose.material3.Card
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import nl.noaber.app.AppViewModel

/** The organiser's board: open requests without a helper, shifts short of volunteers, reports. */
@Composable
fun BoardScreen(model: AppViewModel, modifier: Modifier) {
    val state by model.board.collectAsStateWithLifecycle()
    val board = state ?: return Loading(modifier)
    LazyColumn(modifier.fillMaxWidth().padding(horizontal = 16.dp)) {
        item { Section("Hulpvragen zonder helper (${board.unmatchedHelp.size} van ${board.openHelpCount} open)") }
        if (board.unmatchedHelp.isEmpty()) item { Empty("Elke vraag heeft een helper") }
        items(board.unmatchedHelp, key = { it.id }) { card ->
            BoardRow(card.title, listOfNotNull(
                card.category,
                if (card.responses > 0) "${card.responses} aanbod, kies een helper" else "nog niemand",
                "sinds ${formatTime(card.createdAt)}",
            ).joinToString(" · "))
        }
        item { Section("Diensten zonder genoeg vrijwilligers") }
        if (board.shiftGaps.isEmpty()) item { Empty("Alle diensten zijn bezet") }
        items(board.shiftGaps, key = { it.event.id }) { gap ->
            BoardRow(gap.event.title, "${formatTime(gap.event.startsAt)} · nog ${gap.missing} van ${gap.event.shiftsNeeded} nodig")
        }
        item { Section("Meldingen zonder reactie") }
        if (board.reportsAwaiting.isEmpty()) item { Empty("Alles is opgepakt") }
        items(board.reportsAwaiting, key = { it.id }) { card ->
            BoardRow(card.title, listOfNotNull(card.severity, card.place, formatTime(card.createdAt)).joinToString(" · "))
        }
    }
}

@Composable
private fun BoardRow(title: String, detail: String) {
    Card(Modifier.fillMaxWidth().padding(vertical = 4.dp)) {
        Column(Modifier.padding(12.dp)) {
            Text(title, style = MaterialTheme.typography.bodyLarge)
            Text(detail, style = MaterialTheme.typography.bodySmall)
        }
    }
}
