/* payload.S — the agent binaries the controller carries and deploys.
 * AGENT_PATH (x86_64) and, when the cross tool chain built it,
 * AGENT_AARCH64_PATH are set by the Makefile; each *_end - start is the
 * exact size (the bytes are those of bin/certfleet-agent[-aarch64]). */
	.section .rodata.cf_payload, "a"
	.balign 16
	.globl cf_agent_payload
cf_agent_payload:
	.incbin AGENT_PATH
	.globl cf_agent_payload_end
cf_agent_payload_end:
	.balign 16
	.globl cf_agent_payload_aarch64
cf_agent_payload_aarch64:
#ifdef AGENT_AARCH64_PATH
	.incbin AGENT_AARCH64_PATH
#endif
	.globl cf_agent_payload_aarch64_end
cf_agent_payload_aarch64_end:
	.section .note.GNU-stack, "", @progbits
