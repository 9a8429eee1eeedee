/*
 * html_render.c - turn the chosen content subtree into text or Markdown.
 *
 * Block elements start and end paragraphs; inline text is joined with
 * white space collapsed (kept inside <pre>); list items, table rows and
 * headings get their Markdown markers in Markdown mode and light ones in
 * text mode. Chrome inside the content is skipped: boilerplate subtrees
 * (a share bar in an article), comment sections below an article, link
 * lists without prose, quoted posts in a discussion, labels on prose
 * pages, and paragraphs said before. On prose pages also one-link
 * teasers ("Read more: ..."), teaser lists, photo captions and credits,
 * subscription prompts, date lines and small print; a "Related"-style
 * heading skips the box it heads; nothing after the article's own
 * container is rendered and, before it, only headings and prose; short
 * lines that do not end like a sentence, and prompts, are cut from the
 * end of the text and left out before its first sentence (figures per
 * rule: docs/BENCHMARKS.md, article section). The walk is iterative, like
 * the scorer's.
 */
#include <string.h>

#include "../core/alloc.h"
#include "../core/hash.h"
#include "../core/utf8.h"
#include "html_int.h"
#include "xmlwalk.h"

/* Content whose prose is at least this share of its text is a prose
 * page, where short label blocks are dropped. */
#define PROSE_PAGE_SHARE 0.5f
/* Blocks shorter than this (weighted characters) can be labels. */
#define LABEL_MAX_CHARS 25.0f
/* Comments are dropped when the prose outside them is at least this
 * much, and this share of theirs. */
#define COMMENTS_MIN_OUTSIDE 300.0f
#define COMMENTS_OUTSIDE_SHARE 0.15f
/* A block of at least this much text, this share of it in links, with
 * this many links and no prose is a link list. */
#define LINK_LIST_MIN_CHARS 30.0f
#define LINK_LIST_SHARE 0.6f
#define LINK_LIST_MIN_ANCHORS 2
/* A block with this many links making this share of its text is a
 * list of teasers, even with a summary under each link. */
#define TEASER_LIST_MIN_ANCHORS 3
#define TEASER_LIST_SHARE 0.55f
/* A block without prose whose text is this share link is a teaser. */
#define TEASER_LINK_SHARE 0.35f
/* A caption-classed element longer than this is not a caption. */
#define CAPTION_MAX_CHARS 300.0f
/* A paragraph of at least this many bytes is said once: pages repeat
 * whole sections for other screen sizes or in hidden tabs. */
#define REPEAT_MIN_BYTES 40

/* A heading or short line starting with one of these, once this much
 * text is out, opens the lists that follow an article ("Related",
 * "Mehr zum Thema"): nothing after it is rendered. Lower-case; the
 * line is compared with ASCII letters lower-cased. */
#define END_MIN_BYTES 400
#define END_LINE_MAX_BYTES 80
/* ... and holding little more than the phrase ("Related articles", not
 * "Recommended configuration"). */
#define END_LINE_SLACK_BYTES 16
static const char *const end_phrases[] = {
	"related", "read more", "read also", "also read", "more from", "more on this", "more stories",
	"more news", "you may also like", "you might also like", "you may like", "recommended", "most popular",
	"most read", "popular posts", "popular stories", "trending", "see also", "further reading",
	"latest news", "latest stories", "top stories", "more to read", "leave a reply", "leave a comment",
	"comments", "share this", "about the author", "mehr zum thema", "das könnte sie auch",
	"das könnte dich auch", "auch interessant", "weitere beiträge", "weitere artikel",
	"weitere meldungen", "weitere nachrichten", "siehe auch", "lesen sie auch", "lesen sie mehr",
	"schon gelesen", "verwandte", "ähnliche", "Ähnliche", "meistgelesen", "beliebte", "empfehlungen",
	"kommentare", "kommentar schreiben", "diesen artikel teilen", "artikel teilen", "über den autor",
	"Über den autor", "notas relacionadas", "noticias relacionadas", "también te puede interesar",
	"te puede interesar", "le puede interesar", "lee también", "lea también", "más noticias",
	"lo más leído", "artículos relacionados", "comentarios", "à lire aussi", "lire aussi",
	"sur le même sujet", "articles similaires", "vous aimerez aussi", "commentaires", "leggi anche",
	"articoli correlati", "czytaj także", "zobacz także", "przeczytaj także", "相关", "热门",
	/* what closes an article: more information, contacts, sources, rating */
	"weitere informationen", "weitere infos", "mehr infos", "mehr informationen", "zusatzinformationen",
	"quellenangaben", "ansprechpartner", "noch mehr", "entdecke weitere", "vorschau auf",
	"nachfolgebeitrag", "war der artikel", "wie bewerten sie", "möchten sie den artikel",
	"kommentar verfassen", "was this article helpful", "rate this article", "vos réactions",
	"audios et vidéos", "pour lire la suite", NULL};

