/*
 * main.c - `stratus`, the command-line client: global options, the
 * configuration directory (~/.config/stratus/: `config` with the gateway's
 * URL, `token` with the session token, both mode 0600), sign-in and
 * sign-out, and the map from libstratus errors to exit codes.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_top[] =
    "usage: stratus [--url URL] [--output table|json] [--config-dir DIR] COMMAND ...\n"
    "\n"
    "The Stratus cloud from the command line (built on libstratus).\n"
    "\n"
    "  login                        sign in and keep the token in the config directory\n"
    "  logout                       revoke the token and forget it\n";

static const char usage_tail[] =
    "\n"
    "Every command takes --help. --output json prints objects exactly as the\n"
    "API returns them (a list as a JSON array).\n"
    "\n"
    "Configuration: --config-dir, else $STRATUS_CONFIG_DIR, else\n"
    "$XDG_CONFIG_HOME/stratus, else ~/.config/stratus. $STRATUS_URL overrides\n"
    "the saved URL; $STRATUS_TOKEN (an API key stk_... or a session token)\n"
    "overrides the saved token; $STRATUS_PASSWORD is read by login.\n"
    "\n"
    "Exit codes: 0 success, 1 other failure, 2 bad command line, 3 not signed\n"
    "in (or the token expired), 4 not allowed, 5 not found, 6 refused by the\n"
    "object's state, a quota or capacity, 7 gateway unreachable or unavailable,\n"
    "8 a wait timed out, 9 a waited-for instance failed.\n";

void cli_help_all(FILE *f);

static int exit_code(int rc)
{
    switch (rc) {
    case STRATUS_EAUTH: return EX_AUTH;
    case STRATUS_EPERM: return EX_PERM;
    case STRATUS_ENOTFOUND: return EX_NOTFOUND;
    case STRATUS_ECONFLICT:
    case STRATUS_EREJECTED: return EX_CONFLICT;
    case STRATUS_ETRANSPORT:
    case STRATUS_ETLS:
    case STRATUS_EUNAVAIL: return EX_UNREACH;
    case STRATUS_ETIMEDOUT: return EX_TIMEOUT;
    case STRATUS_EFAILED: return EX_FAILED;
    case STRATUS_EINVAL:
    case STRATUS_EBADREQ: return EX_USAGE_;
    default: return EX_ERR;
    }
}

int cli_fail(const char *what, int rc)
{
    const stratus_error *e = stratus_last_error();
    fprintf(stderr, "stratus: %s: %s", what, e->message[0] ? e->message : stratus_strerror(rc));
    if (e->server_code[0])
        fprintf(stderr, " (%s)", e->server_code);
    if (e->request_id[0])
        fprintf(stderr, " [request %s]", e->request_id);
    fputc('\n', stderr);
    if (rc == STRATUS_EAUTH)
        fprintf(stderr, "stratus: sign in again with `stratus login`\n");
    return exit_code(rc);
}

int cli_usage(const char *usage)
{
    fprintf(stderr, "%s", usage);
    return EX_USAGE_;
}

/* ---- argument helpers: options are taken out of argv as they are read ---- */

static void drop(cli *c, int i, int n)
{
    memmove(&c->argv[i], &c->argv[i + n], sizeof(char *) * (size_t)(c->argc - i - n + 1));
    c->argc -= n;
}

const char *cli_opt(cli *c, const char *name)
{
    size_t l = strlen(name);
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--") == 0)
            return NULL;
        if (strncmp(c->argv[i], name, l) == 0 && c->argv[i][l] == '=') {
            const char *v = c->argv[i] + l + 1;
            drop(c, i, 1);
            return v;
        }
        if (strcmp(c->argv[i], name) == 0 && i + 1 < c->argc) {
            const char *v = c->argv[i + 1];
            drop(c, i, 2);
            return v;
        }
    }
    return NULL;
}

const char *cli_opt_any(cli *c, const char *const *names, const char **which)
{
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--") == 0)
            return NULL;
        for (const char *const *n = names; *n; n++) {
            size_t l = strlen(*n);
            if (strncmp(c->argv[i], *n, l) == 0 && c->argv[i][l] == '=') {
                const char *v = c->argv[i] + l + 1;
                *which = *n;
                drop(c, i, 1);
                return v;
            }
            if (strcmp(c->argv[i], *n) == 0 && i + 1 < c->argc) {
                const char *v = c->argv[i + 1];
                *which = *n;
                drop(c, i, 2);
                return v;
            }
        }
    }
    return NULL;
}

