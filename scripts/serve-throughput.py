#!/usr/bin/env python3
"""Total throughput of `vkslm serve` under N concurrent clients of one expert.

Usage: scripts/serve-throughput.py --vkslm build/vkslm --model MODEL.gguf [--clients 1,4,8] [--prompt-tokens 40]
       [--max-tokens 16] [--rounds 2] [--parallel 8] [--warmup 1]

Starts a server with one expert (parallel = --parallel), then for each N runs N clients at once, each
sending --rounds requests in turn with its own distinct prompt (no shared prefix, and never the same prompt
twice, so nothing is served from the cache), and prints total (prompt + generated) tokens per second and
generated tokens per second, as reported by the responses' usage, over the wall time.
Before that, --warmup rounds of every N (untimed) load the expert and compile what its steps need, and the
timed rounds interleave the Ns (round 1 of every N, then round 2, ...): this machine's speed drifts over
minutes, and N measured after N would carry that drift into the ratios.
"""
import argparse, json, os, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

WORDS = ("apple river stone cloud garden lantern meadow pencil window forest candle harbor silver "
         "thunder violet marble feather castle orchard whisper rocket saddle copper island").split()


def prompt(client, rnd, n_words):
    # distinct from the first word on: no two prompts share a prefix
    k = client * 7919 + rnd * 104729 + 13
    out = []
    for i in range(n_words):
        k = (k * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(WORDS[k % len(WORDS)])
    return f"{client}-{rnd}: " + " ".join(out)


def post(port, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/completions", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vkslm", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", default="1,4,8")
    ap.add_argument("--prompt-tokens", type=int, default=40)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--context", type=int, default=512)
    ap.add_argument("--warmup", type=int, default=1)
    a = ap.parse_args()
    cfg = {"host": "127.0.0.1", "port": 0, "experts": [{"name": "e", "model": os.path.abspath(a.model),
                                                  "context": a.context, "parallel": a.parallel}]}
    d = tempfile.mkdtemp()
    path = os.path.join(d, "cfg.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    srv = subprocess.Popen([a.vkslm, "serve", "--config", path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    port = None
    for line in srv.stdout:
        if "listening" in line and ":" in line:
            port = int(line.rsplit(":", 1)[1].split()[0].strip("/"))
            break
    if not port:
        print("the server did not start", file=sys.stderr)
        return 1
    threading.Thread(target=lambda: [None for _ in srv.stdout], daemon=True).start()
    # words per token of this model's vocabulary, from a probe, so prompts come out near --prompt-tokens
    probe = post(port, {"model": "e", "prompt": prompt(999, 999, 30), "max_tokens": 1})["usage"]["prompt_tokens"]
    n_words = max(1, round(a.prompt_tokens * 30 / max(1, probe)))
    ns = [int(x) for x in a.clients.split(",")]
    acc = {n: [0, 0, 0.0] for n in ns}  # prompt tokens, generated tokens, seconds

    def round_of(n, r):
        # n clients at once, one request each (round r: prompts never seen before)
        totals = [[0, 0] for _ in range(n)]
        def client(i):
            u = post(port, {"model": "e", "prompt": prompt(i, r + 1000 * n, n_words),
                            "max_tokens": a.max_tokens, "temperature": 0, "stop": []})["usage"]
            totals[i][0] += u["prompt_tokens"] - u.get("prompt_tokens_details", {}).get("cached_tokens", 0)
            totals[i][1] += u["completion_tokens"]
        t0 = time.time()
        th = [threading.Thread(target=client, args=(i,)) for i in range(n)]
        for t in th: t.start()
        for t in th: t.join()
        return sum(x[0] for x in totals), sum(x[1] for x in totals), time.time() - t0

    rows, sizes = [], []
    try:
        for w in range(a.warmup):
            for n in ns:
                round_of(n, 500 + w)
        for r in range(a.rounds):
            for n in ns:
                p, g, dt = round_of(n, r)
                acc[n][0] += p; acc[n][1] += g; acc[n][2] += dt
                print(f"round {r + 1}, clients {n}: {p} prompt + {g} generated tokens in {dt:.2f} s", flush=True)
        for n in ns:
            p, g, dt = acc[n]
            rows.append((n, p, g, dt, (p + g) / dt, g / dt))
            sizes.append(p / (n * a.rounds))
    finally:
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=60)
    base = rows[0][4]
    print(f"\nprompts of {sum(sizes) / len(sizes):.1f} tokens on average, {a.max_tokens} generated tokens each")
    print("\n| clients | total tok/s | generated tok/s | total vs 1 client |\n|---|---|---|---|")
    for n, p, g, dt, tot, gen in rows:
        print(f"| {n} | {tot:.1f} | {gen:.1f} | x{tot / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
