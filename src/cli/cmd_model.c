/* cmd_model.c — placeholder while the module is built; replaced by its owner. */
#include "cli/cli.h"
int cmd_model(int argc, char **argv) { return cli_fail("'model' is not built yet"); }
