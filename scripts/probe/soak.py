"""Soak test of `vkslm serve` (run through scripts/soak.sh): N concurrent clients send a mix of chat and
text completions, whole and streamed (and now and then GET /health and /v1/models), for S seconds.
Every response must be 200 with a strict-JSON body (or SSE of strict-JSON events ending in [DONE]) of
the right shape. Prints requests, errors, latency percentiles and the server's RSS after a warm-up and at
the end. Exit status 1 on any error, a crash, an unclean SIGTERM exit (or a sanitizer report), or RSS
growth after the warm-up of --max-rss-growth-mib (64) or more."""
import argparse
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PROMPTS = [
    "Once upon a time", "Tell me a story about a little dog", "The sun was shining and", "Lily wanted to",
    "Write a bedtime story about a brave dragon", "Tom and his friend went to the park", "One day, a cat",
    "\u00c9l\u00e8ve: \u00ab bonjour \u00bb \u2014 \u4f60\u597d \U0001F600", "a" * 60,
]


def soak_config(args):
    return {
        "host": "127.0.0.1", "port": 0, "max_body_bytes": 1 << 20,
        "router": {"max_queue": 64, "queue_timeout_ms": 120000},
        "experts": [{
            "name": "stories", "model": common.model_path("stories260K.gguf"),
            "role": "short children's stories", "context": 512, "parallel": 4,
            "sampling": {"temperature": 0, "max_tokens": 16},
        }],
    }


def make_request(rng, model):
    """(kind, method, path, body dict or None)."""
    r = rng.random()
    if r < 0.04:
        return "health", "GET", "/health", None
    if r < 0.08:
        return "models", "GET", "/v1/models", None
    chat = rng.random() < 0.5
    stream = rng.random() < 0.5
    body = {"model": model, "max_tokens": rng.randint(1, 12), "stream": stream}
    if rng.random() < 0.5:
        body["temperature"] = round(rng.uniform(0.1, 1.2), 2)
        body["seed"] = rng.randint(0, 1 << 30)
        body["top_p"] = round(rng.uniform(0.5, 1.0), 2)
    if rng.random() < 0.2:
        body["stop"] = ["\n", "."]
    prompt = rng.choice(PROMPTS)
    if chat:
        msgs = [{"role": "user", "content": prompt or "hi"}]
        if rng.random() < 0.3:
            msgs = [{"role": "system", "content": "You tell stories."},
                    {"role": "user", "content": "Hello"},
                    {"role": "assistant", "content": "Once upon a time"}] + msgs
        body["messages"] = msgs
        return ("chat-stream" if stream else "chat"), "POST", "/v1/chat/completions", body
    body["prompt"] = prompt
    return ("completion-stream" if stream else "completion"), "POST", "/v1/completions", body


def check_ok(kind, resp, path):
    """None, or what is wrong with a response to a well-formed request."""
    if resp.outcome != "ok":
        return "%s (%s%s)" % (resp.outcome, "no response" if resp.status is None else "status %d" % resp.status,
                              ", send: " + resp.send_error if resp.send_error else "")
    if resp.status != 200:
        return "status %d: %r" % (resp.status, resp.body[:200])
    bad = common.check_body(resp, path.encode())
    if bad:
        return "invalid body: " + bad
    try:
        if kind in ("chat-stream", "completion-stream"):
            evs = common.parse_sse(resp.body)
            last = evs[-1]
            c0 = last["choices"][0]
            if c0.get("finish_reason") not in ("stop", "length"):
                return "last chunk without finish_reason: %r" % str(last)[:200]
            if not isinstance(last.get("usage"), dict):
                return "last chunk without usage"
            for ev in evs:
                ch = ev["choices"][0]
                piece = ch["delta"].get("content", "") if kind == "chat-stream" else ch["text"]
                if not isinstance(piece, str):
                    return "a chunk's text is not a string"
        else:
            v = common.strict_json(resp.body)
            if kind == "chat":
                if not isinstance(v["choices"][0]["message"]["content"], str):
                    return "message.content is not a string"
            elif kind == "completion":
                if not isinstance(v["choices"][0]["text"], str):
                    return "text is not a string"
            elif kind == "health":
                if v.get("status") != "ok":
                    return "health status %r" % v.get("status")
            elif kind == "models":
                if not isinstance(v.get("data"), list):
                    return "models without data"
    except (KeyError, IndexError, TypeError, common.BodyError) as e:
        return "unexpected shape (%s): %r" % (e, resp.body[:200])
    return None