/* A short line starting with one of these is a photo credit. */
#define CREDIT_LINE_MAX_BYTES 100
static const char *const credit_starts[] = {
	"foto:",    "fotos:",  "foto ",         "bild:",   "bilder:",  "photo:",   "photos:",   "photo by",
	"image:",   "images:", "image by",      "credit:", "credits:", "picture:", "quelle:",   "source:",
	"©",        "(c)",     "getty images",  "imago",   "imagen:",  "crédito:", "créditos:", "fot.",
	"zdjęcie:", "źródło:", "illustration:", "grafik:", NULL};

/* ... or holding one of these (a caption with its credit after it:
 * "Children at school. Foto: Andina", "Dee Dee Myers Getty Images"). */
static const char *const credit_words[] = {
	" foto: ",          " fotos: ", " photo: ",         " photos: ",
	" photo by ",       " bild: ",  " image: ",         "getty images",
	"shutterstock",     "istock",   "picture alliance", "picture-alliance",
	"domena publiczna", NULL};

/* A date line is at most this long, with at most this many letters (a
 * month's name). */
#define DATE_LINE_MAX_BYTES 40
#define DATE_LINE_MAX_LETTERS 10
/* A short line holding one of these asks the reader to subscribe,
 * follow or share, or is small print: not the article. */
#define PROMPT_LINE_MAX_BYTES 200
static const char *const prompt_words[] = {
	"subscribe", "subscriber", "newsletter", "follow us", "sign up for", "share this", "abonnieren",
	"abonniere", "abonnent", "folgen sie uns", "folge uns", "jetzt teilen", "suscríbete", "suscribete",
	"suscríbase", "síguenos", "abonnez-vous", "suivez-nous", "iscriviti", "seguici", "zapisz się",
	"obserwuj nas",
	/* ... or is the site's own small print */
	"cookies", "all rights reserved", "alle rechte vorbehalten", "derechos reservados", "droits réservés",
	"app store", "google play",
	/* ... or discloses advertising (German law asks for "Werbung", "Anzeige") */
	"enthält werbung", "affiliate link", "affiliate-link", "our advertisers", "advertisers do not",
	"contains affiliate", "sponsored post", NULL};

/* A short line starting with one of these labels advertising. */
static const char *const ad_label_starts[] = {"anzeige",       "*anzeige",   "werbung",   "*werbung",
					      "advertisement", "publicidad", "publicité", NULL};

/* Short lines without a sentence's end that close the text are what
 * follows an article: "Weitere Informationen", "Kontakt:", "Category:
 * Press Releases", a teaser's headline. Up to TAIL_LINES of them, each at
 * most TAIL_LINE_MAX_BYTES, are cut from the end of a prose page's text,
 * leaving at least TAIL_MIN_KEEP_BYTES. List items and table rows stay
 * (a recipe's last step, a spec sheet). */
#define TAIL_LINES 16
#define TAIL_LINE_MAX_BYTES 60
#define TAIL_MIN_KEEP_BYTES 400
/* ... and so are closing paragraphs of up to TAIL_PROMPT_MAX_BYTES that
 * point away from the article: social networks, apps, newsletters,
 * support and donation appeals, small print, the comment form. Only at
 * the end: inside the article these words are ordinary ("he said on
 * Twitter"). Lower-case; compared with ASCII letters lower-cased. */
#define TAIL_PROMPT_MAX_BYTES 150
static const char *const tail_words[] = {
	"twitter",    "facebook",   "instagram",  "telegram",        "whatsapp",
	"youtube",    "linkedin",   "tiktok",     " app ",           " app.",
	" apps",      "newsletter", "e-mail",     "email",           "support",
	"unterstütz", "spende",     "donat",      "suscri",          "subscri",
	"cookie",     "copyright",  "©",          "rights reserved", "creative commons",
	"lizenz",     "license",    "licence",    "haftung",         "kommentar",
	"comment",    "registrier", "eingeloggt", "logged in",       "folgen",
	"follow",     NULL};
/* ... and closing paragraphs of up to TAIL_FINE_MAX_BYTES that are the
 * site's small print (trademarks, licences, disclaimers, affiliate
 * notes) or the writer's biography: they read like prose, so only these
 * words mark them, and only at the end. */
#define TAIL_FINE_MAX_BYTES 600
static const char *const fine_words[] = {
	"trademark", "warenzeichen", "disclaimer", "haftungsausschluss", "affiliate program",
	"affiliate link", "associates program", "under a creative commons", "unter einer creative commons",
	"cc by", "cc-by", "meinung des autors", "meinung der autor", "opinions expressed",
	"not responsible for", "nicht verantwortlich", "honorarfrei", "über den autor", "Über den autor",
	"about the author", "autor*in:", "zum autor",
	/* ... or asks the reader to pay for the site's work */
	"support our work", "supporting our work", "support our journalism", "unsere arbeit",
	"unsere berichterstattung", "apóyanos", "nuestro periodismo", "notre travail", "nostro lavoro",
	"naszą pracę", NULL};

struct render {
	struct qbuf *out;
	xmlNode *root;       /* the content element being rendered */
	const xmlNode *end;  /* nothing after this one is rendered; may be NULL */
	int ended;           /* end has been left, or an end line seen */
	xmlNode *para_node;  /* the block the paragraph being built began in */
	const xmlNode *skip; /* nothing is rendered until this one is left */
	int body_entered;    /* end (the article's container) has been entered */
	struct qbuf para;    /* the paragraph being built */
	enum doc_format format;
	const char *title; /* skip the first heading equal to this */
	int title_skipped;
	int pending_space; /* a collapsed space is owed before more text */
	int list_depth;
	int in_pre;
	int cells_in_row;   /* cells so far in the current <tr> */
	const char *prefix; /* marker for the paragraph being built */
	int heading;        /* its heading level, 0 if none */
	int prose_page;     /* the content is mostly prose */
	int last_tight;     /* the previous line was a list item (1) or row (2) */
	int table_rows;     /* rows emitted in the current table */
	int row_cells;      /* cells in the table's first row */
	enum doc_page_type page_type;
	uint64_t *said; /* hashes of long paragraphs emitted (open addressing) */
	size_t said_cap, said_used;
	/* The last TAIL_LINES paragraphs emitted (a ring): where each starts
	 * in out, and what tail_trim may cut of it. */
	size_t tail_start[TAIL_LINES];
	unsigned char tail_kind[TAIL_LINES]; /* TAIL_* */
	size_t n_tail;                       /* paragraphs emitted in all */
	int opened;                          /* a paragraph other than a heading is out */
};

/* 1 if this paragraph was emitted before; else remember it. Memory
 * trouble only means repeats are not caught. */
static int said_before(struct render *r, const char *s, size_t n)
{
	uint64_t h = q_fnv1a(s, n) | 1; /* 0 marks an empty slot */
	size_t i;

	if (r->said_used * 2 >= r->said_cap) {
		size_t cap = r->said_cap ? r->said_cap * 2 : 256, k;
		uint64_t *t = q_calloc(cap, sizeof(*t));
		if (!t)
			return 0;
		for (k = 0; k < r->said_cap; k++) {
			if (!r->said[k])
				continue;
			for (i = (size_t)(r->said[k] % cap); t[i]; i = (i + 1) % cap)
				;
			t[i] = r->said[k];
		}
		q_free(r->said);
		r->said = t;
		r->said_cap = cap;
	}
	for (i = (size_t)(h % r->said_cap); r->said[i]; i = (i + 1) % r->said_cap)
		if (r->said[i] == h)
			return 1;
	r->said[i] = h;
	r->said_used++;
	return 0;
}

/* 1 if the paragraph p is a photo credit on a prose page. */
static int is_credit_line(const struct render *r, const struct qbuf *p)
{
	char low[CREDIT_LINE_MAX_BYTES + 1];
	size_t i;

	if (!r->prose_page || r->heading || r->in_pre || p->len > CREDIT_LINE_MAX_BYTES ||
	    r->page_type == DOC_PAGE_FORUM)
		return 0;
	for (i = 0; i < p->len; i++)
		low[i] = (char)((p->data[i] >= 'A' && p->data[i] <= 'Z') ? p->data[i] + 32 : p->data[i]);
	low[i] = '\0';
	for (i = 0; credit_starts[i]; i++)
		if (!strncmp(low, credit_starts[i], strlen(credit_starts[i])))
			return 1;
	for (i = 0; credit_words[i]; i++)
		if (strstr(low, credit_words[i]))
			return 1;
	return 0;
}

