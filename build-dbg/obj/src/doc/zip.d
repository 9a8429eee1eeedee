build-dbg/obj/src/doc/zip.o: src/doc/zip.c src/core/banned.h \
 src/doc/zip.h src/doc/../core/err.h src/doc/../core/qbuf.h
src/core/banned.h:
src/doc/zip.h:
src/doc/../core/err.h:
src/doc/../core/qbuf.h:
