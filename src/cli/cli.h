/* cli.h - the clmsync subcommands; each lives in its own cmd_*.c file. */
#ifndef CS_CLI_H
#define CS_CLI_H

/* Every command takes the arguments after its name (argv[0] is the command name) and returns
 * the process exit code: 0 success, 1 failure, 2 usage error. */
int cmd_serve(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_mapping(int argc, char **argv);
/* The operator's commands on the sync engine's state (cmd_sync.c): dlq list|show|replay|discard,
 * conflicts list|show|resolve, reconcile. Exit 0 done, 1 nothing matched (reconcile: drift
 * without --repair), 2 usage, 3 store or configuration unreadable, 4 the running engine did not
 * apply the request in time. */
int cmd_dlq(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
/* backfill: the initial load of one mapping through Bulk API 2.0 (cmd_backfill.c). Exit 0 done,
 * 1 some records refused, 2 usage, 3 configuration or store, 4 Salesforce stopped it, 5 interrupted. */
int cmd_backfill(int argc, char **argv);
/* audit: exit 0 intact, 1 broken, 2 usage, 3 store or configuration unreadable. */
int cmd_audit(int argc, char **argv);

#endif
