/*
 * The process model: the master pre-forks workers on one FastCGI socket,
 * replaces the ones that die, reloads on SIGHUP and stops on SIGTERM.
 */
#ifndef FASTCRM_WORKER_H
#define FASTCRM_WORKER_H

struct conf;

/* Runs the master until SIGTERM/SIGINT; returns the exit status. */
int	 master_run(const char *conf_path);
/*
 * Serves requests on fd until told to stop, or until life (the read end
 * of a pipe only the master writes to) reports the master's death;
 * never returns.
 */
void	 worker_run(const struct conf *, int fd, int life, int gen)
	    __attribute__((noreturn));
/*
 * Benchmark baseline (serve -B): the workers run the same loop but answer
 * every request with a fixed 300-byte JSON instead of parsing and routing
 * it.  tests/bench measures fastcrm against this.
 */
extern int	 worker_baseline;
/* In a new worker: where to write one byte once it takes connections. */
extern int	 worker_ready_fd;

/* Opens the store and the entity databases once, to fail early. */
int	 master_prepare_store(const struct conf *, const char **why);

#endif
