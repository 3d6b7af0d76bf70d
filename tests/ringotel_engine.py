"""Plays Ringotel's side of its no-code CRM framework (RINGOTEL.md): reads an
integration file as Ringotel's server does and sends its hooks.

Python 3 standard library only. It knows the framework — properties, `auth`
or `OAuth2`, hooks with request_method/request_url/request_content_type/
request_parameters/response_map — and nothing of fastcrm: every path, field
name and variable comes from the file.

    from ringotel_engine import Engine, File, stack_transport
    eng = Engine.load("conf/ringotel/fastcrm-bearer.json",
                      {"Server URL": stack.url, "API key": key},
                      stack_transport(stack))
    r = eng.call("FindContact", {"phone": "+15550102000"})
    r.status, r.vars["contact_id"], r.rows     # rows: one dict per element

Placeholders
    `$Label$` is a property (a label of `properties`, value given by the
    administrator), `$name$` a variable (from the dict given to call()).
    Unknown names become "" (recorded in HookResult.missing). Substitution is
    one pass: a value holding `$` is never expanded again.
    - In a URL, property values go in as typed (they are URLs themselves);
      variable values are percent-encoded except the characters in
      Engine.url_safe (default "+", as a naive text substitution keeps it).
    - In request_parameters (a JSON template): a string that is exactly
      "$name$" takes the variable's value with its JSON type (a number stays
      a number, a list a list); any other string gets text substitution.

Bodies, by request_content_type
    GET/DELETE, or an empty template: no body; a non-empty template becomes
        the query string (PHP bracket keys for nested values).
    application/json: the rendered template; a File becomes a data: URL.
    application/x-www-form-urlencoded: the template flattened with PHP
        bracket keys (a[0]=x, a[b]=y).
    multipart/form-data: one part per top-level key; a File value is a file
        part (filename, Content-Type), anything else a text field.
    anything else (audio/*, application/octet-stream): raw; the template is
        "$name$" of a File (or an object holding one) whose bytes are the body.

Authentication
    "auth": {"type": "Bearer", "token"} / {"type": "Basic", "username",
    "password"}: an Authorization header on every hook.
    "OAuth2": authorize(username, password) plays the web-server flow as the
    administrator's browser and Ringotel's server do: GET the
    authorization_endpoint with response_type=code, client_id, redirect_uri,
    state and authorization_parameters; parse the HTML form; fill the
    visible text field with the user name and the password field with the
    password, keep the hidden fields; POST it; read `code` (and check
    `state`) from the 302 Location without following it; POST the
    token_endpoint (token_parameters.content_type) with the code. refresh()
    uses the refresh token; with auto_refresh a hook answered 401/403 is
    refreshed once and resent. Tokens are then sent as request_auth.

response_map
    "$var$" reads the value at that position; an object descends key by key;
    a list holding one template applies it to every element: HookResult.rows
    is the list of dicts for the first such list met, and the first
    element's values are also plain variables. Values keep their JSON type.

Transport
    A callable (method, url, headers, body) -> response with .status,
    .headers (case-insensitive get), .body (bytes) and .json.
    stack_transport(stack) sends through the harness Stack (HTTPS through
    nginx, raw path, no X-Api-Key). It never follows redirects.
"""

import base64
import html.parser
import json
import re
import secrets
import time
import urllib.parse

__all__ = ["Engine", "File", "HookResult", "OAuthResult", "EngineError",
           "stack_transport", "multipart_encode", "flatten_php",
           "apply_response_map", "placeholders", "parse_form"]

_VAR = re.compile(r"\$([^$\n]+)\$")


class EngineError(Exception):
    pass


class File:
    """A file to upload: name, content type, bytes."""

    def __init__(self, name, content_type, data):
        self.name = name
        self.content_type = content_type
        self.data = bytes(data)

    def data_url(self):
        return "data:%s;base64,%s" % (self.content_type,
                                      base64.b64encode(self.data).decode())

    def __str__(self):
        return self.name

    def __repr__(self):
        return "<File %s %s %d bytes>" % (self.name, self.content_type,
                                          len(self.data))


def placeholders(obj):
    """Every $name$ used anywhere in obj (a JSON value), as a set."""
    out = set()
    if isinstance(obj, str):
        out.update(_VAR.findall(obj))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out |= placeholders(k)
            out |= placeholders(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= placeholders(v)
    return out


def flatten_php(obj, prefix=None):
    """[(key, str)] for a JSON value, PHP style: {"a": [1], "b": {"c": 2}}
    -> a[0]=1, b[c]=2. None becomes "", booleans "1"/"0"."""
    out = []
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, list):
        items = enumerate(obj)
    else:
        if prefix is None:
            raise EngineError("a form body must be an object, not %r" % (obj,))
        if obj is None:
            v = ""
        elif obj is True or obj is False:
            v = "1" if obj else "0"
        else:
            v = str(obj)
        return [(prefix, v)]
    for k, v in items:
        key = str(k) if prefix is None else "%s[%s]" % (prefix, k)
        out.extend(flatten_php(v, key))
    return out


