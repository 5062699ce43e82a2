//! Building a snapshot from a live registry: any OCI Distribution registry, or Azure
//! Container Registry through its `/acr/v1` listings (timestamps, locks, untagged manifests).
//!
//! OCI Distribution:
//! Catalog (paginated) → each repository's tag list (paginated) → `HEAD` each tag for its
//! digest → one `GET` per distinct manifest digest (registry-wide: a manifest stored in two
//! repositories is fetched once) → index children → the image config blob for `created`,
//! since the Distribution API has no timestamps → the referrers API where the registry has
//! one (the `sha256-<hex>` tag fallback is in the tag list already). ACR: `/acr/v1/_catalog`,
//! each repository's `_tags` and `_manifests` listings (paginated), then one `GET` per distinct
//! manifest digest for its content. The flavour is detected (`GET /acr/v1/_catalog`) unless
//! forced. Every manifest's digest is verified against its bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::{
    backoff, next_link, retryable, status_text, Method, Request, Response, MANIFEST_ACCEPT,
};
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::import::parse_manifest;
use crate::media_type::MediaType;
use crate::names::{RepositoryName, TagName};
use crate::snapshot::{Manifest, Repository, Snapshot, Tag};
use crate::time::Timestamp;

/// Which API a registry speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Flavour {
    /// Ask the registry (`GET /acr/v1/_catalog`): ACR if it answers, OCI otherwise.
    #[default]
    Auto,
    /// The OCI Distribution API only.
    Oci,
    /// Azure Container Registry's data-plane API.
    Acr,
    /// GitHub Container Registry: packages and versions from the GitHub REST API, manifests
    /// from the registry (chosen for `ghcr.io`; name it for GitHub Enterprise Server).
    Ghcr,
    /// Docker Hub: repositories and tags (digests, push times) from Hub's API, manifests from
    /// the registry (chosen for `registry-1.docker.io` and `docker.io`).
    #[serde(alias = "dockerhub")]
    DockerHub,
}

/// What to crawl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CrawlOptions {
    /// The registry's `host[:port]`, for the snapshot and to keep pagination on this host.
    pub registry: String,
    /// Only these repositories (the catalog is not read); empty: every repository.
    #[serde(default)]
    pub repositories: Vec<RepositoryName>,
    /// Page size asked of the catalog (the registry caps it).
    #[serde(default = "default_page")]
    pub page_size: u32,
    /// Read each image config for its `created` time (the API has no timestamps).
    #[serde(default = "yes")]
    pub fetch_configs: bool,
    /// Attempts per request before the crawl fails (throttling, 5xx, resets).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// The registry's API, or `auto` to detect it.
    #[serde(default)]
    pub flavour: Flavour,
    /// Hand out each manifest's exact bytes with [`Crawl::take_manifests`], so that an
    /// execution can journal them without fetching them again.
    #[serde(default)]
    pub keep_manifests: bool,
    /// Pages one listing may take: past it the crawl stops with an error instead of paging
    /// forever (a registry whose `Link` keeps producing new cursors).
    #[serde(default = "default_max_pages")]
    pub max_pages: u32,
    /// Children one index may list: each costs a `GET`, and an index of hundreds of thousands
    /// would keep a crawl busy for half an hour. Past it the crawl stops with
    /// `limit_exceeded` naming the index; raise it on purpose for such a registry.
    #[serde(default = "default_max_index_children")]
    pub max_index_children: u32,
    /// GHCR: the user or organisation whose container packages stand in for the catalog
    /// (with `repositories`, their first path segment when not given).
    #[serde(default)]
    pub owner: Option<String>,
    /// GHCR: the GitHub REST API's base URL (`https://api.github.com` for ghcr.io,
    /// `https://HOST/api/v3` for GitHub Enterprise Server).
    #[serde(default)]
    pub github_api: Option<String>,
    /// Docker Hub: its API's base URL (`https://hub.docker.com`).
    #[serde(default)]
    pub hub_api: Option<String>,
    /// Read only the manifests that decide this plan (ACR; elsewhere every manifest is
    /// read): indexes (their children) and, among the manifests the plan deletes, those whose
    /// media type may carry a `subject` (a referrer of a surviving image must stay), as `acr
    /// purge` does. The others stay unread: their layers are unknown, so reclaimable bytes
    /// become an upper bound and the plan says so. The crawl plans, fetches what the plan
    /// needs, and plans again until nothing more is needed.
    #[serde(default)]
    pub decide: Option<Decide>,
}

/// The plan a crawl reads for ([`CrawlOptions::decide`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decide {
    /// The operation the plan will be made of.
    pub operation: crate::Operation,
    /// The time the plan is made for.
    pub now: crate::Timestamp,
    /// Digests that must survive.
    #[serde(default)]
    pub pinned: Vec<Digest>,
}

fn default_max_pages() -> u32 {
    10_000
}

fn default_max_index_children() -> u32 {
    10_000
}

/// A manifest's exact bytes, as the registry served them (checked against the digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptManifest {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: Option<String>,
    /// The bytes.
    pub bytes: Vec<u8>,
}

fn default_page() -> u32 {
    1000
}
fn yes() -> bool {
    true
}
fn default_attempts() -> u32 {
    6
}

/// Counters for progress bars and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CrawlProgress {
    /// Requests handed out.
    pub requests: u64,
    /// Responses handled.
    pub responses: u64,
    /// Requests repeated after throttling or a failure.
    pub retries: u64,
    /// `GET`s of manifest bodies.
    pub manifest_gets: u64,
    /// Repositories found.
    pub repositories: u64,
    /// Manifests taken from saved bytes instead of fetched.
    pub cached: u64,
    /// Saved bytes refused because they do not hash to their digest (fetched instead).
    pub rejected: u64,
    /// Image configs taken from saved bytes instead of fetched (OCI: their `created` time).
    pub configs_cached: u64,
    /// Listings are still being read: `needed` may grow.
    pub listing: bool,
    /// Distinct manifests whose content the crawl needs, so far (the total once `listing`
    /// is false; an index's children add to it when it is read).
    pub needed: u64,
    /// Of those, the ones whose content is in (fetched or taken from saved bytes).
    pub resolved: u64,
}

impl CrawlProgress {
    /// One line for a terminal: the listing while it lasts, then the manifests to fetch,
    /// fetched and reused, against the known total.
    pub fn line(&self) -> String {
        if self.listing {
            return format!(
                "crawl: listing ({} requests, {} repositories, {} manifests so far)",
                self.responses, self.repositories, self.needed
            );
        }
        format!(
            "crawl: manifests {}/{} ({} fetched, {} reused, {} to fetch)",
            self.resolved,
            self.needed,
            self.resolved.saturating_sub(self.cached),
            self.cached,
            self.needed.saturating_sub(self.resolved)
        )
    }
}

#[derive(Debug, Clone)]
enum Job {
    Detect,
    AcrCatalog(String),
    AcrTags(RepositoryName, String),
    AcrManifests(RepositoryName, String),
    Catalog(String),
    Tags(RepositoryName, String),
    HeadTag(RepositoryName, TagName),
    ManifestByTag(RepositoryName, TagName),
    Manifest(RepositoryName, Digest),
    Config(RepositoryName, Digest),
    Referrers(RepositoryName, Digest),
    /// GHCR: `GET /users/{owner}` (a user or an organisation?).
    GhOwner,
    /// GHCR: `GET /user` (is the owner the token's own user?).
    GhUser,
    /// GHCR: a page of the owner's container packages.
    GhPackages(u32),
    /// GHCR: one package, by name.
    GhPackage(String),
    /// GHCR: a page of a package's versions.
    GhVersions(RepositoryName, u32),
    /// Docker Hub: a page of a namespace's repositories (an absolute URL).
    HubRepos(String),
    /// Docker Hub: a page of a repository's tags (an absolute URL).
    HubTags(RepositoryName, String),
}

