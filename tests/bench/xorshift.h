/*
 * The bench programs' random numbers (lmdb_get.c, lmdb_put.c): xorshift64
 * from a fixed seed, so that every run draws the same sequence.
 */
#ifndef BENCH_XORSHIFT_H
#define BENCH_XORSHIFT_H

#include <stddef.h>

static unsigned long long rnd = 88172645463325252ULL;

/* A number below n. */
static size_t
random_below(size_t n)
{
	rnd ^= rnd << 13;
	rnd ^= rnd >> 7;
	rnd ^= rnd << 17;
	return (size_t)(rnd % n);
}

#endif
