#!/usr/bin/python3
"""The two ends of tollgate's upstream HTTP/2 property test (python3-h2, 127.0.0.1 only).

  upstream                      a scripted h2c upstream; prints "listening PORT". Each request says
                                what to do with it in x-plan; the upstream echoes its body back.
  client PORT SEED COUNT SECS   plays up to COUNT seeded schedules through the gateway on PORT
                                within SECS seconds; prints one JSON line with the counts and every
                                violation of the invariant
  stats PORT                    asks the upstream (directly) how many streams it holds open, and
                                the most connections it ever had at once

Plans (x-plan): ok:DELAY:PIECES answers 200 with the body echoed in PIECES DATA frames and
grpc-status 0 in trailers; rst-early:DELAY resets the stream before its head; rst-late:DELAY after
its head and part of the body; refuse resets it REFUSED_STREAM the first time (never processed: the
gateway sends it again); goaway:DELAY sends GOAWAY naming the stream before this one as the last
processed, the first time, and closes once the others are answered; drop:DELAY closes the
connection abruptly, the first time; big-head:BYTES answers 200 with a head of that many bytes
in small fields, and headers answers 200 with the request's fields as received, in order, as a JSON
list of [name, value] (neither drawn by the schedules). Delays are in milliseconds.
"""

import heapq
import json
import os
import random
import selectors
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

MAX_STREAMS = 4  # SETTINGS_MAX_CONCURRENT_STREAMS the upstream allows per connection
# The plans other than ok a schedule draws from (H2_PROPERTY_KINDS narrows them, to look into one).
KINDS = [k for k in os.environ.get("H2_PROPERTY_KINDS",
                                   "rst-early,rst-late,refuse,goaway,drop").split(",") if k]


# ---------------------------------------------------------------------------------------------
# The upstream


class Upstream:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.timers = []  # (when, seq, fn)
        self.seq = 0
        self.done_once = set()  # x-ids whose refuse / goaway / drop already happened
        self.conns = {}
        self.max_conns = 0

    def later(self, ms, fn):
        self.seq += 1
        heapq.heappush(self.timers, (time.monotonic() + ms / 1000.0, self.seq, fn))

    def open_streams(self):
        return sum(len(c.streams) for c in self.conns.values())

    def run(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        listener.setblocking(False)
        self.sel.register(listener, selectors.EVENT_READ, None)
        print("listening %d" % listener.getsockname()[1], flush=True)
        while True:
            timeout = None
            if self.timers:
                timeout = max(0.0, self.timers[0][0] - time.monotonic())
            for key, _ in self.sel.select(timeout):
                if key.data is None:
                    s, _ = listener.accept()
                    s.setblocking(False)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    c = UpstreamConn(self, s)
                    self.conns[s] = c
                    self.max_conns = max(self.max_conns, len(self.conns))
                    self.sel.register(s, selectors.EVENT_READ, c)
                    c.flush()
                else:
                    key.data.readable()
            now = time.monotonic()
            while self.timers and self.timers[0][0] <= now:
                _, _, fn = heapq.heappop(self.timers)
                fn()


class UpstreamConn:
    def __init__(self, up, s):
        self.up = up
        self.s = s
        self.closed = False
        self.goaway = False
        cfg = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=cfg)
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: MAX_STREAMS})
        self.streams = {}  # id -> {"headers": {}, "body": b""}

    def flush(self):
        if self.closed:
            return
        data = self.h2.data_to_send()
        if data:
            try:
                self.s.setblocking(True)
                self.s.sendall(data)
                self.s.setblocking(False)
            except OSError:
                self.close()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self.streams.clear()
        self.up.sel.unregister(self.s)
        del self.up.conns[self.s]
        self.s.close()

    def readable(self):
        try:
            data = self.s.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self.close()
            return
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            self.flush()
            self.close()
            return
        for e in events:
            sid = getattr(e, "stream_id", None)
            if isinstance(e, h2.events.RequestReceived):
                self.streams[sid] = {"headers": dict(e.headers), "fields": list(e.headers),
                                     "body": b""}
                if e.stream_ended:
                    self.start(sid)
            elif isinstance(e, h2.events.DataReceived):
                self.h2.acknowledge_received_data(e.flow_controlled_length, sid)
                if sid in self.streams:
                    self.streams[sid]["body"] += e.data
                if e.stream_ended:
                    self.start(sid)
            elif isinstance(e, h2.events.StreamEnded):
                self.start(sid)
            elif isinstance(e, h2.events.StreamReset):
                self.streams.pop(sid, None)
            elif isinstance(e, h2.events.ConnectionTerminated):
                self.flush()
                self.close()
                return
        self.flush()

    def start(self, sid):
        st = self.streams.get(sid)
        if st is None or st.get("started"):
            return
        st["started"] = True
        if st["headers"].get(":path") == "/stats":
            body = json.dumps({"open_streams": self.up.open_streams() - 1,
                               "max_connections": self.up.max_conns}).encode()
            self.answer_whole(sid, body)
            return
        xid = st["headers"].get("x-id", "")
        plan = st["headers"].get("x-plan", "ok:0:1").split(":")
        kind = plan[0]
        delay = int(plan[1]) if len(plan) > 1 else 0
        once = (xid, kind) not in self.up.done_once
        if kind in ("refuse", "goaway", "drop") and once:
            self.up.done_once.add((xid, kind))
            if kind == "refuse":
                self.reset(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
            elif kind == "goaway":
                self.up.later(delay, lambda: self.send_goaway(sid))
            else:
                self.up.later(delay, self.close)
            return
        if kind == "headers":  # the request's fields as received, in order, as the body
            self.answer_whole(sid, json.dumps(self.streams.pop(sid)["fields"]).encode())
            return
        if kind == "big-head":
            fields = [(":status", "200")]
            fields += [(f"x-filler-{i:05}", "f" * 20) for i in range(delay // 36 + 1)]
            self.h2.send_headers(sid, fields, end_stream=True)
            self.streams.pop(sid, None)
            self.flush()
            return
        if kind == "rst-early":
            self.up.later(delay, lambda: self.reset(sid, h2.errors.ErrorCodes.INTERNAL_ERROR))
            return
        pieces = int(plan[2]) if kind == "ok" and len(plan) > 2 else 2
        self.up.later(delay, lambda: self.send_head(sid, xid, kind, delay, pieces))

    def alive(self, sid):
        return not self.closed and sid in self.streams

    def reset(self, sid, code):
        if not self.alive(sid):
            return
        self.streams.pop(sid, None)
        try:
            self.h2.reset_stream(sid, code)
        except h2.exceptions.ProtocolError:
            pass
        self.flush()
        self.maybe_close()

    def send_goaway(self, sid):
        if self.closed:
            return
        # Streams from this one on were never processed: the gateway sends them again elsewhere.
        if self.goaway:
            # One GOAWAY per connection: streams it let through are answered, this one too.
            if sid in self.streams:
                st = self.streams[sid]
                self.send_head(sid, st["headers"].get("x-id", ""), "ok", 0, 1)
            return
        # The last stream processed is the highest whose answer began (a server must not disown
        # those); this one is answered too when it is below that.
        self.goaway = True
        started = [i for i, st in self.streams.items() if st.get("started") and i != sid]
        last = max([sid - 2 if sid > 1 else 0] + started)
        for other in list(self.streams):
            if other > last:
                self.streams.pop(other, None)
        if sid <= last and sid in self.streams:
            st = self.streams[sid]
            self.up.later(0, lambda: self.send_head(sid, st["headers"].get("x-id", ""), "ok", 0, 1))
        # Written by hand: python-h2's close_connection() would end its side of the streams too,
        # while those up to `last` are still to be answered.
        self.flush()
        try:
            self.s.setblocking(True)
            self.s.sendall(struct.pack(">I", 8)[1:] + bytes([7, 0]) + struct.pack(">III", 0, last, 0))
            self.s.setblocking(False)
        except OSError:
            self.close()
            return
        self.maybe_close()

    def maybe_close(self):
        # After GOAWAY, once its streams are answered: the write side closes, and the socket when
        # the gateway closes its own. Closing at once would reset the connection, and a reset can
        # destroy the GOAWAY before the gateway reads it.
        if self.goaway and not self.streams and not self.closed:
            try:
                self.s.shutdown(socket.SHUT_WR)
            except OSError:
                self.close()

    def answer_whole(self, sid, body):
        self.h2.send_headers(sid, [(":status", "200"), ("content-length", str(len(body)))])
        self.h2.send_data(sid, body, end_stream=True)
        self.streams.pop(sid, None)
        self.flush()

    def send_head(self, sid, xid, kind, delay, pieces):
        if not self.alive(sid):
            return
        try:
            self.h2.send_headers(sid, [(":status", "200"), ("content-type", "application/grpc"),
                                       ("x-id", xid)])
        except h2.exceptions.ProtocolError:
            self.streams.pop(sid, None)
            return
        self.flush()
        if not self.alive(sid):
            return
        body = self.streams[sid]["body"]
        size = max(1, (len(body) + pieces - 1) // pieces) if body else 1
        chunks = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
        if kind == "rst-late":
            chunks = chunks[:max(1, len(chunks) // 2)]
        self.up.later(delay, lambda: self.send_chunks(sid, chunks, kind, delay))

    def send_chunks(self, sid, chunks, kind, delay):
        if not self.alive(sid):
            return
        chunk = chunks.pop(0)
        try:
            # Within the windows: the gateway opens them as its client reads.
            window = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if len(chunk) > window:
                chunks.insert(0, chunk[window:])
                chunk = chunk[:window]
            if chunk:
                self.h2.send_data(sid, chunk)
        except h2.exceptions.ProtocolError:
            self.streams.pop(sid, None)
            return
        self.flush()
        if chunks:
            self.up.later(delay if chunk else 5, lambda: self.send_chunks(sid, chunks, kind, delay))
        elif kind == "rst-late":
            self.reset(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
        else:
            try:
                self.h2.send_headers(sid, [("grpc-status", "0")], end_stream=True)
            except h2.exceptions.ProtocolError:
                pass
            self.streams.pop(sid, None)
            self.flush()
            self.maybe_close()


# ---------------------------------------------------------------------------------------------
# The client


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client_conn():
    cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
    c = h2.connection.H2Connection(config=cfg)
    c.initiate_connection()
    return c


def body_for(xid, size):
    unit = ("<%s>" % xid).encode()
    return (unit * (size // len(unit) + 1))[:size]


def play(port, rng, schedule, deadline):
    """One schedule: a batch of concurrent streams on one connection. Returns (streams, ok,
    failed, violations)."""
    n = rng.randint(1, 12)
    kinds = ["ok"] * 10 + KINDS * 2
    streams = {}
    s = connect(port)
    conn = client_conn()
    s.sendall(conn.data_to_send())
    for i in range(n):
        sid = 1 + 2 * i
        xid = "%d-%d" % (schedule, i)
        kind = rng.choice(kinds)
        plan = "%s:%d:%d" % (kind, rng.choice([0, 0, 1, 2, 5, 10]), rng.randint(1, 5))
        body = body_for(xid, rng.choice([0, 1, 7, 100, 1000, 5000, 20000]))
        streams[sid] = {"xid": xid, "plan": plan, "sent": body, "status": None, "headers": {},
                        "body": b"", "trailers": {}, "reset": None, "ended": False, "answers": 0}
        conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                (":authority", "127.0.0.1"), (":path", "/prop.Echo/Call"),
                                ("content-type", "application/grpc"), ("te", "trailers"),
                                ("x-id", xid), ("x-plan", plan)], end_stream=not body)
        streams[sid]["pending"] = body
    s.settimeout(0.2)
    while time.monotonic() < deadline:
        # Request bodies in random pieces, as the windows allow.
        for sid, st in streams.items():
            if st["pending"] and not st["reset"] and not st["ended"]:
                try:
                    room = min(conn.local_flow_control_window(sid), conn.max_outbound_frame_size)
                except (h2.exceptions.ProtocolError, KeyError):
                    st["pending"] = b""
                    continue
                take = min(room, rng.randint(1, 8000), len(st["pending"]))
                if take > 0:
                    piece, st["pending"] = st["pending"][:take], st["pending"][take:]
                    try:
                        conn.send_data(sid, piece, end_stream=not st["pending"])
                    except h2.exceptions.ProtocolError:
                        st["pending"] = b""
        try:
            s.sendall(conn.data_to_send())
        except OSError:
            break
        if all(st["ended"] or st["reset"] is not None for st in streams.values()):
            break
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            break
        if not data:
            break
        for e in conn.receive_data(data):
            sid = getattr(e, "stream_id", None)
            st = streams.get(sid)
            if isinstance(e, h2.events.ResponseReceived) and st:
                st["answers"] += 1
                for k, v in e.headers:
                    if k == ":status":
                        st["status"] = int(v)
                    else:
                        st["headers"][k] = v
                if e.stream_ended:
                    st["ended"] = True
            elif isinstance(e, h2.events.DataReceived) and st:
                st["body"] += e.data
                conn.acknowledge_received_data(e.flow_controlled_length, sid)
            elif isinstance(e, h2.events.TrailersReceived) and st:
                st["trailers"] = dict(e.headers)
            elif isinstance(e, h2.events.StreamEnded) and st:
                st["ended"] = True
            elif isinstance(e, h2.events.StreamReset) and st:
                st["reset"] = int(e.error_code)
    s.close()
    ok = failed = 0
    violations = []
    drop_in_schedule = any(st["plan"].startswith("drop") for st in streams.values())
    for sid, st in streams.items():
        why = judge(st, drop_in_schedule)
        if why:
            violations.append({"schedule": schedule, "xid": st["xid"], "plan": st["plan"],
                               "why": why, "status": st["status"], "headers": st["headers"],
                               "trailers": st["trailers"], "reset": st["reset"],
                               "body": st["body"][:80].decode("latin-1"),
                               "schedule_plans": [o["plan"] for o in streams.values()]})
        elif (st["trailers"].get("grpc-status") or st["headers"].get("grpc-status")) == "0":
            ok += 1
        else:
            failed += 1
    return len(streams), ok, failed, violations


def judge(st, others_may_fail):
    """Why the stream's outcome breaks the invariant, or None."""
    if not st["ended"]:
        return "never ended" if st["reset"] is None else "reset %d" % st["reset"]
    if st["answers"] != 1:
        return "%d answers" % st["answers"]
    if st["status"] != 200:
        return "status %s" % st["status"]
    xid = st["headers"].get("x-id")
    if xid is not None and xid != st["xid"]:
        return "another stream's head"
    if not st["sent"].startswith(st["body"]):
        return "another stream's body"
    status = st["trailers"].get("grpc-status") or st["headers"].get("grpc-status")
    if status == "0":
        return None if st["body"] == st["sent"] and xid == st["xid"] else "incomplete answer"
    if status != "14":
        return "grpc-status %s" % status
    kind = st["plan"].split(":")[0]
    # refuse and goaway are never processed the first time: the gateway sends them again.
    if kind in ("ok", "refuse", "goaway") and not others_may_fail:
        return "failed without cause"
    return None


def cmd_client(port, seed, count, seconds):
    started = time.monotonic()
    budget_end = started + seconds
    played = streams = ok = failed = 0
    violations = []
    for schedule in range(count):
        if time.monotonic() >= budget_end:
            break
        rng = random.Random(seed * 1000003 + schedule)
        n, o, f, v = play(port, rng, schedule, time.monotonic() + 10)
        played += 1
        streams += n
        ok += o
        failed += f
        violations += v
    return {"schedules": played, "streams": streams, "ok": ok, "failed": failed,
            "violations": violations[:20], "violation_count": len(violations),
            "seconds": round(time.monotonic() - started, 1)}


def cmd_stats(port):
    s = connect(port)
    conn = client_conn()
    conn.send_headers(1, [(":method", "GET"), (":scheme", "http"), (":authority", "127.0.0.1"),
                          (":path", "/stats")], end_stream=True)
    s.sendall(conn.data_to_send())
    body = b""
    ended = False
    while not ended:
        data = s.recv(65536)
        if not data:
            break
        for e in conn.receive_data(data):
            if isinstance(e, h2.events.DataReceived):
                body += e.data
            elif isinstance(e, h2.events.StreamEnded):
                ended = True
        s.sendall(conn.data_to_send())
    s.close()
    return json.loads(body)


def main(argv):
    command = argv[1]
    if command == "upstream":
        Upstream().run()
    elif command == "client":
        print(json.dumps(cmd_client(int(argv[2]), int(argv[3]), int(argv[4]), float(argv[5]))),
              flush=True)
    elif command == "stats":
        print(json.dumps(cmd_stats(int(argv[2]))), flush=True)
    else:
        raise SystemExit("unknown command " + command)


if __name__ == "__main__":
    main(sys.argv)
