#!/usr/bin/env python3
"""ctest test_scale_out: three `vkslm serve` replicas behind HAProxy (examples/scale-out), under load from 8
clients, while one replica is killed (SIGKILL) and later another is drained (SIGTERM).

It checks: requests naming an expert stick to one replica (consistent hashing); every non-streaming request
succeeds (HAProxy retries those a dead replica never answered); a stream cut by the SIGKILL fails cleanly (the
client sees the connection end without `data: [DONE]`, no hang), and only streams of the killed replica fail;
the drained replica finishes everything it accepted and exits 0. It prints requests served, failed and
retried, and p50/p99 latency, and stops every process it started.

    run.py --vkslm build/vkslm --testdata ../shared/testdata [--haproxy haproxy] [--requests 64]

HAProxy runs without LD_PRELOAD; the replicas get VKSLM_SCALE_OUT_REPLICA_PRELOAD as theirs (the sanitizer
pass's libasan: tests/CMakeLists.txt moves it there). Exit 77 (skipped) without haproxy or test data, unless
CI is set: then 1.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE = os.path.join(ROOT, "examples", "scale-out")
HOST = "vkslm.internal"  # the name clients use: in the replicas' allowed_hosts
CLIENT_TIMEOUT_S = 300  # a client that waits this long has found a hang (generous: this is not a speed check)


def fail(msg: str) -> None:
    print(f"test_scale_out: FAILED: {msg}", flush=True)
    raise SystemExit(1)


def skip(msg: str) -> None:
    if os.environ.get("CI"):
        fail(msg)
    print(f"test_scale_out: skipped: {msg}")
    raise SystemExit(77)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """The replicas and HAProxy this test started, and their stopping."""

    def __init__(self, args: argparse.Namespace, workdir: str) -> None:
        self.args, self.workdir = args, workdir
        self.replicas: list[dict] = []
        self.haproxy: subprocess.Popen | None = None
        self.lb_port = 0

    def start(self) -> None:
        # the example's replica config, with the model path pointing into this test data folder
        with open(os.path.join(EXAMPLE, "replica.json")) as f:
            cfg = json.load(f)
        model = os.path.join(self.args.testdata, "models", "stories260K.gguf")
        for e in cfg["experts"]:
            e["model"] = model
        cfg_path = os.path.join(self.workdir, "replica.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        env = dict(os.environ)
        env.pop("LD_PRELOAD", None)
        if os.environ.get("VKSLM_SCALE_OUT_REPLICA_PRELOAD"):
            env["LD_PRELOAD"] = os.environ["VKSLM_SCALE_OUT_REPLICA_PRELOAD"]
        for i in range(3):
            err = open(os.path.join(self.workdir, f"r{i + 1}.err"), "w+")
            p = subprocess.Popen([self.args.vkslm, "serve", "--config", cfg_path, "--port", "0"], env=env,
                                 stdout=subprocess.PIPE, stderr=err, text=True)
            self.replicas.append({"name": f"r{i + 1}", "proc": p, "err": err, "port": 0})
        for r in self.replicas:  # "vkslm serve: listening on http://127.0.0.1:PORT (2 experts)"
            line = r["proc"].stdout.readline()
            if "listening on http://127.0.0.1:" not in line:
                r["err"].seek(0)
                fail(f"replica {r['name']} did not start: {line!r} {r['err'].read()[-2000:]}")
            r["port"] = int(line.split("127.0.0.1:")[1].split()[0])
        self.lb_port = free_port()
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # HAProxy is not vkslm: no sanitizer
        env["VKSLM_LB_ADDR"] = f"127.0.0.1:{self.lb_port}"
        env["VKSLM_HEALTH_HOST"] = HOST
        for i, r in enumerate(self.replicas):
            env[f"VKSLM_REPLICA{i + 1}"] = f"127.0.0.1:{r['port']}"
        self.haproxy_log = open(os.path.join(self.workdir, "haproxy.log"), "w+")
        self.haproxy = subprocess.Popen([self.args.haproxy, "-db", "-f", os.path.join(EXAMPLE, "haproxy.cfg")],
                                        env=env, stdout=self.haproxy_log, stderr=subprocess.STDOUT)
        for _ in range(600):  # until HAProxy listens and a replica answers through it
            if self.haproxy.poll() is not None:
                self.haproxy_log.seek(0)
                fail(f"haproxy exited with {self.haproxy.returncode}: {self.haproxy_log.read()[-2000:]}")
            try:
                if request(self.lb_port, "GET", "/health", None)["status"] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        fail("HAProxy did not answer /health within 60 s")

    def replica(self, name: str) -> dict:
        return next(r for r in self.replicas if r["name"] == name)

    def stop(self) -> None:
        """Stops whatever still runs: HAProxy, then the replicas (SIGTERM, then SIGKILL after 30 s)."""
        procs = ([self.haproxy] if self.haproxy else []) + [r["proc"] for r in self.replicas]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def request(port: int, method: str, path: str, body: dict | None, headers: dict | None = None,
            on_headers=None) -> dict:
    """One request through a fresh connection: status, replica, retries, and for a stream whether it ended
    with data: [DONE] (a cut stream raises or ends early: done False)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    try:
        hdrs = {"Host": HOST, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        out = {"status": resp.status, "replica": resp.getheader("X-Vkslm-Replica"),
               "retries": int((resp.getheader("X-Vkslm-Retries") or "0").lstrip("+") or 0), "done": False,
               "text": ""}
        if on_headers:
            on_headers(out)
        if body is not None and body.get("stream") and resp.status == 200:
            while True:
                line = resp.readline()
                if not line:
                    break  # the connection ended before the stream did
                if line.startswith(b"data: ") and line.strip() == b"data: [DONE]":
                    out["done"] = True
                    break
                if line.startswith(b"data: "):
                    event = json.loads(line[6:])
                    if "error" in event:
                        out["error"] = event["error"]
                    else:
                        out["text"] += event["choices"][0].get("text", "")
        else:
            raw = resp.read()
            if resp.status == 200 and body is not None:
                answer = json.loads(raw)
                out["text"] = answer["choices"][0].get("text", "")
                out["done"] = True
            else:
                out["done"] = resp.status == 200
        return out
    finally:
        conn.close()


def raw_get(port: int, path: str) -> tuple[int, str]:
    """GET path from one replica directly: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT_S)
    try:
        conn.request("GET", path, headers={"Host": HOST})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def workload(n: int) -> list[dict]:
    """n requests: completions and chats, a third of them streamed; a third name the expert in the body, a
    third in the X-Vkslm-Expert header and the body, the rest are routed ("auto")."""
    rng = random.Random(18)
    jobs = []
    for i in range(n):
        stream = i % 3 == 0
        chat = i % 4 == 1
        body: dict = {"max_tokens": 16 + rng.randrange(16), "stream": stream}
        if chat:
            body["messages"] = [{"role": "user", "content": f"Tell a story about a cat, number {i}"}]
        else:
            body["prompt"] = rng.choice(["Once upon a time", "The little dog", "One day, Lily"])
        headers = {}
        if i % 3 == 1:
            body["model"] = rng.choice(["stories", "tales"])
        elif i % 3 == 2:  # a client naming the expert for the balancer too (which then need not parse the body)
            headers["X-Vkslm-Expert"] = body["model"] = rng.choice(["stories", "tales"])
        else:
            body["model"] = "auto"
        jobs.append({"i": i, "path": "/v1/chat/completions" if chat else "/v1/completions", "body": body,
                     "headers": headers})
    return jobs


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vkslm", required=True)
    ap.add_argument("--testdata", required=True)
    ap.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    ap.add_argument("--requests", type=int, default=120)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    if not os.path.isfile(args.haproxy):
        skip("no haproxy (scripts/install-deps.sh installs Debian's)")
    if not os.path.isfile(os.path.join(args.testdata, "models", "stories260K.gguf")):
        skip(f"no test data in {args.testdata}")
    # ctest's timeout sends SIGTERM: stop what was started on the way out
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    t_start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vkslm-scale-out-") as workdir:
        cluster = Cluster(args, workdir)
        try:
            cluster.start()
            run(cluster, args)
        finally:
            cluster.stop()
    print(f"test_scale_out: passed in {time.monotonic() - t_start:.1f} s")


def run(cluster: Cluster, args: argparse.Namespace) -> None:
    lb = cluster.lb_port
    # consistent hashing: the requests naming one expert (in the body or the header) land on one replica
    for expert in ("stories", "tales"):
        seen = set()
        for k in range(3):
            # the header alone (the body's model then only tells the replica), or the body's model alone
            headers = {"X-Vkslm-Expert": expert} if k % 2 else {}
            body = {"prompt": "Once", "max_tokens": 2, "model": expert if k % 2 == 0 else "auto"}
            r = request(lb, "POST", "/v1/completions", body, headers)
            if r["status"] != 200:
                fail(f"expert {expert}: status {r['status']}")
            seen.add(r["replica"])
        if len(seen) != 1:
            fail(f"requests for expert {expert} went to {sorted(seen)}, not to one replica")
        print(f"expert {expert!r} -> replica {seen.pop()} (consistent hashing)")

    jobs = workload(args.requests)
    results: list[dict] = []
    lock = threading.Lock()
    in_flight: dict[int, dict] = {}
    next_job = [0]
    events: dict[str, object] = {}

    def client() -> None:
        while True:
            with lock:
                if next_job[0] >= len(jobs):
                    return
                job = jobs[next_job[0]]
                next_job[0] += 1
                in_flight[job["i"]] = job
            t0 = time.monotonic()

            def started(r: dict, job: dict = job) -> None:  # which replica a stream under way comes from
                with lock:
                    job["replica"] = r["replica"]

            try:
                r = request(lb, "POST", job["path"], job["body"], job["headers"], started)
            except (OSError, http.client.HTTPException) as e:  # a cut connection: a clean failure
                with lock:  # the replica its headers named, when they came
                    r = {"status": 0, "replica": job.get("replica"), "retries": 0, "done": False,
                         "exception": repr(e)}
            r.update(job=job, ms=(time.monotonic() - t0) * 1000, stream=job["body"]["stream"])
            with lock:
                in_flight.pop(job["i"], None)
                results.append(r)

    threads = [threading.Thread(target=client, daemon=True) for _ in range(args.clients)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    killed = drained = None
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        with lock:
            done = len(results)
        if killed is None and done >= len(jobs) // 4:
            # SIGKILL the replica of a stream under way, so that the test sees a stream cut; when none is under
            # way by half of the requests, the replica that answered the most of the last ones
            with lock:
                streaming = [j["replica"] for j in in_flight.values() if j["body"]["stream"] and j.get("replica")]
            if streaming:
                killed = streaming[0]
            elif done >= len(jobs) // 2:
                counts: dict[str, int] = {}
                for r in results[-8:]:
                    if r["replica"]:
                        counts[r["replica"]] = counts.get(r["replica"], 0) + 1
                killed = max(counts, key=counts.get) if counts else "r1"
            else:
                continue
            cluster.replica(killed)["proc"].kill()
            events["kill_at"] = done
            print(f"SIGKILL {killed} after {done} requests", flush=True)
        elif drained is None and killed is not None and done >= len(jobs) * 55 // 100:
            drained = next(r["name"] for r in cluster.replicas if r["name"] != killed)
            cluster.replica(drained)["proc"].send_signal(signal.SIGTERM)
            events["drain_at"] = done
            print(f"SIGTERM {drained} (drain) after {done} requests", flush=True)
            # once its signal thread has taken the SIGTERM, its own /health says 503 "draining" (what takes it out
            # of HAProxy's rotation) until it stops; it may have finished and stopped already, which is no failure
            deadline = time.monotonic() + 30
            while True:
                try:
                    health = raw_get(cluster.replica(drained)["port"], "/health")
                except OSError as e:
                    events["drain_health"] = repr(e)
                    break
                events["drain_health"] = health
                if health[0] == 503:
                    if '"status":"draining"' not in health[1]:
                        fail(f"/health of the draining replica: {health}")
                    break
                if health[0] != 200 or time.monotonic() > deadline:
                    fail(f"/health of the replica that got SIGTERM: {health}")
                time.sleep(0.01)
    wall = time.monotonic() - t0
    for t in threads:
        t.join()

    # the drained replica finishes what it accepted, then exits 0
    dp = cluster.replica(drained)["proc"] if drained else None
    if dp is not None:
        try:
            rc = dp.wait(timeout=60)
        except subprocess.TimeoutExpired:
            fail(f"the drained replica {drained} did not exit")
        err = cluster.replica(drained)["err"]
        err.seek(0)
        log = err.read()
        if rc != 0 or "draining" not in log:
            fail(f"the drained replica {drained} exited with {rc}: {log[-2000:]}")
        # "vkslm serve: draining (signal 15): N requests in flight, ..."
        events["drain_in_flight"] = log.split("draining (signal 15): ")[1].split()[0] if "(signal 15): " in log else "?"
    # the one left still answers through HAProxy
    last = request(lb, "POST", "/v1/completions", {"prompt": "Once", "max_tokens": 2})
    if last["status"] != 200:
        fail(f"after the kill and the drain: status {last['status']}")

    served = [r for r in results if r["status"] == 200 and r["done"]]
    failed = [r for r in results if r not in served]
    retried = [r for r in results if r["retries"] > 0]
    lat = [r["ms"] for r in served]
    per_replica: dict[str, int] = {}
    for r in served:
        per_replica[r["replica"]] = per_replica.get(r["replica"], 0) + 1
    print(f"requests: {len(results)} ({sum(r['stream'] for r in results)} streamed) by {args.clients} clients in "
          f"{wall:.1f} s; served {len(served)}, failed {len(failed)} (streams cut by the SIGKILL), retried "
          f"{len(retried)} ({sum(r['retries'] for r in results)} retries)")
    if drained:
        print(f"the drained replica {drained} had {events['drain_in_flight']} requests in flight at SIGTERM, finished "
              f"them and exited 0; its later requests went elsewhere; its /health while draining: "
              f"{str(events.get('drain_health'))[:60]}")
    print(f"latency of served requests: p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms; "
          f"served per replica: {dict(sorted(per_replica.items()))}")
    for r in failed:
        print(f"  failed: request {r['job']['i']} stream={r['stream']} status={r['status']} replica={r['replica']} "
              f"{r.get('exception') or r.get('error') or 'ended without [DONE]'}")
    if len(results) != len(jobs):
        fail(f"{len(jobs) - len(results)} requests never finished")
    for r in failed:
        if not r["stream"]:
            fail(f"a non-streaming request failed: {r}")
        if r["replica"] not in (killed, None):
            fail(f"a stream failed on {r['replica']}, which was not killed: {r}")
        if r.get("error"):
            fail(f"a stream ended with an error event: {r}")
    if any(r["replica"] == killed for r in served if r["job"]["i"] >= len(jobs) - args.clients):
        fail(f"the killed replica {killed} still served the last requests")
    if drained and not any(r["replica"] == drained for r in served):
        fail(f"the drained replica {drained} served nothing: the test proved nothing about draining")


if __name__ == "__main__":
    main()
