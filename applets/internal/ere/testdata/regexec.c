/* Answers with the C library's regcomp(REG_EXTENDED|REG_NOSUB) and
 * regexec for each record on stdin: a 4-byte little-endian length and the
 * pattern, then the same for the subject. Writes one byte a record:
 * 'E' the pattern does not compile, '1' it matches, '0' it does not.
 * Built by TestMusl with musl-gcc: OpenWrt's libc. */
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static char *next(void)
{
	unsigned char n[4];
	uint32_t len;
	char *buf;

	if (fread(n, 1, 4, stdin) != 4)
		return NULL;
	len = n[0] | n[1] << 8 | n[2] << 16 | (uint32_t)n[3] << 24;
	buf = malloc(len + 1);
	if (!buf || fread(buf, 1, len, stdin) != len)
		exit(2);
	buf[len] = 0;
	return buf;
}

int main(void)
{
	char *pat, *subject;
	regex_t re;

	while ((pat = next()) && (subject = next())) {
		if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB)) {
			putchar('E');
		} else {
			putchar(regexec(&re, subject, 0, NULL, 0) ? '0' : '1');
			regfree(&re);
		}
		free(pat);
		free(subject);
	}
	return fflush(stdout) ? 1 : 0;
}
