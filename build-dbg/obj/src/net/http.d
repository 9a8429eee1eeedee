build-dbg/obj/src/net/http.o: src/net/http.c src/core/banned.h \
 src/net/http.h src/net/../core/err.h src/net/../core/qbuf.h \
 src/net/../core/alloc.h src/net/../core/version.h src/net/addrpolicy.h \
 src/net/robots.h src/net/url.h
src/core/banned.h:
src/net/http.h:
src/net/../core/err.h:
src/net/../core/qbuf.h:
src/net/../core/alloc.h:
src/net/../core/version.h:
src/net/addrpolicy.h:
src/net/robots.h:
src/net/url.h:
