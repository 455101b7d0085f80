"""The hostile-request corpus of scripts/hostile-http.sh, as a table.

GROUPS is a list of (group name, [entries]). An entry is
  E(name, request, expect, ...)   one exchange: `request` is the exact bytes sent (build them with
                                  req()/post()/chat()/... or write them raw), or [(bytes, seconds to
                                  wait after), ...] to send in timed steps. "@HOSTPORT@" and "@PORT@"
                                  are replaced by the server's "127.0.0.1:PORT" and port.
  A(name, function)               a scenario that needs more than one exchange (see hostile.py).
`expect` is a status or a set of statuses; add CLOSED where "the connection closed without a response"
is acceptable and PENDING where "no response within the timeout" is (otherwise both are failures).
Optional: code="..." (the error object's `code` when the status is an error), check=f (f(response) returns
None or what is wrong), timeout=seconds, half_close=True (shut down our sending side after the request),
mhd=True: libmicrohttpd (0.9.75, Debian 12) answers this request itself before vkslm sees it, with its own
HTML page (or, for a NUL in the request line or a header, drops what follows the NUL): the status is
checked, the body is not. docs/probe.md lists these entries.

The server under test runs hostile.py's config: experts `stories` (stories260K, parallel 2), `busy`
(the same model, parallel 1) and `chatml` (tiny-qwen2-random with the ChatML template), max_body_bytes
1 MiB, max_queue 2. Every response body must be strict JSON (an OpenAI error object for 4xx/5xx), or SSE
of strict-JSON events, in strict UTF-8; the runner checks that for every entry without being told.
"""
import json

CLOSED = "closed"
PENDING = "pending"
CHAT = "/v1/chat/completions"
COMP = "/v1/completions"
LIMIT = 1 << 20  # max_body_bytes in hostile.py's config


class E:
    def __init__(self, name, request, expect, code=None, check=None, timeout=None, half_close=False, mhd=False):
        self.name, self.request, self.code, self.check, self.mhd = name, request, code, check, mhd
        self.expect = set(expect) if isinstance(expect, (set, list, tuple, frozenset)) else {expect}
        self.timeout, self.half_close = timeout, half_close


class A:
    def __init__(self, name, action, timeout=None, **kw):
        self.name, self.action, self.timeout, self.kw = name, action, timeout, kw


def j(obj):
    return json.dumps(obj).encode("utf-8")


