/*
 * fuzz_batch.c - the ingest batch parser and validator on arbitrary bytes.
 *
 * Beyond "no crash, no leak, no undefined behaviour" it checks what ingest
 * relies on: a batch that parses has a canonical lowercase batch id, at most
 * BL_MAX_SAMPLES samples, valid flavors and states, non-negative counters,
 * times inside the accepted range, per-port bytes under lowercase port ids;
 * a rejected one leaves nothing allocated;
 * and parsing is deterministic.
 */
#include "batch.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static void check(int ok)
{
    if (!ok)
        abort();
}

static int lower_uuid(const char *s)
{
    if (strlen(s) != 36)
        return 0;
    for (int i = 0; i < 36; i++) {
        char c = s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23)
            check(c == '-');
        else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    bl_batch b, again;
    char err[256] = "", err2[256] = "";
    int rc = bl_batch_parse((const char *)data, size, &b, err, sizeof err);
    int rc2 = bl_batch_parse((const char *)data, size, &again, err2, sizeof err2);
    check(rc == rc2 && strcmp(err, err2) == 0 && b.n == again.n);
    if (rc != BL_OK) {
        check(rc == BL_ESYNTAX || rc == BL_EINVALID);
        check(err[0] != 0 && b.s == NULL && b.n == 0);
        return 0;
    }
    check(lower_uuid(b.batch_id));
    check(b.n <= BL_MAX_SAMPLES);
    for (size_t i = 0; i < b.n; i++) {
        const bl_sample *s = &b.s[i];
        /* the same sample up to where its ports live (the last member), and the same ports */
        check(memcmp(s, &again.s[i], offsetof(bl_sample, ports)) == 0);
        check(s->nports == 0 ||
              memcmp(s->ports, again.s[i].ports, (size_t)s->nports * sizeof *s->ports) == 0);
        for (int k = 0; k < s->nports; k++)
            check(lower_uuid(s->ports[k].id) && s->ports[k].rx >= 0 && s->ports[k].tx >= 0);
        check(lower_uuid(s->tenant));
        check(s->at_us >= 946684800000000LL && s->at_us < 7258118400000000LL);
        if (s->kind == BL_KIND_STORAGE) {
            check(s->storage_bytes >= 0);
            continue;
        }
        check(lower_uuid(s->instance) && lower_uuid(s->boot));
        check(bl_flavor_valid(s->flavor));
        int billable;
        check(bl_state_valid(s->state, &billable) && billable == s->billable);
        check(s->seq >= 0);
        for (int m = 0; m < BL_NMETERS; m++)
            check(s->c[m] >= 0);
    }
    bl_batch_free(&b);
    bl_batch_free(&again);
    return 0;
}
