#!/usr/bin/python3
"""listen-peer.py: an independent XMPP client (slixmpp) that talks to xmpp-listen in tests.

Run with /usr/bin/python3. The password comes from an environment variable
(--password-env, default XU_PEER_PASSWORD), never argv. Exit status: 0 done,
1 the expected thing did not happen in --timeout, 2 cannot connect or log in.

  flood --to JID --count N [--prefix P] [--type chat]
      Send N messages with bodies "P 1" .. "P N" as fast as the server takes
      them, then wait for an iq round trip (so the server has routed them all).

  query --to FULL_JID
      Send XEP-0199 ping, XEP-0030 disco#info, XEP-0092 version, an unknown iq
      get, an unknown iq set, and an iq error (which must stay unanswered) to
      FULL_JID; print one JSON line per answer:
        {"query": name, "type": "result"|"error"|null, "condition": ...,
         "identities": [[category, type, name]], "features": [...],
         "name": ..., "version": ..., "os": ...}
      (type null: no answer within 3 s, which is what the iq error must get).

  room --muc ROOM [--nick NICK] [--before TEXT] [--after TEXT --trigger FILE]
       [--wait-leave NICK] [--ready-file FILE]
      Join ROOM (configure it as an instant room if the join created it),
      post --before, create --ready-file, then (with --trigger) wait for
      FILE to exist and post --after. With --wait-leave, stay until NICK
      leaves the room and print {"left": nick, "status": [codes]}; else exit.
"""
import argparse
import asyncio
import json
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_DISCO = "http://jabber.org/protocol/disco#info"


