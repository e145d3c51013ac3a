/*
 * jent_raw: record raw time deltas from libjitterentropy's own sampling loop.
 *
 * Each sample is the time delta that jent_measure_jitter() measures around one pass of the
 * library's memory-access noise source, before it is hashed into the entropy pool (the library's
 * test interface `ret_current_delta`). The collector is allocated exactly as in production
 * (jent_entropy_collector_alloc with the given osr and flags), so memory access, the hash loop and
 * the timer GCD are those the stack runs.
 *
 * Usage: jent_raw OSR FLAGS SAMPLES RESTARTS
 *   RESTARTS == 0: one collector, SAMPLES consecutive deltas.
 *   RESTARTS  > 0: RESTARTS fresh collectors, SAMPLES deltas each (SP 800-90B §3.1.4).
 * Output on stdout: the deltas as little-endian uint64. Progress and errors on stderr.
 * Build with -O0: the library refuses optimisation.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "jitterentropy.h"
#include "jitterentropy-noise.h"

static int record(struct rand_data *ec, unsigned long samples, FILE *out)
{
	uint64_t delta = 0;
	unsigned long i;

	/* Prime prev_time: the first delta is measured against zero. */
	jent_measure_jitter(ec, 0, &delta);
	for (i = 0; i < samples; i++) {
		jent_measure_jitter(ec, 0, &delta);
		if (fwrite(&delta, sizeof(delta), 1, out) != 1)
			return -1;
	}
	return 0;
}

static const char *init_error(int code)
{
	switch (code) {
	case ENOTIME: return "ENOTIME: no timer service";
	case ECOARSETIME: return "ECOARSETIME: timer too coarse";
	case ENOMONOTONIC: return "ENOMONOTONIC: timer not monotonic";
	case EMINVARIATION: return "EMINVARIATION: timer variations too small";
	case EVARVAR: return "EVARVAR: no variations of variations";
	case EMINVARVAR: return "EMINVARVAR: variations of variations too small";
	case ESTUCK: return "ESTUCK: too many stuck measurements";
	case EHEALTH: return "EHEALTH: health test failed";
	case ERCT: return "ERCT: repetition count test failed";
	case EHASH: return "EHASH: hash self test failed";
	case EMEM: return "EMEM: out of memory";
	case EGCD: return "EGCD: timer GCD self test failed";
	default: return "unknown error";
	}
}

static unsigned long parse(const char *text, const char *what)
{
	char *end = NULL;
	unsigned long value;

	errno = 0;
	value = strtoul(text, &end, 0);
	if (errno || end == text || *end != '\0') {
		fprintf(stderr, "jent_raw: %s: not a number: %s\n", what, text);
		exit(2);
	}
	return value;
}

int main(int argc, char *argv[])
{
	unsigned int osr, flags;
	unsigned long samples, restarts, r;
	struct rand_data *ec;
	int ret;

	if (argc != 5) {
		fprintf(stderr, "usage: jent_raw OSR FLAGS SAMPLES RESTARTS\n");
		return 2;
	}
	osr = (unsigned int)parse(argv[1], "OSR");
	flags = (unsigned int)parse(argv[2], "FLAGS");
	samples = parse(argv[3], "SAMPLES");
	restarts = parse(argv[4], "RESTARTS");

	ret = jent_entropy_init_ex(osr, flags);
	if (ret) {
		fprintf(stderr, "jent_entropy_init_ex(osr %u, flags 0x%x) failed with %d (%s)\n",
			osr, flags, ret, init_error(ret));
		return 1;
	}
	for (r = 0; r < (restarts ? restarts : 1); r++) {
		ec = jent_entropy_collector_alloc(osr, flags);
		if (!ec) {
			fprintf(stderr, "jent_raw: jent_entropy_collector_alloc failed\n");
			return 1;
		}
		ret = record(ec, samples, stdout);
		jent_entropy_collector_free(ec);
		if (ret) {
			fprintf(stderr, "jent_raw: write failed\n");
			return 1;
		}
	}
	if (fflush(stdout))
		return 1;
	return 0;
}
