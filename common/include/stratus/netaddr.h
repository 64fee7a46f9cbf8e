/*
 * netaddr.h - IP address ranges, and who a request really came from.
 *
 * Behind a load balancer every connection comes from the balancer, so
 * anything keyed on the client's address (sign-in rate limits, logs) needs
 * the address the balancer saw. A service trusts X-Forwarded-For only from
 * the ranges it is told (http.trusted_proxies), and only as far as the
 * chain runs through trusted hops: the client is the rightmost address that
 * is not a trusted proxy, so whatever a client writes into the header
 * itself (to the left) is never believed.
 */
#ifndef STRATUS_NETADDR_H
#define STRATUS_NETADDR_H

#include <stddef.h>
#include <stdint.h>

typedef struct st_cidr {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order; 4 bytes used for AF_INET */
    int bits;         /* prefix length */
} st_cidr;

/* Parses a comma-separated list of addresses and ranges ("10.0.0.0/8,
 * 192.0.2.1, 2001:db8::/32"); an empty list is valid. Returns the number
 * of ranges with *out malloc'd (NULL when none), or -1 with err filled. */
int st_cidr_parse_list(const char *list, st_cidr **out, char *err, size_t errlen);

/* Parses one address: v4, v6, or v6 mapping a v4 address (taken as v4);
 * an address in brackets, and a v4 or bracketed v6 address with a
 * ":port", are accepted as proxies write them. 0, or -1. */
int st_ip_parse(const char *s, size_t len, int *family, uint8_t addr[16]);

/* 1 when the address (text) is in one of the n ranges. */
int st_cidr_match(const st_cidr *ranges, int n, const char *ip);

/*
 * The client's address, in canonical text, into out: peer itself unless
 * peer is trusted; then X-Forwarded-For (xff: the header's values in order,
 * joined by commas; NULL when absent) is read from the right, skipping
 * trusted hops, and the first untrusted address is the client. A malformed
 * entry stops the walk at the last address known good, as does the
 * header's left end when every hop in it is trusted.
 */
void st_client_address(const st_cidr *trusted, int n, const char *peer, const char *xff, char *out,
                       size_t outlen);

#endif
