#include "guest.h"
void scen_pci(void) { guest_fail("not implemented yet"); }
void scen_rng(void) { guest_fail("not implemented yet"); }
void scen_blk(void) { guest_fail("not implemented yet"); }
void scen_net(void) { guest_fail("not implemented yet"); }
void scen_smp(void) { guest_fail("not implemented yet"); }
void scen_hostile(void) { guest_fail("not implemented yet"); }
void ap_main(u32 id) { (void)id; for (;;) __asm__ volatile("cli; hlt"); }
