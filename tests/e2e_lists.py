#!/usr/bin/env python3
"""End-to-end tests of the list endpoints (API.md "List parameters", "Phone
numbers and emails", related lists) through nginx and a real fastcrm.

One stack is started, seeded through the API (POST), then queried with raw
query strings so that the PHP-style decoding is exercised exactly as a client
sends it. Every test asserts the behaviour of the spec; the expected sets and
orders are computed here from the seeded data.

    cd /work/main && FASTCRM_BIN=$PWD/fastcrm python3 tests/e2e_lists.py
"""

import datetime
import json
import os
import sys
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

UTC = datetime.timezone.utc
FMT = "%Y-%m-%d %H:%M:%S"

# ---------------------------------------------------------------------------
# query-string builders


def enc(v):
    """A value percent-encoded as a form would (space as %20, + as %2B)."""
    if v is True:
        v = "true"
    elif v is False:
        v = "false"
    return quote(str(v), safe="")


def php_pairs(prefix, obj):
    """(key, value) pairs of obj in PHP bracket notation under prefix."""
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out += php_pairs("%s[%s]" % (prefix, k), v)
        return out
    if isinstance(obj, (list, tuple)):
        out = []
        for i, v in enumerate(obj):
            out += php_pairs("%s[%d]" % (prefix, i), v)
        return out
    return [(prefix, obj)]


def qs(params=None, where=None, encode_keys=False):
    """A query string: where items in bracket notation (literal brackets
    unless encode_keys), then the other params; values percent-encoded."""
    pairs = []
    if where is not None:
        pairs += php_pairs("where", where)
    for k, v in (params or {}).items():
        if isinstance(v, (dict, list, tuple)):
            pairs += php_pairs(k, v)
        else:
            pairs.append((k, v))
    parts = []
    for k, v in pairs:
        k = quote(k, safe="") if encode_keys else k
        parts.append("%s=%s" % (k, enc(v)))
    return "&".join(parts)


def W(type_, attribute=None, value=None, **kw):
    item = {"type": type_}
    if attribute is not None:
        item["attribute"] = attribute
    if value is not None:
        item["value"] = value
    item.update(kw)
    return item


# ---------------------------------------------------------------------------
# the stack and helpers bound to it

try:
    stack = Stack(workers=2)  # started here; stopped at the end / atexit
except Exception as exc:  # noqa: BLE001
    t.bail_out("cannot start the stack: %s" % exc)
LABEL = {}  # id -> label, for diagnostics


def get(path, query="", headers=None):
    return stack.request("GET", path + ("?" + query if query else ""),
                         headers=headers)


def lst(entity, query="", headers=None):
    return get("/" + entity, query, headers)


def ids_of(r):
    if r.json is None or not isinstance(r.json.get("list"), list):
        return None
    return [x.get("id") for x in r.json["list"]]


def names(idlist):
    if idlist is None:
        return None
    return [LABEL.get(i, i) for i in idlist]


def set_eq(r, expected_ids, desc):
    """200 and exactly the expected ids (in any order)."""
    got = ids_of(r)
    if r.status != 200 or got is None:
        return t.ok(False, desc, "expected 200 with a list\n" + r.describe())
    return t.ok(sorted(got) == sorted(expected_ids) and
                len(set(got)) == len(got), desc,
                "     got: %r\nexpected: %r\nrequest: %s %s" % (
                    sorted(names(got)), sorted(names(expected_ids)),
                    r.method, r.path))


def seq_eq(r, expected_ids, desc):
    """200 and exactly the expected ids in that order."""
    got = ids_of(r)
    if r.status != 200 or got is None:
        return t.ok(False, desc, "expected 200 with a list\n" + r.describe())
    return t.ok(got == list(expected_ids), desc,
                "     got: %r\nexpected: %r\nrequest: %s %s" % (
                    names(got), names(expected_ids), r.method, r.path))


def err(r, code, desc, reason=None):
    """code, a reason header, a JSON body; reason (exact) when given."""
    ok = r.status == code and bool(r.headers.get("X-Status-Reason"))
    if reason is not None:
        ok = ok and r.headers.get("X-Status-Reason") == reason
    return t.ok(ok, desc, "expected %d%s\n%s" % (
        code, (" with X-Status-Reason: %s" % reason) if reason else "",
        r.describe()))


def create(entity, body, label, headers=None):
    r = stack.request("POST", "/" + entity, body, headers=headers)
    if r.status != 200 or not r.json or "id" not in r.json:
        raise RuntimeError("seeding %s %s failed:\n%s" % (entity, label,
                                                         r.describe()))
    LABEL[r.json["id"]] = label
    return r.json


def fmt(dt):
    return dt.strftime(FMT)


def parse_dt(s):
    return datetime.datetime.strptime(s, FMT).replace(tzinfo=UTC)


# ---------------------------------------------------------------------------
# seed data

S = {}       # label -> record (as returned by POST)
ID = {}      # label -> id


def seed(entity, label, body):
    rec = create(entity, body, label)
    S[label] = rec
    ID[label] = rec["id"]
    return rec


NOW = datetime.datetime.now(UTC).replace(microsecond=0)
TODAY0 = NOW.replace(hour=0, minute=0, second=0)


def day_start(offset):
    return TODAY0 + datetime.timedelta(days=offset)


def month_start(dt, back=0):
    y, m = dt.year, dt.month - back
    while m <= 0:
        m += 12
        y -= 1
    return dt.replace(year=y, month=m, day=1, hour=0, minute=0, second=0)


