/* The ingest batch parser: what it accepts, what it reduces the VMM counters
 * to, and that every malformed or invalid batch is refused with the right
 * class (400 syntax / 422 content) and a message naming the field. */
#include "batch.h"
#include "billing.h"
#include "jsonr.h"
#include "st_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH "\"batch_id\":\"0B8A1F43-5D36-4A2E-9D1C-1F0E2D3C4B5A\""
#define IDS                                                                                        \
    "\"tenant_id\":\"11111111-1111-4111-8111-111111111111\","                                      \
    "\"instance_id\":\"22222222-2222-4222-8222-222222222222\","
#define BOOT "\"boot_id\":\"33333333-3333-4333-8333-333333333333\""
#define VMM                                                                                        \
    "{\"boot_id\":\"33333333-3333-4333-8333-333333333333\","                                       \
    "\"vcpus\":[{\"id\":0,\"cpu_time_ns\":100,\"cycles\":1000},{\"id\":1,\"cpu_time_ns\":50,"      \
    "\"cycles\":700}],\"cpu_time_ns_total\":150,\"cycles_total\":1700,"                            \
    "\"nics\":[{\"id\":\"net0\",\"rx_bytes\":10,\"rx_packets\":1,\"tx_bytes\":20,"                 \
    "\"tx_packets\":2},{\"id\":\"net1\",\"rx_bytes\":5,\"rx_packets\":1,\"tx_bytes\":6,"           \
    "\"tx_packets\":1}],\"disks\":[{\"id\":\"disk0\",\"read_bytes\":4096,\"read_ops\":1,"          \
    "\"write_bytes\":8192,\"write_ops\":2}],\"exits\":{\"io\":3,\"mmio\":[1,2.5e3,null]},"         \
    "\"future_counter\":{\"x\":true}}"
#define SAMPLE(seq, counters)                                                                      \
    "{" IDS "\"flavor\":\"m1.small\",\"state\":\"active\"," BOOT ",\"seq\":" #seq                  \
    ",\"sampled_at\":\"2026-10-01T05:00:01.5Z\",\"counters\":" counters "}"

static int parse(const char *text, bl_batch *b, char *err)
{
    return bl_batch_parse(text, strlen(text), b, err, 256);
}

static void test_valid_batch_reduces_counters(void)
{
    bl_batch b;
    char err[256] = "";
    int rc = parse(
        "{" BATCH ",\"samples\":[" SAMPLE(
            7, VMM) ",{\"kind\":\"storage\","
                    "\"tenant_id\":\"11111111-1111-4111-8111-111111111111\","
                    "\"sampled_at\":\"2026-10-01T05:30:00+02:00\",\"image_bytes\":1073741824}]}",
        &b, err);
    ST_ASSERT_INT_EQ_FATAL(rc, BL_OK);
    ST_ASSERT_STR_EQ(b.batch_id, "0b8a1f43-5d36-4a2e-9d1c-1f0e2d3c4b5a");
    ST_ASSERT_INT_EQ_FATAL(b.n, 2);
    bl_sample *s = &b.s[0];
    ST_ASSERT_INT_EQ(s->kind, BL_KIND_INSTANCE);
    ST_ASSERT_INT_EQ(s->billable, 1);
    ST_ASSERT_INT_EQ(s->seq, 7);
    ST_ASSERT_INT_EQ(s->at_us, 1790830801500000LL);
    ST_ASSERT_INT_EQ(s->c[BL_CPU_CYCLES], 1700);
    ST_ASSERT_INT_EQ(s->c[BL_CPU_TIME_NS], 150);
    ST_ASSERT_INT_EQ(s->c[BL_RX_BYTES], 15);
    ST_ASSERT_INT_EQ(s->c[BL_RX_PACKETS], 2);
    ST_ASSERT_INT_EQ(s->c[BL_TX_BYTES], 26);
    ST_ASSERT_INT_EQ(s->c[BL_TX_PACKETS], 3);
    ST_ASSERT_INT_EQ(s->c[BL_DISK_READ_BYTES], 4096);
    ST_ASSERT_INT_EQ(s->c[BL_DISK_WRITE_BYTES], 8192);
    ST_ASSERT_INT_EQ(s->c[BL_DISK_WRITE_OPS], 2);
    ST_ASSERT_STR_EQ(s->flavor, "m1.small");
    ST_ASSERT_INT_EQ(b.s[1].kind, BL_KIND_STORAGE);
    ST_ASSERT_INT_EQ(b.s[1].storage_bytes, 1073741824);
    ST_ASSERT_INT_EQ(b.s[1].at_us, 1790825400000000LL);
    bl_batch_free(&b);
}

