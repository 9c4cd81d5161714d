#!/usr/bin/env python3
"""Table, ratios and the issue's goals from bench/run.sh's results.tsv.

  report.py RESULTS.tsv [--max-inflight 1G] [--lowmem-inflight 128M]

Medians over the runs that copied everything (status ok); failed runs are
counted and listed, never timed. Runs during which the hypervisor took the
CPU (status stolen, repeated by run.sh) are listed, neither counted nor timed.
MB = 10^6 bytes; RSS in MiB.
"""
import argparse
import csv
import statistics
import sys

MiB = 1 << 20


def size(text):
    t = text.strip().upper().replace("IB", "").rstrip("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return int(t[:-1]) * mult[t[-1]] if t and t[-1] in mult else int(t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--max-inflight", default="1G")
    ap.add_argument("--lowmem-inflight", default="128M")
    a = ap.parse_args()
    inflight = {"rgw2cloud": size(a.max_inflight), "rgw2cloud-lowmem": size(a.lowmem_inflight)}

    rows = list(csv.DictReader(open(a.results), delimiter="\t"))
    # run 0 is the warm-up copy of each dataset: shown, never counted
    warm = [r for r in rows if r["run"] == "0"]
    stolen = [r for r in rows if r["run"] != "0" and r["status"] == "stolen"]
    rows = [r for r in rows if r["run"] != "0" and r["status"] != "stolen"]
    order, by = [], {}
    for r in rows:
        k = (r["dataset"], r["tool"])
        if k not in by:
            order.append(k)
            by[k] = []
        by[k].append(r)

    stats = {}
    for k in order:
        ok = [r for r in by[k] if r["status"] == "ok"]
        failed = [r for r in by[k] if r["status"] != "ok"]
        s = {"runs": len(by[k]), "ok": len(ok), "failed": failed}
        if ok:
            ds = k[0]
            tput = []
            for r in ok:
                w = float(r["wall_s"])
                tput.append(int(r["bytes"]) / 1e6 / w if ds == "large" else int(r["objects"]) / w)
            cpu = [float(r["user_s"]) + float(r["sys_s"]) for r in ok]
            s.update(
                tput=statistics.median(tput),
                tput_all=tput,
                wall=statistics.median(float(r["wall_s"]) for r in ok),
                cpu=statistics.median(cpu),
                cpu_obj_ms=statistics.median(c / int(r["objects"]) * 1000 for c, r in zip(cpu, ok)),
                rss=statistics.median(int(r["maxrss_kb"]) * 1024 for r in ok),
                labs=statistics.median(float(r.get("labs_cpu_s") or 0) for r in ok),
                foreign=statistics.median(float(r.get("foreign_cpu_s") or 0) for r in ok),
                steal=statistics.median(float(r.get("steal_s") or 0) for r in ok),
            )
            inits = [float(r["init_s"]) for r in ok if r.get("init_s")]
            if inits:
                s["init"] = statistics.median(inits)
        stats[k] = s

    unit = {"large": "MB/s", "small": "obj/s"}
    print("| dataset | tool | ok/runs | median throughput | (all runs) | median wall s "
          "| median CPU s | CPU ms/object | median peak RSS MiB | servers' CPU s | others' CPU s "
          "| stolen CPU s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k in order:
        s = stats[k]
        if not s["ok"]:
            print(f"| {k[0]} | {k[1]} | 0/{s['runs']} | FAILED | | | | | | | | |")
            continue
        alls = " ".join(f"{t:.0f}" for t in s["tput_all"])
        print(f"| {k[0]} | {k[1]} | {s['ok']}/{s['runs']} | {s['tput']:.1f} {unit[k[0]]} | {alls} "
              f"| {s['wall']:.2f} | {s['cpu']:.2f} | {s['cpu_obj_ms']:.3f} | {s['rss'] / MiB:.0f} "
              f"| {s['labs']:.1f} | {s['foreign']:.1f} | {s['steal']:.1f} |")
    for k in order:
        for r in stats[k]["failed"]:
            print(f"FAILED: {k[0]} {k[1]} run {r['run']}: {r['status']} "
                  f"({r['objects']} of {r['exp_objects']} objects, {r['bytes']} of {r['exp_bytes']} bytes)")
    for r in stolen:
        print(f"repeated (the hypervisor took {r.get('steal_s')} s of CPU in {r['wall_s']} s): "
              f"{r['dataset']} {r['tool']} run {r['run']}, attempt {r.get('attempt') or 0}")
    for r in warm:
        print(f"warm-up (not counted): {r['dataset']} {r['tool']}: {r['status']}, wall {r['wall_s']} s, "
              f"servers' CPU {r.get('labs_cpu_s') or '?'} s")
    print("servers' CPU: both labs' radosgw+osd+mon during the run; others' CPU: the rest of the "
          "machine (other people's jobs = noise); stolen CPU: time the hypervisor gave to other "
          "machines while this one wanted to run; all in CPU seconds")
    for k in order:
        if "init" in stats[k]:
            print(f"{k[0]} {k[1]}: median {stats[k]['init']:.2f} s from start to \"full sync started\" "
                  f"(fresh state: one datalog info call per shard read) of {stats[k]['wall']:.2f} s")

    def get(ds, tool):
        s = stats.get((ds, tool))
        return s if s and s["ok"] else None

    def ratio(ds, a_, b_, field):
        x, y = get(ds, a_), get(ds, b_)
        if not x or not y or not y[field]:
            return None
        return x[field] / y[field]

    def fmt(v):
        return "n/a" if v is None else f"{v:.2f}x"

    print()
    print("Ratios (medians):")
    for ds in ("large", "small"):
        for me in ("rgw2cloud", "rgw2cloud-lowmem", "rgw2cloud-single", "rgw2cloud-curl"):
            if not get(ds, me):
                continue
            for other in ("rclone-tuned", "rclone-multipart", "rclone-default", "raw-curl"):
                if not get(ds, other):
                    continue
                print(f"  {ds:5} {me}/{other}: throughput {fmt(ratio(ds, me, other, 'tput'))}, "
                      f"CPU per object {fmt(ratio(ds, me, other, 'cpu_obj_ms'))}, "
                      f"peak RSS {fmt(ratio(ds, me, other, 'rss'))}")

    print()
    print("Goals (issue 4):")
    goals = []

    def goal(text, v, ok):
        goals.append(ok)
        res = "n/a" if v is None else ("PASS" if ok else "FAIL")
        print(f"  [{res}] {text}")

    for me in ("rgw2cloud", "rgw2cloud-lowmem"):
        s = get("large", me)
        if not s:
            continue
        r1 = ratio("large", me, "rclone-tuned", "tput")
        goal(f"LARGE {me} >= 0.95x rclone-tuned throughput: {fmt(r1)}", r1, r1 is not None and r1 >= 0.95)
        r2 = ratio("large", me, "rclone-multipart", "tput")
        goal(f"LARGE {me} >= 1.8x rclone forced-multipart throughput: {fmt(r2)}", r2,
             r2 is not None and r2 >= 1.8)
        r3 = ratio("large", me, "rclone-multipart", "rss")
        goal(f"LARGE {me} peak RSS <= 1/5 of rclone forced-multipart's: {fmt(r3)}", r3,
             r3 is not None and r3 <= 0.2)
        lim = 64 * MiB + inflight[me]
        goal(f"LARGE {me} peak RSS <= 64 MiB + max_inflight_bytes = {lim / MiB:.0f} MiB: "
             f"{s['rss'] / MiB:.0f} MiB", s["rss"], s["rss"] <= lim)
    s = get("small", "rgw2cloud")
    if s:
        r1 = ratio("small", "rgw2cloud", "rclone-tuned", "tput")
        goal(f"SMALL rgw2cloud >= 1.1x rclone-tuned throughput: {fmt(r1)}", r1, r1 is not None and r1 >= 1.1)
        r2 = ratio("small", "rgw2cloud", "raw-curl", "tput")
        goal(f"SMALL rgw2cloud >= raw curl baseline throughput: {fmt(r2)}", r2, r2 is not None and r2 >= 1.0)
        r3 = ratio("small", "rgw2cloud", "rclone-tuned", "cpu_obj_ms")
        goal(f"SMALL rgw2cloud CPU per object <= 0.5x rclone-tuned's: {fmt(r3)}", r3,
             r3 is not None and r3 <= 0.5)
        lim = 64 * MiB + inflight["rgw2cloud"]
        goal(f"SMALL rgw2cloud peak RSS <= 64 MiB + max_inflight_bytes = {lim / MiB:.0f} MiB: "
             f"{s['rss'] / MiB:.0f} MiB", s["rss"], s["rss"] <= lim)
    print(f"  {sum(goals)} of {len(goals)} goals met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
