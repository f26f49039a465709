/*
 * err.c — the error classes users see, their hints and exit statuses, and the
 * last-error record functions fill in.  Must not print anything itself except
 * through cf_warnx/cf_debug.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cf.h"

const char *cf_progname = "certfleet";
int cf_verbose;

static const struct {
	const char *code;
	const char *hint;
	int exit;
} errtab[CF_E__COUNT] = {
	[CF_OK] = {"OK", "", 0},
	[CF_E_USAGE] = {"USAGE", "see --help", 64},
	[CF_E_INVALID_INPUT] = {"INVALID_INPUT", "check the value named above", 65},
	[CF_E_NO_DOMAIN] = {"NO_DOMAIN", "add a domain first (-d DOMAIN)", 66},
	[CF_E_ALREADY_ACTIVE] = {"ALREADY_ACTIVE", "nothing to do; use --force to replace it anyway", 2},
	[CF_E_ALREADY_PENDING] = {"ALREADY_PENDING", "another run is working on this domain; wait, and see the activity log", 75},
	[CF_E_DNS_NOT_RESOLVING] = {"DNS_NOT_RESOLVING", "fix the DNS records of the name and wait for propagation", 68},
	[CF_E_CONNECTION_REFUSED] = {"CONNECTION_REFUSED", "the CA could not reach this server: open port 80 to the internet", 69},
	[CF_E_RATE_LIMITED] = {"RATE_LIMITED", "wait until the time given before trying again", 70},
	[CF_E_CA_ERROR] = {"CA_ERROR", "the CA refused the request; see the detail, retry later", 71},
	[CF_E_UNAUTHORIZED] = {"UNAUTHORIZED", "the CA fetched a wrong answer: check that the name points at this server and nothing else answers port 80", 72},
	[CF_E_CAA] = {"CAA", "a CAA record of the domain forbids this CA; add one allowing it", 73},
	[CF_E_REJECTED_IDENTIFIER] = {"REJECTED_IDENTIFIER", "the CA will not issue for this name", 74},
	[CF_E_TLS_ERROR] = {"TLS_ERROR", "the server's certificate could not be verified: check --ca-file and the system clock", 76},
	[CF_E_NETWORK] = {"NETWORK_ERROR", "check the network path to the server and retry", 77},
	[CF_E_PROTOCOL] = {"PROTOCOL_ERROR", "the peer sent something invalid or too large; retry, report if it persists", 78},
	[CF_E_NGINX_INVALID] = {"NGINX_INVALID", "nginx -t failed; nothing was changed, see nginx's message", 79},
	[CF_E_PORT_IN_USE] = {"PORT_IN_USE", "another server holds the port: use --webroot DIR or --nginx instead, or stop it", 83},
	[CF_E_IO_ERROR] = {"IO_ERROR", "check disk space, permissions and that the file system is writable", 80},
	[CF_E_NOMEM] = {"OUT_OF_MEMORY", "free memory and retry", 81},
	[CF_E_INTERNAL] = {"INTERNAL_ERROR", "a bug: please report it with the detail", 82},
	[CF_E_HOOK_FAILED] = {"HOOK_FAILED", "run the hook by hand with the variables shown in certfleet-agent(1) and fix it", 104},
	[CF_E_NOT_DUE] = {"NOT_DUE", "nothing to do: no certificate is due for renewal (use --force to renew anyway)", 2},
	[CF_E_CONNECT_TIMEOUT] = {"CONNECT_TIMEOUT", "the host did not answer on its SSH port: check that it is up and the address/port", 86},
	[CF_E_AUTH_FAILED] = {"AUTH_FAILED", "authorize one of the keys tried for that user, or load the right key into ssh-agent", 87},
	[CF_E_UNKNOWN_HOST_KEY] = {"UNKNOWN_HOST_KEY", "check the fingerprint on the host, then rerun with --accept-new", 88},
	[CF_E_HOST_KEY_MISMATCH] = {"HOST_KEY_MISMATCH", "possible man-in-the-middle: verify the host's key out of band before touching known_hosts", 89},
	[CF_E_AGENT_MISSING] = {"AGENT_MISSING", "install the agent there first: certfleet deploy", 90},
	[CF_E_AGENT_FAILED] = {"AGENT_FAILED", "see the agent's own error code and detail", 91},
	[CF_E_TIMEOUT] = {"TIMEOUT", "the host did not finish in time: raise --command-timeout or look at the host", 92},
	[CF_E_FE_CONFIG] = {"FE_CONFIG", "set the FE_* variables or --fe-config FILE (mode 0600); see certfleet(1)", 96},
	[CF_E_FE_AUTH] = {"FE_AUTH", "FlexibleEngine refused the credentials: check user, password, domain and project (or AK/SK) and the clock", 97},
	[CF_E_FE_API] = {"FE_API_ERROR", "FlexibleEngine refused the request: see the FE error code in the detail", 98},
	[CF_E_FE_CERT_INVALID] = {"FE_CERT_INVALID", "the certificate or key is not valid PEM, or the key does not belong to the certificate; nothing was changed", 99},
	[CF_E_DNS_TIMEOUT] = {"DNS_TIMEOUT", "the TXT record did not appear on the name servers in time: check the zone, --resolver, or raise --dns-timeout", 100},
	[CF_E_NGINX_PARSE] = {"NGINX_PARSE", "the nginx configuration could not be read safely; nothing was changed, see the file:line given", 84},
	[CF_E_NGINX_RELOAD] = {"NGINX_RELOAD", "nginx did not take the new configuration; see nginx's error log", 85},
	[CF_E_NO_HOST_CERT] = {"NO_HOST_CERT", "that host holds no unexpired certificate for the name: issue or renew it there first (certfleet issue|renew HOST), or check -d and the host's certfleet_prefix", 105},
	[CF_E_BAD_OUTPUT] = {"BAD_AGENT_OUTPUT", "the host answered with output certfleet cannot use (too large, not JSON, "
	    "or cut off): run the agent there by hand, or reinstall it with certfleet deploy", 106},
	[CF_E_SSH_CONFIG] = {"SSH_CONFIG", "ssh_config asks for something certfleet does not do: change or scope the line named "
	    "(file:line), or give another file with -F; see SSH in certfleet(1)", 111},
	[CF_E_TOO_MANY_AUTH_FAILURES] = {"TOO_MANY_AUTH_FAILURES", "the host closed the login after too many keys "
	    "(sshd MaxAuthTries): set IdentitiesOnly yes and the right IdentityFile for the host in ssh_config, "
	    "or load fewer keys into ssh-agent", 112},
	[CF_E_HOST_CERT_INVALID] = {"HOST_CERT_INVALID", "the host's key or certificate is refused by known_hosts "
	    "(@revoked, @cert-authority) or StrictHostKeyChecking: see the file:line named", 113},
};

static enum cf_err last_err;
static char last_detail[1024];

const char *
cf_err_code(enum cf_err e)
{
	return (unsigned)e < CF_E__COUNT ? errtab[e].code : "INTERNAL_ERROR";
}

const char *
cf_err_hint(enum cf_err e)
{
	return (unsigned)e < CF_E__COUNT ? errtab[e].hint : "";
}

int
cf_err_exit(enum cf_err e)
{
	return (unsigned)e < CF_E__COUNT ? errtab[e].exit : 1;
}

int
cf_seterr(enum cf_err e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	size_t n;

	char tmp[sizeof last_detail];

	/* formatted apart first: callers often wrap the previous detail,
	 * cf_seterr(e, "...: %s", cf_lasterr_detail()) */
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	n = strlen(tmp);
	if (n > 0 && tmp[n - 1] == ':')
		snprintf(tmp + n, sizeof tmp - n, " %s", strerror(saved));
	memcpy(last_detail, tmp, sizeof last_detail);
	last_err = e;
	errno = saved;
	return -1;
}

enum cf_err
cf_lasterr(void)
{
	return last_err;
}

const char *
cf_lasterr_detail(void)
{
	return last_detail;
}

void
cf_clearerr(void)
{
	last_err = CF_OK;
	last_detail[0] = '\0';
}

static void
vwarn(const char *fmt, va_list ap)
{
	fprintf(stderr, "%s: ", cf_progname);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
cf_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
cf_debug(const char *fmt, ...)
{
	va_list ap;

	if (!cf_verbose)
		return;
	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}
