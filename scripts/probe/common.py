"""Shared pieces of scripts/soak.sh and scripts/hostile-http.sh (Python standard library only).

- Server: starts `vkslm serve --port 0` with a config, reads the port from the "listening on
  http://HOST:PORT" line, reads its RSS, stops it with SIGTERM and reports the exit status and any
  sanitizer report in its stderr.
- exchange(): one HTTP exchange over a raw socket (the bytes are sent exactly as given, optionally in
  timed steps, while the response is read), with the response parsed by hand.
- strict_json() / check_body(): every response body must be strict JSON (no duplicate keys, no
  NaN/Infinity, strict UTF-8, no lone surrogates) or server-sent events whose data are strict JSON.
"""
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

ASAN_QUARANTINE_MB = 16

SANITIZER_PATTERNS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "SUMMARY: AddressSanitizer",
    "SUMMARY: UndefinedBehaviorSanitizer",
    "runtime error:",
    "ThreadSanitizer",
)


def testdata_dir():
    d = os.environ.get("VKSLM_TESTDATA") or os.path.join(REPO, "..", "shared", "testdata")
    return os.path.abspath(d)


def model_path(name):
    p = os.path.join(testdata_dir(), "models", name)
    if not os.path.exists(p):
        sys.exit("probe: %s not found (set VKSLM_TESTDATA to the shared test data folder)" % p)
    return p


def require_executable(path, who):
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        sys.exit("%s: %s is not an executable (build it, or pass --vkslm PATH)" % (who, path))


