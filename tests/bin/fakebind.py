#!/usr/bin/python3
"""fakebind.py: a scripted XMPP server for resource binding and sessions.

  fakebind.py CONDITION [--port-file FILE]

Listens on a free port on 127.0.0.1 (printed on stdout and written to FILE),
plaintext only (clients need --tls off): offers SASL PLAIN, accepts any
credentials, then
  - CONDITION session / session-optional: binds the resource asked for (or
    "fake") and advertises RFC 3921 session establishment as required / as
    <optional/>; a session request is answered with a result;
  - any other CONDITION: answers the bind request with an iq error carrying
    the RFC 6120 stanza error CONDITION (conflict, not-allowed, bad-request...).
It closes the stream when the client does. Serves connections one after the
other until killed or its parent dies. Stdlib only.

A real server does not produce these on demand (Prosody replaces the older
session on a conflict, and marks the session optional), hence this peer.
"""
import os
import re
import select
import sys

from netutil import announce_port, bound_socket, readable_while_parent

STREAM_NS = "http://etherx.jabber.org/streams"
ERROR_TYPE = {"conflict": "cancel", "not-allowed": "cancel", "bad-request": "modify"}


def header(domain, sid):
    return ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='%s' id='%s' from='%s' version='1.0'>" % (STREAM_NS, sid, domain))


class Peer:
    def __init__(self, sock, parent):
        self.sock = sock
        self.parent = parent
        self.buf = ""

    def expect(self, pattern):
        """Read until pattern (a regex) matches; return the match; None on EOF."""
        while True:
            m = re.search(pattern, self.buf, re.S)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if os.getppid() != self.parent:
                return None
            r, _, _ = select.select([self.sock], [], [], 0.5)
            if not r:
                continue
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data.decode("utf-8", "replace")

    def send(self, text):
        self.sock.sendall(text.encode())


def serve(peer, condition):
    m = peer.expect(r"<stream:stream[^>]*\sto=['\"]([^'\"]+)['\"][^>]*>")
    if not m:
        return
    domain = m.group(1)
    peer.send(header(domain, "fake-1") +
              "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
              "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
    if not peer.expect(r"<auth[^>]*>.*?</auth>"):
        return
    peer.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>")
    if not peer.expect(r"<stream:stream[^>]*>"):
        return
    session = ""
    if condition.startswith("session"):
        session = "<session xmlns='urn:ietf:params:xml:ns:xmpp-session'>%s</session>" % (
            "<optional/>" if condition == "session-optional" else "")
    peer.send(header(domain, "fake-2") +
              "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>%s</stream:features>" % session)
    m = peer.expect(r"<iq[^>]*\sid=['\"]([^'\"]+)['\"][^>]*>(.*?)</iq>")
    if not m:
        return
    if session:
        res = re.search(r"<resource>([^<]*)</resource>", m.group(2))
        peer.send("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                  "<jid>user@%s/%s</jid></bind></iq>" % (m.group(1), domain, res.group(1) if res else "fake"))
        while True:
            m = peer.expect(r"(</stream:stream>)|<iq[^>]*\sid=['\"]([^'\"]+)['\"][^>]*>.*?</iq>")
            if not m or m.group(1):
                break
            peer.send("<iq type='result' id='%s'/>" % m.group(2))
        try:
            peer.send("</stream:stream>")
        except OSError:
            pass
        return
    peer.send("<iq type='error' id='%s'><error type='%s'><%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
              "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>refused by fakebind.py</text>"
              "</error></iq>" % (m.group(1), ERROR_TYPE.get(condition, "cancel"), condition))
    peer.expect(r"</stream:stream>")
    try:
        peer.send("</stream:stream>")
    except OSError:
        pass


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 64
    condition = argv[1]
    port_file = argv[argv.index("--port-file") + 1] if "--port-file" in argv else None
    s = bound_socket(4, reuse=True)
    announce_port(s.getsockname()[1], port_file)
    parent = os.getppid()
    for _ in readable_while_parent(s):
        c, _ = s.accept()
        try:
            serve(Peer(c, parent), condition)
        except OSError:
            pass
        finally:
            c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
