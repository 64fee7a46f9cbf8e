/*
 * meter.h - image storage reports to billing (meter.c).
 */
#ifndef IMAGES_METER_H
#define IMAGES_METER_H

#include "images.h"

typedef struct img_meter img_meter;

/* Starts the reporting thread; NULL (nothing to do) when billing.url is empty. */
img_meter *img_meter_start(img_svc *s, const st_config *cfg);
/* Stops it (a batch being retried is abandoned; the next start replays it). */
void img_meter_stop(img_meter *m);
/* The batch id of an interval's chunk: a name-based UUID, the same on every retry. */
void img_meter_batch_id(int64_t slot_us, int chunk, char out[37]);

#endif
