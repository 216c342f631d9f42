#!/usr/bin/python3
"""Markdown tables (docs/reliability.md) from one photonicd_soak JSON report.

    build/tests/soak/photonicd_soak --seconds 1800 --json soak.json
    tests/soak/soak_table.py soak.json > tables.md
"""
import json
import sys


def main(path):
    r = json.load(open(path))
    out = []
    out.append(f"Run: {r['seconds']:.0f} s, {r['clients']} clients, seed {r['seed']}, "
               f"full-disk tmpfs {'yes' if r['full_disk_tmpfs'] else 'no'}.\n")

    out.append("**Requests by kind** (daemon/kind: answers by status code; max latency)\n")
    out.append("| Request | Answers | OK | Refused or failed (by code) | Max ms |")
    out.append("|---|---:|---:|---|---:|")
    for kind, codes in sorted(r["requests"].items()):
        max_ms = codes.pop("max_ms")
        total = sum(codes.values())
        others = ", ".join(f"{c} {n}" for c, n in sorted(codes.items()) if c != "OK")
        out.append(f"| {kind} | {total} | {codes.get('OK', 0)} | {others} | {max_ms:.0f} |")
    total = sum(sum(v for k, v in c.items() if k != "max_ms") for c in r["requests"].values())
    out.append(f"| **all** | **{total}** | | | |\n")

    out.append("**Faults injected** and daemon restarts\n")
    out.append("| Fault | Count |")
    out.append("|---|---:|")
    for kind, n in sorted(r["faults"].items()):
        out.append(f"| {kind} | {n} |")
    out.append(f"| **restarts** (serial / sim) | {r['restarts']['serial']} / "
               f"{r['restarts']['sim']} |\n")

    out.append("**Invariants**\n")
    out.append("| Check | Result |")
    out.append("|---|---|")
    violations = r["violations"]
    out.append(f"| violations | {sum(violations.values())}"
               + (" (" + ", ".join(f"{k}: {v}" for k, v in violations.items()) + ")"
                  if violations else "") + " |")
    f = r["figures"]
    for key in sorted(f):
        if key.startswith("lost_steps/"):
            out.append(f"| session steps lost at {key.split('/')[1]} (lower bound) | "
                       f"max {f[key]['max']:.0f}, total {f[key]['sum']:.0f} over "
                       f"{f[key]['count']} kills |")
    m = r["marathons"]
    out.append(f"| marathon sessions bit-identical to the uninterrupted run | "
               f"{m['identical']} of {m['compared']} |")
    for key in sorted(f):
        if key.startswith("time_to_safe_ms/"):
            out.append(f"| time to the safe state after {key.split('/')[1]} | "
                       f"max {f[key]['max']:.0f} ms, mean {f[key]['sum'] / f[key]['count']:.0f} ms "
                       f"({f[key]['count']}×) |")
    if "max_total_heater_power_mw" in f:
        out.append(f"| highest chip-wide heater power seen by the audit | "
                   f"{f['max_total_heater_power_mw']['max']:.1f} mW |")
    if "max_heater_current_ma" in f:
        out.append(f"| highest heater current seen by the audit | "
                   f"{f['max_heater_current_ma']['max']:.2f} mA (limit 10 mA) |")
    for daemon, lat in sorted(r["read_latency_ms"].items()):
        out.append(f"| ReadDetectors latency, {daemon} daemon | p50 {lat['p50']:.2f} ms, "
                   f"p99 {lat['p99']:.2f} ms, max {lat['max']:.0f} ms ({lat['count']} reads) |")
    out.append("")

    out.append("**Memory and descriptors** (each daemon's longest life, after 5 s of warm-up)\n")
    out.append("| Daemon | Lives | Longest life s | RSS first → last (kB) | Growth kB/min | fds first → last |")
    out.append("|---|---:|---:|---|---:|---|")
    for daemon, fp in sorted(r["footprint"].items()):
        minutes = max(fp["longest_life_s"] - 5, 1) / 60
        growth = (fp["rss_kb_last"] - fp["rss_kb_first"]) / minutes
        out.append(f"| {daemon} | {fp['lives']} | {fp['longest_life_s']:.0f} | "
                   f"{fp['rss_kb_first']} → {fp['rss_kb_last']} | {growth:.0f} | "
                   f"{fp['fds_first']} → {fp['fds_last']} |")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "soak.json")
