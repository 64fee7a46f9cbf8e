/* sdk_fuzz_reply: arbitrary bytes as a gateway reply, parsed as each of
 * libstratus's typed objects, as a list page of each, and as an error
 * object (sx_fuzz_parse in sdk-c/src/object.c). Nothing may crash, leak or
 * read out of bounds, whatever the types, sizes or nesting. */
#include "internal.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sx_fuzz_parse((const char *)data, size);
    return 0;
}
