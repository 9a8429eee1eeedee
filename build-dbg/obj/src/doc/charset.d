build-dbg/obj/src/doc/charset.o: src/doc/charset.c src/core/banned.h \
 src/doc/charset.h src/doc/../core/err.h src/doc/../core/qbuf.h \
 src/doc/../core/utf8.h src/doc/../core/qbuf.h
src/core/banned.h:
src/doc/charset.h:
src/doc/../core/err.h:
src/doc/../core/qbuf.h:
src/doc/../core/utf8.h:
src/doc/../core/qbuf.h:
