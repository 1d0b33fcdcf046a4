// Ownership tasks (adopt a courtyard, a stairwell): suspend wrappers over the generated store.
package nl.noaber

import nl.noaber.ffi.NewTask
import nl.noaber.ffi.Outcome
import nl.noaber.ffi.TaskEdit
import nl.noaber.ffi.TaskView

/** Creates a task; returns its id. */
suspend fun Noaber.createTask(new: NewTask): String = withStore { createTask(new) }

/** One task, with adopter, backups, due state and the occurrence "record it" means now. */
suspend fun Noaber.task(id: String): TaskView = withStore { task(id) }

/** Edits a task; `null` fields are left as they are. */
suspend fun Noaber.editTask(id: String, edit: TaskEdit) = withStore { editTask(id, edit) }

/**
 * Adopts the task, or becomes a backup when someone has it. Returns what the generated call
 * returns; who won a concurrent claim is the core's rule, shown by [task] after a sync.
 */
suspend fun Noaber.claimTask(id: String) = withStore { claimTask(id) }

/** Gives the task (or the backup place) up; a backup takes over. */
suspend fun Noaber.releaseTask(id: String) = withStore { releaseTask(id) }

/** Pledges the local household to a task that starts once enough households pledged. */
suspend fun Noaber.pledgeTask(id: String) = withStore { pledgeTask(id) }

/** Withdraws the local household's pledge. */
suspend fun Noaber.unpledgeTask(id: String) = withStore { unpledgeTask(id) }

/** Records an occurrence (`date` as `YYYY-MM-DD`) as done or skipped. */
suspend fun Noaber.recordOccurrence(id: String, date: String, outcome: Outcome, note: String = "") =
    withStore { recordOccurrence(id, date, outcome, note) }

/** Pauses a recurring task. */
suspend fun Noaber.pauseTask(id: String) = withStore { pauseTask(id) }

/** Resumes a paused task. */
suspend fun Noaber.resumeTask(id: String) = withStore { resumeTask(id) }

/** Adds a checklist item; returns its id. */
suspend fun Noaber.addChecklistItem(id: String, text: String): String = withStore { addChecklistItem(id, text) }

/** Removes a checklist item. */
suspend fun Noaber.removeChecklistItem(id: String, item: String) = withStore { removeChecklistItem(id, item) }
