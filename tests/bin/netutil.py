#!/usr/bin/python3
"""Small network helpers for the xmpputils test suite (stdlib only, starts fast).

  netutil.py free-ports N
      Print N distinct TCP ports on 127.0.0.1 that were free a moment ago
      (bound to port 0 by the kernel, then released). Callers must cope with
      the small race by checking that the server really got them.

  netutil.py wait-xmpp HOST PORT DOMAIN TIMEOUT [--tls]
      Wait until HOST:PORT answers an XMPP stream header for DOMAIN with
      <stream:features> (so it is *our* server for *our* domain, not some other
      listener). --tls: the port is direct TLS (certificate not verified here).
      Exit 0 when ready, 1 on timeout.

  netutil.py component-check HOST PORT NAME
      Log in as XEP-0114 component NAME with the secret in $XU_COMPONENT_SECRET;
      exit 0 if the server accepts the handshake.

  netutil.py sink silent|closed [--port-file FILE]
      silent: listen on a free port, accept connections and never answer.
      closed: bind a free port without listening, so connecting to it is
              refused (RST) for as long as this process lives.
      The port is printed on stdout (and written to FILE); the process then
      stays until killed, or until its parent process dies.

Also imported by the suite's other scripted peers and clients (probe-peer.py,
fakebind.py, xuclient.py): write_atomic (ready and port files),
bound_socket/announce_port (a listener on a free loopback port) and
readable_while_parent (a serving loop that ends with the test that started it).
"""
import os
import select
import socket
import ssl
import sys
import time


def write_atomic(path, text):
    """Write TEXT to PATH all at once: a test polling for PATH sees all of it or nothing."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def bound_socket(backlog=None, kind=socket.SOCK_STREAM, address=("127.0.0.1", 0), reuse=False):
    """A socket bound to ADDRESS (a free loopback port by default); listening when BACKLOG is given."""
    s = socket.socket(socket.AF_INET, kind)
    if reuse:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(address)
    if backlog is not None:
        s.listen(backlog)
    return s


def announce_port(port, port_file, echo=True):
    """Say which port we got: on stdout (ECHO) and, atomically, in PORT_FILE."""
    if echo:
        print(port, flush=True)
    if port_file:
        write_atomic(port_file, "%d\n" % port)


def readable_while_parent(sock, tick=0.5):
    """Yield each time SOCK is readable, until the process that started us is gone."""
    parent = os.getppid()
    while os.getppid() == parent:
        r, _, _ = select.select([sock], [], [], tick)
        if r:
            yield


def free_ports(n):
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        print(" ".join(str(s.getsockname()[1]) for s in socks))
    finally:
        for s in socks:
            s.close()


def probe(host, port, domain, use_tls):
    s = socket.create_connection((host, port), timeout=1.0)
    try:
        if use_tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(s, server_hostname=domain)
        s.sendall(("<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
                   "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
                   % domain).encode())
        buf = b""
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            data = s.recv(4096)
            if not data:
                return False
            buf += data
            if b"features" in buf:
                return True
        return False
    finally:
        try:
            s.sendall(b"</stream:stream>")
        except OSError:
            pass
        s.close()


def wait_xmpp(host, port, domain, timeout, use_tls):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if probe(host, port, domain, use_tls):
                return 0
        except OSError:
            pass
        time.sleep(0.05)
    return 1


def component_check(host, port, name, secret):
    """XEP-0114: log in as component NAME; 0 if the server accepts the handshake."""
    import hashlib
    import re
    s = socket.create_connection((host, port), timeout=5)
    try:
        s.sendall(("<?xml version='1.0'?><stream:stream to='%s' xmlns='jabber:component:accept' "
                   "xmlns:stream='http://etherx.jabber.org/streams'>" % name).encode())
        buf = b""
        while b" id=" not in buf or b">" not in buf.split(b"<stream:stream", 1)[-1]:
            data = s.recv(4096)
            if not data:
                return 1
            buf += data
        m = re.search(rb"""\sid=['"]([^'"]+)['"]""", buf)
        if not m:
            return 1
        digest = hashlib.sha1(m.group(1) + secret.encode()).hexdigest()
        s.sendall(("<handshake>%s</handshake>" % digest).encode())
        buf = b""
        while True:
            data = s.recv(4096)
            if not data:
                break
            buf += data
            if b"<handshake" in buf:
                return 0
            if b"error" in buf:
                break
        sys.stderr.write("component handshake refused: %r\n" % buf[:200])
        return 1
    finally:
        s.close()


def sink(mode, port_file):
    if mode not in ("silent", "closed"):
        sys.exit("netutil.py sink: mode must be silent or closed")
    s = bound_socket(16 if mode == "silent" else None)
    announce_port(s.getsockname()[1], port_file)
    parent = os.getppid()
    held = []
    while True:
        if os.getppid() != parent:  # parent died: do not linger
            return 0
        rl = [s] if mode == "silent" else []
        r, _, _ = select.select(rl + held, [], [], 0.5)
        for sock in r:
            if sock is s:
                c, _ = s.accept()
                held.append(c)  # keep it open, never answer
            else:
                try:
                    if not sock.recv(65536):  # peer closed
                        held.remove(sock)
                        sock.close()
                except OSError:
                    held.remove(sock)
                    sock.close()


def main(argv):
    if len(argv) >= 2 and argv[1] == "free-ports":
        free_ports(int(argv[2]) if len(argv) > 2 else 1)
        return 0
    if len(argv) >= 6 and argv[1] == "wait-xmpp":
        return wait_xmpp(argv[2], int(argv[3]), argv[4], float(argv[5]), "--tls" in argv[6:])
    if len(argv) >= 5 and argv[1] == "component-check":
        # the secret comes from the environment (XU_COMPONENT_SECRET), never argv
        return component_check(argv[2], int(argv[3]), argv[4], os.environ["XU_COMPONENT_SECRET"])
    if len(argv) >= 3 and argv[1] == "sink":
        pf = None
        if "--port-file" in argv:
            pf = argv[argv.index("--port-file") + 1]
        return sink(argv[2], pf)
    sys.stderr.write(__doc__)
    return 64


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except KeyboardInterrupt:
        sys.exit(130)
