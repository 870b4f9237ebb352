/* cmd_rerank.c — placeholder while the module is built; replaced by its owner. */
#include "cli/cli.h"
int cmd_rerank(int argc, char **argv) { return cli_fail("'rerank' is not built yet"); }
