"""xuclient.py: the base the suite's slixmpp clients share (imported, never run).

receiver.py, send.py, mucroom.py, listen-peer.py, mam-peer.py, omemo-peer.py
and bench/receiver.py are independent XMPP clients (Debian's python3-slixmpp,
run with /usr/bin/python3) that stand on the other side of the tools in tests.
What they all do the same way lives here:

  login_args(parser, password_env, timeout)
      --jid, --password-env VAR (the password comes from the environment,
      never argv), --host/--port (default $XU_HOST/$XU_C2S_PORT), --ca (the
      CA file to trust, default $XU_CA), --timeout S.
  receive_args(parser)
      --count N (count_one() ends the run at the Nth), --ready-file FILE.
  parse(parser) -> (args, password)
  Client(args, password)
      a ClientXMPP with the suite's TLS settings (STARTTLS required, verified
      against --ca, the certificate checked for the JID's domain, always at
      --host/--port: no DNS lookup); finish(code, why) sets the exit status
      once and closes; a failed login or connection, or a connection lost
      before finish(), is exit 2; at session start it runs start() (the
      default: presence, a round trip, then the subcommand's do_NAME), and
      a failure there ends it with exit `setup_exit`; count_one(); roundtrip() (an
      XEP-0199 ping to the server), join_room()/configure_room() (XEP-0045),
      say_ready() (READY on stderr and/or an atomically written ready file).
  run(client, deadline=True) -> exit status
      connect, arm the --timeout deadline (on_timeout(): exit `timeout_exit`),
      run until finish().
  main(fn)
      run fn() and leave with its status at once, without waiting for
      slixmpp's pending tasks (these are short-lived test peers).
  emit(obj), error_condition(xml), status_codes(presence)

Exit status, for every client: 0 done, 1 (or timeout_exit) the expected thing
did not happen within --timeout, 2 cannot connect or log in, or lost the
connection.
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

from netutil import write_atomic  # also xuclient.write_atomic for the clients

NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = NS_MUC + "#user"
NS_MUC_OWNER = NS_MUC + "#owner"
NS_MUC_ADMIN = NS_MUC + "#admin"
NS_DATA = "jabber:x:data"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_PING = "urn:xmpp:ping"

PROG = os.path.splitext(os.path.basename(sys.argv[0]))[0]


def parser(doc=None):
    """An argument parser whose --help shows the client's docstring as written."""
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)


def login_args(p, password_env, timeout, password_option="--password-env", need=()):
    """The options every client has. NEED: options ("port", "ca") without a default."""
    p.add_argument("--jid", required=True, help="bare or full JID to log in as")
    p.add_argument(password_option, default=password_env, metavar="VAR",
                   help="name of the environment variable holding the password (default %(default)s)")
    p.add_argument("--host", default=os.environ.get("XU_HOST", "127.0.0.1"))
    if "port" in need:
        p.add_argument("--port", type=int, required=True)
    else:
        p.add_argument("--port", type=int, default=int(os.environ.get("XU_C2S_PORT", "5222")))
    if "ca" in need:
        p.add_argument("--ca", required=True, help="CA file to trust")
    else:
        p.add_argument("--ca", default=os.environ.get("XU_CA"), help="CA file to trust (default $XU_CA)")
    p.add_argument("--timeout", type=float, default=timeout, help="give up after S seconds")
    p.set_defaults(xu_password_option=password_option.lstrip("-").replace("-", "_"))


def receive_args(p, count_help="exit 0 after N counted messages (0: once ready)"):
    """The options of a client that waits for messages: --count N, --ready-file FILE."""
    p.add_argument("--count", type=int, default=1, help=count_help)
    p.add_argument("--ready-file", help="create this file once online")


def env_secret(p, var):
    """The value of environment variable VAR; a usage error (exit 2) when it is not set."""
    value = os.environ.get(var)
    if value is None:
        p.error("environment variable %s is not set" % var)
    return value


def parse(p):
    args = p.parse_args()
    return args, env_secret(p, getattr(args, args.xu_password_option))


def quiet_logging(debug=False):
    """slixmpp's log on stderr only when asked for (DEBUG), else only the critical."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.CRITICAL,
                        format="%(levelname)s %(message)s")


def emit(obj):
    """One JSON line on stdout, flushed (the tests read it as it comes)."""
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def error_condition(xml):
    """The RFC 6120 stanza error condition of a stanza's <error/>, or None."""
    err = xml.find("{jabber:client}error")
    if err is not None:
        for c in err:
            if c.tag.startswith("{%s}" % NS_STANZAS) and not c.tag.endswith("}text"):
                return c.tag.split("}", 1)[1]
    return None


def status_codes(pres):
    """The XEP-0045 status codes of a room presence, as a set of strings."""
    x = pres.xml.find("{%s}x" % NS_MUC_USER)
    return {s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)} if x is not None else set()


class Client(ClientXMPP):
    ping_timeout = 10   # seconds a roundtrip() may take
    setup_exit = 2      # exit status when start() fails
    timeout_exit = 1    # exit status at the --timeout deadline (and when the loop ends unfinished)

    def __init__(self, args, password):
        ClientXMPP.__init__(self, args.jid, password)
        self.args = args
        self.exit_code = None
        self.received = 0  # count_one()
        self.joining = {}  # room bare JID -> {"nick", "joined", "subject"} while join_room() runs
        if args.ca:
            self.ca_certs = args.ca
        # The test server is addressed by IP; certificates name the XMPP domain.
        self.default_domain = self.boundjid.domain
        self.register_handler(Callback("xu presence", StanzaPath("presence"), self._presence))
        self.register_handler(Callback("xu message", StanzaPath("message"), self._message))
        self.add_event_handler("session_start", self._session_start)
        self.add_event_handler("failed_auth", self.on_failure)
        self.add_event_handler("connection_failed", self.on_failure)
        self.add_event_handler("disconnected", self.on_disconnected)

    async def get_dns_records(self, domain, port=None):
        # Always the address given (--host/--port): never a DNS answer for the XMPP domain.
        return [(domain, self.address[0], self.address[1])]

    def finish(self, code, why=None):
        """End with exit status CODE (the first call wins): close the stream, stop the loop."""
        if self.exit_code is not None:
            return
        self.exit_code = code
        if why:
            print("%s: %s" % (PROG, why), file=sys.stderr, flush=True)
        try:
            self.disconnect(wait=0.5)
        except Exception:  # noqa: BLE001 - already gone
            pass
        self.loop.call_later(1.0, self.loop.stop)

    def on_failure(self, event):
        self.finish(2, "cannot connect or log in as %s: %s" % (self.args.jid, event))

    def on_disconnected(self, event):
        if self.exit_code is None:
            self.exit_code = 2
            print("%s: disconnected: %s" % (PROG, event), file=sys.stderr, flush=True)
        self.loop.call_soon(self.loop.stop)

    def on_timeout(self):
        self.finish(self.timeout_exit, "timeout after %gs" % self.args.timeout)

    async def _session_start(self, _event):
        try:
            done = await self.start()
        except Exception as e:  # noqa: BLE001 - any failure ends a test peer
            what = getattr(self.args, "cmd", "setup")
            logging.getLogger(PROG).error("%s failed", what, exc_info=True)  # shown unless quiet_logging()
            self.finish(self.setup_exit, "%s failed: %r" % (what, e))
            return
        if done:
            self.finish(0)

    async def start(self):
        """Once logged in: presence, a round trip, then do_CMD; True: done (exit 0).
        A do_CMD that returns False stays online (and calls finish() itself later)."""
        self.send_presence()
        await self.roundtrip()
        return await getattr(self, "do_" + self.args.cmd)() is not False

    async def roundtrip(self, timeout=None):
        """An XEP-0199 ping to the server: all we sent before it has been handled."""
        iq = self.Iq()
        iq["type"] = "get"
        iq["to"] = self.boundjid.domain
        iq.append(ET.Element("{%s}ping" % NS_PING))
        await iq.send(timeout=timeout or self.ping_timeout)

    def count_one(self):
        """One more of the --count messages we wait for: done (exit 0) at the last."""
        self.received += 1
        if self.args.count and self.received >= self.args.count:
            self.finish(0)

    def say_ready(self, path=None, text="READY\n", line="READY"):
        """Tell the test we are ready: LINE on stderr, TEXT into PATH (atomically)."""
        if line:
            print(line, file=sys.stderr, flush=True)
        if path:
            write_atomic(path, text)

    # ---- rooms (XEP-0045)
    async def join_room(self, room, nick, timeout=10, config=(), create=True, subject=True):
        """Join ROOM as NICK without history; return our presence's status codes.
        A room the join created (201) is locked until its owner configures it:
        it gets CONFIG ((var, value) fields; the defaults when empty), or, with
        create False, that is an error. subject: also wait for the room subject,
        which ends the join (it is not passed on to on_message)."""
        loop = asyncio.get_running_loop()
        state = {"nick": nick, "joined": loop.create_future(),
                 "subject": loop.create_future() if subject else None}
        self.joining[room] = state
        pres = self.Presence()
        pres["to"] = "%s/%s" % (room, nick)
        x = ET.Element("{%s}x" % NS_MUC)
        ET.SubElement(x, "{%s}history" % NS_MUC, maxstanzas="0")
        pres.append(x)
        pres.send()
        try:
            codes = await asyncio.wait_for(state["joined"], timeout)
            if "201" in codes:
                if not create:
                    raise RuntimeError("room %s did not exist: the join created it" % room)
                await self.configure_room(room, config)
            if subject:
                await asyncio.wait_for(state["subject"], timeout)
        finally:
            self.joining.pop(room, None)
        return codes

    async def configure_room(self, room, config=()):
        """Submit ROOM's configuration form with the (var, value) fields of CONFIG."""
        iq = self.Iq()
        iq["type"] = "set"
        iq["to"] = room
        q = ET.Element("{%s}query" % NS_MUC_OWNER)
        form = ET.SubElement(q, "{%s}x" % NS_DATA, type="submit")
        if config:
            config = [("FORM_TYPE", NS_MUC + "#roomconfig")] + list(config)
        for var, value in config:
            f = ET.SubElement(form, "{%s}field" % NS_DATA, var=var)
            ET.SubElement(f, "{%s}value" % NS_DATA).text = value
        iq.append(q)
        await iq.send(timeout=10)

    def leave_room(self, room, nick):
        pres = self.Presence()
        pres["to"] = "%s/%s" % (room, nick)
        pres["type"] = "unavailable"
        pres.send()

    def _presence(self, pres):
        room = pres["from"].bare
        state = self.joining.get(room)
        if state is not None and not state["joined"].done():
            if pres["type"] == "error":
                state["joined"].set_exception(RuntimeError(
                    "cannot join %s: %s" % (room, pres["error"]["condition"])))
            else:
                codes = status_codes(pres)
                if "110" in codes or pres["from"].resource == state["nick"]:
                    state["joined"].set_result(codes)
            return
        self.on_presence(pres)

    def _message(self, msg):
        state = self.joining.get(msg["from"].bare)
        if state is not None and state["subject"] is not None and not state["subject"].done() \
                and msg["type"] == "groupchat" and msg.xml.find("{jabber:client}subject") is not None \
                and msg.xml.find("{jabber:client}body") is None:
            state["subject"].set_result(True)
            return
        self.on_message(msg)

    def on_presence(self, pres):
        """Every presence that is not part of a join_room()."""

    def on_message(self, msg):
        """Every message but a room subject that ends a join_room()."""


def run(client, deadline=True):
    """Connect to --host/--port and run until finish(); with DEADLINE, --timeout ends it."""
    client.connect(address=(client.args.host, client.args.port))
    if deadline:
        client.loop.call_later(client.args.timeout, client.on_timeout)
    try:
        client.loop.run_forever()
    except KeyboardInterrupt:
        return 130
    return client.exit_code if client.exit_code is not None else client.timeout_exit


def main(fn):
    """Leave with fn()'s status at once: no waiting for slixmpp's pending tasks."""
    code = fn()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
