// Shared by the protocol tests (mcp_*.test.mjs, openai*.test.mjs): one
// line per check, "ok NAME" or "not ok NAME: why", which tests/lib/node.sh
// counts; the process exits 1 when any check failed.
import { spawn } from 'node:child_process';

let failed = 0;

export function check(name, cond, why = '') {
	if (cond) {
		console.log(`ok ${name}`);
	} else {
		failed++;
		console.log(`not ok ${name}: ${why}`.replace(/\n/g, ' ').slice(0, 600));
	}
}

// Run fn, counting a throw as a failed check of that name.
export async function step(name, fn) {
	try {
		await fn();
	} catch (e) {
		check(name, false, `threw ${e && e.stack ? e.stack : e}`);
	}
}

export function done() {
	process.exit(failed ? 1 : 0);
}

export function need(name) {
	const v = process.env[name];
	if (!v) {
		console.log(`not ok setup: ${name} is not set (run through a case: tests/lib/node.sh)`);
		process.exit(1);
	}
	return v;
}

// A quarry child speaking raw newline-delimited JSON-RPC: send a line,
// read the answers (each a parsed object) as they come.
export function rawMcp(args, env) {
	const child = spawn(need('QUARRY'), args, { env: { ...process.env, ...env },
		stdio: ['pipe', 'pipe', 'pipe'] });
	let buf = '';
	const lines = [];
	const waiters = [];
	child.stdout.on('data', d => {
		buf += d;
		let i;
		while ((i = buf.indexOf('\n')) >= 0) {
			const line = buf.slice(0, i);
			buf = buf.slice(i + 1);
			lines.push(line);
			while (waiters.length && lines.length) waiters.shift()(lines.shift());
		}
	});
	child.stderr.on('data', () => {});
	return {
		child,
		send(text) { child.stdin.write(text + '\n'); },
		next(ms = 10000) {
			if (lines.length) return Promise.resolve(JSON.parse(lines.shift()));
			return new Promise((resolve, reject) => {
				const t = setTimeout(() => reject(new Error('no answer within ' + ms + ' ms')), ms);
				waiters.push(l => { clearTimeout(t); resolve(JSON.parse(l)); });
			});
		},
		close() {
			child.stdin.end();
			return new Promise(r => child.once('close', (code, sig) => r({ code, sig })));
		},
	};
}
