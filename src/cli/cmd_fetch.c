/* placeholder until the net layer lands */
#include "cli.h"
int cmd_fetch(int argc, char **argv) { (void)argc; (void)argv; return 1; }
