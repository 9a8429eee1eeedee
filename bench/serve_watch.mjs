// serve_watch.mjs - for bench/serve_bench.sh: POST one run, time the first
// event of its stream, then hold N more watchers on it until it ends.
//   node bench/serve_watch.mjs URL TOKEN N QUESTION
// Prints "first_event_ms X", "watchers N", "watcher_events min/max", "ended_ms X".
const [base, token, nArg, question] = process.argv.slice(2);
const auth = { Authorization: `Bearer ${token}` };
const n = Number(nArg || 100);

async function watch(id, onFirst) {
	const r = await fetch(`${base}/v1/research/${id}/events`, { headers: auth });
	const reader = r.body.getReader();
	const dec = new TextDecoder();
	let text = '', events = 0, first = true;
	for (;;) {
		const { value, done } = await reader.read();
		if (done) break;
		text += dec.decode(value, { stream: true });
		let i;
		while ((i = text.indexOf('\n\n')) >= 0) {
			const block = text.slice(0, i);
			text = text.slice(i + 2);
			if (/^id: /m.test(block)) {
				events++;
				if (first && onFirst) onFirst();
				first = false;
			}
			if (/^event: end/m.test(block)) return events;
		}
	}
	return events;
}

const t0 = performance.now();
const post = await fetch(`${base}/v1/research`, {
	method: 'POST', headers: { ...auth, 'Content-Type': 'application/json' },
	body: JSON.stringify({ question, depth: 1, sources: 'web' }),
});
const { id } = await post.json();
const postMs = performance.now() - t0;
let firstMs = null;
const main = watch(id, () => { firstMs = performance.now() - t0; });
const others = [];
for (let i = 0; i < n - 1; i++) others.push(watch(id));
const counts = await Promise.all([main, ...others]);
console.log(`run ${id}`);
console.log(`post_ms ${postMs.toFixed(1)}`);
console.log(`first_event_ms ${firstMs === null ? 'none' : firstMs.toFixed(1)}`);
console.log(`watchers ${counts.length}`);
console.log(`watcher_events ${Math.min(...counts)}/${Math.max(...counts)}`);
console.log(`ended_ms ${(performance.now() - t0).toFixed(0)}`);