static void test_vcpus_used_when_totals_absent(void)
{
    bl_batch b;
    char err[256] = "";
    int rc = parse("{" BATCH ",\"samples\":[" SAMPLE(
                       1, "{\"vcpus\":[{\"id\":0,\"cpu_time_ns\":5,"
                          "\"cycles\":9},{\"id\":3,\"cpu_time_ns\":6,\"cycles\":10}]}") "]}",
                   &b, err);
    ST_ASSERT_INT_EQ_FATAL(rc, BL_OK);
    ST_ASSERT_INT_EQ(b.s[0].c[BL_CPU_CYCLES], 19);
    ST_ASSERT_INT_EQ(b.s[0].c[BL_CPU_TIME_NS], 11);
    ST_ASSERT_INT_EQ(b.s[0].c[BL_RX_BYTES], 0);
    bl_batch_free(&b);
}

/* NICs naming their ports keep their own bytes; without, a sample's ports
 * are unknown (an older node), and the totals are the same either way. */
#define NIC(id, port, rx, tx)                                                                      \
    "{\"id\":\"" id "\"" port ",\"rx_bytes\":" #rx ",\"rx_packets\":1,\"tx_bytes\":" #tx           \
    ",\"tx_packets\":1}"
#define PA ",\"port_id\":\"44444444-4444-4444-8444-44444444444A\""
#define PB ",\"port_id\":\"55555555-5555-4555-8555-555555555555\""
#define CPU "{\"cycles_total\":1,\"cpu_time_ns_total\":1,\"nics\":["
static const char nics_both[] = CPU NIC("net0", PA, 10, 20) "," NIC("net1", PB, 3, 4) "]}";
static const char nics_one[] = CPU NIC("net0", PA, 11, 21) "," NIC("net1", "", 5, 6) "]}";
static const char nics_twice[] = CPU NIC("net0", PA, 1, 1) "," NIC("net1", PA, 1, 1) "]}";
#undef NIC
#undef CPU
#undef PA
#undef PB

static void test_nics_keep_bytes_by_port(void)
{
    bl_batch b;
    char err[256] = "", text[2048];
    snprintf(text, sizeof text, "{" BATCH ",\"samples\":[" SAMPLE(1, "%s") "," SAMPLE(2, "%s") "]}",
             nics_both, nics_one);
    ST_ASSERT_INT_EQ_FATAL(parse(text, &b, err), BL_OK);
    bl_sample *s = &b.s[0];
    ST_ASSERT_INT_EQ(s->ports_known, 1);
    ST_ASSERT_INT_EQ_FATAL(s->nports, 2);
    ST_ASSERT_STR_EQ(s->ports[0].id, "44444444-4444-4444-8444-44444444444a");
    ST_ASSERT_INT_EQ(s->ports[0].rx, 10);
    ST_ASSERT_INT_EQ(s->ports[1].tx, 4);
    ST_ASSERT_INT_EQ(s->c[BL_RX_BYTES], 13);
    s = &b.s[1];
    ST_ASSERT_INT_EQ(s->ports_known, 0); /* net1 names no port */
    ST_ASSERT_INT_EQ_FATAL(s->nports, 1);
    ST_ASSERT_INT_EQ(s->ports[0].rx, 11);
    ST_ASSERT_INT_EQ(s->c[BL_TX_BYTES], 27);
    bl_batch_free(&b);
    /* one port for two NICs is refused */
    snprintf(text, sizeof text, "{" BATCH ",\"samples\":[" SAMPLE(1, "%s") "]}", nics_twice);
    ST_ASSERT_INT_EQ(parse(text, &b, err), BL_EINVALID);
    ST_ASSERT_INT_EQ(strstr(err, "nics[1].port_id") != NULL, 1);
}

