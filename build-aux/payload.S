/* payload.S — the agent binaries the controller carries and deploys, each
 * as a gzip member (gzip -9 -n: the bytes depend on the agent alone) and
 * the SHA-256 of the agent itself (hex, NUL-terminated), recorded at build
 * time.  AGENT_GZ/AGENT_SHA256 (x86_64) and, when the cross tool chain
 * built it, AGENT_AARCH64_GZ/AGENT_AARCH64_SHA256 are set by the Makefile;
 * controller/payload.c inflates them (common/inflate.c) and checks the
 * result against the digest.  An architecture not built is empty. */
	.section .rodata.cf_payload, "a"
	.balign 16
	.globl cf_agent_payload
cf_agent_payload:
	.incbin AGENT_GZ
	.globl cf_agent_payload_end
cf_agent_payload_end:
	.globl cf_agent_sha256
cf_agent_sha256:
	.asciz AGENT_SHA256
	.balign 16
	.globl cf_agent_payload_aarch64
cf_agent_payload_aarch64:
#ifdef AGENT_AARCH64_GZ
	.incbin AGENT_AARCH64_GZ
#endif
	.globl cf_agent_payload_aarch64_end
cf_agent_payload_aarch64_end:
	.globl cf_agent_sha256_aarch64
cf_agent_sha256_aarch64:
#ifdef AGENT_AARCH64_SHA256
	.asciz AGENT_AARCH64_SHA256
#else
	.asciz ""
#endif
	.section .note.GNU-stack, "", @progbits
