// Issue reports (broken light, bulky waste): suspend wrappers over the generated store. A
// report is stored locally first and synced later, so creating one works offline.
package nl.noaber

import nl.noaber.ffi.LocalPhoto
import nl.noaber.ffi.NewReport
import nl.noaber.ffi.PhotoRef
import nl.noaber.ffi.PhotoUpload
import nl.noaber.ffi.ReportTransition
import nl.noaber.ffi.ReportView
import nl.noaber.ffi.UploadListener
import nl.noaber.ffi.UploadReport

/** Reports an issue at an exact point; returns its id. Works offline: it waits to sync. */
suspend fun Noaber.createReport(new: NewReport): String = withStore { createReport(new) }

/** One report, with its timeline, me-toos and triage. */
suspend fun Noaber.report(id: String): ReportView = withStore { report(id) }

/** Replaces the description of the local member's report. */
suspend fun Noaber.editReport(id: String, description: String) = withStore { editReport(id, description) }

/** Moves a report through its workflow (caretakers and staff; confirm/reopen by the reporter). */
suspend fun Noaber.transitionReport(id: String, step: ReportTransition) = withStore { transitionReport(id, step) }

/** "Me too": the local member has the same problem. */
suspend fun Noaber.meTooReport(id: String) = withStore { meTooReport(id) }

/** Withdraws the local member's me-too. */
suspend fun Noaber.withdrawMeToo(id: String) = withStore { withdrawMeToo(id) }

/** Names who is responsible (the corporation, the municipality, ...). */
suspend fun Noaber.setReportResponsible(id: String, party: String) = withStore { setReportResponsible(id, party) }

/** Sets the public response text. */
suspend fun Noaber.setReportResponse(id: String, text: String) = withStore { setReportResponse(id, text) }

/**
 * Attaches a photo (JPEG, PNG or WebP bytes, e.g. from the camera) to a report. The library
 * strips its metadata (EXIF with the GPS position, serial numbers and times; XMP; IPTC;
 * thumbnails) before anything is stored, and queues the upload. Works offline.
 *
 * @throws NoaberException.InvalidInput (`photo`) for anything but a JPEG, PNG or WebP up to
 *   15 MB; [NoaberException.NotAllowed] unless the reporter or a caretaker, organiser or staff.
 */
suspend fun Noaber.attachPhoto(reportId: String, bytes: ByteArray): PhotoRef =
    withStore { attachPhoto(reportId, bytes) }

/** [attachPhoto] for a file (a file over the limit is refused without being read). */
suspend fun Noaber.attachPhotoFile(reportId: String, path: String): PhotoRef =
    withStore { attachPhotoFile(reportId, path) }

/** A photo's bytes if this device holds them (taken here or cached); `null`: fetch it. */
suspend fun Noaber.localPhoto(hash: String): LocalPhoto? = withStore { photo(hash) }

/** The upload queue, oldest first (what waits, what was sent today, what was refused). */
suspend fun Noaber.photoUploads(): List<PhotoUpload> = withStore { photoUploads() }

/** One acknowledged chunk of a photo upload. */
data class PhotoProgress(val hash: String, val reportId: String, val sent: ULong, val total: ULong)

/**
 * Uploads [buurt]'s waiting photos, each resuming from the relay's offset; [onProgress] hears
 * every acknowledged chunk on a Rust thread. Cancelling the coroutine stops the upload (at most
 * the chunk in flight is sent again next time). Live sync uploads by itself after each sync.
 *
 * @throws NoaberException.Rejected (`unauthorized`). Network failures are recorded in
 *   [photoUploads] and retried, not thrown.
 */
suspend fun Noaber.uploadPhotos(buurt: String, onProgress: ((PhotoProgress) -> Unit)? = null): UploadReport {
    val listener = onProgress?.let { progress ->
        object : UploadListener {
            override fun onProgress(hash: String, entityId: String, sent: ULong, total: ULong) =
                progress(PhotoProgress(hash, entityId, sent, total))
        }
    }
    return withCancelHandle { cancel -> store.uploadPhotos(buurt, listener, cancel) }
}

/**
 * A report's photo: from this device, else from [buurt]'s relay (checked, then cached).
 * `null` while the relay does not hold it yet: show "photo pending".
 */
suspend fun Noaber.fetchPhoto(buurt: String, hash: String): LocalPhoto? =
    withCancelHandle { cancel -> store.fetchPhoto(buurt, hash, cancel) }
