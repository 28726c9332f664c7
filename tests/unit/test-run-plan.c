/* The run plan: flags over an approved moat.yaml over a provider, grants resolved, and the
 * record step that refuses moat's own places. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-plan.h"
#include "strv.h"
#include "tap.h"

static char root[] = "/tmp/test-run-plan-XXXXXX";
static char home[256], ws[256], cfgdir[256];

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");

        if (f) {
                fputs(text, f);
                fclose(f);
        }
}

static bool has(char *const *v, const char *s) {
        for (; v && *v; v++)
                if (strcmp(*v, s) == 0)
                        return true;
        return false;
}

static void setup(void) {
        char providers[300];

        if (!mkdtemp(root))
                abort();
        snprintf(home, sizeof(home), "%s/home", root);
        snprintf(ws, sizeof(ws), "%s/ws", root);
        snprintf(cfgdir, sizeof(cfgdir), "%s/config", root);
        snprintf(providers, sizeof(providers), "%s/moat/providers", cfgdir);
        mkdir(home, 0700);
        mkdir(ws, 0755);
        mkdir(cfgdir, 0755);
        snprintf(providers, sizeof(providers), "%s/moat", cfgdir);
        mkdir(providers, 0755);
        snprintf(providers, sizeof(providers), "%s/moat/providers", cfgdir);
        mkdir(providers, 0755);
        setenv("MOAT_HOME", home, 1);
        setenv("XDG_CONFIG_HOME", cfgdir, 1);
        snprintf(providers, sizeof(providers), "%s/moat/providers/agent.yaml", cfgdir);
        write_file(providers, "image: localhost/agent:1\n"
                              "command: [agent, --yes]\n"
                              "prompt: [-p, \"{prompt}\"]\n"
                              "env: [PLAN_TEST_PASS, API_KEY]\n"
                              "environment:\n  MODE: agent\n"
                              "allow: [telemetry.example.com]\n"
                              "grants:\n"
                              "  key:\n"
                              "    env: [API_KEY]\n"
                              "    inject:\n"
                              "      - hosts: [api.example.com]\n"
                              "        header: x-api-key\n"
                              "  extra:\n"
                              "    optional: true\n"
                              "    inject:\n"
                              "      - hosts: [extra.example.com]\n"
                              "        header: Authorization\n");
}

/* A plan as the flags left it: WORKSPACE, and an image given or not. */
static void plan_for(run_plan *p, const char *image) {
        run_plan_init(p);
        p->o.manager = RUN_MANAGER_USER;
        p->o.workspace = ws;
        p->o.image = image;
}

static void test_config_needs_approval(void) {
        _cleanup_(moat_error_clear) moat_error err = {};
        char path[300];
        run_plan p;

        plan_for(&p, NULL);
        is_int(run_plan_load_config(&p, &err), 0, "no moat.yaml: nothing to approve");
        ok(!p.o.image && p.network == -1 && !p.mounts, "no moat.yaml: the plan is the flags'");
        run_plan_done(&p);

        snprintf(path, sizeof(path), "%s/moat.yaml", ws);
        write_file(path, "image: localhost/from-yaml:1\n"
                         "env:\n  A: yaml\n  B: yaml\n"
                         "mounts: [\"/etc:/host-etc:ro\"]\n"
                         "network:\n  policy: open\n  allow: [yaml.example.com]\n"
                         "branch: from-yaml\n");
        plan_for(&p, NULL);
        is_int(run_plan_load_config(&p, &err), 1, "a new moat.yaml must be approved first");
        ok(!p.o.image && p.network == -1 && !p.mounts && !p.env && !p.allow && !p.o.branch,
           "an unapproved moat.yaml changes nothing in the plan");
        ok(p.approval.text && !p.approval.approved, "the approval shows the text to approve");
        is_int(config_approval_store(home, p.workspace, &p.approval, &err), 0, "approved");
        run_plan_done(&p);

        /* approved: under the flags, which win */
        plan_for(&p, "localhost/flag:1");
        strv_push(&p.env, strdup("A=flag"));
        is_int(run_plan_load_config(&p, &err), 0, "an approved moat.yaml is obeyed");
        is_str(p.o.image, "localhost/flag:1", "--image wins over moat.yaml's image");
        is_int(p.network, NET_OPEN, "moat.yaml's network where no flag said");
        ok(p.env && strv_length(p.env) == 3 && strcmp(p.env[0], "A=yaml") == 0 && strcmp(p.env[2], "A=flag") == 0,
           "moat.yaml's env first, so -e (later) wins");
        ok(p.mounts && strcmp(p.mounts[0], "/etc:/host-etc:ro") == 0, "its mounts");
        ok(p.allow && strcmp(p.allow[0], "yaml.example.com") == 0, "its allowed hosts");
        is_str(p.o.branch, "from-yaml", "its branch");
        run_plan_done(&p);

        /* changed after approval: asked again, obeyed in nothing */
        write_file(path, "image: localhost/from-yaml:1\nnetwork:\n  policy: open\n  allow: [evil.example.com]\n");
        plan_for(&p, NULL);
        is_int(run_plan_load_config(&p, &err), 1, "a changed moat.yaml must be approved again");
        ok(!p.o.image && !p.allow, "the changed file is not obeyed");
        run_plan_done(&p);

        write_file(path, "network: [\n");
        plan_for(&p, NULL);
        ok(run_plan_load_config(&p, &err) < 0 && strstr(moat_error_message(&err), "moat.yaml"),
           "a malformed moat.yaml is an error that names it");
        run_plan_done(&p);
        unlink(path);
}

static void test_provider(void) {
        _cleanup_(moat_error_clear) moat_error err = {};
        run_plan p;

        setenv("PLAN_TEST_PASS", "passed", 1);
        setenv("API_KEY", "the-real-key", 1);
        plan_for(&p, NULL);
        p.prompt = "fix it";
        is_int(run_plan_add_provider(&p, "agent", &err), 0, "the provider's plan");
        is_str(p.o.image, "localhost/agent:1", "the provider's image");
        is_int(p.network, NET_STRICT, "an agent is strict unless asked otherwise");
        ok(!p.interactive, "with a prompt, not interactive");
        ok(p.command && strv_length(p.command) == 4 && strcmp(p.command[3], "fix it") == 0, "the prompt, as typed");
        ok(has(p.env, "PLAN_TEST_PASS=passed") && has(p.env, "MODE=agent"),
           "host variables pass through, and its fixed ones");
        ok(!has(p.env, "API_KEY=the-real-key"), "never a variable a grant stands for");
        ok(has(p.allow, "telemetry.example.com") && has(p.allow, "api.example.com"),
           "no stored grant: its hosts stay reachable");
        is_int((int) p.n_grants, 0, "no stored value: no grant used");
        ok(p.warnings && strv_length(p.warnings) == 1 && strstr(p.warnings[0], "'key' has no stored value"),
           "one warning, for the grant that is not optional");
        run_plan_done(&p);

        is_int(grant_store_put(home, "key", "secret-value", 12, &err), 0, "a stored grant");
        plan_for(&p, NULL);
        p.network = NET_OPEN;
        is_int(run_plan_add_provider(&p, "agent", &err), 0, "the provider's plan with its grant stored");
        is_int(p.network, NET_OPEN, "--network wins over the agent's strict");
        ok(p.n_grants == 1 && strcmp(p.grants[0].name, "key") == 0, "the stored grant is used");
        ok(!has(p.allow, "api.example.com"), "its host comes through the grant, not the allow list");
        ok(!p.warnings, "nothing missing, no warning");
        is_int(run_plan_resolve(&p, &err), 0, "resolved");
        ok(p.o.n_grants == 1 && p.o.network == NET_OPEN && p.o.command == p.command, "the options filled");
        run_plan_done(&p);
        unsetenv("API_KEY");
        unsetenv("PLAN_TEST_PASS");
}

static void test_resolve(void) {
        _cleanup_(moat_error_clear) moat_error err = {};
        run_plan p;

        plan_for(&p, NULL);
        is_int(run_plan_resolve(&p, &err), 0, "a plain plan resolves");
        is_int(p.o.network, NET_OPEN, "a plain run is open unless asked");
        run_plan_done(&p);

        plan_for(&p, NULL);
        strv_push(&p.grant_names, strdup("no-such-grant"));
        ok(run_plan_resolve(&p, &err) < 0 && strstr(moat_error_message(&err), "no-such-grant"),
           "an unknown grant is an error that names it");
        run_plan_done(&p);
}

static void test_record_refuses_moat_places(void) {
        _cleanup_(moat_error_clear) moat_error err = {};
        _cleanup_(run_record_freep) run_record *rec = NULL;
        _cleanup_(run_guard_done) run_guard g = {};
        _cleanup_(run_branch_done) run_branch b = {};
        char mount[600], link[300];
        char *mounts[] = { mount, NULL };
        run_options o = { .workspace = ws, .manager = RUN_MANAGER_USER, .mounts = mounts, .n_mounts = 1 };

        snprintf(link, sizeof(link), "%s/innocent", ws);
        ok(symlink(home, link) == 0, "a link in the workspace to MOAT_HOME");
        snprintf(mount, sizeof(mount), "%s:/cache:ro", link);
        ok(run_plan_record(&o, &rec, &g, &b, &err) < 0 && strstr(moat_error_message(&err), "mount source"),
           "a mount that leads to MOAT_HOME through a link is refused");
        ok(!rec, "no record");
        unlink(link);
        moat_error_clear(&err);

        snprintf(mount, sizeof(mount), "/etc:/host-etc:ro");
        is_int(run_plan_record(&o, &rec, &g, &b, &err), 0, "an ordinary mount is planned");
        ok(rec && rec->n_mounts == 1 && rec->mounts[0].read_only, "read-only as asked");
}

int main(void) {
        setup();
        test_config_needs_approval();
        test_provider();
        test_resolve();
        test_record_refuses_moat_places();
        char cmd[300];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
        if (system(cmd) != 0)
                fprintf(stderr, "# %s failed\n", cmd);
        return tap_done();
}
