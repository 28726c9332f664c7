#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "podman.h"
#include "tap.h"

static void hint_has(const char *socket, const char *host, uid_t euid, const char *want, const char *what) {
        const char *h = podman_socket_hint(socket, host, euid);

        if (!ok(strstr(h, want) != NULL, "%s", what))
                printf("# got: %s\n# want a part: %s\n", h, want);
}

int main(void) {
        _cleanup_free_ char *path = NULL;

        hint_has("/run/podman/podman.sock", NULL, 1000, "needs root",
                 "the system's socket as a user: the cause is that it needs root");
        ok(strstr(podman_socket_hint("/run/podman/podman.sock", NULL, 1000), "--user start") == NULL,
           "the system's socket as a user: never the user manager's start command");
        hint_has("/run/podman/podman.sock", NULL, 0, "'systemctl enable --now podman.socket'",
                 "the system's socket as root: start it");
        hint_has("/run/user/1000/podman/podman.sock", NULL, 1000, "'systemctl --user enable --now podman.socket'",
                 "a rootless socket: the user manager starts it");
        hint_has("/run/x.sock", "unix:///run/x.sock", 1000, "comes from CONTAINER_HOST",
                 "a socket from CONTAINER_HOST says so");
        hint_has("/run/x.sock", "unix:///run/x.sock", 0, "comes from CONTAINER_HOST",
                 "a socket from CONTAINER_HOST says so, as root too");
        hint_has("/run/podman/podman.sock", "unix:///run/other.sock", 0, "'systemctl enable",
                 "CONTAINER_HOST naming another socket is not this one's cause");

        setenv("CONTAINER_HOST", "unix:///run/x.sock", 1);
        is_int(podman_socket_path(true, &path, NULL), 0, "CONTAINER_HOST's socket");
        is_str(path, "/run/x.sock", "its path");
        return tap_done();
}
