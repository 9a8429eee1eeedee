build-dbg/obj/src/net/addrpolicy.o: src/net/addrpolicy.c \
 src/core/banned.h src/net/addrpolicy.h
src/core/banned.h:
src/net/addrpolicy.h:
