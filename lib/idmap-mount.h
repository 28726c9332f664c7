/* Idmapped mounts for rootful agents.  An agent never runs as root, yet in a rootful run what
 * it writes in the workspace and its home must belong to the caller (root), and what the
 * caller owns must be the agent's to write.  Podman 4's own idmapping of rootful containers
 * fails on current kernels (its overlay with idmapped lower layers is refused), so moat maps
 * only what the agent shares with the host: the workspace and the home are mounted, for the
 * run, through idmapped mounts on which the caller's uid and gid and the agent's are swapped
 * (every other id stays as it is), and the container bind-mounts those. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Where a run's mapped trees are mounted while it lives: IDMAP_MOUNT_DIR/<id>/<name>. */
#define IDMAP_MOUNT_DIR "/run/moat/mounts"

/* The uid_map (or gid_map) text that swaps A and B and keeps every other id. */
int idmap_swap_map(uint32_t a, uint32_t b, char *buf, size_t size);

/* Mounts SOURCE (a directory) at IDMAP_MOUNT_DIR/ID/NAME with CALLER and AGENT swapped, uids
 * and gids alike; *ret_path is where.  Needs CAP_SYS_ADMIN. */
int idmap_mount_swap(const char *id, const char *name, const char *source, uid_t caller_uid, gid_t caller_gid,
                     uid_t agent_uid, gid_t agent_gid, char **ret_path, moat_error *err);

/* Unmounts and removes everything under IDMAP_MOUNT_DIR/ID; nothing there is fine. */
int idmap_mounts_remove(const char *id);
