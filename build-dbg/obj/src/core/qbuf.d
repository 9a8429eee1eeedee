build-dbg/obj/src/core/qbuf.o: src/core/qbuf.c src/core/banned.h \
 src/core/qbuf.h src/core/alloc.h src/core/err.h
src/core/banned.h:
src/core/qbuf.h:
src/core/alloc.h:
src/core/err.h:
