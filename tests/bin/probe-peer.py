#!/usr/bin/python3
"""Scripted peers for the xmpp-probe tests (stdlib only).

  probe-peer.py cm --secret-file FILE [--tls CERT KEY] [--no-config] [--port-file F]
      An Openfire-style connection-manager listener (no Openfire here): reads
      <stream:stream xmlns='jabber:connectionmanager' to=NAME>, answers with a
      stream id and features (STARTTLS with --tls), checks
      <handshake>sha1(id + secret)</handshake>, answers <handshake/> and
      sends the client configuration iq (unless --no-config), or ends the
      stream with <not-authorized/>. Prints one line per event on stdout.

  probe-peer.py dns --address IP [--srv NAME=PRIO,WEIGHT,PORT,TARGET]... [--a NAME=IP]...
      A tiny DNS server on IP:53/udp answering SRV and A queries from the
      table (AAAA and anything else: no data; unknown names: NXDOMAIN).

The port is written to --port-file once listening. Runs until killed or
until its parent process dies.
"""
import argparse
import hashlib
import socket
import ssl
import struct
import sys
import uuid
import xml.parsers.expat

from netutil import announce_port, bound_socket, readable_while_parent

NS_STREAMS = "http://etherx.jabber.org/streams"


def log(*a):
    print(*a, flush=True)


class Reader:
    """Top-level elements of an XML stream, as (name, attrs, text, children)."""

    def __init__(self, sock):
        self.sock = sock
        self.reset()

    def reset(self):
        self.p = xml.parsers.expat.ParserCreate(namespace_separator=" ")
        self.p.StartElementHandler = self.start
        self.p.EndElementHandler = self.end
        self.p.CharacterDataHandler = self.chars
        self.stack = []
        self.header = None
        self.done = []
        self.closed = False

    def start(self, name, attrs):
        el = {"name": name, "attrs": attrs, "text": "", "children": []}
        if self.header is None:
            self.header = el
            return
        if self.stack:
            self.stack[-1]["children"].append(el)
        self.stack.append(el)

    def end(self, name):
        if not self.stack:
            self.closed = True
            return
        el = self.stack.pop()
        if not self.stack:
            self.done.append(el)

    def chars(self, data):
        if self.stack:
            self.stack[-1]["text"] += data

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError()
        self.p.Parse(data, False)

    def wait_header(self):
        while self.header is None:
            self.fill()
        return self.header

    def next(self):
        while not self.done:
            if self.closed:
                raise EOFError()
            self.fill()
        return self.done.pop(0)


