/*
 * st_netns.h - moving the calling thread between named network namespaces
 * (/run/netns/NAME, as `ip netns add` makes them): what the network tests,
 * the whole-cloud helper and the network benchmarks share.
 */
#ifndef ST_NETNS_H
#define ST_NETNS_H

/* The calling thread joins network namespace name: 0, or -1 (errno set). */
int st_netns_enter(const char *name);
/* An fd on the calling thread's network namespace, to come back to with
 * st_netns_return(); -1 on error. */
int st_netns_self(void);
/* Back into the namespace of fd (from st_netns_self()): 0 or -1. */
int st_netns_return(int fd);

#endif
