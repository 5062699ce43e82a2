"""Planning from Python: python bench/plan_python.py SNAPSHOT REQUEST RUNS

Each run: snapshot JSON bytes (already in memory) -> ``regprune.Snapshot`` -> ``.plan`` -> a
``Plan`` object (parse, plan, reclaim and the plan's JSON in the native core, then Python's view
of it); the parsed snapshot is freed after the timer stops (~4% of a run on M), as natively.
Prints {"ns": [...]}.
"""

import json
import sys
import time

import regprune

snapshot_path, request_path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(snapshot_path, "rb") as f:
    data = f.read()
with open(request_path, "rb") as f:
    request = json.load(f)
ns = []
for _ in range(runs):
    started = time.perf_counter_ns()
    # regprune.plan(data, ...) in two steps, so the parsed snapshot is freed after the timer
    # stops, as the native and WASM runs free theirs.
    snapshot = regprune.Snapshot(data)
    plan = snapshot.plan(request["operation"], now=request["now"])
    ns.append(time.perf_counter_ns() - started)
    del snapshot
    actions = len(plan.actions)
    del plan
print(json.dumps({"ns": ns, "actions": actions}))
