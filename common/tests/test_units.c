/* Unit tests of common/: config, JSON validation, UUIDs, times, metrics. */
#include "st_test.h"
#include "stratus/config.h"
#include "stratus/crypto.h"
#include "stratus/errcode.h"
#include "stratus/json.h"
#include "stratus/metrics.h"
#include "stratus/netaddr.h"
#include "stratus/timefmt.h"
#include "stratus/uuid.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const st_config_key keys[] = {
    {"db.url", "host=/x", "db"},
    {"http.threads", "4", "threads"},
    {"flag", "false", "a flag"},
    {0},
};

static void test_config_layers(void)
{
    char path[] = "/tmp/stratus-cfg-XXXXXX", err[256];
    int fd = mkstemp(path);
    const char *text = "# comment\n db.url = \"host=/file dbname=x\" \nhttp.threads=8\n";
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    st_config *c = st_config_new(keys, "STTEST_");
    ST_ASSERT_STR_EQ(st_config_str(c, "db.url"), "host=/x");
    ST_ASSERT_INT_EQ(st_config_load_file(c, path, err, sizeof err), 0);
    ST_ASSERT_STR_EQ(st_config_str(c, "db.url"), "host=/file dbname=x");
    ST_ASSERT_INT_EQ(st_config_int(c, "http.threads"), 8);
    setenv("STTEST_HTTP_THREADS", "16", 1);
    st_config_load_env(c);
    ST_ASSERT_INT_EQ(st_config_int(c, "http.threads"), 16);
    unsetenv("STTEST_HTTP_THREADS");
    ST_ASSERT_INT_EQ(st_config_set(c, "flag", "yes", err, sizeof err), 0);
    CU_ASSERT_TRUE(st_config_bool(c, "flag"));
    st_config_free(c);
    unlink(path);
}

