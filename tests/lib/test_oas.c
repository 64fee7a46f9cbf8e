/*
 * common_oas_validator: the OpenAPI response validator (st_oas.h) accepts
 * what a small document allows and refuses what it does not, keyword by
 * keyword; the real api-gateway/openapi.json loads and judges fabricated
 * responses; and the hook that st_http() runs fails the CUnit test that got
 * a bad response (shown by running this program again as a child against a
 * canned HTTP server on loopback, and reading its exit status and output).
 */
#include "st_httpc.h"
#include "st_oas.h"
#include "st_proc.h"
#include "st_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Every keyword the validator knows, each in a property of Thing. */
static const char doc_text[] =
    "{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"t\",\"version\":\"1\"},"
    "\"components\":{"
    " \"schemas\":{"
    "  \"Error\":{\"type\":\"object\",\"required\":[\"error\"],\"properties\":{\"error\":"
    "   {\"type\":\"object\",\"required\":[\"code\",\"message\"],\"properties\":"
    "    {\"code\":{\"type\":\"string\"},\"message\":{\"type\":\"string\"}}}}},"
    "  "
    "\"HasA\":{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":"
    "\"integer\"}}},"
    "  \"HasB\":{\"type\":\"object\",\"required\":[\"b\"]},"
    "  \"Thing\":{\"type\":\"object\",\"required\":[\"id\",\"n\"],\"properties\":{"
    "   \"id\":{\"type\":\"string\",\"format\":\"uuid\"},"
    "   \"n\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10},"
    "   \"x\":{\"type\":\"number\",\"maximum\":5,\"exclusiveMaximum\":true,\"multipleOf\":0.5},"
    "   \"s\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":4},"
    "   \"code\":{\"type\":\"string\",\"pattern\":\"^[A-Z]{2}$\"},"
    "   \"when\":{\"type\":\"string\",\"format\":\"date-time\"},"
    "   \"day\":{\"type\":\"string\",\"format\":\"date\"},"
    "   \"ip\":{\"type\":\"string\",\"format\":\"ipv4\"},"
    "   \"ip6\":{\"type\":\"string\",\"format\":\"ipv6\"},"
    "   \"i32\":{\"type\":\"integer\",\"format\":\"int32\"},"
    "   \"above\":{\"type\":\"integer\",\"minimum\":0,\"exclusiveMinimum\":true},"
    "   \"b64\":{\"type\":\"string\",\"format\":\"byte\"},"
    "   \"state\":{\"type\":\"string\",\"enum\":[\"a\",\"b\"]},"
    "   \"task\":{\"type\":\"string\",\"nullable\":true,\"enum\":[\"go\",null]},"
    "   \"bad_task\":{\"type\":\"string\",\"nullable\":true,\"enum\":[\"go\"]},"
    "   \"note\":{\"type\":\"string\",\"nullable\":true},"
    "   \"flag\":{\"type\":\"boolean\"},"
    "   \"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"minItems\":1,"
    "             \"maxItems\":2,\"uniqueItems\":true},"
    "   \"meta\":{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"},"
    "             \"maxProperties\":2},"
    "   \"closed\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"integer\"}},"
    "               \"additionalProperties\":false},"
    "   \"either\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"},"
    "                          {\"type\":\"integer\",\"minimum\":100}]},"
    "   \"any\":{\"anyOf\":[{\"type\":\"string\",\"maxLength\":1},{\"type\":\"integer\"}]},"
    "   \"both\":{\"allOf\":[{\"$ref\":\"#/components/schemas/HasA\"},"
    "                        {\"$ref\":\"#/components/schemas/HasB\"}]},"
    "   \"notstr\":{\"not\":{\"type\":\"string\"}},"
    "   \"ref\":{\"$ref\":\"#/components/schemas/HasA\"},"
    "   \"dangling\":{\"$ref\":\"#/components/schemas/Nowhere\"}}}},"
    " \"responses\":{\"Bad\":{\"description\":\"bad\",\"content\":{\"application/json\":"
    "   {\"schema\":{\"$ref\":\"#/components/schemas/Error\"}}}}}},"
    "\"paths\":{"
    " \"/healthz\":{\"get\":{\"responses\":{\"200\":{\"description\":\"ok\"}}}},"
    " \"/v1/things\":{"
    "  \"get\":{\"responses\":{\"200\":{\"description\":\"a page\",\"content\":{"
    "   \"application/json\":{\"schema\":{\"type\":\"object\",\"required\":[\"things\"],"
    "    \"properties\":{\"things\":{\"type\":\"array\","
    "     \"items\":{\"$ref\":\"#/components/schemas/Thing\"}}}}}}}}},"
    "  \"post\":{\"responses\":{"
    "   \"201\":{\"description\":\"made\",\"content\":{\"application/json\":"
    "    {\"schema\":{\"$ref\":\"#/components/schemas/Thing\"}}}},"
    "   \"400\":{\"$ref\":\"#/components/responses/Bad\"}}}},"
    " \"/v1/things/{id}\":{"
    "  \"get\":{\"responses\":{"
    "   \"200\":{\"description\":\"one\",\"content\":{\"application/json\":"
    "    {\"schema\":{\"$ref\":\"#/components/schemas/Thing\"}}}},"
    "   \"4XX\":{\"$ref\":\"#/components/responses/Bad\"}}},"
    "  \"delete\":{\"responses\":{\"204\":{\"description\":\"gone\"}}}},"
    " \"/v1/things/special\":{\"get\":{\"responses\":{\"200\":{\"description\":\"s\","
    "   \"content\":{\"application/json\":{\"schema\":{\"type\":\"string\"}}}}}}},"
    " \"/v1/files/{id}\":{\"get\":{\"responses\":{"
    "   \"200\":{\"description\":\"f\",\"content\":{\"text/csv\":{},"
    "    \"application/pdf\":{\"schema\":{\"type\":\"string\",\"format\":\"binary\"}},"
    "    \"image/*\":{}}},"
    "   \"default\":{\"$ref\":\"#/components/responses/Bad\"}}}}}}";

