// The official openai npm client against `quarry serve` (with a worker,
// the fake model and the sample corpus). Run by tests/cases/mcp-openai-client.case.
import OpenAI from 'openai';
import { check, step, done, need } from './mcp_check.mjs';

const SURL = need('SURL'), TOKEN = need('TOKEN');
const RQ = 'Why did the US switch off GPS Selective Availability?';
const client = new OpenAI({ baseURL: `${SURL}/v1`, apiKey: TOKEN, maxRetries: 0, timeout: 120000 });

async function collect(stream) {
	const r = { reasoning: '', content: '', usage: null, finish: null, chunks: 0, ids: new Set() };
	for await (const chunk of stream) {
		r.chunks++;
		r.ids.add(chunk.id);
		if (chunk.usage) r.usage = chunk.usage;
		const c = chunk.choices?.[0];
		if (!c) continue;
		r.reasoning += c.delta?.reasoning_content || '';
		r.content += c.delta?.content || '';
		if (c.finish_reason) r.finish = c.finish_reason;
	}
	return r;
}

await step('models', async () => {
	const list = await client.models.list();
	const ids = list.data.map(m => m.id).sort().join(',');
	check('models-list', ids === 'quarry-ask,quarry-research,quarry-research-deep', ids);
});

let answer = '';
await step('stream', async () => {
	const stream = await client.chat.completions.create({ model: 'quarry-research', stream: true,
		stream_options: { include_usage: true }, messages: [{ role: 'user', content: RQ }] });
	const r = await collect(stream);
	check('stream-reasoning', /read \[\d+\]/.test(r.reasoning) && /quarry run \d+/.test(r.reasoning),
		r.reasoning.slice(0, 300));
	check('stream-content', r.content.includes('[1]') && /\*quarry run \d+\*/.test(r.content),
		r.content.slice(0, 300));
	check('stream-finish', r.finish === 'stop', String(r.finish));
	check('stream-usage', r.usage && r.usage.total_tokens > 0 &&
		r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, JSON.stringify(r.usage));
	check('stream-one-id', r.ids.size === 1, [...r.ids].join(','));
	answer = r.content;
});

await step('stream-done', async () => {
	// The wire itself: chunks, then [DONE] last (the same question: its stored report, at once).
	const t0 = Date.now();
	const res = await fetch(`${SURL}/v1/chat/completions`, { method: 'POST',
		headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
		body: JSON.stringify({ model: 'quarry-research', stream: true, messages: [{ role: 'user', content: RQ }] }) });
	const text = await res.text();
	check('sse-content-type', (res.headers.get('content-type') || '').startsWith('text/event-stream'));
	check('sse-done-last', text.trimEnd().endsWith('data: [DONE]'), text.slice(-200));
	check('sse-chunk-object', text.includes('"object":"chat.completion.chunk"'));
	check('same-question-reused', text.includes('asked before') && Date.now() - t0 < 5000,
		`${Date.now() - t0} ms`);
});

await step('ask', async () => {
	const r = await client.chat.completions.create({ model: 'quarry-ask',
		messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: RQ }] });
	const m = r.choices[0].message;
	check('ask-object', r.object === 'chat.completion' && r.choices[0].finish_reason === 'stop');
	check('ask-content', m.role === 'assistant' && m.content.includes('[1]'), m.content.slice(0, 200));
	check('ask-usage', r.usage.total_tokens > 0, JSON.stringify(r.usage));
});

await step('follow-up', async () => {
	const run = Number((answer.match(/\*quarry run (\d+)\*/) || [])[1]);
	const r = await client.chat.completions.create({ model: 'quarry-ask', messages: [
		{ role: 'user', content: RQ }, { role: 'assistant', content: answer },
		{ role: 'user', content: 'How much did the error shrink?' }] });
	const content = r.choices[0].message.content;
	const next = Number((content.match(/\*quarry run (\d+)\*/) || [])[1]);
	check('follow-up-new-run', next > 0 && next !== run, `${run} -> ${next}`);
	const rec = await (await fetch(`${SURL}/v1/research/${next}`, {
		headers: { Authorization: `Bearer ${TOKEN}` } })).json();
	const q = JSON.stringify(rec);
	check('follow-up-context', q.includes('How much did the error shrink? (a follow-up to: ' + RQ + ')'),
		q.slice(0, 300));
	// Answered from the run it follows first (its sources and findings).
	check('follow-up-from-run', rec.options && rec.options.follow_run === run,
		JSON.stringify(rec.options));
});

await step('disconnect', async () => {
	// A client that goes away does not lose its run: asked again, it is the same run.
	const Q2 = 'What did Selective Availability do to civilian GPS accuracy?';
	const ac = new AbortController();
	let first = '';
	try {
		const stream = await client.chat.completions.create({ model: 'quarry-ask', stream: true,
			messages: [{ role: 'user', content: Q2 }] }, { signal: ac.signal });
		for await (const chunk of stream) {
			first += chunk.choices?.[0]?.delta?.reasoning_content || '';
			if (first) { ac.abort(); }
		}
	} catch (e) { /* aborted */ }
	const run = Number((first.match(/quarry run (\d+)/) || [])[1]);
	const r = await client.chat.completions.create({ model: 'quarry-ask', messages: [{ role: 'user', content: Q2 }] });
	const content = r.choices[0].message.content;
	check('disconnect-same-run', run > 0 && content.includes(`*quarry run ${run}*`), `${run}: ${content.slice(-80)}`);
});

await step('errors', async () => {
	const bad = new OpenAI({ baseURL: `${SURL}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
	let err = null;
	try { await bad.models.list(); } catch (e) { err = e; }
	check('bad-key-401', err?.status === 401, String(err));
	check('bad-key-openai-shape', err?.error?.type === 'invalid_request_error' && err?.code === 'invalid_api_key' &&
		typeof err?.error?.message === 'string', JSON.stringify(err?.error));
	err = null;
	try {
		await client.chat.completions.create({ model: 'gpt-4', messages: [{ role: 'user', content: 'x' }] });
	} catch (e) { err = e; }
	check('unknown-model-404', err?.status === 404 && err?.code === 'model_not_found', String(err));
	err = null;
	try { await client.chat.completions.create({ model: 'quarry-ask', messages: [] }); } catch (e) { err = e; }
	check('no-messages-400', err?.status === 400 && err?.param === 'messages', String(err));
});

done();
