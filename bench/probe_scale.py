#!/usr/bin/python3
"""The measurements of bench/probe-scale (which starts the servers).

Memory: the kernel's peak RSS (getrusage of the waited-for children: the
largest single process, parent or worker) and, sampled every 10 ms from
/proc, the sum over the process tree of RSS and of PSS (shared pages
divided among the processes sharing them: what the tree really costs)."""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import urllib.request


def tree(pid):
    """pid and its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return out


def mem_kib(pid, key):
    try:
        with open("/proc/%d/%s" % (pid, "smaps_rollup" if key == "Pss" else "status")) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.stop, self.rss, self.pss, self.procs = pid, False, 0, 0, 0

    def run(self):
        while not self.stop:
            ps = tree(self.pid)
            self.procs = max(self.procs, len(ps))
            self.rss = max(self.rss, sum(mem_kib(p, "VmRSS") for p in ps))
            self.pss = max(self.pss, sum(mem_kib(p, "Pss") for p in ps))
            time.sleep(0.01)


def timed(cmd):
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    s = Sampler(p.pid)
    s.start()
    out, _ = p.communicate()
    s.stop = True
    s.join()
    return time.monotonic() - t0, p.returncode, out, s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--domain", required=True)
    ap.add_argument("--c2s", required=True)
    ap.add_argument("--tls", required=True)
    ap.add_argument("--sinks", required=True)
    ap.add_argument("--timeout", default="3")
    ap.add_argument("--parallel", default="50")
    a = ap.parse_args()
    sinks = [s.split(":") for s in a.sinks.split()]
    closed = [p for m, p in sinks if m == "closed"]
    silent = [p for m, p in sinks if m == "silent"]
    d = a.domain
    targets = []
    for i in range(100):
        k = i % 5
        if k in (0, 1):
            targets.append("xmpp://127.0.0.1:%s/%s" % (a.c2s, d))
        elif k == 2:
            targets.append("xmpps://127.0.0.1:%s/%s" % (a.tls, d))
        elif k == 3:
            targets.append("xmpp://127.0.0.1:%s/%s" % (closed[i % len(closed)], d))
        else:
            targets.append("xmpp://127.0.0.1:%s/%s" % (silent[i % len(silent)], d))
    lst = os.path.join(a.work, "targets.txt")
    with open(lst, "w") as f:
        f.write("\n".join(targets) + "\n")
    base = [a.probe, "-C", a.config, "--no-login", "--timeout", a.timeout]
    raw = {}

    # 1. one run, then the CLI once per target in sequence
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall, rc, out, s = timed(base + ["--parallel", a.parallel, "--targets", lst, "--format", "json"])
    peak1 = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    reports = json.loads(out)
    status = {}
    for r in reports:
        status[r["status"]] = status.get(r["status"], 0) + 1
    raw["fleet"] = {"wall": wall, "rc": rc, "tree_rss_kib": s.rss, "tree_pss_kib": s.pss,
                    "procs": s.procs, "max_single_rss_kib": max(peak1, r0), "status": status}
    wall16, rc16, _, s16 = timed(base + ["--targets", lst, "--format", "json"])
    raw["fleet_parallel16"] = {"wall": wall16, "tree_pss_kib": s16.pss, "procs": s16.procs}
    seq, seq_rss = 0.0, 0
    for t in targets:
        w, _, _, s1 = timed(base + ["--format", "json", t])
        seq += w
        seq_rss = max(seq_rss, s1.rss)
    raw["sequential"] = {"wall": seq, "max_rss_kib": seq_rss}

    # 2. the exporter
    import socket
    so = socket.socket()
    so.bind(("127.0.0.1", 0))
    port = so.getsockname()[1]
    so.close()
    ex = subprocess.Popen([a.probe, "-C", a.config, "--serve", "127.0.0.1:%d" % port,
                           "--parallel", "20"], stderr=subprocess.PIPE, text=True)
    ex.stderr.readline()  # "listening on"
    es = Sampler(ex.pid)
    es.start()
    mix = ([("xmpp://127.0.0.1:%s/%s" % (a.c2s, d))] * 8 +
           [("xmpp://127.0.0.1:%s/%s" % (closed[0], d))] +
           [("xmpp://127.0.0.1:%s/%s" % (silent[0], d))])
    lat, fails, lock = [], [0], threading.Lock()

    def client(n, off):
        for i in range(n):
            t = mix[(off + i) % len(mix)]
            req = urllib.request.Request("http://127.0.0.1:%d/probe?target=%s" % (port, t),
                                         headers={"X-Prometheus-Scrape-Timeout-Seconds": "2"})
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    resp.read()
                    ok = resp.status == 200
            except OSError:
                ok = False
            with lock:
                lat.append(time.monotonic() - t0)
                fails[0] += not ok

    def round_(total):
        del lat[:]
        th = [threading.Thread(target=client, args=(total // 20, k)) for k in range(20)]
        t0 = time.monotonic()
        for t in th:
            t.start()
        for t in th:
            t.join()
        q = statistics.quantiles(lat, n=100)
        return {"requests": len(lat), "wall": time.monotonic() - t0, "p50": statistics.median(lat),
                "p99": q[98], "errors": fails[0], "rss_kib": mem_kib(ex.pid, "VmRSS"),
                "hwm_kib": mem_kib(ex.pid, "VmHWM")}

    raw["exporter_200"] = round_(200)
    raw["exporter_1000"] = round_(800)
    es.stop = True
    es.join()
    raw["exporter_tree"] = {"rss_kib": es.rss, "pss_kib": es.pss, "procs": es.procs}
    ex.terminate()
    ex.wait()
    with open(os.path.join(a.work, "raw.json"), "w") as f:
        json.dump(raw, f, indent=2)

    f, q, e2, e8 = raw["fleet"], raw["sequential"], raw["exporter_200"], raw["exporter_1000"]
    mb = lambda k: "%.1f MB" % (k / 1024)
    print("## xmpp-probe at scale (bench/probe-scale)\n")
    print("100 targets: 40 healthy STARTTLS, 20 healthy direct TLS, 20 closed ports, 20 silent "
          "sockets; --timeout %s; statuses %s\n" % (a.timeout, json.dumps(f["status"])))
    print("| measure | result |\n|---|---|")
    print("| one run, --parallel %s | %.2f s (exit %d) |" % (a.parallel, f["wall"], f["rc"]))
    print("| one run, --parallel 16 (default) | %.2f s |" % raw["fleet_parallel16"]["wall"])
    print("| CLI once per target, in sequence | %.2f s |" % q["wall"])
    print("| speed-up (sequence / one run) | **%.1f×** (default --parallel: %.1f×) |"
          % (q["wall"] / f["wall"], q["wall"] / raw["fleet_parallel16"]["wall"]))
    print("| peak RSS of the largest single process (parent or a worker) | %s |" % mb(f["max_single_rss_kib"]))
    print("| peak sum of PSS over the process tree (--parallel %s, up to %d processes) | %s |"
          % (a.parallel, f["procs"], mb(f["tree_pss_kib"])))
    print("| peak sum of PSS, --parallel 16 | %s |" % mb(raw["fleet_parallel16"]["tree_pss_kib"]))
    print("| peak sum of RSS over the tree (counts shared pages once per process) | %s |" % mb(f["tree_rss_kib"]))
    print("| one CLI run, peak RSS | %s |" % mb(q["max_rss_kib"]))
    print("| exporter: 200 requests, 20 clients: p50 / p99 | %.0f / %.0f ms (%d errors, %.1f s) |"
          % (e2["p50"] * 1000, e2["p99"] * 1000, e2["errors"], e2["wall"]))
    print("| exporter: 800 more: p50 / p99 | %.0f / %.0f ms (%d errors) |"
          % (e8["p50"] * 1000, e8["p99"] * 1000, e8["errors"]))
    print("| exporter RSS after 200 / after 1,000 requests (peak VmHWM) | %s / %s (%s) |"
          % (mb(e2["rss_kib"]), mb(e8["rss_kib"]), mb(e8["hwm_kib"])))
    print("| exporter tree, peak sum of PSS (up to %d processes) | %s |"
          % (raw["exporter_tree"]["procs"], mb(raw["exporter_tree"]["pss_kib"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
