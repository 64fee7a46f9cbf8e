/*
 * vmm_fuzz_migreq - PUT /vm/migrate's body (migrate.c's vmm_migrate_parse: the URI and its
 * numeric address, the budgets, on_timeout, block_migration, the TLS files) on arbitrary
 * bytes: the node agent writes it from the gateway's order, so a bad one must end in a clear
 * error, never a crash, a leak or a request with fields out of their ranges.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmm_migrate_req r;
    char err[256];
    if (vmm_migrate_parse((const char *)data, size, &r, err, sizeof err) == 0) {
        /* what the worker relies on */
        if (strncmp(r.uri, "tcp:", 4) || r.downtime_ms < 1 || r.downtime_ms > 600000 ||
            r.timeout_ms > 86400000 || r.max_rounds < 1 || r.max_rounds > 1000 ||
            (r.tls_ca[0] && (!r.tls_cert[0] || !r.tls_key[0])))
            abort();
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    return 0;
}
