// After containerd 1.6 contrib/seccomp/seccomp_default.go (DefaultProfile) and seccomp.go
// (WithProfile): the seccomp profile of RuntimeDefault, for x86_64. What it allows beyond the
// base list depends on the container's bounding capabilities and, for ptrace, on the kernel.
import { readFile } from "node:fs/promises";
import { release } from "node:os";
import { BerthError } from "../../lib/errdefs.js";
import type { LinuxSeccomp, LinuxSyscall } from "../../runc/oci-spec.js";

// Syscalls every container may make; one string keeps the long list readable.
const allowed = `
accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime
clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep
clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3 epoll_create
epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd
eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr
flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
ftruncate ftruncate64 futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64
getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername
getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32
getrlimit get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid
gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch
io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set
io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen
listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2
mprotect mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2
pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64
process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead readlink
readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask
rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity
sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl semget semop
semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid
setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat
shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socket socketcall
socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`;

// Execution domains a process may switch to: PER_LINUX, UNAME26, ADDR_NO_RANDOMIZE, both of
// the latter, and the query value.
const personalities = [0x0, 0x0008, 0x20000, 0x20008, 0xffffffff];

// Syscalls a capability in the bounding set makes safe to allow.
const byCapability: Record<string, string[]> = {
  CAP_DAC_READ_SEARCH: ["open_by_handle_at"],
  CAP_SYS_ADMIN: [
    "bpf",
    "clone",
    "clone3",
    "fanotify_init",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_tree",
    "perf_event_open",
    "quotactl",
    "quotactl_fd",
    "setdomainname",
    "sethostname",
    "setns",
    "syslog",
    "umount",
    "umount2",
    "unshare",
  ],
  CAP_SYS_BOOT: ["reboot"],
  CAP_SYS_CHROOT: ["chroot"],
  CAP_SYS_MODULE: ["delete_module", "init_module", "finit_module"],
  CAP_SYS_PACCT: ["acct"],
  CAP_SYS_PTRACE: [
    "kcmp",
    "pidfd_getfd",
    "process_madvise",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
  ],
  CAP_SYS_RAWIO: ["iopl", "ioperm"],
  CAP_SYS_TIME: ["settimeofday", "stime", "clock_settime", "clock_settime64"],
  CAP_SYS_TTY_CONFIG: ["vhangup"],
  CAP_SYS_NICE: ["get_mempolicy", "mbind", "set_mempolicy"],
  CAP_SYSLOG: ["syslog"],
  CAP_BPF: ["bpf"],
  CAP_PERFMON: ["perf_event_open"],
};

// The namespace flags of clone(2): without CAP_SYS_ADMIN a process may clone but not unshare.
const CLONE_NEWNS = 0x00020000;
const CLONE_NEWCGROUP = 0x02000000;
const CLONE_NEWUTS = 0x04000000;
const CLONE_NEWIPC = 0x08000000;
const CLONE_NEWUSER = 0x10000000;
const CLONE_NEWPID = 0x20000000;
const CLONE_NEWNET = 0x40000000;
const cloneNamespaceFlags =
  CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP;
const ENOSYS = 38;

const allow = (names: string[]): LinuxSyscall => ({ names, action: "SCMP_ACT_ALLOW" });

/** Whether `kernel` (a uname release such as "6.1.0-18-amd64") is at least major.minor. */
export function kernelAtLeast(kernel: string, major: number, minor: number): boolean {
  const [maj = 0, min = 0] = (/^(\d+)\.(\d+)/.exec(kernel) ?? []).slice(1).map(Number);
  return maj > major || (maj === major && min >= minor);
}

/** The RuntimeDefault profile for a process with the bounding set `bounding`. */
export function defaultProfile(bounding: string[], kernel = release()): LinuxSeccomp {
  const syscalls: LinuxSyscall[] = [
    allow(allowed.trim().split(/\s+/)),
    ...personalities.map(
      (value): LinuxSyscall => ({
        ...allow(["personality"]),
        args: [{ index: 0, value, op: "SCMP_CMP_EQ" }],
      }),
    ),
  ];
  // ptrace stopped being a way around seccomp in Linux 4.8.
  if (kernelAtLeast(kernel, 4, 8)) syscalls.push(allow(["ptrace"]));
  syscalls.push(allow(["arch_prctl", "modify_ldt"]));
  for (const cap of bounding) {
    const names = byCapability[cap];
    if (names) syscalls.push(allow(names));
  }
  if (!bounding.includes("CAP_SYS_ADMIN")) {
    syscalls.push(
      { ...allow(["clone"]), args: [{ index: 0, value: cloneNamespaceFlags, op: "SCMP_CMP_MASKED_EQ" }] },
      // ENOSYS, not EPERM, so that libcs fall back to clone, whose flags can be checked.
      { names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS },
    );
  }
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    syscalls,
  };
}

/** A Localhost profile: the JSON file at `path`, as runc reads it. */
export async function loadProfile(path: string): Promise<LinuxSeccomp> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new BerthError("Unknown", `cannot load seccomp profile "${path}": ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    return JSON.parse(text) as LinuxSeccomp;
  } catch (err) {
    throw new BerthError("Unknown", `decoding seccomp profile failed "${path}": ${(err as Error).message}`, {
      cause: err,
    });
  }
}
