# quarry - build, test, fuzz and benchmark.
#
#   make                 build build/quarry (installs missing packages first)
#   make test            unit + black-box tests; ends with "N passed, N failed"
#   make test SANITIZE=1 the same under AddressSanitizer + UBSan (build-san/)
#   make test DB=postgres  the same with a private PostgreSQL cluster (tests/pg/cluster.sh):
#                        the run-store and queue tests run on both backends; without
#                        DB, make test does so when /usr/lib/postgresql/*/bin/initdb
#                        exists and says it skipped them otherwise; DB=sqlite skips
#   make test-pg         only the PostgreSQL unit tests (test_pg, test_runstore), on a
#                        private cluster
#   make test TSAN=1     the same under ThreadSanitizer (build-tsan/)
#   make RELEASE=1       the build to ship (build-release/): -O2 with NDEBUG, so the
#                        assert()s on internal invariants are compiled out; the default
#                        build and the sanitizer builds keep them
#   make hdr-check       every header under src/ compiles on its own (make test runs it)
#   make env-check       no getenv/environ in src/ outside src/cli (hdr-check runs it)
#   make sql-check       no SQLite call outside the store modules (make test runs it)
#   make caps-check      no qbuf_init with a bare-number cap (make test runs it)
#   make lint            clang-format (check mode, .clang-format) and cppcheck, zero findings
#   make deps-check      each folder of src/ includes only the folders it may depend on
#                        (make test runs it)
#   make fuzz            libFuzzer targets, FUZZ_SECONDS each (default 60); seeds in
#                        fuzz/seeds/TARGET (fuzz_html also starts from sample/pages)
#   make bench           extraction benchmark on ../shared/data/wcxb-dev
#   make demo            research the sample question on the bundled sample corpus
#   make deps            install the Debian packages we need
#   make install         binary, man page quarry(1), bash/zsh/fish completions into
#                        $(DESTDIR)$(PREFIX) (PREFIX default /usr/local)
#   make install-check   install into a scratch DESTDIR and check the files and the man page

CC ?= cc
# Quiet by default; `make V=1` prints every command.
ifeq ($(V),1)
Q :=
else
Q := @
endif
PKGS := libcurl libxml-2.0 jansson zlib sqlite3 libpq
TEST_PKGS := cmocka

