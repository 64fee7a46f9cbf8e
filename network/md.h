/*
 * md.h - the metadata service's documents and path router (never installed).
 *
 * md_route() is pure: it maps a request path (untrusted, any bytes) and one
 * instance's documents to an answer, so the fuzz target and the server run
 * the same code. An answer points into the document or into itself; it is
 * valid while the document is (the server holds its lock) and until
 * md_answer_free().
 */
#ifndef STN_MD_H
#define STN_MD_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>

#define MD_PATH_MAX 256

typedef struct md_doc {
    uint32_t tag;
    char *instance_id, *hostname, *az, *ssh_key;
    struct in_addr local, pub;
    unsigned char *ud;
    size_t ud_len;
    int has_ud;
} md_doc;

typedef struct md_answer {
    int code; /* 200, 404 or 500 */
    const char *type;
    const void *body;
    size_t len;
    char small[INET_ADDRSTRLEN + 256]; /* short generated bodies */
    char *owned;                       /* malloc'd body (JSON), or NULL */
} md_answer;

/* d may be NULL (an unknown caller): everything is 404. */
void md_route(const md_doc *d, const char *path, md_answer *a);
void md_answer_free(md_answer *a);

#endif
