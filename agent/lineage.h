/*
 * lineage.h — what the agent's commands share about a lineage and its CA
 * account: the account key and URL on disk, the live certificate's facts,
 * when a certificate is due, and the settings a renewal reuses.
 */
#ifndef CF_LINEAGE_H
#define CF_LINEAGE_H

#include <stdint.h>

#include "netproc.h"
#include "conf.h"
#include "key.h"
#include "store.h"
#include "x509.h"

/* Open the store under agent_opts.prefix and load agent.conf. */
int agent_store_conf(struct store *s, struct agent_conf *conf);

/* Load (or create, 0600) the account key for the CA of server, then find
 * or create the account: a stored URL is reused without a request; a key
 * whose URL was lost is looked up with onlyReturnExisting. */
int lineage_account(struct store *s, struct nacme *a, const char *server,
    const char *email, int agree_tos, struct key *out);

/* Make k and url the account certfleet uses at server (an account carried
 * over from certbot; nothing is asked of the CA).  keypath gets the key
 * file's path.  1: written (with dry_run: would be), 0: already this
 * account, 2: certfleet has another account key there, left as it is. */
int lineage_account_import(struct store *s, const char *server, const struct key *k,
    const char *url, int dry_run, char *keypath, size_t len);

/* Parse live/LINEAGE/cert.pem into info; 1 if there is one, 0 if not. */
int lineage_live_cert(struct store *s, const char *lineage, struct x509_info *info);

/* The status the lineage has when no run is under way, from the live
 * certificate and the clock (none / active / expired), into prev; a stale
 * "pending" left by a killed run is replaced with it in st.  Also fills
 * expiry, issuer and serial of st from the live certificate. */
int lineage_status_from_live(struct store *s, const char *lineage,
    struct store_state *st, char prev[16]);

/* 1 (and CF_E_ALREADY_ACTIVE recorded) when a live certificate covers
 * exactly these names and is not yet due: more than a third of its
 * lifetime left (half for lifetimes under 10 days). */
int lineage_not_due(struct store *s, const char *lineage, const char *const *names, size_t n);

int lineage_set_domains(struct store_state *st, const char *const *names, size_t n);

#endif