ifneq ($(RELEASE),)
ifneq ($(SANITIZE)$(TSAN),)
$(error RELEASE=1 cannot be combined with SANITIZE=1 or TSAN=1: the sanitizer builds keep the assert()s)
endif
endif
ifeq ($(SANITIZE)$(TSAN),11)
$(error SANITIZE=1 and TSAN=1 cannot be combined: ThreadSanitizer and AddressSanitizer exclude each other)
endif
ifeq ($(TSAN),1)
BUILD ?= build-tsan
SAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
OPT := -O1 -g
else ifeq ($(SANITIZE),1)
BUILD ?= build-san
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else ifeq ($(RELEASE),1)
# The build to ship: the same optimisation, without the assert()s that
# check internal invariants in the developer and sanitizer builds.
BUILD ?= build-release
SAN_FLAGS :=
OPT := -O2 -g -DNDEBUG
else
BUILD ?= build
SAN_FLAGS :=
OPT := -O2 -g
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-unused-parameter
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CFLAGS_ALL = -std=c11 -D_GNU_SOURCE $(OPT) $(WARN) $(SAN_FLAGS) -include src/core/banned.h \
	$(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lstemmer -lm -lpthread $(LDLIBS)

LIB_SRC := $(wildcard src/core/*.c src/net/*.c src/doc/*.c src/index/*.c src/llm/*.c src/search/*.c src/research/*.c \
	src/mcp/*.c src/serve/openai.c)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
# `quarry serve` (src/serve) links libevent and the web UI's files
# (src/serve/ui, compiled in by tools/embed.c); only the binary needs them.
SERVE_PKGS := libevent libevent_pthreads
SERVE_SRC := $(filter-out src/serve/openai.c,$(wildcard src/serve/*.c))
SERVE_OBJ := $(SERVE_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/ui_assets.o
SERVE_LIBS = $(shell pkg-config --libs $(SERVE_PKGS) 2>/dev/null)
UI_FILES := $(sort $(wildcard src/serve/ui/*))
API_FILES := src/serve/api/openapi.json
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps test test-pg js-deps test-browser hdr-check env-check sql-check deps-check caps-check lint fuzz bench bench-jobs bench-pg bench-index bench-search demo clean install install-check
all: $(BUILD)/quarry

# Install packages only when pkg-config cannot find one of them.
$(DEPS_STAMP):
	@pkg-config --exists $(PKGS) $(TEST_PKGS) $(SERVE_PKGS) && command -v pdftotext >/dev/null \
		&& [ -f /usr/include/libstemmer.h ] \
		|| sh scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

deps:
	sh scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/libquarry.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/quarry: $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $(CLI_OBJ) $(SERVE_OBJ) $(BUILD)/libquarry.a $(SERVE_LIBS) $(LDLIBS_ALL)

$(BUILD)/embed: tools/embed.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -O1 -Wall -Wextra -Werror -o $@ $<

$(BUILD)/gen/ui_assets.c: $(UI_FILES) $(API_FILES) $(BUILD)/embed
	@mkdir -p $(dir $@)
	$(Q)$(BUILD)/embed $@ src/serve $(UI_FILES) $(API_FILES)

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_ALL) -I. -c $< -o $@

$(BUILD)/tests/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(BUILD)/libquarry.a
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) $(shell pkg-config --cflags cmocka) -o $@ $< $(BUILD)/libquarry.a \
		$(LDLIBS_ALL) $(shell pkg-config --libs cmocka)

$(BUILD)/fakeweb: tests/fakeweb.c tests/fakenet.c tests/fakenet.h $(DEPS_STAMP)
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ tests/fakeweb.c tests/fakenet.c -lz -lpthread

$(BUILD)/fakellm: tests/fakellm.c tests/fakenet.c tests/fakenet.h $(DEPS_STAMP)
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ tests/fakellm.c tests/fakenet.c $(PKG_LIBS) -lpthread

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
install: $(BUILD)/quarry
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(DATADIR)/bash-completion/completions \
		$(DESTDIR)$(DATADIR)/zsh/site-functions $(DESTDIR)$(DATADIR)/fish/vendor_completions.d
	install -m 755 $(BUILD)/quarry $(DESTDIR)$(BINDIR)/quarry
	install -m 644 doc/quarry.1 $(DESTDIR)$(MANDIR)/man1/quarry.1
	install -m 644 doc/completion/quarry.bash $(DESTDIR)$(DATADIR)/bash-completion/completions/quarry
	install -m 644 doc/completion/_quarry $(DESTDIR)$(DATADIR)/zsh/site-functions/_quarry
	install -m 644 doc/completion/quarry.fish $(DESTDIR)$(DATADIR)/fish/vendor_completions.d/quarry.fish

# The man page renders without a warning, and install puts every file in place.
install-check: $(BUILD)/quarry
	@t=$$(mktemp -d) && trap 'rm -rf "$$t"' EXIT && \
	$(MAKE) -s install DESTDIR=$$t/inst PREFIX=/usr >/dev/null && \
	for f in bin/quarry share/man/man1/quarry.1 share/bash-completion/completions/quarry \
		share/zsh/site-functions/_quarry share/fish/vendor_completions.d/quarry.fish; do \
		[ -f $$t/inst/usr/$$f ] || { echo "install-check: $$f missing"; exit 1; }; done && \
	$$t/inst/usr/bin/quarry --version >/dev/null && \
	w=$$(groff -man -Tutf8 -ww $$t/inst/usr/share/man/man1/quarry.1 2>&1 >/dev/null) && \
	[ -z "$$w" ] || { echo "install-check: the man page has warnings: $$w"; exit 1; } && \
	bash -n doc/completion/quarry.bash && \
	for c in research ask runs worker fetch extract index search models doctor mcp serve; do \
		grep -q "^\.BI* \"*$$c" doc/quarry.1 || { echo "install-check: quarry.1 lacks $$c"; exit 1; }; done && \
	for o in $$(for c in research ask runs worker fetch extract index search models doctor mcp serve; do \
		$(BUILD)/quarry help $$c; done | grep -o -- '--[a-z][a-z-]*' | sort -u); do \
		grep -qF -- "$$(echo $$o | sed 's/-/\\-/g')" doc/quarry.1 || \
		{ echo "install-check: quarry.1 lacks $$o"; exit 1; }; done && \
	echo "install-check: ok"

# Every header compiles alone, included twice (its guard works), without
# banned.h's -include (which would supply stdio.h, stdlib.h, string.h and
# time.h to a header that forgot them).
HDRS := $(wildcard src/*/*.h)
HDR_OBJ := $(HDRS:%.h=$(BUILD)/hdr/%.o)
$(BUILD)/hdr/%.o: %.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(Q)printf '#include "%s"\n#include "%s"\n' $< $< | \
		$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -I. $(PKG_CFLAGS) -x c -c - -o $@ \
		|| { echo "hdr-check: $< does not compile on its own"; exit 1; }
hdr-check: $(HDR_OBJ) env-check

# The core reads no environment: settings are resolved by the front end
# (src/cli) and handed to the run (docs/ARCHITECTURE.md). The exceptions:
# src/doc/pdf.c (PATH and TMPDIR of this process, to find and feed the
# pdftotext it forks) and src/doc/html_extract.c (QDEBUG, a developer dump).
ENV_EXCEPT := src/doc/pdf.c src/doc/html_extract.c
env-check:
	$(Q)bad=$$(grep -nE '\b(secure_)?getenv[[:space:]]*\(|\benviron\b' \
		$(filter-out $(ENV_EXCEPT),$(wildcard src/*/*.c src/*/*.h)) | grep -v '^src/cli/'); \
	if [ -n "$$bad" ]; then echo "env-check: the core reads the environment (resolve it in src/cli):"; \
		echo "$$bad"; exit 1; fi

# SQL lives in the store modules (src/index, src/research/runstore_sqlite.c):
# the CLI, the server, MCP, the research loop and the model client call
# their functions, so no sqlite3_ call may appear there.
SQL_FREE_DIRS := src/cli src/serve src/mcp src/research src/llm
sql-check:
	$(Q)if grep -rn --include='*.[ch]' 'sqlite3_' $(SQL_FREE_DIRS) | grep -v '^src/research/runstore_sqlite\.c:'; then \
		echo "sql-check: SQLite calls outside the store modules (above): move them behind a function of src/index/corpus.h, store.h or runstore.h"; exit 1; fi

# Every buffer cap is a named constant (our style: caps on everything that grows from input): a qbuf_init
# whose cap starts with a number (`qbuf_init(&b, 4096)`,
# `(size_t)4 * 1024`) fails; name it with a one-line reason instead.
caps-check:
	$(Q)if grep -rnE --include='*.[ch]' 'qbuf_init\([^,]*,[[:space:]]*(\([a-z_ ]+\)[[:space:]]*)?-?[0-9]' src; then \
		echo "caps-check: qbuf_init with a bare number (above): give the cap a named constant with a comment saying why that size"; exit 1; fi

# The style and static checks: clang-format in check mode against the
# checked-in .clang-format, and cppcheck with zero findings (a false
# positive is suppressed on its line with `cppcheck-suppress ID ; why`,
# never a whole check). tools/cppcheck-jansson.cfg tells cppcheck about
# jansson's foreach macros (it reads no system header). Both tools come
# from scripts/install-deps.sh.
LINT_FILES = $(sort $(wildcard src/*/*.[ch] tests/*.[ch] tests/unit/*.[ch] fuzz/*.[ch] bench/*.[ch]))
CPPCHECK_FLAGS := --enable=warning,performance,portability --std=c11 --inline-suppr --error-exitcode=1 -q \
	-D_GNU_SOURCE --suppress=missingIncludeSystem --library=tools/cppcheck-jansson.cfg
lint: $(DEPS_STAMP)
	@command -v clang-format >/dev/null && command -v cppcheck >/dev/null || \
		{ echo "lint: needs clang-format and cppcheck (sh scripts/install-deps.sh)"; exit 1; }
	$(Q)clang-format --dry-run --Werror $(LINT_FILES) || \
		{ echo "lint: clang-format would change the lines above: run clang-format -i on those files"; exit 1; }
	$(Q)cppcheck $(CPPCHECK_FLAGS) src tests/unit $(wildcard tests/*.c) fuzz bench || \
		{ echo "lint: cppcheck findings above: fix them, or suppress a false positive on its line with a reason"; exit 1; }
	@echo "lint: clang-format and cppcheck clean"

# Dependencies point one way (docs/ARCHITECTURE.md, "Dependencies"): the
# folders of src/ each may include from, written down once here. A folder
# may always include its own headers; a FOLDER/FILE.h entry allows that one
# header only; a folder's *_int.h is for its own files. A new folder needs a
# line here before it builds the tests.
DEPS_ALLOWED := \
	core: \
	doc:core \
	net:core,doc \
	index:core,doc \
	llm:core,doc,net,index,research/runstore.h \
	search:core,doc,net,index \
	research:core,doc,net,index,llm,search \
	mcp:core,doc,net,index,llm,search,research \
	serve:core,doc,net,index,llm,search,research,mcp \
	cli:core,doc,net,index,llm,search,research,mcp,serve
deps-check:
	$(Q)bad=0; for d in src/*/; do d=$${d#src/}; d=$${d%/}; case " $(DEPS_ALLOWED) " in \
		*" $$d:"*) ;; *) echo "deps-check: src/$$d has no line in DEPS_ALLOWED (Makefile)"; bad=1;; esac; done; \
	for rule in $(DEPS_ALLOWED); do d=$${rule%%:*}; allow=",$${rule#*:},"; \
		for f in src/$$d/*.[ch]; do \
			for h in $$(sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"\.\./\([^"]*\)".*|\1|p' $$f); do \
				case "$$h" in */*_int.h) echo "deps-check: $$f includes $$h, another folder's internal header"; bad=1; continue;; esac; \
				case "$$allow" in *",$${h%%/*},"*|*",$$h,"*) ;; \
				*) echo "deps-check: $$f includes $$h: src/$$d may not depend on src/$${h%%/*} (DEPS_ALLOWED in the Makefile, docs/ARCHITECTURE.md)"; bad=1;; esac; \
			done; done; done; exit $$bad