def one(port, rng, model, timeout):
    kind, method, path, body = make_request(rng, model)
    data = common.fill(common.http_request(method, path, json.dumps(body) if body is not None else None), port)
    resp = common.exchange(port, data, timeout=timeout)
    return kind, resp, check_ok(kind, resp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vkslm", required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--config", help="a serve config to use instead of the generated one (requests use model auto)")
    ap.add_argument("--timeout", type=float, default=120, help="seconds one request may take")
    ap.add_argument("--max-rss-growth-mib", type=float, default=64)
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    common.require_executable(args.vkslm, "soak")
    seed = args.seed if args.seed is not None else int(time.time()) & 0xFFFFFF
    cfg_path = args.config or common.write_config(soak_config(args))
    model = "auto" if args.config else "stories"
    print("soak: %s, %d clients, %.0f s, config %s, seed %d" % (args.vkslm, args.clients, args.seconds,
                                                                args.config or "(generated: stories260K)", seed))
    srv = common.Server(args.vkslm, cfg_path)
    failures = []
    try:
        t = time.monotonic()
        srv.start()
        print("server pid %d on port %d, up in %.1f s" % (srv.pid, srv.port, time.monotonic() - t))
        # warm-up: each kind once, then a round at full concurrency (pipelines compiled, sessions made)
        t = time.monotonic()
        rng = random.Random(seed)
        warm_errors = []
        for kind in ("chat", "chat-stream", "completion", "completion-stream"):
            while True:
                k, resp, bad = one(srv.port, rng, model, args.timeout)
                if k == kind:
                    break
            if bad:
                warm_errors.append("%s: %s" % (k, bad))
        results = [None] * args.clients

        def warm(i):
            results[i] = one(srv.port, random.Random(seed + 1000 + i), model, args.timeout)

        ts = [threading.Thread(target=warm, args=(i,)) for i in range(args.clients)]
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        warm_errors += ["%s: %s" % (k, bad) for k, _, bad in results if bad]
        rss0 = srv.rss_kib()
        print("warm-up: %.1f s, RSS %.1f MiB" % (time.monotonic() - t, (rss0 or 0) / 1024))
        for e in warm_errors:
            failures.append("warm-up " + e)

        lock = threading.Lock()
        lat = {}
        counts = {"requests": 0, "errors": 0}
        errors = []
        deadline = time.monotonic() + args.seconds
        rss_peak = [rss0 or 0]

        def client(i):
            crng = random.Random(seed * 7919 + i)
            while time.monotonic() < deadline and srv.alive():
                kind, resp, bad = one(srv.port, crng, model, args.timeout)
                with lock:
                    counts["requests"] += 1
                    lat.setdefault(kind, []).append(resp.elapsed)
                    if bad:
                        counts["errors"] += 1
                        if len(errors) < 20:
                            errors.append("%s: %s" % (kind, bad))

        ts = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        t = time.monotonic()
        for th in ts:
            th.start()
        next_report = t + 30
        while any(th.is_alive() for th in ts):
            time.sleep(0.5)
            r = srv.rss_kib()
            if r:
                rss_peak[0] = max(rss_peak[0], r)
            if time.monotonic() >= next_report:
                next_report += 30
                with lock:
                    print("  %4.0f s: %d requests, %d errors, RSS %.1f MiB" % (
                        time.monotonic() - t, counts["requests"], counts["errors"], (r or 0) / 1024), flush=True)
        for th in ts:
            th.join()
        wall = time.monotonic() - t
        crashed = not srv.alive()
        rss1 = srv.rss_kib()
        all_lat = [x for v in lat.values() for x in v]
        print()
        print("| requests | errors | req/s | p50 ms | p90 ms | p99 ms | RSS after warm-up MiB | RSS at end MiB | growth MiB | peak MiB |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        growth = ((rss1 or 0) - (rss0 or 0)) / 1024
        print("| %d | %d | %.1f | %.0f | %.0f | %.0f | %.1f | %s | %s | %.1f |" % (
            counts["requests"], counts["errors"], counts["requests"] / wall if wall else 0,
            1e3 * common.percentile(all_lat, 50), 1e3 * common.percentile(all_lat, 90),
            1e3 * common.percentile(all_lat, 99), (rss0 or 0) / 1024,
            "%.1f" % ((rss1 or 0) / 1024) if rss1 else "-", "%.1f" % growth if rss1 else "-", rss_peak[0] / 1024))
        print()
        print("| kind | requests | p50 ms | p90 ms | p99 ms |")
        print("|---|---|---|---|---|")
        for kind in sorted(lat):
            xs = lat[kind]
            print("| %s | %d | %.0f | %.0f | %.0f |" % (kind, len(xs), 1e3 * common.percentile(xs, 50),
                                                   1e3 * common.percentile(xs, 90), 1e3 * common.percentile(xs, 99)))
        for e in errors:
            failures.append("error " + e)
        if counts["errors"] > len(errors):
            failures.append("... and %d more errors" % (counts["errors"] - len(errors)))
        if counts["requests"] == 0:
            failures.append("no requests were made")
        if crashed:
            failures.append("the server crashed (%s):\n%s" % (srv.describe_exit(), srv.log_tail()))
        elif rss1 is not None and rss0 is not None and growth >= args.max_rss_growth_mib:
            failures.append("RSS grew by %.1f MiB after the warm-up (limit %.0f)" % (growth, args.max_rss_growth_mib))
        clean, words = srv.stop()
        print()
        print("server stop (SIGTERM): %s" % words)
        if not clean and not crashed:
            failures.append("unclean stop: %s\n%s" % (words, srv.log_tail()))
    except RuntimeError as e:
        failures.append(str(e))
    finally:
        srv.cleanup()
        if not args.config:
            os.remove(cfg_path)
    if failures:
        print()
        print("soak FAILED:")
        for f in failures:
            print("  " + f)
        return 1
    print("soak passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
