//! The manifest store's pack format: many saved manifests in one file.
//!
//! A crawl saves the bytes of every manifest (and image config) it fetched, so that the next
//! crawl and the execution need not fetch them again (they are immutable by digest). One file
//! per manifest cost a file creation each, which on an ordinary disk took more CPU than the
//! request that fetched the bytes; a pack is one file per crawl, appended to as bytes arrive.
//!
//! The format is plain enough to read with `less`:
//!
//! ```text
//! regprune-pack 1\n
//! sha256:<hex> <length>\n<length bytes>\n
//! sha256:<hex> <length>\n<length bytes>\n
//! ```
//!
//! The adapters move the bytes; this module says what they mean. A pack is a cache, never
//! trusted: the sessions check every record's bytes against its digest before using them. A
//! pack cut short (a crash while it was written) is read up to its last whole record.

use crate::digest::Digest;

/// The first line of every pack.
pub const PACK_HEADER: &[u8] = b"regprune-pack 1\n";

/// The largest record a pack may hold: a manifest or config larger than this is not saved
/// (and a length past it marks a damaged pack).
pub const MAX_RECORD: usize = 64 << 20;

/// How many packs a store may gather before an adapter merges them into one (a nightly crawl
/// adds one pack when something new was fetched).
pub const PACKS_BEFORE_MERGE: usize = 16;

/// The longest record line (`sha256:<64 hex> <length>\n` is 85 bytes; other algorithms are
/// longer). A line past this marks a damaged pack.
const MAX_LINE: usize = 256;

/// One record of a pack: the digest it is saved under and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    /// The digest the bytes were saved under (not yet checked against them).
    pub digest: Digest,
    /// Where the bytes start in the pack.
    pub offset: u64,
    /// How many bytes.
    pub length: u64,
}

/// What a pack holds, read from its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PackIndex {
    /// Every whole record, in order.
    pub entries: Vec<PackEntry>,
    /// Where reading stopped before the end, and why (a pack cut short or damaged): the records
    /// before it are still usable.
    pub damaged: Option<String>,
}

/// The records for `manifests` (digest and bytes), to append to a pack (after
/// [`PACK_HEADER`] when the pack is new). Bytes larger than [`MAX_RECORD`] are left out.
pub fn pack_records<'a>(manifests: impl IntoIterator<Item = (&'a Digest, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (digest, bytes) in manifests {
        if bytes.len() > MAX_RECORD {
            continue;
        }
        out.extend_from_slice(format!("{digest} {}\n", bytes.len()).as_bytes());
        out.extend_from_slice(bytes);
        out.push(b'\n');
    }
    out
}

/// Reads a pack's records. A pack that does not start with [`PACK_HEADER`] holds none; a
/// record that is cut short or malformed ends the reading there (`damaged` says where).
pub fn index_pack(pack: &[u8]) -> PackIndex {
    let mut index = PackIndex::default();
    if !pack.starts_with(PACK_HEADER) {
        index.damaged = Some("not a regprune pack (no `regprune-pack 1` header)".into());
        return index;
    }
    let mut at = PACK_HEADER.len();
    while at < pack.len() {
        match record(pack, at) {
            Ok((entry, next)) => {
                index.entries.push(entry);
                at = next;
            }
            Err(why) => {
                index.damaged = Some(format!("at byte {at}: {why}"));
                break;
            }
        }
    }
    index
}

