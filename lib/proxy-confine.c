#include "config.h"

#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proxy-confine.h"

#define NOBODY 65534

#if defined(__x86_64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define AUDIT_ARCH_NATIVE AUDIT_ARCH_AARCH64
#endif

/* What the proxy never calls, and an agent that took it over would want to.  A list of what
 * is denied, not of what is allowed: the event loop's calls (epoll_*, timerfd_*, signalfd4,
 * eventfd2) and those of the resolver's threads (clone3, futex) stay open, as the e2e test of
 * an unprivileged proxy that still serves shows. */
static const int denied_syscalls[] = {
        SYS_execve, SYS_execveat, SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev,
        SYS_mount, SYS_umount2, SYS_pivot_root, SYS_chroot, SYS_setns, SYS_unshare,
        SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_bpf,
        SYS_perf_event_open, SYS_userfaultfd, SYS_keyctl, SYS_add_key, SYS_request_key,
        SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_swapon, SYS_swapoff, SYS_reboot,
        SYS_acct, SYS_settimeofday, SYS_clock_settime, SYS_setuid, SYS_setgid, SYS_setreuid,
        SYS_setregid, SYS_setresuid, SYS_setresgid, SYS_setgroups,
#ifdef SYS_fsopen
        SYS_fsopen, SYS_fsmount, SYS_move_mount, SYS_open_tree,
#endif
};

#ifdef AUDIT_ARCH_NATIVE
/* A filter of one check per denied call: EPERM for those, and for any other architecture's
 * calling convention (x32 and i386 number theirs differently), everything else allowed. */
static int install_filter(void) {
        /* the arch check (3), the number's load, the x32 check, 2 a call, the two returns */
        struct sock_filter f[4 + 1 + 2 * ELEMENTSOF(denied_syscalls) + 2];
        size_t n = 0;

        f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
        f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_NATIVE, 1, 0);
        f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        f[n++] = (struct sock_filter) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __x86_64__
        /* x32's calls are the same numbers with bit 30 set */
        f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 2 * ELEMENTSOF(denied_syscalls) + 1, 0);
#endif
        for (size_t i = 0; i < ELEMENTSOF(denied_syscalls); i++) {
                f[n++] = (struct sock_filter) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned) denied_syscalls[i], 0, 1);
                f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
        }
        f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
#ifdef __x86_64__
        f[n++] = (struct sock_filter) BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
#endif
        struct sock_fprog prog = { .len = (unsigned short) n, .filter = f };

        return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0 ? -errno : 0;
}
#else
static int install_filter(void) {
        return 0; /* an architecture this filter does not know: the rest still holds */
}
#endif

uid_t proxy_confined_uid(void) {
        struct passwd *pw = getpwnam("nobody");

        return pw ? pw->pw_uid : NOBODY;
}

/* Root gives up its identity: every capability from the bounding set, then the ids, which
 * clears the permitted and effective sets. */
static int drop_root(moat_error *err) {
        struct passwd *pw = getpwnam("nobody");
        uid_t uid = pw ? pw->pw_uid : NOBODY;
        gid_t gid = pw ? pw->pw_gid : NOBODY;

        for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return moat_error_set(err, -errno, "cannot drop capability %d: %m", cap);
        if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
                return moat_error_set(err, -errno, "cannot become nobody: %m");
        if (setresuid(0, 0, 0) == 0)
                return moat_error_set(err, -EPERM, "could become root again after dropping it");
        return 0;
}

int proxy_confine(moat_error *err) {
        struct __user_cap_header_struct head = { .version = _LINUX_CAPABILITY_VERSION_3 };
        struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
        int r;

        /* only the unit's main process speaks for the unit */
        unsetenv("NOTIFY_SOCKET");
        if (geteuid() == 0) {
                r = drop_root(err);
                if (r < 0)
                        return r;
        }
        /* a user's proxy has none to begin with; whatever it has goes, ambient ones too */
        (void) prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
        if (syscall(SYS_capset, &head, none) < 0)
                return moat_error_set(err, -errno, "cannot drop capabilities: %m");
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return moat_error_set(err, -errno, "cannot set no_new_privs: %m");
        /* a change of ids resets it: the grants' values and the CA's key stay unreadable */
        (void) prctl(PR_SET_DUMPABLE, 0);
        r = install_filter();
        if (r < 0)
                return moat_error_set(err, r, "cannot install the system-call filter: %s", strerror(-r));
        return 0;
}
