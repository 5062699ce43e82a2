//! Turning serde failures into typed errors that name the JSON path and the bad value.
//!
//! Validated newtypes (`Digest`, `RepositoryName`, `TagName`, `Timestamp`, `ImageReference`)
//! reject bad strings while they are deserialized. Serde can only carry a message out of a
//! `Deserialize` impl, so the newtype also records *what* it rejected in a thread-local slot;
//! the entry points below read it back to build the matching `Error` variant. The fast path
//! parses without tracking the path; only a failed parse is repeated with
//! `serde_path_to_error` to learn where it failed, so valid input pays nothing for this.

use std::cell::RefCell;
use std::fmt;

use serde::de::{self, Deserialize, DeserializeOwned, Deserializer, Visitor};

use crate::error::{Error, Result};

/// The kinds of validated values; each maps to one `Error` variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Digest,
    RepositoryName,
    Tag,
    Reference,
    Timestamp,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Digest => "digest",
            Kind::RepositoryName => "repository name",
            Kind::Tag => "tag",
            Kind::Reference => "image reference",
            Kind::Timestamp => "RFC 3339 timestamp",
        }
    }

    /// The typed error for a bad value of this kind at `path`.
    pub(crate) fn error(self, path: impl Into<String>, value: impl Into<String>) -> Error {
        let (path, value) = (path.into(), value.into());
        match self {
            Kind::Digest => Error::InvalidDigest { path, value },
            Kind::RepositoryName => Error::InvalidRepositoryName { path, value },
            Kind::Tag => Error::InvalidTag { path, value },
            Kind::Reference => Error::InvalidReference { path, value },
            Kind::Timestamp => Error::InvalidTimestamp { path, value },
        }
    }
}

thread_local! {
    static CAUSE: RefCell<Option<(Kind, String)>> = const { RefCell::new(None) };
    /// Paths of failures inside buffered (tagged) documents, innermost first.
    static INNER: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Records a rejected value and returns the serde error that aborts deserialization.
pub(crate) fn reject<E: de::Error>(kind: Kind, value: &str) -> E {
    CAUSE.with(|c| *c.borrow_mut() = Some((kind, value.to_owned())));
    E::custom(format_args!("{value:?} is not a valid {}", kind.noun()))
}

/// Deserializes a string and validates it with `parse`, borrowing where the format allows.
pub(crate) fn deserialize_str<'de, D, T>(
    deserializer: D,
    kind: Kind,
    parse: fn(&str) -> Option<T>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    struct V<T> {
        kind: Kind,
        parse: fn(&str) -> Option<T>,
    }
    impl<T> Visitor<'_> for V<T> {
        type Value = T;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a {} string", self.kind.noun())
        }
        fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
            (self.parse)(s).ok_or_else(|| reject(self.kind, s))
        }
    }
    deserializer.deserialize_str(V { kind, parse })
}

/// Parses a JSON document into `T`, mapping failures to typed errors with their path.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    clear();
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    clear();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Err(located(
        serde_path_to_error::deserialize::<_, T>(&mut de).err(),
    ))
}

/// Parses a JSON document from a reader as it streams in, so a large document's bytes never
/// sit in memory all at once (a snapshot of a million manifests is over a gigabyte of JSON).
/// The path is tracked as it goes, since the input cannot be read a second time.
pub fn from_reader<R: std::io::Read, T: DeserializeOwned>(reader: R) -> Result<T> {
    clear();
    let mut de = serde_json::Deserializer::from_reader(reader);
    let value = serde_path_to_error::deserialize::<_, T>(&mut de).map_err(|e| located(Some(e)))?;
    de.end().map_err(|e| Error::InvalidJson {
        path: ".".into(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// Converts an already parsed JSON value into `T`, with the same typed errors as `from_json`.
pub fn from_value<T: DeserializeOwned>(value: &serde_json::Value) -> Result<T> {
    clear();
    if let Ok(v) = T::deserialize(value) {
        return Ok(v);
    }
    clear();
    Err(located(
        serde_path_to_error::deserialize::<_, T>(value).err(),
    ))
}

/// Deserializes from any serde deserializer (the bindings pass JS or Python values), tracking
/// the path as it goes: callers on a hot path should prefer `from_json`.
pub fn from_deserializer<'de, D, T>(deserializer: D) -> Result<T>
where
    D: Deserializer<'de>,
    T: de::Deserialize<'de>,
{
    clear();
    serde_path_to_error::deserialize(deserializer).map_err(|e| located(Some(e)))
}

fn clear() {
    CAUSE.with(|c| c.borrow_mut().take());
    INNER.with(|p| p.borrow_mut().clear());
}

/// Deserializes an internally tagged document (`{"op": "deleteImage", "image": …}`) through
/// `W`, its externally tagged twin, so that a failure inside keeps its path (serde's own
/// internally tagged enums buffer their content and lose it).
pub(crate) fn tagged<'de, W, D>(deserializer: D, tag: &str) -> Result<W, D::Error>
where
    W: DeserializeOwned,
    D: Deserializer<'de>,
{
    use serde::de::Error as _;
    let mut map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    let kind = match map.remove(tag) {
        Some(serde_json::Value::String(kind)) => kind,
        Some(other) => {
            INNER.with(|p| p.borrow_mut().push(tag.to_owned()));
            return Err(D::Error::custom(format_args!(
                "{tag} must be a string, not {other}"
            )));
        }
        None => return Err(D::Error::missing_field("op")),
    };
    let mut outer = serde_json::Map::new();
    outer.insert(kind, serde_json::Value::Object(map));
    let doc = serde_json::Value::Object(outer);
    serde_path_to_error::deserialize::<_, W>(&doc).map_err(|e| {
        // The twin's path starts with the variant name; the user wrote it as the tag.
        let path = e.path().to_string();
        let inner = match path.split_once('.') {
            Some((_, rest)) => rest.to_owned(),
            None => tag.to_owned(),
        };
        INNER.with(|p| p.borrow_mut().push(inner));
        D::Error::custom(e.into_inner())
    })
}

fn located<E: fmt::Display>(err: Option<serde_path_to_error::Error<E>>) -> Error {
    let cause = CAUSE.with(|c| c.borrow_mut().take());
    let Some(err) = err else {
        // The first parse failed and the second did not: only possible if the input changed
        // between the two, which it cannot; report rather than panic.
        return Error::InvalidJson {
            path: ".".into(),
            message: "the document could not be parsed".into(),
        };
    };
    let mut path = err.path().to_string();
    for inner in INNER
        .with(|p| std::mem::take(&mut *p.borrow_mut()))
        .into_iter()
        .rev()
    {
        path = if path == "." {
            inner
        } else {
            format!("{path}.{inner}")
        };
    }
    match cause {
        Some((kind, value)) => kind.error(path, value),
        None => Error::InvalidJson {
            path,
            message: err.inner().to_string(),
        },
    }
}
