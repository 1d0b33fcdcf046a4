//! Attacks on identity and joining: ids squatted in another buurt, and joins retried after a lost
//! answer (issue 11, findings 6 and 8).
