/* blk.h - virtio-blk requests, shared by the blk and hostile scenarios. */
#ifndef GUEST_BLK_H
#define GUEST_BLK_H

#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

struct virtio_blk_req {
    u32 type;
    u32 reserved;
    u64 sector;
};

void blk_open(struct virtio_dev *v, u64 extra_features);
u64 blk_capacity(struct virtio_dev *v);
/* One request (nsect 0: no data buffer); 0 with *status, -1 on timeout. */
int blk_request(struct virtio_dev *v, u32 type, u64 sector, void *buf, u32 nsect, u8 *status);

#endif
