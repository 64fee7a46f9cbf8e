/* upload_image: create an image and stream a file into it through the
 * signed upload URL, with a progress line.
 *
 *   upload_image FILE NAME [raw|qcow2]
 */
#include "common.h"

static int progress(void *arg, uint64_t done, uint64_t total)
{
    fprintf(stderr, "\r%llu / %llu bytes", (unsigned long long)done, (unsigned long long)total);
    return 0; /* nonzero would cancel */
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: upload_image FILE NAME [raw|qcow2]\n");
        return 2;
    }
    stratus_session *s = example_session();
    stratus_image_spec spec = {.name = argv[2], .disk_format = argc > 3 ? argv[3] : "raw"};
    stratus_image *img;
    int rc = stratus_image_create(s, &spec, &img);
    if (rc < 0)
        return die("create", rc);
    rc = stratus_image_upload(s, img->id, argv[1], progress, NULL);
    fputc('\n', stderr);
    if (rc < 0)
        return die("upload", rc);
    stratus_image *shown;
    if ((rc = stratus_image_show(s, img->id, &shown)) < 0)
        return die("show", rc);
    printf("image %s: %s, %lld bytes, %s\n", shown->id, shown->status, shown->size_bytes,
           shown->checksum ? shown->checksum : "-");
    stratus_image_free(shown);
    stratus_image_free(img);
    stratus_session_free(s);
    return 0;
}
