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
import xml.etree.ElementTree as ET

import xuclient
from xuclient import NS_MUC_ADMIN


class Owner(xuclient.Client):
    timeout_exit = 2

    def __init__(self, args, password, room_password):
        xuclient.Client.__init__(self, args, password)
        self.room_password = room_password

    async def start(self):
        a = self.args
        config = [("muc#roomconfig_persistentroom", "1"),
                  ("muc#roomconfig_membersonly", "1" if a.members_only else "0")]
        if self.room_password is not None:
            config += [("muc#roomconfig_passwordprotectedroom", "1"),
                       ("muc#roomconfig_roomsecret", self.room_password)]
        codes = await self.join_room(a.room, a.nick, 10, config=config, subject=False)
        if "201" not in codes:  # the room was there already: our settings all the same
            await self.configure_room(a.room, config)
        for jid in a.member or []:
            iq = self.Iq()
            iq["type"] = "set"
            iq["to"] = a.room
            q = ET.Element("{%s}query" % NS_MUC_ADMIN)
            ET.SubElement(q, "{%s}item" % NS_MUC_ADMIN, affiliation="member", jid=jid)
            iq.append(q)
            await iq.send(timeout=10)
        if a.stay:
            self.say_ready()
            return False
        self.leave_room(a.room, a.nick)
        await self.roundtrip()  # so that the leave was handled before we go
        return True


def main():
    p = xuclient.parser(__doc__)
    xuclient.login_args(p, "XU_OWNER_PASSWORD", 20.0, password_option="--owner-password-env")
    p.add_argument("--room", required=True, help="bare room JID")
    p.add_argument("--nick", default="owner")
    p.add_argument("--members-only", action="store_true")
    p.add_argument("--password-env", help="environment variable holding a room password to set")
    p.add_argument("--member", action="append", metavar="JID", help="make JID a member (repeatable)")
    p.add_argument("--stay", action="store_true", help="stay in the room until killed")
    args, password = xuclient.parse(p)
    room_password = xuclient.env_secret(p, args.password_env) if args.password_env else None
    return xuclient.run(Owner(args, password, room_password), deadline=not args.stay)


if __name__ == "__main__":
    xuclient.main(main)
