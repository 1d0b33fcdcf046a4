//! Change chunks forged by hand: what no honest encoder writes, for the tests and benchmarks
//! that attack the bounds of [`crate::validate`] (issue 11, finding 1).
//!
//! Built only with the `forge` feature (and in core's own tests); nothing in a device or the
//! relay uses it. The chunks carry automerge's real checksum, so a decoder that trusted their
//! declared sizes would expand them: a [`Forge::puts`] of 6 000 000 operations is ~40 bytes.

use sha2::{Digest, Sha256};

/// Appends `n` as unsigned LEB128.
pub fn uleb(mut n: u64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Appends `n` as signed LEB128.
pub fn sleb(mut n: i64, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        let done = (n == 0 && byte & 0x40 == 0) || (n == -1 && byte & 0x40 != 0);
        if done {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// One run-length run of `count` copies of an unsigned value.
pub fn run(count: i64, value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(count, &mut out);
    uleb(value, &mut out);
    out
}

/// A boolean column of `count` times `false`.
pub fn falses(count: i64) -> Vec<u8> {
    let mut out = Vec::new();
    uleb(count.unsigned_abs(), &mut out);
    out
}

/// One run of `count` copies of a string.
pub fn str_run(count: i64, s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    sleb(count, &mut out);
    uleb(s.len() as u64, &mut out);
    out.extend(s.as_bytes());
    out
}

/// A forged change chunk (type 1) with the given columns `(spec, bytes)`, in order.
#[derive(Debug, Clone)]
pub struct Forge {
    /// The author's actor id.
    pub actor: Vec<u8>,
    /// How many (fake) dependency hashes it names.
    pub deps: u64,
    /// How many other actors it lists.
    pub other_actors: u64,
    /// Its columns: column spec and raw bytes.
    pub columns: Vec<(u64, Vec<u8>)>,
}

impl Forge {
    /// An empty change by `actor`.
    pub fn new(actor: &[u8]) -> Self {
        Forge {
            actor: actor.to_vec(),
            deps: 0,
            other_actors: 0,
            columns: Vec::new(),
        }
    }

    /// Adds a column.
    pub fn column(mut self, spec: u64, bytes: Vec<u8>) -> Self {
        self.columns.push((spec, bytes));
        self
    }

    /// `ops` puts of `null` on the root key `"x"`, each column a single run: a few dozen
    /// bytes whatever `ops` is.
    pub fn puts(actor: &[u8], ops: i64) -> Self {
        Forge::new(actor)
            .column(0x15, str_run(ops, "x")) // key strings
            .column(0x34, falses(ops)) // insert: never
            .column(0x42, run(ops, 1)) // action: set
            .column(0x56, run(ops, 0)) // value metadata: null, no value bytes
            .column(0x70, run(ops, 0)) // no predecessors
    }

    /// One delete of the root key `"x"` declaring `preds` predecessors.
    pub fn many_preds(actor: &[u8], preds: i64) -> Self {
        Forge::new(actor)
            .column(0x15, str_run(1, "x"))
            .column(0x34, falses(1))
            .column(0x42, run(1, 3)) // action: delete
            .column(0x56, run(1, 0))
            .column(0x70, run(1, preds.unsigned_abs())) // predecessor group: `preds` of them
            .column(0x71, run(preds, 0)) // their actors
            .column(0x73, run(preds, 1)) // their counters
    }

    /// The change's body (what the checksum covers, after the chunk type and length).
    pub fn body(&self) -> Vec<u8> {
        let mut b = Vec::new();
        uleb(self.deps, &mut b);
        for _ in 0..self.deps {
            b.extend([0xab; 32]);
        }
        uleb(self.actor.len() as u64, &mut b);
        b.extend(&self.actor);
        uleb(1, &mut b); // seq
        uleb(1, &mut b); // start_op
        sleb(0, &mut b); // time
        uleb(0, &mut b); // message
        uleb(self.other_actors, &mut b);
        for i in 0..self.other_actors {
            b.push(8);
            b.extend(i.to_be_bytes());
        }
        uleb(self.columns.len() as u64, &mut b);
        for (spec, bytes) in &self.columns {
            uleb(*spec, &mut b);
            uleb(bytes.len() as u64, &mut b);
        }
        for (_, bytes) in &self.columns {
            b.extend(bytes);
        }
        b
    }

    /// The whole chunk, with automerge's checksum (the first 4 bytes of the SHA-256 of the
    /// chunk type, length and body).
    pub fn chunk(&self) -> Vec<u8> {
        let body = self.body();
        let mut hashed = vec![1u8];
        uleb(body.len() as u64, &mut hashed);
        hashed.extend(&body);
        let hash = Sha256::digest(&hashed);
        let mut out = vec![0x85, 0x6f, 0x4a, 0x83];
        out.extend(&hash[..4]);
        out.extend(hashed);
        out
    }
}