int cli_flag(cli *c, const char *name)
{
    for (int i = 0; i < c->argc; i++)
        if (strcmp(c->argv[i], name) == 0) {
            drop(c, i, 1);
            return 1;
        }
    return 0;
}

const char *cli_arg(cli *c)
{
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], "--") == 0) {
            drop(c, i, 1);
            continue;
        }
        if (c->argv[i][0] == '-' && c->argv[i][1])
            return NULL; /* an option nobody asked for: the command's usage says so */
        const char *v = c->argv[i];
        drop(c, i, 1);
        return v;
    }
    return NULL;
}

/* ---- the configuration directory ---- */

static void config_dir(cli *c, const char *given)
{
    const char *e;
    if (given)
        snprintf(c->config_dir, sizeof c->config_dir, "%s", given);
    else if ((e = getenv("STRATUS_CONFIG_DIR")) && *e)
        snprintf(c->config_dir, sizeof c->config_dir, "%s", e);
    else if ((e = getenv("XDG_CONFIG_HOME")) && *e)
        snprintf(c->config_dir, sizeof c->config_dir, "%s/stratus", e);
    else
        snprintf(c->config_dir, sizeof c->config_dir, "%s/.config/stratus",
                 getenv("HOME") ? getenv("HOME") : ".");
}

/* Reads the first line of dir/name into out; 0 or -1. */
static int read_line(const cli *c, const char *name, char *out, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", c->config_dir, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(out, (int)n, f) != NULL;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    return ok ? 0 : -1;
}

