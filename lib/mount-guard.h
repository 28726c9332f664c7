/* What a container may be given of the host.  A mount's source is resolved, every symbolic
 * link followed, before anything is checked, so that a link the agent planted in the
 * workspace (or a "../") is judged by where it leads.  moat's own places (MOAT_HOME with the
 * run records, the grant store and the agents' homes; moat's configuration directory) are
 * never mounted: a source inside one is refused; a source that contains one (a workspace in
 * ~) is mounted with that place hidden under an empty read-only directory, so that `moat
 * claude` typed in ~ still works and shows no grant.  The pure path functions have no I/O
 * and a fuzz target. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "run.h"

/* PATH, absolute, without ".", "..", repeated or trailing slashes (lexically: no link is
 * followed; ".." of "/" is "/").  -EINVAL for a path that is not absolute. */
int path_normalize(const char *path, char **ret);

/* Whether normalized PATH is DIR or below it. */
bool path_is_within(const char *path, const char *dir);

/* SRC (when relative, to BASE, or without one to the working directory) with every symbolic link followed: it must exist. */
int mount_source_resolve(const char *src, const char *base, char **ret, moat_error *err);

/* moat's own places for the caller and the manager M, each resolved when it exists
 * (normalized when it does not yet): MOAT_HOME, the defaults /var/lib/moat and ~/.moat, and
 * $XDG_CONFIG_HOME/moat (~/.config/moat). */
int moat_protected_paths(run_manager m, char ***ret, moat_error *err);

/* Refuses resolved SOURCE when it is one of PROTECTED or inside one; WHAT names it ("mount
 * source", "workspace") in the error. */
int mount_source_check(const char *source, const char *what, char *const *protected, moat_error *err);

/* The protected places strictly inside resolved SOURCE, each as a path relative to it
 * ("a/b"); an empty vector when none. */
int mount_source_protected_inside(const char *source, char *const *protected, char ***ret);