static st_oas *D;

static int suite_init(void)
{
    json_error_t e;
    json_t *doc = json_loads(doc_text, 0, &e);
    if (!doc) {
        fprintf(stderr, "test document: %d: %s\n", e.line, e.text);
        return 1;
    }
    D = st_oas_new(doc);
    json_decref(doc);
    return 0;
}

static int suite_cleanup(void)
{
    st_oas_free(D);
    return 0;
}

#define ID "\"id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a10\""
#define THING(extra) "{" ID ",\"n\":3" extra "}"

typedef struct kase {
    const char *method, *path;
    long status;
    const char *ctype, *body;
    int want;           /* 0 allowed, -1 refused, 1 outside the document */
    const char *needle; /* in the message when refused */
} kase;

static void run(const kase *k, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char msg[1024];
        int rc = st_oas_check(D, k[i].method, k[i].path, k[i].status, k[i].ctype, k[i].body,
                              k[i].body ? strlen(k[i].body) : 0, msg, sizeof msg);
        st_assert_fmt(rc == k[i].want, 0, __FILE__, __LINE__, "%s %s %ld %s: got %d, want %d (%s)",
                      k[i].method, k[i].path, k[i].status, k[i].body ? k[i].body : "(no body)", rc,
                      k[i].want, msg);
        if (k[i].want < 0 && k[i].needle)
            st_assert_fmt(rc < 0 && strstr(msg, k[i].needle) != NULL, 0, __FILE__, __LINE__,
                          "message \"%s\" should contain \"%s\"", msg, k[i].needle);
    }
}

#define JSON "application/json"
#define GET1 "GET", "/v1/things/7", 200, JSON