/* 1 if the paragraph p is a short subscription, follow or share prompt. */
static int is_prompt_line(const struct render *r, const struct qbuf *p)
{
	char low[PROMPT_LINE_MAX_BYTES + 1];
	size_t i;

	if (!r->prose_page || r->in_pre || p->len > PROMPT_LINE_MAX_BYTES || r->page_type == DOC_PAGE_FORUM)
		return 0;
	for (i = 0; i < p->len; i++)
		low[i] = (char)((p->data[i] >= 'A' && p->data[i] <= 'Z') ? p->data[i] + 32 : p->data[i]);
	low[i] = '\0';
	for (i = 0; prompt_words[i]; i++)
		if (strstr(low, prompt_words[i]))
			return 1;
	for (i = 0; ad_label_starts[i]; i++) {
		size_t k = strlen(ad_label_starts[i]);
		/* the label alone or followed by a mark ("Anzeige -", "*Werbung."),
		 * not a sentence about advertising ("Werbung im Fernsehen ...") */
		if (!strncmp(low, ad_label_starts[i], k) && (!low[k] || strchr(" .,:;-|*)", low[k])) &&
		    (low[k] != ' ' || (low[k + 1] && strchr("-|:(", low[k + 1]))))
			return 1;
	}
	return 0;
}

/* 1 if the paragraph p is a bare date or time line ("03.04.2020",
 * "19:49", "Jan 13, 2022") on a prose page: the page's dateline or a
 * teaser's, kept in the metadata, not the text. */
static int is_date_line(const struct render *r, const struct qbuf *p)
{
	size_t i, letters = 0, digits = 0;

	if (!r->prose_page || r->in_pre || r->heading || r->prefix || p->len > DATE_LINE_MAX_BYTES ||
	    r->page_type == DOC_PAGE_FORUM)
		return 0;
	for (i = 0; i < p->len; i++) {
		unsigned char c = (unsigned char)p->data[i];
		if (c >= '0' && c <= '9')
			digits++;
		else if ((c | 32) >= 'a' && (c | 32) <= 'z')
			letters++;
		else if (c >= 0xC0)
			letters++;
	}
	return digits >= 2 && letters <= DATE_LINE_MAX_LETTERS;
}

/* 1 if the paragraph p opens the lists after an article (end_phrases). */
static int is_end_line(const struct render *r, const struct qbuf *p)
{
	char low[END_LINE_MAX_BYTES + 1];
	size_t i;

	if (r->out->len < END_MIN_BYTES || p->len > END_LINE_MAX_BYTES || r->page_type == DOC_PAGE_FORUM ||
	    !r->prose_page || r->in_pre)
		return 0;
	if (!r->heading && (r->prefix || p->len > 40))
		return 0;
	for (i = 0; i < p->len; i++)
		low[i] = (char)((p->data[i] >= 'A' && p->data[i] <= 'Z') ? p->data[i] + 32 : p->data[i]);
	low[i] = '\0';
	for (i = 0; end_phrases[i]; i++) {
		size_t k = strlen(end_phrases[i]);
		if (p->len <= k + END_LINE_SLACK_BYTES && !strncmp(low, end_phrases[i], k))
			return 1;
	}
	return 0;
}

/*
 * An end line heads a box of teasers: skip the rest of the element that
 * holds it (wrappers around the line alone do not count). When that is
 * the content element itself, the article is over.
 */
static void skip_section(struct render *r)
{
	xmlNode *box = r->para_node;

	while (box && box != r->root && box->parent && box->parent->_private &&
	       ns(box->parent)->text <= ns(box)->text + 1)
		box = box->parent;
	if (!box || box == r->root || !box->parent || box->parent == r->root)
		r->ended = 1;
	else
		r->skip = box->parent;
}

/* The last character of the non-empty text s[0..n). */
static uint32_t last_char(const char *s, size_t n)
{
	size_t i = n - 1;
	uint32_t cp;

	while (i > 0 && n - i < 4 && ((unsigned char)s[i] & 0xC0) == 0x80)
		i--;
	utf8_decode((const unsigned char *)s + i, n - i, &cp);
	return cp;
}

/* 1 if s[0..n) (at most TAIL_FINE_MAX_BYTES) holds one of fine_words. */
static int is_fine_print(const char *s, size_t n)
{
	char low[TAIL_FINE_MAX_BYTES + 1];
	size_t i;

	for (i = 0; i < n; i++)
		low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
	low[i] = '\0';
	for (i = 0; fine_words[i]; i++)
		if (strstr(low, fine_words[i]))
			return 1;
	return 0;
}

/* 1 if the line s[0..n) may be cut when nothing but such lines follows
 * it: short and not ending like a sentence, or a prompt (tail_words), or
 * when at_end small print or a bio (fine_words). */
static int is_tail_text(const char *s, size_t n, int at_end)
{
	static const uint32_t ends[] = {'.',    '!',  '?',    '"',    ')',    0x201C,
					0x201D, 0xBB, 0x2026, 0x3002, 0xFF01, 0xFF1F};
	uint32_t c;
	size_t i;

	if (n == 0)
		return 1;
	if (n <= TAIL_PROMPT_MAX_BYTES) {
		char low[TAIL_PROMPT_MAX_BYTES + 1];
		for (i = 0; i < n; i++)
			low[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] + 32 : s[i]);
		low[i] = '\0';
		for (i = 0; tail_words[i]; i++)
			if (strstr(low, tail_words[i]))
				return 1;
	}
	if (at_end && n <= TAIL_FINE_MAX_BYTES && is_fine_print(s, n))
		return 1;
	if (n > TAIL_LINE_MAX_BYTES)
		return 0;
	c = last_char(s, n);
	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		if (c == ends[i])
			return 0;
	return 1;
}

/* What tail_trim may do with the paragraph p: TAIL_KEEP (a list item,
 * row or code), TAIL_LINES_OF (cut closing lines inside it) or TAIL_CUT
 * (cut it whole). Small print (fine_words) is looked for in tail_trim. */
enum { TAIL_KEEP, TAIL_LINES_OF, TAIL_CUT };

static int tail_kind(const struct render *r, const struct qbuf *p, int tight)
{
	if (!r->prose_page || tight || r->in_pre || r->page_type == DOC_PAGE_FORUM)
		return TAIL_KEEP;
	return is_tail_text(p->data, p->len, 0) ? TAIL_CUT : TAIL_LINES_OF;
}

/* 1 if the paragraph from out's byte start to its end may be cut as
 * small print (fine_words): looked at only here, for the few paragraphs
 * that close the text, not for every paragraph as it is emitted. */
static int closes_with_fine_print(const struct qbuf *o, size_t start)
{
	while (start < o->len && (o->data[start] == '\n' || o->data[start] == ' '))
		start++;
	return o->len - start <= TAIL_FINE_MAX_BYTES && o->len > start &&
	       is_fine_print(o->data + start, o->len - start);
}

/* 1 if tail_trim may cut the k-th paragraph emitted whole (k >= 1), the
 * last one left in out. */
static int tail_cuts(const struct render *r, size_t k)
{
	unsigned char kind = r->tail_kind[(k - 1) % TAIL_LINES];
	size_t start = r->tail_start[(k - 1) % TAIL_LINES];

	if (start < TAIL_MIN_KEEP_BYTES)
		return 0;
	return kind == TAIL_CUT || (kind == TAIL_LINES_OF && closes_with_fine_print(r->out, start));
}

/* Cut the closing run of tail lines from out (see TAIL_LINES): whole
 * paragraphs, then the closing lines (<br>) of the last one left. */
static void tail_trim(struct render *r)
{
	struct qbuf *o = r->out;
	size_t k = r->n_tail, seen = 0, start, nl;

	while (k > 0 && seen < TAIL_LINES && tail_cuts(r, k)) {
		o->len = r->tail_start[(k - 1) % TAIL_LINES];
		o->data[o->len] = '\0';
		k--;
		seen++;
	}
	if (k == 0 || seen >= TAIL_LINES || r->tail_kind[(k - 1) % TAIL_LINES] != TAIL_LINES_OF)
		return;
	start = r->tail_start[(k - 1) % TAIL_LINES];
	qbuf_rtrim(o, " \n");
	while (seen++ < TAIL_LINES && o->len > start) {
		for (nl = o->len; nl > start && o->data[nl - 1] != '\n'; nl--)
			;
		/* nl: start of the last line; a paragraph's first line stays */
		if (nl <= start + 1 || nl < TAIL_MIN_KEEP_BYTES || !is_tail_text(o->data + nl, o->len - nl, 1))
			break;
		o->len = nl - 1;
		o->data[o->len] = '\0';
		qbuf_rtrim(o, " \n");
	}
}

