// A gRPC echo server and client for tollgate's tests (echo.proto).
//   node grpc-peer.mjs server [CERT KEY]           prints "grpc-peer listening on 127.0.0.1:PORT"
//                                                  (over TLS with CERT and KEY)
//   node grpc-peer.mjs client ADDRESS CALL [TOKEN] [--count N] [--timeout-ms N] [--sleep-ms N]
//                                                  [--code N] [--text S] [--authority HOST]
//                                                  [--cancel-after N]
// The client prints one line, "grpc-peer result {json}", with the call's status code, details,
// the messages it got (count, and whether each came back in order with its own id) and the
// trailing metadata.
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";
import path from "node:path";
import fs from "node:fs";

const here = path.dirname(fileURLToPath(import.meta.url));
const definition = protoLoader.loadSync(path.join(here, "echo.proto"), {
  keepCase: true,
  longs: Number,
  defaults: true,
});
const { Echo } = grpc.loadPackageDefinition(definition).tollgate.test;

function seen(call) {
  const md = call.metadata.getMap();
  return String(md["x-authenticated-user"] ?? md["x-authenticated-client"] ?? "");
}

function server(cert, key) {
  const s = new grpc.Server();
  s.addService(Echo.service, {
    Unary(call, callback) {
      const reply = { id: call.request.id, text: call.request.text, authorization: seen(call) };
      if (call.request.sleep_ms > 0) setTimeout(() => callback(null, reply), call.request.sleep_ms);
      else callback(null, reply);
    },
    ServerStream(call) {
      for (let i = 0; i < call.request.count; i++) {
        call.write({ id: `${call.request.id}${i}`, text: call.request.text, index: i });
      }
      // With sleep_ms the stream stays open that long after its messages; a call cancelled
      // meanwhile says so.
      if (call.request.sleep_ms > 0) {
        const timer = setTimeout(() => call.end(), call.request.sleep_ms);
        call.on("cancelled", () => {
          clearTimeout(timer);
          console.log(`grpc-peer cancelled ${call.request.text}`);
        });
      } else call.end();
    },
    BidiStream(call) {
      let index = 0;
      call.on("data", (m) => call.write({ id: m.id, text: m.text, index: index++ }));
      call.on("end", () => call.end());
    },
    Trailing(call, callback) {
      const trailer = new grpc.Metadata();
      trailer.set("x-trailer", call.request.text);
      callback(null, { id: call.request.id, text: call.request.text }, trailer);
    },
    Fail(call, callback) {
      callback({ code: call.request.code, details: call.request.text });
    },
  });
  // Over TLS (h2 by ALPN) when given a certificate and key.
  const credentials = cert
    ? grpc.ServerCredentials.createSsl(null, [
        { cert_chain: fs.readFileSync(cert), private_key: fs.readFileSync(key) },
      ])
    : grpc.ServerCredentials.createInsecure();
  s.bindAsync("127.0.0.1:0", credentials, (error, port) => {
    if (error) throw error;
    console.log(`grpc-peer listening on 127.0.0.1:${port}`);
  });
}

function options(args) {
  const o = { count: 0, timeoutMs: 0, sleepMs: 0, code: 0, text: "hello", authority: "", cancelAfter: 0 };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (k === "--count") o.count = Number(v);
    else if (k === "--timeout-ms") o.timeoutMs = Number(v);
    else if (k === "--sleep-ms") o.sleepMs = Number(v);
    else if (k === "--code") o.code = Number(v);
    else if (k === "--text") o.text = v;
    else if (k === "--authority") o.authority = v;
    else if (k === "--cancel-after") o.cancelAfter = Number(v);
  }
  return o;
}

function client(address, method, token, args) {
  const o = options(args);
  const channel = o.authority ? { "grpc.default_authority": o.authority } : {};
  const stub = new Echo(address, grpc.credentials.createInsecure(), channel);
  const metadata = new grpc.Metadata();
  if (token) metadata.set("authorization", `Bearer ${token}`);
  const callOptions = o.timeoutMs > 0 ? { deadline: new Date(Date.now() + o.timeoutMs) } : {};
  const result = { code: 0, details: "", messages: 0, in_order: true, trailers: {}, authorization: "" };
  let expected = 0;
  const take = (m) => {
    if (m.id !== `m${expected}` && m.id !== "one") result.in_order = false;
    if (m.index !== expected) result.in_order = false;
    if (m.authorization) result.authorization = m.authorization;
    expected++;
    result.messages++;
  };
  const done = (error) => {
    if (error) {
      result.code = error.code;
      result.details = error.details;
    }
    console.log(`grpc-peer result ${JSON.stringify(result)}`);
    stub.close();
  };
  const onStatus = (status) => {
    for (const [k, v] of Object.entries(status.metadata.getMap())) result.trailers[k] = String(v);
  };
  // A stream's result waits for both its end (or error) and its status: grpc-js may end the read
  // side before it emits the error a non-OK status brings, and the code is the status's.
  const finishStream = (call) => {
    let status = null;
    let ended = false;
    const finish = () => {
      if (!status || !ended) return;
      done(status.code === grpc.status.OK ? null : status);
      ended = false;
    };
    call.on("status", (s) => {
      onStatus(s);
      status = s;
      finish();
    });
    call.on("error", () => {
      ended = true;
      finish();
    });
    call.on("end", () => {
      ended = true;
      finish();
    });
  };
  const request = { id: "one", text: o.text, count: o.count, sleep_ms: o.sleepMs, code: o.code };
  if (method === "Unary" || method === "Trailing" || method === "Fail") {
    const call = stub[method](request, metadata, callOptions, (error, reply) => {
      if (!error) take({ ...reply, index: 0 });
      setImmediate(() => done(error));
    });
    call.on("status", onStatus);
  } else if (method === "ServerStream") {
    const call = stub.ServerStream({ ...request, id: "m" }, metadata, callOptions);
    call.on("data", take);
    // The client cancels the call (RST_STREAM CANCEL) once it has this many messages.
    if (o.cancelAfter > 0) call.on("data", () => result.messages === o.cancelAfter && call.cancel());
    finishStream(call);
  } else if (method === "BidiStream") {
    const call = stub.BidiStream(metadata, callOptions);
    call.on("data", take);
    finishStream(call);
    // Written as the stream takes them: the gateway's windows pace the writer.
    let i = 0;
    const write = () => {
      while (i < o.count) {
        const ok = call.write({ id: `m${i}`, text: `${o.text} ${i}` });
        i++;
        if (!ok) return call.once("drain", write);
      }
      call.end();
    };
    write();
  } else {
    console.error(`unknown call ${method}`);
    process.exit(2);
  }
}

const [mode, ...rest] = process.argv.slice(2);
if (mode === "server") server(rest[0], rest[1]);
else if (mode === "client") client(rest[0], rest[1], rest[2], rest.slice(3));
else {
  console.error("usage: grpc-peer.mjs server | client ADDRESS CALL [TOKEN] [options]");
  process.exit(2);
}
