//! Attacks on photos: a hash is not a capability, upload status is no existence oracle, the quota
//! holds under parallel uploads (issue 11, findings 5 and 7).
