/*
 * cli.h - the `stratus` command line: what main.c (options, config, the
 * command table, exit codes), output.c (tables and JSON) and commands.c
 * (one function per command) share. Built on libstratus alone.
 */
#ifndef STRATUS_CLI_H
#define STRATUS_CLI_H

#include "stratus.h"

#include <stdio.h>

/* Exit codes (documented in `stratus --help` and sdk-c/README.md). */
enum {
    EX_OK_ = 0,
    EX_ERR = 1,      /* any other failure */
    EX_USAGE_ = 2,   /* bad command line */
    EX_AUTH = 3,     /* not signed in, or the token expired */
    EX_PERM = 4,     /* the role does not allow it */
    EX_NOTFOUND = 5, /* no such object */
    EX_CONFLICT = 6, /* the object's state, a quota or capacity refused it */
    EX_UNREACH = 7,  /* the gateway could not be reached or is unavailable */
    EX_TIMEOUT = 8,  /* a wait ran out of time */
    EX_FAILED = 9,   /* a waited-for instance went to error */
};

typedef struct cli {
    stratus_session *s;
    int json; /* --output json */
    int argc; /* the command's own arguments */
    char **argv;
    char config_dir[1024];
    char url[512];
    int progress; /* a progress bar on stderr */
} cli;

/* Prints the thread's last libstratus error to stderr; returns its exit code. */
int cli_fail(const char *what, int rc);
int cli_usage(const char *usage);
/* The value of option --name in the command's arguments (removed from them), or NULL. */
const char *cli_opt(cli *c, const char *name);
int cli_flag(cli *c, const char *name);
/* The next positional argument, or NULL. */
const char *cli_arg(cli *c);
/* Signs the session in from the stored token; 0 or an exit code. */
int cli_connect(cli *c);
int cli_login(cli *c);
int cli_logout(cli *c);

/* output.c: a table of rows of cells, or a JSON array of the objects. */
typedef struct table {
    int ncol;
    const char *const *head;
    char **cells; /* rows * ncol, owned */
    int rows, cap;
    char **json; /* one object per row, owned */
} table;
void table_init(table *t, int ncol, const char *const *head);
/* Adds a row: ncol strings (copied; NULL shows as "-") and the object's JSON. */
void table_add(table *t, const char *json, ...);
void table_print(table *t, int as_json);
void table_free(table *t);
/* Prints one object: "key  value" lines from NULL-terminated key, value
 * pairs (a NULL value shows as "-"), or its JSON as the server sent it. */
void print_kv(int as_json, const char *json, ...);
int progress_bar(void *arg, uint64_t done, uint64_t total);

int cli_dispatch(cli *c, const char *noun);
void cli_help_all(FILE *f);

#endif
