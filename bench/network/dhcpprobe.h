/*
 * dhcpprobe.h - the benchmarks' DHCP stopwatch: DHCPDISCOVER on an
 * interface every few milliseconds until the first DHCPOFFER arrives.
 *
 * busybox udhcpc retransmits at whole seconds (-T), so a DISCOVER that
 * reaches dnsmasq a moment before its hosts file is re-read would add a
 * second to a set-up time. The probe asks every 5 ms instead, so "the first
 * DHCP answer" is known to within that; udhcpc is then run for the whole
 * lease and timed on its own.
 */
#ifndef BENCH_DHCPPROBE_H
#define BENCH_DHCPPROBE_H

/* In the calling thread's network namespace: sets ifname up, then sends
 * DISCOVERs (broadcast flag set, from the interface's MAC) every 5 ms until
 * an OFFER for it arrives. Milliseconds (monotonic, as bench_ms()) of the
 * OFFER's arrival, or -1 after timeout_ms or on error (said on stderr). */
double dhcp_probe(const char *ifname, int timeout_ms);

/* CLOCK_MONOTONIC in milliseconds. */
double bench_ms(void);

#endif
