"""`make bench`: every benchmark of regprune, side by side in one run, and docs/BENCHMARKS.md.

    python bench/run.py            full run (minutes): S, M, L, XL and the registry, widget
    python bench/run.py --smoke    the same code paths on small inputs (`make bench-smoke`, not
                                   part of `make test`); writes artifacts/bench/BENCHMARKS-smoke.md

Every claim is a ratio of two measurements made in this run, because the machine is shared
and noisy. Times are medians over repeated runs, with min and max. Nothing here asserts a
time; the targets are reported as met or missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "artifacts" / "bench"
NATIVE = ROOT / "target" / "release" / "examples" / "bench"
PYTHON = ROOT / ".venv" / "bin" / "python"
NOW = "2026-01-01T00:00:00Z"

REQUESTS = {
    "purge": {"op": "purge", "filter": [".*:.*"], "ago": "365d", "untagged": True},
    "policy": {
        "op": "policy",
        "policy": {
            "rules": [
                {"name": "keep-releases", "action": "keep", "tags": ["v1", "v1-*"]},
                {
                    "name": "untagged-30d",
                    "action": "delete",
                    "tagState": "untagged",
                    "olderThan": "30d",
                },
                {
                    "name": "old-variants",
                    "action": "delete",
                    "tags": ["v*-*"],
                    "olderThan": "180d",
                    "keepMostRecent": 5,
                },
                {
                    "name": "ancient",
                    "action": "delete",
                    "tagState": "any",
                    "olderThan": "540d",
                    "keepMostRecent": 10,
                },
            ]
        },
    },
}


def run(cmd: list[str], **kw: Any) -> str:
    print("$", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run(
        cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw
    ).stdout


def last_json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def fmt(s: dict[str, float], scale: float = 1e-6, unit: str = "ms") -> str:
    return f"{s['median'] * scale:,.1f} {unit} ({s['min'] * scale:,.1f}–{s['max'] * scale:,.1f}, n={s['n']})"


def verdict(ok: bool) -> str:
    return "met" if ok else "**missed**"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    smoke = args.smoke
    OUT.mkdir(parents=True, exist_ok=True)
    sizes = (
        {"S": 1_000, "M": 10_000}
        if smoke
        else {"S": 1_000, "M": 100_000, "L": 500_000, "XL": 1_000_000}
    )
    runs = {"S": 5, "M": 3} if smoke else {"S": 15, "M": 5, "L": 5, "XL": 5}
    big = ["M"] if smoke else ["L", "XL"]
    binding_sizes = ["M"] if smoke else ["M", "L"]
    started = time.time()

    run(
        [
            "cargo",
            "build",
            "--quiet",
            "--release",
            "--example",
            "bench",
            "-p",
            "regprune-core",
        ]
    )
    for name, op in REQUESTS.items():
        (OUT / f"{name}.json").write_text(json.dumps({"now": NOW, "operation": op}))

    inputs: dict[str, dict[str, Any]] = {}
    for label, n in sizes.items():
        path = OUT / f"snapshot-{n}.json"
        meta = OUT / f"snapshot-{n}.meta.json"
        if not path.exists() or not meta.exists():
            meta.write_text(run([str(NATIVE), "generate", str(n), str(path)]))
        inputs[label] = {
            **json.loads(meta.read_text()),
            "path": path,
            "bytes": path.stat().st_size,
        }

    # 1 and 3: planning against the parse floor, and scaling.
    def plan_timings(label: str, op: str, **kw: Any) -> dict[str, Any]:
        path, request = str(inputs[label]["path"]), str(OUT / f"{op}.json")
        return last_json(
            run([str(NATIVE), "plan", path, request, str(runs[label])], **kw)
        )

    native = {
        (label, op): plan_timings(label, op) for label in sizes for op in REQUESTS
    }
    # The same on one lane: what a one-core machine (or wasm) gets.
    one_lane = {
        (label, op): plan_timings(
            label, op, env={**os.environ, "REGPRUNE_THREADS": "1"}
        )
        for label in ("L", "XL")
        if label in sizes
        for op in REQUESTS
    }

    # 2: peak memory, parsing as the file streams in.
    rss = {
        op: last_json(
            run(
                [
                    str(NATIVE),
                    "rss",
                    str(inputs[big[-1]]["path"]),
                    str(OUT / f"{op}.json"),
                ]
            )
        )
        for op in REQUESTS
    }

    # 4: the bindings (the policy request), against the native core doing the same work.
    bindings: dict[str, dict[str, Any]] = {}
    for label in binding_sizes:
        p, req = str(inputs[label]["path"]), str(OUT / "policy.json")
        py = last_json(
            run([str(PYTHON), "bench/plan_python.py", p, req, str(runs[label])])
        )
        wasm = last_json(
            run(
                [
                    "node",
                    "--max-old-space-size=8192",
                    "bench/plan-wasm.mjs",
                    p,
                    req,
                    str(runs[label]),
                ]
            )
        )
        bindings[label] = {"python": py, "wasm": wasm}
    if not smoke:
        xl = last_json(
            run(
                [
                    "node",
                    "--max-old-space-size=8192",
                    "bench/plan-wasm.mjs",
                    str(inputs["XL"]["path"]),
                    str(OUT / "policy.json"),
                    "1",
                ]
            )
        )
        bindings["XL"] = {"wasm": xl}

    # 5 and 6: the real registry.
    reg_args = (
        [
            "--deletions",
            "200",
            "--rounds",
            "1",
            "--skopeo",
            "10",
            "--repos",
            "5",
            "--tags",
            "40",
        ]
        if smoke
        else ["--deletions", "2000", "--rounds", "5", "--skopeo", "100"]
    )
    run(
        [
            str(PYTHON),
            "bench/registry.py",
            *reg_args,
            "--out",
            str(OUT / "registry.json"),
        ]
    )
    registry = json.loads((OUT / "registry.json").read_text())
    # The same execution rounds against a registry whose Go garbage collector has headroom:
    # what the clients reach when the registry's CPU per request is less of the bound.
    run(
        [
            str(PYTHON),
            "bench/registry.py",
            *reg_args,
            "--gogc",
            "400",
            "--no-crawl",
            "--clients",
            "raw,rawNode,python,node,skopeo",
            "--out",
            str(OUT / "registry-gogc.json"),
        ]
    )
    registry["tuned"] = json.loads((OUT / "registry-gogc.json").read_text())

    # 7: the widget in Chromium.
    widget = last_json(run(["node", "bench/widget.mjs", "3" if smoke else "15"]))

    # The core's stages alone (Criterion).
    micro = micro_benchmarks(smoke)

    report = write_report(
        smoke,
        sizes,
        runs,
        inputs,
        native,
        one_lane,
        rss,
        bindings,
        registry,
        widget,
        micro,
        time.time() - started,
    )
    # 8: side by side with the real acr purge, when ../shared/tools/acr-oracle is here.
    run(
        [str(PYTHON), "bench/acr_side.py", "--json", str(OUT / "acr-side.json")]
        + (
            ["--sizes", "5x100", "--runs", "1"]
            if smoke
            else ["--sizes", "20x500,50x1000", "--runs", "3"]
        )
    )
    import acr_side

    side = json.loads((OUT / "acr-side.json").read_text())
    report += "\n" + acr_side.section(
        {} if "skipped" in side else side, side.get("skipped")
    )
    target = OUT / "BENCHMARKS-smoke.md" if smoke else ROOT / "docs" / "BENCHMARKS.md"
    target.write_text(report)
    print(f"wrote {target.relative_to(ROOT)} in {time.time() - started:.0f} s")


def first_call(ns: list[int], native: float) -> str:
    """The first of a process's calls, and its ratio to the native median."""
    return f"{ns[0] / 1e6:,.0f} ms ({ns[0] / native:.2f}×)"


def write_execution(w: Callable[[str], None], ex: dict[str, Any]) -> None:
    """The execution table and its verdicts, for one registry."""
    rate = {k: statistics.median(v) for k, v in ex["deletesPerSecond"].items()}
    w("| client | deletes/s (median, min–max) | registry CPU per deletion | requests |")
    w("|---|---|---|---|")
    cpu = {k: statistics.median(v) for k, v in ex["registryCpuMsPerDeletion"].items()}
    for k, v in ex["deletesPerSecond"].items():
        s = stats(v)
        w(
            f"| {k} | {s['median']:,.0f} ({s['min']:,.0f}–{s['max']:,.0f}) | {cpu[k]:.2f} ms | {json.dumps(ex['requests'].get(k, {}))} |"
        )
    w("")
    # The ceiling is what the leaner of the two raw clients reaches in this run: on a machine
    # the client shares with the registry, a client that spends less CPU leaves more to the
    # registry, so neither raw client is the ceiling by definition.
    raws = {k: rate[k] for k in ("raw", "rawNode") if k in rate}
    top = max(raws, key=lambda k: raws[k])
    ceiling = raws[top]
    w(
        f"- The ceiling: the faster raw client of this run, {top} ({ceiling:,.0f}/s)"
        + (
            f"; the other, {min(raws, key=lambda k: raws[k])}, reaches {min(raws.values()) / ceiling:.2f}× it."
            if len(raws) > 1
            else "."
        )
    )
    for k in ("python", "node"):
        w(
            f"- {k}: {rate[k] / ceiling:.2f}× the faster raw client; "
            + (
                f"{rate[k] / rate['rawGetDelete']:.2f}× a raw client doing GET + DELETE per manifest; "
                if "rawGetDelete" in rate
                else ""
            )
            + f"{rate[k] / rate['skopeo']:.1f}× skopeo-per-deletion (target ≥ 20: {verdict(rate[k] / rate['skopeo'] >= 20)})."
        )
    if "rawNode" in rate:
        same = {
            "python": rate["python"] / rate["raw"],
            "node": rate["node"] / rate["rawNode"],
        }
        w(
            f"- The goal: each adapter against a raw client on the same HTTP library, in the same run (target ≥ 0.8): "
            f"python {same['python']:.2f}× raw (http.client): {verdict(same['python'] >= 0.8)}; "
            f"node {same['node']:.2f}× rawNode (undici): {verdict(same['node'] >= 0.8)}. Registry CPU per deletion: raw {cpu['raw']:.2f} ms, "
            f"rawNode {cpu['rawNode']:.2f} ms (see the findings: on two cores the client's CPU is taken from the "
            f"registry)."
        )
    sweep = ", ".join(
        f"{r['concurrency']}: {r['deletesPerSecond']:,.0f}/s ({r['registryCores']:.2f} cores)"
        for r in ex["rawByConcurrency"]
    )
    w(
        f"- The ceiling is the registry's: the faster raw client itself is {ceiling / rate['skopeo']:.1f}× skopeo. The "
        f"Python raw client at other concurrencies, once each, with the registry's CPU use: {sweep}; at "
        f"{ex['concurrency']} (median) {rate['raw']:,.0f}/s. A raw `DELETE` costs the registry {cpu['raw']:.2f} ms of "
        f"CPU; skopeo's deletion {cpu['skopeo']:.2f} ms (it also pings the registry and fetches the manifest), and "
        f"most of its {1000 / rate['skopeo']:.1f} ms per deletion is the process starting."
    )
    w("")


def write_report(
    smoke: bool,
    sizes: dict[str, int],
    runs: dict[str, int],
    inputs: dict[str, Any],
    native: dict[tuple[str, str], Any],
    one_lane: dict[tuple[str, str], Any],
    rss: dict[str, Any],
    bindings: dict[str, Any],
    registry: dict[str, Any],
    widget: dict[str, Any],
    micro: dict[str, dict[str, float]],
    seconds: float,
) -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = int(Path("/proc/meminfo").read_text().split()[1]) // 1024 // 1024
    L: list[str] = []
    w = L.append
    w(
        "# Benchmarks"
        + (" (smoke run: small inputs, not the figures of record)" if smoke else "")
    )
    w("")
    w(
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {cpu}, {os.cpu_count()} cores, "
        f"{mem} GiB, {platform.system()} {platform.release()}; rustc release profile (LTO, one codegen unit), "
        f"Python {platform.python_version()}, Node {run(['node', '--version']).strip()}. The whole run took {seconds:.0f} s."
    )
    w("")
    w(
        "Reproduce: `make bench` (this file), or `make bench-smoke` (the same code on small inputs; not part of `make test`). "
        "Each figure is a median over repeated runs with (min–max, n); each target is a ratio of two figures "
        "measured in this same run, never a time asserted by a test."
    )
    w("")
    w(
        "## Inputs: the core's deterministic generator (`regprune_core::generate`, seed 8)"
    )
    w("")
    w("| size | manifests | tags | blob references | repositories | snapshot JSON |")
    w("|---|---:|---:|---:|---:|---:|")
    for label in sizes:
        i = inputs[label]
        w(
            f"| {label} | {i['manifests']:,} | {i['tags']:,} | {i['blobReferences']:,} | {i['repositories']:,} | {i['bytes'] / 1e6:,.1f} MB |"
        )
    w("")
    w(
        "Requests: `purge` = `"
        + json.dumps(REQUESTS["purge"])
        + "`; `policy` = four rules (keep `v1*`, delete untagged "
        "older than 30 days, delete `v*-*` older than 180 days keeping 5, delete anything older than 540 days keeping 10). "
        f"`now` = {NOW}. Both compute reclaim (it is part of every plan) and seal the plan (sha256 of its canonical JSON)."
    )
    w("")

    w("## 1. Planning against the parse floor, and 3. scaling")
    w("")
    w(
        "Floor: `Snapshot::from_json` (serde_json from bytes in memory into the snapshot types). Planning: the "
        "same parse, then graph, selection, graph rules, reclaim and seal (`bench plan`, which alternates the two). "
        "Target 1: ratio ≤ 1.5 on L and XL. Target 3: time per manifest from S to XL grows < 2×."
    )
    w("")
    w(
        "| size | request | actions | parse (floor) | parse + plan + reclaim | ratio | plan → JSON | per manifest |"
    )
    w("|---|---|---:|---|---|---:|---|---:|")
    per: dict[str, dict[str, float]] = {op: {} for op in REQUESTS}
    ratios: dict[tuple[str, str], float] = {}
    for (label, op), d in native.items():
        parse, full, js = (
            stats(d["parseNs"]),
            stats(d["parsePlanReclaimNs"]),
            stats(d["planToJsonNs"]),
        )
        ratio = full["median"] / parse["median"]
        ratios[(label, op)] = ratio
        per[op][label] = full["median"] / inputs[label]["manifests"]
        w(
            f"| {label} | {op} | {d['actions']:,} | {fmt(parse)} | {fmt(full)} | {ratio:.2f} | {fmt(js)} | {per[op][label]:,.0f} ns |"
        )
    w("")
    big = [label for label in ("L", "XL") if label in sizes] or [list(sizes)[-1]]
    for op in REQUESTS:
        worst = max(ratios[(label, op)] for label in big)
        growth = max(per[op].values()) / per[op]["S"]
        w(
            f"- `{op}`: worst ratio on {', '.join(big)} = {worst:.2f} (target ≤ 1.5: {verdict(worst <= 1.5)}); "
            f"time per manifest, largest over S = {growth:.2f}× (target < 2×: {verdict(growth < 2)})."
        )
    if one_lane:
        w(
            "- On one lane (`REGPRUNE_THREADS=1`; the default splits graph, selection, actions and reclaim in lanes "
            "over the cores, and hashes the seal on a second thread): "
            + "; ".join(
                f"{label} `{op}` {stats(d['parsePlanReclaimNs'])['median'] / stats(d['parseNs'])['median']:.2f}"
                for (label, op), d in one_lane.items()
            )
            + "."
        )
    w("")

    w("## 2. Memory")
    w("")
    label = list(sizes)[-1]
    for op, r in rss.items():
        ratio = r["peakRssBytes"] / r["fileBytes"]
        w(
            f"- `{op}` on {label}: peak RSS {r['peakRssBytes'] / 1e9:.2f} GB for a {r['fileBytes'] / 1e9:.2f} GB snapshot "
            f"= {ratio:.2f}× (target ≤ 1.5×: {verdict(ratio <= 1.5)}); {r['peakRssBytes'] / inputs[label]['manifests']:,.0f} bytes "
            f"per manifest (with its tags and blob references), {r['actions']:,} actions."
        )
    w("")
    w(
        "Measured by `bench rss`: `Snapshot::from_reader` on a buffered file (the JSON text is never in memory "
        "whole), then the plan; peak from `VmHWM`."
    )
    w("")

    w("## 4. Bindings (the `policy` request)")
    w("")
    w(
        "Same work in each: snapshot JSON bytes in memory → parsed → plan with reclaim and seal → the plan's JSON. "
        "Native: the medians of `parse + plan + reclaim` and `plan → JSON` above. Python: `regprune.Snapshot(bytes).plan(...)` "
        "returning a `Plan` (its fields are built from the JSON when first read). WASM: `new LoadedSnapshot(bytes).planJson(...)` "
        "in Node. Each side frees the parsed snapshot after its timer stops. Targets: Python ≤ 1.2×, WASM ≤ 2.5× native. Each binding runs its calls in one process; "
        "the first call in a fresh process is reported apart (WASM's runs code the engine has not "
        "optimized yet; see the findings)."
    )
    w("")
    w(
        "| size | native | Python | ratio | Python first call | WASM (Node) | ratio | WASM first call |"
    )
    w("|---|---|---|---:|---:|---|---:|---:|")
    py_ratios: list[float] = []
    wasm_ratios: list[float] = []
    measured: list[str] = []
    for label, b in bindings.items():
        if label not in sizes or "python" not in b:
            continue
        d = native[(label, "policy")]
        nat = statistics.median(d["parsePlanReclaimNs"]) + statistics.median(
            d["planToJsonNs"]
        )
        py = stats(b["python"]["ns"])
        wa = b["wasm"]
        wcell, wratio, wfirst = (
            ("failed: " + wa["error"], "–", "–")
            if "error" in wa
            else (
                fmt(stats(wa["ns"])),
                f"{statistics.median(wa['ns']) / nat:.2f}",
                first_call(wa["ns"], nat),
            )
        )
        w(
            f"| {label} | {nat / 1e6:,.1f} ms | {fmt(py)} | {py['median'] / nat:.2f} | "
            f"{first_call(b['python']['ns'], nat)} | {wcell} | {wratio} | {wfirst} |"
        )
        py_ratios.append(py["median"] / nat)
        measured.append(label)
        if "error" not in wa:
            wasm_ratios.append(statistics.median(wa["ns"]) / nat)
    w("")
    if py_ratios:
        w(
            f"- Python: worst ratio on {', '.join(measured)} = {max(py_ratios):.2f} (target ≤ 1.2: {verdict(max(py_ratios) <= 1.2)})."
        )
    if wasm_ratios:
        w(
            f"- WASM in Node: worst ratio on {', '.join(measured)} = {max(wasm_ratios):.2f} (target ≤ 2.5: {verdict(max(wasm_ratios) <= 2.5)})."
        )
    if "XL" in bindings:
        wa = bindings["XL"]["wasm"]
        w("")
        w(
            "XL in WASM: "
            + (
                f"failed: `{wa['error']}`"
                if "error" in wa
                else f"{statistics.median(wa['ns']) / 1e6:,.0f} ms"
            )
            + " (wasm32 addresses 4 GiB: the snapshot's bytes, copied into linear memory, plus the parsed snapshot and the plan must fit)."
        )
    w("")

    ex = registry["execution"]
    w("## 5. Execution against the real registry")
    w("")
    w(
        f"Debian's `docker-registry` (CNCF distribution) on 127.0.0.1, filesystem storage, deletes enabled. Each round "
        f"pushes {ex['deletions']:,} fresh manifests, plans their deletion from the storage directory, deletes them with "
        f"one client at concurrency {ex['concurrency']}, and checks every planned manifest is gone. The Python and Node "
        f"adapters run as a user does after `plan --save-manifests DIR`: `execute --manifests DIR` journals the saved "
        f"bytes (checked against their digests) instead of fetching each manifest (the crawl itself is not timed). "
        f"raw: a minimal client in Python, no regprune (http.client, one keep-alive connection per thread, "
        f"{ex['concurrency']} threads). "
        f"rawGetDelete: a raw client that also GETs each manifest, as an execution without saved manifests does. "
        f"rawNode: the raw client written in Node on the adapter's HTTP library (undici's request on a keep-alive Agent), no regprune: "
        f"what any Node client reaches here. "
        f"skopeo: one `skopeo delete` process per deletion, started by `xargs` as the seed's script starts `az`, on "
        f"{ex['skopeoSample']} deletions per round. The registry's CPU per deletion is read from its `/proc/PID/stat` "
        f"around each client's run."
    )
    w("")
    write_execution(w, ex)
    tuned = registry.get("tuned")
    if tuned:
        tex = tuned["execution"]
        w(f"### The same registry with `GOGC={tuned['gogc']}`")
        w("")
        w(
            f"The registry above runs as Debian ships it, and it bounds every client: its CPU per `DELETE` is the "
            f"ceiling. Most of what it spends beyond the request itself is Go's garbage collector (GOGC, the heap "
            f"growth allowed between collections, is 100 by default): with `GOGC={tuned['gogc']}` in its environment, "
            f"an operator's setting that trades a little memory for CPU, the same registry serves each `DELETE` with "
            f"less CPU and the ceiling rises. A second registry, started so, runs the same rounds with "
            f"{', '.join(tex['deletesPerSecond'])}: what the clients reach when the registry is less of the bound."
        )
        w("")
        write_execution(w, tex)

    cr = registry["crawl"]
    rps = {k: statistics.median(v) for k, v in cr["requestsPerSecond"].items()}
    w("## 6. Crawl")
    w("")
    w(
        f"{cr['repositories']} repositories × {cr['tagsPerRepository']} tags ({cr['distinctManifests']:,} distinct manifests, two tags each). "
        f"Python's requests: {json.dumps(cr['python']['requests'])}; manifest GETs {cr['python']['manifestGets']:,} for "
        f"{cr['distinctManifests']:,} distinct digests ({verdict(cr['python']['manifestGets'] <= cr['distinctManifests'])}: at most one per digest; "
        f"the other GETs are tag lists and image configs). Node's: {json.dumps(cr['node']['requests'])}. "
        "The raw ceiling replays Python's exact request list with the same concurrency."
    )
    w("")
    for k in ("python", "node"):
        w(
            f"- {k}: {rps[k]:,.0f} requests/s = {rps[k] / rps['raw']:.2f}× the raw {rps['raw']:,.0f}/s (target ≥ 0.8: {verdict(rps[k] / rps['raw'] >= 0.8)})."
        )
    w("")

    w("## 7. Widget")
    w("")
    w(
        "`<regprune-preview>` in headless Chromium on the generated 10,000-manifest registry. Each edit is timed "
        "from the change to the frame that shows its preview (totals, warnings, the first page of 50 items: the worker "
        "plans, keeps the plan and sends only what is shown), and to the arrival of its sealed plan (the worker "
        "seals it next and transfers its JSON bytes); the worker's times and the main thread's render are read "
        "from the element. Two requests: the worst case, an `acrPurge` of every tag older than N days with "
        "`untagged` (tens of thousands of actions, a ~10 MB plan), and a typical cleanup, untagged manifests older "
        "than N days. Target: median edit → preview under 50 ms."
    )
    w("")
    w(
        "| request | actions | edit → preview painted | worker (plan + page) | main thread (render) | "
        "edit → sealed plan | worker (seal + JSON) | target |"
    )
    w("|---|---:|---|---|---|---|---|---|")
    for name, case in widget.items():
        e2e, wk, rd, sealed, seal = (
            stats(case["endToEndMs"]),
            stats(case["workerMs"]),
            stats(case["renderMs"]),
            stats(case["sealedMs"]),
            stats(case["sealMs"]),
        )
        w(
            f"| {name} | {case['actions']:,} | {fmt(e2e, 1, 'ms')} | {fmt(wk, 1, 'ms')} | {fmt(rd, 1, 'ms')} | "
            f"{fmt(sealed, 1, 'ms')} | {fmt(seal, 1, 'ms')} | {verdict(e2e['median'] < 50)} |"
        )
    w("")
    write_micro(w, micro)
    w("")
    w((ROOT / "bench" / "FINDINGS.md").read_text().rstrip())
    return "\n".join(L) + "\n"


def micro_benchmarks(smoke: bool) -> dict[str, dict[str, float]]:
    """Runs `bench/micro/micro.rs` and reads each benchmark's median and its 95% interval
    (nanoseconds) from Criterion's `new/` results, keyed by the benchmark's full id."""
    results = ROOT / "target" / "criterion"
    shutil.rmtree(results, ignore_errors=True)
    args = ["cargo", "bench", "--quiet", "-p", "regprune-micro", "--bench", "micro"]
    run(args + (["--", "--quick"] if smoke else []))
    out = {}
    for meta in results.glob("**/new/benchmark.json"):
        estimates = json.loads((meta.parent / "estimates.json").read_text())["median"]
        out[json.loads(meta.read_text())["full_id"]] = {
            "median": estimates["point_estimate"],
            "low": estimates["confidence_interval"]["lower_bound"],
            "high": estimates["confidence_interval"]["upper_bound"],
        }
    return out


def write_micro(w: Any, micro: dict[str, dict[str, float]]) -> None:
    def ms(key: str) -> str:
        m = micro[key]
        return f"{m['median'] / 1e6:,.2f} ms ({m['low'] / 1e6:,.2f}–{m['high'] / 1e6:,.2f})"

    w("## Micro-benchmarks: the core's stages (Criterion)")
    w("")
    w(
        "`cargo bench -p regprune-micro --bench micro` on the generated 10,000-manifest registry (seed 8), "
        "the snapshot already parsed: medians with their 95% confidence interval. One-shot: `plan()` "
        "(graph, selection, reclaim, seal); re-plan: `IndexedSnapshot::plan`, which keeps the graph and the "
        "blob numbering between plans (what the widget's worker does on each edit); reclaim: `reclaim()` of "
        "the plan on its own; JSON: `Plan::to_json` (the plan writer) against `serde_json::to_string` of the "
        "same plan (the derive), which must write the same bytes."
    )
    w("")
    parse = micro["parse/snapshot"]
    w(
        f"Parsing the snapshot: {ms('parse/snapshot')}; one sha256 digest: "
        f"{micro['digest/parse']['median']:,.0f} ns."
    )
    w("")
    w(
        "| request | one-shot | re-plan | reclaim | JSON: writer | JSON: serde | serde / writer |"
    )
    w("|---|---|---|---|---|---|---:|")
    for name in ("purge", "policy", "widget-worst", "widget-typical"):
        writer, serde = micro[f"json/{name}/writer"], micro[f"json/{name}/serde"]
        w(
            f"| {name} | {ms(f'plan/{name}/one-shot')} | {ms(f'plan/{name}/re-plan')} | "
            f"{ms(f'plan/{name}/reclaim')} | {ms(f'json/{name}/writer')} | {ms(f'json/{name}/serde')} | "
            f"{serde['median'] / writer['median']:.2f} |"
        )
    worst = micro["plan/widget-worst/re-plan"]["median"]
    w("")
    w(
        f"- The widget's worst case re-plans in {worst / 1e6:.1f} ms natively, "
        f"{worst / parse['median']:.2f}× parsing the whole snapshot: building its tens of thousands of "
        "actions, not the JSON, is most of the worker's time."
    )
    small, large = micro["execute/1000"]["median"], micro["execute/8000"]["median"]
    w(
        f"- Executing (the machine's own work against an in-memory registry, saved manifests handed "
        f"over): one repository of 2n tagged manifests, deleting the n old ones, n = 1,000: "
        f"{small / 1000 / 1e3:.1f} µs per deletion; n = 8,000: {large / 8000 / 1e3:.1f} µs "
        f"({large / 8 / small:.2f}× per deletion; the drift check and the journal read a manifest's tags "
        "from an index, not from every tag of the repository)."
    )


if __name__ == "__main__":
    main()
