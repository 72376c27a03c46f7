#!/usr/bin/python3
"""What bench/run.sh needs beyond wrk, with Python's standard library only (Debian's python3).

  client.py free-ports N                        N distinct free TCP ports on 127.0.0.1, one a line
  client.py mint IDP_URL CLIENT SCOPE COUNT     COUNT tokens minted by the dev IdP's admin API,
                                                one a line on stdout (one keep-alive connection)
  client.py mint-jwt IDP_URL CLIENT SCOPE COUNT the same, as RS256 JWT access tokens
  client.py warm URL TOKENS_FILE                one GET of URL per token of the file, keep-alive;
                                                fails unless every answer is 200
  client.py burst URL TOKEN CONNECTIONS         opens CONNECTIONS connections, then sends one GET
                                                on each back to back, then reads every answer;
                                                prints {"statuses": {...}, "elapsed_ms": ...}

Every socket operation has a timeout, so no command can hang; only 127.0.0.1 is ever contacted.
"""

import http.client
import json
import socket
import sys
import time
import urllib.parse

TIMEOUT_S = 10
MAX_COUNT = 2_000_000


def fail(message):
    print(f"client.py: {message}", file=sys.stderr)
    sys.exit(1)


def loopback_url(url):
    """(host, port, path) of an http URL on 127.0.0.1; anything else is refused."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http" or parts.hostname != "127.0.0.1" or parts.port is None:
        fail(f"{url}: expected http://127.0.0.1:PORT/...")
    return parts.hostname, parts.port, parts.path or "/"


def bounded_count(text, low, high):
    try:
        value = int(text)
    except ValueError:
        fail(f"{text}: not a whole number")
    if not low <= value <= high:
        fail(f"{value}: expected {low}..{high}")
    return value


def free_ports(count_text):
    # All sockets stay bound until every port is known, so the ports are distinct.
    count = bounded_count(count_text, 1, 64)
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        for s in sockets:
            print(s.getsockname()[1])
    finally:
        for s in sockets:
            s.close()


def mint(idp_url, client_id, scope, count_text, token_format="opaque"):
    count = bounded_count(count_text, 1, MAX_COUNT)
    host, port, _ = loopback_url(idp_url)
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    body = json.dumps(
        {"client_id": client_id, "scope": scope, "ttl_s": 86400, "token_format": token_format}
    )
    headers = {"Content-Type": "application/json"}
    out = sys.stdout
    for _ in range(count):
        connection.request("POST", "/admin/tokens", body, headers)
        response = connection.getresponse()
        answer = response.read()
        if response.status != 200:
            fail(f"minting a token: HTTP {response.status}: {answer[:200]!r}")
        out.write(json.loads(answer)["access_token"] + "\n")
    connection.close()


def warm(url, tokens_file):
    host, port, path = loopback_url(url)
    with open(tokens_file, encoding="ascii") as f:
        tokens = [line.strip() for line in f if line.strip()]
    if len(tokens) > MAX_COUNT:
        fail(f"{tokens_file}: more than {MAX_COUNT} tokens")
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
    for token in tokens:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            fail(f"warming {url}: HTTP {response.status}")
    connection.close()


def burst(url, token, connections_text):
    # Connecting first and sending afterwards is the barrier: every request is on the wire within
    # a fraction of a millisecond, long before the first introspection call can be answered.
    count = bounded_count(connections_text, 1, 1000)
    host, port, path = loopback_url(url)
    connections = []
    for _ in range(count):
        connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT_S)
        connection.connect()
        connections.append(connection)
    headers = {"Authorization": f"Bearer {token}"}
    started = time.monotonic()
    for connection in connections:
        connection.request("GET", path, headers=headers)
    statuses = {}
    for connection in connections:
        response = connection.getresponse()
        response.read()
        statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1
        connection.close()
    elapsed_ms = (time.monotonic() - started) * 1000
    print(json.dumps({"statuses": statuses, "elapsed_ms": round(elapsed_ms, 2)}))


def mint_jwt(idp_url, client_id, scope, count_text):
    mint(idp_url, client_id, scope, count_text, "jwt")


COMMANDS = {
    "free-ports": (free_ports, 1),
    "mint": (mint, 4),
    "mint-jwt": (mint_jwt, 4),
    "warm": (warm, 2),
    "burst": (burst, 3),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS or len(argv) - 2 != COMMANDS[argv[1]][1]:
        fail("usage: see the top of this file")
    command, _ = COMMANDS[argv[1]]
    try:
        command(*argv[2:])
    except (OSError, http.client.HTTPException) as error:
        fail(f"{argv[1]}: {error}")


if __name__ == "__main__":
    main(sys.argv)
