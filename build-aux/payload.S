/* payload.S — the agent binary the controller carries and deploys.
 * AGENT_PATH is set by the Makefile; cf_agent_payload_end - cf_agent_payload
 * is its exact size (the bytes are those of bin/certfleet-agent). */
	.section .rodata.cf_payload, "a"
	.balign 16
	.globl cf_agent_payload
cf_agent_payload:
	.incbin AGENT_PATH
	.globl cf_agent_payload_end
cf_agent_payload_end:
	.section .note.GNU-stack, "", @progbits
