//! The plan's JSON, written straight into bytes.
//!
//! A large plan holds hundreds of thousands of actions, and `serde_json`'s serializer spent
//! most of the seal and of `to_json` in its per-field machinery (a key escaped, a separator
//! and a value written through a trait object for every field). This writer is the plan's one
//! serializer: the seal hashes what it writes, `Plan::to_json` is what it writes, and `Plan`'s
//! `Serialize` hands its JSON on to any other serializer (JavaScript objects, a user's
//! `serde_json::to_value`). The per-item bulk (actions and retained items) is written by hand,
//! everything else through `serde_json`; tests check that every operation's plan, and strings
//! that need escaping, read back (the derived `Deserialize`) as the same plan.

use std::sync::Arc;

use serde::Serialize;

use crate::digest::Digest;
use crate::names::{RepositoryName, TagName};
use crate::par::Sink;
use crate::plan::{Action, Plan, Reason, Retained};

/// Writes the plan as JSON: its canonical form (no `digest` member) unless `with_digest`,
/// then the digest, when there is one, as the last member. Equal to `serde_json`'s output for
/// `Plan` (with the digest) or the plan without its digest (without).
pub(crate) fn write_plan(p: &Plan, with_digest: bool, out: &mut impl Sink) {
    let mut w = Writer::default();
    let b = out.bytes();
    b.extend_from_slice(b"{\"version\":");
    serde_into(b, &p.version);
    if let Some(registry) = &p.registry {
        b.extend_from_slice(b",\"registry\":");
        string(b, registry);
    }
    b.extend_from_slice(b",\"operation\":");
    serde_into(b, &p.operation);
    b.extend_from_slice(b",\"now\":");
    serde_into(b, &p.now);
    if !p.pinned.is_empty() {
        b.extend_from_slice(b",\"pinned\":");
        serde_into(b, &p.pinned);
    }
    b.extend_from_slice(b",\"actions\":[");
    for (i, a) in p.actions.iter().enumerate() {
        let b = out.bytes();
        if i > 0 {
            b.push(b',');
        }
        w.action(b, a);
        out.item_done();
    }
    out.bytes().extend_from_slice(b"],\"retained\":[");
    for (i, r) in p.retained.iter().enumerate() {
        let b = out.bytes();
        if i > 0 {
            b.push(b',');
        }
        w.retained(b, r);
        out.item_done();
    }
    let b = out.bytes();
    b.extend_from_slice(b"],\"reclaim\":");
    serde_into(b, &p.reclaim);
    b.extend_from_slice(b",\"warnings\":");
    serde_into(b, &p.warnings);
    if let Some(digest) = p.digest.as_ref().filter(|_| with_digest) {
        b.extend_from_slice(b",\"digest\":");
        self::digest(b, digest);
    }
    b.push(b'}');
    out.item_done();
}

/// What the items of one plan repeat: the names of the enum values met so far, and the last
/// reason sentence, which a rule shares with every item it decides.
#[derive(Default)]
struct Writer {
    names: Names,
    last_message: Option<(Arc<str>, Box<[u8]>)>,
}

/// An enum value of a plan item whose JSON is a fixed string.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Key {
    Action(crate::plan::ActionType),
    Reason(crate::plan::ReasonCode),
}

/// The names serde gives the enum values of plan items (so they are the derive's), each asked
/// of serde once: a plan repeats a handful of them over all its items.
#[derive(Default)]
pub(crate) struct Names(Vec<(Key, Arc<str>)>);

impl Names {
    pub(crate) fn of(&mut self, key: Key) -> &Arc<str> {
        if let Some(at) = self.0.iter().position(|(k, _)| *k == key) {
            return &self.0[at].1;
        }
        let value = match key {
            Key::Action(a) => serde_json::to_value(a),
            Key::Reason(r) => serde_json::to_value(r),
        };
        let Ok(serde_json::Value::String(name)) = value else {
            unreachable!("plan enums serialize as strings")
        };
        self.0.push((key, name.into()));
        &self.0[self.0.len() - 1].1
    }
}