try:
    seed("Account", "acme", {"name": "Acme Lists"})
    seed("Account", "globex", {"name": "Globex Lists"})

    seed("Contact", "john", {
        "firstName": "John", "lastName": "Listerson",
        "emailAddress": "john@example.com",
        "phoneNumber": "+1 555 010 2000", "doNotCall": True,
        "title": "Manager", "accountsIds": [ID["acme"]]})
    seed("Contact", "jane", {
        "firstName": "Jane", "lastName": "Listerson",
        "emailAddress": "jane.doe@example.org",
        "phoneNumberData": [
            {"phoneNumber": "+1 555 010 3000", "type": "Mobile",
             "primary": True},
            {"phoneNumber": "+44 20 7946 0958", "type": "Office",
             "primary": False}],
        "doNotCall": False, "title": "Director",
        "accountsIds": [ID["acme"], ID["globex"]]})
    seed("Contact", "bob", {
        "firstName": "Bob", "lastName": "Builder",
        "accountsIds": [ID["globex"]], "addressCity": "Springfield"})
    seed("Contact", "alice", {
        "firstName": "alice", "lastName": "Zephyr",
        "emailAddress": "Alice@Example.NET", "title": "manager",
        "description": "a+b c"})
    seed("Contact", "amy", {
        "firstName": "Amy", "lastName": "O'Plus", "title": "Clerk",
        "description": "100% sure_thing"})
    CONTACTS = ["john", "jane", "bob", "alice", "amy"]

    # Twelve cases: numbers 1..12 (so 9 < 10 tells numeric from text).
    case_specs = [
        ("k1", {"name": "Printer on fire", "status": "New",
                "description": "paper jam", "contactId": ID["john"],
                "ccallId": "CALL-0001", "cchatId": "Chat-A"}),
        ("k2", {"name": "Login broken", "status": "Closed",
                "contactId": ID["jane"], "accountId": ID["acme"],
                "ccallId": "call-0002", "cchatId": "chat-b"}),
        ("k3", {"name": "Slow network", "status": "Pending"}),
        ("k4", {"name": "Refund request", "status": "Rejected"}),
        ("k5", {"name": "Password reset", "status": "Assigned",
                "priority": "High"}),
        ("k6", {"name": "Duplicate of 5", "status": "Duplicate"}),
        ("k7", {"name": "alpha case", "status": "New"}),
        ("k8", {"name": "Beta case", "status": "New"}),
        ("k9", {"name": "gamma case", "status": "Closed"}),
        ("k10", {"name": "Delta case", "status": "Pending"}),
        ("k11", {"name": "epsilon case", "status": "New",
                 "priority": "Urgent"}),
        ("k12", {"name": "Zeta case", "status": "Assigned"}),
    ]
    for label, body in case_specs:
        seed("Case", label, body)
    CASES = [c for c, _ in case_specs]
    NUM = {c: S[c]["number"] for c in CASES}

    # k3 gets two contacts through the link route.
    r = stack.request("POST", "/Case/%s/contacts" % ID["k3"],
                      {"ids": [ID["john"], ID["bob"]]})
    if r.status != 200:
        raise RuntimeError("linking k3 failed:\n" + r.describe())

    # Calls, dateStart relative to now (UTC).
    def call_at(label, dt, extra=None):
        body = {"name": "Call " + label, "dateStart": fmt(dt),
                "dateEnd": fmt(dt + datetime.timedelta(minutes=5))}
        body.update(extra or {})
        seed("Call", label, body)

    CALL_DT = {
        "c_today": max(NOW - datetime.timedelta(seconds=60), TODAY0),
        "c_m3d": NOW - datetime.timedelta(days=3),
        "c_m10d": NOW - datetime.timedelta(days=10),
        "c_m40d": NOW - datetime.timedelta(days=40),
        "c_m400d": NOW - datetime.timedelta(days=400),
        "c_p2d": NOW + datetime.timedelta(days=2),
        "c_p10d": NOW + datetime.timedelta(days=10),
        "c_lastmonth": month_start(NOW, 1).replace(day=15, hour=12),
        "c_month1st": month_start(NOW) + datetime.timedelta(seconds=5),
    }
    for label, dt in CALL_DT.items():
        extra = None
        if label == "c_m3d":
            extra = {"parentType": "Case", "parentId": ID["k1"],
                     "contactsIds": [ID["john"]]}
        elif label == "c_p2d":
            extra = {"uid": "Ext-123", "parentType": "Account",
                     "parentId": ID["acme"]}
        call_at(label, dt, extra)
    CALLS = list(CALL_DT)

    TASK_DT = {
        "t_today": max(NOW - datetime.timedelta(seconds=60), TODAY0),
        "t_m2d": NOW - datetime.timedelta(days=2),
        "t_p2d": NOW + datetime.timedelta(days=2),
        "t_none": None,
    }
    for label, dt in TASK_DT.items():
        body = {"name": "Task " + label}
        if label == "t_m2d":
            body.update({"parentType": "Contact", "parentId": ID["john"]})
        if dt is not None:
            body["dateStart"] = fmt(dt)
        seed("Task", label, body)
    TASKS = list(TASK_DT)

    for label, un in (("u_zed", "zed.lists"), ("u_amy", "Amy.lists"),
                      ("u_mike", "mike.lists")):
        seed("User", label, {"userName": un, "lastName": label[2:]})
    SEEDED = True
except Exception as exc:  # noqa: BLE001
    t.ok(False, "seed data through the API", str(exc))
    stack.stop()
    t.bail_out("cannot seed")


def ids(*labels):
    return [ID[x] for x in labels]


def sort_ids(labels, key, desc):
    """labels sorted by key(label) then id, both in the same direction;
    None sorts first ascending (SQL NULLs first)."""
    def k(label):
        v = key(label)
        if isinstance(v, str):
            v = v.lower()
        return (v is not None, v if v is not None else "", ID[label])
    return ids(*sorted(labels, key=k, reverse=desc))


# ---------------------------------------------------------------------------
# PHP-style query decoding


@t.test
def decoding():
    # literal brackets
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]=lastName"
            "&where[0][value]=Builder")
    set_eq(r, ids("bob"), "literal brackets: where[0][attribute]=... decodes")
    # percent-encoded brackets
    r = lst("Contact", "where%5B0%5D%5Btype%5D=equals&where%5B0%5D"
            "%5Battribute%5D=lastName&where%5B0%5D%5Bvalue%5D=Builder")
    set_eq(r, ids("bob"), "percent-encoded brackets decode the same")
    # lower-case hex and a mix of both notations in one item
    r = lst("Contact", "where%5b0%5d%5btype%5d=equals&where[0][attribute]="
            "lastName&where%5B0%5D[value]=Builder")
    set_eq(r, ids("bob"), "mixed literal / encoded brackets merge into "
           "one where item")
    # whole query via urlencode-style encoded keys
    r = lst("Contact", qs(where=[W("equals", "firstName", "Jane")],
                          encode_keys=True))
    set_eq(r, ids("jane"), "fully encoded keys and values")
    # + as space (Contact.name "John Listerson")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]=name"
            "&where[0][value]=John+Listerson")
    set_eq(r, ids("john"), "'+' in a value decodes as a space")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]=name"
            "&where[0][value]=john%20LISTERSON")
    set_eq(r, ids("john"), "%20 decodes as a space (and equals ignores case)")
    # %2B is a literal plus
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "description&where[0][value]=a%2Bb+c")
    set_eq(r, ids("alice"), "%2B decodes to '+' ('a%2Bb+c' = 'a+b c')")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "description&where[0][value]=a+b+c")
    set_eq(r, [], "unencoded 'a+b+c' is 'a b c' and matches nothing")
    # [] appends
    r = lst("Case", "where[0][type]=in&where[0][attribute]=status"
            "&where[0][value][]=New&where[0][value][]=Closed")
    set_eq(r, ids("k1", "k2", "k7", "k8", "k9", "k11"),
           "value[]= appends: in [New, Closed]")
    r = lst("Case", "where%5B0%5D%5Btype%5D=in&where%5B0%5D%5Battribute%5D="
            "status&where%5B0%5D%5Bvalue%5D%5B%5D=Pending&where%5B0%5D"
            "%5Bvalue%5D%5B%5D=Rejected")
    set_eq(r, ids("k3", "k4", "k10"), "encoded value%5B%5D= appends too")
    # list keys given out of order are taken in numeric order
    r = lst("Case", "where[0][type]=between&where[0][attribute]=number"
            "&where[0][value][1]=%d&where[0][value][0]=%d"
            % (NUM["k4"], NUM["k2"]))
    set_eq(r, ids("k2", "k3", "k4"), "value[1]= before value[0]= still "
           "means [value0, value1]")
    # two where items ANDed, given out of index order
    r = lst("Contact", "where[0][type]=contains&where[0][attribute]="
            "description&where[0][value]=100%")
    set_eq(r, ids("amy"), "a lone % that is no escape stays literal")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "lastName&where[0][value]=Bu%zzilder")
    set_eq(r, [], "an invalid escape %zz stays literal (no match)")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "lastName&where[0][value]=%FFx")
    err(r, 400, "invalid UTF-8 in the query: 400")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "lastName&where[0][value]=a%00b")
    err(r, 400, "a NUL byte in the query: 400")
    r = lst("Case", "where[1][type]=equals&where[1][attribute]=priority"
            "&where[1][value]=urgent&where[0][type]=equals"
            "&where[0][attribute]=status&where[0][value]=New")
    set_eq(r, ids("k11"), "two where items are ANDed (keys out of order)")


@t.test
def search_params():
    sp = {"where": [W("equals", "lastName", "Listerson")], "maxSize": 1,
          "orderBy": "firstName", "order": "asc"}
    # the other parameters would be errors if they were looked at
    r = lst("Contact", "searchParams=" + enc(json.dumps(sp)) +
            "&maxSize=abc&where[0][type]=bogus&orderBy=nope")
    seq_eq(r, ids("jane"), "searchParams JSON replaces every other "
           "parameter (where, maxSize, orderBy)")
    t.eq(r.json and r.json.get("total"), 2,
         "searchParams: total counts all matches, not the page")
    sp = {"where": [W("in", "status", ["Rejected", "duplicate"])],
          "select": ["name", "status"], "orderBy": "number",
          "order": "desc"}
    r = lst("Case", "searchParams=" + enc(json.dumps(sp)))
    seq_eq(r, ids("k6", "k4"), "searchParams: in list, orderBy number desc")
    keys = sorted(r.json["list"][0]) if r.json and r.json.get("list") \
        else None
    t.eq(keys, ["id", "name", "status"],
         "searchParams: select given as an array")
    sp = {"where": [W("isTrue", "doNotCall")], "textFilter": "jo"}
    r = lst("Contact", "searchParams=" + enc(json.dumps(sp)))
    set_eq(r, ids("john"), "searchParams: textFilter with where")


@t.test
def unknown_params_ignored():
    r = lst("Contact", "contactId=%s&maxSize=50&foo[bar]=1&where[0][type]="
            "equals&where[0][attribute]=lastName&where[0][value]=Builder"
            % ID["john"])
    set_eq(r, ids("bob"), "unknown top-level parameters (contactId=, foo[]) "
           "are ignored")
    r = lst("Case", "contactId=%s&accountId=x" % ID["john"])
    set_eq(r, ids(*CASES), "unknown contactId= does not filter a list")


# ---------------------------------------------------------------------------
# where types on strings, booleans, nulls


@t.test
def where_strings():
    def c(items, expect, desc, entity="Contact"):
        set_eq(lst(entity, qs(where=items)), ids(*expect), desc)

    c([W("equals", "lastName", "LISTERSON")], ["john", "jane"],
      "equals is case-insensitive")
    c([W("notEquals", "lastName", "listerson")], ["bob", "alice", "amy"],
      "notEquals")
    c([W("like", "lastName", "%ISTER%")], ["john", "jane"],
      "like with % on both sides, case-insensitive")
    c([W("like", "firstName", "j_n%")], ["jane"], "like with _ wildcard")
    c([W("notLike", "lastName", "%ister%")], ["bob", "alice", "amy"],
      "notLike")
    c([W("contains", "lastName", "IST")], ["john", "jane"],
      "contains, case-insensitive")
    c([W("notContains", "lastName", "ist")], ["bob", "alice", "amy"],
      "notContains")
    c([W("startsWith", "firstName", "AL")], ["alice"],
      "startsWith, case-insensitive")
    c([W("endsWith", "lastName", "DER")], ["bob"], "endsWith")
    c([W("contains", "description", "100%")], ["amy"],
      "contains with a % in the value")
    c([W("notContains", "title", "MAN")], ["jane", "amy"],
      "notContains leaves out NULLs (SQL semantics)")
    c([W("in", "firstName", ["JOHN", "bob", "nobody"])], ["john", "bob"],
      "in, case-insensitive")
    c([W("notIn", "firstName", ["john", "BOB"])], ["jane", "alice", "amy"],
      "notIn")
    c([W("in", "title", ["manager"])], ["john", "alice"],
      "in on a field whose values differ only in case")
    c([W("isNull", "title")], ["bob"], "isNull (title never set)")
    c([W("isNotNull", "title")], ["john", "jane", "alice", "amy"],
      "isNotNull")
    c([W("isNull", "emailAddress")], ["bob", "amy"],
      "isNull on emailAddress")
    c([W("isTrue", "doNotCall")], ["john"], "isTrue on Contact.doNotCall")
    c([W("isFalse", "doNotCall")], ["jane", "bob", "alice", "amy"],
      "isFalse on Contact.doNotCall (default false)")
    c([W("equals", "addressCity", "springfield")], ["bob"],
      "equals on an address part")
    c([W("equals", "ccallId", "call-0001")], ["k1"],
      "custom indexed field (Case.ccallId) equals, case-insensitive",
      "Case")
    c([W("in", "cchatId", ["CHAT-A", "chat-B"])], ["k1", "k2"],
      "custom field (Case.cchatId) in, case-insensitive", "Case")
    c([W("isNull", "ccallId"), W("equals", "status", "closed")], ["k9"],
      "custom field isNull", "Case")
    c([W("equals", "uid", "EXT-123")], ["c_p2d"],
      "Call.uid (indexed) equals, case-insensitive", "Call")


@t.test
def where_and_or():
    items = [W("or", value=[
        W("equals", "firstName", "john"),
        W("and", value=[W("equals", "lastName", "zephyr"),
                        W("startsWith", "firstName", "ali")]),
    ])]
    set_eq(lst("Contact", qs(where=items)), ids("john", "alice"),
           "or with a nested and")
    items = [W("and", value=[W("startsWith", "lastName", "list"),
                             W("or", value=[W("isTrue", "doNotCall"),
                                            W("equals", "title",
                                              "nobody")])])]
    set_eq(lst("Contact", qs(where=items)), ids("john"),
           "and with a nested or")
    items = [W("or", value=[W("equals", "status", "Rejected"),
                            W("equals", "status", "Duplicate")]),
             W("equals", "name", "refund REQUEST")]
    set_eq(lst("Case", qs(where=items)), ids("k4"),
           "top-level or ANDed with another item")


@t.test
def where_numbers():
    def c(items, expect, desc):
        set_eq(lst("Case", qs(where=items)), ids(*expect), desc)

    by = {NUM[k]: k for k in CASES}
    n = sorted(by)
    t.eq(n, list(range(n[0], n[0] + 12)),
         "Case numbers auto-increment by one")
    c([W("equals", "number", n[6])], [by[n[6]]], "number equals")
    c([W("greaterThan", "number", n[8])], [by[x] for x in n[9:]],
      "greaterThan compares numbers, not text (e.g. 10 > 9)")
    c([W("lessThan", "number", n[2])], [by[x] for x in n[:2]], "lessThan")
    c([W("greaterThanOrEquals", "number", n[10])],
      [by[x] for x in n[10:]], "greaterThanOrEquals")
    c([W("lessThanOrEquals", "number", n[1])], [by[x] for x in n[:2]],
      "lessThanOrEquals")
    c([W("between", "number", [n[2], n[9]])], [by[x] for x in n[2:10]],
      "between is inclusive and numeric")
    c([W("notEquals", "number", n[0]), W("lessThan", "number", n[3])],
      [by[x] for x in n[1:3]], "notEquals and lessThan on number")


# ---------------------------------------------------------------------------
# date types


def now():
    return datetime.datetime.now(UTC).replace(microsecond=0)


def date_expect(type_, dts, days=None):
    """Labels whose datetime matches the date type, EspoCRM semantics."""
    n = now()
    t0 = n.replace(hour=0, minute=0, second=0)

    def ds(o):
        return t0 + datetime.timedelta(days=o)

    def de(o):
        return ds(o + 1) - datetime.timedelta(seconds=1)

    out = []
    for label, dt in dts.items():
        if dt is None:
            continue
        ok = {
            "today": lambda: ds(0) <= dt <= de(0),
            "past": lambda: dt < n,
            "future": lambda: dt > n,
            "lastSevenDays": lambda: ds(-7) <= dt <= n,
            "lastXDays": lambda: ds(-days) <= dt <= n,
            "nextXDays": lambda: n <= dt <= de(days),
            "olderThanXDays": lambda: dt < ds(-days),
            "afterXDays": lambda: dt > de(days),
            "currentMonth": lambda: (dt.year, dt.month) == (n.year, n.month),
            "lastMonth": lambda: (dt.year, dt.month) ==
            ((month_start(n, 1).year, month_start(n, 1).month)),
            "currentYear": lambda: dt.year == n.year,
        }[type_]()
        if ok:
            out.append(label)
    return out


@t.test
def where_dates_call():
    for type_, days in (("today", None), ("past", None), ("future", None),
                        ("lastSevenDays", None), ("lastXDays", 5),
                        ("nextXDays", 5), ("olderThanXDays", 5),
                        ("afterXDays", 5), ("currentMonth", None),
                        ("lastMonth", None), ("currentYear", None)):
        item = W(type_, "dateStart", days)
        r = lst("Call", qs(where=[item]))
        set_eq(r, ids(*date_expect(type_, CALL_DT, days)),
               "Call dateStart %s%s" % (type_, "" if days is None else
                                        " (%d days)" % days))
    lo = fmt(NOW - datetime.timedelta(days=11))
    hi = fmt(NOW - datetime.timedelta(days=2))
    r = lst("Call", qs(where=[W("between", "dateStart", [lo, hi])]))
    set_eq(r, ids(*[k for k, v in CALL_DT.items()
                    if parse_dt(lo) <= v <= parse_dt(hi)]),
           "Call dateStart between two datetimes")
    r = lst("Call", qs(where=[W("greaterThan", "dateStart", fmt(NOW))]))
    set_eq(r, ids(*[k for k, v in CALL_DT.items() if v > NOW]),
           "Call dateStart greaterThan a datetime")
    r = lst("Call", qs(where=[W("lessThanOrEquals", "dateStart",
                                fmt(CALL_DT["c_m10d"]))]))
    set_eq(r, ids(*[k for k, v in CALL_DT.items()
                    if v <= CALL_DT["c_m10d"]]),
           "Call dateStart lessThanOrEquals (inclusive)")


@t.test
def where_dates_task():
    for type_, days in (("today", None), ("future", None), ("past", None),
                        ("nextXDays", 3), ("lastXDays", 3)):
        r = lst("Task", qs(where=[W(type_, "dateStart", days)]))
        set_eq(r, ids(*date_expect(type_, TASK_DT, days)),
               "Task dateStart %s" % type_)
    r = lst("Task", qs(where=[W("isNull", "dateStart")]))
    set_eq(r, ids("t_none"), "Task dateStart isNull")


# ---------------------------------------------------------------------------
# linkedWith and related lists


@t.test
def linked_with():
    r = lst("Contact", qs(where=[W("linkedWith", "accounts",
                                   [ID["acme"]])]))
    set_eq(r, ids("john", "jane"), "Contact linkedWith accounts [acme]")
    r = lst("Contact", qs(where=[W("linkedWith", "accounts",
                                   [ID["globex"]])]))
    set_eq(r, ids("jane", "bob"), "Contact linkedWith accounts [globex]")
    r = lst("Contact", qs(where=[W("linkedWith", "accounts",
                                   [ID["acme"], ID["globex"]])]))
    set_eq(r, ids("john", "jane", "bob"),
           "linkedWith several ids matches any of them")
    r = lst("Case", qs(where=[W("linkedWith", "contacts", [ID["john"]])]))
    set_eq(r, ids("k1", "k3"), "Case linkedWith contacts [john] (contactId "
           "and the link route)")
    r = lst("Case", qs(where=[W("linkedWith", "contacts", ID["bob"])]))
    set_eq(r, ids("k3"), "Case linkedWith contacts, value a single id")
    r = lst("Call", qs(where=[W("linkedWith", "contacts", [ID["john"]])]))
    set_eq(r, ids("c_m3d"), "Call linkedWith contacts")
    r = lst("Contact", qs(where=[W("linkedWith", "cases", [ID["k3"]])]))
    set_eq(r, ids("john", "bob"), "Contact linkedWith cases (foreign side)")


@t.test
def related_lists():
    r = get("/Contact/%s/cases" % ID["john"])
    set_eq(r, ids("k1", "k3"), "GET /Contact/{id}/cases")
    t.eq(r.json and r.json.get("total"), 2, "related list total")
    r = get("/Contact/%s/cases" % ID["john"],
            qs(where=[W("equals", "status", "new")]))
    set_eq(r, ids("k1"), "GET /Contact/{id}/cases with where")
    r = get("/Contact/%s/cases" % ID["john"], "maxSize=1")
    ok = r.status == 200 and r.json and len(r.json["list"]) == 1 and \
        r.json["total"] == 2
    t.ok(ok, "related list maxSize=1: one row, total 2", r.describe())
    seq_eq(r, ids("k3"), "related list default order (Case number desc)")
    r = get("/Contact/%s/cases" % ID["john"], "maxSize=1&offset=1")
    seq_eq(r, ids("k1"), "related list offset")
    r = get("/Account/%s/contacts" % ID["acme"])
    set_eq(r, ids("john", "jane"), "GET /Account/{id}/contacts")
    seq_eq(r, sort_ids(["john", "jane"], lambda x: S[x]["createdAt"], True),
           "GET /Account/{id}/contacts in Contact's default order")
    r = get("/Account/%s/contacts" % ID["globex"], "orderBy=firstName"
            "&order=asc&select=firstName")
    seq_eq(r, ids("bob", "jane"), "related list orderBy + select")
    t.ok(r.status == 200 and all(sorted(x) == ["firstName", "id"]
                                 for x in r.json["list"]),
         "related list select: only id and firstName", r.describe())
    r = get("/Account/%s/contacts" % ID["globex"],
            qs(where=[W("equals", "firstName", "BOB")]))
    set_eq(r, ids("bob"), "GET /Account/{id}/contacts with where")
    r = get("/Account/%s/cases" % ID["acme"])
    set_eq(r, ids("k2"), "GET /Account/{id}/cases (Case.accountId)")
    r = get("/Case/%s/contacts" % ID["k1"])
    set_eq(r, ids("john"), "GET /Case/{id}/contacts: contactId links it")
    r = get("/Case/%s/contacts" % ID["k3"])
    set_eq(r, ids("john", "bob"), "GET /Case/{id}/contacts after linking")
    r = get("/Case/%s/calls" % ID["k1"])
    set_eq(r, ids("c_m3d"), "GET /Case/{id}/calls (parentType/parentId)")
    r = get("/Contact/%s/calls" % ID["john"])
    set_eq(r, ids("c_m3d"), "GET /Contact/{id}/calls (contactsIds)")
    r = get("/Account/%s/calls" % ID["acme"])
    set_eq(r, ids("c_p2d"), "GET /Account/{id}/calls (parentType Account)")
    r = get("/Contact/%s/tasks" % ID["john"])
    set_eq(r, ids("t_m2d"), "GET /Contact/{id}/tasks (parentType Contact)")
    r = get("/Case/%s/tasks" % ID["k1"])
    set_eq(r, [], "GET /Case/{id}/tasks: none")
    r = get("/Contact/%s/cases" % ID["john"], "maxSize=201")
    err(r, 403, "related list maxSize=201 is 403")
    r = get("/Contact/%s/cases" % ID["john"], qs(where=[W("equals", "nope",
                                                        "x")]))
    err(r, 400, "related list: unknown where attribute is 400",
        "Not existing attribute 'nope' in where.")


# ---------------------------------------------------------------------------
# errors, paging, totals


@t.test
def errors():
    r = lst("Contact", qs(where=[W("equals", "x", "1")]))
    err(r, 400, "unknown attribute: 400 with the EspoCRM reason",
        "Not existing attribute 'x' in where.")
    t.ok(r.json is not None and r.json.get("status") == 400,
         "error body is JSON with status", r.describe())
    r = lst("Contact", qs(where=[W("sameAs", "lastName", "x")]))
    err(r, 400, "unknown where type: 400")
    r = lst("Contact", qs(where=[W("equals", "lastName", "x", bogus="1")]))
    err(r, 400, "unknown key in a where item: 400")
    r = lst("Contact", qs(where=[W("or", value=[W("equals", "zz", "1")])]))
    err(r, 400, "unknown attribute inside an or: 400",
        "Not existing attribute 'zz' in where.")
    r = lst("Contact", qs(where=[W("equals", "password", "x")]))
    err(r, 400, "where on a secret/absent attribute: 400")
    r = lst("Contact", "maxSize=abc")
    err(r, 400, "non-numeric maxSize: 400")
    r = lst("Contact", "maxSize=-1")
    err(r, 400, "negative maxSize: 400")
    r = lst("Contact", "offset=ten")
    err(r, 400, "non-numeric offset: 400")
    r = lst("Contact", "maxSize=201")
    err(r, 403, "maxSize=201: 403")
    r = lst("Contact", "maxSize=200")
    t.status(r, 200, "maxSize=200 is allowed")
    r = lst("Contact", "orderBy=nope")
    err(r, 400, "orderBy an unknown attribute: 400")
    r = lst("Contact", "where=lastName")
    err(r, 400, "where given as a plain string: 400")
    r = lst("Contact", "where[0][type]=equals&where[0][value]=x")
    err(r, 400, "where item without an attribute: 400")
    r = lst("Contact", "where[0][attribute]=lastName&where[0][value]=x")
    err(r, 400, "where item without a type: 400")
    r = lst("Call", qs(where=[W("lastXDays", "dateStart", "abc")]))
    err(r, 400, "lastXDays with a non-numeric value: 400")
    r = lst("Case", qs(where=[W("between", "number", [1])]))
    err(r, 400, "between with one value: 400")
    deep = [W("or", value=[W("equals", "lastName", "x")])]
    for _ in range(20):
        deep = [W("and", value=deep)]
    r = lst("Contact", "searchParams=" + enc(json.dumps({"where": deep})))
    t.ok(400 <= r.status < 500, "absurdly nested where: 4xx, not 5xx",
         r.describe())
    r = lst("Contact", "where" + "[0][value]" * 20 + "=x")
    t.ok(400 <= r.status < 500, "absurdly nested brackets: 4xx, not 5xx",
         r.describe())
    r = lst("Contact", "searchParams=" + enc('{"where": ['))
    err(r, 400, "malformed searchParams JSON: 400")
    r = lst("Contact", "searchParams=" + enc(json.dumps({"maxSize": 201})))
    err(r, 403, "searchParams maxSize 201: 403")
    r = lst("Contact", "searchParams=" + enc(json.dumps({"maxSize": "x"})))
    err(r, 400, "searchParams non-numeric maxSize: 400")
    r = get("/Contact/%s/cases" % ("0" * 17))
    err(r, 404, "related list of a record that does not exist: 404")
    r = get("/Contact/%s/nolink" % ID["john"])
    err(r, 404, "related list of an unknown link: 404")


@t.test
def paging_and_totals():
    full = lst("Case", "maxSize=200")
    full_ids = ids_of(full)
    t.eq(full.json and full.json.get("total"), 12, "Case total is 12")
    t.ok(full.text.startswith('{"total":'), "total comes first in the body",
         full.text[:80])
    pages = []
    for off in (0, 5, 10):
        r = lst("Case", "maxSize=5&offset=%d" % off)
        t.eq(r.json and r.json.get("total"), 12,
             "offset=%d: total is still 12" % off)
        pages += ids_of(r) or []
    t.eq(names(pages), names(full_ids),
         "pages of 5 (offset 0, 5, 10) concatenate to the full list")
    r = lst("Case", "maxSize=5&offset=20")
    ok = r.status == 200 and r.json["list"] == [] and r.json["total"] == 12
    t.ok(ok, "offset past the end: empty list, total 12", r.describe())
    r = lst("Case", "maxSize=0")
    t.ok(r.status == 200 and r.json["total"] == 12,
         "maxSize=0 still counts the total", r.describe())
    # filtered paging (scan through the ordered index)
    where = [W("in", "status", ["New", "Assigned"])]
    allw = ids_of(lst("Case", qs(where=where)))
    p1 = lst("Case", qs({"maxSize": 2, "offset": 0}, where))
    p2 = lst("Case", qs({"maxSize": 2, "offset": 2}, where))
    t.eq(names((ids_of(p1) or []) + (ids_of(p2) or [])), names(allw[:4]),
         "filtered paging is consistent with the full filtered list")
    t.eq(p2.json and p2.json.get("total"), 6, "filtered total is 6")

    nt = {"X-No-Total": "true"}
    r = lst("Case", "maxSize=5", nt)
    t.eq(r.json and r.json.get("total"), -1,
         "X-No-Total: -1 when more rows exist")
    t.eq(len(ids_of(r) or []), 5, "X-No-Total: still a page of 5")
    r = lst("Case", "maxSize=50", nt)
    t.eq(r.json and r.json.get("total"), -2,
         "X-No-Total: -2 when there are no more rows")
    r = lst("Case", "maxSize=2&offset=10", nt)
    t.eq(r.json and r.json.get("total"), -2,
         "X-No-Total: -2 for the exact last page")
    r = lst("Case", "maxSize=1&offset=10", nt)
    t.eq(r.json and r.json.get("total"), -1,
         "X-No-Total: -1 with one row after the page")
    r = lst("Case", qs({"maxSize": 1}, [W("equals", "status", "New")]), nt)
    t.eq(r.json and r.json.get("total"), -1,
         "X-No-Total with a where: -1")
    r = lst("Case", qs({"maxSize": 10}, [W("equals", "status", "New")]), nt)
    t.eq(r.json and r.json.get("total"), -2,
         "X-No-Total with a where: -2")
    r = get("/Contact/%s/cases" % ID["john"], "maxSize=1", nt)
    t.eq(r.json and r.json.get("total"), -1,
         "X-No-Total on a related list: -1")


# ---------------------------------------------------------------------------
# order


@t.test
def ordering():
    seq_eq(lst("Case", "orderBy=name&order=asc"),
           sort_ids(CASES, lambda x: S[x]["name"], False),
           "Case orderBy=name order=asc (case-insensitive)")
    seq_eq(lst("Case", "orderBy=name&order=desc"),
           sort_ids(CASES, lambda x: S[x]["name"], True),
           "Case orderBy=name order=desc")
    seq_eq(lst("Case", "sortBy=name&asc=false"),
           sort_ids(CASES, lambda x: S[x]["name"], True),
           "legacy sortBy=name&asc=false is descending")
    seq_eq(lst("Case", "sortBy=name&asc=true"),
           sort_ids(CASES, lambda x: S[x]["name"], False),
           "legacy sortBy=name&asc=true is ascending")
    seq_eq(lst("Case", "orderBy=status&order=asc"),
           sort_ids(CASES, lambda x: S[x]["status"], False),
           "ties (same status) broken by id, ascending")
    seq_eq(lst("Case", "orderBy=status&order=desc"),
           sort_ids(CASES, lambda x: S[x]["status"], True),
           "ties broken by id in the same direction (desc)")
    seq_eq(lst("Case", "orderBy=name"),
           sort_ids(CASES, lambda x: S[x]["name"], False),
           "orderBy without order is ascending (EspoCRM)")
    seq_eq(lst("Case", "order=asc"),
           sort_ids(CASES, lambda x: NUM[x], False),
           "order=asc without orderBy: the default attribute, ascending")
    seq_eq(lst("Case", "orderBy=cchatId&order=desc"),
           sort_ids(CASES, lambda x: S[x].get("cchatId"), True),
           "orderBy a custom field desc (NULLs last)")
    seq_eq(lst("Case", "orderBy=number&order=asc"),
           sort_ids(CASES, lambda x: NUM[x], False),
           "Case orderBy=number asc (numeric)")
    seq_eq(lst("Contact", "orderBy=title&order=asc"),
           sort_ids(CONTACTS, lambda x: S[x].get("title"), False),
           "orderBy a nullable field: NULLs first ascending, ties by id")
    # defaults
    seq_eq(lst("Case"), sort_ids(CASES, lambda x: NUM[x], True),
           "Case default order: number desc")
    seq_eq(lst("Contact"),
           sort_ids(CONTACTS, lambda x: S[x]["createdAt"], True),
           "Contact default order: createdAt desc, ties by id desc")
    seq_eq(lst("Call"), sort_ids(CALLS, lambda x: S[x]["dateStart"], True),
           "Call default order: dateStart desc")
    seq_eq(lst("Task"),
           sort_ids(TASKS, lambda x: S[x]["createdAt"], True),
           "Task default order: createdAt desc, ties by id desc")
    r = lst("User")
    got = r.json["list"] if r.status == 200 and r.json else []
    order = [(u["userName"].lower(), u["id"]) for u in got]
    t.ok(r.status == 200 and order == sorted(order) and
         {ID[u] for u in ("u_zed", "u_amy", "u_mike")} <=
         {u["id"] for u in got},
         "User default order: userName asc (case-insensitive)",
         "got %r" % [u.get("userName") for u in got])
    # order with an index-answered filter (run_ids path)
    seq_eq(lst("Case", qs({"orderBy": "name", "order": "desc"},
                          [W("equals", "contactId", ID["john"])])),
           ids("k1"), "orderBy with an indexed equality filter")
    seq_eq(lst("Case", qs(where=[W("in", "status", ["new", "closed"])])),
           sort_ids(["k1", "k2", "k7", "k8", "k9", "k11"],
                    lambda x: NUM[x], True),
           "default order with a filter: number desc")
    seq_eq(lst("Call", qs({"orderBy": "dateStart", "order": "asc"},
                          [W("past", "dateStart")])),
           sort_ids([c for c in CALLS if CALL_DT[c] < now()],
                    lambda x: S[x]["dateStart"], False),
           "Call past, orderBy dateStart asc")


