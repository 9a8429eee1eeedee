// app.js - the quarry web UI: new research, the live run, the report,
// history and the corpus. Plain DOM: everything from pages, models and
// users goes in as text nodes (el, textContent), never as HTML.
import { renderMarkdown, el } from './md.js';

const main = document.getElementById('main');
const STATUS_FINAL = ['done', 'stopped', 'cancelled', 'failed', 'interrupted'];
let stream = null;   // the open EventSource, closed on navigation
let ticker = null;

async function api(path, opts = {}) {
	const r = await fetch(path, { credentials: 'same-origin', ...opts });
	const type = r.headers.get('Content-Type') || '';
	const body = type.includes('json') ? await r.json() : await r.text();
	if (r.status === 401) throw new Error('Not logged in: open the login URL that "quarry serve" printed.');
	if (!r.ok) throw new Error((body && body.error && body.error.message) || `HTTP ${r.status}`);
	return body;
}

function show(...nodes) {
	main.replaceChildren(...nodes);
	main.focus({ preventScroll: true });
}

function fail(e) {
	show(el('h1', null, 'Something went wrong'), el('p', 'error', e.message));
}

function field(label, input) {
	const l = el('label', null, label);
	l.htmlFor = input.id;
	const d = el('div');
	d.append(l, input);
	return d;
}

function input(id, type, attrs = {}) {
	const i = el(type === 'select' ? 'select' : 'input');
	i.id = id;
	if (type !== 'select') i.type = type;
	Object.assign(i, attrs);
	return i;
}

function when(unix) {
	return unix ? new Date(unix * 1000).toLocaleString() : '';
}

// ---- new research ----
function viewNew() {
	const form = el('form');
	const q = el('textarea');
	q.id = 'question';
	q.required = true;
	q.maxLength = 4096;
	q.placeholder = 'What do you want to know?';
	const depth = input('depth', 'number', { min: 1, max: 10, placeholder: '2' });
	const breadth = input('breadth', 'number', { min: 1, max: 20, placeholder: '4' });
	const maxs = input('max_sources', 'number', { min: 1, max: 500, placeholder: '20' });
	const src = input('sources', 'select');
	[['web,corpus', 'Web and corpus'], ['web', 'Web only'], ['corpus', 'Corpus only']].forEach(([v, t]) => {
		const o = el('option', null, t);
		o.value = v;
		src.append(o);
	});
	const usd = input('budget_usd', 'number', { min: 0, step: 0.01, placeholder: 'none' });
	const tok = input('budget_tokens', 'number', { min: 0, placeholder: 'none' });
	const tl = input('time_limit', 'text', { placeholder: 'e.g. 5m' });
	const lang = input('lang', 'text', { placeholder: "the question's", maxLength: 16 });
	const opts = el('details');
	const grid = el('div', 'grid');
	grid.append(field('Depth (rounds)', depth), field('Breadth (queries per round)', breadth),
		field('Sources at most', maxs), field('Search', src), field('Budget (USD)', usd),
		field('Budget (tokens)', tok), field('Time limit', tl), field('Report language', lang));
	opts.append(el('summary', null, 'Options'), grid);
	const go = el('button', 'primary', 'Research');
	go.type = 'submit';
	const msg = el('p', 'error');
	msg.setAttribute('role', 'alert');
	form.append(field('Question', q), opts, go, msg);
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		const body = { question: q.value.trim() };
		const num = (i, k) => { if (i.value !== '') body[k] = Number(i.value); };
		num(depth, 'depth'); num(breadth, 'breadth'); num(maxs, 'max_sources');
		num(usd, 'budget_usd'); num(tok, 'budget_tokens');
		if (src.value !== 'web,corpus') body.sources = src.value;
		if (tl.value.trim()) body.time_limit = tl.value.trim();
		if (lang.value.trim()) body.lang = lang.value.trim();
		go.disabled = true;
		try {
			const r = await api('/v1/research', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
			location.hash = `#/run/${r.id}`;
		} catch (e) {
			msg.textContent = e.message;
			go.disabled = false;
		}
	});
	show(el('h1', null, 'New research'), form);
	q.focus();
}

