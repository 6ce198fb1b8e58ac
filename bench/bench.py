#!/usr/bin/python3
"""bench/bench.py: the measuring driver behind `make bench` (bench/run starts
the throwaway server and calls this with its XU_* environment).

Every tool logs in as alice and sends to bob, whom bench/receiver.py (slixmpp)
keeps online. Runs are interleaved: each round runs every tool once, in an
order rotated by one each round, so slow drifts of the machine hit all tools
alike. Measured per run: wall time (spawn to exit), user+sys CPU and peak RSS
(wait4's rusage), the time from spawn until the receiver has the message
(both on CLOCK_MONOTONIC), and the exit code. Line mode sends N numbered
lines on standard input over one connection and counts at the receiver what
arrived, what was lost, duplicated or out of order. Round trips are counted
in a loopback capture (dumpcap): client-to-server flights of the sender's
connection up to and including the one after which the message reaches the
receiver. Callgrind counts the instructions of one xmpp-send run and of
1,000 lines.

Results: raw numbers in WORK/raw.json and a Markdown report in WORK/report.md;
`--report` prints it (with the pass against a PLAIN-only server if --plain
names its WORK).
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

ENV = os.environ
DOMAIN = ENV.get("XU_DOMAIN", "xu.test")
SENDER = "alice@" + DOMAIN
RCPT = "bob@" + DOMAIN
BASELINE = "go-sendxmpp"

# What the issue asks of xmpp-send against go-sendxmpp (ratio of medians).
TARGETS = [
    ("wall", "one-shot wall time", 0.2),
    ("received", "start → received", 0.4),
    ("cpu", "CPU (user+sys)", 0.5),
    ("rss", "peak RSS", 0.4),
]


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def write_private(path, text):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


# ---------------------------------------------------------------- tools

class Tool:
    """A sender under test: how to run it once and in line mode."""
    name = ""
    lines_note = None

    def __init__(self, work):
        self.work = work

    def available(self):
        return shutil.which(self.name) is not None

    def version(self):
        return deb_version(self.name)  # the peers' Debian packages bear their names

    def env(self):
        return {}

    def oneshot(self, body):
        """(argv, stdin bytes)"""
        raise NotImplementedError

    def lines(self):
        """argv for line mode (lines on stdin), or None"""
        return None


def deb_version(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg], capture_output=True,
                              text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "?"


class XmppSend(Tool):
    name = "xmpp-send"

    def __init__(self, work, binary, lines_binary):
        super().__init__(work)
        self.binary = binary
        self.lines_binary = lines_binary
        self.base = ["-C", ENV["XU_CONFIG"], "-a", "alice"]

    def available(self):
        return os.access(self.binary, os.X_OK)

    @staticmethod
    def describe(binary):
        """'0.1.0 (<binary>, git <rev>)'"""
        out = subprocess.run([binary, "-V"], capture_output=True, text=True).stdout.split("\n")[0]
        rev = subprocess.run(["git", "-C", os.path.dirname(os.path.realpath(binary)), "describe",
                              "--always", "--dirty"], capture_output=True, text=True).stdout.strip()
        return "%s (%s%s)" % (out.split()[-1] if out.split() else "?", binary,
                              ", git " + rev if rev else "")

    def version(self):
        v = self.describe(self.binary)
        if self.lines_binary != self.binary and self.has_lines():
            v += "; line mode: " + self.describe(self.lines_binary)
        return v

    def oneshot(self, body):
        return [self.binary] + self.base + [RCPT], body.encode() + b"\n"

    def has_lines(self):
        if not self.lines_binary or not os.access(self.lines_binary, os.X_OK):
            return False
        h = subprocess.run([self.lines_binary, "--help"], capture_output=True, text=True).stdout
        return "--lines" in h

    def lines(self):
        if not self.has_lines():
            return None
        # --rate 0: no rate limit (the tool's default is a polite 5/s);
        # one message per line, every one acknowledged before exit 0.
        return [self.lines_binary] + self.base + ["--lines", "--rate", "0", RCPT]


class GoSendxmpp(Tool):
    name = "go-sendxmpp"

    def __init__(self, work):
        super().__init__(work)
        self.rc = os.path.join(work, "go-sendxmpp.rc")
        write_private(self.rc, "username: %s\npassword: %s\njserver: 127.0.0.1\nport: %s\n" % (
            SENDER, ENV["XU_ALICE_PASSWORD"], ENV["XU_C2S_PORT"]))

    def env(self):
        # no CA option: Go reads SSL_CERT_FILE (and still scans /etc/ssl/certs)
        return {"SSL_CERT_FILE": ENV["XU_CA"]}

    def oneshot(self, body):
        return ["go-sendxmpp", "-f", self.rc, RCPT], body.encode() + b"\n"

    def lines(self):
        return ["go-sendxmpp", "-i", "-f", self.rc, RCPT]


class Sendxmpp(Tool):
    name = "sendxmpp"

    def __init__(self, work):
        super().__init__(work)
        self.rc = os.path.join(work, "sendxmpp.rc")
        write_private(self.rc, "username: alice\npassword: %s\njserver: 127.0.0.1\nport: %s\n"
                      "component: %s\n" % (ENV["XU_ALICE_PASSWORD"], ENV["XU_C2S_PORT"], DOMAIN))

    def oneshot(self, body):
        return ["sendxmpp", "-f", self.rc, "-t", "-a", ENV["XU_CA"], RCPT], body.encode() + b"\n"

    def lines(self):
        return ["sendxmpp", "-i", "-f", self.rc, "-t", "-a", ENV["XU_CA"], RCPT]


class Xmppc(Tool):
    name = "xmppc"
    lines_note = "no line mode"

    def __init__(self, work):
        super().__init__(work)
        self.home = os.path.join(work, "xmppc-home")
        os.makedirs(os.path.join(self.home, ".config"), exist_ok=True)
        write_private(os.path.join(self.home, ".config", "xmppc.conf"),
                      "[bench]\njid=%s\npwd=%s\n" % (SENDER, ENV["XU_ALICE_PASSWORD"]))

    def available(self):
        # xmppc has no host/port option: it finds the server through the SRV
        # record that bench/run's DNS stub serves inside a private namespace.
        return super().available() and ENV.get("XU_BENCH_DNS") == "1"

    def env(self):
        return {"HOME": self.home, "SSL_CERT_FILE": ENV["XU_CA"]}

    def oneshot(self, body):
        return ["xmppc", "-a", "bench", "-m", "message", "chat", RCPT, body], b""


# ---------------------------------------------------------------- running

class Arrivals:
    """Reads the receiver's arrival log as it grows."""

    def __init__(self, path):
        self.path = path
        self.f = None
        self.partial = ""
        self.by_body = {}   # body -> [ns, ...]
        self.lines = {}     # tag -> [(ns, seq), ...] for "L tag seq" lines
        self.messages = {}  # tag -> number of messages that carried its lines

    def poll(self):
        if self.f is None:
            if not os.path.exists(self.path):
                return
            self.f = open(self.path, encoding="utf-8")
        data = self.f.read()
        if not data:
            return
        data = self.partial + data
        parts = data.split("\n")
        self.partial = parts.pop()
        for line in parts:
            ns, _, js = line.partition("\t")
            body = json.loads(js)
            t = int(ns)
            self.by_body.setdefault(body.rstrip("\n"), []).append(t)
            tags = set()
            for ln in body.split("\n"):
                f = ln.split(" ")
                if len(f) == 3 and f[0] == "L" and f[2].isdigit():
                    self.lines.setdefault(f[1], []).append((t, int(f[2])))
                    tags.add(f[1])
            for tag in tags:
                self.messages[tag] = self.messages.get(tag, 0) + 1

    def wait_body(self, body, limit):
        end = time.monotonic() + limit
        while True:
            self.poll()
            if body in self.by_body:
                return self.by_body[body][0]
            if time.monotonic() > end:
                return None
            time.sleep(0.002)

    def wait_lines(self, tag, n, quiet, limit):
        """Until n lines of tag arrived, or nothing new came for `quiet` s."""
        end = time.monotonic() + limit
        last_count, last_change = -1, time.monotonic()
        while True:
            self.poll()
            c = len(self.lines.get(tag, []))
            if c >= n:
                time.sleep(0.05)  # duplicates right behind
                self.poll()
                return
            if c != last_count:
                last_count, last_change = c, time.monotonic()
            if time.monotonic() - last_change > quiet or time.monotonic() > end:
                return
            time.sleep(0.005)


