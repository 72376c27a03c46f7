#!/usr/bin/python3
"""Client-side load for the soak scripts: many idle keep-alive connections, and slowloris attackers.

Everything goes to 127.0.0.1 only, and every phase is bounded in count and time. Results are printed
as one JSON object on stdout; progress goes to stderr.

  clients.py idle --port P --pid PID --connections N
  clients.py slowloris --port P --connections N --duration S [--interval S]
"""

import argparse
import asyncio
import json
import os
import resource
import sys
import time

HOST = "127.0.0.1"
CONNECT_CONCURRENCY = 200  # connects in flight at once (the listen backlog is finite)


def progress(message):
    print(f"clients: {message}", file=sys.stderr, flush=True)


def raise_fd_limit(needed):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            sys.exit(f"clients: need {needed} descriptors, the hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


async def wait_for(condition, seconds):
    """Polls a /proc figure that has no event to wait on."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def settled_rss(pid):
    """RSS once it stops moving (two equal readings 200 ms apart, at most 5 s)."""
    previous = rss_kib(pid)
    for _ in range(25):
        await asyncio.sleep(0.2)
        current = rss_kib(pid)
        if current == previous:
            return current
        previous = current
    return previous


async def read_response(reader):
    """Reads one response with a Content-Length body; returns its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await reader.readexactly(length)
    return status


async def idle(args):
    raise_fd_limit(args.connections + 256)
    pid = args.pid
    fds_before = fd_count(pid)
    rss_before = await settled_rss(pid)
    progress(f"tollgate: {rss_before} KiB, {fds_before} descriptors; opening {args.connections}")

    limit = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def connect():
        async with limit:
            return await asyncio.wait_for(asyncio.open_connection(HOST, args.port), 10)

    started = time.monotonic()
    connections = await asyncio.gather(*(connect() for _ in range(args.connections)))
    accepted = await wait_for(lambda: fd_count(pid) >= fds_before + args.connections, 30)
    rss_connected = await settled_rss(pid)
    progress(f"{args.connections} connected in {time.monotonic() - started:.1f}s "
             f"(all accepted: {accepted}); tollgate: {rss_connected} KiB")

    # One request each, so every session has been through a whole exchange and now waits in
    # keep-alive for the next one.
    request = b"GET /ok HTTP/1.1\r\nHost: soak\r\n\r\n"

    async def one_request(reader, writer):
        async with limit:
            writer.write(request)
            await writer.drain()
            return await asyncio.wait_for(read_response(reader), 30)

    statuses = await asyncio.gather(*(one_request(r, w) for r, w in connections))
    rss_idle = await settled_rss(pid)
    fds_idle = fd_count(pid)
    progress(f"after one request each: tollgate {rss_idle} KiB, {fds_idle} descriptors")

    for _, writer in connections:
        writer.close()
    await wait_for(lambda: fd_count(pid) <= fds_idle - args.connections, 30)
    rss_after = await settled_rss(pid)

    n = args.connections
    print(json.dumps({
        "connections": n,
        "ok_responses": sum(1 for s in statuses if s == 200),
        "tollgate_rss_kib": {"before": rss_before, "connected": rss_connected,
                             "idle_keep_alive": rss_idle, "after_close": rss_after},
        "tollgate_fds": {"before": fds_before, "idle_keep_alive": fds_idle},
        "bytes_per_connection": {
            "connected_no_request": round((rss_connected - rss_before) * 1024 / n),
            "idle_after_one_request": round((rss_idle - rss_before) * 1024 / n),
        },
    }))


async def slowloris(args):
    """Attackers that send a request head one byte per interval and never finish it. One that the
    server closes is replaced at once, so the attack keeps its size for the whole duration."""
    raise_fd_limit(args.connections + 256)
    deadline = time.monotonic() + args.duration
    stats = {"opened": 0, "closed_by_server": 0, "refused": 0, "answers": {},
             "lifetimes_s": [], "bytes_sent": 0}
    head = b"GET /ok HTTP/1.1\r\nHost: soak\r\nX-Slow: " + b"a" * 1_000_000

    async def one_attack():
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, args.port), 10)
        except (OSError, asyncio.TimeoutError):
            stats["refused"] += 1
            await asyncio.sleep(args.interval)
            return
        stats["opened"] += 1
        opened = time.monotonic()
        answer = asyncio.ensure_future(reader.read(4096))
        try:
            for byte_index in range(len(head)):
                if time.monotonic() >= deadline:
                    return
                writer.write(head[byte_index:byte_index + 1])
                stats["bytes_sent"] += 1
                done, _ = await asyncio.wait({answer}, timeout=args.interval)
                if done:
                    data = answer.result() if not answer.exception() else b""
                    status = data.split(b" ", 2)[1].decode() if data.startswith(b"HTTP/") else "none"
                    stats["answers"][status] = stats["answers"].get(status, 0) + 1
                    stats["closed_by_server"] += 1
                    stats["lifetimes_s"].append(round(time.monotonic() - opened, 1))
                    return
        finally:
            answer.cancel()
            writer.close()

    async def attacker(index):
        # Spread the starts over one interval so the bytes do not all arrive at once.
        await asyncio.sleep(args.interval * index / args.connections)
        while time.monotonic() < deadline:
            await one_attack()

    progress(f"{args.connections} attackers, one byte every {args.interval}s for {args.duration}s")
    await asyncio.gather(*(attacker(i) for i in range(args.connections)))
    lifetimes = sorted(stats.pop("lifetimes_s"))
    if lifetimes:
        stats["lifetime_s"] = {"min": lifetimes[0], "median": lifetimes[len(lifetimes) // 2],
                               "max": lifetimes[-1]}
    print(json.dumps(stats))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    idle_parser = commands.add_parser("idle")
    idle_parser.add_argument("--port", type=int, required=True)
    idle_parser.add_argument("--pid", type=int, required=True, help="tollgate's PID")
    idle_parser.add_argument("--connections", type=int, default=10_000,
                             choices=range(1, 50_001), metavar="1..50000")
    slow_parser = commands.add_parser("slowloris")
    slow_parser.add_argument("--port", type=int, required=True)
    slow_parser.add_argument("--connections", type=int, default=1000,
                             choices=range(1, 10_001), metavar="1..10000")
    slow_parser.add_argument("--duration", type=float, default=30)
    slow_parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    if args.command == "slowloris" and not 0 < args.duration <= 600:
        parser.error("--duration must be within (0, 600] seconds")
    asyncio.run(idle(args) if args.command == "idle" else slowloris(args))


if __name__ == "__main__":
    main()
