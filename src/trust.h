/* moat trust, and the same question asked where a run meets a moat.yaml not yet approved. */
#pragma once

#include "config-trust.h"

/* Prints what A's moat.yaml lets runs do beyond what was approved (config-trust.h). */
int trust_show(FILE *out, const config_approval *a, const char *workspace);

/* A run met A's moat.yaml unapproved: on a terminal, shows it and asks (yes records the
 * approval in HOME); off one, refuses with the command that approves it.  -1 to go on,
 * else the exit status, reported. */
int trust_confirm(const config_approval *a, const char *home, const char *workspace);
