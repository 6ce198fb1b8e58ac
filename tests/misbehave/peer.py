#!/usr/bin/python3
"""A misbehaving XMPP server for the xmpputils tests (stdlib only).

  peer.py SCENARIO --cert CRT --key KEY --record PREFIX [--port-file FILE]
          [--domain DOMAIN] [--lifetime SECONDS]

Listens on a free port of 127.0.0.1 (printed on stdout and written to FILE),
serves --connections N (default 1) connections one after the other, each
with the canned behaviour SCENARIO, then exits (also when its parent dies,
or after --lifetime seconds, 120 by default: it always stops by itself).
What the client sent is recorded (all connections, appended):

  PREFIX.plain   every byte received before TLS
  PREFIX.tls     every byte received inside TLS
  PREFIX.events  one line per event: accepted N at SECONDS (a monotonic clock),
                 tls-start, tls-done, sent ...,
                 client-closed, done

Scenarios (the server offers STARTTLS (required), then SASL PLAIN only, then
bind, unless the scenario says otherwise):

  ok                         a correct server: sends one chat message after bind,
                             answers every ping
  stream-error:COND[:TEXT]   after the client's ping arrives, <stream:error> with
                             COND (system-shutdown, conflict, see-other-host, ...)
  cut-after-proceed          sends <proceed/>, then closes the connection
  tls-stall                  sends <proceed/>, then never answers the TLS handshake
  no-bind                    after SASL success, features without <bind/>
  sasl-failure:COND          answers <auth/> with <failure><COND/></failure>
  big-stanza:BYTES           before answering the ping, a <message/> of BYTES bytes
  invalid-xml                after the ping arrives, a malformed stanza
  undeclared-prefix          after the ping arrives, a stanza with an undeclared prefix
  no-ack                     never answers the ping (or any iq after bind)
  sasl-stall                 offers SCRAM-SHA-1, never answers the client's <auth/>
  trickle                    sends its stream header and features one byte per second
  silent-after-bind          answers bind, then never sends anything again
  scram-bad-signature        SCRAM-SHA-1 (GNU SASL's server, through ctypes) with
                             the password in $MB_PEER_PASSWORD, but the server
                             signature in <success/> altered
  scram-no-signature         the same, <success/> without the signature
  scram-plus[:tamper]        TLS 1.2 only, offers SCRAM-SHA-1-PLUS: binds to the
                             session's tls-unique (tamper: to other bytes, as a
                             man in the middle's second TLS session would), then
                             plays a correct server
  scram-repassword           SCRAM-SHA-1 with a fixed salt; from the second
                             connection on the password is $MB_PEER_PASSWORD2
  downgrade                  --connections 3: the first connection plays
                             scram-plus, the others ok (PLAIN only)
  drop-after:SECONDS         a correct server (answers every iq) for SECONDS after
                             bind, then drops the connection without a word
  no-starttls                STARTTLS stripped: offers SASL PLAIN in clear and no
                             <starttls/> (then plays a correct server, in clear)
"""
import argparse
import asyncio
import os
import re
import ssl
import sys
import time

NS_STREAM = "http://etherx.jabber.org/streams"
TLS_FEATURES = ("<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'>"
                "<required/></starttls></stream:features>")
SASL_FEATURES = ("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                 "<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
BIND_FEATURES = "<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"


class Scram:
    """The server side of SCRAM, by GNU SASL (libgsasl), through ctypes."""
    GSASL_OK, GSASL_NEEDS_MORE = 0, 1
    GSASL_PASSWORD, GSASL_CB_TLS_UNIQUE = 3, 18
    GSASL_SCRAM_ITER, GSASL_SCRAM_SALT = 15, 16

    def __init__(self, mech, password, cb_unique=None, salt=None):
        import ctypes
        self.c = ctypes
        self.lib = ctypes.CDLL("libgsasl.so.18")
        self.lib.gsasl_step64.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_char_p)]
        self.lib.gsasl_property_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p]
        self.lib.gsasl_server_start.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        self.ctx = ctypes.c_void_p()
        self.sess = ctypes.c_void_p()
        if self.lib.gsasl_init(ctypes.byref(self.ctx)) != 0:
            raise SystemExit("peer.py: gsasl_init failed")
        if self.lib.gsasl_server_start(self.ctx, mech.encode(), ctypes.byref(self.sess)) != 0:
            raise SystemExit("peer.py: gsasl_server_start failed")
        self.lib.gsasl_property_set(self.sess, self.GSASL_PASSWORD, password.encode())
        if cb_unique is not None:
            self.lib.gsasl_property_set(self.sess, self.GSASL_CB_TLS_UNIQUE, cb_unique)
        if salt is not None:  # a fixed salt and count (else GNU SASL picks a random salt)
            self.lib.gsasl_property_set(self.sess, self.GSASL_SCRAM_SALT, salt)
            self.lib.gsasl_property_set(self.sess, self.GSASL_SCRAM_ITER, b"4096")

    def step(self, b64):
        out = self.c.c_char_p()
        rc = self.lib.gsasl_step64(self.sess, b64, self.c.byref(out))
        return rc, (out.value or b"")


