build-dbg/obj/src/doc/pdf.o: src/doc/pdf.c src/core/banned.h \
 src/doc/pdf.h src/doc/doc.h src/doc/../core/err.h \
 src/doc/../core/alloc.h src/doc/../core/qbuf.h src/doc/../core/utf8.h \
 src/doc/../core/qbuf.h
src/core/banned.h:
src/doc/pdf.h:
src/doc/doc.h:
src/doc/../core/err.h:
src/doc/../core/alloc.h:
src/doc/../core/qbuf.h:
src/doc/../core/utf8.h:
src/doc/../core/qbuf.h:
