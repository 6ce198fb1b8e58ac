#!/usr/bin/python3
"""send.py: an independent sender (slixmpp) used to check the harness itself.

  XU_SENDER_PASSWORD=... /usr/bin/python3 send.py --jid alice@xu.test \\
      --to bob@xu.test [--to ...] --body TEXT [--subject S] [--type chat]
      [--request-receipt | --wait-receipt]

Password from an environment variable (--password-env), never argv.
XU_PY_DEBUG=1 shows slixmpp's debug log on stderr. Exits 0
once the server answered a ping sent after the messages, 2 on any failure.
"""
import argparse
import asyncio
import logging
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath


class Sender(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.exit_code = None
        if args.ca:
            self.ca_certs = args.ca
        self.default_domain = self.boundjid.domain
        self.pending_receipts = set()
        self.receipts_done = self.loop.create_future()
        self.add_event_handler("session_start", self.on_session_start)
        # (slixmpp's "message" event only fires for messages with a body)
        self.register_handler(Callback("xu receipts", StanzaPath("message"), self.on_message))
        self.add_event_handler("failed_auth", lambda e: self.finish(2, "auth failed"))
        self.add_event_handler("connection_failed", lambda e: self.finish(2, "connection failed: %s" % e))
        self.add_event_handler("disconnected", self.on_disconnected)

    def finish(self, code, why=None):
        if self.exit_code is None:
            self.exit_code = code
            if why:
                print("send.py: %s" % why, file=sys.stderr, flush=True)
            self.disconnect(wait=0.5)
            self.loop.call_later(1.0, self.loop.stop)

    def on_disconnected(self, _e):
        if self.exit_code is None:
            self.exit_code = 2
        self.loop.call_soon(self.loop.stop)

    async def on_session_start(self, _e):
        a = self.args
        for to in a.to:
            m = self.Message()
            m["to"] = to
            if a.type:
                m["type"] = a.type
            if a.subject is not None:
                m["subject"] = a.subject
            m["body"] = a.body
            if a.request_receipt or a.wait_receipt:
                m["id"] = self.new_id()
                ET.SubElement(m.xml, "{urn:xmpp:receipts}request")
                self.pending_receipts.add(m["id"])
            m.send()
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        try:
            await iq.send(timeout=10)
            if a.wait_receipt:
                await asyncio.wait_for(self.receipts_done, a.timeout)
        except Exception as e:  # noqa: BLE001
            self.finish(2, "failed: %r" % (e,))
            return
        self.finish(0)

    def on_message(self, msg):
        r = msg.xml.find("{urn:xmpp:receipts}received")
        if r is None:
            return
        print("receipt %s from %s" % (r.get("id"), msg["from"]), flush=True)
        self.pending_receipts.discard(r.get("id"))
        if not self.pending_receipts and not self.receipts_done.done():
            self.receipts_done.set_result(True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jid", required=True)
    p.add_argument("--password-env", default="XU_SENDER_PASSWORD")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    p.add_argument("--ca", default=os.environ.get("XU_CA"))
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--subject")
    p.add_argument("--type", choices=["chat", "normal", "headline", "groupchat"])
    p.add_argument("--request-receipt", action="store_true", help="ask for XEP-0184 receipts")
    p.add_argument("--wait-receipt", action="store_true",
                   help="ask for receipts and wait for all of them (printed as 'receipt ID from JID')")
    p.add_argument("--timeout", type=float, default=15.0)
    args = p.parse_args()
    logging.basicConfig(level=logging.DEBUG if os.environ.get("XU_PY_DEBUG") else logging.CRITICAL,
                        format="%(levelname)s %(message)s")
    password = os.environ.get(args.password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.password_env)
    x = Sender(args, password)
    x.connect(address=(args.host, args.port))
    x.loop.call_later(args.timeout, lambda: x.finish(2, "timeout"))
    x.loop.run_forever()
    return x.exit_code if x.exit_code is not None else 2


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
