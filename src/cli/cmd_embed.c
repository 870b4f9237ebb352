/* cmd_embed.c — placeholder while the module is built; replaced by its owner. */
#include "cli/cli.h"
int cmd_embed(int argc, char **argv) { return cli_fail("'embed' is not built yet"); }
