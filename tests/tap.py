"""A tiny TAP (Test Anything Protocol) producer for fastcrm's test scripts.

automake's TAP driver (tap-driver.sh) counts every "ok"/"not ok" line as
one test case.

    from tap import Tap
    t = Tap()
    t.ok(1 + 1 == 2, "addition")
    t.eq(r.status, 200, "GET /Contact answers 200")

    @t.test                    # runs NOW, at decoration time
    def create_contact():
        r = stack.request("POST", "/Contact", {"lastName": "X"})
        t.status(r, 200, "create a contact")

    t.done()                   # prints "1..N"; exit status 1 if any failed

A function decorated with @t.test (or @t.test("description")) is called
immediately, so it can use resources of an enclosing `with Stack() as s:`
block. An exception inside it is reported as one "not ok" line with the
traceback as "#" comments, and the script goes on. If the function makes no
assertion of its own and does not raise, it counts as one passing test.

An exception outside any test function is also reported as "not ok" (with
the plan printed) rather than leaving the TAP stream without a plan.
"""

import sys
import traceback

__all__ = ["Tap"]


class Tap:
    def __init__(self, out=None):
        self.out = out if out is not None else sys.stdout
        self.n = 0
        self.failed = 0
        self._done = False
        self._prev_hook = sys.excepthook
        sys.excepthook = self._excepthook

    # -- output ----------------------------------------------------------

    def _emit(self, line):
        self.out.write(line + "\n")
        self.out.flush()

    def diag(self, msg):
        """Prints msg as TAP comment lines ("# ...")."""
        for line in str(msg).splitlines() or [""]:
            self._emit("# " + line)

    @staticmethod
    def _clean(desc):
        # A "#" in a description would start a TAP directive (SKIP/TODO).
        return " ".join(str(desc).split()).replace("#", "\\#")

    # -- assertions ------------------------------------------------------

    def ok(self, cond, desc, diag=None):
        """One test case: passes when cond is true. Returns bool(cond)."""
        self.n += 1
        passed = bool(cond)
        if not passed:
            self.failed += 1
        self._emit("%s %d - %s" % ("ok" if passed else "not ok", self.n,
                                   self._clean(desc)))
        if not passed and diag is not None:
            self.diag(diag)
        return passed

    def eq(self, got, expected, desc):
        """Passes when got == expected; shows both otherwise."""
        return self.ok(got == expected, desc,
                       "     got: %r\nexpected: %r" % (got, expected))

    def ne(self, got, unexpected, desc):
        return self.ok(got != unexpected, desc,
                       "got the value it must not be: %r" % (got,))

    def like(self, text, pattern, desc):
        """Passes when the regular expression pattern is found in text."""
        import re
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        found = text is not None and re.search(pattern, text) is not None
        return self.ok(found, desc, "%r\ndoes not match /%s/" % (text, pattern))

    def unlike(self, text, pattern, desc):
        import re
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        m = re.search(pattern, text or "")
        return self.ok(m is None, desc,
                       "/%s/ matched %r" % (pattern, m.group(0) if m else ""))

    def status(self, resp, code, desc):
        """Passes when an HTTP response (harness.Response) has status code;
        otherwise shows the request, status, reason header and body."""
        diag = None
        if resp.status != code:
            diag = "expected status %d, got %d\n%s" % (
                code, resp.status, resp.describe())
        return self.ok(resp.status == code, desc, diag)

    def skip(self, desc, reason=""):
        """A skipped test case (counted by automake as SKIP)."""
        self.n += 1
        self._emit("ok %d - %s # SKIP %s" % (self.n, self._clean(desc),
                                            self._clean(reason)))

    def todo(self, cond, desc, reason=""):
        """An expected failure (XFAIL when it fails, XPASS when it passes)."""
        self.n += 1
        self._emit("%s %d - %s # TODO %s" % ("ok" if cond else "not ok",
                                            self.n, self._clean(desc),
                                            self._clean(reason)))
        return bool(cond)

    # -- test functions --------------------------------------------------

    def test(self, arg=None):
        """Decorator: @t.test or @t.test("description"). Runs the function
        at once; see the module documentation."""
        if callable(arg):
            return self._run(arg, None)

        def deco(fn):
            return self._run(fn, arg)
        return deco

    def _run(self, fn, desc):
        name = desc or fn.__name__.replace("_", " ")
        before = self.n
        try:
            fn()
        except Exception:
            self.ok(False, "%s: unexpected exception" % name,
                    traceback.format_exc().rstrip())
        else:
            if self.n == before:
                self.ok(True, name)
        return fn

    # -- end -------------------------------------------------------------

    def bail_out(self, reason):
        """Stops the whole script: automake reports it as ERROR."""
        self._emit("Bail out! %s" % self._clean(reason))
        self._done = True
        sys.exit(1)

    def done(self):
        """Prints the plan; exits 1 if any test failed, 0 otherwise."""
        if not self._done:
            self._done = True
            self._emit("1..%d" % self.n)
        sys.exit(1 if self.failed else 0)

    def _excepthook(self, etype, value, tb):
        if self._done or issubclass(etype, (KeyboardInterrupt, SystemExit)):
            self._prev_hook(etype, value, tb)
            return
        self.ok(False, "uncaught exception outside a test: %s" % etype.__name__,
                "".join(traceback.format_exception(etype, value, tb)).rstrip())
        self._done = True
        self._emit("1..%d" % self.n)
        self.out.flush()
        # sys.exit does not work from an excepthook; the interpreter exits 1
        # after an uncaught exception anyway.
