/* tq_tileset — see tq_tileset.h. */
#include "tq_tileset.h"

int tq_tileset_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
}

int tq_tileset_name_valid(const char *name, size_t len)
{
    if (name == NULL || len == 0 || len >= TQ_TILESET_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        if (!tq_tileset_name_char(name[i]))
            return 0;
    }
    return 1;
}
