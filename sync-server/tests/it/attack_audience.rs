//! Attacks on who reads a restricted document: readers added only by named fields of named entries
//! written by an author entitled to name them (issue 11, finding 2).
