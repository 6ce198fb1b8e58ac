#!/usr/bin/python3
"""receiver.py: an independent XMPP client (slixmpp) that receives messages for tests.

Run it with /usr/bin/python3 (Debian's python3-slixmpp). The password comes from
an environment variable (--password-env, default XU_RECEIVER_PASSWORD), never argv.

Each received message is printed to stdout as one JSON line, flushed:
  {"from", "to", "type", "id", "body", "subject", "thread",
   "receipt_request": bool, "delay": stamp or null, "error": condition or null,
   "oob_url": XEP-0066 URL or null}
Once online (presence sent and processed by the server, rooms joined), it prints
READY on stderr and creates --ready-file if given. It exits 0 after --count
messages, 1 if --timeout passes first, 2 if it cannot connect or log in.

Counted are messages with a body or a subject (so MUC join noise, receipts and
chat states are printed but not counted), unless --count-all. Messages the server
stored while the account was offline are skipped unless --offline.

With --presence, each presence received once READY is printed too (not counted):
  {"presence": "available" or its type, "from", "status"}
"""
import sys
import xml.etree.ElementTree as ET

import xuclient

NS_RECEIPTS = "urn:xmpp:receipts"
NS_DELAY = "urn:xmpp:delay"


def child_text(xml, ns, name):
    el = xml.find("{%s}%s" % (ns, name))
    if el is None:
        return None
    return el.text or ""


class Receiver(xuclient.Client):
    def __init__(self, args, password):
        xuclient.Client.__init__(self, args, password)
        self.ready = False
        self.receipt_requests = 0

    def on_timeout(self):
        self.finish(1, "timeout after %gs: got %d of %d messages%s" % (
            self.args.timeout, self.received, self.args.count, "" if self.ready else " (never got ready)"))

    async def start(self):
        if not self.args.no_presence:
            self.send_presence(ppriority=self.args.priority)
        # A round trip: the server handled our presence before we say READY.
        await self.roundtrip()
        for room in self.args.muc or []:
            await self.join_room(room, self.args.nick, 10, create=not self.args.no_create)
        self.ready = True
        self.say_ready(self.args.ready_file)
        return self.args.count == 0

    def on_presence(self, pres):
        if self.args.presence and self.ready:
            xuclient.emit({"presence": pres["type"] or "available", "from": str(pres["from"]),
                           "status": child_text(pres.xml, "jabber:client", "status")})

    def on_message(self, msg):
        xml = msg.xml
        err = xuclient.error_condition(xml) if msg["type"] == "error" else None
        delay = xml.find("{%s}delay" % NS_DELAY)
        if delay is not None and not self.args.offline:
            # Stored while we were offline (by an earlier test): not for this one.
            print("receiver: skipped a stored message (use --offline to see it)", file=sys.stderr, flush=True)
            return
        receipt_req = xml.find("{%s}request" % NS_RECEIPTS) is not None
        body = child_text(xml, "jabber:client", "body")
        subject = child_text(xml, "jabber:client", "subject")
        record = {
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "type": xml.get("type"),  # None when absent (means "normal")
            "id": xml.get("id"),
            "body": body,
            "subject": subject,
            "thread": child_text(xml, "jabber:client", "thread"),
            "receipt_request": receipt_req,
            "delay": delay.get("stamp") if delay is not None else None,
            "error": err,
            # XEP-0066: the URL of a shared file (xmpp-send --file)
            "oob_url": child_text(xml.find("{jabber:x:oob}x"), "jabber:x:oob", "url")
            if xml.find("{jabber:x:oob}x") is not None else None,
        }
        xuclient.emit(record)
        if receipt_req and msg["type"] != "error":
            self.receipt_requests += 1
        if receipt_req and self.args.receipts and xml.get("id") and msg["type"] != "error" \
                and self.receipt_requests not in (self.args.receipts_skip or []):
            ack = self.Message()
            ack["to"] = msg["from"]
            ET.SubElement(ack.xml, "{%s}received" % NS_RECEIPTS, id=xml.get("id"))
            ack.send()
        if self.args.count_all or body is not None or subject:
            self.count_one()


def main():
    p = xuclient.parser(__doc__)
    xuclient.login_args(p, "XU_RECEIVER_PASSWORD", 15.0)
    xuclient.receive_args(p)
    p.add_argument("--count-all", action="store_true", help="count every message, even without body/subject")
    p.add_argument("--no-presence", action="store_true", help="stay unavailable (no initial presence)")
    p.add_argument("--priority", type=int, default=0)
    p.add_argument("--muc", action="append", metavar="ROOM", help="join ROOM (bare JID); repeatable")
    p.add_argument("--nick", default=None, help="nick for --muc (default: the JID's node)")
    p.add_argument("--receipts", action="store_true", help="answer XEP-0184 receipt requests")
    p.add_argument("--receipts-skip", type=int, action="append", metavar="N",
                   help="with --receipts, leave the Nth receipt request (1-based) unanswered; repeatable")
    p.add_argument("--no-create", action="store_true",
                   help="with --muc, fail (exit 2) when joining creates the room: it must exist and be unlocked")
    p.add_argument("--presence", action="store_true", help="print the presences received once READY")
    p.add_argument("--offline", action="store_true",
                   help="also report messages the server stored while we were offline (with a delay stamp); "
                        "by default they are skipped so that leftovers of earlier tests do not count")
    p.add_argument("--debug", action="store_true", help="slixmpp debug log on stderr")
    args, password = xuclient.parse(p)
    if args.nick is None:
        args.nick = args.jid.split("@", 1)[0]
    xuclient.quiet_logging(args.debug)
    return xuclient.run(Receiver(args, password))


if __name__ == "__main__":
    xuclient.main(main)