/// The record starting at `at`, and where the next one starts.
fn record(pack: &[u8], at: usize) -> Result<(PackEntry, usize), String> {
    let rest = &pack[at..];
    let window = &rest[..rest.len().min(MAX_LINE)];
    let Some(end) = window.iter().position(|&b| b == b'\n') else {
        return Err(if rest.len() < MAX_LINE {
            "the pack ends inside a record line".into()
        } else {
            "a record line longer than any digest".into()
        });
    };
    let line = std::str::from_utf8(&rest[..end]).map_err(|_| "a record line that is not text")?;
    let (digest, length) = line
        .split_once(' ')
        .ok_or_else(|| format!("a record line without a length: {line:?}"))?;
    let digest =
        Digest::parse(digest).ok_or_else(|| format!("a record line with no digest: {line:?}"))?;
    let length: usize = (length.bytes().all(|b| b.is_ascii_digit()) && !length.is_empty())
        .then(|| length.parse().ok())
        .flatten()
        .filter(|&n| n <= MAX_RECORD)
        .ok_or_else(|| format!("a record line with a bad length: {line:?}"))?;
    let start = at + end + 1;
    let stop = start + length;
    match pack.get(stop) {
        Some(b'\n') => Ok((
            PackEntry {
                digest,
                offset: start as u64,
                length: length as u64,
            },
            stop + 1,
        )),
        Some(_) => Err(format!(
            "the record of {digest} does not end where its length says"
        )),
        None => Err(format!("the pack ends inside the record of {digest}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(items: &[(&Digest, &[u8])]) -> Vec<u8> {
        let mut p = PACK_HEADER.to_vec();
        p.extend(pack_records(items.iter().copied()));
        p
    }

    #[test]
    fn records_read_back_where_they_were_written() {
        let (a, b) = (b"{\"schemaVersion\":2}".as_slice(), b"\n\n x \n".as_slice());
        let (da, db) = (Digest::sha256(a), Digest::sha256(b));
        let p = pack(&[(&da, a), (&db, b), (&da, b"")]);
        let index = index_pack(&p);
        assert_eq!(index.damaged, None);
        let got: Vec<(String, &[u8])> = index
            .entries
            .iter()
            .map(|e| {
                let s = e.offset as usize;
                (e.digest.to_string(), &p[s..s + e.length as usize])
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (da.to_string(), a),
                (db.to_string(), b),
                (da.to_string(), &b""[..])
            ]
        );
        // The text a reader sees.
        let head = format!("regprune-pack 1\n{da} {}\n", a.len());
        assert!(p.starts_with(head.as_bytes()));
    }

    #[test]
    fn a_pack_cut_anywhere_keeps_every_whole_record_before_the_cut() {
        let items: Vec<Vec<u8>> = (0..4)
            .map(|i| format!("{{\"n\":{i}}}").into_bytes())
            .collect();
        let digests: Vec<Digest> = items.iter().map(|b| Digest::sha256(b)).collect();
        let p = pack(
            &digests
                .iter()
                .zip(&items)
                .map(|(d, b)| (d, b.as_slice()))
                .collect::<Vec<_>>(),
        );
        let ends: Vec<usize> = {
            let full = index_pack(&p);
            full.entries
                .iter()
                .map(|e| (e.offset + e.length + 1) as usize)
                .collect()
        };
        for cut in PACK_HEADER.len()..p.len() {
            let index = index_pack(&p[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(index.entries.len(), whole, "cut at {cut}");
            let clean = cut == PACK_HEADER.len() || ends.contains(&cut);
            assert_eq!(index.damaged.is_some(), !clean, "cut at {cut}");
        }
    }

    #[test]
    fn damage_stops_the_reading_and_says_where() {
        let a = b"{}".as_slice();
        let d = Digest::sha256(a);
        let good = pack(&[(&d, a)]);
        assert!(index_pack(b"{}")
            .damaged
            .unwrap()
            .contains("not a regprune pack"));
        for (bad, says) in [
            (format!("{d} 3\n{{}}\n"), "does not end where"),
            (format!("{d} x\n{{}}\n"), "bad length"),
            (format!("{d} -2\n{{}}\n"), "bad length"),
            (format!("{d} 99999999999999999999\n"), "bad length"),
            (format!("{d}\n{{}}\n"), "without a length"),
            ("sha256:zz 2\n{}\n".to_string(), "no digest"),
            (format!("{}\n", "a".repeat(400)), "longer than any digest"),
        ] {
            let mut p = good.clone();
            p.extend_from_slice(bad.as_bytes());
            p.extend_from_slice(&good[PACK_HEADER.len()..]);
            let index = index_pack(&p);
            assert_eq!(index.entries.len(), 1, "{bad:?}");
            let why = index.damaged.unwrap();
            assert!(why.contains(says), "{bad:?}: {why}");
            assert!(why.contains(&format!("at byte {}", good.len())), "{why}");
        }
    }

    #[test]
    fn oversized_bytes_are_not_packed() {
        let big = vec![b' '; MAX_RECORD + 1];
        let d = Digest::sha256(&big);
        assert!(pack_records([(&d, big.as_slice())]).is_empty());
    }
}
