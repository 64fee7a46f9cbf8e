/*
 * bl_test.h - what billing's integration tests share: a real stratus-billing
 * process on a fresh database, request helpers with the gateway's internal
 * headers, and a batch builder.
 */
#ifndef BL_TEST_H
#define BL_TEST_H

#include "st_httpc.h"
#include "st_proc.h"

#include <libpq-fe.h>
#include <stdint.h>

#define BL_TEST_TOKEN "billing-test-internal-token"

typedef struct bl_srv {
    char *conninfo;
    char *tmp;
    char port_file[300];
    char log[300];
    st_proc proc;
    char base[64];
    char token[200]; /* the token batches are posted with (the internal one) */
    PGconn *pg;      /* for assertions */
    const char *sets[16];
    int nsets;
} bl_srv;

/* Fresh database, server started. sets: extra "k=v" (NULL-terminated). */
int bl_srv_start(bl_srv *s, const char *tag, const char *const *sets);
/* Starts the server again on the same database (after a kill or stop). */
int bl_srv_launch(bl_srv *s);
/* Stops the server (SIGTERM) and drops its database; -1 if it exited unclean. */
int bl_srv_stop(bl_srv *s);
/* Runs `stratus-billing CMD ARG` on the server's database; stdout (malloc'd) or NULL. */
char *bl_cli(bl_srv *s, const char *cmd, const char *arg, int *status);
/* Same with extra environment assignments ("K=V K2=V2") before the command. */
char *bl_cli_env(bl_srv *s, const char *env, const char *cmd, const char *arg, int *status);

/* POST a batch as the control plane (token NULL: the internal token). */
void bl_post(bl_srv *s, const char *json, const char *token, st_resp *r);
/*
 * A gateway call: tenant (or NULL) and cloud_admin become X-Stratus-* headers,
 * signed with the internal token. body may be NULL. accept may be NULL.
 */
void bl_call(bl_srv *s, const char *method, const char *path, const char *tenant, int cloud_admin,
             const char *body, const char *accept, st_resp *r);

/* Scalar from the server's database (malloc'd, NULL for no row). */
char *bl_sql(bl_srv *s, const char *sql);
long long bl_sql_int(bl_srv *s, const char *sql);
/* Rows where the daily rollups disagree with the sum of the hourly ones (want 0). */
long long bl_rollup_mismatches(bl_srv *s);

/* Reads the CSV with python3's csv module (strict) and sums the integer
 * column over every data row; 0, or -1 when it does not parse. */
int bl_csv_sum(const char *csv, size_t len, const char *column, long long *rows, long long *sum);

/* ---- Batches ---- */
typedef struct bl_json {
    char *p;
    size_t n, cap;
    int count;
} bl_json;

typedef struct bl_tsample {
    const char *tenant, *instance, *boot, *flavor, *state;
    long long seq;
    int64_t at_us;
    long long cycles, cpu_ns, rx, tx, rd, wr;
    long long disk_bytes; /* allocated disk; 0: the field is left out */
    /* Per-port bytes: port_a names net0's port (its bytes are rx, tx); with
     * port_b a second NIC, net1, carries rx_b, tx_b. NULL: left out. */
    const char *port_a, *port_b;
    long long rx_b, tx_b;
} bl_tsample;

void bl_json_begin(bl_json *j, const char *batch_id);
void bl_json_sample(bl_json *j, const bl_tsample *t);
void bl_json_storage(bl_json *j, const char *tenant, int64_t at_us, long long bytes);
/* Closes the batch; returns the text (owned by j). */
const char *bl_json_end(bl_json *j);
void bl_json_free(bl_json *j);

/* Assigns plan to tenant from 2025-01-01 on (a cloud admin's POST; asserts 201). */
void bl_assign_plan(bl_srv *s, const char *tenant, const char *plan);

/* Checks a UBL document against the JSON it was drawn from (and, for a
 * credit note, its invoice's JSON inv, else NULL) with ubl_check.py (python3's
 * xml.etree): every field, and the amounts adding up. 0 with out "ok N", or
 * -1 with out saying what differs. */
int bl_ubl_check(const char *xml, size_t xl, const char *json, const char *inv, char *out,
                 size_t outlen);

/* pdftotext -layout of a PDF (malloc'd text; asserts pdftotext ran). */
char *bl_pdf_text(const char *pdf, size_t len);

/* Microseconds of a UTC date-time. */
int64_t bl_t(int y, int mo, int d, int h, int mi, int s);
/* A fresh v4 UUID (static ring of buffers). */
const char *bl_uuid(void);

#endif
