#!/usr/bin/python3
"""omemo-peer.py: an independent OMEMO 0.3 client for the tests: slixmpp wired to
python-omemo with its oldmemo backend (Debian python3-omemo, python3-oldmemo).
Nothing of xmpputils is used: device list and bundle go over PEP (open access
model), sessions and payload encryption are python-omemo's own.

Run with /usr/bin/python3. Password from the environment (--password-env,
default XU_RECEIVER_PASSWORD), never argv. State (identity, sessions) is kept
in --storage (JSON), so that a second run is the same device.

Once its device is published it writes its device id to --ready-file (atomically)
and sends each --send TEXT to --to (encrypted; --corrupt flips a payload byte).
Each message received is printed as one JSON line:
  {"from", "encrypted": bool, "body" (decrypted, or the plain body), "fallback"
   (the plain <body> of an encrypted message), "device" (sender device),
   "error" (why it could not be decrypted), "key_only": bool}
With --fetch-files, a decrypted body that is an aesgcm:// URL (XEP-0454) is
downloaded over https (trusting --ca) and decrypted (AES-GCM, the tag at the
end); the record gets "file": {"sha256", "size"} of the plaintext and
"stored": {"sha256", "size"} of the bytes the upload server returned, or
"file_error".
It exits 0 after --count messages with a body (decrypted or plain), 1 on
--timeout, 2 when it cannot log in or publish.
"""
import asyncio
import base64
import hashlib
import json
import logging
import os
import sys
import ssl
import urllib.request
import xml.etree.ElementTree as ET

import omemo
import oldmemo
import oldmemo.oldmemo
import oldmemo.etree
import xuclient
from slixmpp import JID
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

NS = oldmemo.oldmemo.NAMESPACE
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NODE_DEVICES = NS + ".devicelist"
NODE_BUNDLES = NS + ".bundles:"
XMPP = None  # the client: python-omemo's I/O hooks are static methods


def fetch_aesgcm(url, ca):
    """Download and decrypt an aesgcm:// URL: (plaintext, stored bytes)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    rest, _, frag = url[len("aesgcm://"):].partition("#")
    if len(frag) not in (88, 96) or any(c not in "0123456789abcdefABCDEF" for c in frag):
        raise ValueError("bad fragment (want hex IV + 64 hex key): %r" % frag)
    iv, key = bytes.fromhex(frag[:-64]), bytes.fromhex(frag[-64:])
    ctx = ssl.create_default_context(cafile=ca)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    with opener.open("https://" + rest, timeout=20) as r:
        stored = r.read()
    return AESGCM(key).decrypt(iv, stored, None), stored


class JSONStorage(omemo.Storage):
    def __init__(self, path):
        super().__init__()
        self.path = path
        self.data = {}
        if os.path.exists(path):
            with open(path) as f:
                self.data = json.load(f)

    def _save(self):
        xuclient.write_atomic(self.path, json.dumps(self.data))

    async def _load(self, key):
        if key in self.data:
            return omemo.Just(self.data[key])
        return omemo.Nothing()

    async def _store(self, key, value):
        self.data[key] = value
        self._save()

    async def _delete(self, key):
        self.data.pop(key, None)
        self._save()


def open_options():
    form = XMPP["xep_0004"].make_form(ftype="submit")
    form.add_field(var="FORM_TYPE", ftype="hidden", value=NS_PUBSUB + "#publish-options")
    form.add_field(var="pubsub#access_model", value="open")
    return form


async def fetch_item(jid, node):
    """The payload of the 'current' item of jid's node, or None when there is none."""
    iq = XMPP.Iq()
    iq["type"] = "get"
    iq["to"] = jid
    ps = ET.SubElement(iq.xml, "{%s}pubsub" % NS_PUBSUB)
    ET.SubElement(ps, "{%s}items" % NS_PUBSUB, node=node)
    try:
        res = await iq.send(timeout=10)
    except Exception as e:  # an error reply: item-not-found means none
        if "item-not-found" in str(e) or getattr(getattr(e, "iq", None), "get", lambda k: None)("error") is not None:
            return None
        raise
    for item in res.xml.iter("{%s}item" % NS_PUBSUB):
        for child in item:
            return child
    return None


