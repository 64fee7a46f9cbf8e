/* run.h - the SDK tests' way of running a program (the CLI, an example) as
 * a user would, with extra environment, and reading what it printed. */
#ifndef SDK_RUN_H
#define SDK_RUN_H

#include <stddef.h>

/* Runs "ENV... PROGRAM ARGS" through sh with stdin_text on its standard
 * input; returns its exit status (-1 if it did not exit) and its standard
 * output (malloc'd) in *out when out. Standard error goes to the test's. */
int sdk_run(const char *stdin_text, char **out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
