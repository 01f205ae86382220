// The dashboard in a real browser: Debian's Chromium, driven by playwright-core (which downloads no
// browser of its own). Run by tests/scripts/dashboard_test.sh against a whole system it started; the
// environment says where (MERCATO_GATEWAY), who signs in (MERCATO_ADMIN_PASSWORD), which order was placed
// (MERCATO_ORDER_ID), which process to stop (MERCATO_STOP_SERVICE, MERCATO_STOP_PID) and where the
// screenshot goes (MERCATO_SCREENSHOT).
//
// Checks: the page loads and signs in with no console error; every service shows, each ready; the order
// appears in the recent orders, and picking it shows its saga timeline (completed, every forward step
// succeeded) with its trace id; a service stopped (SIGSTOP: alive, not answering) turns "down" on the page
// and ready again once continued. Every wait is bounded.
import { chromium } from 'playwright-core';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const gateway = env('MERCATO_GATEWAY');
const password = env('MERCATO_ADMIN_PASSWORD');
const orderId = env('MERCATO_ORDER_ID');
const stopService = env('MERCATO_STOP_SERVICE');
const stopPid = Number(env('MERCATO_STOP_PID'));
const screenshot = env('MERCATO_SCREENSHOT');
const services = ['gateway', 'user', 'order', 'inventory', 'payment', 'shipping', 'notification'];

const browser = await chromium.launch({
  executablePath: process.env.MERCATO_CHROMIUM || '/usr/bin/chromium',
  // The machine's network is closed: without these, Chromium's own background connections fail loudly.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
  timeout: 20000,
});
let stopped = false;
const problems = [];
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1100 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.setDefaultTimeout(15000);

  const res = await page.goto(`${gateway}/dashboard`);
  if (res.status() !== 200) throw new Error(`GET /dashboard answered ${res.status()}`);
  await page.fill('#email', 'admin@mercato.local');
  await page.fill('#password', password);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#board', { state: 'visible' });

  // Every service, each ready.
  await page.waitForFunction((names) => names.every((n) => {
    const card = document.querySelector(`.card[data-service="${n}"]`);
    return card && card.dataset.health === 'ready';
  }), services);
  const shown = await page.$$eval('.card', (cards) => cards.map((c) => c.dataset.service).sort());
  if (JSON.stringify(shown) !== JSON.stringify([...services].sort())) throw new Error(`services shown: ${shown}`);

  // The order among the recent ones; its saga timeline once picked.
  const row = `#orders tr[data-order="${orderId}"]`;
  await page.waitForSelector(row);
  await page.click(row);
  await page.waitForFunction((id) => {
    const panel = document.querySelector('#saga');
    if (!panel || panel.dataset.order !== id) return false;
    const done = (step) => panel.querySelector(`.timeline li[data-step="${step}"][data-status="succeeded"]`);
    return ['reserve', 'charge', 'ship', 'commit'].every(done) &&
      panel.querySelector('.badge[data-status="completed"]') !== null;
  }, orderId);
  const trace = await page.$$eval('#saga code', (codes) => codes.map((c) => c.textContent).find((t) => /^[0-9a-f]{32}$/.test(t)) ?? '');
  if (!trace) throw new Error('the saga panel shows no trace id');
  // A chart of the order service's traffic (the page's own order list reads count as traffic there).
  await page.waitForSelector('.card[data-service="order"] canvas');
  await page.screenshot({ path: screenshot, fullPage: true });

  // A stopped service: down on the page, then ready again.
  process.kill(stopPid, 'SIGSTOP');
  stopped = true;
  await page.waitForSelector(`.card[data-service="${stopService}"][data-health="down"]`, { timeout: 20000 });
  process.kill(stopPid, 'SIGCONT');
  stopped = false;
  await page.waitForSelector(`.card[data-service="${stopService}"][data-health="ready"]`, { timeout: 20000 });

  if (problems.length) throw new Error(problems.join('\n'));
  console.log(`ok: ${services.length} services, order ${orderId} with trace ${trace}, ${stopService} down and back`);
} finally {
  if (stopped) process.kill(stopPid, 'SIGCONT');
  await browser.close();
}
