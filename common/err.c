/*
 * err.c — the error classes users see, their hints and exit statuses, and the
 * last-error record functions fill in.  Must not print anything itself except
 * through cf_warnx/cf_debug.  Details and messages pass through text_safe():
 * what a peer wrote never reaches a terminal raw.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cf.h"
#include "text.h"

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
	[CF_E_UNKNOWN_HOST_KEY] = {"UNKNOWN_HOST_KEY", "check the host key's fingerprint on the host; the detail says how to record it", 88},
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
	[CF_E_ARCH_UNSUPPORTED] = {"ARCH_UNSUPPORTED", "certfleet carries agents for x86_64 and aarch64 "
	    "Linux only; see certfleet agent-binary --help", 101},
	[CF_E_NGINX_CHALLENGE_LOCATION] = {"NGINX_CHALLENGE_LOCATION", "the server block has its own "
	    "/.well-known/acme-challenge/ location that cannot serve files (a return, proxy_pass...): "
	    "remove it or make it serve a directory (root/alias); nothing was changed", 93},
	[CF_E_NGINX_REGEX] = {"NGINX_REGEX", "a server_name regular expression uses PCRE syntax the agent "
	    "cannot evaluate, so it cannot tell which server block nginx picks for the name: give the name "
	    "an exact server_name, or rewrite the regex; nothing was changed", 94},
	[CF_E_NGINX_UNREACHABLE] = {"NGINX_UNREACHABLE", "no nginx server block listens where the name "
	    "resolves to: fix the DNS record or add a listen for that address; nothing was changed", 95},
	[CF_E_NGINX_WORKER_ACCESS] = {"NGINX_WORKER_ACCESS", "nginx's worker user cannot reach the "
	    "challenge directory under the agent's prefix: give that user search (x) permission on the "
	    "directory named, or use a prefix it can traverse", 102},
	[CF_E_SINGLE_LABEL] = {"SINGLE_LABEL_NAME", "a name without a dot (localhost, an intranet host "
	    "name) cannot get a certificate from a public CA: use the name's fully qualified form", 103},
	[CF_E_SSH_NO_COMMON_ALGORITHM] = {"SSH_NO_COMMON_ALGORITHM", "the server allows no algorithm certfleet "
	    "implements for what the detail names (it lists both sides): allow one of certfleet's in the "
	    "server's sshd_config; certfleet(1) SSH lists them all", 109},
	[CF_E_INVENTORY] = {"INVENTORY_ERROR", "fix the inventory source named in the detail (certfleet(1) INVENTORY lists the formats and what is refused); `ansible-inventory -i SOURCE --list` shows how Ansible reads it", 119},
	[CF_E_INVENTORY_SCRIPT] = {"INVENTORY_SCRIPT_FAILED", "run the inventory script with --list yourself: it must exit 0 within the time limit and print one JSON object (its stderr is shown in the detail)", 121},
	[CF_E_NO_AGENT_PATH] = {"NO_AGENT_PATH", "no directory tried could hold a runnable agent (read-only, noexec or not writable): "
	    "set certfleet_agent_path to a file in a writable directory mounted exec, or ansible_become", 116},
	[CF_E_UPLOAD_CORRUPT] = {"UPLOAD_CORRUPT", "the agent written on the host is not the one sent (disk full? a proxy "
	    "in the way?); nothing was replaced: retry, and check the host's free space", 117},
	[CF_E_AGENT_WONT_RUN] = {"AGENT_WONT_RUN", "the uploaded agent did not start on the host (another CPU "
	    "architecture, or a noexec mount); nothing was replaced", 118},
	[CF_E_PROXY_FAILED] = {"PROXY_FAILED", "the jump host or ProxyCommand named above could not reach the host: "
	    "check that host's address and port from the jump host (ssh -J), AllowTcpForwarding there, or the command", 114},
	[CF_E_SSH_OPTION] = {"SSH_OPTION_UNSUPPORTED", "certfleet does not honour that ssh option: remove it from "
	    "ansible_ssh_common_args/ansible_ssh_extra_args or ~/.ssh/config, or use the inventory variable "
	    "that says the same (ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file)", 115},
	[CF_E_SSH_CONFIG] = {"SSH_CONFIG", "ssh_config asks for something certfleet does not do: change or scope the line named "
	    "(file:line), or give another file with -F; see SSH in certfleet(1)", 111},
	[CF_E_TOO_MANY_AUTH_FAILURES] = {"TOO_MANY_AUTH_FAILURES", "the host closed the login after too many keys "
	    "(sshd MaxAuthTries): set IdentitiesOnly yes and the right IdentityFile for the host in ssh_config, "
	    "or load fewer keys into ssh-agent", 112},
	[CF_E_HOST_CERT_INVALID] = {"HOST_CERT_INVALID", "the host's key or certificate is refused by known_hosts "
	    "(@revoked, @cert-authority) or StrictHostKeyChecking: see the file:line named", 113},
	[CF_E_CERTBOT_UNSUPPORTED] = {"CERTBOT_UNSUPPORTED", "certfleet cannot carry that over (certfleet-agent(1)): "
	    "issue the lineage with certfleet, or leave it to certbot", 107},
	[CF_E_CERTBOT_LINEAGE] = {"CERTBOT_LINEAGE", "nothing was imported: check the lineage with `certbot certificates`", 108},
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
	/* details carry peers' text (a CA's problem detail): kept safe to print */
	text_safe(last_detail, sizeof last_detail, tmp);
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
	char msg[2048], safe[4096];

	vsnprintf(msg, sizeof msg, fmt, ap);
	fprintf(stderr, "%s: %s\n", cf_progname, text_safe(safe, sizeof safe, msg));
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
