#!/usr/bin/python3
"""An adversarial HTTP/2 client for tollgate's integration tests (python3-h2, and frames by hand
where h2 refuses to make them). Talks to 127.0.0.1 only. Each command prints one JSON line with
what it saw; the GoogleTest side decides what that must be.

  request PORT PATH [NAME=VALUE ...]   one request; pseudo-headers may be overridden (:path=/x),
                                       or left out (:scheme=-)
  rapid-reset PORT PATH COUNT          HEADERS then RST_STREAM, COUNT times
  continuation-flood PORT              a header block that never ends
  hpack-bomb PORT PATH                 one 4000-byte header, then 1-byte references to it
  settings-flood PORT COUNT            COUNT SETTINGS frames, nothing read
  ping-flood PORT COUNT                COUNT PING frames, nothing read
  stream-ids PORT PATH                 the last stream id, then one below it
  zero-window PORT PATH                window 0, a request, and never a WINDOW_UPDATE
  schedules PORT SEED COUNT TOKEN      the seeded property test (see run_schedules)
  idle PORT                            a connection with no stream: prints "connected", then
                                       waits for the server to end it
  grpc PORT PATH HEX [NAME=VALUE ...]  a gRPC call: POST with content-type application/grpc and
                                       te: trailers, the body HEX (a framed message); trailers too
  silent PORT PATH                     one request, then nothing sent, not even a PING's ACK
  window PORT                          the connection window the server opens at the start
"""

import json
import random
import socket
import struct
import sys
import time

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
LIMIT_S = 20  # no command runs longer than this


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def client(settings=None):
    config = h2.config.H2Configuration(client_side=True, header_encoding="utf-8",
                                       validate_outbound_headers=False,
                                       normalize_outbound_headers=False,
                                       validate_inbound_headers=False)
    conn = h2.connection.H2Connection(config=config)
    conn.initiate_connection()
    if settings:
        conn.update_settings(settings)
    return conn


