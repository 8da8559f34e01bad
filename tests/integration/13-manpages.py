"""The manuals agree with the programs.

Each server's man page lists in OPTIONS the same options as its --help, with
the same short forms, value names (metavariables) and defaults; the pages
render without a warning; and the example configurations in dist/config/
name every option of their server and no other, show the defaults --help
prints, and pass --check.

The option entries of a page are its OPTIONS section's .TP paragraphs,
whose tag lines are ".B \\-\\-name" (a flag) or ".BI \\-\\-name " META"" (an
option with a value), or ".B "\\-h, \\-\\-help"" and ".BI "\\-c, \\-\\-config " FILE"
for those with a short form.
"""

import os
import re
import shutil
import subprocess

import wktest

MAN_DIR = os.path.join(wktest.SOURCE_DIR, "man")
CONFIG_DIR = os.path.join(wktest.SOURCE_DIR, "dist", "config")
PROGRAMS = {
    "httpd": (wktest.HTTPD, "wellknown-httpd.8", "httpd.conf"),
    "smtpd": (wktest.SMTPD, "wellknown-smtpd.8", "smtpd.conf"),
}
PAGES = ("wellknown-httpd.8", "wellknown-smtpd.8", "wellknown.conf.5")
# Options that act rather than configure: not for a configuration file.
ACTIONS = {"config", "check", "help", "version", "probe"}
SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "CONFIGURATION FILE", "SIGNALS",
            "FILES", "EXAMPLES", "SEE ALSO")
SEE_ALSO = ("wellknown.conf(5)", "ss(8)", "swaks(1)", "systemd.socket(5)")
# "--name META" or "-c, --config FILE", as --help and the pages' tags print them.
OPTION_RE = re.compile(r"^(?:-(?P<short>\w), )?--(?P<long>[a-z0-9][a-z0-9-]*)(?: (?P<meta>\S+))?$")
HELP_COLUMN = 28  # wk_config_usage prints "  %-28s %s"


class Option:
    def __init__(self, long, short, meta, text):
        self.long, self.short, self.meta, self.text = long, short, meta, text

    def signature(self):
        left = "--%s%s" % (self.long, " " + self.meta if self.meta else "")
        return "-%s, %s" % (self.short, left) if self.short else left

    def default(self):
        """The last "(default: X)" of a --help line, or None."""
        m = re.search(r"\(default: ([^()]*(?:\([^()]*\)[^()]*)*)\)\s*$", self.text)
        return m.group(1) if m else None


# ------------------------------------------------------------------ --help --

def parse_help(text):
    """{long name: Option} from the option lines of --help."""
    opts = {}
    for line in text.splitlines():
        if not line.startswith("  -"):
            continue
        if len(line) > HELP_COLUMN + 2 and line[HELP_COLUMN + 2] != " ":
            raise AssertionError("--help line wider than its column, cannot parse: %r" % line)
        left, rest = line[2:HELP_COLUMN + 2].rstrip(), line[HELP_COLUMN + 3:]
        m = OPTION_RE.match(left)
        if not m:
            raise AssertionError("--help line not understood: %r" % line)
        opts[m.group("long")] = Option(m.group("long"), m.group("short"), m.group("meta"), rest)
    return opts


# -------------------------------------------------------------------- roff --

def roff_args(s):
    """The arguments of a macro line, as roff splits them (double quotes group)."""
    args, i, n = [], 0, len(s)
    while i < n:
        while i < n and s[i] == " ":
            i += 1
        if i >= n:
            break
        if s[i] == '"':
            i += 1
            a = ""
            while i < n:
                if s[i] == '"':
                    if s[i + 1:i + 2] == '"':
                        a += '"'
                        i += 2
                        continue
                    i += 1
                    break
                a += s[i]
                i += 1
            args.append(a)
        else:
            j = s.find(" ", i)
            j = n if j < 0 else j
            args.append(s[i:j])
            i = j
    return args


def unescape(s):
    """Text as a reader sees it: fonts dropped, \\- a dash, and so on."""
    s = re.sub(r"\\f(\[[^\]]*\]|\(..|.)", "", s)
    for esc, plain in ((r"\(aq", "'"), (r"\(bu", "*"), (r"\-", "-"), (r"\%", ""), (r"\&", ""),
                       (r"\c", ""), (r"\e", "\\")):
        s = s.replace(esc, plain)
    return s


def line_text(line):
    """The words a source line puts on the page (none for requests like .PP)."""
    if not line.startswith((".", "'")):
        return unescape(line)
    name, _, rest = line[1:].partition(" ")
    if name in ("B", "I", "SM", "SB"):
        return unescape(" ".join(roff_args(rest)))
    if name in ("BR", "BI", "IB", "IR", "RB", "RI"):
        return unescape("".join(roff_args(rest)))
    return ""


class Page:
    """A man page's source: its .TH, its sections, the options in OPTIONS."""

    def __init__(self, path):
        self.path = path
        with open(path, encoding="utf-8") as f:
            self.lines = f.read().splitlines()
        self.th = []
        self.sections = {}  # name -> [source lines]
        current = None
        for line in self.lines:
            if line.startswith(".TH "):
                self.th = roff_args(line[4:])
            elif line.startswith(".SH"):
                current = unescape(" ".join(roff_args(line[3:])))
                self.sections[current] = []
            elif current is not None:
                self.sections[current].append(line)

    def text(self, section):
        words = " ".join(line_text(l) for l in self.sections.get(section, ()))
        return re.sub(r"\s+", " ", words).strip()

    def options(self):
        """{long name: Option} from the .TP entries of OPTIONS."""
        lines = self.sections.get("OPTIONS", [])
        opts = {}
        i = 0
        while i < len(lines):
            if lines[i] != ".TP":
                i += 1
                continue
            tag = lines[i + 1] if i + 1 < len(lines) else ""
            if not tag.startswith((".B ", ".BI ")):
                raise AssertionError("%s: a .TP in OPTIONS whose tag is not .B or .BI: %r"
                                     % (self.path, tag))
            args = roff_args(tag.split(" ", 1)[1])
            left = unescape((" " if tag.startswith(".B ") else "").join(args))
            m = OPTION_RE.match(left)
            if not m:
                raise AssertionError("%s: option tag not understood: %r (read as %r)"
                                     % (self.path, tag, left))
            body = []
            i += 2
            while i < len(lines) and not lines[i].startswith((".TP", ".SS", ".SH")):
                body.append(line_text(lines[i]))
                i += 1
            name = m.group("long")
            if name in opts:
                raise AssertionError("%s: --%s listed twice" % (self.path, name))
            opts[name] = Option(name, m.group("short"), m.group("meta"),
                                re.sub(r"\s+", " ", " ".join(body)).strip())
        return opts


# ------------------------------------------------------------------- tests --

def compare(where_a, a, where_b, b):
    """The differences between two {name: Option} tables, as lines."""
    out = []
    for name in sorted(set(a) - set(b)):
        out.append("%s only: %s" % (where_a, a[name].signature()))
    for name in sorted(set(b) - set(a)):
        out.append("%s only: %s" % (where_b, b[name].signature()))
    for name in sorted(set(a) & set(b)):
        if a[name].signature() != b[name].signature():
            out.append("--%s: %s says %r, %s says %r" % (name, where_a, a[name].signature(),
                                                       where_b, b[name].signature()))
    return out


