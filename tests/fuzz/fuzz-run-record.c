/* run_record_from_json() on any bytes: no crash, no leak, output written only on success, a
 * failure always explained; and whatever it accepts, the writer writes and the reader reads
 * back equal, field by field, to the same JSON (records survive every save and load). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool str_equal(const char *a, const char *b) {
        return a && b ? strcmp(a, b) == 0 : a == b;
}

static bool record_equal(const run_record *a, const run_record *b) {
        if (strcmp(a->id, b->id) != 0 || !str_equal(a->name, b->name) || !str_equal(a->image, b->image) ||
            !strv_equal(a->command, b->command) || !str_equal(a->workspace, b->workspace) ||
            !strv_equal(a->env_keys, b->env_keys) || a->n_mounts != b->n_mounts ||
            !str_equal(a->container_id, b->container_id) || !str_equal(a->unit, b->unit) ||
            a->manager != b->manager || a->state != b->state || a->interactive != b->interactive ||
            a->keep != b->keep || a->memory_bytes != b->memory_bytes ||
            memcmp(&a->cpus, &b->cpus, sizeof a->cpus) != 0 || a->created_at != b->created_at ||
            a->started_at != b->started_at || a->stopped_at != b->stopped_at ||
            a->has_exit_code != b->has_exit_code || !str_equal(a->error, b->error))
                return false;
        if (a->has_exit_code && a->exit_code != b->exit_code)
                return false;
        for (size_t i = 0; i < a->n_mounts; i++)
                if (!str_equal(a->mounts[i].source, b->mounts[i].source) ||
                    !str_equal(a->mounts[i].destination, b->mounts[i].destination) ||
                    a->mounts[i].read_only != b->mounts[i].read_only)
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        run_record *r = (run_record *) 0x1, *back = NULL;
        char *json = NULL, *again = NULL;
        moat_error err = {};
        int k;

        k = run_record_from_json((const char *) data, size, &r, &err);
        if (k < 0) {
                if (r != (run_record *) 0x1)
                        abort();
                if (k != -ENOMEM && (k != -EBADMSG || err.code != k || !err.msg || !err.msg[0]))
                        abort();
                moat_error_clear(&err);
                return 0;
        }
        if (k != 0 || err.code != 0 || !r || !run_id_valid(r->id) || !run_state_to_string(r->state) ||
            !run_manager_to_string(r->manager) || (r->name && !run_name_valid(r->name)) ||
            (r->n_mounts > 0) != (r->mounts != NULL))
                abort();

        /* The writer refuses exactly what the reader refuses: what was read can be saved. */
        if (run_record_to_json(r, &json, &err) < 0)
                abort();
        if (run_record_from_json(json, strlen(json), &back, &err) < 0)
                abort();
        if (!record_equal(r, back))
                abort();
        if (run_record_to_json(back, &again, &err) < 0 || strcmp(json, again) != 0)
                abort();

        run_record_free(r);
        run_record_free(back);
        free(json);
        free(again);
        return 0;
}