static void test_operation_status_and_media(void)
{
    static const kase k[] = {
        {"GET", "/v1/things?limit=2&marker=x", 200, JSON, "{\"things\":[" THING("") "]}", 0, NULL},
        {"GET", "/v1/things", 200, JSON, "{\"things\":[{\"n\":3}]}", -1,
         "GET /v1/things 200: /things/0: required property \"id\" is missing"},
        {"GET", "/v1/nowhere", 404, JSON, "{}", -1, "the path is not in the document"},
        {"GET", "/v1", 404, JSON, "{}", -1, "the path is not in the document"},
        {"PUT", "/v1/things", 200, JSON, "{}", -1, "no PUT operation"},
        {"BREW", "/v1/things", 405, JSON, "{}", -1, "not an HTTP method"},
        {"GET", "/dashboard/app.js", 200, "text/javascript", "x", 1, NULL},
        {"GET", "/healthz", 200, NULL, "", 0, NULL},
        {"GET", "/healthz", 200, "text/plain", "ok", -1, "gives no body"},
        {"GET", "/v1/things", 418, JSON, "{}", -1, "status not documented (documented: 200)"},
        /* a literal segment wins over a template */
        {"GET", "/v1/things/special", 200, JSON, "\"hi\"", 0, NULL},
        {"GET", "/v1/things/special2", 200, JSON, "\"hi\"", -1, "/v1/things/{id} 200"},
        /* a range, and a $ref to components/responses */
        {"GET", "/v1/things/7", 404, JSON, "{\"error\":{\"code\":\"not_found\",\"message\":\"m\"}}",
         0, NULL},
        {"GET", "/v1/things/7", 404, JSON, "{\"error\":{\"code\":\"not_found\"}}", -1,
         "/error: required property \"message\" is missing"},
        {"GET", "/v1/things/7", 500, JSON, "{}", -1, "status not documented"},
        {"POST", "/v1/things", 400, "application/json; charset=utf-8",
         "{\"error\":{\"code\":\"bad\",\"message\":\"m\"}}", 0, NULL},
        {"POST", "/v1/things", 400, JSON, "{\"code\":\"bad\"}", -1, "\"error\" is missing"},
        /* default */
        {"GET", "/v1/files/1", 503, JSON, "{\"error\":{\"code\":\"x\",\"message\":\"m\"}}", 0,
         NULL},
        /* no content: an empty body only */
        {"DELETE", "/v1/things/7", 204, NULL, "", 0, NULL},
        {"DELETE", "/v1/things/7", 204, "text/html; charset=ISO-8859-1", "<html></html>", -1,
         "the document gives no body, got 13 bytes of text/html"},
        /* media types: exact, with parameters, by range; others refused */
        {"GET", "/v1/files/1", 200, "text/csv; charset=utf-8", "a,b\n1,2\n", 0, NULL},
        {"GET", "/v1/files/1", 200, "application/pdf", "%PDF-1.4 \x01\x02", 0, NULL},
        {"GET", "/v1/files/1", 200, "image/png", "\x89PNG", 0, NULL},
        {"GET", "/v1/files/1", 200, "text/html", "<p>", -1,
         "Content-Type \"text/html\" not documented (documented: text/csv, application/pdf, "
         "image/*)"},
        {GET1, "not json", -1, "the body is not JSON"},
        {"GET", "/v1/things/7", 200, "text/plain", THING(""), -1, "not documented"},
        {"GET", "/v1/things/7", 200, NULL, "", -1, "empty body without a Content-Type"},
        {"GET", "/v1/things/7", 200, JSON, NULL, 0, NULL}, /* body not kept: type only */
        {"HEAD", "/v1/things/7", 200, JSON, "", 0, NULL},
    };
    run(k, sizeof k / sizeof k[0]);
}

