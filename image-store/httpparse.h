/*
 * httpparse.h - the HTTP/1.1 request head and chunked body parsers of the
 * data listener (data.c). Pure functions over untrusted bytes, fuzzed by
 * fuzz/images/fuzz_http_head.c.
 *
 * Strict on purpose: lines end in CRLF, no obsolete line folding, header
 * names are tokens, values hold no control characters, one Content-Length
 * at most, never both Content-Length and Transfer-Encoding (the request
 * smuggling combination), Transfer-Encoding only "chunked". Anything else is
 * refused with a status and a message for the client.
 */
#ifndef IMAGES_HTTPPARSE_H
#define IMAGES_HTTPPARSE_H

#include <stddef.h>
#include <stdint.h>

#define IMG_HEAD_MAX 16384
#define IMG_HEADERS_MAX 64

typedef struct img_header {
    const char *name;
    const char *value;
} img_header;

typedef struct img_head {
    char method[8];
    const char *path;  /* "/v1/images/x/file" (not decoded) */
    const char *query; /* after '?', or "" */
    int minor;         /* HTTP/1.<minor> */
    img_header h[IMG_HEADERS_MAX];
    int nh;
    int64_t content_length; /* -1 when absent */
    int chunked;
    int keep_alive;
    int expect_continue;
} img_head;

/* Length of the head in buf (through the blank line), 0 while incomplete. */
size_t img_head_end(const char *buf, size_t len);
/*
 * Parses the head buf[0..len) (len from img_head_end), rewriting buf in
 * place (NULs). Returns 0, or -1 with *status (400, 501, 505, ...) and a
 * message.
 */
int img_head_parse(char *buf, size_t len, img_head *h, int *status, const char **msg);
/* A header's value (case-insensitive name), or NULL. */
const char *img_head_get(const img_head *h, const char *name);
/* The value of name=value in a query string, copied into out; -1 if absent. */
int img_query_get(const char *query, const char *name, char *out, size_t outlen);

/*
 * A Range header against a body of size bytes: 1 with the inclusive range
 * [*a, *b] for one "bytes=a-b", "bytes=a-" or "bytes=-n"; 0 to ignore it
 * (absent, malformed, several ranges: send everything); -1 unsatisfiable.
 */
int img_range_parse(const char *v, uint64_t size, uint64_t *a, uint64_t *b);

/* ---- Chunked transfer coding ---- */

typedef struct img_chunked {
    int state;
    uint64_t remaining; /* bytes left in the current chunk */
    int digits;
    size_t side; /* bytes of extensions / trailers seen */
} img_chunked;

/*
 * Consumes framing from in[0..n) until it reaches chunk data, the end of the
 * body, or the end of input. *used is what it consumed; when chunk data is
 * next, *data and *dlen give a span of it (at most max bytes) inside in, already
 * counted in *used. Returns 1 when the body is complete, 0 for more, -1 on
 * malformed framing.
 */
int img_chunked_feed(img_chunked *c, const uint8_t *in, size_t n, size_t max, size_t *used,
                     const uint8_t **data, size_t *dlen);

#endif