class Manager(omemo.SessionManager):
    @staticmethod
    async def _upload_bundle(bundle):
        await XMPP["xep_0060"].publish(None, NODE_BUNDLES + str(bundle.device_id), id="current",
                                       payload=oldmemo.etree.serialize_bundle(bundle),
                                       options=open_options(), timeout=10)

    @staticmethod
    async def _download_bundle(namespace, bare_jid, device_id):
        el = await fetch_item(bare_jid, NODE_BUNDLES + str(device_id))
        if el is None:
            raise omemo.BundleNotFound("no bundle for %s/%d" % (bare_jid, device_id))
        return oldmemo.etree.parse_bundle(el, bare_jid, device_id)

    @staticmethod
    async def _delete_bundle(namespace, device_id):
        return None

    @staticmethod
    async def _upload_device_list(namespace, device_list):
        await XMPP["xep_0060"].publish(None, NODE_DEVICES, id="current",
                                       payload=oldmemo.etree.serialize_device_list(device_list),
                                       options=open_options(), timeout=10)

    @staticmethod
    async def _download_device_list(namespace, bare_jid):
        el = await fetch_item(bare_jid, NODE_DEVICES)
        return {} if el is None else oldmemo.etree.parse_device_list(el)

    async def _evaluate_custom_trust_level(self, device):
        if device.trust_level_name in ("blind", "trusted"):
            return omemo.TrustLevel.TRUSTED
        if device.trust_level_name == "distrusted":
            return omemo.TrustLevel.DISTRUSTED
        return omemo.TrustLevel.UNDECIDED

    async def _make_trust_decision(self, undecided, identifier):
        for d in undecided:
            await self.set_trust(d.bare_jid, d.identity_key, "trusted")

    @staticmethod
    async def _send_message(message, bare_jid):
        msg = XMPP.make_message(mto=bare_jid, mtype="chat")
        msg.xml.append(oldmemo.etree.serialize_message(message))
        ET.SubElement(msg.xml, "{urn:xmpp:hints}store")
        msg.send()


class Peer(xuclient.Client):
    def __init__(self, args, password):
        xuclient.Client.__init__(self, args, password)
        self.sm = None
        self.order = asyncio.Lock()  # one message at a time, in arrival order
        for p in ("xep_0030", "xep_0004", "xep_0060", "xep_0199"):
            self.register_plugin(p)
        self.register_handler(CoroutineCallback("omemo message", StanzaPath("message"), self.on_omemo))

    def on_timeout(self):
        self.finish(1, "timed out after %d message(s)" % self.received)

    async def start(self):
        self.send_presence()
        # carbons (XEP-0280), as a phone client has them: our other devices' messages
        iq = self.Iq()
        iq["type"] = "set"
        ET.SubElement(iq.xml, "{urn:xmpp:carbons:2}enable")
        await iq.send(timeout=10)
        self.sm = await Manager.create([oldmemo.Oldmemo(self.storage)], self.storage,
                                       self.boundjid.bare, None, "blind")
        own, _others = await self.sm.get_own_device_information()
        for text in self.args.send or []:
            await self.send_encrypted(self.args.to, text)
        await self.roundtrip()
        self.say_ready(self.args.ready_file, "%d\n" % own.device_id, "READY %d" % own.device_id)
        return self.args.count == 0

    async def send_encrypted(self, to, text):
        # a client learns device lists from PEP notifications; we ask
        await self.sm.refresh_device_list(NS, to)
        messages, errors = await self.sm.encrypt(frozenset([to]), {NS: text.encode()})
        if errors:
            print("omemo-peer: encryption errors: %r" % (errors,), file=sys.stderr, flush=True)
        for message in messages:
            el = oldmemo.etree.serialize_message(message)
            if self.args.corrupt:
                p = el.find("{%s}payload" % NS)
                raw = bytearray(base64.b64decode(p.text))
                raw[0] ^= 0x01
                p.text = base64.b64encode(bytes(raw)).decode()
            msg = self.make_message(mto=to, mtype="chat", mbody="[OMEMO encrypted]")
            msg.xml.append(el)
            ET.SubElement(msg.xml, "{urn:xmpp:eme:0}encryption", namespace=NS, name="OMEMO")
            ET.SubElement(msg.xml, "{urn:xmpp:hints}store")
            msg.send()

    async def on_omemo(self, msg):
        async with self.order:
            await self.handle(msg)

    async def handle(self, msg):
        xml = msg.xml
        sender = msg["from"]
        carbon = None
        if sender.bare == self.boundjid.bare:
            for kind in ("sent", "received"):
                c = xml.find("{urn:xmpp:carbons:2}%s" % kind)
                inner = None if c is None else c.find("{urn:xmpp:forward:0}forwarded/{jabber:client}message")
                if inner is not None:
                    xml, sender, carbon = inner, JID(inner.get("from") or ""), kind
                    break
        if xml.find("{urn:xmpp:delay}delay") is not None and not self.args.offline and carbon is None:
            return
        body_el = xml.find("{jabber:client}body")
        enc = xml.find("{%s}encrypted" % NS)
        rec = {"from": str(sender), "encrypted": enc is not None, "body": None,
               "fallback": None, "device": None, "error": None, "key_only": False,
               "carbon": carbon}
        if enc is None:
            if body_el is None:
                return
            rec["body"] = body_el.text or ""
        else:
            rec["fallback"] = body_el.text if body_el is not None else None
            try:
                message = await oldmemo.etree.parse_message(enc, sender.bare, self.boundjid.bare, self.sm)
                rec["device"] = message.device_id
                plain, device, _ = await self.sm.decrypt(message)
                if plain is None:
                    rec["key_only"] = True
                else:
                    rec["body"] = plain.decode("utf-8")
                    if self.args.fetch_files and rec["body"].startswith("aesgcm://"):
                        try:
                            data, stored = await asyncio.get_running_loop().run_in_executor(
                                None, fetch_aesgcm, rec["body"], self.args.ca)
                            rec["file"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                            rec["stored"] = {"sha256": hashlib.sha256(stored).hexdigest(), "size": len(stored)}
                        except Exception as e:  # noqa: BLE001 - reported
                            rec["file_error"] = "%s: %s" % (type(e).__name__, e)
            except Exception as e:  # noqa: BLE001 - reported, not fatal
                rec["error"] = "%s: %s" % (type(e).__name__, e)
        xuclient.emit(rec)
        if rec["body"] is not None or rec["error"]:
            self.count_one()


def main():
    ap = xuclient.parser(__doc__)
    xuclient.login_args(ap, "XU_RECEIVER_PASSWORD", 30.0)
    ap.add_argument("--storage", required=True)
    xuclient.receive_args(ap, "exit 0 after N messages with a body (0: once ready)")
    ap.add_argument("--to")
    ap.add_argument("--send", action="append")
    ap.add_argument("--corrupt", action="store_true")
    ap.add_argument("--fetch-files", action="store_true")
    ap.add_argument("--offline", action="store_true")
    ap.add_argument("--resource", default="omemo-peer")
    args, password = xuclient.parse(ap)
    if args.send and not args.to:
        ap.error("--send needs --to")
    logging.basicConfig(level=logging.DEBUG if os.environ.get("XU_OMEMO_PEER_DEBUG") else logging.WARNING, stream=sys.stderr)
    global XMPP
    XMPP = peer = Peer(args, password)
    peer.storage = JSONStorage(args.storage)
    return xuclient.run(peer)


if __name__ == "__main__":
    xuclient.main(main)
