// ui.test.mjs - the web UI in a real browser: Debian's chromium driven by
// playwright-core (never a downloaded browser), against `quarry serve` with
// the fake model and web site of the black-box tests.
//
//   BUILD=build node tests/js/ui.test.mjs     (make test-browser)
//
// Screenshots go to $BUILD/artifacts/ui-*.png. Ends with "ui: N passed, N failed".
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const BUILD = resolve(process.env.BUILD || 'build');
const Q = join(BUILD, 'quarry');
const ART = join(BUILD, 'artifacts');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const RQ = 'Why did the US switch off GPS Selective Availability?';
const XSS = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2"> what is GPS?';
mkdirSync(ART, { recursive: true });
const tmp = mkdtempSync(join(tmpdir(), 'quarry-ui-'));
const children = [];
let pass = 0, fail = 0;

function check(name, cond, detail = '') {
	if (cond) pass++;
	else { fail++; console.log(`FAIL: ${name}${detail ? ': ' + detail : ''}`); }
}

function start(cmd, args, env = {}) {
	const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
	let out = '';
	p.stdout.on('data', (d) => { out += d; });
	p.stderr.on('data', (d) => { out += d; });
	const child = { p, text: () => out };
	children.push(child);
	return child;
}

async function waitFor(fn, ms = 10000) {
	const t0 = Date.now();
	for (;;) {
		const v = fn();
		if (v) return v;
		if (Date.now() - t0 > ms) return null;
		await new Promise((r) => setTimeout(r, 50));
	}
}

async function portFile(f) {
	return waitFor(() => existsSync(f) && readFileSync(f, 'utf8').trim());
}

const hasWorker = spawnSync(Q, ['help', 'worker']).status === 0;
const env = {};
const resumed = new Set();
// Without `quarry worker` in this build, carry each run like a worker would.
function carry(id) {
	if (hasWorker || resumed.has(id)) return;
	resumed.add(id);
	start(Q, ['runs', 'resume', '--home', join(tmp, 'home'), String(id)], env);
}

