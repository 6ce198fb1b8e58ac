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
import asyncio
import os
import xml.etree.ElementTree as ET

import xuclient
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath
from xuclient import NS_STANZAS, emit

NS_DISCO = "http://jabber.org/protocol/disco#info"


class Peer(xuclient.Client):
    ping_timeout = 30
    setup_exit = 1  # a subcommand that fails: the expected thing did not happen

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
            emit(rec)
            return
        rec["condition"] = xuclient.error_condition(xml)
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
        emit(rec)

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
        emit({"query": "error", "type": got[0]["type"] if got else None, "condition": None})

    # ---- room
    def on_presence(self, pres):
        a = self.args
        if a.cmd == "room" and a.wait_leave and pres["from"].bare == a.muc \
                and pres["type"] == "unavailable" and pres["from"].resource == a.wait_leave:
            emit({"left": a.wait_leave, "status": sorted(xuclient.status_codes(pres)),
                  "status_text": pres["status"] or None})
            self.finish(0)

    def post(self, text):
        m = self.Message()
        m["to"] = self.args.muc
        m["type"] = "groupchat"
        m["body"] = text
        m.send()

    async def do_room(self):
        a = self.args
        await self.join_room(a.muc, a.nick, 15)
        if a.before:
            self.post(a.before)
        await self.roundtrip()
        if a.ready_file:
            self.say_ready(a.ready_file, line=None)
        if a.trigger:
            while not os.path.exists(a.trigger):
                await asyncio.sleep(0.05)
            if a.after:
                self.post(a.after)
            await self.roundtrip()
        return not a.wait_leave  # else stay until NICK leaves


def main():
    p = xuclient.parser(__doc__)
    p.add_argument("cmd", choices=["flood", "query", "room"])
    xuclient.login_args(p, "XU_PEER_PASSWORD", 30.0)
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
    args, password = xuclient.parse(p)
    if args.cmd in ("flood", "query") and not args.to:
        p.error("%s needs --to" % args.cmd)
    if args.cmd == "room" and not args.muc:
        p.error("room needs --muc")
    if args.nick is None:
        args.nick = args.jid.split("@", 1)[0]
    return xuclient.run(Peer(args, password))


if __name__ == "__main__":
    xuclient.main(main)