# ---------------------------------------------------------------------------
# select, textFilter, primaryFilter


@t.test
def select():
    r = lst("Contact", "select=firstName,lastName")
    rows = r.json["list"] if r.status == 200 and r.json else []
    t.ok(len(rows) == 5 and all(sorted(x) == ["firstName", "id",
                                              "lastName"] for x in rows),
         "select=firstName,lastName: only id and those keys",
         r.describe())
    row = [x for x in rows if x.get("id") == ID["john"]]
    t.eq(row and row[0], {"id": ID["john"], "firstName": "John",
                          "lastName": "Listerson"},
         "select: the values are the record's")
    r = lst("Contact", "select=id%2CemailAddress&" +
            qs(where=[W("equals", "firstName", "jane")]))
    t.eq(r.json and r.json.get("list"),
         [{"id": ID["jane"], "emailAddress": "jane.doe@example.org"}],
         "select with an encoded comma and a where")


@t.test
def text_filter():
    def c(entity, text, expect, desc, param="textFilter"):
        set_eq(lst(entity, "%s=%s" % (param, enc(text))), ids(*expect),
               desc)

    c("Contact", "Jo", ["john"], "textFilter: name prefix")
    c("Contact", "jAnE", ["jane"], "textFilter: case-insensitive prefix")
    c("Contact", "jane.d", ["jane"], "textFilter: email prefix")
    c("Contact", "alice@example.n", ["alice"],
      "textFilter: email prefix, stored in mixed case")
    c("Contact", "Listers", ["john", "jane"],
      "textFilter: last-name prefix")
    c("Contact", "John Lis", ["john"], "textFilter: full-name prefix")
    c("Contact", "ohn", [], "textFilter is a prefix match, not contains")
    c("Contact", "jo", ["john"], "q= works as textFilter", param="q")
    c("Contact", "5550102000", ["john"],
      "textFilter: national phone number finds by digits")
    c("Contact", "+1 555 010 2000", ["john"],
      "textFilter: formatted E.164 number")
    c("Contact", "(555) 010-3000", ["jane"],
      "textFilter: (555) 010-3000 finds the primary number")
    c("Contact", "+44 20 7946 0958", ["jane"],
      "textFilter: a contact's second number")
    c("Contact", "+1 555 010", ["john", "jane"],
      "textFilter: a partial number is a digits prefix")
    c("Contact", "(555) 010", ["john", "jane"],
      "textFilter: a partial national number is a digits prefix")
    c("Case", str(NUM["k7"]), ["k7"], "textFilter: Case by number")
    c("Case", "print", ["k1"], "textFilter: Case by name prefix")
    c("Case", "paper", ["k1"], "textFilter: Case by description prefix")
    c("Account", "glob", ["globex"], "textFilter: Account by name")
    c("User", "mike.l", ["u_mike"], "textFilter: User by userName")
    r = lst("Contact", "textFilter=" + enc("+1 555 010 2000").replace(
        "%20", "+").replace("%2B", "+"))
    set_eq(r, ids("john"), "textFilter: raw '+1+555+010+2000' (spaces)")


@t.test
def primary_filter():
    set_eq(lst("Case", "primaryFilter=open"),
           ids("k1", "k3", "k5", "k7", "k8", "k10", "k11", "k12"),
           "primaryFilter=open: not Closed/Rejected/Duplicate")
    set_eq(lst("Case", "primaryFilter=closed"), ids("k2", "k4", "k6", "k9"),
           "primaryFilter=closed")
    set_eq(lst("Case", "primaryFilter=open&" +
               qs(where=[W("equals", "status", "pending")])),
           ids("k3", "k10"), "primaryFilter combined with where")


# ---------------------------------------------------------------------------
# phone numbers and emails


@t.test
def phones_and_emails():
    t.eq(S["john"].get("phoneNumber"), "+15550102000",
         "phoneNumber '+1 555 010 2000' is stored in E.164")
    for raw, desc in (("+15550102000", "'+' unencoded (arrives as space)"),
                      ("%2B15550102000", "%2B-encoded '+'"),
                      ("15550102000", "no '+'"),
                      ("(555)%20010-2000", "'(555) 010-2000' national"),
                      ("555-010-2000", "'555-010-2000' national"),
                      ("+1+555+010+2000", "'+1 555 010 2000' with + spaces"),
                      ("5550102000", "bare national digits")):
        r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
                "phoneNumber&where[0][value]=" + raw)
        set_eq(r, ids("john"), "phoneNumber equals %s finds the contact"
               % desc)
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "phoneNumber&where[0][value]=%2B15550109999")
    set_eq(r, [], "phoneNumber equals another number finds nothing")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "phoneNumber&where[0][value]=" + enc("+442079460958"))
    set_eq(r, ids("jane"), "a contact's second number finds it")
    r = lst("Contact", "where[0][type]=equals&where[0][attribute]="
            "phoneNumber&where[0][value]=" + enc("(555) 010-3000"))
    set_eq(r, ids("jane"), "a contact's primary number, national format")
    r = lst("Contact", qs(where=[W("in", "phoneNumber",
                                   ["5550102000", "+44 20 7946 0958"])]))
    set_eq(r, ids("john", "jane"), "phoneNumber in [two formats]")
    r = lst("Contact", qs(where=[W("equals", "emailAddress",
                                   "JOHN@EXAMPLE.COM")]))
    set_eq(r, ids("john"), "emailAddress equals is case-insensitive")
    r = lst("Contact", qs(where=[W("equals", "emailAddress",
                                   "alice@example.net")]))
    set_eq(r, ids("alice"), "email stored in mixed case, found lower-case")
    r = lst("Contact", qs(where=[W("equals", "emailAddress",
                                   "john@example.com"),
                                 W("equals", "lastName", "Builder")]))
    set_eq(r, [], "indexed email equality ANDed with a non-matching item")
    r = lst("Contact", qs({"contactId": ID["bob"]},
                          [W("equals", "phoneNumber", "+1 555 010 2000")]))
    set_eq(r, ids("john"), "CCAI-style lookup: phone where + contactId= "
           "ignored")
    r = lst("Contact", qs({"select": "phoneNumber,phoneNumberData"},
                          [W("equals", "id", ID["jane"])]))
    rows = r.json["list"] if r.status == 200 and r.json else []
    t.ok(len(rows) == 1 and rows[0].get("phoneNumber") == "+15550103000"
         and sorted(p.get("phoneNumber") for p in
                    rows[0].get("phoneNumberData") or []) ==
         ["+15550103000", "+442079460958"],
         "two-number contact: primary and data in E.164", r.describe())