impl Job {
    /// A listing (catalog, tags, an ACR or Hub listing, a package's versions, a tag's `HEAD`):
    /// what tells the crawl which manifests there are.
    fn is_listing(&self) -> bool {
        !matches!(
            self,
            Job::Manifest(..) | Job::ManifestByTag(..) | Job::Config(..) | Job::Referrers(..)
        )
    }
}

/// What a GHCR crawl learns from the REST API.
#[derive(Default)]
struct GhState {
    /// The API's base URL, without a trailing `/`.
    api: String,
    owner: String,
    /// `/orgs/{owner}`, `/users/{owner}` or `/user`, once known.
    owner_path: String,
    /// Package names asked for (`repositories` without the owner), empty for all.
    wanted: Vec<String>,
    /// Each repository's package name and visibility.
    packages: BTreeMap<RepositoryName, (String, Option<crate::snapshot::Visibility>)>,
    versions: BTreeMap<RepositoryName, Vec<super::ghcr::Version>>,
}

#[derive(Debug, Clone)]
struct Pending {
    job: Job,
    attempt: u32,
    not_before: f64,
}

#[derive(Default)]
struct RepoState {
    tags: BTreeMap<TagName, Digest>,
    digests: BTreeSet<Digest>,
    /// Tags its tag list named so far (a page that names only these adds nothing).
    listed: HashSet<TagName>,
}

/// A crawl in progress. See the module documentation for what it asks.
pub struct Crawl {
    opts: CrawlOptions,
    next_id: u64,
    queue: VecDeque<Pending>,
    in_flight: HashMap<u64, Pending>,
    repos: BTreeMap<RepositoryName, RepoState>,
    contents: HashMap<Digest, Manifest>,
    fetching: HashSet<Digest>,
    waiting: HashMap<Digest, Vec<RepositoryName>>,
    created: HashMap<Digest, Option<Timestamp>>,
    referrers_api: Option<bool>,
    asked_referrers: HashSet<(RepositoryName, Digest)>,
    progress: CrawlProgress,
    /// The flavour in use, once known.
    flavour: Flavour,
    /// ACR listing bodies, in the order received (the ACR importer reads them).
    acr_bodies: Vec<serde_json::Value>,
    /// Every page a `Link` header sent the crawl to: a page named twice is a loop.
    pages: HashSet<String>,
    /// Pages read per listing (the catalog, each repository's tags or manifests).
    listing_pages: HashMap<String, u32>,
    /// Repositories left out, with why: the snapshot is then incomplete.
    incomplete: Vec<String>,
    /// ACR repositories left out (their listings already received are not used).
    acr_left_out: HashSet<RepositoryName>,
    /// Manifest bytes not yet taken, with `keep_manifests`.
    kept: Vec<KeptManifest>,
    /// GHCR's REST side.
    gh: GhState,
    /// Docker Hub: each manifest's newest tag push, by repository and digest.
    hub_times: HashMap<(RepositoryName, Digest), Timestamp>,
    /// Manifests queued for a `GET` since the last [`Crawl::take_wanted`].
    wanted: Vec<Digest>,
    /// Manifests were handed over since the queue was last pruned of their `GET`s.
    handed: bool,
    /// Reading for one plan ([`CrawlOptions::decide`]): nothing more is needed.
    decided: bool,
    /// The listings read into a snapshot (without content), kept between the rounds of reading
    /// for one plan, with how many listing pages it was made of.
    listed: Option<(usize, Snapshot)>,
    /// Image configs whose `created` came from saved bytes: their `GET`s are not sent.
    configs_known: HashSet<Digest>,
    /// Listing requests queued or in flight.
    listings: usize,
}

fn enc(repo: &RepositoryName) -> &str {
    // Repository names are validated: [a-z0-9._/-] only, safe in a path as they are.
    repo.as_str()
}

impl Crawl {
    /// The next page of a listing, refused when the registry already sent the crawl there, when
    /// the page added nothing new (`added`) yet points on, or past `max_pages` pages: a listing
    /// that never ends would otherwise keep the crawl going forever.
    fn next_page(&mut self, r: &Response, where_: &str, added: usize) -> Result<Option<String>> {
        let Some(next) = next_link(r.header("link"), &self.opts.registry)? else {
            return Ok(None);
        };
        if added == 0 {
            return Err(violation(
                where_,
                format!("the registry's pagination loops: a page added nothing new and points on to {next}"),
            ));
        }
        self.count_page(next, where_).map(Some)
    }

    /// Records the next page of a listing: an error when it was listed already (a loop) or
    /// when the listing passes `max_pages` pages.
    fn count_page(&mut self, next: String, where_: &str) -> Result<String> {
        if !self.pages.insert(next.clone()) {
            return Err(violation(
                where_,
                format!("the pagination loops: {next} was already listed"),
            ));
        }
        let pages = self.listing_pages.entry(listing_of(where_)).or_default();
        *pages += 1;
        if *pages >= self.opts.max_pages {
            return Err(Error::LimitExceeded {
                path: where_.to_owned(),
                limit: "maxPages".into(),
                allowed: u64::from(self.opts.max_pages),
                actual: u64::from(*pages) + 1,
            });
        }
        Ok(next)
    }

    /// A page of an OCI repository's tag list: each new tag is resolved with a `HEAD`.
    fn tags_listed(&mut self, repo: RepositoryName, r: &Response, where_: &str) -> Result<()> {
        if r.status == 404 && super::name_unknown(&r.body) {
            // Distribution's answer for a repository without tags (or gone since the
            // catalog): no tags to resolve.
            return Ok(());
        }
        if r.status != 200 {
            // A bare 404 (no NAME_UNKNOWN), 401, 403, …: this repository's tags are unknown.
            let why = format!(
                "its tag list answered {}; its tags are unknown",
                status_text(r.status)
            );
            self.not_captured(&repo, &why);
            return Ok(());
        }
        let body: TagList = json(r, where_)?;
        let Some(state) = self.repos.get_mut(&repo) else {
            return Ok(());
        };
        let new: Vec<TagName> = body
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter(|tag| state.listed.insert(tag.clone()))
            .collect();
        let added = new.len();
        for tag in new {
            self.push(Job::HeadTag(repo.clone(), tag));
        }
        if let Some(next) = self.next_page(r, where_, added)? {
            self.push(Job::Tags(repo, next));
        }
        Ok(())
    }

    /// An index may list at most `max_index_children` manifests: each is one more `GET`.
    fn bounded(&self, m: &Manifest, where_: &str) -> Result<()> {
        let children = m.manifests.as_ref().map_or(0, |c| c.len());
        if children > self.opts.max_index_children as usize {
            return Err(Error::LimitExceeded {
                path: where_.to_owned(),
                limit: "maxIndexChildren".into(),
                allowed: u64::from(self.opts.max_index_children),
                actual: children as u64,
            });
        }
        Ok(())
    }

    /// Records that `repo` could not be listed (`why`): it is left out, and the snapshot says
    /// it is incomplete and why, so no plan claims exact figures over it.
    fn not_captured(&mut self, repo: &RepositoryName, why: &str) {
        self.repos.remove(repo);
        self.incomplete.push(format!("{repo}: {why}"));
    }