let browser, page;
try {
	start(join(BUILD, 'fakeweb'), [join(tmp, 'web.port'), 'sample/pages']);
	const webPort = await portFile(join(tmp, 'web.port'));
	writeFileSync(join(tmp, 'llm.json'),
		'[{"match":"<source ","auto":"research","fault":"slow_start","delay_ms":150},{"auto":"research"}]\n');
	start(join(BUILD, 'fakellm'), [join(tmp, 'llm.port'), join(tmp, 'llm.json'), join(tmp, 'llm.log')]);
	const llmPort = await portFile(join(tmp, 'llm.port'));
	Object.assign(env, {
		QUARRY_LLM_BASE_URL: `http://127.0.0.1:${llmPort}/v1`, QUARRY_LLM_MODEL: 'm',
		QUARRY_SEARXNG_URL: `http://127.0.0.1:${webPort}`, QUARRY_ALLOW_PRIVATE: '1',
		QUARRY_SERVER_TOKEN: '',
	});
	const srv = start(Q, ['serve', '--home', join(tmp, 'home'), '--listen', '127.0.0.1:0', '-j', hasWorker ? '1' : '0'], env);
	const login = await waitFor(() => (srv.text().match(/log in once in a browser: (\S+)/) || [])[1]);
	check('serve prints a login URL', !!login, srv.text());
	const base = login.replace(/\/login.*/, '');

	browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
	const ctx = await browser.newContext({ viewport: { width: 1100, height: 900 } });
	page = await ctx.newPage();
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });

	// Log in with the URL: the cookie is HttpOnly, page scripts cannot read it.
	await page.goto(login);
	await page.waitForSelector('#question');
	const cookies = await ctx.cookies();
	const tok = cookies.find((c) => c.name === 'quarry_token');
	check('login sets an HttpOnly SameSite=Strict cookie', tok && tok.httpOnly && tok.sameSite === 'Strict');
	check('the cookie is not visible to scripts', !(await page.evaluate(() => document.cookie)).includes('quarry_token'));
	await page.screenshot({ path: join(ART, 'ui-new.png') });

	// Start a research and watch it finish.
	await page.fill('#question', RQ);
	await page.click('text=Options');
	await page.fill('#depth', '1');
	await page.click('button[type=submit]');
	await page.waitForURL(/#\/run\/\d+$/);
	const runId = Number(page.url().match(/run\/(\d+)/)[1]);
	carry(runId);
	await page.waitForSelector('text=Sources', { timeout: 20000 });
	await page.waitForSelector('li:has-text("read")', { timeout: 30000 });
	await page.screenshot({ path: join(ART, 'ui-live.png') });
	await page.waitForSelector('h2:has-text("Verification")', { timeout: 60000 });
	check('the run finishes with status done', (await page.textContent('.status')).trim() === 'done');
	check('sources are listed as read', (await page.locator('li:has-text("read")').count()) >= 1);
	await page.screenshot({ path: join(ART, 'ui-report.png'), fullPage: true });

	// Hover a citation: its checked quote shows, and links the source.
	const cite = page.locator('.cite').first();
	await cite.hover();
	const tip = cite.locator('.tip');
	check('a citation tip shows on hover', await tip.isVisible());
	const quote = (await tip.locator('blockquote').first().textContent()) || '';
	check('the tip carries a checked quote', quote.trim().length > 20, quote);
	check('the tip links the source', /^https?:/.test((await tip.locator('a').getAttribute('href')) || ''));
	await page.screenshot({ path: join(ART, 'ui-citation.png') });
	check('export links are there', (await page.locator('a[href$="format=html"]').count()) === 1);

	// Narrow and dark.
	await page.setViewportSize({ width: 375, height: 800 });
	await page.emulateMedia({ colorScheme: 'dark' });
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
	check('readable at 375 px (no sideways scrolling)', overflow <= 1, `${overflow}px too wide`);
	const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
	check('dark mode follows the system', bg === 'rgb(22, 22, 20)', bg);
	await page.screenshot({ path: join(ART, 'ui-report-375-dark.png'), fullPage: true });
	await page.setViewportSize({ width: 1100, height: 900 });
	await page.emulateMedia({ colorScheme: 'light' });

	// Cancel a run.
	await page.goto(base + '/#/');
	await page.fill('#question', 'cancel me please');
	await page.keyboard.press('Tab');
	await page.click('button[type=submit]');
	await page.waitForURL(/#\/run\/\d+$/);
	await page.click('button:has-text("Cancel")');
	await page.waitForFunction(() => /cancel/.test(document.querySelector('.status').textContent), null, { timeout: 10000 });
	check('cancel changes the status', /cancel/.test(await page.textContent('.status')));

	// Find it in history.
	await page.goto(base + '/#/history');
	await page.fill('#hq', 'cancel me');
	await page.waitForSelector('li a:has-text("cancel me please")', { timeout: 10000 });
	await page.waitForFunction(() => document.querySelectorAll('ul.plain > li').length === 1, null, { timeout: 5000 }).catch(() => {});
	const rows = await page.locator('ul.plain > li').count();
	check('history search finds the run (and only it)', rows === 1, `${rows} rows`);
	await page.screenshot({ path: join(ART, 'ui-history.png') });

	// Upload a document and find it by search.
	await page.goto(base + '/#/corpus');
	await page.setInputFiles('#files', { name: 'okapi.md', mimeType: 'text/markdown',
		buffer: Buffer.from('# Okapi notes\n\nThe okapi is the only living relative of the giraffe.\n') });
	await page.click('button:has-text("Upload")');
	await page.waitForSelector('text=Added 1', { timeout: 10000 });
	await page.fill('#cq', 'okapi giraffe');
	await page.click('button:has-text("Search")');
	await page.waitForSelector('ul.plain li:has-text("Okapi notes")', { timeout: 10000 });
	check('an uploaded document is found by search', true);
	await page.screenshot({ path: join(ART, 'ui-corpus.png') });

	// A question carrying markup is shown as text and runs nothing.
	await page.goto(base + '/#/');
	await page.fill('#question', XSS);
	await page.click('button[type=submit]');
	await page.waitForURL(/#\/run\/\d+$/);
	await page.waitForFunction((q) => document.querySelector('h1').textContent === q, XSS, { timeout: 10000 });
	check('the question is shown as text', (await page.textContent('h1')) === XSS);
	check('no script from the question ran', (await page.evaluate(() => window.__pwned)) === undefined);
	check('no element came from the question', (await page.locator('main img, main script').count()) === 0);
	await page.goto(base + '/#/history');
	await page.waitForSelector('li a:has-text("onerror")');
	check('history shows it as text too', (await page.evaluate(() => window.__pwned)) === undefined);
	await page.screenshot({ path: join(ART, 'ui-xss.png') });

	// Keyboard: from the question, Tab reaches the folded options and Enter opens them.
	await page.goto(base + '/#/');
	await page.focus('#question');
	await page.keyboard.press('Tab');
	check('Tab goes from the question to the options', (await page.evaluate(() => document.activeElement.tagName)) === 'SUMMARY');
	await page.keyboard.press('Enter');
	check('Enter unfolds the options', await page.isVisible('#depth'));
	check('no script errors', errors.length === 0, errors.join(' | '));
} catch (e) {
	fail++;
	console.log(`FAIL: ${e.message}`);
	if (page) await page.screenshot({ path: join(ART, 'ui-failure.png'), fullPage: true }).catch(() => {});
	children.slice(3).forEach((c) => console.log('  child output: ' + c.text().slice(-600)));
} finally {
	if (browser) await browser.close();
	children.forEach((c) => { try { c.p.kill('SIGTERM'); } catch { /* gone */ } });
	rmSync(tmp, { recursive: true, force: true });
}
console.log(`ui: ${pass} passed, ${fail} failed (screenshots in ${ART})`);
process.exit(fail ? 1 : 0);
