//! The command line's grammar as data: commands, their positional arguments and flags, with
//! defaults and help. Both CLIs (Python's `regprune`, Node's `regprune`) parse with this table
//! through [`super::parse`], so they accept, refuse and explain exactly the same things.

use std::fmt::Write as _;

/// How a flag takes its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Takes {
    /// A switch: present or not.
    Switch,
    /// One value (`--flag VALUE` or `--flag=VALUE`), at most once.
    One(&'static str),
    /// A value each time it is given.
    Many(&'static str),
}

/// One flag.
#[derive(Debug)]
pub(crate) struct Flag {
    pub name: &'static str,
    pub short: Option<char>,
    pub takes: Takes,
    pub help: &'static str,
}

/// One command.
#[derive(Debug)]
pub(crate) struct Command {
    pub name: &'static str,
    pub summary: &'static str,
    /// `NAME` and what it is; a trailing `...` takes the rest.
    pub positionals: &'static [(&'static str, &'static str)],
    pub flags: &'static [&'static Flag],
}

const fn flag(name: &'static str, takes: Takes, help: &'static str) -> Flag {
    Flag {
        name,
        short: None,
        takes,
        help,
    }
}

pub(crate) static REGISTRY: Flag = flag(
    "registry",
    Takes::One("URL"),
    "the registry (https://host, or http://127.0.0.1:5000)",
);
pub(crate) static USERNAME: Flag = flag(
    "username",
    Takes::One("USER"),
    "else REGPRUNE_USERNAME, else Docker's config.json",
);
pub(crate) static PASSWORD: Flag = flag(
    "password",
    Takes::One("PASSWORD"),
    "else REGPRUNE_PASSWORD (prefer the environment: argv is visible to other users)",
);
pub(crate) static INSECURE: Flag = flag(
    "insecure",
    Takes::Switch,
    "allow plain HTTP to a host that is not loopback",
);
pub(crate) static CONCURRENCY: Flag = flag(
    "concurrency",
    Takes::One("N"),
    "requests in flight, 1 to 32 (default 8)",
);
pub(crate) static TIMEOUT: Flag = flag(
    "timeout",
    Takes::One("SECONDS"),
    "no byte for this long fails a request, which is retried (default 60)",
);
pub(crate) static DEADLINE: Flag = flag(
    "deadline",
    Takes::One("SECONDS"),
    "one request may take this long in all (default 300)",
);
pub(crate) static OUTPUT: Flag = flag(
    "output",
    Takes::One("text|json"),
    "what to print (default text)",
);
pub(crate) static FLAVOUR: Flag = flag(
    "flavour",
    Takes::One("auto|oci|acr|ghcr|dockerhub"),
    "the registry's API (default auto: detected; ghcr for ghcr.io, dockerhub for Docker Hub)",
);
pub(crate) static HUB_API: Flag = flag(
    "hub-api",
    Takes::One("URL"),
    "Docker Hub: its API (default https://hub.docker.com)",
);
pub(crate) static OWNER: Flag = flag(
    "owner",
    Takes::One("NAME"),
    "GHCR: the user or organisation whose packages to read; Docker Hub: the namespace",
);
pub(crate) static GITHUB_API: Flag = flag(
    "github-api",
    Takes::One("URL"),
    "GHCR: the GitHub REST API (default https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)",
);
pub(crate) static HELP: Flag = Flag {
    name: "help",
    short: Some('h'),
    takes: Takes::Switch,
    help: "show this help",
};
pub(crate) static OUT: Flag = Flag {
    name: "out",
    short: Some('o'),
    takes: Takes::One("FILE"),
    help: "write the snapshot or plan JSON here",
};
pub(crate) static STORAGE: Flag = flag(
    "storage",
    Takes::One("DIR"),
    "read a distribution registry's storage directory instead (untagged manifests, exact sizes)",
);
pub(crate) static REPOSITORY: Flag = flag(
    "repository",
    Takes::Many("NAME"),
    "only this repository (repeat for more)",
);
pub(crate) static SAVE_MANIFESTS: Flag = flag(
    "save-manifests",
    Takes::One("DIR"),
    "save each manifest's bytes (in packs under DIR/packs) for `execute --manifests`",
);
pub(crate) static DECISIONS_ONLY: Flag = flag(
    "decisions-only",
    Takes::Switch,
    "ACR: read only the manifests that decide the plan (indexes, and what it deletes that may be a referrer), as acr purge does: fewer requests, reclaimable bytes an upper bound",
);
pub(crate) static SNAPSHOT: Flag = flag(
    "snapshot",
    Takes::One("FILE"),
    "the snapshot file (plan: else --registry is crawled; execute: refuse a plan that does not follow from it)",
);
pub(crate) static NOW: Flag = flag(
    "now",
    Takes::One("TIME"),
    "RFC 3339 time to plan for (default: now)",
);
pub(crate) static PIN: Flag = flag(
    "pin",
    Takes::Many("DIGEST"),
    "a digest that must survive (repeat for more)",
);
pub(crate) static FIELD: Flag = flag(
    "field",
    Takes::One("lastUpdateTime|createdTime"),
    "delete-older-than and purge: the time compared, the push (lastUpdateTime, default) or the build (createdTime)",
);
pub(crate) static FILTER: Flag = flag(
    "filter",
    Takes::Many("REPO:TAG-REGEX"),
    "purge: which tags (repeat for more)",
);
pub(crate) static AGO: Flag = flag(
    "ago",
    Takes::One("DURATION"),
    "purge: older than this (acr's syntax: 30d, 2d3h6m)",
);
pub(crate) static BEFORE: Flag = flag("before", Takes::One("TIME"), "purge: older than this time");
pub(crate) static KEEP: Flag = flag(
    "keep",
    Takes::One("N"),
    "purge: keep the N most recent matching tags of each repository",
);
pub(crate) static UNTAGGED: Flag = flag(
    "untagged",
    Takes::Switch,
    "purge: also delete manifests left without tags",
);
pub(crate) static YES: Flag = flag("yes", Takes::Switch, "do not ask for confirmation");
pub(crate) static JOURNAL: Flag = flag(
    "journal",
    Takes::One("FILE"),
    "where to record what is deleted, for undo (default regprune-journal.jsonl)",
);
pub(crate) static MANIFESTS: Flag = flag(
    "manifests",
    Takes::One("DIR"),
    "manifests saved by --save-manifests: not fetched again (a crawl), journaled without a GET (execute)",
);
pub(crate) static CACHE: Flag = flag(
    "cache",
    Takes::One("DIR"),
    "a manifest store kept between runs: manifests found there (checked against their digests) are not fetched, those fetched are added (--manifests DIR --save-manifests DIR in one)",
);
pub(crate) static SUMMARY_MD: Flag = flag(
    "summary-md",
    Takes::One("FILE"),
    "also write a Markdown summary here (a CI job summary: totals, bytes per repository, first actions, warnings)",
);
pub(crate) static MAX_DELETIONS: Flag = flag(
    "max-deletions",
    Takes::One("N"),
    "refuse a plan of more than N actions (plan: written for review, exit 2; execute: nothing is sent)",
);
pub(crate) static EXPECT_DIGEST: Flag = flag(
    "expect-digest",
    Takes::One("DIGEST"),
    "refuse the plan unless its digest is this one (the digest that was reviewed or approved)",
);
pub(crate) static LIMIT: Flag = flag(
    "limit",
    Takes::One("N"),
    "text output: list the first N actions and retained items (default 20)",
);
pub(crate) static ALL: Flag = flag(
    "all",
    Takes::Switch,
    "text output: list every action and retained item",
);
pub(crate) static VERBOSE: Flag = Flag {
    name: "verbose",
    short: Some('v'),
    takes: Takes::Switch,
    help:
        "log every request to stderr (method, URL without its query, status, time; never a header)",
};
pub(crate) static RETARGET: Flag = flag(
    "retarget-registry",
    Takes::Switch,
    "run against --registry although the plan or journal was made for another",
);
pub(crate) static RUN: Flag = flag(
    "run",
    Takes::One("ID"),
    "the run to undo (default: the journal's last)",
);
pub(crate) static DRY_RUN: Flag = flag(
    "dry-run",
    Takes::Switch,
    "list what would be restored, change nothing",
);

/// The commands, in help order.
pub(crate) static COMMANDS: &[Command] = &[
    Command {
        name: "snapshot",
        summary: "read a live registry, or its storage directory, into a snapshot",
        positionals: &[],
        flags: &[
            &REGISTRY, &STORAGE, &REPOSITORY, &OUT, &CACHE, &SAVE_MANIFESTS, &MANIFESTS, &USERNAME, &PASSWORD,
            &INSECURE, &FLAVOUR, &OWNER, &GITHUB_API, &HUB_API, &CONCURRENCY, &TIMEOUT, &DEADLINE,
            &OUTPUT, &VERBOSE, &HELP,
        ],
    },
    Command {
        name: "plan",
        summary: "plan an operation against a snapshot file or a live registry",
        positionals: &[(
            "OPERATION...",
            "delete-repo R | delete IMAGE | untag IMAGE | delete-older-than R BEFORE\n    | delete-untagged [R] | retention DAYS ENABLED_AT | purge | acr-purge 'COMMAND' | policy FILE",
        )],
        flags: &[
            &SNAPSHOT, &REGISTRY, &NOW, &PIN, &OUT, &CACHE, &SAVE_MANIFESTS, &MANIFESTS, &DECISIONS_ONLY, &FIELD, &FILTER, &AGO,
            &BEFORE, &KEEP, &UNTAGGED, &USERNAME, &PASSWORD, &INSECURE, &FLAVOUR, &OWNER,
            &GITHUB_API, &HUB_API, &CONCURRENCY, &TIMEOUT, &DEADLINE, &OUTPUT, &LIMIT, &ALL,
            &SUMMARY_MD, &MAX_DELETIONS, &VERBOSE, &HELP,
        ],
    },
    Command {
        name: "execute",
        summary: "carry out a reviewed plan exactly",
        positionals: &[("PLAN", "the plan file (from `plan -o`)")],
        flags: &[
            &REGISTRY, &YES, &JOURNAL, &CACHE, &MANIFESTS, &SNAPSHOT, &EXPECT_DIGEST, &MAX_DELETIONS,
            &RETARGET, &USERNAME, &PASSWORD, &INSECURE, &FLAVOUR, &GITHUB_API, &HUB_API,
            &CONCURRENCY, &TIMEOUT, &DEADLINE, &OUTPUT, &LIMIT, &ALL, &SUMMARY_MD, &VERBOSE,
            &HELP,
        ],
    },
    Command {
        name: "undo",
        summary: "push back what one run of a journal deleted",
        positionals: &[("JOURNAL", "the journal file (from `execute --journal`)")],
        flags: &[
            &REGISTRY, &RUN, &DRY_RUN, &RETARGET, &USERNAME, &PASSWORD, &INSECURE,
            &CONCURRENCY, &TIMEOUT, &DEADLINE, &OUTPUT, &VERBOSE, &HELP,
        ],
    },
];

