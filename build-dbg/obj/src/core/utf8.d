build-dbg/obj/src/core/utf8.o: src/core/utf8.c src/core/banned.h \
 src/core/utf8.h src/core/qbuf.h
src/core/banned.h:
src/core/utf8.h:
src/core/qbuf.h:
