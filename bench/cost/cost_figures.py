#!/usr/bin/env python3
"""Turns scripts/bench-cost's callgrind dumps into instructions per connect and per delivery.

Input: RUNS/<label>/shards-<T>/run-<R>/NN-<scenario>.cg (one callgrind dump per scenario) and
.json (ringcast-bench's record of it). Prints the table; with --out, also writes cost.json and
cost.md there, with the functions that take the most instructions per connect and per delivery.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

SHIM = "valgrind_wait.so"  # bench/cost/valgrind_wait.c, built by scripts/bench-cost

FIGURES = [
    # key, what the table calls it, the scenario (pair) it comes from
    ("connect", "connect + subscribe + close", "02-connect"),
    ("delivery_low_rate", "delivery, one event at a time", "03-low"),
    ("delivery_high_rate", "delivery, 16 events in flight", "04-high"),
    ("whisper_delivery", "client event delivered (whisper, pairs)", "05-whisper"),
    # From the low-rate pairs at N and N/4 subscribers: cost per event = fixed + N x marginal.
    ("event_fixed", "event published, fixed part (HTTP API request)", "03-low, 06-small"),
    ("delivery_marginal", "delivery, each further subscriber", "03-low, 06-small"),
]
PAIRS = [("delivery_low_rate", "03-low"), ("delivery_high_rate", "04-high"), ("whisper_delivery", "05-whisper"),
         ("small", "06-small")]


def dump_total(path):
    """The instructions a dump holds: its summary (or totals) line, less what the wait shim's
    wrappers run before and after they switch the counting off (a few client requests per wait,
    as many as the loop's waits, which depend on timing)."""
    total = None
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                total = int(line.split()[1])
                break
    if total is None:
        raise SystemExit(f"bench-cost: no total in {path}")
    shim = sum(v for k, v in self_costs(path).items() if k.startswith(SHIM + ":"))
    return total - shim


def short_name(name):
    """A C++ function name without its parameter list (the overloads in question are few)."""
    name = name.strip()
    if name.endswith(" const"):
        name = name[: -len(" const")]
    if name.endswith(")") and not name.endswith("operator()"):
        depth = 0
        for i in range(len(name) - 1, -1, -1):
            if name[i] == ")":
                depth += 1
            elif name[i] == "(":
                depth -= 1
                if depth == 0:
                    return name[:i]
    return name


def self_costs(path):
    """Instructions spent in each function itself (not its callees), by 'object: function'."""
    names, objects = {}, {}
    costs = Counter()
    current, current_ob, skip_next = None, "?", False

    def compressed(table, text):
        m = re.match(r"\((\d+)\)(?: (.*))?$", text)
        if not m:
            return text
        if m.group(2) is not None:
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), m.group(1))

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("ob="):
                current_ob = compressed(objects, line[3:])
            elif line.startswith("cob="):
                compressed(objects, line[4:])
            elif line.startswith("fn="):
                current = f"{os.path.basename(current_ob)}: {short_name(compressed(names, line[3:]))}"
            elif line.startswith("cfn="):
                compressed(names, line[4:])
            elif line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) >= 2 and not skip_next:
                    costs[current] += int(parts[1])
                skip_next = False
    return costs


def bench_record(path):
    with open(path) as f:
        record = json.load(f)
    figures = record["figures"]
    problems = []
    if record.get("error"):
        problems.append(record["error"])
    for key in ("lost", "duplicated", "failed"):
        if figures.get(key):
            problems.append(f"{key} {figures[key]}")
    if problems:
        raise SystemExit(f"bench-cost: {path}: {'; '.join(problems)}")
    return figures


def run_figures(run_dir):
    """Instructions per unit for each figure in one round, and the divisors used."""
    out = {}
    n = bench_record(run_dir / "02-connect.json")["established"]
    out["connect"] = (dump_total(run_dir / "02-connect.cg") / n, n)
    events = {}
    for key, prefix in PAIRS:
        r1, r2 = bench_record(run_dir / f"{prefix}-1.json"), bench_record(run_dir / f"{prefix}-2.json")
        d = r2["deliveries"] - r1["deliveries"]
        out[key] = ((dump_total(run_dir / f"{prefix}-2.cg") - dump_total(run_dir / f"{prefix}-1.cg")) / d, d)
        if "events_sent" in r1:
            # Every subscriber gets every event: deliveries per event is the subscriber count.
            events[key] = (out[key][0], d / (r2["events_sent"] - r1["events_sent"]))
    (per_big, n_big), (per_small, n_small) = events["delivery_low_rate"], events["small"]
    marginal = (per_big * n_big - per_small * n_small) / (n_big - n_small)
    out["delivery_marginal"] = (marginal, n_big - n_small)
    out["event_fixed"] = (per_big * n_big - marginal * n_big, 1)
    del out["small"]
    return out


def top_functions(run_dir, count=10):
    """The functions with the most instructions per unit, for each figure, in one round."""
    tops = {}
    n = bench_record(run_dir / "02-connect.json")["established"]
    per = {k: v / n for k, v in self_costs(run_dir / "02-connect.cg").items()}
    tops["connect"] = per
    for key, prefix in PAIRS[:3]:
        d = bench_record(run_dir / f"{prefix}-2.json")["deliveries"] - bench_record(
            run_dir / f"{prefix}-1.json"
        )["deliveries"]
        a, b = self_costs(run_dir / f"{prefix}-1.cg"), self_costs(run_dir / f"{prefix}-2.cg")
        tops[key] = {k: (b[k] - a[k]) / d for k in set(a) | set(b)}
    for per_function in tops.values():
        for k in [k for k in per_function if k.startswith(SHIM + ":")]:
            del per_function[k]
    return {k: sorted(v.items(), key=lambda kv: -kv[1])[:count] for k, v in tops.items()}


def describe_binary(path):
    """What the record says of a binary: its digest, version and, if it sits in a meson build
    directory, that directory's build options."""
    info = {"path": path}
    with open(path, "rb") as f:
        info["sha256"] = hashlib.sha256(f.read()).hexdigest()
    try:
        info["version"] = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    build_dir = Path(path).resolve().parent.parent
    if (build_dir / "meson-info").is_dir():
        try:
            options = json.loads(
                subprocess.run(
                    ["meson", "introspect", str(build_dir), "--buildoptions"],
                    capture_output=True, text=True, timeout=60,
                ).stdout
            )
            wanted = {"buildtype", "optimization", "debug", "b_lto", "b_ndebug", "b_pgo", "b_sanitize",
                      "cpp_args", "cpp_std", "tests", "benchmarks"}
            info["build_options"] = {o["name"]: o["value"] for o in options if o["name"] in wanted}
            # Relative to the checkout when it is in it: the record should not name a home.
            cwd = Path.cwd().resolve()
            info["build_dir"] = str(build_dir.relative_to(cwd)) if build_dir.is_relative_to(cwd) else str(build_dir)
        except (OSError, ValueError, subprocess.SubprocessError):
            pass
    return info


def git_state():
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except OSError:
        return {}


def spread(values):
    med = statistics.median(values)
    return (max(values) - min(values)) / med * 100 if med else 0.0


def spread_text(values):
    """The spread for a table: none from one run."""
    return f"{spread(values):.1f} %" if len(values) > 1 else "—"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runs")
    ap.add_argument("--binary", action="append", default=[])  # LABEL=PATH
    ap.add_argument("--connections", type=int)
    ap.add_argument("--low-events")
    ap.add_argument("--high-events")
    ap.add_argument("--whisper-seconds")
    ap.add_argument("--seconds", type=int)
    ap.add_argument("--out")
    args = ap.parse_args()

    binaries = dict(b.split("=", 1) for b in args.binary)
    labels = list(binaries)
    results = {}  # label -> shards -> figure -> [values]
    divisors = {}
    for label in labels:
        for shards_dir in sorted((Path(args.runs) / label).glob("shards-*")):
            shards = int(shards_dir.name.split("-")[1])
            for run_dir in sorted(shards_dir.glob("run-*")):
                for key, (value, divisor) in run_figures(run_dir).items():
                    results.setdefault(label, {}).setdefault(shards, {}).setdefault(key, []).append(value)
                    divisors[key] = divisor

    lines = []
    if len(labels) == 2:
        a, b = labels
        # A ratio inside the runs' spread is no change; one run has no spread to judge by.
        lines.append("| instructions per | shards | A | A spread | B | B spread | B / A |")
        lines.append("|---|---:|---:|---:|---:|---:|---:|")
        for shards in sorted(results[a]):
            for key, title, _ in FIGURES:
                ra, rb = results[a][shards][key], results[b][shards][key]
                va, vb = statistics.median(ra), statistics.median(rb)
                lines.append(f"| {title} | {shards} | {va:,.0f} | {spread_text(ra)} | {vb:,.0f} | "
                             f"{spread_text(rb)} | {vb / va:.3f} |")
    else:
        label = labels[0]
        lines.append("| instructions per | shards | median | runs | spread |")
        lines.append("|---|---:|---:|---|---:|")
        for shards in sorted(results[label]):
            for key, title, _ in FIGURES:
                values = results[label][shards][key]
                runs = ", ".join(f"{v:,.0f}" for v in values)
                lines.append(f"| {title} | {shards} | {statistics.median(values):,.0f} | {runs} | "
                             f"{spread_text(values)} |")
    table = "\n".join(lines)
    print(table)

    if not args.out:
        return
    out = Path(args.out)
    first = {label: sorted((Path(args.runs) / label).glob("shards-*/run-1")) for label in labels}
    tops = {label: {d.parent.name: top_functions(d) for d in dirs} for label, dirs in first.items()}
    record = {
        "what": "user-space instructions executed by ringcast (callgrind Ir) per unit of work",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "kernel": platform.release(),
        "cores": os.cpu_count(),
        "valgrind": subprocess.run(["valgrind", "--version"], capture_output=True, text=True).stdout.strip(),
        "git": git_state(),
        "binaries": {label: describe_binary(path) for label, path in binaries.items()},
        "scenario": {
            "connections": args.connections,
            "payload_bytes": 64,
            "low_rate_events": args.low_events,
            "high_rate_events": args.high_events,
            "high_rate_window": 16,
            "whisper_seconds": args.whisper_seconds,
            "whisper_rate_per_connection": 10,
            "small_fanout_connections": args.connections // 4 if args.connections else None,
        },
        "divisors": divisors,
        "seconds": args.seconds,
        "figures": {
            label: {
                str(shards): {
                    key: {"runs": values, "median": statistics.median(values), "spread_percent": spread(values)}
                    for key, values in figs.items()
                }
                for shards, figs in per_shards.items()
            }
            for label, per_shards in results.items()
        },
        "top_functions": {
            label: {s: {k: [[name, round(v, 1)] for name, v in rows] for k, rows in t.items()} for s, t in per.items()}
            for label, per in tops.items()
        },
    }
    (out / "cost.json").write_text(json.dumps(record, indent=2) + "\n")
    md = [f"# Instructions per unit of work ({record['date']})", ""]
    git = record["git"]
    md.append(f"`scripts/bench-cost`, {record['valgrind']}, kernel {record['kernel']}, commit "
              f"{git.get('commit', '?')[:12]}{' (with uncommitted changes)' if git.get('dirty') else ''}; "
              f"{args.connections} connections, 64-byte events; {args.seconds} s.")
    for label, info in record["binaries"].items():
        opts = ", ".join(f"{k}={v}" for k, v in sorted(info.get("build_options", {}).items()))
        md.append(f"- {label}: `{info['path']}` sha256 {info['sha256'][:16]}… {opts}")
    md += ["", table, ""]
    titles = {key: title for key, title, _ in FIGURES}
    for label, per in tops.items():
        for shards_name, t in per.items():
            for key, rows in t.items():
                md.append(f"## Top functions per {titles[key]} ({label}, {shards_name}, run 1, self cost)")
                md.append("")
                md.append("| instructions | function |")
                md.append("|---:|---|")
                md += [f"| {v:,.0f} | `{name}` |" for name, v in rows]
                md.append("")
    (out / "cost.md").write_text("\n".join(md))


if __name__ == "__main__":
    sys.exit(main())
