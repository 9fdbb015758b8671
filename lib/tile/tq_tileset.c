/* tq_tileset — see tq_tileset.h. */
#include "tq_tileset.h"

int tq_tileset_name_valid(const char *name, size_t len)
{
    if (name == NULL || len == 0 || len >= TQ_TILESET_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}
