/* LD_PRELOAD shim for `fipsforge test`'s fail-closed case: freeze the CPU's time-stamp counter.
 *
 * libjitterentropy reads the timer with an inline `rdtsc`, which no symbol interposition can reach. The
 * constructor asks the kernel to make `rdtsc`/`rdtscp` fault in this process (PR_SET_TSC,
 * PR_TSC_SIGSEGV) and emulates both in a SIGSEGV handler with a counter that never moves, so every time
 * delta the noise source measures is zero and its health tests must trip. The destructor reports how
 * many reads it froze, so a run proves the shim was in effect.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <ucontext.h>

#define FROZEN_TSC 0x0123456789ULL

static volatile uint64_t frozen_reads;
static int armed;

static void emulate_tsc(int signum, siginfo_t *info, void *context)
{
	ucontext_t *uc = context;
	greg_t *regs = uc->uc_mcontext.gregs;
	const unsigned char *ip = (const unsigned char *)regs[REG_RIP];

	if (info->si_code == SI_KERNEL && ip[0] == 0x0f) {
		if (ip[1] == 0x31) { /* rdtsc */
			regs[REG_RAX] = FROZEN_TSC & 0xffffffffULL;
			regs[REG_RDX] = FROZEN_TSC >> 32;
			regs[REG_RIP] += 2;
			frozen_reads++;
			return;
		}
		if (ip[1] == 0x01 && ip[2] == 0xf9) { /* rdtscp */
			regs[REG_RAX] = FROZEN_TSC & 0xffffffffULL;
			regs[REG_RDX] = FROZEN_TSC >> 32;
			regs[REG_RCX] = 0;
			regs[REG_RIP] += 3;
			frozen_reads++;
			return;
		}
	}
	signal(signum, SIG_DFL); /* a real fault: return, fault again, and die as the program would */
}

__attribute__((constructor)) static void freeze_tsc(void)
{
	struct sigaction action = { .sa_sigaction = emulate_tsc, .sa_flags = SA_SIGINFO };

	sigemptyset(&action.sa_mask);
	if (sigaction(SIGSEGV, &action, NULL) != 0 || prctl(PR_SET_TSC, PR_TSC_SIGSEGV, 0, 0, 0) != 0) {
		fprintf(stderr, "fipsforge-fail-closed: cannot freeze the time-stamp counter\n");
		return;
	}
	armed = 1;
}

__attribute__((destructor)) static void report(void)
{
	if (armed)
		fprintf(stderr, "fipsforge-fail-closed: %llu time-stamp counter reads frozen\n",
			(unsigned long long)frozen_reads);
}