# Under TSAN=1 every process of the tests writes its race reports to
# $(BUILD)/tsan-log (so they do not mix with the stderr the black-box cases
# read), and any report at all fails the run.
ifeq ($(TSAN),1)
TEST_ENV = TSAN_OPTIONS="log_path=$(CURDIR)/$(BUILD)/tsan-log/race second_deadlock_stack=1"
TEST_SETUP = rm -rf $(BUILD)/tsan-log && mkdir -p $(BUILD)/tsan-log &&
TEST_AFTER = ; rc=$$?; if ls $(BUILD)/tsan-log/race* >/dev/null 2>&1; then \
	echo "ThreadSanitizer reports (all in $(BUILD)/tsan-log):"; head -n 40 $(BUILD)/tsan-log/race*; \
	rc=1; fi; exit $$rc
endif
# The PostgreSQL part: one private cluster for the whole run, its URL in
# QUARRY_TEST_DATABASE_URL (tests/unit/test_runstore.c and the pg-* cases
# read it). DB=postgres insists on it, DB=sqlite leaves it out.
ifeq ($(DB),postgres)
TEST_WRAP := sh tests/pg/cluster.sh with
else ifeq ($(DB),sqlite)
TEST_WRAP :=
else ifeq ($(DB),)
TEST_WRAP := sh tests/pg/cluster.sh auto
else
$(error DB=$(DB): use DB=postgres or DB=sqlite)
endif
# CASE=NAME (a shell pattern) runs only those black-box cases
# (tests/cases/NAME.case; tests/README.md), without the unit tests.
ifeq ($(CASE),)
test: hdr-check sql-check deps-check caps-check $(BUILD)/fakellm $(BUILD)/quarry $(UNIT_BIN) $(BUILD)/fakeweb js-deps test-browser
else
test: $(BUILD)/fakellm $(BUILD)/quarry $(BUILD)/fakeweb js-deps
endif
	@$(TEST_SETUP) BUILD=$(BUILD) CASE='$(CASE)' $(TEST_ENV) $(TEST_WRAP) sh tests/run.sh $(TEST_AFTER)

PG_UNIT = $(filter %/test_pg %/test_runstore,$(UNIT_BIN))
test-pg: $(PG_UNIT)
	@sh tests/pg/cluster.sh with sh -c 'for t in $(PG_UNIT); do BUILD=$(BUILD) $$t || exit 1; done'

# The pinned npm clients the protocol tests drive quarry with
# (tests/js/*.test.mjs, run from the mcp-* cases): installed once, from the
# lock file.
js-deps:
	@[ -d tests/js/node_modules ] || npm ci --prefix tests/js --no-audit --no-fund >/dev/null

# The web UI in Debian's chromium driven by playwright-core (never a
# downloaded browser), against `quarry serve` with the fake model and site.
# Screenshots in $(BUILD)/artifacts. Skipped, saying so, without node or chromium.
test-browser: $(BUILD)/quarry $(BUILD)/fakeweb $(BUILD)/fakellm js-deps
	@if ! command -v node >/dev/null || [ ! -x /usr/bin/chromium ]; then \
		echo "test-browser: skipped (needs node and /usr/bin/chromium)"; exit 0; fi; \
	BUILD=$(BUILD) node tests/js/ui.test.mjs

FUZZ_SECONDS ?= 60
FUZZ_TARGETS := $(patsubst fuzz/%.c,%,$(wildcard fuzz/fuzz_*.c))
fuzz: $(DEPS_STAMP)
	@mkdir -p build-fuzz
	@for t in $(FUZZ_TARGETS); do \
		clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
			-include src/core/banned.h $(PKG_CFLAGS) -o build-fuzz/$$t fuzz/$$t.c $(LIB_SRC) \
			$(PKG_LIBS) -lstemmer -lm -lpthread || exit 1; \
	done
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus-$$t; \
		echo "== $$t ($(FUZZ_SECONDS)s)"; \
		extra=; [ $$t = fuzz_html ] && extra=sample/pages; \
		build-fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 -rss_limit_mb=2048 \
			-artifact_prefix=build-fuzz/ build-fuzz/corpus-$$t fuzz/seeds/$$t $$extra \
			>build-fuzz/$$t.log 2>&1 || { tail -40 build-fuzz/$$t.log; exit 1; }; \
		tail -1 build-fuzz/$$t.log; \
	done

