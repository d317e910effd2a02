/* cli_repo.c - opening the contract repository in-process for import and export; their columns. */
#include "cli/cli_int.h"
#include "util/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_MAX_LEN 4096
#define CLI_POOL_SIZE 2          /* one command thread: a connection and a spare */

static const struct cli_col cols[] = {
	{ "id", CLI_COL_RO },
	{ "number", CLI_COL_TEXT },
	{ "title", CLI_COL_TEXT },
	{ "type", CLI_COL_TEXT },
	{ "status", CLI_COL_TEXT },
	{ "counterparty_id", CLI_COL_TEXT },
	{ "counterparty_legal_name", CLI_COL_CP_NAME },
	{ "owner", CLI_COL_TEXT },
	{ "description", CLI_COL_TEXT },
	{ "effective_date", CLI_COL_TEXT },
	{ "expiration_date", CLI_COL_TEXT },
	{ "term_months", CLI_COL_INT },
	{ "auto_renew", CLI_COL_BOOL },
	{ "renewal_notice_days", CLI_COL_INT },
	{ "notice_deadline", CLI_COL_RO },
	{ "total_value_amount", CLI_COL_AMOUNT },
	{ "total_value_currency", CLI_COL_CURRENCY },
	{ "payment_terms", CLI_COL_TEXT },
	{ "governing_law", CLI_COL_TEXT },
	{ "parent_contract_id", CLI_COL_TEXT },
	{ "parent_contract_number", CLI_COL_PARENT_NUMBER },
	{ "salesforce_opportunity_id", CLI_COL_TEXT },
	{ "salesforce_account_id", CLI_COL_TEXT },
	{ "customer_signed_date", CLI_COL_TEXT },
	{ "company_signed_date", CLI_COL_TEXT },
	{ "approval_status", CLI_COL_TEXT },
	{ "termination_date", CLI_COL_RO },
	{ "termination_reason", CLI_COL_TEXT },
	{ "renewal_id", CLI_COL_RO },
	{ "amendment_ids", CLI_COL_RO },
	{ "version", CLI_COL_RO },
	{ "created_at", CLI_COL_RO },
	{ "updated_at", CLI_COL_RO },
	{ "updated_by", CLI_COL_RO },
};

const struct cli_col *
cli_contract_cols(size_t *n)
{
	*n = sizeof(cols) / sizeof(cols[0]);
	return cols;
}

const struct cli_col *
cli_contract_col(const char *name)
{
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		if (strcmp(cols[i].name, name) == 0)
			return &cols[i];
	return NULL;
}

static enum clm_attr_type
attr_type(enum cs_attr_type t)
{
	switch (t) {
	case CS_ATTR_NUMBER: return CLM_ATTR_NUMBER;
	case CS_ATTR_DECIMAL: return CLM_ATTR_DECIMAL;
	case CS_ATTR_DATE: return CLM_ATTR_DATE;
	case CS_ATTR_DATETIME: return CLM_ATTR_DATETIME;
	case CS_ATTR_BOOLEAN: return CLM_ATTR_BOOLEAN;
	case CS_ATTR_PICKLIST: return CLM_ATTR_PICKLIST;
	default: return CLM_ATTR_TEXT;
	}
}

struct clm_schema *
cli_schema_of(const struct cs_config *cfg, struct cs_error *e)
{
	const struct cs_attr_list *l[CLM_KIND_COUNT] = { 0 };
	struct clm_attr *v[CLM_KIND_COUNT] = { 0 };
	const struct clm_attr *cv[CLM_KIND_COUNT] = { 0 };
	size_t n[CLM_KIND_COUNT] = { 0 };
	struct clm_schema *sc = NULL;

	l[CLM_COUNTERPARTY] = &cfg->custom_counterparty;
	l[CLM_CONTRACT] = &cfg->custom_contract;
	l[CLM_OBLIGATION] = &cfg->custom_obligation;
	for (int k = 0; k < CLM_KIND_COUNT; k++) {
		if (l[k] == NULL || l[k]->n == 0)
			continue;
		if ((v[k] = calloc(l[k]->n, sizeof(struct clm_attr))) == NULL) {
			cs_error_set(e, CS_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < l[k]->n; i++) {
			const struct cs_attr_decl *d = &l[k]->v[i];
			v[k][i] = (struct clm_attr){ d->name, attr_type(d->type), (const char *const *)d->values,
				d->nvalues, d->required, d->max_length };
		}
		cv[k] = v[k];
		n[k] = l[k]->n;
	}
	sc = clm_schema_new(cv, n, e);
out:
	for (int k = 0; k < CLM_KIND_COUNT; k++)
		free(v[k]);
	return sc;
}

int
cli_repo_open(const char *cmd, const char *cfg_path, const char *data, struct cli_repo *r)
{
	struct cs_error_list errs;
	struct cs_error e = { 0 };
	struct clm_opts co;
	char url[PATH_MAX_LEN + 16];

	memset(r, 0, sizeof(*r));
	cs_error_list_init(&errs);
	if (cfg_path != NULL) {
		if (cs_config_load(cfg_path, &r->cfg, &errs) != CS_OK) {
			cs_error_list_print(&errs, stderr);
			if (errs.n == 0)
				fprintf(stderr, "clmsync %s: cannot load %s\n", cmd, cfg_path);
			cs_error_list_cleanup(&errs);
			return 1;
		}
	} else if (cs_config_defaults(&r->cfg) != CS_OK) {
		fprintf(stderr, "clmsync %s: out of memory\n", cmd);
		return 1;
	}
	cs_error_list_cleanup(&errs);
	/* the command's own output is on stdout/stderr; only warnings from the store go to the log */
	cs_log_setup(CS_LOG_WARN, r->cfg->log.json);
	if (data != NULL) {
		if ((size_t)snprintf(url, sizeof(url), "sqlite:%s/clmsync.db", data) >= sizeof(url)) {
			fprintf(stderr, "clmsync %s: --data path too long\n", cmd);
			return 1;
		}
		/* an import into a new data directory starts it, as `serve --data` would */
		if (mkdir(data, 0700) != 0 && errno != EEXIST) {
			fprintf(stderr, "clmsync %s: cannot create the data directory %s: %s\n", cmd, data, strerror(errno));
			return 1;
		}
	} else
		snprintf(url, sizeof(url), "%s", r->cfg->store_url);
	if ((r->schema = cli_schema_of(r->cfg, &e)) == NULL) {
		fprintf(stderr, "clmsync %s: custom attributes: %s\n", cmd, e.msg);
		return 1;
	}
	memset(&co, 0, sizeof(co));
	co.store_url = url;
	co.pool_size = CLI_POOL_SIZE;
	co.max_document_size = r->cfg->repository.max_document_size;
	co.schema = r->schema;
	if (clm_new(&co, &r->clm, &e) != CS_OK) {
		fprintf(stderr, "clmsync %s: cannot open the store %s: %s\n", cmd, url, e.msg);
		r->clm = NULL;
		return 1;
	}
	return 0;
}

void
cli_repo_close(struct cli_repo *r)
{
	clm_free(r->clm);
	clm_schema_free(r->schema);
	cs_config_free(r->cfg);
	memset(r, 0, sizeof(*r));
}
