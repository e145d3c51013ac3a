/*
 * Writes a seccomp BPF program that makes getrandom(2) fail with ENOSYS, for bwrap --seccomp.
 *
 * Built with libseccomp, so the filter does not depend on the libcrypto under test.
 * Usage: seccomp-filter OUTPUT.bpf
 */
#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTPUT.bpf\n", argv[0]);
        return 2;
    }
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL) {
        fprintf(stderr, "seccomp_init failed\n");
        return 1;
    }
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(getrandom), 0);
    if (rc != 0) {
        fprintf(stderr, "seccomp_rule_add(getrandom): %d\n", rc);
        return 1;
    }
    int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(argv[1]);
        return 1;
    }
    rc = seccomp_export_bpf(ctx, fd);
    close(fd);
    seccomp_release(ctx);
    if (rc != 0) {
        fprintf(stderr, "seccomp_export_bpf: %d\n", rc);
        return 1;
    }
    return 0;
}
