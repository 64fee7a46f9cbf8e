/*
 * The data listener's HTTP parsers over arbitrary bytes: the request head
 * parser (in place, over an exact-size copy), the query lookup, the Range
 * parser (a range it accepts must lie inside the body), and the
 * chunked decoder fed the rest of the input in irregular pieces with small
 * output limits. Nothing may crash or read out of bounds; the decoder must
 * never hand back more data than it was given.
 */
#include "httpparse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = 0;
    size_t end = img_head_end(buf, size);
    if (end) {
        img_head h;
        int status;
        const char *msg;
        char *head = malloc(end);
        memcpy(head, buf, end);
        if (img_head_parse(head, end, &h, &status, &msg) == 0) {
            char v[80];
            img_query_get(h.query, "sig", v, sizeof v);
            img_head_get(&h, "Content-Length");
            uint64_t sizes[] = {0, 1, 4096, UINT64_MAX}, a, b;
            for (int i = 0; i < 4; i++)
                if (img_range_parse(img_head_get(&h, "Range"), sizes[i], &a, &b) == 1 &&
                    (a > b || b >= sizes[i]))
                    abort();
        } else if (status < 400 || !msg) {
            abort();
        }
        free(head);
    }
    /* Chunked body: the bytes after the head (or all of them). */
    img_chunked c = {0};
    size_t pos = end, step = 1, total = 0;
    while (pos < size) {
        size_t n = size - pos < step ? size - pos : step;
        size_t used;
        const uint8_t *d;
        size_t dl;
        int rc = img_chunked_feed(&c, (const uint8_t *)buf + pos, n, 1 + step % 7, &used, &d, &dl);
        if (used > n || dl > used ||
            (dl && (d < (const uint8_t *)buf + pos || d + dl > (const uint8_t *)buf + pos + n)))
            abort();
        total += dl;
        pos += used;
        if (rc != 0)
            break;
        if (used == 0 && dl == 0)
            step++;
        step = step % 13 + 1;
    }
    (void)total;
    free(buf);
    return 0;
}
