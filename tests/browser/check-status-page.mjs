// Loads tollgate's status page in a real headless Chromium (the system's /usr/bin/chromium; nothing
// is ever downloaded) and checks that what it renders is what /status.json says.
//
//   node check-status-page.mjs <admin-base-url> [--screenshot FILE.png]
//
// Checks, each failure printed on stderr as one "mismatch: ..." line:
// - every element with data-field carries a data-value equal to the value at that path in the JSON
//   the page rendered (window.tollgateStatus); arrays are addressed by their items' name (or url):
//   routes.orders.requests, upstreams.echo.targets.http://127.0.0.1:9000.up, plugins.okta.cache.hits;
// - the stable counters of this script's own fetch of status.json (route requests and responses,
//   target requests, decisions, cache hits and misses, IdP requests) are rendered, with the same
//   values;
// - the page asked nothing of any origin but the admin listener's, raised no script error, and
//   shows a stale state while status.json cannot be fetched, then recovers.
// Prints one JSON line on stdout: {"fields": {<data-field>: <rendered raw value>}, "mismatches": [...]}.
// Exits 0 when all holds, 1 on a mismatch, 2 when the check could not run.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const WAIT_MS = 15000;

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { screenshot: { type: "string" } },
});
if (positionals.length !== 1) {
  console.error("usage: check-status-page.mjs <admin-base-url> [--screenshot FILE.png]");
  process.exit(2);
}
const base = new URL(positionals[0].endsWith("/") ? positionals[0] : positionals[0] + "/");
const statusUrl = new URL("status.json", base);

// The page's encoding of data-value: numbers as JavaScript prints them, booleans, null, strings.
const encode = (v) => (v === null || v === undefined ? "null" : String(v));

// The value at a data-field path. Array items are named by their `name` (or `url`), which may hold
// dots themselves, so every split is tried; undefined when the path names nothing.
function resolve(node, rest) {
  const candidates = Array.isArray(node)
    ? node.map((item) => [item?.name ?? item?.url, item])
    : node !== null && typeof node === "object" ? Object.entries(node) : [];
  for (const [key, child] of candidates) {
    if (typeof key !== "string") continue;
    if (rest === key) return child;
    if (rest.startsWith(key + ".")) {
      const found = resolve(child, rest.slice(key.length + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

// The counters that only traffic moves: with no traffic between the page's render and this
// script's fetch, they must be equal.
function stableCounters(status) {
  const paths = [];
  for (const r of status.routes) {
    paths.push(`routes.${r.name}.requests`);
    for (const k of ["2xx", "3xx", "4xx", "5xx"]) paths.push(`routes.${r.name}.responses.${k}`);
  }
  for (const u of status.upstreams)
    for (const t of u.targets) paths.push(`upstreams.${u.name}.targets.${t.url}.requests`);
  for (const p of status.plugins) {
    for (const k of Object.keys(p.decisions)) paths.push(`plugins.${p.name}.decisions.${k}`);
    if (p.cache !== null)
      paths.push(`plugins.${p.name}.cache.hits`, `plugins.${p.name}.cache.misses`);
    paths.push(`plugins.${p.name}.idp.requests`);
  }
  return paths;
}

function compare(rendered, pageStatus, ownStatus) {
  const mismatches = [];
  const fields = {};
  for (const { field, value } of rendered) {
    if (field in fields) mismatches.push(`${field}: rendered twice`);
    if (value === undefined) {
      mismatches.push(`${field}: has no data-value`);
      continue;
    }
    const expected = resolve(pageStatus, field);
    // Report the rendered value in the JSON type it stands for, so callers compare numbers.
    fields[field] = expected !== null && typeof expected !== "string" && encode(expected) === value
                        ? expected : value === "null" ? null : value;
    if (expected === undefined) mismatches.push(`${field}: no such path in window.tollgateStatus`);
    else if (encode(expected) !== value)
      mismatches.push(`${field}: rendered ${value}, window.tollgateStatus has ${encode(expected)}`);
  }
  for (const path of stableCounters(ownStatus)) {
    const own = encode(resolve(ownStatus, path));
    const shown = rendered.find((r) => r.field === path);
    if (!shown) mismatches.push(`${path}: not rendered (status.json has ${own})`);
    else if (shown.value !== own)
      mismatches.push(`${path}: rendered ${shown.value}, status.json has ${own}`);
  }
  return { fields, mismatches };
}

async function snapshot(page) {
  // One evaluate: the page cannot re-render between reading the DOM and reading its JSON.
  return page.evaluate(() => ({
    status: window.tollgateStatus,
    rendered: [...document.querySelectorAll("[data-field]")].map((e) => ({
      field: e.dataset.field, value: e.dataset.value })),
  }));
}

async function run(page, mismatches) {
  const response = await page.goto(base.href, { waitUntil: "load", timeout: WAIT_MS });
  if (!response || response.status() !== 200)
    throw new Error(`GET ${base.href}: ${response ? response.status() : "no response"}`);
  const headers = response.headers();
  if (!/^text\/html/.test(headers["content-type"] || ""))
    mismatches.push(`GET /: content-type ${headers["content-type"]}, expected text/html`);
  if (!/default-src 'none'/.test(headers["content-security-policy"] || ""))
    mismatches.push(`GET /: no Content-Security-Policy with default-src 'none'`);

  await page.waitForFunction(() => document.body.dataset.state !== "loading", null,
                             { timeout: WAIT_MS });
  const state = await page.evaluate(() => document.body.dataset.state);
  if (state !== "live") {
    const banner = await page.textContent("#banner");
    throw new Error(`the page did not render: state ${state}: ${banner}`);
  }
  const { status, rendered } = await snapshot(page);
  const own = await (await fetch(statusUrl, { signal: AbortSignal.timeout(WAIT_MS) })).json();
  const result = compare(rendered, status, own);
  mismatches.push(...result.mismatches);

  if (options.screenshot) await page.screenshot({ path: options.screenshot, fullPage: true });

  // Cut the page off from status.json: it must say so, then recover when the gateway is back.
  await page.route("**/status.json*", (route) => route.abort("connectionrefused"));
  try {
    await page.waitForFunction(() => document.body.dataset.state === "stale", null,
                               { timeout: WAIT_MS });
  } catch {
    mismatches.push("state: the page did not show 'stale' while status.json was unreachable");
  }
  await page.unroute("**/status.json*");
  try {
    await page.waitForFunction(() => document.body.dataset.state === "live", null,
                               { timeout: WAIT_MS });
  } catch {
    mismatches.push("state: the page did not return to 'live' once status.json answered again");
  }
  return result.fields;
}

async function main() {
  if (!existsSync(CHROMIUM)) {
    console.error(`chromium not found at ${CHROMIUM} (Debian: apt-get install chromium)`);
    return 2;
  }
  const profile = mkdtempSync(join(tmpdir(), "tollgate-chromium-"));
  let context;
  const mismatches = [];
  let fields = {};
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1360, height: 900 },
      // No sandbox (CI runs as root), no GPU, and nothing that talks to the network on its own.
      // Shared memory through /tmp: containers often have a tiny /dev/shm.
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage"],
      timeout: WAIT_MS,
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const requests = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("pageerror", (e) => mismatches.push(`script error: ${e.message}`));
    page.on("console", (m) => {
      // Aborted fetches during the stale check log network errors; anything else is a fault.
      if (m.type() === "error" && !/status\.json|ERR_CONNECTION_REFUSED/.test(m.text() + m.location().url))
        mismatches.push(`console error: ${m.text()}`);
    });
    fields = await run(page, mismatches);
    for (const url of requests) {
      if (url.startsWith("data:")) continue;
      if (new URL(url).origin !== base.origin)
        mismatches.push(`request to ${url}: only ${base.origin} may be asked`);
    }
  } catch (e) {
    console.error(`check-status-page: ${e.message}`);
    return 2;
  } finally {
    await context?.close().catch(() => {});
    rmSync(profile, { recursive: true, force: true });
  }
  for (const m of mismatches) console.error(`mismatch: ${m}`);
  console.log(JSON.stringify({ fields, mismatches }));
  return mismatches.length === 0 ? 0 : 1;
}

process.exitCode = await main();
