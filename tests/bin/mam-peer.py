#!/usr/bin/python3
"""mam-peer.py: an independent client (slixmpp) for the archive catch-up tests.

Run with /usr/bin/python3; the password comes from an environment variable
(--password-env, default XU_PEER_PASSWORD), never argv. Exit status: 0 done,
1 the thing asked for did not happen within --timeout, 2 cannot connect or
log in (or the connection was lost).

  flood --prefix P --count N [--to JID] [--muc ROOM] [--start K] [--pause S]
        [--progress FILE]
      Join ROOM (an instant room if the join creates it), then send bodies
      "P u<i>" to JID and "P r<i>" to ROOM for i = K .. K+N-1, interleaved,
      pausing S seconds after each pair; write the last i sent to --progress
      every 50 pairs; end with an iq round trip (the server routed them all).

  mkroom --muc ROOM
      Create ROOM as a persistent room (it and its archive outlive its
      occupants), then leave it.

  prefs --default always|never|roster
      Set the account's archiving preferences (XEP-0313 <prefs/>).

  dump --prefix P [--muc ROOM]
      Page through the account's archive (or ROOM's) with XEP-0313 and print
      the body of every archived message that starts with P, in archive order.
"""
import argparse
import asyncio
import os
import sys
import xml.etree.ElementTree as ET

from slixmpp import ClientXMPP
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import StanzaPath

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"


class Peer(ClientXMPP):
    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.exit_code = None
        if args.ca:
            self.ca_certs = args.ca
        self.joined = None
        self.results = {}
        self.register_handler(Callback("mam presence", StanzaPath("presence"), self.on_presence))
        self.register_handler(Callback("mam message", StanzaPath("message"), self.on_message))
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", lambda e: self.finish(2, "auth failed"))
        self.add_event_handler("connection_failed", lambda e: self.finish(2, "connection failed: %s" % e))
        self.add_event_handler("disconnected", self.on_disconnected)

    def finish(self, code, why=None):
        if self.exit_code is not None:
            return
        self.exit_code = code
        if why:
            print("mam-peer: %s" % why, file=sys.stderr, flush=True)
        try:
            self.disconnect(wait=0.5)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.loop.call_later(1.0, self.loop.stop)

    def on_disconnected(self, _e):
        if self.exit_code is None:
            self.exit_code = 2
            print("mam-peer: disconnected", file=sys.stderr, flush=True)
        self.loop.call_soon(self.loop.stop)

    async def roundtrip(self):
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{urn:xmpp:ping}ping"))
        await iq.send(timeout=60)

    async def on_session_start(self, _e):
        try:
            self.send_presence()
            await self.roundtrip()
            await getattr(self, "do_" + self.args.cmd)()
        except Exception as e:  # noqa: BLE001 - any failure ends a test peer
            self.finish(1, "%s failed: %r" % (self.args.cmd, e))
            return
        self.finish(0)

    def on_presence(self, pres):
        a = self.args
        if not a.muc or pres["from"].bare != a.muc or self.joined is None or self.joined.done():
            return
        x = pres.xml.find("{%s}x" % NS_MUC_USER)
        codes = [s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)] if x is not None else []
        if pres["type"] == "error":
            self.joined.set_exception(RuntimeError("cannot join: %s" % pres["error"]["condition"]))
        elif "110" in codes:
            self.joined.set_result("201" in codes)

    def on_message(self, msg):
        r = msg.xml.find("{%s}result" % NS_MAM)
        if r is None or r.get("queryid") not in self.results:
            return
        m = r.find("{%s}forwarded/{jabber:client}message" % NS_FWD)
        body = m.find("{jabber:client}body") if m is not None else None
        self.results[r.get("queryid")].append(body.text if body is not None else None)

    async def join(self):
        a = self.args
        self.joined = asyncio.get_running_loop().create_future()
        p = self.Presence()
        p["to"] = "%s/%s" % (a.muc, a.nick)
        x = ET.Element("{%s}x" % NS_MUC)
        ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
        p.append(x)
        p.send()
        if await asyncio.wait_for(self.joined, 15):
            iq = self.Iq()
            iq["type"] = "set"
            iq["to"] = a.muc
            q = ET.Element("{%s}query" % NS_MUC_OWNER)
            x = ET.SubElement(q, "{jabber:x:data}x", type="submit")
            if a.cmd == "mkroom":
                # archiving: the server's default (Prosody muc_log_all_rooms,
                # ejabberd default_room_options mam)
                for var, value in (("FORM_TYPE", NS_MUC + "#roomconfig"),
                                   ("muc#roomconfig_persistentroom", "1")):
                    f = ET.SubElement(x, "{jabber:x:data}field", var=var)
                    ET.SubElement(f, "{jabber:x:data}value").text = value
            iq.append(q)
            await iq.send(timeout=10)

    async def do_mkroom(self):
        await self.join()
        p = self.Presence()
        p["to"] = "%s/%s" % (self.args.muc, self.args.nick)
        p["type"] = "unavailable"
        p.send()
        await self.roundtrip()

    async def do_flood(self):
        a = self.args
        if a.muc:
            await self.join()
        for i in range(a.start, a.start + a.count):
            for to, kind, mtype in ((a.to, "u", "chat"), (a.muc, "r", "groupchat")):
                if not to:
                    continue
                m = self.Message()
                m["to"] = to
                m["type"] = mtype
                m["body"] = "%s %s%d" % (a.prefix, kind, i)
                m.send()
            if a.pause:
                await asyncio.sleep(a.pause)
            elif i % 200 == 0:
                await asyncio.sleep(0)  # let slixmpp write
            if a.progress and (i - a.start) % 50 == 49:
                with open(a.progress + ".tmp", "w") as f:
                    f.write("%d\n" % i)
                os.replace(a.progress + ".tmp", a.progress)
        await self.roundtrip()
        if a.progress:
            with open(a.progress, "w") as f:
                f.write("done\n")

    async def do_prefs(self):
        iq = self.Iq()
        iq["type"] = "set"
        p = ET.Element("{%s}prefs" % NS_MAM, default=self.args.default)
        ET.SubElement(p, "{%s}always" % NS_MAM)
        ET.SubElement(p, "{%s}never" % NS_MAM)
        iq.append(p)
        await iq.send(timeout=30)

    async def do_dump(self):
        a = self.args
        after = None
        n = 0
        while True:
            n += 1
            qid = "dump%d" % n
            self.results[qid] = []
            iq = self.Iq()
            iq["type"] = "set"
            if a.muc:
                iq["to"] = a.muc
            q = ET.Element("{%s}query" % NS_MAM, queryid=qid)
            s = ET.SubElement(q, "{%s}set" % NS_RSM)
            ET.SubElement(s, "{%s}max" % NS_RSM).text = "250"
            if after:
                ET.SubElement(s, "{%s}after" % NS_RSM).text = after
            iq.append(q)
            res = await iq.send(timeout=60)
            for body in self.results.pop(qid):
                if body is not None and body.startswith(a.prefix + " "):
                    print(body)
            fin = res.xml.find("{%s}fin" % NS_MAM)
            last = fin.find("{%s}set/{%s}last" % (NS_RSM, NS_RSM)) if fin is not None else None
            if fin is None or fin.get("complete") in ("true", "1") or last is None:
                break
            after = last.text
        sys.stdout.flush()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("cmd", choices=["flood", "dump", "mkroom", "prefs"])
    p.add_argument("--jid", required=True)
    p.add_argument("--password-env", default="XU_PEER_PASSWORD")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    p.add_argument("--ca", default=os.environ.get("XU_CA"))
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--to")
    p.add_argument("--muc")
    p.add_argument("--nick")
    p.add_argument("--prefix", default="")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--progress")
    p.add_argument("--default", default="always")
    args = p.parse_args()
    password = os.environ.get(args.password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.password_env)
    if args.nick is None:
        args.nick = "mampeer-" + args.jid.split("@", 1)[0]
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
