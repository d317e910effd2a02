/* fuzz_bayeux.c - libFuzzer target: Bayeux request bodies through the parser and the protocol.
 *
 * One emulator serves the whole run. Each input finds no client and an event log of a gap event
 * on Contract then one on Account, the first of them already past the replay window when the
 * input's length is odd; the clients and events an input leaves are dropped when it ends, so
 * that an input leaves the heap as it found it (a run whose inputs keep memory has libFuzzer
 * look for a leak after every such input, which took most of the run's time). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cometd.h"
#include "emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct emu *emu;

/* One emulator for the whole run, with long polls off so that a connect never blocks. */
static void
start(void)
{
	struct cs_error e = { 0 };
	json_t *cfg;

	emu = calloc(1, sizeof(*emu));
	if (emu == NULL || emu_init(emu, NULL, &e) != CS_OK)
		abort();
	cfg = json_pack("{s:i}", "hold_ms", 0);
	emu_lock(emu);
	if (cometd_configure(emu, cfg, &e) != CS_OK)
		abort();
	emu_unlock(emu);
	json_decref(cfg);
}

/* A clientId of "$" stands for the client the last handshake of this input created, so that
 * inputs reach past the unknown-client check. */
static void
bind_client(json_t *msgs, const char *cid)
{
	size_t i;
	json_t *m;

	json_array_foreach(msgs, i, m) {
		const char *v = json_string_value(json_object_get(m, "clientId"));
		if (cid[0] && v != NULL && strcmp(v, "$") == 0)
			json_object_set_new(m, "clientId", json_string(cid));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cs_error e;
	json_t *msgs = NULL, *replies = NULL;
	bool form = size >= 8 && memcmp(data, "message=", 8) == 0;
	char cid[COMETD_ID_LEN + 1] = "";

	if (emu == NULL)
		start();
	if (cometd_parse_messages((const char *)data, size, form, &msgs, &e) != CS_OK)
		return 0;
	emu_lock(emu);
	emu_publish_gap(emu, "Contract", "GAP_UPDATE", NULL);
	if (size % 2 != 0)
		cometd_expire_events(emu);
	emu_publish_gap(emu, "Account", "GAP_UPDATE", NULL);
	emu_unlock(emu);
	/* Handshakes first, one batch per message, so that later messages can name the client. */
	for (size_t i = 0; i < json_array_size(msgs); i++) {
		json_t *one = json_array(), *m = json_array_get(msgs, i);
		bind_client(msgs, cid);
		json_array_append(one, m);
		if (cometd_process(emu, one, &replies) == CS_OK) {
			const char *id = json_string_value(json_object_get(json_array_get(replies, 0), "clientId"));
			if (id != NULL && strlen(id) == COMETD_ID_LEN)
				memcpy(cid, id, COMETD_ID_LEN + 1);
			json_decref(replies);
		}
		json_decref(one);
	}
	/* and the whole array as one batch */
	bind_client(msgs, cid);
	if (cometd_process(emu, msgs, &replies) == CS_OK)
		json_decref(replies);
	json_decref(msgs);
	emu_lock(emu);
	cometd_expire_clients(emu);
	cometd_expire_events(emu);
	emu_unlock(emu);
	return 0;
}