/* Writes dir/name as one line, mode 0600, through a temporary file. */
static int write_private(const cli *c, const char *name, const char *line)
{
    char path[1200], tmp[1210];
    /* the directory and its parents; ours is 0700 */
    char d[1024];
    snprintf(d, sizeof d, "%s", c->config_dir);
    for (char *p = d + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(d, 0755);
            *p = '/';
        }
    if (mkdir(d, 0700) < 0 && errno != EEXIST)
        return -1;
    snprintf(path, sizeof path, "%s/%s", c->config_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    fchmod(fd, 0600);
    size_t l = strlen(line);
    int ok = write(fd, line, l) == (ssize_t)l && write(fd, "\n", 1) == 1;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) < 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int open_session(cli *c)
{
    if (!c->url[0]) {
        char line[600];
        const char *e = getenv("STRATUS_URL");
        if (e && *e)
            snprintf(c->url, sizeof c->url, "%s", e);
        else if (read_line(c, "config", line, sizeof line) == 0 && strncmp(line, "url=", 4) == 0)
            snprintf(c->url, sizeof c->url, "%.500s", line + 4);
    }
    if (!c->url[0]) {
        fprintf(stderr, "stratus: not signed in (no gateway URL): run `stratus login --url URL"
                        " ...` or set STRATUS_URL\n");
        return EX_AUTH;
    }
    int rc = stratus_session_new(&c->s, c->url, NULL);
    return rc < 0 ? cli_fail("session", rc) : 0;
}

int cli_connect(cli *c)
{
    int rc = open_session(c);
    if (rc)
        return rc;
    char tok[512];
    const char *e = getenv("STRATUS_TOKEN");
    if (e && *e)
        snprintf(tok, sizeof tok, "%s", e);
    else if (read_line(c, "token", tok, sizeof tok) < 0) {
        fprintf(stderr, "stratus: not signed in: run `stratus login`\n");
        return EX_AUTH;
    }
    rc = stratus_session_set_token(c->s, tok);
    return rc < 0 ? cli_fail("token", rc) : 0;
}

static const char usage_login[] =
    "usage: stratus login --url URL --user NAME [--tenant TENANT] [--password-stdin]\n"
    "Signs in and saves the URL (config) and the session token (token) in the\n"
    "config directory, mode 0600. The password comes from $STRATUS_PASSWORD,\n"
    "else one line of standard input with --password-stdin, else a prompt.\n";

int cli_login(cli *c)
{
    if (cli_flag(c, "--help"))
        return printf("%s", usage_login), 0;
    const char *user = cli_opt(c, "--user"), *tenant = cli_opt(c, "--tenant");
    const char *url = cli_opt(c, "--url");
    int from_stdin = cli_flag(c, "--password-stdin");
    if (url)
        snprintf(c->url, sizeof c->url, "%s", url);
    if (!user || c->argc)
        return cli_usage(usage_login);
    char pw[512] = "";
    const char *e = getenv("STRATUS_PASSWORD");
    if (e)
        snprintf(pw, sizeof pw, "%s", e);
    else if (from_stdin || !isatty(0)) {
        if (!fgets(pw, sizeof pw, stdin))
            return cli_usage(usage_login);
        pw[strcspn(pw, "\r\n")] = 0;
    } else {
        char *p = getpass("Password: ");
        snprintf(pw, sizeof pw, "%s", p ? p : "");
    }
    int rc = open_session(c);
    if (rc)
        return rc;
    rc = stratus_session_login(c->s, user, pw, tenant);
    explicit_bzero(pw, sizeof pw);
    if (rc < 0)
        return cli_fail("login", rc);
    char tok[512], line[600];
    stratus_session_token(c->s, tok, sizeof tok);
    snprintf(line, sizeof line, "url=%s", c->url);
    if (write_private(c, "config", line) < 0 || write_private(c, "token", tok) < 0) {
        fprintf(stderr, "stratus: cannot write %s: %s\n", c->config_dir, strerror(errno));
        return EX_ERR;
    }
    fprintf(stderr, "signed in to %s as %s\n", c->url, user);
    return 0;
}

int cli_logout(cli *c)
{
    if (cli_flag(c, "--help"))
        return printf("usage: stratus logout\nRevokes the saved token and deletes it.\n"), 0;
    int rc = cli_connect(c);
    if (rc)
        return rc;
    rc = stratus_session_logout(c->s);
    char path[1200];
    snprintf(path, sizeof path, "%s/token", c->config_dir);
    unlink(path);
    return rc < 0 && rc != STRATUS_EAUTH ? cli_fail("logout", rc) : 0;
}

int main(int argc, char **argv)
{
    cli c = {0};
    c.argc = argc - 1;
    c.argv = argv + 1;
    const char *out = NULL, *dir = NULL, *url = NULL;
    /* global options come before the command */
    while (c.argc && c.argv[0][0] == '-') {
        const char *o = c.argv[0];
        if ((!strcmp(o, "--output") || !strcmp(o, "-o")) && c.argc > 1)
            out = c.argv[1];
        else if (!strcmp(o, "--config-dir") && c.argc > 1)
            dir = c.argv[1];
        else if (!strcmp(o, "--url") && c.argc > 1)
            url = c.argv[1];
        else if (!strcmp(o, "--help") || !strcmp(o, "-h")) {
            printf("%s", usage_top);
            cli_help_all(stdout);
            printf("%s", usage_tail);
            return 0;
        } else if (!strcmp(o, "--version")) {
            printf("stratus %s (libstratus %s)\n", "0.1.0", stratus_version());
            return 0;
        } else {
            fprintf(stderr, "stratus: unknown option %s\n", o);
            return EX_USAGE_;
        }
        c.argc -= 2;
        c.argv += 2;
    }
    if (!c.argc) {
        fprintf(stderr, "%s", usage_top);
        cli_help_all(stderr);
        fprintf(stderr, "%s", usage_tail);
        return EX_USAGE_;
    }
    const char *noun = c.argv[0];
    c.argc--;
    c.argv++;
    /* --output may also follow the command */
    const char *o2 = cli_opt(&c, "--output");
    if (!o2)
        o2 = cli_opt(&c, "-o");
    if (o2)
        out = o2;
    if (out && strcmp(out, "json") && strcmp(out, "table")) {
        fprintf(stderr, "stratus: --output is table or json\n");
        return EX_USAGE_;
    }
    c.json = out && !strcmp(out, "json");
    config_dir(&c, dir);
    if (url)
        snprintf(c.url, sizeof c.url, "%s", url);
    c.progress = isatty(2);
    int rc;
    if (!strcmp(noun, "login"))
        rc = cli_login(&c);
    else if (!strcmp(noun, "logout"))
        rc = cli_logout(&c);
    else
        rc = cli_dispatch(&c, noun);
    stratus_session_free(c.s);
    return rc;
}