$(BUILD)/extract_bench: bench/extract_bench.c bench/bench_util.c bench/bench_util.h $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< bench/bench_util.c $(BUILD)/libquarry.a $(LDLIBS_ALL)

$(BUILD)/article_bench: bench/article_bench.c bench/bench_util.c bench/bench_util.h $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< bench/bench_util.c $(BUILD)/libquarry.a $(LDLIBS_ALL)

$(BUILD)/index_bench: bench/index_bench.c $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libquarry.a $(LDLIBS_ALL) -lm

$(BUILD)/pg_bench: bench/pg_bench.c $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libquarry.a $(LDLIBS_ALL)

# The run store's claim and event figures, SQLite against a private
# PostgreSQL cluster (docs/BENCHMARKS.md); sh bench/pg_bench.sh adds 40
# runs carried by workers.
bench-pg: $(BUILD)/pg_bench
	@rm -rf $(BENCH_DIR)/pg && mkdir -p $(BENCH_DIR)/pg && \
	PG_FSYNC=on sh tests/pg/cluster.sh with sh -c '$(BUILD)/pg_bench $(BENCH_DIR)/pg "$$QUARRY_TEST_DATABASE_URL"'

# Corpus benchmark: PASSAGES for the search part (1,000,000 by default;
# needs about 3 GB of disk in BENCH_DIR).
BENCH_DIR ?= /tmp/quarry-bench
PASSAGES ?= 1000000
# The real-text part reads $(WCXB) and is skipped, saying so, without it.
# Runs as jobs: detach and cancel latency, runs per minute and peak RSS of
# one worker carrying N runs at once (docs/BENCHMARKS.md).
bench-jobs: $(BUILD)/quarry $(BUILD)/fakeweb $(BUILD)/fakellm
	BUILD=$(BUILD) sh bench/jobs_bench.sh

