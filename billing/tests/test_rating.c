/* Rating's last step (sort, merge, price, total) on several threads at once:
 * each invoice must come out ordered by its own plan versions, whatever the
 * other threads are rating (billing serves on several threads and rates
 * draft invoices live). Under ASan a comparator that reads another thread's
 * invoice shows as a heap overflow; without it, as lines out of order. */
#include "rating.h"
#include "st_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVERS 8
#define NLINES 64
#define ROUNDS 3000

/* Invoice shape 0 has its versions' start times rising with the index, shape
 * 1 falling; each has NLINES lines, one per (version, hour) in a shuffled
 * order, all for one instance and item, so the version's start time decides
 * their order. */
static void make(bl_invoice *inv, int shape, unsigned *seed)
{
    memset(inv, 0, sizeof *inv);
    inv->nvers = NVERS + shape * 4; /* different sizes: a foreign index overflows */
    inv->vers = calloc((size_t)inv->nvers, sizeof *inv->vers);
    for (int i = 0; i < inv->nvers; i++) {
        inv->vers[i].effective_from = shape ? (int64_t)(inv->nvers - i) * 1000 : (int64_t)i * 1000;
        inv->vers[i].hour_default = 1000000;
    }
    inv->round_micro = 1;
    inv->cap = inv->n = NLINES;
    inv->lines = calloc(NLINES, sizeof *inv->lines);
    for (int i = 0; i < NLINES; i++) {
        bl_line *l = &inv->lines[i];
        snprintf(l->instance, sizeof l->instance, "22222222-2222-4222-8222-222222222222");
        l->item = BL_ITEM_INSTANCE_HOURS;
        snprintf(l->flavor, sizeof l->flavor, "m1.small");
        l->ver = i % inv->nvers;
        l->quantity = 1;
    }
    for (int i = NLINES - 1; i > 0; i--) {
        int j = (int)(rand_r(seed) % (unsigned)(i + 1));
        bl_line t = inv->lines[i];
        inv->lines[i] = inv->lines[j];
        inv->lines[j] = t;
    }
}

typedef struct worker_arg {
    int shape;
    int bad; /* invoices that came out wrong */
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    unsigned seed = (unsigned)a->shape + 7;
    for (int r = 0; r < ROUNDS; r++) {
        bl_invoice inv;
        make(&inv, a->shape, &seed);
        int ok = bl_invoice_finish(&inv) == 0 && inv.n == (size_t)inv.nvers;
        for (size_t i = 1; ok && i < inv.n; i++)
            if (inv.vers[inv.lines[i - 1].ver].effective_from >
                inv.vers[inv.lines[i].ver].effective_from)
                ok = 0;
        /* every version's lines merged into one line, priced at 1.000000 an hour */
        int64_t want = (int64_t)NLINES * 1000000;
        if (ok && inv.total != want)
            ok = 0;
        if (!ok)
            a->bad++;
        bl_invoice_free(&inv);
    }
    return NULL;
}

static void test_concurrent_rating(void)
{
    enum { NTH = 4 };
    pthread_t th[NTH];
    worker_arg args[NTH];
    for (int i = 0; i < NTH; i++) {
        args[i] = (worker_arg){.shape = i % 2};
        CU_ASSERT_FATAL(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    for (int i = 0; i < NTH; i++) {
        pthread_join(th[i], NULL);
        ST_ASSERT_INT_EQ(args[i].bad, 0);
    }
}

static CU_TestInfo tests[] = {
    {"invoices rated on several threads at once each sort by their own plan versions",
     test_concurrent_rating},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"rating", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
