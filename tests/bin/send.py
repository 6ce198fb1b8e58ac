#!/usr/bin/python3
"""send.py: an independent sender (slixmpp) used to check the harness itself.

  XU_SENDER_PASSWORD=... /usr/bin/python3 send.py --jid alice@xu.test \\
      --to bob@xu.test [--to ...] --body TEXT [--subject S] [--type chat] [--request-receipt]

Password from an environment variable (--password-env), never argv. Exits 0
once the server answered a ping sent after the messages, 2 on any failure.
"""
import argparse
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP


class Sender(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.exit_code = None
        if args.ca:
            self.ca_certs = args.ca
        self.default_domain = self.boundjid.domain
        self.add_event_handler("session_start", self.on_session_start)
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
            if a.request_receipt:
                m["id"] = self.new_id()
                ET.SubElement(m.xml, "{urn:xmpp:receipts}request")
            m.send()
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        try:
            await iq.send(timeout=10)
        except Exception as e:  # noqa: BLE001
            self.finish(2, "ping failed: %r" % (e,))
            return
        self.finish(0)


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
    p.add_argument("--request-receipt", action="store_true")
    p.add_argument("--timeout", type=float, default=15.0)
    args = p.parse_args()
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