def multipart_encode(fields, boundary=None):
    """(body bytes, content type) for multipart/form-data. fields: a dict or
    list of (name, value) where value is str/number or a File."""
    boundary = boundary or "----RingotelEngine" + secrets.token_hex(12)
    items = fields.items() if isinstance(fields, dict) else fields
    out = []

    def quote(s):
        return str(s).replace("\\", "\\\\").replace('"', '\\"') \
            .replace("\r", " ").replace("\n", " ")
    for name, value in items:
        out.append(b"--" + boundary.encode() + b"\r\n")
        if isinstance(value, File):
            out.append(('Content-Disposition: form-data; name="%s"; '
                        'filename="%s"\r\nContent-Type: %s\r\n\r\n'
                        % (quote(name), quote(value.name),
                           value.content_type)).encode())
            out.append(value.data)
        else:
            out.append(('Content-Disposition: form-data; name="%s"\r\n\r\n'
                        % quote(name)).encode())
            out.append(("" if value is None else str(value)).encode())
        out.append(b"\r\n")
    out.append(b"--" + boundary.encode() + b"--\r\n")
    return b"".join(out), "multipart/form-data; boundary=" + boundary


def apply_response_map(tmpl, data):
    """(vars, rows) read from data at the positions tmpl names."""
    vars = {}
    rows = [None]

    def walk(t, d):
        if isinstance(t, str):
            m = _VAR.fullmatch(t)
            if m:
                vars[m.group(1)] = d
        elif isinstance(t, dict):
            if isinstance(d, dict):
                for k, sub in t.items():
                    if k in d:
                        walk(sub, d[k])
        elif isinstance(t, list) and t:
            if isinstance(d, list):
                elems = [apply_response_map(t[0], item)[0] for item in d]
                if rows[0] is None:
                    rows[0] = elems
                if elems:
                    for k, v in elems[0].items():
                        vars.setdefault(k, v)
    walk(tmpl, data)
    return vars, rows[0]


class HookResult:
    """One hook sent: what went out, what came back, what was read."""

    def __init__(self, hook, method, url, req_headers, req_body, resp,
                 vars, rows, missing):
        self.hook = hook
        self.method = method
        self.url = url
        self.request_headers = req_headers
        self.request_body = req_body
        self.response = resp
        self.status = resp.status
        self.json = resp.json
        self.vars = vars
        self.rows = rows
        self.missing = missing

    def get(self, name, default=None):
        return self.vars.get(name, default)

    def describe(self, limit=1500):
        """Request and response, for a failing test's diagnostics
        (credentials masked)."""
        hs = []
        for k, v in self.request_headers.items():
            if k.lower() == "authorization":
                v = v.split(" ", 1)[0] + " ***"
            hs.append("%s: %s" % (k, v))
        body = self.request_body or b""
        if isinstance(body, bytes):
            body = body[:limit].decode("utf-8", "replace") + (
                "... (%d bytes)" % len(body) if len(body) > limit else "")
        rbody = self.response.body.decode("utf-8", "replace")
        if len(rbody) > limit:
            rbody = rbody[:limit] + "... (%d bytes)" % len(self.response.body)
        reason = self.response.headers.get("X-Status-Reason")
        return ("hook %s: %s %s\n%s\n\n%s\n-> %d%s\n%s%s"
                % (self.hook, self.method, self.url, "\n".join(hs), body,
                   self.status, " (%s)" % reason if reason else "", rbody,
                   "\nunfilled placeholders: %s" % ", ".join(self.missing)
                   if self.missing else ""))

    def __repr__(self):
        return "<HookResult %s %d %r>" % (self.hook, self.status, self.vars)


class OAuthResult:
    """The steps of authorize(): each response, the code, the tokens."""

    def __init__(self):
        self.form_page = None      # GET authorization_endpoint
        self.form = None           # {"action","method","inputs":[...]}
        self.approve = None        # POST of the form (expect 302)
        self.location = None
        self.code = None
        self.state = None
        self.state_sent = None
        self.token = None          # POST token_endpoint
        self.error = None          # why the flow stopped, or None

    @property
    def ok(self):
        return self.error is None

    def describe(self):
        out = ["OAuth2 flow: %s" % (self.error or "ok")]
        for name in ("form_page", "approve", "token"):
            r = getattr(self, name)
            if r is not None:
                b = r.body.decode("utf-8", "replace")[:800]
                out.append("%s -> %d %s\n%s" % (name, r.status,
                                                r.headers.get("Location") or "",
                                                b))
        return "\n".join(out)


