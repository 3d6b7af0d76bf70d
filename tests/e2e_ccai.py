"""CCAI Platform's EspoCRM configuration (seeds/000_...txt), played as
written: the page's eight endpoint rows with their parameter tables
verbatim — GET parameters as a query string, POST/PUT parameters as a JSON
object of strings, the X-Api-Key custom header — through the real nginx
over HTTPS.  Checks what CCAI reads at each row's Response Data Location
and Object ID location, for whole sessions, the variants CCAI produces,
retries, and the printed "Update an account" row."""

import json
import os
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()

# The page's rows: (name, method, url, parameters, data location, id location)
ROWS = {
    "find_account_by_query": ("GET", "/api/v1/Contact", [
        ("where[0][attribute]", "phoneNumber"),
        ("where[0][type]", "equals"),
        ("where[0][value]", "{PHONE_NUMBER}"),
        ("sortBy", "createdAt"),
        ("asc", "false")], "data.list", None),
    "find_account_by_id": ("GET", "/api/v1/Contact/{ACCOUNT_ID}", [], "data", None),
    "create_account": ("POST", "/api/v1/Contact", [
        ("phoneNumber", "{PHONE_NUMBER}"),
        ("firstName", "New Caller"),
        ("lastName", "{CALL_ID}"),
        ("name", "New Caller {CALL_ID}")], "data", "id"),
    "update_account": ("PUT", "/api/v1/Contact", [
        ("contactId", "{PHONE_NUMBER}"),
        ("phoneNumber", "New Caller")], "data", None),
    "find_record_by_query": ("GET", "/api/v1/Case", [
        ("where[0][attribute]", "contactId"),
        ("where[0][type]", "equals"),
        ("where[0][value]", "{ACCOUNT_ID}"),
        ("contactId", "{ACCOUNT_ID}"),
        ("sortBy", "createdAt"),
        ("asc", "false")], "data.list", None),
    "find_record_by_id": ("GET", "/api/v1/Case/{RECORD_ID}", [], "data", None),
    "create_record": ("POST", "/api/v1/Case", [
        ("description", "Call Session: {CALL_ID}"),
        ("name", "Inbound Call from {ANI}"),
        ("contactId", "{ACCOUNT_ID}"),
        ("status", "New"),
        ("cchatId", "{CHAT_ID}"),
        ("ccallId", "{CALL_ID}"),
        ("cChannel", "{CHANNEL}"),
        ("Type", "{SESSION_TYPE}")], "data", "id"),
    "update_record": ("PUT", "/api/v1/Case/{RECORD_ID}", [
        ("parentId", "{RECORD_ID}"),
        ("parentType", "Case"),
        ("status", "New"),
        ("description", "{TICKET_DESCRIPTION}")], "data", None),
}


def subst(text, vars):
    for k, v in vars.items():
        text = text.replace("{%s}" % k, v)
    return text


def read_location(body, loc):
    """CCAI's "data" is the response body; "data.list" descends."""
    cur = body
    for part in loc.split(".")[1:]:
        cur = cur[part]
    return cur


class Ccai:
    """Sends rows the way CCAI's Generic API does."""

    def __init__(self, stack, key, encode_plus=False, encode_brackets=False,
                 form=False):
        self.s = stack
        self.key = key
        self.encode_plus = encode_plus
        self.encode_brackets = encode_brackets
        self.form = form

    def send(self, row, vars):
        method, url, params, loc, idloc = ROWS[row]
        url = subst(url, vars)
        pairs = [(k, subst(v, vars)) for k, v in params]
        headers = {"X-Api-Key": self.key}
        if method == "GET":
            parts = []
            for k, v in pairs:
                if self.encode_brackets:
                    k = urllib.parse.quote(k, safe="")
                # Variables are substituted as plain text: a '+' stays a '+'.
                v = urllib.parse.quote(v, safe="+" if not self.encode_plus else "")
                parts.append("%s=%s" % (k, v))
            if parts:
                url += "?" + "&".join(parts)
            r = self.s.request(method, url, headers=headers, key=None)
        elif self.form:
            r = self.s.request(method, url, headers=headers, key=None,
                               raw_body=urllib.parse.urlencode(pairs).encode(),
                               content_type="application/x-www-form-urlencoded")
        else:
            r = self.s.request(method, url, headers=headers, key=None,
                               raw_body=json.dumps(dict(pairs)).encode(),
                               content_type="application/json")
        data = read_location(r.json, loc) if r.status == 200 else None
        oid = data.get(idloc) if (idloc and isinstance(data, dict)) else None
        return r, data, oid