SPAWN = None  # bench/spawn, built by bench/run


def proc_cpu_ms(pid):
    """CPU time of a running process's main thread so far, in ms (0 if
    unknown): /proc/PID/schedstat counts nanoseconds, where /proc/PID/stat
    has 10 ms ticks. Prosody and the receiver are single-threaded."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0]) / 1e6
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def server_pid():
    try:
        with open(os.path.join(ENV["XU_TMP"], "prosody.bgpid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError, KeyError):
        return None


def spawn_measured(argv, extra_env, stdin_path, out_path, timeout):
    """Run argv under bench/spawn; return wall/CPU/RSS/exit and the
    monotonic start time."""
    env = dict(ENV)
    env.update(extra_env)
    res = out_path + ".rusage"
    fin = os.open(stdin_path, os.O_RDONLY)
    fout = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    acts = [(os.POSIX_SPAWN_DUP2, fin, 0), (os.POSIX_SPAWN_DUP2, fout, 1),
            (os.POSIX_SPAWN_DUP2, fout, 2)]
    w0 = time.time()
    pid = os.posix_spawn(SPAWN, [SPAWN, res, str(int(timeout))] + argv, env, file_actions=acts)
    _, status = os.waitpid(pid, 0)
    w1 = time.time()
    os.close(fin)
    os.close(fout)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("bench: %s failed for %s; see %s" % (SPAWN, argv[0], out_path))
    with open(res) as f:
        t0, t1, ut, st, rss, code, killed = (int(x) for x in f.read().split())
    return {
        "t0": t0, "wall0": w0, "wall1": w1,
        "wall_ms": (t1 - t0) / 1e6,
        "cpu_ms": (ut + st) / 1000,
        "rss_kb": rss,
        "exit": "timeout" if killed else code,
    }


class Bench:
    def __init__(self, args):
        self.args = args
        self.work = args.work
        os.makedirs(self.work, exist_ok=True)
        self.raw = {"oneshot": [], "lines": [], "rtt": [], "callgrind": {}, "floor": [], "notes": []}
        self.nonce = "%x" % (int(time.time() * 1000) & 0xffffffff)
        self.seq = 0
        self.arrivals = Arrivals(os.path.join(self.work, "arrivals.log"))
        self.receiver = None
        self.receiver_port = None
        xs = XmppSend(self.work, args.xmpp_send, args.xmpp_send_lines or args.xmpp_send)
        all_tools = [xs, GoSendxmpp(self.work), Sendxmpp(self.work), Xmppc(self.work)]
        wanted = args.tools.split(",")
        self.tools = []
        for t in all_tools:
            if t.name not in wanted:
                continue
            if not t.available():
                note = "%s: not available%s; skipped" % (
                    t.name, " (no DNS stub for its SRV lookup)" if t.name == "xmppc" else "")
                log(note)
                self.raw["notes"].append(note)
                continue
            self.tools.append(t)
        self.xs = xs if xs in self.tools else None

    # -- receiver

    def start_receiver(self):
        ready = os.path.join(self.work, "receiver.ready")
        if os.path.exists(ready):
            os.unlink(ready)
        env = dict(ENV)
        env["XU_RECEIVER_PASSWORD"] = ENV["XU_BOB_PASSWORD"]
        err = open(os.path.join(self.work, "receiver.err"), "w")
        self.receiver = subprocess.Popen(
            [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), "receiver.py"),
             "--jid", RCPT + "/bench", "--port", ENV["XU_C2S_PORT"], "--ca", ENV["XU_CA"],
             "--out", self.arrivals.path, "--ready-file", ready],
            env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        end = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.receiver.poll() is not None or time.monotonic() > end:
                raise SystemExit("bench: the receiver did not come online; see %s/receiver.err" % self.work)
            time.sleep(0.05)
        with open(ready) as f:
            self.receiver_port = int(f.read().split()[1])

    def stop_receiver(self):
        if self.receiver and self.receiver.poll() is None:
            self.receiver.terminate()
            self.receiver.wait()

    # -- one run

    def stdin_file(self, name, data):
        path = os.path.join(self.work, "in", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def run_oneshot(self, tool, rnd):
        self.seq += 1
        body = "bench %s %s %d" % (tool.name, self.nonce, self.seq)
        argv, data = tool.oneshot(body)
        stdin = self.stdin_file("oneshot", data)
        out = os.path.join(self.work, "out", "%s.oneshot.%d" % (tool.name, rnd))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        srv = server_pid()
        c0 = proc_cpu_ms(srv)
        r = spawn_measured(argv, tool.env(), stdin, out, self.args.tool_timeout)
        t = self.arrivals.wait_body(body, 10)
        time.sleep(0.02)  # the server's share of the logout
        r.update(tool=tool.name, round=rnd, server_cpu_ms=proc_cpu_ms(srv) - c0,
                 received_ms=(t - r["t0"]) / 1e6 if t is not None else None)
        return r

    def run_lines(self, tool, n, rnd, argv):
        self.seq += 1
        tag = "%s-%s-%d" % (tool.name, self.nonce, self.seq)
        stdin = self.stdin_file("lines", "".join("L %s %d\n" % (tag, i) for i in range(1, n + 1)).encode())
        out = os.path.join(self.work, "out", "%s.lines%d.%d" % (tool.name, n, rnd))
        os.makedirs(os.path.dirname(out), exist_ok=True)
        srv = server_pid()
        c0, rc0 = proc_cpu_ms(srv), proc_cpu_ms(self.receiver.pid)
        r = spawn_measured(argv, tool.env(), stdin, out, self.args.tool_timeout)
        self.arrivals.wait_lines(tag, n, quiet=3.0, limit=60)
        r["server_cpu_ms"] = proc_cpu_ms(srv) - c0
        r["receiver_cpu_ms"] = proc_cpu_ms(self.receiver.pid) - rc0
        got = self.arrivals.lines.get(tag, [])
        seqs = [s for _, s in got]
        uniq = set(seqs)
        out_of_order, top = 0, 0
        for s in seqs:
            if s < top:
                out_of_order += 1
            top = max(top, s)
        last = max((t for t, _ in got), default=None)
        r.update(tool=tool.name, lines=n, round=rnd, received=len(uniq),
                 messages=self.arrivals.messages.get(tag, 0),
                 lost=n - len([s for s in uniq if 1 <= s <= n]),
                 duplicated=len(seqs) - len(uniq), out_of_order=out_of_order,
                 last_ms=(last - r["t0"]) / 1e6 if last is not None else None)
        # messages per second as the receiver saw them: start of the sender to the last line in
        r["rx_rate"] = len(uniq) / (r["last_ms"] / 1000) if r["last_ms"] else 0.0
        with open(out, "rb") as f:
            tail = f.read()[-300:].decode("utf-8", "replace").strip()
        r["stderr_tail"] = tail.split("\n")[-1] if tail else ""
        return r

    # -- phases

    def settle(self):
        time.sleep(self.args.settle)

    def phase_oneshot(self):
        tools = self.tools
        log("one-shot: warm-up run of each tool (not counted)")
        for t in tools:
            self.run_oneshot(t, -1)
            self.settle()
        for rnd in range(self.args.runs):
            k = rnd % len(tools)
            for t in tools[k:] + tools[:k]:
                r = self.run_oneshot(t, rnd)
                self.raw["oneshot"].append(r)
                log("one-shot %2d %-12s wall %8.1f ms  cpu %6.1f ms  rss %6.0f KB  received %s  exit %s" % (
                    rnd, t.name, r["wall_ms"], r["cpu_ms"], r["rss_kb"],
                    "%.1f ms" % r["received_ms"] if r["received_ms"] is not None else "NEVER", r["exit"]))
                self.settle()

    def phase_lines(self):
        tools = []
        for t in self.tools:
            argv = t.lines()
            if argv is None:
                note = "%s: %s" % (t.name, t.lines_note or "no line mode in this build")
                self.raw["notes"].append("line mode: " + note)
                continue
            tools.append((t, argv))
        for n in self.args.lines:
            log("line mode: %d lines" % n)
            for rnd in range(self.args.line_runs):
                k = rnd % len(tools) if tools else 0
                for t, argv in tools[k:] + tools[:k]:
                    r = self.run_lines(t, n, rnd, argv)
                    self.raw["lines"].append(r)
                    log("lines %5d %2d %-12s wall %8.1f ms  cpu %7.1f ms  rss %6.0f KB  rx %5d/%d (%d msgs) "
                        "dup %d ooo %d  %.0f msg/s  exit %s" % (
                            n, rnd, t.name, r["wall_ms"], r["cpu_ms"], r["rss_kb"], r["received"], n,
                            r["messages"], r["duplicated"], r["out_of_order"], r["rx_rate"], r["exit"]))
                    time.sleep(max(self.args.settle, 0.5))

    def phase_rtt(self):
        dumpcap = shutil.which("dumpcap")
        tshark = shutil.which("tshark")
        if not dumpcap or not tshark:
            self.raw["notes"].append("round trips: dumpcap/tshark not installed; not counted")
            return
        pcap = os.path.join(self.work, "rtt.pcapng")
        err = open(os.path.join(self.work, "dumpcap.err"), "w")
        cap = subprocess.Popen([dumpcap, "-q", "-i", "lo", "-f", "tcp port %s" % ENV["XU_C2S_PORT"],
                                "-w", pcap], stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        end = time.monotonic() + 10
        while not (os.path.exists(pcap) and os.path.getsize(pcap) > 0):
            if cap.poll() is not None or time.monotonic() > end:
                self.raw["notes"].append("round trips: dumpcap did not start; see dumpcap.err")
                return
            time.sleep(0.05)
        time.sleep(0.5)
        windows = []
        log("round trips: %d capture run(s) per tool" % self.args.rtt_runs)
        for rnd in range(self.args.rtt_runs):
            for t in self.tools:
                r = self.run_oneshot(t, rnd)
                windows.append((t.name, r["wall0"], r["wall1"]))
                self.settle()
        time.sleep(0.5)
        cap.send_signal(signal.SIGINT)
        cap.wait()
        # decoded as XMPP so that tshark follows STARTTLS and shows the TLS records
        out = subprocess.run([tshark, "-r", pcap, "-d", "tcp.port==%s,xmpp" % ENV["XU_C2S_PORT"],
                              "-T", "fields", "-E", "separator=;",
                              "-e", "frame.time_epoch", "-e", "tcp.stream", "-e", "tcp.srcport",
                              "-e", "tcp.dstport", "-e", "tcp.len", "-e", "tcp.flags.syn",
                              "-e", "tcp.flags.ack", "-e", "tls.record.length", "-e", "tls.handshake.type"],
                             capture_output=True, text=True).stdout
        pkts = []
        for line in out.splitlines():
            f = line.split(";")
            if len(f) < 9:
                continue
            ints = lambda v: [int(x) for x in v.split(",") if x.strip().isdigit()]  # noqa: E731
            pkts.append((float(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4] or 0),
                         f[5] in ("1", "True"), f[6] in ("1", "True"), ints(f[7]), ints(f[8])))
        self.raw["rtt"] = count_flights(pkts, windows, int(ENV["XU_C2S_PORT"]), self.receiver_port)

    def phase_floor(self):
        """The libraries' own cost (bench/floor), for the same table."""
        if not self.args.floor:
            return
        levels = [("/bin/true (process start, libc)", ["true"]),
                  ("linked: libstrophe, libssl, libcrypto", [self.args.floor, "0"]),
                  ("+ OPENSSL_init_ssl()", [self.args.floor, "1"]),
                  ("+ SSL_CTX_new()", [self.args.floor, "2"]),
                  ("+ libstrophe context and connection", [self.args.floor, "3"])]
        empty = self.stdin_file("empty", b"")
        out = os.path.join(self.work, "out", "floor")
        os.makedirs(os.path.dirname(out), exist_ok=True)
        for label, argv in levels:
            rs = [spawn_measured(argv, {}, empty, out, 30) for _ in range(max(self.args.runs, 3))]
            self.raw["floor"].append({"what": label, "rss_kb": [r["rss_kb"] for r in rs],
                                      "cpu_ms": [r["cpu_ms"] for r in rs],
                                      "wall_ms": [r["wall_ms"] for r in rs]})

    def phase_callgrind(self):
        if not self.xs or not shutil.which("valgrind"):
            self.raw["notes"].append("callgrind: skipped (no xmpp-send or no valgrind)")
            return
        runs = [("one message", self.xs.oneshot("bench callgrind %s" % self.nonce), None)]
        argv = self.xs.lines() if self.args.callgrind == "all" else None
        if argv:
            tag = "callgrind-%s" % self.nonce
            data = "".join("L %s %d\n" % (tag, i) for i in range(1, 1001)).encode()
            runs.append(("1,000 lines", (argv, data), tag))
        for label, (argv, data), tag in runs:
            stdin = self.stdin_file("callgrind", data)
            cg = os.path.join(self.work, "callgrind.%s.out" % label.split()[0].replace(",", ""))
            out = cg + ".log"
            r = spawn_measured(["valgrind", "--tool=callgrind", "--callgrind-out-file=" + cg] + argv,
                               {}, stdin, out, 600)
            total = None
            if os.path.exists(cg):
                with open(cg) as f:
                    for line in f:
                        if line.startswith("summary:") or line.startswith("totals:"):
                            total = int(line.split()[1])
            if tag:
                self.arrivals.wait_lines(tag, 1000, quiet=3.0, limit=30)
            self.raw["callgrind"][label] = {"instructions": total, "exit": r["exit"], "file": cg,
                                            "by_object": callgrind_objects(cg)}
            log("callgrind %-12s %s instructions, exit %s" % (label, total, r["exit"]))
            self.settle()

    def run(self):
        self.raw["meta"] = meta(self)
        self.raw["meta"]["load_start"] = loadavg()
        self.start_receiver()
        try:
            if self.args.oneshot:
                self.phase_oneshot()
            self.raw["meta"]["load_after_oneshot"] = loadavg()
            if self.args.lines_phase:
                self.phase_lines()
            self.raw["meta"]["load_after_lines"] = loadavg()
            if self.args.rtt_runs > 0:
                self.phase_rtt()
            if self.args.callgrind != "none":
                self.phase_callgrind()
            self.phase_floor()
        finally:
            self.stop_receiver()
        self.raw["meta"]["load_end"] = loadavg()
        self.raw["meta"]["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        with open(os.path.join(self.work, "raw.json"), "w") as f:
            json.dump(self.raw, f, indent=1)
        with open(os.path.join(self.work, "report.md"), "w") as f:
            f.write(report(self.raw))


def callgrind_objects(path):
    """Instructions per ELF object (self cost), from callgrind_annotate."""
    try:
        out = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True,
                             text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    objs = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+) \([ \d.]+%\)\s+\S.*\[(.*)\]\s*$", line)
        if m:
            name = os.path.basename(m.group(2))
            name = re.sub(r"\.so\.[\d.]+$", ".so", name)
            objs[name] = objs.get(name, 0) + int(m.group(1).replace(",", ""))
    return objs


def count_flights(pkts, windows, server_port, receiver_port):
    """Protocol round trips per sender connection: client-to-server flights
    up to and including the one after which the server forwards the message
    to the receiver. A flight is a run of client data segments with no server
    response between them. The TLS 1.3 session tickets the server sends right
    after the handshake (the first records after the client's Finished, two
    of one size, OpenSSL's default) are not a response anyone waits for: a
    client whose next write merely comes after them (slow, or held by Nagle
    until they ACK its Finished) is still in the same flight."""
    streams = {}
    for p in pkts:
        streams.setdefault(p[1], []).append(p)
    to_receiver = [p[0] for p in pkts if p[2] == server_port and p[3] == receiver_port and p[4] > 0]
    res = []
    for name, w0, w1 in windows:
        cands = []
        for sid, ps in streams.items():
            syn = [p for p in ps if p[5] and not p[6] and p[3] == server_port]
            if syn and w0 <= syn[0][0] <= w1 and syn[0][2] != receiver_port:
                cands.append((syn[0][0], sid, syn[0][2]))
        if not cands:
            res.append({"tool": name, "flights": None, "why": "no connection in the capture"})
            continue
        start, sid, _ = min(cands)
        arrival = next((t for t in to_receiver if t > start), None)
        if arrival is None:
            res.append({"tool": name, "flights": None, "why": "message not seen"})
            continue
        flights, last_dir = 0, None
        server_hello = client_after_hello = False
        tickets_left, ticket_len, skipped = 2, None, 0
        for p in streams[sid]:
            if p[0] > arrival or p[4] == 0:
                continue
            if p[3] == server_port:
                if server_hello:
                    client_after_hello = True
                if last_dir != "c":
                    flights += 1
                last_dir = "c"
                continue
            recs = list(p[7])
            if 2 in p[8]:
                server_hello = True
            elif client_after_hello and tickets_left and recs:
                while recs and tickets_left and recs[0] < 256 and ticket_len in (None, recs[0]):
                    ticket_len = recs.pop(0)
                    tickets_left -= 1
                    skipped += 1
                if not recs:
                    continue
            last_dir = "s"
        res.append({"tool": name, "flights": flights, "tickets_skipped": skipped})
    return res