    /// Starts a crawl, refusing options that cannot work: GHCR and Docker Hub have no
    /// catalog, so they need an owner (a user, an organisation, a namespace) or repositories.
    pub fn start(opts: CrawlOptions) -> Result<Crawl> {
        let c = Crawl::new(opts);
        let no_owner = c.opts.owner.as_deref().is_none_or(str::is_empty);
        if matches!(c.flavour, Flavour::Ghcr | Flavour::DockerHub)
            && no_owner
            && c.opts.repositories.is_empty()
        {
            let whose = if c.flavour == Flavour::Ghcr {
                "GHCR has no catalog: name the user or organisation whose packages to read (--owner), or the packages (--repository OWNER/PACKAGE)"
            } else {
                "Docker Hub has no catalog: name the namespace to read (--owner), or the repositories (--repository NAMESPACE/NAME)"
            };
            return Err(fail("owner", whose.into()));
        }
        Ok(c)
    }

    /// Starts a crawl (see [`Crawl::start`] for the options it refuses).
    pub fn new(opts: CrawlOptions) -> Crawl {
        let mut c = Crawl {
            next_id: 1,
            queue: VecDeque::new(),
            in_flight: HashMap::new(),
            repos: BTreeMap::new(),
            contents: HashMap::new(),
            fetching: HashSet::new(),
            waiting: HashMap::new(),
            created: HashMap::new(),
            referrers_api: None,
            asked_referrers: HashSet::new(),
            progress: CrawlProgress::default(),
            flavour: opts.flavour,
            acr_bodies: Vec::new(),
            pages: HashSet::new(),
            listing_pages: HashMap::new(),
            incomplete: Vec::new(),
            acr_left_out: HashSet::new(),
            kept: Vec::new(),
            gh: GhState::default(),
            hub_times: HashMap::new(),
            wanted: Vec::new(),
            handed: false,
            decided: false,
            listed: None,
            configs_known: HashSet::new(),
            listings: 0,
            opts,
        };
        if c.flavour == Flavour::Auto && c.opts.registry.eq_ignore_ascii_case("ghcr.io") {
            c.flavour = Flavour::Ghcr;
        }
        if c.flavour == Flavour::Auto && super::hub::is_hub(&c.opts.registry) {
            c.flavour = Flavour::DockerHub;
        }
        match c.flavour {
            Flavour::Auto => c.push(Job::Detect),
            Flavour::Ghcr => c.begin_ghcr(),
            Flavour::DockerHub => c.begin_hub(),
            _ => c.begin(),
        }
        c
    }

    fn keep(&mut self, m: &Manifest, r: &Response) {
        if self.opts.keep_manifests {
            self.kept.push(KeptManifest {
                digest: m.digest.clone(),
                media_type: m.media_type.as_ref().map(|t| t.as_str().to_owned()),
                bytes: r.body.clone(),
            });
        }
    }

    /// Manifests fetched since the last call (with `keep_manifests`), their bytes checked
    /// against their digests: save them for [`crate::http::Execute::known_manifest`].
    pub fn take_manifests(&mut self) -> Vec<KeptManifest> {
        std::mem::take(&mut self.kept)
    }

    /// Starts listing, once the flavour is known.
    fn begin(&mut self) {
        let acr = self.flavour == Flavour::Acr;
        if self.opts.repositories.is_empty() {
            let n = self.opts.page_size;
            self.push(if acr {
                Job::AcrCatalog(format!("/acr/v1/_catalog?n={n}"))
            } else {
                Job::Catalog(format!("/v2/_catalog?n={n}"))
            });
        } else {
            for repo in self.opts.repositories.clone() {
                self.add_repository(repo);
            }
        }
    }

    /// Queues a request; listings are counted (`CrawlProgress::listing` without a pass over
    /// the queue on every response).
    fn enqueue(&mut self, pending: Pending) {
        if pending.job.is_listing() {
            self.listings += 1;
        }
        self.queue.push_back(pending);
    }

    fn push(&mut self, job: Job) {
        self.enqueue(Pending {
            job,
            attempt: 1,
            not_before: 0.0,
        });
    }

    fn add_repository(&mut self, repo: RepositoryName) {
        if self.repos.contains_key(&repo) {
            return;
        }
        self.progress.repositories += 1;
        self.repos.insert(repo.clone(), RepoState::default());
        if self.flavour == Flavour::Acr {
            // ACR caps these pages at 100 entries.
            let tags = format!("/acr/v1/{}/_tags?n=100", enc(&repo));
            let manifests = format!("/acr/v1/{}/_manifests?n=100", enc(&repo));
            self.push(Job::AcrTags(repo.clone(), tags));
            self.push(Job::AcrManifests(repo, manifests));
        } else {
            let path = format!("/v2/{}/tags/list", enc(&repo));
            self.push(Job::Tags(repo, path));
        }
    }

    /// Manifests the crawl is about to fetch (queued since the last call): hand over those
    /// saved earlier with [`Crawl::known_manifest`] before the next request, and they are not
    /// fetched. Manifests are immutable by digest, so a store of saved bytes is a safe cache.
    pub fn take_wanted(&mut self) -> Vec<Digest> {
        std::mem::take(&mut self.wanted)
    }

    /// Hands over a manifest's bytes saved earlier (a crawl's `keep_manifests`): used only
    /// under its own digest, checked against the bytes, instead of a `GET`. `Ok(false)` when
    /// the crawl does not want it (already fetched, or never asked for), or when the bytes do
    /// not hash to the digest (a damaged store file: the manifest is fetched instead).
    pub fn known_manifest(
        &mut self,
        digest: &Digest,
        media_type: Option<&str>,
        bytes: &[u8],
    ) -> Result<bool> {
        let config =
            self.created.get(digest) == Some(&None) && !self.configs_known.contains(digest);
        if !config && (self.contents.contains_key(digest) || !self.waiting.contains_key(digest)) {
            return Ok(false);
        }
        let where_ = format!("the saved manifest {digest}");
        if digest.recompute(bytes).as_ref() != Some(digest) {
            // A damaged or half-written file of the store: not used, the manifest is fetched
            // (and saved again over it).
            self.progress.rejected += 1;
            return Ok(false);
        }
        if config {
            // An image config (its `created` time), saved by an earlier crawl: immutable by
            // digest like a manifest.
            self.created.insert(digest.clone(), config_created(bytes));
            self.configs_known.insert(digest.clone());
            self.handed = true;
            return Ok(true);
        }
        let m = parse_manifest(bytes, Some(digest), media_type)?;
        self.bounded(&m, &where_)?;
        self.progress.cached += 1;
        self.handed = true;
        self.contents.insert(digest.clone(), m);
        for waiting in self.waiting.remove(digest).unwrap_or_default() {
            self.process(&waiting, digest);
        }
        Ok(true)
    }

    /// The next request to send at time `now` (seconds, any monotonic origin), if one is ready.
    pub fn next_request(&mut self, now: f64) -> Option<Request> {
        self.prune();
        self.decide_round();
        let i = self.queue.iter().position(|p| p.not_before <= now)?;
        let pending = self.queue.remove(i)?;
        let id = self.next_id;
        self.next_id += 1;
        self.progress.requests += 1;
        let accept = || vec![("Accept".to_owned(), MANIFEST_ACCEPT.to_owned())];
        let pull = |r: &RepositoryName| format!("repository:{r}:pull");
        let catalog = || "registry:catalog:*".to_owned();
        let (method, path, headers, scope) = match &pending.job {
            Job::Detect => (
                Method::Get,
                "/acr/v1/_catalog?n=1".to_owned(),
                Vec::new(),
                catalog(),
            ),
            Job::AcrCatalog(p) => (Method::Get, p.clone(), Vec::new(), catalog()),
            Job::AcrTags(r, p) | Job::AcrManifests(r, p) => {
                (Method::Get, p.clone(), Vec::new(), pull(r))
            }
            Job::Catalog(p) => (
                Method::Get,
                p.clone(),
                Vec::new(),
                "registry:catalog:*".to_owned(),
            ),
            Job::Tags(r, p) => (Method::Get, p.clone(), Vec::new(), pull(r)),
            Job::HeadTag(r, t) => (
                Method::Head,
                format!("/v2/{}/manifests/{t}", enc(r)),
                accept(),
                pull(r),
            ),
            Job::ManifestByTag(r, t) => (
                Method::Get,
                format!("/v2/{}/manifests/{t}", enc(r)),
                accept(),
                pull(r),
            ),
            Job::Manifest(r, d) => (
                Method::Get,
                format!("/v2/{}/manifests/{d}", enc(r)),
                accept(),
                pull(r),
            ),
            Job::Config(r, d) => (
                Method::Get,
                format!("/v2/{}/blobs/{d}", enc(r)),
                Vec::new(),
                pull(r),
            ),
            Job::Referrers(r, d) => (
                Method::Get,
                format!("/v2/{}/referrers/{d}", enc(r)),
                vec![(
                    "Accept".to_owned(),
                    "application/vnd.oci.image.index.v1+json".to_owned(),
                )],
                pull(r),
            ),
            Job::GhOwner
            | Job::GhUser
            | Job::GhPackages(_)
            | Job::GhPackage(_)
            | Job::GhVersions(..) => (
                Method::Get,
                self.gh_url(&pending.job),
                super::ghcr::api_headers(),
                super::GITHUB_API_SCOPE.to_owned(),
            ),
            Job::HubRepos(url) | Job::HubTags(_, url) => (
                Method::Get,
                url.clone(),
                super::hub::api_headers(),
                super::HUB_API_SCOPE.to_owned(),
            ),
        };
        if matches!(pending.job, Job::Manifest(..) | Job::ManifestByTag(..)) {
            self.progress.manifest_gets += 1;
        }
        self.in_flight.insert(id, pending);
        Some(Request {
            id,
            method,
            path,
            headers,
            scope,
            body: None,
        })
    }

    /// Drops the queued `GET`s of manifests handed over since the last time (one pass per
    /// batch of handovers, not per request).
    fn prune(&mut self) {
        if std::mem::take(&mut self.handed) {
            let (contents, configs) = (&self.contents, &self.configs_known);
            self.queue.retain(|p| match &p.job {
                Job::Manifest(_, d) => !contents.contains_key(d),
                Job::Config(_, d) => !configs.contains(d),
                _ => true,
            });
        }
    }

    /// When the next delayed request becomes ready, if nothing is ready now.
    pub fn next_wakeup(&self) -> Option<f64> {
        self.queue.iter().map(|p| p.not_before).reduce(f64::min)
    }

    /// True when nothing is left to send or to wait for.
    pub fn is_done(&mut self) -> bool {
        self.prune();
        self.decide_round();
        self.queue.is_empty() && self.in_flight.is_empty()
    }

    /// Counters so far.
    pub fn progress(&self) -> CrawlProgress {
        CrawlProgress {
            listing: self.listings > 0,
            needed: self.fetching.len() as u64,
            resolved: self.contents.len() as u64,
            configs_cached: self.configs_known.len() as u64,
            ..self.progress
        }
    }

    /// Feeds the response to request `id`, received at `now`. An error ends the crawl: a
    /// snapshot with a hole in it would make plans wrong.
    pub fn handle_response(&mut self, id: u64, response: &Response, now: f64) -> Result<()> {
        let Some(pending) = self.in_flight.remove(&id) else {
            return Err(fail(
                "response",
                format!("no request {id} is waiting for a response"),
            ));
        };
        self.progress.responses += 1;
        if pending.job.is_listing() {
            // A retry queues it again (and counts it again).
            self.listings -= 1;
        }
        let api = matches!(
            pending.job,
            Job::GhOwner
                | Job::GhUser
                | Job::GhPackages(_)
                | Job::GhPackage(_)
                | Job::GhVersions(..)
        );
        if let Some(wait) = api.then(|| super::ghcr::rate_limited(response)).flatten() {
            if pending.attempt >= self.opts.max_attempts {
                return Err(Error::RateLimited {
                    path: describe(&pending.job),
                    status: response.status,
                    message: format!(
                        "the GitHub API's rate limit is still spent after {} attempts",
                        pending.attempt
                    ),
                });
            }
            self.progress.retries += 1;
            self.enqueue(Pending {
                attempt: pending.attempt + 1,
                not_before: now + wait,
                ..pending
            });
            return Ok(());
        }
        if retryable(response.status) {
            if pending.attempt >= self.opts.max_attempts {
                if let Job::Tags(repo, _) | Job::AcrTags(repo, _) | Job::AcrManifests(repo, _) =
                    &pending.job
                {
                    // One repository that cannot be listed leaves it out, said in the snapshot.
                    let why = format!(
                        "a listing still answers {} after {} attempts",
                        status_text(response.status),
                        pending.attempt
                    );
                    let repo = repo.clone();
                    if self.flavour == Flavour::Acr {
                        self.acr_left_out.insert(repo.clone());
                    }
                    self.not_captured(&repo, &why);
                    return Ok(());
                }
                return Err(Error::from_status(
                    &describe(&pending.job),
                    response.status,
                    format!(
                        "the registry still answers {} after {} attempts",
                        status_text(response.status),
                        pending.attempt
                    ),
                ));
            }
            self.progress.retries += 1;
            let delay = backoff(response, pending.attempt);
            self.enqueue(Pending {
                attempt: pending.attempt + 1,
                not_before: now + delay,
                ..pending
            });
            return Ok(());
        }
        self.handle(pending.job, response)
    }

    fn handle(&mut self, job: Job, r: &Response) -> Result<()> {
        let where_ = describe(&job);
        match job {
            Job::Detect | Job::AcrCatalog(_) | Job::AcrTags(..) | Job::AcrManifests(..) => {
                self.handle_acr(job, r, &where_)?;
            }
            Job::GhOwner
            | Job::GhUser
            | Job::GhPackages(_)
            | Job::GhPackage(_)
            | Job::GhVersions(..) => {
                self.handle_gh(job, r, &where_)?;
            }
            Job::HubRepos(_) | Job::HubTags(..) => self.handle_hub(job, r, &where_)?,
            Job::Catalog(_) => {
                ok(r, &where_)?;
                let body: NameList = json(r, &where_)?;
                let before = self.repos.len();
                for repo in body.repositories.unwrap_or_default() {
                    self.add_repository(repo);
                }
                let added = self.repos.len() - before;
                if let Some(next) = self.next_page(r, &where_, added)? {
                    self.push(Job::Catalog(next));
                }
            }
            Job::Tags(repo, _) => self.tags_listed(repo, r, &where_)?,
            Job::HeadTag(repo, tag) => {
                if r.status == 404 {
                    return Ok(()); // untagged meanwhile
                }
                ok(r, &where_)?;
                match r.header("docker-content-digest").and_then(Digest::parse) {
                    Some(d) => self.tagged(&repo, tag, d),
                    None => self.push(Job::ManifestByTag(repo, tag)),
                }
            }
            Job::ManifestByTag(repo, tag) => {
                if r.status == 404 {
                    return Ok(());
                }
                ok(r, &where_)?;
                let claimed = r.header("docker-content-digest").and_then(Digest::parse);
                let m = parse_manifest(&r.body, claimed.as_ref(), r.header("content-type"))?;
                self.bounded(&m, &where_)?;
                self.keep(&m, r);
                let d = m.digest.clone();
                self.fetching.insert(d.clone());
                self.contents.insert(d.clone(), m);
                self.tagged(&repo, tag, d);
            }
            Job::Manifest(_, digest) => {
                if r.status == 404 {
                    let tagged = self
                        .repos
                        .values()
                        .any(|s| s.tags.values().any(|d| *d == digest));
                    if tagged {
                        return Err(violation(
                            &where_,
                            format!("a tag resolved to {digest} (Docker-Content-Digest), but the registry has no such manifest: its answers are inconsistent, or it changed during the crawl; crawl again"),
                        ));
                    }
                    self.waiting.remove(&digest);
                    return Ok(()); // a child or referrer that is gone: the index is broken already
                }
                ok(r, &where_)?;
                let m = parse_manifest(&r.body, Some(&digest), r.header("content-type"))?;
                self.bounded(&m, &where_)?;
                self.keep(&m, r);
                self.contents.insert(digest.clone(), m);
                for waiting in self.waiting.remove(&digest).unwrap_or_default() {
                    self.process(&waiting, &digest);
                }
            }
            Job::Config(_, digest) => self.config_fetched(digest, r),
            Job::Referrers(repo, _) => {
                if r.status != 200 || !r.header("content-type").is_some_and(|c| c.contains("json"))
                {
                    // Distribution 2.8 has no referrers API (404, text/plain): stop asking,
                    // the questions already queued included (a crawl whose manifests came
                    // from the store queues them all at once).
                    if self.referrers_api.get_or_insert(false) == &false {
                        self.queue.retain(|p| !matches!(p.job, Job::Referrers(..)));
                    }
                    return Ok(());
                }
                self.referrers_api = Some(true);
                let index: Index = json(r, &where_)?;
                for d in index.manifests.into_iter().map(|m| m.digest) {
                    self.need(&repo, d);
                }
            }
        }
        Ok(())
    }

    /// An image config's answer: its `created` time (kept, with `keep_manifests`, when its
    /// bytes hash to its digest).
    fn config_fetched(&mut self, digest: Digest, r: &Response) {
        if self.configs_known.contains(&digest) {
            return; // handed over while this request was in flight
        }
        let created = if r.status == 200 {
            config_created(&r.body)
        } else {
            None
        };
        if r.status == 200
            && self.opts.keep_manifests
            && digest.recompute(&r.body).as_ref() == Some(&digest)
        {
            self.kept.push(KeptManifest {
                digest: digest.clone(),
                media_type: None,
                bytes: r.body.clone(),
            });
        }
        self.created.insert(digest, created);
    }

    /// Flavour detection and the ACR listings.
    fn handle_acr(&mut self, job: Job, r: &Response, where_: &str) -> Result<()> {
        match job {
            Job::Detect => {
                let acr = r.status == 200 && serde_json::from_slice::<NameList>(&r.body).is_ok();
                self.flavour = if acr { Flavour::Acr } else { Flavour::Oci };
                self.begin();
            }
            Job::AcrCatalog(_) => {
                ok(r, where_)?;
                let body: NameList = json(r, where_)?;
                let before = self.repos.len();
                for repo in body.repositories.unwrap_or_default() {
                    self.add_repository(repo);
                }
                let added = self.repos.len() - before;
                if let Some(next) = self.next_page(r, where_, added)? {
                    self.push(Job::AcrCatalog(next));
                }
            }
            // The repository went away while we crawled.
            Job::AcrTags(..) | Job::AcrManifests(..)
                if r.status == 404 && super::name_unknown(&r.body) => {}
            Job::AcrTags(repo, _) | Job::AcrManifests(repo, _) if r.status != 200 => {
                let why = &format!(
                    "a listing answered {}; its content is unknown",
                    status_text(r.status)
                );
                self.acr_left_out.insert(repo.clone());
                self.not_captured(&repo, why);
            }
            Job::AcrTags(repo, _) => {
                ok(r, where_)?;
                let body: serde_json::Value = json(r, where_)?;
                let added = body
                    .get("tags")
                    .and_then(serde_json::Value::as_array)
                    .map_or(0, Vec::len);
                self.acr_bodies.push(body);
                if let Some(next) = self.next_page(r, where_, added)? {
                    self.push(Job::AcrTags(repo, next));
                }
            }
            Job::AcrManifests(repo, _) => {
                ok(r, where_)?;
                let body: serde_json::Value = json(r, where_)?;
                let listed: AcrManifestList = json(r, where_)?;
                let mut added = 0;
                let lazy = self.opts.decide.is_some();
                for m in listed.manifests.into_iter().flatten() {
                    added += 1;
                    // Reading for one plan: an index's children decide what may go; other
                    // manifests are read when the plan deletes them (see `decide_round`).
                    // A manifest listed without a media type is read (it may be an index).
                    let index = m
                        .media_type
                        .as_deref()
                        .is_none_or(|t| MediaType::parse(t).is_index());
                    if lazy && !index {
                        if let Some(state) = self.repos.get_mut(&repo) {
                            state.digests.insert(m.digest);
                        }
                    } else {
                        self.need(&repo, m.digest);
                    }
                }
                self.acr_bodies.push(body);
                if let Some(next) = self.next_page(r, where_, added)? {
                    self.push(Job::AcrManifests(repo, next));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn tagged(&mut self, repo: &RepositoryName, tag: TagName, digest: Digest) {
        if let Some(state) = self.repos.get_mut(repo) {
            state.tags.insert(tag, digest.clone());
        }
        self.need(repo, digest);
    }

    /// Records that `repo` holds `digest`, fetching its content once registry-wide.
    fn need(&mut self, repo: &RepositoryName, digest: Digest) {
        let Some(state) = self.repos.get_mut(repo) else {
            return;
        };
        if !state.digests.insert(digest.clone()) {
            return;
        }
        self.read(repo, digest);
    }

    /// Reads the content of `digest` (held by `repo`), once registry-wide.
    fn read(&mut self, repo: &RepositoryName, digest: Digest) {
        if self.contents.contains_key(&digest) {
            self.process(repo, &digest);
        } else {
            self.waiting
                .entry(digest.clone())
                .or_default()
                .push(repo.clone());
            if self.fetching.insert(digest.clone()) {
                self.wanted.push(digest.clone());
                self.push(Job::Manifest(repo.clone(), digest));
            }
        }
    }

    /// Reading for one plan ([`CrawlOptions::decide`], ACR): once every request is answered,
    /// plans on what is known and reads the manifests that plan deletes whose content could
    /// change it; the crawl is done when a round needs nothing more. A plan that cannot be
    /// made reads every manifest instead (nothing is guessed).
    fn decide_round(&mut self) {
        if self.decided || !self.queue.is_empty() || !self.in_flight.is_empty() {
            return;
        }
        let Some(decide) = self.opts.decide.clone() else {
            return;
        };
        if self.flavour != Flavour::Acr {
            self.decided = true;
            return;
        }
        let needed = self.needed_for(&decide).unwrap_or_else(|_| {
            self.decided = true;
            self.unread()
        });
        if needed.is_empty() {
            self.decided = true;
        }
        for (repo, digest) in needed {
            self.read(&repo, digest);
        }
    }

    /// The manifests the plan for `decide` deletes, unread, whose media type may carry a
    /// `subject` (every type but a Docker image manifest, which cannot).
    fn needed_for(&mut self, decide: &Decide) -> Result<Vec<(RepositoryName, Digest)>> {
        // Listings do not change between rounds (only manifests are read): imported once.
        let pages = self.acr_bodies.len();
        if self.listed.as_ref().map(|(n, _)| *n) != Some(pages) {
            self.listed = Some((pages, self.acr_listed()?));
        }
        let snapshot = self.with_contents(self.listed_now()?);
        let options = crate::PlanOptions {
            now: decide.now,
            pinned: decide.pinned.clone(),
            threads: Some(1),
        };
        let plan = crate::planner::plan(&snapshot, &decide.operation, &options)?;
        let mut unread: HashMap<&Digest, &Manifest> = HashMap::new();
        for repo in &snapshot.repositories {
            for m in repo.manifests.iter().filter(|m| m.is_shallow()) {
                unread.insert(&m.digest, m);
            }
        }
        let mut needed = Vec::new();
        for a in &plan.actions {
            let Some(digest) = a.digest.as_ref() else {
                continue;
            };
            let Some(m) = unread.remove(digest) else {
                continue;
            };
            let docker = matches!(m.media_type, Some(MediaType::DockerManifest));
            if !docker && !self.fetching.contains(digest) {
                needed.push((a.repository.clone(), digest.clone()));
            }
        }
        Ok(needed)
    }

    /// Every listed manifest not read yet.
    fn unread(&self) -> Vec<(RepositoryName, Digest)> {
        let mut out = Vec::new();
        for (repo, state) in &self.repos {
            for d in &state.digests {
                if !self.fetching.contains(d) {
                    out.push((repo.clone(), d.clone()));
                }
            }
        }
        out
    }

    /// Follows what a manifest held by `repo` references: children, config, referrers.
    fn process(&mut self, repo: &RepositoryName, digest: &Digest) {
        // ACR and GHCR list every manifest with its times: only the content itself is needed.
        if matches!(self.flavour, Flavour::Acr | Flavour::Ghcr) {
            return;
        }
        let Some(m) = self.contents.get(digest) else {
            return;
        };
        let children: Vec<Digest> = m
            .manifests
            .iter()
            .flatten()
            .map(|c| c.digest.clone())
            .collect();
        let config = m.config.as_ref().map(|c| c.digest.clone());
        for c in children {
            self.need(repo, c);
        }
        // Docker Hub gives each tag's push time, and has no referrers API.
        if self.flavour == Flavour::DockerHub {
            return;
        }
        if let Some(c) = config.filter(|_| self.opts.fetch_configs) {
            if !self.created.contains_key(&c) {
                self.created.insert(c.clone(), None);
                self.wanted.push(c.clone());
                self.push(Job::Config(repo.clone(), c));
            }
        }
        if self.referrers_api != Some(false)
            && self.asked_referrers.insert((repo.clone(), digest.clone()))
        {
            self.push(Job::Referrers(repo.clone(), digest.clone()));
        }
    }

    /// The snapshot, once `is_done()`. Repositories that could not be listed are left out and
    /// named in `incompleteReasons`; when none could be, there is no snapshot to speak of.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let left = self.queue.iter().any(|p| match &p.job {
            Job::Manifest(_, d) => !self.contents.contains_key(d),
            Job::Config(_, d) => !self.configs_known.contains(d),
            _ => true,
        });
        if left || !self.in_flight.is_empty() {
            return Err(fail("crawl", "the crawl is not finished".into()));
        }
        if self.repos.is_empty() {
            if let Some(first) = self.incomplete.first() {
                return Err(fail(
                    "crawl",
                    format!(
                        "no repository could be listed ({} tried); the first: {first}",
                        self.incomplete.len()
                    ),
                ));
            }
        }
        if self.flavour == Flavour::Acr {
            return self.acr_snapshot();
        }
        if self.flavour == Flavour::Ghcr {
            return Ok(self.ghcr_snapshot());
        }
        let hub = self.flavour == Flavour::DockerHub;
        let time_of = |m: &Manifest| {
            m.config
                .as_ref()
                .and_then(|c| self.created.get(&c.digest).copied().flatten())
        };
        let mut repositories = Vec::with_capacity(self.repos.len());
        for (name, state) in &self.repos {
            let mut manifests: Vec<Manifest> = state
                .digests
                .iter()
                .filter_map(|d| self.contents.get(d).cloned())
                .collect();
            if hub {
                // Hub's times are its tags' pushes: a manifest's is its newest tag's, an
                // index's children take the index's.
                let mut times: HashMap<Digest, Timestamp> = HashMap::new();
                for m in &manifests {
                    if let Some(&t) = self.hub_times.get(&(name.clone(), m.digest.clone())) {
                        let e = times.entry(m.digest.clone()).or_insert(t);
                        *e = (*e).max(t);
                        for c in m.manifests.iter().flatten() {
                            let e = times.entry(c.digest.clone()).or_insert(t);
                            *e = (*e).max(t);
                        }
                    }
                }
                for m in &mut manifests {
                    let t = times.get(&m.digest).copied();
                    m.created_time = t;
                    m.last_update_time = t;
                }
            }
            for m in manifests.iter_mut().filter(|_| !hub) {
                let own = time_of(m);
                // An index is as old as its newest child.
                let t = own.or_else(|| {
                    m.manifests
                        .iter()
                        .flatten()
                        .filter_map(|c| self.contents.get(&c.digest))
                        .filter_map(time_of)
                        .max()
                });
                m.created_time = t;
                m.last_update_time = t;
            }
            let tags = state
                .tags
                .iter()
                .filter(|(_, d)| self.contents.contains_key(*d))
                .map(|(t, d)| Tag {
                    name: t.clone(),
                    digest: d.clone(),
                    created_time: None,
                    last_update_time: None,
                    changeable_attributes: None,
                })
                .collect();
            repositories.push(Repository {
                name: name.clone(),
                changeable_attributes: None,
                manifests,
                tags,
                visibility: None,
            });
        }
        Ok(Snapshot {
            registry: Some(self.opts.registry.clone()),
            complete: self.opts.repositories.is_empty() && self.incomplete.is_empty(),
            incomplete_reasons: self.incomplete.clone(),
            untagged_listed: Some(false),
            repositories,
            api: hub.then_some(crate::snapshot::RegistryApi::DockerHub),
        })
    }
}

impl Crawl {
    /// ACR: the listings make the snapshot (times, locks, tags, untagged manifests); the
    /// fetched bytes add the content.
    fn acr_snapshot(&self) -> Result<Snapshot> {
        Ok(self.with_contents(self.listed_now()?))
    }

    /// The listings as a snapshot, without content: the one kept by the last round of reading
    /// for one plan while no listing page came since, else imported.
    fn listed_now(&self) -> Result<Snapshot> {
        match &self.listed {
            Some((pages, s)) if *pages == self.acr_bodies.len() => Ok(s.clone()),
            _ => self.acr_listed(),
        }
    }

    /// The listings imported into a snapshot, without content.
    fn acr_listed(&self) -> Result<Snapshot> {
        let mut snapshot = crate::import::acr_api(&self.acr_bodies)?;
        snapshot
            .repositories
            .retain(|r| !self.acr_left_out.contains(&r.name));
        Ok(snapshot)
    }

    /// `snapshot` (listings) with every content read so far, and what the crawl knows of it.
    fn with_contents(&self, mut snapshot: Snapshot) -> Snapshot {
        for repo in &mut snapshot.repositories {
            for m in &mut repo.manifests {
                if let Some(content) = self.contents.get(&m.digest) {
                    *m = crate::import::with_content(m, content.clone());
                }
            }
        }
        snapshot.registry = Some(self.opts.registry.clone());
        snapshot.complete = self.opts.repositories.is_empty() && self.incomplete.is_empty();
        snapshot.incomplete_reasons.clone_from(&self.incomplete);
        snapshot.untagged_listed = Some(true);
        snapshot
    }

    /// The flavour in use (`auto` until detected).
    pub fn flavour(&self) -> Flavour {
        self.flavour
    }
}

impl Crawl {
    /// Docker Hub: the namespace's repositories (or the ones named), then their tags.
    fn begin_hub(&mut self) {
        let api = super::hub::api_base(self.opts.hub_api.as_deref());
        let n = super::hub::PAGE_SIZE;
        if self.opts.repositories.is_empty() {
            let ns = super::ghcr::encode(self.opts.owner.as_deref().unwrap_or_default());
            self.push(Job::HubRepos(format!(
                "{api}/v2/namespaces/{ns}/repositories?page_size={n}&page=1"
            )));
        } else {
            for repo in self.opts.repositories.clone() {
                self.hub_repository(repo);
            }
        }
    }

    fn hub_repository(&mut self, repo: RepositoryName) {
        if self.repos.contains_key(&repo) {
            return;
        }
        let api = super::hub::api_base(self.opts.hub_api.as_deref());
        let n = super::hub::PAGE_SIZE;
        let (ns, name) = repo
            .as_str()
            .split_once('/')
            .unwrap_or(("library", repo.as_str()));
        let url = format!("{api}/v2/namespaces/{ns}/repositories/{name}/tags?page_size={n}&page=1");
        self.progress.repositories += 1;
        self.repos.insert(repo.clone(), RepoState::default());
        self.push(Job::HubTags(repo, url));
    }

    /// The next page of a Hub listing: on the API's own host, never twice, within
    /// `max_pages`.
    fn hub_next(&mut self, next: Option<String>, where_: &str) -> Result<Option<String>> {
        let Some(next) = next.filter(|n| !n.is_empty()) else {
            return Ok(None);
        };
        let api = super::hub::api_base(self.opts.hub_api.as_deref());
        if !next.starts_with(&format!("{api}/")) {
            return Err(violation(
                where_,
                format!("the next page {next:?} is not on the API's host {api}; refusing"),
            ));
        }
        self.count_page(next, where_).map(Some)
    }

