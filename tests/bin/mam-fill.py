#!/usr/bin/python3
"""mam-fill.py DB ROOM NICK PREFIX N: put N messages "PREFIX r1" .. "PREFIX rN"
from ROOM/NICK into ROOM's archive (Prosody's SQLite store, table
prosodyarchive, store muc_log), in one transaction, as Prosody's
mod_muc_mam would have stored them; the server then serves them through
XEP-0313 as usual. For the large catch-up test and bench/: flooding 20,000
messages through the server takes minutes on a loaded machine, this a second.
"""
import sqlite3
import sys
import time
import uuid
from xml.sax.saxutils import escape, quoteattr


def main():
    if len(sys.argv) != 6:
        sys.stderr.write(__doc__)
        return 64
    db, room, nick, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    node, host = room.split("@", 1)
    now = int(time.time())
    frm = quoteattr("%s/%s" % (room, nick))
    rows = []
    for i in range(1, n + 1):
        body = escape("%s r%d" % (prefix, i))
        xml = "<message type='groupchat' from=%s id='fill%d'><body>%s</body></message>" % (frm, i, body)
        rows.append((host, node, "muc_log", str(uuid.uuid4()), now, "message<groupchat", "xml", xml))
    c = sqlite3.connect(db, timeout=30)
    with c:
        c.executemany('INSERT INTO prosodyarchive ("host", "user", "store", "key", "when", "with", "type", "value")'
                      " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    c.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
