/* sent.h - a link's writes in flight to Salesforce: added when planned, answered, retired by our own change event (or when it does not come), kept a while as values of ours. */
#ifndef CS_SYNC_SENT_H
#define CS_SYNC_SENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A link's "sent" array holds, oldest first, the writes planned for the Salesforce record and
 * not yet seen to have landed, one entry per plan: {"f": {sfField: canonical}, "ms", "ok",
 * "w", "seen"}. An entry is unanswered until the applier has Salesforce's answer ("ok" true,
 * "ms" when, "w" the write that carried it: several entries of a record go in one write), and
 * awaited until our own change event for that write has been planned. While an entry is there,
 * its values are "in flight": an event of ours carrying one is an echo, and a Salesforce edit
 * of one of its fields is weighed against the value on its way.
 *
 * A retired entry is not dropped at once: marked "done", it stays no longer in flight, as a
 * value of ours (sync_sent_wrote). One whose write our own change event showed ("shown"; or a
 * later write's event, as Salesforce commits our writes in order) stays as long as an answered
 * entry is awaited (SYNC_SENT_KEEP_MS). One retired because its event had not come by then (lost
 * in a gap, a write that changed nothing, or the stream behind) stays unshown, the newest few for
 * as long as Change Data Capture keeps events: when the stream had only fallen behind, its event
 * comes later and is an echo.
 * An event of ours showing a value of ours is an echo, save one: a write Salesforce served late,
 * after a newer one (on its way when the engine was killed, or its answer timed out), shows an
 * older value of ours after the newest write of the field has been shown. A value that
 * automation in Salesforce set in the same transaction as our write is none of ours.
 *
 * The entries are matched with our change events by value, not by count: Salesforce commits a
 * write and sends one event for it, but one write may carry several entries (coalesced) and a
 * write whose answer was lost is made again, each time with an event of its own that shows no
 * new value. All calls take the array (borrowed, changed in place); none fails except for
 * running out of memory, which leaves an entry in place (the safe side: it is awaited longer).
 * Worker thread only, like the link row it belongs to.
 */

/* The value of field in flight (the latest entry's, borrowed), or NULL, also when the latest
 * entry carrying field has been shown by our own change event: that value landed, and
 * sync_sent_retire handed it to the link's base. */
json_t *sync_sent_pending(const json_t *sent, const char *field);

/* A whole-record read made after Salesforce answered the writes in flight that carry field
 * showed field as it is since (the write's value, or a later edit), and the plan of that read
 * took it into the repository and the base: the entries are marked ("x"), for that field, so
 * that the repository's side is no longer compared with their value (sync_sent_read_over), which
 * would take the read's own value, coming back from the change feed, for a repository edit. They
 * stay in flight and values of ours otherwise, awaiting their own event (an event older than the
 * read is still weighed against them). Returns whether sent changed. */
bool sync_sent_overtaken(json_t *sent, const char *field);
/* Whether the latest entry in flight carrying field was overtaken by a whole-record read. */
bool sync_sent_read_over(const json_t *sent, const char *field);

/* The value of field in the latest entry in flight carrying it (borrowed), or NULL when none
 * does; *landed says whether our own change event has shown that entry. */
json_t *sync_sent_latest(const json_t *sent, const char *field, bool *landed);

/* A new array of the entries still in flight (not retired), for display; NULL without memory. */
json_t *sync_sent_in_flight(const json_t *sent);

/* Whether the latest entry in flight carrying field is unanswered and not shown by our own
 * event: its write may still be on its way (a whole-record read made now may precede it). */
bool sync_sent_unanswered(const json_t *sent, const char *field);

/* Whether an entry in flight or retired (not yet pruned) carries v for field: a value of ours. */
bool sync_sent_wrote(const json_t *sent, const char *field, const json_t *v);
/* Whether an entry not yet known to have landed (unanswered, and not shown by our own change
 * event) carries v for field: a write of v still to come. */
bool sync_sent_queued(const json_t *sent, const char *field, const json_t *v);

/* Salesforce answered the write that carried the first n unanswered entries: they are
 * answered, named by wid (borrowed, e.g. the write's first outbox key), at now_ms. When our
 * event showed one of them before the answer came (the answer had been lost), the write is
 * retired at once. */
void sync_sent_answer(json_t *sent, size_t n, json_t *wid, int64_t now_ms);

/* Our own change event shows the values `shown` (sfField -> canonical, borrowed). It retires
 * the write it comes from: the oldest entry it shows, with the entries that write carried,
 * and every answered entry before it (Salesforce commits our writes in order, so their events
 * came first, or never come because they changed nothing). An unanswered entry it shows is
 * marked seen, to be retired on its answer, with every later unanswered entry whose values it
 * shows wherever it shows their fields (the write that carried them all; an entry it shows
 * another value of was planned after that write went out); the values of the entries it marks go into landed (sfField ->
 * canonical, later entries over earlier ones; may be NULL): Salesforce held them as of this
 * event, which makes them the base both sides agree on, save the fields a later entry still in
 * flight carries (the plan that made it set their base). The oldest entry retired unshown that
 * the event shows, and the retired entries before it or before the entry in flight it shows,
 * are shown as of now_ms; a later one showing the same values is not (its own event is still
 * to come). Returns whether sent changed. */
bool sync_sent_retire(json_t *sent, const json_t *shown, json_t *landed, int64_t now_ms);

/* Whether the latest of the first n unanswered entries that carries field has been shown by
 * our own change event: the base took its value then (sync_sent_retire), and an answer coming
 * after must not set the base back over a Salesforce change planned since. */
bool sync_sent_seen(const json_t *sent, size_t n, const char *field);

/* Whether an unanswered entry after the first n carries field: a later write of it, planned
 * since (a Salesforce change weighed against the first n set the base then); its answer, not
 * theirs, settles the field's base. */
bool sync_sent_later(const json_t *sent, size_t n, const char *field);

/* Whether the first n unanswered entries (a record's queued write, apply.c) have all been shown
 * by our own change events: the write landed though its answer was lost, and making it again
 * would overwrite what Salesforce's users changed since. */
bool sync_sent_landed(const json_t *sent, size_t n);

/* A write of field that is planned and not yet answered will not be made after all (a manual
 * conflict holds the field, apply.c takes it out of the queued write): field leaves every
 * unanswered entry, which stay (the applier answers entries by count). Returns whether sent
 * changed. */
bool sync_sent_withdraw(json_t *sent, const char *field);
/* An answered entry older than keep_ms is no longer awaited: it is retired, unshown. Retired
 * entries are forgotten: shown ones older than keep_ms, unshown ones older than done_keep_ms or
 * beyond the newest done_max. Returns whether sent changed. */
bool sync_sent_prune(json_t *sent, int64_t now_ms, int64_t keep_ms, int64_t done_keep_ms, size_t done_max);

/* The value of field in the latest entry retired unshown (its event not come when it was no
 * longer awaited) that was answered at or after since_ms (borrowed), or NULL: a write of ours
 * that landed after a Salesforce change committed at since_ms, whose event, behind the stream,
 * may still come. */
json_t *sync_sent_unshown_since(const json_t *sent, const char *field, int64_t since_ms);

/* Whether the latest retired entry carrying field has been shown by our own change event (true
 * when none carries it): an event of ours showing an older value of ours comes after it, from a
 * write Salesforce served late. While it has not, such an event may be one that only came late,
 * before the latest write's own. */
bool sync_sent_last_shown(const json_t *sent, const char *field);

#endif
