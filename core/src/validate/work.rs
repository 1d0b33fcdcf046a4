//! The work a change declares, read from its metadata before Automerge expands anything.
//!
//! Automerge stores a change's operations in columns, each a run-length code: a run of a few
//! bytes says "the next 1 000 000 operations are `put`". `Change::from_bytes` walks every
//! operation the action column declares (and, for each, every predecessor its pred group
//! declares), and applying a change builds them all in memory — so a 100-byte change can take
//! hundreds of MiB and seconds of CPU, and 6 000 000 operations abort the process (a failed
//! allocation is not a panic `catch_unwind` could catch). This module reads only the run
//! headers, in bounded, panic-free code, and counts what the change would expand to.
//!
//! The layout (automerge 0.12, `storage/change.rs` and `storage/columns/`): after the chunk
//! header, a change body holds its dependencies (count, 32-byte hashes), its actor (length,
//! bytes), `seq`, `start_op`, `time` (signed), the message (length, bytes), the other actors
//! (count, each length + bytes), the column metadata (count, then per column a spec and a byte
//! length) and the columns' bytes. A spec is `id << 4 | deflate << 3 | type`; the types used
//! here are run-length integers (group 0, actor 1, integer 2, value metadata 6: signed run
//! length, then one unsigned value, or a negative length and that many literal values, or `0`
//! and a null-run length), delta integers (3: the same with signed values), booleans (4:
//! alternating run lengths) and strings (5: run-length with length-prefixed UTF-8 values).
//! Operations are decoded in lockstep, one value from each column per operation, so a column
//! costs at most what the operations read from it; every column is counted in full all the
//! same (an honest encoder never writes more values than operations).

use super::{BAD_CHANGE, Rejection, TOO_LARGE, read_uleb128, reject};
use crate::limits::{
    MAX_CHANGE_ACTORS, MAX_CHANGE_DEPS, MAX_CHANGE_OPS, MAX_CHANGE_PREDS, MAX_DOC_OPS,
    MAX_INFLATED_BYTES,
};

/// What one change declares it expands to, read from its metadata and the run headers of its
/// columns without expanding anything. Counts saturate instead of overflowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Work {
    /// Operations: the values the action column declares.
    pub ops: u64,
    /// Predecessors: the sum of the pred group column's values (and at least the values its
    /// actor and counter columns declare).
    pub preds: u64,
    /// Dependencies the change names.
    pub deps: u64,
    /// Actors the change names besides its own.
    pub actors: u64,
    /// The most values any column running alongside the operations declares.
    pub widest_column: u64,
    /// Bytes of the key and mark-name strings once every run is expanded.
    pub string_bytes: u64,
}

impl Work {
    /// Checks the change's declared work against the per-change limits of
    /// [`crate::sync::wire`].
    ///
    /// # Errors
    ///
    /// A `too_large` [`Rejection`] naming the limit that is exceeded.
    pub fn check(&self) -> Result<(), Rejection> {
        let over = |what: &str, n: u64, max: u64| {
            reject(
                TOO_LARGE,
                format!("the change declares {n} {what}, at most {max} allowed"),
            )
        };
        if self.ops > MAX_CHANGE_OPS {
            return Err(over("operations", self.ops, MAX_CHANGE_OPS));
        }
        if self.widest_column > MAX_CHANGE_OPS {
            return Err(over(
                "values in one operation column",
                self.widest_column,
                MAX_CHANGE_OPS,
            ));
        }
        if self.preds > MAX_CHANGE_PREDS {
            return Err(over("predecessors", self.preds, MAX_CHANGE_PREDS));
        }
        if self.deps > MAX_CHANGE_DEPS {
            return Err(over("dependencies", self.deps, MAX_CHANGE_DEPS));
        }
        if self.actors > MAX_CHANGE_ACTORS {
            return Err(over("other actors", self.actors, MAX_CHANGE_ACTORS));
        }
        let max_strings = u64::try_from(MAX_INFLATED_BYTES).unwrap_or(u64::MAX);
        if self.string_bytes > max_strings {
            return Err(over(
                "bytes of expanded strings",
                self.string_bytes,
                max_strings,
            ));
        }
        Ok(())
    }

