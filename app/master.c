/*
 * The master: reads the configuration, opens the FastCGI socket, forks
 * the workers and then only supervises.  A worker that dies is replaced
 * (with a pause if it dies young); SIGHUP loads the configuration again
 * and, if it is valid, starts a new generation of workers and lets the old
 * one finish its requests; SIGTERM/SIGINT stop everything gracefully;
 * SIGUSR1 reopens the log file in every process.
 *
 * Under systemd the socket comes from fastcrm.socket (sd_listen_fds): it
 * outlives the master, so during a restart or an upgrade nginx's connects
 * wait in its backlog for the next master instead of failing.  The master
 * tells systemd READY=1 once its workers wait for connections, RELOADING=1
 * and READY=1 around a reload, STOPPING=1 when it stops.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <systemd/sd-daemon.h>

#include "fastcrm/conf.h"
#include "fastcrm/entity.h"
#include "fastcrm/error.h"
#include "fastcrm/log.h"
#include "fastcrm/metrics.h"
#include "fastcrm/worker.h"

#define MAX_SLOTS	1024
#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION	"(unversioned)"	/* built outside configure */
#endif

struct slot {
	pid_t		 pid;
	int		 gen;
	time_t		 started;
};

static volatile sig_atomic_t	 got_chld, got_hup, got_term, got_alrm;
static volatile sig_atomic_t	 got_usr1;
static struct slot		 slots[MAX_SLOTS];
static int			 generation;
static int			 pending;	/* workers to start */
/*
 * Only the master holds life[1]: when it dies, however it dies, the
 * workers' life[0] turns readable (EOF) and they finish and exit instead
 * of idling for ever on a socket a restarted master has replaced.
 */
static int			 life[2] = { -1, -1 };
/* Each worker writes a byte to ready[1] once it waits for connections. */
static int			 ready[2] = { -1, -1 };
static int			 inherited;	/* the socket is systemd's */

static void
on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		got_chld = 1;
		break;
	case SIGHUP:
		got_hup = 1;
		break;
	case SIGALRM:
		got_alrm = 1;
		break;
	case SIGUSR1:
		/* Also runs in workers, which inherit this handler. */
		(void)log_reopen();
		got_usr1 = 1;
		break;
	default:
		got_term = 1;
		break;
	}
}

static void
print_diag(const struct conf_diag *d)
{
	size_t	 i;

	for (i = 0; i < d->nerrors; i++)
		log_error("config: %s", d->errors[i]);
	for (i = 0; i < d->nwarnings; i++)
		log_warn("config: %s", d->warnings[i]);
}

int
master_prepare_store(const struct conf *conf, const char **why)
{
	struct store	*st;
	int		 rc;

	if (entity_init(conf, why) != 0)
		return -1;
	if ((rc = entity_store_open(conf, NULL, &st, why)) != 0) {
		/* The caller says "cannot open the store in DIR". */
		*why = error_reason(rc);
		return -1;
	}
	rc = entity_sync_api_users(conf, st, why);
	entity_store_close(st);
	if (rc != 0 && *why == NULL)
		*why = error_reason(rc);
	return rc != 0 ? -1 : 0;
}

/* The socket systemd passed (fastcrm.socket), or 0 if none, -1 if bad. */
static int
listen_fd(void)
{
	int	 n, fd;

	if ((n = sd_listen_fds(1)) <= 0)
		return n == 0 ? 0 : -1;
	fd = SD_LISTEN_FDS_START;
	if (n > 1) {
		log_error("systemd passed %d sockets; fastcrm takes one", n);
		return -1;
	}
	if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
		log_error("the socket systemd passed is not a listening "
		    "stream socket");
		return -1;
	}
	return fd;
}

static int
open_socket(const char *listen)
{
	const char	*path;
	int		 fd, fl;

	if ((fd = listen_fd()) != 0) {
		if (fd < 0)
			return -1;
		inherited = 1;
		goto opened;
	}
	if (strncmp(listen, "unix:", 5) == 0) {
		path = listen + 5;
		if (unlink(path) == -1 && errno != ENOENT) {
			log_error("cannot remove old socket %s: %s", path,
			    strerror(errno));
			return -1;
		}
	} else
		path = listen;
	if ((fd = FCGX_OpenSocket(path, 1024)) < 0) {
		log_error("cannot listen on %s", listen);
		return -1;
	}
	if (strncmp(listen, "unix:", 5) == 0)
		chmod(path, 0666);
opened:
	/* Workers poll, then accept: a lost race must not block. */
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

static int
spawn(const struct conf *conf, int fd, const sigset_t *orig)
{
	pid_t	 pid;
	size_t	 i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid == 0)
			break;
	if (i == MAX_SLOTS)
		return -1;
	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		close(life[1]);
		close(ready[0]);
		worker_ready_fd = ready[1];
		worker_run(conf, fd, life[0], generation);
	}
	slots[i].pid = pid;
	slots[i].gen = generation;
	slots[i].started = time(NULL);
	return 0;
}

