/*
 * acpi.h - the ACPI tables (acpi.c): written into guest memory for a direct
 * boot, or handed to the firmware through fw_cfg.
 */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include "fw_cfg.h"
#include "gmem.h"

/* RSDP at VMM_ACPI_ADDR, then XSDT/FADT/MADT/DSDT, for ncpus CPUs; -E2BIG if they do not fit. */
int vmm_acpi_write(const vmm_gmem *m, int ncpus);
/* The same tables as fw_cfg files etc/acpi/tables and etc/acpi/rsdp, with etc/table-loader,
 * the commands that place and link them (SeaBIOS's romfile_loader); 0 or -errno. */
int vmm_acpi_fw_cfg(vmm_fw_cfg *c, int ncpus);

#endif