class ManPages(wktest.TestCase):
    def help_of(self, prog):
        binary = PROGRAMS[prog][0]
        self.assertTrue(binary and os.access(binary, os.X_OK), "no binary for %s" % prog)
        p = subprocess.run([binary, "--help"], capture_output=True, text=True,
                           timeout=wktest.scaled(10))
        self.assertEqual(p.returncode, 0, p.stderr)
        return parse_help(p.stdout)

    def page_of(self, prog):
        return Page(os.path.join(MAN_DIR, PROGRAMS[prog][1]))

    # -- the options --

    def check_options(self, prog):
        diff = compare("--help", self.help_of(prog), PROGRAMS[prog][1],
                       self.page_of(prog).options())
        if diff:
            self.fail("wellknown-%s: --help and the man page differ:\n  %s"
                      % (prog, "\n  ".join(diff)))

    def test_httpd_page_lists_the_options_of_help(self):
        self.check_options("httpd")

    def test_smtpd_page_lists_the_options_of_help(self):
        self.check_options("smtpd")

    def check_defaults(self, prog):
        """Each default --help prints is the page's "Default: ..." (paths of the
        installation, which depend on where the binary is, aside)."""
        page = self.page_of(prog).options()
        wrong = []
        for name, opt in sorted(self.help_of(prog).items()):
            default = opt.default()
            if default is None or name not in page or default.startswith("/"):
                continue
            if "Default: %s" % default not in page[name].text:
                wrong.append("--%s: --help says (default: %s), the page: %r"
                             % (name, default, page[name].text))
        if wrong:
            self.fail("wellknown-%s: defaults differ:\n  %s" % (prog, "\n  ".join(wrong)))

    def test_httpd_page_gives_the_defaults_of_help(self):
        self.check_defaults("httpd")

    def test_smtpd_page_gives_the_defaults_of_help(self):
        self.check_defaults("smtpd")

    # -- the pages --

    def test_pages_have_the_sections_and_references(self):
        for prog in PROGRAMS:
            page = self.page_of(prog)
            missing = [s for s in SECTIONS if s not in page.sections]
            if missing:
                self.fail("%s: no section %s" % (page.path, missing))
            see_also = page.text("SEE ALSO")
            other = "wellknown-%s(8)" % ("smtpd" if prog == "httpd" else "httpd")
            for ref in SEE_ALSO + (other,):
                self.assertIn(ref, see_also, "%s: SEE ALSO" % page.path)
            self.assertIn("wellknown.conf(5)", page.text("CONFIGURATION FILE"))
        self.assertIn("/-/healthy", self.page_of("httpd").text("ROUTES UNDER /-/"))
        self.assertIn("Maildir", self.page_of("smtpd").text("MAIL STORE"))

    def test_pages_carry_the_version(self):
        p = subprocess.run([wktest.HTTPD, "--version"], capture_output=True, text=True,
                           timeout=wktest.scaled(10))
        version = p.stdout.split()[-1]
        for name in PAGES:
            page = Page(os.path.join(MAN_DIR, name))
            self.assertEqual(unescape(page.th[0]), name.rsplit(".", 1)[0].upper(), page.path)
            self.assertEqual(page.th[1], name.rsplit(".", 1)[1], page.path)
            self.assertEqual(page.th[3], "wellknown " + version, page.path)

    def test_pages_render_without_warnings(self):
        groff = shutil.which("groff")
        if not groff:
            self.fail("groff is not installed (./test installs it: Debian's groff-base)")
        for name in PAGES:
            path = os.path.join(MAN_DIR, name)
            p = subprocess.run([groff, "-man", "-Tutf8", "-ww", "-z", path], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""), "groff warns about " + path)
            out = subprocess.run([groff, "-man", "-Tutf8", "-P-c", "-P-b", "-P-u", path],
                                 capture_output=True, text=True, timeout=60).stdout
            self.assertIn("NAME", out)
            self.assertIn("SEE ALSO", out)
            # No roff source leaked into the text.
            self.assertNotRegex(out, r"(?m)^\s*\.[A-Z]{1,2}\b|\\f[BIRP]|\\-")

    def test_man_reads_the_pages(self):
        man = shutil.which("man")
        if not man:
            self.fail("man is not installed (./test installs it: Debian's man-db)")
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MAN_DISABLE_SECCOMP="1",
                   MANPAGER="cat", PAGER="cat")
        for name in PAGES:
            path = os.path.join(MAN_DIR, name)
            p = subprocess.run([man, "--warnings", "-l", path], capture_output=True, text=True,
                               env=env, timeout=60)
            self.assertEqual((p.returncode, p.stderr), (0, ""), "man -l " + path)
            self.assertIn("SYNOPSIS", p.stdout)

    # -- the example configurations --

    def check_example_config(self, prog):
        binary, _, conf = PROGRAMS[prog]
        path = os.path.join(CONFIG_DIR, conf)
        opts = self.help_of(prog)
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        settings = []  # (line number, name, value) of each "#name = value"
        for n, line in enumerate(lines, 1):
            m = re.match(r"^#([a-z][a-z0-9-]*) = (.*)$", line)
            if m:
                settings.append((n, m.group(1), m.group(2)))
            elif line.strip() and not line.startswith("#"):
                self.fail("%s:%d: an option set: the example sets none, it shows them" % (path, n))
            elif re.match(r"^#\s*[a-z][a-z0-9-]*\s*=", line) and not line.startswith("# "):
                self.fail("%s:%d: write a setting as \"#name = value\"" % (path, n))
        names = {name for _, name, _ in settings}
        unknown = ["%s:%d: %s" % (path, n, name) for n, name, _ in settings if name not in opts]
        if unknown:
            self.fail("not options of wellknown-%s:\n  %s" % (prog, "\n  ".join(unknown)))
        missing = sorted(set(opts) - ACTIONS - names)
        if missing:
            self.fail("%s shows no line for: %s" % (path, ", ".join(missing)))
        # Each value shown where --help prints a default is that default.
        defaults = []
        for n, name, value in settings:
            default = opts[name].default()
            is_flag = opts[name].meta is None
            if is_flag:
                self.assertEqual(value, "no", "%s:%d: a flag's default is no" % (path, n))
            elif default and " " not in default and not default.startswith("/"):
                self.assertEqual(value, default, "%s:%d: --%s" % (path, n, name))
            else:
                continue
            defaults.append(n)
        # As shipped, and with every default line turned on, the server accepts it.
        work = self.make_dir()
        on = [l[1:] if i in defaults else l for i, l in enumerate(lines, 1)]
        for label, text in (("as shipped", "\n".join(lines)), ("defaults on", "\n".join(on))):
            conf_path = os.path.join(work, conf)
            with open(conf_path, "w", encoding="utf-8") as f:
                f.write(text + "\n")
            p = subprocess.run([binary, "-c", conf_path, "--check"], capture_output=True,
                               text=True, cwd=work, timeout=wktest.scaled(10))
            self.assertEqual(p.returncode, 0, "%s %s: %s" % (path, label, p.stderr))
            self.assertIn("configuration ok", p.stdout)

    def test_httpd_example_config(self):
        self.check_example_config("httpd")

    def test_smtpd_example_config(self):
        self.check_example_config("smtpd")


if __name__ == "__main__":
    wktest.main()
