//! Content digests (OCI image-spec `descriptor.md#digests`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

use crate::error::{Error, Result};
use crate::field::{self, Kind};

/// A validated content digest, `algorithm ":" encoded`.
///
/// `sha256` digests, by far the most common, are stored as their 32 raw bytes so that a
/// snapshot with millions of them stays small and hashes fast; any other algorithm that follows
/// the grammar is kept as text, so future algorithms do not break parsing.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Digest(Repr);

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Repr {
    Sha256([u8; 32]),
    Other(Box<str>),
}

/// A sha256 function: bytes in, their digest out.
pub type Sha256Fn = fn(&[u8]) -> [u8; 32];

static SHA256: std::sync::OnceLock<Sha256Fn> = std::sync::OnceLock::new();

/// Makes every sha256 the core computes (plan seals and their verification, manifests
/// checked against their digests) use the host's `sha256`, installed once per process, as
/// rustls installs a default crypto provider. For where the host's is faster than the core's
/// own: a WebAssembly build hashes in software (no SHA instructions), and slowly until the
/// engine has optimized the code (a 30 MB plan's seal took 1.4 s of a first plan in Node,
/// against ~20 ms natively), while Node's `crypto` hashes natively. Whatever it returns is
/// trusted. `Err` with the one installed when one already is.
pub fn install_sha256(sha256: Sha256Fn) -> Result<(), Sha256Fn> {
    SHA256.set(sha256)
}

/// The sha256 installed with [`install_sha256`], if any.
pub(crate) fn installed_sha256() -> Option<Sha256Fn> {
    SHA256.get().copied()
}

/// The core's own sha256 (the `sha2` crate, with the CPU's SHA instructions where it has
/// them), whatever is installed.
pub fn software_sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Digest {
    /// Parses a digest, checking the grammar and, for `sha256` and `sha512`, the exact length
    /// of lowercase hex the spec requires.
    pub fn parse(s: &str) -> Option<Digest> {
        let (algorithm, encoded) = s.split_once(':')?;
        if !valid_algorithm(algorithm) || encoded.is_empty() {
            return None;
        }
        match algorithm {
            "sha256" => decode_hex::<32>(encoded).map(|b| Digest(Repr::Sha256(b))),
            "sha512" => (encoded.len() == 128 && encoded.bytes().all(is_lower_hex))
                .then(|| Digest(Repr::Other(s.into()))),
            _ => encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'=' | b'_' | b'-'))
                .then(|| Digest(Repr::Other(s.into()))),
        }
    }

    /// A short key for hash tables: the first eight bytes of a sha256 digest (uniform already),
    /// or a hash of any other digest's text. Equal digests have equal keys; different digests
    /// may share one, so a table keyed by it must check the digest itself on a hit.
    pub(crate) fn key(&self) -> u64 {
        match &self.0 {
            Repr::Sha256(b) => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[..8]);
                u64::from_le_bytes(w)
            }
            Repr::Other(s) => {
                use std::hash::{BuildHasher, Hasher};
                let mut h = foldhash::fast::FixedState::with_seed(0x5eed).build_hasher();
                h.write(s.as_bytes());
                h.finish()
            }
        }
    }

    /// A number that orders like the digest, for sorting: its first eight bytes for sha256,
    /// above every sha256 for any other algorithm. Digests with different numbers are ordered
    /// by them; equal numbers say nothing.
    pub(crate) fn order_prefix(&self) -> u64 {
        match &self.0 {
            Repr::Sha256(b) => {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[..8]);
                u64::from_be_bytes(w)
            }
            Repr::Other(_) => u64::MAX,
        }
    }

    /// A sha256 digest from its 32 bytes.
    pub fn from_sha256(bytes: [u8; 32]) -> Digest {
        Digest(Repr::Sha256(bytes))
    }

    /// The sha256 digest of `bytes`.
    pub fn sha256(bytes: &[u8]) -> Digest {
        let sha256 = installed_sha256().unwrap_or(software_sha256);
        Digest(Repr::Sha256(sha256(bytes)))
    }

    /// The digest of `bytes` computed with this digest's algorithm, to verify content against
    /// it. `None` for an algorithm regprune cannot compute.
    pub fn recompute(&self, bytes: &[u8]) -> Option<Digest> {
        match self.algorithm() {
            "sha256" => Some(Digest::sha256(bytes)),
            "sha512" => Some(Digest(Repr::Other(
                format!("sha512:{}", hex(&Sha512::digest(bytes))).into(),
            ))),
            _ => None,
        }
    }

    /// The algorithm part (`sha256`).
    pub fn algorithm(&self) -> &str {
        match &self.0 {
            Repr::Sha256(_) => "sha256",
            Repr::Other(s) => s.split_once(':').map_or("", |(a, _)| a),
        }
    }

    /// The encoded part (the hex of a sha256 digest).
    pub fn encoded(&self) -> String {
        match &self.0 {
            Repr::Sha256(b) => hex(b),
            Repr::Other(s) => s.split_once(':').map_or("", |(_, e)| e).to_owned(),
        }
    }

    /// The first 12 hex characters, as `docker images` shows them.
    pub fn short(&self) -> String {
        let mut e = self.encoded();
        e.truncate(12);
        e
    }
}

