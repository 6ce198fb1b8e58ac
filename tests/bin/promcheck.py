#!/usr/bin/python3
"""promcheck.py [FILE]: a strict check of the Prometheus text exposition
format (version 0.0.4), for when promtool is not installed.

Checks what `promtool check metrics` checks for parsing, and its lint rules
that apply to gauges: every line is a # HELP, # TYPE or comment line, a
sample or empty; metric and label names are valid; label values are quoted
with only \\\\, \\" and \\n escapes; values are floats; HELP and TYPE come at
most once per family and before its samples; the samples of a family are
contiguous; no series (name + label set) repeats; no label name repeats in a
sample; TYPE is one of the known types; gauges do not end in _total, and
names with a unit use base units (_seconds, _bytes). Exit 0 if clean, 1 with
one message per problem.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
VALUE = r"(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?Inf|NaN)"
SAMPLE = re.compile(r"^(%s)(?:\{(.*)\})? (%s)(?: (-?[0-9]+))?$" % (NAME, VALUE))
LABEL_PAIR = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % LABEL)
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}
BAD_UNITS = re.compile(r"_(milliseconds|microseconds|nanoseconds|minutes|hours|days|kilobytes|megabytes)$")


def parse_labels(text, problems, lineno):
    labels = []
    pos = 0
    while pos < len(text):
        m = LABEL_PAIR.match(text, pos)
        if not m:
            problems.append("line %d: bad label set {%s}" % (lineno, text))
            return None
        labels.append((m.group(1), m.group(2)))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                problems.append("line %d: expected ',' in labels {%s}" % (lineno, text))
                return None
            pos += 1
    names = [k for k, _ in labels]
    if len(names) != len(set(names)):
        problems.append("line %d: a label name repeats" % lineno)
    return tuple(sorted(labels))


def check(text):
    problems = []
    help_seen, type_seen, types = set(), set(), {}
    finished, current, series = set(), None, set()
    if text and not text.endswith("\n"):
        problems.append("the last line does not end with a newline")
    for lineno, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                name = parts[2]
                if not re.fullmatch(NAME, name):
                    problems.append("line %d: bad metric name %r" % (lineno, name))
                if name in finished or (current and current != name and name in (help_seen | type_seen)):
                    problems.append("line %d: %s for %s after its samples" % (lineno, parts[1], name))
                seen = help_seen if parts[1] == "HELP" else type_seen
                if name in seen:
                    problems.append("line %d: second %s for %s" % (lineno, parts[1], name))
                seen.add(name)
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        problems.append("line %d: unknown type %r" % (lineno, t))
                    types[name] = t
                    if t == "gauge" and name.endswith("_total"):
                        problems.append("line %d: gauge %s ends in _total" % (lineno, name))
                    if BAD_UNITS.search(name):
                        problems.append("line %d: %s does not use a base unit" % (lineno, name))
                elif len(parts) < 4 or not parts[3].strip():
                    problems.append("line %d: empty HELP for %s" % (lineno, name))
                if current and current != name:
                    finished.add(current)
                current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append("line %d: not a valid sample: %r" % (lineno, line))
            continue
        name, labels = m.group(1), m.group(2)
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
                family = name[: -len(suffix)]
        if family in finished:
            problems.append("line %d: samples of %s are not together" % (lineno, family))
        if current and current != family:
            finished.add(current)
        current = family
        if family not in type_seen:
            problems.append("line %d: %s has no TYPE line before its samples" % (lineno, family))
        key = parse_labels(labels or "", problems, lineno)
        if key is not None:
            if (name, key) in series:
                problems.append("line %d: series %s%s repeats" % (lineno, name, "{%s}" % labels if labels else ""))
            series.add((name, key))
    if not series:
        problems.append("no samples")
    return problems


def main(argv):
    text = open(argv[1]).read() if len(argv) > 1 else sys.stdin.read()
    problems = check(text)
    for p in problems:
        print("promcheck: " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