    fn handle_hub(&mut self, job: Job, r: &Response, where_: &str) -> Result<()> {
        use super::hub::{Page, Repo, Tag};
        match job {
            Job::HubRepos(_) => {
                if r.status != 200 {
                    return Err(super::hub::refused(r, where_));
                }
                let page: Page<Repo> = json(r, where_)?;
                for repo in page.results {
                    let ns = repo
                        .namespace
                        .or_else(|| self.opts.owner.clone())
                        .unwrap_or_default();
                    let name = format!(
                        "{}/{}",
                        ns.to_ascii_lowercase(),
                        repo.name.to_ascii_lowercase()
                    );
                    let Some(name) = RepositoryName::parse(&name) else {
                        return Err(violation(where_, format!("{name:?} is no repository name")));
                    };
                    self.hub_repository(name);
                }
                if let Some(next) = self.hub_next(page.next, where_)? {
                    self.push(Job::HubRepos(next));
                }
            }
            Job::HubTags(repo, _) => {
                if r.status == 404 {
                    self.not_captured(
                        &repo,
                        "Docker Hub has no such repository, or the credentials may not read it",
                    );
                    return Ok(());
                }
                if r.status != 200 {
                    return Err(super::hub::refused(r, where_));
                }
                let page: Page<Tag> = json(r, where_)?;
                for tag in page.results {
                    let Some(digest) = tag.digest.clone() else {
                        continue; // a tag Hub gives no digest for: nothing to plan on
                    };
                    if let Some(t) = tag.pushed() {
                        let e = self
                            .hub_times
                            .entry((repo.clone(), digest.clone()))
                            .or_insert(t);
                        *e = (*e).max(t);
                    }
                    self.tagged(&repo, tag.name, digest);
                }
                if let Some(next) = self.hub_next(page.next, where_)? {
                    self.push(Job::HubTags(repo, next));
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl Crawl {
    /// GHCR: who owns the packages decides the REST paths; then the packages.
    fn begin_ghcr(&mut self) {
        let first = self
            .opts
            .repositories
            .first()
            .and_then(|r| r.as_str().split('/').next().map(str::to_owned));
        self.gh.owner = self.opts.owner.clone().or(first).unwrap_or_default();
        self.gh.api = super::ghcr::api_base(self.opts.github_api.as_deref(), &self.opts.registry);
        let prefix = format!("{}/", self.gh.owner.to_ascii_lowercase());
        self.gh.wanted = self
            .opts
            .repositories
            .iter()
            .map(|r| {
                r.as_str()
                    .strip_prefix(&prefix)
                    .unwrap_or(r.as_str())
                    .to_owned()
            })
            .collect();
        self.push(Job::GhOwner);
    }

    fn gh_url(&self, job: &Job) -> String {
        let (api, base) = (&self.gh.api, &self.gh.owner_path);
        let per = super::ghcr::PER_PAGE;
        match job {
            Job::GhOwner => format!("{api}/users/{}", super::ghcr::encode(&self.gh.owner)),
            Job::GhUser => format!("{api}/user"),
            Job::GhPackages(page) => {
                format!("{api}{base}/packages?package_type=container&per_page={per}&page={page}")
            }
            Job::GhPackage(name) => {
                format!(
                    "{api}{base}/packages/container/{}",
                    super::ghcr::encode(name)
                )
            }
            Job::GhVersions(repo, page) => {
                let name = self.gh.packages.get(repo).map_or("", |p| p.0.as_str());
                format!(
                    "{api}{base}/packages/container/{}/versions?per_page={per}&page={page}&state=active",
                    super::ghcr::encode(name)
                )
            }
            _ => String::new(),
        }
    }

    /// A listing page number past `max_pages` is an error, not an endless crawl.
    fn gh_page(&self, page: u32, where_: &str) -> Result<u32> {
        if page >= self.opts.max_pages {
            return Err(Error::LimitExceeded {
                path: where_.to_owned(),
                limit: "maxPages".into(),
                allowed: u64::from(self.opts.max_pages),
                actual: u64::from(page) + 1,
            });
        }
        Ok(page + 1)
    }

    fn gh_packages(&mut self) {
        if self.gh.wanted.is_empty() {
            self.push(Job::GhPackages(1));
        } else {
            for name in self.gh.wanted.clone() {
                self.push(Job::GhPackage(name));
            }
        }
    }

    fn gh_package(&mut self, p: super::ghcr::Package, where_: &str) -> Result<()> {
        let repo = super::ghcr::repository_of(&self.gh.owner, &p.name, where_)?;
        if self.gh.packages.contains_key(&repo) {
            return Ok(());
        }
        self.progress.repositories += 1;
        self.repos.insert(repo.clone(), RepoState::default());
        self.gh
            .packages
            .insert(repo.clone(), (p.name, p.visibility));
        self.push(Job::GhVersions(repo, 1));
        Ok(())
    }

    fn handle_gh(&mut self, job: Job, r: &Response, where_: &str) -> Result<()> {
        use super::ghcr::{refused, Owner, Package, User, Version};
        const READ: &str = "read:packages";
        match job {
            Job::GhOwner => {
                if r.status != 200 {
                    return Err(refused(r, where_, READ));
                }
                let owner: Owner = json(r, where_)?;
                let o = super::ghcr::encode(&self.gh.owner);
                if owner.kind == "Organization" {
                    self.gh.owner_path = format!("/orgs/{o}");
                    self.gh_packages();
                } else {
                    self.gh.owner_path = format!("/users/{o}");
                    self.push(Job::GhUser);
                }
            }
            Job::GhUser => {
                // The token's own packages are under /user (the only path that lists private
                // ones and deletes them); without a token, the public path stays.
                if r.status == 200 {
                    let me: User = json(r, where_)?;
                    if me.login.eq_ignore_ascii_case(&self.gh.owner) {
                        self.gh.owner_path = "/user".into();
                    }
                } else if r.status != 401 {
                    return Err(refused(r, where_, READ));
                }
                self.gh_packages();
            }
            Job::GhPackages(page) => {
                if r.status != 200 {
                    return Err(refused(r, where_, READ));
                }
                let list: Vec<Package> = json(r, where_)?;
                // GitHub sometimes leaves out the `Link` header although more pages exist:
                // pages are read until one comes back empty.
                if !list.is_empty() {
                    for p in list {
                        self.gh_package(p, where_)?;
                    }
                    let next = self.gh_page(page, where_)?;
                    self.push(Job::GhPackages(next));
                }
            }
            Job::GhPackage(name) => {
                if r.status == 404 {
                    self.incomplete.push(format!(
                        "{}/{name}: no such container package (or the token may not read it)",
                        self.gh.owner.to_ascii_lowercase()
                    ));
                    return Ok(());
                }
                if r.status != 200 {
                    return Err(refused(r, where_, READ));
                }
                let p: Package = json(r, where_)?;
                self.gh_package(p, where_)?;
            }
            Job::GhVersions(repo, page) => {
                if r.status != 200 {
                    return Err(refused(r, where_, READ));
                }
                let list: Vec<Version> = json(r, where_)?;
                if list.is_empty() {
                    return Ok(());
                }
                let mut added = 0;
                for v in list {
                    let known = self.gh.versions.entry(repo.clone()).or_default();
                    if known.iter().any(|k| k.id == v.id) {
                        continue;
                    }
                    added += 1;
                    let digest = v.name.clone();
                    // A tagged version whose manifest is missing is an error, not a hole
                    // (its children would look untagged).
                    if let Some(state) = self.repos.get_mut(&repo) {
                        for t in v.tags() {
                            state.tags.insert(t.clone(), digest.clone());
                        }
                    }
                    known.push(v);
                    self.need(&repo, digest);
                }
                if added == 0 {
                    return Err(violation(
                        where_,
                        "the GitHub API's pagination loops: a page of versions added nothing new"
                            .into(),
                    ));
                }
                let next = self.gh_page(page, where_)?;
                self.push(Job::GhVersions(repo, next));
            }
            _ => {}
        }
        Ok(())
    }

    /// GHCR: each package a repository, each version a manifest with its id, tags and times.
    fn ghcr_snapshot(&self) -> Snapshot {
        let mut repositories = Vec::with_capacity(self.gh.packages.len());
        for (name, (_, visibility)) in &self.gh.packages {
            let mut manifests = Vec::new();
            let mut tags = Vec::new();
            for v in self.gh.versions.get(name).into_iter().flatten() {
                let Some(content) = self.contents.get(&v.name) else {
                    continue; // deleted while the crawl ran
                };
                let mut m = content.clone();
                m.version_id = Some(v.id);
                m.created_time = v.created();
                m.last_update_time = v.updated();
                for t in v.tags() {
                    tags.push(Tag {
                        name: t.clone(),
                        digest: v.name.clone(),
                        created_time: None,
                        last_update_time: v.updated(),
                        changeable_attributes: None,
                    });
                }
                manifests.push(m);
            }
            manifests.sort_by(|a, b| a.digest.cmp(&b.digest));
            manifests.dedup_by(|a, b| a.digest == b.digest);
            tags.sort_by(|a, b| a.name.cmp(&b.name));
            repositories.push(Repository {
                name: name.clone(),
                changeable_attributes: None,
                manifests,
                tags,
                visibility: *visibility,
            });
        }
        Snapshot {
            registry: Some(self.opts.registry.clone()),
            complete: self.opts.repositories.is_empty() && self.incomplete.is_empty(),
            incomplete_reasons: self.incomplete.clone(),
            untagged_listed: Some(true),
            api: Some(crate::snapshot::RegistryApi::Ghcr),
            repositories,
        }
    }
}

#[derive(Deserialize)]
struct AcrManifestList {
    manifests: Option<Vec<IndexEntry>>,
}

#[derive(Deserialize)]
struct NameList {
    repositories: Option<Vec<RepositoryName>>,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<TagName>>,
}

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Vec<IndexEntry>,
}

#[derive(Deserialize)]
struct IndexEntry {
    digest: Digest,
    #[serde(default, rename = "mediaType")]
    media_type: Option<String>,
}

use crate::import::config_created;

/// The listing a page belongs to: its path without the query (`/v2/app/tags/list`).
fn listing_of(page: &str) -> String {
    page.split('?').next().unwrap_or_default().to_owned()
}

fn describe(job: &Job) -> String {
    match job {
        Job::Detect => "/acr/v1/_catalog".into(),
        Job::Catalog(p)
        | Job::Tags(_, p)
        | Job::AcrCatalog(p)
        | Job::AcrTags(_, p)
        | Job::AcrManifests(_, p) => p.clone(),
        Job::HeadTag(r, t) | Job::ManifestByTag(r, t) => format!("{r}:{t}"),
        Job::Manifest(r, d) | Job::Config(r, d) | Job::Referrers(r, d) => format!("{r}@{d}"),
        Job::GhOwner => "GitHub API: the package owner".into(),
        Job::GhUser => "GitHub API: /user".into(),
        Job::GhPackages(page) => format!("GitHub API: packages, page {page}"),
        Job::GhPackage(name) => format!("GitHub API: package {name}"),
        Job::GhVersions(r, page) => format!("GitHub API: versions of {r}, page {page}"),
        Job::HubRepos(url) => format!("Docker Hub API: {url}"),
        Job::HubTags(r, url) => format!("Docker Hub API: tags of {r} ({url})"),
    }
}

fn fail(path: &str, message: String) -> Error {
    Error::InvalidOperation {
        path: path.to_owned(),
        message,
    }
}

/// A registry answer the protocol does not allow.
fn violation(path: &str, message: String) -> Error {
    Error::ProtocolViolation {
        path: path.to_owned(),
        status: 200,
        message,
    }
}

fn ok(r: &Response, where_: &str) -> Result<()> {
    if r.status == 200 {
        return Ok(());
    }
    let hint = match r.status {
        401 => " (it wants credentials, or refused those sent)",
        403 => " (the credentials do not allow reading this)",
        _ => "",
    };
    Err(Error::from_status(
        where_,
        r.status,
        format!("the registry answered {}{hint}", status_text(r.status)),
    ))
}

/// At most this much JSON from a listing (a registry sending more is refused, not parsed).
const MAX_LISTING: usize = 64 << 20;

fn json<T: serde::de::DeserializeOwned>(r: &Response, where_: &str) -> Result<T> {
    if r.body.len() > MAX_LISTING {
        return Err(violation(
            where_,
            format!(
                "the registry sent {} bytes; the limit is {MAX_LISTING}",
                r.body.len()
            ),
        ));
    }
    crate::field::from_json(&r.body).map_err(|e| violation(where_, e.under("body").to_string()))
}
