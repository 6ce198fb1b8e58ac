#!/usr/bin/python3
"""send.py: an independent sender (slixmpp) used to check the harness itself.

  XU_SENDER_PASSWORD=... /usr/bin/python3 send.py --jid alice@xu.test \\
      --to bob@xu.test [--to ...] --body TEXT [--subject S] [--type chat]
      [--request-receipt | --wait-receipt]

Password from an environment variable (--password-env), never argv.
XU_PY_DEBUG=1 shows slixmpp's debug log on stderr. Exits 0
once the server answered a ping sent after the messages, 2 on any failure.
"""
import asyncio
import os
import xml.etree.ElementTree as ET

import xuclient


class Sender(xuclient.Client):
    timeout_exit = 2

    def __init__(self, args, password):
        xuclient.Client.__init__(self, args, password)
        self.pending_receipts = set()
        self.receipts_done = self.loop.create_future()

    async def start(self):
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
        await self.roundtrip()
        if a.wait_receipt:
            await asyncio.wait_for(self.receipts_done, a.timeout)
        return True

    def on_message(self, msg):
        r = msg.xml.find("{urn:xmpp:receipts}received")
        if r is None:
            return
        print("receipt %s from %s" % (r.get("id"), msg["from"]), flush=True)
        self.pending_receipts.discard(r.get("id"))
        if not self.pending_receipts and not self.receipts_done.done():
            self.receipts_done.set_result(True)


def main():
    p = xuclient.parser(__doc__)
    xuclient.login_args(p, "XU_SENDER_PASSWORD", 15.0)
    p.add_argument("--to", action="append", required=True)
    p.add_argument("--body", required=True)
    p.add_argument("--subject")
    p.add_argument("--type", choices=["chat", "normal", "headline", "groupchat"])
    p.add_argument("--request-receipt", action="store_true", help="ask for XEP-0184 receipts")
    p.add_argument("--wait-receipt", action="store_true",
                   help="ask for receipts and wait for all of them (printed as 'receipt ID from JID')")
    args, password = xuclient.parse(p)
    xuclient.quiet_logging(os.environ.get("XU_PY_DEBUG"))
    return xuclient.run(Sender(args, password))


if __name__ == "__main__":
    xuclient.main(main)