bench-index: $(BUILD)/index_bench
	WCXB=$(WCXB) $(BUILD)/index_bench $(BENCH_DIR) $(PASSAGES)

$(BUILD)/search_quality: bench/search_quality.c $(BUILD)/libquarry.a
	@[ "$(V)" = 1 ] || echo "  LINK    $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $< $(BUILD)/libquarry.a $(LDLIBS_ALL) -lm

# Search quality on judged queries (needs ../shared/data/wcxb-dev).
bench-search: $(BUILD)/search_quality
	@$(WCXB_HAVE) || { $(WCXB_SAY); echo "  Only the Chinese set runs."; }
	rm -rf $(BENCH_DIR)/quality && $(BUILD)/search_quality $(BENCH_DIR)/quality $(WCXB) bench/data/zh-queries.tsv

# The benchmark data: the WCXB development set (1,497 real pages with
# hand-checked main text, CC-BY-4.0), kept beside the clone. Without it
# `make bench` says where it comes from and stops (exit 0).
WCXB ?= ../shared/data/wcxb-dev
# The article set: trafilatura's evaluation pages (990, Apache-2.0).
ARTICLES ?= ../shared/data/trafilatura-eval
WCXB_HAVE = [ -d "$(WCXB)/html" ] && [ -d "$(WCXB)/ground-truth" ]
WCXB_SAY = echo "no benchmark data in $(WCXB) (html/ and ground-truth/)."; \
	echo "  The data is the WCXB development set (1,497 pages with hand-checked main text,"; \
	echo "  CC-BY-4.0), kept beside the clone as ../shared/data/wcxb-dev; run with"; \
	echo "  WCXB=DIR to point at a copy elsewhere (see docs/BENCHMARKS.md)."
bench: $(BUILD)/extract_bench $(BUILD)/article_bench
	@if $(WCXB_HAVE); then echo "$(BUILD)/extract_bench $(WCXB)"; $(BUILD)/extract_bench $(WCXB); \
	else echo "skipped: the extraction benchmark needs its data."; $(WCXB_SAY); fi
	@if [ -f "$(ARTICLES)/evaldata.json" ]; then echo "$(BUILD)/article_bench $(ARTICLES)"; \
		$(BUILD)/article_bench $(ARTICLES); \
	else echo "skipped: the article benchmark needs ../shared/data/trafilatura-eval"; \
		echo "  (trafilatura's evaluation pages; ARTICLES=DIR for a copy elsewhere)."; fi

# The bundled sample: index the sample corpus, then research the sample
# question on it, offline. Without a model configured this is the
# extractive brief; with one (QUARRY_LLM_BASE_URL or --provider settings in
# the environment) it is a full run over the corpus.
DEMO_HOME := $(BUILD)/demo-home
DEMO_Q := Why did the US switch off GPS Selective Availability, and what does that teach about opening up AI models?
demo: $(BUILD)/quarry
	@rm -rf $(DEMO_HOME)
	@echo "=== quarry index add sample/corpus   (into $(DEMO_HOME))"
	@$(BUILD)/quarry index add --home $(DEMO_HOME) sample/corpus
	@echo; echo "=== quarry research --sources corpus \"$(DEMO_Q)\""; echo
	@$(BUILD)/quarry research --home $(DEMO_HOME) --sources corpus "$(DEMO_Q)"

clean:
	rm -rf build build-san build-tsan build-fuzz build-release

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(SERVE_OBJ:.o=.d)
