/*
** cmd_tune.c — `blend tune`: grid search of hybrid fusion settings on
** labelled queries (placeholder while the tuner lands: reports that it is
** not built yet).
*/
#include "cli/cli.h"

int cmd_tune(int argc, char **argv) {
  (void)argc;
  (void)argv;
  return cli_fail("tune: not built yet");
}
