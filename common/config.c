/*
 * config.c - defaults < file < environment < command line.
 *
 * Values are stored as strings against the declared key table; the typed
 * getters convert on read. The table is small (tens of keys), so lookups are
 * linear.
 */
#include "stratus/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct st_config {
    const st_config_key *keys;
    int n;
    char **values;
    char env_prefix[64];
    char *file;  /* the file st_config_from_args read, for st_config_reread() */
    char **sets; /* the --set KEY=VALUE pairs it applied, in order */
    int n_sets;
};

static int key_index(const st_config *c, const char *key)
{
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->keys[i].key, key) == 0)
            return i;
    return -1;
}

st_config *st_config_new(const st_config_key *keys, const char *env_prefix)
{
    st_config *c = calloc(1, sizeof *c);
    c->keys = keys;
    while (keys[c->n].key)
        c->n++;
    c->values = calloc((size_t)c->n, sizeof(char *));
    for (int i = 0; i < c->n; i++)
        c->values[i] = strdup(keys[i].def ? keys[i].def : "");
    snprintf(c->env_prefix, sizeof c->env_prefix, "%s", env_prefix ? env_prefix : "");
    return c;
}

void st_config_free(st_config *c)
{
    if (!c)
        return;
    for (int i = 0; i < c->n; i++)
        free(c->values[i]);
    free(c->values);
    for (int i = 0; i < c->n_sets; i++)
        free(c->sets[i]);
    free(c->sets);
    free(c->file);
    free(c);
}

st_config *st_config_reread(const st_config *c, char *err, size_t errlen)
{
    st_config *n = st_config_new(c->keys, c->env_prefix);
    if (c->file && st_config_load_file(n, c->file, err, errlen) < 0) {
        st_config_free(n);
        return NULL;
    }
    st_config_load_env(n);
    for (int i = 0; i < c->n_sets; i++) {
        const char *eq = strchr(c->sets[i], '=');
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)(eq - c->sets[i]), c->sets[i]);
        st_config_set(n, key, eq + 1, err, errlen); /* known: it was applied before */
    }
    return n;
}

int st_config_set(st_config *c, const char *key, const char *value, char *err, size_t errlen)
{
    int i = key_index(c, key);
    if (i < 0) {
        snprintf(err, errlen, "unknown configuration key '%.128s'", key);
        return -1;
    }
    free(c->values[i]);
    c->values[i] = strdup(value);
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = 0;
    return s;
}

int st_config_load_file(st_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = 0;
        char *key = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = 0;
            val++;
        }
        char e2[256];
        if (st_config_set(c, key, val, e2, sizeof e2) < 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, e2);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

void st_config_load_env(st_config *c)
{
    for (int i = 0; i < c->n; i++) {
        char name[160];
        size_t p = (size_t)snprintf(name, sizeof name, "%s", c->env_prefix);
        for (const char *k = c->keys[i].key; *k && p < sizeof name - 1; k++)
            name[p++] = (*k == '.' || *k == '-') ? '_' : (char)toupper((unsigned char)*k);
        name[p] = 0;
        const char *v = getenv(name);
        if (v) {
            free(c->values[i]);
            c->values[i] = strdup(v);
        }
    }
}

const char *st_config_str(const st_config *c, const char *key)
{
    int i = key_index(c, key);
    if (i < 0) {
        fprintf(stderr, "st_config: undeclared key '%s' read\n", key);
        abort(); /* a programming error, not a user error */
    }
    return c->values[i];
}

long long st_config_int(const st_config *c, const char *key)
{
    return strtoll(st_config_str(c, key), NULL, 10);
}

int st_config_bool(const st_config *c, const char *key)
{
    const char *v = st_config_str(c, key);
    return strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0 ||
           strcmp(v, "1") == 0;
}

static void usage(const char *prog, const st_config *c, const char *env_prefix)
{
    printf("usage: %s [--config FILE] [--set KEY=VALUE]... [--listen ADDR] [--port-file F]\n"
           "       %s [--config FILE] [--set KEY=VALUE]... --check-config\n\n"
           "Configuration keys (environment: %sKEY with dots as underscores):\n",
           prog, prog, env_prefix);
    for (int i = 0; i < c->n; i++)
        printf("  %-24s %s%s%s%s\n", c->keys[i].key, c->keys[i].help ? c->keys[i].help : "",
               c->keys[i].def && *c->keys[i].def ? " [default: " : "",
               c->keys[i].def && *c->keys[i].def ? c->keys[i].def : "",
               c->keys[i].def && *c->keys[i].def ? "]" : "");
}

st_config *st_config_from_args(int argc, char **argv, const char *prog, const char *env_prefix,
                               const st_config_key *keys, char ***rest, int *rest_n)
{
    st_config *c = st_config_new(keys, env_prefix);
    char err[512];
    const char *file = NULL;
    int check = 0;
    /* The file first, so environment and --set override it whatever the order. */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            file = argv[++i];
    if (file && st_config_load_file(c, file, err, sizeof err) < 0) {
        fprintf(stderr, "%s: %s\n", prog, err);
        exit(2);
    }
    if (file)
        c->file = strdup(file);
    st_config_load_env(c);
    if (rest) {
        *rest = calloc((size_t)argc + 1, sizeof(char *));
        *rest_n = 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *setkey = NULL;
        char kv[4096];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(prog, c, env_prefix);
            exit(0);
        } else if (strcmp(a, "--check-config") == 0) {
            check = 1;
            continue;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            i++;
            continue;
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            snprintf(kv, sizeof kv, "%s", argv[++i]);
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            setkey = "http.listen";
        } else if (strcmp(a, "--port-file") == 0 && i + 1 < argc) {
            setkey = "http.port_file";
        } else if (rest) {
            (*rest)[(*rest_n)++] = argv[i];
            continue;
        } else {
            fprintf(stderr, "%s: unknown argument '%s' (try --help)\n", prog, a);
            exit(2);
        }
        if (setkey)
            snprintf(kv, sizeof kv, "%s=%s", setkey, argv[++i]);
        char *eq = strchr(kv, '=');
        if (!eq) {
            fprintf(stderr, "%s: --set wants KEY=VALUE, got '%s'\n", prog, kv);
            exit(2);
        }
        *eq = 0;
        if (st_config_set(c, kv, eq + 1, err, sizeof err) < 0) {
            fprintf(stderr, "%s: %s\n", prog, err);
            exit(2);
        }
        *eq = '=';
        c->sets = realloc(c->sets, (size_t)(c->n_sets + 1) * sizeof *c->sets);
        c->sets[c->n_sets++] = strdup(kv);
    }
    if (check) {
        /* Every key was known and the file readable; nothing is started. */
        printf("%s: configuration OK\n", prog);
        exit(0);
    }
    return c;
}
