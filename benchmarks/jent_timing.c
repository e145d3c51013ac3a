/*
 * Times libjitterentropy's start-up and per-seed costs, the way OpenSSL's JITTER seed source uses it:
 * jent_entropy_init_ex(osr, JENT_FORCE_FIPS) once, then for every seed request a fresh collector
 * (jent_entropy_collector_alloc), one jent_read_entropy of SEED bytes, and jent_entropy_collector_free.
 *
 * Usage: jent_timing OSR SEED_BYTES ROUNDS   (prints JSON: seconds, medians over ROUNDS)
 */
#include <jitterentropy.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s OSR SEED_BYTES ROUNDS\n", argv[0]);
        return 2;
    }
    unsigned int osr = (unsigned int)atoi(argv[1]);
    size_t seed_bytes = (size_t)atoi(argv[2]);
    int rounds = atoi(argv[3]);
    double *alloc = calloc(rounds, sizeof(double)), *read = calloc(rounds, sizeof(double));
    char *buffer = malloc(seed_bytes);

    double start = now();
    int rc = jent_entropy_init_ex(osr, JENT_FORCE_FIPS);
    double init = now() - start;
    if (rc != 0) {
        fprintf(stderr, "jent_entropy_init_ex: %d\n", rc);
        return 1;
    }
    for (int i = 0; i < rounds; i++) {
        double t0 = now();
        struct rand_data *collector = jent_entropy_collector_alloc(osr, JENT_FORCE_FIPS);
        double t1 = now();
        if (collector == NULL || jent_read_entropy(collector, buffer, seed_bytes) < 0) {
            fprintf(stderr, "collector failed\n");
            return 1;
        }
        double t2 = now();
        jent_entropy_collector_free(collector);
        alloc[i] = t1 - t0;
        read[i] = t2 - t1;
    }
    qsort(alloc, rounds, sizeof(double), compare);
    qsort(read, rounds, sizeof(double), compare);
    printf("{\"osr\": %u, \"seed_bytes\": %zu, \"init_s\": %.6f, \"alloc_s\": %.6f, \"read_s\": %.6f}\n",
           osr, seed_bytes, init, alloc[rounds / 2], read[rounds / 2]);
    return 0;
}
