/*
 * devreg.h - the device registry and the device-state record format.
 *
 * Registry. Every device instance registers itself once, when it is built,
 * in one ordered list per VM (vm->devreg) with an id and its hooks: reset
 * (a VM reset walks the list in order), save and restore. Devices are built
 * in the order of start.c's init list, whose levels are kvmtool's
 * (util/init.h: core, base, dev, firmware, late), so the list order is the
 * build order and the same config always gives the same list.
 * Ids name the kind and the instance ("virtio-blk@03" by PCI slot,
 * "serial:com1", "pci"), so a record for one kind of device never reaches
 * another.
 *
 * State file ("records"), little-endian throughout:
 *   header  "STVMMDEV" (8 bytes), u32 format (1), u32 record count
 *   record  u8 id length (1..31), the id (letters, digits, ":._-@"),
 *           u16 record version, u32 payload length, the payload
 * Save writes one record per registered device, in list order; a device
 * whose state cannot be saved yet has no save hook, and the save fails with
 * "device X cannot be saved yet" rather than losing its state.
 *
 * A state file is hostile input. Restore first reads every record and
 * refuses, with an error naming the device, a bad header, a truncated or
 * malformed record, an unknown id, a second record for one id, a record
 * version other than the device's, a record count other than the header's,
 * a registered device without a record or without a restore hook; only
 * then does it call the restore hooks in list order. A hook reads its payload through vmm_rec_in,
 * checks every value the guest could not have produced (and refuses it),
 * and calls vmm_rec_in_done() before it changes anything, which refuses a
 * payload shorter or longer than what the hook read. A failed restore
 * leaves the VM partly restored: the VM being restored is a fresh one that
 * its caller discards.
 *
 * Save and restore are for a VM whose vCPUs are parked (paused) and run on
 * the event thread; each hook takes its device's lock. No KVM dependency:
 * the unit test and the fuzzer use it directly.
 */
#ifndef VMM_DEVREG_H
#define VMM_DEVREG_H

#include <stddef.h>
#include <stdint.h>

#define VMM_DEV_MAX 48
#define VMM_DEV_ID_MAX 32 /* with the NUL */
#define VMM_STATE_MAGIC "STVMMDEV"
#define VMM_STATE_FORMAT 1
#define VMM_STATE_HEADER 16

/* A growing buffer that save hooks append to; a failed allocation sets oom. */
typedef struct vmm_rec_out {
    uint8_t *p;
    size_t len, cap;
    int oom;
} vmm_rec_out;

void vmm_rec_put(vmm_rec_out *o, const void *data, size_t n);
void vmm_rec_u8(vmm_rec_out *o, uint8_t v);
void vmm_rec_u16(vmm_rec_out *o, uint16_t v);
void vmm_rec_u32(vmm_rec_out *o, uint32_t v);
void vmm_rec_u64(vmm_rec_out *o, uint64_t v);

/* A payload being read; reading past its end yields zeros and sets short_read. */
typedef struct vmm_rec_in {
    const uint8_t *p;
    size_t len, off;
    int short_read;
    const char *id; /* for messages */
} vmm_rec_in;

void vmm_rec_get(vmm_rec_in *in, void *dst, size_t n);
uint8_t vmm_rec_get_u8(vmm_rec_in *in);
uint16_t vmm_rec_get_u16(vmm_rec_in *in);
uint32_t vmm_rec_get_u32(vmm_rec_in *in);
uint64_t vmm_rec_get_u64(vmm_rec_in *in);
/* 0 when the payload was read exactly; else -EINVAL with "ID: payload too short / N bytes
 * left over" in err. Hooks call it before applying anything. */
int vmm_rec_in_done(vmm_rec_in *in, char *err, size_t errlen);
/* Fills err with "ID: " and the message, returns -EINVAL (for hooks refusing a value). */
int vmm_rec_bad(const vmm_rec_in *in, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef struct vmm_dev_ops {
    uint16_t version; /* of the record save writes and restore reads */
    /* Power-on state (a VM reset). NULL: nothing to reset. */
    void (*reset)(void *opaque);
    /* Appends the payload. NULL: this device cannot be saved yet. */
    int (*save)(void *opaque, vmm_rec_out *o, char *err, size_t errlen);
    /* Reads the payload (see above); 0 or a negative errno with err filled. */
    int (*restore)(void *opaque, vmm_rec_in *in, char *err, size_t errlen);
} vmm_dev_ops;

typedef struct vmm_dev {
    char id[VMM_DEV_ID_MAX];
    const vmm_dev_ops *ops;
    void *opaque;
} vmm_dev;

typedef struct vmm_devreg {
    vmm_dev d[VMM_DEV_MAX];
    int n;
} vmm_devreg;

/* Appends a device; -EINVAL (bad id), -EEXIST (id taken), -ENOSPC. */
int vmm_dev_register(vmm_devreg *r, const char *id, const vmm_dev_ops *ops, void *opaque);
/* The device registered as id, or NULL. */
vmm_dev *vmm_dev_find(vmm_devreg *r, const char *id);
/* Calls every reset hook, in list order. */
void vmm_dev_reset_all(vmm_devreg *r);
/* The state of every device as a malloc'd file in *out; 0 or a negative errno, err filled. */
int vmm_dev_save_all(vmm_devreg *r, uint8_t **out, size_t *len, char *err, size_t errlen);
/* Restores every device from a state file (see above); 0 or -EINVAL / the hook's error. */
int vmm_dev_restore_all(vmm_devreg *r, const uint8_t *buf, size_t len, char *err, size_t errlen);

/* The record reader restore uses (and the fuzzer drives). */
typedef struct vmm_rec {
    char id[VMM_DEV_ID_MAX];
    uint16_t version;
    uint32_t len;
    const uint8_t *payload;
} vmm_rec;

typedef struct vmm_rec_reader {
    const uint8_t *p;
    size_t len, off;
    uint32_t count, seen; /* records the header announces, records read */
} vmm_rec_reader;

/* Checks the header; 0 or -EINVAL with err filled. */
int vmm_rec_open(vmm_rec_reader *rd, const uint8_t *buf, size_t len, char *err, size_t errlen);
/* 1 with the next record in rec, 0 at the end (count checked), -EINVAL when malformed. */
int vmm_rec_next(vmm_rec_reader *rd, vmm_rec *rec, char *err, size_t errlen);

#endif