static void test_config_unknown_key_is_an_error(void)
{
    char path[] = "/tmp/stratus-cfg-XXXXXX", err[256] = "";
    int fd = mkstemp(path);
    const char *text = "db.ulr = typo\n";
    CU_ASSERT_FATAL(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    st_config *c = st_config_new(keys, "STTEST_");
    ST_ASSERT_INT_EQ(st_config_load_file(c, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "db.ulr"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":1:"));
    st_config_free(c);
    unlink(path);
}

static void test_json_validation_messages(void)
{
    char err[256];
    const char *bad = "{\"a\": 1,";
    CU_ASSERT_PTR_NULL(st_json_parse_object(bad, strlen(bad), err, sizeof err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "malformed JSON"));
    CU_ASSERT_PTR_NULL(st_json_parse_object("[1]", 3, err, sizeof err));
    CU_ASSERT_PTR_NULL(st_json_parse_object("{\"a\":1,\"a\":2}", 13, err, sizeof err));
    CU_ASSERT_PTR_NULL(st_json_parse_object("", 0, err, sizeof err));

    const char *ok = "{\"name\":\"web\",\"n\":5,\"b\":true,\"x\":1}";
    json_t *o = st_json_parse_object(ok, strlen(ok), err, sizeof err);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    const char *name = NULL;
    long long n = 0;
    int b = 0;
    ST_ASSERT_INT_EQ(st_json_get_str(o, "name", 1, 1, 64, &name, err, sizeof err), 0);
    ST_ASSERT_STR_EQ(name, "web");
    ST_ASSERT_INT_EQ(st_json_get_str(o, "name", 1, 4, 64, &name, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(st_json_get_int(o, "n", 1, 1, 10, &n, err, sizeof err), 0);
    ST_ASSERT_INT_EQ(n, 5);
    ST_ASSERT_INT_EQ(st_json_get_int(o, "n", 1, 6, 10, &n, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "from 6 to 10"));
    ST_ASSERT_INT_EQ(st_json_get_int(o, "name", 1, 0, 10, &n, err, sizeof err), -1);
    ST_ASSERT_INT_EQ(st_json_get_bool(o, "b", 1, &b, err, sizeof err), 0);
    CU_ASSERT_TRUE(b);
    ST_ASSERT_INT_EQ(st_json_get_str(o, "missing", 1, 0, 9, &name, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'missing' is required"));
    ST_ASSERT_INT_EQ(st_json_get_str(o, "missing", 0, 0, 9, &name, err, sizeof err), 0);
    const char *allowed[] = {"name", "n", "b", NULL};
    ST_ASSERT_INT_EQ(st_json_only_keys(o, allowed, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'x'"));
    json_decref(o);

    /* an embedded NUL must not pass as a shorter string: refused at parse */
    const char *nul = "{\"name\":\"a\\u0000b\"}";
    CU_ASSERT_PTR_NULL(st_json_parse_object(nul, strlen(nul), err, sizeof err));
}

static void test_uuid_v4_form(void)
{
    char a[ST_UUID_LEN + 1], b[ST_UUID_LEN + 1];
    st_uuid_v4(a);
    st_uuid_v4(b);
    CU_ASSERT_TRUE(st_uuid_valid(a));
    CU_ASSERT_STRING_NOT_EQUAL(a, b);
    CU_ASSERT_EQUAL(a[14], '4');
    CU_ASSERT_TRUE(strchr("89ab", a[19]) != NULL);
    CU_ASSERT_FALSE(st_uuid_valid("not-a-uuid"));
    CU_ASSERT_FALSE(st_uuid_valid("123e4567-e89b-12d3-a456-4266141740001"));
    CU_ASSERT_FALSE(st_uuid_valid("123e4567+e89b-12d3-a456-426614174000"));
    CU_ASSERT_TRUE(st_uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
}

static void test_rfc3339_round_trip(void)
{
    char out[ST_TIME_LEN];
    int64_t us;
    ST_ASSERT_INT_EQ(st_time_parse("2026-11-24T08:01:37Z", &us), 0);
    ST_ASSERT_INT_EQ(us, 1795507297LL * 1000000);
    st_time_format(us, out);
    ST_ASSERT_STR_EQ(out, "2026-11-24T08:01:37Z");
    ST_ASSERT_INT_EQ(st_time_parse("2026-11-24T10:01:37.5+02:00", &us), 0);
    ST_ASSERT_INT_EQ(us, 1795507297LL * 1000000 + 500000);
    st_time_format_us(us, out);
    ST_ASSERT_STR_EQ(out, "2026-11-24T08:01:37.500000Z");
    ST_ASSERT_INT_EQ(st_time_parse("2026-02-30T00:00:00Z", &us), -1);
    ST_ASSERT_INT_EQ(st_time_parse("2026-11-24 08:01:37", &us), -1);
    ST_ASSERT_INT_EQ(st_time_parse("2026-11-24T08:01:37Zjunk", &us), -1);
    ST_ASSERT_INT_EQ(st_time_from_pg("2026-11-24 08:01:37.123+00", out), 0);
    ST_ASSERT_STR_EQ(out, "2026-11-24T08:01:37Z");
    ST_ASSERT_INT_EQ(st_time_from_pg("2026-11-24 08:01:37+01", out), -1);
    /* the fast formatter agrees with strftime across a wide span of times */
    char slow[ST_TIME_LEN], fast[ST_TIME_LEN];
    for (int64_t t = -2208988800LL; t < 4102444800LL; t += 86400LL * 37 + 3671) {
        st_time_format(t * 1000000 + 999999, slow);
        ST_ASSERT_INT_EQ(st_time_format_fast(t * 1000000 + 999999, fast), 20);
        if (strcmp(slow, fast) != 0) {
            ST_ASSERT_STR_EQ(fast, slow);
            break;
        }
    }
}

static void test_crypto_helpers(void)
{
    char hex[65];
    st_sha256_hex("abc", 3, hex);
    ST_ASSERT_STR_EQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CU_ASSERT_TRUE(st_ct_streq("secret", "secret"));
    CU_ASSERT_FALSE(st_ct_streq("secret", "secreT"));
    CU_ASSERT_FALSE(st_ct_streq("secret", "secrets"));
    char r1[33], r2[33];
    st_random_hex(r1, 16);
    st_random_hex(r2, 16);
    ST_ASSERT_INT_EQ(strlen(r1), 32);
    CU_ASSERT_STRING_NOT_EQUAL(r1, r2);
}

static void test_metrics_exposition(void)
{
    st_metric *c = st_counter("t_requests_total", "Requests.", "code=\"200\"");
    st_metric *c2 = st_counter("t_requests_total", "Requests.", "code=\"500\"");
    st_metric *g = st_gauge("t_temp", "Temperature.", "");
    double b[] = {0.1, 1};
    st_metric *h = st_histogram("t_lat_seconds", "Latency.", "", b, 2);
    /* same name and labels -> same metric */
    CU_ASSERT_PTR_EQUAL(c, st_counter("t_requests_total", "Requests.", "code=\"200\""));
    st_metric_add(c, 2);
    st_metric_add(c2, 1);
    st_metric_set(g, -3.5);
    st_metric_observe(h, 0.05);
    st_metric_observe(h, 0.5);
    st_metric_observe(h, 5);
    /* a family registered later than others must still render together */
    st_counter("t_requests_total", "Requests.", "code=\"404\"");
    size_t len;
    char *text = st_metrics_render(&len);
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "# TYPE t_requests_total counter\n"
                                        "t_requests_total{code=\"200\"} 2\n"
                                        "t_requests_total{code=\"500\"} 1\n"
                                        "t_requests_total{code=\"404\"} 0\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "t_temp -3.5\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(text, "t_lat_seconds_bucket{le=\"0.1\"} 1\n"
                                        "t_lat_seconds_bucket{le=\"1\"} 2\n"
                                        "t_lat_seconds_bucket{le=\"+Inf\"} 3\n"
                                        "t_lat_seconds_sum 5.55\n"
                                        "t_lat_seconds_count 3\n"));
    ST_ASSERT_INT_EQ(len, strlen(text));
    free(text);
}

static void test_cidr_lists_and_matching(void)
{
    st_cidr *c;
    char err[200];
    int n = st_cidr_parse_list(" 10.0.0.0/8, 192.0.2.1 ,2001:db8::/32,, 172.16.0.0/12", &c, err,
                               sizeof err);
    ST_ASSERT_INT_EQ(n, 4);
    CU_ASSERT_TRUE(st_cidr_match(c, n, "10.255.1.2"));
    CU_ASSERT_FALSE(st_cidr_match(c, n, "11.0.0.1"));
    CU_ASSERT_TRUE(st_cidr_match(c, n, "192.0.2.1"));
    CU_ASSERT_FALSE(st_cidr_match(c, n, "192.0.2.2"));
    CU_ASSERT_TRUE(st_cidr_match(c, n, "2001:db8:ffff::9"));
    CU_ASSERT_FALSE(st_cidr_match(c, n, "2001:db9::1"));
    CU_ASSERT_TRUE(st_cidr_match(c, n, "172.31.255.255"));
    CU_ASSERT_FALSE(st_cidr_match(c, n, "172.32.0.0"));
    CU_ASSERT_TRUE(st_cidr_match(c, n, "::ffff:10.0.0.1")); /* v4 in v6 is v4 */
    CU_ASSERT_FALSE(st_cidr_match(c, n, "garbage"));
    CU_ASSERT_FALSE(st_cidr_match(c, n, ""));
    free(c);
    ST_ASSERT_INT_EQ(st_cidr_parse_list("", &c, err, sizeof err), 0);
    CU_ASSERT_PTR_NULL(c);
    ST_ASSERT_INT_EQ(st_cidr_parse_list("0.0.0.0/0", &c, err, sizeof err), 1);
    CU_ASSERT_TRUE(st_cidr_match(c, 1, "198.51.100.3"));
    CU_ASSERT_FALSE(st_cidr_match(c, 1, "::1"));
    free(c);
    const char *bad[] = {"10.0.0.0/33",  "10.0.0.0/",    "10.0.0.0/x", "::/129",
                         "host.example", "10.0.0.0/8/8", "1.2.3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        ST_ASSERT_INT_EQ(st_cidr_parse_list(bad[i], &c, err, sizeof err), -1);
        CU_ASSERT_PTR_NULL(c);
        CU_ASSERT_TRUE(err[0] != 0);
    }
    /* the client address: only a trusted peer's header is read */
    st_cidr *t;
    n = st_cidr_parse_list("10.0.0.0/8", &t, err, sizeof err);
    char out[64];
    st_client_address(t, n, "198.51.100.1", "203.0.113.7", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "198.51.100.1");
    st_client_address(t, n, "10.0.0.1", "1.1.1.1, 203.0.113.7, 10.0.0.2", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "203.0.113.7");
    st_client_address(t, n, "10.0.0.1", NULL, out, sizeof out);
    ST_ASSERT_STR_EQ(out, "10.0.0.1");
    st_client_address(t, n, "10.0.0.1", ",", out, sizeof out);
    ST_ASSERT_STR_EQ(out, "10.0.0.1");
    free(t);
}

/* The error-code table: every name is unique and snake_case, statuses are
 * errors, the one spelling of a bad request is invalid_request, and a value
 * outside the table reads as internal, never as NULL. */
static void test_errcode_table(void)
{
    for (int a = 0; a < ST_E__COUNT; a++) {
        const char *n = st_err_name((st_err)a);
        CU_ASSERT_FATAL(n && *n);
        CU_ASSERT(strspn(n, "abcdefghijklmnopqrstuvwxyz_") == strlen(n));
        CU_ASSERT(st_err_status((st_err)a) >= 400 && st_err_status((st_err)a) <= 599);
        CU_ASSERT(st_err_meaning((st_err)a)[0] != 0);
        CU_ASSERT(strcmp(n, "bad_request") != 0);
        for (int b = a + 1; b < ST_E__COUNT; b++)
            st_assert_fmt(strcmp(n, st_err_name((st_err)b)) != 0, 0, __FILE__, __LINE__,
                          "%s is in the table twice", n);
    }
    ST_ASSERT_STR_EQ(st_err_name(ST_E_INVALID_REQUEST), "invalid_request");
    ST_ASSERT_INT_EQ(st_err_status(ST_E_NOT_FOUND), 404);
    ST_ASSERT_STR_EQ(st_err_name(ST_E__COUNT), "internal");
    ST_ASSERT_INT_EQ(st_err_status((st_err)-1), 500);
}

static CU_TestInfo tests[] = {
    {"netaddr: CIDR lists, matching, the client behind proxies", test_cidr_lists_and_matching},
    {"config: defaults < file < environment < set", test_config_layers},
    {"config: an unknown key is an error naming the line", test_config_unknown_key_is_an_error},
    {"json: malformed and invalid fields get clear messages", test_json_validation_messages},
    {"uuid: version 4 in canonical form, validation", test_uuid_v4_form},
    {"time: RFC 3339 parse and format", test_rfc3339_round_trip},
    {"crypto: sha256, constant-time compare, random", test_crypto_helpers},
    {"metrics: Prometheus text exposition", test_metrics_exposition},
    {"errcode: one table of unique codes", test_errcode_table},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {"units", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