class Peer:
    def __init__(self, reader, writer, args):
        self.r, self.w, self.args = reader, writer, args
        self.buf = b""
        self.tls = False
        self.n_stream = 0
        self.plain = open(args.record + ".plain", "ab")
        self.tlsrec = open(args.record + ".tls", "ab")
        self.ev = open(args.record + ".events", "a")

    def event(self, what):
        self.ev.write(what + "\n")
        self.ev.flush()

    async def read_some(self, timeout=30):
        data = await asyncio.wait_for(self.r.read(65536), timeout)
        if not data:
            self.event("client-closed")
            raise EOFError
        f = self.tlsrec if self.tls else self.plain
        f.write(data)
        f.flush()
        self.buf += data
        return data

    async def expect(self, pattern, timeout=30):
        """Wait until the client has sent something matching pattern (bytes
        regex); consume the input up to the end of the match."""
        rx = re.compile(pattern, re.S)
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                return m
            if b"</stream:stream>" in self.buf and self.n_stream:
                # the client gave up on this stream: close ours, as a server does
                await self.hold()
                raise EOFError
            await self.read_some(max(0.01, end - loop.time()))

    async def send(self, data, note=None):
        if isinstance(data, str):
            data = data.encode()
        self.w.write(data)
        await self.w.drain()
        self.event("sent " + (note or data[:60].decode(errors="replace")))

    async def open_stream(self, features):
        await self.expect(rb"<stream:stream[^>]*>")
        self.n_stream += 1
        await self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                        "xmlns:stream='%s' id='misbehave-%d' from='%s' version='1.0'>"
                        % (NS_STREAM, self.n_stream, self.args.domain), "stream header")
        await self.send(features, "features")

    async def starttls_proceed(self):
        await self.open_stream(TLS_FEATURES)
        await self.expect(rb"<starttls[^>]*>")
        await self.send("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "proceed")

    async def start_tls(self, max_tls12=False):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.args.cert, self.args.key)
        if max_tls12:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.event("tls-start")
        self.buf = b""
        await self.w.start_tls(ctx)
        self.tls = True
        self.event("tls-done")

    async def auth(self):
        await self.open_stream(SASL_FEATURES)
        await self.expect(rb"<auth[^>]*(/>|>.*?</auth>)")

    async def bind(self):
        await self.open_stream(BIND_FEATURES)
        m = await self.expect(rb"<iq[^>]*\bid=[\"']([^\"']+)[\"'][^>]*>.*?</iq>")
        await self.send("<iq type='result' id='%s'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
                        "<jid>alice@%s/misbehave</jid></bind></iq>" % (m.group(1).decode(), self.args.domain),
                        "bind result")

    async def ready(self):
        await self.starttls_proceed()
        await self.start_tls()
        await self.auth()
        await self.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "success")
        await self.bind()

    async def ping(self):
        """Wait for an iq ping; returns its id."""
        m = await self.expect(rb"<iq[^>]*>\s*<ping[^>]*urn:xmpp:ping[^>]*/>\s*</iq>")
        idm = re.search(rb"\bid=[\"']([^\"']+)[\"']", m.group(0))
        return idm.group(1).decode() if idm else ""

    async def answer_ping(self, pid):
        await self.send("<iq type='result' id='%s' from='%s'/>" % (pid, self.args.domain), "ping result")

    async def serve(self):
        """Answer every iq get (ping, disco#info, version; others with
        service-unavailable) until the client closes its stream."""
        rx = re.compile(rb"<iq\b[^>]*?(/>|>.*?</iq>)", re.S)
        while True:
            m = rx.search(self.buf)
            if m:
                self.buf = self.buf[m.end():]
                iq = m.group(0)
                idm = re.search(rb"\bid=[\"']([^\"']+)[\"']", iq)
                iid = idm.group(1).decode() if idm else ""
                if not re.search(rb"type=[\"'](get|set)[\"']", iq):
                    continue
                if b"urn:xmpp:ping" in iq:
                    await self.answer_ping(iid)
                elif b"http://jabber.org/protocol/disco#info" in iq:
                    await self.send("<iq type='result' id='%s' from='%s'><query xmlns='http://jabber.org/protocol/disco#info'>"
                                    "<identity category='server' type='im' name='misbehave'/>"
                                    "<feature var='urn:xmpp:ping'/></query></iq>" % (iid, self.args.domain), "disco result")
                elif b"jabber:iq:version" in iq:
                    await self.send("<iq type='result' id='%s' from='%s'><query xmlns='jabber:iq:version'>"
                                    "<name>misbehave</name><version>1</version></query></iq>" % (iid, self.args.domain),
                                    "version result")
                else:
                    await self.send("<iq type='error' id='%s' from='%s'><error type='cancel'>"
                                    "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>"
                                    % (iid, self.args.domain), "iq error")
                continue
            if b"</stream:stream>" in self.buf:
                return await self.hold()
            await self.read_some(timeout=self.args.lifetime)

    async def hold(self):
        """Read (and record) until the client closes; answer its
        </stream:stream> as a server does."""
        while True:
            if b"</stream:stream>" in self.buf:
                self.buf = b""
                await self.send("</stream:stream>", "stream close")
                await self.close()
                return
            await self.read_some(timeout=self.args.lifetime)

    async def close(self):
        self.w.close()
        self.event("server-closed")


