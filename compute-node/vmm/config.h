/*
 * config.h - the VM description stratus-vmm boots (`--config FILE`, JSON).
 *
 *   {"vcpus": 2, "memory_mib": 256, "kernel": "guest.elf", "initrd": "...",
 *    "cmdline": "console=ttyS0", "serial_log": "serial.log",
 *    "disks": [{"id": "disk0", "path": "d.img", "read_only": false, "format": "raw"}],
 *    "nics": [{"id": "net0", "tap": "tap0", "mac": "52:54:00:12:34:56", "mtu": 1450,
 *              "model": "virtio" | "e1000", "rom": "/usr/lib/ipxe/qemu/pxe-e1000.rom"}],
 *    "rng": true, "control_socket": "/run/vm.sock", "seccomp": true,
 *    "on_reset": "shutdown" | "restart", "boot_protocol": "auto" | "pvh" | "linux",
 *    "assign_bars": true, "cpuid_disable": ["cx16"],
 *    "boot": "kernel" | "firmware", "firmware": "/usr/share/seabios/bios.bin",
 *    "dirty_ring": true | false | 4096}
 *
 * "boot": "kernel" (the default) needs "kernel"; "firmware" boots the first
 * disk through the BIOS image "firmware" names (default: Debian's SeaBIOS)
 * and takes no kernel, initrd or cmdline. "firmware_sha256" (optional) pins the image: a
 * start refuses another. A firmware VM's snapshot and a live migration's HELLO carry the
 * config with the digest of the image it runs, so a restore or a target with another image
 * refuses it.
 *
 * "dirty_ring" (a live migration's dirty tracking, dirty_ring.c): absent or true, KVM's dirty
 * ring of 4096 entries per vCPU where the kernel offers it, else KVM_GET_DIRTY_LOG's bitmaps;
 * false, the bitmaps; a power of two from 1024 to 65536, that many entries (a kernel without
 * the ring or refusing the size fails the start).
 *
 * Everything is validated on load with a message naming the field; unknown
 * keys are errors (a typo must not silently boot a different machine).
 */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define VMM_MAX_VCPUS 64
#define VMM_MAX_DISKS 8
#define VMM_MAX_NICS 8
#define VMM_DEFAULT_FIRMWARE "/usr/share/seabios/bios.bin" /* Debian's seabios package */

typedef struct vmm_disk_cfg {
    char id[32];
    char *path;
    int read_only;
    int qcow2; /* format "qcow2" (needs the image store's disk library) */
} vmm_disk_cfg;

typedef struct vmm_nic_cfg {
    char id[32];
    char tap[16];
    uint8_t mac[6];
    uint16_t mtu; /* told to the guest (VIRTIO_NET_F_MTU); 0: not offered */
    int model;    /* VMM_NIC_VIRTIO (default) or VMM_NIC_E1000 */
    char *rom;    /* PCI expansion ROM file (an iPXE option ROM), NULL for none */
} vmm_nic_cfg;

enum { VMM_NIC_VIRTIO = 0, VMM_NIC_E1000 };

typedef struct vmm_config {
    int vcpus;
    uint64_t memory_mib;
    int memory_shared;        /* "memory_shared": 1, 0, or -1 when absent (kvm.c decides) */
    char *kernel;             /* NULL for a firmware boot */
    char *firmware;           /* "boot": "firmware": the BIOS image; NULL for a kernel boot */
    char firmware_sha256[65]; /* "firmware_sha256": the image must hash to it; "" for any */
    char *initrd;
    char *cmdline;
    char *serial_log;     /* NULL: serial goes to stdout */
    char *control_socket; /* NULL: no control API */
    int ndisks, nnics;
    vmm_disk_cfg disks[VMM_MAX_DISKS];
    vmm_nic_cfg nics[VMM_MAX_NICS];
    int rng;
    int seccomp;
    int restart_on_reset;
    int boot_protocol; /* VMM_PROTO_*: "auto" (default), "pvh", "linux" */
    int assign_bars;   /* assign PCI BARs at start-up like firmware (default) or leave them 0 */
    uint32_t cpuid_disable; /* CPU features hidden from the guest (cpu_setup.c names them) */
    int dirty_ring; /* "dirty_ring": entries; 0 (false): off; -1 (absent, true): where offered */
    char *json;     /* the JSON text as given (a snapshot keeps it) */
} vmm_config;

enum { VMM_PROTO_AUTO = 0, VMM_PROTO_PVH, VMM_PROTO_LINUX };

/* Parses JSON text; 0, or -1 with a message in err. */
int vmm_config_parse(vmm_config *c, const char *text, size_t len, char *err, size_t errlen);
int vmm_config_load(vmm_config *c, const char *path, char *err, size_t errlen);
void vmm_config_free(vmm_config *c);
/* "52:54:00:12:34:56" -> bytes; 0 or -1. */
int vmm_parse_mac(const char *s, uint8_t mac[6]);

#endif