def cm_session(conn, args, secret):
    r = Reader(conn)
    hdr = r.wait_header()
    to = hdr["attrs"].get("to", "")
    log("STREAM ns=%s to=%s" % (hdr["name"].split(" ")[0], to))
    sid = uuid.uuid4().hex[:8]
    tls_done = False

    def open_reply():
        features = ""
        if args.tls and not tls_done:
            features = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
        conn.sendall(("<?xml version='1.0' encoding='UTF-8'?><stream:stream "
                      "xmlns:stream='%s' xmlns='jabber:connectionmanager' from='%s' id='%s' "
                      "version='1.0'><stream:features>%s<compression "
                      "xmlns='http://jabber.org/features/compress'><method>zlib</method>"
                      "</compression></stream:features>" % (NS_STREAMS, to, sid, features)).encode())

    open_reply()
    while True:
        el = r.next()
        name = el["name"].split(" ")[-1]
        if name == "starttls" and args.tls:
            conn.sendall(b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(args.tls[0], args.tls[1])
            conn = ctx.wrap_socket(conn, server_side=True)
            r.sock = conn
            r.reset()
            r.wait_header()
            tls_done = True
            sid = uuid.uuid4().hex[:8]
            log("TLS %s" % conn.version())
            open_reply()
            continue
        if name == "handshake":
            want = hashlib.sha1((sid + secret).encode()).hexdigest()
            if el["text"].strip().lower() == want:
                log("HANDSHAKE OK")
                conn.sendall(b"<handshake></handshake>")
                if not args.no_config:
                    conn.sendall(
                        b"<iq type='set' id='143-23'><configuration "
                        b"xmlns='http://jabber.org/protocol/connectionmanager'>"
                        b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
                        b"<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                        b"<mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
                        b"</mechanisms><auth xmlns='http://jabber.org/features/iq-auth'/>"
                        b"<register xmlns='http://jabber.org/features/iq-register'/>"
                        b"</configuration></iq>")
            else:
                log("HANDSHAKE BAD")
                conn.sendall(("<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:"
                              "xmpp-streams'/></stream:error>").encode())
                return
            continue
        if name == "iq":
            log("IQ type=%s id=%s" % (el["attrs"].get("type"), el["attrs"].get("id")))
            continue
        log("OTHER %s" % name)


def serve_cm(args):
    with open(args.secret_file) as f:
        secret = f.readline().rstrip("\n")
    s = bound_socket(8, reuse=True)
    announce_port(s.getsockname()[1], args.port_file, echo=False)
    for _ in readable_while_parent(s):
        conn, _ = s.accept()
        conn.settimeout(10)
        try:
            cm_session(conn, args, secret)
        except (EOFError, OSError, ssl.SSLError, xml.parsers.expat.ExpatError) as e:
            log("END %s" % type(e).__name__)
        try:
            conn.sendall(b"</stream:stream>")
        except OSError:
            pass
        conn.close()


# ---- DNS ----

def qname(buf, off):
    labels = []
    while True:
        n = buf[off]
        off += 1
        if n == 0:
            break
        labels.append(buf[off:off + n].decode())
        off += n
    return ".".join(labels).lower(), off


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def serve_dns(args):
    srv, a = {}, {}
    for item in args.srv or []:
        name, rest = item.split("=", 1)
        prio, weight, port, target = rest.split(",")
        srv.setdefault(name.lower(), []).append((int(prio), int(weight), int(port), target))
    for item in args.a or []:
        name, ip = item.split("=", 1)
        a[name.lower()] = ip
    aaaa = {}
    for item in args.aaaa or []:
        name, ip = item.split("=", 1)
        aaaa[name.lower()] = ip
    s = bound_socket(kind=socket.SOCK_DGRAM, address=(args.address, 53))
    announce_port(53, args.port_file, echo=False)
    for _ in readable_while_parent(s):
        q, peer = s.recvfrom(4096)
        qid, flags = struct.unpack("!HH", q[:4])
        name, off = qname(q, 12)
        qtype, qclass = struct.unpack("!HH", q[off:off + 4])
        question = q[12:off + 4]
        answers = []
        known = name in srv or name in a or name in aaaa
        if qtype == 33 and name in srv:
            for prio, weight, port, target in srv[name]:
                rdata = struct.pack("!HHH", prio, weight, port) + encode_name(target)
                answers.append(b"\xc0\x0c" + struct.pack("!HHIH", 33, 1, 60, len(rdata)) + rdata)
        elif qtype == 1 and name in a:
            rdata = socket.inet_aton(a[name])
            answers.append(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + rdata)
        elif qtype == 28 and name in aaaa:
            rdata = socket.inet_pton(socket.AF_INET6, aaaa[name])
            answers.append(b"\xc0\x0c" + struct.pack("!HHIH", 28, 1, 60, 16) + rdata)
        rcode = 0 if known else 3
        log("DNS %s type=%d answers=%d" % (name, qtype, len(answers)))
        head = struct.pack("!HHHHHH", qid, 0x8180 | (flags & 0x0100) | rcode, 1, len(answers), 0, 0)
        s.sendto(head + question + b"".join(answers), peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["cm", "dns"])
    ap.add_argument("--port-file")
    ap.add_argument("--secret-file")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--no-config", action="store_true")
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--srv", action="append")
    ap.add_argument("--a", action="append")
    ap.add_argument("--aaaa", action="append")
    args = ap.parse_args()
    if args.mode == "cm":
        serve_cm(args)
    else:
        serve_dns(args)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
