#!/usr/bin/python3
"""httpget.py URL: download URL (https, trusting $XU_CA, no proxy) and print
"SHA256 SIZE CONTENT-TYPE" of what the server returned; exit 1 on any failure.
The tests use it to check that an uploaded file is what was read from disk."""
import hashlib
import os
import ssl
import sys
import urllib.request


def main():
    ctx = ssl.create_default_context(cafile=os.environ.get("XU_CA"))
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}),
                                         urllib.request.HTTPSHandler(context=ctx))
    h = hashlib.sha256()
    size = 0
    try:
        with opener.open(sys.argv[1], timeout=20) as r:
            ctype = r.headers.get("Content-Type", "-")
            while True:
                chunk = r.read(1 << 16)
                if not chunk:
                    break
                h.update(chunk)
                size += len(chunk)
    except Exception as e:  # noqa: BLE001 - any failure is a test failure
        print("httpget: %s: %s" % (sys.argv[1], e), file=sys.stderr)
        return 1
    print(h.hexdigest(), size, ctype)
    return 0


if __name__ == "__main__":
    sys.exit(main())
