#!/usr/bin/python3
"""Where each worker's time goes: tollgate, nginx and HAProxy as plain proxies with N workers each,
under the same wrk load, one after the other (`--contenders` may add haproxy_tcp, HAProxy relaying
bytes in mode tcp: the floor of any proxy's CPU per request), and per worker (thread or process)
its CPU time, context switches and, for tollgate, the connections it took and the requests it
answered (from /status.json). Also the CPU of wrk and of the upstream per request, which share the
machine.

  bench/workers.py [--workers N|auto] [--rounds R] [--seconds S] [--connections C] [--threads T]
                   [--path /ok] [--build build/release]

Needs nginx, haproxy and wrk (bench/run.sh installs them). Everything on 127.0.0.1; every run is
bounded by --seconds (1..60) and --rounds (1..10); every process started is stopped on exit.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def wait_http(url, process, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"workers.py: {process.args[0]} exited before answering {url}")
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"workers.py: {url} did not answer within {timeout_s} s")


def children(pid):
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                found += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return found


def thread_stats(pid):
    """{(pid, tid): (name, cpu_s, voluntary, involuntary, user_s)} of every thread of pid."""
    stats = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"{base}/comm") as f:
                name = f.read().strip()
            switches = {}
            with open(f"{base}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key.endswith("ctxt_switches"):
                        switches[key] = int(value)
        except OSError:
            continue
        cpu = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        stats[(pid, int(tid))] = (name, cpu, switches["voluntary_ctxt_switches"],
                                  switches["nonvoluntary_ctxt_switches"], int(fields[11]) / CLOCK_TICKS)
    return stats


def process_tree_stats(pid):
    stats = thread_stats(pid)
    for child in children(pid):
        stats.update(thread_stats(child))
    return stats


def status_workers(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/status.json", timeout=5) as r:
        return {w["index"]: w for w in json.load(r).get("workers", [])}


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="tollgate-workers.")
        os.chmod(self.dir, 0o755)
        self.processes = []
        (self.upstream_port, self.proxy_port, self.admin_port) = free_ports(3)

    def start(self, argv, log_name):
        log = open(os.path.join(self.dir, log_name), "w")
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop(self, process):
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self):
        for process in reversed(self.processes):
            self.stop(process)
        shutil.rmtree(self.dir, ignore_errors=True)

    def nginx_conf(self, name, port, workers, body):
        path = os.path.join(self.dir, name)
        os.makedirs(f"{path}/tmp", exist_ok=True)
        temp = "".join(f"  {kind}_temp_path {path}/tmp/{kind};\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(f"{path}/nginx.conf", "w") as f:
            f.write(f"worker_processes {workers};\npid {path}/nginx.pid;\n"
                    f"events {{ worker_connections 4096; }}\n"
                    f"http {{\n  access_log off;\n  keepalive_requests 1000000;\n{temp}{body}\n"
                    f"  server {{\n    listen 127.0.0.1:{port} backlog=4096;\n"
                    f"    location / {{ {'proxy_pass http://app;' if name != 'upstream' else 'return 200 ok;'} }}\n"
                    f"  }}\n}}\n")
        return ["nginx", "-p", f"{path}/", "-c", f"{path}/nginx.conf", "-e", f"{path}/error.log",
                "-g", "daemon off;"]

    def start_upstream(self):
        argv = self.nginx_conf("upstream", self.upstream_port, 1, "")
        self.upstream = self.start(argv, "upstream.log")
        wait_http(f"http://127.0.0.1:{self.upstream_port}/", self.upstream)

    def start_proxy(self, contender):
        workers = self.args.workers
        if contender == "nginx":
            pool = (f"  proxy_http_version 1.1;\n  proxy_set_header Connection \"\";\n"
                    f"  upstream app {{ server 127.0.0.1:{self.upstream_port}; keepalive 1024; "
                    f"keepalive_requests 1000000; }}\n")
            argv = self.nginx_conf("nginx", self.proxy_port, workers, pool)
        elif contender in ("haproxy", "haproxy_tcp"):
            threads = "" if workers == "auto" else f"  nbthread {workers}\n"
            mode = ("  mode http\n  option http-keep-alive\n  http-reuse always\n"
                    if contender == "haproxy" else "  mode tcp\n")
            path = os.path.join(self.dir, "haproxy.cfg")
            with open(path, "w") as f:
                f.write(f"global\n{threads}  maxconn 4096\ndefaults\n{mode}"
                        f"  timeout connect 3s\n  timeout client 75s\n  timeout server 75s\n"
                        f"frontend bench\n  bind 127.0.0.1:{self.proxy_port}\n"
                        f"  default_backend app\nbackend app\n"
                        f"  server app 127.0.0.1:{self.upstream_port}\n")
            argv = ["haproxy", "-db", "-f", path]
        else:
            path = os.path.join(self.dir, "tollgate.yaml")
            with open(path, "w") as f:
                f.write(f"listen: [ {{ address: 127.0.0.1:{self.proxy_port} }} ]\n"
                        f"admin: {{ address: 127.0.0.1:{self.admin_port} }}\n"
                        f"workers: {workers}\nlog: {{ level: warn, access_log: off }}\n"
                        f"upstreams:\n  app: {{ targets: [ http://127.0.0.1:{self.upstream_port} ], "
                        f"keepalive: 1024 }}\n"
                        f"routes:\n  - {{ name: plain, match: {{ paths: [ / ] }}, upstream: app }}\n")
            argv = [os.path.join(self.args.build, "tollgate"), "-c", path]
        process = self.start(argv, f"{contender}.log")
        wait_http(f"http://127.0.0.1:{self.proxy_port}/", process)
        return process

    def wrk(self, seconds):
        argv = ["wrk", f"-t{self.args.threads}", f"-c{self.args.connections}", f"-d{seconds}s",
                "--timeout", "5s", f"http://127.0.0.1:{self.proxy_port}{self.args.path}"]
        process = subprocess.Popen(["timeout", str(seconds + 30)] + argv, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        output = process.stdout.read()
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0 or "Non-2xx" in output or "Socket errors" in output:
            sys.exit(f"workers.py: wrk failed:\n{output}")
        requests = int(next(l for l in output.splitlines() if "requests in" in l).split()[0])
        return requests, usage.ru_utime + usage.ru_stime

    def measure(self, contender):
        proxy = self.start_proxy(contender)
        self.wrk(1)  # warm-up: pools filled, caches touched
        before = process_tree_stats(proxy.pid)
        upstream_before = process_tree_stats(self.upstream.pid)
        workers_before = status_workers(self.admin_port) if contender == "tollgate" else {}
        requests, wrk_cpu = self.wrk(self.args.seconds)
        after = process_tree_stats(proxy.pid)
        upstream_after = process_tree_stats(self.upstream.pid)
        workers_after = status_workers(self.admin_port) if contender == "tollgate" else {}
        self.stop(proxy)

        def cpu(stats_after, stats_before, field=1):
            return sum(a[field] - stats_before.get(k, (0, 0, 0, 0, 0))[field]
                       for k, a in stats_after.items())

        rows = []
        for key, (name, cpu_s, vol, invol, _) in sorted(after.items()):
            b = before.get(key, (name, 0, 0, 0, 0))
            used = cpu_s - b[1]
            if used < 0.05 * self.args.seconds / 10 and not name.startswith("haproxy"):
                continue  # threads that did not take part (tollgate's main loop, nginx's master)
            row = {"thread": name, "cpu_s": used, "voluntary": vol - b[2], "involuntary": invol - b[3]}
            if contender == "tollgate" and name.startswith("worker-") and workers_after:
                index = int(name.split("-")[1])
                w_after, w_before = workers_after[index], workers_before[index]
                row["accepted"] = w_after["connections_accepted"] - w_before["connections_accepted"]
                row["requests"] = w_after["requests"] - w_before["requests"]
            rows.append(row)
        return {"contender": contender, "requests": requests, "rps": requests / self.args.seconds,
                "proxy_cpu_s": cpu(after, before), "proxy_user_s": cpu(after, before, 4),
                "upstream_cpu_s": cpu(upstream_after, upstream_before),
                "wrk_cpu_s": wrk_cpu, "threads": rows}


def report(results, args):
    print(f"workers {args.workers}, wrk -t{args.threads} -c{args.connections} -d{args.seconds}s "
          f"{args.path}, {args.rounds} round(s), medians; CPU in µs per request")
    print(f"{'contender':11} {'req/s':>9} {'proxy':>7} {'(user)':>7} {'upstream':>9} {'wrk':>6}  per worker: "
          "CPU share, µs/req, switches/1k req (vol/invol), connections taken, requests")
    for contender in args.contenders:
        runs = [r for r in results if r["contender"] == contender]
        med = lambda f: statistics.median(f(r) for r in runs)
        print(f"{contender:11} {med(lambda r: r['rps']):>9,.0f} "
              f"{med(lambda r: r['proxy_cpu_s'] / r['requests'] * 1e6):>7.2f} "
              f"{med(lambda r: r['proxy_user_s'] / r['requests'] * 1e6):>7.2f} "
              f"{med(lambda r: r['upstream_cpu_s'] / r['requests'] * 1e6):>9.2f} "
              f"{med(lambda r: r['wrk_cpu_s'] / r['requests'] * 1e6):>6.2f}")
        for r in runs:
            total = sum(t["cpu_s"] for t in r["threads"]) or 1
            parts = []
            for t in r["threads"]:
                part = (f"{t['thread']}: {t['cpu_s'] / total * 100:.0f}%, "
                        f"{t['cpu_s'] / r['requests'] * 1e6:.2f}, "
                        f"{t['voluntary'] * 1000 / r['requests']:.1f}/{t['involuntary'] * 1000 / r['requests']:.1f}")
                if "requests" in t:
                    part += (f", {t['accepted']} connections taken, "
                             f"{t['requests'] / r['requests'] * 100:.0f}% of requests")
                parts.append(part)
            print(f"{'':11} " + "; ".join(parts))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", default="auto")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0, help="wrk threads (default: the workers)")
    parser.add_argument("--path", default="/ok")
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--contenders", default="nginx haproxy tollgate")
    args = parser.parse_args()
    if args.workers != "auto" and not (args.workers.isdigit() and 1 <= int(args.workers) <= 64):
        sys.exit("workers.py: --workers 1..64 or auto")
    if not (1 <= args.rounds <= 10 and 1 <= args.seconds <= 60 and 1 <= args.connections <= 1000):
        sys.exit("workers.py: --rounds 1..10, --seconds 1..60, --connections 1..1000")
    n = os.cpu_count() if args.workers == "auto" else int(args.workers)
    args.threads = args.threads or min(n, 8)
    args.contenders = args.contenders.split()
    bench = Bench(args)
    try:
        bench.start_upstream()
        results = []
        for _ in range(args.rounds):
            for contender in args.contenders:
                results.append(bench.measure(contender))
        report(results, args)
    finally:
        bench.close()


if __name__ == "__main__":
    main()
