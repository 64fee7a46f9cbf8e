/* provision: create an instance, wait until it is active, print its console,
 * and delete it (unless --keep).
 *
 *   provision FLAVOR IMAGE [--no-network] [--keep]
 */
#include "common.h"

#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: provision FLAVOR IMAGE [--no-network] [--keep]\n");
        return 2;
    }
    int keep = 0;
    stratus_instance_spec spec = {.name = "example", .flavor = argv[1], .image = argv[2]};
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--no-network"))
            spec.networks_json = "\"none\"";
        else if (!strcmp(argv[i], "--keep"))
            keep = 1;
    }
    stratus_session *s = example_session();
    stratus_instance *inst;
    int rc = stratus_instance_create(s, &spec, &inst); /* an Idempotency-Key is generated */
    if (rc < 0)
        return die("create", rc);
    printf("created %s (%s)\n", inst->id, inst->state_name);
    char id[64];
    snprintf(id, sizeof id, "%s", inst->id);
    stratus_instance_free(inst);

    rc = stratus_instance_wait(s, id, STRATUS_ACTIVE, 120000, &inst);
    if (rc < 0)
        return die("wait", rc);
    printf("active on node %s\n", inst->node_id ? inst->node_id : "-");
    stratus_instance_free(inst);

    char *console;
    rc = stratus_instance_console(s, id, 4096, &console);
    if (rc < 0)
        return die("console", rc);
    printf("--- console ---\n%s\n--- end ---\n", console);
    free(console);

    if (!keep && (rc = stratus_instance_delete(s, id)) < 0)
        return die("delete", rc);
    stratus_session_free(s);
    return 0;
}
