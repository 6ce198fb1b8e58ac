#!/usr/bin/python3
"""bench/receiver.py: the measuring end of the benchmark (slixmpp; never one of
the tools under test).

Logs in (STARTTLS, the test CA), sends presence, makes one round trip so the
server has processed it, then writes "READY <local-port>" to --ready-file and
stays online until it is killed or --timeout passes. Every message with a body
that reaches it is appended to --out as one line:

    <CLOCK_MONOTONIC ns at arrival> <TAB> <body as JSON>

written and flushed once per chunk read from the socket, so the driver can
poll the file while a run is going on. CLOCK_MONOTONIC is the same clock for
every process on the machine: the driver records a tool's start on it, and
arrival minus start is the start-to-received time.

Stanzas are taken off the stream before slixmpp builds stanza objects and runs
its handler matching, so the receiver costs little CPU per message and is not
what limits a line-mode run. Run with /usr/bin/python3 (Debian's
python3-slixmpp); the password comes from the environment variable named by
--password-env, never argv.
"""
import argparse
import json
import logging
import os
import sys
import time
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP

MESSAGE = "{jabber:client}message"
BODY = "{jabber:client}body"


class Receiver(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.ca_certs = args.ca
        self.default_domain = self.boundjid.domain
        self.online = False
        self.arrived = 0
        self.now = 0
        self.pending = []
        self.out = open(args.out, "a", buffering=1 << 20, encoding="utf-8")
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failure)
        self.add_event_handler("connection_failed", self.on_failure)
        self.add_event_handler("disconnected", self.on_disconnected)

    async def get_dns_records(self, domain, port=None):
        # Always the address given: never a DNS answer for the XMPP domain
        # (bench/run serves one for xmppc, with another port).
        return [(domain, self.args.host, self.args.port)]

    def data_received(self, data):
        # One timestamp per chunk: everything in it arrived together.
        self.now = time.monotonic_ns()
        ClientXMPP.data_received(self, data)
        if self.pending:
            self.out.write("".join(self.pending))
            self.out.flush()
            self.pending.clear()

    def _spawn_event(self, xml):
        if self.online and xml.tag == MESSAGE:
            body = xml.find(BODY)
            if body is not None:
                self.arrived += 1
                self.pending.append("%d\t%s\n" % (self.now, json.dumps(body.text or "")))
                return
        ClientXMPP._spawn_event(self, xml)

    def on_failure(self, event):
        print("receiver: cannot connect or log in as %s: %s" % (self.args.jid, event),
              file=sys.stderr, flush=True)
        os._exit(2)

    def on_disconnected(self, event):
        print("receiver: disconnected: %s" % (event,), file=sys.stderr, flush=True)
        os._exit(3)

    async def on_session_start(self, _event):
        self.send_presence()
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        await iq.send(timeout=10)
        self.online = True
        port = self.transport.get_extra_info("sockname")[1]
        tmp = self.args.ready_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("READY %d\n" % port)
        os.rename(tmp, self.args.ready_file)
        print("receiver: READY (local port %d)" % port, file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jid", required=True)
    p.add_argument("--password-env", default="XU_RECEIVER_PASSWORD")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca", required=True, help="CA file to trust")
    p.add_argument("--out", required=True, help="arrival log (appended)")
    p.add_argument("--ready-file", required=True)
    p.add_argument("--timeout", type=float, default=7200, help="exit after S seconds")
    args = p.parse_args()
    password = os.environ.get(args.password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.password_env)
    logging.basicConfig(level=logging.CRITICAL)
    xmpp = Receiver(args, password)
    xmpp.connect(address=(args.host, args.port))
    xmpp.loop.call_later(args.timeout, lambda: os._exit(1))
    xmpp.loop.run_forever()


if __name__ == "__main__":
    main()