static void test_types_and_nullable(void)
{
    static const kase k[] = {
        {GET1, THING(""), 0, NULL},
        {GET1, "[]", -1, "(body): [] is a array, not object"},
        {GET1, "{" ID ",\"n\":\"3\"}", -1, "/n: \"3\" is a string, not integer"},
        {GET1, "{" ID ",\"n\":3.0}", -1, "/n: 3.0 is a number, not integer"},
        {GET1, "{" ID ",\"n\":null}", -1, "/n: null not allowed"},
        {GET1, THING(",\"x\":2"), 0, NULL}, /* an integer is a number */
        {GET1, THING(",\"x\":\"2\"}"), -1, NULL},
        {GET1, THING(",\"flag\":true"), 0, NULL},
        {GET1, THING(",\"flag\":1"), -1, "/flag: 1 is an integer, not boolean"},
        {GET1, THING(",\"note\":null"), 0, NULL},
        {GET1, THING(",\"note\":\"n\""), 0, NULL},
        {GET1, THING(",\"s\":null"), -1, "/s: null not allowed"},
        {GET1, THING(",\"task\":null"), 0, NULL},
        {GET1, THING(",\"task\":\"go\""), 0, NULL},
        {GET1, THING(",\"task\":\"stop\""), -1, "/task: \"stop\" is not one of the enum"},
        {GET1, THING(",\"bad_task\":null"), -1,
         "/bad_task: null not allowed (nullable, but the enum does not list null)"},
        {GET1, THING(",\"bad_task\":\"go\""), 0, NULL},
        {GET1, THING(",\"state\":\"a\""), 0, NULL},
        {GET1, THING(",\"state\":\"c\""), -1, "/state: \"c\" is not one of the enum"},
        {GET1, "{" ID "}", -1, "(body): required property \"n\" is missing"},
    };
    run(k, sizeof k / sizeof k[0]);
}

static void test_numbers_and_strings(void)
{
    static const kase k[] = {
        {GET1, "{" ID ",\"n\":1}", 0, NULL},
        {GET1, "{" ID ",\"n\":10}", 0, NULL},
        {GET1, "{" ID ",\"n\":0}", -1, "/n: 0 is below the minimum 1"},
        {GET1, "{" ID ",\"n\":11}", -1, "/n: 11 is above the maximum 10"},
        {GET1, THING(",\"x\":4.5"), 0, NULL},
        {GET1, THING(",\"x\":5"), -1, "/x: 5 is above the exclusive maximum 5"},
        {GET1, THING(",\"x\":1.25"), -1, "/x: 1.25 is not a multiple of 0.5"},
        {GET1, THING(",\"s\":\"ab\""), 0, NULL},
        {GET1, THING(",\"s\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\""), 0, NULL}, /* 4 characters */
        {GET1, THING(",\"s\":\"a\""), -1, "/s: \"a\" is shorter than 2 characters"},
        {GET1, THING(",\"s\":\"abcde\""), -1, "/s: \"abcde\" is longer than 4 characters"},
        {GET1, THING(",\"code\":\"FR\""), 0, NULL},
        {GET1, THING(",\"code\":\"fr\""), -1, "/code: \"fr\" does not match the pattern"},
        {GET1, "{\"id\":\"0B6D7C52-8F0E-4D8E-9A53-2F7B1C9E4A10\",\"n\":3}", 0, NULL},
        {GET1, "{\"id\":\"0b6d7c528f0e4d8e9a532f7b1c9e4a10\",\"n\":3}", -1,
         "/id: \"0b6d7c528f0e4d8e9a532f7b1c9e4a10\" is not a uuid"},
        {GET1, "{\"id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a1g\",\"n\":3}", -1, "is not a uuid"},
        {GET1, THING(",\"when\":\"2026-12-05T10:00:00Z\""), 0, NULL},
        {GET1, THING(",\"when\":\"2026-12-05T10:00:00.123456+01:00\""), 0, NULL},
        {GET1, THING(",\"when\":\"2026-12-05 10:00:00\""), -1, "/when: "},
        {GET1, THING(",\"when\":\"2026-12-05T10:00:00\""), -1, "is not a date-time"},
        {GET1, THING(",\"when\":\"2026-13-05T10:00:00Z\""), -1, "is not a date-time"},
        {GET1, THING(",\"day\":\"2026-12-05\""), 0, NULL},
        {GET1, THING(",\"day\":\"2026-12-05T00:00:00Z\""), -1, "is not a date"},
        {GET1, THING(",\"ip\":\"10.0.0.254\""), 0, NULL},
        {GET1, THING(",\"ip\":\"10.0.0.256\""), -1, "is not a ipv4"},
        {GET1, THING(",\"ip\":\"10.0.0\""), -1, "is not a ipv4"},
        {GET1, THING(",\"ip6\":\"fd00::1\""), 0, NULL},
        {GET1, THING(",\"ip6\":\"fd00::1::2\""), -1, "is not a ipv6"},
        {GET1, THING(",\"ip6\":\"10.0.0.1\""), -1, "is not a ipv6"},
        {GET1, THING(",\"i32\":2147483647"), 0, NULL},
        {GET1, THING(",\"i32\":2147483648"), -1, "/i32: 2147483648 does not fit int32"},
        {GET1, THING(",\"above\":1"), 0, NULL},
        {GET1, THING(",\"above\":0"), -1, "/above: 0 is below the exclusive minimum 0"},
        {GET1, THING(",\"b64\":\"aGk=\""), 0, NULL},
        {GET1, THING(",\"b64\":\"a*k=\""), -1, "is not a byte"},
    };
    run(k, sizeof k / sizeof k[0]);
}

static void test_objects_arrays_and_combinators(void)
{
    static const kase k[] = {
        {GET1, THING(",\"tags\":[\"a\",\"b\"]"), 0, NULL},
        {GET1, THING(",\"tags\":[\"a\",2]"), -1, "/tags/1: 2 is an integer, not string"},
        {GET1, THING(",\"tags\":[]"), -1, "/tags: fewer than 1 items"},
        {GET1, THING(",\"tags\":[\"a\",\"b\",\"c\"]"), -1, "/tags: more than 2 items"},
        {GET1, THING(",\"tags\":[\"a\",\"a\"]"), -1, "uniqueItems"},
        {GET1, THING(",\"meta\":{\"a/b\":1}"), 0, NULL},
        {GET1, THING(",\"meta\":{\"a/b~\":\"1\"}"), -1, "/meta/a~1b~0: \"1\" is a string"},
        {GET1, THING(",\"meta\":{\"a\":1,\"b\":2,\"c\":3}"), -1, "more than 2 properties"},
        {GET1, THING(",\"closed\":{\"a\":1}"), 0, NULL},
        {GET1, THING(",\"closed\":{\"a\":1,\"z\":2}"), -1,
         "/closed: property \"z\" is not allowed (additionalProperties: false)"},
        {GET1, THING(",\"extra\":{\"anything\":[1]}"), 0, NULL}, /* additionalProperties default */
        {GET1, THING(",\"either\":\"s\""), 0, NULL},
        {GET1, THING(",\"either\":5"), 0, NULL},
        {GET1, THING(",\"either\":500"), -1, "/either: matches 2 schemas of oneOf, not one"},
        {GET1, THING(",\"either\":true"), -1, "/either: matches no schema of oneOf"},
        {GET1, THING(",\"any\":\"s\""), 0, NULL},
        {GET1, THING(",\"any\":7"), 0, NULL},
        {GET1, THING(",\"any\":\"long\""), -1, "/any: matches no schema of anyOf"},
        {GET1, THING(",\"both\":{\"a\":1,\"b\":2}"), 0, NULL},
        {GET1, THING(",\"both\":{\"a\":1}"), -1, "/both: required property \"b\" is missing"},
        {GET1, THING(",\"both\":{\"a\":\"1\",\"b\":2}"), -1, "/both/a: \"1\" is a string"},
        {GET1, THING(",\"notstr\":1"), 0, NULL},
        {GET1, THING(",\"notstr\":\"s\""), -1, "/notstr: matches the schema under \"not\""},
        {GET1, THING(",\"ref\":{\"a\":1}"), 0, NULL},
        {GET1, THING(",\"ref\":{}"), -1, "/ref: required property \"a\" is missing"},
        {GET1, THING(",\"dangling\":1"), -1,
         "$ref \"#/components/schemas/Nowhere\" does not resolve"},
    };
    run(k, sizeof k / sizeof k[0]);
}

/* The real document: it loads, and judges responses shaped like the
 * gateway's. (Whether the gateway's real responses obey it is what every
 * other gateway test checks through the hook.) */
static void test_real_document(void)
{
    char err[600];
    st_oas *g = st_oas_load(st_oas_gateway_doc(), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    char msg[1024];
    const char *tenant = "{\"id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a10\",\"name\":\"acme\","
                         "\"description\":\"\",\"created_at\":\"2026-12-05T10:00:00Z\"}";
    int rc = st_oas_check(g, "GET", "/v1/tenants/0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a10", 200,
                          "application/json", tenant, strlen(tenant), msg, sizeof msg);
    st_assert_fmt(rc == 0, 0, __FILE__, __LINE__, "a tenant: %s", msg);
    const char *bad = "{\"id\":42,\"name\":\"acme\",\"description\":\"\",\"created_at\":\"2026-12-"
                      "05T10:00:00Z\"}";
    rc = st_oas_check(g, "GET", "/v1/tenants/x", 200, "application/json", bad, strlen(bad), msg,
                      sizeof msg);
    st_assert_fmt(rc < 0 && strstr(msg, "GET /v1/tenants/{id} 200: /id: 42 is an integer"), 0,
                  __FILE__, __LINE__, "a tenant with a numeric id: %d %s", rc, msg);
    /* every field an instance always has (task null: 3.0.3 needs null in its
     * enum), first in a state it may be, then in one it never is */
    const char *inst_fmt =
        "{\"id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a10\","
        "\"tenant_id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a11\",\"name\":\"vm\","
        "\"flavor_id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a12\","
        "\"image_id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a13\",\"keypair_id\":null,"
        "\"vcpus\":1,\"memory_mib\":512,\"disk_gib\":1,\"state\":\"%s\","
        "\"task\":null,\"power_desired\":\"running\",\"node_id\":null,\"fault\":null,"
        "\"last_stop\":null,\"last_stop_at\":null,"
        "\"created_at\":\"2026-12-05T10:00:00Z\",\"updated_at\":\"2026-12-05T10:00:00Z\","
        "\"server_group_id\":null,\"host_status\":null,\"migration\":null}";
    char inst[1024];
    snprintf(inst, sizeof inst, inst_fmt, "active");
    rc = st_oas_check(g, "GET", "/v1/instances/x", 200, "application/json", inst, strlen(inst), msg,
                      sizeof msg);
    st_assert_fmt(rc == 0, 0, __FILE__, __LINE__, "an active instance: %s", msg);
    snprintf(inst, sizeof inst, inst_fmt, "flying");
    rc = st_oas_check(g, "GET", "/v1/instances/x", 200, "application/json", inst, strlen(inst), msg,
                      sizeof msg);
    st_assert_fmt(rc < 0 && strstr(msg, "/state: \"flying\" is not one of the enum"), 0, __FILE__,
                  __LINE__, "an instance flying: %d %s", rc, msg);
    rc = st_oas_check(g, "GET", "/v1/no-such-route", 404, "application/json", "{}", 2, msg,
                      sizeof msg);
    CU_ASSERT_EQUAL(rc, -1);
    /* a method a path does not list answers 405 as x-stratus-unlisted-method
     * says, and nothing else */
    const char *e405 = "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"use GET\"}}";
    rc = st_oas_check(g, "POST", "/v1/openapi.json", 405, "application/json", e405, strlen(e405),
                      msg, sizeof msg);
    st_assert_fmt(rc == 0, 0, __FILE__, __LINE__, "405 for an unlisted method: %s", msg);
    rc = st_oas_check(g, "POST", "/v1/openapi.json", 405, "application/json", "{}", 2, msg,
                      sizeof msg);
    CU_ASSERT_EQUAL(rc, -1);
    rc = st_oas_check(g, "POST", "/v1/openapi.json", 200, "application/json", e405, strlen(e405),
                      msg, sizeof msg);
    CU_ASSERT_EQUAL(rc, -1);
    rc = st_oas_check(g, "GET", "/dashboard/no-such-file", 404, "text/plain", "x", 1, msg,
                      sizeof msg);
    CU_ASSERT_EQUAL(rc, 1);
    st_oas_free(g);
}

/* ---- the hook, end to end: a child run of this program ---- */

typedef struct canned {
    int fd;
    char reply[2048];
} canned;

/* Serves the one canned reply to each connection until the program ends. */
static void *serve(void *arg)
{
    canned *c = arg;
    for (;;) {
        int s = accept(c->fd, NULL, NULL);
        if (s < 0)
            return NULL;
        char buf[4096];
        size_t got = 0;
        while (got + 1 < sizeof buf) {
            ssize_t n = read(s, buf + got, sizeof buf - 1 - got);
            if (n <= 0)
                break;
            got += (size_t)n;
            buf[got] = 0;
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        (void)!write(s, c->reply, strlen(c->reply));
        close(s);
    }
}

static char child_base[64], child_path[128];
static const char *child_doc;

static void child_request(void)
{
    st_resp r;
    char url[256];
    snprintf(url, sizeof url, "%s%s", child_base, child_path);
    st_http(&r, "GET", url, NULL, NULL, NULL); /* the line a violation names */
    st_resp_free(&r);
}

static int child_init(void)
{
    st_oas_watch(child_base, child_doc);
    if (getenv("OAS_CHILD_IN_INIT"))
        child_request();
    return 0;
}

static void child_test(void)
{
    if (!getenv("OAS_CHILD_IN_INIT"))
        child_request();
    CU_PASS("the request was made");
}

/* argv: --hook-child DOC PATH STATUS BODY (application/json) */
static int hook_child(char **argv)
{
    child_doc = argv[2];
    snprintf(child_path, sizeof child_path, "%s", argv[3]);
    static canned c;
    snprintf(c.reply, sizeof c.reply,
             "HTTP/1.1 %s X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             argv[4], strlen(argv[5]), argv[5]);
    c.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (c.fd < 0 || bind(c.fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(c.fd, 8) < 0 ||
        getsockname(c.fd, (struct sockaddr *)&a, &al) < 0) {
        perror("canned server");
        return 2;
    }
    snprintf(child_base, sizeof child_base, "http://127.0.0.1:%d", ntohs(a.sin_port));
    pthread_t th;
    pthread_create(&th, NULL, serve, &c);
    pthread_detach(th);
    static CU_TestInfo tests[] = {{"one request", child_test}, CU_TEST_INFO_NULL};
    static CU_SuiteInfo suites[] = {{"child", child_init, NULL, NULL, NULL, tests},
                                    CU_SUITE_INFO_NULL};
    char *args[] = {argv[0], NULL};
    return st_test_main(1, args, suites);
}

static char *doc_file;

/* Runs the child, whose canned server answers status with body; returns
 * its exit status and its output (malloc'd). */
static int run_child(const char *env, const char *path, const char *status, const char *body,
                     char **out)
{
    char exe[512];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s '%s' --hook-child '%s' '%s' '%s' '%s' 2>&1", env, exe, doc_file,
             path, status, body);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, len = 0;
    char *o = calloc(1, cap);
    size_t got;
    while (p && (got = fread(o + len, 1, cap - 1 - len, p)) > 0)
        len += got;
    int st = p ? pclose(p) : -1;
    *out = o;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define OK_THING "200", "{\"id\":\"0b6d7c52-8f0e-4d8e-9a53-2f7b1c9e4a10\",\"n\":3}"
#define BAD_THING "200", "{\"id\":\"nope\",\"n\":3}"
#define NOT_FOUND "404", "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}"

static int hook_suite_init(void)
{
    char *dir = st_tmpdir("oas");
    doc_file = malloc(600);
    snprintf(doc_file, 600, "%s/doc.json", dir);
    free(dir);
    FILE *f = fopen(doc_file, "w");
    if (!f)
        return 1;
    fputs(doc_text, f);
    fclose(f);
    return 0;
}

static int hook_suite_cleanup(void)
{
    char *slash = strrchr(doc_file, '/');
    unlink(doc_file);
    *slash = 0;
    st_rmtree(doc_file);
    free(doc_file);
    return 0;
}

static void test_hook_passes_a_good_response(void)
{
    char *out;
    int st = run_child("", "/v1/things/7", OK_THING, &out);
    st_assert_fmt(st == 0, 0, __FILE__, __LINE__, "child exit %d: %s", st, out);
    free(out);
}

static void test_hook_fails_the_test_that_got_a_bad_response(void)
{
    char *out;
    int st = run_child("", "/v1/things/7", BAD_THING, &out);
    st_assert_fmt(st == 1, 0, __FILE__, __LINE__, "child exit %d: %s", st, out);
    st_assert_fmt(strstr(out, "OpenAPI: GET /v1/things/{id} 200: /id: \"nope\" is not a uuid") &&
                      strstr(out, "test_oas.c"),
                  0, __FILE__, __LINE__, "child said: %s", out);
    free(out);
}

static void test_hook_fails_an_undocumented_request(void)
{
    char *out;
    int st = run_child("", "/v1/undocumented?x=1", NOT_FOUND, &out);
    st_assert_fmt(st == 1, 0, __FILE__, __LINE__, "child exit %d: %s", st, out);
    st_assert_fmt(strstr(out, "GET /v1/undocumented 404: the path is not in the document") != NULL,
                  0, __FILE__, __LINE__, "child said: %s", out);
    free(out);
}

static void test_hook_fails_outside_a_test(void)
{
    char *out;
    int st = run_child("OAS_CHILD_IN_INIT=1", "/v1/things/7", BAD_THING, &out);
    st_assert_fmt(st == 1, 0, __FILE__, __LINE__, "child exit %d: %s", st, out);
    st_assert_fmt(strstr(out, "(outside a test)") != NULL, 0, __FILE__, __LINE__, "child said: %s",
                  out);
    free(out);
}

static void test_report_file_instead_of_failing(void)
{
    char rep[700], env[800], *out;
    snprintf(rep, sizeof rep, "%s.report", doc_file);
    unlink(rep);
    snprintf(env, sizeof env, "STRATUS_OAS_REPORT='%s'", rep);
    int st = run_child(env, "/v1/things/7", BAD_THING, &out);
    st_assert_fmt(st == 0, 0, __FILE__, __LINE__, "child exit %d: %s", st, out);
    free(out);
    char *line = st_out("cat '%s'", rep);
    st_assert_fmt(strstr(line, "GET /v1/things/{id} 200: /id: \"nope\" is not a uuid\t") &&
                      strstr(line, "test_oas.c:") && strstr(line, "\tone request\n"),
                  0, __FILE__, __LINE__, "report: %s", line);
    free(line);
    unlink(rep);
}

static CU_TestInfo check_tests[] = {
    {"operation, status and media type", test_operation_status_and_media},
    {"type, nullable, enum, required", test_types_and_nullable},
    {"numbers, strings and formats", test_numbers_and_strings},
    {"objects, arrays, allOf/oneOf/anyOf/not, $ref", test_objects_arrays_and_combinators},
    {"the gateway's openapi.json loads and judges", test_real_document},
    CU_TEST_INFO_NULL,
};
static CU_TestInfo hook_tests[] = {
    {"a good response passes", test_hook_passes_a_good_response},
    {"a bad response fails the test that got it", test_hook_fails_the_test_that_got_a_bad_response},
    {"an undocumented path fails", test_hook_fails_an_undocumented_request},
    {"a bad response outside a test fails the program", test_hook_fails_outside_a_test},
    {"STRATUS_OAS_REPORT appends instead of failing", test_report_file_instead_of_failing},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"check", suite_init, suite_cleanup, NULL, NULL, check_tests},
    {"hook", hook_suite_init, hook_suite_cleanup, NULL, NULL, hook_tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "--hook-child") == 0)
        return hook_child(argv);
    unsetenv("STRATUS_OAS_REPORT"); /* the checks here are about failing */
    return st_test_main(argc, argv, suites);
}
