/* A YAML document as a small tree (libyaml does the parsing), with the line and column of
 * every node, for moat.yaml and the provider files: typed readers on top can then say where
 * a wrong or unknown key is. */
#pragma once

#include <stddef.h>

#include "error.h"

typedef enum yaml_kind {
        YAML_KIND_SCALAR,
        YAML_KIND_SEQUENCE,
        YAML_KIND_MAPPING,
} yaml_kind;

typedef struct yaml_node yaml_node;
struct yaml_node {
        yaml_kind kind;
        unsigned line, column;  /* 1-based */
        char *value;            /* SCALAR: the text (NUL-terminated; NUL inside is refused) */
        char *key;              /* a mapping's entry: its key */
        unsigned key_line;
        yaml_node *children;    /* SEQUENCE items / MAPPING entries, in order */
        yaml_node *next;
};

/* Parses LEN bytes; NAME (e.g. "moat.yaml") goes into error messages, which give line and
 * column: -EINVAL for malformed YAML, aliases, or more than one document.  An empty document
 * gives an empty mapping. */
int yaml_doc_parse(const char *name, const char *data, size_t len, yaml_node **ret, moat_error *err);
void yaml_node_free(yaml_node *n);
DEFINE_TRIVIAL_CLEANUP_FUNC(yaml_node *, yaml_node_free);

/* The entry KEY of a mapping, or NULL. */
const yaml_node *yaml_mapping_get(const yaml_node *mapping, const char *key);

const char *yaml_kind_name(yaml_kind k);
