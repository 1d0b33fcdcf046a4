// Member profiles and skills: suspend wrappers over the generated store.
package nl.noaber

import nl.noaber.ffi.NewProfile
import nl.noaber.ffi.ProfileEdit
import nl.noaber.ffi.ProfileView

/** Creates the local member's profile; returns its id. */
suspend fun Noaber.createProfile(new: NewProfile): String = withStore { createProfile(new) }

/** One profile. */
suspend fun Noaber.profile(id: String): ProfileView = withStore { profile(id) }

/** The local member's profile, or `null` before they made one. */
suspend fun Noaber.myProfile(): ProfileView? = withStore { myProfile() }

/** Edits a profile; `null` fields are left as they are. */
suspend fun Noaber.editProfile(id: String, edit: ProfileEdit) = withStore { editProfile(id, edit) }

/** Adds a skill. */
suspend fun Noaber.addSkill(id: String, skill: String) = withStore { addSkill(id, skill) }

/** Removes a skill. */
suspend fun Noaber.removeSkill(id: String, skill: String) = withStore { removeSkill(id, skill) }