impl Writer {
    fn action(&mut self, b: &mut Vec<u8>, a: &Action) {
        b.extend_from_slice(b"{\"type\":");
        self.name(b, Key::Action(a.kind));
        b.push(b',');
        target(b, &a.repository, a.digest.as_ref(), a.tag.as_ref());
        if let Some(m) = &a.media_type {
            b.extend_from_slice(b",\"mediaType\":");
            string(b, m.as_str());
        }
        b.extend_from_slice(b",\"tags\":");
        array(b, &a.tags, |b, t| string(b, t.as_str()));
        if !a.manifests.is_empty() {
            b.extend_from_slice(b",\"manifests\":");
            array(b, &a.manifests, digest);
        }
        b.extend_from_slice(b",\"reason\":");
        self.reason(b, &a.reason);
        if let Some(d) = &a.cascade_of {
            b.extend_from_slice(b",\"cascadeOf\":");
            digest(b, d);
        }
        if a.unlock {
            b.extend_from_slice(b",\"unlock\":true");
        }
        b.push(b'}');
    }

    fn retained(&mut self, b: &mut Vec<u8>, r: &Retained) {
        b.push(b'{');
        target(b, &r.repository, r.digest.as_ref(), r.tag.as_ref());
        if !r.tags.is_empty() {
            b.extend_from_slice(b",\"tags\":");
            array(b, &r.tags, |b, t| string(b, t.as_str()));
        }
        b.extend_from_slice(b",\"reason\":");
        self.reason(b, &r.reason);
        b.push(b'}');
    }

    fn reason(&mut self, b: &mut Vec<u8>, r: &Reason) {
        b.extend_from_slice(b"{\"code\":");
        self.name(b, Key::Reason(r.code));
        b.extend_from_slice(b",\"message\":");
        match &self.last_message {
            Some((m, text)) if Arc::ptr_eq(m, &r.message) => b.extend_from_slice(text),
            _ => {
                let start = b.len();
                string(b, &r.message);
                self.last_message = Some((r.message.clone(), b[start..].into()));
            }
        }
        if let Some(rule) = &r.rule {
            b.extend_from_slice(b",\"rule\":");
            string(b, rule);
        }
        b.push(b'}');
    }

    /// An enum value, as serde writes it (its camelCase name needs no escaping).
    fn name(&mut self, b: &mut Vec<u8>, key: Key) {
        b.push(b'"');
        b.extend_from_slice(self.names.of(key).as_bytes());
        b.push(b'"');
    }
}

/// The members naming what an action or a retained item is about: `repository`, then
/// `digest` and `tag` when present.
fn target(b: &mut Vec<u8>, repository: &RepositoryName, d: Option<&Digest>, tag: Option<&TagName>) {
    b.extend_from_slice(b"\"repository\":");
    string(b, repository.as_str());
    if let Some(d) = d {
        b.extend_from_slice(b",\"digest\":");
        digest(b, d);
    }
    if let Some(t) = tag {
        b.extend_from_slice(b",\"tag\":");
        string(b, t.as_str());
    }
}

/// A JSON array of `items`, each written by `each`.
fn array<T>(b: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
    b.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            b.push(b',');
        }
        each(b, item);
    }
    b.push(b']');
}

fn digest(b: &mut Vec<u8>, d: &Digest) {
    b.push(b'"');
    d.write_text(b);
    b.push(b'"');
}

/// A JSON string, escaped as `serde_json` escapes it (`\"`, `\\`, the short forms of
/// backspace, form feed, newline, carriage return and tab, `\u00XX` for other control
/// characters). Most strings (names, tags, digests) need none and are copied whole; in the
/// others, the runs between escapes are.
fn string(b: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    b.reserve(bytes.len() + 2);
    b.push(b'"');
    if bytes.iter().all(|&c| c >= 0x20 && c != b'"' && c != b'\\') {
        b.extend_from_slice(bytes);
        b.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let short: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        b.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        if short.is_empty() {
            b.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 15)],
            ]);
        } else {
            b.extend_from_slice(short);
        }
    }
    b.extend_from_slice(&bytes[start..]);
    b.push(b'"');
}

