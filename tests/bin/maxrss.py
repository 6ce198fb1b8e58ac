#!/usr/bin/python3
"""maxrss.py OUTFILE CMD [ARGS...]

Runs CMD (standard input, output and error inherited), then writes its peak
resident set size in KiB (getrusage of the waited-for child) to OUTFILE and
exits with CMD's exit status. For the RSS growth checks in tests/soak.bats."""
import os
import resource
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 64
    rc = subprocess.call(sys.argv[2:])
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write("%d\n" % peak)
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    return rc if rc >= 0 else 128 - rc


if __name__ == "__main__":
    sys.exit(main())
