/*
 * libFuzzer target for the log's escaping (log_escape in app/log.c), the
 * one place where paths, names and reasons from clients reach fastcrm's
 * log.  For any input:
 *
 *  - the escaped text holds no control character (C0, DEL, C1 as UTF-8)
 *    and is well-formed UTF-8: escaping it again changes nothing;
 *  - walking input and output side by side, each input byte is either
 *    copied (printable ASCII; a whole well-formed UTF-8 sequence) or
 *    written as \xNN of that very byte, and nothing else is written;
 *  - with a smaller output buffer (its size from the first input byte)
 *    the text is a prefix of the whole one that ends on a whole unit,
 *    and always fits (< cap).
 *
 *	tests/fuzz.sh log
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastcrm/log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Length of a UTF-8 sequence by its lead byte (0 for none). */
static size_t
seqlen(unsigned char c)
{
	if (c >= 0xc0 && c <= 0xdf)
		return 2;
	if (c >= 0xe0 && c <= 0xef)
		return 3;
	if (c >= 0xf0 && c <= 0xf7)
		return 4;
	return 0;
}

/* The side-by-side walk; returns the input bytes accounted for. */
static size_t
walk(const unsigned char *in, size_t n, const unsigned char *out, size_t m)
{
	char	 esc[5];
	size_t	 i = 0, o = 0, k;

	while (i < n && o < m) {
		snprintf(esc, sizeof(esc), "\\x%02x", in[i]);
		if (in[i] >= 0x20 && in[i] < 0x7f) {
			if (out[o] != in[i])
				abort();
			i++;
			o++;
		} else if (in[i] < 0x80 || out[o] == '\\') {
			if (o + 4 > m || memcmp(out + o, esc, 4) != 0)
				abort();
			i++;
			o += 4;
		} else {
			/* Copied: a whole sequence, the same bytes. */
			if ((k = seqlen(in[i])) == 0 || i + k > n ||
			    o + k > m || memcmp(out + o, in + i, k) != 0)
				abort();
			i += k;
			o += k;
		}
	}
	if (o != m)
		abort();
	return i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*in = (const char *)data;
	char		*out, *again, *part;
	size_t		 cap, m, m2, p, pcap, i;

	cap = size * 4 + 1;
	if ((out = malloc(cap)) == NULL || (again = malloc(cap)) == NULL ||
	    (part = malloc(cap)) == NULL)
		abort();
	m = log_escape(in, size, out, cap);
	if (m >= cap)
		abort();
	for (i = 0; i < m; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();
	for (i = 0; i + 1 < m; i++)
		if ((unsigned char)out[i] == 0xc2 &&
		    (unsigned char)out[i + 1] >= 0x80 &&
		    (unsigned char)out[i + 1] <= 0x9f)
			abort();
	m2 = log_escape(out, m, again, cap);
	if (m2 != m || memcmp(out, again, m) != 0)
		abort();
	if (walk(data, size, (const unsigned char *)out, m) != size)
		abort();

	pcap = size > 0 ? (size_t)data[0] % (cap + 1) : 0;
	if (pcap > 0) {
		p = log_escape(in, size, part, pcap);
		if (p >= pcap || p > m || memcmp(part, out, p) != 0)
			abort();
		/* It ends on a whole unit: the walk accounts for it. */
		(void)walk(data, size, (const unsigned char *)part, p);
	}
	free(out);
	free(again);
	free(part);
	return 0;
}
