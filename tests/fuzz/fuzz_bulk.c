/* fuzz_bulk.c - libFuzzer target for the Bulk API 2.0 text parsers of outside input: query
 * select lists, result locators, CSV values per field type, and the Java double renderer. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bulk.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_INPUT 4096

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, obj[128], loc[40];
	json_t *items = NULL, *out = NULL, *err = NULL;
	struct cs_error e;
	struct sfield f;
	size_t off;
	double d;

	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	s = malloc(size);
	if (s == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';

	switch (data[0] % 4) {
	case 0:
		if (bulk_select_items(s, size - 1, &items, obj, sizeof(obj), &e) == CS_OK) {
			if (items == NULL || json_array_size(items) == 0 || strlen(obj) == 0)
				abort();
		} else if (items != NULL)
			abort();
		json_decref(items);
		break;
	case 1:
		/* a decoded locator encodes back to the same text */
		if (bulk_locator_decode(s, &off)) {
			bulk_locator_encode(off, loc, sizeof(loc));
			if (strcmp(loc, s) != 0)
				abort();
		}
		break;
	case 2:
		/* CSV values are valid UTF-8 without NULs by the time they are converted */
		if (!cs_utf8_valid(s, size - 1) || memchr(s, '\0', size - 1) != NULL)
			break;
		memset(&f, 0, sizeof(f));
		f.name = (char *)"F__c";
		f.label = (char *)"F";
		f.type = (enum ftype)((data[0] >> 2) % (FT_URL + 1));
		switch (bulk_convert(&f, 1, s, size - 1, &out, &err)) {
		case BULK_SKIP:
			if (size - 1 != 0 || out || err)
				abort();
			break;
		case BULK_VALUE:
			if (out == NULL || err != NULL)
				abort();
			break;
		case BULK_BAD:
			if (out != NULL)
				abort();
			break;
		}
		json_decref(out);
		json_decref(err);
		break;
	default:
		if (size - 1 >= sizeof(d)) {
			char txt[40], *end;
			memcpy(&d, s, sizeof(d));
			bulk_java_double(d, txt, sizeof(txt));
			/* the text reads back as the same number */
			if (isfinite(d) && strtod(txt, &end) != d)
				abort();
		}
		break;
	}
	free(s);
	return 0;
}
