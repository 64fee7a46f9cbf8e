/*
 * scen_pci.c - the `pci` scenario: list every function on bus 0 as
 * `DATA pci=BB:DD.F vvvv:dddd cccccc`, with the BARs the guest assigned, and
 * check `pci.expect=VVVV:DDDD[,...]`.
 */
#include "guest.h"

static int hex4(const char *s, u16 *v)
{
    u16 x = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        x = (u16)(x << 4 | d);
    }
    *v = x;
    return 0;
}

void scen_pci(void)
{
    int n = pci_scan();
    for (int k = 0; k < n; k++) {
        struct pci_dev *d = &g_pci[k];
        data("pci=%02x:%02x.%u %04x:%04x %06x", d->bus, d->dev, d->fn, d->vendor, d->device,
             d->class_rev >> 8);
        for (int i = 0; i < 6; i++)
            if (d->bar_size[i])
                data("pci.bar=%02x:%02x.%u/%d %#llx+%#llx%s", d->bus, d->dev, d->fn, i, d->bar[i],
                     d->bar_size[i], d->bar_assigned_by_guest[i] ? " assigned" : "");
    }
    data("pci.count=%d", n);
    if (n == 0)
        guest_fail("no PCI functions on bus 0");
    const char *e = arg_str("pci.expect");
    while (e && *e) {
        u16 v, dv;
        if (hex4(e, &v) < 0 || e[4] != ':' || hex4(e + 5, &dv) < 0 || (e[9] && e[9] != ','))
            guest_fail("pci.expect: want VVVV:DDDD[,VVVV:DDDD...]");
        if (!pci_find(v, dv))
            guest_fail("expected PCI device %04x:%04x not found", v, dv);
        e += e[9] ? 10 : 9;
    }
    guest_pass();
}
