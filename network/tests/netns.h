/*
 * netns.h - network namespaces for the network_* tests.
 *
 * Every name a test makes carries its pid (nt_name()), so two runs at once
 * never meet; nt_cleanup() deletes every namespace nt_add() made, and runs
 * at exit too. Real tools judge: nt_sh() runs a shell command (ip, bridge,
 * nft, ping, udhcpc) and nt_out() captures what it prints.
 */
#ifndef NT_NETNS_H
#define NT_NETNS_H

#include <stddef.h>

/* "<tag><pid>" in a static ring of buffers. */
const char *nt_name(const char *tag);
int nt_add(const char *name);
void nt_cleanup(void);
/* Runs fn(arg) with the calling thread inside namespace name. */
int nt_in(const char *name, int (*fn)(void *), void *arg);
__attribute__((format(printf, 1, 2))) int nt_sh(const char *fmt, ...);
/* Output of a command (malloc'd, "" on failure). */
__attribute__((format(printf, 1, 2))) char *nt_out(const char *fmt, ...);
/* Skips the program (exit 77) unless root with the tools it needs. */
void nt_require(const char *const *tools);

#endif
