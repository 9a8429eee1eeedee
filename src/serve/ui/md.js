// md.js - Markdown to DOM nodes, safely: every piece of text is a text node
// (never innerHTML), links are kept only for http(s) URLs, and [n] becomes a
// citation whose tip shows the source's checked quotes (cite(n) builds it).

const el = (tag, cls, text) => {
	const e = document.createElement(tag);
	if (cls) e.className = cls;
	if (text !== undefined) e.textContent = text;
	return e;
};

// Inline: **bold**, *em*, `code`, [text](url), [n] citations.
function inline(parent, text, cite) {
	const re = /(\*\*([^*]+)\*\*|\*([^*\s][^*]*)\*|`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)|\[(\d{1,4})\])/g;
	let last = 0, m;
	while ((m = re.exec(text))) {
		if (m.index > last) parent.append(text.slice(last, m.index));
		if (m[2] !== undefined) inline(parent.appendChild(el('strong')), m[2], cite);
		else if (m[3] !== undefined) inline(parent.appendChild(el('em')), m[3], cite);
		else if (m[4] !== undefined) parent.append(el('code', null, m[4]));
		else if (m[5] !== undefined) {
			if (/^https?:\/\//i.test(m[6])) {
				const a = el('a', null, m[5]);
				a.href = m[6];
				a.rel = 'noopener noreferrer';
				a.target = '_blank';
				parent.append(a);
			} else parent.append(m[5]);
		} else parent.append(cite ? cite(Number(m[7])) : m[0]);
		last = re.lastIndex;
	}
	if (last < text.length) parent.append(text.slice(last));
}

export function renderMarkdown(md, cite) {
	const root = document.createDocumentFragment();
	const lines = String(md || '').replace(/\r\n?/g, '\n').split('\n');
	let i = 0;
	while (i < lines.length) {
		const line = lines[i];
		let m;
		if (!line.trim()) { i++; continue; }
		if (line.startsWith('```')) {
			const code = [];
			for (i++; i < lines.length && !lines[i].startsWith('```'); i++) code.push(lines[i]);
			i++;
			root.append(el('pre', null)).lastChild.append(el('code', null, code.join('\n')));
			continue;
		}
		if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
			const h = el('h' + Math.min(6, m[1].length + 1));
			inline(h, m[2], cite);
			root.append(h);
			i++;
			continue;
		}
		if ((m = /^\s*([-*]|\d+[.)])\s+/.exec(line))) {
			const ordered = /\d/.test(m[1]);
			const list = el(ordered ? 'ol' : 'ul');
			while (i < lines.length && (m = /^\s*([-*]|\d+[.)])\s+(.*)$/.exec(lines[i]))) {
				const li = el('li');
				inline(li, m[2], cite);
				list.append(li);
				i++;
			}
			root.append(list);
			continue;
		}
		if (line.startsWith('>')) {
			const q = el('blockquote');
			const text = [];
			while (i < lines.length && lines[i].startsWith('>')) text.push(lines[i++].replace(/^>\s?/, ''));
			inline(q, text.join(' '), cite);
			root.append(q);
			continue;
		}
		if (/^\|/.test(line)) {
			const table = el('table');
			while (i < lines.length && /^\|/.test(lines[i])) {
				if (!/^\|[\s:|-]+\|?\s*$/.test(lines[i])) {
					const tr = el('tr');
					lines[i].replace(/^\||\|\s*$/g, '').split('|').forEach((c) => {
						const td = el('td');
						inline(td, c.trim(), cite);
						tr.append(td);
					});
					table.append(tr);
				}
				i++;
			}
			root.append(table);
			continue;
		}
		const para = [lines[i++]];
		while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|>|\s*([-*]|\d+[.)])\s|\|)/.test(lines[i]))
			para.push(lines[i++]);
		const p = el('p');
		inline(p, para.join(' '), cite);
		root.append(p);
	}
	return root;
}

export { el };
