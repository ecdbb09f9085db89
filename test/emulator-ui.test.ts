/**
 * The emulator's live page in a real browser (Debian's headless Chromium driven by
 * playwright-core): a scripted match fills, goes full and one player is throttled, and the page
 * shows it as a friend and as a studio would see it. A screenshot is left in test/artifacts/
 * for a person to look at.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import { expect, it } from 'vitest';
import { ActivitySync, MpaClient } from '../src/index.js';
import { startEmulator } from '../src/emulator/index.js';
import { TITLE, TOKEN } from './helpers.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('./artifacts/', import.meta.url));
const HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">';
const xuid = (n: number) => String(2533274800000000n + BigInt(n));

/** Launches Debian's Chromium; fails (never skips) with how to install it when it is missing. */
async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: the emulator page test needs it. Install it with \`apt-get install -y chromium\` (.ci/run does this), or set CHROMIUM_PATH.`);
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Waits until the locator's text matches, then returns it. */
async function textOf(locator: Locator, expected: RegExp, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.count()) > 0 ? ((await locator.first().textContent()) ?? '') : '';
    if (expected.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${expected}; last text: ${JSON.stringify(last)}`);
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting until ${what}`);
}

const card = (page: Page, n: number) => page.locator(`#friends article.friend[data-xuid="${xuid(n)}"]`);

it('shows a match filling, going full and a player throttled, as friends and the studio see it', { timeout: 90_000 }, async () => {
  // Inside the test, not in a beforeAll: a missing browser must count as a failed test.
  const browser = await launchChromium();
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  const client = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => TOKEN });
  const sync = new ActivitySync({ client, countRefreshIntervalMs: 0 });
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  // A blocked inline script or a failed fetch shows up here (Content-Security-Policy reports too).
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  try {
    expect(emulator.pageUrl).toBe(`${emulator.url}/`);
    await page.goto(emulator.pageUrl!);
    await textOf(page.locator('#conn'), /^live$/);

    // The match fills to 5 of 8: every friend sees it joinable.
    const match = sync.group({ groupId: 'arena-1', connectionString: '203.0.113.7:7777?m=arena-1', maxPlayers: 8, joinRestriction: 'Followed' });
    for (let n = 1; n <= 5; n++) match.join(xuid(n));
    await sync.flush();
    for (let n = 1; n <= 5; n++) await textOf(card(page, n).locator('.presence'), /^In a match · 5\/8 · Joinable by followers$/);
    expect(await card(page, 1).getAttribute('class')).not.toContain('blocked');

    // A connection string is user data: markup in it is shown as text and never runs.
    const lobby = sync.group({ groupId: 'lobby <b>7</b>', connectionString: HOSTILE, maxPlayers: 4, joinRestriction: 'InviteOnly' });
    lobby.join(xuid(20));
    await sync.flush();
    await textOf(card(page, 20).locator('.conn').first(), /script/);
    expect(await card(page, 20).locator('.conn').first().textContent()).toBe(HOSTILE);
    expect(await page.locator('.group-title', { hasText: 'lobby <b>7</b>' }).count()).toBe(1);
    expect(await page.locator('#friends script, #friends img, #friends b').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(await card(page, 20).locator('.presence').textContent()).toBe('In a match · 1/4 · Invite only');
    expect(await card(page, 20).getAttribute('class')).toContain('blocked');

    // It goes full; the first of the resulting writes is throttled with Retry-After: 5.
    emulator.failNext('429', 1, 5);
    for (let n = 6; n <= 8; n++) match.join(xuid(n));
    await until('a request was throttled', async () => emulator.core.log.some((e) => e.fault === '429'));
    const throttled = emulator.core.log.find((e) => e.fault === '429')!.xuid!;
    await textOf(page.locator('#headline'), new RegExp(`^Throttled now: Player …${throttled.slice(-4)} waits \\d+(\\.\\d)? s \\(429 Retry-After\\)$`));
    expect(await page.locator('#headline').getAttribute('class')).toContain('alert');
    await textOf(page.locator('#requests tr.throttled').first(), /THROTTLED · Retry-After 5\.0 s/);
    expect(await page.locator('#timeline circle.mark-throttle').count()).toBeGreaterThanOrEqual(1);
    expect(await page.locator('#timeline rect.ra').first().getAttribute('data-retry-after-ms')).toBe('5000');
    expect(await page.locator(`#budgets .budget[data-xuid="${throttled}"] .who`).getAttribute('class')).toContain('throttled');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: `${ARTIFACTS}emulator-ui-throttled.png`, fullPage: true });

    // After Retry-After the newest state lands: every member shows 8/8, full, greyed out.
    await sync.flush();
    for (let n = 1; n <= 8; n++) {
      await textOf(card(page, n).locator('.presence'), /^In a match · 8\/8 · Full$/);
      expect(await card(page, n).locator('.badge').textContent()).toBe('Full');
    }
    await until('the full cards are greyed', async () => Number(await page.evaluate(`getComputedStyle(document.querySelector('article.friend[data-xuid="${xuid(1)}"]')).opacity`)) < 0.7);
    await textOf(page.locator('#headline'), /^Nobody is throttled$/);
    expect(await page.locator('#friends article.friend.changed').count()).toBe(1);

    // Write budgets: each bar shows what the emulator counted in the 15 s burst window (the
    // injected 429 is not counted: the service never saw that request).
    const burstOf = (x: string) => page.locator(`#budgets .budget[data-xuid="${x}"][data-category="write"] [role="meter"][data-window="burst"]`);
    const accepted = (x: string) => emulator.core.log.filter((e) => e.xuid === x && e.method === 'PUT' && e.status === 204).length;
    for (const x of [xuid(1), throttled]) {
      await until(`the burst bar of ${x} shows its accepted writes`, async () => (await burstOf(x).getAttribute('aria-valuenow')) === String(accepted(x)));
      expect(await burstOf(x).getAttribute('aria-valuemax')).toBe('10');
    }
    expect(accepted(xuid(1))).toBeGreaterThanOrEqual(2); // at least 5/8 and 8/8
    // Measured in one go: the page redraws every poll.
    const drawn = await page.evaluate(`(() => {
      const bar = document.querySelector('#budgets .budget[data-xuid="${xuid(1)}"][data-category="write"] [data-window="burst"]');
      return bar.querySelector('.fill').getBoundingClientRect().width / bar.getBoundingClientRect().width;
    })()`);
    expect(drawn).toBeCloseTo(accepted(xuid(1)) / 10, 1);

    // A player leaves: their card is gone, the others show 7/8 and joinable again.
    match.leave(xuid(8));
    await sync.flush();
    await until('the leaver is gone', async () => (await card(page, 8).count()) === 0);
    await textOf(card(page, 1).locator('.presence'), /^In a match · 7\/8 · Joinable by followers$/);
    await textOf(page.locator('#summary'), /last change: Player …0008 left arena-1/);

    // The fault buttons queue the same faults as emulator.failNext.
    await page.locator('#retry-after').fill('7');
    await page.locator('button[data-kind="429"]').click();
    await until('the 429 is queued', async () => emulator.core.pendingFaults().length === 1);
    expect(emulator.core.pendingFaults()).toEqual([{ kind: '429', retryAfterSeconds: 7 }]);
    await textOf(page.locator('#pending'), /429 \(Retry-After 7 s\)/);
    await page.locator('button[data-kind="500"]').click();
    await until('the 500 is queued', async () => emulator.core.pendingFaults().length === 2);
    expect(emulator.core.pendingFaults()[1]!.kind).toBe('500');

    await page.screenshot({ path: `${ARTIFACTS}emulator-ui.png`, fullPage: true });
    expect(pageErrors).toEqual([]);
  } finally {
    emulator.reset(); // drops the queued faults, so close() is not held back by them
    await sync.close({ timeoutMs: 5_000 });
    await browser.close();
    await emulator.close();
  }
});

it('renders any group id, those named like Object.prototype members included (constructor, __proto__, toString, hasOwnProperty)', { timeout: 60_000 }, async () => {
  const browser = await launchChromium();
  const emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
  const client = new MpaClient({ titleId: TITLE, baseUrl: emulator.url, authorization: () => TOKEN });
  const page = await browser.newPage({ viewport: { width: 1360, height: 1000 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  const ids = ['constructor', '__proto__', 'toString', 'hasOwnProperty'];
  try {
    await page.goto(emulator.pageUrl!);
    await textOf(page.locator('#conn'), /^live$/);
    for (const [i, groupId] of ids.entries()) {
      await client.setActivity(xuid(30 + i), { connectionString: `host:${i}`, joinRestriction: 'Public', sequenceNumber: 1, currentPlayers: 1, maxPlayers: 4, groupId });
    }
    await until('every card is drawn', async () => (await page.locator('#friends article.friend').count()) === ids.length);
    for (const [i, groupId] of ids.entries()) {
      await textOf(card(page, 30 + i).locator('.presence'), /^In a match · 1\/4 · Joinable by anyone$/);
      expect(await page.locator('.group-title', { hasText: `${groupId} · 1 player` }).count()).toBe(1);
    }
    await until('every request is a row', async () => (await page.locator('#requests tbody tr[data-id]').count()) === ids.length);
    expect(await page.locator('#conn').textContent()).toBe('live');
    expect(pageErrors).toEqual([]);
  } finally {
    await browser.close();
    await emulator.close();
  }
});