/* The purge process (purge_deleted_after), beside the workers. */
static pid_t	 purger;

static void
purger_start(const struct conf *conf, int fd, const sigset_t *orig)
{
	pid_t	 pid;

	if (conf->purge_deleted_after <= 0)
		return;
	if ((pid = fork()) == -1) {
		log_error("fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, orig, NULL);
		close(life[1]);
		close(fd);
		entity_purge_run(conf, life[0]);
	}
	purger = pid;
}

static void
purger_stop(void)
{
	if (purger > 0)
		kill(purger, SIGTERM);
	purger = 0;
}

static int
count_live(int gen)
{
	int	 i, n = 0;

	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0 && (gen < 0 || slots[i].gen == gen))
			n++;
	return n;
}

static void
signal_gen(int gen, int sig, int except)
{
	int	 i;

	for (i = 0; i < MAX_SLOTS; i++)
		if (slots[i].pid != 0 && (gen < 0 ? slots[i].gen != except :
		    slots[i].gen == gen))
			kill(slots[i].pid, sig);
}

/* Reaps dead workers; schedules replacements for the current ones. */
static void
reap(const struct conf *conf, int stopping)
{
	pid_t	 pid;
	int	 status, i, dead, young = 0, crashed = 0;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < MAX_SLOTS; i++)
			if (slots[i].pid == pid)
				break;
		if (i == MAX_SLOTS)
			continue;
		slots[i].pid = 0;
		if (WIFSIGNALED(status) || (WIFEXITED(status) &&
		    WEXITSTATUS(status) != 0))
			crashed = 1;
		if (stopping || slots[i].gen != generation) {
			log_debug("worker %d (generation %d) exited",
			    (int)pid, slots[i].gen);
			continue;
		}
		if (WIFSIGNALED(status))
			log_warn("worker %d killed by signal %d; replacing it",
			    (int)pid, WTERMSIG(status));
		else
			log_warn("worker %d exited with status %d; replacing "
			    "it", (int)pid, WEXITSTATUS(status));
		metrics_worker_restart(status);
		if (time(NULL) - slots[i].started < 2)
			young = 1;
		pending++;
	}
	if (crashed && entity_store_reader_check(conf, &dead) == 0 &&
	    dead > 0) {
		log_info("cleared %d stale LMDB reader slot(s)", dead);
		metrics_readers_cleared(dead);
	}
	if (young)
		alarm(1);
	else
		got_alrm = 1;
}

/*
 * Waits (at most ten seconds) until n workers said they wait for
 * connections; a worker that dies at start is replaced by the main loop.
 */
static void
wait_ready(int n)
{
	struct pollfd	 pfd;
	char		 b[256];
	time_t		 deadline;
	ssize_t		 got;

	deadline = time(NULL) + 10;
	pfd.fd = ready[0];
	pfd.events = POLLIN;
	while (n > 0 && time(NULL) < deadline) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((got = read(ready[0], b, (size_t)n < sizeof(b) ?
		    (size_t)n : sizeof(b))) > 0)
			n -= (int)got;
	}
}

/* Bytes from workers spawned later (replacements) are only drained. */
static void
drain_ready(void)
{
	char	 b[256];

	while (read(ready[0], b, sizeof(b)) > 0)
		;
}

static int
use_log_file(const struct conf *conf)
{
	if (log_set_file(conf->log_file) == -1) {
		log_error("cannot open log_file %s: %s", conf->log_file,
		    strerror(errno));
		return -1;
	}
	return 0;
}

int
master_run(const char *path)
{
	struct conf		*conf = NULL, *next;
	struct conf_diag	 diag;
	struct sigaction	 sa;
	sigset_t		 block, orig, empty;
	const char		*why;
	time_t			 deadline;
	int			 fd, i, dead;

	memset(&diag, 0, sizeof(diag));
	if (conf_load(path, &conf, &diag) != 0) {
		print_diag(&diag);
		conf_diag_free(&diag);
		return 1;
	}
	if (use_log_file(conf) != 0) {
		conf_diag_free(&diag);
		conf_free(conf);
		return 1;
	}
	print_diag(&diag);
	conf_diag_free(&diag);
	log_set_debug(conf->log_level != NULL &&
	    strcmp(conf->log_level, "debug") == 0);
	if (metrics_init() != 0)
		log_warn("metrics: no shared memory segment; /metrics shows "
		    "zeros");
	if (master_prepare_store(conf, &why) != 0) {
		log_error("cannot open the store in %s: %s", conf->data_dir,
		    why);
		conf_free(conf);
		return 1;
	}
	/* A master killed earlier may have left readers of dead workers. */
	if (entity_store_reader_check(conf, &dead) == 0 && dead > 0) {
		log_info("cleared %d stale LMDB reader slot(s)", dead);
		metrics_readers_cleared(dead);
	}
	if ((fd = open_socket(conf->listen)) < 0) {
		conf_free(conf);
		return 1;
	}
	if (pipe(life) == -1 || pipe2(ready, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_error("pipe: %s", strerror(errno));
		close(fd);
		conf_free(conf);
		return 1;
	}
	fcntl(life[0], F_SETFD, FD_CLOEXEC);
	fcntl(life[1], F_SETFD, FD_CLOEXEC);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	/* Workers run the handler mid-request: let their calls go on. */
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_flags = 0;
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGALRM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &orig);
	sigemptyset(&empty);

	generation = 1;
	for (i = 0; i < conf->workers; i++)
		spawn(conf, fd, &orig);
	purger_start(conf, fd, &orig);
	wait_ready(conf->workers);
	log_info("fastcrm master %d listening on %s%s with %d workers, "
	    "version %s", (int)getpid(), inherited ?
	    "the socket from systemd, " : "", conf->listen, conf->workers,
	    PACKAGE_VERSION);
	sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=%d workers", (int)getpid(),
	    conf->workers);

	while (!got_term) {
		if (!got_chld && !got_hup && !got_alrm)
			sigsuspend(&empty);
		if (got_term)
			break;
		if (got_chld) {
			got_chld = 0;
			reap(conf, 0);
		}
		if (got_usr1) {
			got_usr1 = 0;
			signal_gen(-1, SIGUSR1, -1);
			log_info("log file reopened");
		}
		drain_ready();
		if (got_alrm) {
			got_alrm = 0;
			while (pending > 0 && count_live(generation) <
			    conf->workers) {
				if (spawn(conf, fd, &orig) != 0)
					break;
				pending--;
			}
			pending = 0;
		}
		if (got_hup) {
			got_hup = 0;
			sd_notify(0, "RELOADING=1");
			memset(&diag, 0, sizeof(diag));
			next = NULL;
			if (conf_load(path, &next, &diag) != 0) {
				print_diag(&diag);
				log_error("reload refused: %s is invalid; "
				    "keeping the running configuration", path);
				conf_diag_free(&diag);
				sd_notify(0, "READY=1");
				continue;
			}
			print_diag(&diag);
			conf_diag_free(&diag);
			if (strcmp(next->listen, conf->listen) != 0)
				log_warn("reload: a new listen address takes a "
				    "restart; keeping %s", conf->listen);
			if (master_prepare_store(next, &why) != 0) {
				log_error("reload refused: %s", why);
				conf_free(next);
				entity_init(conf, &why);
				sd_notify(0, "READY=1");
				continue;
			}
			if ((next->log_file == NULL) != (conf->log_file ==
			    NULL) || (next->log_file != NULL &&
			    strcmp(next->log_file, conf->log_file) != 0))
				(void)use_log_file(next);
			free(next->listen);
			next->listen = strdup(conf->listen);
			conf_free(conf);
			conf = next;
			log_set_debug(conf->log_level != NULL &&
			    strcmp(conf->log_level, "debug") == 0);
			generation++;
			drain_ready();
			for (i = 0; i < conf->workers; i++)
				spawn(conf, fd, &orig);
			wait_ready(conf->workers);
			/* The old generation finishes its requests and exits. */
			signal_gen(-1, SIGTERM, generation);
			purger_stop();
			purger_start(conf, fd, &orig);
			log_info("configuration reloaded (generation %d)",
			    generation);
			sd_notify(0, "READY=1");
		}
	}
	purger_stop();
	sd_notify(0, "STOPPING=1");
	log_info("stopping: waiting for %d worker(s)", count_live(-1));
	signal_gen(-1, SIGTERM, -1);
	deadline = time(NULL) + 10;
	while (count_live(-1) > 0 && time(NULL) < deadline) {
		reap(conf, 1);
		if (count_live(-1) > 0)
			usleep(20000);
	}
	if (count_live(-1) > 0) {
		log_warn("killing %d worker(s) that did not stop",
		    count_live(-1));
		signal_gen(-1, SIGKILL, -1);
		while (count_live(-1) > 0) {
			reap(conf, 1);
			usleep(10000);
		}
	}
	close(fd);
	if (!inherited && strncmp(conf->listen, "unix:", 5) == 0)
		unlink(conf->listen + 5);
	log_info("stopped");
	conf_free(conf);
	return 0;
}