static void test_empty_batch_is_valid(void)
{
    bl_batch b;
    char err[256];
    ST_ASSERT_INT_EQ(parse(" {\"samples\":[]," BATCH "}\n", &b, err), BL_OK);
    ST_ASSERT_INT_EQ(b.n, 0);
    bl_batch_free(&b);
}

typedef struct bad_case {
    const char *json;
    int rc;
    const char *msg; /* substring of the error */
} bad_case;

static void test_malformed_batches_are_refused_with_reason(void)
{
    static const bad_case cases[] = {
        {"", BL_ESYNTAX, "end of input"},
        {"{" BATCH ",\"samples\":[", BL_ESYNTAX, "end of input"},
        {"{" BATCH ",\"samples\":[]}x", BL_ESYNTAX, "end of input"},
        {"{" BATCH ",\"samples\":[],}", BL_ESYNTAX, "expected"},
        {"{\"batch_id\":\"a\xff\",\"samples\":[]}", BL_ESYNTAX, "UTF-8"},
        {"{\"batch_id\":\"a\x01\",\"samples\":[]}", BL_ESYNTAX, "control"},
        {"{\"batch_id\":\"\\ud800\",\"samples\":[]}", BL_ESYNTAX, "surrogate"},
        {"{\"batch_id\":\"\\q\",\"samples\":[]}", BL_ESYNTAX, "escape"},
        {"{\"x\":01}", BL_ESYNTAX, "expected"},
        {"[]", BL_EINVALID, "must be a JSON object"},
        {"{\"samples\":[]}", BL_EINVALID, "batch_id: is required"},
        {"{" BATCH "}", BL_EINVALID, "samples: is required"},
        {"{" BATCH "," BATCH ",\"samples\":[]}", BL_EINVALID, "given twice"},
        {"{" BATCH ",\"samples\":[],\"extra\":1}", BL_EINVALID, "unknown field 'extra'"},
        {"{\"batch_id\":\"not-a-uuid\",\"samples\":[]}", BL_EINVALID, "batch_id: must be a UUID"},
        {"{" BATCH ",\"samples\":{}}", BL_EINVALID, "samples: must be an array"},
        {"{" BATCH ",\"samples\":[1]}", BL_EINVALID, "samples[0]: must be an object"},
        {"{" BATCH ",\"samples\":[" SAMPLE(-1, VMM) "]}", BL_EINVALID, "samples[0].seq"},
        {"{" BATCH ",\"samples\":[" SAMPLE(1.5, VMM) "]}", BL_EINVALID, "samples[0].seq"},
        {"{" BATCH ",\"samples\":[" SAMPLE(9223372036854775808, VMM) "]}", BL_EINVALID, "seq"},
        {"{" BATCH ",\"samples\":[" SAMPLE(1, "{}") "]}", BL_EINVALID, "needs 'cycles_total'"},
        {"{" BATCH ",\"samples\":[" SAMPLE(1, "{\"cycles_total\":-5,\"cpu_time_ns_total\":1}") "]}",
         BL_EINVALID, "counters.cycles_total"},
        {"{" BATCH ",\"samples\":[" SAMPLE(1, "{\"cycles_total\":1,\"cpu_time_ns_total\":1,"
                                              "\"nics\":[{\"id\":\"n\",\"rx_bytes\":1}]}") "]}",
         BL_EINVALID, "'rx_packets' is required"},
        {"{" BATCH ",\"samples\":[" SAMPLE(
             1, "{\"cycles_total\":1,\"cpu_time_ns_total\":1,"
                "\"nics\":[{\"id\":\"n\",\"rx_bytes\":9223372036854775807,\"rx_packets\":0,"
                "\"tx_bytes\":0,\"tx_packets\":0},{\"id\":\"m\",\"rx_bytes\":1,\"rx_packets\":0,"
                "\"tx_bytes\":0,\"tx_packets\":0}]}") "]}",
         BL_EINVALID, "beyond 2^63"},
        {"{" BATCH ",\"samples\":[" SAMPLE(
             1, "{\"cycles_total\":1,\"cpu_time_ns_total\":1,"
                "\"disks\":[{\"id\":\"d\",\"read_bytes\":0,\"read_ops\":0,\"write_bytes\":0,"
                "\"write_ops\":0},{\"id\":\"d\",\"read_bytes\":0,\"read_ops\":0,\"write_bytes\":0,"
                "\"write_ops\":0}]}") "]}",
         BL_EINVALID, "listed twice"},
        {"{" BATCH
         ",\"samples\":[" SAMPLE(1, "{\"boot_id\":\"44444444-4444-4444-8444-444444444444\","
                                    "\"cycles_total\":1,\"cpu_time_ns_total\":1}") "]}",
         BL_EINVALID, "differs"},
        {"{" BATCH ",\"samples\":[{" IDS "\"flavor\":\"m1 small\"}]}", BL_EINVALID, "flavor"},
        {"{" BATCH ",\"samples\":[{" IDS "\"state\":\"running\"}]}", BL_EINVALID, "state"},
        {"{" BATCH ",\"samples\":[{" IDS "\"sampled_at\":\"yesterday\"}]}", BL_EINVALID,
         "sampled_at"},
        {"{" BATCH ",\"samples\":[{" IDS "\"sampled_at\":\"1999-12-31T23:59:59Z\"}]}", BL_EINVALID,
         "sampled_at"},
        {"{" BATCH ",\"samples\":[{" IDS "\"flavor\":\"x\"}]}", BL_EINVALID, "is required"},
        {"{" BATCH ",\"samples\":[{\"kind\":\"storage\",\"tenant_id\":"
         "\"11111111-1111-4111-8111-111111111111\",\"sampled_at\":\"2026-10-01T00:00:00Z\","
         "\"image_bytes\":1,\"seq\":1}]}",
         BL_EINVALID, "not allowed in a storage sample"},
        {"{" BATCH ",\"samples\":[{\"kind\":\"disk\"}]}", BL_EINVALID, "kind"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bl_batch b;
        char err[256] = "";
        int rc = parse(cases[i].json, &b, err);
        st_assert_fmt(rc == cases[i].rc && strstr(err, cases[i].msg) != NULL, 0, __FILE__, __LINE__,
                      "case %zu: rc %d (want %d), error \"%s\" should contain \"%s\"", i, rc,
                      cases[i].rc, err, cases[i].msg);
        ST_ASSERT_INT_EQ(b.n, 0);
        ST_ASSERT_INT_EQ(b.s == NULL, 1);
    }
}

static void test_nesting_and_size_limits(void)
{
    /* Deep nesting inside an ignored counter is refused, not recursed into. */
    char *deep = malloc(4096);
    strcpy(deep, "{" BATCH ",\"samples\":["
                 "{" IDS "\"counters\":{\"x\":");
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    strcat(deep, "]}}]}");
    bl_batch b;
    char err[256] = "";
    ST_ASSERT_INT_EQ(parse(deep, &b, err), BL_ESYNTAX);
    ST_ASSERT_INT_EQ(strstr(err, "nested deeper") != NULL, 1);
    free(deep);

    /* More samples than a batch may hold. */
    size_t cap = (size_t)(BL_MAX_SAMPLES + 1) * 400 + 200;
    char *big = malloc(cap);
    size_t n = (size_t)snprintf(big, cap, "{" BATCH ",\"samples\":[");
    for (int i = 0; i <= BL_MAX_SAMPLES; i++)
        n += (size_t)snprintf(big + n, cap - n,
                              "%s" SAMPLE(1, "{\"cycles_total\":1,"
                                             "\"cpu_time_ns_total\":1}"),
                              i ? "," : "");
    snprintf(big + n, cap - n, "]}");
    ST_ASSERT_INT_EQ(parse(big, &b, err), BL_EINVALID);
    ST_ASSERT_INT_EQ(strstr(err, "more than 10000") != NULL, 1);
    free(big);
}

static void test_reader_decodes_escapes(void)
{
    jr r;
    const char *t = "\"a\\u00e9\\ud83d\\ude00\\n\\\"\"";
    jr_init(&r, t, strlen(t));
    char out[32];
    size_t len;
    ST_ASSERT_INT_EQ(jr_string(&r, out, sizeof out, &len), 0);
    ST_ASSERT_STR_EQ(out, "a\xc3\xa9\xf0\x9f\x98\x80\n\"");
    ST_ASSERT_INT_EQ(len, 9);
    ST_ASSERT_INT_EQ(jr_end(&r), 0);
}

static void test_tax_rates_and_number_formats_parse_strictly(void)
{
    bl_tax_rate r[8];
    ST_ASSERT_INT_EQ(bl_tax_rates_parse("DE=19,FR=20, CH=8.1,LU=16.05", r, 8), 4);
    ST_ASSERT_INT_EQ(r[0].bp, 1900);
    ST_ASSERT_INT_EQ(r[2].bp, 810);
    ST_ASSERT_STR_EQ(r[3].country, "LU");
    ST_ASSERT_INT_EQ(r[3].bp, 1605);
    ST_ASSERT_INT_EQ(bl_tax_rates_parse("", r, 8), 0);
    const char *bad[] = {"de=19", "DE=",    "DE=19.123", "DE=101", "DE=19,DE=7",
                         "DE:19", "DE=19x", "DE=.5",     "DEU=19"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        st_assert_fmt(bl_tax_rates_parse(bad[i], r, 8) == -1, 0, __FILE__, __LINE__,
                      "tax.rates \"%s\" was accepted", bad[i]);
    char t[64];
    bl_rate_text(1900, t, sizeof t);
    ST_ASSERT_STR_EQ(t, "19%");
    bl_rate_text(770, t, sizeof t);
    ST_ASSERT_STR_EQ(t, "7.7%");
    bl_rate_text(525, t, sizeof t);
    ST_ASSERT_STR_EQ(t, "5.25%");
    int64_t jan26 = 1767225600000000LL, may25 = 1746057600000000LL;
    ST_ASSERT_INT_EQ(bl_number_text("INV-{n:6}", 42, jan26, may25, t, sizeof t), 0);
    ST_ASSERT_STR_EQ(t, "INV-000042");
    ST_ASSERT_INT_EQ(bl_number_text("{yyyy}/{period}/{n}", 7, jan26, may25, t, sizeof t), 0);
    ST_ASSERT_STR_EQ(t, "2026/2025-05/7");
    ST_ASSERT_INT_EQ(bl_number_text("X{n:12}", 1, jan26, may25, t, sizeof t), 0);
    ST_ASSERT_STR_EQ(t, "X000000000001");
    const char *badf[] = {"", "{n:0}", "{n:13}", "{x}", "{n", "{n:6"};
    for (size_t i = 0; i < sizeof badf / sizeof *badf; i++)
        st_assert_fmt(!bl_number_format_valid(badf[i]), 0, __FILE__, __LINE__,
                      "number format \"%s\" was accepted", badf[i]);
    ST_ASSERT_INT_EQ(bl_number_format_valid("INV-{n:6}"), 1);
}

static CU_TestInfo tests[] = {
    {"a valid batch reduces the VMM counters to totals", test_valid_batch_reduces_counters},
    {"per-vCPU counters are summed when totals are absent", test_vcpus_used_when_totals_absent},
    {"an empty batch is valid", test_empty_batch_is_valid},
    {"NICs that name their ports keep bytes per port", test_nics_keep_bytes_by_port},
    {"malformed batches are refused with their reason",
     test_malformed_batches_are_refused_with_reason},
    {"nesting depth and batch size are bounded", test_nesting_and_size_limits},
    {"the reader decodes escapes and surrogate pairs", test_reader_decodes_escapes},
    {"tax rates and invoice number formats parse strictly",
     test_tax_rates_and_number_formats_parse_strictly},
    CU_TEST_INFO_NULL,
};
static CU_SuiteInfo suites[] = {
    {"parse", NULL, NULL, NULL, NULL, tests},
    CU_SUITE_INFO_NULL,
};

int main(int argc, char **argv)
{
    return st_test_main(argc, argv, suites);
}