class _FormParser(html.parser.HTMLParser):
    """The first <form> of a page: action, method, inputs."""

    def __init__(self):
        super().__init__()
        self.forms = []
        self._cur = None

    def handle_starttag(self, tag, attrs):
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._cur = {"action": a.get("action", ""),
                         "method": (a.get("method") or "GET").upper(),
                         "inputs": []}
            self.forms.append(self._cur)
        elif tag in ("input", "button") and self._cur is not None:
            if "name" in a:
                self._cur["inputs"].append({
                    "name": a["name"],
                    "type": (a.get("type") or
                             ("submit" if tag == "button" else "text")).lower(),
                    "value": a.get("value", "")})

    def handle_endtag(self, tag):
        if tag == "form":
            self._cur = None


def parse_form(text):
    p = _FormParser()
    p.feed(text)
    p.close()
    return p.forms[0] if p.forms else None


# ---------------------------------------------------------------------------


class Engine:
    """An integration file, its properties, and a transport."""

    def __init__(self, spec, properties, transport, redirect_uri=None,
                 url_safe="+", auto_refresh=True, token_client_auth="body"):
        self.spec = spec
        self.properties = dict(properties)
        self.transport = transport
        self.redirect_uri = (redirect_uri or
                             "https://shell.ringotel.co/oauth2/callback")
        self.url_safe = url_safe
        self.auto_refresh = auto_refresh
        self.token_client_auth = token_client_auth  # "body" or "basic"
        self.access_token = None
        self.refresh_token = None
        self.expires_at = None
        self.token_responses = []  # every token endpoint response
        self.labels = list(spec.get("properties") or [])
        unknown = set(self.properties) - set(self.labels)
        if unknown:
            raise EngineError("properties not declared by the file: %s"
                              % ", ".join(sorted(unknown)))

    @classmethod
    def load(cls, path, properties, transport, **kw):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f), properties, transport, **kw)

    # -- substitution ----------------------------------------------------

    @property
    def auth_type(self):
        if "OAuth2" in self.spec:
            return "OAuth2"
        a = self.spec.get("auth")
        return a.get("type") if isinstance(a, dict) else None

    def _lookup(self, name, vars, missing):
        if name in self.properties:
            return self.properties[name], True
        if name in vars and vars[name] is not None:
            return vars[name], False
        missing.append(name)
        return "", False

    def text(self, s, vars=None, missing=None, url=False):
        """s with every $name$ replaced (see the module documentation)."""
        vars = vars or {}
        missing = [] if missing is None else missing

        def rep(m):
            v, is_prop = self._lookup(m.group(1), vars, missing)
            v = "" if v is None else (v if isinstance(v, str) else
                                      json.dumps(v) if isinstance(v, (bool, list, dict))
                                      else str(v))
            if url and not is_prop:
                v = urllib.parse.quote(v, safe=self.url_safe)
            return v
        return _VAR.sub(rep, s)

    def render(self, tmpl, vars, missing):
        """The JSON template with variables substituted."""
        if isinstance(tmpl, str):
            m = _VAR.fullmatch(tmpl)
            if m:
                v, _ = self._lookup(m.group(1), vars, missing)
                return v
            return self.text(tmpl, vars, missing)
        if isinstance(tmpl, dict):
            return {k: self.render(v, vars, missing) for k, v in tmpl.items()}
        if isinstance(tmpl, list):
            return [self.render(v, vars, missing) for v in tmpl]
        return tmpl

    # -- authentication --------------------------------------------------

    def auth_headers(self):
        t = self.auth_type
        if t == "Bearer":
            return {"Authorization": "Bearer " + self.text(self.spec["auth"]["token"])}
        if t == "Basic":
            a = self.spec["auth"]
            cred = "%s:%s" % (self.text(a["username"]), self.text(a["password"]))
            return {"Authorization": "Basic " +
                    base64.b64encode(cred.encode()).decode()}
        if t == "OAuth2":
            if self.access_token is None:
                raise EngineError("OAuth2: not authorized yet (call authorize())")
            scheme = self.spec["OAuth2"].get("request_auth") or "Bearer"
            return {"Authorization": "%s %s" % (scheme, self.access_token)}
        return {}

    def _oauth(self, key):
        return self.text(self.spec["OAuth2"].get(key) or "")

    def _token_request(self, fields):
        o = self.spec["OAuth2"]
        ctype = ((o.get("token_parameters") or {}).get("content_type")
                 or "application/x-www-form-urlencoded")
        headers = {"Accept": "application/json"}
        fields = list(fields)
        cid, secret = self._oauth("client_id"), self._oauth("client_secret")
        if self.token_client_auth == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % (urllib.parse.quote(cid, safe=""),
                            urllib.parse.quote(secret, safe=""))).encode()).decode()
        else:
            fields += [("client_id", cid), ("client_secret", secret)]
        if ctype.startswith("application/json"):
            body = json.dumps(dict(fields)).encode()
        else:
            body = urllib.parse.urlencode(fields).encode()
        headers["Content-Type"] = ctype
        r = self.transport("POST", self._oauth("token_endpoint"), headers, body)
        self.token_responses.append(r)
        return r

    def _take_tokens(self, r):
        j = r.json if isinstance(r.json, dict) else {}
        if r.status != 200 or not j.get("access_token"):
            return False
        self.access_token = j["access_token"]
        if j.get("refresh_token"):
            self.refresh_token = j["refresh_token"]
        if isinstance(j.get("expires_in"), (int, float)):
            self.expires_at = time.monotonic() + j["expires_in"]
        return True

    def authorize(self, username, password, state=None, redirect_uri=None):
        """The OAuth2 web-server flow; returns an OAuthResult. On success
        the engine holds the access and refresh tokens."""
        if self.auth_type != "OAuth2":
            raise EngineError("the file declares no OAuth2 object")
        res = OAuthResult()
        redirect_uri = redirect_uri or self.redirect_uri
        state = state or secrets.token_urlsafe(12)
        res.state_sent = state
        query = urllib.parse.urlencode([
            ("response_type", "code"), ("client_id", self._oauth("client_id")),
            ("redirect_uri", redirect_uri), ("state", state)])
        extra = self._oauth("authorization_parameters")
        if extra:
            query += "&" + extra.lstrip("&?")
        endpoint = self._oauth("authorization_endpoint")
        url = endpoint + ("&" if "?" in endpoint else "?") + query
        r = res.form_page = self.transport("GET", url, {"Accept": "text/html"}, None)
        if r.status != 200:
            res.error = "authorization endpoint answered %d" % r.status
            return res
        form = res.form = parse_form(r.body.decode("utf-8", "replace"))
        if form is None:
            res.error = "no <form> on the authorization page"
            return res
        fields, user_done, pw_done = [], False, False
        for i in form["inputs"]:
            if i["type"] == "password" and not pw_done:
                fields.append((i["name"], password))
                pw_done = True
            elif i["type"] in ("text", "email") and not user_done:
                fields.append((i["name"], username))
                user_done = True
            elif i["type"] in ("hidden",):
                fields.append((i["name"], i["value"]))
            elif i["type"] == "submit" and i["value"]:
                fields.append((i["name"], i["value"]))
        if not (user_done and pw_done):
            res.error = "the form has no user name or password field: %r" % form
            return res
        action = urllib.parse.urljoin(url, form["action"] or url)
        if form["method"] != "POST":
            res.error = "the form's method is %s, not POST" % form["method"]
            return res
        r = res.approve = self.transport(
            "POST", action,
            {"Content-Type": "application/x-www-form-urlencoded"},
            urllib.parse.urlencode(fields).encode())
        loc = r.headers.get("Location")
        res.location = loc
        if r.status not in (302, 303) or not loc:
            res.error = "sign-in answered %d without a redirect" % r.status
            return res
        base, _, q = loc.partition("?")
        if base != redirect_uri:
            res.error = "redirected to %r, not the redirect_uri" % loc
            return res
        params = dict(urllib.parse.parse_qsl(q.split("#")[0],
                                             keep_blank_values=True))
        res.code, res.state = params.get("code"), params.get("state")
        if not res.code:
            res.error = "no code in the redirect: %r" % loc
            return res
        if res.state != state:
            res.error = "state %r came back as %r" % (state, res.state)
            return res
        r = res.token = self._token_request([
            ("grant_type", "authorization_code"), ("code", res.code),
            ("redirect_uri", redirect_uri)])
        if not self._take_tokens(r):
            res.error = "token endpoint answered %d" % r.status
        return res

    def exchange(self, code, redirect_uri=None):
        """POST the token endpoint with a code (for tests of reuse)."""
        return self._token_request([
            ("grant_type", "authorization_code"), ("code", code),
            ("redirect_uri", redirect_uri or self.redirect_uri)])

    def refresh(self):
        """grant_type=refresh_token; returns the token response. On success
        the new pair replaces the old one."""
        if not self.refresh_token:
            raise EngineError("OAuth2: no refresh token")
        r = self._token_request([("grant_type", "refresh_token"),
                                 ("refresh_token", self.refresh_token)])
        self._take_tokens(r)
        return r

    # -- hooks -----------------------------------------------------------

    def hook(self, name):
        api = self.spec.get("API") or {}
        if name not in api:
            raise EngineError("the file has no hook %r" % name)
        return api[name]

    def build(self, name, vars=None, hook=None):
        """(method, url, headers without auth, body, missing) of a hook."""
        h = hook if hook is not None else self.hook(name)
        vars = vars or {}
        missing = []
        method = (h.get("request_method") or "GET").upper()
        if h.get("request_url"):
            url = self.text(h["request_url"], vars, missing, url=True)
        else:
            url = (self.text("$Server URL$", vars, missing).rstrip("/") + "/" +
                   self.text(h.get("request_path", ""), vars, missing,
                             url=True).lstrip("/"))
        ctype = (h.get("request_content_type") or "application/json").strip()
        params = self.render(h.get("request_parameters"), vars, missing)
        headers = {"Accept": "application/json"}
        body = None
        base = ctype.split(";")[0].strip().lower()
        empty = params in (None, {}, [], "")
        if method in ("GET", "DELETE", "HEAD") or empty:
            if not empty:
                q = urllib.parse.urlencode(flatten_php(params))
                url += ("&" if "?" in url else "?") + q
        elif base == "application/json":
            body = json.dumps(params, default=lambda o: o.data_url()
                              if isinstance(o, File) else str(o)).encode()
            headers["Content-Type"] = ctype
        elif base == "application/x-www-form-urlencoded":
            body = urllib.parse.urlencode(flatten_php(params)).encode()
            headers["Content-Type"] = ctype
        elif base == "multipart/form-data":
            if not isinstance(params, dict):
                raise EngineError("%s: a multipart template must be an object"
                                  % name)
            body, headers["Content-Type"] = multipart_encode(params)
        else:
            f = params
            if isinstance(f, dict):
                files = [v for v in f.values() if isinstance(v, File)]
                f = files[0] if files else None
            if isinstance(f, File):
                body = f.data
            elif isinstance(f, (bytes, bytearray)):
                body = bytes(f)
            elif isinstance(f, str):
                body = f.encode()
            else:
                raise EngineError("%s: no file for a raw %s body" % (name, ctype))
            headers["Content-Type"] = ctype
        return method, url, headers, body, missing

    def call(self, name, vars=None, hook=None):
        """Sends a hook (by name, or the hook object given) and applies its
        response_map. Returns a HookResult."""
        h = hook if hook is not None else self.hook(name)
        method, url, headers, body, missing = self.build(name, vars, h)
        if (self.auth_type == "OAuth2" and self.auto_refresh
                and self.refresh_token and self.expires_at is not None
                and time.monotonic() > self.expires_at - 5):
            self.refresh()
        hs = dict(headers)
        hs.update(self.auth_headers())
        r = self.transport(method, url, hs, body)
        if (r.status in (401, 403) and self.auth_type == "OAuth2"
                and self.auto_refresh and self.refresh_token):
            if self.refresh().status == 200:
                hs.update(self.auth_headers())
                r = self.transport(method, url, hs, body)
        vars_out, rows = {}, None
        if 200 <= r.status < 300 and r.json is not None:
            vars_out, rows = apply_response_map(h.get("response_map") or {},
                                                r.json)
        return HookResult(name, method, url, hs, body, r, vars_out, rows,
                          sorted(set(missing)))

    def request(self, method, url, headers=None, body=None):
        """Any request with the file's authentication (e.g. a download);
        url may use $Property$ placeholders."""
        hs = dict(headers or {})
        hs.update(self.auth_headers())
        return self.transport(method, self.text(url), hs, body)


def stack_transport(stack):
    """A transport sending through a harness Stack: the URL's path and
    query go as given (raw_path), the headers are exactly ours (no
    X-Api-Key). The URL must name the stack's HTTPS address."""
    prefix = stack.url

    def send(method, url, headers, body):
        u = urllib.parse.urlsplit(url)
        if u.scheme != "https":
            raise EngineError("Ringotel only speaks HTTPS: %r" % url)
        if "%s://%s" % (u.scheme, u.netloc) != prefix:
            raise EngineError("%r is not this stack (%s)" % (url, prefix))
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        return stack.request(method, path, headers=headers, key=None,
                             raw_body=body, raw_path=True)
    return send
