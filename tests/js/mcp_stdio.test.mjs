// The official MCP SDK client against `quarry mcp` over stdio, with the
// fake model (tests/fakellm.c) and the fake site and search API
// (tests/fakeweb.c). Run by tests/cases/mcp-stdio-sdk.case, which sets the variables.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { check, step, done, need, rawMcp } from './mcp_check.mjs';

const Q = need('QUARRY'), HOME = need('QHOME'), B = need('B');
const LLM = need('LLM_AUTO'), STALL = need('LLM_STALL');
const RQ = 'Why did the US switch off GPS Selective Availability?';

function connect(args, llm) {
	const transport = new StdioClientTransport({
		command: Q,
		args: ['mcp', '--home', HOME, ...args],
		env: { ...process.env, QUARRY_LLM_BASE_URL: llm, QUARRY_LLM_MODEL: 'm',
			QUARRY_SEARXNG_URL: B, QUARRY_LLM_BACKOFF_MS: '10' },
		stderr: 'pipe',
	});
	const client = new Client({ name: 'quarry-test', version: '1.0.0' });
	return client.connect(transport).then(() => ({ client, transport }));
}

await step('stdio-research', async () => {
	const { client } = await connect(['--allow-private'], LLM);
	check('initialize', client.getServerVersion()?.name === 'quarry',
		JSON.stringify(client.getServerVersion()));
	check('capabilities', !!client.getServerCapabilities()?.tools);
	const { tools } = await client.listTools();
	const names = tools.map(t => t.name).sort().join(',');
	check('list-tools', names === 'ask,fetch_url,get_run,list_runs,research,search_corpus', names);
	const research = tools.find(t => t.name === 'research');
	check('research-schema', research?.inputSchema?.required?.includes('question') &&
		research?.outputSchema?.properties?.report, JSON.stringify(research?.inputSchema));
	const progress = [];
	const r = await client.callTool({ name: 'research', arguments: { question: RQ, depth: 1,
		sources: 'web' } }, undefined, { onprogress: p => progress.push(p), timeout: 120000 });
	check('research-ok', !r.isError, JSON.stringify(r.content).slice(0, 300));
	const sc = r.structuredContent || {};
	check('research-report', typeof sc.report === 'string' && sc.report.includes('[1]'),
		String(sc.report).slice(0, 200));
	check('research-sources', Array.isArray(sc.sources) && sc.sources.length > 0 &&
		typeof sc.sources[0].url === 'string', JSON.stringify(sc.sources).slice(0, 200));
	check('research-verification', typeof sc.verification?.citations_verified === 'number',
		JSON.stringify(sc.verification));
	check('research-text', r.content?.[0]?.type === 'text' && r.content[0].text === sc.report);
	check('research-progress', progress.length >= 3, `${progress.length} notifications`);
	check('research-progress-grows', progress.every((p, i) => i === 0 || p.progress > progress[i - 1].progress));
	check('research-progress-read', progress.some(p => /^read \[/.test(p.message || '')),
		progress.map(p => p.message).join(' | ').slice(0, 300));
	const runs = await client.callTool({ name: 'list_runs', arguments: {} });
	const listed = runs.structuredContent?.runs || [];
	check('list-runs', listed.some(x => x.run_id === sc.run_id && x.status === 'done'),
		JSON.stringify(runs.structuredContent).slice(0, 300));
	const got = await client.callTool({ name: 'get_run', arguments: { run_id: sc.run_id } });
	check('get-run', got.structuredContent?.report === sc.report && got.structuredContent?.question === RQ,
		JSON.stringify(got.structuredContent).slice(0, 300));
	const none = await client.callTool({ name: 'get_run', arguments: { run_id: 999999 } });
	check('get-run-missing', none.isError === true && /no run 999999/.test(none.content?.[0]?.text));
	const res = await client.listResources();
	const uri = `quarry://runs/${sc.run_id}/report`;
	check('resources-list', res.resources.some(x => x.uri === uri), JSON.stringify(res).slice(0, 300));
	const read = await client.readResource({ uri });
	check('resources-read', read.contents?.[0]?.text === sc.report && read.contents[0].mimeType === 'text/markdown');
	let rerr = null;
	try { await client.readResource({ uri: 'file:///etc/passwd' }); } catch (e) { rerr = e; }
	check('resources-read-refused', rerr?.code === -32002, String(rerr));
	const again = await client.ping();
	check('ping', again && typeof again === 'object');
	await client.close();
});

await step('stdio-cancel', async () => {
	const { client, transport } = await connect(['--allow-private'], STALL);
	const ac = new AbortController();
	const t0 = Date.now();
	let sawProgress = false;
	const call = client.callTool({ name: 'research', arguments: { question: 'a question the model stalls on',
		depth: 1, sources: 'web' } }, undefined, { signal: ac.signal, timeout: 60000,
		onprogress: () => { sawProgress = true; } });
	setTimeout(() => ac.abort('the test cancels'), 1500);
	let err = null;
	try { await call; } catch (e) { err = e; }
	check('cancel-rejects', err !== null, 'the call was not cancelled');
	check('cancel-fast', Date.now() - t0 < 10000, `${Date.now() - t0} ms`);
	check('cancel-progress-first', sawProgress, 'no progress before the cancel');
	// The session goes on, and the server's process ends cleanly at close.
	const pong = await client.ping();
	check('cancel-session-alive', pong && typeof pong === 'object');
	// The run stopped and stays resumable (interrupted), within a few seconds.
	let status = '';
	for (let i = 0; i < 50 && status !== 'interrupted' && status !== 'cancelled'; i++) {
		const l = await client.callTool({ name: 'list_runs', arguments: { text: 'stalls on' } });
		status = l.structuredContent?.runs?.[0]?.status || '';
		if (status !== 'interrupted' && status !== 'cancelled') await new Promise(r => setTimeout(r, 100));
	}
	check('cancel-run-interrupted', status === 'interrupted' || status === 'cancelled', status);
	const proc = transport._process;
	const closed = new Promise(r => proc.once('close', (code, sig) => r({ code, sig })));
	const t1 = Date.now();
	await client.close();
	const how = await closed;
	check('stdio-clean-exit', how.code === 0 && Date.now() - t1 < 4000,
		`exit ${how.code} signal ${how.sig} after ${Date.now() - t1} ms`);
});

await step('stdio-fetch-refused', async () => {
	const { client } = await connect([], LLM);
	const r = await client.callTool({ name: 'fetch_url', arguments: { url: `${B}/pages/article.html` } });
	check('fetch-loopback-refused', r.isError === true && /loopback/.test(r.content?.[0]?.text || ''),
		JSON.stringify(r));
	const bad = await client.callTool({ name: 'fetch_url', arguments: { url: 42 } });
	check('fetch-bad-argument', bad.isError === true && /must be a string/.test(bad.content?.[0]?.text));
	let err = null;
	try {
		await client.callTool({ name: 'no_such_tool', arguments: {} });
	} catch (e) { err = e; }
	check('unknown-tool-32602', err?.code === -32602, String(err));
	await client.close();
});

await step('stdio-raw', async () => {
	const m = rawMcp(['mcp', '--home', HOME, '--no-llm'], {});
	m.send(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {
		protocolVersion: LATEST_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: 'raw', version: '1' } } }));
	const init = await m.next();
	check('version-latest', init.result?.protocolVersion === LATEST_PROTOCOL_VERSION,
		JSON.stringify(init.result?.protocolVersion));
	m.send(JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2030-01-01' } }));
	const init2 = await m.next();
	check('version-unknown-gets-latest', init2.result?.protocolVersion === LATEST_PROTOCOL_VERSION);
	m.send('{"jsonrpc":"2.0","id":3,"method":');
	const e1 = await m.next();
	check('malformed-32700', e1.error?.code === -32700 && e1.id === null, JSON.stringify(e1));
	m.send(JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { arguments: {} } }));
	const e2 = await m.next();
	check('no-name-32602', e2.error?.code === -32602 && e2.id === 4, JSON.stringify(e2));
	m.send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'resources/templates/list' }));
	const t = await m.next();
	check('resource-template', t.result?.resourceTemplates?.[0]?.uriTemplate === 'quarry://runs/{id}/report');
	const how = await m.close();
	check('raw-exit-on-eof', how.code === 0, JSON.stringify(how));
});

done();
