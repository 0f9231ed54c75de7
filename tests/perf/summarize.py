#!/usr/bin/env python3
"""Summarizes repeated runs of reference_workloads.sh / cluster_reference_workloads.sh.

Usage: python3 tests/perf/summarize.py RUN_OUTPUT...   (one file per run)

Each file holds one run's output: s3bench.py RESULT lines or `cairn bench --json` lines,
in workload order, each optionally followed by "CLIENT cpu_s=U+S" and
"SERVER cpu_s=X peak_rss_mib=Y" lines. Prints a markdown table: for every workload the
median (min-max) of the throughput (MiB/s for the 1 MiB and 256 MiB cases, ops/s for
4 KiB), the server CPU seconds and peak RSS, and the client CPU seconds.
"""
import json
import re
import statistics
import sys

CASES = ["a-put 1 MiB", "a-get 1 MiB", "b-put 4 KiB", "b-get 4 KiB", "c-put 256 MiB", "c-get 256 MiB"]


def parse(path):
    rows = []
    for line in open(path):
        line = line.strip()
        if line.startswith("RESULT"):
            kv = dict(p.split("=", 1) for p in line.split()[1:])
            small = kv["size"] == "4KiB"
            rows.append({"value": float(kv["ops_s"] if small else kv["mb_s"])})
        elif line.startswith("{"):
            d = json.loads(line)
            small = d["size"] <= 4096
            rows.append({"value": d["ops_s"] if small else d["mib_s"],
                         "client_cpu": d["cpu_user_s"] + d["cpu_sys_s"]})
        elif line.startswith("CLIENT") and rows:
            u, s = re.search(r"cpu_s=([\d.]+)\+([\d.]+)", line).groups()
            rows[-1]["client_cpu"] = float(u) + float(s)
        elif line.startswith("SERVER") and rows:
            m = re.search(r"cpu_s=([\d.]+) peak_rss_mib=(\d+)", line)
            rows[-1]["server_cpu"] = float(m.group(1))
            rows[-1]["rss"] = int(m.group(2))
    return rows


def cell(values, fmt="{:.1f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main():
    runs = [parse(p) for p in sys.argv[1:]]
    print(f"runs: {len(runs)}")
    print("| case | throughput | server CPU s | server peak RSS MiB | client CPU s |")
    print("|---|---|---|---|---|")
    for i, case in enumerate(CASES):
        rows = [r[i] for r in runs if len(r) > i]
        print(f"| {case} | {cell([r['value'] for r in rows])} "
              f"| {cell([r.get('server_cpu') for r in rows], '{:.2f}')} "
              f"| {cell([r.get('rss') for r in rows], '{:.0f}')} "
              f"| {cell([r.get('client_cpu') for r in rows], '{:.2f}')} |")


if __name__ == "__main__":
    main()