static void emit_para(struct render *r)
{
	struct qbuf *o = r->out;
	struct qbuf *p = &r->para;
	/* List items and table rows sit on consecutive lines: 1 list, 2 row. */
	int tight = !r->prefix ? 0 : r->prefix[0] == '|' ? 2 : 1;

	qbuf_rtrim(p, " \n");
	if (p->len == 0)
		goto done;
	if (is_end_line(r, p)) {
		skip_section(r);
		goto done;
	}
	if (is_credit_line(r, p) || is_prompt_line(r, p) || is_date_line(r, p))
		goto done;
	if (p->len >= REPEAT_MIN_BYTES && !r->in_pre && said_before(r, p->data, p->len))
		goto done;
	/* Before the first sentence, the same kind of lines (when not
	 * headings) are datelines, bylines, category labels and prompts. */
	if (!r->heading && !r->opened) {
		if (tail_kind(r, p, tight) == TAIL_CUT)
			goto done;
		r->opened = 1;
	}
	if (r->heading && r->title && !r->title_skipped) {
		r->title_skipped = 1;
		if (!strcmp(qbuf_cstr(p), r->title))
			goto done;
	}
	r->tail_start[r->n_tail % TAIL_LINES] = o->len;
	r->tail_kind[r->n_tail % TAIL_LINES] = (unsigned char)tail_kind(r, p, tight);
	r->n_tail++;
	/* A blank line around each paragraph, list and table. */
	if (o->len && (!tight || tight != r->last_tight))
		qbuf_adds(o, "\n");
	r->last_tight = tight;
	if (r->heading && r->format == DOC_FORMAT_MARKDOWN) {
		static const char hashes[] = "######";
		qbuf_add(o, hashes, (size_t)r->heading);
		qbuf_addc(o, ' ');
	} else if (r->prefix && r->prefix[0] != '|') {
		int i;
		for (i = 1; i < r->list_depth && r->format == DOC_FORMAT_MARKDOWN; i++)
			qbuf_adds(o, "  ");
		qbuf_adds(o, r->prefix);
	}
	if (r->prefix && r->prefix[0] == '|' && r->format == DOC_FORMAT_MARKDOWN) {
		int i;
		qbuf_adds(o, "| ");
		qbuf_add(o, p->data, p->len);
		qbuf_adds(o, " |\n");
		if (r->table_rows++ == 0) {
			r->row_cells = r->cells_in_row > 0 ? r->cells_in_row : 1;
			for (i = 0; i < r->row_cells; i++)
				qbuf_adds(o, i ? " --- |" : "| --- |");
			qbuf_addc(o, '\n');
		}
	} else if (r->in_pre && r->format == DOC_FORMAT_MARKDOWN) {
		qbuf_adds(o, "```\n");
		qbuf_add(o, p->data, p->len);
		qbuf_adds(o, "\n```\n");
	} else {
		qbuf_add(o, p->data, p->len);
		qbuf_addc(o, '\n');
	}
done:
	qbuf_reset(p);
	r->pending_space = 0;
	r->prefix = NULL;
	r->heading = 0;
}

static void add_text(struct render *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, run = 0;

	if (r->in_pre) {
		qbuf_add(&r->para, s, n);
		return;
	}
	while (i < n) {
		uint32_t cp;
		size_t k;

		if (p[i] < 0x80) {
			if (p[i] > ' ') {
				if (r->pending_space && r->para.len)
					qbuf_addc(&r->para, ' ');
				r->pending_space = 0;
				run = i;
				while (i < n && p[i] > ' ' && p[i] < 0x80)
					i++;
				qbuf_add(&r->para, s + run, i - run);
			} else {
				r->pending_space = 1;
				i++;
			}
			continue;
		}
		k = utf8_decode(p + i, n - i, &cp);
		if (utf8_is_space(cp)) {
			r->pending_space = 1;
		} else {
			if (r->pending_space && r->para.len)
				qbuf_addc(&r->para, ' ');
			r->pending_space = 0;
			qbuf_add(&r->para, s + i, k);
		}
		i += k;
	}
}

