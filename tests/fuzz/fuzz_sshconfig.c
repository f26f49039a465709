/*
 * fuzz_sshconfig.c — libFuzzer entry: ssh_config loading (quotes, Include
 * of the small files made at start under a private ~/.ssh, depth limit)
 * and lookups that walk Host/Match blocks and the final pass, then token
 * expansion of what they found.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../controller/sshconfig.h"
#include "cf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char home[64];

static void
setup(void)
{
	static const char *const files[][2] = {
		{"a.conf", "Host web*\n  Port 2200\nMatch final host 10.*\n  User finaluser\n"},
		{"b.conf", "Match originalhost web01* user root\n  IdentityFile %d/%h-%r\nInclude b.conf\n"},
	};
	char path[128];
	size_t i;

	snprintf(home, sizeof home, "/tmp/fuzz-sshcfg-%d", (int)getpid());
	mkdir(home, 0700);
	snprintf(path, sizeof path, "%s/.ssh", home);
	mkdir(path, 0700);
	for (i = 0; i < sizeof files / sizeof files[0]; i++) {
		FILE *f;
		snprintf(path, sizeof path, "%s/.ssh/%s", home, files[i][0]);
		if ((f = fopen(path, "w")) != NULL) {
			fputs(files[i][1], f);
			fclose(f);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct sshcfg_local loc = {"root", "/root", "fuzz.example", 0};
	static struct sshcfg_result r;
	static const char *const hosts[] = {"web01.example.com", "10.0.0.1", "Web01"};
	struct sshcfg c;
	size_t i, k;

	if (home[0] == '\0')
		setup();
	memset(&c, 0, sizeof c);
	if (sshcfg_load_text(&c, (const char *)data, size, "fuzz", 1, home) == 0) {
		for (i = 0; i < sizeof hosts / sizeof hosts[0]; i++) {
			struct sshcfg_tokens t = {&loc, hosts[i], r.hostname, r.port ? r.port : 22, "root"};
			char out[SSHCFG_STR];
			if (sshcfg_lookup(&c, hosts[i], &loc, &r) < 0)
				continue;
			for (k = 0; k < r.nids; k++)
				sshcfg_expand(r.ids[k].v, &t, out, sizeof out);
			if (r.opt[SO_KEXALGORITHMS].v[0])
				sshcfg_narrow("curve25519-sha256,ecdh-sha2-nistp256", r.opt[SO_KEXALGORITHMS].v,
				    out, sizeof out);
		}
	}
	sshcfg_free(&c);
	cf_clearerr();
	return 0;
}
