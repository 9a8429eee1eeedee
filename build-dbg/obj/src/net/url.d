build-dbg/obj/src/net/url.o: src/net/url.c src/core/banned.h \
 src/net/url.h src/net/../core/err.h
src/core/banned.h:
src/net/url.h:
src/net/../core/err.h:
