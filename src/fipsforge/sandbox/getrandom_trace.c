/* LD_PRELOAD shim for `fipsforge test`: make every getrandom()/getentropy() call a real system call.
 *
 * glibc 2.41 on Linux 6.11+ answers getrandom() from the vDSO: after one key fetch per thread, the
 * calls never enter the kernel, so a syscall tracer cannot see them (nor who made them). These two
 * wrappers replace glibc's, for every library that calls them by name, with the plain system call:
 * the same bytes from the same kernel generator, one traced syscall per call, with the caller's stack.
 * (glibc-internal callers such as malloc's tcache key already use the system call directly.)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

ssize_t getrandom(void *buffer, size_t length, unsigned int flags)
{
	return syscall(SYS_getrandom, buffer, length, flags);
}

int getentropy(void *buffer, size_t length)
{
	unsigned char *cursor = buffer;

	if (length > 256) {
		errno = EIO;
		return -1;
	}
	while (length > 0) {
		long got = syscall(SYS_getrandom, cursor, length, 0);

		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		cursor += got;
		length -= (size_t)got;
	}
	return 0;
}
