#!/usr/bin/env python3
"""Ringotel's no-code CRM framework (RINGOTEL.md) played against fastcrm
with the integration files fastcrm ships (conf/ringotel/*.json), through
the real nginx over HTTPS.

    cd /work/main && FASTCRM_BIN=$PWD/fastcrm python3 tests/e2e_ringotel.py

tests/ringotel_engine.py reads each file as Ringotel's server does
(properties, auth or OAuth2, hooks, response_map) and knows nothing of
fastcrm beyond it. For each of the three files — Bearer (API key), Basic
(user name and password), OAuth2 (authorization code, refresh) — a whole
call is played: credential check (Users: 200 good, 403 bad), users,
organizations, contacts, FindContact (miss), CreateContact, FindContact
(hit, in several number formats), UpdateContact, CreateCallActivity
(epoch-ms times, "inbound"), AssignActivity, UpdateActivity,
ChangeActivityStatus, UploadRecording (~200 KB WAV), the download of the
recording, and a retried create. Every result is checked again through the
admin API. Then: the files themselves, the other encodings fastcrm
accepts (form bodies, epoch seconds, ISO-8601, a raw or base64
recording), and the OAuth2 endpoints' error answers.

Each TAP line names the file ([bearer] [basic] [oauth2]) and the hook; a
failing hook's diagnostics show the request sent and the answer. Steps that
depend on an earlier failed one are reported as SKIP with the reason.
TAP on stdout (tests/tap.py).
"""

import calendar
import copy
import datetime
import hashlib
import io
import json
import os
import random
import secrets
import subprocess
import sys
import time
import urllib.parse
import wave

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from harness import SRCDIR, Stack, api_user, make_key, sha512_crypt  # noqa: E402
from ringotel_engine import (Engine, File, parse_form,  # noqa: E402
                             placeholders, stack_transport)
from tap import Tap  # noqa: E402

t = Tap()

CONF_DIR = os.path.join(SRCDIR, "conf", "ringotel")
FILES = {"bearer": "fastcrm-bearer.json", "basic": "fastcrm-basic.json",
         "oauth2": "fastcrm-oauth2.json"}
HOOKS = ["Users", "Contacts", "Organizations", "FindContact",
         "CreateContact", "UpdateContact", "CreateCallActivity",
         "AssignActivity", "UpdateActivity", "ChangeActivityStatus",
         "UploadRecording"]
REDIRECT_URI = "https://shell.ringotel.co/oauth2/callback"


# ---------------------------------------------------------------------------
# configuration: the role and credentials conf/ringotel/README.md declares

API_KEY = make_key()[0]
PW_USER = "ringotel-agent"
PASSWORD = "pw-" + secrets.token_hex(10)
CLIENT_ID = "ringotel"
CLIENT_SECRET = secrets.token_urlsafe(32)
TELEPHONY = {e: {"create": True, "read": "all", "edit": "all",
                 "delete": "no"}
             for e in ("Contact", "Account", "User", "Call", "Attachment",
                       "Note")}
CONFIG = {
    "auth_fail_limit": 1000000,  # bad credentials are sent on purpose
    "auth_fail_window": 60,
    "roles": {"telephony": TELEPHONY},
    "api_users": [
        api_user("ringotel", "telephony", key=API_KEY,
                 empty_means_absent=True),
        api_user(PW_USER, "telephony", password_hash=sha512_crypt(PASSWORD),
                 empty_means_absent=True),
    ],
    "oauth2_clients": [{
        "client_id": CLIENT_ID,
        "client_secret_sha256": hashlib.sha256(CLIENT_SECRET.encode()).hexdigest(),
        "redirect_uris": [REDIRECT_URI],
        "role": "telephony",
        "empty_means_absent": True,
    }],
}


def load(name):
    with open(os.path.join(CONF_DIR, FILES[name]), encoding="utf-8") as f:
        return json.load(f)


def engine(stack, name, good=True, **kw):
    """An Engine for one shipped file with the administrator's values
    (wrong ones when good is False)."""
    spec = load(name)
    url = kw.pop("server_url", stack.url)
    if name == "bearer":
        props = {"Server URL": url,
                 "API key": API_KEY if good else make_key()[0]}
    elif name == "basic":
        props = {"Server URL": url, "Username": PW_USER,
                 "Password": PASSWORD if good else "wrong-" + PASSWORD}
    else:
        props = {"Server URL": url, "Client ID": CLIENT_ID,
                 "Client secret": CLIENT_SECRET if good else "wrong"}
    return Engine(spec, props, stack_transport(stack),
                  redirect_uri=REDIRECT_URI, **kw)


