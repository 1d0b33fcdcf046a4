// Report photos over the network: uploading the queue with progress, and fetching a photo
// another device took. Attaching one (`attachPhoto`, `attachPhotoFile`), the device's own copy
// (`photo`) and the queue (`photoUploads`) are local calls: `withStore { attachPhoto(id, bytes) }`.
package nl.noaber

import nl.noaber.ffi.LocalPhoto
import nl.noaber.ffi.UploadListener
import nl.noaber.ffi.UploadReport

/** One acknowledged chunk of a photo upload. */
data class PhotoProgress(val hash: String, val reportId: String, val sent: ULong, val total: ULong)

/**
 * Uploads [buurt]'s waiting photos, each resuming from the relay's offset; [onProgress] hears
 * every acknowledged chunk on a Rust thread. Cancelling the coroutine stops the upload (at most
 * the chunk in flight is sent again next time). Live sync uploads by itself after each sync.
 *
 * @throws NoaberException.Rejected (`unauthorized`). Network failures are recorded in
 *   `photoUploads()` and retried, not thrown.
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
