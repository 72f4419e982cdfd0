// Drives Debian's chromium (headless, through playwright-core; no browser download) on the test
// page, and reports what happens as JSON lines on stdout, one object per line with an "ev" key.
//
//   node run.mjs '<json config>'
//
// config: {page: "http://127.0.0.1:PORT/page.html", url: "ws://...", token: "...",
//          publishAudio: "mic" | "oscillator" | null, timeoutMs: 60000, smoke: false,
//          chromium: "/usr/bin/chromium", logLevel: "debug"}
// With smoke: true it only loads the page and reports the livekit-client version.
// Commands arrive as JSON lines on stdin: {"cmd": "send", "text": "...", "topic": "..."},
// {"cmd": "leave"}. It exits on "leave", on end of stdin, on SIGTERM/SIGINT, or after timeoutMs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const cfg = JSON.parse(process.argv[2] || '{}');
const timeoutMs = cfg.timeoutMs || 60000;
const emit = (obj) => process.stdout.write(JSON.stringify(obj) + '\n');

// Only loopback and the private test namespace (10.253.0.0/24 of scripts/netns-run) are reachable.
const LOCAL_HOST = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|10\.253\.0\.\d+)$/;

const allowedHosts = new Set();
let context = null;
let userDataDir = null;
let finishing = null;

function finish(code, why) {
  if (finishing) return finishing;
  finishing = (async () => {
    emit({ ev: 'closing', why });
    if (context) {
      await Promise.race([context.close().catch(() => {}), new Promise((r) => setTimeout(r, 5000))]);
    }
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    emit({ ev: 'exit', code, why });
    process.exit(code);
  })();
  return finishing;
}

const overall = setTimeout(() => finish(3, `overall timeout ${timeoutMs} ms`), timeoutMs);
overall.unref();
process.on('SIGTERM', () => finish(143, 'SIGTERM'));
process.on('SIGINT', () => finish(130, 'SIGINT'));

const withTimeout = (promise, ms, what) => Promise.race([
  promise,
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)),
]);

async function main() {
  userDataDir = mkdtempSync(join(tmpdir(), 'compat-chromium-'));
  // The LiveKit server the test names (an external LIVEKIT_URL) is reachable too.
  const lkHost = cfg.url ? new URL(cfg.url.replace(/^ws/, 'http')).hostname : null;
  if (lkHost && !LOCAL_HOST.test(lkHost)) allowedHosts.add(lkHost);
  const args = [
    '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--disable-default-apps', '--disable-extensions', '--disable-domain-reliability',
    '--no-pings', '--metrics-recording-only', '--disable-breakpad',
    // No name resolution except loopback, the test namespace's addresses and the LiveKit host.
    `--host-resolver-rules=MAP * ~NOTFOUND, ${['127.0.0.1', 'localhost', '10.253.0.*', ...allowedHosts].map((h) => `EXCLUDE ${h}`).join(', ')}`,
    '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  const t0 = Date.now();
  context = await withTimeout(chromium.launchPersistentContext(userDataDir, {
    executablePath: cfg.chromium || '/usr/bin/chromium',
    headless: true,
    args,
    timeout: 30000,
    permissions: ['microphone'],
  }), 35000, 'launch chromium');
  emit({ ev: 'launched', ms: Date.now() - t0, version: context.browser() ? context.browser().version() : null });

  await context.route('**/*', (route) => {
    const host = new URL(route.request().url()).hostname;
    if (LOCAL_HOST.test(host) || host === '::1' || allowedHosts.has(host)) return route.continue();
    emit({ ev: 'blocked', url: route.request().url() });
    return route.abort('blockedbyclient');
  });

  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => emit({ ev: 'console', type: msg.type(), text: msg.text() }));
  page.on('pageerror', (err) => emit({ ev: 'pageerror', text: String(err && err.stack || err) }));
  page.on('crash', () => { emit({ ev: 'crash' }); finish(4, 'page crashed'); });
  page.on('requestfailed', (req) => emit({
    ev: 'requestfailed', url: req.url(), error: req.failure() && req.failure().errorText,
  }));
  await page.exposeFunction('__report', (obj) => emit(obj));

  await page.goto(cfg.page, { timeout: 15000, waitUntil: 'load' });
  const info = await page.evaluate(() => ({
    title: document.title,
    livekit: typeof window.LivekitClient === 'object' ? window.LivekitClient.version : null,
    userAgent: navigator.userAgent,
    secure: window.isSecureContext,
  }));
  emit({ ev: 'page', ...info });
  if (cfg.smoke) return finish(0, 'smoke done');

  const rl = createInterface({ input: process.stdin });
  rl.on('line', async (line) => {
    if (!line.trim()) return;
    let c;
    try {
      c = JSON.parse(line);
      await withTimeout(page.evaluate((x) => window.e2e.command(x), c), 15000, `command ${c.cmd}`);
      emit({ ev: 'command_done', cmd: c.cmd });
      if (c.cmd === 'leave') finish(0, 'left');
    } catch (e) {
      emit({ ev: 'command_error', cmd: c && c.cmd, error: String(e && e.message || e) });
      if (c && c.cmd === 'leave') finish(5, 'leave failed');
    }
  });
  rl.on('close', () => finish(0, 'stdin closed'));

  try {
    await withTimeout(page.evaluate((x) => window.e2e.start(x), {
      url: cfg.url, token: cfg.token, publishAudio: cfg.publishAudio, publishVideo: cfg.publishVideo, dynacast: cfg.dynacast, logLevel: cfg.logLevel,
    }), cfg.startTimeoutMs || 30000, 'join and publish');
    emit({ ev: 'started' });
  } catch (e) {
    emit({ ev: 'start_error', error: String(e && e.message || e) });
  }
}

main().catch((e) => {
  emit({ ev: 'fatal', error: String(e && e.stack || e) });
  finish(2, 'fatal');
});