def espo_time(epoch_s):
    return datetime.datetime.fromtimestamp(
        int(epoch_s), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def parse_espo(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%d %H:%M:%S"))


def make_wav(seed, nbytes=200000):
    """A WAV file: 8 kHz 16-bit mono, nbytes of (noise) samples."""
    buf = io.BytesIO()
    w = wave.open(buf, "wb")
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(8000)
    w.writeframes(random.Random(seed).randbytes(nbytes))
    w.close()
    return buf.getvalue()


def hook_ok(res, desc, code=200):
    """One TAP point: the hook answered code."""
    return t.ok(res.status == code, desc,
                "expected %d\n%s" % (code, res.describe()))


class Call:
    """What one played call has learnt so far; need() skips a step whose
    inputs an earlier failed step should have given."""

    def __init__(self, tag):
        self.tag = tag
        self.v = {}

    def need(self, desc, *names):
        lack = [n for n in names if not self.v.get(n)]
        if lack:
            t.skip("[%s] %s" % (self.tag, desc),
                   "no %s from an earlier step" % ", ".join(lack))
            return False
        return True


# ---------------------------------------------------------------------------
# the files themselves (no server needed)

KNOWN_VARS = {"user_id", "firstname", "lastname", "email", "phone",
              "mobile", "contact_id", "contact_name", "company_id",
              "company_name", "company_phone", "job_title", "call_id",
              "activity_type", "caller_number", "called_number",
              "call_start", "call_end", "call_duration", "call_cause",
              "activity_id", "status", "recording", "recording_id",
              "recording_size"}


@t.test
def shipped_files():
    specs = {}
    for name, fn in FILES.items():
        path = os.path.join(CONF_DIR, fn)
        try:
            with open(path, encoding="utf-8") as f:
                specs[name] = json.load(f)
        except (OSError, ValueError) as e:
            t.ok(False, "[%s] %s is valid JSON" % (name, fn), str(e))
            continue
        s = specs[name]
        t.ok(True, "[%s] %s is valid JSON" % (name, fn))
        t.eq(s.get("class"), "crm", "[%s] class is crm" % name)
        t.ok(isinstance(s.get("id"), str) and s["id"] and
             isinstance(s.get("name"), str) and s["name"] and
             isinstance(s.get("logo"), str) and
             (s["logo"].startswith("https://") or
              s["logo"].startswith("$Server URL$/")),
             "[%s] id, name, logo (a plain URL string)" % name, repr(s))
        api = s.get("API") or {}
        t.eq([h for h in HOOKS if h not in api], [],
             "[%s] every hook is present" % name)
        bad = []
        for h, d in api.items():
            for k in ("request_method", "request_url", "request_content_type",
                      "request_parameters", "response_map"):
                if k not in d:
                    bad.append("%s lacks %s" % (h, k))
            if not str(d.get("request_url", "")).startswith(
                    "$Server URL$/api/v1/"):
                bad.append("%s: request_url %r" % (h, d.get("request_url")))
        t.eq(bad, [], "[%s] every hook has method, URL under "
             "$Server URL$/api/v1/, content type, parameters, response_map"
             % name)
        props = set(s.get("properties") or [])
        unknown = sorted(p for p in placeholders(s)
                         if p not in props and p not in KNOWN_VARS)
        t.eq(unknown, [], "[%s] every placeholder is a property or a "
             "Ringotel variable" % name)
    if len(specs) == 3:
        b, p, o = specs["bearer"], specs["basic"], specs["oauth2"]
        t.eq((b["properties"], b.get("auth")),
             (["Server URL", "API key"],
              {"type": "Bearer", "token": "$API key$"}),
             "[bearer] properties and auth")
        t.eq((p["properties"], p.get("auth")),
             (["Server URL", "Username", "Password"],
              {"type": "Basic", "username": "$Username$",
               "password": "$Password$"}),
             "[basic] properties and auth")
        oa = o.get("OAuth2") or {}
        t.ok(o["properties"][0] == "Server URL" and "auth" not in o and
             oa.get("flow_type") == {"default": "0"} and
             oa.get("authorization_endpoint") == "$Server URL$/oauth2/authorize" and
             oa.get("token_endpoint") == "$Server URL$/oauth2/token" and
             oa.get("authorization_parameters") == "scope=api%20refresh_token" and
             (oa.get("token_parameters") or {}).get("content_type") ==
             "application/x-www-form-urlencoded" and
             oa.get("request_auth") == "Bearer" and
             all(q in o["properties"] for q in placeholders(
                 [oa.get("client_id"), oa.get("client_secret")])),
             "[oauth2] the OAuth2 object", json.dumps(o.get("OAuth2"), indent=1))
        t.ok(b["API"] == p["API"] == o["API"],
             "the three files map the hooks identically")
        t.eq(len({b["id"], p["id"], o["id"]}), 3, "the three ids differ")


# ---------------------------------------------------------------------------
# one whole call per file


def play(s, tag, idx, eng, bad_eng, principal, seed):
    c = Call(tag)
    T = "[%s] " % tag
    e164 = "+155570%d0001" % idx
    other_formats = ["155570%d0001" % idx, "(555) 70%d-0001" % idx,
                     "+1 555 70%d 0001" % idx]

    # -- credential check, directory hooks --------------------------------
    r = eng.call("Users")
    hook_ok(r, T + "Users (credential check) with good credentials: 200")
    rb = bad_eng.call("Users")
    hook_ok(rb, T + "Users (credential check) with bad credentials: 403", 403)
    t.ok(not rb.vars and not rb.rows, T + "nothing is read from the 403",
         rb.describe())
    if r.status == 200:
        rows = {u.get("user_id"): u for u in r.rows or []}
        t.ok(len(rows) == len(r.rows or []) and None not in rows,
             T + "Users: every user has a unique id", r.describe())
        want = {uid: (first, last, email, phone)
                for uid, first, last, email, phone in seed["users"]}
        got = {uid: (rows[uid].get("firstname"), rows[uid].get("lastname"),
                     rows[uid].get("email"), rows[uid].get("phone"))
               for uid in want if uid in rows}
        t.eq(got, want, T + "Users: the agents with first/last name, email, "
             "phone")
    r = eng.call("Organizations")
    hook_ok(r, T + "Organizations: 200")
    if r.status == 200:
        got = {o.get("company_id"): o.get("company_name") for o in r.rows or []}
        t.eq({k: got.get(k) for k in seed["accounts"]}, seed["accounts"],
             T + "Organizations: company id and name")
    r = eng.call("Contacts")
    hook_ok(r, T + "Contacts: 200")
    if r.status == 200:
        cid, first, last, email, phone, company, title = seed["contact"]
        got = [(x.get("contact_id"), x.get("firstname"), x.get("lastname"),
                x.get("email"), x.get("phone"), x.get("company_name"),
                x.get("job_title"))
               for x in r.rows or [] if x.get("contact_id") == cid]
        t.eq(got, [seed["contact"]],
             T + "Contacts: id, names, email, phone, company, job title")

    # -- the caller -------------------------------------------------------
    r = eng.call("FindContact", {"phone": e164})
    hook_ok(r, T + "FindContact (unknown caller): 200")
    t.ok(r.rows == [] and not r.get("contact_id"),
         T + "FindContact (unknown caller): no contact", r.describe())

    first, last = "Caller%d" % idx, "Ringotel-%s" % tag
    email = "caller%d.%s@example.com" % (idx, tag)
    r = eng.call("CreateContact", {"firstname": first, "lastname": last,
                                   "phone": e164, "email": email})
    hook_ok(r, T + "CreateContact: 200")
    cid = r.get("contact_id")
    t.ok(isinstance(cid, str) and len(cid) == 17,
         T + "CreateContact: the new contact id is read", r.describe())
    c.v["contact_id"] = cid
    if c.need("CreateContact: stored as sent (admin API)", "contact_id"):
        a = s.request("GET", "/Contact/" + cid).json or {}
        t.eq((a.get("firstName"), a.get("lastName"), a.get("phoneNumber"),
              a.get("emailAddress")), (first, last, e164, email),
             T + "CreateContact: stored as sent (admin API)")

    if c.need("FindContact (known caller)", "contact_id"):
        r = eng.call("FindContact", {"phone": e164})
        hook_ok(r, T + "FindContact (known caller): 200")
        t.eq((r.get("contact_id"), r.get("firstname"), r.get("lastname"),
              len(r.rows or [])), (cid, first, last, 1),
             T + "FindContact (known caller): the contact, once")
        for fmt in other_formats:
            r = eng.call("FindContact", {"phone": fmt})
            t.ok(r.status == 200 and r.get("contact_id") == cid,
                 T + "FindContact with the number as %r finds it" % fmt,
                 r.describe())

    if c.need("UpdateContact", "contact_id"):
        email2 = "new." + email
        r = eng.call("UpdateContact", {"contact_id": cid, "firstname": first,
                                       "lastname": "", "email": email2,
                                       "phone": ""})
        hook_ok(r, T + "UpdateContact: 200")
        a = s.request("GET", "/Contact/" + cid).json or {}
        t.eq((a.get("emailAddress"), a.get("lastName"), a.get("phoneNumber")),
             (email2, last, e164), T + "UpdateContact: email changed; "
             "the variables Ringotel left empty changed nothing (admin API)")

    if tag == "oauth2":
        old = eng.refresh_token
        r = eng.refresh() if old else None
        t.ok(r is not None and r.status == 200 and eng.refresh_token != old,
             T + "refresh_token grant mid-call: a new pair",
             r.text if r is not None else "no refresh token")
        r2 = eng._token_request([("grant_type", "refresh_token"),
                                 ("refresh_token", old or "x")])
        t.ok(r2.status == 400 and (r2.json or {}).get("error") ==
             "invalid_grant", T + "the used refresh token is refused "
             "(invalid_grant)", r2.text)

    # -- the call ---------------------------------------------------------
    call_id = "rt-%s-%s" % (tag, secrets.token_hex(6))
    start_ms = (int(time.time()) - 600) * 1000 + 250
    prov_end_ms = start_ms + 5000
    end_ms = start_ms + 95500
    cv = {"call_id": call_id, "activity_type": "inbound",
          "caller_number": e164, "called_number": "201",
          "user_id": seed["users"][0][0],
          "call_start": str(start_ms), "call_end": str(prov_end_ms)}
    r = eng.call("CreateCallActivity", cv)
    hook_ok(r, T + "CreateCallActivity: 200")
    aid = r.get("activity_id")
    t.ok(isinstance(aid, str) and len(aid) == 17,
         T + "CreateCallActivity: the activity id is read", r.describe())
    c.v["activity_id"] = aid
    if c.need("CreateCallActivity: stored (admin API)", "activity_id"):
        a = s.request("GET", "/Call/" + aid).json or {}
        t.eq((a.get("dateStart"), a.get("dateEnd"), a.get("direction"),
              a.get("uid"), a.get("status")),
             (espo_time(start_ms // 1000), espo_time(prov_end_ms // 1000),
              "Inbound", call_id, "Planned"),
             T + "CreateCallActivity: epoch-ms times stored as YYYY-MM-DD "
             "HH:MM:SS UTC, direction Inbound, uid = call_id (admin API)")
        if principal:
            t.eq(a.get("createdByName"), principal,
                 T + "CreateCallActivity: created by the %s principal"
                 % principal)

    if c.need("AssignActivity", "activity_id", "contact_id"):
        r = eng.call("AssignActivity", {"activity_id": aid,
                                        "contact_id": cid})
        hook_ok(r, T + "AssignActivity: 200")
        a = s.request("GET", "/Call/" + aid).json or {}
        t.eq((a.get("parentType"), a.get("parentId"),
              cid in (a.get("contactsIds") or [])),
             ("Contact", cid, True),
             T + "AssignActivity: parent and contacts hold the contact "
             "(admin API)")
        rel = s.request("GET", "/Contact/%s/calls" % cid).json or {}
        t.ok(aid in [x.get("id") for x in rel.get("list") or []],
             T + "AssignActivity: the call is among the contact's calls",
             json.dumps(rel)[:800])

    cause = "NORMAL_CLEARING"
    if c.need("UpdateActivity", "activity_id"):
        uv = dict(cv, activity_id=aid, call_end=str(end_ms),
                  call_duration=str((end_ms - start_ms) // 1000),
                  call_cause=cause)
        r = eng.call("UpdateActivity", uv)
        hook_ok(r, T + "UpdateActivity: 200")
        a = s.request("GET", "/Call/" + aid).json or {}
        desc = eng.render(eng.hook("UpdateActivity")["request_parameters"],
                          uv, []).get("description")
        t.eq(a.get("dateEnd"), espo_time(end_ms // 1000),
             T + "UpdateActivity: the end time (admin API)")
        try:
            dur = parse_espo(a["dateEnd"]) - parse_espo(a["dateStart"])
        except (KeyError, TypeError, ValueError):
            dur = None
        t.ok(dur is not None and a.get("duration") == dur and
             abs(dur - 95) <= 1,
             T + "UpdateActivity: duration = dateEnd - dateStart (~95 s)",
             json.dumps(a)[:800])
        t.ok(desc and cause in desc and a.get("description") == desc,
             T + "UpdateActivity: the description (admin API)",
             "sent %r, stored %r" % (desc, a.get("description")))

    if c.need("ChangeActivityStatus", "activity_id"):
        r = eng.call("ChangeActivityStatus", {"activity_id": aid,
                                              "status": "Held"})
        hook_ok(r, T + "ChangeActivityStatus Held: 200")
        a = s.request("GET", "/Call/" + aid).json or {}
        t.eq((r.get("status"), a.get("status")), ("Held", "Held"),
             T + "ChangeActivityStatus: Held (answer and admin API)")
        # Telephony's own words, through the shipped aliases.
        for word, want in (("no-answer", "Not Held"), ("COMPLETED", "Held")):
            r = eng.call("ChangeActivityStatus", {"activity_id": aid,
                                                  "status": word})
            hook_ok(r, T + "ChangeActivityStatus %s: 200" % word)
            t.eq(r.get("status"), want,
                 T + "ChangeActivityStatus: %r is %s" % (word, want))

    wav = make_wav(idx)
    if c.need("UploadRecording", "activity_id"):
        f = File("call-%s.wav" % call_id, "audio/wav", wav)
        r = eng.call("UploadRecording", {"activity_id": aid, "recording": f})
        hook_ok(r, T + "UploadRecording (%d bytes): 200" % len(wav))
        rid = r.get("recording_id")
        t.ok(isinstance(rid, str) and len(rid) == 17,
             T + "UploadRecording: the attachment id is read", r.describe())
        c.v["recording_id"] = rid
    if c.need("UploadRecording: stored (admin API)", "recording_id"):
        att = s.request("GET", "/Attachment/" + rid)
        a = att.json or {}
        t.eq((att.status, a.get("parentType"), a.get("parentId"),
              a.get("size"), a.get("name")),
             (200, "Call", aid, len(wav), "call-%s.wav" % call_id),
             T + "UploadRecording: the Attachment record (admin API)")
        a = s.request("GET", "/Call/" + aid).json or {}
        t.eq(a.get("recordingId"), rid,
             T + "UploadRecording: the Call's recordingId points to it")
        d = eng.request("GET", "$Server URL$/api/v1/Attachment/file/" + rid)
        t.ok(d.status == 200 and d.body == wav,
             T + "GET /Attachment/file/{id} with the file's credentials: "
             "the same bytes",
             "status %d, %d bytes (want %d), %s" % (
                 d.status, len(d.body), len(wav),
                 d.body[:200] if d.status != 200 else ""))
        t.like(d.headers.get("Content-Type") or "", r"^audio/(x-)?wav",
               T + "the download's Content-Type is audio/wav")
        d = s.request("GET", "/Attachment/file/" + rid)
        t.ok(d.status == 200 and d.body == wav,
             T + "GET /Attachment/file/{id} (admin API): the same bytes",
             "status %d, %d bytes" % (d.status, len(d.body)))

    if c.need("CreateCallActivity retried", "activity_id"):
        r = eng.call("CreateCallActivity", cv)
        t.ok(r.status == 200 and r.get("activity_id") == aid,
             T + "CreateCallActivity retried (same call_id): 200, the same "
             "activity id", r.describe())
        q = ("/api/v1/Call?where[0][type]=equals&where[0][attribute]=uid"
             "&where[0][value]=" + urllib.parse.quote(call_id))
        lst = s.request("GET", q, raw_path=True).json or {}
        t.eq(lst.get("total"), 1, T + "one Call for the call_id (admin API)")
        a = s.request("GET", "/Call/" + aid).json or {}
        t.eq((a.get("status"), a.get("dateEnd"), a.get("parentId"),
              a.get("recordingId")),
             ("Held", espo_time(end_ms // 1000), cid, c.v.get("recording_id")),
             T + "the retry changed nothing in the stored call")
        d = eng.request("DELETE", "$Server URL$/api/v1/Call/" + aid)
        t.status(d, 403, T + "the telephony role cannot delete a call")
    return c


# ---------------------------------------------------------------------------

def seed_directory(s):
    """Users, an Account and a Contact created by the admin, for the
    directory hooks."""
    users = []
    for i, (first, last) in enumerate((("Ann", "Agent"), ("Ben", "Bell"))):
        body = {"userName": "agent%d" % i, "firstName": first,
                "lastName": last, "emailAddress": "%s@example.com" % first.lower(),
                "phoneNumber": "+1555000111%d" % i}
        r = s.request("POST", "/User", body)
        t.status(r, 200, "seed: user %s (admin API)" % body["userName"])
        users.append(((r.json or {}).get("id"), first, last,
                      body["emailAddress"], body["phoneNumber"]))
    r = s.request("POST", "/Account", {"name": "Northwind Traders"})
    t.status(r, 200, "seed: account (admin API)")
    acc = (r.json or {}).get("id")
    r = s.request("POST", "/Contact", {
        "firstName": "Dana", "lastName": "Scully", "title": "Buyer",
        "emailAddress": "dana@example.com", "phoneNumber": "+15550009999",
        "accountId": acc})
    t.status(r, 200, "seed: contact with account and title (admin API)")
    con = ((r.json or {}).get("id"), "Dana", "Scully", "dana@example.com",
           "+15550009999", "Northwind Traders", "Buyer")
    return {"users": users, "accounts": {acc: "Northwind Traders"},
            "contact": con}


with Stack(config_extra=CONFIG) as s:
    seed = seed_directory(s)
    engines = {}

    @t.test
    def bearer_call():
        engines["bearer"] = engine(s, "bearer")
        play(s, "bearer", 1, engines["bearer"], engine(s, "bearer", False),
             "ringotel", seed)

    @t.test
    def basic_call():
        play(s, "basic", 2, engine(s, "basic"), engine(s, "basic", False),
             PW_USER, seed)

    @t.test
    def oauth2_call():
        eng = engine(s, "oauth2")
        res = eng.authorize(PW_USER, PASSWORD)
        if not t.ok(res.ok, "[oauth2] authorization-code flow: sign-in form, "
                    "302 to the redirect_uri with code and state, token",
                    res.describe()):
            for h in ["the whole call"]:
                t.skip("[oauth2] %s" % h, "no access token: " + str(res.error))
            return
        j = res.token.json or {}
        t.ok(j.get("token_type", "").lower() == "bearer" and
             isinstance(j.get("expires_in"), int) and j.get("refresh_token"),
             "[oauth2] token answer: token_type Bearer, expires_in, "
             "refresh_token", res.token.text)
        t.eq(res.token.headers.get("Cache-Control"), "no-store",
             "[oauth2] token answer: Cache-Control: no-store (RFC 6749 5.1)")
        bad = engine(s, "oauth2")
        bad.access_token = "not-a-token-" + secrets.token_hex(8)
        engines["oauth2"] = eng
        play(s, "oauth2", 3, eng, bad, None, seed)

    # -- encodings Ringotel might use instead --------------------------------

    @t.test
    def variants():
        eng = engines.get("bearer") or engine(s, "bearer")
        T = "[variants] "
        base = eng.hook("CreateCallActivity")

        def create(vars, ctype=None, desc=""):
            h = copy.deepcopy(base)
            if ctype:
                h["request_content_type"] = ctype
            r = eng.call("CreateCallActivity", vars, hook=h)
            hook_ok(r, T + "CreateCallActivity %s: 200" % desc)
            aid = r.get("activity_id")
            return (s.request("GET", "/Call/%s" % aid).json or {}) if aid else {}

        now = int(time.time()) - 3600
        a = create({"call_id": "rt-v-" + secrets.token_hex(5),
                    "activity_type": "OUTBOUND", "caller_number": "202",
                    "called_number": "+15557990001",
                    "call_start": str(now), "call_end": str(now + 42)},
                   "application/x-www-form-urlencoded",
                   "form-encoded, epoch seconds, OUTBOUND")
        t.eq((a.get("dateStart"), a.get("dateEnd"), a.get("duration"),
              a.get("direction")),
             (espo_time(now), espo_time(now + 42), 42, "Outbound"),
             T + "form body, epoch seconds, OUTBOUND stored")
        a = create({"call_id": "rt-v-" + secrets.token_hex(5),
                    "activity_type": "Inbound", "caller_number": "x",
                    "called_number": "y",
                    "call_start": now * 1000, "call_end": now * 1000 + 7000},
                   None, "epoch milliseconds as JSON numbers")
        t.eq((a.get("dateStart"), a.get("dateEnd"), a.get("duration")),
             (espo_time(now), espo_time(now + 7), 7),
             T + "epoch-ms numbers stored")
        a = create({"call_id": "rt-v-" + secrets.token_hex(5),
                    "activity_type": "inbound", "caller_number": "x",
                    "called_number": "y",
                    "call_start": "2024-03-05T14:07:09Z",
                    "call_end": "2024-03-05T16:08:10+02:00"},
                   None, "ISO-8601 with Z and with an offset")
        t.eq((a.get("dateStart"), a.get("dateEnd"), a.get("duration")),
             ("2024-03-05 14:07:09", "2024-03-05 14:08:10", 61),
             T + "ISO-8601 stored in UTC")

        # form bodies with a list (PHP brackets), and variables left empty
        r = eng.call("CreateCallActivity", {
            "call_id": "rt-v-" + secrets.token_hex(5),
            "activity_type": "inbound", "caller_number": "x",
            "called_number": "y", "call_start": str(now),
            "call_end": str(now + 30)})
        aid = r.get("activity_id")
        r = eng.call("CreateContact", {"firstname": "Form", "lastname":
                                       "Body", "phone": "+15557990003"})
        cid = r.get("contact_id")
        if aid and cid:
            h = copy.deepcopy(eng.hook("AssignActivity"))
            h["request_content_type"] = "application/x-www-form-urlencoded"
            r = eng.call("AssignActivity", {"activity_id": aid,
                                            "contact_id": cid}, hook=h)
            hook_ok(r, T + "AssignActivity form-encoded (contactsIds[0]=...): "
                    "200")
            a = s.request("GET", "/Call/" + aid).json or {}
            t.eq((a.get("parentId"), a.get("contactsIds")), (cid, [cid]),
                 T + "form-encoded AssignActivity: parent and contacts")
            r = eng.call("ChangeActivityStatus", {"activity_id": aid,
                                                  "status": "Held"})
            r = eng.call("UpdateActivity", {"activity_id": aid,
                                            "call_start": "", "call_end": "",
                                            "call_duration": "",
                                            "call_id": "z", "call_cause": "c"})
            hook_ok(r, T + "UpdateActivity with call_start/call_end empty "
                    "(not known to Ringotel): 200")
            r = eng.call("ChangeActivityStatus", {"activity_id": aid,
                                                  "status": ""})
            hook_ok(r, T + "ChangeActivityStatus with status empty: 200")
            a = s.request("GET", "/Call/" + aid).json or {}
            t.eq((a.get("dateStart"), a.get("dateEnd"), a.get("status")),
                 (espo_time(now), espo_time(now + 30), "Held"),
                 T + "empty variables changed no time and no status")
        else:
            t.skip(T + "form-encoded AssignActivity, empty variables",
                   "no activity or contact")

        # a recording sent raw, and as EspoCRM's base64 Attachment JSON
        r = eng.call("CreateCallActivity", {
            "call_id": "rt-v-" + secrets.token_hex(5),
            "activity_type": "inbound", "caller_number": "x",
            "called_number": "y", "call_start": str(now),
            "call_end": str(now + 1)})
        aid = r.get("activity_id")
        if not aid:
            t.skip(T + "recording variants", "no activity")
            return
        up = eng.hook("UploadRecording")
        raw = copy.deepcopy(up)
        raw["request_content_type"] = "audio/wav"
        raw["request_url"] += "?name=$recording_name$"
        raw["request_parameters"] = "$recording$"
        wav = make_wav(99, 50000)
        r = eng.call("UploadRecording", {
            "activity_id": aid, "recording_name": "raw.wav",
            "recording": File("raw.wav", "audio/wav", wav)}, hook=raw)
        hook_ok(r, T + "UploadRecording as a raw audio/wav body: 200")
        rid = r.get("recording_id")
        if rid:
            a = s.request("GET", "/Attachment/" + rid).json or {}
            d = s.request("GET", "/Attachment/file/" + rid)
            t.ok(a.get("name") == "raw.wav" and a.get("size") == len(wav)
                 and d.body == wav,
                 T + "raw upload: name from ?name=, size, bytes",
                 "%r; download %d bytes" % (a, len(d.body)))
        js = {"request_method": "POST",
              "request_url": "$Server URL$/api/v1/Attachment",
              "request_content_type": "application/json",
              "request_parameters": {
                  "name": "b64.wav", "type": "audio/wav",
                  "parentType": "Call", "parentId": "$activity_id$",
                  "field": "recording", "file": "$recording$"},
              "response_map": {"id": "$recording_id$"}}
        wav2 = make_wav(98, 30000)
        r = eng.call("UploadRecording", {
            "activity_id": aid,
            "recording": File("b64.wav", "audio/wav", wav2)}, hook=js)
        hook_ok(r, T + "POST /Attachment with a base64 data: URL: 200")
        rid = r.get("recording_id")
        if rid:
            a = s.request("GET", "/Attachment/" + rid).json or {}
            d = s.request("GET", "/Attachment/file/" + rid)
            t.ok(a.get("parentId") == aid and a.get("size") == len(wav2)
                 and d.body == wav2,
                 T + "base64 upload: parent, size, bytes",
                 "%r; download %d bytes" % (a, len(d.body)))

        # the '+' percent-encoded, and a Server URL typed with a slash
        e2 = engine(s, "bearer", url_safe="")
        r = e2.call("FindContact", {"phone": "+15557010001"})
        t.ok(r.status == 200 and r.get("contact_id"),
             T + "FindContact with the '+' percent-encoded finds the caller",
             r.describe())
        e3 = engine(s, "bearer", server_url=s.url + "/")
        r = e3.call("Users")
        hook_ok(r, T + "a Server URL entered with a trailing slash still "
                "works (Users: 200)")

        # what Ringotel's unknowns may send
        r = eng.call("CreateCallActivity", {
            "call_id": "rt-v-" + secrets.token_hex(5),
            "activity_type": "inbound", "caller_number": "x",
            "called_number": "y", "call_start": str(now), "call_end": ""})
        t.ok(r.status == 200, T + "CreateCallActivity while the call is "
               "still ringing (call_end empty)",
               "answer (%d %s)" % (
                   r.status, r.response.headers.get("X-Status-Reason")))
        r = eng.call("CreateContact", {"firstname": "Caller1",
                                       "lastname": "Ringotel-bearer",
                                       "phone": "+15557990002"})
        t.ok(r.status == 200 and r.get("contact_id"),
             T + "CreateContact for a second caller with the same name "
             "(another number; the file sends skipDuplicateCheck)",
             "the duplicate check answers %d" % r.status)

    # -- the OAuth2 endpoints' refusals --------------------------------------

    @t.test
    def oauth2_errors():
        T = "[oauth2] "
        spec = load("oauth2")
        authz = spec["OAuth2"]["authorization_endpoint"].replace(
            "$Server URL$", "")
        token = spec["OAuth2"]["token_endpoint"].replace("$Server URL$", "")

        def get_authz(client_id, redirect_uri):
            q = urllib.parse.urlencode([
                ("response_type", "code"), ("client_id", client_id),
                ("redirect_uri", redirect_uri), ("state", "st")])
            return s.request("GET", authz + "?" + q, key=None, raw_path=True)

        r = get_authz(CLIENT_ID, REDIRECT_URI)
        t.ok(r.status == 200 and "text/html" in (r.headers.get(
            "Content-Type") or ""), T + "authorize: 200 HTML sign-in page",
            r.describe())
        form = parse_form(r.text) or {"inputs": [], "method": None}
        names = {i["name"]: i for i in form["inputs"]}
        t.ok(form.get("method") == "POST" and
             form.get("action") == authz and
             names.get("password", {}).get("type") == "password" and
             "userName" in names and
             all(names.get(n, {}).get("type") == "hidden" for n in (
                 "response_type", "client_id", "redirect_uri", "state")),
             T + "the sign-in form: POST " + authz + ", userName, password, "
             "the request's parameters as hidden inputs", r.text[:1500])

        # a hostile state: escaped in the page, returned intact
        eng = engine(s, "oauth2")
        state = '"><script>alert(1)</script>&x=1'
        res = eng.authorize(PW_USER, PASSWORD, state=state)
        t.ok(res.ok and res.state == state and res.form_page is not None and
             "<script>alert" not in res.form_page.text,
             T + "a state with markup and '&' is escaped in the page and "
             "comes back intact in the redirect", res.describe())
        hidden = {i["name"]: i["value"] for i in (res.form or {}).get(
            "inputs", []) if i["type"] == "hidden"}
        t.eq(hidden.get("scope"), "api refresh_token",
             T + "authorization_parameters' scope reaches the form")

        r = get_authz(CLIENT_ID, "https://evil.example/cb")
        t.ok(r.status == 400 and not r.headers.get("Location"),
             T + "authorize with an unregistered redirect_uri: 400, no "
             "redirect", r.describe())
        r = get_authz("nosuchclient", REDIRECT_URI)
        t.ok(r.status == 400 and not r.headers.get("Location"),
             T + "authorize with an unknown client: 400, no redirect",
             r.describe())

        eng = engine(s, "oauth2")
        res = eng.authorize(PW_USER, "wrong-" + PASSWORD)
        t.ok(res.code is None and (res.approve is None or
                                   "code=" not in (res.location or "")),
             T + "a wrong password gets no code", res.describe())

        bad = engine(s, "oauth2", False)
        res = bad.authorize(PW_USER, PASSWORD)
        j = res.token.json if res.token is not None else None
        t.ok(res.token is not None and res.token.status == 401 and
             (j or {}).get("error") == "invalid_client",
             T + "a wrong client secret: 401 invalid_client",
             res.describe())
        code = res.code

        eng = engine(s, "oauth2", token_client_auth="basic")
        res = eng.authorize(PW_USER, PASSWORD)
        t.ok(res.ok, T + "client authentication by HTTP Basic works",
             res.describe())
        if res.code:
            r = eng.exchange(res.code)
            t.ok(r.status == 400 and (r.json or {}).get("error") ==
                 "invalid_grant", T + "a code is single-use (invalid_grant)",
                 r.text)
        if code:
            r = engine(s, "oauth2").exchange(code)
            t.ok(r.status == 200 or (r.json or {}).get("error") ==
                 "invalid_grant",
                 T + "the code the wrong secret did not redeem: redeemable "
                 "once, or refused as invalid_grant", r.text)
        r = s.request("POST", token, key=None,
                      raw_body=urllib.parse.urlencode([
                          ("grant_type", "password"), ("username", PW_USER),
                          ("password", PASSWORD), ("client_id", CLIENT_ID),
                          ("client_secret", CLIENT_SECRET)]),
                      content_type="application/x-www-form-urlencoded")
        t.ok(r.status == 400 and (r.json or {}).get("error") ==
             "unsupported_grant_type",
             T + "grant_type=password: 400 unsupported_grant_type", r.text)
        r = s.request("POST", token, key=None,
                      raw_body=urllib.parse.urlencode([
                          ("grant_type", "authorization_code"),
                          ("code", "nope"), ("redirect_uri", REDIRECT_URI),
                          ("client_id", CLIENT_ID),
                          ("client_secret", CLIENT_SECRET)]),
                      content_type="application/x-www-form-urlencoded")
        t.ok(r.status == 400 and (r.json or {}).get("error") ==
             "invalid_grant", T + "an unknown code: 400 invalid_grant",
             r.text)
        if eng.access_token:
            log = s.log_text() + s.nginx_log_text("all")
            t.ok(eng.access_token not in log and CLIENT_SECRET not in log and
                 (eng.refresh_token or "-") not in log,
                 T + "no token or client secret in any log")

t.done()