static void enter(struct render *r, xmlNode *n)
{
	int level;

	if (tag_is(n, "br")) {
		if (r->in_pre)
			qbuf_addc(&r->para, '\n');
		else if (r->para.len) {
			qbuf_addc(&r->para, '\n');
			r->pending_space = 0;
		}
		return;
	}
	if (tag_is(n, "td") || tag_is(n, "th")) {
		if (r->cells_in_row++ > 0 && r->para.len) {
			qbuf_adds(&r->para, r->format == DOC_FORMAT_MARKDOWN ? " | " : "\t");
			r->pending_space = 0;
		}
		return;
	}
	if (!(ns(n)->flags & NS_BLOCK))
		return;
	emit_para(r);
	r->para_node = n;
	if (tag_is(n, "ul") || tag_is(n, "ol")) {
		r->list_depth++;
	} else if (tag_is(n, "li")) {
		r->prefix = "- ";
	} else if (tag_is(n, "table")) {
		r->table_rows = 0;
	} else if (tag_is(n, "tr")) {
		r->cells_in_row = 0;
		r->prefix = "|";
	} else if (tag_is(n, "pre")) {
		r->in_pre = 1;
	} else if ((level = html_heading_level(n)) > 0) {
		r->heading = level;
	}
}

static void leave(struct render *r, xmlNode *n)
{
	if (!(ns(n)->flags & NS_BLOCK) || tag_is(n, "td") || tag_is(n, "th"))
		return;
	emit_para(r);
	if (tag_is(n, "ul") || tag_is(n, "ol")) {
		if (r->list_depth > 0)
			r->list_depth--;
	} else if (tag_is(n, "pre")) {
		r->in_pre = 0;
	}
}

/*
 * On a prose page, a short block with no sentence punctuation that is not
 * a paragraph, heading, list item or cell is a label: "Posts: 1,204", "Reply",
 * "Joined Mar 2019", "Click to expand...".
 */
static int is_label_text(const xmlNode *t)
{
	const xmlNode *b;
	const struct nstat *s;

	if (!t->parent || !t->parent->_private)
		return 0;
	b = ns(t->parent)->block;
	if (!b || !b->_private)
		return 0;
	s = ns(b);
	if (s->own_text <= 0 || s->own_text >= LABEL_MAX_CHARS || s->own_punct > 0 || (s->flags & NS_PRE))
		return 0;
	if (html_heading_level(b) || tag_is(b, "p") || tag_is(b, "li") || tag_is(b, "td") ||
	    tag_is(b, "th") || tag_is(b, "dt") || tag_is(b, "dd") || tag_is(b, "pre") ||
	    tag_is(b, "caption") || tag_is(b, "figcaption") || tag_is(b, "blockquote"))
		return 0;
	return 1;
}

/* A comment section below an article: skipped when the content outside
 * it is substantial prose, kept when the comments are the content (a
 * page that declares itself a discussion, a forum thread, a Q&A page). */
static int is_appendix_comments(const xmlNode *n, const xmlNode *root, enum doc_page_type pt)
{
	float outside;

	const xmlNode *sib;
	int alike = 0;

	if (!(ns(n)->flags & NS_COMMENTS) || pt == DOC_PAGE_FORUM)
		return 0;
	/* Only the outermost comment-marked element is a candidate section. */
	for (sib = n->parent; sib && sib != root; sib = sib->parent)
		if (sib->_private && (ns(sib)->flags & NS_COMMENTS))
			return 0;
	/* One comment among several same-tag siblings that are comments
	 * too is a post of a thread, not the section ("comments" beside
	 * "comment-respond" is still the section). */
	for (sib = n->parent ? n->parent->children : NULL; sib; sib = sib->next)
		if (sib != n && sib->type == XML_ELEMENT_NODE && sib->_private &&
		    (ns(sib)->flags & NS_COMMENTS) &&
		    !strcmp((const char *)sib->name, (const char *)n->name) && ++alike >= 2)
			return 0;
	outside = ns(root)->good - ns(n)->good;
	/* A blog's own comment section goes whenever there is an article. */
	if (ns(n)->flags & NS_COMMENT_SECTION)
		return outside >= COMMENTS_MIN_OUTSIDE;
	return outside >= COMMENTS_MIN_OUTSIDE && outside >= COMMENTS_OUTSIDE_SHARE * ns(n)->good;
}

/*
 * Inside the content of a prose page, a list of links with no prose of
 * its own (a "related posts" block, a tag list, a table of contents of
 * other pages) is navigation that carries no chrome class name.
 * Paragraphs and headings are kept: a sentence may be one long link.
 */
