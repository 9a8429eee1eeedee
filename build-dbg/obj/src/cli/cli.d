build-dbg/obj/src/cli/cli.o: src/cli/cli.c src/core/banned.h \
 src/cli/cli.h src/cli/../core/version.h src/cli/../doc/doc.h \
 src/cli/../doc/../core/err.h
src/core/banned.h:
src/cli/cli.h:
src/cli/../core/version.h:
src/cli/../doc/doc.h:
src/cli/../doc/../core/err.h:
