#!/usr/bin/python3
"""mucroom.py: create and configure a chat room as its owner (slixmpp), then leave.

  XU_OWNER_PASSWORD=... /usr/bin/python3 mucroom.py --jid carol@xu.test \\
      --room secret@conference.xu.test [--members-only] [--password-env VAR] \\
      [--member JID]... [--stay]

The room is made persistent (so it outlives its owner's visit) with the given
settings; --member grants membership. Without --stay the owner leaves and the
script exits 0 once the server confirmed the configuration; with --stay it
prints READY on stderr and stays in the room until killed. Exit 2 on any
failure. The owner's password comes from --owner-password-env (default
XU_OWNER_PASSWORD), the room password from the variable named by --password-env.
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
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_DATA = "jabber:x:data"


class Owner(ClientXMPP):
    def __init__(self, args, password, room_password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.room_password = room_password
        self.exit_code = None
        self.joined = None
        if args.ca:
            self.ca_certs = args.ca
        self.default_domain = self.boundjid.domain
        self.register_handler(Callback("presence", StanzaPath("presence"), self.on_presence))
        self.add_event_handler("session_start", self.on_session_start)
        self.add_event_handler("failed_auth", lambda e: self.finish(2, "auth failed"))
        self.add_event_handler("connection_failed", lambda e: self.finish(2, "connection failed: %s" % e))
        self.add_event_handler("disconnected", self.on_disconnected)

    def finish(self, code, why=None):
        if self.exit_code is None:
            self.exit_code = code
            if why:
                print("mucroom.py: %s" % why, file=sys.stderr, flush=True)
            self.disconnect(wait=0.5)
            self.loop.call_later(1.0, self.loop.stop)

    def on_disconnected(self, _e):
        if self.exit_code is None:
            self.exit_code = 2
        self.loop.call_soon(self.loop.stop)

    def on_presence(self, pres):
        if self.joined is None or self.joined.done():
            return
        if pres["from"].bare != self.args.room:
            return
        if pres["type"] == "error":
            self.joined.set_exception(RuntimeError("join failed: %s" % pres["error"]["condition"]))
            return
        x = pres.xml.find("{%s}x" % NS_MUC_USER)
        codes = {s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)} if x is not None else set()
        if "110" in codes:
            self.joined.set_result(codes)

    def field(self, form, var, value):
        f = ET.SubElement(form, "{%s}field" % NS_DATA, var=var)
        ET.SubElement(f, "{%s}value" % NS_DATA).text = value

    async def on_session_start(self, _e):
        a = self.args
        try:
            self.joined = self.loop.create_future()
            pres = self.Presence()
            pres["to"] = "%s/%s" % (a.room, a.nick)
            x = ET.Element("{%s}x" % NS_MUC)
            ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
            pres.append(x)
            pres.send()
            await asyncio.wait_for(self.joined, 10)

            iq = self.Iq()
            iq["type"] = "set"
            iq["to"] = a.room
            q = ET.Element("{%s}query" % NS_MUC_OWNER)
            form = ET.SubElement(q, "{%s}x" % NS_DATA, type="submit")
            self.field(form, "FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig")
            self.field(form, "muc#roomconfig_persistentroom", "1")
            self.field(form, "muc#roomconfig_membersonly", "1" if a.members_only else "0")
            if self.room_password is not None:
                self.field(form, "muc#roomconfig_passwordprotectedroom", "1")
                self.field(form, "muc#roomconfig_roomsecret", self.room_password)
            iq.append(q)
            await iq.send(timeout=10)

            for jid in a.member or []:
                iq = self.Iq()
                iq["type"] = "set"
                iq["to"] = a.room
                q = ET.Element("{%s}query" % NS_MUC_ADMIN)
                ET.SubElement(q, "{%s}item" % NS_MUC_ADMIN, affiliation="member", jid=jid)
                iq.append(q)
                await iq.send(timeout=10)
        except Exception as e:  # noqa: BLE001 - any failure is fatal for a test helper
            self.finish(2, "cannot set up %s: %r" % (a.room, e))
            return
        if a.stay:
            print("READY", file=sys.stderr, flush=True)
            return
        leave = self.Presence()
        leave["to"] = "%s/%s" % (a.room, a.nick)
        leave["type"] = "unavailable"
        leave.send()
        # a round trip so that the leave was handled before we go
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
    p.add_argument("--jid", required=True, help="the owner's JID")
    p.add_argument("--owner-password-env", default="XU_OWNER_PASSWORD")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    p.add_argument("--ca", default=os.environ.get("XU_CA"))
    p.add_argument("--room", required=True, help="bare room JID")
    p.add_argument("--nick", default="owner")
    p.add_argument("--members-only", action="store_true")
    p.add_argument("--password-env", help="environment variable holding a room password to set")
    p.add_argument("--member", action="append", metavar="JID", help="make JID a member (repeatable)")
    p.add_argument("--stay", action="store_true", help="stay in the room until killed")
    p.add_argument("--timeout", type=float, default=20.0)
    args = p.parse_args()
    password = os.environ.get(args.owner_password_env)
    if password is None:
        p.error("environment variable %s is not set" % args.owner_password_env)
    room_password = None
    if args.password_env:
        room_password = os.environ.get(args.password_env)
        if room_password is None:
            p.error("environment variable %s is not set" % args.password_env)
    x = Owner(args, password, room_password)
    x.connect(address=(args.host, args.port))
    if not args.stay:
        x.loop.call_later(args.timeout, lambda: x.finish(2, "timeout"))
    x.loop.run_forever()
    return x.exit_code if x.exit_code is not None else 2


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
