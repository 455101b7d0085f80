/* The vkslm command-line tool: one file per command (cmd_<name>.c), dispatched from main.c. */
#ifndef VKSLM_CLI_H
#define VKSLM_CLI_H

int cmd_devices(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);

/* Shared option helpers (main.c). */
int cli_flag(const char *arg, const char *name);                 /* arg == name */
const char *cli_value(int argc, char **argv, int *i, const char *name); /* "--x V" or "--x=V" */
#endif