static int is_link_list(const xmlNode *n, const struct render *r)
{
	const struct nstat *s = ns(n);

	if (!r->prose_page || !(s->flags & NS_BLOCK) || s->anchors < 1)
		return 0;
	/* A block without prose that is mostly one link: "Read more:
	 * <headline>". A sentence may be one long link: it ends like one. */
	if (s->anchors < LINK_LIST_MIN_ANCHORS || tag_is(n, "p") || html_heading_level(n))
		return s->good <= 0 && s->link >= TEASER_LINK_SHARE * s->text &&
		       !(s->last == '.' || s->last == '!' || s->last == '?' || s->last == 0x3002);
	if (s->text >= LINK_LIST_MIN_CHARS && s->link >= LINK_LIST_SHARE * s->text && s->good <= 0)
		return 1;
	/* Teaser cards: a headline link and a line of summary each. */
	return s->anchors >= TEASER_LIST_MIN_ANCHORS && s->link >= TEASER_LIST_SHARE * s->text;
}

/* In a discussion, a quoted earlier post repeats text that is already
 * on the page. Forum software marks its quotes with a class. */
static int is_forum_quote(const xmlNode *n, const struct render *r)
{
	const char *c;

	if (r->page_type != DOC_PAGE_FORUM || !tag_is(n, "blockquote"))
		return 0;
	c = html_attr(n, "class");
	return c && strcasestr(c, "quote");
}

/*
 * Before the article's own container (when the page marks one) come the
 * headline, the lead and the lines around them: date, byline, category,
 * "3 min read". Only headings and prose are kept there.
 */
static int is_before_body_chrome(const xmlNode *t, const struct render *r)
{
	const xmlNode *b;

	if (!r->end || r->body_entered || !t->parent || !t->parent->_private)
		return 0;
	b = ns(t->parent)->block;
	if (!b || !b->_private)
		return 0;
	return !(ns(b)->flags & NS_PROSE) && !html_heading_level(b);
}

/* On a prose page, a photo's caption and credit ("Foto: dpa", "Getty
 * Images") are not the article's text. */
static int is_caption(const xmlNode *n, const struct render *r)
{
	const char *c;

	if (!r->prose_page || r->page_type == DOC_PAGE_FORUM)
		return 0;
	if (tag_is(n, "figcaption"))
		return 1;
	if (ns(n)->text >= CAPTION_MAX_CHARS)
		return 0;
	c = html_attr(n, "class");
	return c && (strcasestr(c, "caption") || strcasestr(c, "credit"));
}

static int render_visit(xmlNode *n, void *ctx)
{
	struct render *r = ctx;

	if (r->ended || r->skip)
		return 0;
	if (n->type == XML_ELEMENT_NODE && n->_private) {
		uint16_t f = ns(n)->flags;
		if (!(f & NS_REMOVED) &&
		    (n == r->root || (!(f & NS_BOILER) && !is_appendix_comments(n, r->root, r->page_type) &&
				      !is_link_list(n, r) && !is_forum_quote(n, r) && !is_caption(n, r)))) {
			if (n == r->end)
				r->body_entered = 1;
			enter(r, n);
			return 1;
		}
	} else if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) && n->content &&
		   !(r->prose_page && is_label_text(n)) && !is_before_body_chrome(n, r) &&
		   !(n->parent && n->parent->_private && (ns(n->parent)->flags & NS_NOSCRIPT) &&
		     html_text_is_markup((const char *)n->content))) {
		add_text(r, (const char *)n->content);
	}
	return 0;
}

static void render_leave(xmlNode *n, void *ctx)
{
	struct render *r = ctx;

	if (r->ended)
		return;
	if (r->skip) {
		if (n != r->skip)
			return;
		r->skip = NULL;
	}
	leave(r, n);
	if (n == r->end)
		r->ended = 1;
}

int html_render(xmlNode *root, const xmlNode *end, enum doc_format format, const char *title,
		enum doc_page_type page_type, struct qbuf *out)
{
	struct render r;

	memset(&r, 0, sizeof(r));
	r.out = out;
	r.format = format;
	r.title = title;
	r.page_type = page_type;
	/* Posts and product descriptions are read as prose even where the
	 * page around them is mostly short blocks: poster ranks, post
	 * counts, "Add to cart" are labels there too. */
	r.prose_page = ns(root)->good >= PROSE_PAGE_SHARE * ns(root)->text || page_type == DOC_PAGE_FORUM ||
		       page_type == DOC_PAGE_PRODUCT;
	qbuf_init(&r.para, out->max);
	r.root = root;
	r.end = end;
	xml_walk(root, render_visit, render_leave, &r);
	emit_para(&r);
	if (!out->err)
		tail_trim(&r);
	if (r.para.err && !out->err)
		out->err = r.para.err;
	qbuf_release(&r.para);
	q_free(r.said);
	return out->err;
}
