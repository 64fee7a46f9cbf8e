/* output.c - what the CLI prints: aligned tables, key/value views, JSON
 * exactly as the server sent each object, and the transfer progress bar. */
#include "cli.h"

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