// ---- a run: live progress, then the report ----
function viewRun(id) {
	const head = el('h1', null, `Run ${id}`);
	const status = el('span', 'status', '…');
	const figs = el('div', 'figs');
	const elapsed = el('span', null, '');
	const budget = el('span', 'muted', '');
	const spend = el('span', null, '');
	const cancel = el('button', 'danger', 'Cancel');
	const bar = el('div', 'row');
	bar.append(el('span', null, 'Status: '), status, cancel);
	figs.append(elapsed, spend, budget);
	const plan = el('div', 'card');
	plan.append(el('h2', null, 'Plan'), el('p', 'muted', 'Waiting for the plan…'));
	const srcList = el('ul', 'plain');
	const sources = el('div', 'card');
	sources.append(el('h2', null, 'Sources'), srcList);
	const findings = el('p', null, 'Findings so far: 0');
	const report = el('div', 'report');
	const live = el('section');
	live.setAttribute('aria-live', 'polite');
	live.append(plan, sources, el('div', 'card')).lastChild.append(findings);
	show(head, bar, figs, live, report);

	let nFindings = 0, started = Date.now(), t0 = null, runStatus = '';
	const setStatus = (s) => { runStatus = s; status.textContent = s; status.className = 'status ' + s; cancel.hidden = STATUS_FINAL.includes(s); };
	cancel.addEventListener('click', async () => {
		cancel.disabled = true;
		try { await api(`/v1/research/${id}`, { method: 'DELETE' }); setStatus('cancelling'); } catch (e) { status.textContent = e.message; }
	});
	api(`/v1/research/${id}`).then((r) => {
		head.textContent = r.question;
		setStatus(r.status);
		const o = r.options || {};
		const parts = [];
		if (o.budget_tokens) parts.push(`${o.budget_tokens} tokens`);
		if (o.budget_usd) parts.push(`$${o.budget_usd}`);
		if (o.time_limit_ms) parts.push(`${Math.round(o.time_limit_ms / 1000)} s`);
		budget.textContent = parts.length ? `Budget: ${parts.join(', ')}` : 'No budget set';
		started = r.created * 1000;
		if (STATUS_FINAL.includes(r.status) && r.figures) showReport(id, report, spend);
	}).catch(fail);
	ticker = setInterval(() => {
		if (!STATUS_FINAL.includes(runStatus)) elapsed.textContent = `Elapsed: ${Math.round((Date.now() - started) / 1000)} s`;
	}, 1000);

	const rows = new Map();
	const sourceRow = (url) => {
		if (!rows.has(url)) { const li = el('li'); srcList.append(li); rows.set(url, li); }
		return rows.get(url);
	};
	stream = new EventSource(`/v1/research/${id}/events`);
	stream.onmessage = (m) => {
		let ev;
		try { ev = JSON.parse(m.data); } catch { return; }
		if (t0 === null && typeof ev.t === 'number') t0 = ev.t;
		if (ev.type === 'run_started' || ev.type === 'run_resumed') setStatus('running');
		if (ev.type === 'plan') {
			plan.replaceChildren(el('h2', null, 'Plan'));
			const ul = el('ul');
			(ev.sub_questions || []).forEach((s) => ul.append(el('li', null, String(s))));
			plan.append(ul);
		}
		if (ev.type === 'queries') {
			const p = el('p', 'muted', 'Queries: ' + (ev.queries || []).map(String).join(' · '));
			plan.append(p);
		}
		if (ev.type === 'source_read') {
			const li = sourceRow(ev.url);
			li.replaceChildren(el('span', 'ok', 'read '), el('strong', null, String(ev.title || ev.url)), el('span', 'muted', ` · ${hostOf(ev.url)} · ${ev.chars} chars`));
		}
		if (ev.type === 'source_failed') {
			const li = sourceRow(ev.url);
			li.replaceChildren(el('span', 'fail', 'failed '), el('span', null, String(ev.url)), el('span', 'muted', ` · ${ev.reason}`));
		}
		if (ev.type === 'note') { nFindings += ev.findings || 0; findings.textContent = `Findings so far: ${nFindings}`; }
		if (ev.type === 'budget_spent') budget.textContent = `Budget spent: ${ev.reason}`;
		if (ev.type === 'warning') plan.append(el('p', 'muted', `Warning (${ev.step}): ${ev.message}`));
		if (ev.type === 'run_failed') { setStatus('failed'); report.replaceChildren(el('p', 'error', String(ev.message))); }
		if (typeof ev.t === 'number') elapsed.textContent = `Elapsed: ${Math.round(ev.t)} s`;
		if (ev.type === 'report') { setStatus(ev.status === 'stopped' ? 'stopped' : 'done'); showReport(id, report, spend); }
	};
	stream.addEventListener('end', () => {
		stream.close();
		api(`/v1/research/${id}`).then((r) => setStatus(r.status)).catch(() => {});
	});
}

function hostOf(url) {
	try { return new URL(url).host; } catch { return 'corpus'; }
}