with Stack(workers=2) as s:
    ccai = Ccai(s, s.key)

    @t.test
    def unknown_caller_session():
        v = {"PHONE_NUMBER": "+15551230001", "CALL_ID": "700001",
             "ANI": "+15551230001", "CHAT_ID": "", "CHANNEL": "voice",
             "SESSION_TYPE": "Voice inbound"}
        r, data, _ = ccai.send("find_account_by_query", v)
        t.eq((r.status, data), (200, []), "lookup miss: 200, empty data.list")
        r, data, oid = ccai.send("create_account", v)
        t.eq(r.status, 200, "create account: 200")
        t.ok(oid and len(oid) == 17, "create account: id at data → id")
        t.eq((data["firstName"], data["lastName"], data["name"],
              data["phoneNumber"]),
             ("New Caller", "700001", "New Caller 700001", "+15551230001"),
             "the new contact as CCAI sent it")
        v["ACCOUNT_ID"] = oid
        r, data, _ = ccai.send("find_account_by_id", v)
        t.eq((r.status, data["id"]), (200, oid), "find account by id")
        r, data, _ = ccai.send("find_record_by_query", v)
        t.eq((r.status, data), (200, []), "no cases yet")
        r, data, rid = ccai.send("create_record", v)
        t.eq(r.status, 200, "create record: 200")
        t.ok(rid and len(rid) == 17, "create record: id at data → id")
        t.eq((data["name"], data["description"], data["contactId"],
              data["status"], data["ccallId"], data["cChannel"],
              data["cchatId"]),
             ("Inbound Call from +15551230001", "Call Session: 700001", oid,
              "New", "700001", "voice", ""),
             "the case holds every field CCAI sent")
        t.ok("Type" not in data, "'Type' matches no field and is ignored")
        v["RECORD_ID"] = rid
        v["TICKET_DESCRIPTION"] = "Caller asked about billing.\nResolved."
        r, data, _ = ccai.send("update_record", v)
        t.eq((r.status, data["description"], data["status"]),
             (200, v["TICKET_DESCRIPTION"], "New"), "update record")
        t.eq(data.get("parentId"), None, "parentId on a Case is ignored")
        r, data, _ = ccai.send("find_record_by_query", v)
        t.eq([c["id"] for c in data], [rid], "find record by query finds it")
        r, data, _ = ccai.send("find_record_by_id", v)
        t.eq((r.status, data["id"]), (200, rid), "find record by id")
        log = s.log_text()
        t.ok("unknown attribute 'Type' on Case" in log,
             "the ignored key is logged for the administrator")

    @t.test
    def known_caller_session():
        v = {"PHONE_NUMBER": "+15551230002", "CALL_ID": "700002",
             "ANI": "+15551230002", "CHAT_ID": "", "CHANNEL": "voice",
             "SESSION_TYPE": "Voice inbound"}
        _, _, oid = ccai.send("create_account", v)
        v["ACCOUNT_ID"] = oid
        _, _, first = ccai.send("create_record", v)
        v2 = dict(v, CALL_ID="700003")
        _, _, second = ccai.send("create_record", v2)
        r, data, _ = ccai.send("find_account_by_query", v)
        t.eq([c["id"] for c in data], [oid], "lookup hit: the caller")
        r, data, _ = ccai.send("find_record_by_query", v)
        t.eq([c["id"] for c in data], [second, first], "cases newest first")
        v3 = dict(v, CALL_ID="700004")
        r, data, third = ccai.send("create_record", v3)
        t.eq(r.status, 200, "another case for a known caller")
        r, data, _ = ccai.send("find_record_by_query", v)
        t.eq(data[0]["id"], third, "the newest case comes first")

    @t.test
    def session_with_record_id():
        v = {"PHONE_NUMBER": "+15551230005", "CALL_ID": "700005",
             "ANI": "+15551230005", "CHAT_ID": "chat-9", "CHANNEL": "chat",
             "SESSION_TYPE": "Chat"}
        _, _, oid = ccai.send("create_account", v)
        v["ACCOUNT_ID"] = oid
        _, _, rid = ccai.send("create_record", v)
        r, data, _ = ccai.send("find_record_by_id", {"RECORD_ID": rid})
        t.eq((r.status, data["id"], data["cchatId"]), (200, rid, "chat-9"),
             "an SDK session starts from the record id")
        r, data, _ = ccai.send("find_record_by_id",
                               {"RECORD_ID": "00000000000000000"})
        t.eq(r.status, 404, "an unknown record id is 404")

    @t.test
    def variants():
        v = {"PHONE_NUMBER": "+15551230009", "CALL_ID": "700009"}
        _, _, oid = ccai.send("create_account", v)
        forms = ["+15551230009", "15551230009", "+1 555 123 0009",
                 "+1-555-123-0009", "(555) 123-0009", "5551230009"]
        for enc_plus in (False, True):
            for enc_br in (False, True):
                c = Ccai(s, s.key, encode_plus=enc_plus, encode_brackets=enc_br)
                for ph in forms:
                    r, data, _ = c.send("find_account_by_query",
                                        {"PHONE_NUMBER": ph})
                    t.ok(r.status == 200 and [x["id"] for x in data] == [oid],
                         "lookup %r (+ %s, brackets %s)" % (
                             ph, "encoded" if enc_plus else "raw",
                             "encoded" if enc_br else "literal"),
                         r.describe(300))
        f = Ccai(s, s.key, form=True)
        r, data, oid2 = f.send("create_account", {"PHONE_NUMBER": "15551230010",
                                                  "CALL_ID": "700010"})
        t.eq((r.status, data["phoneNumber"]), (200, "+15551230010"),
             "form-encoded create, number without +")
        r, data, _ = ccai.send("find_account_by_query",
                               {"PHONE_NUMBER": "+15551230010"})
        t.eq([x["id"] for x in data], [oid2], "found with the +")
        _, _, rid = ccai.send("create_record", {"ACCOUNT_ID": oid2,
                                                "CALL_ID": "700010",
                                                "ANI": "15551230010",
                                                "CHAT_ID": "", "CHANNEL": "voice",
                                                "SESSION_TYPE": "Voice"})
        line = "Ünïcødé ✓ — the caller said: \"hello\" & <bye>\n"
        text = (line * (65536 // len(line.encode()) + 1)).encode()[:65536]
        text = text.decode("utf-8", "ignore")
        for mode in ("json", "form"):
            c = ccai if mode == "json" else f
            r, data, _ = c.send("update_record", {"RECORD_ID": rid,
                                                  "TICKET_DESCRIPTION": text})
            t.eq(r.status, 200, "64 KiB multi-line UTF-8 description (%s)" % mode)
            got = s.request("GET", "/Case/" + rid).json["description"]
            t.ok(got == text, "stored intact (%s, %d bytes)" % (
                mode, len(text.encode())))

    @t.test
    def retries():
        v = {"PHONE_NUMBER": "+15551230020", "CALL_ID": "700020",
             "ANI": "+15551230020", "CHAT_ID": "", "CHANNEL": "voice",
             "SESSION_TYPE": "Voice inbound"}
        r1, _, oid = ccai.send("create_account", v)
        r2, _, oid2 = ccai.send("create_account", v)
        t.eq((r2.status, oid2), (200, oid),
             "a repeated 'Create an account' returns the same contact")
        v["ACCOUNT_ID"] = oid
        _, _, a = ccai.send("create_record", v)
        r, _, b = ccai.send("create_record", v)
        t.eq((r.status, b), (200, a), "a repeated 'Create a record' returns the same case")
        v["CALL_ID"] = "700021"
        ids = []

        def go():
            ids.append(ccai.send("create_record", v)[2])

        ths = [threading.Thread(target=go) for _ in range(6)]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
        t.eq(len(set(ids)), 1, "concurrent creates for one call id: one case")
        r = s.request("GET", "/Case?where[0][type]=equals&where[0][attribute]="
                      "ccallId&where[0][value]=700021")
        t.eq(r.json["total"], 1, "exactly one case stored")

    @t.test
    def broken_update_account_row():
        v = {"PHONE_NUMBER": "+15551230030", "CALL_ID": "700030"}
        _, before, oid = ccai.send("create_account", v)
        r, _, _ = ccai.send("update_account", v)
        t.ok(400 <= r.status < 500, "the printed row gets a 4xx (%d)" % r.status)
        reason = r.headers.get("X-Status-Reason", "")
        t.ok("PUT /api/v1/Contact/{" in reason,
             "the reason gives the corrected row", reason)
        t.eq(s.request("GET", "/Contact/" + oid).json, before,
             "no contact changed")

t.done()
