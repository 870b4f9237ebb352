/* cmd_eval.c — placeholder while the module is built; replaced by its owner. */
#include "cli/cli.h"
int cmd_eval(int argc, char **argv) { return cli_fail("'eval' is not built yet"); }