async function showReport(id, box, spend) {
	let rep;
	try { rep = await api(`/v1/research/${id}?format=json`); } catch (e) { box.replaceChildren(el('p', 'error', e.message)); return; }
	const byN = new Map((rep.sources || []).map((s) => [s.n, s]));
	const cite = (n) => {
		const s = byN.get(n);
		if (!s) return `[${n}]`;
		const wrap = el('span', 'cite');
		const b = el('button', null, `[${n}]`);
		b.type = 'button';
		b.setAttribute('aria-label', `Source ${n}: ${s.title || s.url}`);
		b.addEventListener('click', () => wrap.classList.toggle('open'));
		const tip = el('span', 'tip');
		tip.setAttribute('role', 'tooltip');
		const a = el('a', null, String(s.title || s.url));
		if (/^https?:\/\//i.test(s.url)) { a.href = s.url; a.rel = 'noopener noreferrer'; a.target = '_blank'; }
		tip.append(a);
		(s.quotes || []).slice(0, 3).forEach((q) => tip.append(el('blockquote', null, String(q))));
		wrap.append(b, tip);
		return wrap;
	};
	const f = rep.figures || {};
	if (spend) {
		const parts = [];
		if (f.prompt_tokens !== undefined) parts.push(`Tokens: ${(f.prompt_tokens || 0) + (f.completion_tokens || 0)}`);
		if (f.cost_usd !== undefined) parts.push(`Cost: $${Number(f.cost_usd).toFixed(4)}`);
		parts.push(`Took ${Number(f.seconds || 0).toFixed(1)} s`);
		spend.textContent = parts.join(' · ');
	}
	const body = el('article', 'card');
	body.append(el('h1', null, String(rep.title || rep.question || 'Report')), renderMarkdown(rep.body, cite));
	const srcs = el('div', 'card');
	const tbl = el('table');
	(rep.sources || []).filter((s) => s.n).forEach((s) => {
		const tr = el('tr');
		const a = el(/^https?:/i.test(s.url) ? 'a' : 'span', null, String(s.title || s.url));
		if (a.tagName === 'A') { a.href = s.url; a.rel = 'noopener noreferrer'; a.target = '_blank'; }
		const t1 = el('td', null, `[${s.n}]`), t2 = el('td'), t3 = el('td', 'muted', `${hostOf(s.url)}${s.date ? ' · ' + s.date : ''}`);
		t2.append(a);
		tr.append(t1, t2, t3);
		tbl.append(tr);
	});
	srcs.append(el('h2', null, 'Sources'), tbl);
	const v = rep.verification || {};
	const ver = el('div', 'card');
	ver.append(el('h2', null, 'Verification'), el('p', null,
		`Citations: ${v.citations || 0}, verified: ${v.citations_verified || 0}, removed: ${v.citations_removed || 0}. ` +
		`Quotes checked: ${v.quotes_verified || 0}, dropped: ${v.quotes_dropped || 0}. ` +
		`Unsupported sentences: ${v.unsupported_sentences || 0}. Sources read: ${v.sources_read || 0}, failed: ${v.sources_failed || 0}.`));
	if (rep.stopped) ver.append(el('p', 'error', `Stopped early: ${rep.stopped}`));
	const exp = el('div', 'row');
	['md', 'html', 'json'].forEach((fmt) => {
		const a = el('a', null, `Export ${fmt.toUpperCase()}`);
		a.href = `/v1/research/${id}?format=${fmt}`;
		a.download = `quarry-${id}.${fmt}`;
		exp.append(a);
	});
	const copy = el('button', null, 'Copy Markdown');
	copy.type = 'button';
	copy.addEventListener('click', async () => {
		try { await navigator.clipboard.writeText(await api(`/v1/research/${id}?format=md`)); copy.textContent = 'Copied'; } catch { copy.textContent = 'Copy failed'; }
	});
	exp.append(copy);
	box.replaceChildren(exp, body, srcs, ver);
}

// ---- history ----
function viewHistory() {
	const q = input('hq', 'search', { placeholder: 'Search questions' });
	const st = input('hstatus', 'select');
	['', 'queued', 'running', 'done', 'stopped', 'cancelled', 'interrupted', 'failed'].forEach((s) => {
		const o = el('option', null, s || 'any status');
		o.value = s;
		st.append(o);
	});
	const list = el('ul', 'plain');
	const more = el('button', null, 'More');
	let cursor = null;
	const load = async (reset) => {
		if (reset) { list.replaceChildren(); cursor = null; }
		const p = new URLSearchParams({ limit: '20' });
		if (q.value.trim()) p.set('q', q.value.trim());
		if (st.value) p.set('status', st.value);
		if (cursor) p.set('cursor', cursor);
		try {
			const r = await api('/v1/research?' + p);
			r.runs.forEach((run) => list.append(historyRow(run)));
			if (!r.runs.length && reset) list.append(el('li', 'muted', 'No runs.'));
			cursor = r.next_cursor;
			more.hidden = !cursor;
		} catch (e) { fail(e); }
	};
	let timer;
	q.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => load(true), 250); });
	st.addEventListener('change', () => load(true));
	more.addEventListener('click', () => load(false));
	const bar = el('div', 'row');
	bar.append(q, st);
	q.setAttribute('aria-label', 'Search questions');
	st.setAttribute('aria-label', 'Status');
	show(el('h1', null, 'History'), bar, list, more);
	load(true);
}