def frame(kind, flags, stream_id, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(
        ">I", stream_id & 0x7FFFFFFF) + payload


def raw_frames(s, deadline):
    """Yields (kind, flags, stream id, payload) for each frame read until `deadline`; then, or when
    the peer closes, yields ("closed", bool) once and ends."""
    buffer = b""
    s.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            data = b""
        if not data:
            yield "closed", True
            return
        buffer += data
        while len(buffer) >= 9 and len(buffer) >= 9 + int.from_bytes(buffer[:3], "big"):
            length = int.from_bytes(buffer[:3], "big")
            yield buffer[3], buffer[4], int.from_bytes(buffer[5:9], "big") & 0x7FFFFFFF, \
                buffer[9:9 + length]
            buffer = buffer[9 + length:]
    yield "closed", False


def read_until_closed(s, deadline):
    """Reads raw frames until the peer closes; returns (closed, goaway error code or None)."""
    goaway = None
    for kind, *rest in raw_frames(s, deadline):
        if kind == "closed":
            return rest[0], goaway
        payload = rest[2]
        if kind == 7 and len(payload) >= 8:  # GOAWAY
            goaway = int.from_bytes(payload[4:8], "big")
    return False, goaway


def server_settings(s, conn, deadline):
    """Reads until the server's SETTINGS arrive (its HTTP/2 session is up, not just the TCP
    connection); returns whether they did, and the events read on the way."""
    s.settimeout(0.5)
    events = []
    while time.monotonic() < deadline:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        events += conn.receive_data(data)
        s.sendall(conn.data_to_send())
        if any(isinstance(e, h2.events.RemoteSettingsChanged) for e in events):
            return True, events
    return False, events


def request_headers(port, path, extra=None, method="GET"):
    headers = [(":method", method), (":scheme", "http"), (":authority", "127.0.0.1:%d" % port),
               (":path", path)]
    for name, value in extra or []:
        replaced = False
        if name.startswith(":"):
            for i, (n, _) in enumerate(headers):
                if n == name:
                    headers[i] = (name, value)
                    replaced = True
        if not replaced:
            headers.append((name, value))
    return [(n, v) for n, v in headers if v != "-"]  # "-" drops a pseudo-header


def exchange(s, conn, wanted, deadline):
    """Reads until every stream in `wanted` ended or was reset; returns {id: result}."""
    results = {i: {"status": None, "headers": {}, "body": b"", "reset": None, "trailers": {}}
               for i in wanted}
    done = set()
    goaway = None
    s.settimeout(0.5)
    while done != set(wanted) and time.monotonic() < deadline:
        s.sendall(conn.data_to_send())
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        for event in conn.receive_data(data):
            sid = getattr(event, "stream_id", None)
            if isinstance(event, h2.events.ResponseReceived) and sid in results:
                for n, v in event.headers:
                    if n == ":status":
                        results[sid]["status"] = int(v)
                    else:
                        results[sid]["headers"][n] = v
            elif isinstance(event, h2.events.TrailersReceived) and sid in results:
                results[sid]["trailers"] = dict(event.headers)
            elif isinstance(event, h2.events.DataReceived) and sid in results:
                results[sid]["body"] += event.data
                conn.acknowledge_received_data(event.flow_controlled_length, sid)
            elif isinstance(event, h2.events.StreamEnded) and sid in results:
                done.add(sid)
            elif isinstance(event, h2.events.StreamReset) and sid in results:
                results[sid]["reset"] = int(event.error_code)
                done.add(sid)
            elif isinstance(event, h2.events.ConnectionTerminated):
                goaway = int(event.error_code)
                done = set(wanted)
        s.sendall(conn.data_to_send())
    for r in results.values():
        try:
            r["body"] = json.loads(r["body"]) if r["body"] else None
        except ValueError:
            r["body"] = r["body"].decode("latin-1")
    return results, goaway


def cmd_request(port, path, *pairs):
    extra = [tuple(p.split("=", 1)) for p in pairs]
    s = connect(port)
    conn = client()
    conn.send_headers(1, request_headers(port, path, extra), end_stream=True)
    s.sendall(conn.data_to_send())
    results, goaway = exchange(s, conn, [1], time.monotonic() + LIMIT_S)
    return dict(results[1], goaway=goaway)


def cmd_grpc(port, path, body_hex, *pairs):
    extra = [("content-type", "application/grpc"), ("te", "trailers")]
    extra += [tuple(p.split("=", 1)) for p in pairs]
    s = connect(port)
    conn = client()
    conn.send_headers(1, request_headers(port, path, extra, method="POST"))
    conn.send_data(1, bytes.fromhex(body_hex), end_stream=True)
    s.sendall(conn.data_to_send())
    started = time.monotonic()
    results, goaway = exchange(s, conn, [1], time.monotonic() + LIMIT_S)
    result = dict(results[1], goaway=goaway, ms=int((time.monotonic() - started) * 1000))
    if isinstance(result["body"], str):
        result["body"] = result["body"].encode("latin-1").hex()
    return result


def cmd_rapid_reset(port, path, count):
    s = connect(port)
    conn = client()
    s.sendall(conn.data_to_send())
    sent = 0
    closed = False
    for i in range(int(count)):
        sid = 1 + 2 * i
        try:
            conn.send_headers(sid, request_headers(port, path), end_stream=True)
            conn.reset_stream(sid)
            s.sendall(conn.data_to_send())
            sent += 1
        except (OSError, h2.exceptions.ProtocolError):
            closed = True
            break
    raw_closed, goaway = read_until_closed(s, time.monotonic() + LIMIT_S)
    return {"sent": sent, "closed": closed or raw_closed, "goaway": goaway}


def cmd_continuation_flood(port):
    s = connect(port)
    s.sendall(PREFACE + frame(4, 0, 0))
    # HEADERS without END_HEADERS, then CONTINUATIONs of literal headers, never ending the block.
    literal = b"\x00" + bytes([10]) + b"x-flood-aa" + bytes([100]) + b"v" * 100
    s.sendall(frame(1, 0x1, 1, b"\x82\x86\x84\x41\x09127.0.0.1"))  # END_STREAM only
    sent = 0
    try:
        for _ in range(2000):
            s.sendall(frame(9, 0, 1, literal * 10))
            sent += 1
    except OSError:
        pass
    closed, goaway = read_until_closed(s, time.monotonic() + LIMIT_S)
    return {"sent": sent, "closed": closed, "goaway": goaway}


def cmd_hpack_bomb(port, path):
    s = connect(port)
    conn = client()
    s.sendall(conn.data_to_send())
    # One 4000-byte header in the dynamic table (literal with incremental indexing), then
    # references to it (index 62, one byte each): 4000 of them decode to 16 MB from 8 KB.
    encoder = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True))
    block = encoder.encoder.encode(request_headers(port, path))
    # 4000 + 7 + 32 bytes: the entry fits the default 4 KiB table (RFC 7541 §4.1).
    block += b"\x40" + bytes([7]) + b"x-bombs" + b"\x7f\xa1\x1e" + b"b" * 4000
    block += b"\xbe" * 4000
    s.sendall(frame(1, 0x5, 1, block))
    results = {"status": None, "reset": None}
    for kind, *rest in raw_frames(s, time.monotonic() + LIMIT_S):
        if kind == "closed":
            break
        _, sid, payload = rest
        if kind == 1 and sid == 1:
            for n, v in conn.decoder.decode(payload):
                if n in (b":status", ":status"):
                    results["status"] = int(v)
        elif kind == 3 and sid == 1:
            results["reset"] = int.from_bytes(payload, "big")
        elif kind == 7:
            results["goaway"] = int.from_bytes(payload[4:8], "big")
            results["reset"] = -1
        if results["status"] is not None or results["reset"] is not None:
            break
    return results


def cmd_flood(port, kind, count):
    s = connect(port)
    s.sendall(PREFACE + frame(4, 0, 0))
    one = frame(4, 0, 0, struct.pack(">HI", 3, 100)) if kind == "settings" else frame(
        6, 0, 0, b"12345678")
    sent = 0
    s.settimeout(5)
    try:
        for _ in range(int(count) // 100):
            s.sendall(one * 100)
            sent += 100
    except OSError:
        pass
    closed, goaway = read_until_closed(s, time.monotonic() + LIMIT_S)
    return {"sent": sent, "closed": closed, "goaway": goaway}


def cmd_stream_ids(port, path):
    s = connect(port)
    conn = client()
    last = 0x7FFFFFFF
    conn.send_headers(last, request_headers(port, path), end_stream=True)
    s.sendall(conn.data_to_send())
    results, goaway = exchange(s, conn, [last], time.monotonic() + LIMIT_S)
    # No stream can follow it (RFC 9113 §5.1.1); one with a lower id, made by hand as h2 refuses
    # to, is not served either.
    try:
        block = conn.encoder.encode(request_headers(port, path))
        s.sendall(frame(1, 0x5, 41, block))
    except OSError:
        pass
    closed, later_goaway = read_until_closed(s, time.monotonic() + LIMIT_S)
    return {"first_status": results[last]["status"], "closed": closed,
            "goaway": goaway if goaway is not None else later_goaway}


def cmd_zero_window(port, path):
    s = connect(port)
    conn = client({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 0})
    conn.send_headers(1, request_headers(port, path), end_stream=True)
    s.sendall(conn.data_to_send())
    started = time.monotonic()
    status = None
    reset = None
    closed = False
    goaway = None
    s.settimeout(0.5)
    while time.monotonic() - started < LIMIT_S:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            closed = True
            break
        if not data:
            closed = True
            break
        for event in conn.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                status = int(dict(event.headers)[":status"])
            elif isinstance(event, h2.events.StreamReset):
                reset = int(event.error_code)
            elif isinstance(event, h2.events.ConnectionTerminated):
                goaway = int(event.error_code)
        s.sendall(conn.data_to_send())  # ACKs only: never a WINDOW_UPDATE
    return {"status": status, "reset": reset, "closed": closed, "goaway": goaway,
            "seconds": round(time.monotonic() - started, 2)}


def run_schedule(port, rng, token, seed, index):
    """One connection: 1 to 8 streams with or without a valid token, some with a body, some reset
    at a random point; frames interleaved across streams at random and written in random pieces.
    Returns a list of violations (empty when every answer reached its own stream)."""
    s = connect(port)
    conn = client()
    streams = []
    for k in range(rng.randint(1, 8)):
        auth = rng.choice(["valid", "valid", "none", "bad"])
        path = "/p/%d/%d/%d" % (seed, index, k)
        body = b"b" * rng.choice([0, 0, 1, 1000, 20000])
        reset_at = rng.choice([None, None, None, "headers", "body"])
        # Stream ids rise in the order the streams open (RFC 9113 §5.1.1): given with HEADERS.
        streams.append(dict(id=None, auth=auth, path=path, body=body, reset_at=reset_at))
    # Each stream's frames in order, streams interleaved at random.
    steps = []
    for st in streams:
        own = [("headers", st)]
        if st["body"]:
            half = len(st["body"]) // 2
            own += [("data", st, st["body"][:half], False), ("data", st, st["body"][half:], True)]
        if st["reset_at"] == "headers":
            own.insert(1, ("reset", st))
            own = own[:2]
        elif st["reset_at"] == "body" and st["body"]:
            own.insert(2, ("reset", st))
            own = own[:3]
        steps.append(own)
    order = []
    while any(steps):
        pick = rng.choice([s for s in steps if s])
        order.append(pick.pop(0))
    wire = conn.data_to_send()
    next_id = 1
    for step in order:
        st = step[1]
        if step[0] == "headers":
            st["id"] = next_id
            next_id += 2
            extra = [("content-length", str(len(st["body"])))] if st["body"] else []
            if st["auth"] == "valid":
                extra.append(("authorization", "Bearer " + token))
            elif st["auth"] == "bad":
                extra.append(("authorization", "Bearer not-a-token-%d" % rng.randint(0, 9)))
            conn.send_headers(st["id"], request_headers(port, st["path"], extra,
                                                        "POST" if st["body"] else "GET"),
                              end_stream=not st["body"])
        elif step[0] == "data" and st["reset_at"] != "flow":
            if conn.local_flow_control_window(st["id"]) < len(step[2]):
                st["reset_at"] = "flow"  # not enough window yet: give this stream up
                conn.reset_stream(st["id"])
            else:
                conn.send_data(st["id"], step[2], end_stream=step[3])
        elif step[0] == "reset" and st["reset_at"] != "flow":
            conn.reset_stream(st["id"])
        wire += conn.data_to_send()
    # Partial frames: the bytes go in random pieces.
    position = 0
    while position < len(wire):
        n = rng.randint(1, 3000)
        s.sendall(wire[position:position + n])
        position += n
    wanted = [st["id"] for st in streams if st["reset_at"] is None]
    results, goaway = exchange(s, conn, wanted, time.monotonic() + LIMIT_S)
    s.close()
    problems = []
    for st in streams:
        if st["reset_at"] is not None:
            continue
        r = results[st["id"]]
        if r["reset"] is not None or r["status"] is None:
            problems.append("stream %d got no answer: %r" % (st["id"], r))
            continue
        if st["auth"] != "valid":
            if r["status"] != 401:
                problems.append("stream %d without a valid token got %d" % (st["id"], r["status"]))
            continue
        if r["status"] != 200:
            problems.append("stream %d got %d" % (st["id"], r["status"]))
            continue
        body = r["body"]
        if body.get("path") != st["path"]:
            problems.append("stream %d (%s) got the answer for %s" % (st["id"], st["path"],
                                                                     body.get("path")))
        if body.get("body_size") != len(st["body"]):
            problems.append("stream %d sent %d bytes, upstream saw %s" % (
                st["id"], len(st["body"]), body.get("body_size")))
        if body["headers"].get("x-authenticated-user") is None:
            problems.append("stream %d reached the upstream without an identity" % st["id"])
    if goaway is not None:
        problems.append("connection ended with GOAWAY %d" % goaway)
    return problems


def cmd_schedules(port, seed, count, token):
    seed = int(seed)
    deadline = time.monotonic() + 100
    ran = 0
    problems = []
    for index in range(int(count)):
        if time.monotonic() > deadline:
            break
        rng = random.Random(seed * 1_000_003 + index)
        for p in run_schedule(port, rng, token, seed, index):
            problems.append("schedule %d (seed %d): %s" % (index, seed, p))
        ran += 1
    return {"ran": ran, "problems": problems[:20], "problem_count": len(problems)}


def cmd_idle(port):
    s = connect(port)
    conn = client()
    s.sendall(conn.data_to_send())
    settings, _ = server_settings(s, conn, time.monotonic() + LIMIT_S)
    print("connected" if settings else "no settings", flush=True)
    closed, goaway = read_until_closed(s, time.monotonic() + LIMIT_S)
    return {"closed": closed, "goaway": goaway}


def cmd_silent(port, path):
    s = connect(port)
    conn = client()
    conn.send_headers(1, request_headers(port, path), end_stream=True)
    s.sendall(conn.data_to_send())
    started = time.monotonic()
    pings = 0
    closed = False
    for kind, *rest in raw_frames(s, started + LIMIT_S):
        if kind == "closed":
            closed = rest[0]
        elif kind == 6 and not rest[0] & 1:  # PING, not an ACK
            pings += 1
    return {"closed": closed, "pings": pings, "seconds": time.monotonic() - started}


def cmd_window(port):
    s = connect(port)
    conn = client()
    s.sendall(conn.data_to_send())
    settings, events = server_settings(s, conn, time.monotonic() + LIMIT_S)
    increment = sum(e.delta for e in events
                    if isinstance(e, h2.events.WindowUpdated) and e.stream_id == 0)
    return {"settings": settings, "connection_window": 65535 + increment}


def main(argv):
    command, args = argv[1], argv[2:]
    port = int(args[0])
    if command == "request":
        result = cmd_request(port, *args[1:])
    elif command == "grpc":
        result = cmd_grpc(port, *args[1:])
    elif command == "rapid-reset":
        result = cmd_rapid_reset(port, args[1], args[2])
    elif command == "continuation-flood":
        result = cmd_continuation_flood(port)
    elif command == "hpack-bomb":
        result = cmd_hpack_bomb(port, args[1])
    elif command in ("settings-flood", "ping-flood"):
        result = cmd_flood(port, command.split("-")[0], args[1])
    elif command == "stream-ids":
        result = cmd_stream_ids(port, args[1])
    elif command == "zero-window":
        result = cmd_zero_window(port, args[1])
    elif command == "idle":
        result = cmd_idle(port)
    elif command == "silent":
        result = cmd_silent(port, args[1])
    elif command == "window":
        result = cmd_window(port)
    elif command == "schedules":
        result = cmd_schedules(port, args[1], args[2], args[3])
    else:
        raise SystemExit("unknown command " + command)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main(sys.argv)
