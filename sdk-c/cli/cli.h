/*
 * cli.h - the `stratus` command line: what main.c (options, config, exit
 * codes), output.c (tables, JSON in and out) and the command files share:
 * commands.c (instances, images, catalogue, billing, administration, and
 * the dispatch over every table) and net.c (networking). Built on
 * libstratus alone.
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
/* The first of several options (NULL-terminated names) in the order given,
 * for repeatable ones whose order matters; *which says which it was. */
const char *cli_opt_any(cli *c, const char *const *names, const char **which);
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
/* Ends a list: rc < 0 (the iterator's failure, say on page 3) frees the
 * table and fails with the exit code; else prints it. */
int table_done(cli *c, table *t, int rc, const char *what);
/* Prints one object: "key  value" lines from NULL-terminated key, value
 * pairs (a NULL value shows as "-"), or its JSON as the server sent it. */
void print_kv(int as_json, const char *json, ...);
int progress_bar(void *arg, uint64_t done, uint64_t total);

/* A number as text for a table cell (a small ring of static buffers). */
const char *cli_num(long long v);

/* A JSON object built from options, for the API's create and update bodies
 * (the CLI links libstratus alone, so no JSON library): strings escaped;
 * jb_raw takes JSON text as it is. A NULL value adds nothing. */
typedef struct jbuf {
    char *s;
    size_t len, cap;
    int n;        /* members so far */
    char bad[48]; /* the first jb_int key whose value was not an integer */
} jbuf;
void jb_str(jbuf *b, const char *key, const char *val);
void jb_raw(jbuf *b, const char *key, const char *json);
void jb_int(jbuf *b, const char *key, const char *num); /* checked to be an integer */
/* The object as text ("{}" when empty), owned by b; NULL if a jb_int value
 * was not an integer (*bad, if bad is not NULL, names the key). */
const char *jb_end(jbuf *b, const char **bad);
void jb_free(jbuf *b);
/* A JSON string literal of s (malloc'd): "a\"b". */
char *json_quote(const char *s);
/* A JSON document from an argument: "@FILE" reads the file, else the text
 * itself (malloc'd); NULL with a message when the file cannot be read. */
char *cli_json_arg(const char *arg);

/* Each command file holds a table of these; main.c's dispatch reads them all. */
typedef struct command {
    const char *noun;
    const char *verb; /* NULL: the noun alone; "member add": a group's verb */
    int (*fn)(cli *);
    const char *summary;
} command;
extern const command net_commands[];
extern const size_t net_ncommands;

int cli_dispatch(cli *c, const char *noun);
void cli_help_all(FILE *f);

/* In every command: sign in, or return the exit code. */
#define CONNECT()                                                                                  \
    do {                                                                                           \
        int rc_ = cli_connect(c);                                                                  \
        if (rc_)                                                                                   \
            return rc_;                                                                            \
    } while (0)
/* A libstratus call; on failure, the message and the exit code. */
#define TRY(what, call)                                                                            \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ < 0)                                                                               \
            return cli_fail(what, rc_);                                                            \
    } while (0)

#endif
