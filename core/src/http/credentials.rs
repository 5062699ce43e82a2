//! Where a registry's credentials come from, decided once for both adapters: the registry URL
//! (`user:pass@host`), the `--username`/`--password` flags, `REGPRUNE_USERNAME` and
//! `REGPRUNE_PASSWORD`, and Docker's `config.json` (`credHelpers`, `auths` with `auth` or the
//! `identitytoken` that `az acr login` stores, then `credsStore`).
//!
//! Sans-IO like the conversations: a [`CredentialLookup`] says what it needs next
//! ([`CredentialStep`]: read a file, run `docker-credential-<name> get`), the adapter does it
//! and hands back the bytes, until the lookup ends with credentials or with the list of places
//! it looked (for the error a registry's 401 then gets).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The username that marks the password as an ACR refresh token (`az acr login
/// --expose-token`, or an `identitytoken` in Docker's config): exchanged at the token service
/// with `grant_type=refresh_token` instead of sent as basic credentials.
pub const ACR_REFRESH_USER: &str = "00000000-0000-0000-0000-000000000000";

/// The environment variables a lookup reads; adapters pass these (and only these) in.
pub const CREDENTIAL_ENV: &[&str] = &[
    "REGPRUNE_USERNAME",
    "REGPRUNE_PASSWORD",
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "DOCKER_CONFIG",
    "HOME",
    "USERPROFILE",
];

/// A username and password (or token), and where they were found. `Debug` never shows the
/// password.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The username (`ACR_REFRESH_USER` for an ACR refresh token).
    pub username: String,
    /// The password or token.
    pub password: String,
    /// Where they came from, for messages (`--username/--password`, a file, a helper).
    #[serde(default)]
    pub source: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// What a lookup starts from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CredentialQuery {
    /// The registry as the core names it: `host[:port]`.
    pub registry: String,
    /// `--username`.
    #[serde(default)]
    pub username: Option<String>,
    /// `--password`.
    #[serde(default)]
    pub password: Option<String>,
    /// The user name written in the registry URL.
    #[serde(default)]
    pub url_username: Option<String>,
    /// The password written in the registry URL.
    #[serde(default)]
    pub url_password: Option<String>,
    /// The variables of [`CREDENTIAL_ENV`] that are set.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// The registry is GitHub's (ghcr.io is always; a GitHub Enterprise Server host when the
    /// GHCR flavour is chosen): `GITHUB_TOKEN` and `GH_TOKEN` count.
    #[serde(default)]
    pub github: bool,
}

/// What a lookup needs next, or how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "step",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum CredentialStep {
    /// Read this file and hand its bytes to [`CredentialLookup::file`] (`None` if it does not
    /// exist or cannot be read).
    ReadFile {
        /// The path.
        path: String,
    },
    /// Run `program get` with `input` on its standard input and hand its exit status and
    /// standard output to [`CredentialLookup::helper`].
    RunHelper {
        /// `docker-credential-<name>` (the name is checked: letters, digits, `-`, `_`, `.`).
        program: String,
        /// The server address, written to the helper's standard input.
        input: String,
    },
    /// Credentials were found.
    Found {
        /// The credentials.
        credentials: Credentials,
    },
    /// None were found: go on anonymously; `looked` says where the lookup looked.
    Anonymous {
        /// Each place, with what was (not) there.
        looked: Vec<String>,
    },
}

/// A credential lookup in progress.
#[derive(Debug)]
pub struct CredentialLookup {
    query: CredentialQuery,
    step: CredentialStep,
    looked: Vec<String>,
    config_path: String,
}

impl CredentialLookup {
    /// Starts a lookup. Credentials given both in the URL and as flags are refused (give them
    /// once).
    pub fn new(query: CredentialQuery) -> Result<CredentialLookup> {
        let url_given = query.url_username.is_some() || query.url_password.is_some();
        let flags_given = query.username.as_deref().is_some_and(|u| !u.is_empty())
            || query.password.as_deref().is_some_and(|p| !p.is_empty());
        if url_given && flags_given {
            return Err(Error::InvalidOperation {
                path: "registry".into(),
                message: "credentials are given both in the URL and separately; give them once"
                    .into(),
            });
        }
        let env = |name: &str| query.env.get(name).filter(|v| !v.is_empty()).cloned();
        let dir = env("DOCKER_CONFIG").or_else(|| {
            env("HOME")
                .or_else(|| env("USERPROFILE"))
                .map(|h| format!("{}/.docker", h.trim_end_matches(['/', '\\'])))
        });
        let config_path = dir.map_or_else(String::new, |d| {
            format!("{}/config.json", d.trim_end_matches(['/', '\\']))
        });
        let mut lookup = CredentialLookup {
            step: CredentialStep::Anonymous { looked: Vec::new() },
            looked: Vec::new(),
            config_path,
            query,
        };
        lookup.start();
        Ok(lookup)
    }

    fn found(&mut self, username: String, password: String, source: &str) {
        self.step = CredentialStep::Found {
            credentials: Credentials {
                username,
                password,
                source: source.to_owned(),
            },
        };
    }

    fn anonymous(&mut self) {
        self.step = CredentialStep::Anonymous {
            looked: std::mem::take(&mut self.looked),
        };
    }

    fn start(&mut self) {
        let q = &self.query;
        if q.url_username.is_some() || q.url_password.is_some() {
            let (u, p) = (
                q.url_username.clone().unwrap_or_default(),
                q.url_password.clone().unwrap_or_default(),
            );
            return self.found(u, p, "the registry URL");
        }
        let env = |name: &str| q.env.get(name).filter(|v| !v.is_empty()).cloned();
        let flag_user = q.username.clone().filter(|u| !u.is_empty());
        let flag_pass = q.password.clone().filter(|p| !p.is_empty());
        if flag_user.is_some() || flag_pass.is_some() {
            // A flag for one half, the environment for the other (a password kept out of argv).
            let user = flag_user
                .or_else(|| env("REGPRUNE_USERNAME"))
                .unwrap_or_default();
            let pass = flag_pass
                .or_else(|| env("REGPRUNE_PASSWORD"))
                .unwrap_or_default();
            return self.found(user, pass, "--username/--password");
        }
        self.looked.push("--username/--password: not given".into());
        let (user, pass) = (env("REGPRUNE_USERNAME"), env("REGPRUNE_PASSWORD"));
        if user.is_some() || pass.is_some() {
            return self.found(
                user.unwrap_or_default(),
                pass.unwrap_or_default(),
                "REGPRUNE_USERNAME/REGPRUNE_PASSWORD",
            );
        }
        self.looked
            .push("REGPRUNE_USERNAME/REGPRUNE_PASSWORD: not set".into());
        if q.github || q.registry.eq_ignore_ascii_case("ghcr.io") {
            for name in ["GITHUB_TOKEN", "GH_TOKEN"] {
                if let Some(token) = env(name) {
                    // ghcr.io's token service takes any user name with the token.
                    return self.found("token".into(), token, name);
                }
            }
            self.looked.push("GITHUB_TOKEN, GH_TOKEN: not set".into());
        }
        if self.config_path.is_empty() {
            self.looked
                .push("Docker's config.json: neither DOCKER_CONFIG nor HOME is set".into());
            return self.anonymous();
        }
        self.step = CredentialStep::ReadFile {
            path: self.config_path.clone(),
        };
    }

    /// What to do next, or the result.
    pub fn step(&self) -> &CredentialStep {
        &self.step
    }

    /// The keys Docker's config may file this registry under.
    fn keys(&self) -> Vec<String> {
        let r = &self.query.registry;
        let mut keys = vec![r.clone(), format!("https://{r}"), format!("http://{r}")];
        if matches!(
            r.as_str(),
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        ) {
            keys.insert(0, "https://index.docker.io/v1/".into());
        }
        keys
    }