/// The exit codes, as the help and the README list them.
pub(crate) const EXIT_CODES: &str = "exit codes: 0 done; 1 partial (see the report); 2 refused (bad input, an edited plan, not confirmed);
  3 registry unreachable; 4 access denied (no or wrong credentials, forbidden);
  5 the registry failed (not found, unsupported, rate limited, server error, protocol violation);
  130 interrupted";

/// The help of the whole program.
pub(crate) fn usage() -> String {
    let mut out = String::from("usage: regprune <command> [options]\n\ncommands:\n");
    for c in COMMANDS {
        let _ = writeln!(out, "  {:<10}{}", c.name, c.summary);
    }
    out.push_str("\n`regprune <command> --help` for its options; `regprune --version`.\n\n");
    out.push_str(EXIT_CODES);
    out
}

/// The help of one command.
pub(crate) fn command_help(c: &Command) -> String {
    let mut args = String::new();
    for (n, _) in c.positionals {
        let _ = write!(args, " {n}");
    }
    let mut out = format!(
        "usage: regprune {}{args} [options]\n\n{}\n",
        c.name, c.summary
    );
    for (name, help) in c.positionals {
        let _ = writeln!(out, "\n  {name}\n    {help}");
    }
    out.push_str("\noptions:\n");
    for f in c.flags {
        let short = f.short.map(|s| format!("-{s}, ")).unwrap_or_default();
        let value = match f.takes {
            Takes::Switch => String::new(),
            Takes::One(v) | Takes::Many(v) => format!(" {v}"),
        };
        let _ = writeln!(out, "  {short}--{}{value}\n      {}", f.name, f.help);
    }
    out.push('\n');
    out.push_str(EXIT_CODES);
    out
}
