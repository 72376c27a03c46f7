// Real WebSocket peers (npm ws) for tollgate's tunnel tests (tests/integration/websocket_test.cpp).
// Every line it prints starts with "ws-peer ", for the test to wait on.
//
//   node ws-peer.mjs server [CERT KEY]
//       An echo server on 127.0.0.1 (port chosen by the kernel), over TLS with the PEM files CERT
//       and KEY when given. A text message "close-me:CODE" makes it close with CODE instead. Plain
//       HTTP requests get 200 with the Upgrade header they carried, as JSON.
//   node ws-peer.mjs client URL SCENARIO [TOKEN] [COUNT]
//       A wss:// URL is verified against the CA file in WS_PEER_CA.
//       refused       expects the handshake refused; prints its status
//       echo          sends COUNT messages (text and binary, up to 64 KiB) and checks each echo
//       close-client  closes with 4001; prints the close code it gets back
//       close-server  asks the server to close with 4002; prints the code it sees
//       wait          opens and stays silent; prints the close it sees and when
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { WebSocket, WebSocketServer } from 'ws';

const say = (line) => console.log(`ws-peer ${line}`);

function server(cert, key) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  const answer = (req, res) => {
    say(`http ${req.method} ${req.url} upgrade=${req.headers.upgrade ?? '-'}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ upgrade: req.headers.upgrade ?? null }));
  };
  const plain = cert
    ? https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, answer)
    : http.createServer(answer);
  plain.on('upgrade', (req, socket, head) => {
    say(`upgrade ${req.url} user=${req.headers['x-authenticated-user'] ?? '-'}`);
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? '' : data.toString();
      if (text.startsWith('close-me:')) {
        ws.close(Number(text.slice('close-me:'.length)), 'server bye');
        return;
      }
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (code) => say(`server saw close ${code}`));
  });
  plain.listen(0, '127.0.0.1', () => say(`listening on 127.0.0.1:${plain.address().port}`));
}

// Message i of the echo scenario: odd ones binary, every 500th one 64 KiB, the others up to 4 KiB.
function message(i) {
  const size = i % 500 === 0 ? 64 * 1024 : (i * 7919) % 4096;
  if (i % 2 === 1) {
    const bytes = Buffer.alloc(size);
    for (let j = 0; j < size; ++j) bytes[j] = (i + j * 31) & 0xff;
    return { data: bytes, binary: true };
  }
  let text = `${i}:`;
  while (text.length < size) text += String.fromCharCode(97 + ((i + text.length) % 26));
  return { data: Buffer.from(text), binary: false };
}

function client(url, scenario, token, count) {
  const headers = token ? { authorization: `Bearer ${token}` } : {};
  const ca = process.env.WS_PEER_CA ? fs.readFileSync(process.env.WS_PEER_CA) : undefined;
  const ws = new WebSocket(url, { headers, maxPayload: 1 << 20, ca });
  const opened = Date.now();
  ws.on('unexpected-response', (req, res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => {
      say(`client refused ${res.statusCode} ${body.trim()}`);
      process.exit(0);
    });
  });
  ws.on('error', (err) => say(`client error ${err.message}`));
  ws.on('close', (code) => {
    say(`client saw close ${code} after ${Date.now() - opened} ms`);
    process.exit(0);
  });
  ws.on('open', () => {
    say('client opened');
    if (scenario === 'close-client') ws.close(4001, 'client bye');
    if (scenario === 'close-server') ws.send('close-me:4002');
    if (scenario === 'echo') echo(ws, count);
  });
}

// At most `window` messages in flight: the tunnel's buffers and TCP hold the rest back.
function echo(ws, count) {
  const window = 64;
  let sent = 0;
  let received = 0;
  const sendMore = () => {
    while (sent < count && sent - received < window) {
      const { data, binary } = message(sent++);
      ws.send(data, { binary });
    }
  };
  ws.on('message', (data, isBinary) => {
    const expected = message(received);
    if (isBinary !== expected.binary || !expected.data.equals(data)) {
      say(`client mismatch at ${received}`);
      process.exit(1);
    }
    if (++received === count) {
      say(`client echoed ${count}`);
      ws.close(1000);
      return;
    }
    sendMore();
  });
  sendMore();
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'server') {
  const [cert, key] = args;
  server(cert, key);
} else {
  const [url, scenario, token, count] = args;
  client(url, scenario, token, Number(count ?? 0));
}