    /// Checks that a document holding `current` operations stays within
    /// [`MAX_DOC_OPS`](crate::limits::MAX_DOC_OPS) with this change applied.
    ///
    /// # Errors
    ///
    /// A `too_large` [`Rejection`] naming the limit.
    pub fn fits_document(&self, current: u64) -> Result<(), Rejection> {
        let after = current.saturating_add(self.ops);
        if after > MAX_DOC_OPS {
            return Err(reject(
                TOO_LARGE,
                format!(
                    "the document would hold {after} operations with this change, at most {MAX_DOC_OPS} allowed"
                ),
            ));
        }
        Ok(())
    }
}

/// A cursor over untrusted bytes; every read is bounds-checked.
struct Bytes<'a> {
    rest: &'a [u8],
    what: &'static str,
}

impl<'a> Bytes<'a> {
    fn new(rest: &'a [u8], what: &'static str) -> Self {
        Bytes { rest, what }
    }

    fn truncated(&self) -> Rejection {
        reject(
            BAD_CHANGE,
            format!("the change's {} is cut short", self.what),
        )
    }

    fn uleb(&mut self) -> Result<u64, Rejection> {
        let (n, used) = read_uleb128(self.rest).ok_or_else(|| {
            reject(
                BAD_CHANGE,
                format!("the change's {} holds an invalid leb128 number", self.what),
            )
        })?;
        self.rest = self.rest.get(used..).unwrap_or_default();
        Ok(n)
    }

