/* sfid.c - Salesforce id checksums. */
#include "salesforce/sfid.h"

#include <string.h>

static const char suffix_chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool
alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

void
sfid_suffix(const char p[15], char out[3])
{
	for (int chunk = 0; chunk < 3; chunk++) {
		unsigned v = 0;
		for (int k = 0; k < 5; k++) {
			char c = p[chunk * 5 + k];
			if (c >= 'A' && c <= 'Z')
				v |= 1u << k;
		}
		out[chunk] = suffix_chars[v];
	}
}

bool
sfid_to18(const char *s, size_t len, char out[SFID_LEN + 1])
{
	char suf[3];

	if (len != 15 && len != 18)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!alnum(s[i]))
			return false;
	sfid_suffix(s, suf);
	if (len == 18) {
		for (int i = 0; i < 3; i++) {
			char c = s[15 + i];
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			if (c != suf[i])
				return false;
		}
	}
	memcpy(out, s, 15);
	memcpy(out + 15, suf, 3);
	out[SFID_LEN] = '\0';
	return true;
}

void
sfid_make(const char prefix[3], const char pod[2], unsigned long long seq, char out[SFID_LEN + 1])
{
	memcpy(out, prefix, 3);
	memcpy(out + 3, pod, 2);
	for (int i = 14; i >= 5; i--) {
		out[i] = b62[seq % 62];
		seq /= 62;
	}
	sfid_suffix(out, out + 15);
	out[SFID_LEN] = '\0';
}

bool
sfid_equal(const char *a, const char *b)
{
	char x[SFID_LEN + 1], y[SFID_LEN + 1];

	if (!sfid_to18(a, strlen(a), x) || !sfid_to18(b, strlen(b), y))
		return false;
	return memcmp(x, y, 15) == 0;
}
