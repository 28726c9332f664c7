#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml-doc.h"

#define DEPTH_MAX 64

void yaml_node_free(yaml_node *n) {
        while (n) {
                yaml_node *next = n->next;

                yaml_node_free(n->children);
                free(n->value);
                free(n->key);
                free(n);
                n = next;
        }
}

const yaml_node *yaml_mapping_get(const yaml_node *mapping, const char *key) {
        if (!mapping || mapping->kind != YAML_KIND_MAPPING)
                return NULL;
        for (const yaml_node *c = mapping->children; c; c = c->next)
                if (strcmp(c->key, key) == 0)
                        return c;
        return NULL;
}

const char *yaml_kind_name(yaml_kind k) {
        switch (k) {
        case YAML_KIND_SCALAR:
                return "a scalar";
        case YAML_KIND_SEQUENCE:
                return "a list";
        default:
                return "a mapping";
        }
}

typedef struct builder {
        const char *name;
        yaml_parser_t parser;
        moat_error *err;
} builder;

static int parse_error(builder *b) {
        return moat_error_set(b->err, -EINVAL, "%s:%zu:%zu: %s%s%s", b->name, b->parser.problem_mark.line + 1,
                              b->parser.problem_mark.column + 1, b->parser.problem ? b->parser.problem : "malformed YAML",
                              b->parser.context ? " " : "", b->parser.context ? b->parser.context : "");
}

static int next_event(builder *b, yaml_event_t *ev) {
        if (!yaml_parser_parse(&b->parser, ev))
                return parse_error(b);
        return 0;
}

/* Consumes an event whose place in the stream is fixed (stream start, document end). */
static int skip_event(builder *b) {
        yaml_event_t ev;
        int r;

        r = next_event(b, &ev);
        if (r >= 0)
                yaml_event_delete(&ev);
        return r;
}

static int build_node(builder *b, yaml_event_t *ev, unsigned depth, yaml_node **ret);

/* Reads the items (or key/value pairs) of a collection until its end event. */
static int build_children(builder *b, yaml_node *n, unsigned depth) {
        yaml_node **tail = &n->children;

        for (;;) {
                yaml_event_t ev;
                yaml_node *child = NULL;
                char *key = NULL;
                unsigned key_line = 0;
                int r;

                r = next_event(b, &ev);
                if (r < 0)
                        return r;
                if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
                        yaml_event_delete(&ev);
                        return 0;
                }
                if (n->kind == YAML_KIND_MAPPING) {
                        if (ev.type != YAML_SCALAR_EVENT) {
                                r = moat_error_set(b->err, -EINVAL, "%s:%zu:%zu: a key must be a plain name", b->name,
                                                   ev.start_mark.line + 1, ev.start_mark.column + 1);
                                yaml_event_delete(&ev);
                                return r;
                        }
                        key = strndup((const char *) ev.data.scalar.value, ev.data.scalar.length);
                        key_line = (unsigned) ev.start_mark.line + 1;
                        if (key && strlen(key) != ev.data.scalar.length) {
                                free(key);
                                key = NULL;
                        }
                        if (key && yaml_mapping_get(n, key)) {
                                r = moat_error_set(b->err, -EINVAL, "%s:%u: the key '%s' is given twice", b->name,
                                                   key_line, key);
                                free(key);
                                yaml_event_delete(&ev);
                                return r;
                        }
                        yaml_event_delete(&ev);
                        if (!key)
                                return moat_error_set(b->err, -EINVAL, "%s:%u: a key holds a NUL byte", b->name, key_line);
                        r = next_event(b, &ev);
                        if (r < 0) {
                                free(key);
                                return r;
                        }
                }
                r = build_node(b, &ev, depth + 1, &child);
                yaml_event_delete(&ev);
                if (r < 0) {
                        free(key);
                        return r;
                }
                child->key = key;
                child->key_line = key_line;
                *tail = child;
                tail = &child->next;
        }
}

static int build_node(builder *b, yaml_event_t *ev, unsigned depth, yaml_node **ret) {
        _cleanup_(yaml_node_freep) yaml_node *n = NULL;
        int r;

        if (depth > DEPTH_MAX)
                return moat_error_set(b->err, -EINVAL, "%s:%zu: nested too deeply", b->name, ev->start_mark.line + 1);
        n = calloc(1, sizeof(*n));
        if (!n)
                return moat_error_set(b->err, -ENOMEM, "out of memory");
        n->line = (unsigned) ev->start_mark.line + 1;
        n->column = (unsigned) ev->start_mark.column + 1;

        switch (ev->type) {
        case YAML_SCALAR_EVENT:
                n->kind = YAML_KIND_SCALAR;
                n->value = strndup((const char *) ev->data.scalar.value, ev->data.scalar.length);
                if (!n->value)
                        return moat_error_set(b->err, -ENOMEM, "out of memory");
                if (strlen(n->value) != ev->data.scalar.length)
                        return moat_error_set(b->err, -EINVAL, "%s:%u:%u: a value holds a NUL byte", b->name, n->line,
                                              n->column);
                break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
                n->kind = ev->type == YAML_SEQUENCE_START_EVENT ? YAML_KIND_SEQUENCE : YAML_KIND_MAPPING;
                r = build_children(b, n, depth);
                if (r < 0)
                        return r;
                break;
        case YAML_ALIAS_EVENT:
                return moat_error_set(b->err, -EINVAL, "%s:%u:%u: aliases are not supported", b->name, n->line, n->column);
        default:
                return moat_error_set(b->err, -EINVAL, "%s:%u:%u: unexpected YAML", b->name, n->line, n->column);
        }
        *ret = TAKE_PTR(n);
        return 0;
}

int yaml_doc_parse(const char *name, const char *data, size_t len, yaml_node **ret, moat_error *err) {
        builder b = { .name = name, .err = err };
        yaml_node *root = NULL;
        yaml_event_t ev;
        int r;

        if (!yaml_parser_initialize(&b.parser))
                return moat_error_set(err, -ENOMEM, "out of memory");
        yaml_parser_set_input_string(&b.parser, (const unsigned char *) data, len);

        /* stream start, then a document start or the stream's end (an empty file) */
        r = skip_event(&b);
        if (r < 0)
                goto out;
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        if (ev.type == YAML_STREAM_END_EVENT) {
                yaml_event_delete(&ev);
                root = calloc(1, sizeof(*root));
                if (!root) {
                        r = moat_error_set(err, -ENOMEM, "out of memory");
                        goto out;
                }
                root->kind = YAML_KIND_MAPPING;
                root->line = root->column = 1;
                goto done;
        }
        yaml_event_delete(&ev);
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        r = build_node(&b, &ev, 0, &root);
        yaml_event_delete(&ev);
        if (r < 0)
                goto out;
        /* document end, then the stream's end: a second document is refused */
        r = skip_event(&b);
        if (r < 0)
                goto out;
        r = next_event(&b, &ev);
        if (r < 0)
                goto out;
        if (ev.type != YAML_STREAM_END_EVENT) {
                r = moat_error_set(err, -EINVAL, "%s:%zu: only one YAML document is allowed", name, ev.start_mark.line + 1);
                yaml_event_delete(&ev);
                goto out;
        }
        yaml_event_delete(&ev);
done:
        *ret = TAKE_PTR(root);
        r = 0;
out:
        yaml_node_free(root);
        yaml_parser_delete(&b.parser);
        return r;
}
