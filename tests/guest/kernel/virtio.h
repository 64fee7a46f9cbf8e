/* virtio.h - placeholder */