def meta(b):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host": "%s %s, %s, %d CPUs, %s" % (platform.system(), platform.release(), cpu, os.cpu_count(),
                                           mem_total()),
        "versions": {t.name: t.version() for t in b.tools},
        "server": "Prosody %s (%s)" % (deb_version("prosody"), b.args.server_note),
        "libs": "libstrophe %s, OpenSSL %s" % (deb_version("libstrophe0"), deb_version("libssl3")),
        "runs": b.args.runs, "line_runs": b.args.line_runs, "lines": b.args.lines,
        "rtt_runs": b.args.rtt_runs, "argv": sys.argv[1:],
    }


def mem_total():
    with open("/proc/meminfo") as f:
        kb = int(f.readline().split()[1])
    return "%.0f GiB RAM" % (kb / 1048576)


# ---------------------------------------------------------------- report

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cell(xs, fmt, scale=1.0):
    xs = [x * scale for x in xs if x is not None]
    if not xs:
        return "—"
    return ("%s (%s–%s)" % (fmt, fmt, fmt)) % (statistics.median(xs), min(xs), max(xs))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    return "%.2f×" % (a / b)


def exits(rs):
    counts = {}
    for r in rs:
        counts[str(r["exit"])] = counts.get(str(r["exit"]), 0) + 1
    return ", ".join("%s×%s" % (n, c) if len(counts) > 1 or n != "0" else "all 0"
                     for c, n in sorted(((c, n) for n, c in counts.items()), reverse=True)) or "—"


