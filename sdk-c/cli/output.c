/* output.c - what the CLI prints: aligned tables, key/value views, JSON
 * exactly as the server sent each object, and the transfer progress bar;
 * and what it sends: JSON bodies built from options, or read from a file. */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void table_init(table *t, int ncol, const char *const *head)
{
    memset(t, 0, sizeof *t);
    t->ncol = ncol;
    t->head = head;
}

void table_add(table *t, const char *json, ...)
{
    if (t->rows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = realloc(t->cells, sizeof(char *) * (size_t)(t->cap * t->ncol));
        t->json = realloc(t->json, sizeof(char *) * (size_t)t->cap);
        if (!t->cells || !t->json)
            abort();
    }
    va_list ap;
    va_start(ap, json);
    for (int i = 0; i < t->ncol; i++) {
        const char *v = va_arg(ap, const char *);
        t->cells[t->rows * t->ncol + i] = strdup(v && *v ? v : "-");
    }
    va_end(ap);
    t->json[t->rows++] = strdup(json ? json : "null");
}

void table_print(table *t, int as_json)
{
    if (as_json) {
        fputs("[", stdout);
        for (int r = 0; r < t->rows; r++)
            printf("%s%s", r ? ",\n " : "", t->json[r]);
        fputs("]\n", stdout);
        return;
    }
    size_t w[16] = {0};
    for (int i = 0; i < t->ncol && i < 16; i++) {
        w[i] = strlen(t->head[i]);
        for (int r = 0; r < t->rows; r++) {
            size_t l = strlen(t->cells[r * t->ncol + i]);
            if (l > w[i])
                w[i] = l;
        }
    }
    for (int i = 0; i < t->ncol; i++)
        printf("%-*s%s", i + 1 < t->ncol ? (int)w[i] : 0, t->head[i],
               i + 1 < t->ncol ? "  " : "\n");
    for (int r = 0; r < t->rows; r++)
        for (int i = 0; i < t->ncol; i++)
            printf("%-*s%s", i + 1 < t->ncol ? (int)w[i] : 0, t->cells[r * t->ncol + i],
                   i + 1 < t->ncol ? "  " : "\n");
}

void table_free(table *t)
{
    for (int i = 0; i < t->rows * t->ncol; i++)
        free(t->cells[i]);
    for (int r = 0; r < t->rows; r++)
        free(t->json[r]);
    free(t->cells);
    free(t->json);
}

int table_done(cli *c, table *t, int rc, const char *what)
{
    if (rc < 0) {
        table_free(t);
        return cli_fail(what, rc);
    }
    table_print(t, c->json);
    table_free(t);
    return 0;
}

void print_kv(int as_json, const char *json, ...)
{
    if (as_json) {
        printf("%s\n", json ? json : "null");
        return;
    }
    va_list ap;
    va_start(ap, json);
    const char *k;
    while ((k = va_arg(ap, const char *))) {
        const char *v = va_arg(ap, const char *);
        printf("%-16s %s\n", k, v && *v ? v : "-");
    }
    va_end(ap);
}

/* "[#####     ]  42%  12.0/28.5 MiB" on stderr, redrawn in place. */
int progress_bar(void *arg, uint64_t done, uint64_t total)
{
    static int last = -1;
    int pct = total ? (int)(done * 100 / total) : 0;
    if (pct == last && done != total)
        return 0;
    last = pct;
    char bar[31];
    int fill = pct * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '#' : ' ';
    bar[30] = 0;
    fprintf(stderr, "\r[%s] %3d%%  %.1f/%.1f MiB", bar, pct, (double)done / 1048576.0,
            (double)total / 1048576.0);
    if (total && done >= total)
        fputc('\n', stderr);
    return 0;
}

const char *cli_num(long long v)
{
    static char buf[8][32];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 32, "%lld", v);
    return b;
}

/* ---- JSON bodies ---- */

static void jb_put(jbuf *b, const char *p, size_t n)
{
    if (b->len + n + 2 > b->cap) {
        b->cap = (b->len + n + 2) * 2 + 64;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
    memcpy(b->s + b->len, p, n);
    b->len += n;
    b->s[b->len] = 0;
}

char *json_quote(const char *s)
{
    jbuf b = {0};
    jb_put(&b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            jb_put(&b, esc, 2);
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            jb_put(&b, esc, 6);
        } else {
            jb_put(&b, (const char *)p, 1);
        }
    }
    jb_put(&b, "\"", 1);
    return b.s;
}

static void jb_key(jbuf *b, const char *key)
{
    jb_put(b, b->n++ ? "," : "{", 1);
    char *k = json_quote(key);
    jb_put(b, k, strlen(k));
    jb_put(b, ":", 1);
    free(k);
}

void jb_raw(jbuf *b, const char *key, const char *json)
{
    if (!json)
        return;
    jb_key(b, key);
    jb_put(b, json, strlen(json));
}

void jb_str(jbuf *b, const char *key, const char *val)
{
    if (!val)
        return;
    char *q = json_quote(val);
    jb_raw(b, key, q);
    free(q);
}

/* An integer is kept as the digits given; anything else marks the body bad. */
void jb_int(jbuf *b, const char *key, const char *num)
{
    if (!num)
        return;
    const char *p = num + (*num == '-');
    int ok = *p != 0 && strlen(num) < 19;
    for (; *p && ok; p++)
        ok = *p >= '0' && *p <= '9';
    if (ok)
        jb_raw(b, key, num);
    else if (!b->bad[0])
        snprintf(b->bad, sizeof b->bad, "%s", key);
}

const char *jb_end(jbuf *b, const char **bad)
{
    if (!b->n)
        jb_put(b, "{", 1);
    jb_put(b, "}", 1);
    if (bad)
        *bad = b->bad[0] ? b->bad : NULL;
    return b->bad[0] ? NULL : b->s;
}

void jb_free(jbuf *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

char *cli_json_arg(const char *arg)
{
    if (arg[0] != '@')
        return strdup(arg);
    FILE *f = fopen(arg + 1, "rb");
    if (!f) {
        fprintf(stderr, "stratus: %s: %s\n", arg + 1, strerror(errno));
        return NULL;
    }
    jbuf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        jb_put(&b, chunk, n);
    fclose(f);
    return b.s ? b.s : strdup("");
}
