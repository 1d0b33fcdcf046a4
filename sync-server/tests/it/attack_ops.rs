//! Attacks with changes that declare more work than their bytes show (op bombs), and the relay's
//! bounds on what it expands, validates and rebuilds (issue 11, finding 1).