    /// Hands over the bytes of the file asked for (`None`: it does not exist or is unreadable).
    pub fn file(&mut self, contents: Option<&[u8]>) -> Result<()> {
        let CredentialStep::ReadFile { path } = &self.step else {
            return Err(misuse("no file was asked for"));
        };
        let path = path.clone();
        let Some(bytes) = contents else {
            self.looked.push(format!("{path}: no such file"));
            self.anonymous();
            return Ok(());
        };
        let config: DockerConfig =
            serde_json::from_slice(bytes).map_err(|e| Error::InvalidJson {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let keys = self.keys();
        // Docker's order: a helper for this registry, then the file's own entry, then the
        // store that holds every credential.
        let helper = keys
            .iter()
            .find_map(|k| config.cred_helpers.get(k).cloned());
        if let Some(name) = helper {
            return self.run_helper(&name, &path);
        }
        for key in &keys {
            let Some(entry) = config.auths.get(key) else {
                continue;
            };
            let source = format!("{path} (auths)");
            if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
                self.found(ACR_REFRESH_USER.into(), token.to_owned(), &source);
                return Ok(());
            }
            if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
                let (u, p) = decode_basic(auth).ok_or_else(|| Error::InvalidJson {
                    path: format!("{path}: auths.{key}.auth"),
                    message: "not base64 of `user:password`".into(),
                })?;
                self.found(u, p, &source);
                return Ok(());
            }
            if entry.username.is_some() || entry.password.is_some() {
                let (u, p) = (entry.username.clone(), entry.password.clone());
                self.found(u.unwrap_or_default(), p.unwrap_or_default(), &source);
                return Ok(());
            }
        }
        if let Some(store) = config.creds_store.filter(|s| !s.is_empty()) {
            return self.run_helper(&store, &path);
        }
        self.looked
            .push(format!("{path}: no entry for {}", self.query.registry));
        self.anonymous();
        Ok(())
    }

