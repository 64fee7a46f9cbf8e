/* GET /v1/openapi.json describes exactly the routes the server has: every
 * route (from `stratus-gateway routes`) is an operation in the document,
 * and every operation in the document is a route; each has a unique
 * operationId and each response with a body its content type. */
#include "gwt.h"
#include "st_test.h"
#include "stratus/errcode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static gwt T;

static int suite_init(void)
{
    gwt_start(&T, "gw_openapi", NULL);
    return 0;
}

static int suite_clean(void)
{
    gwt_stop(&T);
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            *s = (char)(*s - 'A' + 'a');
}

static void test_document_matches_the_routes(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/openapi.json", NULL, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.json);
    const char *ver = json_string_value(json_object_get(r.json, "openapi"));
    CU_ASSERT_FATAL(ver && !strncmp(ver, "3.", 2));
    json_t *paths = json_object_get(r.json, "paths");
    CU_ASSERT_FATAL(json_is_object(paths));

    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' routes", st_build_path("api-gateway/stratus-gateway"));
    FILE *p = popen(cmd, "r");
    char line[256];
    int routes = 0;
    while (fgets(line, sizeof line, p)) {
        char method[16], path[200];
        if (sscanf(line, "%15s %199s", method, path) != 2)
            continue;
        lower(method);
        json_t *op = json_object_get(json_object_get(paths, path), method);
        st_assert_fmt(json_is_object(op), 0, __FILE__, __LINE__,
                      "route %s %s is not in openapi.json", method, path);
        st_assert_fmt(json_is_object(json_object_get(op, "responses")) &&
                          json_object_size(json_object_get(op, "responses")) > 0,
                      0, __FILE__, __LINE__, "%s %s has no responses", method, path);
        /* mark it seen */
        if (json_is_object(op))
            json_object_set_new(op, "x-seen", json_true());
        routes++;
    }
    pclose(p);
    CU_ASSERT(routes > 40);
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
            st_assert_fmt(json_is_true(json_object_get(op, "x-seen")), 0, __FILE__, __LINE__,
                          "openapi.json describes %s %s, which the server does not have", m, path);
    }
    st_resp_free(&r);
}

static void test_schema_references_resolve(void)
{
    st_resp r;
    gwt_call(&T, &r, "GET", "/v1/openapi.json", NULL, NULL);
    json_t *schemas = json_object_get(json_object_get(r.json, "components"), "schemas");
    /* every "$ref" in the document names a schema that exists */
    char *text = strdup(r.body);
    int refs = 0;
    for (char *p = strstr(text, "#/components/schemas/"); p;
         p = strstr(p + 1, "#/components/schemas/")) {
        char name[64];
        if (sscanf(p + 21, "%63[A-Za-z0-9_]", name) == 1) {
            st_assert_fmt(json_object_get(schemas, name) != NULL, 0, __FILE__, __LINE__,
                          "$ref to missing schema %s", name);
            refs++;
        }
    }
    CU_ASSERT(refs > 20);
    free(text);
    st_resp_free(&r);
}

/* Every operation has an operationId no other has; every response but 204
 * and 304 names its content type (a body without one is what libevent
 * labels text/html). */
static void test_operation_ids_and_content_types(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/openapi.json", NULL, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.json);
    json_t *ids = json_object();
    json_t *responses = json_object_get(json_object_get(r.json, "components"), "responses");
    const char *path;
    json_t *item;
    int ops = 0;
    json_object_foreach(json_object_get(r.json, "paths"), path, item)
    {
        const char *m;
        json_t *op;
        json_object_foreach(item, m, op)
        {
            ops++;
            const char *id = json_string_value(json_object_get(op, "operationId"));
            st_assert_fmt(id && *id, 0, __FILE__, __LINE__, "%s %s has no operationId", m, path);
            if (!id)
                continue;
            st_assert_fmt(!json_object_get(ids, id), 0, __FILE__, __LINE__,
                          "operationId %s is used twice (%s %s)", id, m, path);
            json_object_set_new(ids, id, json_true());
            const char *code;
            json_t *resp;
            json_object_foreach(json_object_get(op, "responses"), code, resp)
            {
                const char *ref = json_string_value(json_object_get(resp, "$ref"));
                if (ref && !strncmp(ref, "#/components/responses/", 23))
                    resp = json_object_get(responses, ref + 23);
                st_assert_fmt(json_is_object(resp), 0, __FILE__, __LINE__,
                              "%s %s %s: the response does not resolve", m, path, code);
                if (!strcmp(code, "204") || !strcmp(code, "304"))
                    continue;
                st_assert_fmt(json_object_size(json_object_get(resp, "content")) > 0, 0, __FILE__,
                              __LINE__, "%s %s %s has no content type", m, path, code);
            }
        }
    }
    ST_ASSERT_INT_EQ((long)json_object_size(ids), ops);
    json_decref(ids);
    st_resp_free(&r);
}

/* error.code lists exactly common's table of codes (errcode.h), in its
 * order, each with the table's status and meaning: the document and the
 * codes the services can send do not drift apart. */
static void test_error_codes_are_the_table(void)
{
    st_resp r;
    ST_ASSERT_INT_EQ(gwt_call(&T, &r, "GET", "/v1/openapi.json", NULL, NULL), 200);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r.json);
    json_t *code = json_object_get(
        json_object_get(
            json_object_get(
                json_object_get(json_object_get(json_object_get(r.json, "components"), "schemas"),
                                "Error"),
                "properties"),
            "error"),
        "properties");
    code = json_object_get(code, "code");
    json_t *en = json_object_get(code, "enum"), *rows = json_object_get(code, "x-stratus-codes");
    CU_ASSERT_FATAL(json_is_array(en) && json_is_object(rows));
    ST_ASSERT_INT_EQ((long)json_array_size(en), (long)ST_E__COUNT);
    ST_ASSERT_INT_EQ((long)json_object_size(rows), (long)ST_E__COUNT);
    for (int e = 0; e < ST_E__COUNT && e < (int)json_array_size(en); e++) {
        const char *name = st_err_name((st_err)e);
        const char *doc = json_string_value(json_array_get(en, (size_t)e));
        st_assert_fmt(doc && !strcmp(doc, name), 0, __FILE__, __LINE__,
                      "enum[%d] is %s, the table says %s", e, doc ? doc : "(none)", name);
        json_t *row = json_object_get(rows, name);
        st_assert_fmt(json_integer_value(json_object_get(row, "status")) ==
                              st_err_status((st_err)e) &&
                          json_string_value(json_object_get(row, "meaning")) &&
                          !strcmp(json_string_value(json_object_get(row, "meaning")),
                                  st_err_meaning((st_err)e)),
                      0, __FILE__, __LINE__, "%s: status or meaning differs from the table", name);
    }
    st_resp_free(&r);
}

static CU_TestInfo tests[] = {
    {"openapi.json describes exactly the server's routes", test_document_matches_the_routes},
    {"every schema reference resolves", test_schema_references_resolve},
    {"unique operationIds; every response with a body names its content type",
     test_operation_ids_and_content_types},
    {"error.code lists exactly common's table of codes", test_error_codes_are_the_table},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"openapi", suite_init, suite_clean, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
