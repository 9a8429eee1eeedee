/*
 * main.c - `quarry`: the command table, global help and version.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "../net/http.h"
#include "cli.h"
#include "cli_llm.h"
#include "term.h"

static int cmd_help(int argc, char **argv);
static const char *nearest_command(const char *name);
static int cmd_version(int argc, char **argv);

const struct command cli_commands[] = {
	{"research", cmd_research, "research a question: a cited report from many sources",
	 "usage: quarry research [options] QUESTION...\n"
	 "\n"
	 "Plan, search the web and your corpus, read the sources, take notes with\n"
	 "verbatim quotes (each checked against the source), look for what is still\n"
	 "missing, and write a report whose every citation points at a checked quote.\n"
	 "Without a model (none configured, or --no-llm) it writes an extractive\n"
	 "brief: the best passages for the question, cited, key sentences in bold.\n"
	 "Every run is saved; Ctrl-C stops and says how to resume.\n"
	 "\n"
	 "options:\n"
	 "  --depth N              rounds of search-read-reflect (default 2)\n"
	 "  --breadth N            search queries per round (default 4)\n"
	 "  --max-sources N        sources to read at most (default 20)\n"
	 "  --budget-tokens N      stop spending after N model tokens\n"
	 "  --budget-usd X         stop spending after X dollars\n"
	 "  --time-limit DURATION  e.g. 90s, 5m\n"
	 "                         (on any budget: stop, write the best report\n"
	 "                         possible, say so)\n"
	 "  --sources LIST         web, corpus, or provider names: searxng, brave,\n"
	 "                         tavily, serper (default web,corpus)\n"
	 "  --lang CODE            report language (default: the question's)\n"
	 "  --length LEN           short, standard (default) or long: about 600,\n"
	 "                         1,500 or 4,000 words\n"
	 "  --plan-only            print the brief and plan, store the run and stop\n"
	 "                         ('quarry runs resume ID' goes on)\n"
	 "  -f, --format FMT       md (default), html (self-contained) or json\n"
	 "  -o, --output FILE      write the report to FILE\n"
	 "  --events FILE          append every event as a JSON line\n"
	 "  --detach               queue the run, print its id and return; a worker\n"
	 "                         carries it (one is started if none runs)\n"
	 "  --no-llm               extractive brief, no model\n"
	 "  --allow-private        read result URLs on private addresses (also\n"
	 "                         QUARRY_ALLOW_PRIVATE=1)\n"
	 "  --ignore-robots        do not check robots.txt\n"
	 "  --no-cache             do not reuse cached model replies, nor pages that\n"
	 "                         earlier runs read today\n"
	 "  -v, --verbose          print every event on stderr\n"
	 "  --home DIR             the quarry database's folder\n" CLI_MODEL_HELP "\n"
	 "Web search: QUARRY_SEARXNG_URL (a SearXNG instance with the JSON format\n"
	 "on), QUARRY_BRAVE_API_KEY, QUARRY_TAVILY_API_KEY, QUARRY_SERPER_API_KEY.\n"
	 "The corpus: 'quarry index add DIR'.\n"
	 "\n"
	 "examples:\n"
	 "  quarry research 'Why did the US switch off GPS Selective Availability?'\n"
	 "  quarry research --sources corpus --no-llm -o brief.md 'open models'\n"
	 "  quarry research --budget-usd 0.20 -f html -o report.html \\\n"
	 "      'tariffs and 10-year yields in 2018'\n"},
	{"runs", cmd_runs, "list, watch, wait for, cancel, show, export, resume and remove runs",
	 "usage: quarry runs ls [--json]\n"
	 "       quarry runs watch ID [-f md|html|json] [-o FILE]\n"
	 "       quarry runs wait ID\n"
	 "       quarry runs cancel ID\n"
	 "       quarry runs show ID\n"
	 "       quarry runs export ID [-f md|html|json] [-o FILE]\n"
	 "       quarry runs resume ID [--plan FILE]\n"
	 "       quarry runs rm ID\n"
	 "\n"
	 "Every research run is stored with its question, options, events, sources,\n"
	 "notes, report and figures. 'resume' continues an interrupted or killed run:\n"
	 "searches, pages and model replies it already has are replayed, not paid\n"
	 "for again, and the report goes where the run's -o and -f said unless given\n"
	 "again. A run whose process is gone shows as interrupted. 'rm' deletes a run\n"
	 "and everything kept with it (not a queued or running one).\n"
	 "'watch' shows a run's progress (from its stored events, then live ones)\n"
	 "and ends with its report; 'wait' blocks until it ends. Both exit as the\n"
	 "run would have in the foreground: 0 done or stopped by a budget, 1 failed,\n"
	 "130 cancelled or interrupted. 'cancel' stops a queued or running run\n"
	 "within 2 s; a running one keeps the best report it can make.\n"
	 "\n"
	 "options:\n"
	 "  --json                 ls: one JSON object per run per line: id,\n"
	 "                         status, started, updated, worker, question\n"
	 "  -f, --format FMT       md (default), html or json (show, export, resume)\n"
	 "  -o, --output FILE      write the report to FILE\n"
	 "  --plan FILE            resume: research this edited plan (the JSON of\n"
	 "                         'quarry research --plan-only -f json')\n"
	 "  --home DIR             the quarry database's folder\n"
	 "  (resume also takes the model options of 'quarry research')\n"
	 "\n"
	 "examples:\n"
	 "  quarry runs ls\n"
	 "  quarry runs watch 3\n"
	 "  quarry runs export 3 -f html -o report.html\n"
	 "  quarry runs resume 3\n"},
	{"ask", cmd_ask, "a quick cited answer (or ask the model directly)",
	 "usage: quarry ask [research options] QUESTION...\n"
	 "       quarry ask --no-search [options] QUESTION...\n"
	 "\n"
	 "Without --no-search: one round of search and reading, then a short answer\n"
	 "with checked citations; a fraction of a research run's time and cost. It\n"
	 "takes the options of 'quarry research' except --depth.\n"
	 "\n"
	 "With --no-search: send QUESTION to the configured model and stream its\n"
	 "answer to stdout.\n"
	 "Reasoning (DeepSeek R1, Qwen, Kimi thinking models, <think> blocks) is kept\n"
	 "apart from the answer: shown dimmed on a terminal, left out when the output\n"
	 "is piped. Failed requests are retried (429, 5xx, stalls, cut-off streams);\n"
	 "Ctrl-C stops. Replies are cached in the quarry database, so asking the\n"
	 "same question again costs nothing.\n"
	 "\n"
	 "options:\n"
	 "  --no-search            ask the model directly, no sources\n"
	 "  --run ID               a follow-up on research run ID: answer from its\n"
	 "                         sources and findings, search only for what they lack\n"
	 "  --hide-reasoning       never show reasoning\n"
	 "  --show-reasoning       show reasoning on stderr even when piped\n"
	 "  -v, --verbose          tokens, cost, time and attempts on stderr\n"
	 "  --system TEXT          a system message\n"
	 "  --max-tokens N         cap the answer's length\n"
	 "  --temperature X        0 to 2\n"
	 "  --json                 ask for a JSON reply, check and print it\n"
	 "  --no-cache             do not use or fill the reply cache\n"
	 "  --home DIR             the quarry database's folder (for the cache)\n"
	 "  --time-limit DURATION  give up after this long, retries included (default\n"
	 "                         10m, with or without --no-search; --timeout too)\n" CLI_MODEL_HELP "\n"
	 "The model comes from --provider/--model, QUARRY_LLM_* variables or the\n"
	 "config file: see 'quarry help models'.\n"
	 "\n"
	 "examples:\n"
	 "  DEEPSEEK_API_KEY=sk-... quarry ask --no-search --provider deepseek \\\n"
	 "      'Why did the US end GPS Selective Availability?'\n"
	 "  QUARRY_LLM_BASE_URL=http://127.0.0.1:11434/v1 QUARRY_LLM_MODEL=qwen2.5 \\\n"
	 "      quarry ask --no-search -v 'hello'\n"},
	{"fetch", cmd_fetch, "fetch web pages and print their main content",
	 "usage: quarry fetch [options] URL...\n"
	 "\n"
	 "Fetch each URL and print its readable main content: the article, post,\n"
	 "thread or documentation body, without menus, ads and footers. HTML,\n"
	 "PDF, DOCX, Markdown and plain text are read; several URLs are fetched\n"
	 "in parallel and printed in the order given.\n"
	 "\n"
	 "options:\n"
	 "  -f, --format FMT       text (default), markdown or json (one object per\n"
	 "                         URL per line: url, final_url, status, content_type,\n"
	 "                         charset, title, author, published, language, text,\n"
	 "                         bytes and timings)\n"
	 "  -j, --jobs N           fetch up to N URLs at once (default 8)\n"
	 "  --timeout DURATION     whole-request limit per URL (default 30s)\n"
	 "  --connect-timeout DUR  connection limit (default 10s)\n"
	 "  --max-bytes SIZE       cap on a decoded HTML/text body (default 10M)\n"
	 "  --max-pdf-bytes SIZE   cap on a PDF body (default 50M)\n"
	 "  --allow-private        allow private, loopback and link-local addresses\n"
	 "                         (also QUARRY_ALLOW_PRIVATE=1)\n"
	 "  --ignore-robots        do not check robots.txt\n"
	 "\n"
	 "Only http and https are fetched, with at most 5 redirects. Every\n"
	 "connection, redirects included, is checked against the address policy.\n"
	 "Exit status: 0 all fetched, 1 some failed (each failure is reported on\n"
	 "its own line), 2 usage error.\n"
	 "\n"
	 "examples:\n"
	 "  quarry fetch https://example.com/article\n"
	 "  quarry fetch -f json -j 4 https://a.example/ https://b.example/paper.pdf\n"},
	{"extract", cmd_extract, "print the main content of a local file or stdin",
	 "usage: quarry extract [options] [FILE|-]\n"
	 "\n"
	 "Extract the readable content of an HTML, PDF, DOCX, Markdown or text\n"
	 "file (or standard input when FILE is - or missing), the same way\n"
	 "'quarry fetch' does for web pages.\n"
	 "\n"
	 "options:\n"
	 "  -f, --format FMT       text (default), markdown or json\n"
	 "  --url URL              the page's address (for relative links and\n"
	 "                         site-specific handling)\n"
	 "  --content-type TYPE    treat the input as this MIME type\n"
	 "                         (e.g. 'text/html; charset=gbk')\n"
	 "  --max-bytes SIZE       refuse inputs larger than this (default 64M)\n"
	 "\n"
	 "examples:\n"
	 "  quarry extract saved-page.html\n"
	 "  curl -s https://example.com | quarry extract --url https://example.com -\n"
	 "  quarry extract -f json report.pdf\n"},
	{"index", cmd_index, "add your own documents to the local corpus",
	 "usage: quarry index ACTION [options] [PATH...]\n"
	 "\n"
	 "The local corpus: your files, indexed for 'quarry search' and for research\n"
	 "runs. It lives in the quarry database under $QUARRY_HOME (default\n"
	 "$XDG_DATA_HOME/quarry, i.e. ~/.local/share/quarry).\n"
	 "\n"
	 "actions:\n"
	 "  add PATH...    index files and folders (recursively): HTML, PDF, Markdown,\n"
	 "                 text and DOCX. Incremental: unchanged files are not read\n"
	 "                 again, changed ones are re-indexed, and files that vanished\n"
	 "                 from a folder are dropped when the folder is added again.\n"
	 "                 Hidden and binary files are skipped; files without a known\n"
	 "                 extension are read when they are text (README, NEWS.gz).\n"
	 "  rm PATH...     remove files, or everything under folders\n"
	 "  ls             list indexed documents (--json: one object per line:\n"
	 "                 path, kind, chars, passages, title)\n"
	 "  stats          documents, passages, text and index size\n"
	 "  check          verify the database and the full-text index\n"
	 "  rebuild        rebuild the full-text index; a damaged database is moved\n"
	 "                 aside, what can be read is recovered and the files re-indexed\n"
	 "\n"
	 "options:\n"
	 "  --home DIR     use DIR instead of $QUARRY_HOME\n"
	 "  -v, --verbose  report every file added, updated, skipped or removed\n"
	 "  --follow-symlinks  also read symlinked files that point outside the folder\n"
	 "\n"
	 "examples:\n"
	 "  quarry index add ~/papers ~/notes/meeting.md\n"
	 "  quarry index stats\n"},
	{"search", cmd_search, "search the local corpus",
	 "usage: quarry search [options] QUERY...\n"
	 "\n"
	 "The best passages of the local corpus for QUERY: plain words (passages\n"
	 "with all of them first, then with any; ranked by BM25, titles and headings\n"
	 "weigh more), \"quoted phrases\" (must match), -word (must not match).\n"
	 "English words match their other forms (run, running); Chinese and\n"
	 "Japanese need no spaces.\n"
	 "\n"
	 "options:\n"
	 "  -k N           number of passages (default 10)\n"
	 "  --json         one JSON object per passage: rank, path, title, heading,\n"
	 "                 score, snippet, passage_id, start, end (byte offsets in\n"
	 "                 the extracted text), char_start, char_end (the same in\n"
	 "                 characters)\n"
	 "  --home DIR     use DIR instead of $QUARRY_HOME\n"
	 "\n"
	 "examples:\n"
	 "  quarry search selective availability\n"
	 "  quarry search '\"selective availability\" -military'\n"
	 "  quarry search 选择可用性\n"},
	{"models", cmd_models, "list model providers and the active configuration",
	 "usage: quarry models [--json] [model options]\n"
	 "\n"
	 "List the provider presets (base URL, key variable, default and fast\n"
	 "models, context) and the configuration quarry would use now, with its\n"
	 "limits and prices. The API key itself is never shown.\n"
	 "\n"
	 "Configuring a model, from highest precedence:\n"
	 "  flags          --provider, --model, --fast-model, --base-url\n"
	 "  environment    QUARRY_LLM_PROVIDER, QUARRY_LLM_BASE_URL, QUARRY_LLM_API_KEY,\n"
	 "                 QUARRY_LLM_MODEL, QUARRY_FAST_MODEL, QUARRY_LLM_CONTEXT,\n"
	 "                 QUARRY_LLM_MAX_CONCURRENT, QUARRY_LLM_RPM, QUARRY_LLM_TPM,\n"
	 "                 QUARRY_LLM_TIMEOUT, QUARRY_LLM_IDLE_TIMEOUT,\n"
	 "                 QUARRY_LLM_RETRIES,\n"
	 "                 QUARRY_LLM_PRICE=IN,OUT[,CACHED] (USD per million tokens);\n"
	 "                 the provider's key variable (DEEPSEEK_API_KEY, ...);\n"
	 "                 OPENAI_BASE_URL and OPENAI_API_KEY as fallbacks\n"
	 "  config file    ~/.config/quarry/config (or $QUARRY_CONFIG, --config):\n"
	 "                 'key = value' lines: provider, base_url, model, fast_model,\n"
	 "                 api_key_env (the variable holding the key), context,\n"
	 "                 max_concurrent, rpm, tpm, timeout, idle_timeout, retries,\n"
	 "                 json_mode (schema|object|none), stream (1|0),\n"
	 "                 price.MODEL = IN,OUT[,CACHED], allow_insecure_http;\n"
	 "                 web search: searxng_url, brave_api_key_env, brave_url,\n"
	 "                 tavily_api_key_env, tavily_url, serper_api_key_env,\n"
	 "                 serper_url (the *_api_key_env keys name the variable\n"
	 "                 holding the key)\n"
	 "\n"
	 "Web search, from the environment: QUARRY_SEARXNG_URL, QUARRY_BRAVE_API_KEY,\n"
	 "QUARRY_BRAVE_URL, QUARRY_TAVILY_API_KEY, QUARRY_TAVILY_URL,\n"
	 "QUARRY_SERPER_API_KEY, QUARRY_SERPER_URL (the variable wins over the file).\n"
	 "\n"
	 "Where keys go: QUARRY_LLM_API_KEY to the configured server; a provider's\n"
	 "variable (DEEPSEEK_API_KEY, ...) only to that provider's own host;\n"
	 "OPENAI_API_KEY only to api.openai.com or OPENAI_BASE_URL. A key is not\n"
	 "sent over http:// to another machine unless --allow-insecure-http,\n"
	 "QUARRY_LLM_ALLOW_INSECURE_HTTP=1 or allow_insecure_http = true says so;\n"
	 "a local server (localhost, 127.0.0.1, ::1) over http is fine.\n"
	 "\n"
	 "options:\n"
	 "  --json                 one JSON object\n" CLI_MODEL_HELP "\n"
	 "examples:\n"
	 "  quarry models\n"
	 "  quarry models --provider qwen\n"},
	{"doctor", cmd_doctor, "check the setup and say what to fix",
	 "usage: quarry doctor [options]\n"
	 "\n"
	 "Check the configuration, reach the model with a tiny request (a few\n"
	 "tokens), open the database, look for pdftotext and the search providers,\n"
	 "and say what to fix. Exit status 0 when everything needed works, 1 if not.\n"
	 "\n"
	 "options:\n"
	 "  --no-model-call        check the model's configuration without calling it\n"
	 "  --home DIR             the quarry database's folder\n" CLI_MODEL_HELP},
	{"serve", cmd_serve, "the HTTP API and web UI (live progress, reports, corpus)",
	 "usage: quarry serve [options]\n"
	 "\n"
	 "Serve the research API (JSON, Server-Sent Events for live progress), the\n"
	 "corpus API and a web UI, on loopback by default. Runs are queued in the\n"
	 "database and carried by 'quarry worker' processes, which serve starts when\n"
	 "none is running; runs outlive the server. Every request needs the token:\n"
	 "QUARRY_SERVER_TOKEN, --token-file, or one made at first start and kept in\n"
	 "$QUARRY_HOME/server-token (mode 0600). serve prints a URL that logs a\n"
	 "browser in; scripts send 'Authorization: Bearer TOKEN'. API: docs/API.md,\n"
	 "and /v1/openapi.json on the server.\n"
	 "\n"
	 "options:\n"
	 "  -l, --listen HOST:PORT   address (default 127.0.0.1:8787; port 0 picks one)\n"
	 "  --insecure-http          allow a non-loopback address without TLS in front\n"
	 "  --allowed-host NAME      also accept this Host (a proxy's name); repeatable\n"
	 "  -j, --workers N          worker processes to start, one run each (default 2;\n"
	 "                           0: none; none when workers already run)\n"
	 "  --token-file FILE        read the token from FILE (mode 0600)\n"
	 "  --allow-private          runs queued here may read pages on private\n"
	 "                           addresses (also QUARRY_ALLOW_PRIVATE=1)\n"
	 "  --max-body SIZE          JSON request bodies (default 1M)\n"
	 "  --max-upload SIZE        uploaded documents (default 32M)\n"
	 "  --queue-max N            queued runs before new ones get 429 (default 100)\n"
	 "  --max-watchers N         event streams open at once (default 256)\n"
	 "  --rate-limit N           requests per token per minute (default 600; 0: off)\n"
	 "  --max-connections N      open connections (default 4096)\n"
	 "  --header-timeout DUR     a request must arrive within (default 10s)\n"
	 "  --idle-timeout DUR       keep-alive connections close after (default 30s)\n"
	 "  --home DIR               the quarry database's folder\n"
	 "\n"
	 "examples:\n"
	 "  quarry serve\n"
	 "  QUARRY_SERVER_TOKEN=$(openssl rand -hex 32) quarry serve --listen 127.0.0.1:9000\n"},
	{"mcp", cmd_mcp, "serve quarry's tools to AI assistants over MCP (stdio)",
	 "usage: quarry mcp [options]\n"
	 "\n"
	 "A Model Context Protocol server on standard input and output, for Claude\n"
	 "Desktop, Cursor, Cline and other MCP clients (see docs/INTEGRATIONS.md).\n"
	 "Tools: research, ask, search_corpus, fetch_url, get_run, list_runs; run\n"
	 "reports are resources (quarry://runs/ID/report). Progress of a research\n"
	 "goes out as MCP progress notifications, and a cancelled call stops its run\n"
	 "(resumable with 'quarry runs resume'). Logs go to stderr only.\n"
	 "\n"
	 "Tool arguments come from a model and are checked like any input: fetch_url\n"
	 "and research refuse private and loopback addresses unless --allow-private;\n"
	 "no tool runs programs, reads files outside the corpus or writes outside\n"
	 "the quarry database's folder.\n"
	 "\n"
	 "options:\n"
	 "  --home DIR             the quarry database's folder\n"
	 "  --no-llm               research and ask write extractive briefs\n"
	 "  --allow-private        let fetch_url and research reach private addresses\n"
	 "                         (also QUARRY_ALLOW_PRIVATE=1)\n"
	 "  --no-cache             do not reuse cached model replies\n" CLI_MODEL_HELP "\n"
	 "examples:\n"
	 "  quarry mcp\n"
	 "  quarry mcp --provider deepseek --home ~/research\n"},
	{"db", cmd_db, "migrate and inspect a shared PostgreSQL run store",
	 "usage: quarry db migrate [options]\n"
	 "       quarry db status [options]\n"
	 "\n"
	 "With QUARRY_DATABASE_URL (or database_url in the config) set to\n"
	 "postgresql://USER:PASSWORD@HOST:PORT/DATABASE, runs, the job queue, events\n"
	 "and the reply and page caches live in PostgreSQL, shared by every server\n"
	 "and worker that names it; the corpus stays in the local store.\n"
	 "'migrate' brings the schema up to date (safe while other processes start:\n"
	 "they wait for it; every process also migrates when it opens the database).\n"
	 "'status' shows the server, the schema version, runs by status, the\n"
	 "workers holding a lease and the age of the oldest queued run. The URL is\n"
	 "shown without its password. Without a URL both say the local store is in\n"
	 "use.\n"
	 "\n"
	 "options:\n"
	 "  --database-url URL     the database (else QUARRY_DATABASE_URL, else\n"
	 "                         database_url in the config file)\n"
	 "  --config FILE          the config file\n"
	 "  --json                 one JSON object\n"
	 "\n"
	 "examples:\n"
	 "  QUARRY_DATABASE_URL=postgresql://quarry:secret@db.internal/quarry quarry db migrate\n"
	 "  quarry db status --json\n"},
	{"worker", cmd_worker, "carry queued research runs (research --detach)",
	 "usage: quarry worker [-j N] [--idle-exit SECONDS] [--home DIR] [model options]\n"
	 "\n"
	 "Claim queued runs of the home and carry them, N at a time, saying on\n"
	 "stderr what it does. A worker renews each run's lease every 5 s; a run\n"
	 "whose worker died is taken over by another after its 30 s lease lapses\n"
	 "and resumed without paying twice for a model reply it already had. Any\n"
	 "number of workers may serve one home; no run is carried twice. SIGTERM or\n"
	 "Ctrl-C interrupts the runs in flight and gives them back to the queue at\n"
	 "once. The model: a run's own (research --detach --model ...), else these\n"
	 "options, QUARRY_LLM_* or the config file; keys are never stored with runs.\n"
	 "\n"
	 "options:\n"
	 "  -j, --jobs N           runs at once (default 1, at most 64)\n"
	 "  --idle-exit SECONDS    exit once the queue has been empty this long\n"
	 "  --lease SECONDS        how long its runs stay held without a heartbeat,\n"
	 "                         so how soon another worker takes over the runs\n"
	 "                         of a worker that died (default 30, 3 to 3600)\n"
	 "  --home DIR             the quarry database's folder\n" CLI_MODEL_HELP "\n"
	 "examples:\n"
	 "  quarry worker -j 4\n"
	 "  quarry research --detach 'Why did the US end GPS Selective Availability?'\n"},
	{"help", cmd_help, "show help for a command", "usage: quarry help [COMMAND [ACTION]]\n"},
	{"version", cmd_version, "print the version", "usage: quarry version\n"},
	{NULL, NULL, NULL, NULL}};

const struct command *cli_find_command(const char *name)
{
	const struct command *c;

	for (c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static void print_overview(FILE *f)
{
	const struct command *c;

	fprintf(f,
		"quarry %s - a deep-research agent in one binary\n\n"
		"usage: quarry COMMAND [options] [arguments]\n\ncommands:\n",
		QUARRY_VERSION);
	for (c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\noptions for every command:\n"
		   "  --color=WHEN   auto (default: on a terminal, unless NO_COLOR is set),\n"
		   "                 always or never\n"
		   "  -h, --help     this overview, or a command's help after its name\n"
		   "  -V, --version  print the version\n"
		   "\nRun 'quarry help COMMAND' for a command's options and examples.\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		print_overview(stdout);
		return 0;
	}
	if (argc > 3) /* "help runs ls" is "runs ls --help": the command's help */
		return cli_usage_error("help", "one command at a time, not '%s'", argv[3]);
	c = cli_find_command(argv[1]);
	if (!c) {
		const char *near = nearest_command(argv[1]);
		cli_error("quarry help: unknown command '%s'%s%s%s (see 'quarry --help')\n", argv[1],
			  near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
		return EXIT_USAGE;
	}
	if (argc == 3 && strcmp(c->name, "index") && strcmp(c->name, "runs"))
		return cli_usage_error("help", "'%s' has no actions, so not '%s'", c->name, argv[2]);
	fputs(c->help, stdout);
	return 0;
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1)
		return cli_usage_error("version", "unexpected argument '%s'", argv[1]);
	printf("quarry %s\n", QUARRY_VERSION);
	return 0;
}

/* The command nearest to name, if close enough for "did you mean". */
static const char *nearest_command(const char *name)
{
	const struct command *c, *best = NULL;
	int best_d = 1000, d;

	for (c = cli_commands; c->name; c++) {
		d = cli_edit_distance(name, strlen(name), c->name);
		if (d < best_d) {
			best_d = d;
			best = c;
		}
	}
	return best && cli_close_enough(best_d, strlen(name)) ? best->name : NULL;
}

/*
 * Take --color=auto|always|never (or --color WHEN) out of argv, wherever it
 * stands before "--", so every command honours it. 0, or EXIT_USAGE after
 * printing the error.
 */
static int take_color_option(int *argc, char **argv)
{
	int i, j, taken;
	const char *v;

	for (i = 1; i < *argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--color") || !strcmp(argv[i], "--colour")) {
			v = i + 1 < *argc ? argv[i + 1] : "";
			taken = 2;
		} else if (!strncmp(argv[i], "--color=", 8) || !strncmp(argv[i], "--colour=", 9)) {
			v = strchr(argv[i], '=') + 1;
			taken = 1;
		} else {
			continue;
		}
		if (!strcmp(v, "auto"))
			cli_color = CLI_COLOR_AUTO;
		else if (!strcmp(v, "always"))
			cli_color = CLI_COLOR_ALWAYS;
		else if (!strcmp(v, "never"))
			cli_color = CLI_COLOR_NEVER;
		else {
			cli_error("quarry: --color takes auto, always or never, not '%s'\n", v);
			return EXIT_USAGE;
		}
		for (j = i; j + taken <= *argc; j++)
			argv[j] = argv[j + taken];
		*argc -= taken;
		i--;
	}
	return 0;
}

/* "--help" or "-h" among the arguments (before "--"): "quarry index add
 * --help" and "quarry runs ls -h" show the command's help. */
static int wants_help(int argc, char **argv)
{
	int i;

	for (i = 2; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const struct command *c;
	const char *near;

	/* A closed connection or a closed pipe on stdout is an error to
	 * report, not a signal that kills the run with nothing saved. */
	signal(SIGPIPE, SIG_IGN);
	/* Once, before any thread: libcurl's global set-up is not thread-safe,
	 * and curl_easy_init would otherwise run it on whichever thread came
	 * first. */
	if (http_global_init()) {
		cli_error("quarry: could not initialise libcurl (out of memory?)\n");
		return 1;
	}
	if (take_color_option(&argc, argv))
		return EXIT_USAGE;
	if (argc < 2) {
		print_overview(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(1, argv);
	c = cli_find_command(argv[1]);
	if (!c) {
		const char *what = argv[1][0] == '-' ? "option" : "command";
		near = argv[1][0] == '-' ? NULL : nearest_command(argv[1]);
		if (near)
			cli_error("quarry: unknown %s '%s'; did you mean '%s'? (see 'quarry --help')\n", what,
				  argv[1], near);
		else
			cli_error("quarry: unknown %s '%s' (see 'quarry --help')\n", what, argv[1]);
		return EXIT_USAGE;
	}
	/* "quarry CMD [SUB...] --help" is the same as "quarry help CMD". */
	if (wants_help(argc, argv)) {
		fputs(c->help, stdout);
		return 0;
	}
	/* Once, before any thread: where every run store of the process is. */
	if (cli_setup_database())
		return 1;
	return c->run(argc - 1, argv + 1);
}