def out(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def touch(path):
    with open(path + ".tmp", "w") as f:
        f.write("READY\n")
    os.rename(path + ".tmp", path)


class Peer(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.exit_code = None
        if args.ca:
            self.ca_certs = args.ca
        self.default_domain = self.boundjid.domain
        self.joined = None
        self.subject = None
        self.left = None
        self.register_handler(Callback("peer presence", StanzaPath("presence"), self.on_presence))
        self.register_handler(Callback("peer message", StanzaPath("message"), self.on_message))
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", lambda e: self.finish(2, "auth failed"))
        self.add_event_handler("connection_failed", lambda e: self.finish(2, "connection failed: %s" % e))
        self.add_event_handler("disconnected", self.on_disconnected)

    def finish(self, code, why=None):
        if self.exit_code is not None:
            return
        self.exit_code = code
        if why:
            print("listen-peer: %s" % why, file=sys.stderr, flush=True)
        try:
            self.disconnect(wait=0.5)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.loop.call_later(1.0, self.loop.stop)

    def on_disconnected(self, _e):
        if self.exit_code is None:
            self.exit_code = 2
        self.loop.call_soon(self.loop.stop)

    async def roundtrip(self):
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        await iq.send(timeout=30)

    async def on_session_start(self, _e):
        try:
            self.send_presence()
            await self.roundtrip()
            await getattr(self, "do_" + self.args.cmd)()
        except Exception as e:  # noqa: BLE001 - any failure ends a test peer
            self.finish(1, "%s failed: %r" % (self.args.cmd, e))
            return
        if self.args.cmd != "room" or not self.args.wait_leave:
            self.finish(0)

    # ---- flood
    async def do_flood(self):
        a = self.args
        for i in range(1, a.count + 1):
            m = self.Message()
            m["to"] = a.to
            m["type"] = a.type
            m["body"] = "%s %d" % (a.prefix, i)
            m.send()
            if i % 500 == 0:
                await asyncio.sleep(0)  # let slixmpp write
        await self.roundtrip()

    # ---- query
    async def ask(self, name, itype, child, expect_answer=True):
        iq = self.Iq()
        iq["type"] = itype
        iq["to"] = self.args.to
        if child is not None:
            iq.append(child)
        rec = {"query": name, "type": None, "condition": None}
        try:
            reply = await iq.send(timeout=3 if not expect_answer else 10)
            rec["type"] = reply["type"]
            xml = reply.xml
        except IqError as e:
            rec["type"] = "error"
            xml = e.iq.xml
        except IqTimeout:
            out(rec)
            return
        err = xml.find("{jabber:client}error")
        if err is not None:
            for c in err:
                if c.tag.startswith("{%s}" % NS_STANZAS) and not c.tag.endswith("}text"):
                    rec["condition"] = c.tag.split("}", 1)[1]
        q = xml.find("{%s}query" % NS_DISCO)
        if q is not None:
            rec["identities"] = [[i.get("category"), i.get("type"), i.get("name")]
                                 for i in q.findall("{%s}identity" % NS_DISCO)]
            rec["features"] = [f.get("var") for f in q.findall("{%s}feature" % NS_DISCO)]
        q = xml.find("{jabber:iq:version}query")
        if q is not None:
            for k in ("name", "version", "os"):
                el = q.find("{jabber:iq:version}%s" % k)
                rec[k] = el.text if el is not None else None
        out(rec)

    async def do_query(self):
        await self.ask("ping", "get", ET.Element("{urn:xmpp:ping}ping"))
        await self.ask("disco", "get", ET.Element("{%s}query" % NS_DISCO))
        await self.ask("version", "get", ET.Element("{jabber:iq:version}query"))
        await self.ask("unknown-get", "get", ET.Element("{urn:xmpp:time}time"))
        await self.ask("unknown-set", "set", ET.Element("{jabber:iq:roster}query"))
        # An unsolicited error must not be answered (no error for an error).
        iq = self.Iq()
        iq["type"] = "error"
        iq["to"] = self.args.to
        iq["id"] = "peer-error-1"
        e = ET.SubElement(iq.xml, "{jabber:client}error", type="cancel")
        ET.SubElement(e, "{%s}service-unavailable" % NS_STANZAS)
        got = []
        self.register_handler(Callback("peer error-reply", StanzaPath("iq@id=peer-error-1"),
                                       lambda s: got.append(s)))
        iq.send()
        await asyncio.sleep(2)
        await self.roundtrip()
        out({"query": "error", "type": got[0]["type"] if got else None, "condition": None})

    # ---- room
    def on_presence(self, pres):
        a = self.args
        if a.cmd != "room" or pres["from"].bare != a.muc:
            return
        x = pres.xml.find("{%s}x" % NS_MUC_USER)
        codes = sorted(s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)) if x is not None else []
        if self.joined is not None and not self.joined.done():
            if pres["type"] == "error":
                self.joined.set_exception(RuntimeError("cannot join: %s" % pres["error"]["condition"]))
            elif "110" in codes or pres["from"].resource == a.nick:
                self.joined.set_result("201" in codes)
            return
        if a.wait_leave and pres["type"] == "unavailable" and pres["from"].resource == a.wait_leave:
            out({"left": a.wait_leave, "status": codes,
                 "status_text": pres["status"] or None})
            self.finish(0)

    def on_message(self, msg):
        a = self.args
        if a.cmd == "room" and self.subject is not None and not self.subject.done() \
                and msg["from"].bare == a.muc and msg.xml.find("{jabber:client}subject") is not None:
            self.subject.set_result(True)

    def post(self, text):
        m = self.Message()
        m["to"] = self.args.muc
        m["type"] = "groupchat"
        m["body"] = text
        m.send()

    async def do_room(self):
        a = self.args
        loop = asyncio.get_running_loop()
        self.joined = loop.create_future()
        self.subject = loop.create_future()
        p = self.Presence()
        p["to"] = "%s/%s" % (a.muc, a.nick)
        x = ET.Element("{%s}x" % NS_MUC)
        ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
        p.append(x)
        p.send()
        created = await asyncio.wait_for(self.joined, 15)
        if created:
            iq = self.Iq()
            iq["type"] = "set"
            iq["to"] = a.muc
            q = ET.Element("{%s}query" % NS_MUC_OWNER)
            ET.SubElement(q, "{jabber:x:data}x", type="submit")
            iq.append(q)
            await iq.send(timeout=10)
        await asyncio.wait_for(self.subject, 15)
        if a.before:
            self.post(a.before)
        await self.roundtrip()
        if a.ready_file:
            touch(a.ready_file)
        if a.trigger:
            while not os.path.exists(a.trigger):
                await asyncio.sleep(0.05)
            if a.after:
                self.post(a.after)
            await self.roundtrip()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("cmd", choices=["flood", "query", "room"])
    p.add_argument("--jid", required=True)
    p.add_argument("--password-env", default="XU_PEER_PASSWORD")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    p.add_argument("--ca", default=os.environ.get("XU_CA"))
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--to")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--prefix", default="flood")
    p.add_argument("--type", default="chat")
    p.add_argument("--muc")
    p.add_argument("--nick")
    p.add_argument("--before")
    p.add_argument("--after")
    p.add_argument("--trigger")
    p.add_argument("--wait-leave")
    p.add_argument("--ready-file")
    args = p.parse_args()
    password = os.environ.get(args.password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.password_env)
    if args.cmd in ("flood", "query") and not args.to:
        p.error("%s needs --to" % args.cmd)
    if args.cmd == "room" and not args.muc:
        p.error("room needs --muc")
    if args.nick is None:
        args.nick = args.jid.split("@", 1)[0]
    x = Peer(args, password)
    x.connect(address=(args.host, args.port))
    x.loop.call_later(args.timeout, lambda: x.finish(1, "timeout after %gs" % args.timeout))
    x.loop.run_forever()
    return x.exit_code if x.exit_code is not None else 1


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
