/*
 * fe_elb.h — FE Elastic Load Balancer certificates and listeners: the
 * dedicated ELB v3 API (wrapped bodies, /v3/{project}/elb/...) and the shared
 * ELB v2.0 API (flat bodies, /v2.0/lbaas/...), behind one interface.
 *
 * fe_elb_deploy() is the whole rotation: upload, point the listener, read
 * it back, then delete superseded certificates certfleet created for that
 * listener and no listener references.  It never leaves a listener pointing
 * at a deleted certificate, and a failure after the upload removes the
 * certificate it just created.  This module does no file I/O.
 */
#ifndef CF_FE_ELB_H
#define CF_FE_ELB_H

#include <stddef.h>
#include <stdint.h>

#include "cf.h"
#include "fe.h"

#define FE_ELB_ID_MAX 80
#define FE_ELB_NAME_MAX 256
#define FE_ELB_MAX_SNI 50
#define FE_ELB_MAX_CERTS 2000
#define FE_ELB_MAX_LISTENERS 2000

enum fe_elb_api { FE_ELB_V3 = 3, FE_ELB_V2 = 2 };

struct fe_elb_listener {
	char id[FE_ELB_ID_MAX];
	char name[FE_ELB_NAME_MAX];
	char protocol[32];
	char default_ref[FE_ELB_ID_MAX];             /* "" when none */
	char sni[FE_ELB_MAX_SNI][FE_ELB_ID_MAX];
	size_t nsni;
};

struct fe_elb_cert {
	char id[FE_ELB_ID_MAX];
	char name[FE_ELB_NAME_MAX];
	char domain[FE_ELB_NAME_MAX];
	char description[FE_ELB_NAME_MAX];
	char expire_time[40];                        /* as FE wrote it */
	int64_t expire;                              /* unix seconds, 0 unknown */
	char *pem;                                   /* the certificate PEM (heap) or NULL */
};
void fe_elb_cert_clear(struct fe_elb_cert *c);

/* The description certfleet gives the certificates it uploads for a
 * listener: "certfleet listener=ID". */
void fe_elb_description(const char *listener_id, char *out, size_t len);

/* A listener / certificate from a parsed reply: {"listener":{...}} (both
 * APIs), {"certificate":{...}} (v3) or the flat object (v2.0).  Used on every
 * reply; exposed for tests and fuzzing.  Free a certificate with
 * fe_elb_cert_clear. */
int fe_elb_parse_listener(const struct json_value *root, struct fe_elb_listener *out);
int fe_elb_parse_cert(enum fe_elb_api api, const struct json_value *root, struct fe_elb_cert *out);

int fe_elb_listener_get(struct fe_client *c, enum fe_elb_api api, const char *id,
    struct fe_elb_listener *out);
/* All listeners (for "is this certificate still referenced?"); *out is
 * allocated, free() it. */
int fe_elb_listener_list(struct fe_client *c, enum fe_elb_api api,
    struct fe_elb_listener **out, size_t *n);
int fe_elb_cert_get(struct fe_client *c, enum fe_elb_api api, const char *id,
    struct fe_elb_cert *out);
/* All certificates, with their PEM; free with fe_elb_cert_list_free. */
int fe_elb_cert_list(struct fe_client *c, enum fe_elb_api api, struct fe_elb_cert **out,
    size_t *n);
void fe_elb_cert_list_free(struct fe_elb_cert *v, size_t n);
int fe_elb_cert_delete(struct fe_client *c, enum fe_elb_api api, const char *id);

struct fe_elb_deploy {
	enum fe_elb_api api;
	const char *listener_id;
	const char *name;            /* certificate name on FE (<cert-name>-<date>) */
	const char *domain;          /* the certificate's main name */
	const char *fullchain_pem;
	const char *key_pem;         /* secret */
	int sni;                     /* add to sni_container_refs instead */
	int keep_old;                /* do not delete superseded certificates */
};

struct fe_elb_result {
	char cert_id[FE_ELB_ID_MAX];
	char previous_id[FE_ELB_ID_MAX];
	char deleted[16][FE_ELB_ID_MAX];
	size_t ndeleted;
	int uploads;                 /* upload attempts that reached FE */
};

int fe_elb_deploy(struct fe_client *c, const struct fe_elb_deploy *d, struct fe_elb_result *res);

#endif