impl std::hash::Hash for Digest {
    /// Four word writes instead of a length-prefixed byte slice: digests are the keys of every
    /// hot map in the planner.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        match &self.0 {
            Repr::Sha256(b) => {
                for word in b.chunks_exact(8) {
                    let mut w = [0u8; 8];
                    w.copy_from_slice(word);
                    state.write_u64(u64::from_le_bytes(w));
                }
            }
            Repr::Other(s) => s.hash(state),
        }
    }
}

impl std::str::FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Digest::parse(s).ok_or_else(|| Kind::Digest.error("digest", s))
    }
}

fn valid_algorithm(a: &str) -> bool {
    // [a-z0-9]+([+._-][a-z0-9]+)*
    let mut prev_sep = true;
    for b in a.bytes() {
        match b {
            b'a'..=b'z' | b'0'..=b'9' => prev_sep = false,
            b'+' | b'.' | b'_' | b'-' if !prev_sep => prev_sep = true,
            _ => return false,
        }
    }
    !prev_sep
}

fn is_lower_hex(b: u8) -> bool {
    b.is_ascii_digit() || (b'a'..=b'f').contains(&b)
}

fn decode_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// `sha256:` and 64 hex digits, written into a buffer on the stack.
fn sha256_text<'b>(bytes: &[u8; 32], buf: &'b mut [u8; 71]) -> &'b str {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf[..7].copy_from_slice(b"sha256:");
    for (i, b) in bytes.iter().enumerate() {
        buf[7 + 2 * i] = HEX[usize::from(b >> 4)];
        buf[8 + 2 * i] = HEX[usize::from(b & 15)];
    }
    std::str::from_utf8(buf).unwrap_or_else(|_| unreachable!("hex digits are ASCII"))
}

impl Digest {
    /// The digest's text; a `sha256` digest is written into `buf` (no allocation: plans and
    /// snapshots hold millions of digests).
    fn text<'b>(&'b self, buf: &'b mut [u8; 71]) -> &'b str {
        match &self.0 {
            Repr::Sha256(b) => sha256_text(b, buf),
            Repr::Other(s) => s,
        }
    }

    /// Appends the digest's text (it never needs escaping in JSON).
    pub(crate) fn write_text(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.text(&mut [0; 71]).as_bytes());
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text(&mut [0; 71]))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Digest {
    /// One string, without a formatter: plans and snapshots hold millions of digests.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.text(&mut [0; 71]))
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        field::deserialize_str(d, Kind::Digest, Digest::parse)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn sha256_of_empty_input_matches_the_well_known_value() {
        assert_eq!(Digest::sha256(b"").to_string(), EMPTY);
        assert_eq!(Digest::parse(EMPTY).unwrap(), Digest::sha256(b""));
    }

    /// The planner sorts by the prefix first: it may tie where digests differ, never order
    /// two digests the other way round.
    #[test]
    fn order_prefix_never_contradicts_the_order() {
        let mut digests: Vec<Digest> = (0u32..300)
            .map(|i| Digest::sha256(&i.to_le_bytes()))
            .collect();
        let mut same_prefix = [0u8; 32];
        same_prefix[31] = 1;
        digests.push(Digest::from_sha256(same_prefix));
        digests.push(Digest::from_sha256([0; 32]));
        digests.push(Digest::from_sha256([0xff; 32]));
        digests.push(Digest::parse(&format!("sha512:{}", "0".repeat(128))).unwrap());
        digests.push(Digest::parse("blake3:ffff").unwrap());
        for a in &digests {
            for b in &digests {
                if a < b {
                    assert!(a.order_prefix() <= b.order_prefix(), "{a} < {b}");
                }
            }
        }
    }

    #[test]
    fn rejects_what_the_grammar_rejects() {
        for bad in [
            "",
            "sha256",
            "sha256:",
            "sha256:xyz",
            "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
            "sha512:abc",
            "-sha:abc",
            "sha__x:abc",
            "foo:a b",
        ] {
            assert!(Digest::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn keeps_unknown_algorithms_that_follow_the_grammar() {
        let d = Digest::parse("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8")
            .unwrap();
        assert_eq!(d.algorithm(), "multihash+base58");
        assert!(d.recompute(b"x").is_none());
    }

    #[test]
    fn sha512_is_recomputed_with_sha512() {
        let d = Digest::sha256(b"a").recompute(b"a").unwrap();
        assert_eq!(d, Digest::sha256(b"a"));
        let long = format!("sha512:{}", "0".repeat(128));
        let d512 = Digest::parse(&long).unwrap();
        assert_eq!(d512.recompute(b"").unwrap().algorithm(), "sha512");
    }
}
