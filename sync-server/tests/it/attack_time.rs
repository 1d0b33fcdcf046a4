//! Attacks with order-deciding times: back-dated entries and documents dated far from the relay's
//! clock (issue 11, finding 3).
