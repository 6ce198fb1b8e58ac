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
import argparse
import asyncio
import json
import logging
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

NS_RECEIPTS = "urn:xmpp:receipts"
NS_DELAY = "urn:xmpp:delay"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def child_text(xml, ns, name):
    el = xml.find("{%s}%s" % (ns, name))
    if el is None:
        return None
    return el.text or ""


class Receiver(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.received = 0
        self.exit_code = None
        self.pending_rooms = {}  # room bare JID -> stage
        self.ready = False
        self.receipt_requests = 0
        if args.ca:
            self.ca_certs = args.ca
        # The test server is addressed by IP; certificates name the XMPP domain.
        self.default_domain = self.boundjid.domain
        self.register_handler(Callback("xu message", StanzaPath("message"), self.on_message))
        self.register_handler(Callback("xu presence", StanzaPath("presence"), self.on_presence))
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", self.on_failure)
        self.add_event_handler("connection_failed", self.on_failure)
        self.add_event_handler("disconnected", self.on_disconnected)

    def finish(self, code, why=None):
        if self.exit_code is not None:
            return
        self.exit_code = code
        if why:
            print("receiver: %s" % why, file=sys.stderr, flush=True)
        try:
            self.disconnect(wait=0.5)
        except Exception:  # already gone
            pass
        self.loop.call_later(1.0, self.loop.stop)

    def on_failure(self, event):
        self.finish(2, "cannot connect or log in as %s: %s" % (self.args.jid, event))

    def on_disconnected(self, event):
        if self.exit_code is None:
            self.finish(2, "disconnected: %s" % (event,))
        else:
            self.loop.call_soon(self.loop.stop)

    async def ping_server(self):
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        await iq.send(timeout=10)

    async def on_session_start(self, _event):
        try:
            if not self.args.no_presence:
                self.send_presence(ppriority=self.args.priority)
            # A round trip: the server handled our presence before we say READY.
            await self.ping_server()
            for room in self.args.muc or []:
                await self.join_room(room)
        except Exception as e:  # noqa: BLE001 - any failure here is fatal for a test peer
            self.finish(2, "setup failed: %r" % (e,))
            return
        self.ready = True
        print("READY", file=sys.stderr, flush=True)
        if self.args.ready_file:
            with open(self.args.ready_file + ".tmp", "w") as f:
                f.write("READY\n")
            os.rename(self.args.ready_file + ".tmp", self.args.ready_file)
        if self.args.count == 0:
            self.finish(0)

    async def join_room(self, room):
        """Join ROOM as --nick; unlock it if we created it; wait for the subject (end of join)."""
        loop = asyncio.get_running_loop()
        state = {"joined": loop.create_future(), "subject": loop.create_future()}
        self.pending_rooms[room] = state
        pres = self.Presence()
        pres["to"] = "%s/%s" % (room, self.args.nick)
        x = ET.Element("{%s}x" % NS_MUC)
        ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
        pres.append(x)
        pres.send()
        try:
            created = await asyncio.wait_for(state["joined"], 10)
            if created and self.args.no_create:
                raise RuntimeError("room %s did not exist: we created it (--no-create)" % room)
            if created:
                # A new room is locked until its owner configures it: accept the defaults.
                iq = self.Iq()
                iq["type"] = "set"
                iq["to"] = room
                q = ET.Element("{%s}query" % NS_MUC_OWNER)
                ET.SubElement(q, "{jabber:x:data}x", type="submit")
                iq.append(q)
                await iq.send(timeout=10)
            await asyncio.wait_for(state["subject"], 10)
        finally:
            self.pending_rooms.pop(room, None)

    def on_presence(self, pres):
        if self.args.presence and self.ready:
            sys.stdout.write(json.dumps({"presence": pres["type"] or "available",
                                         "from": str(pres["from"]),
                                         "status": child_text(pres.xml, "jabber:client", "status")}) + "\n")
            sys.stdout.flush()
        room = pres["from"].bare
        state = self.pending_rooms.get(room)
        if state is None or state["joined"].done():
            return
        if pres["type"] == "error":
            state["joined"].set_exception(RuntimeError(
                "cannot join %s: %s" % (room, pres["error"]["condition"])))
            return
        x = pres.xml.find("{%s}x" % NS_MUC_USER)
        if x is None:
            return
        codes = {s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)}
        if "110" in codes or pres["from"].resource == self.args.nick:
            state["joined"].set_result("201" in codes)

    def on_message(self, msg):
        xml = msg.xml
        state = self.pending_rooms.get(msg["from"].bare)
        if state is not None and not state["subject"].done() and msg["type"] == "groupchat" \
                and xml.find("{jabber:client}subject") is not None \
                and xml.find("{jabber:client}body") is None:
            state["subject"].set_result(True)  # the room subject ends the join sequence
            return
        err = None
        if msg["type"] == "error":
            e = xml.find("{jabber:client}error")
            if e is not None:
                for c in e:
                    if c.tag.startswith("{%s}" % NS_STANZAS) and not c.tag.endswith("}text"):
                        err = c.tag.split("}", 1)[1]
                        break
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
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
        if receipt_req and msg["type"] != "error":
            self.receipt_requests += 1
        if receipt_req and self.args.receipts and xml.get("id") and msg["type"] != "error" \
                and self.receipt_requests not in (self.args.receipts_skip or []):
            ack = self.Message()
            ack["to"] = msg["from"]
            ET.SubElement(ack.xml, "{%s}received" % NS_RECEIPTS, id=xml.get("id"))
            ack.send()
        if self.args.count_all or body is not None or subject:
            self.received += 1
            if self.args.count and self.received >= self.args.count:
                self.finish(0)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jid", required=True, help="bare or full JID to log in as")
    p.add_argument("--password-env", default="XU_RECEIVER_PASSWORD",
                   help="name of the environment variable holding the password")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    p.add_argument("--ca", default=os.environ.get("XU_CA"), help="CA file to trust (default $XU_CA)")
    p.add_argument("--count", type=int, default=1, help="exit 0 after N counted messages (0: once ready)")
    p.add_argument("--count-all", action="store_true", help="count every message, even without body/subject")
    p.add_argument("--timeout", type=float, default=15.0, help="give up after S seconds (exit 1)")
    p.add_argument("--ready-file", help="create this file once online")
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
    args = p.parse_args()
    password = os.environ.get(args.password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.password_env)
    if args.nick is None:
        args.nick = args.jid.split("@", 1)[0]
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.CRITICAL,
                        format="%(levelname)s %(message)s")

    xmpp = Receiver(args, password)
    xmpp.connect(address=(args.host, args.port))

    def on_timeout():
        xmpp.finish(1, "timeout after %gs: got %d of %d messages%s" % (
            args.timeout, xmpp.received, args.count, "" if xmpp.ready else " (never got ready)"))

    xmpp.loop.call_later(args.timeout, on_timeout)
    try:
        xmpp.loop.run_forever()
    except KeyboardInterrupt:
        return 130
    return xmpp.exit_code if xmpp.exit_code is not None else 1


if __name__ == "__main__":
    # Leave without waiting for slixmpp's pending tasks: this is a short-lived test peer.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
