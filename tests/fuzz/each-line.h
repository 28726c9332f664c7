/* For fuzz targets whose input is one case per line. */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Calls ONE with each line of DATA, NUL-terminated. */
static inline int fuzz_each_line(const uint8_t *data, size_t size, void (*one)(const char *line)) {
        char *text = malloc(size + 1), *line, *save = NULL;

        if (!text)
                return 0;
        memcpy(text, data, size);
        text[size] = '\0';
        for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                one(line);
        free(text);
        return 0;
}
