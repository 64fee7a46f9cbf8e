/* store_rbd.c - placeholder until the Ceph back end lands (step 3). */
#include "store.h"

#include <stdio.h>

img_store *img_store_rbd_new(const char *conf, const char *pool, const char *client, char *err,
                             size_t errlen)
{
    snprintf(err, errlen, "this stratus-images was built without Ceph (librbd) support");
    return NULL;
}
