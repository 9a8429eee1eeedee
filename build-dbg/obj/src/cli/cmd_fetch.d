build-dbg/obj/src/cli/cmd_fetch.o: src/cli/cmd_fetch.c src/core/banned.h \
 src/cli/../core/alloc.h src/cli/../net/http.h \
 src/cli/../net/../core/err.h src/cli/../net/../core/qbuf.h src/cli/cli.h \
 src/cli/../core/version.h src/cli/../doc/doc.h \
 src/cli/../doc/../core/err.h
src/core/banned.h:
src/cli/../core/alloc.h:
src/cli/../net/http.h:
src/cli/../net/../core/err.h:
src/cli/../net/../core/qbuf.h:
src/cli/cli.h:
src/cli/../core/version.h:
src/cli/../doc/doc.h:
src/cli/../doc/../core/err.h:
