/*
 * The process model: the master pre-forks workers on one FastCGI socket,
 * replaces the ones that die, reloads on SIGHUP and stops on SIGTERM.
 */
#ifndef FASTCRM_WORKER_H
#define FASTCRM_WORKER_H

#include <fcgiapp.h>

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
 * every request with a fixed JSON instead of parsing and routing it,
 * worker_baseline_bytes long (serve -B -b N; 300 when it is less).
 * tests/bench measures fastcrm against this.
 */
extern int	 worker_baseline;
extern size_t	 worker_baseline_bytes;
/* In a new worker: where to write one byte once it takes connections. */
extern int	 worker_ready_fd;

/*
 * Ends fr's request (FCGX_Finish_r): a connection whose request was read
 * to its end is closed at once, without libfcgi's wait for nginx to close
 * its end first.
 */
void	 worker_finish(FCGX_Request *fr);
/*
 * The one log line of a request: "METHOD PATH STATUS Nus WHO" and, for
 * 4xx/5xx, the reason; 5xx at error, 401 at warn, both with the client's
 * address; batch > 0 names the group commit that held the answer.
 */
void	 worker_log_request(const char *method, const char *path, int status,
	    long long us, const char *who, const char *reason,
	    const char *remote, int batch);

/* Opens the store and the entity databases once, to fail early. */
int	 master_prepare_store(const struct conf *, const char **why);

#endif
