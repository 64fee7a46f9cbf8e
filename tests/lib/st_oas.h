/*
 * st_oas.h - every response a test receives from the gateway, checked
 * against the OpenAPI 3.0 document (api-gateway/openapi.json).
 *
 *     st_oas_watch("http://127.0.0.1:40123", st_source_path("api-gateway/openapi.json"));
 *     ... every st_http*() to that base URL is now checked ...
 *
 * A response the document does not allow fails the CUnit test that got it
 * (the message names the operation, the status and the JSON pointer of the
 * first wrong value: "GET /v1/instances/{id} 200: /task: null not allowed").
 * A response outside any test (a suite's set-up) is printed and makes
 * st_test_main() exit non-zero.
 *
 * With STRATUS_OAS_REPORT=FILE in the environment a violation is appended
 * to FILE as one line instead of failing the test: for triage of the
 * document only; CI never sets it.
 *
 * What is checked, for a request METHOD PATH?QUERY answered STATUS:
 *   - the operation: PATH matches a path of the document (a literal segment
 *     is preferred to a {template}; the query is ignored) and the path has
 *     METHOD (HEAD is checked as GET, without a body); a 405 to a method the
 *     path lacks is checked against the document's
 *     x-stratus-unlisted-method response instead. A path under /v1/
 *     that the document lacks is a violation; outside /v1/ (dashboard
 *     files, /internal/v1/node, /healthz, /metrics) only the paths the
 *     document lists are checked, the others are outside its scope;
 *   - the status: the exact code, else its range ("4XX"), else "default";
 *   - the body: a response with no "content" must have an empty body; else
 *     the Content-Type (parameters such as charset ignored) must be one the
 *     response lists (a range such as "text/ *" or "* / *" matches too). A JSON media type
 *     (application/json, anything +json) must parse and validate against
 *     its schema; any other media type (CSV, PDF, HTML, CSS, SVG, text) is
 *     checked by its content type only;
 *   - the schema, with OpenAPI 3.0's meaning: $ref (siblings ignored),
 *     type (an integer is a JSON number written without fraction or
 *     exponent), nullable (null is allowed only with nullable: true and a
 *     type, and only if an enum lists null too, as 3.0.3 clarifies), enum,
 *     required, properties, additionalProperties, min/maxProperties, items,
 *     min/maxItems, uniqueItems, allOf/oneOf/anyOf/not, minimum/maximum
 *     (and exclusive*), multipleOf, min/maxLength (in characters), pattern
 *     (POSIX extended), format uuid, date-time, date, ipv4, ipv6, int32,
 *     int64 and byte (shape only). Others formats pass.
 */
#ifndef ST_OAS_H
#define ST_OAS_H

#include <jansson.h>
#include <stddef.h>

typedef struct st_oas st_oas;

/* Loads a document from a file; NULL (and a message in err) on error. */
st_oas *st_oas_load(const char *path, char *err, size_t errlen);
/* Wraps a parsed document (a new reference is taken). */
st_oas *st_oas_new(json_t *doc);
void st_oas_free(st_oas *d);

/* Checks one response against d. path_query is the request's path with
 * its query ("/v1/instances?limit=2"); content_type may be NULL; body is
 * len bytes, or NULL when the body was not kept (its content type is still
 * checked). Returns 1 when the path is outside the document's scope (no
 * check made), 0 when the document allows the response, -1 when it does
 * not, with the reason in msg. */
int st_oas_check(const st_oas *d, const char *method, const char *path_query, long status,
                 const char *content_type, const char *body, size_t len, char *msg, size_t msglen);

/* Checks every response from base_url ("http://127.0.0.1:PORT", no trailing
 * slash) against the document at doc_path from now on (documents are loaded
 * once per path). Exits the program when the document cannot be loaded. */
void st_oas_watch(const char *base_url, const char *doc_path);
void st_oas_unwatch(const char *base_url);
/* The document every gateway test watches: api-gateway/openapi.json. */
const char *st_oas_gateway_doc(void);

/* The hook: st_http*() calls this for each response it receives. When url
 * is under a watched base URL the response is checked, and a violation
 * fails the running test at file:line (or is reported: see above). Returns
 * what st_oas_check() returned, 1 when no document watches url. */
int st_oas_observe(const char *method, const char *url, long status, const char *content_type,
                   const char *body, size_t len, const char *file, int line);

/* Violations seen while no test was running (st_test_main exits non-zero). */
unsigned st_oas_stray_violations(void);

#endif
