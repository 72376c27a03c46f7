// Serves the status page source and a fixed status.json on 127.0.0.1, for working on the page
// without a running gateway:  node serve-fixture.mjs [--port N] [--status FILE]
// `/status.json?fail` toggles failures on and off, to see the page's stale state.
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const { values } = parseArgs({
  options: { port: { type: "string", default: "0" },
             status: { type: "string", default: here("fixture/status.json") } },
});

// The policy tollgate sends with the page (src/admin/status_page.cpp), its script allowed by hash.
function policy(html) {
  const script = html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"));
  const hash = createHash("sha256").update(script).digest("base64");
  return `default-src 'none'; connect-src 'self'; script-src 'sha256-${hash}'; ` +
         "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; " +
         "frame-ancestors 'none'";
}

let failing = false;
const server = createServer((req, res) => {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/") {
    const html = readFileSync(here("../../src/admin/status_page.html"), "utf8");
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-cache",
                         "content-security-policy": policy(html) });
    res.end(html);
  } else if (url.pathname === "/status.json" && url.searchParams.has("fail")) {
    failing = !failing;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ failing }) + "\n");
  } else if (url.pathname === "/status.json" && !failing) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(readFileSync(values.status));
  } else {
    res.writeHead(failing ? 503 : 404, { "content-type": "application/json" });
    res.end('{"message":"Not found"}\n');
  }
});
server.listen(Number(values.port), "127.0.0.1", () => {
  console.log(`fixture listening on http://127.0.0.1:${server.address().port}`);
});
