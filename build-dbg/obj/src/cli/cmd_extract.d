build-dbg/obj/src/cli/cmd_extract.o: src/cli/cmd_extract.c \
 src/core/banned.h src/cli/../core/alloc.h src/cli/../core/qbuf.h \
 src/cli/cli.h src/cli/../core/version.h src/cli/../doc/doc.h \
 src/cli/../doc/../core/err.h
src/core/banned.h:
src/cli/../core/alloc.h:
src/cli/../core/qbuf.h:
src/cli/cli.h:
src/cli/../core/version.h:
src/cli/../doc/doc.h:
src/cli/../doc/../core/err.h:
