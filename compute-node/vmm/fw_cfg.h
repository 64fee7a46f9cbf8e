/*
 * fw_cfg.h - QEMU's firmware configuration device, as SeaBIOS reads it:
 * the selector at I/O port 0x510 (16-bit), the data port at 0x511 (one byte
 * a read, the selected item's bytes in order, zeros past its end) and the
 * DMA address register at 0x514 (high half) / 0x518 (low half, whose write
 * runs the transfer), both big-endian.
 *
 * Items: the signature "QEMU" (0x0000), the ID (0x0001: traditional
 * interface + DMA), numbered items the VMM adds (RAM size, CPU counts...) and
 * named files listed in the file directory (0x0019: a big-endian count, then
 * 64-byte entries {be32 size, be16 select, be16 reserved, char name[56]}),
 * selectors from 0x0020 on. Everything is read-only: writes through the data
 * port are ignored and DMA writes fail with the error bit.
 *
 * DMA: the guest writes the guest-physical address of a 16-byte
 * {be32 control, be32 length, be64 address} descriptor; control holds an
 * item to select in its top 16 bits and the bits SELECT 0x08, SKIP 0x04,
 * READ 0x02, WRITE 0x10. The device does the transfer at once and writes
 * control back as 0, or as ERROR (0x01) when the descriptor or the buffer is
 * not wholly in guest RAM or the guest asked to write. Reading the DMA
 * register returns the signature "QEMU CFG". The device has no KVM
 * dependency (guest RAM is a vmm_gmem), so the unit test and the fuzzer
 * drive it directly.
 */
#ifndef VMM_FW_CFG_H
#define VMM_FW_CFG_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "devreg.h"
#include "gmem.h"

#define VMM_FW_CFG_PORT 0x510 /* selector; data at +1, DMA address at +4 (12 ports in all) */
#define VMM_FW_CFG_PORTS 12
#define VMM_FW_CFG_SIGNATURE 0x0000
#define VMM_FW_CFG_ID 0x0001
#define VMM_FW_CFG_UUID 0x0002
#define VMM_FW_CFG_RAM_SIZE 0x0003
#define VMM_FW_CFG_NOGRAPHIC 0x0004
#define VMM_FW_CFG_NB_CPUS 0x0005
#define VMM_FW_CFG_BOOT_MENU 0x000e
#define VMM_FW_CFG_MAX_CPUS 0x000f
#define VMM_FW_CFG_FILE_DIR 0x0019
#define VMM_FW_CFG_FILE_FIRST 0x0020
#define VMM_FW_CFG_MAX_FILES 16
#define VMM_FW_CFG_NAME_MAX 56 /* with the terminating NUL */

#define VMM_FW_CFG_DMA_ERROR 0x01
#define VMM_FW_CFG_DMA_READ 0x02
#define VMM_FW_CFG_DMA_SKIP 0x04
#define VMM_FW_CFG_DMA_SELECT 0x08
#define VMM_FW_CFG_DMA_WRITE 0x10
#define VMM_FW_CFG_DMA_SIGNATURE 0x51454d5520434647ull /* "QEMU CFG" */

typedef struct vmm_fw_cfg_item {
    uint16_t key;
    uint32_t len;
    uint8_t *data;
    char name[VMM_FW_CFG_NAME_MAX]; /* files only */
} vmm_fw_cfg_item;

typedef struct vmm_fw_cfg {
    const vmm_gmem *mem;  /* where DMA descriptors and buffers live */
    pthread_mutex_t lock; /* vCPUs may race on the ports */
    vmm_fw_cfg_item items[16 + VMM_FW_CFG_MAX_FILES];
    int nitems, nfiles;
    uint8_t *dir; /* the file directory, rebuilt when a file is added */
    uint32_t dir_len;
    vmm_fw_cfg_item dir_item; /* the directory as an item (find() fills it) */
    uint16_t sel;             /* current selector */
    uint32_t off;             /* offset into the selected item */
    uint32_t dma_hi;          /* high half of the DMA address register */
    uint64_t dma_count;       /* transfers run (for tests and counters) */
} vmm_fw_cfg;

/* The signature and ID items; mem is guest RAM for DMA. */
int vmm_fw_cfg_init(vmm_fw_cfg *f, const vmm_gmem *mem);
void vmm_fw_cfg_free(vmm_fw_cfg *f);
/* A numbered item (a copy of data); -EEXIST, -ENOSPC, -ENOMEM. */
int vmm_fw_cfg_add(vmm_fw_cfg *f, uint16_t key, const void *data, uint32_t len);
/* A little-endian integer item of len bytes (2, 4 or 8). */
int vmm_fw_cfg_add_int(vmm_fw_cfg *f, uint16_t key, uint64_t v, uint32_t len);
/* A named file (a copy of data) at the next selector; -EINVAL for a name too long. */
int vmm_fw_cfg_add_file(vmm_fw_cfg *f, const char *name, const void *data, uint32_t len);
/* The port handler for [VMM_FW_CFG_PORT, +VMM_FW_CFG_PORTS) (a vmm_io_fn). */
void vmm_fw_cfg_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write);
/* Back to the state after init (selector 0, no DMA half written): a reboot. */
void vmm_fw_cfg_reset(vmm_fw_cfg *f);
/* Its state record (devreg.h): the selector, the offset into the selected item and the DMA
 * register's high half; the items are the VMM's, built again from the config. Any value is one
 * the guest can reach through the ports, so restore checks only the payload's length. Not
 * registered yet: a firmware boot is not saved (see README). */
void vmm_fw_cfg_save(vmm_fw_cfg *f, vmm_rec_out *o);
int vmm_fw_cfg_restore(vmm_fw_cfg *f, vmm_rec_in *in, char *err, size_t errlen);

#endif
