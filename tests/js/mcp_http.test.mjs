// The official MCP SDK client over Streamable HTTP against /mcp on
// `quarry serve` (a worker carries research). Run by tests/cases/mcp-http-client.case.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { check, step, done, need } from './mcp_check.mjs';

const SURL = need('SURL'), TOKEN = need('TOKEN'), B = need('B');
const RQ = 'Why did the US switch off GPS Selective Availability?';
const auth = { headers: { Authorization: `Bearer ${TOKEN}` } };

async function connect() {
	const transport = new StreamableHTTPClientTransport(new URL(`${SURL}/mcp`), { requestInit: auth });
	const client = new Client({ name: 'quarry-http-test', version: '1.0.0' });
	await client.connect(transport);
	return { client, transport };
}

await step('http-basics', async () => {
	const { client, transport } = await connect();
	check('http-initialize', client.getServerVersion()?.name === 'quarry');
	check('http-session-id', /^[0-9a-f]{32}$/.test(transport.sessionId || ''), String(transport.sessionId));
	check('http-version', transport.protocolVersion === LATEST_PROTOCOL_VERSION, String(transport.protocolVersion));
	const { tools } = await client.listTools();
	check('http-list-tools', tools.length === 6 && tools.some(t => t.name === 'research'));
	const progress = [];
	const r = await client.callTool({ name: 'research', arguments: { question: RQ, depth: 1, sources: 'corpus' } },
		undefined, { onprogress: p => progress.push(p), timeout: 120000 });
	check('http-research-ok', !r.isError && r.structuredContent?.report?.includes('[1]'),
		JSON.stringify(r).slice(0, 300));
	check('http-research-progress', progress.length >= 2 && /queued run \d+/.test(progress[0].message),
		progress.map(p => p.message).join(' | ').slice(0, 300));
	const f = await client.callTool({ name: 'fetch_url', arguments: { url: `${B}/pages/article.html` } });
	check('http-fetch-loopback-refused', f.isError === true && /loopback/.test(f.content?.[0]?.text || ''),
		JSON.stringify(f).slice(0, 300));
	await transport.terminateSession();
	await client.close();
});

await step('http-cancel', async () => {
	const { client } = await connect();
	const ac = new AbortController();
	const t0 = Date.now();
	let p = 0;
	const call = client.callTool({ name: 'research', arguments: { question: 'a question the slow model stalls on',
		sources: 'corpus' } }, undefined, { signal: ac.signal, timeout: 60000, onprogress: () => { p++; } });
	setTimeout(() => ac.abort('the test cancels'), 1500);
	let err = null;
	try { await call; } catch (e) { err = e; }
	check('http-cancel-rejects', err !== null && Date.now() - t0 < 10000, `${err} after ${Date.now() - t0} ms`);
	// The worker stops the run (cancelled) within a few seconds.
	let status = '';
	for (let i = 0; i < 80 && status !== 'cancelled'; i++) {
		const l = await client.callTool({ name: 'list_runs', arguments: { text: 'slow model stalls' } });
		status = l.structuredContent?.runs?.[0]?.status || '';
		if (status !== 'cancelled') await new Promise(r => setTimeout(r, 100));
	}
	check('http-cancel-run-cancelled', status === 'cancelled', status);
	await client.close();
});

await step('http-raw', async () => {
	const post = (body, headers = {}) => fetch(`${SURL}/mcp`, { method: 'POST', body,
		headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json',
			Accept: 'application/json, text/event-stream', ...headers } });
	let r = await post('{"jsonrpc":"2.0","id":1,"method":');
	let j = await r.json();
	check('http-malformed-32700', r.status === 400 && j.error?.code === -32700, JSON.stringify(j));
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }));
	check('http-no-session-400', r.status === 400);
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }), { 'Mcp-Session-Id': 'f'.repeat(32) });
	check('http-unknown-session-404', r.status === 404);
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'initialize', params: { protocolVersion: '2025-06-18' } }));
	j = await r.json();
	const sid = r.headers.get('mcp-session-id');
	check('http-init-echoes-version', j.result?.protocolVersion === '2025-06-18' && !!sid, JSON.stringify(j).slice(0, 200));
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'nope' }), { 'Mcp-Session-Id': sid });
	j = await r.json();
	check('http-unknown-method-32601', j.error?.code === -32601, JSON.stringify(j));
	r = await post(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), { 'Mcp-Session-Id': sid });
	check('http-notification-202', r.status === 202);
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }),
		{ 'Mcp-Session-Id': sid, 'MCP-Protocol-Version': '1999-01-01' });
	check('http-bad-version-400', r.status === 400);
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }),
		{ 'Mcp-Session-Id': sid, Origin: 'http://evil.example' });
	check('http-foreign-origin-403', r.status === 403);
	r = await fetch(`${SURL}/mcp`, { headers: { Authorization: `Bearer ${TOKEN}`, Accept: 'text/event-stream',
		'Mcp-Session-Id': sid } });
	check('http-get-405', r.status === 405);
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' }),
		{ 'Mcp-Session-Id': sid, Authorization: 'Bearer wrong' });
	check('http-bad-token-401', r.status === 401);
	r = await fetch(`${SURL}/mcp`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}`, 'Mcp-Session-Id': sid } });
	check('http-delete', r.status === 204 || r.status === 200, String(r.status));
	r = await post(JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'ping' }), { 'Mcp-Session-Id': sid });
	check('http-deleted-session-404', r.status === 404);
});

done();
