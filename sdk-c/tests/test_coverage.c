/* Every /v1 operation (method + path) in api-gateway/openapi.json has an
 * SDK function, or is listed below as pending (a failure also names the
 * operation's operationId). libstratus names each
 * operation it calls as a literal "METHOD /v1/path" (sx_req.op, the string
 * the transport builds the URL from), so the operations the SDK covers are
 * exactly the literals in sdk-c/src/. The test fails when
 *   - an operation is neither covered nor pending (a new route landed),
 *   - a pending operation is covered (take it off the list),
 *   - the SDK names an operation the document does not have (a typo, or a
 *     removed route).
 * Outside /v1 (the dashboard's files, /healthz, /metrics, the node agent's
 * /internal/v1/node API) is not the SDK's. */
#include "st_test.h"

#include <dirent.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Not yet in the SDK, one "METHOD /path" a line with a comment saying why,
 * before the NULL that ends the list. Empty today: every /v1 operation has
 * a function. A new route lands here (or, better, in the SDK). */
static const char *const pending[] = {
    NULL,
};
static size_t npending(void)
{
    size_t n = 0;
    while (pending[n])
        n++;
    return n;
}

static char *covered[512];
static size_t ncovered;

static int is_covered(const char *op)
{
    for (size_t i = 0; i < ncovered; i++)
        if (strcmp(covered[i], op) == 0)
            return 1;
    return 0;
}

static int is_pending(const char *op)
{
    for (size_t i = 0; pending[i]; i++)
        if (strcmp(pending[i], op) == 0)
            return 1;
    return 0;
}

/* Collects the "METHOD /v1/..." literals of every .c file under dir. */
static void scan_sources(const char *dir)
{
    regex_t re;
    CU_ASSERT_FATAL(regcomp(&re, "\"(GET|POST|PUT|PATCH|DELETE) (/v1/[^\"]*)\"", REG_EXTENDED) ==
                    0);
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 3 || strcmp(e->d_name + l - 2, ".c") != 0)
            continue;
        char path[2048];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path)
            continue;
        FILE *f = fopen(path, "r");
        char line[4096];
        while (f && fgets(line, sizeof line, f)) {
            regmatch_t m[3];
            const char *p = line;
            while (regexec(&re, p, 3, m, 0) == 0) {
                char op[256];
                int n = (int)(m[0].rm_eo - m[0].rm_so - 2);
                snprintf(op, sizeof op, "%.*s", n, p + m[0].rm_so + 1);
                if (!is_covered(op) && ncovered < 512)
                    covered[ncovered++] = strdup(op);
                p += m[0].rm_eo;
            }
        }
        if (f)
            fclose(f);
    }
    closedir(d);
    regfree(&re);
}

static void test_every_operation_is_covered_or_pending(void)
{
    const char *src = getenv("STRATUS_SOURCE_DIR");
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/sdk-c/src", src);
    scan_sources(path);
    snprintf(path, sizeof path, "%s/api-gateway/openapi.json", src);
    json_t *doc = json_load_file(path, 0, NULL);
    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    const char *p;
    json_t *item;
    size_t total = 0, have = 0;
    char *ops[512];
    size_t nops = 0;
    json_object_foreach(json_object_get(doc, "paths"), p, item)
    {
        if (strncmp(p, "/v1/", 4) != 0)
            continue;
        static const char *const methods[] = {"get", "post", "put", "patch", "delete"};
        for (size_t k = 0; k < 5; k++) {
            if (!json_object_get(item, methods[k]))
                continue;
            char op[256], up[8];
            for (size_t c = 0; c <= strlen(methods[k]); c++)
                up[c] = (char)(methods[k][c] >= 'a' ? methods[k][c] - 32 : methods[k][c]);
            snprintf(op, sizeof op, "%s %s", up, p);
            total++;
            if (nops < 512)
                ops[nops++] = strdup(op);
            int cov = is_covered(op), pend = is_pending(op);
            have += cov;
            const char *oid = json_string_value(
                json_object_get(json_object_get(item, methods[k]), "operationId"));
            st_assert_fmt(cov || pend, 0, __FILE__, __LINE__,
                          "%s (%s) has no SDK function and is not listed as pending", op,
                          oid ? oid : "no operationId");
            st_assert_fmt(!(cov && pend), 0, __FILE__, __LINE__,
                          "%s is covered now: remove it from the pending list", op);
        }
    }
    for (size_t i = 0; i < ncovered; i++) {
        int known = 0;
        for (size_t k = 0; k < nops; k++)
            known |= strcmp(ops[k], covered[i]) == 0;
        st_assert_fmt(known, 0, __FILE__, __LINE__,
                      "the SDK calls %s, which openapi.json does not have", covered[i]);
    }
    for (size_t i = 0; pending[i]; i++) {
        int known = 0;
        for (size_t k = 0; k < nops; k++)
            known |= strcmp(ops[k], pending[i]) == 0;
        st_assert_fmt(known, 0, __FILE__, __LINE__, "pending %s is not in openapi.json: remove it",
                      pending[i]);
    }
    printf("\nSDK coverage: %zu of %zu /v1 operations, %zu pending\n", have, total, npending());
    CU_ASSERT(have > 0);
    for (size_t k = 0; k < nops; k++)
        free(ops[k]);
    json_decref(doc);
}

static CU_TestInfo tests[] = {
    {"every /v1 operation is covered or pending", test_every_operation_is_covered_or_pending},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"sdk_coverage", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};
int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