def tools_in(rows):
    """The tool names of rows, in the order they first appear."""
    return list(dict.fromkeys(r["tool"] for r in rows))


def report(raw):
    m = raw["meta"]
    out = []
    w = out.append
    w("## Results (%s)\n" % m["date"])
    w("- machine: %s" % m["host"])
    w("- load average (1, 5, 15 min): %s at start, %s after one-shot, %s after line mode, %s at end" % (
        m["load_start"], m.get("load_after_oneshot", "?"), m.get("load_after_lines", "?"), m["load_end"]))
    w("- server: %s; %s" % (m["server"], m["libs"]))
    w("- tools: " + "; ".join("%s %s" % kv for kv in m["versions"].items()))
    w("- %d interleaved runs per tool (one-shot), %d per tool and size (line mode); medians with (min–max)\n" % (
        m["runs"], m["line_runs"]))

    names = tools_in(raw["oneshot"])
    by = {n: [r for r in raw["oneshot"] if r["tool"] == n] for n in names}
    if names:
        w("### One message\n")
        w("| tool | wall ms | CPU ms (user+sys) | peak RSS MB | start → received ms | server CPU ms | exit |")
        w("|---|---|---|---|---|---|---|")
        for n in names:
            rs = by[n]
            w("| %s | %s | %s | %s | %s | %s | %s |" % (
                n, cell([r["wall_ms"] for r in rs], "%.1f"), cell([r["cpu_ms"] for r in rs], "%.1f"),
                cell([r["rss_kb"] for r in rs], "%.1f", 1 / 1024),
                cell([r["received_ms"] for r in rs], "%.1f"),
                cell([r.get("server_cpu_ms") for r in rs], "%.1f"), exits(rs)))
        w("\nServer CPU: Prosody's CPU time from the tool's start until 20 ms after it exited and its "
          "message arrived (/proc/PID/schedstat).")
        if BASELINE in by:
            w("\nRatios of medians to %s:\n" % BASELINE)
            w("| tool | wall | CPU | RSS | start → received |")
            w("|---|---|---|---|---|")
            base = {k: med([r[k] for r in by[BASELINE]]) for k in ("wall_ms", "cpu_ms", "rss_kb", "received_ms")}
            for n in names:
                w("| %s | %s | %s | %s | %s |" % (n, *(ratio(med([r[k] for r in by[n]]), base[k])
                                                      for k in ("wall_ms", "cpu_ms", "rss_kb", "received_ms"))))
            if "xmpp-send" in by:
                w("\nTargets for xmpp-send (ratio of medians to %s):\n" % BASELINE)
                w("| metric | xmpp-send | %s | ratio | target | met |" % BASELINE)
                w("|---|---|---|---|---|---|")
                keys = {"wall": ("wall_ms", "%.1f ms"), "received": ("received_ms", "%.1f ms"),
                        "cpu": ("cpu_ms", "%.1f ms"), "rss": ("rss_kb", "%.0f KB")}
                for key, label, limit in TARGETS:
                    k, fmt = keys[key]
                    a, b = med([r[k] for r in by["xmpp-send"]]), base[k]
                    ok = a is not None and b and a / b <= limit
                    w("| %s | %s | %s | %s | ≤ %.1f× | %s |" % (
                        label, fmt % a if a is not None else "—", fmt % b if b is not None else "—",
                        ratio(a, b), limit, "yes" if ok else "**no**"))

    if raw["lines"]:
        w("\n### Line mode (N lines on standard input, one connection)\n")
        w("| tool | lines | msg/s at the receiver | sender wall s | CPU ms | peak RSS MB | "
          "received / lost / dup / out of order (all runs) | messages | exit | server CPU ms | receiver CPU ms |")
        w("|---|---|---|---|---|---|---|---|---|---|---|")
        sizes = sorted({r["lines"] for r in raw["lines"]})
        lnames = tools_in(raw["lines"])
        for n in sizes:
            for t in lnames:
                rs = [r for r in raw["lines"] if r["tool"] == t and r["lines"] == n]
                if not rs:
                    continue
                w("| %s | %d | %s | %s | %s | %s | %d / %d / %d / %d | %d | %s | %s | %s |" % (
                    t, n, cell([r["rx_rate"] for r in rs], "%.0f"),
                    cell([r["wall_ms"] for r in rs], "%.2f", 1 / 1000),
                    cell([r["cpu_ms"] for r in rs], "%.0f"),
                    cell([r["rss_kb"] for r in rs], "%.1f", 1 / 1024),
                    sum(r["received"] for r in rs), sum(r["lost"] for r in rs),
                    sum(r["duplicated"] for r in rs), sum(r["out_of_order"] for r in rs),
                    sum(r["messages"] for r in rs), exits(rs),
                    cell([r.get("server_cpu_ms") for r in rs], "%.0f"),
                    cell([r.get("receiver_cpu_ms") for r in rs], "%.0f")))
        w("\nmsg/s at the receiver = distinct lines received / (last arrival − sender start). "
          "'messages' = message stanzas that carried the lines.")

    if raw["rtt"]:
        w("\n### Round trips before the message\n")
        w("| tool | client→server flights up to the message (median, min–max) | runs |")
        w("|---|---|---|")
        for t in tools_in(raw["rtt"]):
            rs = [r["flights"] for r in raw["rtt"] if r["tool"] == t]
            w("| %s | %s | %d |" % (t, cell(rs, "%.0f"), len(rs)))
        w("\nCounted in a loopback capture (dumpcap, dissected by tshark): runs of client data segments with "
          "no server response between them, from the TCP connect up to and including the one after which the "
          "server forwards the message to the receiver; the two TLS 1.3 session tickets the server sends after "
          "the handshake are not counted as a response. Protocol minimum with STARTTLS + SCRAM + bind: 9 "
          "(7 with bind and the message pipelined); with PLAIN one less.")

    if raw["callgrind"]:
        w("\n### Callgrind (xmpp-send)\n")
        w("| run | instructions (Ir) | exit |")
        w("|---|---|---|")
        for label, c in raw["callgrind"].items():
            w("| %s | %s | %s |" % (label, "{:,}".format(c["instructions"]) if c["instructions"] else "—",
                                    c["exit"]))
    if raw["callgrind"]:
        for label, c in raw["callgrind"].items():
            objs = c.get("by_object") or {}
            tot = sum(objs.values())
            if tot:
                w("\n%s, instructions by object: " % label.capitalize() + ", ".join(
                    "%s %.0f%%" % (o, 100.0 * n / tot)
                    for o, n in sorted(objs.items(), key=lambda kv: -kv[1]) if n / tot >= 0.01) + ".")

    if raw.get("floor"):
        w("\n### What the libraries cost before any work (bench/floor)\n")
        w("| program | peak RSS MB | CPU ms | wall ms |")
        w("|---|---|---|---|")
        for f in raw["floor"]:
            w("| %s | %s | %s | %s |" % (f["what"], cell(f["rss_kb"], "%.2f", 1 / 1024),
                                         cell(f["cpu_ms"], "%.1f"), cell(f["wall_ms"], "%.1f")))

    plain = raw.get("plain")
    if plain and plain.get("oneshot"):
        w("\n### The same one-shot runs when the server offers only PLAIN\n")
        w("Prosody with `disable_sasl_mechanisms` covering SCRAM, so every tool authenticates as "
          "go-sendxmpp already does by choice: this isolates what libstrophe's SCRAM-SHA-1 costs "
          "xmpp-send (the server then does the PBKDF2 itself).\n")
        w("| tool | wall ms | CPU ms | peak RSS MB | start → received ms | server CPU ms | flights | exit |")
        w("|---|---|---|---|---|---|---|---|")
        pn = tools_in(plain["oneshot"])
        for n in pn:
            rs = [r for r in plain["oneshot"] if r["tool"] == n]
            fl = [r["flights"] for r in plain.get("rtt", []) if r["tool"] == n]
            w("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                n, cell([r["wall_ms"] for r in rs], "%.1f"), cell([r["cpu_ms"] for r in rs], "%.1f"),
                cell([r["rss_kb"] for r in rs], "%.1f", 1 / 1024),
                cell([r["received_ms"] for r in rs], "%.1f"),
                cell([r.get("server_cpu_ms") for r in rs], "%.1f"), cell(fl, "%.0f"), exits(rs)))
        for label, c in plain.get("callgrind", {}).items():
            w("\nCallgrind, %s with PLAIN: %s instructions." % (
                label, "{:,}".format(c["instructions"]) if c["instructions"] else "—"))
        if BASELINE in pn and "xmpp-send" in pn:
            a = {k: med([r[k] for r in plain["oneshot"] if r["tool"] == "xmpp-send"])
                 for k in ("wall_ms", "cpu_ms", "rss_kb", "received_ms")}
            b = {k: med([r[k] for r in plain["oneshot"] if r["tool"] == BASELINE])
                 for k in ("wall_ms", "cpu_ms", "rss_kb", "received_ms")}
            w("\nxmpp-send / go-sendxmpp with PLAIN: wall %s, CPU %s, RSS %s, start → received %s." % tuple(
                ratio(a[k], b[k]) for k in ("wall_ms", "cpu_ms", "rss_kb", "received_ms")))

    if raw["notes"]:
        w("\nNotes:\n")
        for n in raw["notes"]:
            w("- " + n)
    return "\n".join(out) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=10, help="one-shot runs per tool (default 10)")
    p.add_argument("--line-runs", type=int, default=None, help="line-mode runs per tool and size (default: --runs)")
    p.add_argument("--lines", default="1000,10000", help="line-mode sizes, comma-separated ('' for none)")
    p.add_argument("--rtt-runs", type=int, default=3, help="capture runs per tool for round trips (0: skip)")
    p.add_argument("--callgrind", choices=("all", "oneshot", "none"), default="all",
                   help="callgrind runs: one message and 1,000 lines (all), one message, or none")
    p.add_argument("--no-callgrind", dest="callgrind", action="store_const", const="none")
    p.add_argument("--no-oneshot", dest="oneshot", action="store_false")
    p.add_argument("--tools", default="xmpp-send,go-sendxmpp,sendxmpp,xmppc")
    p.add_argument("--xmpp-send", help="the xmpp-send binary")
    p.add_argument("--xmpp-send-lines", help="xmpp-send binary for line mode (default: --xmpp-send)")
    p.add_argument("--work", required=True, help="directory for raw results and logs")
    p.add_argument("--settle", type=float, default=0.2, help="pause between runs, seconds")
    p.add_argument("--tool-timeout", type=float, default=120)
    p.add_argument("--server-note", default="")
    p.add_argument("--report", help="re-print the report of WORK/raw.json and exit", action="store_true")
    p.add_argument("--spawn", help="the bench/spawn binary")
    p.add_argument("--floor", help="the bench/floor binary (omit to skip the floor table)")
    p.add_argument("--plain", help="with --report: also WORK of a pass against a PLAIN-only server")
    args = p.parse_args()
    global SPAWN
    SPAWN = args.spawn
    if args.report:
        with open(os.path.join(args.work, "raw.json")) as f:
            raw = json.load(f)
        if args.plain and os.path.exists(os.path.join(args.plain, "raw.json")):
            with open(os.path.join(args.plain, "raw.json")) as f:
                raw["plain"] = json.load(f)
        text = report(raw)
        with open(os.path.join(args.work, "report.md"), "w") as f:
            f.write(text)
        print(text)
        return
    args.lines = [int(x) for x in args.lines.split(",") if x.strip()]
    args.lines_phase = bool(args.lines)
    if args.line_runs is None:
        args.line_runs = args.runs
    Bench(args).run()


if __name__ == "__main__":
    main()
