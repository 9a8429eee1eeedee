build-dbg/obj/src/net/robots.o: src/net/robots.c src/core/banned.h \
 src/net/robots.h src/net/../core/alloc.h src/net/../core/err.h
src/core/banned.h:
src/net/robots.h:
src/net/../core/alloc.h:
src/net/../core/err.h:
