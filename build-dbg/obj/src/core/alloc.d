build-dbg/obj/src/core/alloc.o: src/core/alloc.c src/core/banned.h \
 src/core/alloc.h
src/core/banned.h:
src/core/alloc.h:
