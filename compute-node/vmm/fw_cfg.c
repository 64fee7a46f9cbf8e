/*
 * fw_cfg.c - QEMU's firmware configuration device: items, the file
 * directory, the port interface and DMA (see fw_cfg.h).
 *
 * Guest input is the selector, the DMA address and the 16-byte descriptor
 * it points at: a descriptor or buffer not wholly inside guest RAM (checked
 * with vmm_gmem_ptr, which cannot overflow) fails that transfer with the
 * error bit and changes nothing else; lengths past an item's end read
 * zeros, as QEMU's do.
 */
#include "fw_cfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void be32_put(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t be32_get(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static vmm_fw_cfg_item *find(vmm_fw_cfg *f, uint16_t key)
{
    if (key == VMM_FW_CFG_FILE_DIR) {
        f->dir_item = (vmm_fw_cfg_item){.key = key, .len = f->dir_len, .data = f->dir};
        return &f->dir_item;
    }
    for (int i = 0; i < f->nitems; i++)
        if (f->items[i].key == key)
            return &f->items[i];
    return NULL;
}

int vmm_fw_cfg_init(vmm_fw_cfg *f, const vmm_gmem *mem)
{
    memset(f, 0, sizeof *f);
    f->mem = mem;
    pthread_mutex_init(&f->lock, NULL);
    f->dir = calloc(1, 4); /* count 0 */
    if (!f->dir)
        return -ENOMEM;
    f->dir_len = 4;
    int rc = vmm_fw_cfg_add(f, VMM_FW_CFG_SIGNATURE, "QEMU", 4);
    if (!rc)
        rc = vmm_fw_cfg_add_int(f, VMM_FW_CFG_ID, 0x3, 4); /* traditional + DMA */
    return rc;
}

void vmm_fw_cfg_free(vmm_fw_cfg *f)
{
    for (int i = 0; i < f->nitems; i++)
        free(f->items[i].data);
    free(f->dir);
    pthread_mutex_destroy(&f->lock);
    memset(f, 0, sizeof *f);
}

static int add(vmm_fw_cfg *f, uint16_t key, const char *name, const void *data, uint32_t len)
{
    if (key == VMM_FW_CFG_FILE_DIR || find(f, key))
        return -EEXIST;
    if (f->nitems == (int)(sizeof f->items / sizeof f->items[0]))
        return -ENOSPC;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return -ENOMEM;
    if (len)
        memcpy(copy, data, len);
    vmm_fw_cfg_item *it = &f->items[f->nitems++];
    *it = (vmm_fw_cfg_item){.key = key, .len = len, .data = copy};
    if (name)
        memcpy(it->name, name, strlen(name) + 1);
    return 0;
}

int vmm_fw_cfg_add(vmm_fw_cfg *f, uint16_t key, const void *data, uint32_t len)
{
    return add(f, key, NULL, data, len);
}

int vmm_fw_cfg_add_int(vmm_fw_cfg *f, uint16_t key, uint64_t v, uint32_t len)
{
    uint8_t b[8];
    if (len != 2 && len != 4 && len != 8)
        return -EINVAL;
    for (uint32_t i = 0; i < len; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return add(f, key, NULL, b, len);
}

int vmm_fw_cfg_add_file(vmm_fw_cfg *f, const char *name, const void *data, uint32_t len)
{
    size_t n = strlen(name);
    if (n == 0 || n >= VMM_FW_CFG_NAME_MAX)
        return -EINVAL;
    if (f->nfiles == VMM_FW_CFG_MAX_FILES)
        return -ENOSPC;
    for (int i = 0; i < f->nitems; i++)
        if (!strcmp(f->items[i].name, name))
            return -EEXIST;
    uint32_t dir_len = 4 + 64 * (uint32_t)(f->nfiles + 1);
    uint8_t *dir = calloc(1, dir_len);
    if (!dir)
        return -ENOMEM;
    uint16_t key = (uint16_t)(VMM_FW_CFG_FILE_FIRST + f->nfiles);
    int rc = add(f, key, name, data, len);
    if (rc) {
        free(dir);
        return rc;
    }
    f->nfiles++;
    /* QEMU lists files sorted by name; the selectors stay in the order added. */
    be32_put(dir, (uint32_t)f->nfiles);
    uint8_t *e = dir + 4;
    for (int i = 0; i < f->nitems; i++) {
        vmm_fw_cfg_item *it = &f->items[i];
        if (!it->name[0])
            continue;
        uint8_t *at = e;
        while (at > dir + 4 && strcmp((const char *)at - 64 + 8, it->name) > 0) {
            memcpy(at, at - 64, 64);
            at -= 64;
        }
        memset(at, 0, 64);
        be32_put(at, it->len);
        at[4] = (uint8_t)(it->key >> 8);
        at[5] = (uint8_t)it->key;
        memcpy(at + 8, it->name, strlen(it->name) + 1);
        e += 64;
    }
    free(f->dir);
    f->dir = dir;
    f->dir_len = dir_len;
    return 0;
}

/* Copies up to len bytes of the selected item from the current offset into dst (NULL: skip);
 * bytes past the item's end read as zero. */
static void read_item(vmm_fw_cfg *f, uint8_t *dst, uint32_t len)
{
    vmm_fw_cfg_item *it = find(f, f->sel);
    uint32_t have = it && f->off < it->len ? it->len - f->off : 0;
    uint32_t n = have < len ? have : len;
    if (dst) {
        if (n)
            memcpy(dst, it->data + f->off, n);
        memset(dst + n, 0, len - n);
    }
    f->off = len > UINT32_MAX - f->off ? UINT32_MAX : f->off + len;
}

static void select_item(vmm_fw_cfg *f, uint16_t key)
{
    f->sel = key;
    f->off = 0;
}

/* Runs the descriptor at gpa. */
static void dma(vmm_fw_cfg *f, uint64_t gpa)
{
    uint8_t *d = vmm_gmem_ptr(f->mem, gpa, 16);
    f->dma_count++;
    if (!d)
        return; /* nowhere to report the error */
    uint32_t ctl = be32_get(d), len = be32_get(d + 4);
    uint64_t addr = (uint64_t)be32_get(d + 8) << 32 | be32_get(d + 12);
    uint32_t status = 0;
    if (ctl & VMM_FW_CFG_DMA_SELECT)
        select_item(f, (uint16_t)(ctl >> 16));
    if (ctl & VMM_FW_CFG_DMA_READ) {
        uint8_t *buf = vmm_gmem_ptr(f->mem, addr, len);
        if (buf || !len)
            read_item(f, buf, len);
        else
            status = VMM_FW_CFG_DMA_ERROR;
    } else if (ctl & VMM_FW_CFG_DMA_WRITE) {
        status = VMM_FW_CFG_DMA_ERROR; /* every item is read-only */
    } else if (ctl & VMM_FW_CFG_DMA_SKIP) {
        read_item(f, NULL, len);
    }
    /* The descriptor may have been overlapped by the buffer just written: look it up again. */
    if ((d = vmm_gmem_ptr(f->mem, gpa, 16)))
        be32_put(d, status);
}

void vmm_fw_cfg_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, int is_write)
{
    vmm_fw_cfg *f = opaque;
    pthread_mutex_lock(&f->lock);
    if (off == 0 && len == 2 && is_write) {
        uint16_t key;
        memcpy(&key, data, 2);
        select_item(f, key);
    } else if (off == 1 && !is_write) {
        read_item(f, data, len); /* 1 byte on x86; wider reads get consecutive bytes */
    } else if ((off == 4 || off == 8) && len == 4) {
        if (is_write && off == 4) {
            f->dma_hi = be32_get(data);
        } else if (is_write) {
            uint64_t gpa = (uint64_t)f->dma_hi << 32 | be32_get(data);
            f->dma_hi = 0;
            dma(f, gpa);
        } else {
            uint64_t sig = VMM_FW_CFG_DMA_SIGNATURE;
            be32_put(data, (uint32_t)(sig >> (off == 4 ? 32 : 0)));
        }
    } else if (!is_write) {
        memset(data, 0, len);
    }
    pthread_mutex_unlock(&f->lock);
}

void vmm_fw_cfg_save(vmm_fw_cfg *f, vmm_rec_out *o)
{
    pthread_mutex_lock(&f->lock);
    vmm_rec_u16(o, f->sel);
    vmm_rec_u32(o, f->off);
    vmm_rec_u32(o, f->dma_hi);
    pthread_mutex_unlock(&f->lock);
}

int vmm_fw_cfg_restore(vmm_fw_cfg *f, vmm_rec_in *in, char *err, size_t errlen)
{
    uint16_t sel = vmm_rec_get_u16(in);
    uint32_t off = vmm_rec_get_u32(in), dma_hi = vmm_rec_get_u32(in);
    int rc = vmm_rec_in_done(in, err, errlen);
    if (rc)
        return rc;
    pthread_mutex_lock(&f->lock);
    f->sel = sel;
    f->off = off;
    f->dma_hi = dma_hi;
    pthread_mutex_unlock(&f->lock);
    return 0;
}

void vmm_fw_cfg_reset(vmm_fw_cfg *f)
{
    pthread_mutex_lock(&f->lock);
    select_item(f, VMM_FW_CFG_SIGNATURE);
    f->dma_hi = 0;
    pthread_mutex_unlock(&f->lock);
}
