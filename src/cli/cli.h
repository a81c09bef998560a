/* cli.h — the command groups of the gpurun binary. Each command is
 * `int cmd_NAME(int argc, char **argv)` (argv[0] is the verb) returning the
 * process exit status; main.c's table maps verbs to them. */
#ifndef GPURUN_CLI_H
#define GPURUN_CLI_H

int cmd_version(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_hello(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_serve(int argc, char **argv);

int cmd_daemon(int argc, char **argv);
int cmd_deploy(int argc, char **argv);
int cmd_services(int argc, char **argv);
int cmd_revisions(int argc, char **argv);
int cmd_logs(int argc, char **argv);
int cmd_billing(int argc, char **argv);
int cmd_auth(int argc, char **argv);
#endif