    fn run_helper(&mut self, name: &str, path: &str) -> Result<()> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            || name.starts_with('.')
        {
            return Err(Error::InvalidJson {
                path: path.to_owned(),
                message: format!("{name:?} is not a credential helper name"),
            });
        }
        let input = self
            .keys()
            .into_iter()
            .next()
            .unwrap_or_else(|| self.query.registry.clone());
        self.step = CredentialStep::RunHelper {
            program: format!("docker-credential-{name}"),
            input,
        };
        Ok(())
    }

    /// Hands over what the helper did: whether it exited 0 (`false` also when it could not be
    /// started) and its standard output (`{"Username": …, "Secret": …}`).
    pub fn helper(&mut self, succeeded: bool, stdout: &[u8]) -> Result<()> {
        let CredentialStep::RunHelper { program, .. } = &self.step else {
            return Err(misuse("no helper was asked for"));
        };
        let program = program.clone();
        if !succeeded {
            // Helpers exit non-zero for "credentials not found"; their message is not echoed
            // (a broken helper may print anything).
            self.looked.push(format!(
                "{program}: no entry for {} (or it could not run)",
                self.query.registry
            ));
            self.anonymous();
            return Ok(());
        }
        let out: HelperOutput = serde_json::from_slice(stdout).map_err(|_| Error::InvalidJson {
            path: program.clone(),
            message: "the credential helper's output is not {\"Username\", \"Secret\"} JSON".into(),
        })?;
        // `<token>` is how helpers store an identity token (`az acr login`).
        let user = if out.username == "<token>" {
            ACR_REFRESH_USER.to_owned()
        } else {
            out.username
        };
        self.found(user, out.secret, &program);
        Ok(())
    }
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperOutput {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

fn misuse(message: &str) -> Error {
    Error::InvalidOperation {
        path: "credentials".into(),
        message: message.into(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
}

/// `user:password` from Docker's base64 `auth` (UTF-8: passwords may be any text).
fn decode_basic(auth: &str) -> Option<(String, String)> {
    let bytes = base64_decode(auth.trim())?;
    let text = String::from_utf8(bytes).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding (RFC 4648 s4), for `Authorization: Basic`.
pub(crate) fn base64_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `Basic <base64(user:password)>` (RFC 7617), UTF-8 as registries expect.
pub(crate) fn basic_header(c: &Credentials) -> String {
    format!(
        "Basic {}",
        base64_encode(format!("{}:{}", c.username, c.password).as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(env: &[(&str, &str)]) -> CredentialQuery {
        CredentialQuery {
            registry: "reg.example:5000".into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            ..CredentialQuery::default()
        }
    }

    #[test]
    fn base64_round_trips_any_utf8_password() {
        for text in ["", "a", "ab", "abc", "user:pässwörd-✓", "x:\u{1F512}"] {
            let enc = base64_encode(text.as_bytes());
            assert_eq!(base64_decode(&enc).unwrap(), text.as_bytes(), "{text}");
        }
        assert_eq!(base64_encode(b"admin:s3cret"), "YWRtaW46czNjcmV0");
    }

    #[test]
    fn flags_then_environment_then_docker_config() {
        let mut q = query(&[("REGPRUNE_PASSWORD", "envpass"), ("HOME", "/h")]);
        q.username = Some("me".into());
        let l = CredentialLookup::new(q).unwrap();
        let CredentialStep::Found { credentials } = l.step() else {
            panic!("{:?}", l.step())
        };
        assert_eq!(
            (credentials.username.as_str(), credentials.password.as_str()),
            ("me", "envpass")
        );
        let l = CredentialLookup::new(query(&[("HOME", "/h/")])).unwrap();
        assert_eq!(
            l.step(),
            &CredentialStep::ReadFile {
                path: "/h/.docker/config.json".into()
            }
        );
    }

    #[test]
    fn helpers_come_before_auths_and_the_store_after() {
        let config = br#"{"auths": {"reg.example:5000": {"auth": "dTpw"}, "other": {}},
            "credsStore": "desktop", "credHelpers": {"reg.example:5000": "acr-env"}}"#;
        let mut l = CredentialLookup::new(query(&[("DOCKER_CONFIG", "/c")])).unwrap();
        l.file(Some(config)).unwrap();
        assert_eq!(
            l.step(),
            &CredentialStep::RunHelper {
                program: "docker-credential-acr-env".into(),
                input: "reg.example:5000".into()
            }
        );
        l.helper(true, br#"{"Username": "<token>", "Secret": "refresh"}"#)
            .unwrap();
        let CredentialStep::Found { credentials } = l.step() else {
            panic!()
        };
        assert_eq!(credentials.username, ACR_REFRESH_USER);
        assert!(!format!("{credentials:?}").contains("refresh"));
    }

    #[test]
    fn nothing_found_lists_every_place_looked() {
        let mut l = CredentialLookup::new(query(&[("DOCKER_CONFIG", "/c")])).unwrap();
        l.file(Some(br#"{"credsStore": "pass"}"#)).unwrap();
        l.helper(false, b"credentials not found").unwrap();
        let CredentialStep::Anonymous { looked } = l.step() else {
            panic!()
        };
        assert_eq!(looked.len(), 3, "{looked:?}");
        assert!(looked[2].starts_with("docker-credential-pass: no entry"));
    }

    #[test]
    fn a_helper_name_cannot_name_a_path() {
        let mut l = CredentialLookup::new(query(&[("DOCKER_CONFIG", "/c")])).unwrap();
        let e = l
            .file(Some(br#"{"credsStore": "../../bin/sh"}"#))
            .unwrap_err();
        assert_eq!(e.code(), "invalid_json");
    }
}
