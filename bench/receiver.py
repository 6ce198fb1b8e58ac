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
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "bin"))
import xuclient  # noqa: E402 - the suite's client base (tests/bin/xuclient.py)
from slixmpp import ClientXMPP  # noqa: E402

MESSAGE = "{jabber:client}message"
BODY = "{jabber:client}body"


class Receiver(xuclient.Client):
    def __init__(self, args, password):
        xuclient.Client.__init__(self, args, password)
        self.online = False
        self.arrived = 0
        self.now = 0
        self.pending = []
        self.out = open(args.out, "a", buffering=1 << 20, encoding="utf-8")

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

    def on_timeout(self):
        os._exit(1)

    async def start(self):
        self.send_presence()
        await self.roundtrip()
        self.online = True
        port = self.transport.get_extra_info("sockname")[1]
        self.say_ready(self.args.ready_file, "READY %d\n" % port, "receiver: READY (local port %d)" % port)
        return False


def main():
    p = xuclient.parser(__doc__)
    xuclient.login_args(p, "XU_RECEIVER_PASSWORD", 7200, need=("port", "ca"))
    p.add_argument("--out", required=True, help="arrival log (appended)")
    p.add_argument("--ready-file", required=True)
    args, password = xuclient.parse(p)
    xuclient.quiet_logging()
    return xuclient.run(Receiver(args, password))


if __name__ == "__main__":
    xuclient.main(main)
