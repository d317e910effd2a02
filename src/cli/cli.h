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
/* audit: exit 0 intact, 1 broken, 2 usage, 3 store or configuration unreadable. */
int cmd_audit(int argc, char **argv);

#endif
