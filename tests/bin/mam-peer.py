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
import asyncio
import sys
import xml.etree.ElementTree as ET

import xuclient

NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_FWD = "urn:xmpp:forward:0"


class Peer(xuclient.Client):
    ping_timeout = 60
    setup_exit = 1  # a subcommand that fails: the expected thing did not happen

    def __init__(self, args, password):
        xuclient.Client.__init__(self, args, password)
        self.results = {}

    def on_message(self, msg):
        r = msg.xml.find("{%s}result" % NS_MAM)
        if r is None or r.get("queryid") not in self.results:
            return
        m = r.find("{%s}forwarded/{jabber:client}message" % NS_FWD)
        body = m.find("{jabber:client}body") if m is not None else None
        self.results[r.get("queryid")].append(body.text if body is not None else None)

    async def join(self):
        # mkroom: persistent (archiving is the server's default: Prosody
        # muc_log_all_rooms, ejabberd default_room_options mam)
        config = [("muc#roomconfig_persistentroom", "1")] if self.args.cmd == "mkroom" else ()
        await self.join_room(self.args.muc, self.args.nick, 15, config=config, subject=False)

    async def do_mkroom(self):
        await self.join()
        self.leave_room(self.args.muc, self.args.nick)
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
                xuclient.write_atomic(a.progress, "%d\n" % i)
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
    p = xuclient.parser(__doc__)
    p.add_argument("cmd", choices=["flood", "dump", "mkroom", "prefs"])
    xuclient.login_args(p, "XU_PEER_PASSWORD", 60.0)
    p.add_argument("--to")
    p.add_argument("--muc")
    p.add_argument("--nick")
    p.add_argument("--prefix", default="")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--pause", type=float, default=0.0)
    p.add_argument("--progress")
    p.add_argument("--default", default="always")
    args, password = xuclient.parse(p)
    if args.nick is None:
        args.nick = "mampeer-" + args.jid.split("@", 1)[0]
    return xuclient.run(Peer(args, password))


if __name__ == "__main__":
    xuclient.main(main)