    fn sleb(&mut self) -> Result<i64, Rejection> {
        let (n, used) = read_sleb128(self.rest).ok_or_else(|| {
            reject(
                BAD_CHANGE,
                format!("the change's {} holds an invalid leb128 number", self.what),
            )
        })?;
        self.rest = self.rest.get(used..).unwrap_or_default();
        Ok(n)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Rejection> {
        let n = usize::try_from(n).map_err(|_| self.truncated())?;
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| self.truncated())?;
        self.rest = tail;
        Ok(head)
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Reads a signed LEB128 number (at most 10 bytes, fitting in 64 bits). Returns the number and
/// how many bytes it took.
fn read_sleb128(bytes: &[u8]) -> Option<(i64, usize)> {
    let mut value: i128 = 0;
    for (i, b) in bytes.iter().take(10).enumerate() {
        let shift = 7 * u32::try_from(i).ok()?;
        value |= i128::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            if b & 0x40 != 0 {
                value -= 1i128 << (shift + 7);
            }
            return Some((i64::try_from(value).ok()?, i + 1));
        }
    }
    None
}

// Column ids (spec >> 4) of a change's operation columns, as automerge 0.12 writes them.
const OBJ: u64 = 0;
const KEY: u64 = 1;
const INSERT: u64 = 3;
const ACTION: u64 = 4;
const VALUE: u64 = 5;
const PRED: u64 = 7;
const EXPAND: u64 = 9;
const MARK_NAME: u64 = 10;

// Column types (spec & 7).
const GROUP: u64 = 0;
const ACTOR: u64 = 1;
const INTEGER: u64 = 2;
const DELTA: u64 = 3;
const BOOLEAN: u64 = 4;
const STRING: u64 = 5;
const VALUE_META: u64 = 6;
const RAW: u64 = 7;
const DEFLATE: u64 = 8;

/// The values a run-length column declares, and (for a group column) the sum of its values,
/// (for a string column) the bytes of its strings expanded.
#[derive(Default)]
struct Runs {
    values: u64,
    sum: u64,
    string_bytes: u64,
}

/// What one value of a run-length column is made of.
#[derive(Clone, Copy)]
enum Value {
    Unsigned,
    Signed,
    Str,
}

/// Reads one value; returns its numeric value (unsigned) or its length (string).
fn value(col: &mut Bytes<'_>, kind: Value) -> Result<u64, Rejection> {
    match kind {
        Value::Unsigned => col.uleb(),
        Value::Signed => col.sleb().map(|_| 0),
        Value::Str => {
            let len = col.uleb()?;
            col.take(len)?;
            Ok(len)
        }
    }
}

fn runs(data: &[u8], kind: Value, what: &'static str) -> Result<Runs, Rejection> {
    let mut col = Bytes::new(data, what);
    let mut out = Runs::default();
    while !col.is_empty() {
        let count = col.sleb()?;
        if count > 0 {
            let n = count.unsigned_abs();
            let v = value(&mut col, kind)?;
            out.values = out.values.saturating_add(n);
            match kind {
                Value::Unsigned => out.sum = out.sum.saturating_add(n.saturating_mul(v)),
                Value::Str => {
                    out.string_bytes = out.string_bytes.saturating_add(n.saturating_mul(v));
                }
                Value::Signed => {}
            }
        } else if count < 0 {
            // A literal run: every value is written out, so this loop is bounded by the bytes.
            for _ in 0..count.unsigned_abs() {
                let v = value(&mut col, kind)?;
                out.values = out.values.saturating_add(1);
                match kind {
                    Value::Unsigned => out.sum = out.sum.saturating_add(v),
                    Value::Str => out.string_bytes = out.string_bytes.saturating_add(v),
                    Value::Signed => {}
                }
            }
        } else {
            out.values = out.values.saturating_add(col.uleb()?);
        }
    }
    Ok(out)
}

fn booleans(data: &[u8], what: &'static str) -> Result<u64, Rejection> {
    let mut col = Bytes::new(data, what);
    let mut values: u64 = 0;
    while !col.is_empty() {
        values = values.saturating_add(col.uleb()?);
    }
    Ok(values)
}

/// Reads the declared work of a change body (the bytes after the chunk header, inflated if
/// the chunk was compressed).
///
/// # Errors
///
/// `bad_change` when the metadata or a run header does not parse (cut short, invalid numbers,
/// a compressed column — automerge refuses those in a change too).
pub(super) fn declared(body: &[u8]) -> Result<Work, Rejection> {
    let mut work = Work::default();
    let mut b = Bytes::new(body, "header");
    work.deps = b.uleb()?;
    if work.deps > MAX_CHANGE_DEPS {
        return Ok(work);
    }
    b.take(work.deps.saturating_mul(32))?;
    let actor = b.uleb()?;
    b.take(actor)?;
    b.uleb()?; // seq
    b.uleb()?; // start_op
    b.sleb()?; // time
    let message = b.uleb()?;
    b.take(message)?;
    work.actors = b.uleb()?;
    if work.actors > MAX_CHANGE_ACTORS {
        return Ok(work);
    }
    for _ in 0..work.actors {
        let len = b.uleb()?;
        b.take(len)?;
    }
    let columns = b.uleb()?;
    let mut specs = Vec::new();
    for _ in 0..columns {
        // Each column's metadata takes at least two bytes, so this loop is bounded by them.
        let spec = b.uleb()?;
        let len = b.uleb()?;
        specs.push((spec, len));
    }
    let mut data = Bytes::new(b.rest, "column data");
    for (spec, len) in specs {
        let bytes = data.take(len)?;
        if spec & DEFLATE != 0 {
            return Err(reject(BAD_CHANGE, "a column of the change is compressed"));
        }
        let (id, typ) = (spec >> 4, spec & 7);
        let what = match id {
            OBJ => "`obj` column",
            KEY => "`key` column",
            INSERT => "`insert` column",
            ACTION => "`action` column",
            VALUE => "`value` column",
            PRED => "`pred` column",
            EXPAND => "`expand` column",
            MARK_NAME => "`mark_name` column",
            // Automerge carries columns it does not know without decoding them.
            _ => continue,
        };
        let values = match typ {
            GROUP | ACTOR | INTEGER | VALUE_META => {
                let r = runs(bytes, Value::Unsigned, what)?;
                if typ == GROUP && id == PRED {
                    work.preds = work.preds.max(r.sum);
                }
                r.values
            }
            DELTA => runs(bytes, Value::Signed, what)?.values,
            STRING => {
                let r = runs(bytes, Value::Str, what)?;
                work.string_bytes = work.string_bytes.saturating_add(r.string_bytes);
                r.values
            }
            BOOLEAN => booleans(bytes, what)?,
            RAW => continue,
            _ => unreachable!("a column type is three bits; this is a bug"),
        };
        if id == ACTION && typ == INTEGER {
            work.ops = values;
        }
        if id == PRED && (typ == ACTOR || typ == DELTA) {
            // The predecessors' own columns run alongside the predecessors.
            work.preds = work.preds.max(values);
        } else {
            work.widest_column = work.widest_column.max(values);
        }
    }
    Ok(work)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod tests {
    //! Forged change chunks come from [`crate::forge`].

    use super::*;
    pub(crate) use crate::forge::*;

    fn work(f: &Forge) -> Work {
        declared(&f.body()).unwrap()
    }

    #[test]
    fn signed_leb128_reads_what_automerge_writes() {
        for n in [0i64, 1, -1, 63, 64, -64, -65, 1 << 40, i64::MAX, i64::MIN] {
            let mut out = Vec::new();
            sleb(n, &mut out);
            assert_eq!(read_sleb128(&out), Some((n, out.len())), "{n}");
        }
        assert_eq!(read_sleb128(&[0x80; 11]), None);
        assert_eq!(read_sleb128(&[]), None);
    }

    #[test]
    fn a_single_run_declares_its_operations() {
        let w = work(&Forge::puts(&[1; 16], 1_000_000));
        assert_eq!(w.ops, 1_000_000);
        assert_eq!(w.string_bytes, 1_000_000);
        assert!(w.check().is_err());
        let w = work(&Forge::puts(&[1; 16], 10));
        assert_eq!(w.ops, 10);
        assert_eq!(w.check(), Ok(()));
    }

    #[test]
    fn literal_and_null_runs_count_too() {
        let mut action = Vec::new();
        sleb(-3, &mut action);
        action.extend([1, 1, 1]);
        sleb(0, &mut action);
        uleb(7, &mut action);
        action.extend(run(5, 1));
        let w = work(&Forge::new(&[1; 16]).column(0x42, action));
        assert_eq!(w.ops, 15);
    }

    #[test]
    fn a_pred_group_declaring_a_million_predecessors_is_counted() {
        let f = Forge::new(&[1; 16])
            .column(0x42, run(1, 3))
            .column(0x70, run(1, 1_000_000));
        let w = work(&f);
        assert_eq!((w.ops, w.preds), (1, 1_000_000));
        assert!(w.check().unwrap_err().reason.contains("predecessors"));
        // ... and so is a run in the predecessors' own columns
        let f = Forge::new(&[1; 16])
            .column(0x42, run(1, 3))
            .column(0x71, run(2_000_000, 0));
        assert_eq!(work(&f).preds, 2_000_000);
    }

    #[test]
    fn any_operation_column_longer_than_the_limit_is_refused() {
        let f = Forge::new(&[1; 16]).column(0x42, run(1, 1)).column(0x34, {
            let mut b = Vec::new();
            uleb(0, &mut b);
            uleb(5_000_000, &mut b);
            b
        });
        let w = work(&f);
        assert_eq!(w.widest_column, 5_000_000);
        assert!(w.check().is_err());
    }

    #[test]
    fn deps_and_actors_are_bounded() {
        let mut f = Forge::puts(&[1; 16], 1);
        f.deps = MAX_CHANGE_DEPS + 1;
        assert!(
            work(&f)
                .check()
                .unwrap_err()
                .reason
                .contains("dependencies")
        );
        let mut f = Forge::puts(&[1; 16], 1);
        f.other_actors = MAX_CHANGE_ACTORS + 1;
        assert!(
            work(&f)
                .check()
                .unwrap_err()
                .reason
                .contains("other actors")
        );
    }

    #[test]
    fn long_strings_repeated_by_a_run_are_counted_expanded() {
        let key = "k".repeat(1000);
        let f = Forge::new(&[1; 16])
            .column(0x15, str_run(50_000, &key))
            .column(0x42, run(50_000, 1));
        let w = work(&f);
        assert_eq!(w.string_bytes, 50_000_000);
        assert!(w.check().unwrap_err().reason.contains("strings"));
    }

    #[test]
    fn malformed_metadata_is_a_bad_change_never_a_panic() {
        let good = Forge::puts(&[1; 16], 3).body();
        for cut in 0..good.len() {
            // Any prefix either parses (a shorter column area) or is refused; none panics.
            let _ = declared(&good[..cut]);
        }
        assert_eq!(declared(&[]).unwrap_err().code, BAD_CHANGE);
        let compressed = Forge::new(&[1; 16]).column(0x42 | DEFLATE, vec![1, 2]);
        assert_eq!(declared(&compressed.body()).unwrap_err().code, BAD_CHANGE);
        let cut_literal = Forge::new(&[1; 16]).column(0x42, {
            let mut b = Vec::new();
            sleb(-1_000_000, &mut b);
            b.push(1);
            b
        });
        assert_eq!(declared(&cut_literal.body()).unwrap_err().code, BAD_CHANGE);
        // A run count that does not fit in 64 bits
        let huge = Forge::new(&[1; 16]).column(0x42, vec![0xff; 12]);
        assert_eq!(declared(&huge.body()).unwrap_err().code, BAD_CHANGE);
    }

    #[test]
    fn forged_changes_expand_to_exactly_what_they_declare() {
        // The builder writes real changes: automerge decodes the small ones, and they expand
        // to the operations counted from their run headers.
        for n in [1, 50, 1_000] {
            let bytes = Forge::puts(&[7; 16], n).chunk();
            let change = automerge::Change::from_bytes(bytes.clone()).unwrap();
            let w = super::super::check_bounds(&bytes, 1 << 20, 4 << 20).unwrap();
            assert_eq!(change.len() as u64, w.ops);
        }
        let preds = Forge::new(&[7; 16])
            .column(0x15, str_run(1, "x"))
            .column(0x34, falses(1))
            .column(0x42, run(1, 3)) // one delete
            .column(0x56, run(1, 0))
            .column(0x70, run(1, 4)) // with four predecessors
            .column(0x71, run(4, 0))
            .column(0x73, run(4, 1));
        let change = automerge::Change::from_bytes(preds.chunk()).unwrap();
        assert_eq!(change.decode().operations[0].pred.len(), 4);
        assert_eq!(work(&preds).preds, 4);
    }

    #[test]
    fn op_bombs_are_refused_before_anything_is_expanded() {
        // The bombs: ~100 bytes declaring 1 000 000 and 6 000 000 puts, and one
        // operation declaring a million predecessors. `check_bounds` never calls automerge.
        for ops in [1_000_000, 6_000_000] {
            let bomb = Forge::puts(&[7; 16], ops).chunk();
            assert!(bomb.len() < 100, "{} bytes", bomb.len());
            let r = super::super::check_bounds(&bomb, 1 << 20, 4 << 20).unwrap_err();
            assert_eq!(r.code, TOO_LARGE);
            assert!(r.reason.contains(&format!("{ops} operations")), "{r}");
            assert!(r.reason.contains("100000"), "{r}");
        }
        let preds = Forge::new(&[7; 16])
            .column(0x42, run(1, 3))
            .column(0x70, run(1, 1_000_000))
            .column(0x71, run(1_000_000, 0))
            .column(0x73, run(1_000_000, 1))
            .chunk();
        let r = super::super::check_bounds(&preds, 1 << 20, 4 << 20).unwrap_err();
        assert_eq!(r.code, TOO_LARGE);
        assert!(r.reason.contains("predecessors"), "{r}");
        // Compressed, the bomb is read from its (bounded) inflated bytes.
        use std::io::Write;
        let body = Forge::puts(&[7; 16], 1_000_000).body();
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&body).unwrap();
        let deflated = enc.finish().unwrap();
        let mut chunk = super::super::MAGIC.to_vec();
        chunk.extend([0, 0, 0, 0, 2]);
        uleb(deflated.len() as u64, &mut chunk);
        chunk.extend(deflated);
        let r = super::super::check_bounds(&chunk, 1 << 20, 4 << 20).unwrap_err();
        assert_eq!(r.code, TOO_LARGE);
        assert!(r.reason.contains("operations"), "{r}");
    }

    #[test]
    fn a_document_is_bounded_with_the_change_applied() {
        let w = Work {
            ops: 10,
            ..Work::default()
        };
        assert_eq!(w.fits_document(MAX_DOC_OPS - 10), Ok(()));
        let r = w.fits_document(MAX_DOC_OPS - 9).unwrap_err();
        assert_eq!(r.code, TOO_LARGE);
        assert!(r.reason.contains("1000000"), "{r}");
    }
}
