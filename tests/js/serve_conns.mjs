// serve_conns.mjs - connection-level checks of `quarry serve` that curl
// cannot make (node's own net module only; no npm packages):
//   node serve_conns.mjs idle PORT N     N idle connections, then one request on
//                                        a fresh one: prints "idle N ok MS" or "idle fail ..."
//   node serve_conns.mjs slowloris PORT  headers at one byte per 200 ms: prints
//                                        "closed after MS" when the server gives up on it
import net from 'node:net';

const [mode, port, nArg] = process.argv.slice(2);
const host = '127.0.0.1';

function open() {
	return new Promise((resolve, reject) => {
		const s = net.connect({ host, port: Number(port) }, () => resolve(s));
		s.on('error', reject);
	});
}

function request(path) {
	return new Promise((resolve, reject) => {
		const t0 = Date.now();
		const s = net.connect({ host, port: Number(port) }, () => {
			s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nConnection: close\r\n\r\n`);
		});
		let data = '';
		s.on('data', (d) => { data += d; });
		s.on('end', () => resolve({ ms: Date.now() - t0, data }));
		s.on('error', reject);
		setTimeout(() => reject(new Error('no answer in 5 s')), 5000).unref();
	});
}

if (mode === 'idle') {
	const n = Number(nArg || 1000);
	const socks = [];
	try {
		for (let i = 0; i < n; i++) socks.push(await open());
		const r = await request('/healthz');
		const alive = socks.filter((s) => !s.destroyed).length;
		if (r.data.startsWith('HTTP/1.1 200')) console.log(`idle ${alive} ok ${r.ms}`);
		else console.log(`idle fail ${r.data.slice(0, 80)}`);
	} catch (e) {
		console.log(`idle fail ${e.message} after ${socks.length} connections`);
	}
	socks.forEach((s) => s.destroy());
} else if (mode === 'slowloris') {
	const s = await open();
	const t0 = Date.now();
	const text = `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'a'.repeat(400)}`;
	let i = 0;
	const timer = setInterval(() => {
		if (!s.destroyed && i < text.length) s.write(text[i++]);
	}, 200);
	s.on('close', () => { clearInterval(timer); console.log(`closed after ${Date.now() - t0}`); });
	s.on('error', () => {});
	setTimeout(() => { console.log('still open after 20000'); process.exit(0); }, 20000).unref();
} else {
	console.error('usage: serve_conns.mjs idle|slowloris PORT [N]');
	process.exit(2);
}