# ---------------------------------------------------------------------------
# writes keep lists and indexes right (last: these change the data)


@t.test
def after_writes():
    upd = create("Contact", {"firstName": "Up", "lastName": "Dater",
                             "phoneNumber": "+1 555 010 4000",
                             "emailAddress": "up@example.com"}, "upd")
    gone = create("Contact", {"firstName": "Del", "lastName": "Etable",
                              "phoneNumber": "+1 555 010 6000",
                              "emailAddress": "del@example.com",
                              "accountsIds": [ID["acme"]]}, "gone")
    ID["upd"], ID["gone"] = upd["id"], gone["id"]

    def by_phone(v):
        return lst("Contact", "where[0][type]=equals&where[0][attribute]="
                   "phoneNumber&where[0][value]=" + enc(v))

    set_eq(by_phone("5550104000"), ids("upd"), "a new contact's number "
           "finds it")
    r = stack.request("PUT", "/Contact/" + ID["upd"],
                      {"phoneNumber": "+1 555 010 5000",
                       "emailAddress": "UP2@example.com"})
    t.status(r, 200, "update the number and email")
    set_eq(by_phone("5550104000"), [], "after an update the old number "
           "finds nothing")
    set_eq(by_phone("(555) 010-5000"), ids("upd"),
           "after an update the new number finds it")
    set_eq(lst("Contact", qs(where=[W("equals", "emailAddress",
                                      "up2@EXAMPLE.com")])),
           ids("upd"), "after an update the new email finds it")
    set_eq(lst("Contact", qs(where=[W("equals", "emailAddress",
                                      "up@example.com")])),
           [], "after an update the old email finds nothing")

    nat = create("Contact", {"firstName": "Nat", "lastName": "Ional",
                             "phoneNumber": "(555) 010-7000"}, "nat")
    ID["nat"] = nat["id"]
    t.eq(nat.get("phoneNumber"), "+15550107000", "a national number is "
         "stored in E.164 with the default country code")
    set_eq(by_phone("+1 555 010 7000"), ids("nat"),
           "a number stored from national form is found in E.164")

    el = create("Contact", {"firstName": "\u00c9lodie",
                            "lastName": "M\u00fcller"}, "elodie")
    ID["elodie"] = el["id"]
    set_eq(lst("Contact", qs(where=[W("equals", "firstName",
                                      "\u00e9lodie")])),
           ids("elodie"),
           "equals ignores case beyond ASCII (\u00e9 = \u00c9)")
    set_eq(lst("Contact", qs(where=[W("equals", "lastName",
                                      "M\u00dcLLER")])),
           ids("elodie"),
           "equals ignores case beyond ASCII (\u00dc = \u00fc)")
    set_eq(lst("Contact", "textFilter=" + enc("\u00e9LO")), ids("elodie"),
           "textFilter ignores case beyond ASCII")

    r = stack.request("PUT", "/Contact/" + ID["upd"], {"firstName": "Upp"})
    t.status(r, 200, "rename a contact")
    set_eq(lst("Contact", qs(where=[W("equals", "name", "upp dater")])),
           ids("upd"), "after a rename the new name finds it")
    set_eq(lst("Contact", qs(where=[W("equals", "name", "up dater")])),
           [], "after a rename the old name finds nothing")
    r = stack.request("POST", "/Contact/%s/accounts" % ID["upd"],
                      {"id": ID["globex"]})
    t.status(r, 200, "link a contact to an account")
    set_eq(get("/Account/%s/contacts" % ID["globex"]),
           ids("jane", "bob", "upd"), "the linked contact is listed")
    r = stack.request("DELETE", "/Contact/%s/accounts" % ID["upd"],
                      {"id": ID["globex"]})
    t.status(r, 200, "unlink it")
    set_eq(get("/Account/%s/contacts" % ID["globex"]), ids("jane", "bob"),
           "the unlinked contact leaves the related list")
    set_eq(lst("Contact", qs(where=[W("linkedWith", "accounts",
                                      [ID["globex"]])])),
           ids("jane", "bob"), "and leaves linkedWith")

    r = stack.request("DELETE", "/Case/" + ID["k7"])
    t.status(r, 200, "delete a case")
    r = lst("Case")
    t.ok(r.status == 200 and r.json["total"] == 11 and
         ID["k7"] not in ids_of(r), "a deleted case leaves the list and "
         "the total", r.describe())
    set_eq(lst("Case", qs(where=[W("equals", "number", NUM["k7"])])), [],
           "a deleted case is not found by number")
    set_eq(lst("Case", "primaryFilter=open&" +
               qs(where=[W("equals", "status", "new")])),
           ids("k1", "k8", "k11"), "a deleted case leaves primaryFilter")

    before = lst("Contact").json["total"]
    r = stack.request("DELETE", "/Contact/" + ID["gone"])
    t.status(r, 200, "delete a contact")
    t.eq(lst("Contact").json["total"], before - 1,
         "a deleted contact leaves the total")
    t.ok(ID["gone"] not in (ids_of(lst("Contact", "maxSize=200")) or []),
         "a deleted contact leaves the default list")
    set_eq(by_phone("+15550106000"), [], "a deleted contact's number "
           "finds nothing")
    set_eq(lst("Contact", qs(where=[W("equals", "name", "Del Etable")])),
           [], "a deleted contact's name finds nothing")
    set_eq(lst("Contact", "textFilter=del"), [],
           "a deleted contact is not found by textFilter")
    set_eq(get("/Account/%s/contacts" % ID["acme"]), ids("john", "jane"),
           "a deleted contact leaves related lists")
    r = lst("Contact", "maxSize=1&offset=%d" % (before - 2),
            {"X-No-Total": "true"})
    t.eq(r.json and r.json.get("total"), -2,
         "X-No-Total does not count a deleted row as more")


stack.stop()
t.done()