def write_config(cfg):
    fd, path = tempfile.mkstemp(prefix="vkslm-probe-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
    return path


def raise_nofile(want):
    """Raises the soft RLIMIT_NOFILE towards `want` (servers started later inherit it); returns the limit."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---- the server ------------------------------------------------------------------------------------
class Server:
    """`vkslm serve --config CONFIG --port 0`. LD_PRELOAD for the server alone comes from
    $VKSLM_PROBE_SERVER_PRELOAD (the wrappers move LD_PRELOAD there, so that Python and the clients do
    not run with libasan preloaded)."""

    def __init__(self, vkslm, config, start_timeout=300.0):
        self.vkslm, self.config, self.start_timeout = vkslm, config, start_timeout
        self.proc = None
        self.port = None
        self.host = "127.0.0.1"
        self.log_path = None
        self.stdout_lines = []
        self.starts = 0

    def start(self):
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        pre = os.environ.get("VKSLM_PROBE_SERVER_PRELOAD", "")
        if pre:
            env["LD_PRELOAD"] = pre
        if "libasan" in pre and "quarantine_size_mb" not in env.get("ASAN_OPTIONS", ""):
            # ASan keeps freed memory in a quarantine (256 MiB by default) before reusing it, so the
            # RSS of a sanitized server grows by that much whatever it does: cap it to measure growth.
            env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=%d" % ASAN_QUARANTINE_MB).lstrip(":")
            if self.starts == 0:
                print("(server under ASan: ASAN_OPTIONS += quarantine_size_mb=%d, so that RSS growth means something)"
                      % ASAN_QUARANTINE_MB)
        fd, self.log_path = tempfile.mkstemp(prefix="vkslm-probe-server-", suffix=".log")
        log = os.fdopen(fd, "w")
        self.proc = subprocess.Popen([self.vkslm, "serve", "--config", self.config, "--port", "0"],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env)
        log.close()
        self.starts += 1
        got = threading.Event()

        def drain():
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.stdout_lines.append(line)
                m = re.search(r"listening on http://([^:/\s]+):(\d+)", line)
                if m and not got.is_set():
                    self.host, self.port = m.group(1), int(m.group(2))
                    got.set()
            got.set()

        threading.Thread(target=drain, daemon=True).start()
        if not got.wait(self.start_timeout) or self.port is None:
            self.kill()
            raise RuntimeError("the server did not print 'listening on http://HOST:PORT' (stdout: %r)\n%s"
                               % (self.stdout_lines[-5:], self.log_tail()))
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self):
        return self.proc.pid

    def rss_kib(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def threads(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("Threads:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    def log_tail(self, n=30):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_lines(self):
        return [l for l in self.log_text().splitlines() if any(p in l for p in SANITIZER_PATTERNS)]

    def describe_exit(self):
        rc = self.proc.returncode
        if rc is None:
            return "running"
        if rc < 0:
            try:
                return "killed by %s" % signal.Signals(-rc).name
            except ValueError:
                return "killed by signal %d" % -rc
        return "exit %d" % rc

    def stop(self, timeout=60.0):
        """SIGTERM, then wait; returns (clean, words). Clean: exit status 0 and no sanitizer report."""
        if self.proc is None:
            return False, "not started"
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return False, "did not exit within %.0f s of SIGTERM (killed)" % timeout
        words = self.describe_exit()
        san = self.sanitizer_lines()
        if san:
            words += "; sanitizer report: " + san[0].strip()
        return self.proc.returncode == 0 and not san, words

    def wait_exit(self, seconds):
        try:
            self.proc.wait(seconds)
        except subprocess.TimeoutExpired:
            pass

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        if self.log_path and os.path.exists(self.log_path):
            os.remove(self.log_path)


# ---- one HTTP exchange over a raw socket -------------------------------------------------------------
class Response:
    def __init__(self):
        self.status = None        # int, or None: no status line came back
        self.reason = b""
        self.headers = []         # [(lower-case name str, raw value bytes)]
        self.body = b""
        self.outcome = "ok"       # ok | closed (EOF/reset before a full response) | timeout
        self.complete = False
        self.raw = b""
        self.elapsed = 0.0
        self.interim = []         # 1xx statuses seen first
        self.send_error = None
        self.framing_error = None
        self.head_request = False

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v.decode("latin-1")
        return None

    def __repr__(self):
        return "<Response %s %s %d bytes>" % (self.status, self.outcome, len(self.body))


def _parse_chunked(data):
    """(body, complete, error) of a chunked body (trailers skipped)."""
    out, i = bytearray(), 0
    while True:
        j = data.find(b"\r\n", i)
        if j < 0:
            return bytes(out), False, None
        size_s = data[i:j].split(b";", 1)[0].strip()
        try:
            size = int(size_s, 16)
        except ValueError:
            return bytes(out), False, "bad chunk size %r" % size_s[:40]
        if size == 0:
            end = data.find(b"\r\n\r\n", j)  # "0\r\n" [trailers] "\r\n"
            if data[j:j + 4] == b"\r\n\r\n" or end >= 0:
                return bytes(out), True, None
            return bytes(out), False, None
        if len(data) < j + 2 + size + 2:
            return bytes(out), False, None
        out += data[j + 2:j + 2 + size]
        if data[j + 2 + size:j + 4 + size] != b"\r\n":
            return bytes(out), False, "chunk not followed by CRLF"
        i = j + 4 + size


def _try_parse(buf, resp, head_request):
    """Fills resp from buf; True once the response is complete."""
    while True:
        k = buf.find(b"\r\n\r\n")
        if k < 0:
            return False
        head = buf[:k].split(b"\r\n")
        m = re.match(rb"HTTP/\d\.\d (\d{3})(?: (.*))?$", head[0])
        if not m:
            resp.framing_error = "bad status line %r" % head[0][:80]
            return False
        status = int(m.group(1))
        if 100 <= status < 200 and status != 101:
            resp.interim.append(status)
            buf = buf[k + 4:]
            continue
        resp.status, resp.reason = status, m.group(2) or b""
        resp.headers = []
        for line in head[1:]:
            name, _, value = line.partition(b":")
            resp.headers.append((name.strip().decode("latin-1").lower(), value.strip()))
        rest = buf[k + 4:]
        if head_request or status in (204, 304):
            resp.body = b""
            return True
        te = (resp.header("transfer-encoding") or "").lower()
        if "chunked" in te:
            resp.body, done, err = _parse_chunked(rest)
            if err:
                resp.framing_error = err
            return done
        cl = resp.header("content-length")
        if cl is not None:
            try:
                n = int(cl)
            except ValueError:
                resp.framing_error = "bad Content-Length %r" % cl
                resp.body = rest
                return False
            resp.body = rest[:n]
            return len(rest) >= n
        resp.body = rest
        return False  # until EOF


def exchange(port, steps, timeout=30.0, host="127.0.0.1", source=None, shutdown_write=False,
             head_request=False):
    """Sends `steps` (bytes, or [(bytes, seconds to wait after)]) to host:port while reading the
    response; returns a Response. The response is complete at its Content-Length, at the end of its
    chunked body, or at EOF when it has neither."""
    if isinstance(steps, (bytes, bytearray)):
        steps = [(bytes(steps), 0)]
    resp = Response()
    resp.head_request = head_request
    t0 = time.monotonic()
    deadline = t0 + timeout
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if source:
            s.bind((source, 0))
        s.settimeout(max(1.0, min(10.0, timeout)))
        s.connect((host, port))
        s.settimeout(None)
    except OSError as e:
        resp.outcome = "closed"
        resp.send_error = "connect: %s" % e
        resp.elapsed = time.monotonic() - t0
        return resp
    stop = threading.Event()

    def send():
        try:
            for data, delay in steps:
                if stop.is_set():
                    return
                if data:
                    s.sendall(data)
                if delay:
                    stop.wait(delay)
            if shutdown_write:
                s.shutdown(socket.SHUT_WR)
        except OSError as e:
            resp.send_error = str(e)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    buf = b""
    poller = select.poll()  # not select(): descriptors may be above FD_SETSIZE (idle floods)
    poller.register(s, select.POLLIN | select.POLLERR | select.POLLHUP)
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                resp.outcome = "timeout"
                break
            if not poller.poll(min(left, 0.5) * 1000):
                continue
            try:
                data = s.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                if resp.status is not None and resp.header("content-length") is None and \
                        "chunked" not in (resp.header("transfer-encoding") or "").lower():
                    resp.complete = True  # delimited by EOF
                else:
                    resp.outcome = "closed"
                break
            buf += data
            if _try_parse(buf, resp, head_request):
                resp.complete = True
                break
    finally:
        stop.set()
        try:
            s.shutdown(socket.SHUT_RDWR)  # wakes a sender blocked in sendall
        except OSError:
            pass
        sender.join(5)
        s.close()
    if resp.complete:
        resp.outcome = "ok"
    resp.raw = buf
    resp.elapsed = time.monotonic() - t0
    return resp


def http_request(method, path, body=None, headers=(), host_header=True, content_type="application/json",
                 close=True, version=b"HTTP/1.1"):
    """The bytes of an ordinary request. Placeholders @HOSTPORT@ and @PORT@ are filled in by fill()."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(path, str):
        path = path.encode("utf-8")
    out = [method.encode() + b" " + path + b" " + version]
    if host_header:
        out.append(b"Host: @HOSTPORT@")
    if body is not None:
        if content_type:
            out.append(b"Content-Type: " + content_type.encode())
        out.append(b"Content-Length: %d" % len(body))
    if close:
        out.append(b"Connection: close")
    for h in headers:
        out.append(h if isinstance(h, bytes) else h.encode("utf-8"))
    return b"\r\n".join(out) + b"\r\n\r\n" + (body or b"")


def fill(data, port, host="127.0.0.1"):
    return data.replace(b"@HOSTPORT@", b"%s:%d" % (host.encode(), port)).replace(b"@PORT@", b"%d" % port)


# ---- strict bodies ---------------------------------------------------------------------------------
class BodyError(Exception):
    pass


def _no_dup(pairs):
    seen = set()
    for k, _ in pairs:
        if k in seen:
            raise BodyError("duplicate key %r" % k)
        seen.add(k)
    return dict(pairs)


def _no_constant(name):
    raise BodyError("non-standard constant %s" % name)


def _check_strings(v):
    if isinstance(v, str):
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise BodyError("a string holds a lone surrogate (\\ud800-style escape)")
    elif isinstance(v, dict):
        for k, x in v.items():
            _check_strings(k)
            _check_strings(x)
    elif isinstance(v, list):
        for x in v:
            _check_strings(x)


def strict_json(data):
    """Parses bytes as strict JSON: strict UTF-8, no duplicate keys, no NaN/Infinity, no lone surrogates."""
    try:
        text = data.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise BodyError("not valid UTF-8 at byte %d: %r" % (e.start, data[max(0, e.start - 20):e.start + 4]))
    if text.startswith("\ufeff"):
        raise BodyError("starts with a byte-order mark")
    try:
        v = json.loads(text, object_pairs_hook=_no_dup, parse_constant=_no_constant)
    except BodyError:
        raise
    except ValueError as e:
        raise BodyError("not JSON: %s: %r" % (e, text[:80]))
    _check_strings(v)
    return v


def parse_sse(data):
    """The JSON events of a server-sent-event body that must end with `data: [DONE]`."""
    try:
        text = data.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise BodyError("SSE not valid UTF-8 at byte %d" % e.start)
    events, done = [], False
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        if done:
            raise BodyError("an event after [DONE]")
        payload = []
        for line in block.split("\n"):
            if line.startswith(":"):
                continue
            if not line.startswith("data:"):
                raise BodyError("SSE line is not 'data:': %r" % line[:60])
            payload.append(line[5:].lstrip(" ") if line.startswith("data: ") else line[5:])
        p = "\n".join(payload)
        if p == "[DONE]":
            done = True
            continue
        events.append(strict_json(p.encode("utf-8")))
    if not text.endswith("\n\n"):
        raise BodyError("SSE does not end with a blank line")
    if not done:
        raise BodyError("SSE without data: [DONE]")
    return events


def check_error_object(v, status):
    if not isinstance(v, dict) or set(v) != {"error"} or not isinstance(v["error"], dict):
        raise BodyError("a %d body is not an OpenAI error object {\"error\": {...}}" % status)
    e = v["error"]
    for k in ("message", "type", "param", "code"):
        if k not in e:
            raise BodyError("error object without %r" % k)
    if not isinstance(e["message"], str) or not e["message"]:
        raise BodyError("error.message is not a non-empty string")
    if not isinstance(e["type"], str):
        raise BodyError("error.type is not a string")
    if status == 400 and e["type"] != "invalid_request_error":
        raise BodyError("400 with error.type %r (want invalid_request_error)" % e["type"])
    if e["code"] is not None and not isinstance(e["code"], str):
        raise BodyError("error.code is neither a string nor null")


def check_body(resp, path=b""):
    """None when the body is acceptable, else why not. JSON, or SSE with JSON events, or (GET
    /metrics) UTF-8 text; 4xx/5xx bodies must be OpenAI error objects."""
    if resp.framing_error:
        return "framing: " + resp.framing_error
    ctype = (resp.header("content-type") or "").lower()
    try:
        if resp.status in (204, 304) or resp.head_request or \
                (not resp.body and resp.status is not None and resp.status < 200):
            return None
        if "text/event-stream" in ctype:
            evs = parse_sse(resp.body)
            if resp.status == 200:
                if not evs:
                    raise BodyError("SSE without events")
                for ev in evs[:-1]:
                    if "error" in ev:
                        raise BodyError("an error event in a 200 stream: %r" % str(ev)[:120])
            return None
        if path.split(b"?")[0] == b"/metrics" and resp.status == 200:
            resp.body.decode("utf-8", "strict")
            return None
        if not resp.body:
            raise BodyError("empty body (Content-Type %r)" % ctype)
        v = strict_json(resp.body)
        if "application/json" not in ctype:
            raise BodyError("JSON body with Content-Type %r" % ctype)
        if resp.status is not None and resp.status >= 400:
            check_error_object(v, resp.status)
        return None
    except BodyError as e:
        excerpt = resp.body[:60]
        return "%s (body %r)" % (e, excerpt)
    except UnicodeDecodeError as e:
        return "not valid UTF-8 at byte %d" % e.start


def is_listening(port):
    """Whether some socket listens on TCP port `port` (from /proc/net/tcp; None when unreadable)."""
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and int(parts[1].split(":")[1], 16) == port:
                    return True
        return False
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def percentile(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(xs) - 1)
    return xs[f] + (xs[c] - xs[f]) * (k - f)
