//! Attacks on the relay's sockets: slow or idle connections, huge declared bodies, too many
//! connections from one address or in all, too many live sockets (issue 11, finding 4).
