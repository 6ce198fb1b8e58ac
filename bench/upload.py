#!/usr/bin/python3
"""bench/upload.py: the measurements of bench/upload (run inside its server).

Each run uploads each size with each tool, one after the other, the order of the
tools alternating from run to run; wall time (monotonic clock around the process)
and peak RSS (wait4) per process. A slixmpp receiver (tests/bin/receiver.py) logged
in as bob collects the messages; afterwards every URL is downloaded and its
SHA-256 compared with the file that was sent."""
import argparse
import hashlib
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request

ENV = os.environ
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RCPT = "bob@" + ENV.get("XU_DOMAIN", "xu.test")


def run(spawn, work, cmd, env=None):
    """cmd under bench/spawn (a small C process: a child forked from Python
    would start with Python's RSS); returns wall s, peak RSS KiB, exit code, stderr."""
    res, errf = os.path.join(work, "spawn.res"), os.path.join(work, "spawn.err")
    acts = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, "/dev/null", os.O_WRONLY, 0),
            (os.POSIX_SPAWN_OPEN, 2, errf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    pid = os.posix_spawn(spawn, [spawn, res, "600"] + cmd, env or dict(ENV), file_actions=acts)
    os.waitpid(pid, 0)
    start, end, _, _, rss, code, _ = open(res).read().split()
    return (int(end) - int(start)) / 1e9, int(rss), int(code), open(errf).read()


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def fetch_sha(url):
    ctx = ssl.create_default_context(cafile=ENV["XU_CA"])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    h = hashlib.sha256()
    with opener.open(url, timeout=60) as r:
        for chunk in iter(lambda: r.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def version(cmd):
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        return "?"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--work", required=True)
    p.add_argument("--xmpp-send", required=True)
    p.add_argument("--spawn", required=True, help="bench/spawn, built")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--sizes", default="1024,52428800")
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    files = {}
    for n in sizes:
        path = os.path.join(a.work, "file-%d.bin" % n)
        with open(path, "wb") as f:
            left = n
            while left:
                chunk = os.urandom(min(left, 1 << 20))
                f.write(chunk)
                left -= len(chunk)
        files[n] = (path, sha(path))
    rc = os.path.join(a.work, "go-sendxmpp.rc")
    fd = os.open(rc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, ("username: alice@%s\npassword: %s\njserver: 127.0.0.1\nport: %s\n" % (
        ENV["XU_DOMAIN"], ENV["XU_ALICE_PASSWORD"], ENV["XU_C2S_PORT"])).encode())
    os.close(fd)
    have_go = subprocess.run(["sh", "-c", "command -v go-sendxmpp"], capture_output=True).returncode == 0
    tools = {
        "xmpp-send": lambda path: ([a.xmpp_send, "--timeout", "300", "--file", path, RCPT], None),
        "go-sendxmpp": lambda path: (["go-sendxmpp", "-f", rc, "-h", path, RCPT],
                                     dict(ENV, SSL_CERT_FILE=ENV["XU_CA"])),
    }
    names = ["xmpp-send"] + (["go-sendxmpp"] if have_go else [])
    expected = a.runs * len(sizes) * len(names)
    recv_out = open(os.path.join(a.work, "received.json"), "w")
    recv = subprocess.Popen(
        [ENV.get("XU_PYTHON", "/usr/bin/python3"), os.path.join(ROOT, "tests/bin/receiver.py"),
         "--jid", RCPT, "--count", str(expected), "--timeout", str(120 + expected * 30),
         "--ready-file", os.path.join(a.work, "recv.ready")],
        env=dict(ENV, XU_RECEIVER_PASSWORD=ENV["XU_BOB_PASSWORD"]), stdout=recv_out,
        stderr=open(os.path.join(a.work, "receiver.err"), "w"), stdin=subprocess.DEVNULL)
    for _ in range(400):
        if os.path.exists(os.path.join(a.work, "recv.ready")):
            break
        time.sleep(0.05)
    else:
        sys.exit("bench/upload: the receiver did not get ready")

    results = {(t, n): [] for t in names for n in sizes}
    sent = []  # (tool, size) in the order of the messages
    for i in range(a.runs):
        order = names if i % 2 == 0 else list(reversed(names))
        for n in sizes:
            for t in order:
                cmd, env = tools[t](files[n][0])
                wall, rss, code, err = run(a.spawn, a.work, cmd, env)
                results[(t, n)].append((wall, rss, code))
                if code == 0:
                    sent.append((t, n))
                else:
                    print("bench/upload: %s (%d bytes) exited %d: %s" % (t, n, code, err.strip()),
                          file=sys.stderr)
                time.sleep(0.2)
    try:
        recv.wait(timeout=120)
    except subprocess.TimeoutExpired:
        recv.kill()
    recv_out.close()
    msgs = [json.loads(line) for line in open(os.path.join(a.work, "received.json"))
            if line.strip()]
    msgs = [m for m in msgs if m.get("body")]
    checked = {t: [0, 0] for t in names}  # good, total
    for (t, n), m in zip(sent, msgs):
        url = m.get("oob_url") or m["body"].strip()
        checked[t][1] += 1
        try:
            if fetch_sha(url) == files[n][1]:
                checked[t][0] += 1
        except Exception as e:  # noqa: BLE001
            print("bench/upload: cannot fetch %s: %s" % (url, e), file=sys.stderr)

    w = sys.stdout.write
    w("## HTTP upload (bench/upload), %s\n\n" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    w("- tools: xmpp-send (%s), %s\n" % (a.xmpp_send, "go-sendxmpp " + version(
        ["dpkg-query", "-W", "-f", "${Version}", "go-sendxmpp"]) if have_go else "go-sendxmpp: not installed"))
    w("- command lines: `xmpp-send --timeout 300 --file FILE %s`; `SSL_CERT_FILE=ca.crt go-sendxmpp -f RC -h FILE %s`\n" % (RCPT, RCPT))
    w("- server: Prosody %s, mod_http_file_share on https://localhost (loopback), log level info; "
      "%d runs, order alternating; load average at the end %s\n\n" % (
          version(["dpkg-query", "-W", "-f", "${Version}", "prosody"]), a.runs,
          open("/proc/loadavg").read().split()[0]))
    w("| tool | size | wall s, median (min–max) | peak RSS MB, median (min–max) | exit 0 |\n")
    w("|---|---|---|---|---|\n")
    med = {}
    for n in sizes:
        for t in names:
            r = results[(t, n)]
            walls = [x[0] for x in r]
            rss = [x[1] / 1024 for x in r]
            ok = sum(1 for x in r if x[2] == 0)
            med[(t, n)] = (statistics.median(walls), statistics.median(rss))
            w("| %s | %s | %.2f (%.2f–%.2f) | %.1f (%.1f–%.1f) | %d/%d |\n" % (
                t, "%d B" % n if n < 1 << 20 else "%d MiB" % (n >> 20), med[(t, n)][0], min(walls),
                max(walls), med[(t, n)][1], min(rss), max(rss), ok, len(r)))
    w("\nDownloads with the original SHA-256: %s.\n" % ", ".join(
        "%s %d of %d" % (t, checked[t][0], checked[t][1]) for t in names))
    if have_go:
        w("\nRatios of medians, xmpp-send / go-sendxmpp: %s.\n" % "; ".join(
            "%s: wall %.2f×, peak RSS %.2f×" % (
                "%d B" % n if n < 1 << 20 else "%d MiB" % (n >> 20),
                med[("xmpp-send", n)][0] / med[("go-sendxmpp", n)][0],
                med[("xmpp-send", n)][1] / med[("go-sendxmpp", n)][1]) for n in sizes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
