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
/* The operator's commands (cmd_sync.c, cmd_audit.c): they talk to a running `clmsync serve`
 * through its admin API. Exit codes: 0 ok, 1 the thing asked about is bad, 2 usage, 3 the admin
 * API cannot be used, 4 not found, 5 not done within --wait; each command's help (help.c) says
 * what they mean for it. */
int cmd_status(int argc, char **argv);
int cmd_dlq(int argc, char **argv);
int cmd_conflicts(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_links(int argc, char **argv);
int cmd_lineage(int argc, char **argv);
/* backfill: the initial load of one mapping through Bulk API 2.0 (cmd_backfill.c). Exit 0 done,
 * 1 some records refused, 2 usage, 3 configuration or store, 4 Salesforce stopped it, 5 interrupted. */
int cmd_backfill(int argc, char **argv);
/* audit: exit 0 intact, 1 broken, 2 usage, 3 store or configuration unreadable. */
int cmd_audit(int argc, char **argv);
/* help [COMMAND] | --man (help.c). */
int cmd_help(int argc, char **argv);

#endif
