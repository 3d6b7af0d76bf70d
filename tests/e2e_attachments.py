"""Recordings and attachments through the real stack: raw and multipart
uploads streamed to disk, EspoCRM's base64 Attachment, downloads served by
nginx after the rights check, refusals that leave no file behind, and a
200 MiB upload that does not grow the worker's memory."""

import base64
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Stack, api_user, make_key  # noqa: E402
from tap import Tap  # noqa: E402

t = Tap()
RK, _ = make_key()


def files(s):
    d = os.path.join(s.run_dir, "data", "attachments")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def vm(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    return -1


def multipart(boundary, data, filename="call.wav", ctype="audio/wav"):
    return (b"--" + boundary + b"\r\nContent-Disposition: form-data; "
            b"name=\"note\"\r\n\r\nhello\r\n--" + boundary +
            b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
            filename.encode() + b"\"\r\nContent-Type: " + ctype.encode() +
            b"\r\n\r\n" + data + b"\r\n--" + boundary + b"--\r\n")


extra = {"max_body": "256MiB",
         "roles": {"reader": {"*": {"create": False, "read": "all",
                                    "edit": "no", "delete": "no"}}},
         "api_users": [api_user("reader", "reader", key=RK)]}

with Stack(workers=1, config_extra=extra) as s:
    call = s.request("POST", "/Call", {"name": "rec",
                                       "dateStart": "2026-01-01 10:00:00",
                                       "dateEnd": "2026-01-01 10:02:00"}).json
    data = os.urandom(300 * 1024)

    @t.test
    def raw_upload():
        r = s.request("POST", "/Call/%s/recording?name=call-1.wav" % call["id"],
                      raw_body=data, content_type="audio/wav")
        t.eq(r.status, 200, "raw audio upload answers 200")
        a = r.json
        t.eq((a["name"], a["type"], a["size"], a["parentType"], a["parentId"]),
             ("call-1.wav", "audio/wav", len(data), "Call", call["id"]),
             "the Attachment record")
        t.eq(s.request("GET", "/Call/" + call["id"]).json["recordingId"], a["id"],
             "the Call points to its recording")
        d = s.request("GET", "/Attachment/file/" + a["id"])
        t.eq((d.status, d.body == data), (200, True), "download returns the bytes")
        t.eq(d.headers.get("Content-Type"), "audio/wav", "with their content type")
        t.ok("call-1.wav" in (d.headers.get("Content-Disposition") or ""),
             "and the file name")
        t.ok("X-Accel-Redirect" not in d.headers, "nginx consumed X-Accel-Redirect")

    @t.test
    def multipart_upload():
        r = s.request("POST", "/Call/%s/recording" % call["id"],
                      raw_body=multipart(b"----b0undary", data, "m.mp3",
                                         "audio/mpeg"),
                      content_type="multipart/form-data; boundary=----b0undary")
        t.eq(r.status, 200, "multipart upload answers 200")
        t.eq((r.json["name"], r.json["type"], r.json["size"]),
             ("m.mp3", "audio/mpeg", len(data)), "first file part stored")
        d = s.request("GET", "/Attachment/file/" + r.json["id"])
        t.ok(d.body == data, "multipart bytes intact")

    @t.test
    def base64_attachment():
        r = s.request("POST", "/Attachment", {
            "name": "note.txt", "type": "text/plain", "parentType": "Call",
            "parentId": call["id"], "field": "file",
            "file": "data:text/plain;base64," +
                    base64.b64encode(b"hello world").decode()})
        t.eq(r.status, 200, "EspoCRM base64 Attachment answers 200")
        t.eq(s.request("GET", "/Attachment/file/" + r.json["id"]).body,
             b"hello world", "its bytes come back")
        r = s.request("POST", "/Attachment", {"name": "x", "file": "not a data url"})
        t.eq(r.status, 400, "a file that is not a data: URL is 400")

    @t.test
    def refusals_leave_nothing():
        before = files(s)
        cases = [
            ("truncated multipart", multipart(b"zz", data)[:-30],
             "multipart/form-data; boundary=zz", 400),
            ("no boundary", b"abc", "multipart/form-data", 400),
            ("no file part", b"--zz\r\nContent-Disposition: form-data; "
             b"name=\"a\"\r\n\r\nx\r\n--zz--\r\n",
             "multipart/form-data; boundary=zz", 400),
            ("wrong content type", b"abc", "text/html", 415),
            ("empty body", b"", "audio/wav", 400),
        ]
        for desc, body, ctype, want in cases:
            r = s.request("POST", "/Call/%s/recording" % call["id"],
                          raw_body=body, content_type=ctype)
            t.ok(r.status == want and r.headers.get("X-Status-Reason"),
                 "%s → %d with a reason" % (desc, want), r.describe(200))
        r = s.request("POST", "/Call/00000000000000000/recording",
                      raw_body=b"x", content_type="audio/wav")
        t.eq(r.status, 404, "recording for a missing call is 404")
        r = s.request("POST", "/Call/%s/recording" % call["id"], raw_body=b"x",
                      content_type="audio/wav", key=RK)
        t.eq(r.status, 403, "a role without edit on Call cannot upload")
        time.sleep(0.3)
        t.eq(files(s), before, "no file left behind by any refusal")
        for bad in ("../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "zz", ".tmp-x"):
            r = s.request("GET", "/Attachment/file/" + bad)
            t.ok(r.status in (400, 404), "path trick %r is 4xx" % bad)
        r = s.request("GET", "/_attachments/" + files(s)[0], raw_path=True)
        t.eq(r.status, 404, "the internal location is not reachable directly")

    @t.test
    def big_upload_memory():
        pid = s.worker_pids()[0]
        hwm0, rss0 = vm(pid, "VmHWM"), vm(pid, "VmRSS")
        size = 200 * 1024 * 1024
        chunk = os.urandom(1024 * 1024)
        body = chunk * 200
        r = s.request("POST", "/Call/%s/recording?name=big.wav" % call["id"],
                      raw_body=body, content_type="audio/wav")
        t.eq((r.status, r.json and r.json.get("size")), (200, size),
             "a 200 MiB recording is stored")
        hwm1 = vm(pid, "VmHWM")
        t.diag("worker %d: VmRSS before %d kB, peak before %d kB, peak after %d kB"
               % (pid, rss0, hwm0, hwm1))
        t.ok(hwm1 - hwm0 < 8 * 1024,
             "worker peak memory grew by %d kB (< 8 MiB) for 200 MiB" % (hwm1 - hwm0))
        path = os.path.join(s.run_dir, "data", "attachments", r.json["id"])
        t.eq(os.path.getsize(path), size, "the file on disk has every byte")
        d = s.request("GET", "/Attachment/file/" + r.json["id"])
        t.ok(d.status == 200 and d.body == body, "and downloads intact")

t.done()
