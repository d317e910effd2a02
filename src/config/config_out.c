/* config_out.c - what the settings table prints: effective settings (masked) and the reference. */
#include "config/config_int.h"

#include <string.h>

#define SECRET_MASK "\"****\""

/* Appends s as a YAML double-quoted scalar. */
static cs_err
yaml_quote(struct cs_buf *b, const char *s)
{
	cs_err rc = cs_buf_putc(b, '"');

	for (; rc == CS_OK && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			rc = cs_buf_printf(b, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			rc = cs_buf_printf(b, "\\x%02x", c);
		else
			rc = cs_buf_putc(b, (char)c);
	}
	return rc == CS_OK ? cs_buf_putc(b, '"') : rc;
}

void
cs_config_size_text(unsigned long long v, char *out, size_t n)
{
	if (v >= (1ULL << 30) && v % (1ULL << 30) == 0)
		snprintf(out, n, "%llu GiB", v >> 30);
	else if (v >= (1ULL << 20) && v % (1ULL << 20) == 0)
		snprintf(out, n, "%llu MiB", v >> 20);
	else if (v >= (1ULL << 10) && v % (1ULL << 10) == 0)
		snprintf(out, n, "%llu KiB", v >> 10);
	else
		snprintf(out, n, "%llu", v);
}

static cs_err dump_section(struct cs_buf *b, const struct section *sec, const void *obj, int indent,
                           bool first_dash);

/* Writes the indentation of a line; the first line of a list item starts with "- ". */
static cs_err
lead(struct cs_buf *b, int indent, bool *dash)
{
	if (*dash) {
		*dash = false;
		return cs_buf_printf(b, "%*s- ", indent - 2, "");
	}
	return cs_buf_printf(b, "%*s", indent, "");
}

static cs_err
dump_section(struct cs_buf *b, const struct section *sec, const void *obj, int indent,
             bool first_dash)
{
	const char *base = obj;
	bool dash = first_dash;
	cs_err rc = CS_OK;
	char tmp[64];

	for (size_t i = 0; i < sec->nopts && rc == CS_OK; i++) {
		const struct opt *o = &sec->opts[i];

		switch (o->type) {
		case OT_STR: {
			const char *v = *(char *const *)(base + o->off);

			/* An optional setting that was not given has no effective value. */
			if (o->dflt == NULL && (v == NULL || v[0] == '\0'))
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK &&
			    (rc = cs_buf_printf(b, "%s: ", o->key)) == CS_OK)
				rc = yaml_quote(b, v != NULL ? v : "");
			if (rc == CS_OK)
				rc = cs_buf_putc(b, '\n');
			break;
		}
		case OT_NOINLINE: {
			const char *v = *(char *const *)(base + o->off);

			/* The value itself is never printed, only that it was loaded; as a comment, so
			 * that the dump stays a loadable configuration. */
			if (dash || v == NULL || v[0] == '\0')   /* a comment cannot open a list item */
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "# %s: %s (loaded)\n", o->key, SECRET_MASK);
			break;
		}
		case OT_BOOL:
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: %s\n", o->key,
				                   *(const bool *)(base + o->off) ? "true" : "false");
			break;
		case OT_UINT: {
			unsigned v = *(const unsigned *)(base + o->off);

			if ((o->flags & F_GIVEN) ? !*(const bool *)(base + o->off_n)
			                         : o->dflt == NULL && v == 0)
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: %u\n", o->key, v);
			break;
		}
		case OT_SIZE:
			cs_config_size_text(*(const size_t *)(base + o->off), tmp, sizeof(tmp));
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: %s\n", o->key, tmp);
			break;
		case OT_ENUM: {
			const char *name = cs_config_choice_name(o->choices, *(const int *)(base + o->off));

			if (strcmp(name, "?") == 0)   /* an optional choice that was not made */
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: %s\n", o->key, name);
			break;
		}
		case OT_MAP:
		case OT_PAIRS: {
			const struct cs_pair *p = *(struct cs_pair *const *)(base + o->off);
			size_t n = *(const size_t *)(base + o->off_n);

			if (n == 0)
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: %c", o->key, o->type == OT_MAP ? '{' : '[');
			for (size_t k = 0; k < n && rc == CS_OK; k++) {
				if (k > 0)
					rc = cs_buf_puts(b, ", ");
				if (rc == CS_OK && o->type == OT_PAIRS)
					rc = cs_buf_putc(b, '[');
				if (rc == CS_OK)
					rc = yaml_quote(b, p[k].clm != NULL ? p[k].clm : "");
				if (rc == CS_OK)
					rc = cs_buf_puts(b, o->type == OT_MAP ? ": " : ", ");
				if (rc == CS_OK)
					rc = yaml_quote(b, p[k].sf != NULL ? p[k].sf : "");
				if (rc == CS_OK && o->type == OT_PAIRS)
					rc = cs_buf_putc(b, ']');
			}
			if (rc == CS_OK)
				rc = cs_buf_puts(b, o->type == OT_MAP ? "}\n" : "]\n");
			break;
		}
		case OT_STRLIST: {
			char *const *list = *(char **const *)(base + o->off);
			size_t n = *(const size_t *)(base + o->off_n);

			if (n == 0)
				break;
			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s: [", o->key);
			for (size_t k = 0; k < n && rc == CS_OK; k++) {
				if (k > 0)
					rc = cs_buf_puts(b, ", ");
				if (rc == CS_OK)
					rc = yaml_quote(b, list[k] != NULL ? list[k] : "");
			}
			if (rc == CS_OK)
				rc = cs_buf_puts(b, "]\n");
			break;
		}
		case OT_SECTION: {
			const char *word = o->choices != NULL ?
			    cs_config_choice_name(o->choices, *(const int *)(base + o->off)) : "?";

			if (strcmp(word, "?") != 0) {   /* written as one word ("route: all") */
				if ((rc = lead(b, indent, &dash)) == CS_OK)
					rc = cs_buf_printf(b, "%s: %s\n", o->key, word);
				break;
			}
			{
				size_t mark = b->len;
				bool was_dash = dash;

				if ((rc = lead(b, indent, &dash)) == CS_OK &&
				    (rc = cs_buf_printf(b, "%s:\n", o->key)) == CS_OK) {
					size_t body = b->len;

					rc = dump_section(b, o->sub, obj, indent + 2, false);
					/* A section with nothing set ("lookup:" of a plain field) is left out. */
					if (rc == CS_OK && b->len == body) {
						b->len = mark;
						b->data[mark] = '\0';
						dash = was_dash;
					}
				}
			}
			break;
		}
		case OT_LIST: {
			const char *items = *(char *const *)(base + o->off);
			size_t n = *(const size_t *)(base + o->off_n);

			if ((rc = lead(b, indent, &dash)) == CS_OK)
				rc = cs_buf_printf(b, "%s:%s\n", o->key, n == 0 ? " []" : "");
			for (size_t k = 0; k < n && rc == CS_OK; k++)
				rc = dump_section(b, o->sub, items + k * o->sub->item_size, indent + 4, true);
			break;
		}
		}
	}
	return rc;
}

cs_err
cs_config_dump(const struct cs_config *c, struct cs_buf *b)
{
	return dump_section(b, &cs_config_table, c, 0, false);
}

/* --- the reference -------------------------------------------------------------------------- */

/* Appends text with '|' escaped, for a Markdown table cell. */
static cs_err
cell(struct cs_buf *b, const char *s)
{
	cs_err rc = CS_OK;

	for (; rc == CS_OK && *s != '\0'; s++)
		rc = *s == '|' ? cs_buf_puts(b, "\\|") : cs_buf_putc(b, *s);
	return rc;
}

static cs_err
type_cell(struct cs_buf *b, const struct opt *o)
{
	char lo[32], hi[32];

	switch (o->type) {
	case OT_STR:
		if (o->syntax == NULL)
			return cs_buf_printf(b, "string (%lld-%lld bytes)", o->min, o->max);
		/* A pattern ("HOST:PORT", "[a-z]...") is code; a word ("path") is prose. */
		return cs_buf_printf(b, strpbrk(o->syntax, ":[*") ? "`%s` (%lld-%lld bytes)"
		                                                  : "%s (%lld-%lld bytes)",
		                     o->syntax, o->min, o->max);
	case OT_BOOL:
		return cs_buf_puts(b, "boolean (`true` or `false`)");
	case OT_UINT:
		return cs_buf_printf(b, "integer, %s %lld-%lld", o->syntax != NULL ? o->syntax : "",
		                     o->min, o->max);
	case OT_SIZE:
		cs_config_size_text((unsigned long long)o->min, lo, sizeof(lo));
		cs_config_size_text((unsigned long long)o->max, hi, sizeof(hi));
		return cs_buf_printf(b, "size (bytes, or with KiB/MiB/GiB), %s-%s", lo, hi);
	case OT_ENUM: {
		cs_err rc = cs_buf_puts(b, "one of");

		for (const struct choice *c = o->choices; rc == CS_OK && c->name != NULL; c++)
			rc = cs_buf_printf(b, "%s `%s`", c == o->choices ? "" : ",", c->name);
		return rc;
	}
	case OT_STRLIST:
		return cs_buf_printf(b, "list of %lld-%lld strings (each up to %zu bytes)", o->min,
		                     o->max, o->lmax);
	case OT_SECTION:
		if (o->choices != NULL) {
			cs_err rc = cs_buf_puts(b, "section, or");

			for (const struct choice *c = o->choices; rc == CS_OK && c->name != NULL; c++)
				rc = cs_buf_printf(b, "%s `%s`", c == o->choices ? "" : ",", c->name);
			return rc;
		}
		return cs_buf_puts(b, "section");
	case OT_MAP:
		return cs_buf_printf(b, "mapping of 1-%lld `%s` (each up to %zu bytes)", o->max,
		                     o->syntax, o->lmax);
	case OT_PAIRS:
		return cs_buf_printf(b, "list of 1-%lld `[repository field, Salesforce field]`", o->max);
	case OT_LIST:
		return cs_buf_printf(b, "list of up to %lld entries", o->max);
	case OT_NOINLINE:
		return cs_buf_puts(b, "refused");
	}
	return CS_OK;
}

static cs_err
ref_section(struct cs_buf *b, const struct section *sec, const char *prefix)
{
	cs_err rc = CS_OK;

	for (size_t i = 0; i < sec->nopts && rc == CS_OK; i++) {
		const struct opt *o = &sec->opts[i];
		char path[256];

		snprintf(path, sizeof(path), "%s%s", prefix, o->key);
		rc = cs_buf_printf(b, "| `%s` | ", path);
		if (rc == CS_OK)
			rc = type_cell(b, o);
		if (rc == CS_OK)
			rc = cs_buf_puts(b, " | ");
		if (rc == CS_OK) {
			if (o->dflt != NULL)
				rc = cs_buf_printf(b, "`%s`", o->dflt);
			else if (o->type == OT_NOINLINE)
				rc = cs_buf_puts(b, "never in the file");
			else if (o->flags & F_REQUIRED)
				rc = cs_buf_puts(b, "required");
			else if (o->type == OT_LIST)
				rc = cs_buf_puts(b, "none");
			else if (o->type == OT_SECTION)
				rc = cs_buf_puts(b, "");
			else
				rc = cs_buf_puts(b, "not set");
		}
		if (rc == CS_OK)
			rc = cs_buf_puts(b, " | ");
		if (rc == CS_OK && (o->flags & F_SECRET))
			rc = cs_buf_puts(b, o->type == OT_NOINLINE ? "**Secret.** " : "**Names a secret.** ");
		if (rc == CS_OK)
			rc = cell(b, o->help);
		if (rc == CS_OK)
			rc = cs_buf_puts(b, " |\n");
		if (rc == CS_OK && o->type == OT_SECTION) {
			snprintf(path, sizeof(path), "%s%s.", prefix, o->key);
			rc = ref_section(b, o->sub, path);
		} else if (rc == CS_OK && o->type == OT_LIST) {
			snprintf(path, sizeof(path), "%s%s[].", prefix, o->key);
			rc = ref_section(b, o->sub, path);
		}
	}
	return rc;
}

cs_err
cs_config_reference(struct cs_buf *b)
{
	cs_err rc = cs_buf_printf(b,
	    "# clmsync configuration reference\n"
	    "\n"
	    "<!-- Generated by `clmsync config reference` from the settings table in\n"
	    "     src/config/config.c; a unit test keeps this file equal to that output. -->\n"
	    "\n"
	    "clmsync reads one YAML file (`clmsync serve --config FILE`). `clmsync config check FILE`\n"
	    "validates it without starting anything and prints the effective settings, secrets\n"
	    "masked. Without a file, `clmsync serve` runs on the defaults below.\n"
	    "\n"
	    "Rules:\n"
	    "\n"
	    "- The whole file is validated before anything starts, and every problem is reported,\n"
	    "  each as `FILE:LINE: KEY: PROBLEM`.\n"
	    "- Unknown keys are errors (with a suggestion when a known key is close).\n"
	    "- Values are read by the type of their setting, so quoting never changes their meaning.\n"
	    "  Anchors and aliases, and more than one YAML document, are not accepted.\n"
	    "- Secrets (API tokens, OAuth client secrets and refresh tokens, private keys) are never\n"
	    "  written in the file: they come from a file that only its owner may read or write\n"
	    "  (`chmod 600`; a file its group or others may read is refused, naming the file), or\n"
	    "  from an environment variable. They are read before `clmsync serve` gives up root\n"
	    "  (`server.user`) and are never printed (docs/security.md).\n"
	    "- Settings that refer to each other are checked together, wherever they are in the\n"
	    "  file: a mapping's org exists, a lookup names a mapping of the same org for the right\n"
	    "  entity, repository fields exist for the mapping's entity (custom ones declared), a\n"
	    "  value map covers every value of a status, and fields are mapped once.\n"
	    "- Relative paths are relative to the working directory of the process.\n"
	    "- A file is at most %d bytes; an empty file (no settings) is refused.\n"
	    "\n"
	    "Keys are written as paths: `repository.listen` is `listen` inside `repository`;\n"
	    "`api_tokens[].role` is `role` in each entry of the `api_tokens` list.\n"
	    "config/examples/clmsync.yaml is a complete, commented example of orgs and mappings.\n"
	    "\n"
	    "| Key | Type | Default | Description |\n"
	    "| --- | --- | --- | --- |\n", CS_CONFIG_FILE_MAX);

	if (rc == CS_OK)
		rc = ref_section(b, &cs_config_table, "");
	return rc;
}