fn serde_into(b: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) {
    serde_json::to_writer(b, value).expect("plan values serialize to JSON");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{planned, registry};
    use crate::plan::{ActionType, ReasonCode};
    use crate::{plan, Operation};

    fn written(p: &Plan, with_digest: bool) -> Vec<u8> {
        let mut out = Vec::new();
        write_plan(p, with_digest, &mut out);
        out
    }

    /// The writer is the plan's only serializer: what it writes must read back as the same
    /// plan (the derived `Deserialize` agrees with it), and the canonical form is the plan
    /// without its digest.
    fn assert_same_as_serde(p: &Plan) {
        let sealed = written(p, true);
        assert_eq!(&Plan::from_json(&sealed).unwrap(), p);
        let mut unsealed = p.clone();
        unsealed.digest = None;
        assert_eq!(written(p, false), written(&unsealed, true));
        assert_eq!(&Plan::from_json(&written(p, false)).unwrap(), &unsealed);
        // Serialize hands the writer's JSON on: the same document through any serializer.
        assert_eq!(serde_json::to_vec(p).unwrap(), sealed);
    }

    #[test]
    fn writes_what_serde_writes_for_every_operation() {
        let (s, now) = registry(11, 600);
        for op in [
            r#"{"op": "deleteUntagged"}"#,
            r#"{"op": "purge", "filter": [".*:.*"], "ago": "30d", "untagged": true}"#,
            r#"{"op": "acrPurge", "filter": [".*:v.*"], "ago": "1d", "keep": 2, "untagged": true}"#,
            r#"{"op": "deleteRepository", "repository": "team0/service-0"}"#,
            r#"{"op": "policy", "policy": {"rules": [
                {"name": "keep", "action": "keep", "tags": ["v1"]},
                {"name": "old", "action": "delete", "tagState": "any", "olderThan": "90d", "keepMostRecent": 3}
            ]}}"#,
        ] {
            let op = Operation::from_json(op.as_bytes()).unwrap();
            let mut p = plan(&s, &op, &now).unwrap();
            assert!(!p.actions.is_empty(), "{op:?} plans nothing");
            assert_same_as_serde(&p);
            p.registry = Some("r.io".into());
            p.digest = None;
            assert_same_as_serde(&p);
        }
    }

    #[test]
    fn escapes_what_serde_escapes() {
        let mut p = planned(3, 50, r#"{"op": "deleteUntagged"}"#);
        // Each class of character on its own, so a fast path that lets one through shows.
        let shared: Arc<str> = "a \"quoted\" rule".into();
        let messages: Vec<Arc<str>> = vec![
            shared.clone(),
            shared.clone(),
            "plain".into(),
            "back\\slash".into(),
            "new\nline".into(),
            "tab\t".into(),
            "control \u{1} \u{1f}".into(),
            (0u8..0x20)
                .map(char::from)
                .chain("\"\\x\"\\".chars())
                .collect::<String>()
                .into(),
            "\u{7f} é ✓ \u{2028}".into(),
            shared,
        ];
        let template = p.actions[0].clone();
        p.actions.clear();
        for (i, message) in messages.into_iter().enumerate() {
            let mut a = template.clone();
            a.kind = [ActionType::Untag, ActionType::DeleteRepository][i % 2];
            a.reason = Reason {
                code: [ReasonCode::Keep, ReasonCode::Untagged][i % 2],
                message,
                rule: Some("r\"1".into()),
            };
            a.unlock = i == 1;
            a.cascade_of = a.digest.clone();
            a.manifests = a.digest.iter().cloned().collect();
            p.actions.push(a);
        }
        p.registry = Some("odd \"registry\"\u{0}".into());
        assert_same_as_serde(&p);
    }
}
