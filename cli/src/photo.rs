//! Photo subcommands: fetch a photo to a file, bound the photo cache.

use std::path::PathBuf;

use clap::Subcommand;
use noaber_core::{Error, Store};

use crate::out::Out;
use crate::sync::runtime;

/// Photo subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum PhotoCmd {
    /// Write a photo to a file: from this device if it holds it, else downloaded from the
    /// relay (exit code 3 and "pending" when the relay does not hold it yet).
    Fetch {
        /// SHA-256 of the photo (as `report show` lists it).
        hash: String,
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// The buurt whose relay to ask (default: every joined buurt in turn).
        #[arg(long)]
        buurt: Option<String>,
    },
    /// Keep at most this many bytes of downloaded photos (photos waiting to upload are kept).
    CacheLimit {
        /// Bytes.
        bytes: u64,
    },
}

/// The exit code of `photo fetch` for a photo the relay does not hold yet.
const EXIT_PENDING: u8 = 3;

/// Runs a photo subcommand; `Ok(Some(code))` for a non-error exit code other than 0.
pub(crate) fn run(store: &Store, out: &Out, cmd: PhotoCmd) -> Result<Option<u8>, Error> {
    match cmd {
        PhotoCmd::CacheLimit { bytes } => {
            store.set_photo_cache_limit(bytes)?;
            out.ok()?;
            Ok(None)
        }
        PhotoCmd::Fetch {
            hash,
            out: path,
            buurt,
        } => {
            let mut photo = store.photo(&hash)?;
            if photo.is_none() {
                let buurten = match buurt {
                    Some(b) => vec![store.buurt(&b)?.id],
                    None => store.buurten()?.into_iter().map(|b| b.id).collect(),
                };
                let client = noaber_core::sync::http::Client::new()?;
                let rt = runtime()?;
                for b in buurten {
                    photo = rt.block_on(client.fetch_photo(store, &b, &hash))?;
                    if photo.is_some() {
                        break;
                    }
                }
            }
            let Some(photo) = photo else {
                out.print(
                    &serde_json::json!({ "hash": hash, "state": "pending" }),
                    || format!("photo {hash} is pending: the relay does not hold it yet"),
                )?;
                return Ok(Some(EXIT_PENDING));
            };
            write_atomically(&path, &photo.bytes)?;
            out.print(
                &serde_json::json!({ "hash": hash, "mime": photo.mime, "size": photo.bytes.len(), "out": path }),
                || format!("wrote {} ({}, {} bytes)", path.display(), photo.mime, photo.bytes.len()),
            )?;
            Ok(None)
        }
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a
/// reader never sees half a photo.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::InvalidInput {
            field: "out",
            reason: format!("`{}` names no file", path.display()),
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(".{name}.part"));
    let fail = |e: std::io::Error| Error::InvalidInput {
        field: "out",
        reason: format!("cannot write `{}`: {e}", path.display()),
    };
    std::fs::write(&tmp, bytes).map_err(fail)?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e)
    })
}
