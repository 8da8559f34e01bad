"""promtext: a strict parser for the Prometheus text exposition format 0.0.4.

https://prometheus.io/docs/instrumenting/exposition_formats/ describes the
format; this module refuses, with ValueError("line N: ..."), anything that
page does not allow, plus the conventions it states for histograms and
summaries. The tests use it to check what /-/metrics serves.

    families = promtext.parse(text)
    families["http_requests_total"]
    # {"type": "counter", "help": "Requests answered.",
    #  "samples": [("http_requests_total", {"code": "200"}, 12.0), ...]}

A family is keyed by its name as TYPE/HELP give it: a histogram "x" holds
the samples x_bucket, x_sum and x_count. Timestamps are checked, not kept.

Checked:
- UTF-8; lines end with "\\n", the last one too; "\\r" is refused; empty
  (or blank-only) lines are ignored; blanks and tabs separate tokens.
- "# HELP name text" (escapes \\\\ and \\n only) and "# TYPE name type"
  (counter, gauge, histogram, summary, untyped; lower case): at most one
  of each per family, both before the family's first sample. Other "#"
  lines are comments.
- Metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*
  and not starting with "__" (reserved), no label twice in one sample, label
  values with the escapes \\\\, \\" and \\n only; a trailing comma inside
  the braces is allowed, empty braces are not.
- Values: decimal floats, NaN, +Inf, -Inf (not Go's other spellings such
  as hex or "Infinity"); timestamps: an int64.
- All lines of a family form one group: a family that comes back after
  another one began is an error; so is a series (name and label set) twice.
- Counters: values >= 0, not NaN.
- Histograms: only x_bucket (with a numeric le, increasing, cumulative
  counts not decreasing), x_sum and x_count (without le); each label set
  has le="+Inf", x_sum and x_count, and +Inf equals x_count.
- Summaries: only x (with a quantile in [0, 1], increasing), x_sum and
  x_count (without quantile); each label set has x_sum and x_count.

Python 3 standard library only. Run it directly for its self-test, or with
file names (or "-") to check those.
"""

import math
import re
import sys

TYPES = ("counter", "gauge", "histogram", "summary", "untyped")

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}
_TIMESTAMP = re.compile(r"[+-]?[0-9]+\Z")
_BLANKS = " \t"

# The samples a histogram or summary family "x" holds, by suffix.
_SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")}


def _fail(lineno, msg):
    raise ValueError("line %d: %s" % (lineno, msg))


def _float(text, lineno, what):
    if text in _SPECIAL:
        return _SPECIAL[text]
    if not _FLOAT.match(text):
        _fail(lineno, "%s %r is not a number" % (what, text))
    v = float(text)
    if math.isinf(v):  # Go's ParseFloat fails with ErrRange here
        _fail(lineno, "%s %r is out of range for a float64" % (what, text))
    return v


class _Cursor:
    """One line being read, left to right."""

    def __init__(self, line, lineno):
        self.s = line
        self.i = 0
        self.lineno = lineno

    def fail(self, msg):
        _fail(self.lineno, "%s (column %d)" % (msg, self.i + 1))

    def skip_blanks(self):
        while self.i < len(self.s) and self.s[self.i] in _BLANKS:
            self.i += 1

    def at_end(self):
        return self.i >= len(self.s)

    def peek(self):
        return self.s[self.i] if self.i < len(self.s) else ""

    def regex(self, rx, what):
        m = rx.match(self.s, self.i)
        if not m:
            self.fail("expected a %s" % what)
        self.i = m.end()
        return m.group(0)

    def token(self):
        """The text up to the next blank or the end."""
        start = self.i
        while self.i < len(self.s) and self.s[self.i] not in _BLANKS:
            self.i += 1
        return self.s[start:self.i]

    def expect(self, c):
        if self.peek() != c:
            self.fail("expected %r" % c)
        self.i += 1

    def label_value(self):
        """A quoted label value, unescaped; the cursor is on the opening quote."""
        self.expect('"')
        out = []
        while True:
            c = self.peek()
            if c == "":
                self.fail("unterminated label value")
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "\\":
                e = self.peek()
                if e not in ('\\', '"', "n"):
                    self.fail("invalid escape \\%s in a label value" % e)
                self.i += 1
                out.append("\n" if e == "n" else e)
            else:
                out.append(c)

    def labels(self):
        """The label set after '{', up to and including '}'."""
        labels = {}
        self.expect("{")
        self.skip_blanks()
        if self.peek() == "}":
            self.fail("empty braces: write the metric name alone")
        while True:
            self.skip_blanks()
            name = self.regex(_LABEL_NAME, "label name")
            if name.startswith("__"):
                self.fail("label name %r: names starting with __ are reserved" % name)
            if name in labels:
                self.fail("label %r twice in one sample" % name)
            self.skip_blanks()
            self.expect("=")
            self.skip_blanks()
            labels[name] = self.label_value()
            self.skip_blanks()
            if self.peek() == "}":
                self.i += 1
                return labels
            self.expect(",")
            self.skip_blanks()
            if self.peek() == "}":  # a trailing comma
                self.i += 1
                return labels


def _unescape_help(text, lineno):
    out = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            e = text[i + 1:i + 2]
            if e not in ("\\", "n"):
                _fail(lineno, "invalid escape \\%s in HELP (only \\\\ and \\n)" % e)
            out.append("\n" if e == "n" else e)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


class _Family:
    def __init__(self, name, lineno):
        self.name = name
        self.type = "untyped"
        self.typed = False
        self.help = None
        self.samples = []
        self.first_line = lineno
        # histogram/summary: label set without le/quantile -> what was seen
        self.groups = {}


class _Group:
    def __init__(self, lineno):
        self.lineno = lineno
        self.bound = None  # last le or quantile
        self.bucket = None  # last bucket count
        self.inf = None  # the le="+Inf" count
        self.sum = False
        self.count = None


class _Parser:
    def __init__(self):
        self.families = {}
        self.claimed = {}  # x_bucket, x_sum, ... -> x
        self.current = None
        self.done = set()
        self.series = {}

    def enter(self, name, lineno):
        """Moves to family name (creating it), refusing a family that comes back."""
        if name != self.current:
            if name in self.done:
                _fail(lineno, "family %r comes back after other families: its lines must be "
                      "one group (it began at line %d)" % (name, self.families[name].first_line))
            if self.current is not None:
                self.done.add(self.current)
            self.current = name
        if name not in self.families:
            if name in self.claimed:
                _fail(lineno, "%r belongs to %s %r" % (
                    name, self.families[self.claimed[name]].type, self.claimed[name]))
            self.families[name] = _Family(name, lineno)
        return self.families[name]

    def comment(self, cur):
        cur.i += 1  # '#'
        cur.skip_blanks()
        keyword = cur.token()
        if keyword not in ("HELP", "TYPE"):
            return
        cur.skip_blanks()
        if cur.at_end():
            cur.fail("%s without a metric name" % keyword)
        name = cur.regex(_METRIC_NAME, "metric name")
        if not cur.at_end() and cur.peek() not in _BLANKS:
            cur.fail("invalid character in metric name")
        fam = self.enter(name, cur.lineno)
        if fam.samples:
            cur.fail("%s for %r after its samples" % (keyword, name))
        cur.skip_blanks()
        if keyword == "HELP":
            if fam.help is not None:
                cur.fail("second HELP for %r" % name)
            fam.help = _unescape_help(cur.s[cur.i:].rstrip(_BLANKS), cur.lineno)
            return
        if fam.typed:
            cur.fail("second TYPE for %r" % name)
        typ = cur.token()
        cur.skip_blanks()
        if typ not in TYPES or not cur.at_end():
            cur.fail("TYPE must be followed by one of %s alone" % ", ".join(TYPES))
        self.set_type(fam, typ, cur.lineno)

    def set_type(self, fam, typ, lineno):
        fam.type = typ
        fam.typed = True
        for suffix in _SUFFIXES.get(typ, ()):
            derived = fam.name + suffix
            if suffix and derived in self.families:
                _fail(lineno, "%s %r needs the name %r, already a family (line %d)" % (
                    typ, fam.name, derived, self.families[derived].first_line))
            if suffix:
                self.claimed[derived] = fam.name

    def family_of(self, name):
        """The family a sample name belongs to: itself, or x for x_bucket and the like."""
        if name in self.families:
            return name
        return self.claimed.get(name, name)

    def sample(self, cur):
        name = cur.regex(_METRIC_NAME, "metric name")
        labels = {}
        if cur.peek() not in ("", "{") and cur.peek() not in _BLANKS:
            cur.fail("invalid character in metric name")
        cur.skip_blanks()
        if cur.peek() == "{":
            labels = cur.labels()
            cur.skip_blanks()
        if cur.at_end():
            cur.fail("sample without a value")
        value = _float(cur.token(), cur.lineno, "value")
        cur.skip_blanks()
        if not cur.at_end():
            ts = cur.token()
            if not _TIMESTAMP.match(ts) or not -2**63 <= int(ts) < 2**63:
                cur.fail("timestamp %r is not an int64" % ts)
            cur.skip_blanks()
            if not cur.at_end():
                cur.fail("unexpected text after the timestamp")

        key = (name, frozenset(labels.items()))
        if key in self.series:
            _fail(cur.lineno, "series %s%s twice (first at line %d)" % (
                name, _show_labels(labels), self.series[key]))
        self.series[key] = cur.lineno
        fam = self.enter(self.family_of(name), cur.lineno)
        self.check_sample(fam, name, labels, value, cur.lineno)
        fam.samples.append((name, labels, value))

    def check_sample(self, fam, name, labels, value, lineno):
        if fam.type == "counter" and not value >= 0:
            _fail(lineno, "counter %s is %r: counters are >= 0 and not NaN" % (name, value))
        if fam.type == "histogram":
            self.check_histogram(fam, name, labels, value, lineno)
        elif fam.type == "summary":
            self.check_summary(fam, name, labels, value, lineno)

    @staticmethod
    def group(fam, labels, without, lineno):
        key = frozenset((k, v) for k, v in labels.items() if k != without)
        if key not in fam.groups:
            fam.groups[key] = _Group(lineno)
        return fam.groups[key]

    @staticmethod
    def check_count(name, value, lineno):
        if not value >= 0:
            _fail(lineno, "%s is %r: a count is >= 0 and not NaN" % (name, value))

    def check_sum_count(self, fam, g, name, value, labels, bound, lineno):
        if bound in labels:
            _fail(lineno, "%s must not have the %s label" % (name, bound))
        if name.endswith("_sum"):
            g.sum = True
        else:
            self.check_count(name, value, lineno)
            g.count = value

    def check_histogram(self, fam, name, labels, value, lineno):
        x = fam.name
        if name not in (x + "_bucket", x + "_sum", x + "_count"):
            _fail(lineno, "histogram %r has only %s_bucket, %s_sum and %s_count samples, not %r"
                  % (x, x, x, x, name))
        g = self.group(fam, labels, "le", lineno)
        if name != x + "_bucket":
            self.check_sum_count(fam, g, name, value, labels, "le", lineno)
            return
        if "le" not in labels:
            _fail(lineno, "%s without an le label" % name)
        le = _float(labels["le"], lineno, "le")
        if math.isnan(le):
            _fail(lineno, "le is NaN")
        if g.bound is not None and not le > g.bound:
            _fail(lineno, "le=%r after le=%r: buckets must come in increasing order"
                  % (labels["le"], _fmt(g.bound)))
        self.check_count(name, value, lineno)
        if g.bucket is not None and value < g.bucket:
            _fail(lineno, "bucket le=%r holds %r, less than the bucket before (%r): "
                  "buckets are cumulative" % (labels["le"], value, g.bucket))
        g.bound, g.bucket = le, value
        if le == math.inf:
            g.inf = value

    def check_summary(self, fam, name, labels, value, lineno):
        x = fam.name
        if name not in (x, x + "_sum", x + "_count"):
            _fail(lineno, "summary %r has only %s, %s_sum and %s_count samples, not %r"
                  % (x, x, x, x, name))
        g = self.group(fam, labels, "quantile", lineno)
        if name != x:
            self.check_sum_count(fam, g, name, value, labels, "quantile", lineno)
            return
        if "quantile" not in labels:
            _fail(lineno, "%s without a quantile label" % name)
        q = _float(labels["quantile"], lineno, "quantile")
        if not 0 <= q <= 1:
            _fail(lineno, "quantile %r is not in [0, 1]" % labels["quantile"])
        if g.bound is not None and not q > g.bound:
            _fail(lineno, "quantile=%r after quantile=%r: quantiles must come in increasing "
                  "order" % (labels["quantile"], _fmt(g.bound)))
        g.bound = q

    def finish(self):
        for fam in self.families.values():
            for key, g in fam.groups.items():
                where = "%s%s" % (fam.name, _show_labels(dict(key)))
                if not g.sum or g.count is None:
                    _fail(g.lineno, "%s %s lacks %s" % (
                        fam.type, where, "_sum" if not g.sum else "_count"))
                if fam.type != "histogram":
                    continue
                if g.inf is None:
                    _fail(g.lineno, "histogram %s has no le=\"+Inf\" bucket" % where)
                if g.inf != g.count:
                    _fail(g.lineno, "histogram %s: le=\"+Inf\" holds %r but _count is %r"
                          % (where, g.inf, g.count))
        return {
            name: {"type": f.type, "help": f.help, "samples": f.samples}
            for name, f in self.families.items()
        }


def _fmt(v):
    return {math.inf: "+Inf", -math.inf: "-Inf"}.get(v, repr(v))


def _show_labels(labels):
    if not labels:
        return ""
    return "{%s}" % ",".join('%s="%s"' % (k, labels[k]) for k in sorted(labels))


def parse(text):
    """Parses an exposition (str, or bytes in UTF-8) into
    {family: {"type": str, "help": str or None, "samples": [(name, {labels}, value)]}}.
    Raises ValueError naming the line of the first error."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            _fail(bytes(text[:e.start]).count(b"\n") + 1, "not UTF-8: %s" % e.reason)
    if text == "":
        return {}
    lines = text.split("\n")
    if lines[-1] != "":
        _fail(len(lines), "the last line does not end with \\n")
    p = _Parser()
    for lineno, line in enumerate(lines[:-1], 1):
        if line.endswith("\r"):
            _fail(lineno, "line ends with \\r\\n: lines end with \\n alone")
        cur = _Cursor(line, lineno)
        cur.skip_blanks()
        if cur.at_end():
            continue
        if cur.peek() == "#":
            p.comment(cur)
        else:
            p.sample(cur)
    return p.finish()


# Self-test: (exposition, the line of the expected error, or None if valid).
_CASES = [
    # valid
    ("", None),
    ("\n\n  \t\n", None),
    ("# HELP up Whether it is up.\n# TYPE up gauge\nup 1\n", None),
    ("# TYPE c counter\nc{a=\"x\",b=\"y\",} 0 1712345678000\nc{a=\"z\"} 1.5e3 -1\n", None),
    ("# a comment\n#\nx  \t 3\n  y{ l = \"v\" }\t-Inf\nz NaN\nw +Inf\nv .5\nu -2.\n", None),
    ("m{v=\"a\\\\b\\\"c\\nd\"} 1\n", None),
    ("# HELP h escapes \\\\ and \\n here\n# TYPE h histogram\n"
     "h_bucket{le=\"0.1\"} 1\nh_bucket{le=\"1\"} 3\nh_bucket{le=\"+Inf\"} 4\n"
     "h_sum 2.5\nh_count 4\n"
     "h_bucket{m=\"a\",le=\"+Inf\"} 0\nh_sum{m=\"a\"} 0\nh_count{m=\"a\"} 0\n", None),
    ("# TYPE s summary\ns{quantile=\"0.5\"} NaN\ns{quantile=\"0.99\"} 3\ns_sum 9\ns_count 3\n"
     "s_sum{x=\"1\"} 0\ns_count{x=\"1\"} 0\n", None),
    ("# TYPE empty counter\n# HELP empty nothing yet\n# TYPE next gauge\nnext 1\n", None),
    ("x_bucket 1\nx_sum 2\nx_count 3\n", None),  # untyped: three families
    ("# TYPE s summary\ns_bucket 1\n", None),  # s_bucket is its own family
    ("a:b:c 1\n_x 2\n", None),
    ("m{l=\"\u00e9\u6f22\"} 1\n", None),
    ("# HELP quiet\n# TYPE c counter\nc +Inf\nd 1e308 +9\n", None),
    # invalid
    ("up 1", 1),
    ("a 1\nb 2", 2),
    ("up 1\r\n", 1),
    ("1up 1\n", 1),
    ("u-p 1\n", 1),
    ("up\n", 1),
    ("up 1 2 3\n", 1),
    ("up one\n", 1),
    ("up Inf\n", 1),
    ("up 0x10\n", 1),
    ("up 1_000\n", 1),
    ("up 1e400\n", 1),
    ("up{a=\"1\"}2 3\nup 1 2 x\n", 2),
    ("up 1 1.5\n", 1),
    ("up 1 99999999999999999999\n", 1),
    ("up{} 1\n", 1),
    ("up{,} 1\n", 1),
    ("up{a=\"1\",a=\"2\"} 1\n", 1),
    ("up{1a=\"x\"} 1\n", 1),
    ("up{a:b=\"x\"} 1\n", 1),
    ("up{__name__=\"x\"} 1\n", 1),
    ("up{a=\"\\t\"} 1\n", 1),
    ("up{a=\"x} 1\n", 1),
    ("up{a=x} 1\n", 1),
    ("up{a=\"x\"\n", 1),
    ("ok 1\nup{a=\"x\" b=\"y\"} 1\n", 2),
    ("# HELP up a \\t b\nup 1\n", 1),
    ("# HELP up one\n# HELP up two\n", 2),
    ("# HELP\n", 1),
    ("# TYPE up\n", 1),
    ("# TYPE up Gauge\n", 1),
    ("# TYPE up gauge extra\n", 1),
    ("# TYPE up gauge\n# TYPE up gauge\n", 2),
    ("up 1\n# TYPE up gauge\n", 2),
    ("up 1\n# HELP up late\n", 2),
    ("a 1\nb 1\na{x=\"y\"} 1\n", 3),
    ("# HELP a x\nb 1\na 1\n", 3),
    ("a{x=\"1\"} 1\na{x=\"1\"} 2\n", 2),
    ("a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\n", 2),
    ("# TYPE c counter\nc -1\n", 2),
    ("# TYPE c counter\nc NaN\n", 2),
    ("# TYPE h histogram\nh 1\n", 2),
    ("# TYPE h histogram\nh_bucket 1\n", 2),
    ("# TYPE h histogram\nh_bucket{le=\"x\"} 1\n", 2),
    ("# TYPE h histogram\nh_bucket{le=\"2\"} 1\nh_bucket{le=\"1\"} 1\n", 3),
    ("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n", 3),
    ("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n", 2),
    ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n", 2),
    ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", 2),
    ("# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum{le=\"1\"} 1\n", 3),
    ("h_count 1\n# TYPE h histogram\n", 2),
    ("# TYPE h histogram\n# HELP h_count no\n", 2),
    ("# TYPE s summary\ns 1\n", 2),
    ("# TYPE s summary\ns{quantile=\"1.5\"} 1\n", 2),
    ("# TYPE s summary\ns{quantile=\"0.9\"} 1\ns{quantile=\"0.5\"} 1\n", 3),
    ("# TYPE s summary\ns_sum 1\n", 2),
    ("# TYPE s summary\ns_sum 1\ns_count -1\n", 3),
    (b"up{a=\"\xff\"} 1\n", 1),
]


def _self_test():
    surprises = 0
    for text, want in _CASES:
        try:
            parse(text)
            got, msg = None, "valid"
        except ValueError as e:
            msg = str(e)
            m = re.match(r"line (\d+): ", msg)
            got = int(m.group(1)) if m else -1
        if got != want:
            surprises += 1
            print("SURPRISE: %r: want %s, got %s" % (
                text, "valid" if want is None else "an error at line %d" % want, msg))
    # What comes back, for one exposition.
    fams = parse("# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                 "h_bucket{le=\"+Inf\"} 2\nh_sum 3.5\nh_count 2\nplain{a=\"b\\n\"} 7\n")
    want = {
        "h": {"type": "histogram", "help": "Latency.", "samples": [
            ("h_bucket", {"le": "1"}, 1.0), ("h_bucket", {"le": "+Inf"}, 2.0),
            ("h_sum", {}, 3.5), ("h_count", {}, 2.0)]},
        "plain": {"type": "untyped", "help": None, "samples": [("plain", {"a": "b\n"}, 7.0)]},
    }
    if fams != want:
        surprises += 1
        print("SURPRISE: parse() returned %r" % fams)
    valid = sum(1 for _, w in _CASES if w is None)
    print("promtext self-test: %d valid and %d invalid examples, %d surprises"
          % (valid, len(_CASES) - valid, surprises))
    return 1 if surprises else 0


def _main(argv):
    if len(argv) < 2:
        return _self_test()
    status = 0
    for path in argv[1:]:
        try:
            if path == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(path, "rb") as f:
                    data = f.read()
            fams = parse(data)
            n = sum(len(f["samples"]) for f in fams.values())
            print("%s: %d families, %d samples" % (path, len(fams), n))
        except (OSError, ValueError) as e:
            print("%s: %s" % (path, e))
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