def req(method, path, body=None, headers=(), host=True, ctype="application/json", version=b"HTTP/1.1"):
    """An ordinary request: Host @HOSTPORT@, Content-Length when there is a body, Connection: close."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if isinstance(path, str):
        path = path.encode("utf-8")
    if isinstance(method, str):
        method = method.encode("utf-8")
    lines = [method + b" " + path + b" " + version]
    if host:
        lines.append(b"Host: @HOSTPORT@")
    if body is not None:
        if ctype:
            lines.append(b"Content-Type: " + ctype.encode())
        lines.append(b"Content-Length: %d" % len(body))
    lines.append(b"Connection: close")
    lines += [h if isinstance(h, bytes) else h.encode("utf-8") for h in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + (body or b"")


def get(path, headers=(), **kw):
    return req("GET", path, None, headers, **kw)


def post(path, body, headers=(), **kw):
    return req("POST", path, body, headers, **kw)


def chat_body(**over):
    b = {"model": "stories", "messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 4}
    for k, v in over.items():
        if v is DROP:
            b.pop(k, None)
        else:
            b[k] = v
    return b


def comp_body(**over):
    b = {"model": "stories", "prompt": "Once upon a time", "max_tokens": 4}
    for k, v in over.items():
        if v is DROP:
            b.pop(k, None)
        else:
            b[k] = v
    return b


DROP = object()


def chat(headers=(), **over):
    return post(CHAT, j(chat_body(**over)), headers)


def comp(headers=(), **over):
    return post(COMP, j(comp_body(**over)), headers)


def raw_chat(body_bytes, headers=()):
    return post(CHAT, body_bytes, headers)


def msg(**fields):
    return chat(messages=[fields])


def chunked(path, pieces, extra_headers=(), tail=b"0\r\n\r\n"):
    """A chunked POST: `pieces` are raw chunk bytes (size line, data, CRLF), `tail` ends it."""
    head = (b"POST " + path.encode() + b" HTTP/1.1\r\nHost: @HOSTPORT@\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n")
    for h in extra_headers:
        head += h + b"\r\n"
    return head + b"\r\n" + b"".join(pieces) + tail


def chunk(data):
    return b"%x\r\n" % len(data) + data + b"\r\n"


def with_header_lines(lines, body=None, path=CHAT, method=b"POST"):
    """A request with exactly these header lines (no Host/Content-Length added) and this body."""
    return method + b" " + path.encode() + b" HTTP/1.1\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\n" + (
        body or b"")


# ---- checks on 200 answers -----------------------------------------------------------------------------
def is_chat(resp):
    try:
        v = json.loads(resp.body)
        if resp.status == 200 and not isinstance(v["choices"][0]["message"]["content"], str):
            return "message.content is not a string"
    except (ValueError, KeyError, IndexError, TypeError) as e:
        if resp.status == 200:
            return "not a chat.completion (%s)" % e
    return None


def is_completion(resp):
    try:
        v = json.loads(resp.body)
        if resp.status == 200 and not isinstance(v["choices"][0]["text"], str):
            return "text is not a string"
    except (ValueError, KeyError, IndexError, TypeError) as e:
        if resp.status == 200:
            return "not a text_completion (%s)" % e
    return None


def not_expert(name):
    def check(resp):
        if resp.status == 200 and (resp.header("x-vkslm-expert") == name):
            return "answered by expert %r" % name
        return None
    return check


OK_CHAT = chat_body()
BIG = b"a" * (LIMIT + LIMIT // 2)

# ---- the groups -----------------------------------------------------------------------------------------
GROUPS = []


def group(name, entries):
    GROUPS.append((name, entries))


group("sanity", [
    E("chat whole", chat(), 200, check=is_chat),
    E("chat streamed", chat(stream=True), 200),
    E("completion whole", comp(), 200, check=is_completion),
    E("completion streamed", comp(stream=True), 200),
    E("model auto", chat(model="auto"), 200, check=is_chat),
    E("model omitted", chat(model=DROP), 200, check=is_chat),
    E("chatml expert", chat(model="chatml"), 200, check=is_chat),
    E("GET /health", get("/health"), 200),
    E("GET /v1/models", get("/v1/models"), 200),
    E("GET /v1/models?x=1 (query ignored)", get("/v1/models?x=1"), 200),
    E("GET /metrics", get("/metrics"), 200),
    E("metadata keys and values that ask for nothing", chat(user="u", metadata={"a": "b"}, store=False,
                                                           logit_bias={}, logprobs=False), 200, check=is_chat),
    E("unknown key refused", chat(foo=1), 400, code="unknown_parameter"),
    E("unsupported key refused", chat(audio={"voice": "alloy", "format": "wav"}), 400, code="unsupported_parameter"),
    E("Expect: 100-continue", chat(headers=["Expect: 100-continue"]), 200, check=is_chat),
    E("keep-alive off: HTTP/1.0 with Host", req("GET", "/health", version=b"HTTP/1.0"), 200),
])

group("malformed-json", [
    E("empty body", raw_chat(b""), 400),
    E("whitespace only", raw_chat(b"   \n\t "), 400),
    E("lone {", raw_chat(b"{"), 400),
    E("lone }", raw_chat(b"}"), 400),
    E("lone [", raw_chat(b"["), 400),
    E("nul (truncated null)", raw_chat(b"nul"), 400),
    E("null", raw_chat(b"null"), 400),
    E("array", raw_chat(b"[]"), 400),
    E("string", raw_chat(b'"hello"'), 400),
    E("number", raw_chat(b"123"), 400),
    E("true", raw_chat(b"true"), 400),
    E("unterminated object", raw_chat(j(OK_CHAT)[:-1]), 400),
    E("unterminated string", raw_chat(b'{"model": "stor'), 400),
    E("single quotes", raw_chat(b"{'model': 'stories', 'messages': []}"), 400),
    E("unquoted key", raw_chat(b'{model: "stories"}'), 400),
    E("trailing comma in object", raw_chat(j(OK_CHAT)[:-1] + b",}"), 400),
    E("trailing comma in array",
      raw_chat(b'{"messages": [{"role": "user", "content": "hi"},], "max_tokens": 4}'), 400),
    E("comment", raw_chat(b"/* hi */ " + j(OK_CHAT)), 400),
    E("trailing garbage", raw_chat(j(OK_CHAT) + b" x"), 400),
    E("two objects", raw_chat(j(OK_CHAT) + j(OK_CHAT)), 400),
    E("trailing NUL", raw_chat(j(OK_CHAT) + b"\x00"), 400),
    E("NaN", raw_chat(j(OK_CHAT)[:-1] + b', "temperature": NaN}'), 400),
    E("Infinity", raw_chat(j(OK_CHAT)[:-1] + b', "temperature": Infinity}'), 400),
    E("-Infinity", raw_chat(j(OK_CHAT)[:-1] + b', "frequency_penalty": -Infinity}'), 400),
    E("leading zero", raw_chat(j(OK_CHAT)[:-1] + b', "top_k": 08}'), 400),
    E("hex number", raw_chat(j(OK_CHAT)[:-1] + b', "top_k": 0x10}'), 400),
    E("plus sign", raw_chat(j(OK_CHAT)[:-1] + b', "top_k": +1}'), 400),
    E("bare fraction .5", raw_chat(j(OK_CHAT)[:-1] + b', "top_p": .5}'), 400),
    E("dangling 1.", raw_chat(j(OK_CHAT)[:-1] + b', "top_p": 1.}'), 400),
    E("raw control char in string", raw_chat(b'{"messages": [{"role": "user", "content": "a\x01b"}]}'), 400),
    E("raw newline in string", raw_chat(b'{"messages": [{"role": "user", "content": "a\nb"}]}'), 400),
    E("bad escape \\x", raw_chat(b'{"messages": [{"role": "user", "content": "\\x41"}]}'), 400),
    E("short \\u escape", raw_chat(b'{"messages": [{"role": "user", "content": "\\u12"}]}'), 400),
    E("non-hex \\u escape", raw_chat(b'{"messages": [{"role": "user", "content": "\\uZZZZ"}]}'), 400),
    E("byte-order mark", raw_chat(b"\xef\xbb\xbf" + j(OK_CHAT)), {200, 400}),
    E("completions: not JSON", post(COMP, b"prompt=hello"), 400),
    E("completions: array", post(COMP, b'["Once upon a time"]'), 400),
])

group("deep-nesting", [
    E("100k [", raw_chat(b"[" * 100000), 400),
    E("100k {\"a\":", raw_chat(b'{"a":' * 100000), 400),
    E("100k [ closed (not an object)", raw_chat(b"[" * 100000 + b"]" * 100000), 400),
    E("500k [", raw_chat(b"[" * 500000), 400),
    E("100k [ in an unknown key, closed",
      raw_chat(j(OK_CHAT)[:-1] + b', "x": ' + b"[" * 100000 + b"]" * 100000 + b"}"), {200, 400}),
    E("50k {} in an unknown key, closed",
      raw_chat(j(OK_CHAT)[:-1] + b', "x": ' + b'{"a":' * 50000 + b"1" + b"}" * 50000 + b"}"), {200, 400}),
    E("100k [ as content", raw_chat(b'{"messages": [{"role": "user", "content": ' + b"[" * 100000), 400),
    E("100k [ as stop, closed",
      raw_chat(j(OK_CHAT)[:-1] + b', "stop": ' + b"[" * 100000 + b"]" * 100000 + b"}"), 400),
    E("completions: 100k [ as prompt", post(COMP, b'{"prompt": ' + b"[" * 100000), 400),
])

WRONG_TYPES = [
    # (key, [bad values]) for chat; each must give 400 (model: 404 when it is a string naming nobody)
    ("model", [123, True, [], {}, ["stories"]]),
    ("stream", ["true", 1, 0, [], {}]),
    ("messages", ["hi", {}, [], [1], ["hi"], [None], [{}], [[]], None, 0]),
    ("max_tokens", ["4", True, [], {}, [4], {"n": 4}]),
    ("max_completion_tokens", ["4", True, -1, 0.5]),
    ("temperature", ["hot", True, [], -1, 11, 1e308]),
    ("top_p", ["x", 2, -0.1, True]),
    ("top_k", ["5", -1, 1.5, True]),
    ("min_p", ["x", 2, -1]),
    ("seed", ["x", -1, 1.5, 1e20, True]),
    ("stop", [1, [1], [None], {}, True, ["s"] * 17]),
    ("frequency_penalty", ["x", 3, -3]),
    ("presence_penalty", ["x", 3, -3]),
    ("repetition_penalty", ["x", -1, 11]),
    ("n", [17, 0, "1", 1.5, -1]),
]


def _wrong_types():
    out = []
    for key, values in WRONG_TYPES:
        for v in values:
            out.append(E("chat %s=%s" % (key, json.dumps(v)[:40]), chat(**{key: v}), 400, code="invalid_request"))
    for v in [123, None, [], {}, True, ["a", "b"], [["a"]]]:
        out.append(E("completions prompt=%s" % json.dumps(v), comp(prompt=v), 400, code="invalid_request"))
    out.append(E("completions prompt missing", comp(prompt=DROP), 400, code="invalid_request"))
    out.append(E("completions prompt=[1,2] (token ids)", comp(prompt=[1, 2]), {200, 400}))
    for content in [1, True, {}, [1], [{"type": "text"}], [{"type": "text", "text": 1}], [None]]:
        out.append(E("chat content=%s" % json.dumps(content)[:40], msg(role="user", content=content), 400,
                     code="invalid_request"))
    for role in [1, None, True, [], {}]:
        out.append(E("chat role=%s" % json.dumps(role), msg(role=role, content="hi"), 400, code="invalid_request"))
    out.append(E("chat role missing", msg(content="hi"), 400, code="invalid_request"))
    out.append(E("chat content image part", msg(role="user", content=[
        {"type": "image_url", "image_url": {"url": "http://127.0.0.1/x.png"}}]), 400))
    return out


group("wrong-types", _wrong_types())

group("max-tokens", [
    E("max_tokens 0.5", chat(max_tokens=0.5), 400, code="invalid_request"),
    E("max_tokens 1e-320", raw_chat(j(OK_CHAT)[:-1].replace(b'"max_tokens": 4', b'"max_tokens": 1e-320') + b"}"),
      400, code="invalid_request"),
    E("max_tokens -1", chat(max_tokens=-1), 400, code="invalid_request"),
    E("max_tokens 0", chat(max_tokens=0), 400, code="invalid_request"),
    E("max_tokens -0.0", raw_chat(j(chat_body(max_tokens=DROP))[:-1] + b', "max_tokens": -0.0}'), 400),
    E("max_tokens 1e400", raw_chat(j(chat_body(max_tokens=DROP))[:-1] + b', "max_tokens": 1e400}'), 400),
    E("max_tokens 4.5", chat(max_tokens=4.5), 400, code="invalid_request"),
    E("max_tokens 2^31", chat(max_tokens=2 ** 31), {200, 400}),
    E("max_tokens 2^64", chat(max_tokens=2 ** 64), 400),
    E("max_tokens 4.0", raw_chat(j(chat_body(max_tokens=DROP))[:-1] + b', "max_tokens": 4.0}'), {200, 400}),
    E("max_tokens null (the expert's default)", chat(max_tokens=None), 200, check=is_chat),
    E("max_tokens 1", chat(max_tokens=1), 200, check=is_chat),
    E("max_completion_tokens 0", chat(max_tokens=DROP, max_completion_tokens=0), 400),
    E("max_completion_tokens 0.5", chat(max_tokens=DROP, max_completion_tokens=0.5), 400),
    E("completions max_tokens 0.5", comp(max_tokens=0.5), 400),
    E("completions max_tokens 1e-320",
      post(COMP, j(comp_body(max_tokens=DROP))[:-1] + b', "max_tokens": 1e-320}'), 400),
    E("completions max_tokens -1", comp(max_tokens=-1), 400),
    E("completions max_tokens 0", comp(max_tokens=0), 400),
    E("streamed max_tokens 0.5", chat(max_tokens=0.5, stream=True), 400),
])

group("message-content", [
    E("message without content", msg(role="user"), 400, code="invalid_request"),
    E("content null", msg(role="user", content=None), 400, code="invalid_request"),
    E("assistant without content",
      chat(messages=[{"role": "user", "content": "hi"}, {"role": "assistant"}]), 400),
    E("system content null", chat(messages=[{"role": "system", "content": None},
                                            {"role": "user", "content": "hi"}]), 400),
    E("streamed, content null", chat(stream=True, messages=[{"role": "user", "content": None}]), 400),
    E("content empty string", msg(role="user", content=""), {200, 400}),
    E("content empty parts", msg(role="user", content=[]), {200, 400}),
    E("role empty", msg(role="", content="hi"), {200, 400}),
    E("role unknown", msg(role="wizard", content="hi"), {200, 400}),
    E("system only", chat(messages=[{"role": "system", "content": "be nice"}]), {200, 400}),
    E("2000 messages", chat(messages=[{"role": "user", "content": "hi"}] * 2000), 400,
      code="context_length_exceeded"),
    E("200 KB content", msg(role="user", content="once upon a time " * 12000), 400, code="context_length_exceeded"),
    E("completions 200 KB prompt", comp(prompt="once upon a time " * 12000), 400, code="context_length_exceeded"),
])

group("duplicate-keys", [
    E("max_tokens twice", raw_chat(j(OK_CHAT)[:-1] + b', "max_tokens": 5}'), 400),
    E("model twice", raw_chat(j(OK_CHAT)[:-1] + b', "model": "busy"}'), 400),
    E("messages twice", raw_chat(j(OK_CHAT)[:-1] + b', "messages": []}'), 400),
    E("stream twice", raw_chat(j(OK_CHAT)[:-1] + b', "stream": false, "stream": true}'), 400),
    E("model twice, one escaped", raw_chat(j(OK_CHAT)[:-1] + b', "mod\\u0065l": "busy"}'), 400),
    E("role twice", raw_chat(b'{"messages": [{"role": "user", "role": "system", "content": "hi"}], "max_tokens": 4}'),
      400),
    E("content twice", raw_chat(b'{"messages": [{"role": "user", "content": "a", "content": "b"}], "max_tokens": 4}'),
      400),
    E("text part key twice",
      raw_chat(b'{"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "text": "b"}]}],'
               b' "max_tokens": 4}'), 400),
    E("inside an unknown key", raw_chat(j(OK_CHAT)[:-1] + b', "x": {"a": 1, "a": 2}}'), 400),
    E("completions prompt twice", post(COMP, j(comp_body())[:-1] + b', "prompt": "evil"}'), 400),
])

LONG_E = "\u00e9" * 700  # 1400 bytes: an error message quoting it cut at a byte count may split a character

group("invalid-utf8", [
    E("model \\xff", raw_chat(b'{"model": "\xff", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'),
      404, code="model_not_found"),
    E("model \\xff\\xfe\\xfd x300", raw_chat(b'{"model": "' + b"\xff\xfe\xfd" * 300 + b'", "messages": '
                                             b'[{"role": "user", "content": "hi"}], "max_tokens": 4}'), 404),
    E("model overlong / \\xc0\\xaf", raw_chat(b'{"model": "\xc0\xaf", "messages": [{"role": "user", "content": '
                                              b'"hi"}], "max_tokens": 4}'), {400, 404}),
    E("model CESU surrogate bytes", raw_chat(b'{"model": "\xed\xa0\x80", "messages": [{"role": "user", '
                                             b'"content": "hi"}], "max_tokens": 4}'), {400, 404}),
    E("model escaped lone surrogate", raw_chat(b'{"model": "\\ud800", "messages": [{"role": "user", '
                                               b'"content": "hi"}], "max_tokens": 4}'), {400, 404}),
    E("model truncated 2-byte char", raw_chat(b'{"model": "ab\xc3", "messages": [{"role": "user", '
                                              b'"content": "hi"}], "max_tokens": 4}'), {400, 404}),
    E("model 700 x e-acute (long, valid)", chat(model=LONG_E), 404, code="model_not_found"),
    E("model 4-byte chars x 400", chat(model="\U0001F600" * 400), 404),
    E("content \\xff\\xfe", raw_chat(b'{"messages": [{"role": "user", "content": "\xff\xfe"}], "max_tokens": 4}'),
      {200, 400}),
    E("content above U+10FFFF", raw_chat(b'{"messages": [{"role": "user", "content": "\xf4\x90\x80\x80"}], '
                                         b'"max_tokens": 4}'), {200, 400}),
    E("content escaped lone surrogate", raw_chat(b'{"messages": [{"role": "user", "content": "a\\udc00b"}], '
                                                 b'"max_tokens": 4}'), {200, 400}),
    E("completions prompt \\x80", post(COMP, b'{"prompt": "\x80\x80", "max_tokens": 4}'), {200, 400}),
    E("key \\xff", raw_chat(j(OK_CHAT)[:-1] + b', "\xff": 1}'), {200, 400}),
    E("stop \\xff", raw_chat(j(OK_CHAT)[:-1] + b', "stop": "\xff"}'), {200, 400}),
    E("role \\xff", raw_chat(b'{"messages": [{"role": "\xff", "content": "hi"}], "max_tokens": 4}'), {200, 400}),
    E("GET /%ff%fe", get("/%ff%fe"), 404, code="not_found"),
    E("GET /%c3 (truncated)", get("/%c3"), 404),
    E("GET raw /\\xff\\xfe", get(b"/\xff\xfe"), {400, 404}),
    E("GET /\\xc3\\xa9 (valid UTF-8)", get(b"/\xc3\xa9"), 404),
    E("GET /%ff x 2000", get("/" + "%ff" * 2000), {404, 414}),
    E("POST to /%ff", post("/%ff", j(OK_CHAT)), 404),
    E("header value \\xff\\xfe", get("/health", [b"X-Junk: \xff\xfe"]), 200),
    E("User-Agent overlong", get("/health", [b"User-Agent: \xc0\xaf"]), 200),
    E("header name \\xff", get("/health", [b"\xff: x"]), 400),
    E("method G\\xffT", req(b"G\xffT", "/health"), {400, 405}),
])

group("nul-bytes", [
    E("GET /health%00.json", get("/health%00.json"), 400),
    E("GET /v1/models%00", get("/v1/models%00"), 400),
    E("GET /v1/models%00/x", get("/v1/models%00/x"), 400),
    E("GET /%00", get("/%00"), 400),
    E("POST /v1/chat/completions%00", post(CHAT + "%00", j(OK_CHAT)), 400),
    E("raw NUL in path", get(b"/health\x00.json"), {200, 400}, mhd=True),
    E("raw NUL in method", req(b"GET\x00", "/health"), {200, 400}, mhd=True),
    E("raw NUL in content", raw_chat(b'{"messages": [{"role": "user", "content": "a\x00b"}], "max_tokens": 4}'), 400),
    E("body is one NUL", raw_chat(b"\x00"), 400),
    E("NUL before the body", raw_chat(b"\x00" + j(OK_CHAT)), 400),
    E("escaped \\u0000 in content", raw_chat(b'{"messages": [{"role": "user", "content": "a\\u0000b"}], '
                                             b'"max_tokens": 4}'), {200, 400}),
    E("model stories\\u0000evil", raw_chat(b'{"model": "stories\\u0000evil", "messages": [{"role": "user", '
                                           b'"content": "hi"}], "max_tokens": 4}'), {400, 404},
      check=not_expert("stories")),
    E("completions prompt \\u0000", post(COMP, b'{"prompt": "\\u0000", "max_tokens": 4}'), {200, 400}),
    E("header value with NUL", get("/health", [b"X-A: a\x00b"]), {200, 400}),
    E("Host with NUL", get("/health", [], host=False)[:-2] + b"Host: 127.0.0.1\x00.evil.example\r\n\r\n", {200, 400, 403},
      mhd=True),
    E("query %00", get("/v1/models?x=%00"), {200, 400}),
])

group("body-size", [
    E("1.5 MiB body, Content-Length", raw_chat(b'{"messages": [{"role": "user", "content": "' + BIG + b'"}]}'),
      413, code="request_too_large"),
    E("1.5 MiB body, chunked", chunked(CHAT, [chunk(BIG[i:i + 65536]) for i in range(0, len(BIG), 65536)]),
      {400, 411, 413}),
    E("1.5 MiB to /v1/completions", post(COMP, b'{"prompt": "' + BIG + b'"}'), 413),
    E("1.5 MiB to an unknown path", post("/nope", BIG), {404, 413}),
    E("1.5 MiB to GET /health", req("GET", "/health", BIG), {400, 405, 413}),
    E("Content-Length 10^12, 64 KiB sent", [(b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: @HOSTPORT@\r\n"
                                             b"Content-Length: 1000000000000\r\nConnection: close\r\n\r\n"
                                             + b" " * 65536, 0)], 413, timeout=15),
    E("Content-Length 2 MiB with Expect: 100-continue, no body",
      b"POST " + CHAT.encode() + b" HTTP/1.1\r\nHost: @HOSTPORT@\r\nContent-Length: 2097152\r\n"
      b"Expect: 100-continue\r\nConnection: close\r\n\r\n", {413, 417}, timeout=15),
    E("body at the limit (spaces)", raw_chat(j(OK_CHAT) + b" " * (LIMIT - len(j(OK_CHAT)))), 200, check=is_chat),
    E("body one byte over the limit", raw_chat(j(OK_CHAT) + b" " * (LIMIT + 1 - len(j(OK_CHAT)))), 413),
])

OKB = j(OK_CHAT)
group("chunked", [
    # a server may refuse chunked bodies altogether (411 Length Required, or 400), or must parse them right
    E("valid chunked body", chunked(CHAT, [chunk(OKB[:10]), chunk(OKB[10:])]), {200, 400, 411}, check=is_chat),
    E("1 byte per chunk", chunked(CHAT, [chunk(OKB[i:i + 1]) for i in range(len(OKB))]), {200, 400, 411},
      check=is_chat),
    E("trailer after the last chunk", chunked(CHAT, [chunk(OKB)], tail=b"0\r\nX-Trailer: 1\r\n\r\n"), {200, 400}),
    E("absurd chunk size (24 hex digits)", chunked(CHAT, [b"FFFFFFFFFFFFFFFFFFFFFFFF\r\n" + OKB + b"\r\n"]), 400),
    E("chunk size 2^63-1", chunked(CHAT, [b"7FFFFFFFFFFFFFFF\r\n" + OKB + b"\r\n"]), {400, 413}, timeout=15),
    E("chunk size 1 GiB, little data", chunked(CHAT, [b"40000000\r\n" + OKB + b"\r\n"]), {400, 413}, timeout=15),
    E("chunk size not hex", chunked(CHAT, [b"zz\r\n" + OKB + b"\r\n"]), 400),
    E("chunk size negative", chunked(CHAT, [b"-5\r\nhello\r\n"]), 400),
    E("chunk size empty", chunked(CHAT, [b"\r\nhello\r\n"]), 400),
    E("chunk data longer than its size", chunked(CHAT, [b"2\r\n" + OKB + b"\r\n"]), 400),
    E("no CRLF after chunk data", chunked(CHAT, [b"%x\r\n" % len(OKB) + OKB + b"XY"]), 400),
    E("no last chunk, then EOF", chunked(CHAT, [chunk(OKB)], tail=b""), {400, CLOSED}, half_close=True),
    E("100 KB chunk extension", chunked(CHAT, [b"%x;" % len(OKB) + b"e" * 100000 + b"\r\n" + OKB + b"\r\n"]),
      {400, 413, 431}),
    E("Transfer-Encoding chunked + Content-Length", chunked(CHAT, [chunk(OKB)], [b"Content-Length: 4"]), {200, 400}),
    E("Transfer-Encoding gzip, chunked", chunked(CHAT, [chunk(OKB)])
      .replace(b"Transfer-Encoding: chunked", b"Transfer-Encoding: gzip, chunked"), {400, 501}),
    E("Transfer-Encoding bogus", req("POST", CHAT, OKB, [b"Transfer-Encoding: bogus"]), {400, 501}),
    E("Transfer-Encoding twice", chunked(CHAT, [chunk(OKB)], [b"Transfer-Encoding: chunked"]), {200, 400}),
    E("LF-only chunk lines", chunked(CHAT, [b"%x\n" % len(OKB) + OKB + b"\n"], tail=b"0\n\n"), {200, 400}),
])

group("headers", [
    E("one 100 KB header", get("/health", [b"X-Big: " + b"a" * 100000]), {400, 431}, mhd=True),
    E("one 1 MB header", get("/health", [b"X-Big: " + b"a" * 1000000]), {400, 431}, mhd=True),
    E("5000 headers", get("/health", [b"X-H%d: v" % i for i in range(5000)]), {400, 431}, mhd=True),
    E("200 small headers", get("/health", [b"X-H%d: v" % i for i in range(200)]), 200),
    E("conflicting Content-Length", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: %d" % len(OKB), b"Content-Length: %d" % (len(OKB) - 5),
         b"Connection: close"], OKB), 400),
    E("conflicting Content-Length (smaller first)", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: 5", b"Content-Length: %d" % len(OKB), b"Connection: close"], OKB),
      400),
    E("Content-Length list 5, 6", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: %d, 6" % len(OKB), b"Connection: close"], OKB), 400, mhd=True),
    E("same Content-Length twice", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: %d" % len(OKB), b"Content-Length: %d" % len(OKB),
         b"Connection: close"], OKB), {200, 400}),
    E("Content-Length -1", with_header_lines([b"Host: @HOSTPORT@", b"Content-Length: -1", b"Connection: close"], OKB),
      400, mhd=True),
    E("Content-Length abc", with_header_lines([b"Host: @HOSTPORT@", b"Content-Length: abc", b"Connection: close"],
                                              OKB), 400, mhd=True),
    E("Content-Length +N", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: +%d" % len(OKB), b"Connection: close"], OKB), 400, mhd=True),
    E("Content-Length 2^64+", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: 99999999999999999999999", b"Connection: close"], OKB), {400, 413},
      mhd=True),
    E("Content-Length longer than the body, then EOF", with_header_lines(
        [b"Host: @HOSTPORT@", b"Content-Length: %d" % (len(OKB) + 50), b"Connection: close"], OKB), {400, CLOSED},
      half_close=True),
    E("header line without a colon", get("/health", [b"NoColonHere"]), 400, mhd=True),
    # RFC 9112: obs-fold and bare CR may be rejected (400) or replaced by spaces; whitespace before the
    # colon must be rejected
    E("obs-fold continuation line", get("/health", [b"X-A: a", b" folded"]), {200, 400}),
    E("space before the colon", get("/health", [b"X-A : a"]), 400),
    E("space in a header name", get("/health", [b"X A: a"]), 400),
    E("bare CR in a header", get("/health", [b"X-A: a\rb"]), {200, 400}),
    E("request line garbage", b"GARBAGE\r\n\r\n", {400, CLOSED}, mhd=True),
    E("request line with extra spaces", b"GET  /health  HTTP/1.1\r\nHost: @HOSTPORT@\r\n\r\n", {200, 400}),
    E("HTTP/2.0", req("GET", "/health", version=b"HTTP/2.0"), {400, 505}, mhd=True),
    E("HTTP/9.9", req("GET", "/health", version=b"HTTP/9.9"), {400, 505}, mhd=True),
    E("HTTP/1.1 without Host", get("/health", host=False), 400),
    E("HTTP/1.0 without Host", req("GET", "/health", host=False, version=b"HTTP/1.0"), {200, 400, 403}),
    E("LF-only line endings", b"GET /health HTTP/1.1\nHost: @HOSTPORT@\nConnection: close\n\n", {200, 400}),
    E("100 KB URL", get("/" + "a" * 100000), {400, 414, 431}, mhd=True),
    E("absolute-form target, own host", req("GET", "http://@HOSTPORT@/health"), {200, 400}),
    E("absolute-form target, foreign host", req("GET", "http://evil.example/health"), {400, 403}),
])

group("methods-paths", [
    E("GET /v1/chat/completions", get(CHAT), 405, code="method_not_allowed"),
    E("GET /v1/completions", get(COMP), 405),
    E("PUT /v1/chat/completions", req("PUT", CHAT, OKB), 405),
    E("DELETE /v1/completions", req("DELETE", COMP), 405),
    E("POST /health", post("/health", b"{}"), 405),
    E("POST /v1/models", post("/v1/models", b"{}"), 405),
    E("PATCH /metrics", req("PATCH", "/metrics", b"{}"), 405),
    E("HEAD /health", req("HEAD", "/health"), {200, 405}),
    E("OPTIONS /v1/chat/completions (no Origin)", req("OPTIONS", CHAT), {200, 204, 405}),
    E("unknown method FOO", req("FOO", "/health"), {400, 405, 501}),
    E("lower-case get", req("get", "/health"), {400, 405}),
    E("TRACE /", req("TRACE", "/"), {404, 405}),
    E("GET /", get("/"), 404, code="not_found"),
    E("GET /v1", get("/v1"), 404),
    E("GET /v1/chat/completions/", get(CHAT + "/"), 404),
    E("POST /v1/chat/completions/", post(CHAT + "/", OKB), 404),
    E("GET /V1/MODELS", get("/V1/MODELS"), 404),
    E("GET /health/", get("/health/"), 404),
    E("GET //health", get("//health"), 404),
    E("GET /healthz", get("/healthz"), 404),
    E("GET /../../etc/passwd", get("/../../etc/passwd"), {400, 404}),
    E("GET /%2e%2e/%2e%2e/etc/passwd", get("/%2e%2e/%2e%2e/etc/passwd"), {400, 404}),
    E("GET /v1/models/stories", get("/v1/models/stories"), {200, 404}),
    E("GET * (asterisk form)", get("*"), {400, 404}),
])

FOREIGN = b"http://evil.example"
group("origin-host", [
    E("Origin foreign, POST chat", chat(headers=[b"Origin: " + FOREIGN]), 403),
    E("Origin foreign, POST completions", comp(headers=[b"Origin: " + FOREIGN]), 403),
    E("Origin foreign, streamed", chat(headers=[b"Origin: " + FOREIGN], stream=True), 403),
    E("Origin foreign, GET /v1/models", get("/v1/models", [b"Origin: " + FOREIGN]), 403),
    E("Origin foreign, GET /health", get("/health", [b"Origin: " + FOREIGN]), 403),
    E("Origin foreign, GET /metrics", get("/metrics", [b"Origin: " + FOREIGN]), 403),
    E("Origin foreign, unknown path", get("/nope", [b"Origin: " + FOREIGN]), {403, 404}),
    E("Origin foreign, preflight", req("OPTIONS", CHAT, None, [b"Origin: " + FOREIGN,
                                                               b"Access-Control-Request-Method: POST"]), 403),
    E("Origin null", chat(headers=[b"Origin: null"]), 403),
    E("Origin localhost.evil.example", chat(headers=[b"Origin: http://localhost.evil.example"]), 403),
    E("Origin 127.0.0.1.evil.example", chat(headers=[b"Origin: http://127.0.0.1.evil.example:@PORT@"]), 403),
    E("Origin http://127.0.0.1:PORT@evil.example",
      chat(headers=[b"Origin: http://127.0.0.1:@PORT@@evil.example"]), 403),
    E("two Origins, one foreign", chat(headers=[b"Origin: http://127.0.0.1:@PORT@", b"Origin: " + FOREIGN]),
      {400, 403}),
    # the server serves no pages, so it may refuse every Origin it was not configured to allow
    E("Origin own (127.0.0.1:PORT)", chat(headers=[b"Origin: http://127.0.0.1:@PORT@"]), {200, 403}, check=is_chat),
    E("Origin own (localhost:PORT)", chat(headers=[b"Origin: http://localhost:@PORT@"]), {200, 403}, check=is_chat),
    E("Host foreign", get("/v1/models", [b"Host: evil.example"], host=False), 403),
    E("Host foreign with port", get("/v1/models", [b"Host: evil.example:@PORT@"], host=False), 403),
    E("Host foreign, POST chat", post(CHAT, OKB, [b"Host: evil.example"], host=False), 403),
    E("Host foreign, GET /health", get("/health", [b"Host: evil.example"], host=False), 403),
    E("Host localhost.evil.example", get("/v1/models", [b"Host: localhost.evil.example"], host=False), 403),
    E("Host 127.0.0.1.nip.io", get("/v1/models", [b"Host: 127.0.0.1.nip.io:@PORT@"], host=False), 403),
    E("Host localhost:PORT@evil.example", get("/v1/models", [b"Host: localhost:@PORT@@evil.example"], host=False),
      {400, 403}),
    E("Host 127.0.0.2:PORT", get("/v1/models", [b"Host: 127.0.0.2:@PORT@"], host=False), 403),
    E("Host 0.0.0.0:PORT", get("/v1/models", [b"Host: 0.0.0.0:@PORT@"], host=False), 403),
    E("Host 2130706433 (decimal IP)", get("/v1/models", [b"Host: 2130706433:@PORT@"], host=False), {400, 403}),
    E("Host empty", get("/v1/models", [b"Host: "], host=False), {400, 403}),
    E("Host twice, one foreign", get("/v1/models", [b"Host: 127.0.0.1:@PORT@", b"Host: evil.example"], host=False),
      {400, 403}),
    E("Host \\xff", get("/v1/models", [b"Host: \xff"], host=False), {400, 403}),
    E("Host localhost", get("/v1/models", [b"Host: localhost"], host=False), 200),
    E("Host localhost:PORT", get("/v1/models", [b"Host: localhost:@PORT@"], host=False), 200),
    E("Host 127.0.0.1", get("/v1/models", [b"Host: 127.0.0.1"], host=False), 200),
    E("Host 127.0.0.1:PORT", get("/v1/models", [b"Host: 127.0.0.1:@PORT@"], host=False), 200),
    E("Host LOCALHOST:PORT (case)", get("/v1/models", [b"Host: LOCALHOST:@PORT@"], host=False), 200),
    E("Host [::1]:PORT", get("/v1/models", [b"Host: [::1]:@PORT@"], host=False), {200, 403}),
    E("Host localhost. (trailing dot)", get("/v1/models", [b"Host: localhost.:@PORT@"], host=False), {200, 403}),
])

# Scenarios (hostile.py implements them; the name after A( is what the report shows).
group("template-injection", [
    A("<|im_start|> in a user message is text, not a special token", "forge_content"),
    A("<|im_end|><|im_start|>system forged in a user message", "forge_system"),
    A("<|im_start|> in a role", "forge_role"),
    A("<|endoftext|> in a user message is text", "forge_eos"),
])

group("slow-clients", [
    A("request headers 1 byte per 10 ms, /health answered meanwhile", "slow_headers"),
    A("request body 1 byte per 20 ms, /health answered meanwhile", "slow_body"),
    A("stalled body (8 s), a completion answered meanwhile", "stalled_body"),
    A("client half-closes after a valid request", "half_close"),
])

group("idle-connections", [
    A("1100 idle connections from 127.0.0.2; 127.0.0.1 answered promptly", "idle_flood", idle=1100),
])

group("overload", [
    A("8 concurrent requests to a parallel-1 expert with max_queue 2: 200 or 503", "overload", clients=8),
])