async def play(p, scenario):
    name, _, arg = scenario.partition(":")
    if name == "ok":
        await p.ready()
        await p.send("<message from='bob@%s/x' to='alice@%s/misbehave' type='chat' id='hello1'>"
                     "<body>hello from the peer</body></message>" % (p.args.domain, p.args.domain),
                     "message")
        await p.serve()
    elif name == "stream-error":
        cond, _, text = arg.partition(":")
        await p.ready()
        await p.ping()
        inner = "<%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" % cond
        if cond == "see-other-host":
            inner = "<see-other-host xmlns='urn:ietf:params:xml:ns:xmpp-streams'>other.invalid:5222</see-other-host>"
        if text:
            inner += "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams'>%s</text>" % text
        await p.send("<stream:error>%s</stream:error></stream:stream>" % inner, "stream error " + cond)
        await p.hold()
    elif name == "cut-after-proceed":
        await p.starttls_proceed()
        await p.close()
    elif name == "tls-stall":
        await p.starttls_proceed()
        p.event("stalling")
        await p.hold()
    elif name == "no-bind":
        await p.starttls_proceed()
        await p.start_tls()
        await p.auth()
        await p.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "success")
        await p.open_stream("<stream:features><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/>"
                            "</stream:features>")
        await p.hold()
    elif name == "sasl-failure":
        await p.starttls_proceed()
        await p.start_tls()
        await p.auth()
        await p.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><%s/></failure>" % arg,
                     "sasl failure " + arg)
        await p.hold()
    elif name == "big-stanza":
        size = int(arg or 10 * 1024 * 1024)
        await p.ready()
        pid = await p.ping()
        head = "<message from='bob@%s/x' to='alice@%s/misbehave' type='chat'><body>" % (
            p.args.domain, p.args.domain)
        tail = "</body></message>"
        body = size - len(head) - len(tail)
        p.w.write(head.encode())
        chunk = b"x" * 65536
        while body > 0:
            p.w.write(chunk[:min(body, len(chunk))])
            body -= len(chunk)
            await p.w.drain()
        p.w.write(tail.encode())
        await p.w.drain()
        p.event("sent big stanza %d bytes" % size)
        await p.answer_ping(pid)
        await p.serve()
    elif name == "invalid-xml":
        await p.ready()
        await p.ping()
        await p.send("<message from='bob@%s/x'><body>oops</bod></message>" % p.args.domain, "invalid xml")
        await p.hold()
    elif name == "undeclared-prefix":
        await p.ready()
        await p.ping()
        await p.send("<message from='bob@%s/x'><body>hi</body><foo:bar/></message>" % p.args.domain,
                     "undeclared prefix")
        await p.hold()
    elif name == "sasl-stall":
        await p.starttls_proceed()
        await p.start_tls()
        await p.open_stream("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                            "<mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>")
        await p.expect(rb"<auth[^>]*(/>|>.*?</auth>)")
        p.event("stalling")
        await p.hold()
    elif name == "no-ack":
        await p.ready()
        await p.ping()
        p.event("not answering")
        await p.hold()
    elif name == "downgrade":
        # the first connection as scram-plus, every later one as ok
        # (PLAIN only): a server, or someone in between, that stopped
        # offering the mechanism used before
        await play(p, "scram-plus" if p.conn_no == 1 else "ok")
    elif name in ("scram-bad-signature", "scram-no-signature", "scram-plus", "scram-repassword"):
        import base64
        plus = name == "scram-plus"
        await p.starttls_proceed()
        await p.start_tls(max_tls12=plus)
        mechs = "<mechanism>SCRAM-SHA-1</mechanism>"
        cb = None
        if plus:
            mechs = "<mechanism>SCRAM-SHA-1-PLUS</mechanism>" + mechs
            sslobj = p.w.get_extra_info("ssl_object")
            unique = sslobj.get_channel_binding("tls-unique")
            if arg == "tamper":
                unique = bytes(b ^ 0x5A for b in unique)
            cb = base64.b64encode(unique)
        await p.open_stream("<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
                            "%s</mechanisms></stream:features>" % mechs)
        m = await p.expect(rb"<auth[^>]*mechanism=[\"']([A-Z0-9-]+)[\"'][^>]*>(.*?)</auth>")
        mech = m.group(1).decode()
        p.event("auth " + mech)
        password = os.environ.get("MB_PEER_PASSWORD", "")
        salt = None
        if name == "scram-repassword":
            # the password changes after the first connection, the salt does not
            salt = b"c2FsdC10aGF0LXN0YXlz"
            if p.conn_no > 1:
                password = os.environ.get("MB_PEER_PASSWORD2", "")
        srv = Scram(mech, password, cb if mech.endswith("-PLUS") else None, salt)
        rc, out = srv.step(m.group(2))
        await p.send("<challenge xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</challenge>" % out.decode(),
                     "challenge")
        m = await p.expect(rb"<response[^>]*>(.*?)</response>")
        rc, out = srv.step(m.group(1))
        if rc != Scram.GSASL_OK:
            await p.send("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>",
                         "sasl failure (gsasl %d)" % rc)
            await p.hold()
            return
        if name == "scram-bad-signature":
            final = base64.b64decode(out)  # v=BASE64: change one byte of the signature
            sig = bytearray(base64.b64decode(final[2:]))
            sig[0] ^= 1
            out = base64.b64encode(b"v=" + base64.b64encode(bytes(sig)))
        elif name == "scram-no-signature":
            out = b""
        await p.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>%s</success>" % out.decode(), "success")
        p.event("after-success")
        if name not in ("scram-plus", "scram-repassword"):
            await p.hold()
            return
        await p.bind()
        await p.serve()
    elif name == "no-starttls":
        # an attacker on the path removed <starttls/>: a client that
        # continues sends its credentials in clear
        await p.auth()
        await p.send("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>", "success")
        await p.bind()
        await p.serve()
    elif name == "drop-after":
        # a server (or a middlebox) that lets the login through, then cuts
        # every session soon after: a client must not reconnect in a tight loop
        await p.ready()
        try:
            await asyncio.wait_for(p.serve(), float(arg or 0.5))
        except asyncio.TimeoutError:
            pass
        await p.close()
    elif name == "silent-after-bind":
        await p.ready()
        await p.hold()
    elif name == "trickle":
        await p.expect(rb"<stream:stream[^>]*>")
        data = ("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='%s' "
                "id='trickle' from='%s' version='1.0'>%s" % (NS_STREAM, p.args.domain, TLS_FEATURES))
        p.event("trickling")
        for ch in data.encode():
            p.w.write(bytes([ch]))
            await p.w.drain()
            await asyncio.sleep(1)
        await p.hold()
    else:
        raise SystemExit("peer.py: unknown scenario " + scenario)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--domain", default="xu.test")
    ap.add_argument("--lifetime", type=float, default=120)
    ap.add_argument("--connections", type=int, default=1)
    args = ap.parse_args()
    finished = asyncio.Event()
    busy = []
    served = []

    async def handle(reader, writer):
        if busy or len(served) >= args.connections:  # one at a time, N in all
            writer.close()
            return
        busy.append(1)
        served.append(1)
        p = Peer(reader, writer, args)
        p.conn_no = len(served)
        p.event("accepted %d at %.3f" % (len(served), time.monotonic()))
        try:
            await play(p, args.scenario)
        except (EOFError, ConnectionError, asyncio.TimeoutError, ssl.SSLError) as e:
            if not isinstance(e, EOFError):
                p.event("ended: %s" % type(e).__name__)
        finally:
            try:
                writer.close()
            except Exception:
                pass
            p.event("done")
            busy.clear()
            if len(served) >= args.connections:
                finished.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.rename(args.port_file + ".tmp", args.port_file)
    parent = os.getppid()

    async def watchdog():
        loop = asyncio.get_running_loop()
        end = loop.time() + args.lifetime
        while loop.time() < end and os.getppid() == parent:
            await asyncio.sleep(0.2)
        finished.set()

    wd = asyncio.create_task(watchdog())
    await finished.wait()
    wd.cancel()
    server.close()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(130)