function historyRow(run) {
	const li = el('li');
	const a = el('a', null, run.question);
	a.href = `#/run/${run.id}`;
	const del = el('button', 'danger', STATUS_FINAL.includes(run.status) ? 'Delete' : 'Cancel');
	del.type = 'button';
	del.setAttribute('aria-label', `${del.textContent} run ${run.id}`);
	del.addEventListener('click', async () => {
		try {
			const r = await api(`/v1/research/${run.id}`, { method: 'DELETE' });
			if (r.status === 'deleted') li.remove(); else st.textContent = 'cancelling';
		} catch (e) { del.textContent = e.message; }
	});
	const st = el('span', 'status ' + run.status, run.status);
	const row = el('div', 'row');
	row.append(st, el('span', 'muted', when(run.created)), del);
	li.append(a, row);
	return li;
}

// ---- corpus ----
function viewCorpus() {
	const form = el('form', 'row');
	const file = input('files', 'file', { multiple: true });
	file.setAttribute('aria-label', 'Files to add');
	const up = el('button', 'primary', 'Upload');
	up.type = 'submit';
	const msg = el('p');
	msg.setAttribute('role', 'status');
	form.append(file, up);
	const sq = input('cq', 'search', { placeholder: 'Search your documents' });
	sq.setAttribute('aria-label', 'Search your documents');
	const sform = el('form', 'row');
	const sb = el('button', null, 'Search');
	sb.type = 'submit';
	sform.append(sq, sb);
	const hits = el('ul', 'plain');
	const docs = el('ul', 'plain');
	const loadDocs = async () => {
		try {
			const r = await api('/v1/documents');
			docs.replaceChildren(...r.documents.map((d) => {
				const li = el('li');
				const del = el('button', 'danger', 'Remove');
				del.type = 'button';
				del.setAttribute('aria-label', `Remove ${d.name}`);
				del.addEventListener('click', async () => { await api(`/v1/documents/${d.id}`, { method: 'DELETE' }); loadDocs(); });
				li.append(el('strong', null, String(d.title || d.name)), el('span', 'muted', ` · ${d.name} · ${d.kind} · ${d.chars} chars `), del);
				return li;
			}));
			if (!r.documents.length) docs.append(el('li', 'muted', 'No documents yet.'));
		} catch (e) { fail(e); }
	};
	form.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		if (!file.files.length) { msg.textContent = 'Pick files first.'; return; }
		const fd = new FormData();
		[...file.files].forEach((f) => fd.append('file', f, f.name));
		up.disabled = true;
		try {
			const r = await api('/v1/documents', { method: 'POST', body: fd });
			msg.textContent = `Added ${r.added}, skipped ${r.skipped}, failed ${r.failed}.`;
		} catch (e) { msg.textContent = e.message; }
		up.disabled = false;
		file.value = '';
		loadDocs();
	});
	sform.addEventListener('submit', async (ev) => {
		ev.preventDefault();
		try {
			const r = await api('/v1/search?' + new URLSearchParams({ q: sq.value, k: '10' }));
			hits.replaceChildren(...r.hits.map((h) => {
				const li = el('li');
				li.append(el('strong', null, String(h.title || h.path)), el('div', 'muted', String(h.heading || '')), el('div', null, String(h.snippet || '')));
				return li;
			}));
			if (!r.hits.length) hits.append(el('li', 'muted', 'Nothing found.'));
		} catch (e) { hits.replaceChildren(el('li', 'error', e.message)); }
	});
	show(el('h1', null, 'Corpus'), el('h2', null, 'Add files'), form, msg, el('h2', null, 'Search'), sform, hits,
		el('h2', null, 'Documents'), docs);
	loadDocs();
}

function route() {
	if (stream) { stream.close(); stream = null; }
	if (ticker) { clearInterval(ticker); ticker = null; }
	const h = location.hash || '#/';
	let m;
	if ((m = /^#\/run\/(\d+)$/.exec(h))) viewRun(m[1]);
	else if (h === '#/history') viewHistory();
	else if (h === '#/corpus') viewCorpus();
	else viewNew();
}

window.addEventListener('hashchange', route);
route();
